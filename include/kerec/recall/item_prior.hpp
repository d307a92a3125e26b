// kerec/recall/item_prior.hpp — the prior that ranks an entity's items for recall, and the
// prior a new item joins with.
//
// U2E2I reaches items through their entity; within an entity they are ranked by a prior. The
// popularity prior is an item's smoothed share of its primary entity's bills in a log:
//   prior(i) = (bills(i) + α) / (bills(E) + α·|E|),   E = primary(i), |E| = items of E,
// so the priors of an entity sum to 1 and a never-bought item keeps α / (bills(E) + α|E|).
// A new item (listed after the log, no history) joins with new_item_prior(E) = 1 / (|E| + 1),
// about the mean prior of its entity: it is reachable through its entity alone and ranks among the
// entity's average items until its own bills say more. O(events + items).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/item_entity_map.hpp"

namespace kerec {

/// Smoothed within-entity bill share of every item of `map` (see the file comment), from the bills
/// of `events` (other kinds ignored; items outside the map throw OutOfRange; invalid ones are
/// skipped). Items without an entity get α / (bills + α) over the unmapped items. `smoothing` > 0.
inline std::vector<float> popularity_priors(std::span<const Event> events, const ItemEntityMap& map, double smoothing = 1.0) {
    if (!(smoothing > 0.0)) throw InvalidArgument(fmt::format("popularity_priors: smoothing = {} (expected > 0)", smoothing));
    const std::size_t n = map.item_count(), ne = map.entity_count();
    std::vector<double> bills(n, 0.0), entity_bills(ne + 1, 0.0), entity_items(ne + 1, 0.0);  // slot ne: unmapped
    for (const Event& e : events) {
        if (e.kind != EventKind::bill || !e.item.valid()) continue;
        if (e.item.index() >= n)
            throw OutOfRange(fmt::format("popularity_priors: bill of item {} (expected < {})", e.item, n));
        bills[e.item.index()] += 1.0;
    }
    const auto primaries = map.primaries();
    auto slot = [&](std::size_t i) { return primaries[i].valid() ? primaries[i].index() : ne; };
    for (std::size_t i = 0; i < n; ++i) entity_bills[slot(i)] += bills[i], entity_items[slot(i)] += 1.0;
    std::vector<float> prior(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t s = slot(i);
        prior[i] = static_cast<float>((bills[i] + smoothing) / (entity_bills[s] + smoothing * entity_items[s]));
    }
    return prior;
}

/// The prior a new item of `entity` joins with: 1 / (items of the entity + 1), about the mean
/// prior of the entity's items once it has joined (1 for an entity without items yet).
inline float new_item_prior(const ItemEntityMap& map, EntityId entity) {
    return 1.0f / static_cast<float>(map.items(entity).size() + 1);
}

}  // namespace kerec
