// scripts/bench pairs — segmented pair generation: throughput, and traffic-weighted coverage of the
// simulator's hidden complementary edges against uniform random pairs and all pairs; the LLM
// response parser's prompt-injection table; the HTTP judge under slow replies, faults and an outage.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
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

// --- the LLM judge: the response parser's injection table, then the HTTP judge -----------------
#include <kerec/llm/response_parser.hpp>

#include "llm/injection_table.hpp"

TEST_CASE("response parser: prompt-injection table (hostile names x reply styles)") {
    const auto table = test::injection_table();
    std::size_t flipped = 0;
    for (const auto& c : table) {
        const auto a = parse_answer(c.reply, c.name_a, c.name_b);
        flipped += !(a.ok && a.label == c.label && std::abs(a.confidence - c.confidence) < 1e-5f);
    }
    // Names that are themselves an answer token ("0.9", "yes", "是"): a failure (re-asked) is
    // allowed there, a different answer is not.
    std::size_t token_cells = 0, token_wrong = 0, token_failed = 0;
    for (const std::string name : {"0.9", "85%", "90", "1", "0", "是", "否", "Yes!", "n", "false", "label", "reason", "null"})
        for (const auto& [x, y] : {std::pair<std::string, std::string>{"tortilla chips", name}, {name, "salsa"}})
            for (const auto& [label, conf] : {std::pair{Label::no, 0.9f}, {Label::yes, 0.85f}})
                for (const auto& c : test::injection_cells(x, y, label, conf)) {
                    ++token_cells;
                    const auto a = parse_answer(c.reply, c.name_a, c.name_b);
                    if (!a.ok) ++token_failed;
                    else token_wrong += a.label != c.label || std::abs(a.confidence - c.confidence) >= 1e-5f;
                }
    double sink = 0;
    BENCHMARK("parse the injection table (with names)") {
        for (const auto& c : table) sink += parse_answer(c.reply, c.name_a, c.name_b).confidence;
        return sink;
    };
    bench::emit("llm.injection.cells", static_cast<double>(table.size()), "replies (hostile names x reply styles x answers)");
    bench::emit("llm.injection.flipped", static_cast<double>(flipped), "cells parsed other than the model's answer (must be 0)");
    bench::emit("llm.injection.answer_token_names.cells", static_cast<double>(token_cells), "replies");
    bench::emit("llm.injection.answer_token_names.wrong", static_cast<double>(token_wrong), "parsed to another answer (must be 0)");
    bench::emit("llm.injection.answer_token_names.failed", static_cast<double>(token_failed), "parse failures (re-asked)");
    bench::emit("llm.parse.us_per_reply", 1e6 * bench::median_seconds("parse the injection table (with names)") /
                                              static_cast<double>(table.size()),
                "microseconds per reply (names masked, JSON via nlohmann SAX)");
    CHECK(flipped == 0);
    CHECK(token_wrong == 0);
}

#ifdef KEREC_BENCH_HTTP
#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/openai_judge.hpp>

#include <filesystem>

#include "llm/loopback_llm_server.hpp"

