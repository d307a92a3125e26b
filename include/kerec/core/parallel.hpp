// kerec/core/parallel.hpp — the small fork-join helper the components share (graph builder,
// feedback learner, anything with coarse independent tasks).
//
// parallel_for(threads, tasks, f) runs f(task, worker) for task in [0, tasks) on `threads`
// workers (the calling thread is worker 0), handing tasks out through one atomic counter. The
// first exception thrown by any task is rethrown in the caller after all workers stopped.
// Overhead: one thread spawn per extra worker per call; use for coarse tasks only.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace kerec::detail {

/// Number of workers to use for `threads` (0 = hardware concurrency), never more than `tasks`.
inline unsigned worker_count(unsigned threads, std::size_t tasks) noexcept {
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<unsigned>(std::max<std::size_t>(1, std::min<std::size_t>(threads, tasks)));
}

template <class F>
void parallel_for(unsigned threads, std::size_t tasks, F&& f) {
    const unsigned workers = worker_count(threads, tasks);
    if (workers <= 1) {
        for (std::size_t t = 0; t < tasks; ++t) f(t, 0u);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto run = [&](unsigned worker) {
        try {
            for (;;) {
                if (failed.load(std::memory_order_relaxed)) return;
                const std::size_t t = next.fetch_add(1, std::memory_order_relaxed);
                if (t >= tasks) return;
                f(t, worker);
            }
        } catch (...) {
            std::lock_guard lock(error_mutex);
            if (!error) error = std::current_exception();
            failed.store(true, std::memory_order_relaxed);
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back(run, w);
    run(0);
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace kerec::detail
