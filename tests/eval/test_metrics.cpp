// Metrics and bootstrap intervals: hand-computed cases, brute-force readings of the definitions,
// bad input, and agreement with scikit-learn (roc_auc_score, ndcg_score, log_loss) on random
// inputs when /usr/bin/python3 has it.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/io.hpp>
#include <kerec/core/random.hpp>
#include <kerec/eval/bootstrap.hpp>
#include <kerec/eval/metrics.hpp>
#include <kerec/eval/ranking_evaluation.hpp>

#include "../test_util.hpp"

using namespace kerec;

namespace {

// P(s+ > s-) + ½ P(s+ = s-) over all pairs: the definition, O(n²).
double auc_pairs(const std::vector<double>& s, const std::vector<std::uint8_t>& y) {
    double num = 0, den = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
        for (std::size_t j = 0; j < s.size(); ++j)
            if (y[i] == 1 && y[j] == 0) {
                den += 1;
                num += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
            }
    return num / den;
}

std::vector<ItemId> ids(std::initializer_list<std::uint32_t> v) {
    std::vector<ItemId> r;
    for (auto x : v) r.push_back(ItemId{x});
    return r;
}

}  // namespace

TEST_CASE("auc: hand-computed cases, ties count one half") {
    const std::vector<double> s{0.1, 0.4, 0.35, 0.8};
    const std::vector<std::uint8_t> y{0, 0, 1, 1};
    CHECK(auc(s, y) == doctest::Approx(0.75));  // scikit-learn's documentation example
    CHECK(auc(std::vector<double>{1, 1, 1, 1}, std::vector<int>{0, 1, 0, 1}) == 0.5);
    CHECK(auc(std::vector<double>{0.5, 0.5, 0.9}, std::vector<int>{0, 1, 1}) == 0.75);
    CHECK(auc(std::vector<float>{3, 2, 1}, std::vector<std::uint8_t>{1, 0, 0}) == 1.0);
    CHECK(auc(std::vector<float>{3, 2, 1}, std::vector<std::uint8_t>{0, 1, 1}) == 0.0);
    const double inf = std::numeric_limits<double>::infinity();
    CHECK(auc(std::vector<double>{-inf, inf, inf}, std::vector<int>{0, 1, 0}) == 0.75);
    const std::span<const double> view(s);
    CHECK(auc(view, y) == doctest::Approx(0.75));
}

TEST_CASE("auc: equals the pairwise definition on random scores with many ties") {
    Rng rng(11);
    for (int rep = 0; rep < 200; ++rep) {
        const std::size_t n = 2 + rng.uniform_int(60);
        std::vector<double> s(n);
        std::vector<std::uint8_t> y(n);
        for (std::size_t i = 0; i < n; ++i) {
            s[i] = static_cast<double>(rng.uniform_int(rep % 2 ? 4 : 1000));
            y[i] = rng.bernoulli(0.3) ? 1 : 0;
        }
        y[0] = 1, y[1] = 0;
        CHECK(auc(s, y) == doctest::Approx(auc_pairs(s, y)).epsilon(1e-12));
        std::vector<float> f(s.begin(), s.end());
        CHECK(auc(f, y) == auc(s, y));
    }
}

TEST_CASE("auc: bad input is rejected with the index") {
    const std::vector<double> s{0.1, 0.2, 0.3};
    CHECK_THROWS_WITH_AS(auc(s, std::vector<int>{1, 1, 1}), doctest::Contains("3 positives and 0 negatives"), InvalidArgument);
    CHECK_THROWS_WITH_AS(auc(s, std::vector<int>{1, 0}), doctest::Contains("3 scores but 2 labels"), InvalidArgument);
    CHECK_THROWS_WITH_AS(auc(s, std::vector<int>{1, 0, 2}), doctest::Contains("label 2 is 2"), InvalidArgument);
    CHECK_THROWS_WITH_AS(auc(s, std::vector<int>{1, 0, -1}), doctest::Contains("label 2 is -1"), InvalidArgument);
    CHECK_THROWS_WITH_AS(auc(std::vector<double>{0.1, std::nan(""), 0.3}, std::vector<int>{1, 0, 1}),
                         doctest::Contains("score 1 is NaN"), InvalidArgument);
    CHECK_THROWS_AS(auc(std::vector<double>{}, std::vector<int>{}), InvalidArgument);
}

