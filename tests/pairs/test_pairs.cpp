#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/pairs/popularity.hpp>
#include <kerec/pairs/segmented_generator.hpp>

using namespace kerec;

namespace {

std::vector<EntityPair> drain(PairCursor c) {
    std::vector<EntityPair> out;
    std::vector<EntityPair> buf(37);
    while (std::size_t n = c.fill(buf)) out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(n));
    return out;
}

// The definition, pair by pair, in rank coordinates.
std::vector<EntityPair> oracle(const Popularity& pop, const SegmentedPairGenerator& g, bool ordered,
                               const std::set<EntityId>& fresh, bool incremental, const std::set<EntityPair>& excl) {
    const auto n = static_cast<std::uint32_t>(pop.size());
    auto seg = [&](std::uint32_t r) {
        for (std::size_t s = 0; s < g.segments().size(); ++s)
            if (r >= g.segments()[s].begin && r < g.segments()[s].end) return s;
        return std::size_t{999};
    };
    auto in_p = [&](std::uint32_t i, std::uint32_t j) {
        const auto si = seg(i), sj = seg(j);
        return i != j && j - g.segments()[sj].begin < g.partners(si, sj);
    };
    std::vector<EntityPair> out;
    const auto br = pop.by_rank();
    for (std::uint32_t i = 0; i < n; ++i)
        for (std::uint32_t j = 0; j < n; ++j) {
            bool take = ordered ? in_p(i, j) : (i < j && (in_p(i, j) || in_p(j, i)));
            if (!take) continue;
            EntityPair p{br[i], br[j]};
            if (!ordered) p = p.canonical();
            if (incremental && !fresh.count(p.a) && !fresh.count(p.b)) continue;
            if (excl.count(p) || (!ordered && excl.count(p.reversed()))) continue;
            out.push_back(p);
        }
    return out;
}

Popularity random_popularity(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<double> s(n);
    for (auto& x : s) x = std::floor(rng.uniform() * 20.0);  // many ties, some zeros
    return Popularity(std::move(s));
}

}  // namespace

TEST_CASE("popularity: counts, exponential decay, ranks, unmapped and bad input") {
    std::vector<EntityId> item_entity{EntityId{0}, EntityId{1}, EntityId{2}, EntityId{}};
    std::vector<Event> ev;
    auto add = [&](std::uint32_t item, std::int64_t t, EventKind k = EventKind::bill) {
        Event e;
        e.user = UserId{0};
        e.item = ItemId{item};
        e.time = t;
        e.kind = k;
        ev.push_back(e);
    };
    add(0, 100); add(0, 100); add(1, 0); add(1, 0); add(1, 0); add(2, 100, EventKind::click); add(3, 50);
    const auto map = ItemEntityMap::from_primary(item_entity, 3);
    auto plain = Popularity::from_events(ev, map);
    CHECK(plain.score(EntityId{0}) == 2.0);
    CHECK(plain.score(EntityId{1}) == 3.0);
    CHECK(plain.score(EntityId{2}) == 0.0);  // clicks weigh 0 by default
    CHECK(plain.unmapped_events() == 1);
    CHECK(plain.rank(EntityId{1}) == 0);
    CHECK(plain.by_rank()[1] == EntityId{0});
    CHECK(plain.share(EntityId{1}) == doctest::Approx(0.6));

    PopularityOptions o;
    o.half_life = 50.0;  // entity 1's events are two half-lives old: 3 * 0.25 = 0.75
    o.click_weight = 0.5;
    auto decayed = Popularity::from_events(ev, map, o);
    CHECK(decayed.score(EntityId{1}) == doctest::Approx(0.75));
    CHECK(decayed.score(EntityId{0}) == doctest::Approx(2.0));
    CHECK(decayed.score(EntityId{2}) == doctest::Approx(0.5));
    CHECK(decayed.rank(EntityId{0}) == 0);
    CHECK(decayed.rank(EntityId{1}) == 1);
    o.now = 200;  // explicit reference time
    CHECK(Popularity::from_events(ev, map, o).score(EntityId{0}) == doctest::Approx(0.5));

    // Rates: entity 1 was seen from t = 0 (3 bills over 200 s), entity 0 from t = 100 (2 over 100 s).
    PopularityOptions rate;
    rate.rate_window = 10.0;
    rate.now = 200;
    auto r = Popularity::from_events(ev, map, rate);
    CHECK(r.score(EntityId{1}) == doctest::Approx(3.0 / 200.0));
    CHECK(r.score(EntityId{0}) == doctest::Approx(2.0 / 100.0));
    CHECK(r.rank(EntityId{0}) == 0);
    rate.now = 105;  // a window longer than the age
    CHECK(Popularity::from_events(ev, map, rate).score(EntityId{0}) == doctest::Approx(2.0 / 10.0));
    rate.rate_window = -1;
    CHECK_THROWS_AS(Popularity::from_events(ev, map, rate), InvalidArgument);

    o.half_life = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_AS(Popularity::from_events(ev, map, o), InvalidArgument);
    add(9, 0);  // item outside the mapping
    CHECK_THROWS_WITH_AS(Popularity::from_events(ev, map), doctest::Contains("event 7 has item 9"), OutOfRange);
    ev.pop_back();
    add(0, 0);
    ev.back().item = ItemId::invalid();  // no item: counted as unmapped, like an item with no entity
    CHECK(Popularity::from_events(ev, map).unmapped_events() == 2);
    ev.pop_back();
    CHECK_THROWS_AS(Popularity(std::vector<double>{1.0, -1.0}), InvalidArgument);
    CHECK_THROWS_AS(Popularity(std::vector<double>{std::nan("")}), InvalidArgument);
    CHECK_THROWS_AS(plain.rank(EntityId{7}), InvalidArgument);
}

