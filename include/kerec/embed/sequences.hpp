// kerec/embed/sequences.hpp — EntitySequences: the substitute signal of first-order embeddings.
//
// The paper's first-order (substitutable) view: entities one user considers in one context are
// substitutes. A context is a session: one user's events of the chosen kinds (views, clicks, bills)
// in time order, split where two consecutive events are more than `session_gap` seconds apart and,
// by default, right after a bill (what is looked at before a purchase competes with it; what comes
// after it is the next need). Items become their primary entity (ItemEntityMap); a run of the same
// entity collapses to one token; sessions shorter than `min_length` are dropped.
// Layout: CSR, offsets (size()+1) into one token array. Building is O(E log E) for E events.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/item_entity_map.hpp"

namespace kerec {

/// Entity sequences in CSR form: sequence s is tokens()[offsets()[s], offsets()[s+1]).
class EntitySequences {
public:
    EntitySequences() : offsets_{0} {}

    /// Adopts CSR arrays. Throws InvalidArgument when offsets are not a non-decreasing run from 0
    /// to tokens.size(), and OutOfRange for a token that is invalid or >= entity_count.
    EntitySequences(std::vector<std::uint64_t> offsets, std::vector<EntityId> tokens, std::size_t entity_count)
        : offsets_(std::move(offsets)), tokens_(std::move(tokens)), entity_count_(entity_count) {
        if (offsets_.empty() || offsets_.front() != 0 || offsets_.back() != tokens_.size())
            throw InvalidArgument(fmt::format("EntitySequences: offsets must run from 0 to the token count {} (got {} offsets)",
                                              tokens_.size(), offsets_.size()));
        for (std::size_t s = 0; s + 1 < offsets_.size(); ++s)
            if (offsets_[s + 1] < offsets_[s])
                throw InvalidArgument(fmt::format("EntitySequences: offsets[{}] = {} < offsets[{}] = {} (expected non-decreasing)",
                                                  s + 1, offsets_[s + 1], s, offsets_[s]));
        for (std::size_t k = 0; k < tokens_.size(); ++k)
            if (!tokens_[k].valid() || tokens_[k].index() >= entity_count_)
                throw OutOfRange(fmt::format("EntitySequences: token {} is entity {} (expected < {})", k, tokens_[k], entity_count_));
    }

    /// From one vector per sequence (tests, callers with their own sessions).
    static EntitySequences from_lists(std::span<const std::vector<EntityId>> lists, std::size_t entity_count) {
        std::vector<std::uint64_t> off{0};
        std::vector<EntityId> tok;
        for (const auto& l : lists) {
            tok.insert(tok.end(), l.begin(), l.end());
            off.push_back(tok.size());
        }
        return EntitySequences(std::move(off), std::move(tok), entity_count);
    }

    std::size_t size() const noexcept { return offsets_.size() - 1; }
    bool empty() const noexcept { return size() == 0; }
    std::size_t entity_count() const noexcept { return entity_count_; }
    std::uint64_t token_count() const noexcept { return tokens_.size(); }
    std::span<const EntityId> operator[](std::size_t s) const noexcept {
        return std::span<const EntityId>(tokens_).subspan(offsets_[s], offsets_[s + 1] - offsets_[s]);
    }
    std::span<const std::uint64_t> offsets() const noexcept { return offsets_; }
    std::span<const EntityId> tokens() const noexcept { return tokens_; }

    /// Occurrences of every entity (size entity_count()).
    std::vector<std::uint64_t> counts() const {
        std::vector<std::uint64_t> c(entity_count_, 0);
        for (auto e : tokens_) ++c[e.index()];
        return c;
    }

