// kerec/core/auc.hpp — exact ROC AUC with ties, for early stopping and evaluation.
//
// AUC = P(score of a random positive > score of a random negative) + ½ P(equal), the
// Mann–Whitney U statistic divided by n₊·n₋:
//   AUC = (Σ_{i positive} rank(sᵢ) − n₊(n₊+1)/2) / (n₊ n₋),  rank = 1-based, ties averaged.
// Exact (no binning). O(n log n) time, O(n) memory (an index permutation).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"

namespace kerec {

/// Exact AUC of `scores` against binary `labels` (non-zero = positive). Throws InvalidArgument
/// for mismatched sizes, a NaN score (naming its index), or labels of one class only (AUC is
/// undefined then). Works for float or double scores and any arithmetic label type.
template <class Score, class Label>
double auc(std::span<const Score> scores, std::span<const Label> labels) {
    const std::size_t n = scores.size();
    if (labels.size() != n)
        throw InvalidArgument(fmt::format("auc: {} scores but {} labels", n, labels.size()));
    for (std::size_t i = 0; i < n; ++i)
        if (std::isnan(static_cast<double>(scores[i]))) throw InvalidArgument(fmt::format("auc: score {} is NaN", i));
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
    double pos = 0.0, rank_sum = 0.0;
    for (std::size_t i = 0; i < n;) {
        std::size_t j = i + 1;
        while (j < n && scores[order[j]] == scores[order[i]]) ++j;
        const double r = 0.5 * static_cast<double>(i + j + 1);  // average of ranks i+1 .. j
        for (std::size_t k = i; k < j; ++k)
            if (labels[order[k]] != Label{}) pos += 1.0, rank_sum += r;
        i = j;
    }
    const double neg = static_cast<double>(n) - pos;
    if (pos == 0.0 || neg == 0.0)
        throw InvalidArgument(fmt::format("auc: {} positives and {} negatives (expected at least one of each)", pos, neg));
    return (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg);
}

template <class Score, class Label>
double auc(const std::vector<Score>& scores, const std::vector<Label>& labels) {
    return auc(std::span<const Score>(scores), std::span<const Label>(labels));
}

}  // namespace kerec
