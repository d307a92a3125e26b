// docs/eei.md — E-E-I trained in two stages, then serving U2E2I candidates with the result.
#include <cstdio>
#include <filesystem>

#include <kerec/eei/integration.hpp>
#include <kerec/eei/model.hpp>
#include <kerec/eei/samples.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/sim/world.hpp>

int main() {
    using namespace kerec;
    const auto world = sim::World::generate(sim::Config::preset("small", /*seed=*/7));
    const auto log = world.events();
    const std::size_t half = log.size() / 2, three_q = log.size() * 3 / 4;
    const std::size_t ne = world.entity_info().size(), ni = world.items().size();

    // The graph (weights learned from the first half) and the item ↔ entity map.
    std::vector<Judgment> judgments;
    for (const auto& e : world.complement_edges()) judgments.push_back(Judgment{e.from, e.to, Label::yes, 0.8f, "", "example", "v1", 0});
    GraphStore<FeedbackGraph> store(build_graph<EdgeFeedback>(judgments));
    const ItemEntityMap map = world.item_entity_map();
    FeedbackLearner().learn_and_publish(store, log.first(half), map);
    const auto graph = store.current();

    // Entity vectors (here random: the embedding stage provides h1/h2), item features.
    RowMatrix<float> H = RowMatrix<float>::Random(static_cast<Eigen::Index>(ne), 16);
    const EntityEmbeddings<float> h(std::move(H));
    std::vector<float> bills(ni, 0.0f);
    for (const Event& e : log.first(half))
        if (e.kind == EventKind::bill) bills[e.item.index()] += 1;
    ItemFeatures features(ni, 1);
    for (std::uint32_t i = 0; i < ni; ++i) features.row(ItemId(i))[0] = std::log1p(bills[i]);

    // Complementary exposure samples: stage 1 (third quarter), stage 2 (last quarter).
    auto stage1 = build_eei_samples(log.subspan(half, three_q - half), map, *graph, &features);
    auto stage2 = build_eei_samples(log.subspan(three_q), map, *graph, &features);

    // The caller's existing ranker (here the reference one), whose logits E-E-I refines.
    const UserHistory history(log);
    LogisticBaseRanker base(bills, history, map);
    std::vector<Candidate> cands;
    std::vector<float> labels;
    for (const auto& s : stage1) cands.push_back(candidate_of(s)), labels.push_back(s.label);
    base.fit(cands, labels);
    fill_base_logits(std::span<EEISample>(stage2), base);

    // Stage 1: E-E-I on complementary samples, early stopping on the last 20%.
    EEIModel<float> model(h.dim(), features.dim(), EEIConfig{.hidden = {32, 16}, .max_epochs = 10});
    const auto n = stage1.size(), nv = n / 5;
    const auto report = model.fit(h, std::span(stage1).first(n - nv), std::span(stage1).last(nv));
    // Stage 2: E-E-I frozen, final = σ(a·base + b·eei + c) per cold/warm item.
    const auto segments = ItemSegments::cold_warm(bills);
    const EEIIntegration integration = fit_integration(model, h, stage2, segments);
    const auto& warm = integration.coefficients(1);
    std::printf("stage 1: %zu epochs, validation AUC %.3f; stage 2 (warm): a = %.2f, b = %.2f, c = %.2f\n", report.epochs,
                report.best_valid_auc, warm.a, warm.b, warm.c);

    // Persist and reload (validated), then serve: U2E2I candidates scored by the whole pipeline.
    const auto path = std::filesystem::temp_directory_path() / "kerec_eei_snippet.bin";
    model.save(path);
    const auto served = EEIModel<float>::load(path, h.dim(), features.dim());
    std::filesystem::remove(path);
    IntegratedRecommender<LogisticBaseRanker> rec(
        store, map, {}, IntegratedScorer<LogisticBaseRanker>(base, EEIScorer<float>(served, h, &features), integration, segments));
    std::vector<Recommendation> out;
    const UserId user = log.back().user;
    rec.recommend(RecommendRequest{user, history.recent(user, log.back().time, 5), log.back().time, 10, {}}, out);
    std::printf("%zu recommendations for user %u, best %s\n", out.size(), user.value(),
                out.empty() ? "-" : world.item(out.front().item).title.c_str());
    return report.best_valid_auc > 0.5 && !out.empty() ? 0 : 1;
}