TEST_CASE("gauc: per-group AUC weighted by group size, one-class groups skipped") {
    // group 7: AUC 1 over 3 samples; group 2: AUC 0.5 over 4 samples; group 9: positives only.
    const std::vector<double> s{0.9, 0.1, 0.2, 0.5, 0.5, 0.3, 0.3, 0.7, 0.8};
    const std::vector<std::uint8_t> y{1, 0, 0, 1, 0, 1, 0, 1, 1};
    const std::vector<std::uint32_t> g{7, 7, 7, 2, 2, 2, 2, 9, 9};
    const auto r = gauc(s, y, g);
    CHECK(r.groups == 2);
    CHECK(r.skipped_groups == 1);
    CHECK(r.samples == 7);
    CHECK(r.value == doctest::Approx((3 * 1.0 + 4 * 0.5) / 7));
    std::vector<UserId> users;
    for (auto x : g) users.push_back(UserId{x});
    CHECK(gauc(s, y, users).value == r.value);
    CHECK_THROWS_WITH_AS(gauc(s, y, std::vector<std::uint32_t>{1, 1, 1, 1, 1, 1, 1, 1}), doctest::Contains("group keys"),
                         InvalidArgument);
    CHECK_THROWS_WITH_AS(gauc(std::vector<double>{1, 2}, std::vector<int>{1, 0}, std::vector<std::uint32_t>{1, 2}),
                         doctest::Contains("none of the 2 groups"), InvalidArgument);
}

TEST_CASE("gauc: equals the weighted mean of per-group pairwise AUCs on random groups") {
    Rng rng(5);
    for (int rep = 0; rep < 50; ++rep) {
        const std::size_t n = 10 + rng.uniform_int(200);
        std::vector<double> s(n);
        std::vector<std::uint8_t> y(n);
        std::vector<std::uint32_t> g(n);
        for (std::size_t i = 0; i < n; ++i) {
            s[i] = static_cast<double>(rng.uniform_int(20));
            y[i] = rng.bernoulli(0.4);
            g[i] = static_cast<std::uint32_t>(rng.uniform_int(8) * 1000003u);
        }
        double num = 0, den = 0;
        for (std::uint32_t key = 0; key < 8; ++key) {
            std::vector<double> gs;
            std::vector<std::uint8_t> gy;
            for (std::size_t i = 0; i < n; ++i)
                if (g[i] == key * 1000003u) gs.push_back(s[i]), gy.push_back(y[i]);
            const auto pos = std::count(gy.begin(), gy.end(), 1);
            if (pos == 0 || pos == static_cast<long>(gy.size())) continue;
            num += static_cast<double>(gs.size()) * auc_pairs(gs, gy);
            den += static_cast<double>(gs.size());
        }
        if (den == 0) continue;
        CHECK(gauc(s, y, g).value == doctest::Approx(num / den).epsilon(1e-12));
    }
}

