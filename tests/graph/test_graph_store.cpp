// Concurrency tests (run them under ThreadSanitizer: scripts/test --tsan -L tsan).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <kerec/graph/builder.hpp>
#include <kerec/graph/store.hpp>

using namespace kerec;

namespace {
using G = ComplementaryGraph<EntityId, NoPayload>;
using B = GraphBuilder<EntityId, NoPayload>;
using E = GraphEdge<EntityId, NoPayload>;

// Version v: node 0 has edges to 1..v, every weight equals v (a reader can check consistency).
G make_version(std::uint32_t v) {
    std::vector<E> es;
    for (std::uint32_t t = 1; t <= v; ++t) es.push_back(E{EntityId(0), EntityId(t), static_cast<float>(v), {}});
    GraphBuildOptions o;
    o.threads = 1;
    return B::build(es, o);
}
}  // namespace

TEST_CASE("store: versions, publish_if, retained snapshots") {
    GraphStore<G> store(3);
    CHECK(store.version() == 0);
    CHECK(store.current()->edge_count() == 0);
    CHECK(store.publish(make_version(1)) == 1);
    auto pinned = store.current();
    CHECK(store.publish(make_version(2)) == 2);
    CHECK(pinned->edge_count() == 1);  // an old snapshot stays valid while held
    CHECK(store.current()->version() == 2);
    CHECK(!store.publish_if(1, make_version(9)));
    CHECK(store.publish_if(2, make_version(3)) == std::optional<std::uint64_t>(3));
    CHECK(store.update([](const G& g) { return g; }) == 4);
    CHECK(store.snapshot(4) != nullptr);
    CHECK(store.snapshot(1) == nullptr);  // only 3 retained
    CHECK(store.snapshot(2)->edge_count() == 2);
}

