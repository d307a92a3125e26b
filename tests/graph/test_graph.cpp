#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/complementary_graph.hpp>
#include <kerec/graph/io.hpp>
#include <kerec/graph/sampler.hpp>

using namespace kerec;

namespace {

using G = ComplementaryGraph<EntityId, NoPayload>;
using B = GraphBuilder<EntityId, NoPayload>;
using E = GraphEdge<EntityId, NoPayload>;

EntityId eid(std::uint32_t v) { return EntityId(v); }

Judgment judgment(std::uint32_t a, std::uint32_t b, Label label, float confidence, std::string rationale = "",
                  std::int64_t time = 0) {
    return Judgment{.a = eid(a), .b = eid(b), .label = label, .confidence = confidence, .rationale = std::move(rationale),
                    .model = "m", .prompt_version = "v1", .time = time};
}

std::vector<E> random_edges(std::size_t n_nodes, std::size_t m, std::uint64_t seed, bool loops = true) {
    Rng rng(seed);
    std::vector<E> es;
    for (std::size_t i = 0; i < m; ++i) {
        auto a = static_cast<std::uint32_t>(rng.uniform_int(n_nodes));
        auto b = static_cast<std::uint32_t>(rng.uniform_int(n_nodes));
        if (!loops && a == b) continue;
        // few distinct weights so ties happen
        es.push_back(E{eid(a), eid(b), static_cast<float>(rng.uniform_int(8)) / 8.0f, {}});
    }
    return es;
}

// Brute-force reference: map (from, to) -> weight under a policy.
std::map<std::pair<std::uint32_t, std::uint32_t>, float> reference(const std::vector<E>& es, DuplicatePolicy pol,
                                                                   bool sym, SelfLoopPolicy loops, float minw) {
    std::map<std::pair<std::uint32_t, std::uint32_t>, float> m;
    auto put = [&](std::uint32_t a, std::uint32_t b, float w) {
        auto key = std::make_pair(a, b);
        auto it = m.find(key);
        if (it == m.end()) {
            m[key] = w;
            return;
        }
        switch (pol) {
            case DuplicatePolicy::keep_first: break;
            case DuplicatePolicy::keep_last: it->second = w; break;
            case DuplicatePolicy::keep_max: it->second = std::max(it->second, w); break;
            case DuplicatePolicy::sum: it->second += w; break;
        }
    };
    for (const auto& e : es) {
        if (e.from == e.to) {
            if (loops == SelfLoopPolicy::keep) put(e.from.value(), e.to.value(), e.weight);
            continue;
        }
        put(e.from.value(), e.to.value(), e.weight);
        if (sym) put(e.to.value(), e.from.value(), e.weight);
    }
    for (auto it = m.begin(); it != m.end();) it = it->second < minw ? m.erase(it) : std::next(it);
    return m;
}

void check_against(const G& g, const std::map<std::pair<std::uint32_t, std::uint32_t>, float>& ref, std::size_t n) {
    REQUIRE(g.edge_count() == ref.size());
    const auto lookup = detail::GraphAccess::lookup(g);
    for (std::uint32_t a = 0; a < n; ++a) {
        const auto row = g.neighbors(eid(a));
        for (std::size_t j = 1; j < row.size(); ++j) {
            // sorted by weight desc, ties by target asc; the lookup orders the row by target
            REQUIRE((row.weights[j - 1] > row.weights[j] ||
                     (row.weights[j - 1] == row.weights[j] && row.targets[j - 1] < row.targets[j])));
            REQUIRE(row.targets[lookup[row.first + j - 1]] < row.targets[lookup[row.first + j]]);
        }
    }
    for (const auto& [k, w] : ref) {
        const auto got = g.weight(eid(k.first), eid(k.second));
        REQUIRE(got.has_value());
        CHECK(*got == doctest::Approx(w));
    }
}

}  // namespace

TEST_CASE("graph: empty graph and out-of-range ids are well defined") {
    G g;
    CHECK(g.node_count() == 0);
    CHECK(g.edge_count() == 0);
    CHECK(g.neighbors(eid(3)).empty());
    CHECK(g.degree(EntityId::invalid()) == 0);
    CHECK(g.find(eid(0), eid(1)) == G::npos);
    CHECK(!g.weight(eid(0), eid(1)));
    CHECK(edges(g).begin() == edges(g).end());
    auto built = B::build(std::span<const E>{}, {});
    CHECK(built.edge_count() == 0);
}

