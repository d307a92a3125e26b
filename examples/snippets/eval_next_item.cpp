// docs/eval.md — the next-purchase protocol: popularity vs item-CF on a synthetic log's last quarter.
#include <cstdio>

#include <kerec/core/user_history.hpp>
#include <kerec/eval/baskets.hpp>
#include <kerec/eval/item_cf.hpp>
#include <kerec/eval/next_item.hpp>
#include <kerec/eval/popularity_recommender.hpp>
#include <kerec/sim/world.hpp>

using namespace kerec;

int main() {
    const auto world = sim::World::generate(sim::Config::preset("tiny", 7));
    const std::int64_t t = world.split_time(0.75);
    const UserHistory history(world.events());                       // contexts may use any earlier bill
    const Baskets train = Baskets::from_events(world.events_before(t), BasketKey::user_day, world.items().size());
    PopularityRecommender popularity(train);
    ItemCF itemcf(train);

    NextItemOptions o;
    o.from = t;                                                       // targets: every bill from t on
    const auto queries = subsample(next_item_queries(history, o), 500, /*seed=*/1);
    for (auto [name, summary] : {std::pair{"popularity", evaluate_next_items(popularity, history, queries, 20, world.items().size()).summary()},
                                 std::pair{"item-CF", evaluate_next_items(itemcf, history, queries, 20, world.items().size()).summary()}})
        std::printf("%-10s recall@20 %.3f [%.3f, %.3f] over %zu queries\n", name, summary.recall.estimate, summary.recall.lower,
                    summary.recall.upper, summary.queries);
}
