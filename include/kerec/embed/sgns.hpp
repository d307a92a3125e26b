// kerec/embed/sgns.hpp — skip-gram with negative sampling: the first-order (substitutable) view h1.
//
// The paper's first-order embedding: entities that occur in the same sessions get close vectors.
// For a centre token c and a context token o within the window, with K negatives n ~ q ∝ count^0.75,
//   loss = -log σ(h1(c)·v(o)) - Σ_k log σ(-h1(c)·v(n_k))
// SGD on h1 (the "input" table) and v (the context table), learning rate decayed linearly over all
// tokens of all epochs; frequent tokens kept with word2vec's p = (√(f/t) + 1)·t/f (f = count/total);
// window shrunk uniformly per centre. Threads update the tables without locks (Hogwild); one thread
// is deterministic for a seed. O(tokens · window · (K+1) · dim) per epoch.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/npy.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/core/random.hpp"
#include "kerec/embed/entity_embeddings.hpp"
#include "kerec/embed/sequences.hpp"

namespace kerec {

struct SgnsOptions {
    std::size_t dim = 64;
    int window = 5;                  ///< max distance between centre and context
    int negatives = 5;               ///< K
    double subsample = 1e-3;         ///< t; 0 keeps every token
    double learning_rate = 0.025;    ///< initial SGD step, decays linearly to min_learning_rate
    double min_learning_rate = 1e-4 * 0.025;
    double unigram_power = 0.75;     ///< negatives ~ count^power
    int epochs = 5;                  ///< epochs the decay schedule spans (train_epoch may be called that often)
    unsigned threads = 1;            ///< 0 = hardware concurrency; 1 = deterministic
    std::uint64_t seed = 0x5EED;

    void validate() const {
        if (dim == 0 || dim > 4096) throw InvalidArgument(fmt::format("SgnsOptions: dim = {} (expected 1..4096)", dim));
        if (window < 1) throw InvalidArgument(fmt::format("SgnsOptions: window = {} (expected >= 1)", window));
        if (negatives < 0 || negatives > 1000) throw InvalidArgument(fmt::format("SgnsOptions: negatives = {} (expected 0..1000)", negatives));
        if (!(subsample >= 0) || !std::isfinite(subsample)) throw InvalidArgument(fmt::format("SgnsOptions: subsample = {} (expected >= 0)", subsample));
        if (!(learning_rate > 0) || !std::isfinite(learning_rate))
            throw InvalidArgument(fmt::format("SgnsOptions: learning_rate = {} (expected > 0)", learning_rate));
        if (!(min_learning_rate >= 0) || min_learning_rate > learning_rate)
            throw InvalidArgument(fmt::format("SgnsOptions: min_learning_rate = {} (expected in [0, learning_rate])", min_learning_rate));
        if (!(unigram_power >= 0) || !std::isfinite(unigram_power))
            throw InvalidArgument(fmt::format("SgnsOptions: unigram_power = {} (expected >= 0)", unigram_power));
        if (epochs < 1) throw InvalidArgument(fmt::format("SgnsOptions: epochs = {} (expected >= 1)", epochs));
    }
};

namespace detail {
/// σ(x) and log σ(x) tabulated on [-max, max] (outside: saturated), as word2vec does.
template <class Scalar>
class SigmoidTable {
public:
    static constexpr int size = 2048;
    static constexpr Scalar max = 8;
    SigmoidTable() {
        for (int i = 0; i <= size; ++i) {
            const double x = (2.0 * i / size - 1.0) * static_cast<double>(max);
            sig_[i] = static_cast<Scalar>(1.0 / (1.0 + std::exp(-x)));
            logsig_[i] = static_cast<Scalar>(-std::log1p(std::exp(-x)));
        }
    }
    int index(Scalar x) const noexcept {
        if (!(x < max)) return x == x ? size : size / 2;  // NaN: σ = 1/2 (the trainer detects the NaN table)
        if (!(x > -max)) return 0;
        return static_cast<int>((x + max) * (Scalar(size) / (2 * max)) + Scalar(0.5));
    }
    Scalar sigmoid(int i) const noexcept { return sig_[i]; }
    Scalar log_sigmoid(int i) const noexcept { return logsig_[i]; }

private:
    Scalar sig_[size + 1];
    Scalar logsig_[size + 1];
};
}  // namespace detail

/// One SGNS model: h1 (input vectors, the first-order view) and the context vectors v.
template <class Scalar = float>
class Sgns {
public:
    /// `counts[e]` = occurrences of entity e (EntitySequences::counts() of the training sequences);
    /// they define the negative distribution and the subsampling. Throws on bad options or when
    /// every count is 0. h1 starts uniform in ±0.5/dim, v at 0.
    Sgns(std::span<const std::uint64_t> counts, const SgnsOptions& opt) : opt_(opt) {
        opt_.validate();
        if (opt_.threads == 0) opt_.threads = std::max(1u, std::thread::hardware_concurrency());
        const std::size_t n = counts.size();
        std::vector<double> q(n);
        total_ = 0;
        for (std::size_t e = 0; e < n; ++e) {
            q[e] = counts[e] ? std::pow(static_cast<double>(counts[e]), opt_.unigram_power) : 0.0;
            total_ += counts[e];
        }
        if (total_ == 0) throw InvalidArgument(fmt::format("Sgns: all {} entity counts are 0 (empty sequences?)", n));
        negatives_.build(q);
        keep_.assign(n, 1.0f);
        if (opt_.subsample > 0)
            for (std::size_t e = 0; e < n; ++e) {
                if (!counts[e]) continue;
                const double f = static_cast<double>(counts[e]) / (opt_.subsample * static_cast<double>(total_));
                keep_[e] = static_cast<float>(std::min(1.0, (std::sqrt(f) + 1.0) / f));
            }
        h1_ = EntityEmbeddings<Scalar>(n, opt_.dim);
        ctx_ = RowMatrix<Scalar>::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(opt_.dim));
        Rng rng(derive_seed(opt_.seed, 0x51));
        const double a = 0.5 / static_cast<double>(opt_.dim);
        auto& m = h1_.matrix();
        for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<Scalar>(rng.uniform(-a, a));
    }