TEST_CASE("store: concurrent readers see only complete snapshots while a writer publishes") {
    GraphStore<G> store;
    store.publish(make_version(1));
    constexpr std::uint32_t versions = 150;
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> reads{0}, bad{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 3; ++r) {
        readers.emplace_back([&] {
            std::uint64_t last = 0;
            while (!stop.load(std::memory_order_acquire)) {
                const auto g = store.current();
                const auto row = g->neighbors(EntityId(0));
                const auto v = static_cast<std::uint32_t>(row.size());
                bool ok = g->version() >= last && v >= 1;
                for (std::size_t j = 0; j < row.size(); ++j) ok = ok && row.weights[j] == static_cast<float>(v);
                ok = ok && g->has_edge(EntityId(0), EntityId(v)) && !g->has_edge(EntityId(0), EntityId(v + 1));
                if (!ok) bad.fetch_add(1);
                last = g->version();
                reads.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    for (std::uint32_t v = 2; v <= versions; ++v) {
        // interleave: let the readers make progress between publications
        const auto seen = reads.load();
        while (reads.load() < seen + 3) std::this_thread::yield();
        store.publish(make_version(v));
    }
    stop.store(true, std::memory_order_release);
    for (auto& t : readers) t.join();
    CHECK(bad.load() == 0);
    CHECK(reads.load() >= 3 * (versions - 1));
    CHECK(store.version() == versions);
    CHECK(store.current()->degree(EntityId(0)) == versions);
}

#include <kerec/core/item_entity_map.hpp>
#include <kerec/graph/feedback.hpp>

namespace {
std::shared_ptr<const FeedbackGraph> dense_feedback_graph(std::uint32_t n) {
    std::vector<Judgment> js;
    for (std::uint32_t a = 0; a < n; ++a)
        for (std::uint32_t b = 0; b < n; ++b)
            if (a != b)
                js.push_back(Judgment{.a = EntityId(a), .b = EntityId(b), .label = Label::yes, .confidence = 0.7f,
                                      .rationale = "r", .model = "m", .prompt_version = "v"});
    return std::make_shared<const FeedbackGraph>(build_graph<EdgeFeedback>(js));
}
ItemEntityMap identity_items(std::uint32_t n) {
    std::vector<EntityId> e;
    for (std::uint32_t i = 0; i < n; ++i) e.push_back(EntityId(i));
    return ItemEntityMap::from_primary(e, n);
}
}  // namespace

TEST_CASE("feedback: concurrent recorders sum exactly, whatever the interleaving") {
    const auto base = dense_feedback_graph(20);
    FeedbackOptions o;
    o.half_life = 1000;  // decayed, non-integer contributions
    o.position_weight = {1.0, 0.37};
    FeedbackAccumulator acc(base, 1000, o);
    constexpr int threads = 4, per_thread = 20000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int k = 0; k < per_thread; ++k) {
                const auto e = static_cast<std::uint64_t>((k * 7 + t) % static_cast<int>(acc.edge_count()));
                acc.record_exposure(e, 10 + k % 97, static_cast<std::uint16_t>(k % 2));
                if (k % 3 == 0) acc.record_click(e, 10 + k % 89);
                if (k % 5 == 0) acc.record_purchase(e, 500);
            }
        });
    // The same records on one thread, in another order, give the very same totals.
    FeedbackAccumulator serial(base, 1000, o);
    for (int t = threads - 1; t >= 0; --t)
        for (int k = per_thread - 1; k >= 0; --k) {
            const auto e = static_cast<std::uint64_t>((k * 7 + t) % static_cast<int>(serial.edge_count()));
            serial.record_exposure(e, 10 + k % 97, static_cast<std::uint16_t>(k % 2));
            if (k % 3 == 0) serial.record_click(e, 10 + k % 89);
            if (k % 5 == 0) serial.record_purchase(e, 500);
        }
    for (auto& t : pool) t.join();
    double clicks = 0;
    for (std::uint64_t e = 0; e < acc.edge_count(); ++e) {
        REQUIRE(acc.exposures(e) == serial.exposures(e));
        REQUIRE(acc.clicks(e) == serial.clicks(e));
        REQUIRE(acc.purchases(e) == serial.purchases(e));
        clicks += acc.clicks(e);
    }
    CHECK(clicks > 0);
    CHECK(same_content(apply_feedback(acc, o), apply_feedback(serial, o)));
}

TEST_CASE("feedback: learners publishing concurrently while readers query the store") {
    const auto base = dense_feedback_graph(20);
    GraphStore<FeedbackGraph> store(*base);
    const auto items = identity_items(20);
    FeedbackOptions o;
    o.half_life = 0;
    o.threads = 3;  // attribution itself runs on worker threads (the logs are long enough)
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bad{0};
    std::thread reader([&] {
        while (!stop.load()) {
            const auto s = store.current();
            if (s->edge_count() != 380 || s->top_k(EntityId(3), 5).size() != 5 || s->neighbors(EntityId(3)).rationale(0) != "r")
                bad.fetch_add(1);
        }
    });
    constexpr int rounds = 6, writers = 2, per_round = 20000;
    std::vector<std::thread> pool;
    for (int w = 0; w < writers; ++w)
        pool.emplace_back([&, w] {
            FeedbackLearner learner(o);
            for (int round = 0; round < rounds; ++round) {
                std::vector<Event> log;
                for (int k = 0; k < per_round; ++k) {
                    const auto b = static_cast<std::uint32_t>(k % 19 + (k % 19 >= 3));
                    log.push_back(Event{.user = UserId(static_cast<std::uint32_t>(k % 50)), .item = ItemId(b), .time = round,
                                        .kind = k % 10 == w ? EventKind::click : EventKind::exposure, .trigger = ItemId(3)});
                }
                learner.learn_and_publish(store, log, items);
            }
        });
    for (auto& t : pool) t.join();
    stop.store(true);
    reader.join();
    CHECK(bad.load() == 0);
    CHECK(store.version() == 1 + rounds * writers);
    double total_exp = 0, total_clicks = 0;
    for (const auto& f : store.current()->neighbors(EntityId(3)).payload) total_exp += f.exposures, total_clicks += f.clicks;
    // no publication was lost: every round's feedback of both writers is in the last snapshot
    CHECK(total_exp == doctest::Approx(rounds * writers * per_round * 9 / 10));
    CHECK(total_clicks == doctest::Approx(rounds * writers * per_round / 10));
}

#include <kerec/core/random.hpp>

namespace {
// A shuffled log of exposures, clicks, bills and views over 20 mapped items (entity = item), with
// triggers missing, unmapped or equal to the shown entity (no such edge) now and then.
std::vector<Event> mixed_log(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<Event> log;
    log.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
        Event e;
        e.user = UserId(static_cast<std::uint32_t>(rng.uniform_int(300)));
        e.item = ItemId(static_cast<std::uint32_t>(rng.uniform_int(20)));
        e.time = static_cast<std::int64_t>(rng.uniform_int(100000));  // not in time order
        const auto r = rng.uniform_int(100);
        e.kind = r < 60 ? EventKind::exposure : r < 80 ? EventKind::click : r < 95 ? EventKind::bill : EventKind::view;
        e.position = static_cast<std::uint16_t>(rng.uniform_int(4));
        if (e.kind != EventKind::bill)
            e.trigger = rng.uniform_int(20) == 0 ? ItemId::invalid() : ItemId(static_cast<std::uint32_t>(rng.uniform_int(20)));
        log.push_back(e);
    }
    return log;
}
bool same_stats(const FeedbackStats& x, const FeedbackStats& y) {
    return x.exposures == y.exposures && x.clicks == y.clicks && x.bills == y.bills &&
           x.attributed_exposures == y.attributed_exposures && x.attributed_clicks == y.attributed_clicks &&
           x.attributed_purchases == y.attributed_purchases && x.no_edge == y.no_edge && x.unmapped == y.unmapped;
}
}  // namespace

