// kerec/pairs/segmented_generator.hpp — SegmentedPairGenerator: budgeted entity pairs for the judge.
//
// The paper's "segmented combination" of entity pairs: entities sorted by popularity are split into
// rank segments (head/torso/tail by default); a combination matrix partners[s][t] says how many of
// segment t's most popular entities each entity of segment s is paired with (0 = none, all_partners
// = every one), so tail entities can be paired only against the head, never tail x tail. In rank
// coordinates every row i is then a few contiguous column ranges, which makes the pair set a lazy
// range: nothing quadratic is ever stored. A budget B keeps the B candidate pairs of highest expected
// traffic T = p(a) p(b)^g (ordered; unordered adds p(b) p(a)^g; p = popularity share, g =
// partner_exponent); T is monotone in both ranks, so the kept set is a staircase found by
// bisection on the threshold, ties broken in generation order.
// Already-judged pairs are excluded, incremental mode keeps only pairs touching new entities,
// shard k of n is the k-th contiguous slice of the deterministic order (rank-major, then column).
// Build O(n * segments * 64 + excluded log excluded); count() O(1); iteration O(1) per pair, no
// allocation (fill() reaches hundreds of millions of pairs/s on one core).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/random.hpp"
#include "kerec/pairs/entity_pair.hpp"
#include "kerec/pairs/popularity.hpp"

namespace kerec {

/// Partner count meaning "every entity of the other segment".
inline constexpr std::uint32_t all_partners = std::numeric_limits<std::uint32_t>::max();

struct SegmentedPairOptions {
    /// Segment boundaries as cumulative shares of the entities (strictly increasing, in (0, 1)).
    /// Default: head = top 2%, torso = next 18%, tail = the remaining 80%.
    std::vector<double> quantiles = {0.02, 0.20};
    /// With quantiles, the head holds at least min(n, min_head) entities (later boundaries move
    /// up with it), so a small catalogue is not left without a head: with n <= min_head every
    /// entity is in the head and the default matrix asks every pair. Ignored with cut_points.
    std::uint32_t min_head = 16;
    /// Segment boundaries as ranks (non-decreasing, <= entity count); when non-empty they win.
    std::vector<std::uint32_t> cut_points;
    /// Segment names; default head/torso/tail for three segments, "s0", "s1", ... otherwise.
    std::vector<std::string> names;
    /// partners[s][t]: how many of segment t's top entities each entity of segment s gets.
    /// Empty = the default matrix: every segment against the whole head, the torso against itself,
    /// the tail against the top 5% of the torso, never tail x tail.
    std::vector<std::vector<std::uint32_t>> partners;
    /// Ordered pairs (a -> b, a != b, both directions may appear) or unordered ({a, b} once, a < b).
    /// The judge is asked "is b a complement of a?" for each pair as emitted, and the graph keeps
    /// that direction only. Unordered mode therefore lets entity ids decide the direction (the
    /// lower id is a): complements are often asymmetric (batteries -> toy is weaker than toy ->
    /// batteries), so use ordered pairs whenever direction matters; unordered halves the calls.
    bool ordered = false;
    /// Keep at most this many pairs, the ones of highest expected traffic; 0 = no budget.
    std::uint64_t budget = 0;
    /// Alternatively, a budget as a share of all_pairs_count() in (0, 1]; used when budget = 0.
    double budget_share = 0.0;
    /// Exponent g of the expected traffic of a pair, with p the popularity shares: the traffic
    /// a -> b is a's traffic times the chance that b is one of a's complements, which grows with
    /// b's popularity: T(a -> b) = p(a) p(b)^g (ordered), T({a, b}) = p(a) p(b)^g + p(b) p(a)^g
    /// (unordered). g = 1 ranks by p(a) p(b); g = 0 by p(a) alone / p(a) + p(b). In [0, 4].
    double partner_exponent = 1.0;
    /// Incremental mode: only pairs with at least one entity in new_entities.
    bool incremental = false;
    std::vector<EntityId> new_entities;
};

struct PairSegment {
    std::string name;
    std::uint32_t begin = 0;  ///< first rank
    std::uint32_t end = 0;    ///< one past the last rank
    std::uint32_t size() const noexcept { return end - begin; }
};

class SegmentedPairGenerator;

/// A slice [first, last) of a generator's pair order; a single-pass input range. It refers to its
/// generator, which must outlive it. Several cursors (e.g. one shard per thread) may run at once.
class PairCursor {
public:
    PairCursor() = default;

