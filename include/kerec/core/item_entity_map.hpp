// kerec/core/item_entity_map.hpp — ItemEntityMap: which entities an item is about, and which items
// carry an entity.
//
// The paper links item titles to unified concept terms (entities) and recalls items through their
// entities (U2E2I: ... → complementary entity → item). This is that many-to-many relation, built
// once from extraction, stored as compressed sparse rows both ways:
//   item → entities, each with the extractor's score, sorted by score (desc; ties by entity id),
//          so entities(i)[0] is the item's primary entity (the one feedback and popularity use);
//   entity → items, ranked by an item prior (desc; ties by item id: popularity, quality, a caller's
//          score), so the best items of an entity are a prefix.
// Memory: 8 bytes per link each way + 4 bytes per item (prior) + 8 bytes per row. Lookups O(1);
// building O(links log links); add_items merges new items into the entity side in one pass,
// O(links + new links · log), so new items join without rebuilding anything that consumes the map.
// Ids outside the map throw OutOfRange; an invalid id (Id::invalid()) means "none".
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"

namespace kerec {

/// One extraction result: `item` is about `entity` with confidence `score`.
struct ItemEntityLink {
    ItemId item{};
    EntityId entity{};
    float score = 1.0f;
};

namespace detail {
/// A CSR row as a struct of arrays, also iterable as `[id, value]` pairs.
template <class Id>
struct WeightedIdRow {
    std::span<const Id> ids;
    std::span<const float> values;

    struct iterator {
        const Id* id;
        const float* value;
        std::pair<Id, float> operator*() const noexcept { return {*id, *value}; }
        iterator& operator++() noexcept { return ++id, ++value, *this; }
        iterator operator++(int) noexcept {
            iterator t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.id == b.id; }
    };
    std::size_t size() const noexcept { return ids.size(); }
    bool empty() const noexcept { return ids.empty(); }
    iterator begin() const noexcept { return {ids.data(), values.data()}; }
    iterator end() const noexcept { return {ids.data() + ids.size(), values.data() + values.size()}; }
    std::pair<Id, float> operator[](std::size_t k) const noexcept { return {ids[k], values[k]}; }
};
}  // namespace detail

/// Many-to-many item ↔ entity map. See the file comment.
class ItemEntityMap {
public:
    /// An item's entities (`ids`) and the extractor's scores (`values`), best first.
    using EntityRow = detail::WeightedIdRow<EntityId>;
    /// An entity's items (`ids`) and their priors (`values`), best first.
    using ItemRow = detail::WeightedIdRow<ItemId>;

    ItemEntityMap() : item_offsets_{0}, entity_offsets_{0} {}

    /// From extraction results in any order. A repeated (item, entity) keeps its highest score.
    /// `item_prior` (empty = all 0) ranks each entity's items. Scores and priors must be finite.
    ItemEntityMap(std::size_t item_count, std::size_t entity_count, std::span<const ItemEntityLink> links,
                  std::span<const float> item_prior = {})
        : entity_count_(entity_count) {
        check_count(item_count, "item_count");
        check_count(entity_count, "entity_count");
        prior_.assign(item_count, 0.0f);
        if (!item_prior.empty()) set_prior_values(item_prior);
        std::vector<ItemEntityLink> sorted(links.begin(), links.end());
        for (std::size_t k = 0; k < sorted.size(); ++k) check_link(sorted[k], item_count, k);
        std::sort(sorted.begin(), sorted.end(), [](const ItemEntityLink& a, const ItemEntityLink& b) {
            return std::tuple(a.item, a.entity, -a.score) < std::tuple(b.item, b.entity, -b.score);
        });
        sorted.erase(std::unique(sorted.begin(), sorted.end(),
                                 [](const ItemEntityLink& a, const ItemEntityLink& b) { return a.item == b.item && a.entity == b.entity; }),
                     sorted.end());
        item_offsets_.assign(item_count + 1, 0);
        for (const auto& l : sorted) ++item_offsets_[l.item.index() + 1];
        for (std::size_t i = 0; i < item_count; ++i) item_offsets_[i + 1] += item_offsets_[i];
        item_entities_.resize(sorted.size());
        item_scores_.resize(sorted.size());
        for (std::size_t k = 0; k < sorted.size(); ++k) item_entities_[k] = sorted[k].entity, item_scores_[k] = sorted[k].score;
        for (std::size_t i = 0; i < item_count; ++i) sort_item_row(i);
        primary_.resize(item_count);
        for (std::size_t i = 0; i < item_count; ++i)
            primary_[i] = item_offsets_[i] == item_offsets_[i + 1] ? EntityId::invalid() : item_entities_[item_offsets_[i]];
        rebuild_entity_side();
    }

