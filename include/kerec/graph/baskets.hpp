// kerec/graph/baskets.hpp — market baskets as complementary feedback for the graph's edge weights.
//
// When a log has baskets but no recommendation exposures (the public Groceries data, a
// point-of-sale dump), the paper's exposure/click feedback can be read off the baskets: a basket
// holding entity a is an exposure of each graph neighbour b of a (trigger a), and a click where b
// is in the basket too. Each (basket, trigger) is one shown list with its own Event::request id.
// The resulting Events feed FeedbackLearner unchanged, with items = entities (basket_item_map is
// that identity map). co_occurrence_rate gives, for evaluation, the share of baskets holding a
// that also hold b. O(sum over baskets of |basket| * degree) events.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/item_entity_map.hpp"

namespace kerec {

/// One basket: the distinct entities bought together.
using Basket = std::vector<EntityId>;

/// The item ↔ entity map of basket feedback: item i is entity i (for `entity_count` entities).
inline ItemEntityMap basket_item_map(std::size_t entity_count) {
    std::vector<EntityId> identity(entity_count);
    for (std::size_t i = 0; i < entity_count; ++i) identity[i] = EntityId{static_cast<std::uint32_t>(i)};
    return ItemEntityMap::from_primary(identity, entity_count);
}

/// Exposure (and click) events implied by `baskets` on the edges of `graph`. Basket k is user k at
/// time k; each exposure's trigger is the basket entity whose edge it follows; positions are the
/// neighbour's rank in the trigger's row (strongest first); the neighbours of one trigger in one
/// basket are one list, with request ids 1, 2, ... in order.
template <class Graph>
std::vector<Event> basket_feedback_events(std::span<const Basket> baskets, const Graph& graph) {
    std::vector<Event> events;
    std::uint64_t request = 0;
    std::vector<char> in_basket(graph.node_count(), 0);
    for (std::size_t k = 0; k < baskets.size(); ++k) {
        const auto& basket = baskets[k];
        for (EntityId e : basket) {
            if (!e.valid()) throw InvalidArgument(fmt::format("basket_feedback_events: basket {} holds an invalid id", k));
            if (e.index() < in_basket.size()) in_basket[e.index()] = 1;
        }
        const UserId user{static_cast<std::uint32_t>(k)};
        const auto time = static_cast<std::int64_t>(k);
        for (EntityId a : basket) {
            const auto row = graph.neighbors(a);
            if (row.empty()) continue;
            if (++request > 0xFFFFFFFFull) throw InvalidArgument("basket_feedback_events: more than 2^32 - 1 lists (split the baskets)");
            const auto req = static_cast<std::uint32_t>(request);
            for (std::size_t r = 0; r < row.size(); ++r) {
                const EntityId b = row.targets[r];
                const Event shown{.user = user, .item = ItemId{b.value()}, .time = time, .kind = EventKind::exposure,
                                  .position = static_cast<std::uint16_t>(std::min<std::size_t>(r, 65535)),
                                  .trigger = ItemId{a.value()}, .request = req};
                events.push_back(shown);
                if (in_basket[b.index()]) {
                    events.push_back(shown);
                    events.back().kind = EventKind::click;
                }
            }
        }
        for (EntityId e : basket)
            if (e.index() < in_basket.size()) in_basket[e.index()] = 0;
    }
    return events;
}

/// Share of `baskets` holding `a` that also hold `b`; `holding_a` receives the denominator.
/// Entity lists are expected small (a basket), so membership is a linear scan.
inline double co_occurrence_rate(std::span<const Basket> baskets, EntityId a, EntityId b, std::uint64_t* holding_a = nullptr) {
    std::uint64_t na = 0, nab = 0;
    for (const auto& basket : baskets) {
        if (std::find(basket.begin(), basket.end(), a) == basket.end()) continue;
        ++na;
        nab += std::find(basket.begin(), basket.end(), b) != basket.end();
    }
    if (holding_a) *holding_a = na;
    return na ? static_cast<double>(nab) / static_cast<double>(na) : 0.0;
}

}  // namespace kerec
