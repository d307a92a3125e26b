// U2E2I recall, item priors and the exact AUC: behaviour, a brute-force oracle, bad input, and
// the allocation-free steady state.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

#include <kerec/core/auc.hpp>
#include <kerec/core/random.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/llm/judgment.hpp>
#include <kerec/recall/channel_merge.hpp>
#include <kerec/recall/item_prior.hpp>
#include <kerec/recall/u2e2i.hpp>

// Allocations made by the program so far (tests/alloc_counter.cpp replaces operator new): a
// request at steady state must not allocate.
std::uint64_t kerec_allocation_count() noexcept;

using namespace kerec;

namespace {

using FB = GraphBuilder<EntityId, EdgeFeedback>;
using FE = GraphEdge<EntityId, EdgeFeedback>;

FeedbackGraph make_graph(const std::vector<FE>& edges, std::size_t nodes) {
    GraphBuildOptions o;
    o.threads = 1;
    o.node_count = nodes;
    return FB::build(edges, o);
}

EntityId E(std::uint32_t v) { return EntityId(v); }
ItemId I(std::uint32_t v) { return ItemId(v); }

// 6 entities. Items: 0 → e0, 1 → e3, 2,3 → e1 (priors .6, .4), 4 → e2, 5 → e4, 6 → e1 and e2.
struct Small {
    FeedbackGraph graph = make_graph({FE{E(0), E(1), 0.9f, {0.8f, 0, 0, 0}}, FE{E(0), E(2), 0.5f, {0.7f, 0, 0, 0}},
                                      FE{E(3), E(4), 0.7f, {0.6f, 0, 0, 0}}, FE{E(3), E(1), 0.2f, {0.9f, 0, 0, 0}}},
                                     6);
    ItemEntityMap map;
    Small() {
        std::vector<ItemEntityLink> links = {{I(0), E(0), 1}, {I(1), E(3), 1}, {I(2), E(1), 1}, {I(3), E(1), 1},
                                             {I(4), E(2), 1}, {I(5), E(4), 1}, {I(6), E(1), 0.9f}, {I(6), E(2), 0.8f}};
        std::vector<float> prior = {0.5f, 0.5f, 0.6f, 0.4f, 0.3f, 1.0f, 0.1f};
        map = ItemEntityMap(7, 6, links, prior);
    }
};

std::map<std::uint32_t, float> as_map(const std::vector<Recommendation>& out) {
    std::map<std::uint32_t, float> m;
    for (const auto& r : out) m[r.item.value()] = r.score;
    return m;
}

}  // namespace

static_assert(Recommender<U2E2IRecall<FeedbackGraph>>);

TEST_CASE("auc: exact with ties, against the pairwise definition") {
    const std::vector<double> s = {0.1, 0.4, 0.35, 0.8, 0.4, 0.4};
    const std::vector<int> y = {0, 0, 1, 1, 1, 0};
    // pairs: positives {0.35, 0.8, 0.4} vs negatives {0.1, 0.4, 0.4}
    // 0.35: > 0.1 → 1;  0.8: 3;  0.4: >0.1, ties 0.4 ×2 → 1 + 1 = 2  → (1 + 3 + 2) / 9
    CHECK(auc(s, y) == doctest::Approx(6.0 / 9.0));
    Rng rng(5);
    std::vector<float> ss(300);
    std::vector<std::uint8_t> yy(300);
    for (std::size_t i = 0; i < ss.size(); ++i) {
        ss[i] = static_cast<float>(rng.uniform_int(20));  // many ties
        yy[i] = rng.bernoulli(0.3) ? 1 : 0;
    }
    double num = 0, pairs = 0;
    for (std::size_t i = 0; i < ss.size(); ++i)
        for (std::size_t j = 0; j < ss.size(); ++j)
            if (yy[i] && !yy[j]) pairs += 1, num += ss[i] > ss[j] ? 1.0 : ss[i] == ss[j] ? 0.5 : 0.0;
    CHECK(auc(ss, yy) == doctest::Approx(num / pairs).epsilon(1e-12));
    CHECK_THROWS_AS(auc(std::vector<double>{1, 2}, std::vector<int>{1, 1}), InvalidArgument);
    CHECK_THROWS_AS(auc(std::vector<double>{1, NAN}, std::vector<int>{1, 0}), InvalidArgument);
    CHECK_THROWS_AS(auc(std::vector<double>{1, 2}, std::vector<int>{1}), InvalidArgument);
    // Labels of any arithmetic type, 0 or 1 only (EEISample labels are floats).
    CHECK(auc(std::span<const float>(ss), std::span<const float>(std::vector<float>(yy.begin(), yy.end()))) == auc(ss, yy));
    CHECK_THROWS_WITH_AS(auc(std::vector<double>{1, 2, 3}, std::vector<float>{1, 0.5f, 0}), doctest::Contains("label 1 is 0.5"),
                         InvalidArgument);
    CHECK_THROWS_WITH_AS(auc(std::vector<double>{1, 2}, std::vector<int>{1, 2}), doctest::Contains("label 1 is 2"), InvalidArgument);
    // Exact with ties at scale: two score levels over 3 million samples; 2U is an integer and the
    // result is that integer over 2 n+ n-, to the last bit.
    std::vector<float> big(3'000'000);
    std::vector<std::uint8_t> lab(big.size());
    std::uint64_t p[2] = {0, 0}, q[2] = {0, 0};  // positives / negatives at score 0 and 1
    for (std::size_t i = 0; i < big.size(); ++i) {
        const unsigned level = (i * 2654435761u >> 7) % 3 == 0 ? 1u : 0u, y = (i * 40503u >> 5) % 7 < 2 ? 1u : 0u;
        big[i] = static_cast<float>(level);
        lab[i] = static_cast<std::uint8_t>(y);
        ++(y ? p : q)[level];
    }
    const std::uint64_t twice_u = 2 * p[1] * q[0] + p[0] * q[0] + p[1] * q[1];
    const std::uint64_t pos = p[0] + p[1], neg = q[0] + q[1];
    CHECK(auc(big, lab) == static_cast<double>(twice_u) / (2.0 * static_cast<double>(pos) * static_cast<double>(neg)));
}

