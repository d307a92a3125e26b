// Complementary graph benchmarks: kerec's CSR snapshot side by side with Boost.Graph's
// compressed_sparse_row_graph on the same edges (build, iteration, memory), top-k and lookup
// latency, and the Spearman correlation of feedback-learned weights with the simulator's hidden
// strengths as a function of feedback volume (against the LLM-confidence-only baseline).
//   KEREC_BENCH_GRAPH_EDGES (default 1e8), KEREC_BENCH_GRAPH_NODES (default edges / 10)
//   KEREC_BENCH_GRAPH_EVENTS (default 3e6): the longest simulated log for the Spearman curve.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/graph/compressed_sparse_row_graph.hpp>

#include <kerec/core/item_entity_map.hpp>
#include <kerec/core/random.hpp>
#include <kerec/core/stats.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/sim/score.hpp>
#include <kerec/sim/world.hpp>

#include "figures.hpp"

using namespace kerec;

namespace {

std::size_t env_size(const char* name, double fallback) {
    if (const char* v = std::getenv(name)) return static_cast<std::size_t>(std::atof(v));
    return static_cast<std::size_t>(fallback);
}

using G = ComplementaryGraph<EntityId, NoPayload>;
using B = GraphBuilder<EntityId, NoPayload>;
using E = GraphEdge<EntityId, NoPayload>;
using BoostCSR = boost::compressed_sparse_row_graph<boost::directedS, boost::no_property, float, boost::no_property,
                                                    std::uint32_t, std::uint64_t>;

}  // namespace

TEST_CASE("graph: kerec CSR vs Boost compressed_sparse_row_graph") {
    const std::size_t m = env_size("KEREC_BENCH_GRAPH_EDGES", 1e8);
    const std::size_t n = env_size("KEREC_BENCH_GRAPH_NODES", static_cast<double>(m) / 10.0);
    std::fprintf(stderr, "graph bench: %zu nodes, %zu edges, %u hardware threads\n", n, m,
                 std::thread::hardware_concurrency());

    // Heavy-tailed sources (u^2 skew), uniform targets, uniform weights; the same edges for both.
    std::vector<E> edges(m);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs(m);
    std::vector<float> weights(m);
    {
        Rng rng(42);
        for (std::size_t i = 0; i < m; ++i) {
            const double u = rng.uniform();
            const auto a = static_cast<std::uint32_t>(static_cast<double>(n) * u * u);
            const auto b = static_cast<std::uint32_t>(rng.uniform_int(n));
            const auto w = static_cast<float>(rng.uniform());
            edges[i] = E{EntityId(a), EntityId(b), w, {}};
            pairs[i] = {a, b};
            weights[i] = w;
        }
    }
    GraphBuildOptions opt;
    opt.node_count = n;
    opt.duplicates = DuplicatePolicy::keep_max;
    opt.self_loops = SelfLoopPolicy::keep;  // Boost keeps them too

    // Builds alternate kerec / Boost / kerec-1-thread so that both see the same machine load
    // (the machine is shared); each figure is the median over the rounds.
    const int rounds = static_cast<int>(env_size("KEREC_BENCH_GRAPH_ROUNDS", 7));
    GraphBuildOptions one = opt;
    one.threads = 1;
    std::vector<double> tk, tb, t1;
    auto seconds = [](auto&& f) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    volatile std::size_t sink = 0;
    for (int r = 0; r < rounds; ++r) {
        tk.push_back(seconds([&] { sink = sink + B::build(edges, opt).edge_count(); }));
        tb.push_back(seconds([&] {
            BoostCSR bgr(boost::edges_are_unsorted_multi_pass, pairs.begin(), pairs.end(), weights.begin(), n);
            sink = sink + boost::num_edges(bgr);
        }));
        t1.push_back(seconds([&] { sink = sink + B::build(edges, one).edge_count(); }));
        std::fprintf(stderr, "build round %d: kerec %.3f s, boost %.3f s, kerec 1 thread %.3f s\n", r, tk.back(), tb.back(),
                     t1.back());
    }
    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    };
    const double kb = median(tk), bb = median(tb), k1 = median(t1);
    std::fprintf(stderr, "build medians: kerec %.3f s, boost %.3f s, kerec 1 thread %.3f s\n", kb, bb, k1);

    const G g = B::build(edges, opt);
    const std::size_t gm = g.edge_count();
    std::fprintf(stderr, "kerec: %zu edges after dedupe (of %zu), max degree %zu\n", gm, m, g.max_degree());
    edges.clear();
    edges.shrink_to_fit();
    BoostCSR bg(boost::edges_are_unsorted_multi_pass, pairs.begin(), pairs.end(), weights.begin(), n);
    pairs.clear();
    pairs.shrink_to_fit();
    weights.clear();
    weights.shrink_to_fit();

    BENCHMARK("kerec iterate") {
        double sum = 0;
        std::uint64_t ids = 0;
        for (std::size_t r = 0; r < n; ++r)
            for (auto [target, weight] : g.neighbors(EntityId(static_cast<std::uint32_t>(r)))) sum += weight, ids += target.value();
        return sum + static_cast<double>(ids);
    };
    BENCHMARK("boost iterate") {
        double sum = 0;
        std::uint64_t ids = 0;
        for (std::uint32_t v = 0; v < n; ++v)
            for (auto [it, end] = boost::out_edges(v, bg); it != end; ++it) sum += bg[*it], ids += boost::target(*it, bg);
        return sum + static_cast<double>(ids);
    };

    constexpr std::size_t queries = 1 << 20;
    std::vector<EntityId> q(queries), qt(queries);
    {
        Rng rng(7);
        for (std::size_t i = 0; i < queries; ++i) {
            const double u = rng.uniform();  // query with the same skew as the sources
            q[i] = EntityId(static_cast<std::uint32_t>(static_cast<double>(n) * u * u));
            const auto row = g.neighbors(q[i]);
            qt[i] = row.empty() || rng.bernoulli(0.5) ? EntityId(static_cast<std::uint32_t>(rng.uniform_int(n)))
                                                      : row.targets[rng.uniform_int(row.size())];
        }
    }
    BENCHMARK("kerec top-10 x 2^20") {
        double sum = 0;
        for (std::size_t i = 0; i < queries; ++i) {
            const auto top = g.top_k(q[i], 10);
            for (std::size_t j = 0; j < top.size(); ++j) sum += top.weights[j];
        }
        return sum;
    };
    BENCHMARK("kerec find x 2^20") {
        std::uint64_t found = 0;
        for (std::size_t i = 0; i < queries; ++i) found += g.find(q[i], qt[i]) != G::npos;
        return found;
    };

    const double ki = bench::median_seconds("kerec iterate"), bi = bench::median_seconds("boost iterate");
    bench::emit("graph.build.edges_per_s", static_cast<double>(m) / kb, "input edges/s (ratio > 1: kerec faster)",
                "boost", bb / kb);
    bench::emit("graph.build_1thread.edges_per_s", static_cast<double>(m) / k1,
                "input edges/s, one thread (ratio > 1: kerec faster)", "boost", bb / k1);
    bench::emit("graph.iterate.edges_per_s", static_cast<double>(gm) / ki, "edges/s (ratio > 1: kerec faster)", "boost",
                bi / ki);
    const double boost_bytes =
        static_cast<double>((n + 1) * sizeof(std::uint64_t) + boost::num_edges(bg) * (sizeof(std::uint32_t) + sizeof(float)));
    const double kerec_bpe = static_cast<double>(g.memory_bytes()) / static_cast<double>(gm);
    bench::emit("graph.bytes_per_edge", kerec_bpe,
                "bytes/edge incl. offsets, weight and by-target lookup (ratio = boost/kerec, > 1: kerec smaller)", "boost",
                boost_bytes / static_cast<double>(boost::num_edges(bg)) / kerec_bpe);
    bench::emit("graph.topk.ns", bench::median_seconds("kerec top-10 x 2^20") / queries * 1e9, "ns per top-10 query");
    bench::emit("graph.find.ns", bench::median_seconds("kerec find x 2^20") / queries * 1e9, "ns per edge lookup");
    bench::emit("graph.peak_rss_mb", bench::peak_rss_mb(), "MiB");
}