    const SgnsOptions& options() const noexcept { return opt_; }
    std::size_t entity_count() const noexcept { return h1_.size(); }
    /// The first-order view (input vectors).
    const EntityEmbeddings<Scalar>& h1() const noexcept { return h1_; }
    EntityEmbeddings<Scalar>& h1() noexcept { return h1_; }
    /// The context (output) vectors.
    const RowMatrix<Scalar>& context() const noexcept { return ctx_; }
    RowMatrix<Scalar>& context() noexcept { return ctx_; }
    /// Epochs trained so far (the learning-rate schedule position).
    int epochs_done() const noexcept { return epoch_; }

    /// One pass over `seqs` (its entity_count() must equal entity_count()). Returns the mean loss
    /// per (centre, context) pair. Progress counts tokens. Epochs beyond options().epochs train at
    /// the minimum learning rate.
    double train_epoch(const EntitySequences& seqs, const ProgressCallback& progress = {}) {
        check(seqs, "Sgns::train_epoch");
        const std::uint64_t tokens = seqs.token_count();
        const unsigned T = static_cast<unsigned>(std::min<std::size_t>(opt_.threads, std::max<std::size_t>(1, seqs.size())));
        const std::uint64_t schedule_total = tokens * static_cast<std::uint64_t>(opt_.epochs);
        const std::uint64_t schedule_base = tokens * static_cast<std::uint64_t>(epoch_);
        std::atomic<std::uint64_t> done{0};
        std::vector<double> loss(T, 0.0);
        std::vector<std::uint64_t> pairs(T, 0);
        ProgressThrottle throttle(progress, "sgns", tokens);
        auto work = [&](unsigned t) {
            const std::size_t s0 = seqs.size() * t / T, s1 = seqs.size() * (t + 1) / T;
            Rng rng(derive_seed(opt_.seed, 0x1000 + static_cast<std::uint64_t>(epoch_) * 1024 + t));
            run_shard(seqs, s0, s1, rng, done, schedule_base, schedule_total, loss[t], pairs[t], t == 0 ? &throttle : nullptr);
        };
        if (T == 1) {
            work(0);
        } else {
            std::vector<std::thread> pool;
            for (unsigned t = 0; t < T; ++t) pool.emplace_back(work, t);
            for (auto& th : pool) th.join();
        }
        throttle.finish(tokens);
        ++epoch_;
        double l = 0;
        std::uint64_t p = 0;
        for (unsigned t = 0; t < T; ++t) l += loss[t], p += pairs[t];
        const double mean = p ? l / static_cast<double>(p) : 0.0;
        last_pairs_ = p;
        return mean;
    }

    /// (centre, context) pairs the last epoch trained on.
    std::uint64_t last_pairs() const noexcept { return last_pairs_; }

    /// Mean SGNS loss per pair on `seqs` without updating (full window, no subsampling, negatives
    /// drawn from a fixed seed so that calls are comparable). Exact σ. O(tokens · window · K · dim).
    double evaluate(const EntitySequences& seqs, std::uint64_t seed = 0xE7A1) const {
        check(seqs, "Sgns::evaluate");
        Rng rng(seed);
        double l = 0;
        std::uint64_t p = 0;
        auto logsig = [](double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); };
        for (std::size_t s = 0; s < seqs.size(); ++s) {
            const auto seq = seqs[s];
            const auto n = static_cast<std::ptrdiff_t>(seq.size());
            for (std::ptrdiff_t i = 0; i < n; ++i)
                for (std::ptrdiff_t j = std::max<std::ptrdiff_t>(0, i - opt_.window); j <= std::min(n - 1, i + opt_.window); ++j) {
                    if (j == i) continue;
                    const auto c = h1_.matrix().row(seq[static_cast<std::size_t>(i)].index());
                    l -= logsig(static_cast<double>(c.dot(ctx_.row(seq[static_cast<std::size_t>(j)].index()))));
                    for (int k = 0; k < opt_.negatives; ++k) {
                        const auto neg = negatives_(rng);
                        l -= logsig(-static_cast<double>(c.dot(ctx_.row(neg))));
                    }
                    ++p;
                }
        }
        return p ? l / static_cast<double>(p) : 0.0;
    }

