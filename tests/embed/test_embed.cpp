// Eigen checks its own heap allocations where set_is_malloc_allowed(false) says so (the fused
// step's steady state below); defined before any Eigen header of this translation unit.
#define EIGEN_RUNTIME_NO_MALLOC
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <new>
#include <set>
#include <string>
#include <vector>

#include <kerec/core/npy.hpp>
#include <kerec/core/random.hpp>
#include <kerec/embed/adam.hpp>
#include <kerec/embed/contrastive.hpp>
#include <kerec/embed/evaluate.hpp>
#include <kerec/embed/nearest.hpp>
#include <kerec/embed/second_order.hpp>
#include <kerec/embed/sequences.hpp>
#include <kerec/embed/sgns.hpp>
#include <kerec/embed/trainer.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>

#include "../test_util.hpp"

// Allocations made by the program so far (tests/alloc_counter.cpp replaces operator new).
std::uint64_t kerec_allocation_count() noexcept;

using namespace kerec;

namespace {

EntityId eid(std::uint32_t v) { return EntityId(v); }

/// A toy world: `groups` substitute groups of `per` entities (entity e is in group e / per);
/// sessions of 5 tokens inside one group, each token replaced by a random entity with probability
/// `noise`; popularity within a group ∝ 1/(rank+1)^zipf over the first per - `unseen` members
/// (the last `unseen` never occur: new entities); complements: each entity of group g links to
/// the members of group (g + 1) % groups with probability `keep`.
struct Toy {
    std::size_t groups, per, n;
    EntitySequences seqs;
    std::vector<std::vector<std::pair<EntityId, float>>> rows;
    std::vector<std::pair<EntityId, EntityId>> truth;  // every hidden complement
    std::uint32_t group(EntityId e) const { return e.value() / static_cast<std::uint32_t>(per); }
};

Toy make_toy(std::size_t groups, std::size_t per, std::size_t sessions, double keep, std::uint64_t seed, double zipf = 1.2,
              double noise = 0.0, std::size_t unseen = 0) {
    Toy t{groups, per, groups * per, {}, {}, {}};
    Rng rng(seed);
    AliasSampler within(zipf_weights(per - unseen, zipf));
    std::vector<std::vector<EntityId>> lists;
    for (std::size_t s = 0; s < sessions; ++s) {
        const auto g = static_cast<std::uint32_t>(rng.uniform_int(groups));
        auto& l = lists.emplace_back();
        for (int k = 0; k < 5; ++k)
            l.push_back(rng.bernoulli(noise) ? eid(static_cast<std::uint32_t>(rng.uniform_int(t.n)))
                                             : eid(g * static_cast<std::uint32_t>(per) + within(rng)));
    }
    t.seqs = EntitySequences::from_lists(lists, t.n);
    t.rows.resize(t.n);
    for (std::uint32_t a = 0; a < t.n; ++a) {
        const auto h = (a / per + 1) % groups;
        for (std::uint32_t j = 0; j < per; ++j) {
            const EntityId b = eid(static_cast<std::uint32_t>(h * per + j));
            t.truth.emplace_back(eid(a), b);
            if (rng.bernoulli(keep)) t.rows[a].emplace_back(b, static_cast<float>(rng.uniform(0.1, 0.5)));
        }
    }
    return t;
}

RowMatrix<double> random_matrix(Eigen::Index r, Eigen::Index c, std::uint64_t seed) {
    Rng rng(seed);
    RowMatrix<double> m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = rng.normal();
    return m;
}

/// The InfoNCE loss written the obvious way (log-softmax per row and column), for the oracle.
double brute_infonce(const RowMatrix<double>& h1, const RowMatrix<double>& W, std::span<const EntityId> batch,
                     const ComplementNeighbours& nb, double tau) {
    const auto B = static_cast<Eigen::Index>(batch.size()), d = h1.cols();
    RowMatrix<double> Z(B, d), P(B, d);
    for (Eigen::Index i = 0; i < B; ++i) {
        const EntityId e = batch[static_cast<std::size_t>(i)];
        Z.row(i) = h1.row(e.index()).normalized();
        Eigen::RowVectorXd a = Eigen::RowVectorXd::Zero(d);
        if (nb.has_neighbours(e)) {
            for (std::size_t j = 0; j < nb.degree(e); ++j) a += double(nb.weights(e)[j]) * h1.row(nb.targets(e)[j].index());
        } else {
            a = h1.row(e.index());
        }
        P.row(i) = (W * a.transpose()).transpose().normalized();
    }
    const RowMatrix<double> S = Z * P.transpose() / tau;
    double l = 0;
    for (Eigen::Index i = 0; i < B; ++i) {
        double rs = 0, cs = 0;
        for (Eigen::Index j = 0; j < B; ++j) rs += std::exp(S(i, j)), cs += std::exp(S(j, i));
        l += -S(i, i) + std::log(rs) - S(i, i) + std::log(cs);
    }
    return l / (2.0 * static_cast<double>(B));
}

/// A small problem with every case of the gradient: shared neighbours, a batch entity that is
/// another's neighbour, a fallback entity (no neighbours) and a zero-weight row.
struct Small {
    std::size_t n = 9;
    ComplementNeighbours nb;
    std::vector<EntityId> batch{eid(0), eid(1), eid(2), eid(5), eid(7)};
};
Small make_small() {
    Small s;
    std::vector<std::vector<std::pair<EntityId, float>>> rows(s.n);
    rows[0] = {{eid(3), 0.5f}, {eid(4), 0.25f}};
    rows[1] = {{eid(3), 0.2f}, {eid(2), 0.7f}, {eid(6), 0.1f}};
    rows[2] = {{eid(4), 1.0f}};
    rows[5] = {{eid(0), 0.3f}, {eid(8), 0.3f}};
    rows[7] = {{eid(6), 0.0f}};  // zero weights: fallback
    s.nb = ComplementNeighbours::from_lists(rows, s.n);
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
TEST_CASE("sequences: sessions per user in time order, split by gap and after bills") {
    // items 0..5 -> entities 0,1,2,2,3,none
    const std::vector<EntityId> primary{eid(0), eid(1), eid(2), eid(2), eid(3), EntityId::invalid()};
    const auto map = ItemEntityMap::from_primary(primary, 4);
    auto ev = [](std::uint32_t u, std::uint32_t i, std::int64_t t, EventKind k) {
        return Event{.user = UserId(u), .item = ItemId(i), .time = t, .kind = k};
    };
    const std::vector<Event> events{
        ev(1, 1, 110, EventKind::view), ev(0, 0, 100, EventKind::view),  ev(0, 2, 120, EventKind::view),
        ev(0, 3, 130, EventKind::view), ev(0, 1, 140, EventKind::bill),  // session 1 of user 0: 0 2 (2 collapsed) 1
        ev(0, 4, 150, EventKind::view), ev(0, 0, 160, EventKind::click),  // session 2 (after the bill): 3 0
        ev(0, 5, 170, EventKind::view),                                    // unmapped item
        ev(0, 2, 9000, EventKind::view),                                   // after a gap: length 1, dropped
        ev(1, 4, 120, EventKind::exposure), ev(1, 2, 130, EventKind::bill)};  // user 1: 1 2 (exposure ignored)
    SequenceStats st;
    const auto s = build_sequences(events, map, {}, &st);
    REQUIRE(s.size() == 3);
    CHECK(std::vector<EntityId>(s[0].begin(), s[0].end()) == std::vector<EntityId>{eid(0), eid(2), eid(1)});
    CHECK(std::vector<EntityId>(s[1].begin(), s[1].end()) == std::vector<EntityId>{eid(3), eid(0)});
    CHECK(std::vector<EntityId>(s[2].begin(), s[2].end()) == std::vector<EntityId>{eid(1), eid(2)});
    CHECK(st.unmapped == 1);
    CHECK(st.short_sessions == 1);
    CHECK(st.events_used == 10);
    CHECK(s.counts() == std::vector<std::uint64_t>{2, 2, 2, 1});

    SequenceOptions no_split;
    no_split.end_at_bill = false;
    no_split.collapse_repeats = false;
    const auto s2 = build_sequences(events, map, no_split);
    REQUIRE(s2.size() == 2);
    CHECK(s2[0].size() == 6);  // 0 2 2 1 3 0

    SequenceOptions views_only;
    views_only.bills = views_only.clicks = false;
    CHECK(build_sequences(events, map, views_only).token_count() == 3);  // 0 2 3; the rest are single views

    // Bad input: an item outside the map, negative gap, tokens outside the entity range.
    std::vector<Event> bad = events;
    bad.push_back(ev(2, 17, 0, EventKind::view));
    CHECK_THROWS_AS(build_sequences(bad, map), OutOfRange);
    SequenceOptions neg;
    neg.session_gap = -1;
    CHECK_THROWS_AS(build_sequences(events, map, neg), InvalidArgument);
    const std::vector<std::vector<EntityId>> lists{{eid(0), eid(4)}};
    CHECK_THROWS_AS(EntitySequences::from_lists(lists, 4), OutOfRange);
    CHECK_THROWS_AS(EntitySequences({0, 3}, {eid(0)}, 4), InvalidArgument);
    CHECK(s.slice(1, 3).token_count() == 4);
    CHECK_THROWS_AS(s.slice(2, 4), OutOfRange);
}

TEST_CASE("sgns: substitutes become nearest neighbours; one thread is deterministic") {
    const Toy t = make_toy(8, 6, 3000, 0.5, 1);
    SgnsOptions o;
    o.dim = 16;
    o.epochs = 5;
    o.subsample = 0;
    o.seed = 3;
    auto train = [&](SgnsOptions oo) {
        Sgns<float> m(t.seqs.counts(), oo);
        double first = 0, last = 0;
        for (int e = 0; e < oo.epochs; ++e) {
            last = m.train_epoch(t.seqs);
            if (e == 0) first = last;
        }
        CHECK(last < first);
        return m;
    };
    const auto a = train(o), b = train(o);
    CHECK(a.h1().matrix() == b.h1().matrix());
    auto o2 = o;
    o2.seed = 4;
    CHECK(train(o2).h1().matrix() != a.h1().matrix());

    auto quality = [&](const EntityEmbeddings<float>& h) {
        std::vector<EntityId> q;
        for (std::uint32_t e = 0; e < t.n; ++e) q.push_back(eid(e));
        return substitute_precision_at_k(NearestIndex<float>(h), q, 5,
                                         [&](EntityId x, EntityId y) { return t.group(x) == t.group(y); },
                                         [&](EntityId) { return t.per - 1; });
    };
    CHECK(quality(a.h1()) > 0.9);
    auto o4 = o;
    o4.threads = 2;
    o4.subsample = 1e-3;
    CHECK(quality(train(o4).h1()) > 0.8);  // Hogwild, subsampled

    // The held-out loss of a trained model beats the untrained one.
    Sgns<double> fresh(t.seqs.counts(), o);
    const double before = fresh.evaluate(t.seqs);
    fresh.train_epoch(t.seqs);
    CHECK(fresh.evaluate(t.seqs) < before);

    // Bad input.
    std::vector<std::uint64_t> zeros(5, 0);
    CHECK_THROWS_AS(Sgns<float>(zeros, o), InvalidArgument);
    auto bad = o;
    bad.window = 0;
    CHECK_THROWS_AS(Sgns<float>(t.seqs.counts(), bad), InvalidArgument);
    bad = o;
    bad.learning_rate = std::nan("");
    CHECK_THROWS_AS(Sgns<float>(t.seqs.counts(), bad), InvalidArgument);
    const EntitySequences other = EntitySequences::from_lists(std::vector<std::vector<EntityId>>{{eid(0), eid(1)}}, 3);
    Sgns<float> m(t.seqs.counts(), o);
    CHECK_THROWS_AS(m.train_epoch(other), InvalidArgument);
}

TEST_CASE("second order: weighted mean of neighbours through W, fallback for entities without neighbours") {
    const Small s = make_small();
    const EntityEmbeddings<double> h1(random_matrix(static_cast<Eigen::Index>(s.n), 4, 11));
    const RowMatrix<double> W = random_matrix(4, 4, 12);
    const auto h2 = second_order(h1, W, s.nb);
    // Row 0: (0.5 h(3) + 0.25 h(4)) / 0.75.
    const Eigen::RowVectorXd a0 = (0.5 * h1.matrix().row(3) + 0.25 * h1.matrix().row(4)) / 0.75;
    CHECK((h2.matrix().row(0) - (W * a0.transpose()).transpose().normalized()).norm() < 1e-6);
    // Fallback: entity 3 (no edges) and 7 (only zero weights) use their own h1.
    for (std::uint32_t e : {3u, 7u}) {
        CHECK_FALSE(s.nb.has_neighbours(eid(e)));
        CHECK((h2.matrix().row(e) - (W * h1.matrix().row(e).transpose()).transpose().normalized()).norm() < 1e-12);
    }
    for (Eigen::Index r = 0; r < h2.matrix().rows(); ++r) CHECK(std::abs(h2.matrix().row(r).norm() - 1.0) < 1e-12);
    // A zero h1 row with no neighbours stays 0 (never NaN).
    EntityEmbeddings<double> z(s.n, 4);
    CHECK(second_order(z, W, s.nb).matrix().allFinite());

    // Through a FeedbackGraph (learned weights are the row weights).
    std::vector<Judgment> js{{eid(0), eid(1), Label::yes, 0.9f, "", "m", "v1", 0}, {eid(0), eid(2), Label::yes, 0.6f, "", "m", "v1", 0}};
    const FeedbackGraph g = build_graph<EdgeFeedback>(js);
    const ComplementNeighbours nbg(g, 3);
    CHECK(nbg.degree(eid(0)) == 2);
    CHECK(std::abs(nbg.weights(eid(0))[0] + nbg.weights(eid(0))[1] - 1.0f) < 1e-6f);
    CHECK_THROWS_AS(ComplementNeighbours(g, 2), OutOfRange);  // target 2 outside a 2-entity table

    // Bad input.
    using Rows = std::vector<std::vector<std::pair<EntityId, float>>>;
    CHECK_THROWS_AS(ComplementNeighbours::from_lists(Rows{{{eid(1), std::nanf("")}}, {}}, 2), InvalidArgument);
    CHECK_THROWS_AS(ComplementNeighbours::from_lists(Rows{{{eid(1), -0.5f}}, {}}, 2), InvalidArgument);
    CHECK_THROWS_AS(ComplementNeighbours::from_lists(Rows{{{eid(1), INFINITY}}, {}}, 2), InvalidArgument);
    CHECK_THROWS_AS(ComplementNeighbours::from_lists(Rows{{}, {}}, 2), InvalidArgument);  // no edges
    CHECK_THROWS_AS(ComplementNeighbours::from_lists(Rows{{}, {}, {{eid(0), 1.0f}}}, 2), OutOfRange);
    CHECK_THROWS_AS(ComplementNeighbours::from_lists(Rows{{{eid(5), 1.0f}}}, 2), OutOfRange);
    const EntityEmbeddings<double> wrong_rows(random_matrix(5, 4, 1));
    CHECK_THROWS_AS(second_order(wrong_rows, W, s.nb), InvalidArgument);
    CHECK_THROWS_AS(second_order(h1, RowMatrix<double>(RowMatrix<double>::Identity(3, 3)), s.nb), InvalidArgument);
    CHECK_THROWS_AS(s.nb.targets(eid(9)), OutOfRange);
}

TEST_CASE("infonce: loss equals the direct formula; analytic gradients equal finite differences") {
    const Small s = make_small();
    RowMatrix<double> h1 = random_matrix(static_cast<Eigen::Index>(s.n), 4, 21);
    RowMatrix<double> W = random_matrix(4, 4, 22);
    for (double tau : {0.1, 0.5}) {
        InfoNce<double> nce({.temperature = tau});
        const double l = nce.forward_backward(h1, W, s.batch, s.nb);
        CHECK(l == doctest::Approx(brute_infonce(h1, W, s.batch, s.nb, tau)).epsilon(1e-12));
        CHECK(nce.loss(h1, W, s.batch, s.nb) == l);
        // Dense gradient from the workspace.
        RowMatrix<double> g = RowMatrix<double>::Zero(h1.rows(), h1.cols());
        std::set<std::uint32_t> rows;
        for (std::size_t k = 0; k < nce.touched().size(); ++k) {
            g.row(nce.touched()[k].index()) = nce.row_gradients().row(static_cast<Eigen::Index>(k));
            CHECK(rows.insert(nce.touched()[k].value()).second);  // each row once
        }
        CHECK(rows == std::set<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});  // batch ∪ neighbours (6 via 1, 7 fallback)
        const RowMatrix<double> gw = nce.w_gradient();
        const double h = 1e-6;
        double worst = 0;
        for (Eigen::Index i = 0; i < h1.size(); ++i) {
            RowMatrix<double> hp = h1, hm = h1;
            hp.data()[i] += h, hm.data()[i] -= h;
            const double fd = (brute_infonce(hp, W, s.batch, s.nb, tau) - brute_infonce(hm, W, s.batch, s.nb, tau)) / (2 * h);
            worst = std::max(worst, std::abs(fd - g.data()[i]));
        }
        for (Eigen::Index i = 0; i < W.size(); ++i) {
            RowMatrix<double> wp = W, wm = W;
            wp.data()[i] += h, wm.data()[i] -= h;
            const double fd = (brute_infonce(h1, wp, s.batch, s.nb, tau) - brute_infonce(h1, wm, s.batch, s.nb, tau)) / (2 * h);
            worst = std::max(worst, std::abs(fd - gw.data()[i]));
        }
        CHECK(worst < 1e-7);
    }
    // float agrees with double.
    InfoNce<float> nf;
    const RowMatrix<float> hf = h1.cast<float>(), wf = W.cast<float>();
    CHECK(nf.loss(hf, wf, s.batch, s.nb) == doctest::Approx(brute_infonce(h1, W, s.batch, s.nb, 0.1)).epsilon(1e-5));

    // Bad input.
    InfoNce<double> nce;
    CHECK_THROWS_AS(nce.loss(h1, W, std::vector<EntityId>{eid(0)}, s.nb), InvalidArgument);
    CHECK_THROWS_AS(nce.loss(h1, W, std::vector<EntityId>{eid(0), eid(9)}, s.nb), OutOfRange);
    CHECK_THROWS_AS(nce.loss(h1, RowMatrix<double>::Identity(5, 5), s.batch, s.nb), InvalidArgument);
    CHECK_THROWS_AS(InfoNce<double>({.temperature = 0.0}), InvalidArgument);
    CHECK_THROWS_AS(InfoNce<double>({.temperature = 0.01}), InvalidArgument);
    // A NaN in the table: NaN loss, nothing updated.
    RowMatrix<double> hn = h1;
    hn(3, 1) = std::nan("");
    LazyAdam<double> ah(s.n, 4, {}), aw(4, 4, {});
    const RowMatrix<double> before = hn;
    CHECK(std::isnan(nce.step(hn, W, s.batch, s.nb, ah, aw)));
    CHECK(ah.steps() == 0);
    CHECK((hn.array() == before.array() || hn.array().isNaN()).all());
}

TEST_CASE("infonce: lazy Adam step touches only reached rows; the fused step allocates nothing at steady state") {
    const Small s = make_small();
    std::vector<std::vector<std::pair<EntityId, float>>> rows(12);
    rows[0] = {{eid(1), 1.0f}};
    rows[2] = {{eid(3), 1.0f}};
    const auto nb = ComplementNeighbours::from_lists(rows, 12);
    RowMatrix<float> h1 = random_matrix(12, 8, 31).cast<float>(), W = RowMatrix<float>::Identity(8, 8);
    const RowMatrix<float> h0 = h1;
    InfoNce<float> nce;
    LazyAdam<float> ah(12, 8, {.learning_rate = 0.01}), aw(8, 8, {.learning_rate = 0.01});
    const std::vector<EntityId> batch{eid(0), eid(2)};
    const float l0 = nce.step(h1, W, batch, nb, ah, aw);
    for (int r = 0; r < 12; ++r) CHECK((h1.row(r) != h0.row(r)) == (r <= 3));
    // Adam's first step moves each coordinate by lr·sign(g) (m̂/√v̂ = ±1 up to ε).
    CHECK(std::abs(std::abs(h1(0, 0) - h0(0, 0)) - 0.01f) < 1e-4f);
    for (int k = 0; k < 200; ++k) nce.step(h1, W, batch, nb, ah, aw);
    CHECK(nce.loss(h1, W, batch, nb) < l0);

    // Steady state: no allocation in step() once the workspace has seen the largest batch.
    RowMatrix<float> h = random_matrix(static_cast<Eigen::Index>(s.n), 4, 32).cast<float>(), w4 = RowMatrix<float>::Identity(4, 4);
    LazyAdam<float> bh(s.n, 4, {}), bw(4, 4, {});
    InfoNce<float> n2;
    n2.step(h, w4, s.batch, s.nb, bh, bw);
    const std::vector<EntityId> smaller{eid(1), eid(5), eid(2)};
    // Neither operator new nor Eigen's own allocator (which is malloc) is called: Eigen asserts if
    // it would allocate (its products' packing buffers are the step's own; the large case follows).
    const auto before = kerec_allocation_count();
    Eigen::internal::set_is_malloc_allowed(false);
    for (int k = 0; k < 10; ++k) {
        n2.step(h, w4, s.batch, s.nb, bh, bw);
        n2.step(h, w4, smaller, s.nb, bh, bw);
    }
    Eigen::internal::set_is_malloc_allowed(true);
    CHECK(kerec_allocation_count() == before);
    {  // B = 1024, d = 64: Eigen's own products would put their packing buffers (> 128 KB) on the heap
        const std::size_t n = 3000, d = 64;
        std::vector<std::vector<std::pair<EntityId, float>>> lists(n);
        for (std::uint32_t e = 0; e < n; ++e)
            for (std::uint32_t k = 1; k <= 4; ++k) lists[e].emplace_back(eid((e * 7 + k * 131) % n), 0.25f * static_cast<float>(k));
        const auto big_nb = ComplementNeighbours::from_lists(lists, n);
        std::vector<EntityId> big(1024);
        for (std::uint32_t i = 0; i < big.size(); ++i) big[i] = eid((i * 3) % n);
        RowMatrix<float> hb = random_matrix(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d), 33).cast<float>();
        RowMatrix<float> wb = RowMatrix<float>::Identity(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
        LazyAdam<float> ch(n, d, {}), cw(d, d, {});
        InfoNce<float> n3;
        const float first = n3.step(hb, wb, big, big_nb, ch, cw);
        const auto at = kerec_allocation_count();
        Eigen::internal::set_is_malloc_allowed(false);
        float last = 0;
        for (int k = 0; k < 3; ++k) last = n3.step(hb, wb, big, big_nb, ch, cw);
        Eigen::internal::set_is_malloc_allowed(true);
        CHECK(kerec_allocation_count() == at);
        CHECK(std::isfinite(last));
        CHECK(last < first);
    }
    CHECK_THROWS_AS(nce.step(h1, W, batch, nb, bh, aw), InvalidArgument);  // Adam state of another shape
}

TEST_CASE("lazy Adam on a table large enough for the huge-page hint: zeroed moments, exact first steps, other rows untouched") {
    const std::size_t n = 20000, d = 64;  // 5 MiB per moment table
    RowMatrix<float> x = RowMatrix<float>::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
    LazyAdam<float> adam(n, d, {.learning_rate = 0.01});
    std::vector<float> g(d);
    for (std::size_t j = 0; j < d; ++j) g[j] = (j % 2 ? 1.0f : -1.0f) * (0.5f + static_cast<float>(j));
    const std::size_t touched[] = {0, 7777, n - 1};
    for (std::size_t r : touched) {  // row r first touched at step t = 1, 2, 3
        adam.begin_step();
        adam.update_row(x, r, g.data());
    }
    // A row first touched at step t has zero moments before it: m = (1-β1)g, v = (1-β2)g², and with
    // the bias corrections of step t it moves by -lr·(m/(1-β1^t)) / (√(v/(1-β2^t)) + ε).
    for (int t = 1; t <= 3; ++t)
        for (std::size_t j = 0; j < d; ++j) {
            const double gj = g[j], c1 = 1 - std::pow(0.9, t), c2 = 1 - std::pow(0.999, t);
            const double want = -0.01 * (0.1 * gj / c1) / (std::sqrt(0.001 * gj * gj / c2) + 1e-8);
            CHECK(x(static_cast<Eigen::Index>(touched[t - 1]), static_cast<Eigen::Index>(j)) == doctest::Approx(want).epsilon(1e-5));
        }
    x.row(0).setZero(), x.row(7777).setZero(), x.row(static_cast<Eigen::Index>(n - 1)).setZero();
    CHECK(x.cwiseAbs().maxCoeff() == 0.0f);
}

TEST_CASE("infonce: loss, gradients and one Adam step equal PyTorch autograd" * doctest::skip(false)) {
    const Small s = make_small();
    const RowMatrix<double> h1 = random_matrix(static_cast<Eigen::Index>(s.n), 6, 41), W = random_matrix(6, 6, 42);
    test::TempDir dir("torch");
    save_npy(dir / "h1.npy", h1);
    save_npy(dir / "W.npy", W);
    RowMatrix<double> batch(1, s.batch.size()), off(1, s.n + 1);  // ids as float64 (.npy of float/double)
    for (std::size_t i = 0; i < s.batch.size(); ++i) batch(0, static_cast<Eigen::Index>(i)) = s.batch[i].value();
    std::vector<double> tgt;
    std::vector<double> wts;
    off(0, 0) = 0;
    for (std::uint32_t e = 0; e < s.n; ++e) {
        for (std::size_t j = 0; j < s.nb.degree(eid(e)); ++j) tgt.push_back(s.nb.targets(eid(e))[j].value()), wts.push_back(s.nb.weights(eid(e))[j]);
        off(0, e + 1) = static_cast<double>(tgt.size());
    }
    auto save_vec = [&](const std::string& name, const auto& v) {
        using T = std::decay_t<decltype(v[0])>;
        Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m(1, static_cast<Eigen::Index>(v.size()));
        for (std::size_t i = 0; i < v.size(); ++i) m(0, static_cast<Eigen::Index>(i)) = v[i];
        save_npy(dir / name, m);
    };
    save_npy(dir / "batch.npy", batch);
    save_npy(dir / "nb_off.npy", off);
    save_vec("nb_tgt.npy", tgt);
    save_vec("nb_w.npy", wts);
    const std::string cmd = std::string(KEREC_PYTHON3) + " " + KEREC_EMBED_TORCH_SCRIPT + " " + dir.path().string() + " 0.2 0.01 2>&1";
    const int rc = std::system(cmd.c_str());
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        MESSAGE("torch is not installed for " KEREC_PYTHON3 ": PyTorch comparison skipped");
        return;
    }
    REQUIRE(rc == 0);
    auto flat = [](const RowMatrix<double>& m) { return Eigen::Map<const Eigen::VectorXd>(m.data(), m.size()); };
    InfoNce<double> nce({.temperature = 0.2});
    const double l = nce.forward_backward(h1, W, s.batch, s.nb);
    CHECK(std::abs(l - load_npy<double>(dir / "loss.npy")(0, 0)) < 1e-10);
    RowMatrix<double> g = RowMatrix<double>::Zero(h1.rows(), h1.cols());
    for (std::size_t k = 0; k < nce.touched().size(); ++k) g.row(nce.touched()[k].index()) = nce.row_gradients().row(static_cast<Eigen::Index>(k));
    CHECK((flat(g) - flat(load_npy<double>(dir / "grad_h1.npy").reshaped<Eigen::RowMajor>(h1.rows(), h1.cols()))).cwiseAbs().maxCoeff() < 1e-10);
    CHECK((flat(nce.w_gradient()) - flat(load_npy<double>(dir / "grad_W.npy"))).cwiseAbs().maxCoeff() < 1e-10);
    // One step: lazy Adam = torch SparseAdam on the table, Adam on W (they place ε slightly
    // differently; with ε = 1e-8 the parameters agree far below 1e-5).
    RowMatrix<double> h = h1, w = W;
    LazyAdam<double> ah(s.n, 6, {.learning_rate = 0.01}), aw(6, 6, {.learning_rate = 0.01});
    nce.step(h, w, s.batch, s.nb, ah, aw);
    CHECK((flat(h) - flat(load_npy<double>(dir / "h1_after.npy"))).cwiseAbs().maxCoeff() < 1e-5);
    CHECK((flat(w) - flat(load_npy<double>(dir / "W_after.npy"))).cwiseAbs().maxCoeff() < 1e-5);
}