TEST_CASE("graph: small build, rows sorted by weight, top_k is a prefix, lookup") {
    B b;
    b.add_edge(eid(0), eid(2), 0.5f);
    b.add_edge(eid(0), eid(1), 0.9f);
    b.add_edge(eid(0), eid(3), 0.7f);
    b.add_edge(eid(0), eid(1), 0.2f);  // duplicate, keep_max keeps 0.9
    b.add_edge(eid(2), eid(2), 1.0f);  // self-loop dropped by default
    b.add_edge(eid(4), eid(0), 0.1f);
    G g = b.build();
    CHECK(b.pending() == 0);
    CHECK(g.node_count() == 5);
    CHECK(g.edge_count() == 4);
    const auto row = g.neighbors(eid(0));
    REQUIRE(row.size() == 3);
    CHECK(row.targets[0] == eid(1));
    CHECK(row.targets[1] == eid(3));
    CHECK(row.targets[2] == eid(2));
    CHECK(row.weights[0] == doctest::Approx(0.9f));
    const auto top = g.top_k(eid(0), 2);
    CHECK(top.size() == 2);
    CHECK(top.targets.data() == row.targets.data());
    CHECK(g.top_k(eid(0), 100).size() == 3);
    CHECK(g.degree(eid(2)) == 0);
    CHECK(g.degree(eid(4)) == 1);
    CHECK(*g.weight(eid(0), eid(3)) == doctest::Approx(0.7f));
    CHECK(!g.weight(eid(3), eid(0)));
    CHECK(!g.has_edge(eid(2), eid(2)));
    CHECK(g.source(g.find(eid(4), eid(0))) == eid(4));
    CHECK(!g.has_rationales());
    CHECK(g.rationale(0).empty());
    CHECK(g.memory_bytes() == 6 * 8 + 4 * (4 + 4 + 2));
}

TEST_CASE("graph: rows iterate as [target, weight]; edges(g) streams every edge with its source") {
    const auto es = random_edges(30, 200, 4);
    const G g = B::build(es, {});
    std::uint64_t seen = 0;
    for (std::uint32_t a = 0; a < g.node_count(); ++a) {
        const auto row = g.neighbors(eid(a));
        std::size_t k = 0;
        for (auto [target, weight] : row) {  // the iteration equals the struct-of-arrays access
            REQUIRE(k < row.size());
            CHECK(target == row.targets[k]);
            CHECK(weight == row.weights[k]);
            CHECK(row[k].target == target);
            ++k;
        }
        CHECK(k == row.size());
        seen += k;
    }
    CHECK(seen == g.edge_count());
    // edges(g): sources ascending, each row in its order, empty rows skipped, index() = edge index
    std::vector<std::tuple<std::uint32_t, std::uint32_t, float>> streamed, by_rows;
    for (auto [source, target, weight, payload] : edges(g)) {
        static_assert(std::is_same_v<decltype(payload), NoPayload>);
        streamed.emplace_back(source.value(), target.value(), weight);
    }
    for (std::uint32_t a = 0; a < g.node_count(); ++a)
        for (auto [t, w] : g.neighbors(eid(a))) by_rows.emplace_back(a, t.value(), w);
    CHECK(streamed == by_rows);
    std::uint64_t i = 0;
    const auto range = edges(g);
    for (auto it = range.begin(); it != range.end(); ++it, ++i) {
        CHECK(it.index() == i);
        CHECK((*it).source == g.source(i));
    }
    CHECK(range.size() == g.edge_count());
}

TEST_CASE("graph: bad input is rejected with InvalidArgument") {
    B b;
    CHECK_THROWS_AS(b.add_edge(EntityId::invalid(), eid(1), 1.0f), InvalidArgument);
    CHECK_THROWS_AS(b.add_edge(eid(0), eid(1), std::nanf("")), InvalidArgument);
    CHECK_THROWS_AS(b.add_edge(eid(0), eid(1), INFINITY), InvalidArgument);
    std::vector<E> es{{eid(0), eid(9), 1.0f, {}}};
    GraphBuildOptions o;
    o.node_count = 5;
    CHECK_THROWS_AS(B::build(es, o), InvalidArgument);
    std::vector<E> loop{{eid(1), eid(1), 1.0f, {}}};
    GraphBuildOptions r;
    r.self_loops = SelfLoopPolicy::reject;
    CHECK_THROWS_AS(B::build(loop, r), InvalidArgument);
    r.self_loops = SelfLoopPolicy::keep;
    CHECK(B::build(loop, r).has_edge(eid(1), eid(1)));
}

TEST_CASE("graph: random builds match a brute-force reference for every policy") {
    for (auto pol : {DuplicatePolicy::keep_max, DuplicatePolicy::keep_first, DuplicatePolicy::keep_last,
                     DuplicatePolicy::sum}) {
        for (bool sym : {false, true}) {
            for (auto loops : {SelfLoopPolicy::drop, SelfLoopPolicy::keep}) {
                const auto es = random_edges(50, 600, 7 + static_cast<int>(pol));
                GraphBuildOptions o;
                o.duplicates = pol;
                o.symmetrise = sym;
                o.self_loops = loops;
                o.min_weight = 0.2f;
                const G g = B::build(es, o);
                check_against(g, reference(es, pol, sym, loops, 0.2f), 50);
            }
        }
    }
}

