// E-E-I: samples from events, the MLP (gradient check, training, early stopping, files, bad
// input), stage-2 integration, the reference base ranker and the integrated recommender.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/eei/integration.hpp>
#include <kerec/eei/model.hpp>
#include <kerec/eei/samples.hpp>
#include <kerec/graph/builder.hpp>

#include "../test_util.hpp"

using namespace kerec;

namespace {
using FB = GraphBuilder<EntityId, EdgeFeedback>;
using FE = GraphEdge<EntityId, EdgeFeedback>;

template <class Scalar>
EntityEmbeddings<Scalar> random_embeddings(std::size_t n, std::size_t d, std::uint64_t seed) {
    Rng rng(seed);
    RowMatrix<Scalar> m(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<Scalar>(rng.normal());
    return EntityEmbeddings<Scalar>(std::move(m));
}

// Clicks follow σ(2·⟨h(t), h(c)⟩ + 2·w − 1): only a model that multiplies the two entities'
// vectors can rank them well.
std::vector<EEISample> synthetic(const EntityEmbeddings<float>& h, std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<EEISample> s(n);
    for (auto& x : s) {
        x.trigger = EntityId(static_cast<std::uint32_t>(rng.uniform_int(h.size())));
        x.candidate = EntityId(static_cast<std::uint32_t>(rng.uniform_int(h.size())));
        x.item = ItemId(0);
        x.edge_weight = static_cast<float>(rng.uniform());
        x.llm_confidence = static_cast<float>(rng.uniform(0.5, 1.0));
        x.item_features = {static_cast<float>(rng.normal())};
        const double dot = h.row(x.trigger).dot(h.row(x.candidate)) / std::sqrt(static_cast<double>(h.dim()));
        x.label = rng.bernoulli(1.0 / (1.0 + std::exp(-(2.0 * dot + 2.0 * x.edge_weight - 1.0)))) ? 1.0f : 0.0f;
    }
    return s;
}
}  // namespace

TEST_CASE("eei model: analytic gradient matches central finite differences") {
    EEIConfig cfg;
    cfg.hidden = {5, 4};
    cfg.l2 = 0.01;
    EEIModel<double> m(3, 2, cfg);
    CHECK(m.input_dim() == 3 * 3 + 2 + 2);
    CHECK(m.parameter_count() == 13 * 5 + 5 + 5 * 4 + 4 + 4 + 1);
    Rng rng(9);
    for (auto& p : m.parameters()) p += 0.1 * rng.normal();  // non-zero biases too
    RowMatrix<double> X(16, static_cast<Eigen::Index>(m.input_dim()));
    for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = rng.normal();
    std::vector<double> y(16);
    for (auto& v : y) v = rng.bernoulli(0.4) ? 1.0 : 0.0;
    EEIWorkspace<double> ws;
    std::vector<double> g, tmp;
    m.loss_and_gradient(X, y, g, ws);
    double worst = 0;
    for (std::size_t k = 0; k < m.parameter_count(); ++k) {
        const double keep = m.parameters()[k], eps = 1e-6;
        m.parameters()[k] = keep + eps;
        const double lp = m.loss_and_gradient(X, y, tmp, ws);
        m.parameters()[k] = keep - eps;
        const double lm = m.loss_and_gradient(X, y, tmp, ws);
        m.parameters()[k] = keep;
        const double fd = (lp - lm) / (2 * eps);
        worst = std::max(worst, std::abs(fd - g[k]) / std::max(1e-6, std::abs(fd) + std::abs(g[k])));
    }
    CHECK(worst < 1e-5);
    // A corrupted gradient would be caught: the check is sensitive.
    CHECK(std::abs(g[0]) + std::abs(g[m.parameter_count() - 1]) > 0);
}

TEST_CASE("eei model: learns an entity-interaction rule, early stops, is deterministic") {
    const auto h = random_embeddings<float>(40, 8, 1);
    const auto train = synthetic(h, 6000, 2), valid = synthetic(h, 1500, 3), test = synthetic(h, 3000, 4);
    EEIConfig cfg;
    cfg.hidden = {32, 16};
    cfg.learning_rate = 3e-3;
    cfg.max_epochs = 40;
    cfg.patience = 3;
    EEIModel<float> m(8, 1, cfg);
    const auto rep = m.fit(h, train, valid);
    CHECK(rep.epochs >= 2);
    CHECK(rep.best_epoch >= 1);
    CHECK(rep.best_epoch <= rep.epochs);
    CHECK(rep.valid_auc.size() == rep.epochs);
    CHECK(rep.best_valid_auc == doctest::Approx(*std::max_element(rep.valid_auc.begin(), rep.valid_auc.end())));
    CHECK(rep.best_valid_auc == doctest::Approx(m.validation_auc(h, valid)));  // best weights kept
    CHECK(rep.train_loss.back() < rep.train_loss.front());
    // Oracle AUC (the true logit) vs the model vs the edge weight alone.
    std::vector<float> truth, w, y;
    for (const auto& s : test) {
        truth.push_back(static_cast<float>(2.0 * h.row(s.trigger).dot(h.row(s.candidate)) / std::sqrt(8.0) + 2.0 * s.edge_weight));
        w.push_back(s.edge_weight);
        y.push_back(s.label);
    }
    const double a_model = m.validation_auc(h, test), a_oracle = auc(truth, y), a_edge = auc(w, y);
    MESSAGE("AUC oracle " << a_oracle << ", model " << a_model << ", edge weight only " << a_edge);
    CHECK(a_model > a_edge + 0.08);
    CHECK(a_model > a_oracle - 0.06);
    EEIModel<float> again(8, 1, cfg);
    again.fit(h, train, valid);
    CHECK(std::equal(again.parameters().begin(), again.parameters().end(), m.parameters().begin()));
}

TEST_CASE("eei model: save/load round trip and validated files") {
    test::TempDir dir("eei");
    const auto h = random_embeddings<float>(10, 4, 5);
    auto samples = synthetic(h, 300, 6);
    EEIConfig cfg;
    cfg.hidden = {6};
    cfg.max_epochs = 2;
    EEIModel<float> m(4, 1, cfg);
    m.fit(h, samples);
    const auto path = dir / "eei.bin";
    m.save(path);
    const auto back = EEIModel<float>::load(path, 4, 1);
    std::vector<float> a(samples.size()), b(samples.size());
    m.score(h, samples, a);
    back.score(h, samples, b);
    CHECK(a == b);
    CHECK(back.config().hidden == cfg.hidden);

    CHECK_THROWS_AS(EEIModel<float>::load(path, 8, 1), InvalidArgument);  // another dimension
    CHECK_THROWS_WITH_AS(EEIModel<float>::load(path, 8, 1), doctest::Contains("embedding dim 4"), InvalidArgument);
    CHECK_THROWS_AS(EEIModel<double>::load(path), ParseError);             // another scalar
    std::string bytes = read_file(path);
    auto write = [&](const std::string& content) {
        std::ofstream(dir / "bad.bin", std::ios::binary) << content;
        return dir / "bad.bin";
    };
    std::string flipped = bytes;
    flipped[bytes.size() / 2] ^= 0x20;
    CHECK_THROWS_AS(EEIModel<float>::load(write(flipped)), ParseError);
    CHECK_THROWS_AS(EEIModel<float>::load(write(bytes.substr(0, bytes.size() - 9))), ParseError);
    CHECK_THROWS_AS(EEIModel<float>::load(write(bytes.substr(0, 20))), ParseError);
    CHECK_THROWS_AS(EEIModel<float>::load(write("not a model at all, just some text here")), ParseError);
    CHECK_THROWS_AS(EEIModel<float>::load(dir / "missing.bin"), IoError);
    // Embeddings of another dimension at scoring time.
    const auto h8 = random_embeddings<float>(10, 8, 5);
    CHECK_THROWS_AS(back.score(h8, samples, a), InvalidArgument);
    CHECK_THROWS_AS(EEIScorer<float>(back, h8), InvalidArgument);
}

TEST_CASE("eei model: NaN/Inf inputs and malformed samples are rejected, naming sample and feature") {
    const auto h = random_embeddings<float>(10, 4, 5);
    auto samples = synthetic(h, 20, 6);
    EEIConfig cfg;
    cfg.max_epochs = 1;
    EEIModel<float> m(4, 1, cfg);
    std::vector<float> z(samples.size());
    samples[7].item_features[0] = NAN;
    CHECK_THROWS_WITH_AS(m.score(h, samples, z), doctest::Contains("sample 7: feature item_features[0]"), InvalidArgument);
    CHECK_THROWS_AS(m.fit(h, samples), InvalidArgument);
    samples[7].item_features[0] = 0;
    samples[3].edge_weight = INFINITY;
    CHECK_THROWS_WITH_AS(m.score(h, samples, z), doctest::Contains("sample 3: feature edge_weight"), InvalidArgument);
    samples[3].edge_weight = 0.5f;
    samples[4].item_features.clear();
    CHECK_THROWS_WITH_AS(m.score(h, samples, z), doctest::Contains("sample 4"), InvalidArgument);
    samples[4].item_features = {1.0f};
    samples[5].candidate = EntityId(99);
    CHECK_THROWS_AS(m.score(h, samples, z), OutOfRange);
    samples[5].candidate = EntityId(1);
    samples[6].label = 0.5f;
    CHECK_THROWS_AS(m.fit(h, samples), InvalidArgument);
    samples[6].label = 1.0f;
    CHECK_NOTHROW(m.score(h, samples, z));
    for (float x : z) CHECK(std::isfinite(x));
    CHECK_THROWS_AS(m.fit(h, {}), InvalidArgument);
    CHECK_THROWS_AS(EEIModel<float>().score(h, samples, z), InvalidArgument);
    EEIConfig bad;
    bad.hidden = {0};
    CHECK_THROWS_AS(EEIModel<float>(4, 1, bad), InvalidArgument);
    bad.hidden = {4};
    bad.learning_rate = NAN;
    CHECK_THROWS_AS(EEIModel<float>(4, 1, bad), InvalidArgument);
}

TEST_CASE("eei samples: exposures grouped with their clicks, by request id or by exposure") {
    // items 0..3 → entities 0..3; graph 0 → 1, 0 → 2.
    std::vector<EntityId> primary = {EntityId(0), EntityId(1), EntityId(2), EntityId(3)};
    const auto map = ItemEntityMap::from_primary(primary, 4);
    GraphBuildOptions o;
    o.threads = 1;
    const auto g = FB::build(std::vector<FE>{FE{EntityId(0), EntityId(1), 0.7f, {0.9f, 0, 0, 0}}, FE{EntityId(0), EntityId(2), 0.3f, {0.6f, 0, 0, 0}}}, o);
    ItemFeatures feats(4, 2);
    feats.row(ItemId(1))[0] = 5.0f;
    const UserId u(3);
    std::vector<Event> ev = {
        Event{.user = u, .item = ItemId(0), .time = 10},  // the bill
        Event{.user = u, .item = ItemId(1), .time = 10, .kind = EventKind::exposure, .position = 0, .trigger = ItemId(0)},
        Event{.user = u, .item = ItemId(2), .time = 10, .kind = EventKind::exposure, .position = 1, .trigger = ItemId(0)},
        Event{.user = u, .item = ItemId(3), .time = 10, .kind = EventKind::exposure, .position = 2, .trigger = ItemId(0)},  // not an edge
        Event{.user = u, .item = ItemId(1), .time = 10, .kind = EventKind::click, .position = 0, .trigger = ItemId(0)},
        // A second list with request ids: same item, other time; its click arrives later.
        Event{.user = u, .item = ItemId(1), .time = 50, .kind = EventKind::exposure, .trigger = ItemId(0), .request = 7},
        Event{.user = u, .item = ItemId(2), .time = 50, .kind = EventKind::exposure, .position = 1, .trigger = ItemId(0), .request = 7},
        Event{.user = u, .item = ItemId(2), .time = 55, .kind = EventKind::click, .position = 1, .trigger = ItemId(0), .request = 7},
        Event{.user = u, .item = ItemId(2), .time = 90, .kind = EventKind::click, .trigger = ItemId(0)},  // no exposure
        Event{.user = u, .item = ItemId(2), .time = 90, .kind = EventKind::exposure},                     // no trigger
    };
    EEISampleStats st;
    const auto s = build_eei_samples(ev, map, g, &feats, {}, &st);
    REQUIRE(s.size() == 4);
    CHECK(st.exposures == 5);
    CHECK(st.clicks == 3);
    CHECK(st.no_edge == 1);
    CHECK(st.positives == 2);
    CHECK(st.clicks_without_exposure == 1);
    CHECK(s[0].item == ItemId(1));
    CHECK(s[0].label == 1.0f);
    CHECK(s[0].edge_weight == doctest::Approx(0.7));
    CHECK(s[0].llm_confidence == doctest::Approx(0.9));
    CHECK(s[0].item_features == std::vector<float>{5.0f, 0.0f});
    CHECK(s[1].label == 0.0f);
    CHECK(s[2].label == 0.0f);  // request 7, item 1: not clicked
    CHECK(s[3].label == 1.0f);  // request 7, item 2: clicked 5 s later
    CHECK(s[3].position == 1);
    const auto all = build_eei_samples(ev, map, g, nullptr, EEISampleOptions{.graph_edges_only = false});
    CHECK(all.size() == 5);
    CHECK(all[2].edge_weight == 0.0f);
    std::vector<Event> bad = {Event{.user = u, .item = ItemId(9), .kind = EventKind::exposure, .trigger = ItemId(0)}};
    CHECK_THROWS_AS(build_eei_samples(bad, map, g), OutOfRange);
}

TEST_CASE("integration: recovers the combination per segment; bad input is an error") {
    Rng rng(21);
    const std::size_t n = 30000;
    std::vector<float> base(n), eei(n), y(n);
    std::vector<std::uint32_t> seg(n);
    const double A[3] = {1.0, 0.3, 0.8}, Bc[3] = {0.5, 1.5, 0.0}, C[3] = {-1.0, 0.2, 0.0};
    for (std::size_t i = 0; i < n; ++i) {
        base[i] = static_cast<float>(rng.normal());
        eei[i] = static_cast<float>(rng.normal());
        seg[i] = i % 100 == 0 ? 2u : static_cast<std::uint32_t>(rng.uniform_int(2));  // segment 2: 300 samples
        const auto s = seg[i];
        y[i] = rng.bernoulli(1.0 / (1.0 + std::exp(-(A[s] * base[i] + Bc[s] * eei[i] + C[s])))) ? 1.0f : 0.0f;
    }
    EEIIntegration integ;
    IntegrationConfig cfg;
    cfg.min_samples = 1000;  // segment 2 is too small: it uses the global fit
    integ.fit(base, eei, y, seg, 3, cfg);
    for (std::uint32_t s = 0; s < 2; ++s) {
        CHECK(integ.coefficients(s).own);
        CHECK(integ.coefficients(s).a == doctest::Approx(A[s]).epsilon(0.1));
        CHECK(integ.coefficients(s).b == doctest::Approx(Bc[s]).epsilon(0.1));
        CHECK(integ.coefficients(s).c == doctest::Approx(C[s]).epsilon(0.15));
    }
    CHECK(!integ.coefficients(2).own);
    CHECK(integ.coefficients(2).samples == 300);
    CHECK(integ.coefficients(2).a == doctest::Approx(integ.global().a));
    const float p = integ.probability(1.0f, 1.0f, 1);
    CHECK(p == doctest::Approx(1.0 / (1.0 + std::exp(-(0.3 + 1.5 + 0.2)))).epsilon(0.05));
    std::vector<float> ones(n, 1.0f);
    CHECK_THROWS_AS(integ.fit(base, eei, ones, seg, 3), InvalidArgument);  // one class
    std::vector<float> nan = base;
    nan[5] = NAN;
    CHECK_THROWS_WITH_AS(integ.fit(nan, eei, y, seg, 3), doctest::Contains("sample 5"), InvalidArgument);
    CHECK_THROWS_AS(integ.fit(base, eei, y, seg, 2), OutOfRange);
    CHECK_THROWS_AS(integ.fit(base, std::span<const float>(eei).first(5), y, seg, 3), InvalidArgument);
}

TEST_CASE("base ranker: popularity and history raise the logit, position lowers it") {
    Rng rng(4);
    const std::uint32_t ni = 200;
    std::vector<EntityId> primary(ni);
    for (std::uint32_t i = 0; i < ni; ++i) primary[i] = EntityId(i % 20);
    const auto map = ItemEntityMap::from_primary(primary, 20);
    std::vector<float> bills(ni);
    for (std::uint32_t i = 0; i < ni; ++i) bills[i] = static_cast<float>(rng.uniform_int(50));
    std::vector<Event> log;
    for (int k = 0; k < 500; ++k)
        log.push_back(Event{.user = UserId(static_cast<std::uint32_t>(rng.uniform_int(30))), .item = ItemId(static_cast<std::uint32_t>(rng.uniform_int(ni))), .time = k});
    const UserHistory hist(log, 30);
    LogisticBaseRanker r(bills, hist, map);
    std::vector<Candidate> c(8000);
    std::vector<float> y(c.size());
    for (std::size_t i = 0; i < c.size(); ++i) {
        c[i] = Candidate{UserId(static_cast<std::uint32_t>(rng.uniform_int(30))), ItemId(static_cast<std::uint32_t>(rng.uniform_int(ni))), {}, {},
                         static_cast<std::uint16_t>(rng.uniform_int(10)), 1000};
        const auto x = r.row(c[i]);
        y[i] = rng.bernoulli(1.0 / (1.0 + std::exp(-(0.6 * x[0] + 1.0 * x[2] - 0.8 * x[3] - 2.0)))) ? 1.0f : 0.0f;
    }
    r.fit(c, y);
    CHECK(r.coefficients()[0] == doctest::Approx(0.6).epsilon(0.25));
    CHECK(r.coefficients()[3] == doctest::Approx(-0.8).epsilon(0.25));
    std::vector<float> l(c.size());
    r.score(c, l);
    CHECK(auc(l, y) > 0.7);
    c[0].item = ItemId(ni);
    CHECK_THROWS_AS(r.score(c, l), OutOfRange);
    CHECK_THROWS_AS(r.fit(std::span<const Candidate>(c).first(3), y), InvalidArgument);
}

TEST_CASE("integrated recommender: U2E2I recall scored by base ranker + E-E-I + integration") {
    // 6 entities, 3 items each; graph 0 → 1..5 with equal weights; E-E-I decides.
    std::vector<EntityId> primary;
    for (std::uint32_t i = 0; i < 18; ++i) primary.push_back(EntityId(i / 3));
    const auto map = ItemEntityMap::from_primary(primary, 6);
    std::vector<FE> es;
    for (std::uint32_t t = 1; t < 6; ++t) es.push_back(FE{EntityId(0), EntityId(t), 0.5f, {0.8f, 0, 0, 0}});
    GraphBuildOptions o;
    o.threads = 1;
    GraphStore<FeedbackGraph> store(FB::build(es, o));
    const auto h = random_embeddings<float>(6, 4, 8);
    EEIConfig cfg;
    cfg.hidden = {8};
    EEIModel<float> m(4, 1, cfg);
    ItemFeatures feats(18, 1);
    const UserHistory hist;
    LogisticBaseRanker base(std::vector<float>(18, 1.0f), hist, map);
    EEIIntegration integ;  // default: final = base (a = 1, b = 0)
    const auto segs = ItemSegments::none(18);
    IntegratedRecommender<LogisticBaseRanker> rec(store, map, {}, IntegratedScorer<LogisticBaseRanker>(base, EEIScorer<float>(m, h, &feats), integ, segs));
    static_assert(Recommender<decltype(rec)>);
    const HistoryItem ctx[] = {{ItemId(0), 0}};
    std::vector<Recommendation> out;
    rec.recommend(RecommendRequest{UserId(0), ctx, 0, 5, {}}, out);
    REQUIRE(out.size() == 5);
    for (const auto& r : out) {
        CHECK(r.why.trigger == EntityId(0));
        CHECK(r.why.edge_weight == doctest::Approx(0.5));
        CHECK(std::isfinite(r.score));
    }
    // With the E-E-I term switched on, the order follows the model's logits.
    std::vector<float> b(60), e(60), y(60);
    std::vector<std::uint32_t> sg(60, 0);
    Rng rng(1);
    for (std::size_t i = 0; i < 60; ++i) e[i] = static_cast<float>(rng.normal()), y[i] = e[i] + 0.3 * rng.normal() > 0 ? 1.0f : 0.0f;
    integ.fit(b, e, y, sg, 1, IntegrationConfig{.l2 = 1e-3, .min_samples = 10});
    CHECK(integ.coefficients(0).b > 0.5);
    rec.recommend(RecommendRequest{UserId(0), ctx, 0, 15, {}}, out);
    std::vector<EEISample> ss;
    for (const auto& r : out) ss.push_back(EEISample{.user = UserId(0), .trigger = EntityId(0), .candidate = r.why.complement, .item = r.item, .edge_weight = 0.5f, .llm_confidence = 0.8f, .item_features = {0.0f}});
    std::vector<float> z(ss.size());
    m.score(h, ss, z);
    for (std::size_t k = 0; k + 1 < z.size(); ++k) CHECK(z[k] >= z[k + 1] - 1e-5f);
    CHECK(ItemSegments::cold_warm(std::vector<float>{0, 2}).of(ItemId(1)) == 1);
    const auto pop = ItemSegments::popularity(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}, 2);
    CHECK(pop.of(ItemId(0)) == 0);
    CHECK(pop.of(ItemId(1)) == 1);
    CHECK(pop.of(ItemId(7)) == 2);
    CHECK_THROWS_AS(pop.of(ItemId(8)), OutOfRange);
}

