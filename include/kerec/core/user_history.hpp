// kerec/core/user_history.hpp — UserHistory: each user's bills in time order.
//
// U2E2I recall starts from "the user's recent bills" (user → entity → complementary entity →
// item). This index holds, per user, the purchases of a log as a time-ordered row (CSR):
//   offsets[users + 1] | bills[m] = {item, time}, row u sorted by time (stable: log order on ties).
// Built in O(events + bills log bills), 16 bytes per bill; bills(u) is O(1), recent(u, t, k) is
// O(log row) (binary search on time). Only EventKind::bill counts; other kinds are skipped.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"

namespace kerec {

/// One item of a user's history (or of any request context): what, and when.
struct HistoryItem {
    ItemId item{};
    std::int64_t time = 0;
    friend bool operator==(const HistoryItem&, const HistoryItem&) = default;
};

class UserHistory {
public:
    UserHistory() : offsets_{0} {}

    /// From a log in any order. `user_count` = 0: one more than the largest user id seen.
    /// Events with an invalid user or item are skipped (counted in skipped()); a user id >=
    /// a non-zero `user_count` throws OutOfRange.
    explicit UserHistory(std::span<const Event> events, std::size_t user_count = 0) {
        std::size_t n = user_count;
        if (n == 0)
            for (const Event& e : events)
                if (e.user.valid()) n = std::max<std::size_t>(n, e.user.index() + 1);
        offsets_.assign(n + 1, 0);
        for (const Event& e : events) {
            if (e.kind != EventKind::bill) continue;
            if (!e.user.valid() || !e.item.valid()) {
                ++skipped_;
                continue;
            }
            if (e.user.index() >= n)
                throw OutOfRange(fmt::format("UserHistory: event of user {} (expected < {})", e.user, n));
            ++offsets_[e.user.index() + 1];
        }
        for (std::size_t u = 0; u < n; ++u) offsets_[u + 1] += offsets_[u];
        bills_.resize(offsets_[n]);
        std::vector<std::uint64_t> fill(offsets_.begin(), offsets_.end() - 1);
        for (const Event& e : events)
            if (e.kind == EventKind::bill && e.user.valid() && e.item.valid())
                bills_[fill[e.user.index()]++] = HistoryItem{e.item, e.time};
        for (std::size_t u = 0; u < n; ++u)
            std::stable_sort(bills_.begin() + static_cast<std::ptrdiff_t>(offsets_[u]),
                             bills_.begin() + static_cast<std::ptrdiff_t>(offsets_[u + 1]),
                             [](const HistoryItem& a, const HistoryItem& b) { return a.time < b.time; });
    }

    std::size_t user_count() const noexcept { return offsets_.size() - 1; }
    std::size_t bill_count() const noexcept { return bills_.size(); }
    /// Bill events skipped for an invalid user or item.
    std::size_t skipped() const noexcept { return skipped_; }

    /// Every bill of `user`, oldest first. A valid user beyond user_count() has none; an invalid
    /// id throws OutOfRange.
    std::span<const HistoryItem> bills(UserId user) const {
        if (!user.valid()) throw OutOfRange("UserHistory::bills: invalid user id");
        if (user.index() >= user_count()) return {};
        return std::span<const HistoryItem>(bills_).subspan(offsets_[user.index()],
                                                            offsets_[user.index() + 1] - offsets_[user.index()]);
    }

    /// The last `k` bills of `user` strictly before `before` (oldest first).
    std::span<const HistoryItem> recent(UserId user, std::int64_t before, std::size_t k) const {
        const auto row = bills(user);
        const auto end = std::lower_bound(row.begin(), row.end(), before,
                                          [](const HistoryItem& h, std::int64_t t) { return h.time < t; });
        const auto n = static_cast<std::size_t>(end - row.begin());
        const std::size_t take = std::min(k, n);
        return row.subspan(n - take, take);
    }

private:
    std::vector<std::uint64_t> offsets_;
    std::vector<HistoryItem> bills_;
    std::size_t skipped_ = 0;
};

}  // namespace kerec
