// scripts/bench pairs — segmented pair generation: throughput, and traffic-weighted coverage of the
// simulator's hidden complementary edges against uniform random pairs and all pairs.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/random.hpp>
#include <kerec/pairs/popularity.hpp>
#include <kerec/pairs/segmented_generator.hpp>
#include <kerec/sim/world.hpp>

#include "figures.hpp"

using namespace kerec;

namespace {

// Popularity from the world's bills: what a caller has (not the hidden shares). As counts, or as
// rates since the entity's first event (rate_window one day), which helps entities that arrived late.
Popularity bill_popularity(const sim::World& w, double rate_window = 0.0) {
    std::vector<EntityId> item_entity;
    item_entity.reserve(w.items().size());
    for (const auto& it : w.items()) item_entity.push_back(it.entity);
    PopularityOptions o;
    o.rate_window = rate_window;
    return Popularity::from_events(w.events(), ItemEntityMap::from_primary(item_entity, w.entities().size()), o);
}

// Traffic share of the hidden directed edges whose (unordered) pair the generator yields.
double coverage(const SegmentedPairGenerator& g, const sim::World& w) {
    double c = 0;
    for (const auto& e : w.complement_edges())
        if (g.contains(EntityPair{e.from, e.to})) c += e.traffic;
    return c;
}

// Uniform random pairs at a budget of `share` of all pairs: each pair is kept with probability
// `share`, so every edge independently (seeded Bernoulli draw per edge); mean over 20 seeds, since
// a few edges carry much of the traffic.
double random_coverage(double share, const sim::World& w, std::uint64_t seed) {
    double c = 0;
    for (std::uint64_t s = 0; s < 20; ++s) {
        Rng rng(derive_seed(seed, s));
        for (const auto& e : w.complement_edges())
            if (rng.bernoulli(share)) c += e.traffic;
    }
    return c / 20.0;
}

}  // namespace

TEST_CASE("pair generation throughput") {
    const std::size_t n = 100000;
    const Popularity pop(zipf_weights(n, 1.0));
    const SegmentedPairGenerator g(pop);  // default head/torso/tail matrix
    const std::uint64_t want = 20'000'000;
    std::vector<EntityPair> buf(4096);
    std::uint64_t produced = 0;
    BENCHMARK("fill 20M pairs") {
        auto c = g.slice(0, want);
        std::uint64_t check = 0;
        produced = 0;
        while (std::size_t k = c.fill(buf)) {
            produced += k;
            check += buf[k - 1].b.value();
        }
        return check;
    };
    const double fill_rate = static_cast<double>(produced) / bench::median_seconds("fill 20M pairs");
    std::uint64_t iterated = 0;
    BENCHMARK("iterate 20M pairs") {
        auto c = g.slice(0, want);
        std::uint64_t check = 0;
        iterated = 0;
        for (const EntityPair& p : c) {
            check += p.a.value();
            ++iterated;
        }
        return check;
    };
    const double iter_rate = static_cast<double>(iterated) / bench::median_seconds("iterate 20M pairs");
    BENCHMARK("build default generator, 100k entities") { return SegmentedPairGenerator(pop).count(); };
    BENCHMARK("build budgeted generator, 100k entities") {
        SegmentedPairOptions o;
        o.budget = 100'000'000;
        return SegmentedPairGenerator(pop, o).count();
    };
    bench::emit("pairs.gen.pairs_per_s", fill_rate, "pairs/s (fill, one core)");
    bench::emit("pairs.gen.iter_pairs_per_s", iter_rate, "pairs/s (range-for, one core)");
    bench::emit("pairs.gen.build_s", bench::median_seconds("build budgeted generator, 100k entities"),
                "s (100k entities, budget 1e8)");
    CHECK(produced == want);
    CHECK(iterated == want);
}

