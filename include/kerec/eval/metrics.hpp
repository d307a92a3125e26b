// kerec/eval/metrics.hpp — the offline metrics of the paper's evaluation: AUC, GAUC and log loss
// for scored exposures; Recall@K, NDCG@K, MRR, HitRate@K and catalogue coverage for ranked lists.
//
//   AUC  = (Σ_{i positive} rank(sᵢ) − n₊(n₊+1)/2) / (n₊ n₋), ranks 1-based with ties averaged
//          (Mann–Whitney U / n₊n₋: P(s₊ > s₋) + ½ P(s₊ = s₋)).
//   GAUC = Σ_g n_g AUC_g / Σ_g n_g over groups (users, requests) holding both classes.
//   LogLoss = −mean(y log p + (1−y) log(1−p)), p clipped to [ε, 1−ε].
//   Per query, with R the relevant set and r₁..r_K the top K of the ranked list:
//   Recall@K = |top K ∩ R| / |R|;  HitRate@K = [top K ∩ R ≠ ∅];  RR@K = 1 / rank of the first hit;
//   NDCG@K = Σᵢ gain(rᵢ)/log₂(i+1) / IDCG@K (binary: gain 1; graded: the caller's linear gains,
//   as scikit-learn's ndcg_score).
// auc() is core/auc.hpp's (the one implementation; gauc runs its exact tied-run kernel per group).
// Complexity: AUC, GAUC O(n log n) (one sort); log loss O(n); per-query metrics
// O(K·|R| + |R|²) without allocating (R is small: a hidden item, a basket).
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

#include "kerec/core/auc.hpp"
#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/recommendation.hpp"