TEST_CASE("graph: large parallel build (several sorters, dense rows) matches the reference") {
    // A hub row with 60k distinct targets (the 16-bit in-row positions near their limit).
    std::vector<E> es = random_edges(40000, 200000, 99);
    for (std::uint32_t t = 0; t < 60000; ++t) es.push_back(E{eid(123), eid(t), static_cast<float>(t % 97) / 97.0f, {}});
    for (auto pol : {DuplicatePolicy::keep_first, DuplicatePolicy::keep_last}) {
        GraphBuildOptions o;
        o.threads = 3;
        o.node_count = 70000;
        o.duplicates = pol;
        int calls = 0;
        o.progress = [&](const Progress&) { ++calls; };
        const G g = B::build(es, o);
        CHECK(calls > 0);
        CHECK(g.node_count() == 70000);
        check_against(g, reference(es, pol, false, SelfLoopPolicy::drop, -1.0f), 70000);
        CHECK(!g.has_edge(eid(123), eid(123)));  // self-loop dropped
        CHECK(g.degree(eid(123)) >= 59999);
        // one thread gives the very same snapshot (each row is scattered by one sorter, in input order)
        o.threads = 1;
        CHECK(same_content(g, B::build(es, o)));
    }
    // A row beyond 2^16 distinct targets is refused with a message naming the node.
    std::vector<E> hub;
    for (std::uint32_t t = 0; t < 70000; ++t) hub.push_back(E{eid(7), eid(t), 1.0f, {}});
    try {
        (void)B::build(hub, {});
        FAIL("accepted a row of 70000 edges");
    } catch (const InvalidArgument& e) {
        CHECK(std::string(e.what()).find("node 7 has 69999") != std::string::npos);
    }
}

TEST_CASE("graph: every row size (ranked, sorted) with ties, -0 and duplicates matches the reference") {
    Rng rng(17);
    std::vector<E> es;
    const std::uint32_t n = 1200;
    for (std::uint32_t r = 0; r < 700; ++r) {
        for (std::uint32_t k = 0; k < r; ++k) {
            const auto t = static_cast<std::uint32_t>(rng.uniform_int(n));
            es.push_back(E{eid(r), eid(t), static_cast<float>(rng.uniform_int(5)) * 0.25f - 0.5f, {}});
            if (r % 3 == 0 && k % 7 == 0) es.push_back(E{eid(r), eid(t), -0.0f, {}});  // duplicate, -0 weight
        }
    }
    for (auto pol : {DuplicatePolicy::keep_max, DuplicatePolicy::keep_last, DuplicatePolicy::sum}) {
        GraphBuildOptions o;
        o.duplicates = pol;
        o.node_count = n;
        const G g = B::build(es, o);
        check_against(g, reference(es, pol, false, SelfLoopPolicy::drop, -INFINITY), n);
        // a serialised copy passes the loader's full validation
        CHECK(same_content(graph_from_buffer<G>(serialize_graph(g)), g));
    }
}

TEST_CASE("graph: the edge rule — the latest judgment of a pair decides, only a yes is an edge") {
    std::vector<Judgment> js{
        judgment(0, 1, Label::yes, 0.9f, "chips need salsa"),
        judgment(0, 2, Label::no, 0.8f),        // no edge
        judgment(0, 3, Label::no, 0.3f),        // a weak "no" is still no edge (was 0.70 before)
        judgment(1, 0, Label::unknown, 0.0f),   // no edge
        judgment(2, 1, Label::yes, 0.4f, "x"),  // a weak "yes" is an edge (was dropped before)
        judgment(3, 0, Label::yes, 0.7f, "old", 5),
        judgment(3, 0, Label::no, 0.9f, "", 6),   // a later "no" removes it
        judgment(3, 2, Label::no, 0.9f, "", 6),
        judgment(3, 2, Label::yes, 0.6f, "new", 9),  // a later "yes" adds it
        judgment(4, 0, Label::yes, 0.5f, "first", 3),
        judgment(4, 0, Label::yes, 0.8f, "second", 3),  // same time: the one added last wins
        judgment(5, 6, Label::yes, 0.2f, "late", 20),
        judgment(5, 6, Label::yes, 0.95f, "earlier, added later", 10),  // time decides, not order
    };
    const G g = build_graph(js);
    CHECK(g.edge_count() == 5);
    CHECK(*g.weight(eid(0), eid(1)) == doctest::Approx(0.9f));
    CHECK(!g.has_edge(eid(0), eid(2)));
    CHECK(!g.has_edge(eid(0), eid(3)));
    CHECK(!g.has_edge(eid(1), eid(0)));
    CHECK(*g.weight(eid(2), eid(1)) == doctest::Approx(0.4f));
    CHECK(!g.has_edge(eid(3), eid(0)));
    CHECK(*g.weight(eid(3), eid(2)) == doctest::Approx(0.6f));
    CHECK(*g.weight(eid(4), eid(0)) == doctest::Approx(0.8f));
    CHECK(*g.weight(eid(5), eid(6)) == doctest::Approx(0.2f));
    // the way back to the rationale, O(1) per edge
    CHECK(g.has_rationales());
    CHECK(g.rationale(g.find(eid(0), eid(1))) == "chips need salsa");
    CHECK(g.rationale(g.find(eid(3), eid(2))) == "new");
    CHECK(g.rationale(g.find(eid(4), eid(0))) == "second");
    CHECK(g.neighbors(eid(5)).rationale(0) == "late");
    CHECK(g.rationales()->size() == 6);  // "", and only the strings the edges use
    // the order of the input does not matter
    const std::vector<Judgment> reversed(js.rbegin(), js.rend());
    const G r = build_graph(reversed);
    CHECK(r.edge_count() == 5);
    CHECK(*r.weight(eid(4), eid(0)) == doctest::Approx(0.5f));  // ...except among equal times: last added wins

    // Options without spelling out anything else: min_confidence, progress, no rationales.
    int progress_calls = 0;
    const G strict = build_graph(js, {.min_confidence = 0.6f, .progress = [&](const Progress&) { ++progress_calls; }});
    CHECK(strict.edge_count() == 3);  // 0.9, 0.6, 0.8 pass; 0.4 and 0.2 do not
    CHECK(progress_calls >= 4);       // start and end of two stages
    CHECK(!build_graph(js, {.rationales = false}).has_rationales());
    CHECK(build_graph(js, {.rationales = false}).memory_bytes() < g.memory_bytes());

    // Bad judgments name the judgment.
    std::vector<Judgment> bad{judgment(0, 1, Label::yes, std::nanf(""))};
    CHECK_THROWS_AS(build_graph(bad), InvalidArgument);
    bad[0].confidence = 1.5f;
    CHECK_THROWS_AS(build_graph(bad), InvalidArgument);
    bad[0] = judgment(0, 1, Label::no, -0.1f);  // a "no" with a bad confidence is bad data too
    CHECK_THROWS_AS(build_graph(bad), InvalidArgument);
    bad[0] = judgment(0, 1, Label::yes, 0.5f);
    bad[0].a = EntityId::invalid();
    CHECK_THROWS_AS(build_graph(bad), InvalidArgument);
}