TEST_CASE("nearest neighbours and predicted complements equal brute force") {
    const RowMatrix<float> m = random_matrix(3000, 8, 51).cast<float>();
    const EntityEmbeddings<float> h(m);
    const NearestIndex<float> idx(h);
    const std::vector<EntityId> q{eid(0), eid(17), eid(2999)};
    const auto res = idx.nearest(q, 7);
    for (std::size_t i = 0; i < q.size(); ++i) {
        std::vector<std::pair<float, std::uint32_t>> all;
        for (std::uint32_t r = 0; r < 3000; ++r)
            if (r != q[i].value()) all.emplace_back(-h.cosine(q[i], eid(r)), r);
        std::sort(all.begin(), all.end());
        REQUIRE(res[i].size() == 7);
        for (std::size_t k = 0; k < 7; ++k) {
            CHECK(res[i][k].entity.value() == all[k].second);
            CHECK(res[i][k].score == doctest::Approx(-all[k].first).epsilon(1e-5));
        }
    }
    std::vector<std::vector<std::pair<EntityId, float>>> rows(3000);
    rows[5] = {{eid(10), 0.75f}, {eid(11), 0.25f}};
    const auto nb = ComplementNeighbours::from_lists(rows, 3000);
    const auto pc = predict_complements(idx, nb, std::vector<EntityId>{eid(5), eid(6)}, 4);
    REQUIRE(pc[0].size() == 4);
    CHECK(pc[1].empty());  // no neighbours
    std::vector<std::pair<float, std::uint32_t>> all;
    for (std::uint32_t b = 0; b < 3000; ++b)
        if (b != 5 && b != 10 && b != 11) all.emplace_back(-(0.75f * h.cosine(eid(10), eid(b)) + 0.25f * h.cosine(eid(11), eid(b))), b);
    std::sort(all.begin(), all.end());
    for (std::size_t k = 0; k < 4; ++k) CHECK(pc[0][k].entity.value() == all[k].second);
    CHECK_THROWS_AS(idx.nearest(std::vector<EntityId>{eid(3000)}, 3), OutOfRange);
    const auto nb_small = ComplementNeighbours::from_lists(std::vector<std::vector<std::pair<EntityId, float>>>{{{eid(1), 1.f}}, {}}, 2);
    CHECK_THROWS_AS(predict_complements(idx, nb_small, std::vector<EntityId>{eid(0)}, 3), OutOfRange);
}

