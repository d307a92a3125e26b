// kerec/core/stats.hpp — small statistics shared by every component, evaluations, examples and benchmarks.
//
// rank_average: fractional ranks with ties averaged. spearman(x, y) = pearson(rank(x), rank(y)),
// the figure used to compare learned edge weights with hidden strengths or click rates.
// PrecisionRecall accumulates tp/fp/fn and reports P = tp/(tp+fp), R = tp/(tp+fn), F1.
// Ranking is O(n log n); the rest O(n).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"

namespace kerec {

/// 1-based fractional ranks, ties get the average of their positions. NaN is rejected.
inline std::vector<double> rank_average(std::span<const double> x) {
    const std::size_t n = x.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = 0; i < n; ++i)
        if (std::isnan(x[i])) throw InvalidArgument(fmt::format("rank_average: value {} is NaN", i));
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
    std::vector<double> ranks(n);
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i + 1;
        while (j < n && x[order[j]] == x[order[i]]) ++j;
        const double r = 0.5 * static_cast<double>(i + j - 1) + 1.0;
        for (std::size_t k = i; k < j; ++k) ranks[order[k]] = r;
        i = j;
    }
    return ranks;
}

/// Pearson correlation; 0 when either side is constant. Sizes must match.
inline double pearson(std::span<const double> x, std::span<const double> y) {
    if (x.size() != y.size())
        throw InvalidArgument(fmt::format("pearson: sizes differ ({} vs {})", x.size(), y.size()));
    const std::size_t n = x.size();
    if (n < 2) return 0.0;
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(n);
    const double my = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double dx = x[i] - mx, dy = y[i] - my;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx <= 0 || syy <= 0) return 0.0;
    return sxy / std::sqrt(sxx * syy);
}

/// Spearman rank correlation (ties averaged).
inline double spearman(std::span<const double> x, std::span<const double> y) {
    if (x.size() != y.size())
        throw InvalidArgument(fmt::format("spearman: sizes differ ({} vs {})", x.size(), y.size()));
    const auto rx = rank_average(x);
    const auto ry = rank_average(y);
    return pearson(rx, ry);
}

/// Counts of a set comparison (predicted vs true).
struct PrecisionRecall {
    std::uint64_t tp = 0, fp = 0, fn = 0;

    double precision() const noexcept { return tp + fp ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0; }
    double recall() const noexcept { return tp + fn ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0.0; }
    double f1() const noexcept {
        const double p = precision(), r = recall();
        return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
    }
    PrecisionRecall& operator+=(const PrecisionRecall& o) noexcept {
        tp += o.tp;
        fp += o.fp;
        fn += o.fn;
        return *this;
    }
};

}  // namespace kerec