TEST_CASE("log_loss: definition, clipping, NaN and out-of-range probabilities rejected") {
    CHECK(log_loss(std::vector<double>{0.9, 0.2}, std::vector<int>{1, 0}) == doctest::Approx(-(std::log(0.9) + std::log(0.8)) / 2));
    CHECK(log_loss(std::vector<double>{0.0}, std::vector<int>{1}) == doctest::Approx(-std::log(1e-15)));
    CHECK(log_loss(std::vector<double>{1.0}, std::vector<int>{1}) == doctest::Approx(-std::log1p(-1e-15)));
    CHECK(log_loss(std::vector<float>{0.5f}, std::vector<int>{0}, 1e-7) == doctest::Approx(std::log(2.0)));
    CHECK(log_loss(std::vector<double>{0.0}, std::vector<int>{1}, 1e-3) == doctest::Approx(-std::log(1e-3)));
    CHECK_THROWS_WITH_AS(log_loss(std::vector<double>{0.5, std::nan("")}, std::vector<int>{1, 0}),
                         doctest::Contains("probability 1 is nan"), InvalidArgument);
    CHECK_THROWS_WITH_AS(log_loss(std::vector<double>{1.5}, std::vector<int>{1}), doctest::Contains("expected in [0, 1]"),
                         InvalidArgument);
    CHECK_THROWS_AS(log_loss(std::vector<double>{-0.1}, std::vector<int>{1}), InvalidArgument);
    CHECK_THROWS_AS(log_loss(std::vector<double>{0.5}, std::vector<int>{3}), InvalidArgument);
    CHECK_THROWS_AS(log_loss(std::vector<double>{}, std::vector<int>{}), InvalidArgument);
    CHECK_THROWS_AS(log_loss(std::vector<double>{0.5}, std::vector<int>{1}, 0.0), InvalidArgument);
    CHECK_THROWS_AS(log_loss(std::vector<double>{0.5}, std::vector<int>{1}, std::nan("")), InvalidArgument);
}

TEST_CASE("ranking metrics: hand-computed cases") {
    const auto ranked = ids({5, 3, 9, 1});
    const auto relevant = ids({1, 3});
    CHECK(recall_at_k(ranked, relevant, 1) == 0.0);
    CHECK(recall_at_k(ranked, relevant, 2) == 0.5);
    CHECK(recall_at_k(ranked, relevant, 4) == 1.0);
    CHECK(recall_at_k(ranked, relevant, 100) == 1.0);  // a short list is fine
    CHECK(hit_at_k(ranked, relevant, 1) == 0.0);
    CHECK(hit_at_k(ranked, relevant, 2) == 1.0);
    CHECK(reciprocal_rank(ranked, relevant) == 0.5);
    CHECK(reciprocal_rank(ranked, relevant, 1) == 0.0);
    CHECK(reciprocal_rank(ranked, ids({9})) == doctest::Approx(1.0 / 3));
    const double dcg = 1 / std::log2(3.0) + 1 / std::log2(5.0), idcg = 1 + 1 / std::log2(3.0);
    CHECK(ndcg_at_k(ranked, relevant, 4) == doctest::Approx(dcg / idcg));
    CHECK(ndcg_at_k(ranked, relevant, 2) == doctest::Approx((1 / std::log2(3.0)) / idcg));
    CHECK(ndcg_at_k(ranked, ids({5}), 10) == 1.0);
    CHECK(ndcg_at_k(ranked, ids({77}), 10) == 0.0);
    // One relevant item, k = 1: NDCG@1 is the hit at 1.
    CHECK(ndcg_at_k(ranked, ids({3}), 1) == 0.0);

    // Graded gains: DCG = 2/log2(2) + 0 + 3/log2(4) + 1/log2(5); IDCG = 3 + 2/log2(3) + 1/log2(4).
    const std::vector<GradedItem> graded{{ItemId{5}, 2.0}, {ItemId{9}, 3.0}, {ItemId{1}, 1.0}, {ItemId{4}, 0.0}};
    CHECK(ndcg_at_k(ranked, graded, 4) == doctest::Approx((2 + 3 / 2.0 + 1 / std::log2(5.0)) / (3 + 2 / std::log2(3.0) + 1 / 2.0)));
    CHECK(ndcg_at_k(ranked, graded, 1) == doctest::Approx(2.0 / 3.0));
    // Equal gains behave as binary relevance.
    const std::vector<GradedItem> flat{{ItemId{1}, 1.0}, {ItemId{3}, 1.0}};
    CHECK(ndcg_at_k(ranked, flat, 4) == doctest::Approx(ndcg_at_k(ranked, relevant, 4)));

    // What a Recommender returns is a ranked list too.
    std::vector<Recommendation> recs;
    for (ItemId i : ranked) recs.push_back(Recommendation{.item = i, .score = 1.0f, .why = {}});
    CHECK(recall_at_k(recs, relevant, 2) == 0.5);
    CHECK(ndcg_at_k(recs, relevant, 4) == doctest::Approx(dcg / idcg));
    CHECK(reciprocal_rank(recs, relevant) == 0.5);
}

