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

    // The behaviour log: bills, exposures and clicks, ordered by time.
    std::size_t clicks = 0;
    for (const Event& ev : world.events()) clicks += ev.kind == EventKind::click;
    std::printf("%zu events, %zu clicks\n", world.events().size(), clicks);
    return clicks > 0 ? 0 : 1;
}
