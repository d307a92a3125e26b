// kerec/embed/trainer.hpp — fit(): first-order, second-order and contrastive training in one call.
//
// The paper's entity representation: total loss = SGNS(h1) + λ·InfoNCE(h1, h2(h1, W)). Each epoch
// is one SGNS pass over the training sequences (SGD, linear decay, Hogwild threads) followed by
// contrastive steps over shuffled batches of the entities that have graph neighbours (lazy Adam on
// the rows of h1 that the batch reaches and on W, step size scaled by λ — Adam is invariant to the
// scale of a gradient, so λ weighs the term through its step). Validation loss = SGNS loss on the
// held-out sequences (every round(1/share)-th one) + λ·InfoNCE over all graph entities in fixed
// batches; training stops after `patience` epochs without improvement and returns the best epoch.
// Final representation (what recall/E-E-I consume): see FinalView; default h1.
// Cost per epoch: SGNS O(tokens·window·K·d) + contrastive O(steps·(B²d + Bd² + B·degree·d)).
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <span>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/core/random.hpp"
#include "kerec/embed/adam.hpp"
#include "kerec/embed/contrastive.hpp"
#include "kerec/embed/entity_embeddings.hpp"
#include "kerec/embed/second_order.hpp"
#include "kerec/embed/sequences.hpp"
#include "kerec/embed/sgns.hpp"

namespace kerec {

/// Which table EntityModel::final holds.
enum class FinalView : std::uint8_t {
    h1,      ///< the first-order view after alignment: substitutes close, and entities with little
             ///< behaviour pulled towards what their complements say (the default)
    h2,      ///< the second-order view alone
    concat,  ///< [ĥ1, h2]/√2 (2d columns): its cosine is the mean of the two views' cosines
};

constexpr std::string_view to_string(FinalView v) noexcept {
    switch (v) {
        case FinalView::h1: return "h1";
        case FinalView::h2: return "h2";
        case FinalView::concat: return "concat";
    }
    return "unknown";
}

/// Training diverged (a loss or a table entry became NaN/Inf).
class TrainingDiverged : public Error {
public:
    explicit TrainingDiverged(const std::string& what) : Error(what) {}
};

struct EmbedOptions {
    SgnsOptions sgns;                 ///< sgns.epochs is replaced by `epochs` (the decay schedule)
    InfoNceOptions infonce;
    AdamOptions adam{.learning_rate = 0.01};
    double lambda = 0.15;             ///< weight of InfoNCE; 0 = first-order only (W stays I). 0.15: the
                                      ///< sweep in docs/embed.md ("Choosing λ")
    std::size_t batch = 1024;         ///< contrastive batch (capped by the number of graph entities)
    double contrastive_passes = 4.0;  ///< passes over the graph entities per epoch
    int epochs = 10;                  ///< at most
    int patience = 2;                 ///< epochs without validation improvement before stopping
    double validation_share = 0.05;   ///< of the sequences; 0 = no validation, no early stopping
    FinalView final_view = FinalView::h1;