TEST_CASE("ranking metrics: bad lists and relevant sets are rejected") {
    const auto ranked = ids({5, 3, 5});
    CHECK_THROWS_WITH_AS(recall_at_k(ranked, ids({5}), 3), doctest::Contains("item 5 is ranked twice (positions 0 and 2)"), InvalidArgument);
    CHECK(recall_at_k(ranked, ids({5}), 2) == 1.0);  // the repeat is beyond k
    CHECK_THROWS_WITH_AS(hit_at_k(ids({1}), ids({1}), 0), doctest::Contains("k = 0"), InvalidArgument);
    CHECK_THROWS_WITH_AS(ndcg_at_k(ids({1}), std::vector<ItemId>{}, 3), doctest::Contains("no relevant item"), InvalidArgument);
    CHECK_THROWS_WITH_AS(reciprocal_rank(ids({1}), ids({2, 2})), doctest::Contains("appears twice"), InvalidArgument);
    CHECK_THROWS_AS(recall_at_k(std::vector<ItemId>{ItemId::invalid()}, ids({1}), 1), InvalidArgument);
    CHECK_THROWS_AS(recall_at_k(ids({1}), std::vector<ItemId>{ItemId::invalid()}, 1), InvalidArgument);
    CHECK_THROWS_WITH_AS(ndcg_at_k(ids({1}), std::vector<GradedItem>{{ItemId{1}, -1.0}}, 1), doctest::Contains("expected finite and >= 0"),
                         InvalidArgument);
    CHECK_THROWS_AS(ndcg_at_k(ids({1}), std::vector<GradedItem>{{ItemId{1}, std::nan("")}}, 1), InvalidArgument);
    CHECK_THROWS_WITH_AS(ndcg_at_k(ids({1}), std::vector<GradedItem>{{ItemId{1}, 0.0}}, 1), doctest::Contains("positive gain"), InvalidArgument);
    CHECK_THROWS_AS(ndcg_at_k(ids({1}), std::vector<GradedItem>{{ItemId{1}, 1.0}, {ItemId{1}, 2.0}}, 1), InvalidArgument);
}

TEST_CASE("catalogue coverage counts distinct recommended items") {
    CatalogueCoverage c(10);
    c.add(ids({1, 2, 3}));
    c.add(ids({3, 4, 9}), 2);  // only 3 and 4
    c.add(std::vector<ItemId>{ItemId::invalid()});
    CHECK(c.distinct() == 4);
    CHECK(c.value() == 0.4);
    CHECK_THROWS_WITH_AS(c.add(ids({10})), doctest::Contains("item 10 (expected < 10)"), OutOfRange);
    CHECK_THROWS_AS(CatalogueCoverage(0), InvalidArgument);
}

