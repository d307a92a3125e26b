// The knowledge-graph half of LLM-KERec, end to end, on the synthetic marketplace:
//
//   item titles -> entity extraction (dictionary + CRF) -> entity popularity from bills
//   -> segmented pairs at a budget -> simulated LLM judge through a crash-safe JudgmentStore
//   -> complementary graph -> edge weights learned from the exposure/click log -> report.
//
//   marketplace [--size tiny|small|medium|large] [--seed N] [--budget PAIRS|SHARE]
//               [--store DIR] [--judge sim|http] [--latency-us US] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/progress.hpp>
#include <kerec/entity/dictionary.hpp>
#include <kerec/entity/evaluate.hpp>
#include <kerec/entity/linker.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/simulated_judge.hpp>
#include <kerec/pairs/popularity.hpp>
#include <kerec/pairs/segmented_generator.hpp>
#include <kerec/sim/score.hpp>
#include <kerec/sim/world.hpp>
#if defined(KEREC_WITH_HTTP)
#include <kerec/llm/openai_judge.hpp>
#endif

#include "cli.hpp"

using namespace kerec;

namespace {

struct Options {
    std::string size = "small";
    std::uint64_t seed = 42;
    double budget = 0.10;  // <= 1: share of all ordered pairs; > 1: number of pairs
    std::filesystem::path store = "kerec-demo-store";
    std::string judge = "sim";
    int latency_us = 50;  // simulated LLM latency per call
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    examples::Args args(argc, argv, "usage: marketplace [--size tiny|small|medium|large] [--seed N] [--budget PAIRS|SHARE]\n"
                      "                   [--store DIR] [--judge sim|http] [--latency-us US] [--json]");
    for (std::string a; args.next(a);) {
        if (a == "--size") o.size = args.value();
        else if (a == "--seed") o.seed = args.number();
        else if (a == "--budget") o.budget = args.real();
        else if (a == "--store") o.store = args.value();
        else if (a == "--judge") o.judge = args.value();
        else if (a == "--latency-us") o.latency_us = static_cast<int>(args.number());
        else if (a == "--json") o.json = true;
        else args.unknown();
    }
    if (!(o.budget > 0)) throw InvalidArgument(fmt::format("--budget {} (expected > 0)", o.budget));
    if (o.judge != "sim" && o.judge != "http") throw InvalidArgument(fmt::format("--judge {} (expected sim or http)", o.judge));
    return o;
}

class StageClock {
public:
    double lap() {
        const auto now = std::chrono::steady_clock::now();
        const double s = std::chrono::duration<double>(now - last_).count();
        last_ = now;
        return s;
    }

private:
    std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

int main(int argc, char** argv) try {
    const Options opt = parse(argc, argv);
    TerminalProgressBar bar;
    StageClock clock;
    std::vector<std::pair<std::string, double>> times;

    // 0. The world: titles, behaviour log and the hidden truth we score against.
    const auto world = sim::World::generate(sim::Config::preset(opt.size, opt.seed), bar.callback());
    times.emplace_back("generate world", clock.lap());

    // 1. Entity extraction: a dictionary from the known surface forms, a CRF trained on its silver
    //    labels for the forms it lacks, linking to unified entities.
    const auto known_forms = world.dictionary();  // (surface form, entity) pairs a catalogue team maintains
    auto dictionary = std::make_shared<DictionaryExtractor>(DictionaryExtractor::build(known_forms));
    std::vector<std::string_view> titles;
    for (const auto& item : world.items()) titles.push_back(item.title);
    CrfOptions crf_options;
    crf_options.seed = opt.seed;
    auto tagger = std::make_shared<CrfTagger>(crf_options, dictionary);
    tagger->train(silver_examples(*dictionary, titles), bar.callback());
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(known_forms);
    EntityPipeline extractor(dictionary, tagger, linker);  // dictionary spans first, then CRF spans

    std::vector<EntityId> item_entity(world.items().size());  // the extracted entity of each item
    PrecisionRecall span_in_dict, span_held_out;
    CandidateDiscovery discovery;
    std::vector<Mention> mentions;
    for (std::size_t i = 0; i < world.items().size(); ++i) {
        const auto& item = world.items()[i];
        mentions.clear();
        extractor.extract(item.title, mentions, &discovery);
        for (const Mention& m : mentions)
            if (m.entity.valid()) {
                item_entity[i] = m.entity;
                break;
            }
        const std::pair<std::uint32_t, std::uint32_t> gold{item.span_begin, item.span_end};
        score_spans(mentions, {&gold, 1}, world.surface_forms()[item.form].in_dictionary ? span_in_dict : span_held_out);
    }
    std::size_t linked = 0, linked_right = 0;
    for (std::size_t i = 0; i < item_entity.size(); ++i) {
        linked += item_entity[i].valid();
        linked_right += item_entity[i] == world.items()[i].entity;
    }
    bar.close();
    times.emplace_back("extract entities", clock.lap());

    // 2. Entity popularity from bills, and 3. segmented pairs within the budget.
    PopularityOptions popularity_options;
    popularity_options.rate_window = 86400.0;  // bills per day since the entity first sold: fair to late arrivals
    const ItemEntityMap item_map = ItemEntityMap::from_primary(item_entity, world.entities().size());
    const auto popularity = Popularity::from_events(world.events(), item_map, popularity_options);
    SegmentedPairOptions pair_options;
    pair_options.ordered = true;
    // Every segment pair may be asked; the budget keeps the pairs of highest expected traffic.
    pair_options.partners.assign(3, std::vector<std::uint32_t>(3, all_partners));
    const std::uint64_t all_pairs = static_cast<std::uint64_t>(world.entities().size()) * (world.entities().size() - 1);
    pair_options.budget = opt.budget <= 1.0 ? static_cast<std::uint64_t>(opt.budget * static_cast<double>(all_pairs))
                                            : static_cast<std::uint64_t>(opt.budget);
    const SegmentedPairGenerator generator(popularity, pair_options);
    std::vector<EntityPair> pairs;
    pairs.reserve(generator.count());
    for (EntityPair p : generator.pairs()) pairs.push_back(p);
    times.emplace_back("popularity + pairs", clock.lap());

    // 4. The LLM judges each pair once; every answer is appended to the store as it arrives.
    std::filesystem::create_directories(opt.store);
    // Entity ids are those of this world, so each world (size, seed) has its own log.
    const auto store_path = opt.store / fmt::format("judgments-{}-seed{}.log", opt.size, opt.seed);
    JudgmentStore store(store_path);
    const RecordLogRecovery recovery = store.recovery();
    SimulatedJudgeOptions judge_options;
    judge_options.seed = opt.seed;
    judge_options.malformed_rate = 0.02;
    judge_options.latency = std::chrono::microseconds(opt.latency_us);
    auto judge = SimulatedJudge::from_world(world, judge_options);
    const auto queries = make_queries(pairs, world.entities());
    JudgeRunOptions run_options;
    run_options.progress = bar.callback();
    JudgeRunReport judged;
    std::string model = judge.model(), prompt_version = judge.prompt_version();
#if defined(KEREC_WITH_HTTP)
    if (opt.judge == "http") {
        OpenAICompatibleJudge http(OpenAIJudgeOptions::from_env());  // KEREC_LLM_URL, KEREC_LLM_MODEL, key from env
        model = http.model(), prompt_version = http.prompt_version();
        judged = store.judge(http, queries, run_options);
    } else
#endif
    {
        if (opt.judge == "http") throw InvalidArgument("--judge http needs a build with KEREC_WITH_HTTP=ON");
        judged = store.judge(judge, queries, run_options);
    }
    bar.close();
    times.emplace_back("LLM judging", clock.lap());

    // 5. The complementary graph from the judgments (prior weight = LLM confidence in "yes").
    std::vector<Judgment> judgments;
    judgments.reserve(pairs.size());
    for (EntityPair p : pairs)
        if (const Judgment* j = store.find(p, model, prompt_version)) judgments.push_back(*j);
    GraphBuildOptions graph_options;
    graph_options.node_count = world.entities().size();
    GraphBuilder<EntityId, EdgeFeedback> builder(graph_options);
    builder.add(judgments);
    const FeedbackGraph prior_graph = builder.build();
    times.emplace_back("build graph", clock.lap());

    // 6. Edge weights learned from feedback. The graph's complements are shown after purchases, in
    //    random order (exploration, so every edge is tried), users' clicks come back, and with the
    //    historic exposure/click log they update a Beta posterior around the LLM's confidence.
    std::vector<ItemId> showcase(world.entities().size());  // the best-selling item of each entity
    {
        std::vector<std::uint32_t> sold(world.items().size(), 0), best(world.entities().size(), 0);
        for (const Event& ev : world.events()) sold[ev.item.index()] += ev.kind == EventKind::bill;
        for (std::uint32_t i = 0; i < item_entity.size(); ++i)
            if (const EntityId e = item_entity[i]; e.valid() && (!showcase[e.index()].valid() || sold[i] > best[e.index()]))
                showcase[e.index()] = ItemId{i}, best[e.index()] = sold[i];
    }
    Rng explore(derive_seed(opt.seed, 9));
    std::vector<std::size_t> order;
    const auto online = world.simulate_exposures(
        world.events(),
        [&](ItemId bought, std::vector<ItemId>& shown) {
            const auto row = prior_graph.neighbors(item_entity[bought.index()]);
            order.resize(row.size());
            for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
            explore.shuffle(order);
            for (std::size_t k = 0; k < order.size() && shown.size() < 4; ++k)
                if (const ItemId item = showcase[row.targets[order[k]].index()]; item.valid()) shown.push_back(item);
        },
        derive_seed(opt.seed, 10));
    std::vector<Event> feedback(world.events().begin(), world.events().end());
    feedback.insert(feedback.end(), online.begin(), online.end());
    std::stable_sort(feedback.begin(), feedback.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
    FeedbackOptions feedback_options;
    feedback_options.estimate_position_bias = true;
    const auto learned = FeedbackLearner(feedback_options).learn(prior_graph, feedback, item_map, bar.callback());
    bar.close();
    times.emplace_back("learn edge weights", clock.lap());

    // 7. Report, scored against the hidden truth.
    std::vector<EntityPair> edges;
    std::vector<double> llm_weight, learned_weight;
    const auto& g = learned.graph;
    for (std::uint32_t a = 0; a < g.node_count(); ++a) {
        const auto row = g.neighbors(EntityId{a});
        for (std::size_t k = 0; k < row.size(); ++k) {
            edges.push_back(EntityPair{EntityId{a}, row.targets[k]});
            learned_weight.push_back(row.weights[k]);
            llm_weight.push_back(row.payload[k].prior);
        }
    }
    const double coverage = sim::traffic_coverage(world, pairs, true);
    const auto graph_pr = sim::edge_precision_recall(world, edges);
    const double rho_llm = sim::strength_spearman(world, edges, llm_weight);
    const double rho_learned = sim::strength_spearman(world, edges, learned_weight);
    double total_s = 0;
    for (auto& [name, s] : times) total_s += s;

    if (opt.json) {
        auto fig = [](std::string_view name, double v, std::string_view unit) {
            fmt::print("{{\"name\": \"{}\", \"value\": {:.6g}, \"unit\": \"{}\"}}\n", name, v, unit);
        };
        fig("demo.kg.extract_f1_in_dict", span_in_dict.f1(), "F1");
        fig("demo.kg.extract_f1_held_out", span_held_out.f1(), "F1");
        fig("demo.kg.llm_calls", static_cast<double>(judged.asked), "calls");
        fig("demo.kg.cached_judgments", static_cast<double>(judged.cached), "judgments");
        fig("demo.kg.all_pairs", static_cast<double>(all_pairs), "pairs");
        fig("demo.kg.pairs", static_cast<double>(pairs.size()), "pairs");
        fig("demo.kg.coverage", coverage, "share of complementary traffic");
        fig("demo.kg.graph_precision", graph_pr.precision(), "precision");
        fig("demo.kg.graph_recall", graph_pr.recall(), "recall");
        fig("demo.kg.spearman_llm_only", rho_llm, "rho");
        fig("demo.kg.spearman_learned", rho_learned, "rho");
        fig("demo.kg.rerun_judge_calls", judged.cached == pairs.size() ? static_cast<double>(judged.asked) : -1.0,
            "calls (-1: this run was not a rerun)");
        fig("demo.kg.total_s", total_s, "s");
        return 0;
    }

    fmt::print("LLM-KERec knowledge graph on the '{}' marketplace (seed {})\n", opt.size, opt.seed);
    fmt::print("{} entities, {} items, {} events; store {}\n\n", world.entities().size(), world.items().size(),
               world.events().size(), store_path.string());
    fmt::print("  {:<46} {:>14} {:>14}\n", "", "in dictionary", "held out");
    fmt::print("  {:<46} {:>14.3f} {:>14.3f}\n", "extraction span F1 (dictionary + CRF)", span_in_dict.f1(), span_held_out.f1());
    fmt::print("  {:<46} {:>14}\n", "items linked to an entity (correct entity)",
               fmt::format("{} ({:.1f}%)", linked, 100.0 * static_cast<double>(linked_right) / static_cast<double>(item_entity.size())));
    fmt::print("  {:<46} {:>14}\n", "candidate new entities (unlinked, seen >= 3x)", discovery.candidates(3).size());
    fmt::print("\n  {:<46} {:>14}\n", "all ordered entity pairs", all_pairs);
    fmt::print("  {:<46} {:>14}\n", "pairs generated (segmented, budgeted)", pairs.size());
    fmt::print("  {:<46} {:>13.1f}%\n", "LLM calls saved versus all pairs",
               100.0 * (1.0 - static_cast<double>(pairs.size()) / static_cast<double>(all_pairs)));
    fmt::print("  {:<46} {:>13.1f}%\n", "complementary traffic covered by the pairs", 100.0 * coverage);
    fmt::print("  {:<46} {:>14}\n", "judge calls this run", judged.asked);
    fmt::print("  {:<46} {:>14}\n", "answered from the store (not asked again)", judged.cached);
    if (!recovery.clean()) {
        fmt::print("  {:<46} {:>14}\n", "store damaged: intact records kept", recovery.records);
        fmt::print("  {:<46} {:>14}\n", "  damaged bytes moved to the quarantine file", recovery.quarantined_bytes);
        fmt::print("  {:<46} {:>14}\n", "  torn bytes cut at the end", recovery.torn_bytes);
    }
    if (judged.asked == 0 && judged.cached > 0) fmt::print("  -> rerun: every pair was answered from the store, 0 judge calls\n");
    fmt::print("\n  {:<46} {:>14}\n", "graph edges (LLM said yes)", g.edge_count());
    fmt::print("  {:<46} {:>14.3f}\n", "graph precision vs hidden complements", graph_pr.precision());
    fmt::print("  {:<46} {:>14.3f}\n", "graph recall vs hidden complements", graph_pr.recall());
    fmt::print("  {:<46} {:>14.3f}\n", "Spearman(weight, hidden strength): LLM only", rho_llm);
    fmt::print("  {:<46} {:>14.3f}\n", "Spearman(weight, hidden strength): learned", rho_learned);
    fmt::print("  {:<46} {:>14}\n", "complements shown after purchases (exploration)", online.size());
    fmt::print("  {:<46} {:>14}\n", "exposures attributed to graph edges", learned.stats.attributed_exposures);
    fmt::print("\n  wall time per stage\n");
    for (auto& [name, s] : times) fmt::print("    {:<44} {:>12.2f} s\n", name, s);
    fmt::print("    {:<44} {:>12.2f} s\n", "total", total_s);

    // Five of the 50 most popular entities, those with the strongest learned complement, and their
    // top complements; the last column checks each against the hidden truth.
    std::vector<EntityId> showcase_entities;
    for (EntityId e : popularity.by_rank()) {
        if (g.degree(e) > 0) showcase_entities.push_back(e);
        if (showcase_entities.size() == 50) break;
    }
    std::stable_sort(showcase_entities.begin(), showcase_entities.end(),
                     [&](EntityId a, EntityId b) { return g.neighbors(a).weights[0] > g.neighbors(b).weights[0]; });
    showcase_entities.resize(std::min<std::size_t>(5, showcase_entities.size()));
    fmt::print("\n  top complements: learned weight, LLM confidence, rationale, and whether the hidden graph agrees\n");
    for (EntityId e : showcase_entities) {
        fmt::print("  {}\n", world.entities().name(e));
        const auto row = g.top_k(e, 3);
        for (std::size_t k = 0; k < row.size(); ++k) {
            const Judgment* j = store.find(EntityPair{e, row.targets[k]}, model, prompt_version);
            std::string_view why = j ? std::string_view(j->rationale) : std::string_view();
            while (!why.empty() && (why.front() == ' ' || why.front() == ',' || why.front() == '.')) why.remove_prefix(1);
            fmt::print("    -> {:<30} {:6.3f} {:5.2f}  {:<28.28} {}\n", world.entities().name(row.targets[k]), row.weights[k],
                       row.payload[k].prior, why, world.strength(e, row.targets[k]) > 0 ? "true" : "false positive");
        }
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "marketplace: %s\n", e.what());
    return 1;
}