namespace kerec {

/// Scores or probabilities: a contiguous range of float or double (std::vector, std::span, ...).
template <class R>
concept ScoreRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                     std::floating_point<std::ranges::range_value_t<R>>;

/// Binary labels: a contiguous range of an integer type holding 0 (negative) or 1 (positive).
template <class R>
concept LabelRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                     std::integral<std::ranges::range_value_t<R>>;

/// Group keys for GAUC and clustered bootstraps: unsigned integers (Event::request) or strong ids (UserId).
template <class R>
concept GroupRange = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                     (std::unsigned_integral<std::ranges::range_value_t<R>> || is_id_v<std::ranges::range_value_t<R>>);

/// A ranked list: a contiguous range of ItemId or of Recommendation (what a Recommender returns).
template <class R>
concept RankedList = std::ranges::contiguous_range<R> && std::ranges::sized_range<R> &&
                     (std::same_as<std::ranges::range_value_t<R>, ItemId> ||
                      std::same_as<std::ranges::range_value_t<R>, Recommendation>);

/// One relevant item with its (linear) gain, for graded NDCG.
struct GradedItem {
    ItemId item;
    double gain = 1.0;
};

/// GAUC and what it was computed over.
struct GaucResult {
    double value = 0.0;               ///< Σ n_g AUC_g / Σ n_g over the groups used
    std::size_t groups = 0;           ///< groups holding both a positive and a negative
    std::size_t skipped_groups = 0;   ///< groups of one class only (their AUC is undefined)
    std::size_t samples = 0;          ///< Σ n_g over the groups used
};

namespace detail {

template <class T>
std::span<const std::ranges::range_value_t<T>> as_span(const T& r) {
    return std::span<const std::ranges::range_value_t<T>>(std::ranges::data(r), std::ranges::size(r));
}

inline ItemId item_of(ItemId i) noexcept { return i; }
inline ItemId item_of(const Recommendation& r) noexcept { return r.item; }

template <class G>
std::uint64_t group_key(G g) noexcept {
    if constexpr (is_id_v<G>) return g.value();
    else return static_cast<std::uint64_t>(g);
}

struct GroupScoredLabel {
    std::uint64_t group;
    double score;
    std::uint8_t label;
};

template <class S, class L, class G>
GaucResult gauc(std::span<const S> scores, std::span<const L> labels, std::span<const G> groups) {
    check_scored("gauc", scores, labels);
    if (groups.size() != scores.size())
        throw InvalidArgument(fmt::format("gauc: {} scores but {} group keys (expected equal sizes)", scores.size(), groups.size()));
    std::vector<GroupScoredLabel> v(scores.size());
    for (std::size_t i = 0; i < v.size(); ++i)
        v[i] = {group_key(groups[i]), static_cast<double>(scores[i]), static_cast<std::uint8_t>(labels[i])};
    std::sort(v.begin(), v.end(), [](const GroupScoredLabel& a, const GroupScoredLabel& b) {
        return a.group != b.group ? a.group < b.group : a.score < b.score;
    });
    GaucResult r;
    double weighted = 0.0;
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i + 1;
        while (j < v.size() && v[j].group == v[i].group) ++j;
        const double a = auc_sorted(std::span<const GroupScoredLabel>(v).subspan(i, j - i));
        if (std::isnan(a)) {
            ++r.skipped_groups;
        } else {
            ++r.groups;
            r.samples += j - i;
            weighted += static_cast<double>(j - i) * a;
        }
        i = j;
    }
    if (r.groups == 0)
        throw InvalidArgument(fmt::format("gauc: none of the {} groups holds both a positive and a negative", r.skipped_groups));
    r.value = weighted / static_cast<double>(r.samples);
    return r;
}

template <class S, class L>
double log_loss(std::span<const S> p, std::span<const L> labels, double eps) {
    if (!(eps > 0.0 && eps < 0.5)) throw InvalidArgument(fmt::format("log_loss: eps = {} (expected in (0, 0.5))", eps));
    if (labels.size() != p.size())
        throw InvalidArgument(fmt::format("log_loss: {} probabilities but {} labels (expected equal sizes)", p.size(), labels.size()));
    if (p.empty()) throw InvalidArgument("log_loss: no samples");
    double sum = 0.0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const double x = static_cast<double>(p[i]);
        if (!(x >= 0.0 && x <= 1.0))
            throw InvalidArgument(fmt::format("log_loss: probability {} is {} (expected in [0, 1])", i, x));
        if (labels[i] != L{0} && labels[i] != L{1})
            throw InvalidArgument(fmt::format("log_loss: label {} is {} (expected 0 or 1)", i, static_cast<long long>(labels[i])));
        const double c = std::clamp(x, eps, 1.0 - eps);
        sum -= labels[i] ? std::log(c) : std::log1p(-c);
    }
    return sum / static_cast<double>(p.size());
}

inline bool contains(std::span<const ItemId> set, ItemId item) noexcept {
    return std::find(set.begin(), set.end(), item) != set.end();
}

inline void check_relevant(const char* what, std::span<const ItemId> relevant) {
    if (relevant.empty()) throw InvalidArgument(fmt::format("{}: no relevant item (the metric is undefined)", what));
    for (std::size_t i = 0; i < relevant.size(); ++i) {
        if (!relevant[i].valid()) throw InvalidArgument(fmt::format("{}: relevant item {} is an invalid id", what, i));
        if (contains(relevant.first(i), relevant[i]))
            throw InvalidArgument(fmt::format("{}: relevant item {} appears twice (expected a set)", what, relevant[i]));
    }
}

/// The top min(k, size) of `ranked`, validated: k > 0, valid ids, no item twice.
template <class T>
std::span<const T> top_k(const char* what, std::span<const T> ranked, std::size_t k) {
    if (k == 0) throw InvalidArgument(fmt::format("{}: k = 0 (expected k >= 1)", what));
    const auto top = ranked.first(std::min(k, ranked.size()));
    for (std::size_t i = 0; i < top.size(); ++i) {
        const ItemId it = item_of(top[i]);
        if (!it.valid()) throw InvalidArgument(fmt::format("{}: ranked item {} is an invalid id", what, i));
        for (std::size_t j = 0; j < i; ++j)
            if (item_of(top[j]) == it)
                throw InvalidArgument(fmt::format("{}: item {} is ranked twice (positions {} and {})", what, it, j, i));
    }
    return top;
}

