// kerec/recall/channel_merge.hpp — merging recall channels by quota: ChannelMerger and
// FilteredChannel, both Recommenders.
//
// Industrial recommenders run several recall channels (co-purchase, popularity, the paper's
// complementary U2E2I channel, a new-item channel) whose scores are not comparable, and give each
// channel a share of the k slots. With shares s_c ≥ 0 (normalised to sum 1), channel c gets
//   q_c = ⌊s_c·k⌋ + 1 for the c with the largest remainders s_c·k − ⌊s_c·k⌋ (ties: lower c), Σ q_c = k,
// fills them with its best items not already taken (channels in order, channel 0 first); slots a
// channel cannot fill go to the others, each continuing down its list, channel 0 first. The
// merged list interleaves the channels by normalised rank: the r-th item (0-based) of a channel
// that placed n items sorts at (r + ½)/n (ties: lower channel), so each channel's best come first.
// Each Recommendation keeps its channel's score and explanation (scores compare only within a
// channel). A channel may have a score floor: its items scoring below it are left out (a channel
// that is not confident gives its slots back). FilteredChannel keeps a channel's items that pass a predicate (e.g. "no sales
// history": a new-item quota). A request costs the channels' requests + O(C·k²) (k is small).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/recommendation.hpp"

namespace kerec {

/// Slots per channel for `k` slots and `shares` (see the file comment). Shares must be finite,
/// >= 0 and not all 0 (InvalidArgument naming the channel otherwise).
inline void channel_quotas(std::span<const double> shares, std::size_t k, std::span<std::size_t> quotas) {
    if (quotas.size() != shares.size())
        throw InvalidArgument(fmt::format("channel_quotas: {} shares but {} quota slots", shares.size(), quotas.size()));
    double total = 0.0;
    for (std::size_t c = 0; c < shares.size(); ++c) {
        if (!std::isfinite(shares[c]) || shares[c] < 0.0)
            throw InvalidArgument(fmt::format("channel_quotas: share of channel {} = {} (expected finite, >= 0)", c, shares[c]));
        total += shares[c];
    }
    if (!(total > 0.0)) throw InvalidArgument("channel_quotas: every share is 0 (expected at least one > 0)");
    std::size_t given = 0;
    for (std::size_t c = 0; c < shares.size(); ++c) {
        quotas[c] = static_cast<std::size_t>(std::floor(shares[c] / total * static_cast<double>(k)));
        given += quotas[c];
    }
    while (given < k) {  // largest remainder first, ties to the lower channel
        std::size_t best = shares.size();
        double best_rem = -1.0;
        for (std::size_t c = 0; c < shares.size(); ++c) {
            if (shares[c] == 0.0) continue;
            const double rem = shares[c] / total * static_cast<double>(k) - static_cast<double>(quotas[c]);
            if (rem > best_rem) best_rem = rem, best = c;
        }
        ++quotas[best], ++given;
    }
}

/// Merge ranked lists (best first) into at most `k` distinct items by `quotas` (one per list),
/// as described in the file comment. `floors` (empty, or one per list): items of list c scoring
/// below floors[c] are skipped. `out` is cleared first. Invalid ids in a list are skipped.
inline void merge_by_quota(std::span<const std::span<const Recommendation>> lists, std::span<const std::size_t> quotas,
                           std::size_t k, std::vector<Recommendation>& out, std::span<const float> floors = {}) {
    if (quotas.size() != lists.size())
        throw InvalidArgument(fmt::format("merge_by_quota: {} lists but {} quotas", lists.size(), quotas.size()));
    if (!floors.empty() && floors.size() != lists.size())
        throw InvalidArgument(fmt::format("merge_by_quota: {} lists but {} score floors", lists.size(), floors.size()));
    out.clear();
    const std::size_t C = lists.size();
    struct Placed {
        double key;
        std::size_t channel;
        Recommendation rec;
    };
    thread_local std::vector<Placed> placed;
    thread_local std::vector<std::size_t> next, count;
    placed.clear();
    next.assign(C, 0);
    count.assign(C, 0);
    auto taken = [&](ItemId i) {
        return std::any_of(placed.begin(), placed.end(), [&](const Placed& p) { return p.rec.item == i; });
    };
    // Take the next eligible item of channel c; false when its list is exhausted.
    auto take = [&](std::size_t c) {
        for (auto& j = next[c]; j < lists[c].size(); ++j) {
            const Recommendation& r = lists[c][j];
            if (!r.item.valid() || (!floors.empty() && !(r.score >= floors[c])) || taken(r.item)) continue;
            placed.push_back(Placed{0.0, c, r});
            ++count[c], ++j;
            return true;
        }
        return false;
    };
    for (std::size_t c = 0; c < C; ++c)
        for (std::size_t q = 0; q < quotas[c] && placed.size() < k && take(c); ++q) {
        }
    for (std::size_t c = 0; c < C && placed.size() < k; ++c)  // unfilled slots: channel order
        while (placed.size() < k && take(c)) {
        }
    std::vector<std::size_t>& rank = next;  // reuse: rank within channel
    std::fill(rank.begin(), rank.end(), 0);
    for (Placed& p : placed) p.key = (static_cast<double>(rank[p.channel]++) + 0.5) / static_cast<double>(count[p.channel]);
    std::stable_sort(placed.begin(), placed.end(),
                     [](const Placed& a, const Placed& b) { return a.key != b.key ? a.key < b.key : a.channel < b.channel; });
    out.reserve(placed.size());
    for (const Placed& p : placed) out.push_back(p.rec);
}

/// A channel restricted to the items `keep(item)` accepts: asks the wrapped recommender for
/// `fetch` items (at least request.k) and returns the first request.k that pass. A Recommender.
template <Recommender R, class Keep>
class FilteredChannel {
public:
    FilteredChannel(R& channel, Keep keep, std::size_t fetch) : r_(&channel), keep_(std::move(keep)), fetch_(fetch) {}

