// kerec/entity/item_entities.hpp — the item ↔ entity map from extraction: every item title through
// an Extractor, every linked mention a link, the title's head (title_head) its primary entity.
//
// The paper gathers each item under the unified concept terms extracted from its title; the
// recall side (U2E2I: user → entity → complementary entity → item) needs that relation both ways.
// For item i with linked mentions M_i and head entity h_i = title_head(M_i).entity:
//   score(i, h_i) = 1,   score(i, e) = other_scale · clamp(confidence of e's best mention, 0, 1) for e ≠ h_i,
// with other_scale < 1, so ItemEntityMap::primary(i) is h_i: kerec's one rule for "the item's
// entity". An item whose mentions all link to nothing has no entity (primary invalid).
// Cost: one extraction per title, then O(tokens + mentions) per title (title_head); the map is
// built once in O(links); add_item appends one new item (ItemEntityMap::add_item).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <span>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/item_entity_map.hpp"
#include "kerec/entity/head.hpp"
#include "kerec/entity/linker.hpp"
#include "kerec/entity/mention.hpp"
#include "kerec/entity/normalizer.hpp"

namespace kerec {

/// A range of item titles: element i (anything convertible to std::string_view) is item i's.
template <class R>
concept TitleRange = std::ranges::input_range<const R> &&
                     std::convertible_to<std::ranges::range_reference_t<const R>, std::string_view>;

struct ItemEntityOptions {
    HeadOptions heads{};             ///< cut words and non-head words of title_head
    NormalizerOptions normalizer{};  ///< how titles are tokenised for title_head (= the linker's)
    float other_scale = 0.5f;        ///< a non-head link scores confidence × this, in [0, 1)
};

/// Runs an Extractor over titles and turns its mentions into ItemEntityMap links (see the file
/// comment). Holds a reference to the extractor (which must outlive it) and to the optional
/// linker title_head resolves heads with; one builder per thread.
template <Extractor X>
class ItemEntityBuilder {
public:
    ItemEntityBuilder(X& extractor, std::size_t entity_count, const EntityLinker* linker = nullptr, ItemEntityOptions options = {})
        : x_(extractor), entity_count_(entity_count), linker_(linker), options_(std::move(options)),
          heads_(options_.heads, options_.normalizer), normalizer_(options_.normalizer) {
        if (!(options_.other_scale >= 0.0f && options_.other_scale < 1.0f))
            throw InvalidArgument(fmt::format("ItemEntityBuilder: other_scale {} outside [0, 1)", options_.other_scale));
        if (linker_ && linker_->normalizer().options().fold_plurals != options_.normalizer.fold_plurals)
            throw InvalidArgument("ItemEntityBuilder: options.normalizer differs from the linker's normaliser");
    }

    /// The links of one title (item fields 0, one per entity, the head entity at score 1),
    /// appended to `out`; mentions outside the title are ignored. A linked mention naming an entity ≥ entity_count is an OutOfRange
    /// naming `item` and the title.
    void links(std::string_view title, std::vector<ItemEntityLink>& out, std::size_t item = 0) {
        mentions_.clear();
        x_.extract(title, mentions_);
        normalizer_.normalize(title, norm_);
        const TitleHead head = title_head(mentions_, norm_, heads_, linker_);
        const std::size_t first = out.size();
        if (head.entity.valid()) {
            check(head.entity, item, title);
            out.push_back(ItemEntityLink{ItemId{}, head.entity, 1.0f});
        }
        for (const Mention& m : mentions_) {
            if (!m.entity.valid() || m.entity == head.entity || m.begin >= m.end || m.end > title.size()) continue;
            check(m.entity, item, title);
            const float c = std::isnan(m.score) ? 0.0f : std::clamp(m.score, 0.0f, 1.0f);
            out.push_back(ItemEntityLink{ItemId{}, m.entity, c * options_.other_scale});
        }
        // one link per entity, its best score
        const auto b = out.begin() + static_cast<std::ptrdiff_t>(first);
        std::sort(b, out.end(), [](const ItemEntityLink& x, const ItemEntityLink& y) {
            return x.entity != y.entity ? x.entity < y.entity : x.score > y.score;
        });
        out.erase(std::unique(b, out.end(), [](const ItemEntityLink& x, const ItemEntityLink& y) { return x.entity == y.entity; }),
                  out.end());
        ++titles_;
        with_entity_ += head.entity.valid();
    }

    /// The map of `titles` (item i = the i-th title), entity rows ranked by `item_prior`
    /// (empty: all 0; else one per title).
    template <TitleRange Titles>
    ItemEntityMap build(const Titles& titles, std::span<const float> item_prior = {}) {
        std::vector<ItemEntityLink> all;
        std::size_t n = 0;
        for (const auto& t : titles) {
            const std::size_t from = all.size();
            links(std::string_view(t), all, n);
            for (std::size_t k = from; k < all.size(); ++k) all[k].item = ItemId(static_cast<std::uint32_t>(n));
            ++n;
        }
        return ItemEntityMap(n, entity_count_, all, item_prior);
    }

    /// A new item joins `map` with the entities of its title; returns its id.
    ItemId add_item(ItemEntityMap& map, std::string_view title, float prior = 0.0f) {
        if (map.entity_count() != entity_count_)
            throw InvalidArgument(fmt::format("ItemEntityBuilder::add_item: the map has {} entities, the builder {}",
                                              map.entity_count(), entity_count_));
        scratch_.clear();
        links(title, scratch_, map.item_count());
        return map.add_item(scratch_, prior);
    }

    std::size_t titles() const noexcept { return titles_; }            ///< titles seen
    std::size_t with_entity() const noexcept { return with_entity_; }  ///< ... that got an entity

private:
    void check(EntityId e, std::size_t item, std::string_view title) const {
        if (e.index() >= entity_count_)
            throw OutOfRange(fmt::format("ItemEntityBuilder: item {} ('{}'): entity {} >= entity_count {}", item,
                                         title.substr(0, 80), e.value(), entity_count_));
    }

    X& x_;
    std::size_t entity_count_;
    const EntityLinker* linker_;
    ItemEntityOptions options_;
    HeadFinder heads_;
    Normalizer normalizer_;
    std::vector<Mention> mentions_;
    NormalizedText norm_;
    std::vector<ItemEntityLink> scratch_;
    std::size_t titles_ = 0, with_entity_ = 0;
};

/// One call: the item ↔ entity map of `titles` through `extractor`.
template <Extractor X, TitleRange Titles>
ItemEntityMap item_entities(X& extractor, const Titles& titles, std::size_t entity_count,
                            const EntityLinker* linker = nullptr, ItemEntityOptions options = {},
                            std::span<const float> item_prior = {}) {
    ItemEntityBuilder<X> b(extractor, entity_count, linker, std::move(options));
    return b.build(titles, item_prior);
}

}  // namespace kerec
