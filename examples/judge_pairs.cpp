// Vocabulary -> popularity -> segmented pairs -> LLM judge -> crash-safe judgment store.
//
//   judge_pairs [--judge sim|replay|http] [--size tiny|small|medium|large] [--budget N]
//               [--store FILE] [--items FILE --baskets FILE --replay FILE] [--seed N] [--json]
//
// sim:    entities of a synthetic marketplace, judged by an imperfect simulated LLM that knows
//         the hidden complementary graph (precision/recall against the truth are printed).
// replay: the groceries data set: --items items.txt, --baskets baskets.csv (popularity),
//         --replay llm_judgments.tsv (the answers).
// http:   the sim's entity names judged by a real OpenAI-compatible endpoint; the default when
//         KEREC_LLM_URL is set (KEREC_LLM_MODEL, KEREC_LLM_KEY_ENV configure it further).
// --budget N names the pair set: the N pairs of highest expected traffic, the same set on every
// run. Pairs the store already holds for this model and prompt are skipped, so a second run with
// the same --store and --budget asks nothing, and a run killed half way resumes where it stopped;
// a larger budget asks only the pairs it adds. Printed: pairs asked, and model (HTTP) calls made.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/io.hpp>
#include <kerec/core/progress.hpp>
#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/replay_judge.hpp>
#include <kerec/llm/simulated_judge.hpp>
#include <kerec/pairs/popularity.hpp>
#include <kerec/pairs/segmented_generator.hpp>
#include <kerec/sim/world.hpp>
#ifdef KEREC_WITH_HTTP
#include <kerec/llm/openai_judge.hpp>
#endif

#include "cli.hpp"

using namespace kerec;

