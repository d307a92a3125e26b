// LLM-KERec end to end on the synthetic marketplace, against the baselines a practitioner runs
// first and against itself with one part taken out at a time:
//
//   item titles -> entities (dictionary + CRF) -> segmented pairs at a budget -> simulated LLM judge
//   (crash-safe JudgmentStore) -> complementary graph -> edge weights from exposure/click feedback
//   -> entity embeddings (first order + second order, contrastive) -> U2E2I recall -> E-E-I in two
//   stages -> U2E2I merged with the existing recall channels -> results table -> explained users.
//
// Time windows of the log: feedback [0, t1), E-E-I stage 1 [t1, t2), stage 2 and the channel shares
// [t2, t3), test [t3, end). Items listed from t3 on are "new" (no history at all).
//
//   marketplace [--size tiny|small|medium|large] [--seed N] [--budget PAIRS|SHARE]
//               [--store DIR] [--judge sim|http] [--latency-us US] [--users N] [--json]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/auc.hpp>
#include <kerec/core/progress.hpp>
#include <kerec/core/user_history.hpp>
#include <kerec/eei/integration.hpp>
#include <kerec/embed/sequences.hpp>
#include <kerec/embed/trainer.hpp>
#include <kerec/entity/dictionary.hpp>
#include <kerec/entity/item_entities.hpp>
#include <kerec/entity/linker.hpp>
#include <kerec/eval/association_rules.hpp>
#include <kerec/eval/baskets.hpp>
#include <kerec/eval/item_cf.hpp>
#include <kerec/eval/next_item.hpp>
#include <kerec/eval/popularity_recommender.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/sampler.hpp>
#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/simulated_judge.hpp>
#include <kerec/pairs/popularity.hpp>
#include <kerec/pairs/segmented_generator.hpp>
#include <kerec/recall/channel_merge.hpp>
#include <kerec/recall/item_prior.hpp>
#include <kerec/recall/u2e2i.hpp>
#include <kerec/sim/score.hpp>
#include <kerec/sim/world.hpp>
#if defined(KEREC_WITH_HTTP)
#include <kerec/llm/openai_judge.hpp>
#endif

#include "cli.hpp"
#include "figures.hpp"

using namespace kerec;

