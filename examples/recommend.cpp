// The recommendation half of LLM-KERec on the synthetic marketplace, end to end:
//
//   LLM judgments -> complementary graph -> edge weights learned from feedback (window 1)
//   -> U2E2I recall (user -> entity -> complementary entity -> item)
//   -> E-E-I model, stage 1 on complementary exposures (window 2)
//   -> stage 2: integrated with a logistic base ranker on held-out exposures (window 3)
//   -> evaluated on the last window: AUC of the base ranker alone vs integrated (all items and
//      items listed after training), recall@50 of U2E2I vs item-CF and popularity
//   -> explained recommendations for three users, marked against the hidden truth.
//
//   recommend [--size tiny|small|medium|large] [--seed N] [--users N] [--json]
//
// Entity embeddings: the embedding stage's fit() (SGNS h1 on the training sessions, h2 from the
// learned graph, InfoNCE alignment), final representation [ĥ1, h2]/√2.
// The baselines are the evaluation component's item-CF (co-purchases within a shopping day) and
// popularity recommenders, trained on the same bills; all four exclude the context items.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/auc.hpp>
#include <kerec/core/progress.hpp>
#include <kerec/core/user_history.hpp>
#include <kerec/eei/integration.hpp>
#include <kerec/eei/model.hpp>
#include <kerec/eei/samples.hpp>
#include <kerec/embed/sequences.hpp>
#include <kerec/embed/trainer.hpp>
#include <kerec/eval/baskets.hpp>
#include <kerec/eval/item_cf.hpp>
#include <kerec/eval/popularity_recommender.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/store.hpp>
#include <kerec/llm/simulated_judge.hpp>
#include <kerec/recall/item_prior.hpp>
#include <kerec/recall/u2e2i.hpp>
#include <kerec/sim/world.hpp>

#include "cli.hpp"

using namespace kerec;

namespace {

struct Options {
    std::string size = "small";
    std::uint64_t seed = 42;
    std::size_t users = 3;
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    examples::Args args(argc, argv, "usage: recommend [--size tiny|small|medium|large] [--seed N] [--users N] [--json]");
    for (std::string a; args.next(a);) {
        if (a == "--size") o.size = args.value();
        else if (a == "--seed") o.seed = args.number();
        else if (a == "--users") o.users = args.number();
        else if (a == "--json") o.json = true;
        else args.unknown();
    }
    return o;
}

struct RecallAt {
    std::size_t hits = 0, n = 0;
    double value() const { return n ? static_cast<double>(hits) / static_cast<double>(n) : 0.0; }
};

}  // namespace

