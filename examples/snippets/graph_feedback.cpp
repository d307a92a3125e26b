// docs/graph.md — judgments -> complementary graph -> served snapshot -> weights learned from feedback.
#include <cstdio>
#include <filesystem>

#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/io.hpp>
#include <kerec/graph/store.hpp>
#include <kerec/sim/world.hpp>

int main() {
    using namespace kerec;
    const auto world = sim::World::generate(sim::Config::preset("tiny", /*seed=*/7));

    // 1. Judgments (from the LLM judge in production; here one "yes" per hidden complement).
    std::vector<Judgment> judgments;
    for (const auto& e : world.complement_edges())
        judgments.push_back(Judgment{e.from, e.to, Label::yes, 0.8f, "", "example", "v1", 0});
    const FeedbackGraph graph = build_graph<EdgeFeedback>(judgments);  // prior weight = confidence

    // 2. Serve it: readers take snapshots without locks while a writer publishes new versions.
    GraphStore<FeedbackGraph> store(graph);

    // 3. Learn the weights from exposures/clicks/purchases and publish the result (one call).
    const auto [version, stats] = FeedbackLearner().learn_and_publish(store, world.events(), item_entity_map(world.items()));
    std::printf("version %llu: %llu exposures and %llu clicks attributed to edges\n",
                static_cast<unsigned long long>(version), static_cast<unsigned long long>(stats.attributed_exposures),
                static_cast<unsigned long long>(stats.attributed_clicks));

    // 4. Query a snapshot: the strongest complements of an entity are a prefix of its row.
    const auto snapshot = store.current();
    const EntityId chips = world.complement_edges().front().from;
    const auto top = snapshot->top_k(chips, 3);
    std::printf("after buying %s, show:\n", std::string(world.entities().name(chips)).c_str());
    for (std::size_t j = 0; j < top.size(); ++j)
        std::printf("  %-24s weight %.3f (true strength %.2f)\n", std::string(world.entities().name(top.targets[j])).c_str(),
                    top.weights[j], world.strength(chips, top.targets[j]));

    // 5. Persist it; loading maps the file (no copy) and validates it.
    const auto path = std::filesystem::temp_directory_path() / "kerec_graph_snippet.bin";
    save_graph(*snapshot, path);
    const auto mapped = load_graph<FeedbackGraph>(path);
    std::filesystem::remove(path);
    return same_content(mapped, *snapshot) && stats.attributed_clicks > 0 ? 0 : 1;
}
