// Item ↔ entity map, user history and the recommendation concepts: the seams of the
// recommendation half, each checked against a brute-force reading of its definition.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

#include <kerec/core/event.hpp>
#include <kerec/core/item_entity_map.hpp>
#include <kerec/core/random.hpp>
#include <kerec/core/recommendation.hpp>
#include <kerec/core/user_history.hpp>

using namespace kerec;

namespace {

// What the map must answer, computed the slow way from the links.
struct Oracle {
    std::map<std::pair<std::uint32_t, std::uint32_t>, float> best;  // (item, entity) -> max score
    std::vector<float> prior;

    std::vector<std::pair<EntityId, float>> entities(std::uint32_t item) const {
        std::vector<std::pair<EntityId, float>> r;
        for (const auto& [k, s] : best)
            if (k.first == item) r.emplace_back(EntityId{k.second}, s);
        std::sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
        return r;
    }
    std::vector<ItemId> items(std::uint32_t entity) const {
        std::vector<ItemId> r;
        for (const auto& [k, s] : best)
            if (k.second == entity) r.push_back(ItemId{k.first});
        std::sort(r.begin(), r.end(), [&](ItemId a, ItemId b) {
            return prior[a.index()] != prior[b.index()] ? prior[a.index()] > prior[b.index()] : a < b;
        });
        return r;
    }
};

void check_against(const ItemEntityMap& m, const Oracle& o, std::size_t items, std::size_t entities) {
    REQUIRE(m.item_count() == items);
    REQUIRE(m.entity_count() == entities);
    CHECK(m.link_count() == o.best.size());
    for (std::uint32_t i = 0; i < items; ++i) {
        const auto want = o.entities(i);
        const auto row = m.entities(ItemId{i});
        REQUIRE(row.size() == want.size());
        std::size_t k = 0;
        for (auto [e, s] : row) {
            CHECK(e == want[k].first);
            CHECK(s == want[k].second);
            ++k;
        }
        CHECK(m.primary(ItemId{i}) == (want.empty() ? EntityId::invalid() : want[0].first));
        CHECK(m.primaries()[i] == m.primary(ItemId{i}));
        CHECK(m.prior(ItemId{i}) == o.prior[i]);
    }
    for (std::uint32_t e = 0; e < entities; ++e) {
        const auto want = o.items(e);
        const auto row = m.items(EntityId{e});
        REQUIRE(row.size() == want.size());
        for (std::size_t k = 0; k < want.size(); ++k) {
            CHECK(row.ids[k] == want[k]);
            CHECK(row.values[k] == o.prior[want[k].index()]);
        }
    }
}

}  // namespace

TEST_CASE("item-entity map: both directions equal a brute-force reading of random links") {
    Rng rng(7);
    for (int trial = 0; trial < 20; ++trial) {
        const std::size_t items = 1 + rng.uniform_int(40), entities = 1 + rng.uniform_int(12);
        Oracle o;
        o.prior.resize(items);
        for (auto& p : o.prior) p = static_cast<float>(rng.uniform_int(5));  // ties on purpose
        std::vector<ItemEntityLink> links;
        for (std::size_t k = 0, n = rng.uniform_int(3 * items); k < n; ++k) {
            const ItemEntityLink l{ItemId{static_cast<std::uint32_t>(rng.uniform_int(items))},
                                   EntityId{static_cast<std::uint32_t>(rng.uniform_int(entities))},
                                   static_cast<float>(rng.uniform_int(4)) / 4.0f};
            links.push_back(l);
            auto [it, fresh] = o.best.try_emplace({l.item.value(), l.entity.value()}, l.score);
            if (!fresh) it->second = std::max(it->second, l.score);
        }
        const ItemEntityMap m(items, entities, links, o.prior);
        check_against(m, o, items, entities);

        // New items join through add_item / add_items; the result equals a map built at once.
        ItemEntityMap grown = m;
        const std::size_t extra = 1 + rng.uniform_int(6);
        std::vector<ItemEntityLink> batch;
        std::vector<float> batch_prior;
        for (std::size_t j = 0; j < extra; ++j) {
            const auto id = static_cast<std::uint32_t>(items + j);
            const float p = static_cast<float>(rng.uniform_int(5));
            o.prior.push_back(p);
            batch_prior.push_back(p);
            for (std::size_t k = 0, n = rng.uniform_int(3); k < n; ++k) {
                const ItemEntityLink l{ItemId{id}, EntityId{static_cast<std::uint32_t>(rng.uniform_int(entities))}, 0.5f};
                batch.push_back(l);
                o.best.try_emplace({id, l.entity.value()}, l.score);
            }
        }
        if (trial % 2 == 0) {
            grown.add_items(batch, batch_prior);
        } else {
            for (std::size_t j = 0; j < extra; ++j) {
                std::vector<ItemEntityLink> own;
                for (const auto& l : batch)
                    if (l.item.index() == items + j) own.push_back(l);
                CHECK(grown.add_item(own, batch_prior[j]) == ItemId{static_cast<std::uint32_t>(items + j)});
            }
        }
        check_against(grown, o, items + extra, entities);

        // Re-ranking by new priors.
        for (auto& p : o.prior) p = static_cast<float>(rng.uniform_int(3));
        grown.set_priors(o.prior);
        check_against(grown, o, items + extra, entities);
    }
}

