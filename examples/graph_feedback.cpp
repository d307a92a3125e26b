// graph_feedback — build the complementary graph from (simulated) LLM judgments, then learn its
// edge weights from the behaviour log day by day, publishing a new snapshot after each day, and
// watch the weights approach the hidden strengths.
//
//   graph_feedback [preset=small] [events] [--thompson] [--out DIR]
//
// The LLM stand-in says "yes" to true complements with a confidence that barely tracks their
// strength (an LLM knows whether, not how much) and to some non-complements (false positives).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <kerec/core/progress.hpp>
#include <kerec/eval/stats.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/io.hpp>
#include <kerec/graph/store.hpp>
#include <kerec/sim/world.hpp>

using namespace kerec;

namespace {

std::vector<Judgment> simulated_llm(const sim::World& w, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<Judgment> js;
    for (const auto& e : w.complement_edges()) {
        if (rng.bernoulli(0.1)) continue;  // missed
        const double c = std::clamp(0.78 + 0.1 * rng.normal() + 0.1 * (e.strength - 0.5), 0.5, 0.99);
        js.push_back(Judgment{e.from, e.to, Label::yes, static_cast<float>(c), "", "simulated", "v1", 0});
    }
    const std::size_t false_positives = js.size() / 5;
    const auto n = w.entity_info().size();
    for (std::size_t k = 0; k < false_positives; ++k) {
        const EntityId a(static_cast<std::uint32_t>(rng.uniform_int(n))), b(static_cast<std::uint32_t>(rng.uniform_int(n)));
        if (a != b && w.strength(a, b) == 0)
            js.push_back(Judgment{a, b, Label::yes, static_cast<float>(rng.uniform(0.5, 0.95)), "", "simulated", "v1", 0});
    }
    return js;
}

double spearman_vs_truth(const FeedbackGraph& g, const sim::World& w) {
    std::vector<double> x, y;
    for (std::uint32_t a = 0; a < g.node_count(); ++a) {
        const auto row = g.neighbors(EntityId(a));
        for (std::size_t j = 0; j < row.size(); ++j) {
            x.push_back(row.weights[j]);
            y.push_back(w.strength(EntityId(a), row.targets[j]));
        }
    }
    return spearman(x, y);
}

}  // namespace

int main(int argc, char** argv) {
    std::string preset = "small";
    std::size_t events = 0;
    bool thompson = false;
    std::filesystem::path out_dir;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--thompson") == 0) {
            thompson = true;
        } else if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (argv[i][0] >= '0' && argv[i][0] <= '9') {
            events = static_cast<std::size_t>(std::atof(argv[i]));
        } else {
            preset = argv[i];
        }
    }
    try {
        TerminalProgressBar bar;
        auto cfg = sim::Config::preset(preset, 42);
        if (events) cfg.events = events;
        const auto world = sim::World::generate(cfg, bar.callback());
        const auto judgments = simulated_llm(world, 3);

        GraphBuildOptions build;
        build.progress = bar.callback();
        const auto graph = build_graph<EdgeFeedback>(judgments, JudgmentPrior{}, build);
        std::printf("%s world: %zu entities, %zu hidden complements, %zu events\n", preset.c_str(),
                    world.entity_info().size(), world.complement_edges().size(), world.events().size());
        std::printf("graph from %zu judgments: %llu edges, %.1f bytes/edge\n", judgments.size(),
                    static_cast<unsigned long long>(graph.edge_count()),
                    static_cast<double>(graph.memory_bytes()) / static_cast<double>(std::max<std::uint64_t>(1, graph.edge_count())));
        const double llm_only = spearman_vs_truth(graph, world);
        std::printf("spearman(weight, hidden strength), LLM confidence only: %.3f\n\n", llm_only);

        GraphStore<FeedbackGraph> store(graph);
        FeedbackOptions opt;
        opt.estimate_position_bias = true;
        opt.thompson = thompson;
        FeedbackLearner learner(opt);
        const auto items = item_entity_map(world.items());

        // Feed the log one day at a time, publishing a snapshot after each day.
        const auto log = world.events();
        std::printf("%4s %10s %12s %10s %9s\n", "day", "events", "attributed", "spearman", "version");
        std::size_t begin = 0;
        for (std::int64_t day = 1; begin < log.size(); ++day) {
            std::size_t end = begin;
            while (end < log.size() && log[end].time < day * 86400) ++end;
            const auto [version, stats] = learner.learn_and_publish(store, log.subspan(begin, end - begin), items);
            std::printf("%4lld %10zu %12llu %10.3f %9llu\n", static_cast<long long>(day), end,
                        static_cast<unsigned long long>(stats.attributed_exposures), spearman_vs_truth(*store.current(), world),
                        static_cast<unsigned long long>(version));
            begin = end;
        }
        const auto final_graph = store.current();
        std::printf("\nlearned: %.3f vs LLM-only %.3f\n", spearman_vs_truth(*final_graph, world), llm_only);

        if (!out_dir.empty()) {
            std::filesystem::create_directories(out_dir);
            save_graph(*final_graph, out_dir / "graph.bin");
            save_graph_tsv(*final_graph, out_dir / "graph.tsv", &world.entities());
            std::printf("wrote %s and %s\n", (out_dir / "graph.bin").c_str(), (out_dir / "graph.tsv").c_str());
        }
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "graph_feedback: %s\n", e.what());
        return 1;
    }
}
