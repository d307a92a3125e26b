// kerec/eei/integration.hpp — stage 2 of the E-E-I training (integration with the caller's
// existing ranker), a reference base ranker, and the integrated recommender.
//
// The paper refines an existing ranking model instead of replacing it: with E-E-I frozen, stage 2
// fits on held-out exposures
//   final = σ(a·base_logit + b·eei_logit + c)
// per segment s (all items, popularity buckets, or cold/warm items), by Newton's method on the
// regularised logistic log-likelihood (3 parameters per segment; segments with too few samples or
// one class use the global fit). LogisticBaseRanker is a stand-in for "the caller's ranker":
// logistic regression on log(1+item bills), log(1+user's bills of the item before t),
// log(1+user's bills of the item's entity before t) and log(1+position). EEIScorer puts the
// model behind U2E2I (a RecallScorer); IntegratedScorer combines base ranker, E-E-I and the
// integration, and IntegratedRecommender = U2E2IRecall over it (a Recommender).
// Fitting: O(iterations · n · p²) for p ≤ 5 parameters; scoring O(1) per candidate beyond the
// model's forward pass. fit_two_stage() runs stage 1 (EEIModel::fit) and stage 2 in one call.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/item_entity_map.hpp"
#include "kerec/core/recommendation.hpp"
#include "kerec/core/user_history.hpp"
#include "kerec/eei/model.hpp"
#include "kerec/eei/samples.hpp"
#include "kerec/recall/u2e2i.hpp"

namespace kerec {

namespace detail {

/// Regularised logistic regression by Newton's method on P ≤ 8 features (x[P-1] = 1 is the
/// bias by convention of the callers; λ applies to every coefficient but the last).
template <std::size_t P>
std::array<double, P> fit_logistic(std::size_t n, auto&& row, std::span<const float> labels, double l2, int iterations = 50) {
    std::array<double, P> theta{};
    for (int it = 0; it < iterations; ++it) {
        std::array<double, P> g{};
        std::array<double, P * P> H{};
        for (std::size_t i = 0; i < n; ++i) {
            const std::array<double, P> x = row(i);
            double z = 0;
            for (std::size_t a = 0; a < P; ++a) z += theta[a] * x[a];
            const double p = 1.0 / (1.0 + std::exp(-z)), w = std::max(p * (1.0 - p), 1e-12), r = p - labels[i];
            for (std::size_t a = 0; a < P; ++a) {
                g[a] += r * x[a];
                for (std::size_t b = 0; b <= a; ++b) H[a * P + b] += w * x[a] * x[b];
            }
        }
        for (std::size_t a = 0; a + 1 < P; ++a) g[a] += l2 * theta[a], H[a * P + a] += l2;
        H[(P - 1) * P + (P - 1)] += 1e-9;
        for (std::size_t a = 0; a < P; ++a)
            for (std::size_t b = a + 1; b < P; ++b) H[a * P + b] = H[b * P + a];
        // Solve H d = g (Cholesky; H is symmetric positive definite).
        std::array<double, P * P> Lm{};
        for (std::size_t a = 0; a < P; ++a)
            for (std::size_t b = 0; b <= a; ++b) {
                double s = H[a * P + b];
                for (std::size_t k = 0; k < b; ++k) s -= Lm[a * P + k] * Lm[b * P + k];
                Lm[a * P + b] = a == b ? std::sqrt(std::max(s, 1e-15)) : s / Lm[b * P + b];
            }
        std::array<double, P> y{}, d{};
        for (std::size_t a = 0; a < P; ++a) {
            double s = g[a];
            for (std::size_t k = 0; k < a; ++k) s -= Lm[a * P + k] * y[k];
            y[a] = s / Lm[a * P + a];
        }
        for (std::size_t a = P; a-- > 0;) {
            double s = y[a];
            for (std::size_t k = a + 1; k < P; ++k) s -= Lm[k * P + a] * d[k];
            d[a] = s / Lm[a * P + a];
        }
        double step = 0;
        for (std::size_t a = 0; a < P; ++a) theta[a] -= d[a], step = std::max(step, std::abs(d[a]));
        if (step < 1e-9) break;
    }
    for (double t : theta)
        if (!std::isfinite(t)) throw Error("fit_logistic: the fit diverged (separable data? raise l2)");
    return theta;
}

inline void check_labels(std::span<const float> labels, const char* who) {
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] != 0.0f && labels[i] != 1.0f)
            throw InvalidArgument(fmt::format("{}: label {} of sample {} (expected 0 or 1)", who, labels[i], i));
}

}  // namespace detail