TEST_CASE("graph: judgments and raw edges mix; duplicates with raw edges follow the policy") {
    B b({.duplicates = DuplicatePolicy::keep_max});
    b.add_edge(eid(0), eid(1), 0.95f);
    b.add(judgment(0, 1, Label::yes, 0.5f, "llm"));
    b.add(judgment(0, 2, Label::yes, 0.5f, "llm2"));
    const G g = b.build();
    CHECK(g.edge_count() == 2);
    CHECK(*g.weight(eid(0), eid(1)) == doctest::Approx(0.95f));
    CHECK(g.rationale(g.find(eid(0), eid(1))).empty());  // the raw edge won, it has no rationale
    CHECK(g.rationale(g.find(eid(0), eid(2))) == "llm2");
}

TEST_CASE("graph: incremental merge equals a rebuild and keeps untouched rows") {
    for (auto pol : {DuplicatePolicy::keep_max, DuplicatePolicy::keep_first, DuplicatePolicy::keep_last,
                     DuplicatePolicy::sum}) {
        const auto base_edges = random_edges(300, 3000, 5);
        const auto delta = random_edges(400, 200, 6);  // also adds new nodes
        GraphBuildOptions o;
        o.duplicates = pol;
        const G base = B::build(base_edges, o).with_version(3).with_time(77);
        const G merged = B::merge(base, delta, o);
        CHECK(merged.version() == 3);
        CHECK(merged.time() == 77);
        std::vector<E> all = base_edges;
        all.insert(all.end(), delta.begin(), delta.end());
        if (pol == DuplicatePolicy::sum) {
            // sum within the base first, then add the delta: same as summing all
            check_against(merged, reference(all, pol, false, SelfLoopPolicy::drop, -1.0f), 400);
        } else {
            CHECK(same_content(merged, B::build(all, o)));
        }
        // a row the delta does not touch has identical content
        std::uint32_t untouched = 0;
        while (std::any_of(delta.begin(), delta.end(), [&](const E& e) { return e.from == eid(untouched); }))
            ++untouched;
        const auto r0 = base.neighbors(eid(untouched)), r1 = merged.neighbors(eid(untouched));
        CHECK(std::equal(r0.targets.begin(), r0.targets.end(), r1.targets.begin(), r1.targets.end()));
        CHECK(std::equal(r0.weights.begin(), r0.weights.end(), r1.weights.begin(), r1.weights.end()));
    }
    // The base's node count survives a merge that touches only low ids.
    const G wide = B::build(std::vector<E>{{eid(0), eid(99), 1.0f, {}}}, {});
    CHECK(B::merge(wide, std::vector<E>{{eid(0), eid(1), 0.5f, {}}}, {}).node_count() == 100);
}

