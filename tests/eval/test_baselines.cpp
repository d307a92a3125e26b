// Baskets, basket CSV readers and the three baselines (popularity, item-CF, association rules),
// each checked against a brute-force reading of its definition; association rules also against
// arules' rule count on the Groceries data when ../shared/data/groceries is present.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <kerec/core/io.hpp>
#include <kerec/core/random.hpp>
#include <kerec/core/user_history.hpp>
#include <kerec/core/vocabulary.hpp>
#include <kerec/eval/association_rules.hpp>
#include <kerec/eval/basket_csv.hpp>
#include <kerec/eval/baskets.hpp>
#include <kerec/eval/item_cf.hpp>
#include <kerec/eval/next_item.hpp>
#include <kerec/eval/popularity_recommender.hpp>

#include "../test_util.hpp"

using namespace kerec;

static_assert(Recommender<PopularityRecommender>);
static_assert(Recommender<ItemCF>);
static_assert(Recommender<AssociationRules>);

namespace {

std::vector<ItemId> ids(std::initializer_list<std::uint32_t> v) {
    std::vector<ItemId> r;
    for (auto x : v) r.push_back(ItemId{x});
    return r;
}

std::vector<HistoryItem> context_of(const std::vector<ItemId>& items) {
    std::vector<HistoryItem> c;
    for (ItemId i : items) c.push_back(HistoryItem{i, 0});
    return c;
}

std::vector<ItemId> items_of(const std::vector<Recommendation>& recs) {
    std::vector<ItemId> r;
    for (const auto& x : recs) r.push_back(x.item);
    return r;
}

// Random baskets over `universe` items with ids 3·bit + 1 (sparse ids, catalogue 3·universe + 2).
struct RandomData {
    std::vector<std::uint32_t> masks;  // basket b as a bitmask over bits
    Baskets baskets;
    std::size_t universe;
    static ItemId item(std::size_t bit) { return ItemId{static_cast<std::uint32_t>(3 * bit + 1)}; }
    static std::size_t bit(ItemId i) { return (i.index() - 1) / 3; }

    RandomData(Rng& rng, std::size_t n, std::size_t u) : baskets(3 * u + 2), universe(u) {
        std::vector<double> p(u);
        for (auto& x : p) x = 0.05 + 0.6 * rng.uniform();
        for (std::size_t b = 0; b < n; ++b) {
            std::uint32_t m = 0;
            for (std::size_t i = 0; i < u; ++i)
                if (rng.bernoulli(p[i])) m |= 1u << i;
            masks.push_back(m);
            std::vector<ItemId> items;
            for (std::size_t i = 0; i < u; ++i)
                if (m >> i & 1) items.push_back(item(i));
            std::reverse(items.begin(), items.end());
            baskets.add(items);
        }
    }
    std::uint32_t count(std::uint32_t set) const {
        std::uint32_t c = 0;
        for (auto m : masks) c += (m & set) == set;
        return c;
    }
    std::uint32_t mask(std::span<const ItemId> items) const {
        std::uint32_t m = 0;
        for (ItemId i : items) m |= 1u << bit(i);
        return m;
    }
};

struct BruteRule {
    std::uint32_t antecedent;
    std::size_t consequent;  // bit
    std::uint32_t count;
    double confidence;
    auto operator<=>(const BruteRule&) const = default;
};

// Every rule by the definition, enumerating all itemsets.
std::vector<BruteRule> brute_rules(const RandomData& d, const AprioriOptions& o, std::size_t* frequent = nullptr) {
    const std::size_t n = d.masks.size();
    const auto min_count = static_cast<std::uint32_t>(std::max(1.0, std::ceil(static_cast<double>(n) * o.min_support)));
    std::vector<BruteRule> rules;
    std::size_t f = 0;
    for (std::uint32_t z = 1; z < (1u << d.universe); ++z) {
        const auto len = static_cast<std::size_t>(std::popcount(z));
        if (len > o.max_length) continue;
        const std::uint32_t cz = d.count(z);
        if (cz < min_count) continue;
        ++f;
        if (len < o.min_length) continue;
        for (std::size_t y = 0; y < d.universe; ++y) {
            if (!(z >> y & 1)) continue;
            const std::uint32_t x = z & ~(1u << y);
            const double conf = static_cast<double>(cz) / static_cast<double>(x ? d.count(x) : n);
            if (conf >= o.min_confidence - 1e-12) rules.push_back(BruteRule{x, y, cz, conf});
        }
    }
    if (frequent) *frequent = f;
    std::sort(rules.begin(), rules.end());
    return rules;
}

}  // namespace