TEST_CASE("graph: feedback-learned weights vs hidden strengths") {
    const std::size_t max_events = env_size("KEREC_BENCH_GRAPH_EVENTS", 3e6);
    auto cfg = sim::Config::preset("small", 42);
    cfg.events = max_events;
    const auto t0 = std::chrono::steady_clock::now();
    const auto world = sim::World::generate(cfg);
    std::fprintf(stderr, "sim world: %zu entities, %zu true edges, %zu events (%.1f s)\n", world.entity_info().size(),
                 world.complement_edges().size(), world.events().size(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    const auto js = sim::noisy_judgments(world, 3, {.miss_share = 0.1, .false_positive_share = 0.2, .model = "noisy"});
    const auto g0 = build_graph<EdgeFeedback>(std::span<const Judgment>(js));
    const double llm_only = sim::graph_strength_spearman(world, g0);
    const auto items = world.item_entity_map();
    FeedbackOptions o;
    o.estimate_position_bias = true;
    double last = 0;
    std::size_t last_events = 0;
    std::fprintf(stderr, "%12s %14s %10s %10s\n", "events", "attributed_exp", "learned", "llm_only");
    for (std::size_t ev = 10000; ; ev *= 3) {
        const std::size_t k = std::min(ev, world.events().size());
        const auto r = FeedbackLearner(o).learn(g0, world.events().first(k), items);
        last = sim::graph_strength_spearman(world, r.graph);
        last_events = k;
        std::fprintf(stderr, "%12zu %14llu %10.4f %10.4f\n", k, static_cast<unsigned long long>(r.stats.attributed_exposures),
                     last, llm_only);
        bench::emit(fmt::format("graph.feedback.spearman.events_{}", k), last, "spearman (curve point)");
        if (k == world.events().size()) break;
    }
    BENCHMARK("feedback learn (full log)") { return FeedbackLearner(o).learn(g0, world.events(), items).stats.attributed_clicks; };
    bench::emit("graph.feedback.spearman", last, fmt::format("spearman, learned weights vs hidden strength, {} events", last_events));
    bench::emit("graph.llm_only.spearman", llm_only, "spearman, LLM confidence vs hidden strength");
    bench::emit("graph.feedback.events_per_s",
                static_cast<double>(world.events().size()) / bench::median_seconds("feedback learn (full log)"),
                "events/s (attribution + reweight)");
}