TEST_CASE("feedback: concurrent attribution gives the counts of one thread (worker threads, callers sharing one accumulator)") {
    const auto base = dense_feedback_graph(20);
    const auto items = identity_items(20);
    const auto log = mixed_log(60000, 42);  // above attribute_events' one-worker threshold (2^14)
    FeedbackOptions o;
    o.half_life = 5000;  // decayed, non-integer contributions
    o.position_weight = {1.0, 0.6, 0.4, 0.3};
    o.purchase_window = 20000;
    o.threads = 1;
    FeedbackAccumulator serial(base, 100000, o);
    const FeedbackStats one = attribute_events(log, items, serial, o);
    REQUIRE(one.attributed_purchases > 0);
    REQUIRE(one.unmapped > 0);
    REQUIRE(one.no_edge > 0);
    REQUIRE(one.attributed_exposures + one.attributed_clicks > 0);

    // (1) attribute_events' own workers.
    FeedbackOptions many = o;
    many.threads = 4;
    FeedbackAccumulator workers(base, 100000, many);
    const FeedbackStats four = attribute_events(log, items, workers, many);
    CHECK(same_stats(one, four));

    // (2) three callers attributing disjoint users' logs into one accumulator at once, each with
    // two workers of its own.
    constexpr unsigned callers = 3;
    std::vector<std::vector<Event>> parts(callers);
    for (const Event& e : log) parts[e.user.value() % callers].push_back(e);
    FeedbackOptions two = o;
    two.threads = 2;
    FeedbackAccumulator shared(base, 100000, two);
    std::vector<FeedbackStats> got(callers);
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < callers; ++t)
        pool.emplace_back([&, t] { got[t] = attribute_events(parts[t], items, shared, two); });
    for (auto& t : pool) t.join();
    FeedbackStats sum;
    for (const auto& s : got) sum += s;
    CHECK(same_stats(one, sum));

    std::size_t differing = 0;
    for (std::uint64_t e = 0; e < serial.edge_count(); ++e)
        for (const FeedbackAccumulator* acc : {&workers, &shared})
            differing += acc->exposures(e) != serial.exposures(e) || acc->clicks(e) != serial.clicks(e) ||
                         acc->purchases(e) != serial.purchases(e);
    CHECK(differing == 0);
    CHECK(same_content(apply_feedback(workers, o), apply_feedback(serial, o)));
    CHECK(same_content(apply_feedback(shared, o), apply_feedback(serial, o)));
}