TEST_CASE("graph: weighted neighbour sampler follows the weights (chi-square) and is seeded") {
    std::vector<E> es;
    const std::vector<float> w{5.0f, 3.0f, 1.0f, 1.0f, 0.5f, 0.25f, 0.0f, 2.0f};
    for (std::uint32_t t = 0; t < w.size(); ++t) es.push_back(E{eid(0), eid(t + 1), w[t], {}});
    for (std::uint32_t t = 4; t <= 6; ++t) es.push_back(E{eid(2), eid(t), 0.0f, {}});  // all-zero row: uniform
    const G g = B::build(es, {});
    const NeighborSampler<G> sampler(g);
    double total = 0;
    for (float x : w) total += x;
    const auto row = g.neighbors(eid(0));
    auto chi_square = [&](const std::vector<double>& expected_share, std::uint64_t seed) {
        constexpr int draws = 200000;
        std::vector<double> count(row.size(), 0.0);
        Rng rng(seed);
        for (int k = 0; k < draws; ++k) {
            const auto i = sampler.sample(eid(0), rng);
            REQUIRE(i != G::npos);
            REQUIRE(i >= row.first);
            REQUIRE(i < row.first + row.size());
            count[i - row.first] += 1;
        }
        double chi = 0;
        for (std::size_t k = 0; k < row.size(); ++k) {
            const double e = expected_share[k] * draws;
            if (e == 0) {
                CHECK(count[k] == 0);  // a zero weight is never drawn
                continue;
            }
            chi += (count[k] - e) * (count[k] - e) / e;
        }
        return chi;
    };
    std::vector<double> share, uniform;
    for (std::size_t k = 0; k < row.size(); ++k) share.push_back(row.weights[k] / total);
    for (std::size_t k = 0; k < row.size(); ++k) uniform.push_back(row.weights[k] > 0 ? 1.0 / 7.0 : 0.0);
    for (std::size_t k = 0; k < row.size(); ++k) CHECK(sampler.probability(row.first + k) == doctest::Approx(share[k]));
    // 6 degrees of freedom (7 non-zero cells): P(chi2 > 40) < 1e-6
    CHECK(chi_square(share, 1) < 40.0);
    CHECK(chi_square(share, 2) < 40.0);
    CHECK(chi_square(uniform, 1) > 1000.0);  // the statistic does tell a wrong distribution apart
    // seeded: the same seed gives the same draws
    Rng a(9), b(9);
    for (int k = 0; k < 100; ++k) CHECK(sampler.sample(eid(0), a) == sampler.sample(eid(0), b));
    // an all-zero row is drawn uniformly; nodes without edges give npos
    Rng rng(3);
    std::set<std::uint32_t> seen;
    for (int k = 0; k < 200; ++k) seen.insert(sampler.sample_target(eid(2), rng)->value());
    CHECK(seen == std::set<std::uint32_t>{4, 5, 6});
    CHECK(sampler.sample(eid(1), rng) == G::npos);
    CHECK(!sampler.sample_target(eid(999), rng));
    // negative weights cannot be sampled
    CHECK_THROWS_AS(NeighborSampler<G>(B::build(std::vector<E>{{eid(0), eid(1), -1.0f, {}}}, {})), InvalidArgument);
}

// ------------------------------------------------------------------------------------------
// Feedback-learned weights

#include <kerec/core/item_entity_map.hpp>
#include <kerec/core/stats.hpp>
#include <kerec/graph/baskets.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/sim/score.hpp>
#include <kerec/sim/world.hpp>

namespace {

using FB = GraphBuilder<EntityId, EdgeFeedback>;

Event ev(std::uint32_t user, std::uint32_t item, std::int64_t t, EventKind k, std::uint16_t pos, ItemId trigger) {
    return Event{.user = UserId(user), .item = ItemId(item), .time = t, .kind = k, .position = pos, .trigger = trigger};
}

ItemEntityMap map_of(std::vector<EntityId> entity_of_item, std::size_t entities) {
    return ItemEntityMap::from_primary(entity_of_item, entities);
}

// The attribution test's log: entity 2 is always clicked after purchases of entity 0, and bought
// after 4 of the 10 clicks.
std::vector<Event> attribution_log() {
    std::vector<Event> log;
    const ItemId bought(0);
    for (int k = 0; k < 10; ++k) {
        log.push_back(ev(1, 0, 100 * k, EventKind::bill, 0, ItemId{}));
        log.push_back(ev(1, 2, 100 * k + 1, EventKind::exposure, 0, bought));
        log.push_back(ev(1, 3, 100 * k + 1, EventKind::exposure, 1, bought));
        log.push_back(ev(1, 3, 100 * k + 2, EventKind::click, 1, bought));  // entity 2 always clicked
        if (k < 4) log.push_back(ev(1, 3, 100 * k + 50, EventKind::bill, 0, ItemId{}));  // purchase within window
    }
    log.push_back(ev(1, 4, 2000, EventKind::exposure, 0, bought));      // unmapped item
    log.push_back(ev(1, 0, 2000, EventKind::exposure, 0, ItemId(2)));   // 1 -> 0 is not an edge
    log.push_back(ev(1, 3, 2001, EventKind::exposure, 0, ItemId{}));    // no trigger
    return log;
}

}  // namespace

