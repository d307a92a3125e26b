// scripts/bench eval — metric and baseline costs: exact AUC and GAUC on a million scored samples;
// on the Groceries baskets (KEREC_GROCERIES_DIR, else KEREC_DATA_DIR/groceries, else
// ../shared/data/groceries) the arules-equivalent rule mining at support 0.001 / confidence 0.5,
// item-CF training, and basket-completion requests per second for each baseline.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/core/vocabulary.hpp>
#include <kerec/eval/association_rules.hpp>
#include <kerec/eval/basket_csv.hpp>
#include <kerec/eval/item_cf.hpp>
#include <kerec/eval/metrics.hpp>
#include <kerec/eval/popularity_recommender.hpp>

#include "figures.hpp"

using namespace kerec;

namespace {

std::filesystem::path groceries_dir() {
    if (const char* g = std::getenv("KEREC_GROCERIES_DIR")) return g;
    if (const char* d = std::getenv("KEREC_DATA_DIR")) return std::filesystem::path(d) / "groceries";
    return std::filesystem::path(KEREC_BENCH_DATA_DIR) / "groceries";
}

// Hide the last item of every basket of two or more; recommend from the rest. Returns requests/s.
template <class R>
double completion_rate(R& model, const Baskets& baskets, const char* name) {
    std::vector<Recommendation> out;
    std::vector<HistoryItem> ctx;
    std::size_t requests = 0;
    BENCHMARK(name) {
        std::uint64_t check = 0;
        requests = 0;
        for (std::size_t b = 0; b < baskets.size(); ++b) {
            const auto row = baskets[b];
            if (row.size() < 2) continue;
            ctx.clear();
            for (std::size_t i = 0; i + 1 < row.size(); ++i) ctx.push_back(HistoryItem{row[i], 0});
            model.recommend(RecommendRequest{.user = UserId{0}, .context = ctx, .now = 0, .k = 10, .exclude = {}}, out);
            check += out.size();
            ++requests;
        }
        return check;
    };
    return static_cast<double>(requests) / bench::median_seconds(name);
}

}  // namespace

TEST_CASE("AUC and GAUC on a million samples") {
    Rng rng(1);
    const std::size_t n = 1'000'000;
    std::vector<float> s(n);
    std::vector<std::uint8_t> y(n);
    std::vector<std::uint32_t> g(n);
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = rng.bernoulli(0.1);
        s[i] = static_cast<float>(rng.normal() + y[i]);
        g[i] = static_cast<std::uint32_t>(rng.uniform_int(10000));
    }
    BENCHMARK("auc 1M") { return auc(s, y); };
    BENCHMARK("gauc 1M, 10k groups") { return gauc(s, y, g).value; };
    bench::emit("eval.auc_1m_s", bench::median_seconds("auc 1M"), "s");
    bench::emit("eval.gauc_1m_s", bench::median_seconds("gauc 1M, 10k groups"), "s");
}

TEST_CASE("baselines on the Groceries baskets") {
    const auto dir = groceries_dir();
    if (!std::filesystem::exists(dir / "baskets.csv")) {
        WARN("bench eval: " << dir.string() << " not found, Groceries figures skipped");
        return;
    }
    Vocabulary<ItemId> items;
    read_item_names(dir / "items.txt", items);
    const Baskets baskets = read_basket_lists(dir / "baskets.csv", items, BasketCsvOptions{.add_unknown = false, .aliases = {}});
    const AprioriOptions o{.min_support = 0.001, .min_confidence = 0.5};
    std::size_t rules = 0;
    BENCHMARK("mine rules, support 0.001, confidence 0.5") {
        const AssociationRules r(baskets, o);
        rules = r.rule_count();
        return rules;
    };
    bench::emit("groceries.assoc_rules.rule_count", static_cast<double>(rules), "rules (arules: 5668)");
    bench::emit("eval.assoc_rules.groceries_mine_s", bench::median_seconds("mine rules, support 0.001, confidence 0.5"), "s");
    BENCHMARK("item-CF training") { return ItemCF(baskets).item_count(); };
    bench::emit("eval.itemcf.groceries_train_s", bench::median_seconds("item-CF training"), "s");

    AssociationRules ar(baskets, o);
    ItemCF cf(baskets);
    PopularityRecommender pop(baskets);
    bench::emit("eval.assoc_rules.requests_per_s", completion_rate(ar, baskets, "assoc rules: complete every basket"), "requests/s");
    bench::emit("eval.itemcf.requests_per_s", completion_rate(cf, baskets, "item-CF: complete every basket"), "requests/s");
    bench::emit("eval.popularity.requests_per_s", completion_rate(pop, baskets, "popularity: complete every basket"), "requests/s");
}