/// Reference base ranker (see the file comment). A BaseRanker.
class LogisticBaseRanker {
public:
    static constexpr std::size_t features = 5;  // 4 + bias

    /// `item_bills[i]`: bills of item i in the training window (its popularity); `history`: the
    /// users' bills (only those before a candidate's time count); `map`: entities of items.
    LogisticBaseRanker(std::vector<float> item_bills, const UserHistory& history, const ItemEntityMap& map, double l2 = 1e-3)
        : bills_(std::move(item_bills)), history_(&history), map_(&map), l2_(l2) {
        if (bills_.size() > map.item_count())
            throw InvalidArgument(fmt::format("LogisticBaseRanker: {} popularity counts for {} items", bills_.size(), map.item_count()));
        for (std::size_t i = 0; i < bills_.size(); ++i)
            if (!(bills_[i] >= 0.0f) || !std::isfinite(bills_[i]))
                throw InvalidArgument(fmt::format("LogisticBaseRanker: bills of item {} = {} (expected finite, >= 0)", i, bills_[i]));
    }

    /// The feature row of one candidate.
    std::array<double, features> row(const Candidate& c) const {
        if (!c.item.valid() || c.item.index() >= map_->item_count())
            throw OutOfRange(fmt::format("LogisticBaseRanker: item {} (expected < {})", c.item, map_->item_count()));
        const double pop = c.item.index() < bills_.size() ? bills_[c.item.index()] : 0.0;
        double same_item = 0, same_entity = 0;
        const EntityId e = map_->primary(c.item);
        if (c.user.valid())
            for (const HistoryItem& h : history_->bills(c.user)) {
                if (h.time >= c.time) break;
                same_item += h.item == c.item ? 1 : 0;
                same_entity += e.valid() && map_->primary_or_none(h.item) == e ? 1 : 0;
            }
        return {std::log1p(pop), std::log1p(same_item), std::log1p(same_entity), std::log1p(static_cast<double>(c.position)), 1.0};
    }

    /// Fit on candidates with labels (1 = clicked).
    void fit(std::span<const Candidate> candidates, std::span<const float> labels) {
        if (candidates.size() != labels.size() || candidates.empty())
            throw InvalidArgument(fmt::format("LogisticBaseRanker::fit: {} candidates and {} labels", candidates.size(), labels.size()));
        detail::check_labels(labels, "LogisticBaseRanker::fit");
        std::vector<std::array<double, features>> rows(candidates.size());
        for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = row(candidates[i]);
        theta_ = detail::fit_logistic<features>(rows.size(), [&](std::size_t i) { return rows[i]; }, labels, l2_);
    }

    /// BaseRanker: one logit per candidate.
    void score(std::span<const Candidate> candidates, std::span<float> logits) const {
        if (logits.size() != candidates.size())
            throw InvalidArgument(fmt::format("LogisticBaseRanker::score: {} logits for {} candidates", logits.size(), candidates.size()));
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            const auto x = row(candidates[i]);
            double z = 0;
            for (std::size_t a = 0; a < features; ++a) z += theta_[a] * x[a];
            logits[i] = static_cast<float>(z);
        }
    }
    const std::array<double, features>& coefficients() const noexcept { return theta_; }

private:
    std::vector<float> bills_;
    const UserHistory* history_;
    const ItemEntityMap* map_;
    double l2_;
    std::array<double, features> theta_{};
};
static_assert(BaseRanker<LogisticBaseRanker>);

