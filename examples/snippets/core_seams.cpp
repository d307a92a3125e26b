// docs/core.md — the seams of the recommendation half: item ↔ entity map, user history, and a
// caller's recommender behind the Recommender concept.
#include <cstdio>
#include <vector>

#include <kerec/core/item_entity_map.hpp>
#include <kerec/core/recommendation.hpp>
#include <kerec/core/user_history.hpp>

using namespace kerec;

// Recommends, for each entity of the user's recent bills, that entity's best other item.
struct SameEntityRecommender {
    const ItemEntityMap* items;
    void recommend(const RecommendRequest& r, std::vector<Recommendation>& out) const {
        out.clear();
        for (auto h = r.context.rbegin(); h != r.context.rend() && out.size() < r.k; ++h)
            for (auto [entity, score] : items->entities(h->item))
                for (auto [item, prior] : items->items(entity))
                    if (item != h->item) {
                        out.push_back({item, prior * score, Explanation{.trigger = entity, .complement = entity}});
                        break;
                    }
    }
};
static_assert(Recommender<SameEntityRecommender>);

int main() {
    // Extraction said: item 0 is salsa (and a little "chips"), 1 and 2 are chips, 3 is salsa.
    const std::vector<ItemEntityLink> links{{ItemId{0}, EntityId{1}, 0.9f}, {ItemId{0}, EntityId{0}, 0.2f},
                                            {ItemId{1}, EntityId{0}, 1.0f}, {ItemId{2}, EntityId{0}, 1.0f},
                                            {ItemId{3}, EntityId{1}, 1.0f}};
    const std::vector<float> sales{5, 9, 2, 1};  // the prior that ranks an entity's items
    ItemEntityMap items(4, 2, links, sales);
    std::printf("item 0's entity: %u; chips' best item: %u\n", items.primary(ItemId{0}).value(),
                items.items(EntityId{0}).ids[0].value());

    // A new item joins with a prior; recall reaches it through its entity at once.
    const ItemEntityLink fresh[1] = {{ItemId{}, EntityId{1}, 1.0f}};
    const ItemId new_salsa = items.add_item(fresh, 7.0f);
    std::printf("new item %u; salsa's items now:", new_salsa.value());
    for (auto [item, prior] : items.items(EntityId{1})) std::printf(" %u(%.0f)", item.value(), prior);
    std::printf("\n");

    // Each user's bills in time order; a request looks at the recent ones.
    const std::vector<Event> log{{.user = UserId{0}, .item = ItemId{3}, .time = 100, .kind = EventKind::bill},
                                 {.user = UserId{0}, .item = ItemId{2}, .time = 200, .kind = EventKind::bill}};
    const UserHistory history(log);
    const SameEntityRecommender rec{&items};
    std::vector<Recommendation> out;
    rec.recommend({.user = UserId{0}, .context = history.recent(UserId{0}, 300, 5), .now = 300, .k = 2}, out);
    for (const auto& r : out) std::printf("recommend item %u (score %.1f, via entity %u)\n", r.item.value(), r.score, r.why.trigger.value());
    return out.size() == 2 && out[0].item == ItemId{1} ? 0 : 1;
}