namespace {
std::vector<PairQuery> http_pairs(unsigned n) {
    std::vector<PairQuery> q;
    for (unsigned i = 0; i < n; ++i) {
        const unsigned a = i, b = 5000 + (i * 13 + i / 10) % 3000;
        q.push_back({EntityId{a}, EntityId{b}, fmt::format("e{}", a), fmt::format("e{}", b)});
    }
    return q;
}
std::filesystem::path http_store_path(const char* what) {
    const auto p = std::filesystem::temp_directory_path() / fmt::format("kerec_bench_http_{}_{}.log", what, ::getpid());
    std::filesystem::remove(p);
    return p;
}
struct HttpRun {
    JudgeRunReport rep;
    JudgeStats stats;
    std::size_t answered = 0;    // pairs in the reopened store
    std::uint64_t superseded = 0;
};
// The HTTP judge seen as a plain (non-streaming) Judge: the store calls it per batch and each
// call returns when its slowest reply has arrived.
struct BatchesOnly {
    OpenAICompatibleJudge& inner;
    std::string model() const { return inner.model(); }
    std::string prompt_version() const { return inner.prompt_version(); }
    const JudgeStats& stats() const { return inner.stats(); }
    std::vector<Judgment> judge(std::span<const PairQuery> q) { return inner.judge(q); }
};
// batch == 0: the streaming judge, one call over every pair (the sliding window); otherwise the
// store's batches of `batch`.
HttpRun judge_through_store(const OpenAIJudgeOptions& o, const std::vector<PairQuery>& q, std::size_t batch, const char* what) {
    const auto path = http_store_path(what);
    HttpRun r;
    OpenAICompatibleJudge judge(o);
    {
        JudgmentStore store(path);
        if (batch == 0) {
            r.rep = store.judge(judge, q);
        } else {
            BatchesOnly b{judge};
            JudgeRunOptions ro;
            ro.batch_size = batch;
            r.rep = store.judge(b, q, ro);
        }
    }
    r.stats = judge.stats();
    JudgmentStore reopened(path);
    for (const auto& x : q) r.answered += reopened.contains(x.pair(), o.model, judge.prompt_version());
    r.superseded = reopened.superseded();
    std::filesystem::remove(path);
    return r;
}
OpenAIJudgeOptions loopback_judge(const std::string& url, std::size_t in_flight) {
    OpenAIJudgeOptions o;
    o.endpoint = url;
    o.model = "loopback-model";
    o.api_key_env.clear();
    o.concurrency = in_flight;
    return o;
}
}  // namespace

TEST_CASE("HTTP judge: 16 in flight, 5% of replies slowed to 3 s (Little's law)") {
    // A new request starts the moment one finishes, so throughput should reach the bound Little's
    // law gives: in flight / mean reply latency as the server measured it. The peer is the same
    // run through the store's batches of 64 (each batch waits for its slowest reply).
    test::LoopbackOptions so;
    so.faults = false;
    so.delay = std::chrono::milliseconds(10);
    so.slow_every = 20;
    so.slow_delay = std::chrono::milliseconds(3000);
    double window_rate = 0, little = 0, batch_rate = 0;
    {
        test::LoopbackLlmServer server(so);
        const auto q = http_pairs(3000);
        const HttpRun r = judge_through_store(loopback_judge(server.url(), 16), q, 0, "window");
        window_rate = static_cast<double>(r.rep.stored) / r.rep.seconds;
        const double mean = server.mean_reply_seconds();
        little = 16.0 / mean;
        bench::emit("llm.http.mean_reply_s", mean, "s (server-side, 5% of replies 3 s, others 10 ms)");
        bench::emit("llm.http.pairs_asked", static_cast<double>(r.rep.asked), "pairs");
        bench::emit("llm.http.calls", static_cast<double>(r.stats.calls), "HTTP requests");
        bench::emit("llm.http.max_in_flight", static_cast<double>(r.stats.max_in_flight), "requests (configured 16)");
        CHECK(r.answered == q.size());
    }
    {
        test::LoopbackLlmServer server(so);
        const auto q = http_pairs(640);
        const HttpRun r = judge_through_store(loopback_judge(server.url(), 16), q, 64, "batches");
        batch_rate = static_cast<double>(r.rep.stored) / r.rep.seconds;
        CHECK(r.answered == q.size());
    }
    bench::emit("llm.http.judgments_per_s", window_rate,
                "judgments/s (16 in flight, 5% of replies 3 s; ratio > 1: the window beats batches)", "store batches of 64",
                window_rate / batch_rate);
    bench::emit("llm.http.judgments_per_s_batches_of_64", batch_rate, "judgments/s (the same, judge() per batch of 64)");
    bench::emit("llm.http.little_bound", little, "judgments/s (16 / mean server-side reply latency)");
    bench::emit("llm.http.little_ratio", window_rate / little, "throughput / Little's-law bound (goal >= 0.8)");
    CHECK(window_rate / little >= 0.8);
}