TEST_CASE("bootstrap: seeded, percentile, clustered by unit") {
    Rng rng(3);
    std::vector<double> v(400);
    for (auto& x : v) x = rng.normal();
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    const double se = std::sqrt(var / static_cast<double>(v.size() - 1) / static_cast<double>(v.size()));
    BootstrapOptions o;
    o.resamples = 2000;
    o.seed = 9;
    const Interval a = bootstrap_mean(v, o);
    CHECK(a.estimate == doctest::Approx(mean));
    CHECK(a.lower < a.estimate);
    CHECK(a.upper > a.estimate);
    // The percentile interval of a mean of 400 normals is close to ±1.96 standard errors.
    CHECK(a.estimate - a.lower == doctest::Approx(1.96 * se).epsilon(0.15));
    CHECK(a.upper - a.estimate == doctest::Approx(1.96 * se).epsilon(0.15));
    const Interval again = bootstrap_mean(v, o);
    CHECK(again.lower == a.lower);
    CHECK(again.upper == a.upper);
    o.seed = 10;
    CHECK(bootstrap_mean(v, o).lower != a.lower);
    o.seed = 9;

    // One query per unit, units in query order: the same draws, the same interval.
    std::vector<std::uint32_t> unit(v.size());
    std::iota(unit.begin(), unit.end(), 0u);
    const Interval u = bootstrap_mean(v, unit, o);
    CHECK(u.lower == doctest::Approx(a.lower).epsilon(1e-12));
    CHECK(u.upper == doctest::Approx(a.upper).epsilon(1e-12));
    // Perfectly correlated queries within a unit: resampling units widens the interval.
    std::vector<double> dup;
    std::vector<UserId> users;
    for (std::size_t i = 0; i < 100; ++i)
        for (int r = 0; r < 4; ++r) dup.push_back(v[i]), users.push_back(UserId{static_cast<std::uint32_t>(i * 7)});
    const Interval by_query = bootstrap_mean(dup, o), by_user = bootstrap_mean(dup, users, o);
    CHECK(by_user.estimate == doctest::Approx(by_query.estimate));
    CHECK(by_user.upper - by_user.lower > 1.5 * (by_query.upper - by_query.lower));

    // A constant has a degenerate interval; confidence narrows it.
    const std::vector<double> c(50, 0.25);
    const Interval ci = bootstrap_mean(c, o);
    CHECK(ci.lower == 0.25);
    CHECK(ci.upper == 0.25);
    BootstrapOptions narrow = o;
    narrow.confidence = 0.5;
    const Interval n50 = bootstrap_mean(v, narrow);
    CHECK(n50.upper - n50.lower < a.upper - a.lower);

    // Generic statistic: the AUC of resampled (score, label) pairs.
    std::vector<double> s(200);
    std::vector<std::uint8_t> y(200);
    for (std::size_t i = 0; i < s.size(); ++i) y[i] = i % 2, s[i] = rng.normal() + y[i];
    const Interval auc_ci = bootstrap(s.size(), [&](std::span<const std::uint32_t> m) {
        std::vector<double> ss;
        std::vector<std::uint8_t> yy;
        for (std::size_t i = 0; i < m.size(); ++i)
            for (std::uint32_t r = 0; r < m[i]; ++r) ss.push_back(s[i]), yy.push_back(y[i]);
        return auc(ss, yy);
    }, o);
    CHECK(auc_ci.estimate == auc(s, y));
    CHECK(auc_ci.lower < auc_ci.estimate);
    CHECK(auc_ci.upper > auc_ci.estimate);

    CHECK_THROWS_WITH_AS(bootstrap_mean(std::vector<double>{1.0, std::nan("")}), doctest::Contains("value 1 is nan"), InvalidArgument);
    CHECK_THROWS_AS(bootstrap_mean(std::vector<double>{}), InvalidArgument);
    BootstrapOptions bad;
    bad.confidence = 1.0;
    CHECK_THROWS_AS(bootstrap_mean(v, bad), InvalidArgument);
    bad = {};
    bad.resamples = 0;
    CHECK_THROWS_AS(bootstrap_mean(v, bad), InvalidArgument);
    CHECK_THROWS_AS(bootstrap_mean(v, std::vector<std::uint32_t>{1, 2}), InvalidArgument);
    CHECK_THROWS_WITH_AS(bootstrap(4, [](std::span<const std::uint32_t>) { return std::nan(""); }, o), doctest::Contains("NaN on"),
                         InvalidArgument);
}