TEST_CASE("fit_two_stage: the same model and integration as both stages by hand; bad split is an error") {
    const auto h = random_embeddings<float>(30, 8, 5);
    auto s1 = synthetic(h, 2000, 6), s2 = synthetic(h, 1000, 7);
    Rng rng(8);
    for (auto* s : {&s1, &s2})
        for (auto& x : *s) x.base_logit = static_cast<float>(x.edge_weight * 2.0 - 1.0 + 0.3 * rng.normal());
    EEIConfig cfg;
    cfg.hidden = {16};
    cfg.max_epochs = 8;
    const auto segments = ItemSegments::none(1);
    const auto r = fit_two_stage(h, 1, s1, s2, segments, cfg, 0.2);
    EEIModel<float> m(8, 1, cfg);
    const auto rep = m.fit(h, std::span<const EEISample>(s1).first(1600), std::span<const EEISample>(s1).last(400));
    const auto integ = fit_integration(m, h, s2, segments);
    CHECK(std::equal(m.parameters().begin(), m.parameters().end(), r.model.parameters().begin()));
    CHECK(r.stage1.best_epoch == rep.best_epoch);
    CHECK(r.integration.coefficients(0).a == doctest::Approx(integ.coefficients(0).a));
    CHECK(r.integration.coefficients(0).b == doctest::Approx(integ.coefficients(0).b));
    CHECK(r.integration.coefficients(0).b > 0.0);  // the E-E-I logit carries signal beyond the base logit
    CHECK_THROWS_AS(fit_two_stage(h, 1, s1, s2, segments, cfg, 1.0), InvalidArgument);
    CHECK_THROWS_AS(fit_two_stage(h, 1, s1, s2, segments, cfg, std::nan("")), InvalidArgument);
    CHECK_THROWS_AS(fit_two_stage(h, 1, std::span<const EEISample>{}, s2, segments, cfg), InvalidArgument);
}