TEST_CASE("HTTP judge under injected faults (loopback server)") {
    // Every fault kind of the loopback server (429, 500 twice, a request never answered, malformed
    // body, unparseable prose once or always), 2,000 pairs, 16 requests in flight.
    test::LoopbackOptions so;
    so.delay = std::chrono::milliseconds(5);
    so.honour_structured = false;
    test::LoopbackLlmServer server(so);
    auto o = loopback_judge(server.url(), 16);
    o.timeout = std::chrono::milliseconds(1000);
    o.backoff_initial = std::chrono::milliseconds(10);
    o.backoff_max = std::chrono::milliseconds(200);
    const auto q = http_pairs(2000);
    const HttpRun r = judge_through_store(o, q, 0, "faults");
    const auto& st = r.stats;
    bench::emit("llm.http.faults.lost", static_cast<double>(q.size() - r.answered), "judgments (of 2000, injected faults)");
    bench::emit("llm.http.faults.duplicated", static_cast<double>(r.rep.duplicate_answers + r.superseded), "judgments");
    bench::emit("llm.http.faults.judgments_per_s", static_cast<double>(r.rep.stored) / st.seconds,
                "judgments/s (16 in flight, 5 ms replies, 1 s timeout for the unanswered 10%)");
    bench::emit("llm.http.faults.calls", static_cast<double>(st.calls), "HTTP requests for 2000 pairs");
    bench::emit("llm.http.injected.rate_limited", static_cast<double>(st.rate_limited), "HTTP 429 retried");
    bench::emit("llm.http.injected.timeouts", static_cast<double>(st.timeouts), "timeouts retried");
    bench::emit("llm.http.injected.malformed", static_cast<double>(st.malformed_replies), "malformed bodies retried");
    bench::emit("llm.http.http_errors", static_cast<double>(st.http_errors), "transport retries in total");
    bench::emit("llm.http.reasked", static_cast<double>(st.retries), "unparseable answers re-asked");
    bench::emit("llm.http.unknown", static_cast<double>(st.unknown), "unparseable twice (stored as unknown)");
    CHECK(r.answered == q.size());
}

TEST_CASE("HTTP judge across a 60 s server outage") {
    // The server goes down while handling its 1,000th request (listener and connections closed)
    // and comes back on the same port 60 s later; the judge runs with its default retry policy.
    test::LoopbackOptions so;
    so.faults = false;
    so.delay = std::chrono::milliseconds(10);
    so.outage_at_request = 1000;
    so.outage_for = std::chrono::seconds(60);
    test::LoopbackLlmServer server(so);
    const auto q = http_pairs(3000);
    const HttpRun r = judge_through_store(loopback_judge(server.url(), 16), q, 0, "outage");
    const auto& st = r.stats;
    bench::emit("llm.http.lost", static_cast<double>(q.size() - r.answered), "judgments (of 3000, across a 60 s outage)");
    bench::emit("llm.http.duplicated", static_cast<double>(r.rep.duplicate_answers + r.superseded), "judgments");
    bench::emit("llm.http.outage.seconds", r.rep.seconds, "s to judge 3000 pairs with a 60 s outage");
    bench::emit("llm.http.outage.calls", static_cast<double>(st.calls), "HTTP requests (3000 pairs)");
    bench::emit("llm.http.outage.connection_failures", static_cast<double>(st.connection_failures), "refused/reset");
    bench::emit("llm.http.outage.circuit_opens", static_cast<double>(st.circuit_opens), "pauses");
    CHECK(server.outages.load() == 1);
    CHECK(r.answered == q.size());
}
#endif

// ---------------------------------------------------------------------------------------------
// Judgment store: recovery from damage (its own block; the llm.http part above is separate).
// store.bitflip.records_lost: over every bit position of a 200-record judgment log, the records
// lost other than the one the flipped bit hit (must be 0). store.scan.*: reopening cost of a
// clean log and of one with every 100th record damaged (the resynchronising scan).
// ---------------------------------------------------------------------------------------------
#include <kerec/core/record_log.hpp>
#include <kerec/llm/judgment_store.hpp>

