// U2E2I requests from several threads on one GraphStore while a writer publishes new snapshots
// (run under ThreadSanitizer: scripts/test --tsan -L tsan).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/recall/u2e2i.hpp>

using namespace kerec;

namespace {
using FB = GraphBuilder<EntityId, EdgeFeedback>;
using FE = GraphEdge<EntityId, EdgeFeedback>;

// Version v: entity 0 → 1..8 and entity 9 → 10..17, every weight = v (a reader checks that one
// response never mixes snapshots: all its edge weights are equal).
FeedbackGraph make_version(std::uint32_t v) {
    std::vector<FE> es;
    for (std::uint32_t t = 1; t <= 8; ++t) {
        es.push_back(FE{EntityId(0), EntityId(t), static_cast<float>(v), {0.5f, 0, 0, 0}});
        es.push_back(FE{EntityId(9), EntityId(9 + t), static_cast<float>(v), {0.5f, 0, 0, 0}});
    }
    GraphBuildOptions o;
    o.threads = 1;
    o.node_count = 18;
    return FB::build(es, o);
}
}  // namespace

TEST_CASE("u2e2i: concurrent requests while snapshots are published") {
    std::vector<EntityId> primary;
    for (std::uint32_t i = 0; i < 180; ++i) primary.push_back(EntityId(i % 18));
    const auto map = ItemEntityMap::from_primary(primary, 18);
    GraphStore<FeedbackGraph> store(make_version(1));
    const U2E2IRecall<FeedbackGraph> shared(store, map);  // one recall, a workspace per thread
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> requests{0}, bad{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&, t] {
            U2E2IWorkspace ws;
            PathScore scorer;
            U2E2IRecall<FeedbackGraph> own = shared;  // a copy per thread works too
            std::vector<Recommendation> out;
            const HistoryItem ctx[] = {{ItemId(0), 0}, {ItemId(9), 0}};
            while (!stop.load(std::memory_order_acquire)) {
                if (t == 0)
                    own.recommend(RecommendRequest{UserId(0), ctx, 0, 12, {}}, out);
                else
                    shared.recommend(RecommendRequest{UserId(0), ctx, 0, 12, {}}, out, ws, scorer);
                bool ok = out.size() == 12;
                for (const auto& r : out) ok = ok && r.why.edge_weight == out.front().why.edge_weight;
                if (!ok) bad.fetch_add(1);
                requests.fetch_add(1);
            }
        });
    }
    for (std::uint32_t v = 2; v <= 60; ++v) store.publish(make_version(v));
    while (requests.load() < 200) std::this_thread::yield();
    stop = true;
    for (auto& th : readers) th.join();
    CHECK(bad.load() == 0);
    CHECK(requests.load() >= 200);
}