TEST_CASE("baskets: sorted distinct rows, users and times, bad ids rejected") {
    Baskets b;
    b.add(ids({5, 2, 5, 9}), UserId{3}, 100);
    b.add({});
    b.add(ids({1}));
    REQUIRE(b.size() == 3);
    CHECK(b[0].size() == 3);
    CHECK(std::vector<ItemId>(b[0].begin(), b[0].end()) == ids({2, 5, 9}));
    CHECK(b[1].empty());
    CHECK(b.user(0) == UserId{3});
    CHECK(b.time(0) == 100);
    CHECK(!b.user(2).valid());
    CHECK(b.item_count() == 10);
    CHECK(b.total_items() == 4);
    CHECK(b.item_frequencies()[5] == 1);
    CHECK_THROWS_AS(b.add(std::vector<ItemId>{ItemId{1}, ItemId::invalid()}), InvalidArgument);
    CHECK(b.size() == 3);  // nothing added
    CHECK_THROWS_AS((void)b[3], OutOfRange);
    Baskets declared(6);
    CHECK(declared.item_count() == 6);
    CHECK_THROWS_WITH_AS(declared.add(ids({6})), doctest::Contains("item 6 (expected < 6)"), OutOfRange);
    const std::vector<std::size_t> pick{2, 0, 2};
    const Baskets s = b.subset(pick);
    CHECK(s.size() == 3);
    CHECK(s[1].size() == 3);
    CHECK(s[2][0] == ItemId{1});
    CHECK(s.item_count() == 10);
}

TEST_CASE("baskets: from bill events by user and day, by user, by request") {
    const std::int64_t day = 86400;
    std::vector<Event> ev{
        {.user = UserId{2}, .item = ItemId{7}, .time = 3 * day + 5, .kind = EventKind::bill},
        {.user = UserId{1}, .item = ItemId{4}, .time = -10, .kind = EventKind::bill, .request = 9},  // day -1
        {.user = UserId{1}, .item = ItemId{3}, .time = 2, .kind = EventKind::bill, .request = 9},    // day 0
        {.user = UserId{2}, .item = ItemId{8}, .time = 3 * day + 1, .kind = EventKind::bill, .request = 4},
        {.user = UserId{2}, .item = ItemId{9}, .time = 3 * day + 2, .kind = EventKind::exposure},    // not a bill
        {.user = UserId{1}, .item = ItemId{5}, .time = 7, .kind = EventKind::bill},
        {.user = UserId::invalid(), .item = ItemId{5}, .time = 7, .kind = EventKind::bill},
    };
    const Baskets trips = Baskets::from_events(ev);
    REQUIRE(trips.size() == 3);
    CHECK(trips.skipped() == 1);
    CHECK(trips.user(0) == UserId{1});
    CHECK(std::vector<ItemId>(trips[0].begin(), trips[0].end()) == ids({4}));
    CHECK(std::vector<ItemId>(trips[1].begin(), trips[1].end()) == ids({3, 5}));
    CHECK(trips.time(1) == 2);
    CHECK(std::vector<ItemId>(trips[2].begin(), trips[2].end()) == ids({7, 8}));
    CHECK(trips.time(2) == 3 * day + 1);
    const Baskets users = Baskets::from_events(ev, BasketKey::user);
    REQUIRE(users.size() == 2);
    CHECK(users[0].size() == 3);
    CHECK(users.time(0) == -10);
    const Baskets orders = Baskets::from_events(ev, BasketKey::request, 20);
    REQUIRE(orders.size() == 2);
    CHECK(orders.skipped() == 3);  // request 0 twice, invalid user once
    CHECK(std::vector<ItemId>(orders[0].begin(), orders[0].end()) == ids({8}));
    CHECK(std::vector<ItemId>(orders[1].begin(), orders[1].end()) == ids({3, 4}));
    CHECK(orders.item_count() == 20);
    CHECK_THROWS_AS(Baskets::from_events(ev, BasketKey::user_day, 8), OutOfRange);
    CHECK_THROWS_AS(Baskets::from_events(ev, BasketKey::user_day, 0, 0), InvalidArgument);
}

