// kerec/eval/next_item.hpp — the next-purchase protocol: for every bill in a test window, the
// user's earlier bills are the context and the billed item is the one to recall.
//
// What U2E2I recall serves in the paper (user → recent bills → complementary entity → item), as an
// offline protocol: query q = (user, time t, target item, context = the user's last max_context
// bills before t); a method answers RecommendRequest{user, context, t, K} and scores a hit when the
// target is in its top K (Recall@K = HitRate@K with one relevant item). "Earlier" is the history's
// order: a bill logged before the target at the same time (the purchase just paid, the paper's
// after-payment page) is context; with same_time_context = false such bills are not (no peeking
// into the target's basket). subsample() keeps a seeded uniform sample. Building: O(bills);
// evaluating: one request per query.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/random.hpp"
#include "kerec/core/recommendation.hpp"
#include "kerec/core/user_history.hpp"
#include "kerec/eval/ranking_evaluation.hpp"

namespace kerec {

struct NextItemQuery {
    UserId user{};
    ItemId target{};
    std::int64_t time = 0;
    std::uint32_t context_begin = 0;  ///< the context is bills(user)[context_begin, context_end)
    std::uint32_t context_end = 0;
};

struct NextItemOptions {
    std::int64_t from = 0;                                      ///< targets billed at time >= from
    std::int64_t to = std::numeric_limits<std::int64_t>::max();  ///< ... and < to
    std::size_t max_context = 20;                               ///< most recent earlier bills kept
    std::size_t min_context = 1;                                ///< users with fewer earlier bills are skipped
    bool same_time_context = true;                              ///< earlier bills at the target's time are context
};

/// Every bill in [from, to) with at least min_context earlier bills, in user then time order.
inline std::vector<NextItemQuery> next_item_queries(const UserHistory& history, const NextItemOptions& opt = {}) {
    if (opt.max_context == 0) throw InvalidArgument("next_item_queries: max_context = 0 (expected >= 1)");
    if (opt.from >= opt.to) throw InvalidArgument(fmt::format("next_item_queries: window [{}, {}) is empty", opt.from, opt.to));
    std::vector<NextItemQuery> out;
    for (std::uint32_t u = 0; u < history.user_count(); ++u) {
        const auto b = history.bills(UserId(u));
        std::size_t before = 0;  // the context is b[.., before)
        for (std::size_t j = 0; j < b.size(); ++j) {
            if (opt.same_time_context) before = j;
            else
                while (before < j && b[before].time < b[j].time) ++before;
            if (b[j].time < opt.from || b[j].time >= opt.to || before < opt.min_context) continue;
            const std::size_t begin = before > opt.max_context ? before - opt.max_context : 0;
            out.push_back({UserId(u), b[j].item, b[j].time, static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(before)});
        }
    }
    return out;
}

/// The request of query q (its context views `history`, which must outlive it).
inline RecommendRequest next_item_request(const UserHistory& history, const NextItemQuery& q, std::size_t k) {
    const auto b = history.bills(q.user);
    if (q.context_end > b.size() || q.context_begin > q.context_end)
        throw OutOfRange(fmt::format("next_item_request: context [{}, {}) of user {} who has {} bills", q.context_begin, q.context_end, q.user, b.size()));
    return RecommendRequest{q.user, b.subspan(q.context_begin, q.context_end - q.context_begin), q.time, k, {}};
}

/// At most n queries, a seeded uniform sample, in their original order.
inline std::vector<NextItemQuery> subsample(std::span<const NextItemQuery> queries, std::size_t n, std::uint64_t seed) {
    std::vector<std::size_t> idx(queries.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    if (n < idx.size()) {
        Rng rng(seed);
        rng.shuffle(idx);
        idx.resize(n);
        std::sort(idx.begin(), idx.end());
    }
    std::vector<NextItemQuery> out;
    out.reserve(idx.size());
    for (std::size_t i : idx) out.push_back(queries[i]);
    return out;
}

/// Top-k metrics of `recommender` on `queries` (bootstrap units: users).
template <Recommender R>
RankingEvaluation evaluate_next_items(R& recommender, const UserHistory& history, std::span<const NextItemQuery> queries, std::size_t k,
                                      std::size_t catalogue_size) {
    RankingEvaluation ev(k, catalogue_size);
    std::vector<Recommendation> out;
    for (const NextItemQuery& q : queries) {
        recommender.recommend(next_item_request(history, q, k), out);
        ev.add(out, std::span<const ItemId>(&q.target, 1), q.user);
    }
    return ev;
}

}  // namespace kerec