TEST_CASE("traffic-weighted coverage of hidden complements, large world") {
    const auto t0 = std::chrono::steady_clock::now();
    const sim::World w = sim::World::generate(sim::Config::preset("large"));
    const Popularity pop = bill_popularity(w, 86400.0);
    const Popularity counts = bill_popularity(w);
    fmt::print(stderr, "large world: {} entities, {} edges, {:.1f} s\n", w.entities().size(),
               w.complement_edges().size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

    // The default segmentation, no budget.
    const SegmentedPairGenerator def(pop);
    const double all = static_cast<double>(def.all_pairs_count());
    bench::emit("pairs.segmented.default.share_of_all_pairs", static_cast<double>(def.count()) / all, "fraction");
    bench::emit("pairs.segmented.default.coverage", coverage(def, w), "traffic fraction");
    bench::emit("pairs.all.coverage", 1.0, "traffic fraction (every pair)");

    double at10 = 0, rnd10 = 0;
    SegmentedPairOptions o;
    o.partners = {{all_partners, all_partners, all_partners},
                  {all_partners, all_partners, all_partners},
                  {all_partners, all_partners, all_partners}};
    o.budget = static_cast<std::uint64_t>(0.1 * all);
    bench::emit("pairs.segmented.counts.coverage_at_10pct", coverage(SegmentedPairGenerator(counts, o), w),
                "traffic fraction (popularity = bill counts, not rates)");
    for (double pct : {0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0}) {
        o.budget = static_cast<std::uint64_t>(pct / 100.0 * all);
        const SegmentedPairGenerator g(pop, o);
        const double cov = coverage(g, w);
        const double rnd = random_coverage(static_cast<double>(g.count()) / all, w, 7);
        const std::string p = pct < 1.0 ? fmt::format("{:g}", pct) : fmt::format("{:.0f}", pct);
        bench::emit(fmt::format("pairs.segmented.coverage_at_{}pct", p), cov, "traffic fraction");
        bench::emit(fmt::format("pairs.random.coverage_at_{}pct", p), rnd, "traffic fraction");
        if (pct == 10.0) at10 = cov, rnd10 = rnd;
    }
    bench::emit("pairs.segmented.coverage_at_10pct_vs_random", at10, "traffic fraction; ratio > 1: segmented better",
                "uniform random pairs", at10 / rnd10);
}

#ifdef KEREC_BENCH_HTTP
#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/openai_judge.hpp>

#include <filesystem>

#include "llm/loopback_llm_server.hpp"

TEST_CASE("HTTP judge under injected faults (loopback server)") {
    // Every fault kind of the loopback server (429, 500 twice, slower than the timeout, malformed
    // body, unparseable prose once or always), 2,000 pairs, 16 requests in flight.
    test::LoopbackLlmServer server(std::chrono::milliseconds(400), {}, std::chrono::milliseconds(5));
    const auto path = std::filesystem::temp_directory_path() / fmt::format("kerec_bench_http_{}.log", ::getpid());
    std::filesystem::remove(path);
    OpenAIJudgeOptions o;
    o.endpoint = server.url();
    o.model = "loopback-model";
    o.api_key_env.clear();
    o.concurrency = 16;
    o.timeout = std::chrono::milliseconds(200);
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(200);
    o.max_attempts = 6;
    OpenAICompatibleJudge judge(o);
    std::vector<PairQuery> q;
    for (unsigned i = 0; i < 2000; ++i) {
        const unsigned a = i, b = 5000 + (i * 13 + i / 10) % 3000;
        q.push_back({EntityId{a}, EntityId{b}, fmt::format("e{}", a), fmt::format("e{}", b)});
    }
    JudgeRunReport rep;
    {
        JudgmentStore store(path);
        JudgeRunOptions ro;
        ro.batch_size = q.size();
        rep = store.judge(judge, q, ro);
    }
    JudgmentStore reopened(path);
    std::size_t answered = 0;
    for (const auto& x : q) answered += reopened.contains(x.pair(), "loopback-model", judge.prompt_version());
    const auto& st = judge.stats();
    bench::emit("llm.http.lost", static_cast<double>(q.size() - answered), "judgments (of 2000, injected faults)");
    bench::emit("llm.http.duplicated", static_cast<double>(rep.duplicate_answers + reopened.superseded()), "judgments");
    bench::emit("llm.http.judgments_per_s", static_cast<double>(rep.stored) / st.seconds, "judgments/s (16 in flight, 5 ms replies)");
    bench::emit("llm.http.max_in_flight", server.max_in_flight.load(), "requests (configured 16)");
    bench::emit("llm.http.injected.rate_limited", static_cast<double>(st.rate_limited), "HTTP 429 retried");
    bench::emit("llm.http.injected.timeouts", static_cast<double>(st.timeouts), "timeouts retried");
    bench::emit("llm.http.injected.malformed", static_cast<double>(st.malformed_replies), "malformed bodies retried");
    bench::emit("llm.http.http_errors", static_cast<double>(st.http_errors), "transport retries in total");
    bench::emit("llm.http.reasked", static_cast<double>(st.retries), "unparseable answers re-asked");
    bench::emit("llm.http.unknown", static_cast<double>(st.unknown), "unparseable twice (stored as unknown)");
    std::filesystem::remove(path);
    CHECK(answered == q.size());
}
#endif