    /// Copy up to out.size() next pairs into out; returns how many (0 = exhausted). No allocation.
    /// Use either fill()/next() or begin()/end() on one cursor, not both.
    std::size_t fill(std::span<EntityPair> out);
    bool next(EntityPair& p) { return fill(std::span<EntityPair>(&p, 1)) == 1; }
    std::uint64_t remaining() const noexcept { return remaining_; }

    class iterator;
    struct sentinel {};
    iterator begin();
    sentinel end() const noexcept { return {}; }
    /// True when the range-for buffer is exhausted (used by the iterator).
    bool at_end_() const noexcept { return buf_pos_ >= buf_len_; }

private:
    friend class SegmentedPairGenerator;
    struct Range {
        std::uint32_t a, b;
    };
    bool load_row_();
    void seek_(std::uint64_t offset_in_row);

    void refill_() {
        buf_pos_ = 0;
        buf_len_ = fill(buffer_);
    }

    const SegmentedPairGenerator* g_ = nullptr;
    std::uint32_t row_ = 0;
    std::array<Range, 64> ranges_{};
    std::uint32_t range_count_ = 0, range_ = 0;
    bool all_cols_ = true;
    std::uint32_t j_ = 0, b_ = 0;  // column (or index into new ranks) and its end
    std::size_t excl_ = 0;
    std::uint64_t remaining_ = 0;
    std::array<EntityPair, 256> buffer_{};
    std::size_t buf_pos_ = 0, buf_len_ = 0;
};

class SegmentedPairGenerator {
public:
    /// `exclude`: pairs already judged (ordered mode: exact direction; unordered: either direction).
    SegmentedPairGenerator(const Popularity& popularity, SegmentedPairOptions options = {},
                           std::span<const EntityPair> exclude = {})
        : opt_(std::move(options)) {
        n_ = static_cast<std::uint32_t>(popularity.size());
        by_rank_.assign(popularity.by_rank().begin(), popularity.by_rank().end());
        pop_.resize(n_);
        rank_of_.resize(n_);
        const double total = popularity.total();
        for (std::uint32_t r = 0; r < n_; ++r) {
            pop_[r] = total > 0.0 ? popularity.score(by_rank_[r]) / total : 0.0;
            rank_of_[by_rank_[r].index()] = r;
        }
        if (!(opt_.partner_exponent >= 0.0 && opt_.partner_exponent <= 4.0))
            throw InvalidArgument(fmt::format("SegmentedPairGenerator: partner_exponent = {} (expected in [0, 4])",
                                              opt_.partner_exponent));
        powg_.resize(n_);
        for (std::uint32_t r = 0; r < n_; ++r) powg_[r] = pop_[r] > 0.0 ? std::pow(pop_[r], opt_.partner_exponent) : 0.0;
        make_segments_();
        make_partners_();
        if (opt_.incremental) {
            new_mask_.assign(n_, 0);
            for (EntityId e : opt_.new_entities) {
                if (!e.valid() || e.index() >= n_)
                    throw InvalidArgument(fmt::format("SegmentedPairGenerator: new entity {} out of range (size {})", e, n_));
                new_mask_[rank_of_[e.index()]] = 1;
            }
            new_cum_.assign(n_ + 1, 0);
            for (std::uint32_t r = 0; r < n_; ++r) {
                new_cum_[r + 1] = new_cum_[r] + new_mask_[r];
                if (new_mask_[r]) new_ranks_.push_back(r);
            }
        }
        make_exclusions_(exclude);
        limit_.assign(n_, n_);
        if (opt_.budget == 0 && opt_.budget_share != 0.0) {
            if (!(opt_.budget_share > 0.0 && opt_.budget_share <= 1.0))
                throw InvalidArgument(fmt::format("SegmentedPairGenerator: budget_share = {} (expected in (0, 1])", opt_.budget_share));
            opt_.budget = std::max<std::uint64_t>(
                1, static_cast<std::uint64_t>(opt_.budget_share * static_cast<double>(all_pairs_count())));
        }
        if (opt_.budget > 0) apply_budget_();
        make_prefix_();
    }