TEST_CASE("basket CSV readers: trimmed names, aliases, unknown names, bad files") {
    test::TempDir dir("basket_csv");
    write_file_atomic(dir / "lists.csv", "milk , bread\n\n\"eggs, large\",milk,milk\r\n pot plants\n,,\n");
    Vocabulary<ItemId> items;
    items.add("bread");
    BasketCsvStats st;
    BasketCsvOptions o;
    o.aliases = {{"pot plants", "potted plants"}};
    const Baskets b = read_basket_lists(dir / "lists.csv", items, o, &st);
    REQUIRE(b.size() == 3);
    CHECK(st.records == 4);        // the CSV reader skips the empty line itself
    CHECK(st.blank_records == 1);  // ",,": a record with no item
    CHECK(items.size() == 4);
    CHECK(b.item_count() == 4);
    CHECK(b[0].size() == 2);
    CHECK(b[1].size() == 2);
    CHECK(items.find("eggs, large").has_value());
    CHECK(b[2][0] == *items.find("potted plants"));

    Vocabulary<ItemId> fixed;
    fixed.add("milk");
    BasketCsvOptions strict;
    strict.add_unknown = false;
    const Baskets f = read_basket_lists(dir / "lists.csv", fixed, strict, &st);
    CHECK(st.unknown_names == 3);
    CHECK(f.size() == 3);  // a basket of unknown names only is an empty basket (it was named)
    CHECK(f[2].empty());
    CHECK(fixed.size() == 1);

    write_file_atomic(dir / "bad.csv", "milk,\"bread\n");
    CHECK_THROWS_AS(read_basket_lists(dir / "bad.csv", items), ParseError);
    CHECK_THROWS_AS(read_basket_lists(dir / "missing.csv", items), IoError);

    write_file_atomic(dir / "rows.csv",
                      "Member_number,Date,itemDescription\n1808,2015-07-21,tropical fruit\n2552,2015-01-05, whole milk \n"
                      "1808,2015-07-21,yogurt\n1808,2015-07-22,pot plants\n\n7,1000,yogurt\n");
    const PurchaseColumns cols{.user = "Member_number", .time = "Date", .item = "itemDescription"};
    Vocabulary<ItemId> it2;
    Vocabulary<UserId> users;
    const auto ev = read_purchase_events(dir / "rows.csv", cols, it2, users, o, &st);
    REQUIRE(ev.size() == 5);
    CHECK(st.blank_records == 0);  // empty lines never reach the basket reader
    CHECK(users.size() == 3);
    CHECK(ev[0].time == 16637 * std::int64_t{86400});  // 2015-07-21 is day 16637 since 1970-01-01
    CHECK(ev[4].time == 1000);
    CHECK(it2.find("whole milk").has_value());
    CHECK(it2.find("potted plants").has_value());
    const Baskets trips = Baskets::from_events(ev, BasketKey::user_day, it2.size());
    CHECK(trips.size() == 4);  // (1808, 07-21) holds two items
    UserHistory history(ev);
    CHECK(history.bills(*users.find("1808")).size() == 3);

    auto rows_error = [&](const std::string& content, const std::string& what) {
        write_file_atomic(dir / "r.csv", content);
        Vocabulary<ItemId> i;
        Vocabulary<UserId> u;
        try {
            (void)read_purchase_events(dir / "r.csv", cols, i, u);
            FAIL("no error for: " << content);
        } catch (const ParseError& e) {
            CHECK_MESSAGE(std::string(e.what()).find(what) != std::string::npos, e.what());
        }
    };
    rows_error("Member_number,itemDescription\n1,milk\n", "no column 'Date'");
    rows_error("Member_number,Date,itemDescription\n1,2015-13-01,milk\n", ":2: column 'Date': '2015-13-01' is not a date");
    rows_error("Member_number,Date,itemDescription\n1,2015-02-29,milk\n", "'2015-02-29' is not a date");
    rows_error("Member_number,Date,itemDescription\n1,21-07-2015,milk\n", "is not a date");
    rows_error("Member_number,Date,itemDescription\n1,2015-01-01\n", ":2: 2 fields (expected at least 3)");
    rows_error("Member_number,Date,itemDescription\n,2015-01-01,milk\n", "expected a user");
    rows_error("Member_number,Date,itemDescription\n1,2015-01-01, \n", "expected an item");
    rows_error("", "empty file");
}