TEST_CASE("segmented generator: equals the definition, every mode, count, shards, iterator") {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        for (std::size_t n : {0u, 1u, 2u, 7u, 60u, 131u}) {
            const auto pop = random_popularity(n, seed);
            for (bool ordered : {false, true})
                for (bool incremental : {false, true})
                    for (int matrix = 0; matrix < 3; ++matrix) {
                        SegmentedPairOptions o;
                        o.ordered = ordered;
                        if (matrix == 1) o.partners = {{all_partners, 3, 1}, {2, 0, 5}, {all_partners, 0, 0}};
                        if (matrix == 2) {
                            o.cut_points = {static_cast<std::uint32_t>(n / 4)};
                            o.partners = {{all_partners, 2}, {4, 1}};
                        }
                        Rng rng(seed * 7 + n);
                        std::set<EntityId> fresh;
                        if (incremental && n > 0)
                            for (int k = 0; k < 5; ++k) fresh.insert(EntityId{static_cast<std::uint32_t>(rng.uniform_int(n))});
                        o.incremental = incremental;
                        o.new_entities.assign(fresh.begin(), fresh.end());
                        std::vector<EntityPair> exclude;
                        std::set<EntityPair> excl_set;
                        for (int k = 0; k < 40 && n > 1; ++k) {
                            EntityPair p{EntityId{static_cast<std::uint32_t>(rng.uniform_int(n))},
                                         EntityId{static_cast<std::uint32_t>(rng.uniform_int(n))}};
                            exclude.push_back(p);
                            excl_set.insert(p);
                        }
                        SegmentedPairGenerator g(pop, o, exclude);
                        const auto want = oracle(pop, g, ordered, fresh, incremental, excl_set);
                        const auto got = drain(g.pairs());
                        INFO("n=" << n << " ordered=" << ordered << " incr=" << incremental << " matrix=" << matrix);
                        REQUIRE(got.size() == want.size());
                        CHECK(g.count() == got.size());
                        const std::set<EntityPair> want_set(want.begin(), want.end());
                        CHECK(std::set<EntityPair>(got.begin(), got.end()) == want_set);
                        if (n <= 60)
                            for (std::uint32_t a = 0; a < n; ++a)
                                for (std::uint32_t b = 0; b < n; ++b) {
                                    const EntityPair p{EntityId{a}, EntityId{b}};
                                    const bool in = want_set.count(p) || (!ordered && want_set.count(p.reversed()));
                                    CHECK(g.contains(p) == in);
                                }
                        // Deterministic: a second generator gives the same order.
                        CHECK(drain(SegmentedPairGenerator(pop, o, exclude).pairs()) == got);
                        // Range-for gives the same sequence as fill().
                        std::vector<EntityPair> it;
                        auto cur = g.pairs();
                        for (const EntityPair& p : cur) it.push_back(p);
                        CHECK(it == got);
                        // Shards: disjoint, complete, concatenation = the order.
                        for (std::uint64_t shards : {1u, 3u, 8u}) {
                            std::vector<EntityPair> cat;
                            for (std::uint64_t k = 0; k < shards; ++k) {
                                auto part = drain(g.shard(k, shards));
                                cat.insert(cat.end(), part.begin(), part.end());
                            }
                            CHECK(cat == got);
                        }
                    }
        }
    }
}