    /// Number of pairs this generator yields (after budget, exclusion and incremental filter). O(1).
    std::uint64_t count() const noexcept { return prefix_.empty() ? 0 : prefix_.back(); }
    /// Number of pairs before the budget was applied.
    std::uint64_t candidate_count() const noexcept { return candidates_; }
    /// All possible pairs of the entities: n(n-1) ordered or n(n-1)/2 unordered.
    std::uint64_t all_pairs_count() const noexcept {
        const std::uint64_t n = n_;
        return n < 2 ? 0 : (opt_.ordered ? n * (n - 1) : n * (n - 1) / 2);
    }
    std::size_t entity_count() const noexcept { return n_; }
    bool ordered() const noexcept { return opt_.ordered; }
    std::span<const PairSegment> segments() const noexcept { return segments_; }
    /// Effective partner count of segment s against segment t (clipped to t's size).
    std::uint32_t partners(std::size_t s, std::size_t t) const { return k_.at(s * segments_.size() + t); }
    /// Expected traffic of a pair (the budget's priority): p(a) p(b)^g, unordered + p(b) p(a)^g.
    double expected_traffic(EntityPair p) const {
        return priority_(rank_of_.at(p.a.index()), rank_of_.at(p.b.index()));
    }

    /// Whether the generator yields `p` (unordered mode: in either direction). O(segments + log excluded).
    bool contains(EntityPair p) const {
        if (!p.a.valid() || !p.b.valid() || p.a.index() >= n_ || p.b.index() >= n_) return false;
        std::uint32_t r = rank_of_[p.a.index()], c = rank_of_[p.b.index()];
        if (!opt_.ordered && c < r) std::swap(r, c);
        if (!in_candidates_(r, c, limit_[r])) return false;
        return !std::binary_search(excl_.begin(), excl_.end(), key_(r, c));
    }

    /// Every pair, in the deterministic order.
    PairCursor pairs() const { return slice(0, count()); }
    /// Shard k of n: the k-th of n contiguous slices of the order; disjoint, together complete.
    PairCursor shard(std::uint64_t k, std::uint64_t n) const {
        if (n == 0 || k >= n)
            throw InvalidArgument(fmt::format("SegmentedPairGenerator::shard: shard {} of {} (expected k < n, n > 0)", k, n));
        using u128 = detail::uint128_t;
        const auto c = static_cast<u128>(count());
        return slice(static_cast<std::uint64_t>(c * k / n), static_cast<std::uint64_t>(c * (k + 1) / n));
    }
    /// Pairs with positions [first, last) of the order.
    PairCursor slice(std::uint64_t first, std::uint64_t last) const {
        if (first > last || last > count())
            throw InvalidArgument(fmt::format("SegmentedPairGenerator::slice: [{}, {}) outside [0, {})", first, last, count()));
        PairCursor c;
        c.g_ = this;
        c.remaining_ = last - first;
        if (first == last) return c;
        const auto it = std::upper_bound(prefix_.begin(), prefix_.end(), first);
        c.row_ = static_cast<std::uint32_t>(it - prefix_.begin() - 1);
        c.excl_ = 0;
        c.load_row_();
        c.seek_(first - prefix_[c.row_]);
        return c;
    }

private:
    friend class PairCursor;
    using Range = PairCursor::Range;

    double priority_(std::uint32_t i, std::uint32_t j) const noexcept {
        return opt_.ordered ? pop_[i] * powg_[j] : pop_[i] * powg_[j] + pop_[j] * powg_[i];
    }

