// kerec/pairs/popularity.hpp — entity popularity from behaviour events, with exponential time decay.
//
// The paper's "entity popularity" that drives segmented pair generation. Each event of item i at
// time t adds  w_kind * 2^(-(now - t) / half_life)  to the score of entity(i) (no decay when
// half_life = 0; events after `now` count with weight w_kind); with a rate window W the sum is
// divided by max(now - first event of the entity, W), a rate for late arrivals. Entities are ranked by score
// (descending, ties by id): rank 0 is the most popular. Build O(events + n log n), lookups O(1).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/item_entity_map.hpp"

namespace kerec {

struct PopularityOptions {
    /// Half-life of an event's weight in the same unit as Event::time; 0 = no decay.
    double half_life = 0.0;
    /// Reference time for the decay; when unset, the latest event time.
    std::int64_t now = std::numeric_limits<std::int64_t>::min();
    /// Weight of one event of each kind (bill, exposure, click, view). Bills only by default.
    double bill_weight = 1.0;
    double exposure_weight = 0.0;
    double click_weight = 0.0;
    double view_weight = 0.0;
    /// When > 0, scores become rates: score / max(now - first event of the entity, rate_window),
    /// so an entity that arrived late (cold start) is not ranked low for having had less time.
    /// Same unit as Event::time. 0 = plain (decayed) counts.
    double rate_window = 0.0;
};

class Popularity {
public:
    Popularity() = default;

    /// Scores given directly (e.g. counts from another system). Must be finite and >= 0.
    explicit Popularity(std::vector<double> scores) : scores_(std::move(scores)) {
        for (std::size_t i = 0; i < scores_.size(); ++i)
            if (!std::isfinite(scores_[i]) || scores_[i] < 0.0)
                throw InvalidArgument(
                    fmt::format("Popularity: score of entity {} is {} (expected finite and >= 0)", i, scores_[i]));
        if (scores_.size() >= EntityId::invalid_value)
            throw InvalidArgument("Popularity: more than 2^32-2 entities");
        rank_();
    }

    /// Scores from events; each event counts for its item's primary entity in `items` (an item
    /// with no entity is skipped and counted in unmapped_events(), as is an invalid item id). An
    /// item id outside the map throws OutOfRange naming the event.
    static Popularity from_events(std::span<const Event> events, const ItemEntityMap& items,
                                  const PopularityOptions& options = {}) {
        if (std::isnan(options.half_life) || options.half_life < 0.0 || std::isinf(options.half_life))
            throw InvalidArgument(fmt::format("Popularity: half_life = {} (expected finite and >= 0)", options.half_life));
        if (!std::isfinite(options.rate_window) || options.rate_window < 0.0)
            throw InvalidArgument(fmt::format("Popularity: rate_window = {} (expected finite and >= 0)", options.rate_window));
        for (double w : {options.bill_weight, options.exposure_weight, options.click_weight, options.view_weight})
            if (!std::isfinite(w) || w < 0.0)
                throw InvalidArgument(fmt::format("Popularity: event weight {} (expected finite and >= 0)", w));
        std::int64_t now = options.now;
        if (now == std::numeric_limits<std::int64_t>::min()) {
            now = 0;
            if (!events.empty()) {
                now = events.front().time;
                for (const auto& e : events) now = std::max(now, e.time);
            }
        }
        const std::size_t entity_count = items.entity_count();
        const std::span<const EntityId> primary = items.primaries();
        std::vector<double> scores(entity_count, 0.0);
        std::vector<std::int64_t> first;
        if (options.rate_window > 0.0) first.assign(entity_count, std::numeric_limits<std::int64_t>::max());
        const double inv_half = options.half_life > 0.0 ? 1.0 / options.half_life : 0.0;
        std::uint64_t unmapped = 0;
        for (std::size_t k = 0; k < events.size(); ++k) {
            const Event& e = events[k];
            if (e.item.valid() && e.item.index() >= primary.size())
                throw OutOfRange(fmt::format("Popularity: event {} has item {} (expected < {} items in the map)", k, e.item,
                                             primary.size()));
            const EntityId ent = e.item.valid() ? primary[e.item.index()] : EntityId::invalid();
            if (!ent.valid()) {
                ++unmapped;
                continue;
            }
            if (!first.empty()) first[ent.index()] = std::min(first[ent.index()], e.time);
            double w = 0.0;
            switch (e.kind) {
                case EventKind::bill: w = options.bill_weight; break;
                case EventKind::exposure: w = options.exposure_weight; break;
                case EventKind::click: w = options.click_weight; break;
                case EventKind::view: w = options.view_weight; break;
            }
            if (w == 0.0) continue;
            if (inv_half > 0.0 && e.time < now)
                w *= std::exp2(-static_cast<double>(now - e.time) * inv_half);
            scores[ent.index()] += w;
        }
        if (!first.empty())
            for (std::size_t i = 0; i < entity_count; ++i)
                if (scores[i] > 0.0)
                    scores[i] /= std::max(static_cast<double>(now) - static_cast<double>(first[i]), options.rate_window);
        Popularity p(std::move(scores));
        p.unmapped_ = unmapped;
        return p;
    }

    std::size_t size() const noexcept { return scores_.size(); }
    double score(EntityId e) const { return scores_[check_(e)]; }
    /// score / sum of scores (0 when every score is 0).
    double share(EntityId e) const { return total_ > 0.0 ? scores_[check_(e)] / total_ : 0.0; }
    double total() const noexcept { return total_; }
    /// 0 = most popular.
    std::uint32_t rank(EntityId e) const { return rank_of_[check_(e)]; }
    /// Entities from most to least popular (ties by ascending id).
    std::span<const EntityId> by_rank() const noexcept { return by_rank_; }
    std::span<const double> scores() const noexcept { return scores_; }
    /// Events skipped because their item has no entity.
    std::uint64_t unmapped_events() const noexcept { return unmapped_; }

private:
    std::size_t check_(EntityId e) const {
        if (!e.valid() || e.index() >= scores_.size())
            throw InvalidArgument(fmt::format("Popularity: entity {} out of range (size {})", e, scores_.size()));
        return e.index();
    }
    void rank_() {
        const std::size_t n = scores_.size();
        std::vector<std::uint32_t> order(n);
        std::iota(order.begin(), order.end(), 0u);
        std::stable_sort(order.begin(), order.end(),
                         [&](std::uint32_t a, std::uint32_t b) { return scores_[a] > scores_[b]; });
        by_rank_.resize(n);
        rank_of_.resize(n);
        for (std::size_t r = 0; r < n; ++r) {
            by_rank_[r] = EntityId(order[r]);
            rank_of_[order[r]] = static_cast<std::uint32_t>(r);
        }
        total_ = 0.0;
        for (double s : scores_) total_ += s;
    }

    std::vector<double> scores_;
    std::vector<EntityId> by_rank_;
    std::vector<std::uint32_t> rank_of_;
    double total_ = 0.0;
    std::uint64_t unmapped_ = 0;
};

}  // namespace kerec
