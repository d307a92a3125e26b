// docs/eval.md — basket completion with the three baselines, scored with bootstrap intervals.
#include <cstdio>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/eval/association_rules.hpp>
#include <kerec/eval/baskets.hpp>
#include <kerec/eval/item_cf.hpp>
#include <kerec/eval/popularity_recommender.hpp>
#include <kerec/eval/ranking_evaluation.hpp>

using namespace kerec;

// Hide one item of each test basket, recommend 3 from the rest, score the hidden one.
template <Recommender R>
RankingSummary complete_baskets(R& model, const Baskets& test, std::size_t catalogue) {
    RankingEvaluation eval(/*k=*/3, catalogue);
    std::vector<HistoryItem> context;
    std::vector<Recommendation> out;
    for (std::size_t b = 0; b < test.size(); ++b) {
        const auto basket = test[b];
        if (basket.size() < 2) continue;
        const std::size_t hidden = b % basket.size();
        context.clear();
        for (std::size_t i = 0; i < basket.size(); ++i)
            if (i != hidden) context.push_back(HistoryItem{basket[i], 0});
        model.recommend(RecommendRequest{.user = UserId{0}, .context = context, .now = 0, .k = 3, .exclude = {}}, out);
        eval.add(out, basket.subspan(hidden, 1));
    }
    return eval.summary(BootstrapOptions{.resamples = 500, .confidence = 0.95, .seed = 1});
}

int main() {
    // Shopping missions over 9 items (0 bread, 1 butter, 2 jam, 3 pasta, 4 sauce, 5 cheese,
    // 6 chips, 7 salsa, 8 milk): each basket is one mission, plus milk half the time.
    const std::vector<std::vector<std::uint32_t>> missions{{0, 1, 2}, {3, 4, 5}, {6, 7}};
    Rng rng(42);
    Baskets train(9), test(9);
    for (int n = 0; n < 2000; ++n) {
        std::vector<ItemId> basket;
        for (std::uint32_t i : missions[rng.uniform_int(missions.size())])
            if (rng.bernoulli(0.8)) basket.push_back(ItemId{i});
        if (rng.bernoulli(0.5)) basket.push_back(ItemId{8});
        (n < 1600 ? train : test).add(basket);
    }

    PopularityRecommender popularity(train);
    ItemCF itemcf(train);
    AssociationRules rules(train, AprioriOptions{.min_support = 0.01, .min_confidence = 0.3});
    std::printf("%zu rules from %zu baskets\n", rules.rule_count(), rules.transaction_count());

    const RankingSummary pop = complete_baskets(popularity, test, 9);
    const RankingSummary cf = complete_baskets(itemcf, test, 9);
    const RankingSummary ar = complete_baskets(rules, test, 9);
    for (const auto& [name, s] : {std::pair{"popularity", pop}, {"item-CF", cf}, {"assoc rules", ar}})
        std::printf("%-12s Recall@3 %.3f [%.3f, %.3f]  NDCG@3 %.3f  MRR %.3f  coverage %.2f  (%zu queries)\n", name,
                    s.recall.estimate, s.recall.lower, s.recall.upper, s.ndcg.estimate, s.mrr.estimate, s.coverage, s.queries);
    // Co-occurrence knows the missions; popularity does not.
    return ar.recall.lower > pop.recall.upper && cf.recall.lower > pop.recall.upper ? 0 : 1;
}
