// kerec/graph/store.hpp — GraphStore<Graph>: versioned snapshots, RCU-style publication.
//
// The paper adjusts edge weights continuously while recommendations are served. Serving threads
// call current() and get a std::shared_ptr<const Graph> they keep for the whole request; a writer
// builds the next snapshot off to the side and publish()es it with one atomic pointer exchange.
// Readers take no lock: they announce themselves in one of two epoch counters, copy the
// shared_ptr out of the current slot and leave (a handful of atomic operations); the writer flips
// the epoch and waits for the previous epoch's readers to drain before it frees the old slot
// (a grace period, as in userspace RCU). The graph itself is freed when its last reader drops it.
// (std::atomic<std::shared_ptr> is not used: libstdc++ 12 unlocks it with a relaxed store, which
// ThreadSanitizer reports as a race.) Writers are serialised by a mutex. current(): O(1);
// publish(): O(1) plus the grace period (the readers' few-instruction critical sections).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "kerec/core/error.hpp"

namespace kerec {

template <class Graph>
class GraphStore {
public:
    using graph_type = Graph;
    using Snapshot = std::shared_ptr<const Graph>;

    /// A store holding an empty graph at version 0. `retain` = how many recent snapshots the
    /// store itself keeps reachable through snapshot(version) (at least 1: the current one).
    explicit GraphStore(std::size_t retain = 2) : retain_(std::max<std::size_t>(1, retain)) {
        auto g = std::make_shared<const Graph>(Graph{}.with_version(0));
        history_.push_back(g);
        slot_.store(new Snapshot(std::move(g)), std::memory_order_release);
    }
    ~GraphStore() { delete slot_.load(std::memory_order_acquire); }

    /// A store whose first snapshot (version 1) is `initial`.
    explicit GraphStore(Graph initial, std::size_t retain = 2) : GraphStore(retain) { publish(std::move(initial)); }

    GraphStore(const GraphStore&) = delete;
    GraphStore& operator=(const GraphStore&) = delete;

    /// The current snapshot. Lock-free for readers (no mutex); keep the pointer for as long as
    /// the graph is used — it stays valid after newer versions are published.
    Snapshot current() const noexcept {
        std::uint64_t e;
        for (;;) {  // enter the current epoch (retry if a writer flipped it meanwhile)
            e = epoch_.load(std::memory_order_seq_cst);
            readers_[e & 1].fetch_add(1, std::memory_order_seq_cst);
            if (epoch_.load(std::memory_order_seq_cst) == e) break;
            readers_[e & 1].fetch_sub(1, std::memory_order_seq_cst);
        }
        Snapshot s = *slot_.load(std::memory_order_seq_cst);
        readers_[e & 1].fetch_sub(1, std::memory_order_seq_cst);
        return s;
    }

    /// Version of the current snapshot (0 before the first publish).
    std::uint64_t version() const noexcept { return version_.load(std::memory_order_acquire); }

    /// Publish `next` as the new current snapshot; returns its version (previous + 1).
    std::uint64_t publish(Graph next) {
        std::lock_guard lock(writer_);
        return publish_locked(std::move(next));
    }

    /// Publish only if the current version is still `expected` (optimistic writers).
    /// Returns the new version, or nullopt when another writer published first.
    std::optional<std::uint64_t> publish_if(std::uint64_t expected, Graph next) {
        std::lock_guard lock(writer_);
        if (version_.load(std::memory_order_relaxed) != expected) return std::nullopt;
        return publish_locked(std::move(next));
    }

    /// Read-modify-publish under the writer lock: next = f(current graph). Returns the new version.
    template <class F>
    std::uint64_t update(F&& f) {
        std::lock_guard lock(writer_);
        const Snapshot cur = *slot_.load(std::memory_order_acquire);
        return publish_locked(Graph(std::forward<F>(f)(*cur)));
    }

    /// A retained snapshot by version (nullptr when it is no longer retained).
    Snapshot snapshot(std::uint64_t version) const {
        std::lock_guard lock(writer_);
        for (const auto& s : history_)
            if (s->version() == version) return s;
        return nullptr;
    }

private:
    std::uint64_t publish_locked(Graph next) {
        const std::uint64_t v = version_.load(std::memory_order_relaxed) + 1;
        auto snap = std::make_shared<const Graph>(next.with_version(v));
        history_.push_back(snap);
        while (history_.size() > retain_) history_.pop_front();
        const Snapshot* old = slot_.exchange(new Snapshot(std::move(snap)), std::memory_order_seq_cst);
        version_.store(v, std::memory_order_release);
        // Grace period: readers of the old epoch may still be copying out of `old`.
        const std::uint64_t e = epoch_.fetch_add(1, std::memory_order_seq_cst);
        for (unsigned spins = 0; readers_[e & 1].load(std::memory_order_seq_cst) != 0; ++spins)
            if (spins > 64) std::this_thread::yield();
        delete old;
        return v;
    }

    std::atomic<const Snapshot*> slot_{nullptr};
    mutable std::atomic<std::uint64_t> epoch_{0};
    mutable std::atomic<std::uint64_t> readers_[2] = {0, 0};
    std::atomic<std::uint64_t> version_{0};
    mutable std::mutex writer_;
    std::deque<Snapshot> history_;
    std::size_t retain_;
};

}  // namespace kerec
