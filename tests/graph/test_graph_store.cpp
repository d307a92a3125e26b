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
    for (std::uint32_t v = 2; v <= versions; ++v) store.publish(make_version(v));
    stop.store(true, std::memory_order_release);
    for (auto& t : readers) t.join();
    CHECK(bad.load() == 0);
    CHECK(reads.load() > 0);
    CHECK(store.version() == versions);
    CHECK(store.current()->degree(EntityId(0)) == versions);
}