private:
    void check(const EntitySequences& seqs, const char* where) const {
        if (seqs.entity_count() != entity_count())
            throw InvalidArgument(fmt::format("{}: sequences over {} entities, model over {}", where, seqs.entity_count(), entity_count()));
    }

    void run_shard(const EntitySequences& seqs, std::size_t s0, std::size_t s1, Rng& rng, std::atomic<std::uint64_t>& done,
                   std::uint64_t base, std::uint64_t total, double& loss_out, std::uint64_t& pairs_out,
                   ProgressThrottle* throttle) {
        const std::size_t d = opt_.dim;
        const int K = opt_.negatives, W = opt_.window;
        Scalar* const in = h1_.matrix().data();
        Scalar* const out = ctx_.data();
        std::vector<Scalar> grad(d);
        std::vector<std::uint32_t> kept;
        const double lr0 = opt_.learning_rate, lr_min = opt_.min_learning_rate;
        double lr = lr0;
        double loss = 0;
        std::uint64_t pairs = 0, local = 0;
        constexpr std::uint64_t chunk = 10000;
        auto update_lr = [&] {
            const std::uint64_t g = done.fetch_add(local, std::memory_order_relaxed) + local;
            local = 0;
            const double progress = std::min(1.0, static_cast<double>(base + g) / static_cast<double>(total));
            lr = std::max(lr_min, lr0 * (1.0 - progress));
            if (throttle) throttle->update(g);
        };
        for (std::size_t s = s0; s < s1; ++s) {
            const auto seq = seqs[s];
            kept.clear();
            for (auto e : seq)
                if (keep_[e.index()] >= 1.0f || rng.uniform() < keep_[e.index()]) kept.push_back(e.value());
            local += seq.size();
            if (local >= chunk) update_lr();
            const auto n = static_cast<std::ptrdiff_t>(kept.size());
            const auto alpha = static_cast<Scalar>(lr);
            for (std::ptrdiff_t i = 0; i < n; ++i) {
                const auto b = static_cast<std::ptrdiff_t>(rng.uniform_int(static_cast<std::uint64_t>(W)));  // shrink
                const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, i - W + b), hi = std::min(n - 1, i + W - b);
                for (std::ptrdiff_t j = lo; j <= hi; ++j) {
                    if (j == i) continue;
                    // word2vec's orientation: the context token's input vector predicts the centre.
                    Scalar* const h = in + static_cast<std::size_t>(kept[static_cast<std::size_t>(j)]) * d;
                    std::fill(grad.begin(), grad.end(), Scalar(0));
                    for (int k = 0; k <= K; ++k) {
                        std::uint32_t target;
                        Scalar label;
                        if (k == 0) {
                            target = kept[static_cast<std::size_t>(i)], label = 1;
                        } else {
                            target = negatives_(rng);
                            if (target == kept[static_cast<std::size_t>(i)]) continue;
                            label = 0;
                        }
                        Scalar* const v = out + static_cast<std::size_t>(target) * d;
                        Scalar f = 0;
                        for (std::size_t x = 0; x < d; ++x) f += h[x] * v[x];
                        const int ti = sig_.index(label > 0 ? f : -f);
                        loss -= static_cast<double>(sig_.log_sigmoid(ti));
                        const Scalar g = (label - (label > 0 ? sig_.sigmoid(ti) : Scalar(1) - sig_.sigmoid(ti))) * alpha;
                        for (std::size_t x = 0; x < d; ++x) grad[x] += g * v[x];
                        for (std::size_t x = 0; x < d; ++x) v[x] += g * h[x];
                    }
                    for (std::size_t x = 0; x < d; ++x) h[x] += grad[x];
                    ++pairs;
                }
            }
        }
        update_lr();
        loss_out = loss;
        pairs_out = pairs;
    }

    SgnsOptions opt_;
    std::uint64_t total_ = 0;
    AliasSampler negatives_;
    std::vector<float> keep_;
    EntityEmbeddings<Scalar> h1_;
    RowMatrix<Scalar> ctx_;
    detail::SigmoidTable<Scalar> sig_;
    int epoch_ = 0;
    std::uint64_t last_pairs_ = 0;
};

}  // namespace kerec
