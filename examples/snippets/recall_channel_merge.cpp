// docs/recall.md — two recall channels merged by quota: co-purchase for the known items, the
// complementary graph for the items without sales history.
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include <kerec/eval/baskets.hpp>
#include <kerec/eval/item_cf.hpp>
#include <kerec/graph/baskets.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/recall/channel_merge.hpp>
#include <kerec/recall/u2e2i.hpp>

int main() {
    using namespace kerec;
    // Six items (= entities); item 5 is new: no basket holds it, but the LLM says 0 -> 5.
    const std::vector<std::vector<ItemId>> lists = {{ItemId{0}, ItemId{1}}, {ItemId{0}, ItemId{2}}, {ItemId{1}, ItemId{3}},
                                                    {ItemId{0}, ItemId{1}, ItemId{4}}};
    const Baskets baskets = Baskets::from_lists(lists, 6);
    ItemCF cooc(baskets);
    GraphBuildOptions go;
    go.node_count = 6;
    const std::vector<Judgment> judgments = {{EntityId{0}, EntityId{5}, Label::yes, 0.9f, "", "llm", "v1", 0}};
    const auto graph = std::make_shared<const FeedbackGraph>(build_graph<EdgeFeedback>(judgments, go));
    const ItemEntityMap map = basket_item_map(6);
    U2E2IRecall<FeedbackGraph> complementary(graph, map);

    // The complementary channel keeps only items without history; it gets 1 of every 3 slots.
    const auto freq = baskets.item_frequencies();
    std::function<bool(ItemId)> no_history = [&](ItemId i) { return freq[i.index()] == 0; };
    FilteredChannel<U2E2IRecall<FeedbackGraph>, std::function<bool(ItemId)>> cold(complementary, no_history, 6);
    ChannelMerger<ItemCF, decltype(cold)> merged({2.0 / 3.0, 1.0 / 3.0}, cooc, cold);

    const std::vector<HistoryItem> basket = {{ItemId{0}, 0}};
    std::vector<Recommendation> out;
    merged.recommend(RecommendRequest{UserId{0}, basket, 0, 3, {}}, out);
    for (const auto& r : out) std::printf("item %u (score %.3g, comparable within its channel only)\n", r.item.value(), r.score);
    return out.size() == 3 && out[1].item == ItemId{5} ? 0 : 1;  // co-purchase, the new item, co-purchase
}
