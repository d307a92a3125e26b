// kerec/core/recommendation.hpp — what a recommender returns, and the two concepts every
// recommender and ranker of the library (and of its callers) meet.
//
// The paper's output: items for a user, found through the complementary graph (U2E2I), each with
// the path that produced it (trigger entity → complementary entity, the edge's weight and the
// LLM's rationale), and an existing ranking model whose logits the E-E-I model refines.
//   Recommender: request {user, context bills, now, k, exclusions} → top-k Recommendations, best first.
//   BaseRanker:  a batch of Candidates → one logit each (higher = more likely clicked).
// Concepts only: O(1) to include; cost is the implementation's.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "kerec/core/id.hpp"
#include "kerec/core/user_history.hpp"

namespace kerec {

/// Why an item was recommended. Fields that do not apply (a popularity baseline has no trigger)
/// are invalid ids / 0 / empty. `rationale` views text owned by the recommender's graph or store
/// and stays valid while that snapshot is alive.
struct Explanation {
    EntityId trigger{};         ///< entity of the user's bill that started the path
    EntityId complement{};      ///< complementary entity reached through the graph (the item's entity)
    float edge_weight = 0.0f;   ///< learned weight of trigger → complement
    float llm_confidence = 0.0f;  ///< the LLM's p(complementary) for the edge (its prior)
    std::string_view rationale{};  ///< the LLM's rationale for the edge (untrusted text)
};

struct Recommendation {
    ItemId item{};
    float score = 0.0f;  ///< the recommender's score (comparable within one response)
    Explanation why{};
};

/// One request. `context` is what the recommender may look at: the user's recent bills, or the
/// items of the current basket (oldest first). `exclude`: items never to return (e.g. just bought).
struct RecommendRequest {
    UserId user{};
    std::span<const HistoryItem> context{};
    std::int64_t now = 0;
    std::size_t k = 10;
    std::span<const ItemId> exclude{};
};

/// A recommender: fills `out` (cleared first) with at most `request.k` distinct items, best first.
template <class R>
concept Recommender = requires(R& r, const RecommendRequest& request, std::vector<Recommendation>& out) {
    r.recommend(request, out);
};

/// One candidate a ranker scores: the item shown to `user` at `position`, and, when it came from
/// the complementary graph, the trigger entity and the item's entity.
struct Candidate {
    UserId user{};
    ItemId item{};
    EntityId trigger{};
    EntityId entity{};
    std::uint16_t position = 0;
    std::int64_t time = 0;
};

/// The caller's existing ranking model: one logit per candidate (`logits.size() == candidates.size()`).
template <class R>
concept BaseRanker = requires(R& r, std::span<const Candidate> candidates, std::span<float> logits) {
    r.score(candidates, logits);
};

}  // namespace kerec