inline double discount(std::size_t position) noexcept { return 1.0 / std::log2(static_cast<double>(position) + 2.0); }

}  // namespace detail

// --- scored samples ---------------------------------------------------------------------------

/// Group AUC: the AUC of each group (user, or Event::request for per-list AUC), weighted by the
/// group's number of samples. Groups of one class only are skipped and counted; when every group
/// is, InvalidArgument. Same validation as auc() (core/auc.hpp).
template <ScoreRange S, LabelRange L, GroupRange G>
GaucResult gauc(const S& scores, const L& labels, const G& groups) {
    return detail::gauc(detail::as_span(scores), detail::as_span(labels), detail::as_span(groups));
}

/// Mean binary cross-entropy of probabilities `p` (each in [0, 1], clipped to [eps, 1 − eps])
/// against 0/1 labels, natural log (equals scikit-learn's log_loss with the same eps). A NaN or
/// out-of-range probability, a bad label, mismatched sizes or no samples throw InvalidArgument.
template <ScoreRange S, LabelRange L>
double log_loss(const S& p, const L& labels, double eps = 1e-15) {
    return detail::log_loss(detail::as_span(p), detail::as_span(labels), eps);
}

// --- ranked lists (one query) -----------------------------------------------------------------
// `ranked` is best first; only its first k entries count (fewer are fine). `relevant` is the set
// of items the user actually took (distinct, valid, non-empty). Every function throws
// InvalidArgument for k = 0, an invalid or repeated ranked item, or a bad relevant set.

/// |top k ∩ relevant| / |relevant|.
template <RankedList R>
double recall_at_k(const R& ranked, std::span<const ItemId> relevant, std::size_t k) {
    detail::check_relevant("recall_at_k", relevant);
    std::size_t hits = 0;
    for (const auto& r : detail::top_k("recall_at_k", detail::as_span(ranked), k)) hits += detail::contains(relevant, detail::item_of(r));
    return static_cast<double>(hits) / static_cast<double>(relevant.size());
}

/// 1 when one of the top k is relevant, else 0 (its mean over queries is HitRate@K).
template <RankedList R>
double hit_at_k(const R& ranked, std::span<const ItemId> relevant, std::size_t k) {
    detail::check_relevant("hit_at_k", relevant);
    for (const auto& r : detail::top_k("hit_at_k", detail::as_span(ranked), k))
        if (detail::contains(relevant, detail::item_of(r))) return 1.0;
    return 0.0;
}

/// 1 / (1-based rank of the first relevant item among the top k), 0 when none (mean: MRR@K).
/// The default k looks at the whole list.
template <RankedList R>
double reciprocal_rank(const R& ranked, std::span<const ItemId> relevant, std::size_t k = std::numeric_limits<std::size_t>::max()) {
    detail::check_relevant("reciprocal_rank", relevant);
    const auto top = detail::top_k("reciprocal_rank", detail::as_span(ranked), k);
    for (std::size_t i = 0; i < top.size(); ++i)
        if (detail::contains(relevant, detail::item_of(top[i]))) return 1.0 / static_cast<double>(i + 1);
    return 0.0;
}

/// Binary NDCG@K: DCG = Σ_{i<k, rᵢ relevant} 1/log₂(i+2), divided by the DCG of min(k, |R|) hits.
template <RankedList R>
double ndcg_at_k(const R& ranked, std::span<const ItemId> relevant, std::size_t k) {
    detail::check_relevant("ndcg_at_k", relevant);
    const auto top = detail::top_k("ndcg_at_k", detail::as_span(ranked), k);
    double dcg = 0.0, ideal = 0.0;
    for (std::size_t i = 0; i < top.size(); ++i)
        if (detail::contains(relevant, detail::item_of(top[i]))) dcg += detail::discount(i);
    for (std::size_t i = 0; i < std::min(k, relevant.size()); ++i) ideal += detail::discount(i);
    return dcg / ideal;
}