TEST_CASE("feedback: attribution, Beta posterior, purchases, decay, stats") {
    // items 0,1 -> entity 0; item 2 -> entity 1; item 3 -> entity 2; item 4 unmapped
    const auto items = map_of({EntityId(0), EntityId(0), EntityId(1), EntityId(2), EntityId::invalid()}, 3);
    std::vector<Judgment> js{judgment(0, 1, Label::yes, 0.8f, "goes with"), judgment(0, 2, Label::yes, 0.6f, "pairs")};
    const auto g = build_graph<EdgeFeedback>(js);
    CHECK(g.top_k(EntityId(0), 1).targets[0] == EntityId(1));  // prior order
    const auto log = attribution_log();
    FeedbackOptions o;
    o.half_life = 0;  // no decay
    o.prior_strength = 4;
    o.prior_scale = 0.5;
    o.purchase_window = 100;
    const auto r = FeedbackLearner(o).learn(g, log, items);
    CHECK(r.stats.exposures == 23);
    CHECK(r.stats.clicks == 10);
    CHECK(r.stats.bills == 14);
    CHECK(r.stats.attributed_exposures == 20);
    CHECK(r.stats.attributed_clicks == 10);
    CHECK(r.stats.attributed_purchases == 4);
    CHECK(r.stats.no_edge == 1);
    CHECK(r.stats.unmapped == 2);
    CHECK(r.graph.time() == 2001);
    const auto e2 = r.graph.payload_at(r.graph.find(EntityId(0), EntityId(2)));
    CHECK(e2.exposures == doctest::Approx(10));
    CHECK(e2.clicks == doctest::Approx(10));
    CHECK(e2.purchases == doctest::Approx(4));
    CHECK(e2.prior == doctest::Approx(0.6f));
    // the learned and the prior weight of an edge, side by side
    CHECK(*prior_weight(r.graph, EntityId(0), EntityId(2)) == doctest::Approx(0.6f));
    CHECK(!prior_weight(r.graph, EntityId(2), EntityId(0)));
    // alpha = 4 * 0.3 + 10 + 4, beta = 4 * 0.7 + 0
    CHECK(*r.graph.weight(EntityId(0), EntityId(2)) == doctest::Approx((1.2 + 14) / (1.2 + 14 + 2.8)));
    // alpha = 4 * 0.4, beta = 4 * 0.6 + 10
    CHECK(*r.graph.weight(EntityId(0), EntityId(1)) == doctest::Approx(1.6 / 14.0));
    CHECK(r.graph.top_k(EntityId(0), 1).targets[0] == EntityId(2));  // feedback reordered the row...
    CHECK(r.graph.neighbors(EntityId(0)).rationale(0) == "pairs");   // ...and the rationales moved with it
    CHECK(r.graph.rationale(r.graph.find(EntityId(0), EntityId(1))) == "goes with");
    CHECK(r.graph.rationales() == g.rationales());  // one pool shared by the snapshots
    for (auto [a, b, w, f] : edges(r.graph)) CHECK(f.prior == *prior_weight(g, a, b));

    // Decay: with a half-life of 1000 s, an exposure at t = now - 1000 counts 1/2.
    FeedbackOptions d = o;
    d.half_life = 1000;
    d.now = 3000;
    std::vector<Event> one{ev(2, 2, 2000, EventKind::exposure, 0, ItemId(0))};
    const auto r2 = FeedbackLearner(d).learn(r.graph, one, items);
    const auto e1 = r2.graph.payload_at(r2.graph.find(EntityId(0), EntityId(1)));
    // old stats (time 2001) decay by 2^-(999/1000), plus the new exposure's 1/2
    CHECK(e1.exposures == doctest::Approx(10 * std::exp2(-0.999) + 0.5).epsilon(1e-4));
    CHECK(r2.graph.time() == 3000);
    // Position weights make a lower slot count less.
    FeedbackOptions p = o;
    p.position_weight = {1.0, 0.5};
    const auto r3 = FeedbackLearner(p).learn(g, log, items);
    CHECK(r3.graph.payload_at(r3.graph.find(EntityId(0), EntityId(2))).exposures == doctest::Approx(5));
    // Bad options
    FeedbackOptions bad;
    bad.prior_strength = std::nan("");
    CHECK_THROWS_AS(FeedbackLearner{bad}, InvalidArgument);
    bad = FeedbackOptions{};
    bad.position_weight = {1.0, -1.0};
    CHECK_THROWS_AS(FeedbackLearner(bad).learn(g, log, items), InvalidArgument);
    bad.position_weight = {1.0, 1e9};
    CHECK_THROWS_AS(FeedbackLearner(bad).learn(g, log, items), InvalidArgument);
}

