#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include <kerec/sim/world.hpp>

using namespace kerec;
using sim::Config;
using sim::World;

namespace {
const World& tiny() {
    static const World w = World::generate(Config::preset("tiny"));
    return w;
}
const World& small() {
    static const World w = World::generate(Config::preset("small", 7));
    return w;
}
}  // namespace

TEST_CASE("sim: presets and config validation") {
    CHECK(Config::preset("tiny").entities == 60);
    CHECK(Config::preset("large").items == 1000000);
    CHECK_THROWS_AS(Config::preset("huge"), InvalidArgument);
    Config c = Config::preset("tiny");
    c.held_out_share = 1.5;
    CHECK_THROWS_AS(World::generate(c), InvalidArgument);
    c = Config::preset("tiny");
    c.items = 10;  // fewer items than entities
    CHECK_THROWS_AS(World::generate(c), InvalidArgument);
    c = Config::preset("tiny");
    c.new_item_share = std::nan("");
    CHECK_THROWS_AS(World::generate(c), InvalidArgument);
    c = Config::preset("tiny");
    c.entities = 1;
    CHECK_THROWS_AS(World::generate(c), InvalidArgument);
}

TEST_CASE("sim: tiny generates fast and has the requested sizes") {
    const auto t0 = std::chrono::steady_clock::now();
    const World w = World::generate(Config::preset("tiny", 3));
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("tiny world generated in ", ms, " ms");
    CHECK(w.entities().size() == 60);
    CHECK(w.items().size() == 600);
    CHECK(w.users().size() == 200);
    CHECK(w.events().size() == 5000);
}

TEST_CASE("sim: same seed, same world; other seed, other world") {
    const World a = World::generate(Config::preset("tiny", 5));
    const World b = World::generate(Config::preset("tiny", 5));
    const World c = World::generate(Config::preset("tiny", 6));
    REQUIRE(a.items().size() == b.items().size());
    for (std::size_t i = 0; i < a.items().size(); ++i) REQUIRE(a.items()[i].title == b.items()[i].title);
    REQUIRE(a.events().size() == b.events().size());
    for (std::size_t i = 0; i < a.events().size(); ++i) {
        REQUIRE(a.events()[i].item == b.events()[i].item);
        REQUIRE(a.events()[i].time == b.events()[i].time);
    }
    REQUIRE(a.complement_edges().size() == b.complement_edges().size());
    bool differs = a.complement_edges().size() != c.complement_edges().size();
    for (std::size_t i = 0; !differs && i < a.items().size(); ++i) differs = a.items()[i].title != c.items()[i].title;
    CHECK(differs);
}

TEST_CASE("sim: taxonomy, surface forms and the exported dictionary") {
    const World& w = small();
    std::set<std::string> form_texts;
    std::size_t held_out = 0;
    for (std::uint32_t e = 0; e < w.entities().size(); ++e) {
        const auto forms = w.forms_of(EntityId{e});
        REQUIRE(!forms.empty());
        CHECK(forms[0].text == w.entities().name(EntityId{e}));  // canonical form first
        CHECK(forms[0].in_dictionary);
        for (const auto& f : forms) {
            CHECK(f.entity == EntityId{e});
            CHECK(form_texts.insert(f.text).second);  // a text names one entity only
            held_out += !f.in_dictionary;
            for (char ch : f.text) CHECK_FALSE((ch >= 'A' && ch <= 'Z'));
        }
    }
    CHECK(held_out > 0);
    const auto dict = w.dictionary();
    CHECK(dict.size() + held_out == w.surface_forms().size());
    for (const auto& [text, e] : dict) CHECK(w.entities().contains(e));
    // substitute groups partition the entities
    std::size_t members = 0;
    for (std::uint32_t g = 0; g < w.group_count(); ++g) {
        for (auto e : w.group_members(g)) CHECK(w.group_of(e) == g);
        members += w.group_members(g).size();
    }
    CHECK(members == w.entities().size());
    CHECK_THROWS_AS(w.group_members(static_cast<std::uint32_t>(w.group_count())), InvalidArgument);
}