TEST_CASE("popularity: most bought first, decayed by age, context and exclusions skipped") {
    Baskets b(8);
    b.add(ids({1, 2}), {}, 0);
    b.add(ids({1, 3}), {}, 0);
    b.add(ids({1, 2, 4}), {}, 100);
    b.add(ids({4}), {}, 100);
    b.add(ids({4, 5}), {}, 100);
    PopularityRecommender pop(b);
    CHECK(pop.score(ItemId{1}) == 3);
    CHECK(pop.score(ItemId{7}) == 0);
    CHECK(std::vector<ItemId>(pop.ranking().begin(), pop.ranking().end()) == ids({1, 4, 2, 3, 5}));
    std::vector<Recommendation> out;
    const auto ctx = context_of(ids({4}));
    const auto ex = ids({3});
    pop.recommend(RecommendRequest{.user = UserId{0}, .context = ctx, .now = 0, .k = 3, .exclude = ex}, out);
    CHECK(items_of(out) == ids({1, 2, 5}));
    CHECK(out[0].score == 3.0f);
    pop.recommend(RecommendRequest{.user = UserId{0}, .context = {}, .now = 0, .k = 100, .exclude = {}}, out);
    CHECK(out.size() == 5);  // items never bought are not recommended
    // Half-life 50: the two old baskets weigh 1/4, so item 4 (three recent) leads item 1.
    PopularityRecommender decayed(b, PopularityRecommenderOptions{.half_life = 50});
    CHECK(decayed.score(ItemId{1}) == doctest::Approx(1 + 0.25 + 0.25));
    CHECK(decayed.ranking()[0] == ItemId{4});
    CHECK_THROWS_AS(PopularityRecommender(b, PopularityRecommenderOptions{.half_life = -1}), InvalidArgument);
    const auto far = context_of(ids({8}));
    CHECK_THROWS_WITH_AS(pop.recommend(RecommendRequest{.user = UserId{0}, .context = far, .now = 0, .k = 3, .exclude = {}}, out),
                         doctest::Contains("context item 8 (expected < 8"), OutOfRange);
    // The failed request left nothing marked.
    pop.recommend(RecommendRequest{.user = UserId{0}, .context = {}, .now = 0, .k = 1, .exclude = {}}, out);
    CHECK(items_of(out) == ids({1}));
}

