// docs/pairs.md — popularity from events, then budgeted segmented pairs, sharded and lazy.
#include <cstdio>
#include <vector>

#include <kerec/pairs/popularity.hpp>
#include <kerec/pairs/segmented_generator.hpp>
#include <kerec/sim/world.hpp>

int main() {
    using namespace kerec;
    const auto world = sim::World::generate(sim::Config::preset("small"));

    // Popularity: bills per entity, halving every 7 days.
    std::vector<EntityId> item_entity;
    for (const auto& item : world.items()) item_entity.push_back(item.entity);
    PopularityOptions po;
    po.half_life = 7 * 86400.0;
    const Popularity pop = Popularity::from_events(world.events(), ItemEntityMap::from_primary(item_entity, world.entities().size()), po);

    // Head/torso/tail by default; keep the 5,000 pairs of highest expected traffic.
    SegmentedPairOptions opt;
    opt.budget = 5000;
    const SegmentedPairGenerator gen(pop, opt);
    std::printf("%zu entities, %llu possible pairs, %llu generated\n", gen.entity_count(),
                static_cast<unsigned long long>(gen.all_pairs_count()), static_cast<unsigned long long>(gen.count()));
    for (const auto& s : gen.segments()) std::printf("  %s: ranks [%u, %u)\n", s.name.c_str(), s.begin, s.end);

    // Lazy: a range-for over shard 0 of 4 (shards are disjoint and together complete).
    std::size_t shown = 0, in_shard = 0;
    for (const EntityPair& p : gen.shard(0, 4)) {
        if (shown++ < 3) std::printf("  %s + %s\n", world.entities().name(p.a).data(), world.entities().name(p.b).data());
        ++in_shard;
    }
    // Incremental: only pairs that touch entities that arrived during the log, minus judged ones.
    SegmentedPairOptions inc;
    inc.incremental = true;
    for (std::uint32_t e = 0; e < world.entities().size(); ++e)
        if (world.entity(EntityId{e}).is_new) inc.new_entities.push_back(EntityId{e});
    const SegmentedPairGenerator fresh(pop, inc);
    std::printf("shard 0 of 4: %zu pairs; incremental: %llu pairs for %zu new entities\n", in_shard,
                static_cast<unsigned long long>(fresh.count()), inc.new_entities.size());
    return in_shard > 0 && gen.count() == 5000 ? 0 : 1;
}