    void make_segments_() {
        std::vector<std::uint32_t> cuts;
        if (!opt_.cut_points.empty()) {
            std::uint32_t prev = 0;
            for (std::size_t i = 0; i < opt_.cut_points.size(); ++i) {
                const auto c = opt_.cut_points[i];
                if (c < prev || c > n_)
                    throw InvalidArgument(fmt::format(
                        "SegmentedPairGenerator: cut_points[{}] = {} (expected non-decreasing and <= {} entities)", i, c, n_));
                cuts.push_back(c);
                prev = c;
            }
        } else {
            double prev = 0.0;
            const std::uint32_t head = std::min(n_, opt_.min_head);
            for (std::size_t i = 0; i < opt_.quantiles.size(); ++i) {
                const double q = opt_.quantiles[i];
                if (!(q > prev) || !(q < 1.0))
                    throw InvalidArgument(fmt::format(
                        "SegmentedPairGenerator: quantiles[{}] = {} (expected strictly increasing in (0, 1))", i, q));
                cuts.push_back(std::max(head, static_cast<std::uint32_t>(std::llround(q * n_))));
                prev = q;
            }
        }
        const std::size_t s = cuts.size() + 1;
        if (s > 16) throw InvalidArgument(fmt::format("SegmentedPairGenerator: {} segments (at most 16)", s));
        if (!opt_.names.empty() && opt_.names.size() != s)
            throw InvalidArgument(fmt::format("SegmentedPairGenerator: {} names for {} segments", opt_.names.size(), s));
        std::uint32_t begin = 0;
        for (std::size_t i = 0; i < s; ++i) {
            const std::uint32_t end = i + 1 < s ? cuts[i] : n_;
            std::string name = !opt_.names.empty() ? opt_.names[i]
                               : s == 3            ? std::string(i == 0 ? "head" : i == 1 ? "torso" : "tail")
                                                   : fmt::format("s{}", i);
            segments_.push_back(PairSegment{std::move(name), begin, end});
            begin = end;
        }
        seg_of_.resize(n_);
        for (std::size_t i = 0; i < s; ++i)
            for (std::uint32_t r = segments_[i].begin; r < segments_[i].end; ++r) seg_of_[r] = static_cast<std::uint8_t>(i);
    }

    void make_partners_() {
        const std::size_t s = segments_.size();
        auto m = opt_.partners;
        if (m.empty()) {
            m.assign(s, std::vector<std::uint32_t>(s, 0));
            for (std::size_t i = 0; i < s; ++i) m[i][0] = m[0][i] = all_partners;
            if (s >= 2) m[1][1] = all_partners;
            if (s >= 3) {
                const auto k = static_cast<std::uint32_t>(std::max<std::uint64_t>(1, segments_[1].size() / 20));
                for (std::size_t i = 2; i < s; ++i) m[i][1] = k;
            }
        }
        if (m.size() != s)
            throw InvalidArgument(fmt::format("SegmentedPairGenerator: partners has {} rows for {} segments", m.size(), s));
        k_.assign(s * s, 0);
        for (std::size_t a = 0; a < s; ++a) {
            if (m[a].size() != s)
                throw InvalidArgument(fmt::format("SegmentedPairGenerator: partners[{}] has {} entries for {} segments", a,
                                                  m[a].size(), s));
            for (std::size_t b = 0; b < s; ++b) k_[a * s + b] = std::min(m[a][b], segments_[b].size());
        }
    }

    /// Column ranges of row i (rank coordinates) with columns < limit; returns the range count.
    std::uint32_t row_ranges_(std::uint32_t i, std::uint32_t limit, Range* out) const {
        const std::size_t s = segments_.size();
        const std::size_t si = seg_of_[i];
        const std::uint32_t u = i - segments_[si].begin;
        std::uint32_t c = 0;
        if (opt_.ordered) {
            for (std::size_t t = 0; t < s; ++t) {
                const std::uint32_t a = segments_[t].begin;
                const std::uint32_t b = std::min(a + k_[si * s + t], limit);
                if (a >= b) continue;
                if (i >= a && i < b) {
                    if (a < i) out[c++] = Range{a, i};
                    if (i + 1 < b) out[c++] = Range{i + 1, b};
                } else {
                    out[c++] = Range{a, b};
                }
            }
        } else {
            for (std::size_t t = si; t < s; ++t) {
                const auto& seg = segments_[t];
                const std::uint32_t a = std::max(seg.begin, i + 1);
                std::uint32_t b = u < k_[t * s + si] ? seg.end : std::min(seg.end, seg.begin + k_[si * s + t]);
                b = std::min(b, limit);
                if (a < b) out[c++] = Range{a, b};
            }
        }
        return c;
    }

