// kerec/eval/bootstrap.hpp — percentile bootstrap confidence intervals for evaluation figures.
//
// Resample the units of an evaluation (queries, or users when a user has several queries) with
// replacement B times, recompute the statistic on each resample, and report the (1−c)/2 and
// (1+c)/2 quantiles of the B values (linear interpolation between order statistics, numpy's
// default) around the statistic on the full data. A unit's multiplicity mᵤ ~ Multinomial(U, 1/U).
//   bootstrap_mean(v):          mean of per-query values, queries resampled;
//   bootstrap_mean(v, units):   Σᵤ mᵤ Sᵤ / Σᵤ mᵤ nᵤ, units (users) resampled with all their queries.
// A difference between two methods is the mean of per-query differences (one paired bootstrap).
// Seeded: the same seed and inputs give the same interval. O(B · U) draws, O(U + B) memory.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/random.hpp"
#include "kerec/eval/metrics.hpp"

namespace kerec {

struct BootstrapOptions {
    std::size_t resamples = 1000;   ///< B
    double confidence = 0.95;       ///< c, in (0, 1)
    std::uint64_t seed = 0x5EED;
};

/// A statistic on the full data and its percentile interval.
struct Interval {
    double estimate = 0.0;
    double lower = 0.0;
    double upper = 0.0;
};

/// Generic percentile bootstrap over `units` resampling units. `statistic(multiplicity)` gets one
/// count per unit (how often the unit was drawn; they sum to `units`) and returns the statistic
/// of that resample; the estimate is statistic(all ones). A NaN statistic (e.g. an AUC on a
/// resample of one class) is skipped; when more than half the resamples are NaN, InvalidArgument.
template <class Statistic>
    requires std::invocable<Statistic&, std::span<const std::uint32_t>>
Interval bootstrap(std::size_t units, Statistic&& statistic, const BootstrapOptions& options = {}) {
    if (units == 0) throw InvalidArgument("bootstrap: no units to resample");
    if (options.resamples == 0) throw InvalidArgument("bootstrap: resamples = 0 (expected >= 1)");
    if (!(options.confidence > 0.0 && options.confidence < 1.0))
        throw InvalidArgument(fmt::format("bootstrap: confidence = {} (expected in (0, 1))", options.confidence));
    std::vector<std::uint32_t> m(units, 1);
    Interval r;
    r.estimate = static_cast<double>(statistic(std::span<const std::uint32_t>(m)));
    std::vector<double> values;
    values.reserve(options.resamples);
    Rng rng(options.seed);
    for (std::size_t b = 0; b < options.resamples; ++b) {
        std::fill(m.begin(), m.end(), 0u);
        for (std::size_t i = 0; i < units; ++i) ++m[rng.uniform_int(units)];
        const double v = static_cast<double>(statistic(std::span<const std::uint32_t>(m)));
        if (!std::isnan(v)) values.push_back(v);
    }
    if (values.size() * 2 < options.resamples)
        throw InvalidArgument(fmt::format("bootstrap: the statistic is NaN on {} of {} resamples", options.resamples - values.size(),
                                          options.resamples));
    std::sort(values.begin(), values.end());
    const auto quantile = [&](double q) {
        const double pos = q * static_cast<double>(values.size() - 1);
        const auto lo = static_cast<std::size_t>(std::floor(pos));
        const std::size_t hi = std::min(lo + 1, values.size() - 1);
        return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
    };
    r.lower = quantile((1.0 - options.confidence) / 2.0);
    r.upper = quantile((1.0 + options.confidence) / 2.0);
    return r;
}

/// Mean of per-query values with a percentile interval, queries resampled. NaN or infinite
/// values throw InvalidArgument (naming the index), as does an empty input.
inline Interval bootstrap_mean(std::span<const double> values, const BootstrapOptions& options = {}) {
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i])) throw InvalidArgument(fmt::format("bootstrap_mean: value {} is {} (expected finite)", i, values[i]));
    return bootstrap(values.size(), [&](std::span<const std::uint32_t> m) {
        double sum = 0.0, n = 0.0;
        for (std::size_t i = 0; i < values.size(); ++i) sum += m[i] * values[i], n += m[i];
        return sum / n;
    }, options);
}

/// Mean of per-query values, resampling units: `unit_of[q]` is the unit (user) of query q, and a
/// drawn unit brings all its queries (the mean is over queries, so a user with more queries
/// weighs more, as in the estimate). Keys need not be dense.
template <GroupRange G>
Interval bootstrap_mean(std::span<const double> values, const G& unit_of, const BootstrapOptions& options = {}) {
    const auto units = detail::as_span(unit_of);
    if (units.size() != values.size())
        throw InvalidArgument(fmt::format("bootstrap_mean: {} values but {} unit keys (expected equal sizes)", values.size(), units.size()));
    std::vector<std::pair<std::uint64_t, double>> keyed(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i])) throw InvalidArgument(fmt::format("bootstrap_mean: value {} is {} (expected finite)", i, values[i]));
        keyed[i] = {detail::group_key(units[i]), values[i]};
    }
    std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<double> sum;       // per unit: Σ values
    std::vector<double> count;     // per unit: number of queries
    for (std::size_t i = 0; i < keyed.size(); ++i) {
        if (i == 0 || keyed[i].first != keyed[i - 1].first) sum.push_back(0.0), count.push_back(0.0);
        sum.back() += keyed[i].second;
        count.back() += 1.0;
    }
    return bootstrap(sum.size(), [&](std::span<const std::uint32_t> m) {
        double s = 0.0, n = 0.0;
        for (std::size_t u = 0; u < sum.size(); ++u) s += m[u] * sum[u], n += m[u] * count[u];
        return s / n;
    }, options);
}

}  // namespace kerec