TEST_CASE("item-CF: cosine of co-occurrence, summed over the context, against brute force") {
    Baskets b(5);
    b.add(ids({0, 1}));
    b.add(ids({0, 1, 2}));
    b.add(ids({0, 2}));
    b.add(ids({3}));
    ItemCF cf(b);
    // n0 = 3, n1 = 2, n2 = 2; c01 = 2, c02 = 2, c12 = 1.
    CHECK(cf.similarity(ItemId{0}, ItemId{1}) == doctest::Approx(2 / std::sqrt(6.0)));
    CHECK(cf.similarity(ItemId{1}, ItemId{2}) == doctest::Approx(0.5));
    CHECK(cf.similarity(ItemId{0}, ItemId{3}) == 0.0);
    CHECK(cf.neighbors(ItemId{3}).empty());
    CHECK(cf.neighbors(ItemId{0})[0].item == ItemId{1});  // ties by id
    std::vector<Recommendation> out;
    const auto ctx = context_of(ids({1, 2, 1}));
    cf.recommend(RecommendRequest{.user = UserId{0}, .context = ctx, .now = 0, .k = 10, .exclude = {}}, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].item == ItemId{0});
    CHECK(out[0].score == doctest::Approx(2 * 2 / std::sqrt(6.0)));  // the repeated context item counts once
    ItemCF cut(b, ItemCFOptions{.max_neighbors = 1, .min_co_count = 1});
    CHECK(cut.neighbors(ItemId{0}).size() == 1);
    ItemCF strong(b, ItemCFOptions{.max_neighbors = 0, .min_co_count = 2});
    CHECK(strong.similarity(ItemId{1}, ItemId{2}) == 0.0);
    CHECK_THROWS_AS(ItemCF(b, ItemCFOptions{.max_neighbors = 0, .min_co_count = 0}), InvalidArgument);
    CHECK_THROWS_AS((void)cf.neighbors(ItemId{5}), OutOfRange);

    Rng rng(77);
    for (int rep = 0; rep < 20; ++rep) {
        RandomData d(rng, 30 + rng.uniform_int(50), 9);
        ItemCF model(d.baskets);
        for (int q = 0; q < 20; ++q) {
            std::vector<ItemId> c, ex;
            for (std::size_t i = 0; i < d.universe; ++i) {
                if (rng.bernoulli(0.25)) c.push_back(RandomData::item(i));
                else if (rng.bernoulli(0.1)) ex.push_back(RandomData::item(i));
            }
            const std::size_t k = 1 + rng.uniform_int(6);
            std::vector<std::pair<double, ItemId>> want;
            for (std::size_t j = 0; j < d.universe; ++j) {
                const ItemId jj = RandomData::item(j);
                if (std::count(c.begin(), c.end(), jj) || std::count(ex.begin(), ex.end(), jj)) continue;
                double s = 0;
                bool any = false;
                for (ItemId i : c) {
                    const std::uint32_t cij = d.count((1u << RandomData::bit(i)) | (1u << j));
                    if (cij == 0) continue;
                    any = true;
                    s += cij / std::sqrt(static_cast<double>(d.count(1u << RandomData::bit(i))) * d.count(1u << j));
                }
                if (any) want.emplace_back(s, jj);
            }
            std::sort(want.begin(), want.end(), [](auto& a, auto& b) {
                return static_cast<float>(a.first) != static_cast<float>(b.first) ? a.first > b.first : a.second < b.second;
            });
            want.resize(std::min(k, want.size()));
            const auto cc = context_of(c);
            model.recommend(RecommendRequest{.user = UserId{0}, .context = cc, .now = 0, .k = k, .exclude = ex}, out);
            REQUIRE(out.size() == want.size());
            for (std::size_t r = 0; r < want.size(); ++r) {
                CHECK(out[r].item == want[r].second);
                CHECK(out[r].score == doctest::Approx(want[r].first).epsilon(1e-6));
            }
        }
    }
}