TEST_CASE("ranking evaluation: per-query metrics, their means and intervals, coverage") {
    RankingEvaluation ev(2, 10);
    ev.add(ids({5, 3, 9}), ids({3}));          // hit at 2
    ev.add(ids({1, 2}), ids({7, 8}));          // miss
    std::vector<Recommendation> recs{{.item = ItemId{4}, .score = 1.0f, .why = {}}};
    ev.add(recs, ids({4, 6}), UserId{3});      // hit at 1, recall 1/2
    REQUIRE(ev.queries() == 3);
    CHECK(std::vector<double>(ev.recall().begin(), ev.recall().end()) == std::vector<double>{1.0, 0.0, 0.5});
    CHECK(ev.reciprocal_rank()[0] == 0.5);
    CHECK(ev.hit()[2] == 1.0);
    CHECK(ev.ndcg()[0] == doctest::Approx(1 / std::log2(3.0)));
    const auto s = ev.summary();
    CHECK(s.queries == 3);
    CHECK(s.recall.estimate == doctest::Approx(0.5));
    CHECK(s.hit_rate.estimate == doctest::Approx(2.0 / 3));
    CHECK(s.mrr.estimate == doctest::Approx(0.5));
    CHECK(s.recall.lower <= s.recall.estimate);
    CHECK(s.recall.upper >= s.recall.estimate);
    CHECK(s.coverage == doctest::Approx(0.5));  // 5, 3, 1, 2, 4 (9 is beyond k)
    // A bad query is rejected and leaves nothing behind.
    CHECK_THROWS_AS(ev.add(ids({1, 1}), ids({1})), InvalidArgument);
    CHECK_THROWS_AS(ev.add(ids({1}), std::vector<ItemId>{}), InvalidArgument);
    CHECK_THROWS_AS(ev.add(ids({11}), ids({1})), OutOfRange);
    CHECK_THROWS_AS(ev.add(ids({1}), ids({1}), UserId::invalid()), InvalidArgument);
    CHECK(ev.queries() == 3);
    CHECK_THROWS_AS(RankingEvaluation(0, 10), InvalidArgument);
    CHECK_THROWS_AS(RankingEvaluation(2, 10).summary(), InvalidArgument);
}