TEST_CASE("item-entity map: from_primary, bad input") {
    const std::vector<EntityId> primary{EntityId{1}, EntityId::invalid(), EntityId{0}, EntityId{1}};
    const std::vector<float> prior{0.1f, 0.9f, 0.5f, 0.7f};
    const auto m = ItemEntityMap::from_primary(primary, 2, prior);
    CHECK(m.primary(ItemId{0}) == EntityId{1});
    CHECK_FALSE(m.primary(ItemId{1}).valid());
    CHECK(m.entities(ItemId{1}).empty());
    CHECK(m.items(EntityId{1}).ids[0] == ItemId{3});  // higher prior first
    CHECK(m.items(EntityId{1}).ids[1] == ItemId{0});
    CHECK_FALSE(m.primary_or_none(ItemId{99}).valid());
    CHECK_FALSE(m.primary_or_none(ItemId::invalid()).valid());

    CHECK_THROWS_AS((void)m.primary(ItemId{4}), OutOfRange);
    CHECK_THROWS_AS((void)m.items(EntityId{2}), OutOfRange);
    CHECK_THROWS_AS((void)m.entities(ItemId::invalid()), OutOfRange);
    CHECK_THROWS_WITH_AS((void)ItemEntityMap::from_primary(std::vector<EntityId>{EntityId{5}}, 2), doctest::Contains("entity 5"), OutOfRange);
    const ItemEntityLink nan_link{ItemId{0}, EntityId{0}, std::nanf("")};
    CHECK_THROWS_AS(ItemEntityMap(1, 1, std::span(&nan_link, 1)), InvalidArgument);
    const float bad_prior[1] = {std::numeric_limits<float>::infinity()};
    CHECK_THROWS_AS(ItemEntityMap(1, 1, {}, bad_prior), InvalidArgument);
    ItemEntityMap grown = m;
    const ItemEntityLink old_item{ItemId{0}, EntityId{0}, 1.0f};
    const float p[1] = {0.0f};
    CHECK_THROWS_AS(grown.add_items(std::span(&old_item, 1), p), InvalidArgument);
    CHECK(grown.item_count() == 4);  // a rejected batch changes nothing
    const ItemEntityMap empty;
    CHECK(empty.item_count() == 0);
    CHECK(empty.link_count() == 0);
}

