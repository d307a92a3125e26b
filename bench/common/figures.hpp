// Benchmark figures: JSON lines {"name", "value", "unit", ["peer", "ratio"]} on stdout, and the
// medians of the Catch2 BENCHMARKs that ran so far (captured by a listener in main.cpp).
#pragma once

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "../../examples/figures.hpp"

namespace kerec::bench {

/// Median seconds per iteration of the BENCHMARK named `name` (it must have run already).
double median_seconds(const std::string& name);

/// JSON-line figures: the same emitter the example programs use.
using kerec::examples::emit;

/// Peak resident set size of this process in MiB.
double peak_rss_mb();

}  // namespace kerec::bench
