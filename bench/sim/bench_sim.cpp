// scripts/bench sim — synthetic marketplace generation throughput and memory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

#include <kerec/sim/world.hpp>

#include "figures.hpp"

using kerec::sim::Config;
using kerec::sim::World;

TEST_CASE("sim generation") {
    std::size_t events = 0;
    BENCHMARK("sim medium") {
        const World w = World::generate(Config::preset("medium"));
        events = w.events().size();
        return events;
    };
    kerec::bench::emit("sim.medium.events_per_s", static_cast<double>(events) / kerec::bench::median_seconds("sim medium"),
                       "events/s");

    // The large preset takes seconds per run: median of three timed runs.
    std::vector<double> secs;
    for (int run = 0; run < 3; ++run) {
        const auto t0 = std::chrono::steady_clock::now();
        const World w = World::generate(Config::preset("large"));
        secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        events = w.events().size();
    }
    std::sort(secs.begin(), secs.end());
    kerec::bench::emit("sim.large.events_per_s", static_cast<double>(events) / secs[1], "events/s");
    kerec::bench::emit("sim.large.peak_rss_mb", kerec::bench::peak_rss_mb(), "MiB");
    CHECK(events == 10000000);
}