int main(int argc, char** argv) try {
    const Options opt = parse(argc, argv);
    TerminalProgressBar bar;
    const auto clock0 = std::chrono::steady_clock::now();
    const auto world = sim::World::generate(sim::Config::preset(opt.size, opt.seed), bar.callback());
    const std::size_t ne = world.entity_info().size(), ni = world.items().size();
    const auto log = world.events();
    const std::int64_t H = world.config().days * 86400;
    const std::int64_t t1 = H * 40 / 100, t2 = H * 60 / 100, t3 = H * 75 / 100;  // window ends; test = [t3, H)
    auto window = [&](std::int64_t a, std::int64_t b) {
        const auto lo = std::lower_bound(log.begin(), log.end(), a, [](const Event& e, std::int64_t t) { return e.time < t; });
        const auto hi = std::lower_bound(log.begin(), log.end(), b, [](const Event& e, std::int64_t t) { return e.time < t; });
        return log.subspan(static_cast<std::size_t>(lo - log.begin()), static_cast<std::size_t>(hi - lo));
    };
    const auto w1 = window(0, t1), w2 = window(t1, t2), w3 = window(t2, t3), test = window(t3, H + 1), train = window(0, t3);

    // 1. The knowledge graph: an imperfect LLM judges every hidden complement and 4x as many
    //    random pairs; its "yes" answers are the edges; weights learned from window-1 feedback.
    std::vector<PairQuery> queries;
    for (const auto& e : world.complement_edges()) queries.push_back({e.from, e.to, {}, {}});
    Rng prng(derive_seed(opt.seed, 1));
    for (std::size_t k = 0, m = 4 * queries.size(); k < m; ++k) {
        const EntityId a(static_cast<std::uint32_t>(prng.uniform_int(ne))), b(static_cast<std::uint32_t>(prng.uniform_int(ne)));
        if (a != b) queries.push_back({a, b, {}, {}});
    }
    for (auto& q : queries) q.name_a = world.entities().name(q.a), q.name_b = world.entities().name(q.b);
    SimulatedJudgeOptions jo;
    jo.seed = opt.seed;
    jo.false_positive_rate = 0.03;
    auto judge = SimulatedJudge::from_world(world, jo);
    const auto judgments = judge.judge(queries);
    GraphBuildOptions gb;
    gb.node_count = ne;
    const FeedbackGraph prior_graph = build_graph<EdgeFeedback>(judgments, gb);
    ItemEntityMap map = world.item_entity_map();
    FeedbackOptions fo;
    fo.estimate_position_bias = true;
    GraphStore<FeedbackGraph> store(prior_graph);
    FeedbackLearner(fo).learn_and_publish(store, w1, map, bar.callback());
    const auto graph = store.current();

    // 2. Item ↔ entity map with popularity priors from the training windows; items listed after
    //    training join with the documented new-item prior.
    std::vector<float> bills(ni, 0.0f);
    for (const Event& e : train)
        if (e.kind == EventKind::bill) bills[e.item.index()] += 1.0f;
    auto prior = popularity_priors(train, map);
    std::size_t new_items = 0;
    for (std::uint32_t i = 0; i < ni; ++i)
        if (world.items()[i].arrival_time >= t3) prior[i] = new_item_prior(map, map.primary(ItemId(i))), ++new_items;
    map.set_priors(prior);
    auto is_new = [&](ItemId i) { return world.item(i).arrival_time >= t3; };

    // 3. Item features, embeddings, samples.
    ItemFeatures feats(ni, 2);
    for (std::uint32_t i = 0; i < ni; ++i) {
        feats.row(ItemId(i))[0] = std::log1p(bills[i]);
        feats.row(ItemId(i))[1] = bills[i] > 0 ? 0.0f : 1.0f;
    }
    SequenceOptions so;
    so.end_at_bill = std::any_of(train.begin(), train.end(), [](const Event& e) { return e.kind == EventKind::view; });
    const auto sequences = build_sequences(train, map, so);
    EmbedOptions eo;
    eo.sgns.dim = 32;
    eo.sgns.seed = opt.seed;
    eo.epochs = 6;
    eo.final_view = FinalView::concat;
    const auto entity_model = fit<float>(sequences, *graph, eo, FitCallbacks{bar.callback(), {}});
    bar.close();
    const EntityEmbeddings<float>& h = entity_model.final;
    auto s1 = build_eei_samples(w2, map, *graph, &feats);
    auto s2 = build_eei_samples(w3, map, *graph, &feats);
    auto st = build_eei_samples(test, map, *graph, &feats);

    // 4. The caller's existing ranker: logistic regression on popularity, history, position.
    const UserHistory history(log, world.users().size());
    LogisticBaseRanker base(bills, history, map);
    {
        std::vector<Candidate> c;
        std::vector<float> y;
        for (const auto& s : s1) c.push_back(candidate_of(s)), y.push_back(s.label);
        base.fit(c, y);
    }
    fill_base_logits(std::span<EEISample>(s1), base);
    fill_base_logits(std::span<EEISample>(s2), base);
    fill_base_logits(std::span<EEISample>(st), base);

    // 5. Stage 1: E-E-I on window 2 (last 15% of it for early stopping).
    const std::size_t nv = s1.size() * 15 / 100;
    const std::span<const EEISample> s1_train(s1.data(), s1.size() - nv), s1_valid(s1.data() + s1.size() - nv, nv);
    EEIConfig ec;
    ec.hidden = {64, 32};
    ec.seed = opt.seed;
    ec.max_epochs = 20;
    EEIModel<float> model(h.dim(), feats.dim(), ec);
    const auto fit = model.fit(h, s1_train, s1_valid, bar.callback());

    // 6. Stage 2: E-E-I frozen, integrated with the base ranker on window 3, per cold/warm item.
    const auto segments = ItemSegments::cold_warm(bills);
    const EEIIntegration integ = fit_integration(model, h, s2, segments);

    // 7. Held-out AUC: base alone vs integrated, all items and new items.
    std::vector<float> zb, zi, y, zb_new, zi_new, y_new, ze(st.size());
    model.score(h, st, ze);
    for (std::size_t i = 0; i < st.size(); ++i) {
        const float fi = integ.logit(st[i].base_logit, ze[i], segments.of(st[i].item));
        zb.push_back(st[i].base_logit), zi.push_back(fi), y.push_back(st[i].label);
        if (is_new(st[i].item)) zb_new.push_back(st[i].base_logit), zi_new.push_back(fi), y_new.push_back(st[i].label);
    }
    auto safe_auc = [](const std::vector<float>& s, const std::vector<float>& l) {
        const auto pos = std::count(l.begin(), l.end(), 1.0f);
        return pos > 0 && pos < static_cast<std::ptrdiff_t>(l.size()) ? auc(s, l) : std::nan("");
    };
    const double auc_base = safe_auc(zb, y), auc_int = safe_auc(zi, y), auc_base_new = safe_auc(zb_new, y_new),
                 auc_int_new = safe_auc(zi_new, y_new);

    // 8. Recall@50 on next purchases in the test window (context = the user's earlier bills).
    U2E2IRecall<FeedbackGraph> u2e2i(store, map);  // rationales from the graph's table
    IntegratedRecommender<LogisticBaseRanker> integrated(store, map, {},
                                                         IntegratedScorer<LogisticBaseRanker>(base, EEIScorer<float>(model, h, &feats), integ, segments));
    const Baskets baskets = Baskets::from_events(train, BasketKey::user_day, ni);
    ItemCF itemcf(baskets);
    PopularityRecommender popularity(baskets);
    RecallAt r_u, r_un, r_i, r_in, r_cf, r_cfn, r_p, r_pn;
    std::vector<Recommendation> out;
    Rng erng(derive_seed(opt.seed, 3));
    const std::size_t max_eval = 4000;
    std::size_t seen_all = 0, seen_new = 0;
    for (std::uint32_t u = 0; u < history.user_count(); ++u) {
        const auto b = history.bills(UserId(u));
        for (std::size_t j = 1; j < b.size(); ++j) {
            if (b[j].time < t3) continue;
            const bool fresh = is_new(b[j].item);
            // Reservoir-free thinning: keep about max_eval of each kind.
            if (!fresh && erng.uniform() > 0.2) continue;
            if ((fresh ? seen_new : seen_all) >= max_eval) continue;
            ++(fresh ? seen_new : seen_all);
            const std::size_t c0 = j > 20 ? j - 20 : 0;
            const RecommendRequest req{UserId(u), b.subspan(c0, j - c0), b[j].time, 50, {}};
            auto hit = [&](auto& rec, RecallAt& all, RecallAt& nw) {
                rec.recommend(req, out);
                const bool ok = std::any_of(out.begin(), out.end(), [&](const Recommendation& r) { return r.item == b[j].item; });
                (fresh ? nw : all).n += 1;
                (fresh ? nw : all).hits += ok ? 1 : 0;
            };
            hit(u2e2i, r_u, r_un);
            hit(integrated, r_i, r_in);
            hit(itemcf, r_cf, r_cfn);
            hit(popularity, r_p, r_pn);
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - clock0).count();

    if (opt.json) {
        auto fig = [](std::string_view name, double v, std::string_view unit) {
            fmt::print("{{\"name\": \"{}\", \"value\": {}, \"unit\": \"{}\"}}\n", name, std::isfinite(v) ? fmt::format("{:.6g}", v) : "null", unit);
        };
        auto cmp = [](std::string_view name, double v, std::string_view unit, std::string_view peer, double pv) {
            const double ratio = pv > 0 ? v / pv : std::nan("");
            fmt::print("{{\"name\": \"{}\", \"value\": {:.6g}, \"unit\": \"{}\", \"peer\": \"{}\", \"ratio\": {}}}\n", name, v, unit, peer,
                       std::isfinite(ratio) ? fmt::format("{:.4g}", ratio) : "null");
        };
        const std::string w = fmt::format("sim {} world", opt.size);
        cmp("eei.auc.integrated", auc_int, "AUC (ratio > 1: integrated better)", "eei.auc.base", auc_base);
        fig("eei.auc.base", auc_base, "AUC");
        cmp("eei.auc.integrated_new", auc_int_new, "AUC on items listed after training (ratio > 1: integrated better)", "eei.auc.base_new", auc_base_new);
        fig("eei.auc.base_new", auc_base_new, "AUC on items listed after training");
        fig("eei.stage1.valid_auc", fit.best_valid_auc, "AUC (E-E-I alone, stage-1 validation)");
        cmp("recall.u2e2i.recall_at_50", r_u.value(), "recall@50 (ratio > 1: U2E2I better)", "recall.itemcf.recall_at_50", r_cf.value());
        cmp("recall.u2e2i.recall_at_50_new", r_un.value(), "recall@50 on new items (ratio > 1: U2E2I better)", "recall.itemcf.recall_at_50_new", r_cfn.value());
        fig("recall.itemcf.recall_at_50", r_cf.value(), "recall@50");
        fig("recall.itemcf.recall_at_50_new", r_cfn.value(), "recall@50 on new items");
        fig("recall.popularity.recall_at_50", r_p.value(), "recall@50");
        fig("recall.popularity.recall_at_50_new", r_pn.value(), "recall@50 on new items");
        fig("recall.integrated.recall_at_50", r_i.value(), "recall@50");
        fig("recall.integrated.recall_at_50_new", r_in.value(), "recall@50 on new items");
        fig("recall.eval_requests", static_cast<double>(r_u.n), "requests (warm items)");
        fig("recall.eval_requests_new", static_cast<double>(r_un.n), "requests (new items)");
        return 0;
    }

    fmt::print("LLM-KERec recommendations on the '{}' marketplace (seed {})\n", opt.size, opt.seed);
    fmt::print("{} entities, {} items ({} listed after training), {} events; windows: feedback < day {}, stage 1 < day {}, stage 2 < day {}, test to day {}\n\n",
               ne, ni, new_items, log.size(), t1 / 86400, t2 / 86400, t3 / 86400, H / 86400);
    fmt::print("  graph: {} LLM judgments, {} edges, weights learned from {} events\n", judgments.size(), graph->edge_count(), w1.size());
    fmt::print("  E-E-I samples (complementary exposures): stage 1 {}, stage 2 {}, test {}\n", s1.size(), s2.size(), st.size());
    fmt::print("  stage 1: {} epochs, best epoch {}, validation AUC {:.4f}\n", fit.epochs, fit.best_epoch, fit.best_valid_auc);
    for (std::size_t s = 0; s < integ.segments(); ++s) {
        const auto& k = integ.coefficients(s);
        fmt::print("  stage 2, {} items: final = σ({:.3f}·base + {:.3f}·eei + {:.3f}) on {} samples{}\n", segments.name(s), k.a, k.b, k.c,
                   k.samples, k.own ? "" : " (global fit)");
    }
    fmt::print("\n  {:<44} {:>10} {:>12}\n", "held-out complementary exposures", "all items", "new items");
    fmt::print("  {:<44} {:>10.4f} {:>12.4f}\n", "AUC, base ranker alone", auc_base, auc_base_new);
    fmt::print("  {:<44} {:>10.4f} {:>12.4f}\n", "AUC, base ranker + E-E-I (integrated)", auc_int, auc_int_new);
    fmt::print("\n  {:<44} {:>10} {:>12}\n", "next purchases in the test window", "warm items", "new items");
    fmt::print("  {:<44} {:>10.4f} {:>12.4f}\n", "recall@50, U2E2I (path score)", r_u.value(), r_un.value());
    fmt::print("  {:<44} {:>10.4f} {:>12.4f}\n", "recall@50, U2E2I + integrated E-E-I", r_i.value(), r_in.value());
    fmt::print("  {:<44} {:>10.4f} {:>12.4f}\n", "recall@50, item-CF", r_cf.value(), r_cfn.value());
    fmt::print("  {:<44} {:>10.4f} {:>12.4f}\n", "recall@50, popularity", r_p.value(), r_pn.value());
    fmt::print("  {:<44} {:>10} {:>12}\n", "requests", r_u.n, r_un.n);

    // 9. Three users: recent bills, then explained recommendations at the end of training.
    std::size_t shown = 0;
    for (std::uint32_t u = 0; u < history.user_count() && shown < opt.users; ++u) {
        const auto recent = history.recent(UserId(u), t3, 4);
        if (recent.size() < 3) continue;
        integrated.recommend(RecommendRequest{UserId(u), recent, t3, 6, {}}, out);
        if (out.empty()) continue;
        ++shown;
        fmt::print("\nuser {}: recent bills\n", u);
        for (const auto& b : recent)
            fmt::print("    day {:>2}  {:<40} [{}]\n", b.time / 86400, world.item(b.item).title, world.entities().name(world.item(b.item).entity));
        fmt::print("  recommended (score: log integrated p(click) + log recency; path: trigger -> complement, learned weight, LLM confidence)\n");
        for (const auto& r : out) {
            const float truth = world.strength(r.why.trigger, r.why.complement);
            fmt::print("    {:<40} {:>6.2f}  {} -> {} (w {:.3f}, llm {:.2f})  \"{}\"  {}\n", world.item(r.item).title, r.score,
                       world.entities().name(r.why.trigger), world.entities().name(r.why.complement), r.why.edge_weight,
                       r.why.llm_confidence, r.why.rationale,
                       truth > 0 ? fmt::format("true complement (s = {:.2f})", truth) : std::string("not a complement"));
        }
    }
    fmt::print("\ntotal {:.1f} s\n", seconds);
    return 0;
} catch (const Error& e) {
    std::fprintf(stderr, "recommend: %s\n", e.what());
    return 1;
}
