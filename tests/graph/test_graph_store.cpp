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

#include <kerec/graph/feedback.hpp>

TEST_CASE("feedback: concurrent recorders and a publishing learner") {
    std::vector<Judgment> js;
    for (std::uint32_t a = 0; a < 20; ++a)
        for (std::uint32_t b = 0; b < 20; ++b)
            if (a != b) js.push_back(Judgment{EntityId(a), EntityId(b), Label::yes, 0.7f, "", "m", "v", 0});
    auto base = std::make_shared<const FeedbackGraph>(build_graph<EdgeFeedback>(std::span<const Judgment>(js)));
    FeedbackOptions o;
    o.half_life = 0;
    FeedbackAccumulator acc(base, 1000, o);
    constexpr int threads = 4, per_thread = 20000;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (int k = 0; k < per_thread; ++k) {
                const auto e = static_cast<std::uint64_t>((k * 7 + t) % static_cast<int>(acc.edge_count()));
                acc.record_exposure(e, 10, 0);
                if (k % 3 == 0) acc.record_click(e, 10);
            }
        });
    for (auto& t : pool) t.join();
    double exposures = 0, clicks = 0;
    for (std::uint64_t e = 0; e < acc.edge_count(); ++e) exposures += acc.exposures(e), clicks += acc.clicks(e);
    CHECK(exposures == threads * per_thread);
    CHECK(clicks == threads * ((per_thread + 2) / 3));
    const auto g = apply_feedback(acc, o);
    CHECK(g.edge_count() == base->edge_count());

    // A learner publishes while readers query the store.
    GraphStore<FeedbackGraph> store(*base);
    std::vector<EntityId> item_entity;
    for (std::uint32_t i = 0; i < 20; ++i) item_entity.push_back(EntityId(i));
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> bad{0};
    std::thread reader([&] {
        while (!stop.load()) {
            const auto s = store.current();
            if (s->edge_count() != 380 || s->top_k(EntityId(3), 5).size() != 5) bad.fetch_add(1);
        }
    });
    FeedbackLearner learner(o);
    for (int round = 0; round < 20; ++round) {
        std::vector<Event> log;
        for (std::uint32_t b = 0; b < 20; ++b)
            if (b != 3) log.push_back(Event{.user = UserId(0), .item = ItemId(b), .time = round, .kind = EventKind::exposure, .trigger = ItemId(3)});
        log.push_back(Event{.user = UserId(0), .item = ItemId(static_cast<std::uint32_t>(round % 19 + (round % 19 >= 3))),
                            .time = round, .kind = EventKind::click, .trigger = ItemId(3)});
        learner.learn_and_publish(store, log, item_entity);
    }
    stop.store(true);
    reader.join();
    CHECK(bad.load() == 0);
    CHECK(store.version() == 21);
    const auto row = store.current()->neighbors(EntityId(3));
    double total_exp = 0;
    for (const auto& f : row.payload) total_exp += f.exposures;
    CHECK(total_exp == doctest::Approx(20 * 19));
}