TEST_CASE("fit: contrastive alignment helps the entities with the least behaviour; logs, early stopping, bad input") {
    const Toy t = make_toy(10, 8, 1500, 0.6, 7, 1.5, 0.3, 2);
    const auto nb = ComplementNeighbours::from_lists(t.rows, t.n);
    EmbedOptions o;
    o.sgns.dim = 16;
    o.sgns.subsample = 0;
    o.sgns.seed = 5;
    o.epochs = 8;
    o.batch = 64;
    // The toy's sparse entities have (almost) no behaviour, so only the contrastive term can place
    // them: at full weight. (The default λ is tuned on the medium world, docs/embed.md; at it the
    // toy's sparse P@7 is 0.057 against 0.071 at λ = 0.)
    o.lambda = 1.0;
    std::vector<EpochLog> seen;
    std::uint64_t progress_calls = 0;
    FitCallbacks cb{[&](const Progress&) { ++progress_calls; }, [&](const EpochLog& l) { seen.push_back(l); }};
    const auto m = fit<float>(t.seqs, nb, o, cb);
    CHECK(seen.size() == m.log.size());
    CHECK(progress_calls > 0);
    CHECK(m.best_epoch >= 1);
    for (const auto& l : m.log) {
        CHECK(std::isfinite(l.validation_loss));
        CHECK(l.contrastive_steps > 0);
    }
    CHECK(m.final.matrix() == m.h1.matrix());
    CHECK(m.h2.size() == t.n);

    // Sparse entities: the last two of every group (they occur only as noise, or not at all).
    const auto counts = t.seqs.counts();
    std::vector<EntityId> sparse;
    for (std::uint32_t e = 0; e < t.n; ++e)
        if (e % t.per >= t.per - 2) sparse.push_back(eid(e));
    auto p_at = [&](const EntityEmbeddings<float>& h) {
        return substitute_precision_at_k(NearestIndex<float>(h), sparse, 7, [&](EntityId x, EntityId y) { return t.group(x) == t.group(y); },
                                         [&](EntityId) { return t.per - 1; });
    };
    auto o0 = o;
    o0.lambda = 0;
    const auto m0 = fit<float>(t.seqs, nb, o0);
    MESSAGE("sparse P@7: contrastive " << p_at(m.h1) << ", lambda 0 " << p_at(m0.h1));
    CHECK(p_at(m.h1) > p_at(m0.h1));
    CHECK(m0.W == RowMatrix<float>::Identity(16, 16));
    const auto rc = missed_complement_recall_at_k(NearestIndex<float>(m.final), nb, t.truth, 10);
    const auto rr = random_missed_complement_recall_at_k(nb, t.truth, 10, 1);
    MESSAGE("missed recall@10: " << rc.recall << " vs random " << rr.recall);
    CHECK(rc.missed_edges == rr.missed_edges);
    CHECK(rc.recall > 2 * rr.recall);

    // Final views.
    auto oc = o;
    oc.final_view = FinalView::concat;
    oc.epochs = 2;
    const auto mc = fit<float>(t.seqs, nb, oc);
    CHECK(mc.final.dim() == 32);
    CHECK(mc.final.cosine(eid(0), eid(1)) ==
          doctest::Approx(0.5 * (mc.h1.cosine(eid(0), eid(1)) + mc.h2.cosine(eid(0), eid(1)))).epsilon(1e-4));

    // Early stopping: the held-out sessions (every 20th) pair entities across groups, which
    // training on the others keeps apart, so the validation loss rises after the first epochs.
    std::vector<std::vector<EntityId>> mixed;
    Rng mr(3);
    for (std::size_t s = 0; s < 1500; ++s) {
        auto& l = mixed.emplace_back();
        const auto g = static_cast<std::uint32_t>(mr.uniform_int(t.groups));
        for (std::uint32_t k = 0; k < 5; ++k)
            l.push_back(s % 20 == 19 ? eid(static_cast<std::uint32_t>(((g + k) % t.groups) * t.per + k))
                                     : eid(g * static_cast<std::uint32_t>(t.per) + k));
    }
    auto oe = o;
    oe.lambda = 0;
    oe.epochs = 30;
    oe.patience = 2;
    const auto me = fit<float>(EntitySequences::from_lists(mixed, t.n), nb, oe);
    CHECK(me.stopped_early);
    CHECK(me.log.size() < 30u);
    CHECK(me.best_epoch == static_cast<int>(me.log.size()) - 2);
    CHECK(me.log[static_cast<std::size_t>(me.best_epoch) - 1].improved);
    CHECK_FALSE(me.log.back().improved);

    // Through a FeedbackGraph.
    std::vector<Judgment> js;
    for (std::uint32_t a = 0; a < t.n; ++a)
        for (auto [b, w] : t.rows[a]) js.push_back(Judgment{eid(a), b, Label::yes, 0.5f + w, "", "m", "v1", 0});
    const FeedbackGraph g = build_graph<EdgeFeedback>(js);
    auto o1 = o;
    o1.epochs = 1;
    CHECK(fit<double>(t.seqs, g, o1).h1.size() == t.n);

    // Bad input.
    CHECK_THROWS_AS(fit<float>(EntitySequences(), nb, o), InvalidArgument);  // entity count mismatch
    const auto empty_seqs = EntitySequences::from_lists(std::vector<std::vector<EntityId>>{{}, {}}, t.n);
    CHECK_THROWS_AS(fit<float>(empty_seqs, nb, o), InvalidArgument);
    const auto singles = EntitySequences::from_lists(std::vector<std::vector<EntityId>>(40, {eid(1)}), t.n);
    CHECK_THROWS_AS(fit<float>(singles, nb, o), InvalidArgument);
    std::vector<std::vector<std::pair<EntityId, float>>> one(t.n);
    one[0] = {{eid(1), 1.0f}};
    CHECK_THROWS_AS(fit<float>(t.seqs, ComplementNeighbours::from_lists(one, t.n), o), InvalidArgument);  // 1 graph entity
    auto bad = o;
    bad.lambda = -1;
    CHECK_THROWS_AS(fit<float>(t.seqs, nb, bad), InvalidArgument);
    // Divergence: an absurd SGD step overflows h1; the error names the epoch and the remedy.
    auto div = o;
    div.sgns.learning_rate = 1e35;
    div.sgns.min_learning_rate = 0;
    try {
        (void)fit<float>(t.seqs, nb, div);
        FAIL("expected TrainingDiverged");
    } catch (const TrainingDiverged& e) {
        const std::string w = e.what();
        CHECK(w.find("epoch 1") != std::string::npos);
        CHECK(w.find("lower sgns.learning_rate") != std::string::npos);
    }
}