TEST_CASE("association rules: a hand-checked data set") {
    // 10 baskets over a=0, b=1, c=2, d=3.
    Baskets t(4);
    for (int r = 0; r < 4; ++r) t.add(ids({0, 1}));
    t.add(ids({0, 1, 2}));
    t.add(ids({0, 2}));
    t.add(ids({1, 2}));
    t.add(ids({3}));
    t.add({});
    t.add(ids({0}));
    // supp(a) = 0.7, supp(b) = 0.6, supp(ab) = 0.5, supp(c) = 0.3.
    AssociationRules rules(t, AprioriOptions{.min_support = 0.3, .min_confidence = 0.6, .min_length = 1, .max_length = 10});
    CHECK(rules.transaction_count() == 10);
    CHECK(rules.min_count() == 3);
    CHECK(rules.itemset_count() == 4);  // a, b, c, ab
    std::map<std::pair<std::vector<ItemId>, ItemId>, AssociationRule> got;
    for (std::size_t r = 0; r < rules.rule_count(); ++r) {
        const auto x = rules.rule(r);
        got[{std::vector<ItemId>(x.antecedent.begin(), x.antecedent.end()), x.consequent}] = x;
    }
    // {} => a (conf 0.7), {} => b (0.6), a => b (5/7), b => a (5/6).
    REQUIRE(got.size() == 4);
    const auto ab = got.at({ids({0}), ItemId{1}});
    CHECK(ab.count == 5);
    CHECK(ab.support == doctest::Approx(0.5));
    CHECK(ab.confidence == doctest::Approx(5.0 / 7));
    CHECK(ab.lift == doctest::Approx((5.0 / 7) / 0.6));
    CHECK(got.at({ids({}), ItemId{0}}).confidence == doctest::Approx(0.7));
    CHECK(got.at({ids({1}), ItemId{0}}).confidence == doctest::Approx(5.0 / 6));
    CHECK(rules.count(ids({1, 0, 1})) == 5);
    CHECK(rules.count(ids({0, 2})) == 0);  // count 2: not frequent
    CHECK(rules.count(ids({})) == 10);
    CHECK_THROWS_AS((void)rules.rule(4), OutOfRange);

    // minlen 2 drops the empty antecedents; a confidence of exactly 5/6 passes at 5/6.
    AssociationRules two(t, AprioriOptions{.min_support = 0.3, .min_confidence = 5.0 / 6, .min_length = 2, .max_length = 10});
    REQUIRE(two.rule_count() == 1);
    CHECK(two.rule(0).consequent == ItemId{0});
    // maxlen 1 mines single items only.
    AssociationRules one(t, AprioriOptions{.min_support = 0.3, .min_confidence = 0.0, .min_length = 1, .max_length = 1});
    CHECK(one.itemset_count() == 3);
    CHECK(one.rule_count() == 3);

    std::vector<Recommendation> out;
    const auto ctx = context_of(ids({1}));
    rules.recommend(RecommendRequest{.user = UserId{0}, .context = ctx, .now = 0, .k = 5, .exclude = {}}, out);
    // a: best of {}=>a (0.7) and b=>a (5/6); b is in the context.
    REQUIRE(out.size() == 1);
    CHECK(out[0].item == ItemId{0});
    CHECK(out[0].score == doctest::Approx(5.0 / 6));
    rules.recommend(RecommendRequest{.user = UserId{0}, .context = {}, .now = 0, .k = 5, .exclude = {}}, out);
    CHECK(items_of(out) == ids({0, 1}));  // empty-antecedent rules apply to every request
    const auto ex = ids({0});
    rules.recommend(RecommendRequest{.user = UserId{0}, .context = ctx, .now = 0, .k = 5, .exclude = ex}, out);
    CHECK(out.empty());

    CHECK_THROWS_AS(AssociationRules(t, AprioriOptions{.min_support = 0.0}), InvalidArgument);
    CHECK_THROWS_AS(AssociationRules(t, AprioriOptions{.min_support = 0.5, .min_confidence = 1.5}), InvalidArgument);
    CHECK_THROWS_AS(AssociationRules(t, AprioriOptions{.min_support = 0.5, .min_confidence = 0.5, .min_length = 3, .max_length = 2}),
                    InvalidArgument);
    const AssociationRules none(Baskets{}, AprioriOptions{.min_support = 0.5});
    CHECK(none.rule_count() == 0);
}