    bool all_cols_(std::uint32_t row) const { return !opt_.incremental || new_mask_[row]; }
    std::uint64_t cols_(std::uint32_t a, std::uint32_t b, bool all) const { return all ? b - a : new_cum_[b] - new_cum_[a]; }
    std::uint64_t row_cols_(std::uint32_t i, std::uint32_t limit) const {
        Range r[64];
        const std::uint32_t c = row_ranges_(i, limit, r);
        const bool all = all_cols_(i);
        std::uint64_t sum = 0;
        for (std::uint32_t k = 0; k < c; ++k) sum += cols_(r[k].a, r[k].b, all);
        return sum;
    }
    bool in_candidates_(std::uint32_t row, std::uint32_t col, std::uint32_t limit) const {
        if (!all_cols_(row) && !new_mask_[col]) return false;
        Range r[64];
        const std::uint32_t c = row_ranges_(row, limit, r);
        for (std::uint32_t k = 0; k < c; ++k)
            if (col >= r[k].a && col < r[k].b) return true;
        return false;
    }
    static std::uint64_t key_(std::uint32_t row, std::uint32_t col) { return (std::uint64_t{row} << 32) | col; }

    void make_exclusions_(std::span<const EntityPair> exclude) {
        excl_.reserve(exclude.size());
        for (const auto& p : exclude) {
            if (!p.a.valid() || !p.b.valid() || p.a.index() >= n_ || p.b.index() >= n_)
                throw InvalidArgument(fmt::format("SegmentedPairGenerator: excluded pair ({}, {}) out of range (size {})",
                                                  p.a, p.b, n_));
            std::uint32_t r = rank_of_[p.a.index()], c = rank_of_[p.b.index()];
            if (!opt_.ordered && c < r) std::swap(r, c);
            if (in_candidates_(r, c, n_)) excl_.push_back(key_(r, c));
        }
        std::sort(excl_.begin(), excl_.end());
        excl_.erase(std::unique(excl_.begin(), excl_.end()), excl_.end());
    }

    // Number of candidate pairs with pop[i] * pop[j] >= theta, and per-row limits J(i) into `lim`.
    std::uint64_t count_at_(double theta, std::vector<std::uint32_t>& lim, const std::vector<double>& excl_products) const {
        std::uint64_t total = 0;
        std::uint32_t j = n_;
        for (std::uint32_t i = 0; i < n_; ++i) {
            while (j > 0 && !(priority_(i, j - 1) >= theta)) --j;
            lim[i] = j;
            total += row_cols_(i, j);
        }
        const auto it = std::lower_bound(excl_products.begin(), excl_products.end(), theta);
        return total - static_cast<std::uint64_t>(excl_products.end() - it);
    }

    void apply_budget_() {
        std::vector<std::uint32_t> lim_lo(n_), lim_hi(n_);
        std::vector<double> excl_products;
        excl_products.reserve(excl_.size());
        for (auto k : excl_)
            excl_products.push_back(priority_(static_cast<std::uint32_t>(k >> 32), static_cast<std::uint32_t>(k & 0xFFFFFFFFu)));
        std::sort(excl_products.begin(), excl_products.end());
        const std::uint64_t all = count_at_(0.0, lim_lo, excl_products);
        candidates_ = all;
        candidates_known_ = true;
        const std::uint64_t budget = opt_.budget;
        if (all <= budget) return;
        // Bisection over the bit patterns of non-negative doubles (monotone in the value).
        std::uint64_t lo = 0;  // count(lo) >= budget
        const double top = n_ > 0 ? priority_(0, 0) : 0.0;
        std::uint64_t hi = std::bit_cast<std::uint64_t>(top) + 1;  // count(hi) < budget (nothing above top)
        while (hi - lo > 1) {
            const std::uint64_t mid = lo + (hi - lo) / 2;
            if (count_at_(std::bit_cast<double>(mid), lim_hi, excl_products) >= budget) lo = mid;
            else hi = mid;
        }
        const std::uint64_t at_hi = count_at_(std::bit_cast<double>(hi), lim_hi, excl_products);
        count_at_(std::bit_cast<double>(lo), lim_lo, excl_products);
        std::uint64_t left = budget - at_hi;  // pairs to take from the band [lo, hi)
        for (std::uint32_t i = 0; i < n_; ++i) {
            limit_[i] = lim_hi[i];
            if (left == 0 || lim_lo[i] == lim_hi[i]) continue;
            const std::uint64_t band = row_cols_(i, lim_lo[i]) - row_cols_(i, lim_hi[i]) -
                                       excl_between_(i, lim_hi[i], lim_lo[i]);
            if (band <= left) {
                limit_[i] = lim_lo[i];
                left -= band;
                continue;
            }
            // Partial row: walk the band columns in order until `left` of them are taken.
            Range r[64];
            const std::uint32_t c = row_ranges_(i, lim_lo[i], r);
            const bool allc = all_cols_(i);
            std::uint32_t cut = lim_hi[i];
            for (std::uint32_t k = 0; k < c && left > 0; ++k)
                for (std::uint32_t col = std::max(r[k].a, lim_hi[i]); col < r[k].b && left > 0; ++col) {
                    if (!allc && !new_mask_[col]) continue;
                    if (std::binary_search(excl_.begin(), excl_.end(), key_(i, col))) continue;
                    --left;
                    cut = col + 1;
                }
            limit_[i] = cut;
        }
        // Exclusions beyond a row's limit are not in the set any more.
        std::erase_if(excl_, [&](std::uint64_t k) { return (k & 0xFFFFFFFFu) >= limit_[k >> 32]; });
    }