TEST_CASE("feedback: a log out of time order gives the same counts; views are not feedback") {
    const auto items = map_of({EntityId(0), EntityId(0), EntityId(1), EntityId(2), EntityId::invalid()}, 3);
    const auto g = build_graph<EdgeFeedback>(std::vector<Judgment>{judgment(0, 1, Label::yes, 0.8f), judgment(0, 2, Label::yes, 0.6f)});
    FeedbackOptions o;
    o.half_life = 0;
    o.purchase_window = 100;
    const auto log = attribution_log();
    const auto sorted = FeedbackLearner(o).learn(g, log, items);
    REQUIRE(sorted.stats.attributed_purchases == 4);
    std::vector<Event> reversed(log.rbegin(), log.rend());  // bills before the clicks they follow
    const auto r = FeedbackLearner(o).learn(g, reversed, items);
    CHECK(r.stats.attributed_purchases == 4);
    CHECK(r.stats.attributed_clicks == sorted.stats.attributed_clicks);
    CHECK(same_content(r.graph, sorted.graph));
    // Views between the exposures, even of graph edges, change nothing.
    std::vector<Event> with_views = log;
    for (int k = 0; k < 30; ++k) with_views.push_back(ev(1, 3, 100 * k + 3, EventKind::view, 0, ItemId(0)));
    const auto v = FeedbackLearner(o).learn(g, with_views, items);
    CHECK(v.stats.exposures == sorted.stats.exposures);
    CHECK(v.stats.clicks == sorted.stats.clicks);
    CHECK(v.stats.unmapped == sorted.stats.unmapped);
    CHECK(same_content(v.graph.with_time(0), sorted.graph.with_time(0)));
}

