// kerec/eval/baskets.hpp — Baskets: sets of items bought together, the training input of the
// baselines (popularity, item-CF, association rules) and of basket-completion evaluation.
//
// The paper's "bills" grouped into transactions. Layout (CSR), one row per basket:
//   offsets[n + 1] | items[m]: row b = items[offsets[b] .. offsets[b+1]), sorted ascending, distinct
//   users[n], times[n]: who bought basket b and when (its earliest bill)
// Built from lists of item ids, or from bill Events grouped by user + day, by user, or by an
// explicit basket id (Event::request). add: O(|basket| log |basket|); from_events: O(e log e).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"

namespace kerec {

/// How bills become baskets in Baskets::from_events.
enum class BasketKey : std::uint8_t {
    user_day,  ///< one basket per (user, floor(time / day_seconds)): a shopping trip
    user,      ///< one basket per user: the whole history as one set (item-CF over user histories)
    request,   ///< one basket per Event::request (an explicit basket or order id; 0 = none, skipped)
};

class Baskets {
public:
    /// Empty, with the catalogue size taken from the items added (1 + the largest id).
    Baskets() = default;
    /// Empty, for a catalogue of `item_count` items: ids must be below it, and item_count()
    /// stays at least this even when some items are never bought.
    explicit Baskets(std::size_t item_count) : declared_(item_count) {}

    /// Append one basket (any order, repeats collapse). An invalid id throws InvalidArgument, an
    /// id >= a declared item count OutOfRange; nothing is added then. An empty basket is kept
    /// (it counts as a transaction, as in arules).
    void add(std::span<const ItemId> basket, UserId user = UserId::invalid(), std::int64_t time = 0) {
        for (ItemId i : basket) {
            if (!i.valid()) throw InvalidArgument(fmt::format("Baskets::add: basket {} holds an invalid item id", size()));
            if (declared_ != 0 && i.index() >= declared_)
                throw OutOfRange(fmt::format("Baskets::add: basket {} holds item {} (expected < {})", size(), i, declared_));
        }
        const std::size_t start = items_.size();
        items_.insert(items_.end(), basket.begin(), basket.end());
        const auto first = items_.begin() + static_cast<std::ptrdiff_t>(start);
        std::sort(first, items_.end());
        items_.erase(std::unique(first, items_.end()), items_.end());
        if (items_.size() > start) max_plus_one_ = std::max<std::size_t>(max_plus_one_, items_.back().index() + 1);
        offsets_.push_back(items_.size());
        users_.push_back(user);
        times_.push_back(time);
    }

    /// One basket per list (list k is basket k, time k).
    static Baskets from_lists(std::span<const std::vector<ItemId>> lists, std::size_t item_count = 0) {
        Baskets b(item_count);
        for (std::size_t k = 0; k < lists.size(); ++k) b.add(lists[k], UserId::invalid(), static_cast<std::int64_t>(k));
        return b;
    }

    /// Bills of a log (any order; other kinds are ignored) grouped by `key`. Baskets come out
    /// ordered by (user, day) for user_day, by user for user, by request id for request; a
    /// basket's user is its first bill's, its time the earliest bill's. Bills with an invalid
    /// user or item, or (key request) request 0, are skipped and counted in skipped().
    static Baskets from_events(std::span<const Event> events, BasketKey key = BasketKey::user_day, std::size_t item_count = 0,
                               std::int64_t day_seconds = 86400) {
        if (day_seconds <= 0) throw InvalidArgument(fmt::format("Baskets::from_events: day_seconds = {} (expected > 0)", day_seconds));
        struct Row {
            std::uint64_t a, b;
            std::int64_t time;
            UserId user;
            ItemId item;
        };
        Baskets out(item_count);
        std::vector<Row> rows;
        rows.reserve(events.size());
        for (const Event& e : events) {
            if (e.kind != EventKind::bill) continue;
            if (!e.user.valid() || !e.item.valid() || (key == BasketKey::request && e.request == 0)) {
                ++out.skipped_;
                continue;
            }
            const auto day = static_cast<std::uint64_t>(floor_div(e.time, day_seconds) + (std::int64_t{1} << 62));
            switch (key) {
                case BasketKey::user_day: rows.push_back({e.user.value(), day, e.time, e.user, e.item}); break;
                case BasketKey::user: rows.push_back({e.user.value(), 0, e.time, e.user, e.item}); break;
                case BasketKey::request: rows.push_back({e.request, 0, e.time, e.user, e.item}); break;
            }
        }
        std::stable_sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) { return std::tie(x.a, x.b) < std::tie(y.a, y.b); });
        std::vector<ItemId> basket;
        for (std::size_t i = 0; i < rows.size();) {
            std::size_t j = i;
            basket.clear();
            std::int64_t t = rows[i].time;
            for (; j < rows.size() && rows[j].a == rows[i].a && rows[j].b == rows[i].b; ++j) {
                basket.push_back(rows[j].item);
                t = std::min(t, rows[j].time);
            }
            out.add(basket, rows[i].user, t);
            i = j;
        }
        return out;
    }

    /// Number of baskets (transactions), empty ones included.
    std::size_t size() const noexcept { return offsets_.size() - 1; }
    bool empty() const noexcept { return size() == 0; }
    /// Catalogue size: the declared count, or 1 + the largest item id added.
    std::size_t item_count() const noexcept { return declared_ != 0 ? declared_ : max_plus_one_; }
    /// Σ |basket|.
    std::size_t total_items() const noexcept { return items_.size(); }
    /// Bills skipped by from_events.
    std::size_t skipped() const noexcept { return skipped_; }

    /// Basket b: its distinct items, ascending. Throws OutOfRange for b >= size().
    std::span<const ItemId> operator[](std::size_t b) const {
        check(b);
        return std::span<const ItemId>(items_).subspan(offsets_[b], offsets_[b + 1] - offsets_[b]);
    }
    UserId user(std::size_t b) const {
        check(b);
        return users_[b];
    }
    std::int64_t time(std::size_t b) const {
        check(b);
        return times_[b];
    }
    /// The CSR arrays (offsets has size() + 1 entries).
    std::span<const std::size_t> offsets() const noexcept { return offsets_; }
    std::span<const ItemId> items() const noexcept { return items_; }

    /// Number of baskets holding each item (size item_count()).
    std::vector<std::uint32_t> item_frequencies() const {
        std::vector<std::uint32_t> f(item_count(), 0);
        for (ItemId i : items_) ++f[i.index()];
        return f;
    }

    /// The baskets `indices` (in that order, repeats allowed), same catalogue: train/test splits.
    Baskets subset(std::span<const std::size_t> indices) const {
        Baskets out(item_count());
        for (std::size_t b : indices) out.add((*this)[b], user(b), time(b));
        return out;
    }

private:
    static std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
        const std::int64_t q = a / b;
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
    }
    void check(std::size_t b) const {
        if (b >= size()) throw OutOfRange(fmt::format("Baskets: basket {} (expected < {})", b, size()));
    }

    std::vector<std::size_t> offsets_{0};
    std::vector<ItemId> items_;
    std::vector<UserId> users_;
    std::vector<std::int64_t> times_;
    std::size_t declared_ = 0;
    std::size_t max_plus_one_ = 0;
    std::size_t skipped_ = 0;
};

}  // namespace kerec