TEST_CASE("u2e2i: path scores, explanations, dedupe, exclusions") {
    Small s;
    auto g = std::make_shared<const FeedbackGraph>(s.graph);
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::string> why = {{{0, 1}, "chips go with salsa"}};
    U2E2IOptions opt;
    opt.recency_half_life = 0;  // no decay: r = 1 per bill
    U2E2IRecall<FeedbackGraph> rec(g, s.map, opt, {}, [&](EntityId a, EntityId b) -> std::string_view {
        auto it = why.find({a.value(), b.value()});
        return it == why.end() ? std::string_view{} : std::string_view(it->second);
    });
    const HistoryItem ctx[] = {{I(0), 100}};
    std::vector<Recommendation> out;
    rec.recommend(RecommendRequest{UserId(1), ctx, 200, 10, {}}, out);
    // e0 → e1 (0.9): items 2 (.6), 3 (.4), 6 (.1); e0 → e2 (0.5): 4 (.3), 6 (.1) — 6 keeps its best path.
    REQUIRE(out.size() == 4);
    CHECK(out[0].item == I(2));
    CHECK(out[0].score == doctest::Approx(0.9 * 0.6));
    CHECK(out[1].item == I(3));
    CHECK(out[2].item == I(4));
    CHECK(out[2].score == doctest::Approx(0.5 * 0.3));
    CHECK(out[3].item == I(6));
    CHECK(out[3].score == doctest::Approx(0.9 * 0.1));
    CHECK(out[3].why.complement == E(1));
    CHECK(out[0].why.trigger == E(0));
    CHECK(out[0].why.edge_weight == doctest::Approx(0.9));
    CHECK(out[0].why.llm_confidence == doctest::Approx(0.8));
    CHECK(out[0].why.rationale == "chips go with salsa");
    CHECK(out[2].why.rationale.empty());

    // Two triggers sum into e1: s(e1) = 0.9 + 0.2.
    const HistoryItem two[] = {{I(0), 100}, {I(1), 150}};
    rec.recommend(RecommendRequest{UserId(1), two, 200, 10, {}}, out);
    auto m = as_map(out);
    CHECK(m[2] == doctest::Approx(1.1 * 0.6));
    CHECK(m[5] == doctest::Approx(0.7 * 1.0));
    CHECK(out[0].item == I(5));  // 0.7 > 0.66

    // Exclusions and K.
    const ItemId ex[] = {I(2), I(5)};
    rec.recommend(RecommendRequest{UserId(1), two, 200, 2, ex}, out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].item == I(3));
    CHECK(out[1].item == I(4));
}

TEST_CASE("u2e2i: recency weights and the context is not recommended back") {
    Small s;
    auto g = std::make_shared<const FeedbackGraph>(s.graph);
    U2E2IOptions opt;
    opt.recency_half_life = 100;
    U2E2IRecall<FeedbackGraph> rec(g, s.map, opt);
    const HistoryItem ctx[] = {{I(0), 0}, {I(1), 100}};  // e0 two half-lives old, e3 fresh
    std::vector<Recommendation> out;
    rec.recommend(RecommendRequest{UserId(0), ctx, 200, 10, {}}, out);
    auto m = as_map(out);
    CHECK(m[4] == doctest::Approx(0.25 * 0.5 * 0.3));
    CHECK(m[5] == doctest::Approx(0.5 * 0.7 * 1.0));
    CHECK(m[2] == doctest::Approx((0.25 * 0.9 + 0.5 * 0.2) * 0.6));
    CHECK(out.front().item == I(5));
    for (const auto& r : out)
        if (r.item == I(2)) CHECK(r.why.trigger == E(0));  // 0.25·0.9 beats 0.5·0.2

    // A complement whose items include a context item: that item is not returned (unless asked).
    FeedbackGraph loop = make_graph({FE{E(1), E(0), 1.0f, {}}, FE{E(0), E(1), 1.0f, {}}}, 6);
    auto lg = std::make_shared<const FeedbackGraph>(loop);
    const HistoryItem both[] = {{I(0), 0}, {I(2), 0}};
    U2E2IRecall<FeedbackGraph> r2(lg, s.map, opt);
    r2.recommend(RecommendRequest{UserId(0), both, 0, 10, {}}, out);
    for (const auto& r : out) CHECK((r.item != I(0) && r.item != I(2)));
    opt.exclude_context = false;
    U2E2IRecall<FeedbackGraph> r3(lg, s.map, opt);
    r3.recommend(RecommendRequest{UserId(0), both, 0, 10, {}}, out);
    CHECK(as_map(out).count(0) == 1);
}