TEST_CASE("association rules: mined itemsets and rules equal brute-force enumeration") {
    Rng rng(1234);
    for (int rep = 0; rep < 60; ++rep) {
        RandomData d(rng, 20 + rng.uniform_int(80), 4 + rng.uniform_int(7));
        AprioriOptions o;
        o.min_support = 0.02 + 0.3 * rng.uniform();
        o.min_confidence = rep % 5 == 0 ? 0.0 : rng.uniform();
        o.min_length = 1 + rng.uniform_int(3);
        o.max_length = o.min_length + rng.uniform_int(5);
        AssociationRules mined(d.baskets, o);
        std::size_t frequent = 0;
        const auto want = brute_rules(d, o, &frequent);
        CHECK(mined.itemset_count() == frequent);
        std::vector<BruteRule> got;
        for (std::size_t r = 0; r < mined.rule_count(); ++r) {
            const auto x = mined.rule(r);
            CHECK(std::is_sorted(x.antecedent.begin(), x.antecedent.end()));
            got.push_back(BruteRule{d.mask(x.antecedent), RandomData::bit(x.consequent), x.count, x.confidence});
            CHECK(x.support == doctest::Approx(static_cast<double>(x.count) / static_cast<double>(d.masks.size())));
            CHECK(x.lift == doctest::Approx(x.confidence * static_cast<double>(d.masks.size()) / d.count(1u << RandomData::bit(x.consequent))));
        }
        std::sort(got.begin(), got.end());
        REQUIRE(got.size() == want.size());
        CHECK(got == want);

        // Recommendations: best (confidence, lift) over the rules whose antecedent is in the context.
        std::vector<Recommendation> out;
        for (int q = 0; q < 10; ++q) {
            std::uint32_t cm = 0, em = 0;
            for (std::size_t i = 0; i < d.universe; ++i) {
                if (rng.bernoulli(0.35)) cm |= 1u << i;
                else if (rng.bernoulli(0.1)) em |= 1u << i;
            }
            std::map<std::size_t, std::pair<double, double>> best;
            for (const auto& r : want) {
                if ((r.antecedent & cm) != r.antecedent || ((cm | em) >> r.consequent & 1)) continue;
                const double lift = r.confidence * static_cast<double>(d.masks.size()) / d.count(1u << r.consequent);
                auto& b = best[r.consequent];
                b = std::max(b, std::make_pair(r.confidence, lift));
            }
            std::vector<std::tuple<double, double, ItemId>> ranked;
            for (const auto& [y, cl] : best) ranked.emplace_back(cl.first, cl.second, RandomData::item(y));
            std::sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) {
                if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) > std::get<0>(b);
                if (std::get<1>(a) != std::get<1>(b)) return std::get<1>(a) > std::get<1>(b);
                return std::get<2>(a) < std::get<2>(b);
            });
            const std::size_t k = 1 + rng.uniform_int(8);
            ranked.resize(std::min(k, ranked.size()));
            std::vector<ItemId> c, ex;
            for (std::size_t i = 0; i < d.universe; ++i) {
                if (cm >> i & 1) c.push_back(RandomData::item(i));
                if (em >> i & 1) ex.push_back(RandomData::item(i));
            }
            c.push_back(ItemId{0});  // an item no basket holds
            const auto cc = context_of(c);
            mined.recommend(RecommendRequest{.user = UserId{0}, .context = cc, .now = 0, .k = k, .exclude = ex}, out);
            REQUIRE(out.size() == ranked.size());
            for (std::size_t r = 0; r < ranked.size(); ++r) {
                CHECK(out[r].item == std::get<2>(ranked[r]));
                CHECK(out[r].score == static_cast<float>(std::get<0>(ranked[r])));
            }
        }
    }
}

TEST_CASE("association rules: arules' 5,668 rules on Groceries at support 0.001, confidence 0.5") {
    const auto dir = test::data_dir("groceries");
    if (dir.empty()) {
        MESSAGE("skipped: the Groceries data folder is not present");
        return;
    }
    Vocabulary<ItemId> items;
    CHECK(read_item_names(dir / "items.txt", items) == 169);
    REQUIRE(items.size() == 169);
    BasketCsvStats st;
    const Baskets baskets = read_basket_lists(dir / "baskets.csv", items, BasketCsvOptions{.add_unknown = false, .aliases = {}}, &st);
    CHECK(st.unknown_names == 0);
    REQUIRE(baskets.size() == 9835);
    CHECK(baskets.total_items() == 43367);  // arules: 9835 transactions, density 0.02609146 over 169 items

    const AssociationRules rules(baskets, AprioriOptions{.min_support = 0.001, .min_confidence = 0.5});
    CHECK(rules.min_count() == 10);
    CHECK(rules.rule_count() == 5668);
    // The rule of highest lift, as arules reports it: {Instant food products, soda} => {hamburger meat},
    // support 0.001220132, confidence 0.6315789, lift 18.99565.
    const AssociationRule* top = nullptr;
    std::vector<AssociationRule> all;
    for (std::size_t r = 0; r < rules.rule_count(); ++r) all.push_back(rules.rule(r));
    for (const auto& r : all)
        if (!top || r.lift > top->lift) top = &r;
    REQUIRE(top);
    CHECK(items.name(top->consequent) == "hamburger meat");
    REQUIRE(top->antecedent.size() == 2);
    std::set<std::string> ante{std::string(items.name(top->antecedent[0])), std::string(items.name(top->antecedent[1]))};
    CHECK(ante == std::set<std::string>{"Instant food products", "soda"});
    CHECK(top->support == doctest::Approx(0.001220132).epsilon(1e-6));
    CHECK(top->confidence == doctest::Approx(0.6315789).epsilon(1e-6));
    CHECK(top->lift == doctest::Approx(18.99565).epsilon(1e-6));

    // The purchase-rows form of the same store: 38,765 bills of 3,898 members.
    Vocabulary<UserId> members;
    BasketCsvOptions o{.add_unknown = false, .aliases = {{"pot plants", "potted plants"}}};
    const auto ev = read_purchase_events(dir / "member_purchases.csv",
                                         PurchaseColumns{.user = "Member_number", .time = "Date", .item = "itemDescription"}, items,
                                         members, o, &st);
    CHECK(st.unknown_names == 0);
    CHECK(ev.size() == 38765);
    CHECK(members.size() == 3898);
    const Baskets trips = Baskets::from_events(ev, BasketKey::user_day, items.size());
    CHECK(trips.size() == 14963);  // the (member, date) transactions of the public data set
}

