#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <kerec/entity/item_entities.hpp>

using namespace kerec;

namespace {
const std::vector<std::pair<std::string, EntityId>> forms{
    {"tortilla chips", EntityId(0)}, {"salsa", EntityId(1)}, {"lime", EntityId(2)},
    {"sea salt", EntityId(3)},       {"chips", EntityId(4)}, {"queso", EntityId(5)}};
const std::vector<std::string> titles{
    "Acme Tortilla Chips with Sea Salt, 12 oz",  // head: tortilla chips; sea salt a modifier
    "Bolt Salsa Verde with Lime",                // head: salsa; lime after the cut word
    "Dune Lime Salsa",                           // head-final: salsa, not lime
    "Fjord Gift Card",                           // nothing known: no entity
    "Queso Dip and Chips",                       // rightmost core mention: chips
};

// A caller's extractor: its own ids, offsets and confidences (some hostile).
struct Scripted {
    std::vector<Mention> next;
    void extract(std::string_view, std::vector<Mention>& out) const { out.insert(out.end(), next.begin(), next.end()); }
};
}  // namespace

TEST_CASE("item entities: every linked mention a link, the title_head choice the primary") {
    auto dict = DictionaryExtractor::build(forms);
    EntityLinker linker;
    linker.add_all(forms);
    const std::size_t entity_count = 6;
    ItemEntityBuilder builder(dict, entity_count, &linker);
    const ItemEntityMap map = builder.build(titles);
    REQUIRE(map.item_count() == titles.size());
    CHECK(map.entity_count() == entity_count);
    CHECK(builder.titles() == titles.size());
    CHECK(builder.with_entity() == 4);
    CHECK(map.primary(ItemId(0)) == EntityId(0));
    CHECK(map.primary(ItemId(1)) == EntityId(1));
    CHECK(map.primary(ItemId(2)) == EntityId(1));
    CHECK_FALSE(map.primary(ItemId(3)).valid());
    CHECK(map.primary(ItemId(4)) == EntityId(4));
    // the rule, applied by hand, agrees on every title; every linked mention is a link
    const HeadFinder heads;
    const Normalizer normalizer;
    NormalizedText norm;
    DictionaryExtractor::Workspace ws;
    for (std::uint32_t i = 0; i < titles.size(); ++i) {
        std::vector<Mention> ms;
        dict.extract(titles[i], ms, ws);
        normalizer.normalize(titles[i], norm);
        CHECK(map.primary(ItemId(i)) == title_head(ms, norm, heads, &linker).entity);
        const auto row = map.entities(ItemId(i));
        std::vector<EntityId> want;
        for (const Mention& m : ms) want.push_back(m.entity);
        std::sort(want.begin(), want.end());
        want.erase(std::unique(want.begin(), want.end()), want.end());
        std::vector<EntityId> got(row.ids.begin(), row.ids.end());
        std::sort(got.begin(), got.end());
        CHECK(got == want);
        if (!row.ids.empty()) {
            CHECK(row.ids[0] == map.primary(ItemId(i)));
            CHECK(row.values[0] == 1.0f);
            for (std::size_t k = 1; k < row.values.size(); ++k) CHECK(row.values[k] == doctest::Approx(0.5f));
        }
    }
    CHECK(map.link_count() == 2 + 2 + 2 + 0 + 2);
    // entity -> items: salsa gathers items 1 and 2, lime is a secondary entity of both
    const auto salsa = map.items(EntityId(1));
    CHECK(std::vector<ItemId>(salsa.ids.begin(), salsa.ids.end()) == std::vector<ItemId>{ItemId(1), ItemId(2)});
    CHECK(map.items(EntityId(2)).ids.size() == 2);
}

TEST_CASE("item entities: a pipeline as the extractor, one call, new items joining later") {
    auto dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(forms));
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(forms);
    EntityPipeline<Scripted> pipeline(dict, Scripted{}, linker);  // the tagger finds nothing here
    const std::vector<float> prior{0.1f, 0.9f, 0.5f, 0.0f, 0.2f};
    ItemEntityMap map = item_entities(pipeline, titles, 6, linker.get(), {}, prior);
    CHECK(map.primary(ItemId(1)) == EntityId(1));
    CHECK(map.items(EntityId(1)).ids[0] == ItemId(1));  // ranked by prior: 0.9 before 0.5
    ItemEntityBuilder builder(pipeline, 6, linker.get());
    const ItemId fresh = builder.add_item(map, "Crest Queso with Chips", 0.95f);
    CHECK(fresh == ItemId(5));
    CHECK(map.item_count() == 6);
    CHECK(map.primary(fresh) == EntityId(5));
    CHECK(map.items(EntityId(5)).ids[0] == fresh);
    const ItemId nothing = builder.add_item(map, "Gift Card");
    CHECK_FALSE(map.primary(nothing).valid());
    // the caller's tagger's linked spans count too: a confident span inherits its score share
    pipeline.tagger().next = {Mention{EntityId(3), 0, 4, 0.8f, MentionSource::external}};
    const ItemId tagged = builder.add_item(map, "Salt Salsa");
    const auto row = map.entities(tagged);
    REQUIRE(row.ids.size() == 2);
    CHECK(row.ids[0] == EntityId(1));  // the head: rightmost
    CHECK(row.ids[1] == EntityId(3));
    CHECK(row.values[1] == doctest::Approx(0.4f));
}

TEST_CASE("item entities: bad input") {
    auto dict = DictionaryExtractor::build(forms);
    CHECK_THROWS_AS(ItemEntityBuilder(dict, 6, nullptr, ItemEntityOptions{.other_scale = 1.0f}), InvalidArgument);
    CHECK_THROWS_AS(ItemEntityBuilder(dict, 6, nullptr, ItemEntityOptions{.other_scale = -0.1f}), InvalidArgument);
    const EntityLinker folding(NormalizerOptions{.fold_plurals = true});
    CHECK_THROWS_AS(ItemEntityBuilder(dict, 6, &folding), InvalidArgument);  // tokenised unlike the linker
    // an extractor naming an entity beyond the map: OutOfRange naming the item
    Scripted x;
    x.next = {Mention{EntityId(9), 0, 3, 1.0f, MentionSource::external}};
    const std::vector<std::string> one{"abc"};
    try {
        (void)item_entities(x, one, 6);
        FAIL("accepted entity 9 of 6");
    } catch (const OutOfRange& e) {
        CHECK(std::string(e.what()).find("item 0") != std::string::npos);
        CHECK(std::string(e.what()).find("9") != std::string::npos);
    }
    // hostile offsets and scores never crash; spans covering no token give no link
    x.next = {Mention{EntityId(1), 500, 900, 1.0f, MentionSource::external},
              Mention{EntityId(2), 7, 3, 1.0f, MentionSource::external},
              Mention{EntityId(4), 0, 3, std::numeric_limits<float>::quiet_NaN(), MentionSource::external}};
    ItemEntityBuilder b(x, 6);
    const ItemEntityMap m = b.build(one);
    CHECK(m.primary(ItemId(0)) == EntityId(4));
    // a map with another entity count
    ItemEntityMap other(0, 3, std::span<const ItemEntityLink>{});
    CHECK_THROWS_AS(b.add_item(other, "abc"), InvalidArgument);
}