    void validate() const {
        if (!(lambda >= 0) || !std::isfinite(lambda)) throw InvalidArgument(fmt::format("EmbedOptions: lambda = {} (expected >= 0)", lambda));
        if (batch < 2) throw InvalidArgument(fmt::format("EmbedOptions: batch = {} (expected >= 2)", batch));
        if (!(contrastive_passes >= 0) || !std::isfinite(contrastive_passes))
            throw InvalidArgument(fmt::format("EmbedOptions: contrastive_passes = {} (expected >= 0)", contrastive_passes));
        if (epochs < 1) throw InvalidArgument(fmt::format("EmbedOptions: epochs = {} (expected >= 1)", epochs));
        if (patience < 1) throw InvalidArgument(fmt::format("EmbedOptions: patience = {} (expected >= 1)", patience));
        if (!(validation_share >= 0 && validation_share < 1))
            throw InvalidArgument(fmt::format("EmbedOptions: validation_share = {} (expected in [0, 1))", validation_share));
        sgns.validate(), infonce.validate(), adam.validate();
    }
};

/// One line of the per-epoch log.
struct EpochLog {
    int epoch = 0;                  ///< 1-based
    double sgns_loss = 0;           ///< mean per (centre, context) pair, training
    double infonce_loss = 0;        ///< mean over the epoch's contrastive steps (NaN when λ = 0)
    double validation_loss = std::numeric_limits<double>::quiet_NaN();
    std::uint64_t contrastive_steps = 0;
    double seconds = 0;
    bool improved = false;          ///< best validation loss so far
};

struct FitCallbacks {
    ProgressCallback progress;                   ///< stages "sgns" (tokens) and "contrastive" (steps)
    std::function<void(const EpochLog&)> on_epoch;
};

template <class Scalar = float>
struct EntityModel {
    EntityEmbeddings<Scalar> h1;      ///< first-order view (the SGNS input table)
    EntityEmbeddings<Scalar> h2;      ///< second-order view, unit rows
    EntityEmbeddings<Scalar> final;   ///< the representation downstream uses (final_view)
    RowMatrix<Scalar> W;              ///< d×d map of the second-order view
    RowMatrix<Scalar> context;        ///< SGNS context vectors
    FinalView final_view = FinalView::h1;
    std::vector<EpochLog> log;
    int best_epoch = 0;               ///< 1-based; the tables are this epoch's
    bool stopped_early = false;
};

/// The final table of `view` from h1 and h2.
template <class Scalar>
EntityEmbeddings<Scalar> final_representation(const EntityEmbeddings<Scalar>& h1, const EntityEmbeddings<Scalar>& h2, FinalView view) {
    if (view == FinalView::h1) return h1;
    if (view == FinalView::h2) return h2;
    if (h1.size() != h2.size() || h1.dim() != h2.dim())
        throw InvalidArgument(fmt::format("final_representation: h1 is {}×{}, h2 {}×{}", h1.size(), h1.dim(), h2.size(), h2.dim()));
    const auto n = static_cast<Eigen::Index>(h1.size()), d = static_cast<Eigen::Index>(h1.dim());
    RowMatrix<Scalar> c(n, 2 * d);
    const Scalar s = Scalar(1) / std::sqrt(Scalar(2));
    for (Eigen::Index r = 0; r < n; ++r) {
        const Scalar norm = h1.matrix().row(r).norm();
        c.row(r).head(d) = norm > 0 ? (h1.matrix().row(r) * (s / norm)).eval() : (h1.matrix().row(r) * Scalar(0)).eval();
        c.row(r).tail(d) = h2.matrix().row(r) * s;
    }
    return EntityEmbeddings<Scalar>(std::move(c));
}

namespace detail {
template <class M>
void check_finite_table(const M& m, const char* what, int epoch, std::string_view hint) {
    for (Eigen::Index i = 0; i < m.size(); ++i)
        if (!std::isfinite(m.data()[i]))
            throw TrainingDiverged(fmt::format("fit: {} has a non-finite entry (row {}) after epoch {}; {}", what, i / m.cols(), epoch, hint));
}
}  // namespace detail

/// Trains h1, W (and so h2) on `sequences` and the complementary neighbours `nb` (both over the
/// same entities). Throws InvalidArgument for empty sequences (no tokens, no pair), mismatched
/// entity counts, invalid options or fewer than 2 graph entities with λ > 0; TrainingDiverged
/// (naming the epoch or step and suggesting a lower learning rate) when a loss becomes NaN/Inf.
template <class Scalar = float>
EntityModel<Scalar> fit(const EntitySequences& sequences, const ComplementNeighbours& nb, EmbedOptions opt, const FitCallbacks& cb = {}) {
    opt.validate();
    opt.sgns.epochs = opt.epochs;
    const std::size_t n = sequences.entity_count();
    if (nb.entity_count() != n)
        throw InvalidArgument(fmt::format("fit: sequences over {} entities, graph neighbours over {}", n, nb.entity_count()));
    if (sequences.token_count() == 0) throw InvalidArgument(fmt::format("fit: the {} sequences hold no tokens (expected sessions of entities)", sequences.size()));
    // Split: every stride-th sequence is held out.
    std::vector<std::uint64_t> toff{0}, voff{0};
    std::vector<EntityId> ttok, vtok;
    const std::size_t stride = opt.validation_share > 0 ? std::max<std::size_t>(2, static_cast<std::size_t>(std::lround(1.0 / opt.validation_share))) : 0;
    for (std::size_t s = 0; s < sequences.size(); ++s) {
        const auto seq = sequences[s];
        const bool val = stride && s % stride == stride - 1;
        auto& tok = val ? vtok : ttok;
        tok.insert(tok.end(), seq.begin(), seq.end());
        (val ? voff : toff).push_back(tok.size());
    }
    const EntitySequences train(std::move(toff), std::move(ttok), n), valid(std::move(voff), std::move(vtok), n);
    bool has_pair = false;
    for (std::size_t s = 0; s < train.size() && !has_pair; ++s) has_pair = train[s].size() >= 2;
    if (!has_pair) throw InvalidArgument(fmt::format("fit: no training sequence has 2 or more tokens ({} sequences)", train.size()));

    Sgns<Scalar> sgns(train.counts(), opt.sgns);
    EntityModel<Scalar> model;
    model.final_view = opt.final_view;
    const auto d = static_cast<Eigen::Index>(opt.sgns.dim);
    model.W = RowMatrix<Scalar>::Identity(d, d);
    const bool contrastive = opt.lambda > 0 && opt.contrastive_passes > 0;
    const std::vector<EntityId> fixed_sources = nb.sources();  // validation batches, in id order
    std::vector<EntityId> sources = fixed_sources;            // shuffled for training
    if (contrastive && sources.size() < 2)
        throw InvalidArgument(fmt::format("fit: {} entities have graph neighbours (expected >= 2 for in-batch negatives)", sources.size()));
    const std::size_t B = std::min(opt.batch, std::max<std::size_t>(2, sources.size()));
    InfoNce<Scalar> infonce(opt.infonce);
    LazyAdam<Scalar> adam_h(n, static_cast<std::size_t>(d), opt.adam), adam_w(static_cast<std::size_t>(d), static_cast<std::size_t>(d), opt.adam);
    Rng rng(derive_seed(opt.sgns.seed, 0xC0));
    const std::string hint_sgns = fmt::format("lower sgns.learning_rate (now {})", opt.sgns.learning_rate);
    const std::string hint_adam = fmt::format("lower adam.learning_rate (now {}) or lambda (now {})", opt.adam.learning_rate, opt.lambda);

    auto validation_loss = [&]() {
        double v = valid.token_count() ? sgns.evaluate(valid) : 0.0;
        if (contrastive) {
            double l = 0;
            std::size_t batches = 0;
            for (std::size_t b = 0; b + 1 < fixed_sources.size(); b += B) {
                const std::size_t e = std::min(fixed_sources.size(), b + B);
                if (e - b < 2) break;
                l += static_cast<double>(infonce.loss(sgns.h1().matrix(), model.W, std::span(fixed_sources).subspan(b, e - b), nb));
                ++batches;
            }
            v += opt.lambda * (batches ? l / static_cast<double>(batches) : 0.0);
        }
        return v;
    };

    double best = std::numeric_limits<double>::infinity();
    RowMatrix<Scalar> best_h1, best_w, best_ctx;
    int since_best = 0;
    std::uint64_t global_step = 0;
    for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        EpochLog log;
        log.epoch = epoch;
        log.sgns_loss = sgns.train_epoch(train, cb.progress);
        if (!std::isfinite(log.sgns_loss))
            throw TrainingDiverged(fmt::format("fit: SGNS loss is {} in epoch {}; {}", log.sgns_loss, epoch, hint_sgns));
        detail::check_finite_table(sgns.h1().matrix(), "h1", epoch, hint_sgns);
        log.infonce_loss = std::numeric_limits<double>::quiet_NaN();
        if (contrastive) {
            const auto steps = static_cast<std::uint64_t>(std::ceil(opt.contrastive_passes * static_cast<double>(sources.size()) / static_cast<double>(B)));
            ProgressThrottle throttle(cb.progress, "contrastive", steps);
            double sum = 0;
            std::size_t pos = sources.size();
            for (std::uint64_t s = 0; s < steps; ++s) {
                if (pos + B > sources.size()) {
                    rng.shuffle(sources);
                    pos = 0;
                }
                const Scalar l = infonce.step(sgns.h1().matrix(), model.W, std::span(sources).subspan(pos, B), nb, adam_h, adam_w, opt.lambda);
                pos += B;
                ++global_step;
                if (!std::isfinite(l))
                    throw TrainingDiverged(fmt::format("fit: InfoNCE loss is {} at contrastive step {} (epoch {}); {}", l, global_step, epoch, hint_adam));
                sum += static_cast<double>(l);
                throttle.update(s + 1);
            }
            throttle.finish(steps);
            log.contrastive_steps = steps;
            log.infonce_loss = steps ? sum / static_cast<double>(steps) : 0.0;
            detail::check_finite_table(model.W, "W", epoch, hint_adam);
        }
        if (stride) {
            log.validation_loss = validation_loss();
            if (!std::isfinite(log.validation_loss))
                throw TrainingDiverged(fmt::format("fit: validation loss is {} after epoch {}; {}", log.validation_loss, epoch, hint_adam));
        }
        log.improved = !stride || log.validation_loss < best;
        if (log.improved) {
            if (stride) best = log.validation_loss;
            since_best = 0;
            model.best_epoch = epoch;
            if (stride && epoch < opt.epochs) best_h1 = sgns.h1().matrix(), best_w = model.W, best_ctx = sgns.context();
        } else {
            ++since_best;
        }
        log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        model.log.push_back(log);
        if (cb.on_epoch) cb.on_epoch(log);
        if (since_best >= opt.patience) {
            model.stopped_early = epoch < opt.epochs;
            break;
        }
    }
    if (model.best_epoch != static_cast<int>(model.log.size()) && best_h1.size()) {  // restore the best epoch
        sgns.h1().matrix() = std::move(best_h1);
        model.W = std::move(best_w);
        sgns.context() = std::move(best_ctx);
    }
    model.h1 = std::move(sgns.h1());
    model.context = std::move(sgns.context());
    model.h2 = second_order(model.h1, model.W, nb);
    model.final = final_representation(model.h1, model.h2, opt.final_view);
    return model;
}

/// fit() over any NeighbourGraph (e.g. a FeedbackGraph) covering the sequences' entities.
template <class Scalar = float, NeighbourGraph G>
EntityModel<Scalar> fit(const EntitySequences& sequences, const G& graph, const EmbedOptions& opt, const FitCallbacks& cb = {}) {
    return fit<Scalar>(sequences, ComplementNeighbours(graph, sequences.entity_count()), opt, cb);
}

}  // namespace kerec