    void recommend(const RecommendRequest& request, std::vector<Recommendation>& out) {
        RecommendRequest wide = request;
        wide.k = std::max(request.k, fetch_);
        r_->recommend(wide, buf_);
        out.clear();
        for (const Recommendation& r : buf_) {
            if (out.size() >= request.k) break;
            if (keep_(r.item)) out.push_back(r);
        }
    }

private:
    R* r_;
    Keep keep_;
    std::size_t fetch_;
    std::vector<Recommendation> buf_;
};

/// Several channels merged by quota (see the file comment): each channel is asked for request.k
/// items, then merge_by_quota. The channels must outlive the merger. A Recommender; one per thread.
template <Recommender... Rs>
class ChannelMerger {
public:
    static constexpr std::size_t channels = sizeof...(Rs);
    static_assert(channels >= 1, "ChannelMerger needs at least one channel");

    ChannelMerger(std::array<double, channels> shares, Rs&... rs) : ch_(&rs...) { set_shares(shares); }

    /// New shares (validated as channel_quotas does).
    void set_shares(std::array<double, channels> shares) {
        std::array<std::size_t, channels> probe{};
        channel_quotas(shares, 1, probe);
        shares_ = shares;
    }
    const std::array<double, channels>& shares() const noexcept { return shares_; }
    /// Score floors per channel (default -infinity: none); NaN is rejected.
    void set_floors(std::array<float, channels> floors) {
        for (std::size_t c = 0; c < channels; ++c)
            if (std::isnan(floors[c])) throw InvalidArgument(fmt::format("ChannelMerger: score floor of channel {} is NaN", c));
        floors_ = floors;
    }
    const std::array<float, channels>& floors() const noexcept { return floors_; }

    void recommend(const RecommendRequest& request, std::vector<Recommendation>& out) {
        std::apply([&](auto*... r) {
            std::size_t c = 0;
            ((r->recommend(request, lists_[c]), ++c), ...);
        }, ch_);
        std::array<std::span<const Recommendation>, channels> views;
        for (std::size_t c = 0; c < channels; ++c) views[c] = lists_[c];
        channel_quotas(shares_, request.k, quotas_);
        merge_by_quota(views, quotas_, request.k, out, floors_);
    }

private:
    static std::array<float, channels> filled(float v) {
        std::array<float, channels> a;
        a.fill(v);
        return a;
    }
    std::tuple<Rs*...> ch_;
    std::array<double, channels> shares_{};
    std::array<std::size_t, channels> quotas_{};
    std::array<float, channels> floors_ = filled(-std::numeric_limits<float>::infinity());
    std::array<std::vector<Recommendation>, channels> lists_;
};

}  // namespace kerec
