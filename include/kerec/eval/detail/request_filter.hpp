// kerec/eval/detail/request_filter.hpp — what every baseline does with a RecommendRequest: mark
// the context and exclusion items (never returned), keep the distinct context items, and pick the
// k best scored candidates. One reusable workspace per recommender: no allocation once warm.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/recommendation.hpp"

namespace kerec::detail {

class RequestFilter {
public:
    explicit RequestFilter(std::size_t item_count = 0) : blocked_(item_count, 0) {}

    /// Marks the request's context and exclusions as blocked and collects the distinct valid
    /// context items (context(), in request order). Invalid ids are skipped; an id >= the
    /// catalogue throws OutOfRange naming `who` (before anything is marked). Pair with release().
    void begin(const RecommendRequest& request, const char* who) {
        for (const auto& h : request.context)
            if (h.item.valid()) check(h.item, who, "context");
        for (ItemId i : request.exclude)
            if (i.valid()) check(i, who, "exclude");
        release();
        context_.clear();
        for (const auto& h : request.context) {
            if (!h.item.valid()) continue;
            if (blocked_[h.item.index()] == 0) context_.push_back(h.item);
            mark(h.item);
        }
        for (ItemId i : request.exclude)
            if (i.valid()) mark(i);
    }
    void release() noexcept {
        for (ItemId i : marked_) blocked_[i.index()] = 0;
        marked_.clear();
    }

    bool blocked(ItemId i) const noexcept { return blocked_[i.index()] != 0; }
    std::span<const ItemId> context() const noexcept { return context_; }

private:
    void check(ItemId i, const char* who, const char* field) const {
        if (i.index() >= blocked_.size())
            throw OutOfRange(fmt::format("{}: {} item {} (expected < {}, the catalogue it was trained on)", who, field, i, blocked_.size()));
    }
    void mark(ItemId i) {
        if (blocked_[i.index()] == 0) marked_.push_back(i);
        blocked_[i.index()] = 1;
    }

    std::vector<char> blocked_;
    std::vector<ItemId> marked_;
    std::vector<ItemId> context_;
};

/// Keeps the `k` best of `candidates` in `out`, best first: by `better(a, b)` (a strict weak
/// order on Recommendations, which must break ties by item id for determinism).
template <class Better>
void take_best(std::vector<Recommendation>& candidates, std::size_t k, Better better, std::vector<Recommendation>& out) {
    const std::size_t n = std::min(k, candidates.size());
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n), candidates.end(), better);
    out.assign(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n));
}

inline bool higher_score(const Recommendation& a, const Recommendation& b) noexcept {
    return a.score != b.score ? a.score > b.score : a.item < b.item;
}

}  // namespace kerec::detail