TEST_CASE("next-item protocol: queries, contexts without same-time bills, sampling, evaluation") {
    auto bill = [](std::uint32_t u, std::uint32_t i, std::int64_t t) {
        Event e{};
        e.user = UserId(u), e.item = ItemId(i), e.time = t, e.kind = EventKind::bill;
        return e;
    };
    // user 0: items 1, 2 at t=1; 3 at t=5; 4 at t=9. user 1: item 7 at t=6 only. user 2: 1 at t=2, 3 at t=8.
    const std::vector<Event> log = {bill(0, 1, 1), bill(0, 2, 1), bill(2, 1, 2), bill(0, 3, 5), bill(1, 7, 6), bill(2, 3, 8), bill(0, 4, 9)};
    const UserHistory h(log);
    NextItemOptions o;
    o.from = 5;
    auto q = next_item_queries(h, o);
    REQUIRE(q.size() == 3);  // user 0 at t=5 and t=9, user 2 at t=8; user 1 has no earlier bill
    CHECK(q[0].user == UserId(0));
    CHECK(q[0].target == ItemId(3));
    CHECK(next_item_request(h, q[0], 5).context.size() == 2);
    CHECK(next_item_request(h, q[1], 5).context.size() == 3);
    CHECK(q[2].target == ItemId(3));
    o.from = 0;
    o.max_context = 1;
    q = next_item_queries(h, o);
    REQUIRE(q.size() == 4);  // item 2 at t=1: item 1, billed before it at the same time, is its context
    CHECK(next_item_request(h, q[0], 5).context[0].item == ItemId(1));
    o.same_time_context = false;
    q = next_item_queries(h, o);
    REQUIRE(q.size() == 3);  // the bills at t=1 share their time: neither is the other's context
    CHECK(next_item_request(h, q[1], 5).context.size() == 1);
    CHECK(next_item_request(h, q[1], 5).context[0].item == ItemId(3));
    // sampling: a subset in order, reproducible
    const auto s1 = subsample(q, 2, 7), s2 = subsample(q, 2, 7);
    REQUIRE(s1.size() == 2);
    CHECK((s1[0].time < s1[1].time || s1[0].user < s1[1].user));
    CHECK(s1[0].target == s2[0].target);
    CHECK(subsample(q, 10, 7).size() == 3);
    // a recommender that always says item 3 hits two of three
    struct Three {
        void recommend(const RecommendRequest&, std::vector<Recommendation>& out) { out.assign(1, Recommendation{ItemId(3), 1.0f, {}}); }
    } three;
    const auto ev = evaluate_next_items(three, h, q, 10, 8);
    CHECK(ev.queries() == 3);
    CHECK(ev.recall()[0] + ev.recall()[1] + ev.recall()[2] == doctest::Approx(2.0));
    // bad input
    o.max_context = 0;
    CHECK_THROWS_AS(next_item_queries(h, o), InvalidArgument);
    o.max_context = 3, o.from = 5, o.to = 5;
    CHECK_THROWS_AS(next_item_queries(h, o), InvalidArgument);
    NextItemQuery bad = q[0];
    bad.context_end = 99;
    CHECK_THROWS_AS(next_item_request(h, bad, 5), OutOfRange);
}