    /// One entity per item (`entity_of_item[i]`, invalid = none), score 1.
    static ItemEntityMap from_primary(std::span<const EntityId> entity_of_item, std::size_t entity_count,
                                      std::span<const float> item_prior = {}) {
        std::vector<ItemEntityLink> links;
        links.reserve(entity_of_item.size());
        for (std::size_t i = 0; i < entity_of_item.size(); ++i)
            if (entity_of_item[i].valid()) links.push_back({ItemId{static_cast<std::uint32_t>(i)}, entity_of_item[i], 1.0f});
        return ItemEntityMap(entity_of_item.size(), entity_count, links, item_prior);
    }

    std::size_t item_count() const noexcept { return prior_.size(); }
    std::size_t entity_count() const noexcept { return entity_count_; }
    std::size_t link_count() const noexcept { return item_entities_.size(); }

    /// The item's entities, best score first. Throws OutOfRange for an item outside the map.
    EntityRow entities(ItemId item) const {
        const std::size_t i = item_index(item, "entities");
        const auto b = item_offsets_[i], n = item_offsets_[i + 1] - b;
        return {std::span<const EntityId>(item_entities_).subspan(b, n), std::span<const float>(item_scores_).subspan(b, n)};
    }
    /// The item's primary entity (highest score), invalid() when the item links to none.
    EntityId primary(ItemId item) const { return primary_[item_index(item, "primary")]; }
    /// primary() of every item, indexed by item id (for hot loops).
    std::span<const EntityId> primaries() const noexcept { return primary_; }
    /// Like primary(), but invalid() also for an invalid or out-of-range item (log data).
    EntityId primary_or_none(ItemId item) const noexcept {
        return item.valid() && item.index() < primary_.size() ? primary_[item.index()] : EntityId::invalid();
    }

    /// The entity's items, highest prior first. Throws OutOfRange for an entity outside the map.
    ItemRow items(EntityId entity) const {
        if (!entity.valid() || entity.index() >= entity_count_)
            throw OutOfRange(fmt::format("ItemEntityMap::items: entity {} (expected < {})", entity, entity_count_));
        const auto b = entity_offsets_[entity.index()], n = entity_offsets_[entity.index() + 1] - b;
        return {std::span<const ItemId>(entity_items_).subspan(b, n), std::span<const float>(entity_priors_).subspan(b, n)};
    }

    float prior(ItemId item) const { return prior_[item_index(item, "prior")]; }
    std::span<const float> priors() const noexcept { return prior_; }

    /// Replace every item's prior (size item_count(), finite) and re-rank the entity rows.
    void set_priors(std::span<const float> item_prior) {
        if (item_prior.size() != prior_.size())
            throw InvalidArgument(fmt::format("ItemEntityMap::set_priors: {} priors for {} items", item_prior.size(), prior_.size()));
        set_prior_values(item_prior);
        rebuild_entity_side();
    }

    /// A new item joins: gets the next id, links to `links` (their `item` field is ignored) with
    /// `prior`. Returns its id. O(link_count()).
    ItemId add_item(std::span<const ItemEntityLink> links, float prior = 0.0f) {
        const ItemId id{static_cast<std::uint32_t>(prior_.size())};
        std::vector<ItemEntityLink> own(links.begin(), links.end());
        for (auto& l : own) l.item = id;
        const float p[1] = {prior};
        add_items(own, std::span<const float>(p, 1));
        return id;
    }