namespace {

struct Options {
    std::string judge;  // empty = http when KEREC_LLM_URL is set, else sim
    std::string size = "small";
    std::uint64_t budget = 0;
    std::string store = "judge_pairs.log";
    std::string items, baskets, replay;
    std::uint64_t seed = 42;
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    examples::Args args(argc, argv, "usage: judge_pairs [--judge sim|replay|http] [--size tiny|small|medium|large] [--budget N]\n"
                      "                   [--store FILE] [--items FILE --baskets FILE --replay FILE] [--seed N] [--json]");
    for (std::string a; args.next(a);) {
        if (a == "--judge") o.judge = args.value();
        else if (a == "--size") o.size = args.value();
        else if (a == "--budget") o.budget = args.number();
        else if (a == "--store") o.store = args.value();
        else if (a == "--items") o.items = args.value();
        else if (a == "--baskets") o.baskets = args.value();
        else if (a == "--replay") o.replay = args.value();
        else if (a == "--seed") o.seed = args.number();
        else if (a == "--json") o.json = true;
        else args.unknown();
    }
    if (o.judge.empty()) o.judge = std::getenv("KEREC_LLM_URL") ? "http" : "sim";
    if (o.judge != "sim" && o.judge != "replay" && o.judge != "http")
        throw InvalidArgument(fmt::format("--judge {} (expected sim, replay or http)", o.judge));
    if (o.judge == "replay" && (o.items.empty() || o.replay.empty()))
        throw InvalidArgument("--judge replay needs --items and --replay (and optionally --baskets)");
    return o;
}

// Groceries: names from items.txt, popularity = how many baskets hold each item.
Popularity groceries(const Options& o, Vocabulary<EntityId>& names) {
    LineReader items(o.items);
    std::string_view line;
    while (items.next(line))
        if (auto t = detail::trim(line); !t.empty()) names.add(t);
    std::vector<double> counts(names.size(), 0.0);
    if (!o.baskets.empty()) {
        LineReader baskets(o.baskets);
        std::vector<std::string_view> f;
        while (baskets.next(line)) {
            split(line, ',', f);
            for (auto x : f)
                if (auto id = names.find(detail::trim(x))) counts[id->index()] += 1.0;
        }
    }
    return Popularity(std::move(counts));
}

template <class J>
int run(J& judge, const Vocabulary<EntityId>& names, const Popularity& pop, const Options& o, const sim::World* world,
        JudgeStats (*stats)(const J&)) {
    JudgmentStore store(o.store);
    if (!store.recovery().clean())
        fmt::print(stderr, "store {}: {} intact records kept, {} damaged bytes quarantined in {}, {} torn bytes cut ({})\n",
                   o.store, store.recovery().records, store.recovery().quarantined_bytes,
                   store.recovery().quarantine.string(), store.recovery().torn_bytes, store.recovery().problem);
    // The budget names the pair set (the same pairs on every run); the store skips what it holds.
    SegmentedPairOptions po;
    po.budget = o.budget;
    const SegmentedPairGenerator gen(pop, po);
    const std::uint64_t all = gen.all_pairs_count();
    std::uint64_t held = 0;
    for (const EntityPair& p : gen.pairs()) held += store.contains(p, judge.model(), judge.prompt_version());
    fmt::print(stderr, "{} entities, {} possible pairs; segments:", names.size(), all);
    for (const auto& s : gen.segments()) fmt::print(stderr, " {} [{}, {})", s.name, s.begin, s.end);
    fmt::print(stderr, "\n{} pairs in the set, {} of them already in the store\n", gen.count(), held);

    TerminalProgressBar bar;
    JudgeRunOptions ro;
    ro.progress = bar.callback();
    const auto t0 = std::chrono::steady_clock::now();
    // One call: lazy pairs -> named queries -> judge -> store (cached pairs skipped, every
    // answer appended the moment it arrives).
    const JudgeRunReport total = judge_pairs(store, judge, gen.pairs(), names, ro, gen.count());
    bar.close();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const JudgeStats st = stats(judge);
    auto ull = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    std::printf("judged %llu pairs (pairs asked) in %.2f s: %llu yes, %llu no, %llu unknown; %llu cached, %llu lost\n",
                ull(total.asked), secs, ull(total.yes), ull(total.no), ull(total.unknown), ull(total.cached), ull(total.lost));
    std::printf("model calls %llu (%.0f/s; re-asks %llu, parse failures %llu, transport retries %llu, outages %llu), "
                "tokens %llu prompt + %llu completion\n",
                ull(total.calls), secs > 0 ? static_cast<double>(total.calls) / secs : 0.0, ull(st.retries), ull(st.parse_failures),
                ull(st.http_errors), ull(st.circuit_opens), ull(st.prompt_tokens), ull(st.completion_tokens));
    const double saved = all > 0 ? 1.0 - static_cast<double>(gen.count()) / static_cast<double>(all) : 0.0;
    std::printf("segmentation asks about %llu of %llu possible pairs: %.1f%% of the calls saved\n", ull(gen.count()), ull(all),
                100.0 * saved);
    std::printf("store %s holds %zu judgments\n", o.store.c_str(), store.size());

    double covered = 0, precision = 0;
    if (world) {
        // Against the hidden truth: traffic-weighted coverage of the generated pairs and the
        // judge's precision on what it said yes to (either direction counts for an unordered pair).
        for (const auto& e : world->complement_edges())
            if (gen.contains({e.from, e.to}) || store.contains(EntityPair{e.from, e.to}.canonical(), judge.model(), judge.prompt_version()))
                covered += e.traffic;
        std::uint64_t yes = 0, right = 0;
        for (const auto& j : store.all()) {
            if (j.model != judge.model() || j.label != Label::yes) continue;
            ++yes;
            right += world->strength(j.a, j.b) > 0 || world->strength(j.b, j.a) > 0;
        }
        precision = yes ? static_cast<double>(right) / static_cast<double>(yes) : 0.0;
        std::printf("hidden complements: %.1f%% of purchase traffic covered by judged pairs; judge precision %.3f\n",
                    100.0 * covered, precision);
    }
    if (o.json) {
        std::printf("{\"name\": \"judge_pairs.pairs_asked\", \"value\": %llu, \"unit\": \"pairs\"}\n", ull(total.asked));
        std::printf("{\"name\": \"judge_pairs.calls\", \"value\": %llu, \"unit\": \"model calls\"}\n",
                    ull(total.calls));
        std::printf("{\"name\": \"judge_pairs.calls_saved\", \"value\": %.6g, \"unit\": \"fraction of all pairs\"}\n", saved);
        std::printf("{\"name\": \"judge_pairs.tokens\", \"value\": %llu, \"unit\": \"tokens\"}\n",
                    static_cast<unsigned long long>(st.prompt_tokens + st.completion_tokens));
        if (world) std::printf("{\"name\": \"judge_pairs.traffic_coverage\", \"value\": %.6g, \"unit\": \"fraction\"}\n", covered);
    }
    return total.lost == 0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parse(argc, argv);
        if (o.judge == "replay") {
            Vocabulary<EntityId> names;
            const Popularity pop = groceries(o, names);
            auto judge = ReplayJudge::load(o.replay);
            return run(judge, names, pop, o, nullptr, +[](const ReplayJudge& j) { return j.stats(); });
        }
        const auto world = sim::World::generate(sim::Config::preset(o.size, o.seed));
        std::vector<EntityId> item_entity;
        for (const auto& it : world.items()) item_entity.push_back(it.entity);
        const auto pop = Popularity::from_events(world.events(), ItemEntityMap::from_primary(item_entity, world.entities().size()));
        if (o.judge == "http") {
#ifdef KEREC_WITH_HTTP
            OpenAICompatibleJudge judge(OpenAIJudgeOptions::from_env());
            return run(judge, world.entities(), pop, o, &world, +[](const OpenAICompatibleJudge& j) { return j.stats(); });
#else
            std::fputs("judge_pairs: built without KEREC_WITH_HTTP; use --judge sim or replay\n", stderr);
            return 2;
#endif
        }
        SimulatedJudgeOptions so;
        so.symmetric = true;  // pairs are unordered: either direction of a hidden edge is a yes
        so.seed = o.seed;
        so.malformed_rate = 0.02;
        auto judge = SimulatedJudge::from_world(world, so);
        return run(judge, world.entities(), pop, o, &world, +[](const SimulatedJudge& j) { return j.stats(); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "judge_pairs: %s\n", e.what());
        return 1;
    }
}
