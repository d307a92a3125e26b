// kerec/graph/baskets.hpp — market baskets as complementary feedback for the graph's edge weights.
//
// When a log has baskets but no recommendation exposures (the public Groceries data, a
// point-of-sale dump), the paper's exposure/click feedback can be read off the baskets: a basket
// holding entity a is an exposure of each graph neighbour b of a (trigger a), and a click where b
// is in the basket too. The resulting Events feed FeedbackLearner unchanged, with items = entities
// (item_entity is the identity). co_occurrence_rate gives, for evaluation, the share of baskets
// holding a that also hold b. O(sum over baskets of |basket| * degree) events.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"

namespace kerec {

/// One basket: the distinct entities bought together.
using Basket = std::vector<EntityId>;

/// Exposure (and click) events implied by `baskets` on the edges of `graph`. Basket k is user k at
/// time k; each exposure's trigger is the basket entity whose edge it follows; positions are the
/// neighbour's rank in the trigger's row (strongest first).
template <class Graph>
std::vector<Event> basket_feedback_events(std::span<const Basket> baskets, const Graph& graph) {
    std::vector<Event> events;
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
            for (std::size_t r = 0; r < row.size(); ++r) {
                const EntityId b = row.targets[r];
                const ItemId shown{b.value()};
                const auto pos = static_cast<std::uint16_t>(std::min<std::size_t>(r, 65535));
                events.push_back(Event{.user = user, .item = shown, .time = time, .kind = EventKind::exposure, .position = pos, .trigger = ItemId{a.value()}});
                if (in_basket[b.index()]) events.push_back(Event{.user = user, .item = shown, .time = time, .kind = EventKind::click, .position = pos, .trigger = ItemId{a.value()}});
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
