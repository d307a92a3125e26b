// docs/recall.md — a user's recent bills -> complementary entities -> items, each with its path.
#include <cstdio>
#include <string>

#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/store.hpp>
#include <kerec/recall/item_prior.hpp>
#include <kerec/recall/u2e2i.hpp>
#include <kerec/sim/world.hpp>

int main() {
    using namespace kerec;
    const auto world = sim::World::generate(sim::Config::preset("tiny", /*seed=*/7));

    // 1. The complementary graph (one "yes" per hidden complement here), weights from feedback.
    std::vector<Judgment> judgments;
    for (const auto& e : world.complement_edges())
        judgments.push_back(Judgment{e.from, e.to, Label::yes, 0.8f, "used together", "example", "v1", 0});
    GraphStore<FeedbackGraph> store(build_graph<EdgeFeedback>(judgments));
    ItemEntityMap map = world.item_entity_map();
    FeedbackLearner().learn_and_publish(store, world.events(), map);

    // 2. Entity -> items, ranked by each item's share of its entity's bills.
    map.set_priors(popularity_priors(world.events(), map));

    // 3. Recall for one user: their last 5 bills, the top 5 items, each with its explanation.
    const UserHistory history(world.events());
    U2E2IRecall<FeedbackGraph> recall(store, map);  // explanations quote the graph's rationale table
    const UserId user(0);
    const std::int64_t now = world.events().back().time;
    std::vector<Recommendation> out;
    recall.recommend(RecommendRequest{user, history.recent(user, now, 5), now, 5, {}}, out);
    for (const auto& r : out)
        std::printf("%-36s %.4f  %s -> %s (weight %.3f): %s\n", world.item(r.item).title.c_str(), r.score,
                    std::string(world.entities().name(r.why.trigger)).c_str(),
                    std::string(world.entities().name(r.why.complement)).c_str(), r.why.edge_weight,
                    std::string(r.why.rationale).c_str());
    return out.empty() ? 1 : 0;
}