    std::uint64_t excl_between_(std::uint32_t row, std::uint32_t a, std::uint32_t b) const {
        const auto lo = std::lower_bound(excl_.begin(), excl_.end(), key_(row, a));
        const auto hi = std::lower_bound(excl_.begin(), excl_.end(), key_(row, b));
        return static_cast<std::uint64_t>(hi - lo);
    }

    void make_prefix_() {
        prefix_.assign(n_ + 1, 0);
        std::size_t e = 0;
        for (std::uint32_t i = 0; i < n_; ++i) {
            std::uint64_t ex = 0;
            while (e < excl_.size() && (excl_[e] >> 32) == i) ++ex, ++e;
            prefix_[i + 1] = prefix_[i] + row_cols_(i, limit_[i]) - ex;
        }
        if (!candidates_known_) candidates_ = prefix_.back();
    }

    SegmentedPairOptions opt_;
    std::uint32_t n_ = 0;
    std::vector<EntityId> by_rank_;
    std::vector<std::uint32_t> rank_of_;
    std::vector<double> pop_;   // popularity share by rank
    std::vector<double> powg_;  // pop_^partner_exponent
    std::vector<PairSegment> segments_;
    std::vector<std::uint8_t> seg_of_;
    std::vector<std::uint32_t> k_;
    std::vector<std::uint8_t> new_mask_;      // by rank
    std::vector<std::uint32_t> new_cum_;      // prefix count of new ranks
    std::vector<std::uint32_t> new_ranks_;    // sorted ranks of new entities
    std::vector<std::uint64_t> excl_;         // sorted (row << 32 | col) in rank coordinates
    std::vector<std::uint32_t> limit_;        // per row: columns < limit are inside the budget
    std::vector<std::uint64_t> prefix_;       // pairs before each row
    std::uint64_t candidates_ = 0;
    bool candidates_known_ = false;
};

// ---- PairCursor ------------------------------------------------------------------------------

inline bool PairCursor::load_row_() {
    const auto& g = *g_;
    while (row_ < g.n_) {
        range_count_ = g.row_ranges_(row_, g.limit_[row_], ranges_.data());
        all_cols_ = g.all_cols_(row_);
        range_ = 0;
        if (range_count_ > 0) {
            const Range r = ranges_[0];
            if (all_cols_) {
                j_ = r.a, b_ = r.b;
            } else {
                j_ = static_cast<std::uint32_t>(std::lower_bound(g.new_ranks_.begin(), g.new_ranks_.end(), r.a) - g.new_ranks_.begin());
                b_ = static_cast<std::uint32_t>(std::lower_bound(g.new_ranks_.begin(), g.new_ranks_.end(), r.b) - g.new_ranks_.begin());
            }
            return true;
        }
        ++row_;
    }
    return false;
}

inline void PairCursor::seek_(std::uint64_t offset) {
    // Skip `offset` pairs of the current row (rare: only when a slice starts mid-row).
    const auto& g = *g_;
    excl_ = static_cast<std::size_t>(std::lower_bound(g.excl_.begin(), g.excl_.end(),
                                                      SegmentedPairGenerator::key_(row_, 0)) - g.excl_.begin());
    EntityPair scratch[256];
    const std::uint64_t keep = remaining_;
    remaining_ = offset;
    while (remaining_ > 0) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, 256));
        if (fill(std::span<EntityPair>(scratch, want)) == 0) break;
    }
    remaining_ = keep;
}