TEST_CASE("sim: titles contain their surface form at the recorded byte span") {
    const World& w = small();
    std::size_t held_out_titles = 0;
    double pop = 0;
    for (const auto& it : w.items()) {
        REQUIRE(it.span_end > it.span_begin);
        REQUIRE(it.span_end <= it.title.size());
        const auto& form = w.surface_forms()[it.form];
        CHECK(form.entity == it.entity);
        std::string got = it.title.substr(it.span_begin, it.span_end - it.span_begin);
        for (auto& ch : got) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        CHECK(got == form.text);
        auto lower = [](std::string x) {
            for (auto& ch : x) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            return x;
        };
        CHECK(lower(it.title).find(lower(it.brand)) != std::string::npos);
        held_out_titles += !form.in_dictionary;
        pop += it.popularity;
    }
    CHECK(held_out_titles > 100);
    CHECK(pop == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("sim: hidden complementary graph is directed, valid, heavy-tailed") {
    const World& w = small();
    const auto edges = w.complement_edges();
    REQUIRE(edges.size() > w.entities().size());
    double traffic = 0;
    for (std::size_t i = 0; i < edges.size(); ++i) {
        CHECK(edges[i].from != edges[i].to);
        CHECK(edges[i].strength > 0.0f);
        CHECK(edges[i].strength <= 1.0f);
        if (i > 0) CHECK(std::pair(edges[i - 1].from, edges[i - 1].to) < std::pair(edges[i].from, edges[i].to));
        CHECK(w.strength(edges[i].from, edges[i].to) == edges[i].strength);
        traffic += edges[i].traffic;
    }
    CHECK(traffic == doctest::Approx(1.0).epsilon(1e-6));
    // directed: some a->b without b->a
    std::size_t one_way = 0;
    for (const auto& x : edges) one_way += w.strength(x.to, x.from) == 0.0f;
    CHECK(one_way > 0);
    const auto s = w.summary();
    CHECK(s.in_degree.max > 5 * std::max<std::uint32_t>(1, s.in_degree.median));  // heavy tail
    CHECK(w.strength(EntityId{0}, EntityId{0}) == 0.0f);
    CHECK_THROWS_AS(w.strength(EntityId{}, EntityId{0}), InvalidArgument);
    CHECK_THROWS_AS(w.complements_of(EntityId{999999}), InvalidArgument);
    // curated real-world relation survives in the small world: chips -> salsa
    const auto chips = w.entities().find("chips");
    const auto salsa = w.entities().find("salsa");
    REQUIRE(chips.has_value());
    REQUIRE(salsa.has_value());
    bool chips_to_salsa_group = false;
    for (const auto& x : w.complements_of(*chips)) chips_to_salsa_group |= w.group_of(x.to) == w.group_of(*salsa);
    CHECK(chips_to_salsa_group);
}

TEST_CASE("sim: event log is ordered, consistent, and clicks follow complementarity") {
    const World& w = small();
    const auto ev = w.events();
    REQUIRE(ev.size() == 100000);
    std::size_t clicks = 0;
    for (std::size_t i = 0; i < ev.size(); ++i) {
        if (i > 0) REQUIRE(ev[i - 1].time <= ev[i].time);
        const auto& it = w.item(ev[i].item);
        REQUIRE(it.arrival_time <= ev[i].time);  // nothing is bought or shown before it exists
        REQUIRE(ev[i].user.index() < w.users().size());
        if (ev[i].kind == EventKind::bill || ev[i].kind == EventKind::view) {
            CHECK_FALSE(ev[i].trigger.valid());
            CHECK(ev[i].request == 0);
        } else {
            REQUIRE(ev[i].trigger.valid());
            CHECK(ev[i].position < w.config().exposures_per_bill);
            CHECK(ev[i].request > 0);
        }
        if (ev[i].kind == EventKind::click) {
            ++clicks;
            REQUIRE(i > 0);
            CHECK(ev[i - 1].kind == EventKind::exposure);  // a click follows its exposure
            CHECK(ev[i - 1].item == ev[i].item);
        }
    }
    CHECK(clicks > 0);
    const auto s = w.summary();
    CHECK(s.ctr_complement > 3 * s.ctr_other);
    CHECK(s.new_entities > 0);
    CHECK(s.new_items > 0);
    CHECK(s.cold_start_event_share > 0.0);
}

TEST_CASE("sim: click model depends on strength and position") {
    const World& w = tiny();
    const auto& e = w.complement_edges().front();
    ItemId shown;
    for (std::uint32_t i = 0; i < w.items().size(); ++i)
        if (w.items()[i].entity == e.to) shown = ItemId{i};
    REQUIRE(shown.valid());
    const double p0 = w.click_probability(e.from, shown, 0);
    CHECK(p0 > w.click_probability(e.from, shown, 5));
    // the same item after an unrelated trigger
    EntityId unrelated;
    for (std::uint32_t k = 0; k < w.entities().size(); ++k)
        if (w.strength(EntityId{k}, e.to) == 0.0f && EntityId{k} != e.to) unrelated = EntityId{k};
    REQUIRE(unrelated.valid());
    CHECK(p0 > w.click_probability(unrelated, shown, 0));
    Rng rng(1);
    int hits = 0;
    for (int i = 0; i < 20000; ++i) hits += w.simulate_click(e.from, shown, 0, rng);
    CHECK(std::abs(hits / 20000.0 - p0) < 0.02);
    CHECK_THROWS_AS(w.click_probability(e.from, ItemId{99999999}, 0), InvalidArgument);
}

TEST_CASE("sim: cold start share is configurable") {
    Config c = Config::preset("tiny", 9);
    c.new_entity_share = 0.0;
    c.new_item_share = 0.0;
    const World none = World::generate(c);
    CHECK(none.summary().new_entities == 0);
    CHECK(none.summary().new_items == 0);
    c.new_entity_share = 0.2;
    c.new_item_share = 0.3;
    const World many = World::generate(c);
    const auto s = many.summary();
    CHECK(s.new_entities == 12);
    CHECK(s.new_items >= 150);
    for (const auto& it : many.items())
        if (many.entity(it.entity).is_new) CHECK(it.arrival_time >= many.entity(it.entity).arrival_time);
}

#include <kerec/sim/score.hpp>

TEST_CASE("sim score: coverage, precision/recall and strength correlation against the truth") {
    const World& w = small();
    std::vector<EntityPair> all;
    for (const auto& e : w.complement_edges()) all.push_back({e.from, e.to});
    CHECK(sim::traffic_coverage(w, all, true) == doctest::Approx(1.0));
    // reversed pairs cover everything only when unordered
    std::vector<EntityPair> rev;
    for (auto p : all) rev.push_back(p.reversed());
    CHECK(sim::traffic_coverage(w, rev, false) == doctest::Approx(1.0));
    CHECK(sim::traffic_coverage(w, rev, true) < 0.9);
    // half of the edges: coverage equals their traffic
    std::vector<EntityPair> half(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(all.size() / 2));
    double t = 0;
    for (std::size_t i = 0; i < half.size(); ++i) t += w.complement_edges()[i].traffic;
    CHECK(sim::traffic_coverage(w, half, true) == doctest::Approx(t));
    CHECK(sim::traffic_coverage(w, {}, true) == 0.0);

    auto pr = sim::edge_precision_recall(w, half);
    CHECK(pr.precision() == doctest::Approx(1.0));
    CHECK(pr.recall() == doctest::Approx(static_cast<double>(half.size()) / all.size()));
    std::vector<EntityPair> noisy = half;
    noisy.push_back({EntityId{0}, EntityId{0}});  // a self pair is never complementary
    CHECK(sim::edge_precision_recall(w, noisy).fp == 1);

    std::vector<double> exact, inverse;
    for (const auto& e : w.complement_edges()) {
        exact.push_back(e.strength);
        inverse.push_back(-e.strength);
    }
    CHECK(sim::strength_spearman(w, all, exact) == doctest::Approx(1.0));
    CHECK(sim::strength_spearman(w, all, inverse) == doctest::Approx(-1.0));
    CHECK_THROWS_AS(sim::strength_spearman(w, all, std::vector<double>{1.0}), InvalidArgument);
}

TEST_CASE("sim: online exposures follow the recommender, clicks follow the truth") {
    const World& w = small();
    // Recommend, after each purchase, one item of a true complement and one of an unrelated entity.
    std::vector<ItemId> first_item(w.entities().size());
    for (std::uint32_t i = 0; i < w.items().size(); ++i)
        if (!first_item[w.items()[i].entity.index()].valid()) first_item[w.items()[i].entity.index()] = ItemId{i};
    std::size_t comp_exp = 0, comp_clk = 0, other_exp = 0, other_clk = 0;
    const auto events = w.simulate_exposures(
        w.events(),
        [&](ItemId bought, std::vector<ItemId>& shown) {
            const auto out = w.complements_of(w.item(bought).entity);
            if (out.empty()) return;
            shown.push_back(first_item[out.front().to.index()]);
            for (std::uint32_t e = 0; e < w.entities().size(); ++e)
                if (w.strength(w.item(bought).entity, EntityId{e}) == 0.0f && first_item[e].valid()) {
                    shown.push_back(first_item[e]);
                    break;
                }
        },
        /*seed=*/3, /*max_bills=*/5000);
    REQUIRE(!events.empty());
    for (const Event& ev : events) {
        REQUIRE(ev.trigger.valid());
        const bool comp = w.strength(w.item(ev.trigger).entity, w.item(ev.item).entity) > 0;
        if (ev.kind == EventKind::exposure) (comp ? comp_exp : other_exp)++;
        else (comp ? comp_clk : other_clk)++;
    }
    CHECK(comp_exp > 1000);
    CHECK(comp_exp == other_exp);  // one of each per purchase with complements
    CHECK(static_cast<double>(comp_clk) / comp_exp > 3.0 * static_cast<double>(other_clk) / other_exp);
    const auto again = w.simulate_exposures(w.events(), [&](ItemId, std::vector<ItemId>& shown) { shown.push_back(ItemId{0}); }, 3, 10);
    CHECK(again.size() >= 10);
    CHECK(again.size() <= 20);
}

namespace {
// For each view, the bill that closes its browsing session: the next non-view event of the log.
struct ViewSession {
    std::size_t view;
    std::size_t bill;
};
std::vector<ViewSession> view_sessions(const World& w) {
    std::vector<ViewSession> out;
    const auto ev = w.events();
    std::size_t next = ev.size();
    for (std::size_t i = ev.size(); i-- > 0;) {
        if (ev[i].kind != EventKind::view) {
            next = i;
            continue;
        }
        out.push_back({i, next});
    }
    return out;
}
}  // namespace

TEST_CASE("sim: every preset browses before buying; views precede their bill by seconds to minutes") {
    for (auto name : {"tiny", "small", "medium", "large"}) CHECK(Config::preset(name).views_per_bill > 0.0);
    for (const World* w : {&tiny(), &small()}) {
        const auto ev = w->events();
        const auto sessions = view_sessions(*w);
        REQUIRE(w->summary().views == sessions.size());
        CHECK(sessions.size() > ev.size() / 10);
        for (const auto& s : sessions) {
            REQUIRE(s.bill < ev.size());  // the log never ends on a view
            const Event& v = ev[s.view];
            const Event& b = ev[s.bill];
            CHECK(b.kind == EventKind::bill);
            CHECK(b.user == v.user);
            CHECK(v.time <= b.time);
            CHECK(b.time - v.time <= 64 * 120);
            CHECK(v.item != b.item);  // the purchased item itself is not among the views
            CHECK(w->item(v.item).arrival_time <= v.time);
        }
    }
    // views_per_bill = 0: no sessions; the rest of the log is drawn as before
    Config c = Config::preset("tiny", 3);
    c.views_per_bill = 0.0;
    CHECK(World::generate(c).summary().views == 0);
    for (double bad : {-1.0, 33.0, std::nan("")}) {
        c.views_per_bill = bad;
        CHECK_THROWS_AS(World::generate(c), InvalidArgument);
    }
    c = Config::preset("tiny");
    c.view_noise = 1.2;
    CHECK_THROWS_AS(World::generate(c), InvalidArgument);
}

TEST_CASE("sim: views are substitutes of the purchase, noise as configured") {
    for (double noise : {0.2, 0.5}) {
        Config c = Config::preset("small", 11);
        c.view_noise = noise;
        c.views_per_bill = 3.0;
        const World w = World::generate(c);
        const auto ev = w.events();
        std::size_t same_group = 0, same_entity = 0, total = 0, sessions = 0;
        std::size_t last_bill = SIZE_MAX;
        for (const auto& s : view_sessions(w)) {
            const EntityId bought = w.item(ev[s.bill].item).entity, seen = w.item(ev[s.view].item).entity;
            ++total;
            same_group += w.group_of(seen) == w.group_of(bought);
            same_entity += seen == bought;
            sessions += s.bill != last_bill;
            last_bill = s.bill;
        }
        REQUIRE(total > 10000);
        const double substitute_share = static_cast<double>(same_group) / static_cast<double>(total);
        const double entity_share = static_cast<double>(same_entity) / static_cast<double>(same_group);
        MESSAGE("noise ", noise, ": substitute share ", substitute_share, ", same entity ", entity_share,
                ", views per session ", static_cast<double>(total) / static_cast<double>(sessions));
        CHECK(substitute_share == doctest::Approx(1.0 - noise).epsilon(0.03));
        CHECK(entity_share == doctest::Approx(c.view_same_entity_share).epsilon(0.05));
        // geometric: sessions with views average views_per_bill + 1 views
        CHECK(static_cast<double>(total) / static_cast<double>(sessions) == doctest::Approx(c.views_per_bill + 1.0).epsilon(0.1));
    }
}

TEST_CASE("sim: each exposure list has its own request id, shared by its clicks") {
    const World& w = small();
    const auto ev = w.events();
    struct List {
        UserId user;
        ItemId trigger;
        std::int64_t time;
        std::set<std::uint16_t> positions;
        std::map<std::uint16_t, ItemId> shown;
    };
    std::map<std::uint32_t, List> lists;
    std::uint32_t last = 0;
    for (const Event& e : ev) {
        if (e.kind != EventKind::exposure) continue;
        REQUIRE(e.request > 0);
        CHECK(e.request >= last);  // ids grow along the log
        last = e.request;
        auto [it, fresh] = lists.try_emplace(e.request, List{e.user, e.trigger, e.time, {}, {}});
        CHECK(it->second.user == e.user);
        CHECK(it->second.trigger == e.trigger);
        CHECK(it->second.time == e.time);
        CHECK(it->second.positions.insert(e.position).second);  // one exposure per slot
        it->second.shown[e.position] = e.item;
    }
    REQUIRE(lists.size() == w.request_count());
    CHECK(lists.begin()->first == 1);
    CHECK(lists.rbegin()->first == w.request_count());  // dense ids 1..request_count()
    for (const Event& e : ev) {
        if (e.kind != EventKind::click) continue;
        const auto it = lists.find(e.request);
        REQUIRE(it != lists.end());
        CHECK(it->second.shown[e.position] == e.item);
    }
    // Online lists are numbered after the world's own, or from first_request.
    auto show_two = [](ItemId, std::vector<ItemId>& shown) { shown.assign({ItemId{0}, ItemId{1}}); };
    const auto online = w.simulate_exposures(ev, show_two, 1, 100);
    REQUIRE(online.size() >= 200);
    CHECK(online.front().request == w.request_count() + 1);
    CHECK(online.back().request == w.request_count() + 100);
    for (std::size_t i = 0; i + 1 < online.size(); ++i)
        if (online[i + 1].kind == EventKind::exposure && online[i + 1].position == 0) CHECK(online[i + 1].request == online[i].request + 1);
    const auto later = w.simulate_exposures(ev, show_two, 1, 10, /*first_request=*/5000000);
    CHECK(later.front().request == 5000000);
    CHECK(later.back().request == 5000009);
    CHECK(w.simulate_exposures(ev, [](ItemId, std::vector<ItemId>&) {}, 1, 10).empty());
}

TEST_CASE("sim: split the log by time; items and entities that arrive after the cut") {
    const World& w = small();
    const auto ev = w.events();
    const std::int64_t cut = w.split_time(0.8);
    const auto train = w.events_before(cut), test = w.events_from(cut);
    CHECK(train.size() + test.size() == ev.size());
    CHECK(train.size() <= ev.size() * 8 / 10);
    CHECK(train.size() > ev.size() * 79 / 100);
    CHECK(train.back().time < cut);
    CHECK(test.front().time >= cut);
    CHECK(test.data() == train.data() + train.size());
    CHECK(w.events_before(w.split_time(0.0)).empty());
    CHECK(w.events_from(w.split_time(1.0)).empty());
    CHECK(w.events_before(w.split_time(1.0)).size() == ev.size());
    for (double bad : {-0.1, 1.5, std::nan("")}) CHECK_THROWS_AS(w.split_time(bad), InvalidArgument);

    const auto fresh = w.items_arriving_from(cut);
    REQUIRE(!fresh.empty());
    std::set<ItemId> fresh_set(fresh.begin(), fresh.end());
    for (const Event& e : train) CHECK(fresh_set.count(e.item) == 0);  // never seen in training
    std::size_t seen_in_test = 0;
    for (const Event& e : test) seen_in_test += fresh_set.count(e.item);
    CHECK(seen_in_test > 0);
    for (ItemId i : fresh) CHECK(w.item(i).is_new);
    CHECK(w.items_arriving_from(0).size() == w.items().size());
    for (EntityId e : w.entities_arriving_from(cut)) {
        CHECK(w.entity(e).is_new);
        for (const Event& x : train) CHECK(w.item(x.item).entity != e);
    }
    CHECK(w.entities_arriving_from(1).size() == w.summary().new_entities);
}

TEST_CASE("sim: item_entity_map holds each item's true entity, items ranked by popularity") {
    const World& w = small();
    const ItemEntityMap m = w.item_entity_map();
    REQUIRE(m.item_count() == w.items().size());
    REQUIRE(m.entity_count() == w.entities().size());
    CHECK(m.link_count() == w.items().size());
    for (std::uint32_t i = 0; i < w.items().size(); ++i) CHECK(m.primary(ItemId{i}) == w.items()[i].entity);
    std::size_t linked = 0;
    for (std::uint32_t e = 0; e < w.entities().size(); ++e) {
        const auto row = m.items(EntityId{e});
        linked += row.size();
        for (std::size_t k = 0; k < row.size(); ++k) {
            CHECK(w.item(row.ids[k]).entity == EntityId{e});
            if (k) CHECK(w.item(row.ids[k - 1]).popularity >= w.item(row.ids[k]).popularity);
        }
    }
    CHECK(linked == w.items().size());
    CHECK_THROWS_AS(m.primary(ItemId{static_cast<std::uint32_t>(w.items().size())}), OutOfRange);
}

TEST_CASE("sim: the whole log is deterministic for a seed, views and request ids included") {
    const World a = World::generate(Config::preset("tiny", 21));
    const World b = World::generate(Config::preset("tiny", 21));
    REQUIRE(a.events().size() == b.events().size());
    CHECK(a.request_count() == b.request_count());
    for (std::size_t i = 0; i < a.events().size(); ++i) {
        const Event &x = a.events()[i], &y = b.events()[i];
        REQUIRE(x.user == y.user);
        REQUIRE(x.item == y.item);
        REQUIRE(x.time == y.time);
        REQUIRE(x.kind == y.kind);
        REQUIRE(x.position == y.position);
        REQUIRE(x.trigger == y.trigger);
        REQUIRE(x.request == y.request);
    }
}

TEST_CASE("sim score: substitute precision of neighbour lists") {
    const World& w = small();
    // an entity of a group with at least three members
    std::uint32_t g = 0;
    while (w.group_members(g).size() < 4) ++g;
    const auto members = w.group_members(g);
    const EntityId e = members[0];
    std::vector<EntityId> same(members.begin(), members.end());  // includes e itself: skipped
    CHECK(sim::substitute_precision_at_k(w, e, same) == 1.0);
    std::vector<EntityId> other;
    for (std::uint32_t k = 0; k < w.entities().size() && other.size() < 3; ++k)
        if (w.group_of(EntityId{k}) != g) other.push_back(EntityId{k});
    CHECK(sim::substitute_precision_at_k(w, e, other) == 0.0);
    const std::vector<EntityId> mixed{e, members[1], other[0], members[2], other[1]};
    CHECK(sim::substitute_precision_at_k(w, e, mixed) == doctest::Approx(0.5));
    CHECK(sim::substitute_precision_at_k(w, e, mixed, 2) == doctest::Approx(0.5));
    CHECK(sim::substitute_precision_at_k(w, e, mixed, 1) == 1.0);
    CHECK(sim::substitute_precision_at_k(w, e, mixed, 3) == doctest::Approx(2.0 / 3.0));
    CHECK(sim::substitute_precision_at_k(w, e, {}) == 0.0);
    CHECK(sim::substitute_precision_at_k(w, e, std::vector<EntityId>{e}) == 0.0);
    CHECK_THROWS_AS(sim::substitute_precision_at_k(w, e, std::vector<EntityId>{EntityId{999999}}), InvalidArgument);
    CHECK_THROWS_AS(sim::substitute_precision_at_k(w, EntityId{}, same), InvalidArgument);
}

namespace {
// The smallest graph the score helpers accept: rows of targets.
struct RowGraph {
    std::vector<std::vector<EntityId>> rows;
    struct Row {
        std::span<const EntityId> targets;
    };
    std::size_t node_count() const { return rows.size(); }
    Row neighbors(EntityId e) const { return {rows.at(e.index())}; }
};
}  // namespace

TEST_CASE("sim score: hidden edges a graph lacks, and recall@k over them") {
    const World& w = small();
    const auto all = w.complement_edges();
    // A graph that knows every other hidden edge, plus a false one.
    RowGraph g;
    g.rows.resize(w.entities().size() / 2);  // entities beyond: no row at all
    std::vector<sim::TrueEdge> expect;
    for (std::size_t k = 0; k < all.size(); ++k) {
        const bool known = k % 2 == 0 && all[k].from.index() < g.rows.size();
        if (known) g.rows[all[k].from.index()].push_back(all[k].to);
        else expect.push_back(all[k]);
    }
    g.rows[0].push_back(EntityId{0});
    const auto missing = sim::hidden_edges_missing_from(w, g);
    REQUIRE(missing.size() == expect.size());
    for (std::size_t k = 0; k < missing.size(); ++k) {
        CHECK(missing[k].from == expect[k].from);
        CHECK(missing[k].to == expect[k].to);
        CHECK(missing[k].strength == expect[k].strength);
    }
    CHECK(sim::hidden_edges_missing_from(w, RowGraph{}).size() == all.size());

    // Ranking the true complements by strength: recall@k is the share of edges in the top k.
    std::size_t calls = 0;
    auto by_strength = [&](EntityId a) {
        ++calls;
        std::vector<sim::TrueEdge> out(w.complements_of(a).begin(), w.complements_of(a).end());
        std::stable_sort(out.begin(), out.end(), [](auto& x, auto& y) { return x.strength > y.strength; });
        std::vector<EntityId> ids;
        for (auto& x : out) ids.push_back(x.to);
        return ids;
    };
    std::size_t max_degree = 0, sources = 0, in_top3 = 0;
    for (std::uint32_t a = 0; a < w.entities().size(); ++a) {
        const auto n = w.complements_of(EntityId{a}).size();
        max_degree = std::max(max_degree, n);
        sources += n > 0;
        in_top3 += std::min<std::size_t>(n, 3);
    }
    CHECK(sim::edge_recall_at_k(all, max_degree, by_strength) == 1.0);
    CHECK(calls == sources);  // once per source
    CHECK(sim::edge_recall_at_k(all, 3, by_strength) == doctest::Approx(static_cast<double>(in_top3) / all.size()));
    CHECK(sim::edge_recall_at_k(all, 0, by_strength) == 0.0);
    CHECK(sim::edge_recall_at_k(all, 10, [](EntityId) { return std::vector<EntityId>{}; }) == 0.0);
    CHECK(sim::edge_recall_at_k({}, 10, by_strength) == 0.0);
}