TEST_CASE("user history: bills per user in time order, recent(), bad input") {
    std::vector<Event> log{
        {.user = UserId{1}, .item = ItemId{5}, .time = 30, .kind = EventKind::bill},  {.user = UserId{0}, .item = ItemId{2}, .time = 10, .kind = EventKind::bill},
        {.user = UserId{1}, .item = ItemId{6}, .time = 10, .kind = EventKind::bill},  {.user = UserId{1}, .item = ItemId{9}, .time = 20, .kind = EventKind::exposure},
        {.user = UserId{1}, .item = ItemId{7}, .time = 10, .kind = EventKind::bill},  {.user = UserId{3}, .item = ItemId::invalid(), .time = 1, .kind = EventKind::bill},
        {.user = UserId{1}, .item = ItemId{8}, .time = 40, .kind = EventKind::view},
    };
    const UserHistory h(log);
    CHECK(h.user_count() == 4);
    CHECK(h.bill_count() == 4);
    CHECK(h.skipped() == 1);
    const auto b1 = h.bills(UserId{1});
    REQUIRE(b1.size() == 3);
    CHECK(b1[0] == HistoryItem{ItemId{6}, 10});  // stable on equal times: log order
    CHECK(b1[1] == HistoryItem{ItemId{7}, 10});
    CHECK(b1[2] == HistoryItem{ItemId{5}, 30});
    CHECK(h.bills(UserId{2}).empty());
    CHECK(h.bills(UserId{100}).empty());
    const auto r = h.recent(UserId{1}, 30, 1);  // strictly before t = 30
    REQUIRE(r.size() == 1);
    CHECK(r[0].item == ItemId{7});
    CHECK(h.recent(UserId{1}, 11, 5).size() == 2);
    CHECK(h.recent(UserId{1}, 10, 5).empty());
    CHECK_THROWS_AS((void)h.bills(UserId::invalid()), OutOfRange);
    CHECK_THROWS_WITH_AS(UserHistory(log, 1), doctest::Contains("user 1"), OutOfRange);
}

namespace {
struct MostRecent {  // a minimal Recommender: the context's items, newest first
    void recommend(const RecommendRequest& r, std::vector<Recommendation>& out) const {
        out.clear();
        for (auto it = r.context.rbegin(); it != r.context.rend() && out.size() < r.k; ++it)
            out.push_back({it->item, static_cast<float>(it->time), {}});
    }
};
struct PositionRanker {
    void score(std::span<const Candidate> c, std::span<float> logits) const {
        for (std::size_t k = 0; k < c.size(); ++k) logits[k] = -static_cast<float>(c[k].position);
    }
};
}  // namespace

TEST_CASE("recommendation concepts: a caller's types plug in") {
    static_assert(Recommender<MostRecent>);
    static_assert(BaseRanker<PositionRanker>);
    static_assert(!Recommender<PositionRanker>);
    static_assert(!BaseRanker<MostRecent>);
    static_assert(sizeof(Event) == 32);
    const HistoryItem ctx[3] = {{ItemId{1}, 1}, {ItemId{2}, 2}, {ItemId{3}, 3}};
    std::vector<Recommendation> out{{ItemId{9}, 0, {}}};
    MostRecent{}.recommend({.user = UserId{0}, .context = ctx, .now = 4, .k = 2, .exclude = {}}, out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].item == ItemId{3});
    CHECK(out[1].item == ItemId{2});
    CHECK(to_string(EventKind::view) == "view");
}

#include <filesystem>

#include <kerec/embed/entity_embeddings.hpp>

#include "../test_util.hpp"

TEST_CASE("entity embeddings: rows, cosine, .npy round trip, NaN and out-of-range rejected") {
    kerec::test::TempDir dir("emb");
    EntityEmbeddings<float> e(3, 2);
    e.row(EntityId{0}) << 1.0f, 0.0f;
    e.row(EntityId{1}) << 2.0f, 0.0f;
    e.row(EntityId{2}) << 0.0f, 3.0f;
    CHECK(e.cosine(EntityId{0}, EntityId{1}) == doctest::Approx(1.0));
    CHECK(e.cosine(EntityId{0}, EntityId{2}) == doctest::Approx(0.0));
    CHECK(e.span(EntityId{2})[1] == 3.0f);
    CHECK_THROWS_AS((void)e.row(EntityId{3}), OutOfRange);
    e.save(dir / "e.npy");
    const auto back = EntityEmbeddings<float>::load(dir / "e.npy");
    CHECK(back.matrix() == e.matrix());
    CHECK_THROWS_AS((void)EntityEmbeddings<double>::load(dir / "e.npy"), ParseError);  // dtype mismatch
    e.matrix()(1, 1) = std::nanf("");
    e.save(dir / "nan.npy");
    CHECK_THROWS_WITH_AS((void)EntityEmbeddings<float>::load(dir / "nan.npy"), doctest::Contains("(1, 1)"), InvalidArgument);
    CHECK_THROWS_AS(EntityEmbeddings<float>(e.matrix()), InvalidArgument);
}
