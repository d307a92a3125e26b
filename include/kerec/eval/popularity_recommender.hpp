// kerec/eval/popularity_recommender.hpp — the popularity baseline: recommend the most bought items.
//
// score(i) = Σ over training baskets holding i of w(b), w(b) = 1, or with a half-life h
// w(b) = 2^{−(t_last − t_b)/h} (t_last = the latest basket time). The decay factor relative to any
// later "now" is common to every item, so the ranking is fixed at training. Recommend walks the
// items in score order (ties by id), skipping the request's context and exclusions; items never
// bought are not recommended. Build O(Σ|b| + n log n); a request O(|context| + |exclude| + k + skipped).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/recommendation.hpp"
#include "kerec/eval/baskets.hpp"
#include "kerec/eval/detail/request_filter.hpp"

namespace kerec {

struct PopularityRecommenderOptions {
    double half_life = 0.0;  ///< seconds (the unit of Baskets::time); 0 = no decay
};

class PopularityRecommender {
public:
    explicit PopularityRecommender(const Baskets& training, PopularityRecommenderOptions options = {})
        : score_(training.item_count(), 0.0), filter_(training.item_count()) {
        if (!(std::isfinite(options.half_life) && options.half_life >= 0.0))
            throw InvalidArgument(fmt::format("PopularityRecommender: half_life = {} (expected finite and >= 0)", options.half_life));
        std::int64_t last = 0;
        for (std::size_t b = 0; b < training.size(); ++b) last = b == 0 ? training.time(b) : std::max(last, training.time(b));
        for (std::size_t b = 0; b < training.size(); ++b) {
            const double w = options.half_life > 0.0
                                 ? std::exp2(-static_cast<double>(last - training.time(b)) / options.half_life)
                                 : 1.0;
            for (ItemId i : training[b]) score_[i.index()] += w;
        }
        for (std::uint32_t i = 0; i < score_.size(); ++i)
            if (score_[i] > 0.0) order_.push_back(ItemId{i});
        std::stable_sort(order_.begin(), order_.end(), [&](ItemId a, ItemId b) { return score_[a.index()] > score_[b.index()]; });
    }

    /// Fills `out` with the k most popular items not in the context nor excluded, best first.
    /// Not thread-safe (a reused workspace): one instance per thread.
    void recommend(const RecommendRequest& request, std::vector<Recommendation>& out) {
        out.clear();
        filter_.begin(request, "PopularityRecommender");
        for (ItemId i : order_) {
            if (out.size() >= request.k) break;
            if (!filter_.blocked(i)) out.push_back(Recommendation{.item = i, .score = static_cast<float>(score_[i.index()]), .why = {}});
        }
        filter_.release();
    }

    std::size_t item_count() const noexcept { return score_.size(); }
    /// The (decayed) number of training baskets holding `item`. OutOfRange beyond item_count().
    double score(ItemId item) const {
        if (!item.valid() || item.index() >= score_.size())
            throw OutOfRange(fmt::format("PopularityRecommender::score: item {} (expected < {})", item, score_.size()));
        return score_[item.index()];
    }
    /// Every item with a positive score, most popular first (ties by id).
    std::span<const ItemId> ranking() const noexcept { return order_; }

private:
    std::vector<double> score_;
    std::vector<ItemId> order_;
    detail::RequestFilter filter_;
};

}  // namespace kerec