TEST_CASE("embeddings .npy round trip; NaN/Inf and a table that does not match the graph are rejected") {
    test::TempDir dir("npy");
    const EntityEmbeddings<float> h(random_matrix(6, 3, 61).cast<float>());
    h.save(dir / "h.npy");
    const auto back = EntityEmbeddings<float>::load(dir / "h.npy");
    CHECK(back.matrix() == h.matrix());
    RowMatrix<float> bad = h.matrix();
    bad(4, 2) = std::numeric_limits<float>::infinity();
    save_npy(dir / "inf.npy", bad);
    CHECK_THROWS_AS(EntityEmbeddings<float>::load(dir / "inf.npy"), InvalidArgument);
    bad(4, 2) = std::nanf("");
    save_npy(dir / "nan.npy", bad);
    try {
        (void)EntityEmbeddings<float>::load(dir / "nan.npy");
        FAIL("expected InvalidArgument");
    } catch (const InvalidArgument& e) {
        CHECK(std::string(e.what()).find("nan.npy") != std::string::npos);
        CHECK(std::string(e.what()).find("(4, 2)") != std::string::npos);
    }
    // A loaded 6-entity table against a graph over 8 entities.
    std::vector<std::vector<std::pair<EntityId, float>>> rows(8);
    rows[7] = {{eid(6), 1.0f}};
    CHECK_THROWS_AS(ComplementNeighbours::from_lists(rows, back.size()), OutOfRange);
    const auto nb8 = ComplementNeighbours::from_lists(rows, 8);
    CHECK_THROWS_AS(second_order(back, RowMatrix<float>(RowMatrix<float>::Identity(3, 3)), nb8), InvalidArgument);
}