namespace {
std::string bench_judgment_log(std::uint32_t n, std::vector<std::size_t>* starts = nullptr) {
    static const char* const reasons[] = {"often bought together", "confidence 87%.", "used when cooking the other",
                                          "两者常一起购买", ""};
    std::string log = RecordLog::file_header(), frame;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (starts) starts->push_back(log.size());
        RecordLog::encode_frame(JudgmentStore::encode(Judgment{.a = EntityId{i},
                                                               .b = EntityId{(i * 7919u) % 5000u},
                                                               .label = i % 3 ? Label::yes : Label::no,
                                                               .confidence = 0.5f + static_cast<float>(i % 50) / 100.0f,
                                                               .rationale = reasons[i % 5],
                                                               .model = "gpt-4o-mini",
                                                               .prompt_version = "kerec-complement-v1",
                                                               .time = 1700000000 + i}),
                                RecordLog::version, frame);
        log += frame;
    }
    if (starts) starts->push_back(log.size());
    return log;
}
}  // namespace

TEST_CASE("judgment store: recovery after damage") {
    std::vector<std::size_t> starts;
    const std::string good = bench_judgment_log(200, &starts);
    std::uint64_t positions = 0, lost_other = 0, kept_total = 0;
    std::string bytes = good;
    std::uint64_t kept = 0;
    const RecordLog::Visitor count = [&](std::string_view payload, std::uint64_t offset) {
        (void)JudgmentStore::decode(payload, "bench", offset);  // every kept record is a valid judgment
        ++kept;
    };
    for (std::size_t byte = 0; byte < good.size(); ++byte) {
        const bool header = byte < RecordLog::header_bytes;
        for (int bit = 0; bit < 8; ++bit) {
            bytes[byte] = static_cast<char>(good[byte] ^ (1 << bit));
            kept = 0;
            (void)RecordLog::scan_buffer(bytes, "bench", count);
            const std::uint64_t expect = header ? 200 : 199;
            lost_other += kept < expect ? expect - kept : 0;
            kept_total += kept;
            ++positions;
        }
        bytes[byte] = good[byte];
    }
    bench::emit("store.bitflip.records_lost", static_cast<double>(lost_other),
                "records lost besides the one hit, over every bit of a 200-record log (must be 0)");
    bench::emit("store.bitflip.positions", static_cast<double>(positions), "bit positions flipped");
    bench::emit("store.bitflip.records_kept_per_flip", static_cast<double>(kept_total) / static_cast<double>(positions),
                "records (of 200)");

    starts.clear();
    const std::string clean = bench_judgment_log(100000, &starts);
    std::string damaged = clean;
    for (std::size_t k = 0; k + 1 < starts.size(); k += 100) damaged[starts[k] + RecordLog::frame_bytes + 3] ^= 0x20;
    std::uint64_t records = 0;
    BENCHMARK("scan a clean 100k-record judgment log") {
        records = RecordLog::scan_buffer(clean, "clean", {}).records;
        return records;
    };
    std::uint64_t damaged_records = 0;
    BENCHMARK("scan it with every 100th record damaged") {
        damaged_records = RecordLog::scan_buffer(damaged, "damaged", {}).records;
        return damaged_records;
    };
    const double mb = static_cast<double>(clean.size()) / 1e6;
    bench::emit("store.scan.clean_mb_per_s", mb / bench::median_seconds("scan a clean 100k-record judgment log"),
                "MB/s (open-time scan, one core)");
    bench::emit("store.scan.damaged_mb_per_s", mb / bench::median_seconds("scan it with every 100th record damaged"),
                "MB/s (1% of records damaged, resynchronising)");
    CHECK(lost_other == 0);
    CHECK(records == 100000);
    CHECK(damaged_records == 99000);
}