TEST_CASE("u2e2i: matches a brute-force oracle on random graphs") {
    Rng rng(11);
    for (int round = 0; round < 20; ++round) {
        const std::uint32_t ne = 30, ni = 120;
        std::vector<FE> edges;
        for (int k = 0; k < 150; ++k) {
            const auto a = static_cast<std::uint32_t>(rng.uniform_int(ne)), b = static_cast<std::uint32_t>(rng.uniform_int(ne));
            if (a != b) edges.push_back(FE{E(a), E(b), static_cast<float>(rng.uniform()), {0.5f, 0, 0, 0}});
        }
        const auto g = std::make_shared<const FeedbackGraph>(make_graph(edges, ne));
        std::vector<ItemEntityLink> links;
        std::vector<float> prior(ni);
        for (std::uint32_t i = 0; i < ni; ++i) {
            links.push_back({I(i), E(static_cast<std::uint32_t>(rng.uniform_int(ne))), 1.0f});
            if (rng.bernoulli(0.3)) links.push_back({I(i), E(static_cast<std::uint32_t>(rng.uniform_int(ne))), 0.5f});
            prior[i] = rng.bernoulli(0.1) ? 0.0f : static_cast<float>(rng.uniform());
        }
        const ItemEntityMap map(ni, ne, links, prior);
        U2E2IOptions opt;
        opt.max_triggers = opt.max_context = opt.neighbors_per_trigger = opt.items_per_entity = 1000;
        opt.recency_half_life = 50;
        U2E2IRecall<FeedbackGraph> rec(g, map, opt);
        std::vector<HistoryItem> ctx;
        for (int j = 0; j < 5; ++j) ctx.push_back({I(static_cast<std::uint32_t>(rng.uniform_int(ni))), 10 * j});
        const std::int64_t now = 60;
        // Oracle: trigger weights, s(c), then every item scored by its best entity.
        std::vector<double> r(ne, 0.0), sc(ne, 0.0);
        std::vector<bool> in_ctx(ni, false);
        for (const auto& h : ctx) {
            r[map.primary(h.item).index()] += std::exp2(-static_cast<double>(now - h.time) / 50.0);
            in_ctx[h.item.index()] = true;
        }
        std::vector<bool> reachable(ne, false);
        for (std::uint32_t t = 0; t < ne; ++t) {
            if (r[t] == 0) continue;
            const auto row = g->neighbors(E(t));
            for (std::size_t j = 0; j < row.size(); ++j) sc[row.targets[j].index()] += r[t] * row.weights[j], reachable[row.targets[j].index()] = true;
        }
        std::vector<std::pair<double, std::uint32_t>> want;
        for (std::uint32_t i = 0; i < ni; ++i) {
            if (in_ctx[i]) continue;
            double best = -1;
            for (auto [e, score] : map.entities(I(i)))
                if (reachable[e.index()]) best = std::max(best, sc[e.index()] * std::max<double>(prior[i], 1e-6));
            if (best >= 0) want.push_back({best, i});
        }
        std::sort(want.begin(), want.end(), [](auto a, auto b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
        std::vector<Recommendation> out;
        rec.recommend(RecommendRequest{UserId(0), ctx, now, 25, {}}, out);
        REQUIRE(out.size() == std::min<std::size_t>(25, want.size()));
        for (std::size_t k = 0; k < out.size(); ++k) {
            CHECK(out[k].score == doctest::Approx(want[k].first).epsilon(1e-4));
            if (k + 1 < out.size()) CHECK(out[k].score >= out[k + 1].score);
        }
    }
}

namespace {

/// The plain definition of U2E2I (docs/recall.md), for the exact oracle below: every item of every
/// reached entity is scored, the best path per item kept, then one full sort. Returns the
/// candidates (best path score first, ties by item; at most `limit`) and, in `out`, the results.
template <class Scorer>
std::vector<RecallCandidate> reference_u2e2i(const FeedbackGraph& g, const ItemEntityMap& map, const U2E2IOptions& opt,
                                             const RecommendRequest& req, Scorer* scorer, std::vector<Recommendation>& out) {
    out.clear();
    if (req.k == 0) return {};
    std::vector<bool> excluded(map.item_count(), false);
    for (ItemId i : req.exclude)
        if (i.valid()) excluded[i.index()] = true;
    // Triggers: most recent context first, accumulated in order of first appearance, then the
    // heaviest max_triggers (ties by entity id), heaviest first.
    std::vector<std::pair<EntityId, float>> trig;
    const std::size_t take = std::min(req.context.size(), opt.max_context);
    for (std::size_t j = 0; j < take; ++j) {
        const HistoryItem& h = req.context[req.context.size() - 1 - j];
        if (!h.item.valid()) continue;
        if (opt.exclude_context) excluded[h.item.index()] = true;
        const double age = std::max<double>(0.0, static_cast<double>(req.now - h.time));
        const float r = static_cast<float>(std::exp2(-age * (opt.recency_half_life > 0 ? 1.0 / opt.recency_half_life : 0.0)));
        const auto ents = map.entities(h.item);
        for (std::size_t q = 0; q < ents.size() && (opt.all_item_entities || q == 0); ++q) {
            const float w = opt.all_item_entities ? r * ents.values[q] : r;
            auto it = std::find_if(trig.begin(), trig.end(), [&](const auto& t) { return t.first == ents.ids[q]; });
            if (it != trig.end()) it->second += w;
            else trig.push_back({ents.ids[q], w});
        }
    }
    std::sort(trig.begin(), trig.end(), [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    if (trig.size() > opt.max_triggers) trig.resize(opt.max_triggers);
    // Complementary entities in the order they are first reached; the best path is the first
    // largest r_t · w(t, c).
    struct Ent {
        EntityId e;
        float s, best;
        RecallCandidate path;
    };
    std::vector<Ent> ents;
    for (const auto& [t, rt] : trig) {
        const auto row = g.top_k(t, opt.neighbors_per_trigger);
        for (std::size_t j = 0; j < row.size(); ++j) {
            const float contrib = rt * row.weights[j];
            RecallCandidate path{ItemId{}, t, row.targets[j], row.weights[j], row.payload[j].prior, rt, 0.0f, 0.0f};
            auto it = std::find_if(ents.begin(), ents.end(), [&](const Ent& x) { return x.e == row.targets[j]; });
            if (it == ents.end()) {
                ents.push_back({row.targets[j], contrib, contrib, path});
                continue;
            }
            it->s += contrib;
            if (contrib > it->best) it->best = contrib, it->path = path;
        }
    }
    // Every item of every reached entity (up to items_per_entity by prior), best path per item.
    std::vector<RecallCandidate> best(map.item_count());
    std::vector<bool> reached(map.item_count(), false);
    for (const Ent& x : ents) {
        const auto items = map.items(x.e);
        for (std::size_t j = 0; j < std::min(items.size(), opt.items_per_entity); ++j) {
            const std::size_t i = items.ids[j].index();
            if (excluded[i]) continue;
            const float p = x.s * std::max(items.values[j], opt.min_prior);
            if (reached[i] && !(p > best[i].path_score)) continue;
            best[i] = x.path;
            best[i].item = items.ids[j], best[i].prior = items.values[j], best[i].path_score = p;
            reached[i] = true;
        }
    }
    std::vector<RecallCandidate> all;
    for (std::size_t i = 0; i < best.size(); ++i)
        if (reached[i]) all.push_back(best[i]);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.path_score != b.path_score ? a.path_score > b.path_score : a.item < b.item; });
    const std::size_t limit = scorer ? opt.max_candidates : req.k;
    if (all.size() > limit) all.resize(limit);
    std::vector<float> logit(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) logit[i] = all[i].path_score;
    if (scorer) scorer->score(req, all, logit);
    std::vector<std::size_t> order(all.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return logit[a] != logit[b] ? logit[a] > logit[b] : all[a].item < all[b].item; });
    for (std::size_t r = 0; r < std::min(req.k, order.size()); ++r) {
        const RecallCandidate& c = all[order[r]];
        out.push_back(Recommendation{c.item, logit[order[r]], {c.trigger, c.entity, c.edge_weight, c.llm_confidence, g.rationale(g.find(c.trigger, c.entity))}});
    }
    return all;
}

/// A scorer with many ties (a few distinct logits); records what it was shown.
struct CoarseScorer {
    std::vector<RecallCandidate> seen;
    void score(const RecommendRequest&, std::span<const RecallCandidate> c, std::span<float> l) {
        seen.assign(c.begin(), c.end());
        for (std::size_t i = 0; i < c.size(); ++i) l[i] = static_cast<float>((c[i].item.value() * 7 + c[i].entity.value()) % 5);
    }
};

bool same_candidate(const RecallCandidate& a, const RecallCandidate& b) {
    return a.item == b.item && a.trigger == b.trigger && a.entity == b.entity && a.edge_weight == b.edge_weight &&
           a.llm_confidence == b.llm_confidence && a.recency == b.recency && a.prior == b.prior && a.path_score == b.path_score;
}

}  // namespace

TEST_CASE("u2e2i: identical to scanning every item and sorting, on random graphs with ties, floors and exclusions") {
    Rng rng(2024);
    std::size_t compared = 0, floored = 0, negative = 0;
    for (int round = 0; round < 300; ++round) {
        const auto ne = static_cast<std::uint32_t>(3 + rng.uniform_int(25));
        const auto ni = static_cast<std::uint32_t>(1 + rng.uniform_int(round % 5 == 0 ? 12 : 150));
        const bool coarse = rng.bernoulli(0.5), signed_weights = round % 4 == 3;
        auto pick = [&](std::initializer_list<float> v) { return *(v.begin() + rng.uniform_int(v.size())); };
        // Graph: judged edges (each with its own rationale), then learned weights — coarse ones tie.
        std::vector<Judgment> js;
        const std::size_t m = rng.uniform_int(6 * ne);
        for (std::size_t q = 0; q < m; ++q) {
            const auto a = static_cast<std::uint32_t>(rng.uniform_int(ne)), b = static_cast<std::uint32_t>(rng.uniform_int(ne));
            js.push_back({E(a), E(b), Label::yes, coarse ? pick({0.5f, 0.8f}) : static_cast<float>(rng.uniform()),
                          fmt::format("{} goes with {}", a, b), "m", "v1", static_cast<std::int64_t>(q)});
        }
        GraphBuildOptions go;
        go.node_count = ne;
        go.threads = 1;
        const FeedbackGraph judged = build_graph<EdgeFeedback>(js, go);
        std::vector<float> w(judged.edge_count());
        for (auto& x : w) {
            x = coarse ? pick({0.25f, 0.5f, 0.75f}) : static_cast<float>(rng.uniform());
            if (signed_weights && rng.bernoulli(0.4)) x = -x;
        }
        const auto g = std::make_shared<const FeedbackGraph>(
            FB::reweight(judged, [&](EntityId, std::uint64_t i, float, const EdgeFeedback&, EdgeFeedback&) { return w[i]; }, 1));
        // Map: many-to-many, repeated links, unlinked items; priors with ties, zeros, negatives.
        std::vector<ItemEntityLink> links;
        std::vector<float> prior(ni);
        for (std::uint32_t i = 0; i < ni; ++i) {
            const std::size_t nl = rng.uniform_int(4);
            for (std::size_t q = 0; q < nl; ++q) {
                const EntityId e = E(static_cast<std::uint32_t>(rng.uniform_int(ne)));
                const float score = signed_weights && rng.bernoulli(0.2) ? -0.5f : pick({1.0f, 0.6f, 0.3f});
                links.push_back({I(i), e, score});
                if (rng.bernoulli(0.1)) links.push_back({I(i), e, score * 0.5f});  // the same link again
            }
            prior[i] = coarse ? pick({0.0f, 1e-7f, 0.1f, 0.5f, -0.2f}) : static_cast<float>(rng.uniform());
        }
        const ItemEntityMap map(ni, ne, links, prior);
        U2E2IOptions opt;
        opt.max_context = 1 + rng.uniform_int(8);
        opt.max_triggers = 1 + rng.uniform_int(6);
        opt.neighbors_per_trigger = 1 + rng.uniform_int(8);
        opt.items_per_entity = 1 + rng.uniform_int(12);
        opt.max_candidates = 1 + rng.uniform_int(40);
        opt.min_prior = pick({1e-6f, 0.0f, 0.3f});
        opt.recency_half_life = rng.bernoulli(0.5) ? 0.0 : 50.0;
        opt.exclude_context = rng.bernoulli(0.7);
        opt.all_item_entities = rng.bernoulli(0.5);
        U2E2IRecall<FeedbackGraph> rec(g, map, opt);
        U2E2IRecall<FeedbackGraph, CoarseScorer> scored(g, map, opt);
        CoarseScorer ref_scorer;
        for (int q = 0; q < 6; ++q) {
            std::vector<HistoryItem> ctx;
            const std::size_t nc = rng.uniform_int(9);
            for (std::size_t j = 0; j < nc; ++j)  // repeats and invalid ids included
                ctx.push_back({rng.bernoulli(0.1) ? ItemId{} : I(static_cast<std::uint32_t>(rng.uniform_int(ni))), static_cast<std::int64_t>(10 * j)});
            std::vector<ItemId> ex;
            const std::size_t nx = rng.uniform_int(4);
            for (std::size_t j = 0; j < nx; ++j) ex.push_back(I(static_cast<std::uint32_t>(rng.uniform_int(ni))));
            constexpr std::size_t ks[] = {0, 1, 5, 30, 100000};  // 100000: more than the catalogue
            const RecommendRequest req{UserId(0), ctx, 100, ks[rng.uniform_int(5)], ex};
            std::vector<Recommendation> got, want;
            const auto want_cands = reference_u2e2i<CoarseScorer>(*g, map, opt, req, nullptr, want);
            rec.recommend(req, got);
            for (const auto& c : want_cands) floored += c.prior < opt.min_prior, negative += c.path_score < 0;
            // the scorer's pass: the same candidates, the same final order
            std::vector<Recommendation> got_s, want_s;
            const auto want_scored = reference_u2e2i(*g, map, opt, req, &ref_scorer, want_s);
            scored.scorer().seen.clear();
            scored.recommend(req, got_s);
            for (auto [g_out, w_out] : {std::pair{&got, &want}, std::pair{&got_s, &want_s}}) {
                REQUIRE(g_out->size() == w_out->size());
                for (std::size_t r = 0; r < g_out->size(); ++r) {
                    const Recommendation &a = (*g_out)[r], &b = (*w_out)[r];
                    INFO("round ", round, " request ", q, " rank ", r);
                    CHECK(a.item == b.item);
                    CHECK(a.score == b.score);
                    CHECK(a.why.trigger == b.why.trigger);
                    CHECK(a.why.complement == b.why.complement);
                    CHECK(a.why.edge_weight == b.why.edge_weight);
                    CHECK(a.why.llm_confidence == b.why.llm_confidence);
                    CHECK(a.why.rationale == b.why.rationale);
                    ++compared;
                }
            }
            auto seen = scored.scorer().seen;  // grouped by path: compare in path-score order
            REQUIRE(seen.size() == want_scored.size());
            std::sort(seen.begin(), seen.end(), [](const auto& a, const auto& b) { return a.path_score != b.path_score ? a.path_score > b.path_score : a.item < b.item; });
            for (std::size_t r = 0; r < seen.size(); ++r) CHECK(same_candidate(seen[r], want_scored[r]));
            U2E2IWorkspace ws;  // recall() itself: the top K candidates in order
            const auto cands = rec.recall(*g, req, ws);
            REQUIRE(cands.size() == want_cands.size());
            for (std::size_t r = 0; r < cands.size(); ++r) CHECK(same_candidate(cands[r], want_cands[r]));
        }
    }
    MESSAGE("compared ", compared, " results; ", floored, " candidates with a floored prior, ", negative, " with a negative path score");
    CHECK(compared > 10000);
    CHECK(floored > 100);
    CHECK(negative > 100);
}

TEST_CASE("u2e2i: a new item is reachable through its entity alone") {
    Small s;
    auto g = std::make_shared<const FeedbackGraph>(s.graph);
    const float p = new_item_prior(s.map, E(4));
    CHECK(p == doctest::Approx(0.5));
    const ItemEntityLink link[] = {{ItemId{}, E(4), 1.0f}};
    const ItemId fresh = s.map.add_item(link, p);
    U2E2IRecall<FeedbackGraph> rec(g, s.map);
    const HistoryItem ctx[] = {{I(1), 0}};
    std::vector<Recommendation> out;
    rec.recommend(RecommendRequest{UserId(0), ctx, 0, 10, {}}, out);
    bool found = false;
    for (const auto& r : out) found = found || (r.item == fresh && r.why.complement == E(4) && r.why.trigger == E(3));
    CHECK(found);
}

TEST_CASE("item priors: smoothed within-entity share") {
    Small s;
    std::vector<Event> ev = {Event{.user = UserId(0), .item = I(2)}, Event{.user = UserId(0), .item = I(2)},
                             Event{.user = UserId(0), .item = I(3), .kind = EventKind::exposure}};
    const auto p = popularity_priors(ev, s.map, 1.0);
    // entity 1 (primary of 2, 3, 6): bills 2 + 0 + 0, 3 items → (2+1)/5, 1/5, 1/5
    CHECK(p[2] == doctest::Approx(0.6));
    CHECK(p[3] == doctest::Approx(0.2));
    CHECK(p[6] == doctest::Approx(0.2));
    CHECK(p[5] == doctest::Approx(1.0));
    std::vector<Event> bad = {Event{.user = UserId(0), .item = I(99)}};
    CHECK_THROWS_AS(popularity_priors(bad, s.map), OutOfRange);
    CHECK_THROWS_AS(popularity_priors(ev, s.map, 0.0), InvalidArgument);
}

TEST_CASE("u2e2i: bad input gives empty results or a clear error") {
    Small s;
    auto g = std::make_shared<const FeedbackGraph>(s.graph);
    U2E2IRecall<FeedbackGraph> rec(g, s.map);
    std::vector<Recommendation> out = {Recommendation{}};
    rec.recommend(RecommendRequest{UserId(0), {}, 0, 10, {}}, out);  // no history
    CHECK(out.empty());
    const HistoryItem lonely[] = {{I(2), 0}};  // e1 has no out-edges
    rec.recommend(RecommendRequest{UserId(0), lonely, 0, 10, {}}, out);
    CHECK(out.empty());
    const HistoryItem ctx[] = {{I(0), 0}};
    rec.recommend(RecommendRequest{UserId(0), ctx, 0, 0, {}}, out);  // K = 0
    CHECK(out.empty());
    rec.recommend(RecommendRequest{UserId(0), ctx, 0, 1000000, {}}, out);  // K > catalogue
    CHECK(out.size() == 4);
    const HistoryItem invalid[] = {{ItemId{}, 0}, {I(0), 0}};  // invalid ids mean none
    rec.recommend(RecommendRequest{UserId(0), invalid, 0, 10, {}}, out);
    CHECK(out.size() == 4);
    const HistoryItem far[] = {{I(70), 0}};
    CHECK_THROWS_AS(rec.recommend(RecommendRequest{UserId(0), far, 0, 10, {}}, out), OutOfRange);
    const ItemId ex[] = {I(7)};
    CHECK_THROWS_AS(rec.recommend(RecommendRequest{UserId(0), ctx, 0, 10, ex}, out), OutOfRange);
    // A graph naming entities the map does not have.
    auto big = std::make_shared<const FeedbackGraph>(make_graph({FE{E(0), E(40), 1.0f, {}}}, 41));
    U2E2IRecall<FeedbackGraph> mismatch(big, s.map);
    CHECK_THROWS_AS(mismatch.recommend(RecommendRequest{UserId(0), ctx, 0, 10, {}}, out), OutOfRange);
    CHECK_THROWS_AS(U2E2IRecall<FeedbackGraph>(std::shared_ptr<const FeedbackGraph>{}, s.map), InvalidArgument);
    {  // scores that overflow float: an error naming the entity, not an inf/NaN ranking
        const std::vector<ItemEntityLink> links = {{I(0), E(0), 3e38f}, {I(1), E(0), 3e38f}, {I(2), E(1), 1.0f}};
        const ItemEntityMap huge(3, 2, links, std::vector<float>{1.0f, 1.0f, 1.0f});
        U2E2IOptions all;
        all.all_item_entities = true;
        all.recency_half_life = 0;
        U2E2IRecall<FeedbackGraph> heavy(std::make_shared<const FeedbackGraph>(make_graph({FE{E(0), E(1), 1.0f, {}}}, 2)), huge, all);
        const HistoryItem two[] = {{I(0), 0}, {I(1), 0}};  // trigger weight 6e38
        CHECK_THROWS_AS(heavy.recommend(RecommendRequest{UserId(0), two, 0, 10, {}}, out), Error);
        const ItemEntityMap plain = ItemEntityMap::from_primary(std::vector<EntityId>{E(0), E(1), E(2)}, 3);
        U2E2IRecall<FeedbackGraph> wide(std::make_shared<const FeedbackGraph>(make_graph({FE{E(0), E(2), 3e38f, {}}, FE{E(1), E(2), 3e38f, {}}}, 3)), plain);
        const HistoryItem both[] = {{I(0), 0}, {I(1), 0}};  // s(2) = 6e38
        CHECK_THROWS_AS(wide.recommend(RecommendRequest{UserId(0), both, 0, 10, {}}, out), Error);
        const HistoryItem one[] = {{I(0), 0}};  // s(2) = 3e38 is finite: item 2 is returned
        wide.recommend(RecommendRequest{UserId(0), one, 0, 10, {}}, out);
        CHECK(out.size() == 1);
    }
    U2E2IOptions o;
    o.min_prior = NAN;
    CHECK_THROWS_AS(U2E2IRecall<FeedbackGraph>(g, s.map, o), InvalidArgument);

    // A scorer that yields NaN is an error, not a silent NaN score.
    struct NanScorer {
        void score(const RecommendRequest&, std::span<const RecallCandidate>, std::span<float> l) const {
            for (auto& x : l) x = NAN;
        }
    };
    U2E2IRecall<FeedbackGraph, NanScorer> nan(g, s.map);
    CHECK_THROWS_AS(nan.recommend(RecommendRequest{UserId(0), ctx, 0, 10, {}}, out), Error);
}

TEST_CASE("u2e2i: a scorer reorders the candidates; max_candidates bounds what it sees") {
    Small s;
    auto g = std::make_shared<const FeedbackGraph>(s.graph);
    struct ByItemId {  // prefers larger item ids, records how many candidates it saw
        std::size_t seen = 0;
        void score(const RecommendRequest&, std::span<const RecallCandidate> c, std::span<float> l) {
            seen = c.size();
            for (std::size_t i = 0; i < c.size(); ++i) l[i] = static_cast<float>(c[i].item.value());
        }
    };
    U2E2IOptions opt;
    opt.max_candidates = 3;
    U2E2IRecall<FeedbackGraph, ByItemId> rec(g, s.map, opt);
    const HistoryItem ctx[] = {{I(0), 0}};
    std::vector<Recommendation> out;
    rec.recommend(RecommendRequest{UserId(0), ctx, 0, 10, {}}, out);
    CHECK(rec.scorer().seen == 3);  // of 4: the lowest path score (item 6, 0.09) is cut
    REQUIRE(out.size() == 3);
    CHECK(out[0].item == I(4));
    CHECK(out[1].item == I(3));
    CHECK(out[2].item == I(2));
}

TEST_CASE("u2e2i: a warm workspace allocates nothing") {
    Rng rng(3);
    const std::uint32_t ne = 2000, ni = 20000;
    std::vector<FE> edges;
    for (int k = 0; k < 20000; ++k)
        edges.push_back(FE{E(static_cast<std::uint32_t>(rng.uniform_int(ne))), E(static_cast<std::uint32_t>(rng.uniform_int(ne))),
                           static_cast<float>(rng.uniform()), {0.5f, 0, 0, 0}});
    GraphStore<FeedbackGraph> store(make_graph(edges, ne));
    std::vector<EntityId> primary(ni);
    for (auto& e : primary) e = E(static_cast<std::uint32_t>(rng.uniform_int(ne)));
    const auto map = ItemEntityMap::from_primary(primary, ne);
    U2E2IRecall<FeedbackGraph> rec(store, map);
    std::vector<std::vector<HistoryItem>> ctxs(50);
    for (auto& c : ctxs)
        for (int j = 0; j < 8; ++j) c.push_back({I(static_cast<std::uint32_t>(rng.uniform_int(ni))), j});
    std::vector<Recommendation> out;
    for (int pass = 0; pass < 2; ++pass)  // warm up: buffers reach their high-water mark
        for (const auto& c : ctxs) rec.recommend(RecommendRequest{UserId(0), c, 10, 200, {}}, out);
    const auto before = kerec_allocation_count();
    std::size_t total = 0;
    for (const auto& c : ctxs) {
        rec.recommend(RecommendRequest{UserId(0), c, 10, 200, {}}, out);
        total += out.size();
    }
    const auto during = kerec_allocation_count() - before;
    {  // the counter itself works
        std::vector<int> probe(1000, 1);
        CHECK(probe[999] == 1);
    }
    CHECK(during == 0);
    CHECK(kerec_allocation_count() - before == 1);
    CHECK(total > 0);
}

// ---- channel merging (recall/channel_merge.hpp) ----

namespace {

std::vector<Recommendation> ranked(std::initializer_list<std::uint32_t> ids, float top = 1.0f) {
    std::vector<Recommendation> v;
    float s = top;
    for (std::uint32_t i : ids) v.push_back(Recommendation{ItemId{i}, s, {}}), s -= 0.01f;
    return v;
}

std::vector<std::uint32_t> ids_of(const std::vector<Recommendation>& v) {
    std::vector<std::uint32_t> out;
    for (const auto& r : v) out.push_back(r.item.value());
    return out;
}

/// A channel that always returns the same list (truncated to k, context items dropped).
struct FixedChannel {
    std::vector<Recommendation> list;
    std::size_t calls = 0;
    void recommend(const RecommendRequest& r, std::vector<Recommendation>& out) {
        ++calls;
        out.clear();
        for (const auto& x : list) {
            if (out.size() >= r.k) break;
            if (std::none_of(r.context.begin(), r.context.end(), [&](const HistoryItem& h) { return h.item == x.item; })) out.push_back(x);
        }
    }
};
static_assert(Recommender<FixedChannel>);

}  // namespace

TEST_CASE("channel quotas: largest remainder, shares normalised, bad shares rejected") {
    std::array<std::size_t, 2> q2{};
    channel_quotas(std::array<double, 2>{0.7, 0.3}, 10, q2);
    CHECK(q2 == std::array<std::size_t, 2>{7, 3});
    channel_quotas(std::array<double, 2>{7.0, 3.0}, 10, q2);  // not normalised
    CHECK(q2 == std::array<std::size_t, 2>{7, 3});
    std::array<std::size_t, 3> q3{};
    channel_quotas(std::array<double, 3>{1, 1, 1}, 10, q3);
    CHECK(q3 == std::array<std::size_t, 3>{4, 3, 3});  // tie of remainders: the lower channel
    channel_quotas(std::array<double, 3>{0.5, 0.0, 0.5}, 3, q3);
    CHECK(q3 == std::array<std::size_t, 3>{2, 0, 1});  // a zero share never gets a slot
    channel_quotas(std::array<double, 2>{0.9, 0.1}, 0, q2);
    CHECK(q2 == std::array<std::size_t, 2>{0, 0});
    CHECK_THROWS_AS(channel_quotas(std::array<double, 2>{-0.1, 1.0}, 10, q2), InvalidArgument);
    CHECK_THROWS_AS(channel_quotas(std::array<double, 2>{std::nan(""), 1.0}, 10, q2), InvalidArgument);
    CHECK_THROWS_AS(channel_quotas(std::array<double, 2>{0.0, 0.0}, 10, q2), InvalidArgument);
    CHECK_THROWS_AS(channel_quotas(std::array<double, 2>{INFINITY, 1.0}, 10, q2), InvalidArgument);
    CHECK_THROWS_AS(channel_quotas(std::array<double, 3>{1, 1, 1}, 10, q2), InvalidArgument);
}

TEST_CASE("merge by quota: slots, interleaving by normalised rank, duplicates, unfilled slots, floors") {
    const auto a = ranked({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    std::vector<Recommendation> out;
    {
        const auto b = ranked({11, 12, 13});
        const std::array<std::span<const Recommendation>, 2> lists{a, b};
        merge_by_quota(lists, std::array<std::size_t, 2>{8, 2}, 10, out);
        // keys: a_r = (r + .5)/8, b_r = (r + .5)/2
        CHECK(ids_of(out) == std::vector<std::uint32_t>{1, 2, 11, 3, 4, 5, 6, 12, 7, 8});
        CHECK(out[2].score == doctest::Approx(1.0f));  // each item keeps its channel's score
    }
    {
        // b's best is already taken by a: b continues down its list; b runs out, a fills the rest.
        const auto b = ranked({1, 11});
        const std::array<std::span<const Recommendation>, 2> lists{a, b};
        merge_by_quota(lists, std::array<std::size_t, 2>{7, 3}, 10, out);
        auto got = ids_of(out);
        CHECK(got.size() == 10);
        std::sort(got.begin(), got.end());
        CHECK(got == std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 11});
    }
    {
        // A floor keeps b's unconfident items out; its slots go back to a.
        const auto b = ranked({11, 12}, 0.3f);
        const std::array<std::span<const Recommendation>, 2> lists{a, b};
        merge_by_quota(lists, std::array<std::size_t, 2>{8, 2}, 10, out, std::array<float, 2>{-1.0f, 0.295f});
        auto got = ids_of(out);
        std::sort(got.begin(), got.end());
        CHECK(got == std::vector<std::uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 11});  // 12 scored 0.29 < 0.295
    }
    {
        // Fewer items than slots overall; invalid ids skipped; k = 0 gives nothing.
        const auto b = std::vector<Recommendation>{{ItemId::invalid(), 1.0f, {}}, {ItemId{20}, 0.5f, {}}};
        const auto small = ranked({1, 2});
        const std::array<std::span<const Recommendation>, 2> lists{small, b};
        merge_by_quota(lists, std::array<std::size_t, 2>{5, 5}, 10, out);
        CHECK(ids_of(out) == std::vector<std::uint32_t>{1, 20, 2});
        merge_by_quota(lists, std::array<std::size_t, 2>{0, 0}, 0, out);
        CHECK(out.empty());
    }
    const std::array<std::span<const Recommendation>, 2> lists{a, a};
    CHECK_THROWS_AS(merge_by_quota(lists, std::array<std::size_t, 1>{10}, 10, out), InvalidArgument);
    CHECK_THROWS_AS(merge_by_quota(lists, std::array<std::size_t, 2>{5, 5}, 10, out, std::array<float, 1>{0.0f}), InvalidArgument);
}

TEST_CASE("merge by quota: against a brute-force count on random lists") {
    Rng rng(7);
    std::vector<Recommendation> out;
    for (int trial = 0; trial < 300; ++trial) {
        std::array<std::vector<Recommendation>, 3> lists;
        for (auto& l : lists) {
            const std::size_t len = rng.uniform_int(12);
            for (std::size_t j = 0; j < len; ++j) {
                const ItemId i{static_cast<std::uint32_t>(rng.uniform_int(20))};
                if (std::none_of(l.begin(), l.end(), [&](const Recommendation& r) { return r.item == i; }))
                    l.push_back({i, 1.0f - 0.01f * static_cast<float>(j), {}});
            }
        }
        const std::size_t k = rng.uniform_int(12);
        std::array<double, 3> shares{rng.uniform(), rng.uniform(), rng.uniform() + 0.01};
        std::array<std::size_t, 3> q{};
        channel_quotas(shares, k, q);
        const std::array<std::span<const Recommendation>, 3> views{lists[0], lists[1], lists[2]};
        merge_by_quota(views, q, k, out);
        std::vector<std::uint32_t> all;
        for (const auto& l : lists)
            for (const auto& r : l) all.push_back(r.item.value());
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        auto got = ids_of(out);
        CHECK(got.size() == std::min(k, all.size()));  // every slot filled while any channel has items
        std::sort(got.begin(), got.end());
        CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());  // distinct
        // Channel 0 goes first: its first q0 items (at most k) are always placed.
        for (std::size_t j = 0; j < std::min(q[0], lists[0].size()); ++j)
            CHECK(std::binary_search(got.begin(), got.end(), lists[0][j].item.value()));
    }
}