/// Which integration segment an item belongs to (dense per item; new items join with grow()).
class ItemSegments {
public:
    /// One segment for every item.
    static ItemSegments none(std::size_t items) { return ItemSegments(std::vector<std::uint8_t>(items, 0), 1, {"all"}); }
    /// Segment 0 = cold (no bills), 1 = warm.
    static ItemSegments cold_warm(std::span<const float> item_bills) {
        std::vector<std::uint8_t> s(item_bills.size());
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = item_bills[i] > 0 ? 1 : 0;
        return ItemSegments(std::move(s), 2, {"cold", "warm"});
    }
    /// Segment 0 = cold, 1..buckets = warm items in popularity quantile buckets (least popular first).
    static ItemSegments popularity(std::span<const float> item_bills, std::size_t buckets) {
        if (buckets == 0 || buckets > 254) throw InvalidArgument(fmt::format("ItemSegments::popularity: {} buckets (expected 1..254)", buckets));
        std::vector<float> warm;
        for (float b : item_bills)
            if (b > 0) warm.push_back(b);
        std::sort(warm.begin(), warm.end());
        std::vector<float> cut;
        for (std::size_t q = 1; q < buckets && !warm.empty(); ++q) cut.push_back(warm[q * warm.size() / buckets]);
        std::vector<std::uint8_t> s(item_bills.size());
        for (std::size_t i = 0; i < s.size(); ++i)
            s[i] = item_bills[i] > 0 ? static_cast<std::uint8_t>(1 + (std::upper_bound(cut.begin(), cut.end(), item_bills[i]) - cut.begin())) : 0;
        std::vector<std::string> names = {"cold"};
        for (std::size_t q = 0; q < buckets; ++q) names.push_back(fmt::format("popularity {}/{}", q + 1, buckets));
        return ItemSegments(std::move(s), buckets + 1, std::move(names));
    }

    std::size_t count() const noexcept { return count_; }
    std::size_t item_count() const noexcept { return seg_.size(); }
    const std::string& name(std::size_t s) const { return names_.at(s); }
    std::uint32_t of(ItemId i) const {
        if (!i.valid() || i.index() >= seg_.size()) throw OutOfRange(fmt::format("ItemSegments: item {} (expected < {})", i, seg_.size()));
        return seg_[i.index()];
    }
    /// New items join segment `s` (the cold one for cold_warm/popularity).
    void grow(std::size_t n, std::uint32_t s = 0) {
        if (s >= count_) throw OutOfRange(fmt::format("ItemSegments::grow: segment {} (expected < {})", s, count_));
        seg_.resize(seg_.size() + n, static_cast<std::uint8_t>(s));
    }

private:
    ItemSegments(std::vector<std::uint8_t> s, std::size_t count, std::vector<std::string> names)
        : seg_(std::move(s)), count_(count), names_(std::move(names)) {}
    std::vector<std::uint8_t> seg_;
    std::size_t count_;
    std::vector<std::string> names_;
};

struct IntegrationConfig {
    double l2 = 1e-3;                  ///< on a and b
    std::size_t min_samples = 200;     ///< a segment with fewer samples (or one class) uses the global fit
};

/// Stage 2: final = σ(a_s · base + b_s · eei + c_s) per segment s.
class EEIIntegration {
public:
    struct Coefficients {
        double a = 1.0, b = 0.0, c = 0.0;
        std::size_t samples = 0, positives = 0;
        bool own = false;  ///< fitted on its own samples (false: the global fit)
    };

    EEIIntegration() : seg_(1) {}

    /// Fit on held-out samples: base and E-E-I logits, labels, segment of each sample (< segments).
    void fit(std::span<const float> base, std::span<const float> eei, std::span<const float> labels,
             std::span<const std::uint32_t> segment, std::size_t segments, const IntegrationConfig& cfg = {}) {
        const std::size_t n = labels.size();
        if (base.size() != n || eei.size() != n || segment.size() != n || n == 0)
            throw InvalidArgument(fmt::format("EEIIntegration::fit: {} base, {} eei logits, {} labels, {} segments", base.size(), eei.size(), n, segment.size()));
        if (segments == 0) throw InvalidArgument("EEIIntegration::fit: 0 segments");
        detail::check_labels(labels, "EEIIntegration::fit");
        for (std::size_t i = 0; i < n; ++i) {
            if (!std::isfinite(base[i]) || !std::isfinite(eei[i]))
                throw InvalidArgument(fmt::format("EEIIntegration::fit: sample {}: base {} / eei {} (expected finite)", i, base[i], eei[i]));
            if (segment[i] >= segments) throw OutOfRange(fmt::format("EEIIntegration::fit: sample {} in segment {} (expected < {})", i, segment[i], segments));
        }
        auto fit_on = [&](const std::vector<std::size_t>& idx) {
            std::vector<float> y(idx.size());
            for (std::size_t k = 0; k < idx.size(); ++k) y[k] = labels[idx[k]];
            const auto t = detail::fit_logistic<3>(
                idx.size(), [&](std::size_t k) { return std::array<double, 3>{base[idx[k]], eei[idx[k]], 1.0}; }, y, cfg.l2);
            return Coefficients{t[0], t[1], t[2], idx.size(), 0, true};
        };
        std::vector<std::size_t> all(n);
        for (std::size_t i = 0; i < n; ++i) all[i] = i;
        std::size_t pos = 0;
        for (float y : labels) pos += y > 0 ? 1 : 0;
        if (pos == 0 || pos == n) throw InvalidArgument(fmt::format("EEIIntegration::fit: {} positives of {} (expected both classes)", pos, n));
        global_ = fit_on(all);
        global_.positives = pos;
        seg_.assign(segments, global_);
        for (auto& s : seg_) s.own = false, s.samples = 0, s.positives = 0;
        std::vector<std::vector<std::size_t>> by(segments);
        for (std::size_t i = 0; i < n; ++i) by[segment[i]].push_back(i);
        for (std::size_t s = 0; s < segments; ++s) {
            std::size_t p = 0;
            for (std::size_t i : by[s]) p += labels[i] > 0 ? 1 : 0;
            if (by[s].size() >= cfg.min_samples && p > 0 && p < by[s].size()) seg_[s] = fit_on(by[s]);
            seg_[s].samples = by[s].size(), seg_[s].positives = p;
        }
    }

