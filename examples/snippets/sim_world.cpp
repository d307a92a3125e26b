// docs/sim.md — generate a synthetic marketplace and read its hidden ground truth.
#include <cstdio>

#include <kerec/sim/world.hpp>

int main() {
    using namespace kerec;
    const auto world = sim::World::generate(sim::Config::preset("tiny", /*seed=*/7));

    // A title, and the true entity and span behind it.
    const sim::Item& item = world.items().front();
    std::printf("title: %s\n  entity: %s, form \"%s\" at bytes [%u, %u)\n", item.title.c_str(),
                std::string(world.entities().name(item.entity)).c_str(), world.surface_forms()[item.form].text.c_str(),
                item.span_begin, item.span_end);

    // The hidden complementary graph: what a perfect LLM would say.
    const EntityId e = world.complement_edges().front().from;
    std::printf("complements of %s:\n", std::string(world.entities().name(e)).c_str());
    for (const auto& edge : world.complements_of(e))
        std::printf("  %-28s strength %.2f\n", std::string(world.entities().name(edge.to)).c_str(), edge.strength);

    // The behaviour log, ordered by time: views (browsing before a purchase), bills, exposures
    // and clicks. How many views fall in the substitute group of the purchase that follows them?
    std::size_t clicks = 0, views = 0, substitute_views = 0;
    const auto log = world.events();
    for (std::size_t i = 0; i < log.size(); ++i) {
        clicks += log[i].kind == EventKind::click;
        if (log[i].kind != EventKind::view) continue;
        std::size_t b = i;
        while (b < log.size() && log[b].kind == EventKind::view) ++b;  // the session's bill follows its views
        ++views;
        if (b < log.size())
            substitute_views += world.substitutes(world.item(log[i].item).entity, world.item(log[b].item).entity) ||
                                world.item(log[i].item).entity == world.item(log[b].item).entity;
    }
    std::printf("%zu events, %zu clicks, %zu views (%zu of the purchase's substitute group)\n", log.size(), clicks,
                views, substitute_views);

    // Train on the first 80% of the log; the items arriving later are the cold-start test set.
    const std::int64_t cut = world.split_time(0.8);
    std::printf("train %zu events, test %zu, %zu items arrive after the cut\n", world.events_before(cut).size(),
                world.events_from(cut).size(), world.items_arriving_from(cut).size());
    return clicks > 0 && views > 0 ? 0 : 1;
}