inline std::size_t PairCursor::fill(std::span<EntityPair> out) {
    if (!g_ || remaining_ == 0) return 0;
    const auto& g = *g_;
    std::size_t n = 0;
    const std::size_t cap = out.size();
    const EntityId* ranks = g.by_rank_.data();
    const bool ordered = g.opt_.ordered;
    while (n < cap && remaining_ > 0) {
        if (j_ >= b_) {
            if (++range_ < range_count_) {
                const Range r = ranges_[range_];
                if (all_cols_) {
                    j_ = r.a, b_ = r.b;
                } else {
                    j_ = static_cast<std::uint32_t>(std::lower_bound(g.new_ranks_.begin(), g.new_ranks_.end(), r.a) - g.new_ranks_.begin());
                    b_ = static_cast<std::uint32_t>(std::lower_bound(g.new_ranks_.begin(), g.new_ranks_.end(), r.b) - g.new_ranks_.begin());
                }
                continue;
            }
            ++row_;
            if (!load_row_()) {
                remaining_ = 0;
                break;
            }
            continue;
        }
        const EntityId a = ranks[row_];
        if (all_cols_) {
            std::uint32_t stop = b_;
            while (excl_ < g.excl_.size() && g.excl_[excl_] < SegmentedPairGenerator::key_(row_, j_)) ++excl_;
            if (excl_ < g.excl_.size() && (g.excl_[excl_] >> 32) == row_)
                stop = std::min<std::uint32_t>(stop, static_cast<std::uint32_t>(g.excl_[excl_] & 0xFFFFFFFFu));
            if (j_ == stop) {  // j_ is excluded
                ++j_;
                ++excl_;
                continue;
            }
            const auto cnt = static_cast<std::uint32_t>(
                std::min<std::uint64_t>({std::uint64_t{stop - j_}, cap - n, remaining_}));
            EntityPair* o = out.data() + n;
            const EntityId* col = ranks + j_;
            if (ordered) {
                for (std::uint32_t t = 0; t < cnt; ++t) o[t] = EntityPair{a, col[t]};
            } else {
                for (std::uint32_t t = 0; t < cnt; ++t) {
                    const EntityId c = col[t];
                    o[t] = c < a ? EntityPair{c, a} : EntityPair{a, c};
                }
            }
            j_ += cnt;
            n += cnt;
            remaining_ -= cnt;
        } else {
            const std::uint32_t colr = g.new_ranks_[j_++];
            const std::uint64_t key = SegmentedPairGenerator::key_(row_, colr);
            while (excl_ < g.excl_.size() && g.excl_[excl_] < key) ++excl_;
            if (excl_ < g.excl_.size() && g.excl_[excl_] == key) continue;
            const EntityId c = ranks[colr];
            out[n++] = (ordered || a < c) ? EntityPair{a, c} : EntityPair{c, a};
            --remaining_;
        }
    }
    return n;
}

class PairCursor::iterator {
public:
    using value_type = EntityPair;
    using difference_type = std::ptrdiff_t;
    using reference = const EntityPair&;
    using iterator_category = std::input_iterator_tag;

    iterator() = default;
    explicit iterator(PairCursor* c) : c_(c) {}
    const EntityPair& operator*() const { return c_->buffer_[c_->buf_pos_]; }
    const EntityPair* operator->() const { return &c_->buffer_[c_->buf_pos_]; }
    iterator& operator++() {
        ++c_->buf_pos_;
        if (c_->buf_pos_ == c_->buf_len_) c_->refill_();
        return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, sentinel) { return it.c_->at_end_(); }

private:
    PairCursor* c_ = nullptr;
};

inline PairCursor::iterator PairCursor::begin() {
    refill_();
    return iterator(this);
}

}  // namespace kerec