    std::size_t segments() const noexcept { return seg_.size(); }
    const Coefficients& coefficients(std::size_t s) const { return seg_.at(s); }
    const Coefficients& global() const noexcept { return global_; }

    /// a·base + b·eei + c of segment s.
    float logit(float base, float eei, std::uint32_t s) const {
        const Coefficients& k = s < seg_.size() ? seg_[s] : global_;
        return static_cast<float>(k.a * base + k.b * eei + k.c);
    }
    float probability(float base, float eei, std::uint32_t s) const { return 1.0f / (1.0f + std::exp(-logit(base, eei, s))); }

private:
    std::vector<Coefficients> seg_;
    Coefficients global_;
};

/// The E-E-I model behind U2E2I recall (a RecallScorer): logit of (trigger, entity, item) for
/// every candidate. Holds references to the model, the embeddings and the item features (they
/// must outlive it) and its own buffers (one scorer per thread).
template <class Scalar = float>
class EEIScorer {
public:
    EEIScorer(const EEIModel<Scalar>& model, const EntityEmbeddings<Scalar>& h, const ItemFeatures* features = nullptr)
        : model_(&model), h_(&h), features_(features) {
        if (h.dim() != model.embedding_dim())
            throw InvalidArgument(fmt::format("EEIScorer: embeddings of dim {} for a model of dim {}", h.dim(), model.embedding_dim()));
        const std::size_t f = features ? features->dim() : 0;
        if (f != model.feature_dim())
            throw InvalidArgument(fmt::format("EEIScorer: {} item features for a model of {}", f, model.feature_dim()));
    }
    EEIScorer(const EEIScorer& o) : model_(o.model_), h_(o.h_), features_(o.features_) {}  // buffers are not shared
    EEIScorer& operator=(const EEIScorer& o) {
        model_ = o.model_, h_ = o.h_, features_ = o.features_;
        return *this;
    }

    void score(const RecommendRequest&, std::span<const RecallCandidate> c, std::span<float> logits) {
        const std::size_t n = c.size(), in = model_->input_dim();
        if (static_cast<std::size_t>(X_.rows()) < n || static_cast<std::size_t>(X_.cols()) != in)  // grows only
            X_.resize(static_cast<Eigen::Index>(std::max<std::size_t>(n, static_cast<std::size_t>(X_.rows()))), static_cast<Eigen::Index>(in));
        for (std::size_t i = 0; i < n; ++i)
            model_->write_input(*h_, c[i].trigger, c[i].entity, c[i].edge_weight, c[i].llm_confidence,
                                features_ ? features_->row(c[i].item) : std::span<const float>{}, X_.data() + i * in, i);
        z_.resize(n);
        model_->forward(X_.topRows(static_cast<Eigen::Index>(n)), z_, ws_);
        for (std::size_t i = 0; i < n; ++i) logits[i] = static_cast<float>(z_[i]);
    }

private:
    const EEIModel<Scalar>* model_;
    const EntityEmbeddings<Scalar>* h_;
    const ItemFeatures* features_;
    RowMatrix<Scalar> X_;
    std::vector<Scalar> z_;
    EEIWorkspace<Scalar> ws_;
};

/// Base ranker + frozen E-E-I + integration (a RecallScorer). Each candidate scores
///   log σ(a·base + b·eei + c) + log r_trigger        (weight_by_recency, the default)
/// i.e. the integrated click probability of its segment, discounted by how recent the purchase
/// behind its path is; or the bare logit a·base + b·eei + c. Candidates are scored as shown at
/// position 0 at the request's time. `base.score` must be safe to call from every thread that
/// uses a copy of the scorer.
template <class Base, class Scalar = float>
    requires BaseRanker<Base>