TEST_CASE("feedback: ids outside the item map throw naming the event; invalid ids are unmapped") {
    const auto items = map_of({EntityId(0), EntityId(1)}, 2);
    const auto g = build_graph<EdgeFeedback>(std::vector<Judgment>{judgment(0, 1, Label::yes, 0.8f)});
    std::vector<Event> log{ev(0, 1, 1, EventKind::exposure, 0, ItemId(0)), ev(0, 1, 2, EventKind::exposure, 0, ItemId(0)),
                           ev(0, 7, 3, EventKind::exposure, 0, ItemId(0))};
    auto expect = [&](const std::vector<Event>& events, const std::string& needle) {
        try {
            (void)FeedbackLearner().learn(g, events, items);
            FAIL("accepted an out-of-range id, expected '" << needle << "'");
        } catch (const OutOfRange& e) {
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    expect(log, "event 2 has item 7 (expected < 2");
    log[2] = ev(0, 1, 3, EventKind::click, 0, ItemId(9));
    expect(log, "event 2 has trigger item 9");
    log[2] = ev(0, 5, 3, EventKind::bill, 0, ItemId{});
    expect(log, "event 2 has item 5");
    FeedbackOptions est;
    est.estimate_position_bias = true;
    log[2] = ev(0, 1, 3, EventKind::click, 0, ItemId(9));
    CHECK_THROWS_AS(FeedbackLearner(est).learn(g, log, items), OutOfRange);
    log[2] = ev(0, 1, 3, EventKind::exposure, 0, ItemId::invalid());  // "none": counted, not thrown
    const auto r = FeedbackLearner().learn(g, log, items);
    CHECK(r.stats.unmapped == 1);
    CHECK(r.stats.attributed_exposures == 2);
}

TEST_CASE("feedback: Thompson draws are seeded and only for young edges") {
    std::vector<Judgment> js;
    for (std::uint32_t b = 1; b < 40; ++b) js.push_back(judgment(0, b, Label::yes, 0.7f));
    const auto g = build_graph<EdgeFeedback>(js);
    std::vector<EntityId> identity;
    for (std::uint32_t i = 0; i < 40; ++i) identity.push_back(EntityId(i));
    const auto items = map_of(identity, 40);
    std::vector<Event> log;
    for (int k = 0; k < 50; ++k) log.push_back(ev(0, 1, k, EventKind::exposure, 0, ItemId(0)));  // edge 0->1 is old
    FeedbackOptions o;
    o.thompson = true;
    o.young_exposures = 10;
    o.seed = 1;
    const auto a = FeedbackLearner(o).learn(g, log, items).graph;
    const auto b = FeedbackLearner(o).learn(g, log, items).graph;
    CHECK(same_content(a, b));
    o.seed = 2;
    const auto c = FeedbackLearner(o).learn(g, log, items).graph;
    CHECK(!same_content(a, c));
    o.thompson = false;
    const auto mean = FeedbackLearner(o).learn(g, log, items).graph;
    CHECK(*a.weight(EntityId(0), EntityId(1)) == *mean.weight(EntityId(0), EntityId(1)));  // old edge: posterior mean
    std::set<float> young;
    for (std::uint32_t t = 2; t < 40; ++t) young.insert(*a.weight(EntityId(0), EntityId(t)));
    CHECK(young.size() > 30);  // young edges: distinct draws
    for (float w : young) CHECK((w >= 0.0f && w <= 1.0f));
}

TEST_CASE("feedback: new judgments merge into a learned graph without losing feedback") {
    auto g = build_graph<EdgeFeedback>(std::vector<Judgment>{judgment(0, 1, Label::yes, 0.8f, "a"), judgment(2, 1, Label::yes, 0.8f, "c")});
    const auto items = map_of({EntityId(0), EntityId(1), EntityId(2)}, 3);
    std::vector<Event> log{ev(0, 1, 5, EventKind::exposure, 0, ItemId(0)), ev(0, 1, 6, EventKind::click, 0, ItemId(0))};
    g = FeedbackLearner().learn(g, log, items).graph;
    std::vector<Judgment> more{judgment(0, 1, Label::yes, 0.9f, "a, asked again", 1), judgment(1, 0, Label::yes, 0.7f, "b", 1),
                               judgment(2, 1, Label::no, 0.9f, "", 1)};
    const auto merged = FB::merge(g, more, {});
    CHECK(merged.edge_count() == 2);
    const auto f = merged.payload_at(merged.find(EntityId(0), EntityId(1)));
    CHECK(f.prior == doctest::Approx(0.9f));
    CHECK(f.clicks == doctest::Approx(1.0f));
    CHECK(*merged.weight(EntityId(0), EntityId(1)) == doctest::Approx(0.9f));
    CHECK(!merged.has_edge(EntityId(2), EntityId(1)));  // the later "no" removed it
    CHECK(merged.rationale(merged.find(EntityId(0), EntityId(1))) == "a, asked again");
    CHECK(merged.rationale(merged.find(EntityId(1), EntityId(0))) == "b");
    CHECK(merged.rationales()->size() == 3);  // "c" is no longer used: not kept
    CHECK(merged.time() == g.time());
    CHECK_THROWS_AS(FB::merge(g, more, {.symmetrise = true}), InvalidArgument);
}

TEST_CASE("feedback: basket events carry one request id per shown list") {
    const auto g = build_graph(std::vector<Judgment>{judgment(0, 1, Label::yes, 0.9f), judgment(0, 2, Label::yes, 0.5f),
                                                     judgment(1, 0, Label::yes, 0.5f)});
    const std::vector<Basket> baskets{{EntityId(0), EntityId(1)}, {EntityId(0)}, {EntityId(2)}};
    const auto events = basket_feedback_events(std::span<const Basket>(baskets), g);
    std::map<std::uint32_t, std::set<std::pair<std::uint32_t, std::uint32_t>>> lists;  // request -> (user, trigger)
    for (const Event& e : events) {
        CHECK(e.request != 0);
        lists[e.request].insert({e.user.value(), e.trigger.value()});
    }
    CHECK(lists.size() == 3);  // basket 0: triggers 0 and 1; basket 1: trigger 0; basket 2: no edges
    for (const auto& [req, who] : lists) CHECK(who.size() == 1);
    const auto r = FeedbackLearner().learn(build_graph<EdgeFeedback>(std::vector<Judgment>{judgment(0, 1, Label::yes, 0.9f)}),
                                           events, basket_item_map(3));
    CHECK(r.stats.attributed_clicks == 1);
}

TEST_CASE("feedback: on the simulated world, learned weights track hidden strengths better than the LLM") {
    auto cfg = sim::Config::preset("small", 7);
    cfg.events = 300000;
    const auto world = sim::World::generate(cfg);
    const auto js = sim::noisy_judgments(world, 3);
    const auto g0 = build_graph<EdgeFeedback>(js);
    const double llm_only = sim::graph_strength_spearman(world, g0);
    const auto items = world.item_entity_map();
    FeedbackOptions o;
    o.estimate_position_bias = true;
    o.threads = 2;
    const auto r = FeedbackLearner(o).learn(g0, world.events(), items);
    const double learned = sim::graph_strength_spearman(world, r.graph);
    MESSAGE("llm-only spearman " << llm_only << ", learned " << learned << ", attributed exposures "
                                 << r.stats.attributed_exposures << ", purchases " << r.stats.attributed_purchases
                                 << ", kappa " << r.prior_scale);
    CHECK(r.stats.attributed_exposures > 10000);
    CHECK(learned > llm_only + 0.15);
    // the estimated position weights fall with the slot, as the simulator's bias does
    REQUIRE(r.position_weight.size() >= 2);
    CHECK(r.position_weight[1] < 1.0);

    // Every count, statistic and weight is the same on 1, 2 and 7 threads (bit for bit).
    o.purchase_window = 7 * 86400;  // so that purchases are attributed too
    auto key = [](const FeedbackStats& s) {
        return std::vector<std::uint64_t>{s.exposures, s.clicks, s.bills, s.attributed_exposures, s.attributed_clicks,
                                          s.attributed_purchases, s.no_edge, s.unmapped};
    };
    o.threads = 1;
    const auto one = FeedbackLearner(o).learn(g0, world.events(), items);
    CHECK(one.stats.attributed_purchases > 0);
    for (unsigned threads : {2u, 7u}) {
        o.threads = threads;
        const auto many = FeedbackLearner(o).learn(g0, world.events(), items);
        CHECK(key(many.stats) == key(one.stats));
        CHECK(many.position_weight == one.position_weight);
        CHECK(many.prior_scale == one.prior_scale);
        CHECK(same_content(many.graph, one.graph));  // weights and payload counts, byte for byte
    }
}
