// docs/entity.md — the item ↔ entity map from titles: one rule for the item's entity.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <kerec/entity/item_entities.hpp>

int main() {
    using namespace kerec;
    const std::vector<std::pair<std::string, EntityId>> forms{
        {"tortilla chips", EntityId(0)}, {"salsa", EntityId(1)}, {"lime", EntityId(2)}, {"sea salt", EntityId(3)}};
    const std::vector<std::string> titles{"Acme Tortilla Chips with Sea Salt", "Bolt Lime Salsa", "Dune Gift Card"};
    auto dictionary = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(forms));
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(forms);

    // Any Extractor works: the dictionary alone here, an EntityPipeline (dictionary + CRF) or a
    // caller's tagger in production. Every linked mention becomes a link; the title's head
    // (title_head: the rightmost mention before "with", "for", ... whose head word links) scores 1
    // and is the item's primary entity.
    DictionaryExtractor extractor = *dictionary;
    ItemEntityBuilder builder(extractor, /*entity_count=*/4, linker.get());
    ItemEntityMap map = builder.build(titles);
    for (std::uint32_t i = 0; i < map.item_count(); ++i) {
        std::printf("'%s' ->", titles[i].c_str());
        for (auto [entity, score] : map.entities(ItemId(i))) std::printf(" entity %u (%.2f)", entity.value(), score);
        std::printf("\n");
    }
    // A new item joins later without rebuilding anything.
    const ItemId fresh = builder.add_item(map, "Fjord Salsa Verde, 16 oz", /*prior=*/1.0f);
    std::printf("new item %u -> entity %u; salsa's best item: %u\n", fresh.value(), map.primary(fresh).value(),
                map.items(EntityId(1)).ids[0].value());
    return map.primary(ItemId(0)) == EntityId(0) && map.primary(ItemId(1)) == EntityId(1) && !map.primary(ItemId(2)).valid() &&
                   map.items(EntityId(1)).ids[0] == fresh
               ? 0
               : 1;
}
