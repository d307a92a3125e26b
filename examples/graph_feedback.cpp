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

#include <kerec/core/item_entity_map.hpp>
#include <kerec/core/progress.hpp>
#include <kerec/core/stats.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/io.hpp>
#include <kerec/graph/store.hpp>
#include <kerec/sim/score.hpp>
#include <kerec/sim/world.hpp>

using namespace kerec;

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
        const auto judgments = sim::noisy_judgments(world, 3, {.miss_share = 0.1, .false_positive_share = 0.2, .model = "simulated"});

        const auto graph = build_graph<EdgeFeedback>(judgments, {.progress = bar.callback()});
        std::printf("%s world: %zu entities, %zu hidden complements, %zu events\n", preset.c_str(),
                    world.entity_info().size(), world.complement_edges().size(), world.events().size());
        std::printf("graph from %zu judgments: %llu edges, %.1f bytes/edge\n", judgments.size(),
                    static_cast<unsigned long long>(graph.edge_count()),
                    static_cast<double>(graph.memory_bytes()) / static_cast<double>(std::max<std::uint64_t>(1, graph.edge_count())));
        const double llm_only = sim::graph_strength_spearman(world, graph);
        std::printf("spearman(weight, hidden strength), LLM confidence only: %.3f\n\n", llm_only);

        GraphStore<FeedbackGraph> store(graph);
        FeedbackOptions opt;
        opt.estimate_position_bias = true;
        opt.thompson = thompson;
        FeedbackLearner learner(opt);
        const auto items = world.item_entity_map();

        // Feed the log one day at a time, publishing a snapshot after each day.
        const auto log = world.events();
        std::printf("%4s %10s %12s %10s %9s\n", "day", "events", "attributed", "spearman", "version");
        std::size_t begin = 0;
        for (std::int64_t day = 1; begin < log.size(); ++day) {
            std::size_t end = begin;
            while (end < log.size() && log[end].time < day * 86400) ++end;
            const auto [version, stats] = learner.learn_and_publish(store, log.subspan(begin, end - begin), items);
            std::printf("%4lld %10zu %12llu %10.3f %9llu\n", static_cast<long long>(day), end,
                        static_cast<unsigned long long>(stats.attributed_exposures), sim::graph_strength_spearman(world, *store.current()),
                        static_cast<unsigned long long>(version));
            begin = end;
        }
        const auto final_graph = store.current();
        std::printf("\nlearned: %.3f vs LLM-only %.3f\n", sim::graph_strength_spearman(world, *final_graph), llm_only);

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
