// kerec/eval/ranking_evaluation.hpp — RankingEvaluation: one method's top-K metrics over a test
// set, with bootstrap intervals, so an evaluation loop is "recommend, add, summarise".
//
// Per query q (a ranked list and the items the user took): Recall@K, NDCG@K (binary), HitRate@K
// and RR@K from eval/metrics.hpp, kept per query; the summary is their means with percentile
// intervals from eval/bootstrap.hpp, resampling units (the query itself, or the user passed with
// it), plus catalogue coverage of the top K. Two evaluations summarised with the same seed and
// units draw the same resamples. add: O(K·|R| + |R|²); summary: O(B · units) per metric.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kerec/core/id.hpp"
#include "kerec/eval/bootstrap.hpp"
#include "kerec/eval/metrics.hpp"

namespace kerec {

struct RankingSummary {
    std::size_t queries = 0;
    Interval recall, ndcg, hit_rate, mrr;
    double coverage = 0.0;  ///< share of the catalogue in at least one top K
};

class RankingEvaluation {
public:
    RankingEvaluation(std::size_t k, std::size_t catalogue_size) : k_(k), coverage_(catalogue_size) {
        if (k == 0) throw InvalidArgument("RankingEvaluation: k = 0 (expected k >= 1)");
    }

    /// One query whose bootstrap unit is itself.
    template <RankedList R>
    void add(const R& ranked, std::span<const ItemId> relevant) {
        push(ranked, relevant, (std::uint64_t{1} << 32) + recall_.size());
    }
    /// One query of `user`: the bootstrap resamples users with all their queries.
    template <RankedList R>
    void add(const R& ranked, std::span<const ItemId> relevant, UserId user) {
        if (!user.valid()) throw InvalidArgument("RankingEvaluation::add: invalid user id");
        push(ranked, relevant, user.value());
    }

    std::size_t k() const noexcept { return k_; }
    std::size_t queries() const noexcept { return recall_.size(); }
    /// Per-query values, in the order added (for paired comparisons: subtract two methods' spans).
    std::span<const double> recall() const noexcept { return recall_; }
    std::span<const double> ndcg() const noexcept { return ndcg_; }
    std::span<const double> hit() const noexcept { return hit_; }
    std::span<const double> reciprocal_rank() const noexcept { return rr_; }
    std::span<const std::uint64_t> units() const noexcept { return units_; }

    /// Means and percentile intervals (InvalidArgument when no query was added).
    RankingSummary summary(const BootstrapOptions& options = {}) const {
        RankingSummary s;
        s.queries = queries();
        s.recall = bootstrap_mean(recall_, units_, options);
        s.ndcg = bootstrap_mean(ndcg_, units_, options);
        s.hit_rate = bootstrap_mean(hit_, units_, options);
        s.mrr = bootstrap_mean(rr_, units_, options);
        s.coverage = coverage_.value();
        return s;
    }

private:
    template <RankedList R>
    void push(const R& ranked, std::span<const ItemId> relevant, std::uint64_t unit) {
        const double r = recall_at_k(ranked, relevant, k_);  // validates before anything is stored
        const double n = ndcg_at_k(ranked, relevant, k_);
        const double h = hit_at_k(ranked, relevant, k_);
        const double rr = kerec::reciprocal_rank(ranked, relevant, k_);
        coverage_.add(ranked, k_);
        recall_.push_back(r);
        ndcg_.push_back(n);
        hit_.push_back(h);
        rr_.push_back(rr);
        units_.push_back(unit);
    }

    std::size_t k_;
    CatalogueCoverage coverage_;
    std::vector<double> recall_, ndcg_, hit_, rr_;
    std::vector<std::uint64_t> units_;
};

}  // namespace kerec