TEST_CASE("channel merger and filtered channel: Recommenders; share 0 is the first channel unchanged") {
    FixedChannel base{ranked({1, 2, 3, 4, 5, 6})};
    FixedChannel other{ranked({7, 2, 8, 9})};
    auto odd = [](ItemId i) { return i.value() % 2 == 1; };
    FilteredChannel<FixedChannel, decltype(odd)> odd_only(other, odd, 10);
    static_assert(Recommender<decltype(odd_only)>);
    std::vector<Recommendation> out;
    const std::vector<HistoryItem> ctx{{ItemId{1}, 0}};
    odd_only.recommend(RecommendRequest{UserId{0}, ctx, 0, 1, {}}, out);
    CHECK(ids_of(out) == std::vector<std::uint32_t>{7});  // asked for 10, kept the first odd one

    ChannelMerger<FixedChannel, decltype(odd_only)> merged({1.0, 0.0}, base, odd_only);
    static_assert(Recommender<decltype(merged)>);
    merged.recommend(RecommendRequest{UserId{0}, ctx, 0, 4, {}}, out);
    CHECK(ids_of(out) == std::vector<std::uint32_t>{2, 3, 4, 5});
    merged.set_shares({0.5, 0.5});
    merged.recommend(RecommendRequest{UserId{0}, ctx, 0, 4, {}}, out);
    CHECK(ids_of(out) == std::vector<std::uint32_t>{2, 7, 3, 9});
    merged.set_floors({-INFINITY, 0.995f});  // only 7 (score 1.0) clears the floor
    merged.recommend(RecommendRequest{UserId{0}, ctx, 0, 4, {}}, out);
    CHECK(ids_of(out) == std::vector<std::uint32_t>{2, 3, 7, 4});
    CHECK_THROWS_AS(merged.set_shares({0.0, 0.0}), InvalidArgument);
    CHECK_THROWS_AS(merged.set_floors({0.0f, std::nanf("")}), InvalidArgument);
    CHECK(merged.shares()[0] == 0.5);  // a rejected update changes nothing
}

