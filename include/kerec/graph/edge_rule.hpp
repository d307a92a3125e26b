// kerec/graph/edge_rule.hpp — the edge rule: which LLM judgments become complementary edges.
//
// The paper's complementary graph is formed by the LLM's "yes" answers. The rule, in one place:
// for each ordered pair (a, b) the latest judgment decides (largest time; among equal times the
// one given last); it is an edge a -> b with prior weight = its confidence iff its label is yes
// and confidence >= min_confidence. "no" and "unknown" make no edge (and, merged into an existing
// graph, remove the pair's edge). Judgments are validated as they are queued; resolving J queued
// judgments costs O(J log J). GraphBuilder applies the rule (add(judgment), build_graph).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/graph/complementary_graph.hpp"
#include "kerec/graph/rationale_table.hpp"
#include "kerec/llm/judgment.hpp"

namespace kerec {

/// Whether the latest judgment of a pair makes an edge (the rule of the file comment).
inline bool makes_edge(const Judgment& latest, float min_confidence = 0.0f) noexcept {
    return latest.label == Label::yes && latest.confidence >= min_confidence;
}

namespace detail {

template <class EdgeData>
concept payload_from_judgment = requires(const Judgment& j) {
    { graph_payload_traits<EdgeData>::from_judgment(j) } -> std::convertible_to<EdgeData>;
};

/// Queued judgments reduced to what the rule needs; latest() resolves them.
template <class EdgeData>
class JudgedPairs {
public:
    struct Entry {
        EntityId a, b;
        std::int64_t time;
        std::uint64_t seq;  // order queued
        bool yes;
        float confidence;
        EdgeData payload;        // graph_payload_traits<EdgeData>::from_judgment, if it exists
        std::uint32_t rationale;  // id in pool() (0 when not kept)
    };

    /// Queue `j`; its rationale goes into the pool when `keep_rationale` and j is a yes. Throws
    /// InvalidArgument for an invalid id or a confidence outside [0, 1] (NaN included).
    void add(const Judgment& j, bool keep_rationale) {
        if (!(j.confidence >= 0.0f && j.confidence <= 1.0f))
            throw InvalidArgument(fmt::format("GraphBuilder: judgment {} ({} -> {}) has confidence {} (expected [0, 1])",
                                              entries_.size(), j.a, j.b, j.confidence));
        if (!j.a.valid() || !j.b.valid())
            throw InvalidArgument(
                fmt::format("GraphBuilder: judgment {} ({} -> {}) has an invalid entity id", entries_.size(), j.a, j.b));
        Entry e{j.a, j.b, j.time, entries_.size(), j.label == Label::yes, j.confidence, {}, 0};
        if constexpr (payload_from_judgment<EdgeData>) e.payload = graph_payload_traits<EdgeData>::from_judgment(j);
        if (e.yes && keep_rationale) e.rationale = pool_.intern(j.rationale);
        entries_.push_back(e);
        resolved_ = false;
    }

    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    RationalePool& pool() noexcept { return pool_; }

    /// The latest entry of every pair, sorted by pair.
    std::span<const Entry> latest() {
        if (!resolved_) {
            std::sort(entries_.begin(), entries_.end(), [](const Entry& x, const Entry& y) {
                return std::tie(x.a, x.b, x.time, x.seq) < std::tie(y.a, y.b, y.time, y.seq);
            });
            // keep the last of each run of one pair
            auto out = entries_.begin();
            for (auto it = entries_.begin(); it != entries_.end(); ++it)
                if (std::next(it) == entries_.end() || std::next(it)->a != it->a || std::next(it)->b != it->b) *out++ = *it;
            entries_.erase(out, entries_.end());
            resolved_ = true;
        }
        return entries_;
    }

    /// Whether (a, b) was judged (after latest()).
    bool names(EntityId a, EntityId b) const noexcept {
        const auto it = std::lower_bound(entries_.begin(), entries_.end(), std::pair(a, b),
                                         [](const Entry& x, const auto& key) { return std::pair(x.a, x.b) < key; });
        return it != entries_.end() && it->a == a && it->b == b;
    }

    static bool is_edge(const Entry& e, float min_confidence) noexcept { return e.yes && e.confidence >= min_confidence; }

private:
    std::vector<Entry> entries_;
    RationalePool pool_;
    bool resolved_ = true;
};

}  // namespace detail
}  // namespace kerec