class IntegratedScorer {
public:
    IntegratedScorer(Base& base, EEIScorer<Scalar> eei, const EEIIntegration& integration, const ItemSegments& segments,
                     bool weight_by_recency = true)
        : base_(&base), eei_(std::move(eei)), integ_(&integration), seg_(&segments), recency_(weight_by_recency) {}

    void score(const RecommendRequest& r, std::span<const RecallCandidate> c, std::span<float> logits) {
        const std::size_t n = c.size();
        cands_.resize(n), base_logits_.resize(n), eei_logits_.resize(n);
        for (std::size_t i = 0; i < n; ++i) cands_[i] = Candidate{r.user, c[i].item, c[i].trigger, c[i].entity, 0, r.now};
        base_->score(std::span<const Candidate>(cands_), std::span<float>(base_logits_));
        eei_.score(r, c, eei_logits_);
        for (std::size_t i = 0; i < n; ++i) {
            const double z = integ_->logit(base_logits_[i], eei_logits_[i], seg_->of(c[i].item));
            // log σ(z) = −log(1 + e^(−z)), computed stably
            logits[i] = recency_ ? static_cast<float>(-(std::max(-z, 0.0) + std::log1p(std::exp(-std::abs(z)))) +
                                                      std::log(std::max<double>(c[i].recency, 1e-30)))
                                 : static_cast<float>(z);
        }
    }

private:
    Base* base_;
    EEIScorer<Scalar> eei_;
    const EEIIntegration* integ_;
    const ItemSegments* seg_;
    bool recency_;
    std::vector<Candidate> cands_;
    std::vector<float> base_logits_, eei_logits_;
};

/// The integrated pipeline: U2E2I recall, scored by base ranker + E-E-I + integration. A Recommender.
template <class Base, class Graph = FeedbackGraph, class Scalar = float>
using IntegratedRecommender = U2E2IRecall<Graph, IntegratedScorer<Base, Scalar>>;

/// Stage 2 in one call: the frozen `model`'s logits on held-out `samples` (their base_logit
/// filled), segments from `segments`, integration fitted. Returns it.
template <class Scalar>
EEIIntegration fit_integration(const EEIModel<Scalar>& model, const EntityEmbeddings<Scalar>& h, std::span<const EEISample> samples,
                               const ItemSegments& segments, const IntegrationConfig& cfg = {}) {
    std::vector<float> eei(samples.size()), base(samples.size()), y(samples.size());
    std::vector<std::uint32_t> seg(samples.size());
    model.score(h, samples, eei);
    for (std::size_t i = 0; i < samples.size(); ++i)
        base[i] = samples[i].base_logit, y[i] = samples[i].label, seg[i] = segments.of(samples[i].item);
    EEIIntegration integ;
    integ.fit(base, eei, y, seg, segments.count(), cfg);
    return integ;
}

/// Both stages in one call: stage 1 fits a new E-E-I model on `stage1` (its last `valid_share`
/// for early stopping), stage 2 integrates the frozen model with the base ranker on `stage2`
/// (base_logit filled in both). The model, its integration and stage 1's report.
template <class Scalar = float>
struct TwoStageEEI {
    EEIModel<Scalar> model{};
    EEIIntegration integration{};
    EEIFitReport stage1{};
};

template <class Scalar>
TwoStageEEI<Scalar> fit_two_stage(const EntityEmbeddings<Scalar>& h, std::size_t feature_dim, std::span<const EEISample> stage1,
                                  std::span<const EEISample> stage2, const ItemSegments& segments, const EEIConfig& config = {},
                                  double valid_share = 0.15, ProgressCallback progress = {}) {
    if (!(valid_share >= 0.0 && valid_share < 1.0))
        throw InvalidArgument(fmt::format("fit_two_stage: valid_share = {} (expected in [0, 1))", valid_share));
    const auto nv = static_cast<std::size_t>(valid_share * static_cast<double>(stage1.size()));
    TwoStageEEI<Scalar> r{EEIModel<Scalar>(h.dim(), feature_dim, config), {}, {}};
    r.stage1 = r.model.fit(h, stage1.first(stage1.size() - nv), stage1.last(nv), std::move(progress));
    r.integration = fit_integration(r.model, h, stage2, segments);
    return r;
}

}  // namespace kerec