namespace {

struct Options {
    std::string size = "medium";
    std::uint64_t seed = 42;
    double budget = 0;  // 0: 20 pairs per entity; <= 1: share of all ordered pairs; > 1: pairs
    std::filesystem::path store = "kerec-demo-store";
    std::string judge = "sim";
    int latency_us = 20;  // simulated LLM latency per call
    std::size_t users = 3;
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    examples::Args args(argc, argv, "usage: marketplace [--size tiny|small|medium|large] [--seed N] [--budget PAIRS|SHARE]\n"
                      "                   [--store DIR] [--judge sim|http] [--latency-us US] [--users N] [--json]");
    for (std::string a; args.next(a);) {
        if (a == "--size") o.size = args.value();
        else if (a == "--seed") o.seed = args.number();
        else if (a == "--budget") o.budget = args.real();
        else if (a == "--store") o.store = args.value();
        else if (a == "--judge") o.judge = args.value();
        else if (a == "--latency-us") o.latency_us = static_cast<int>(args.number());
        else if (a == "--users") o.users = args.number();
        else if (a == "--json") o.json = true;
        else args.unknown();
    }
    if (!(o.budget >= 0)) throw InvalidArgument(fmt::format("--budget {} (expected > 0)", o.budget));
    if (o.judge != "sim" && o.judge != "http") throw InvalidArgument(fmt::format("--judge {} (expected sim or http)", o.judge));
    return o;
}

/// Wall time per stage.
struct StageClock {
    std::vector<std::pair<std::string, double>> stages;
    std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
    void lap(std::string name) {
        const auto now = std::chrono::steady_clock::now();
        stages.emplace_back(std::move(name), std::chrono::duration<double>(now - last).count());
        last = now;
    }
    double total() const {
        double s = 0;
        for (const auto& st : stages) s += st.second;
        return s;
    }
};

/// One figure: its JSON name, value and unit, and (when label is set) its line in the report.
struct Figure {
    std::string name;
    double value;
    std::string unit, label, text;
};

/// One row of the results table.
struct Row {
    std::string name, what;
    double recall = NAN, recall_new = NAN, auc = NAN;
};

double recall_of(auto& recommender, const UserHistory& history, std::span<const NextItemQuery> q, std::size_t k, std::size_t items) {
    if (q.empty()) return NAN;
    const auto ev = evaluate_next_items(recommender, history, q, k, items);
    double sum = 0;
    for (double r : ev.recall()) sum += r;
    return sum / static_cast<double>(q.size());
}

double auc_or_nan(std::span<const float> scores, std::span<const float> labels) {
    const auto pos = std::count(labels.begin(), labels.end(), 1.0f);
    return pos > 0 && pos < static_cast<std::ptrdiff_t>(labels.size()) ? auc(scores, labels) : NAN;
}

/// The time windows of the log (file comment).
struct Windows {
    std::int64_t t1, t2, t3;
    std::span<const Event> train, feedback, stage1, stage2, test;
    Windows(const sim::World& w) : t1(w.split_time(0.40)), t2(w.split_time(0.60)), t3(w.split_time(0.75)) {
        auto between = [&](std::int64_t a, std::int64_t b) { return w.events_before(b).subspan(w.events_before(a).size()); };
        train = w.events_before(t3), feedback = w.events_before(t1), stage1 = between(t1, t2), stage2 = between(t2, t3);
        test = w.events_from(t3);
    }
};

/// 1. Entity extraction: a dictionary of the known surface forms, a CRF trained on its silver
///    labels for the forms it lacks, linking to unified entities; each item's primary entity is its
///    title's head. Item priors (which items an entity recommends first) from training bills; new
///    items get their entity's new-item prior. Returns the map and the share linked right.
std::pair<ItemEntityMap, double> extract_entities(const sim::World& world, const Windows& win, std::uint64_t seed, TerminalProgressBar& bar) {
    const auto known_forms = world.dictionary();
    auto dictionary = std::make_shared<DictionaryExtractor>(DictionaryExtractor::build(known_forms));
    std::vector<std::string_view> titles;
    for (const auto& item : world.items()) titles.push_back(item.title);
    CrfOptions crf_options;
    crf_options.seed = seed;
    auto tagger = std::make_shared<CrfTagger>(crf_options, dictionary);
    tagger->train(silver_examples(*dictionary, std::span(titles).first(std::min<std::size_t>(titles.size(), 20000))), bar.callback());
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(known_forms);
    EntityPipeline extractor(dictionary, tagger, linker);
    ItemEntityMap map = item_entities(extractor, titles, world.entities().size(), linker.get());
    auto prior = popularity_priors(win.train, map);
    for (ItemId i : world.items_arriving_from(win.t3))
        if (const EntityId e = map.primary_or_none(i); e.valid()) prior[i.index()] = new_item_prior(map, e);
    map.set_priors(prior);
    std::size_t right = 0;
    for (std::uint32_t i = 0; i < titles.size(); ++i) right += map.primary_or_none(ItemId(i)) == world.items()[i].entity;
    bar.close();
    return {std::move(map), static_cast<double>(right) / static_cast<double>(titles.size())};
}

/// 2. Segmented pairs within the budget (popularity segments from training bills).
std::vector<EntityPair> segmented_pairs(const Windows& win, const ItemEntityMap& map, double budget) {
    PopularityOptions popularity_options;
    popularity_options.rate_window = 86400.0;  // bills per day since the entity first sold: fair to late arrivals
    SegmentedPairOptions pair_options;
    pair_options.ordered = true;
    if (budget == 0) pair_options.budget = 20 * map.entity_count();
    else if (budget <= 1) pair_options.budget_share = budget;
    else pair_options.budget = static_cast<std::uint64_t>(budget);
    const SegmentedPairGenerator generator(Popularity::from_events(win.train, map, popularity_options), pair_options);
    std::vector<EntityPair> pairs;
    for (EntityPair p : generator.pairs()) pairs.push_back(p);
    return pairs;
}

/// 3-4. The LLM judges each pair once; every answer is appended to the store as it arrives, so a
///      rerun (or a run after a crash) asks only what is not in the store yet. The complementary
///      graph: the latest "yes" of each pair is an edge, prior weight = the LLM's confidence; the
///      graph carries the rationales.
struct Judged {
    FeedbackGraph graph;
    JudgeRunReport report;
    RecordLogRecovery recovery;
};
Judged judge_pairs(const Options& opt, const sim::World& world, std::span<const EntityPair> pairs, TerminalProgressBar& bar) {
    std::filesystem::create_directories(opt.store);
    JudgmentStore store(opt.store / fmt::format("judgments-{}-seed{}.log", opt.size, opt.seed));
    Judged out{{}, {}, store.recovery()};
    SimulatedJudgeOptions judge_options;
    judge_options.seed = opt.seed;
    judge_options.malformed_rate = 0.02;
    judge_options.latency = std::chrono::microseconds(opt.latency_us);
    auto sim_judge = SimulatedJudge::from_world(world, judge_options);
    const auto queries = make_queries(pairs, world.entities());
    JudgeRunOptions run_options;
    run_options.progress = bar.callback();
    std::string model = sim_judge.model(), prompt_version = sim_judge.prompt_version();
#if defined(KEREC_WITH_HTTP)
    if (opt.judge == "http") {
        OpenAICompatibleJudge http(OpenAIJudgeOptions::from_env());  // KEREC_LLM_URL, KEREC_LLM_MODEL, key from env
        model = http.model(), prompt_version = http.prompt_version();
        out.report = store.judge(http, queries, run_options);
    } else
#endif
    {
        if (opt.judge == "http") throw InvalidArgument("--judge http needs a build with KEREC_WITH_HTTP=ON");
        out.report = store.judge(sim_judge, queries, run_options);
    }
    bar.close();
    GraphBuildOptions graph_options;
    graph_options.node_count = world.entities().size();
    out.graph = build_graph<EdgeFeedback>(store.latest(model, prompt_version), graph_options);
    return out;
}

/// 5. Edge weights from feedback: during the feedback window each purchase shows up to 4
///    complements drawn by LLM confidence (exploration), the users' clicks come back, and with the
///    historic exposure log they update a Beta posterior around the LLM's confidence per edge.
FeedbackGraph learn_weights(const sim::World& world, const Windows& win, const FeedbackGraph& prior_graph, const ItemEntityMap& map,
                            std::uint64_t seed, TerminalProgressBar& bar) {
    const NeighborSampler<FeedbackGraph> explore_graph(prior_graph);
    Rng explore(derive_seed(seed, 9));
    const auto online = world.simulate_exposures(
        win.feedback,
        [&](ItemId bought, std::vector<ItemId>& shown) {
            const EntityId e = map.primary_or_none(bought);
            for (int draw = 0; draw < 8 && shown.size() < 4 && e.valid(); ++draw)
                if (const auto c = explore_graph.sample_target(e, explore); c && !map.items(*c).empty()) {
                    const ItemId item = map.items(*c)[0].first;  // the entity's best item
                    if (std::find(shown.begin(), shown.end(), item) == shown.end()) shown.push_back(item);
                }
        },
        derive_seed(seed, 10));
    std::vector<Event> feedback(win.feedback.begin(), win.feedback.end());
    feedback.insert(feedback.end(), online.begin(), online.end());
    std::stable_sort(feedback.begin(), feedback.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
    FeedbackOptions feedback_options;
    feedback_options.estimate_position_bias = true;
    auto learned = FeedbackLearner(feedback_options).learn(prior_graph, feedback, map, bar.callback()).graph;
    bar.close();
    return learned;
}

/// 6-7. One variant of the complementary half: embeddings (SGNS on training sessions, second order
///      from the graph, InfoNCE between them; lambda = 0 drops the contrastive term), E-E-I samples
///      on the variant's graph, stage 1 on [t1, t2), stage 2 on [t2, t3) with the base ranker.
struct Variant {
    std::shared_ptr<GraphStore<FeedbackGraph>> store;
    EntityModel<float> embeddings;
    TwoStageEEI<float> eei;
    std::vector<EEISample> stage1, stage2, test;
};
struct VariantInputs {
    const Windows& win;
    const ItemEntityMap& map;
    const EntitySequences& sequences;
    const ItemFeatures& features;
    const ItemSegments& segments;
    LogisticBaseRanker& base;
    std::uint64_t seed;
    TerminalProgressBar& bar;
};
Variant make_variant(const VariantInputs& in, const FeedbackGraph& graph, double lambda, bool fit_base) {
    Variant v{std::make_shared<GraphStore<FeedbackGraph>>(graph), {}, {}, {}, {}, {}};
    EmbedOptions eo;
    eo.sgns.dim = 32, eo.sgns.seed = in.seed, eo.epochs = 6, eo.lambda = lambda, eo.final_view = FinalView::concat;
    v.embeddings = fit<float>(in.sequences, graph, eo, FitCallbacks{in.bar.callback(), {}});
    v.stage1 = build_eei_samples(in.win.stage1, in.map, graph, &in.features);
    v.stage2 = build_eei_samples(in.win.stage2, in.map, graph, &in.features);
    v.test = build_eei_samples(in.win.test, in.map, graph, &in.features);
    if (fit_base) {
        std::vector<Candidate> c;
        std::vector<float> y;
        for (const auto& s : v.stage1) c.push_back(candidate_of(s)), y.push_back(s.label);
        in.base.fit(c, y);
    }
    for (auto* s : {&v.stage1, &v.stage2, &v.test}) fill_base_logits(std::span<EEISample>(*s), in.base);
    EEIConfig ec;
    ec.hidden = {64, 32}, ec.seed = in.seed, ec.max_epochs = 20;
    v.eei = fit_two_stage(v.embeddings.final, in.features.dim(), v.stage1, v.stage2, in.segments, ec, 0.15, in.bar.callback());
    in.bar.close();
    return v;
}

/// AUC of base + E-E-I (the integration stage) on a variant's held-out exposures.
double integrated_auc(const Variant& v, const ItemSegments& segments) {
    std::vector<float> eei(v.test.size()), z(v.test.size()), labels(v.test.size());
    v.eei.model.score(v.embeddings.final, v.test, eei);
    for (std::size_t i = 0; i < z.size(); ++i)
        z[i] = v.eei.integration.logit(v.test[i].base_logit, eei[i], segments.of(v.test[i].item)), labels[i] = v.test[i].label;
    return auc_or_nan(z, labels);
}

/// 8. The existing recall channels (popularity and item-CF over training shopping days) and the
///    complementary one (U2E2I by path score), merged by quota.
struct Channels {
    Baskets baskets;
    PopularityRecommender pop;
    ItemCF itemcf;
    AssociationRules rules;
    using Merger = ChannelMerger<PopularityRecommender, ItemCF, U2E2IRecall<FeedbackGraph>>;
    Channels(std::span<const Event> train, std::size_t items)
        : baskets(Baskets::from_events(train, BasketKey::user_day, items)), pop(baskets), itemcf(baskets),
          rules(baskets, AprioriOptions{.min_support = 0.0002, .min_confidence = 0.1, .min_length = 2, .max_length = 3}) {}
    /// Popularity at share 1, item-CF and U2E2I at `share` = (item-CF, U2E2I).
    Merger merged(U2E2IRecall<FeedbackGraph>& complementary, std::pair<double, double> share) {
        return Merger({1.0, share.first, share.second}, pop, itemcf, complementary);
    }
};

/// The shares and U2E2I's recency half-life (1 or 7 days: how fast a purchase stops triggering its
/// complements) with the best Recall@K on `queries` (next purchases in [t2, t3)).
std::pair<U2E2IOptions, std::pair<double, double>> choose_recall(Channels& ch, const GraphStore<FeedbackGraph>& store, const ItemEntityMap& map,
                                                                 const UserHistory& history, std::span<const NextItemQuery> queries, std::size_t k) {
    std::pair<U2E2IOptions, std::pair<double, double>> best{{}, {0.0, 0.0}};
    double best_recall = -1;
    for (double half_life : {1.0, 7.0}) {
        U2E2IOptions o;
        o.recency_half_life = half_life * 86400;
        U2E2IRecall<FeedbackGraph> candidate(store, map, o);
        for (double cf : {0.0, 0.1, 0.25})
            for (double c : {0.05, 0.1, 0.25, 0.5}) {
                auto m = ch.merged(candidate, {cf, c});
                if (const double r = recall_of(m, history, queries, k, map.item_count()); r > best_recall) best_recall = r, best = {o, {cf, c}};
            }
    }
    return best;
}

/// 10. The knowledge graph's figures against the hidden truth (JSON name, value, unit, report line).
std::vector<Figure> graph_figures(const sim::World& world, std::span<const EntityPair> pairs, const JudgeRunReport& run,
                                  const FeedbackGraph& learned, double linked_right) {
    std::vector<EntityPair> edges;
    std::vector<double> llm_weight, learned_weight;
    for (auto [a, b, w, payload] : kerec::edges(learned)) edges.push_back({a, b}), learned_weight.push_back(w), llm_weight.push_back(payload.prior);
    const std::size_t ne = world.entities().size();
    const std::uint64_t all_pairs = static_cast<std::uint64_t>(ne) * (ne - 1);
    const double coverage = sim::traffic_coverage(world, pairs, true);
    const auto graph_pr = sim::edge_precision_recall(world, edges);
    const double rho_llm = sim::strength_spearman(world, edges, llm_weight), rho_learned = sim::strength_spearman(world, edges, learned_weight);
    const double pct_asked = 100.0 * static_cast<double>(pairs.size()) / static_cast<double>(all_pairs);
    return {
        {"demo.kg.items_linked_right", linked_right, "share of items", "items linked to their true entity", fmt::format("{:.1f}%", 100.0 * linked_right)},
        {"demo.kg.all_pairs", static_cast<double>(all_pairs), "pairs", "", ""},
        {"demo.kg.pairs", static_cast<double>(pairs.size()), "pairs", "entity pairs asked of the LLM (of all ordered pairs)", fmt::format("{} ({:.2f}%)", pairs.size(), pct_asked)},
        {"demo.kg.coverage", coverage, "share of complementary traffic", "complementary traffic those pairs cover", fmt::format("{:.1f}%", 100.0 * coverage)},
        {"demo.kg.llm_calls", static_cast<double>(run.asked), "pairs asked this run", "pairs asked this run / answered from the store", fmt::format("{} / {}", run.asked, run.cached)},
        {"demo.kg.cached_judgments", static_cast<double>(run.cached), "judgments", "", ""},
        {"demo.kg.rerun_judge_calls", run.cached == pairs.size() ? static_cast<double>(run.asked) : -1.0, "calls (-1: this run was not a rerun)", "", ""},
        {"demo.kg.graph_edges", static_cast<double>(learned.edge_count()), "edges", "graph edges (latest answer yes)", fmt::format("{}", learned.edge_count())},
        {"demo.kg.graph_precision", graph_pr.precision(), "precision", "precision / recall vs the hidden complements", fmt::format("{:.3f} / {:.3f}", graph_pr.precision(), graph_pr.recall())},
        {"demo.kg.graph_recall", graph_pr.recall(), "recall", "", ""},
        {"demo.kg.spearman_llm_only", rho_llm, "rho", "Spearman(weight, hidden strength): LLM / learned", fmt::format("{:.3f} / {:.3f}", rho_llm, rho_learned)},
        {"demo.kg.spearman_learned", rho_learned, "rho", "", ""},
    };
}

/// 11. A user's recent bills, then the pipeline's list with each item's path and rationale.
void show_user(const sim::World& world, UserId u, std::span<const HistoryItem> recent, std::span<const Recommendation> out) {
    fmt::print("\nuser {}: recent bills\n", u);
    for (const auto& b : recent) fmt::print("    day {:>2}  {:<44} [{}]\n", b.time / 86400, world.item(b.item).title, world.entities().name(world.item(b.item).entity));
    fmt::print("  recommended next, top {}:\n", out.size());
    std::string existing_items;
    for (std::size_t k = 0; k < out.size(); ++k) {
        const auto& r = out[k];
        if (!r.why.trigger.valid()) {
            existing_items += fmt::format("{}{} ({})", existing_items.empty() ? "" : "; ", world.item(r.item).title, k + 1);
            continue;
        }
        const float truth = world.strength(r.why.trigger, r.why.complement);
        fmt::print("    {:>2}. {}\n        because of {} -> {}: learned weight {:.3f}, LLM confidence {:.2f}, {} [{}]\n", k + 1,
                   world.item(r.item).title, world.entities().name(r.why.trigger), world.entities().name(r.why.complement), r.why.edge_weight,
                   r.why.llm_confidence, r.why.rationale.empty() ? std::string("(no rationale)") : fmt::format("\"{}\"", r.why.rationale),
                   truth > 0 ? fmt::format("true complement, s = {:.2f}", truth) : std::string("not a complement"));
    }
    fmt::print("    from the existing channels (popularity, item-CF): {}\n", existing_items);
}

}  // namespace

int main(int argc, char** argv) try {
    const Options opt = parse(argc, argv);
    TerminalProgressBar bar;
    StageClock clock;
    const std::size_t K = 50;

    // 0. The world: titles, a behaviour log and the hidden truth the results are scored against.
    const auto world = sim::World::generate(sim::Config::preset(opt.size, opt.seed), bar.callback());
    const std::size_t ne = world.entities().size(), ni = world.items().size();
    const Windows win(world);
    clock.lap("generate world");

    // 1-5. The knowledge graph: entities, segmented pairs, the LLM's judgments, feedback weights.
    const auto extracted = extract_entities(world, win, opt.seed, bar);
    const ItemEntityMap& map = extracted.first;
    const double linked_right = extracted.second;
    clock.lap("extract entities");
    const auto pairs = segmented_pairs(win, map, opt.budget);
    clock.lap("popularity + pairs");
    const Judged judged = judge_pairs(opt, world, pairs, bar);
    clock.lap("LLM judging + graph");
    const FeedbackGraph learned = learn_weights(world, win, judged.graph, map, opt.seed, bar);
    clock.lap("learn edge weights");

    // 6-7. Embeddings and E-E-I for the full method and two ablations. Item features: log bills
    //      and "never sold"; the base ranker is fitted once, on the full variant's stage-1 samples.
    SequenceOptions sequence_options;
    sequence_options.end_at_bill = true;
    const auto sequences = build_sequences(win.train, map, sequence_options);
    std::vector<float> bills(ni, 0.0f);
    for (const Event& e : win.train) bills[e.item.index()] += e.kind == EventKind::bill ? 1.0f : 0.0f;
    ItemFeatures features(ni, 2);
    for (std::uint32_t i = 0; i < ni; ++i) features.row(ItemId(i))[0] = std::log1p(bills[i]), features.row(ItemId(i))[1] = bills[i] > 0 ? 0.0f : 1.0f;
    const auto segments = ItemSegments::cold_warm(bills);
    const UserHistory history(world.events(), world.users().size());
    LogisticBaseRanker base(bills, history, map);
    const VariantInputs inputs{win, map, sequences, features, segments, base, opt.seed, bar};
    // λ = 1 rather than the library's default (0.15): at 0.15 this demo's AUC was lower on two
    // seeds of three (docs/embed.md, "Choosing λ").
    const Variant full = make_variant(inputs, learned, 1.0, true);
    const Variant no_contrastive = make_variant(inputs, learned, 0.0, false);
    const Variant no_feedback = make_variant(inputs, judged.graph, 1.0, false);
    clock.lap("embeddings + E-E-I (3 variants)");

    // 8. Recall: the channel shares and U2E2I's half-life are chosen on next purchases in [t2, t3);
    //    the test queries are next purchases from t3 on, all and those of new items.
    Channels ch(win.train, ni);
    NextItemOptions qo{.from = win.t2, .to = win.t3};
    const auto valid_queries = subsample(next_item_queries(history, qo), 2000, derive_seed(opt.seed, 11));
    qo.from = win.t3, qo.to = std::numeric_limits<std::int64_t>::max();
    const auto test_all = next_item_queries(history, qo);
    std::vector<NextItemQuery> fresh;
    for (const auto& q : test_all)
        if (world.item(q.target).arrival_time >= win.t3) fresh.push_back(q);
    const auto all = subsample(test_all, 4000, derive_seed(opt.seed, 12));
    fresh = subsample(fresh, 2000, derive_seed(opt.seed, 13));
    const auto chosen = choose_recall(ch, *full.store, map, history, valid_queries, K);
    const U2E2IOptions& recall_options = chosen.first;
    const std::pair<double, double> share = chosen.second;
    U2E2IRecall<FeedbackGraph> u2e2i(*full.store, map, recall_options);  // rationales from the graph's table
    U2E2IRecall<FeedbackGraph> u2e2i_no_feedback(*no_feedback.store, map, recall_options);
    clock.lap("choose the channel shares");

    // 9. Results on the test window: Recall@50 of next purchases (all, new items) for the recall
    //    stage; AUC of the held-out complementary exposures (clicked or not) for the ranking stage,
    //    each method by its own score of the shown item.
    std::vector<float> y;
    for (const auto& s : full.test) y.push_back(s.label);
    auto auc_of = [&](auto&& f) {
        std::vector<float> z;
        for (const auto& s : full.test) z.push_back(static_cast<float>(f(s)));
        return auc_or_nan(z, y);
    };
    std::vector<Recommendation> tmp;
    auto rule_score = [&](const EEISample& s) {  // confidence of the best rule firing for the shown item, else 0
        ch.rules.recommend(RecommendRequest{s.user, history.recent(s.user, s.time, 20), s.time, 200, {}}, tmp);
        for (const auto& r : tmp)
            if (r.item == s.item) return static_cast<double>(r.score);
        return 0.0;
    };
    auto cf_score = [&](const EEISample& s) {
        double z = 0;
        for (const auto& h : history.recent(s.user, s.time, 20)) z += ch.itemcf.similarity(h.item, s.item);
        return z;
    };
    std::vector<Row> rows;
    auto add_row = [&](std::string name, std::string what, auto& rec, double auc_value) {
        rows.push_back({std::move(name), std::move(what), recall_of(rec, history, all, K, ni), recall_of(rec, history, fresh, K, ni), auc_value});
    };
    const double pipeline_auc = integrated_auc(full, segments), base_auc = auc_of([](const EEISample& s) { return s.base_logit; });
    auto pipeline = ch.merged(u2e2i, share);
    add_row("pipeline", "LLM-KERec: U2E2I merged with the existing channels; base ranker + E-E-I", pipeline, pipeline_auc);
    add_row("popularity", "most billed items", ch.pop, auc_of([&](const EEISample& s) { return ch.pop.score(s.item); }));
    add_row("itemcf", "item-CF, cosine over shopping days", ch.itemcf, auc_of(cf_score));
    add_row("assoc_rules", fmt::format("association rules ({} rules)", ch.rules.rule_count()), ch.rules, auc_of(rule_score));
    rows.push_back({"base_ranker", "the existing ranker alone (ranking only)", NAN, NAN, base_auc});
    add_row("u2e2i_only", "the complementary channel alone", u2e2i, pipeline_auc);
    auto existing = ch.merged(u2e2i, {share.first, 0.0});
    add_row("no_u2e2i", "existing channels only (ranking unchanged)", existing, pipeline_auc);
    add_row("no_eei", "base ranker alone (recall unchanged)", pipeline, base_auc);
    add_row("no_contrastive", "embeddings without the InfoNCE term (recall unchanged)", pipeline, integrated_auc(no_contrastive, segments));
    auto no_feedback_merged = ch.merged(u2e2i_no_feedback, share);
    add_row("no_feedback", "graph weights = LLM confidence", no_feedback_merged, integrated_auc(no_feedback, segments));
    // A new-item quota: 10% of the list for U2E2I's items without a sale in training (cold start).
    auto unsold = [&](ItemId i) { return bills[i.index()] == 0.0f; };
    FilteredChannel<U2E2IRecall<FeedbackGraph>, decltype(unsold)> u2e2i_unsold(u2e2i, unsold, 1000);
    ChannelMerger<PopularityRecommender, ItemCF, U2E2IRecall<FeedbackGraph>, decltype(u2e2i_unsold)> with_quota(
        {1.0, share.first, share.second, (1.0 + share.first + share.second) / 9.0}, ch.pop, ch.itemcf, u2e2i, u2e2i_unsold);
    add_row("pipeline_new_quota", "pipeline + 10% of the list for unsold items (U2E2I)", with_quota, pipeline_auc);
    std::vector<std::pair<double, double>> curve;  // U2E2I share -> test recall (item-CF share as chosen)
    for (double c : {0.0, 0.05, 0.1, 0.25, 0.5, 1.0}) {
        auto m = ch.merged(u2e2i, {share.first, c});
        curve.emplace_back(c, recall_of(m, history, all, K, ni));
    }
    clock.lap("evaluate");

    // 10. The figures (the knowledge graph's, then the recommender's), printed as JSON lines
    //     (--json) or as the report's first block, then the table.
    std::vector<Figure> figures = graph_figures(world, pairs, judged.report, learned, linked_right);
    figures.insert(figures.end(), {
        {"demo.eei.samples_stage1", static_cast<double>(full.stage1.size()), "samples", "E-E-I samples: stage 1 / stage 2 / test", fmt::format("{} / {} / {}", full.stage1.size(), full.stage2.size(), full.test.size())},
        {"demo.eei.stage1_valid_auc", full.eei.stage1.best_valid_auc, "AUC", "E-E-I stage-1 validation AUC", fmt::format("{:.4f}", full.eei.stage1.best_valid_auc)},
        {"demo.merge_share.itemcf", share.first, "item-CF share chosen on [t2, t3) (popularity 1)", "channel shares popularity : item-CF : U2E2I", fmt::format("1 : {} : {}", share.first, share.second)},
        {"demo.merge_share.u2e2i", share.second, "U2E2I share chosen on [t2, t3) (popularity 1)", "", ""},
        {"demo.u2e2i.recency_half_life_days", recall_options.recency_half_life / 86400, "days, chosen on [t2, t3)", "U2E2I recency half-life", fmt::format("{:.0f} d", recall_options.recency_half_life / 86400)},
    });
    if (opt.json) {
        using examples::emit;
        for (const Figure& f : figures) emit(f.name, f.value, f.unit);
        for (const Row& r : rows) {
            if (!std::isnan(r.recall)) emit(fmt::format("demo.{}.recall_at_50", r.name), r.recall, "recall@50, next purchases");
            if (!std::isnan(r.recall_new)) emit(fmt::format("demo.{}.recall_at_50_new", r.name), r.recall_new, "recall@50, next purchases of new items");
            emit(fmt::format("demo.{}.auc", r.name), r.auc, "AUC, held-out complementary exposures");
        }
        for (const auto& [c, r] : curve) emit(fmt::format("demo.merge_curve.{}.recall_at_50", c), r, "recall@50 (test) at this U2E2I share");
        emit("demo.total_s", clock.total(), "s");
        return 0;
    }

    fmt::print("LLM-KERec on the '{}' marketplace (seed {}): {} entities, {} items ({} new after day {}), {} events\n\n", opt.size, opt.seed, ne,
               ni, world.items_arriving_from(win.t3).size(), win.t3 / 86400, world.events().size());
    if (const auto& rec = judged.recovery; !rec.clean())
        fmt::print("  the store was damaged: {} records kept, {} bytes quarantined, {} torn bytes cut\n", rec.records, rec.quarantined_bytes, rec.torn_bytes);
    for (const Figure& f : figures)
        if (!f.label.empty()) fmt::print("    {:<52} {:>14}\n", f.label, f.text);
    fmt::print("\n  {:<18} {:>11} {:>11} {:>8}  {}\n", "method", "recall@50", "new items", "AUC", "");
    auto cell = [](double v, int w) { return std::isnan(v) ? fmt::format("{:>{}}", "-", w) : fmt::format("{:>{}.4f}", v, w); };
    for (const Row& r : rows) fmt::print("  {:<18} {} {} {}  {}\n", r.name, cell(r.recall, 11), cell(r.recall_new, 11), cell(r.auc, 8), r.what);
    fmt::print("  ({} next purchases, {} of new items, after day {}; AUC on {} held-out complementary exposures)\n", all.size(), fresh.size(),
               win.t3 / 86400, full.test.size());
    fmt::print("\n  wall time per stage\n");
    for (const auto& [name, s] : clock.stages) fmt::print("    {:<44} {:>8.2f} s\n", name, s);
    fmt::print("    {:<44} {:>8.2f} s\n", "total", clock.total());

    // 11. Three users whose list holds a complementary recommendation, with its explanation.
    std::vector<Recommendation> out;
    for (std::uint32_t u = 0, shown = 0; u < history.user_count() && shown < opt.users; ++u) {
        const auto recent = history.recent(UserId(u), win.t3, 4);
        if (recent.size() < 3) continue;
        pipeline.recommend(RecommendRequest{UserId(u), recent, win.t3, 10, {}}, out);
        if (std::none_of(out.begin(), out.end(), [](const Recommendation& r) { return r.why.trigger.valid(); })) continue;
        ++shown;
        show_user(world, UserId(u), recent, out);
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "marketplace: %s\n", e.what());
    return 1;
}
