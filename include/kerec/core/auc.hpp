// kerec/core/auc.hpp — exact ROC AUC with ties: the one implementation (early stopping, eval).
//
// AUC = P(score of a random positive > score of a random negative) + ½ P(equal), the
// Mann–Whitney U statistic divided by n₊·n₋. Over the samples sorted by score, each run of tied
// scores with p positives and q negatives, after `below` negatives with lower scores, adds
//   2U += p · (2·below + q)        AUC = 2U / (2 n₊ n₋)
// 2U is an integer, exact in a double below 2^53 (n₊ n₋ < 2^52): no binning, no rounding in the
// sum. eval/metrics.hpp's gauc runs the same kernel per group. O(n log n) time (one sort), O(n)
// memory.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ranges>
#include <span>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"

namespace kerec {

namespace detail {

/// Validate a scored sample set: equal sizes, no NaN score, labels 0 or 1 (of any arithmetic
/// type: 0/1 integers or 0.0/1.0 floats). Errors name `what` and the index.
template <class S, class L>
void check_scored(const char* what, std::span<const S> scores, std::span<const L> labels) {
    if (labels.size() != scores.size())
        throw InvalidArgument(fmt::format("{}: {} scores but {} labels (expected equal sizes)", what, scores.size(), labels.size()));
    for (std::size_t i = 0; i < scores.size(); ++i) {
        if (std::isnan(static_cast<double>(scores[i]))) throw InvalidArgument(fmt::format("{}: score {} is NaN", what, i));
        if (labels[i] != L{0} && labels[i] != L{1}) {
            if constexpr (std::is_integral_v<L>)
                throw InvalidArgument(fmt::format("{}: label {} is {} (expected 0 or 1)", what, i, static_cast<long long>(labels[i])));
            else
                throw InvalidArgument(fmt::format("{}: label {} is {} (expected 0 or 1)", what, i, static_cast<double>(labels[i])));
        }
    }
}

struct ScoredLabel {
    double score;
    std::uint8_t label;
};

/// AUC of `run` (elements with .score and .label, sorted by score ascending); NaN when it holds
/// one class only. `positives`, when given, receives n₊.
template <class T>
double auc_sorted(std::span<const T> run, std::size_t* positives = nullptr) {
    double neg_below = 0.0, twice_u = 0.0, pos = 0.0;
    for (std::size_t i = 0; i < run.size();) {
        double pos_tie = 0.0, neg_tie = 0.0;
        const double s = run[i].score;
        for (; i < run.size() && run[i].score == s; ++i) (run[i].label ? pos_tie : neg_tie) += 1.0;
        twice_u += pos_tie * (2.0 * neg_below + neg_tie);
        neg_below += neg_tie;
        pos += pos_tie;
    }
    if (positives) *positives = static_cast<std::size_t>(pos);
    if (pos == 0.0 || neg_below == 0.0) return std::numeric_limits<double>::quiet_NaN();
    return twice_u / (2.0 * pos * neg_below);
}

}  // namespace detail

/// Exact ROC AUC of `scores` against 0/1 `labels`, ties counted one half (equals scikit-learn's
/// roc_auc_score). Throws InvalidArgument for mismatched sizes, a NaN score or a label other than
/// 0/1 (naming its index), or labels of one class only (AUC is undefined then). Scores and labels
/// may be of any arithmetic type.
template <class Score, class Label>
    requires std::is_arithmetic_v<Score> && std::is_arithmetic_v<Label>
double auc(std::span<const Score> scores, std::span<const Label> labels) {
    detail::check_scored("auc", scores, labels);
    std::vector<detail::ScoredLabel> v(scores.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = {static_cast<double>(scores[i]), static_cast<std::uint8_t>(labels[i] != Label{0})};
    std::sort(v.begin(), v.end(), [](const detail::ScoredLabel& a, const detail::ScoredLabel& b) { return a.score < b.score; });
    std::size_t pos = 0;
    const double a = detail::auc_sorted(std::span<const detail::ScoredLabel>(v), &pos);
    if (std::isnan(a))
        throw InvalidArgument(fmt::format("auc: {} positives and {} negatives (expected at least one of each)", pos,
                                          scores.size() - pos));
    return a;
}

/// The same over any contiguous ranges (std::vector, std::array, spans of non-const elements...).
template <class S, class L>
    requires std::ranges::contiguous_range<const S> && std::ranges::sized_range<const S> &&
             std::ranges::contiguous_range<const L> && std::ranges::sized_range<const L> &&
             std::is_arithmetic_v<std::ranges::range_value_t<S>> && std::is_arithmetic_v<std::ranges::range_value_t<L>>
double auc(const S& scores, const L& labels) {
    using SV = std::ranges::range_value_t<S>;
    using LV = std::ranges::range_value_t<L>;
    return auc(std::span<const SV>(std::ranges::data(scores), std::ranges::size(scores)),
               std::span<const LV>(std::ranges::data(labels), std::ranges::size(labels)));
}

}  // namespace kerec