    /// `priors.size()` new items join (ids item_count() … item_count() + n - 1), linked by `links`
    /// (whose items must lie in that range). One merge pass over the entity side.
    void add_items(std::span<const ItemEntityLink> links, std::span<const float> priors) {
        const std::size_t first = prior_.size(), n = priors.size();
        check_count(first + n, "item_count");
        for (std::size_t k = 0; k < n; ++k)
            if (!std::isfinite(priors[k])) throw InvalidArgument(fmt::format("ItemEntityMap::add_items: prior {} of new item {} is not finite", priors[k], first + k));
        std::vector<ItemEntityLink> sorted(links.begin(), links.end());
        for (std::size_t k = 0; k < sorted.size(); ++k) {
            check_link(sorted[k], first + n, k);
            if (sorted[k].item.index() < first)
                throw InvalidArgument(fmt::format("ItemEntityMap::add_items: link {} names item {}, which is not new (new ids start at {})", k, sorted[k].item, first));
        }
        std::sort(sorted.begin(), sorted.end(), [](const ItemEntityLink& a, const ItemEntityLink& b) {
            return std::tuple(a.item, a.entity, -a.score) < std::tuple(b.item, b.entity, -b.score);
        });
        sorted.erase(std::unique(sorted.begin(), sorted.end(),
                                 [](const ItemEntityLink& a, const ItemEntityLink& b) { return a.item == b.item && a.entity == b.entity; }),
                     sorted.end());
        prior_.insert(prior_.end(), priors.begin(), priors.end());
        std::size_t k = 0;
        for (std::size_t i = first; i < first + n; ++i) {
            for (; k < sorted.size() && sorted[k].item.index() == i; ++k)
                item_entities_.push_back(sorted[k].entity), item_scores_.push_back(sorted[k].score);
            item_offsets_.push_back(item_entities_.size());
            sort_item_row(i);
            primary_.push_back(item_offsets_[i] == item_offsets_[i + 1] ? EntityId::invalid() : item_entities_[item_offsets_[i]]);
        }
        // Merge the new links into the entity rows: one pass, each row stays ranked by prior.
        std::vector<std::pair<EntityId, ItemId>> add;
        add.reserve(sorted.size());
        for (const auto& l : sorted) add.emplace_back(l.entity, l.item);
        std::sort(add.begin(), add.end(), [&](const auto& a, const auto& b) { return entity_order(a, b); });
        std::vector<ItemId> items;
        std::vector<float> values;
        std::vector<std::uint64_t> offsets(entity_count_ + 1, 0);
        items.reserve(entity_items_.size() + add.size());
        values.reserve(items.capacity());
        std::size_t a = 0;
        for (std::size_t e = 0; e < entity_count_; ++e) {
            std::size_t k0 = entity_offsets_[e];
            const std::size_t k1 = entity_offsets_[e + 1];
            while (k0 < k1 || (a < add.size() && add[a].first.index() == e)) {
                const bool take_new = a < add.size() && add[a].first.index() == e &&
                                      (k0 == k1 || entity_order(add[a], {EntityId{static_cast<std::uint32_t>(e)}, entity_items_[k0]}));
                const ItemId item = take_new ? add[a++].second : entity_items_[k0++];
                items.push_back(item);
                values.push_back(prior_[item.index()]);
            }
            offsets[e + 1] = items.size();
        }
        entity_items_ = std::move(items);
        entity_priors_ = std::move(values);
        entity_offsets_ = std::move(offsets);
    }

private:
    static void check_count(std::size_t n, const char* what) {
        if (n >= Id<ItemTag>::invalid_value)
            throw InvalidArgument(fmt::format("ItemEntityMap: {} {} does not fit 32-bit ids", what, n));
    }
    void check_link(const ItemEntityLink& l, std::size_t item_count, std::size_t k) const {
        if (!l.item.valid() || l.item.index() >= item_count)
            throw OutOfRange(fmt::format("ItemEntityMap: link {} names item {} (expected < {})", k, l.item, item_count));
        if (!l.entity.valid() || l.entity.index() >= entity_count_)
            throw OutOfRange(fmt::format("ItemEntityMap: link {} (item {}) names entity {} (expected < {})", k, l.item, l.entity, entity_count_));
        if (!std::isfinite(l.score))
            throw InvalidArgument(fmt::format("ItemEntityMap: link {} (item {}, entity {}) has score {} (expected finite)", k, l.item, l.entity, l.score));
    }
    std::size_t item_index(ItemId item, const char* fn) const {
        if (!item.valid() || item.index() >= prior_.size())
            throw OutOfRange(fmt::format("ItemEntityMap::{}: item {} (expected < {})", fn, item, prior_.size()));
        return item.index();
    }
    void set_prior_values(std::span<const float> p) {
        if (p.size() != prior_.size())
            throw InvalidArgument(fmt::format("ItemEntityMap: {} priors for {} items", p.size(), prior_.size()));
        for (std::size_t i = 0; i < p.size(); ++i)
            if (!std::isfinite(p[i])) throw InvalidArgument(fmt::format("ItemEntityMap: prior {} of item {} is not finite", p[i], i));
        prior_.assign(p.begin(), p.end());
    }
    void sort_item_row(std::size_t i) {
        const auto b = item_offsets_[i], e = item_offsets_[i + 1];
        std::vector<std::pair<float, EntityId>> row;
        row.reserve(e - b);
        for (auto k = b; k < e; ++k) row.emplace_back(item_scores_[k], item_entities_[k]);
        std::sort(row.begin(), row.end(), [](const auto& x, const auto& y) { return x.first != y.first ? x.first > y.first : x.second < y.second; });
        for (auto k = b; k < e; ++k) item_scores_[k] = row[k - b].first, item_entities_[k] = row[k - b].second;
    }
    /// Entity-side order: by entity, then prior desc, then item id.
    bool entity_order(const std::pair<EntityId, ItemId>& a, const std::pair<EntityId, ItemId>& b) const noexcept {
        if (a.first != b.first) return a.first < b.first;
        const float pa = prior_[a.second.index()], pb = prior_[b.second.index()];
        if (pa != pb) return pa > pb;
        return a.second < b.second;
    }
    void rebuild_entity_side() {
        std::vector<std::pair<EntityId, ItemId>> pairs;
        pairs.reserve(item_entities_.size());
        for (std::size_t i = 0; i < prior_.size(); ++i)
            for (auto k = item_offsets_[i]; k < item_offsets_[i + 1]; ++k)
                pairs.emplace_back(item_entities_[k], ItemId{static_cast<std::uint32_t>(i)});
        std::sort(pairs.begin(), pairs.end(), [&](const auto& a, const auto& b) { return entity_order(a, b); });
        entity_offsets_.assign(entity_count_ + 1, 0);
        for (const auto& p : pairs) ++entity_offsets_[p.first.index() + 1];
        for (std::size_t e = 0; e < entity_count_; ++e) entity_offsets_[e + 1] += entity_offsets_[e];
        entity_items_.resize(pairs.size());
        entity_priors_.resize(pairs.size());
        for (std::size_t k = 0; k < pairs.size(); ++k)
            entity_items_[k] = pairs[k].second, entity_priors_[k] = prior_[pairs[k].second.index()];
    }

    std::size_t entity_count_ = 0;
    std::vector<float> prior_;                 // per item
    std::vector<EntityId> primary_;            // per item
    std::vector<std::uint64_t> item_offsets_;  // item → entities
    std::vector<EntityId> item_entities_;
    std::vector<float> item_scores_;
    std::vector<std::uint64_t> entity_offsets_;  // entity → items
    std::vector<ItemId> entity_items_;
    std::vector<float> entity_priors_;
};

}  // namespace kerec
