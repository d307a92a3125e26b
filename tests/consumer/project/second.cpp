// The second translation unit that includes kerec.hpp (an out-of-line definition in a header
// would be a duplicate symbol at link time).
#include <vector>

#include <kerec/kerec.hpp>

std::size_t second_translation_unit(const kerec::sim::World& world) {
    std::vector<kerec::EntityId> entity_of_item;
    for (const auto& item : world.items()) entity_of_item.push_back(item.entity);
    const auto map = kerec::ItemEntityMap::from_primary(entity_of_item, world.entities().size());
    return map.item_count();
}