    /// Sequences [first, last) as a new set (the training/validation split).
    EntitySequences slice(std::size_t first, std::size_t last) const {
        if (first > last || last > size())
            throw OutOfRange(fmt::format("EntitySequences::slice: [{}, {}) of {} sequences", first, last, size()));
        std::vector<std::uint64_t> off(offsets_.begin() + static_cast<std::ptrdiff_t>(first),
                                       offsets_.begin() + static_cast<std::ptrdiff_t>(last) + 1);
        const auto base = off.front();
        for (auto& o : off) o -= base;
        std::vector<EntityId> tok(tokens_.begin() + static_cast<std::ptrdiff_t>(base),
                                  tokens_.begin() + static_cast<std::ptrdiff_t>(offsets_[last]));
        return EntitySequences(std::move(off), std::move(tok), entity_count_);
    }

private:
    std::vector<std::uint64_t> offsets_;
    std::vector<EntityId> tokens_;
    std::size_t entity_count_ = 0;
};

struct SequenceOptions {
    bool views = true;                 ///< EventKind::view events join sessions
    bool clicks = true;                ///< EventKind::click
    bool bills = true;                 ///< EventKind::bill
    bool exposures = false;            ///< EventKind::exposure (shown is not considered: off by default)
    std::int64_t session_gap = 1800;   ///< seconds of silence that end a session
    bool end_at_bill = true;           ///< a bill closes its session (it is the session's last token)
    bool collapse_repeats = true;      ///< consecutive tokens of one entity become one
    std::size_t min_length = 2;        ///< shorter sessions carry no pair and are dropped
};

/// What building saw.
struct SequenceStats {
    std::uint64_t events_used = 0;     ///< events of the chosen kinds
    std::uint64_t unmapped = 0;        ///< of those, items without an entity (skipped)
    std::uint64_t sessions = 0;        ///< sessions formed (before the length filter)
    std::uint64_t short_sessions = 0;  ///< dropped for being shorter than min_length
};

/// Sessions of `events` (any order) as entity sequences over `map`'s entities; see the file
/// comment. Throws OutOfRange for an event item >= map.item_count() (naming the event index);
/// invalid items and items without an entity are skipped and counted.
inline EntitySequences build_sequences(std::span<const Event> events, const ItemEntityMap& map,
                                       const SequenceOptions& opt = {}, SequenceStats* stats = nullptr) {
    if (opt.session_gap < 0)
        throw InvalidArgument(fmt::format("SequenceOptions: session_gap = {} (expected >= 0)", opt.session_gap));
    auto chosen = [&](EventKind k) {
        switch (k) {
            case EventKind::view: return opt.views;
            case EventKind::click: return opt.clicks;
            case EventKind::bill: return opt.bills;
            case EventKind::exposure: return opt.exposures;
        }
        return false;
    };
    SequenceStats st;
    const auto primary = map.primaries();
    std::vector<std::uint32_t> order;
    order.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        const Event& e = events[i];
        if (!chosen(e.kind)) continue;
        ++st.events_used;
        if (e.item.valid() && e.item.index() >= primary.size())
            throw OutOfRange(fmt::format("build_sequences: event {} has item {} (expected < {} items in the map)", i, e.item,
                                         primary.size()));
        if (!e.item.valid() || !primary[e.item.index()].valid()) {
            ++st.unmapped;
            continue;
        }
        order.push_back(static_cast<std::uint32_t>(i));
    }
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        const Event &x = events[a], &y = events[b];
        return x.user != y.user ? x.user < y.user : x.time < y.time;
    });
    std::vector<std::uint64_t> off{0};
    std::vector<EntityId> tok;
    tok.reserve(order.size());
    std::size_t start = 0;  // first token of the open session
    auto close = [&] {
        if (tok.size() == start) return;
        ++st.sessions;
        if (tok.size() - start < std::max<std::size_t>(opt.min_length, 1)) {
            ++st.short_sessions;
            tok.resize(start);
        } else {
            off.push_back(tok.size());
            start = tok.size();
        }
    };
    for (std::size_t k = 0; k < order.size(); ++k) {
        const Event& e = events[order[k]];
        if (k > 0) {
            const Event& p = events[order[k - 1]];
            if (p.user != e.user || e.time - p.time > opt.session_gap || (opt.end_at_bill && p.kind == EventKind::bill)) close();
        }
        const EntityId ent = primary[e.item.index()];
        if (!(opt.collapse_repeats && tok.size() > start && tok.back() == ent)) tok.push_back(ent);
    }
    close();
    if (stats) *stats = st;
    return EntitySequences(std::move(off), std::move(tok), map.entity_count());
}

}  // namespace kerec
