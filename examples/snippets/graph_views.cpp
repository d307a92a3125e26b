// docs/graph.md — the graph's views: rows as [target, weight], every edge at once, rationales, and
// a weighted neighbour sampler.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/core/vocabulary.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/sampler.hpp>

int main() {
    using namespace kerec;
    Vocabulary<EntityId> names;
    const EntityId chips = names.add("chips"), salsa = names.add("salsa"), guacamole = names.add("guacamole"),
                   soap = names.add("soap");
    auto judged = [](EntityId a, EntityId b, Label label, float confidence, std::string why, std::int64_t time) {
        return Judgment{.a = a, .b = b, .label = label, .confidence = confidence, .rationale = std::move(why),
                        .model = "example", .prompt_version = "v1", .time = time};
    };
    const std::vector<Judgment> judgments{
        judged(chips, salsa, Label::yes, 0.9f, "a dip for chips", 1),
        judged(chips, guacamole, Label::yes, 0.4f, "also a dip", 1),  // a weak yes is still an edge
        judged(chips, soap, Label::no, 0.3f, "", 1),                  // a no is never one
        judged(salsa, chips, Label::yes, 0.7f, "something to dip", 1),
        judged(salsa, soap, Label::yes, 0.6f, "?", 1),
        judged(salsa, soap, Label::no, 0.9f, "", 2),  // asked again later: the latest answer decides
    };
    const auto graph = build_graph(judgments);

    // One row: strongest first, iterable as [target, weight]; also spans (row.targets, row.weights).
    for (auto [target, weight] : graph.neighbors(chips))
        std::printf("chips -> %-9s %.2f\n", std::string(names.name(target)).c_str(), weight);

    // Every edge (sources ascending), and the way back to the LLM's rationale (O(1), no store).
    const auto all = edges(graph);
    for (auto it = all.begin(); it != all.end(); ++it) {
        const auto [source, target, weight, payload] = *it;
        std::printf("%s -> %s: \"%s\"\n", std::string(names.name(source)).c_str(), std::string(names.name(target)).c_str(),
                    std::string(graph.rationale(it.index())).c_str());
    }

    // Draw neighbours in proportion to their weights (seeded, O(log degree) per draw).
    const NeighborSampler sampler(graph);
    Rng rng(/*seed=*/42);
    std::map<std::string, int> drawn;
    for (int k = 0; k < 1300; ++k) ++drawn[std::string(names.name(*sampler.sample_target(chips, rng)))];
    std::printf("1300 draws after chips: salsa %d, guacamole %d (expected about 900 and 400)\n", drawn["salsa"], drawn["guacamole"]);
    return graph.edge_count() == 3 && drawn["salsa"] > drawn["guacamole"] ? 0 : 1;
}