TEST_CASE("metrics agree with scikit-learn on random inputs") {
    if (std::system("/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: /usr/bin/python3 has no scikit-learn (Debian python3-sklearn)");
        return;
    }
    test::TempDir dir("sklearn");
    Rng rng(2024);
    std::string in;
    std::vector<double> ours;
    std::vector<int> kind;  // 0 auc, 1 gauc, 2 log loss, 3 ndcg
    auto put = [&](const std::vector<double>& v) {
        for (double x : v) in += fmt::format(" {:.17g}", x);
    };
    for (int rep = 0; rep < 200; ++rep) {
        const std::size_t n = 2 + rng.uniform_int(rep < 170 ? 50 : 3000);
        std::vector<double> s(n), y(n);
        const bool ties = rep % 3 == 0;
        for (std::size_t i = 0; i < n; ++i) {
            y[i] = rng.bernoulli(0.2 + 0.6 * rng.uniform()) ? 1 : 0;
            s[i] = ties ? static_cast<double>(rng.uniform_int(5)) : rng.normal() + y[i];
        }
        y[0] = 1, y[1] = 0;
        std::vector<std::uint8_t> yl(y.begin(), y.end());
        in += fmt::format("auc {}", n);
        put(s), put(y), in += '\n';
        ours.push_back(auc(s, yl));
        kind.push_back(0);
        // GAUC over up to 6 groups, computed on the Python side from roc_auc_score per group
        // (every fourth case: sklearn's per-call cost dominates this test).
        if (rep % 4 == 0) {
            std::vector<double> g(n);
            for (auto& x : g) x = static_cast<double>(rng.uniform_int(6));
            std::vector<std::uint32_t> gk(g.begin(), g.end());
            in += fmt::format("gauc {}", n);
            put(s), put(y), put(g), in += '\n';
            try {
                ours.push_back(gauc(s, yl, gk).value);
            } catch (const InvalidArgument&) {
                ours.push_back(-1.0);  // no group with both classes: the script prints -1 too
            }
            kind.push_back(1);
        }
        // Log loss of probabilities (some exactly 0 or 1, to exercise clipping).
        std::vector<double> p(n);
        for (auto& x : p) x = rng.bernoulli(0.05) ? static_cast<double>(rng.uniform_int(2)) : rng.uniform();
        in += fmt::format("logloss {}", n);
        put(p), put(y), in += '\n';
        ours.push_back(log_loss(p, yl));
        kind.push_back(2);
        // NDCG@k, binary and graded relevance, distinct scores.
        const std::size_t k = 1 + rng.uniform_int(n + 2);
        std::vector<double> gain(n), score(n);
        for (std::size_t i = 0; i < n; ++i) {
            gain[i] = rep % 2 ? static_cast<double>(rng.bernoulli(0.3)) : static_cast<double>(rng.uniform_int(4));
            score[i] = rng.uniform();
        }
        gain[rng.uniform_int(n)] = 1.0;
        std::vector<ItemId> ranked(n);
        for (std::uint32_t i = 0; i < n; ++i) ranked[i] = ItemId{i};
        std::sort(ranked.begin(), ranked.end(), [&](ItemId a, ItemId b) { return score[a.index()] > score[b.index()]; });
        in += fmt::format("ndcg {} {}", k, n);
        put(gain), put(score), in += '\n';
        if (rep % 2) {
            std::vector<ItemId> rel;
            for (std::uint32_t i = 0; i < n; ++i)
                if (gain[i] > 0) rel.push_back(ItemId{i});
            ours.push_back(ndcg_at_k(ranked, rel, k));
        } else {
            std::vector<GradedItem> rel;
            for (std::uint32_t i = 0; i < n; ++i)
                if (gain[i] > 0) rel.push_back(GradedItem{ItemId{i}, gain[i]});
            ours.push_back(ndcg_at_k(ranked, rel, k));
        }
        kind.push_back(3);
    }
    write_file_atomic(dir / "in.txt", in);
    write_file_atomic(dir / "check.py", R"(import sys
import numpy as np
from sklearn.metrics import roc_auc_score, ndcg_score, log_loss
for line in open(sys.argv[1]):
    f = line.split()
    kind = f[0]
    if kind == "auc":
        n = int(f[1]); v = np.array(f[2:], dtype=float)
        print(repr(float(roc_auc_score(v[n:2*n], v[:n]))))
    elif kind == "gauc":
        n = int(f[1]); v = np.array(f[2:], dtype=float)
        s, y, g = v[:n], v[n:2*n], v[2*n:]
        num = den = 0.0
        for key in np.unique(g):
            m = g == key
            if len(np.unique(y[m])) < 2: continue
            num += m.sum() * roc_auc_score(y[m], s[m]); den += m.sum()
        print(repr(float(num / den)) if den > 0 else "-1")
    elif kind == "logloss":
        n = int(f[1]); v = np.array(f[2:], dtype=float)
        print(repr(float(log_loss(v[n:2*n], v[:n], eps=1e-15, labels=[0, 1]))))
    elif kind == "ndcg":
        k, n = int(f[1]), int(f[2]); v = np.array(f[3:], dtype=float)
        print(repr(float(ndcg_score([v[:n]], [v[n:2*n]], k=k))))
)");
    const std::string cmd = fmt::format("/usr/bin/python3 -W ignore '{}' '{}' > '{}'", (dir / "check.py").string(),
                                        (dir / "in.txt").string(), (dir / "out.txt").string());
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream out(dir / "out.txt");
    std::vector<double> theirs;
    for (double x; out >> x;) theirs.push_back(x);
    REQUIRE(theirs.size() == ours.size());
    double worst[4] = {0, 0, 0, 0};
    for (std::size_t i = 0; i < ours.size(); ++i) {
        const double d = std::abs(ours[i] - theirs[i]);
        worst[kind[i]] = std::max(worst[kind[i]], d);
        CHECK_MESSAGE(d <= 1e-9, "line " << i << " metric " << kind[i] << ": kerec " << ours[i] << " sklearn " << theirs[i]);
    }
    MESSAGE("max |kerec - sklearn| over 200 cases: auc " << worst[0] << ", gauc " << worst[1] << ", log_loss " << worst[2]
                                                         << ", ndcg " << worst[3]);
}