TEST_CASE("segmented generator: budget keeps the pairs of highest expected traffic") {
    const auto pop = random_popularity(150, 11);
    for (bool ordered : {false, true}) {
        SegmentedPairOptions o;
        o.ordered = ordered;
        std::vector<EntityPair> exclude;
        Rng rng(5);
        for (int k = 0; k < 300; ++k)
            exclude.push_back({EntityId{static_cast<std::uint32_t>(rng.uniform_int(150))},
                               EntityId{static_cast<std::uint32_t>(rng.uniform_int(150))}});
        SegmentedPairGenerator full(pop, o, exclude);
        const auto all = drain(full.pairs());
        for (std::uint64_t budget : {1u, 17u, 500u, 1234u, 100000u}) {
            o.budget = budget;
            SegmentedPairGenerator g(pop, o, exclude);
            const auto got = drain(g.pairs());
            CHECK(got.size() == std::min<std::uint64_t>(budget, all.size()));
            CHECK(g.count() == got.size());
            CHECK(g.candidate_count() == all.size());
            std::set<EntityPair> chosen(got.begin(), got.end());
            CHECK(chosen.size() == got.size());
            double min_in = 1e300, max_out = -1;
            for (const auto& p : all) {
                const double t = g.expected_traffic(p);
                if (chosen.count(p)) min_in = std::min(min_in, t);
                else max_out = std::max(max_out, t);
            }
            for (const auto& p : got) CHECK(std::find(all.begin(), all.end(), p) != all.end());
            CHECK(min_in >= max_out);
            for (const auto& p : all) CHECK(g.contains(p) == (chosen.count(p) > 0 || (!ordered && chosen.count(p.reversed()) > 0)));
            auto a = drain(g.shard(0, 2)), b = drain(g.shard(1, 2));
            a.insert(a.end(), b.begin(), b.end());
            CHECK(a == got);
        }
    }
}

TEST_CASE("segmented generator: default segments, counts against all pairs, bad options") {
    std::vector<double> s(1000);
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = 1.0 / static_cast<double>(i + 1);
    const Popularity pop(s);
    SegmentedPairGenerator g(pop);
    REQUIRE(g.segments().size() == 3);
    CHECK(g.segments()[0].name == "head");
    CHECK(g.segments()[0].size() == 20);
    CHECK(g.segments()[1].size() == 180);
    CHECK(g.segments()[2].size() == 800);
    CHECK(g.all_pairs_count() == 1000u * 999u / 2);
    CHECK(g.count() < g.all_pairs_count() / 10);
    // Tail x tail never appears.
    for (const auto& p : drain(g.pairs())) CHECK((pop.rank(p.a) < 200 || pop.rank(p.b) < 200));

    SegmentedPairOptions bad;
    bad.quantiles = {0.5, 0.2};
    CHECK_THROWS_AS(SegmentedPairGenerator(pop, bad), InvalidArgument);
    bad.quantiles = {0.2, 1.0};
    CHECK_THROWS_AS(SegmentedPairGenerator(pop, bad), InvalidArgument);
    bad = {};
    bad.cut_points = {10, 5};
    CHECK_THROWS_AS(SegmentedPairGenerator(pop, bad), InvalidArgument);
    bad.cut_points = {2000};
    CHECK_THROWS_AS(SegmentedPairGenerator(pop, bad), InvalidArgument);
    bad = {};
    bad.partners = {{1, 2}, {3, 4}};
    CHECK_THROWS_AS(SegmentedPairGenerator(pop, bad), InvalidArgument);
    bad = {};
    bad.incremental = true;
    bad.new_entities = {EntityId{5000}};
    CHECK_THROWS_AS(SegmentedPairGenerator(pop, bad), InvalidArgument);
    std::vector<EntityPair> ex{{EntityId{1}, EntityId{99999}}};
    CHECK_THROWS_AS(SegmentedPairGenerator(pop, {}, ex), InvalidArgument);
    CHECK_THROWS_AS(g.shard(3, 3), InvalidArgument);
    CHECK_THROWS_AS(g.slice(5, g.count() + 1), InvalidArgument);
}

TEST_CASE("segmented pairs: the defaults serve a small catalogue; budget as a share") {
    // 8 entities: the head holds min(n, min_head = 16) = all of them, so every pair is asked.
    std::vector<double> scores{8, 7, 6, 5, 4, 3, 2, 1};
    const Popularity pop(scores);
    const SegmentedPairGenerator unordered(pop);
    CHECK(unordered.count() == 28);
    std::set<EntityPair> seen;
    for (EntityPair p : unordered.pairs()) {
        CHECK(p.a < p.b);  // unordered: the lower id is asked as a
        seen.insert(p);
    }
    CHECK(seen.size() == 28);
    SegmentedPairOptions ordered;
    ordered.ordered = true;
    CHECK(SegmentedPairGenerator(pop, ordered).count() == 56);

    // With min_head = 0 the old behaviour: 2% of 8 rounds to an empty head.
    SegmentedPairOptions no_min;
    no_min.min_head = 0;
    const SegmentedPairGenerator sparse(pop, no_min);
    CHECK(sparse.segments()[0].size() == 0);
    CHECK(sparse.count() < 28);

    // A large catalogue keeps its quantile head (2% of 5000 = 100 >= 16).
    std::vector<double> many(5000);
    for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<double>(many.size() - i);
    const SegmentedPairGenerator big{Popularity(many)};
    CHECK(big.segments()[0].size() == 100);
    CHECK(big.count() < big.all_pairs_count() / 5);

    SegmentedPairOptions share;
    share.ordered = true;
    share.budget_share = 0.25;
    CHECK(SegmentedPairGenerator(pop, share).count() == 14);
    share.budget_share = 1.5;
    CHECK_THROWS_AS(SegmentedPairGenerator(pop, share), InvalidArgument);
}
