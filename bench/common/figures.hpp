// Benchmark figures: JSON lines {"name", "value", "unit", ["peer", "ratio"]} on stdout, and the
// medians of the Catch2 BENCHMARKs that ran so far (captured by a listener in main.cpp).
#pragma once

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace kerec::bench {

/// Median seconds per iteration of the BENCHMARK named `name` (it must have run already).
double median_seconds(const std::string& name);

/// Print one figure as a JSON line on stdout.
inline void emit(std::string_view name, double value, std::string_view unit) {
    std::string v = std::isfinite(value) ? fmt::format("{:.6g}", value) : "null";
    std::printf("{\"name\": \"%.*s\", \"value\": %s, \"unit\": \"%.*s\"}\n", int(name.size()), name.data(),
                v.c_str(), int(unit.size()), unit.data());
    std::fflush(stdout);
}

/// Print a side-by-side figure; ratio is kerec/peer, oriented so that > 1 is better for kerec
/// (say which way in `unit`).
inline void emit(std::string_view name, double value, std::string_view unit, std::string_view peer, double ratio) {
    std::string v = std::isfinite(value) ? fmt::format("{:.6g}", value) : "null";
    std::string r = std::isfinite(ratio) ? fmt::format("{:.4g}", ratio) : "null";
    std::printf("{\"name\": \"%.*s\", \"value\": %s, \"unit\": \"%.*s\", \"peer\": \"%.*s\", \"ratio\": %s}\n",
                int(name.size()), name.data(), v.c_str(), int(unit.size()), unit.data(), int(peer.size()), peer.data(),
                r.c_str());
    std::fflush(stdout);
}

/// Peak resident set size of this process in MiB.
double peak_rss_mb();

}  // namespace kerec::bench