/// Graded NDCG@K with linear gains (scikit-learn's ndcg_score): DCG = Σ_{i<k} gain(rᵢ)/log₂(i+2)
/// (gain 0 for items not listed), IDCG = the same over the k largest gains. Gains must be finite
/// and >= 0, at least one > 0, items distinct and valid.
template <RankedList R>
double ndcg_at_k(const R& ranked, std::span<const GradedItem> relevant, std::size_t k) {
    const auto top = detail::top_k("ndcg_at_k", detail::as_span(ranked), k);
    double best_gain = 0.0;
    for (std::size_t i = 0; i < relevant.size(); ++i) {
        const auto& g = relevant[i];
        if (!g.item.valid()) throw InvalidArgument(fmt::format("ndcg_at_k: relevant item {} is an invalid id", i));
        if (!(std::isfinite(g.gain) && g.gain >= 0.0))
            throw InvalidArgument(fmt::format("ndcg_at_k: gain of item {} is {} (expected finite and >= 0)", g.item, g.gain));
        for (std::size_t j = 0; j < i; ++j)
            if (relevant[j].item == g.item)
                throw InvalidArgument(fmt::format("ndcg_at_k: relevant item {} appears twice (expected a set)", g.item));
        best_gain = std::max(best_gain, g.gain);
    }
    if (!(best_gain > 0.0)) throw InvalidArgument("ndcg_at_k: no item with a positive gain (the metric is undefined)");
    double dcg = 0.0;
    for (std::size_t i = 0; i < top.size(); ++i)
        for (const auto& g : relevant)
            if (g.item == detail::item_of(top[i])) {
                dcg += g.gain * detail::discount(i);
                break;
            }
    // IDCG: the k largest gains in decreasing order, selected without allocating (k·|R| passes).
    double ideal = 0.0, prev = std::numeric_limits<double>::infinity();
    std::size_t position = 0;
    while (position < k) {
        double next = 0.0;
        std::size_t ties = 0;
        for (const auto& g : relevant) {
            if (g.gain >= prev || g.gain < next || g.gain == 0.0) continue;
            ties = g.gain == next ? ties + 1 : 1;
            next = g.gain;
        }
        if (ties == 0) break;
        for (std::size_t t = 0; t < ties && position < k; ++t) ideal += next * detail::discount(position++);
        prev = next;
    }
    return dcg / ideal;
}

// --- over all queries -------------------------------------------------------------------------

/// Catalogue coverage: the share of the catalogue that appears in at least one recommended list.
class CatalogueCoverage {
public:
    explicit CatalogueCoverage(std::size_t catalogue_size) : seen_(catalogue_size, 0) {
        if (catalogue_size == 0) throw InvalidArgument("CatalogueCoverage: catalogue_size = 0 (expected >= 1)");
    }

    /// Counts the first k items of `ranked`. An item id >= catalogue_size() throws OutOfRange;
    /// invalid ids are skipped.
    template <RankedList R>
    void add(const R& ranked, std::size_t k = std::numeric_limits<std::size_t>::max()) {
        const auto s = detail::as_span(ranked);
        for (const auto& r : s.first(std::min(k, s.size()))) {
            const ItemId it = detail::item_of(r);
            if (!it.valid()) continue;
            if (it.index() >= seen_.size())
                throw OutOfRange(fmt::format("CatalogueCoverage: item {} (expected < {})", it, seen_.size()));
            distinct_ += seen_[it.index()] == 0;
            seen_[it.index()] = 1;
        }
    }

    std::size_t catalogue_size() const noexcept { return seen_.size(); }
    std::size_t distinct() const noexcept { return distinct_; }
    double value() const noexcept { return static_cast<double>(distinct_) / static_cast<double>(seen_.size()); }

private:
    std::vector<char> seen_;
    std::size_t distinct_ = 0;
};

}  // namespace kerec
