// kerec/eval/item_cf.hpp — the item-CF baseline: items bought together with the context's items.
//
// With n_i = number of training baskets holding i and c_ij = number holding both (baskets of
// trips, or one basket per user history — see BasketKey), the cosine similarity is
//   sim(i, j) = c_ij / sqrt(n_i n_j),   and   score(j | context) = Σ_{i ∈ context} sim(i, j).
// Layout: neighbour rows in CSR, row i sorted by similarity desc (ties by id), optionally cut to
// the top max_neighbors. Build O(Σ_b |b|²) time, O(items) scratch; a request O(Σ_{i ∈ context}
// |row i| + candidates log k) with a reused workspace.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/recommendation.hpp"
#include "kerec/eval/baskets.hpp"
#include "kerec/eval/detail/request_filter.hpp"

namespace kerec {

struct ItemCFOptions {
    std::size_t max_neighbors = 0;  ///< keep the top N neighbours per item; 0 = all
    std::uint32_t min_co_count = 1; ///< drop pairs bought together fewer times (>= 1)
};

class ItemCF {
public:
    explicit ItemCF(const Baskets& training, ItemCFOptions options = {})
        : offsets_(training.item_count() + 1, 0), acc_(training.item_count(), 0.0), filter_(training.item_count()) {
        if (options.min_co_count == 0) throw InvalidArgument("ItemCF: min_co_count = 0 (expected >= 1)");
        const std::size_t n = training.item_count();
        // Inverted index: item -> baskets holding it.
        std::vector<std::size_t> inv_off(n + 1, 0);
        for (ItemId i : training.items()) ++inv_off[i.index() + 1];
        for (std::size_t i = 0; i < n; ++i) inv_off[i + 1] += inv_off[i];
        std::vector<std::uint32_t> inv(training.total_items());
        {
            std::vector<std::size_t> fill(inv_off.begin(), inv_off.end() - 1);
            for (std::size_t b = 0; b < training.size(); ++b)
                for (ItemId i : training[b]) inv[fill[i.index()]++] = static_cast<std::uint32_t>(b);
        }
        std::vector<std::uint32_t> co(n, 0);
        std::vector<std::uint32_t> touched;
        std::vector<Neighbor> row;
        for (std::size_t i = 0; i < n; ++i) {
            touched.clear();
            for (std::size_t p = inv_off[i]; p < inv_off[i + 1]; ++p)
                for (ItemId j : training[inv[p]]) {
                    if (j.index() == i) continue;
                    if (co[j.index()]++ == 0) touched.push_back(j.value());
                }
            row.clear();
            const double ni = static_cast<double>(inv_off[i + 1] - inv_off[i]);
            for (std::uint32_t j : touched) {
                if (co[j] >= options.min_co_count) {
                    const double nj = static_cast<double>(inv_off[j + 1] - inv_off[j]);
                    row.push_back(Neighbor{ItemId{j}, static_cast<double>(co[j]) / std::sqrt(ni * nj)});
                }
                co[j] = 0;
            }
            std::sort(row.begin(), row.end(), [](const Neighbor& a, const Neighbor& b) {
                return a.similarity != b.similarity ? a.similarity > b.similarity : a.item < b.item;
            });
            if (options.max_neighbors != 0 && row.size() > options.max_neighbors) row.resize(options.max_neighbors);
            neighbors_.insert(neighbors_.end(), row.begin(), row.end());
            offsets_[i + 1] = neighbors_.size();
        }
    }

    struct Neighbor {
        ItemId item;
        double similarity = 0.0;
    };

    /// Fills `out` with the k items of highest summed similarity to the distinct context items,
    /// best first (ties by id), never a context or excluded item; fewer than k when the context's
    /// rows hold fewer candidates (an empty context gives none). Not thread-safe: one per thread.
    void recommend(const RecommendRequest& request, std::vector<Recommendation>& out) {
        out.clear();
        filter_.begin(request, "ItemCF");
        touched_.clear();
        for (ItemId i : filter_.context())
            for (const Neighbor& nb : neighbors(i)) {
                if (filter_.blocked(nb.item)) continue;
                if (acc_[nb.item.index()] == 0.0) touched_.push_back(nb.item);
                acc_[nb.item.index()] += nb.similarity;
            }
        candidates_.clear();
        for (ItemId j : touched_) {
            candidates_.push_back(Recommendation{.item = j, .score = static_cast<float>(acc_[j.index()]), .why = {}});
            acc_[j.index()] = 0.0;
        }
        filter_.release();
        detail::take_best(candidates_, request.k, detail::higher_score, out);
    }

    std::size_t item_count() const noexcept { return offsets_.size() - 1; }
    /// Neighbours of `item`, most similar first. OutOfRange beyond item_count().
    std::span<const Neighbor> neighbors(ItemId item) const {
        if (!item.valid() || item.index() >= item_count())
            throw OutOfRange(fmt::format("ItemCF::neighbors: item {} (expected < {})", item, item_count()));
        return std::span<const Neighbor>(neighbors_).subspan(offsets_[item.index()], offsets_[item.index() + 1] - offsets_[item.index()]);
    }
    /// sim(a, b) (0 when not neighbours or cut by max_neighbors). O(|row a|).
    double similarity(ItemId a, ItemId b) const {
        for (const Neighbor& nb : neighbors(a))
            if (nb.item == b) return nb.similarity;
        return 0.0;
    }

private:
    std::vector<std::size_t> offsets_;
    std::vector<Neighbor> neighbors_;
    std::vector<double> acc_;
    std::vector<ItemId> touched_;
    std::vector<Recommendation> candidates_;
    detail::RequestFilter filter_;
};

}  // namespace kerec
