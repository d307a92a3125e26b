// docs/graph.md — judgments -> complementary graph -> served snapshot -> weights learned from feedback.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <kerec/core/item_entity_map.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/io.hpp>
#include <kerec/graph/store.hpp>
#include <kerec/sim/world.hpp>

int main() {
    using namespace kerec;
    const auto world = sim::World::generate(sim::Config::preset("tiny", /*seed=*/7));

    // 1. Judgments (from the LLM judge in production; here one "yes" per hidden complement).
    //    The latest judgment of a pair decides: a "yes" is an edge whose prior is its confidence.
    std::vector<Judgment> judgments;
    for (const auto& e : world.complement_edges())
        judgments.push_back({.a = e.from, .b = e.to, .label = Label::yes, .confidence = 0.8f, .rationale = "often bought together",
                             .model = "example", .prompt_version = "v1", .time = 0});
    const FeedbackGraph graph = build_graph<EdgeFeedback>(judgments);  // options: {.min_confidence = 0.6f, ...}

    // 2. Serve it: readers take snapshots without locks while a writer publishes new versions.
    GraphStore<FeedbackGraph> store(graph);

    // 3. Learn the weights from exposures/clicks/purchases and publish the result (one call).
    //    Items reach the graph's entities through the item <-> entity map (primary entity).
    const ItemEntityMap items = world.item_entity_map();
    const auto [version, stats] = FeedbackLearner().learn_and_publish(store, world.events(), items);
    std::printf("version %llu: %llu exposures and %llu clicks attributed to edges\n",
                static_cast<unsigned long long>(version), static_cast<unsigned long long>(stats.attributed_exposures),
                static_cast<unsigned long long>(stats.attributed_clicks));

    // 4. Query a snapshot: the strongest complements are a prefix of the row; each edge keeps the
    //    LLM's prior and rationale next to the learned weight.
    const auto snapshot = store.current();
    const EntityId chips = world.complement_edges().front().from;
    const auto top = snapshot->top_k(chips, 3);
    std::printf("after buying %s, show:\n", std::string(world.entities().name(chips)).c_str());
    for (std::size_t k = 0; k < top.size(); ++k)
        std::printf("  %-24s learned %.3f  LLM %.2f  \"%s\"  (true strength %.2f)\n",
                    std::string(world.entities().name(top.targets[k])).c_str(), top.weights[k], top.payload[k].prior,
                    std::string(top.rationale(k)).c_str(), world.strength(chips, top.targets[k]));

    // 5. Persist it (rationales included); loading maps the file (no copy) and validates it.
    const auto path = std::filesystem::temp_directory_path() / "kerec_graph_snippet.bin";
    save_graph(*snapshot, path);
    const auto mapped = load_graph<FeedbackGraph>(path);
    std::filesystem::remove(path);
    return same_content(mapped, *snapshot) && stats.attributed_clicks > 0 ? 0 : 1;
}