TEST_CASE("u2e2i: without a lookup, explanations carry the rationale the graph holds for the edge") {
    // entity 0 -> 1 (yes, with a rationale), 0 -> 2 (yes, none); items: 0 -> e0, 1 -> e1, 2 -> e2
    const std::vector<Judgment> js = {{EntityId(0), EntityId(1), Label::yes, 0.9f, "chips go with salsa", "m", "v1", 0},
                                      {EntityId(0), EntityId(2), Label::yes, 0.7f, "", "m", "v1", 0}};
    GraphBuildOptions o;
    o.node_count = 3;
    o.threads = 1;
    GraphStore<FeedbackGraph> store(build_graph<EdgeFeedback>(js, o));
    const ItemEntityMap map = ItemEntityMap::from_primary(std::vector<EntityId>{EntityId(0), EntityId(1), EntityId(2)}, 3,
                                                          std::vector<float>{1.0f, 1.0f, 1.0f});
    U2E2IRecall<FeedbackGraph> recall(store, map);
    const std::vector<HistoryItem> ctx = {{ItemId(0), 0}};
    std::vector<Recommendation> out;
    recall.recommend(RecommendRequest{UserId(0), ctx, 0, 5, {}}, out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].item == ItemId(1));
    CHECK(out[0].why.rationale == "chips go with salsa");
    CHECK(out[1].why.rationale.empty());
    // a caller's lookup overrides the graph's text
    U2E2IRecall<FeedbackGraph> custom(store, map, {}, {}, [](EntityId, EntityId) -> std::string_view { return "mine"; });
    custom.recommend(RecommendRequest{UserId(0), ctx, 0, 5, {}}, out);
    CHECK(out[0].why.rationale == "mine");
}
