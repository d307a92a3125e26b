// kerec/graph/complementary_graph.hpp — ComplementaryGraph<Id, EdgeData>: an immutable CSR snapshot.
//
// The paper's "complementary graph": a directed edge a -> b says entity b complements entity a
// (buy a, then recommend b), with a weight w(a, b) that starts from the LLM's confidence and is
// then learned from user feedback. Stored as compressed sparse rows, struct of arrays:
//   offsets[n+1] (u64) | targets[m] (Id) | weights[m] (f32) | lookup[m] (u16 or u32) | payload[m]
// Row r is [offsets[r], offsets[r+1]); each row is sorted by weight (descending, ties by target),
// so top_k(r, k) is a prefix. lookup holds, per row, the in-row positions ordered by target, so an
// edge lookup is a binary search over the row: O(log degree). Its width is 2 bytes when every row
// has at most 65 536 edges, 4 otherwise: with no payload a graph costs 4 + 4 + 2 = 10 bytes per
// edge plus 8 bytes per node. neighbors/top_k/degree are O(1); find is O(log degree).
// The arrays either belong to the graph or view a memory-mapped file (see graph/io.hpp); a graph
// is a cheap handle (copies share the arrays) and never changes once built.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"

namespace kerec {

struct Judgment;

/// Edge payload for graphs that carry nothing but the weight (costs no memory).
struct NoPayload {
    friend constexpr bool operator==(NoPayload, NoPayload) noexcept = default;
};

/// Customisation point describing an edge payload type (specialise it for your own payloads).
/// Required: `name` (stored in binary files, a mismatch is a ParseError), `valid(p)` (checked on
/// load), `tsv_fields`, `format(p, out)` (appends tab-separated fields) and `parse(fields, p)`.
/// Optional: `static T from_judgment(const Judgment&)`, used by GraphBuilder::add(judgment).
template <class T>
struct graph_payload_traits;

template <>
struct graph_payload_traits<NoPayload> {
    static constexpr std::string_view name = "none";
    static constexpr std::size_t tsv_fields = 0;
    static constexpr bool valid(const NoPayload&) noexcept { return true; }
    static void format(const NoPayload&, std::string&) {}
    static bool parse(std::span<const std::string_view>, NoPayload&) { return true; }
};

namespace detail {

/// Uninitialised, 64-byte aligned array of a trivially copyable type (no zero-fill pass).
template <class T>
class RawArray {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    RawArray() = default;
    explicit RawArray(std::size_t n) : size_(n) {
        if (n > 0) {
            if (n > std::numeric_limits<std::size_t>::max() / sizeof(T)) throw std::bad_alloc();
            data_ = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64}));
        }
    }
    RawArray(const RawArray&) = delete;
    RawArray& operator=(const RawArray&) = delete;
    RawArray(RawArray&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr, o.size_ = 0; }
    RawArray& operator=(RawArray&& o) noexcept {
        if (this != &o) {
            release();
            data_ = o.data_, size_ = o.size_;
            o.data_ = nullptr, o.size_ = 0;
        }
        return *this;
    }
    ~RawArray() { release(); }

    T* data() noexcept { return data_; }
    const T* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    T& operator[](std::size_t i) noexcept { return data_[i]; }
    const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    std::span<T> span() noexcept { return {data_, size_}; }
    std::span<const T> span() const noexcept { return {data_, size_}; }

private:
    void release() noexcept {
        if (data_) ::operator delete(data_, std::align_val_t{64});
        data_ = nullptr;
        size_ = 0;
    }
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

/// Owned arrays of one graph snapshot (what the builder fills).
template <class Id, class EdgeData>
struct GraphArrays {
    RawArray<std::uint64_t> offsets;
    RawArray<Id> targets;
    RawArray<float> weights;
    RawArray<std::uint16_t> lookup16;
    RawArray<std::uint32_t> lookup32;
    RawArray<EdgeData> payload;
};

}  // namespace detail

/// Immutable directed graph in CSR form, rows sorted by weight. See the file comment.
template <class Id = EntityId, class EdgeData = NoPayload>
class ComplementaryGraph {
    static_assert(is_id_v<Id>, "ComplementaryGraph<Id, EdgeData>: Id must be a kerec::Id<Tag>");
    static_assert(std::is_trivially_copyable_v<EdgeData>, "EdgeData must be trivially copyable");
    static_assert(sizeof(Id) == 4);

public:
    using id_type = Id;
    using payload_type = EdgeData;
    using edge_index = std::uint64_t;
    static constexpr bool has_payload = !std::is_empty_v<EdgeData>;
    static constexpr edge_index npos = std::numeric_limits<edge_index>::max();
    /// Rows with at most this many edges are searched linearly (faster than the indirection).
    static constexpr std::size_t linear_search_limit = 16;

    /// One row: parallel spans, sorted by weight descending. `payload` is empty without payload.
    struct Row {
        std::span<const Id> targets;
        std::span<const float> weights;
        std::span<const EdgeData> payload;
        edge_index first = 0;  ///< edge index of targets[0]

        std::size_t size() const noexcept { return targets.size(); }
        bool empty() const noexcept { return targets.empty(); }
    };

    /// The empty graph (no nodes).
    ComplementaryGraph() { offsets_ = std::span<const std::uint64_t>(&zero_offset_, 1); }

    /// Adopt owned arrays (the builder's route; edge arrays at least offsets.back() long, the
    /// lookup array non-empty when there are edges). Does not validate: the builder guarantees them.
    static ComplementaryGraph adopt(detail::GraphArrays<Id, EdgeData>&& arrays, std::uint64_t version = 0,
                                   std::int64_t time = 0) {
        auto owned = std::make_shared<detail::GraphArrays<Id, EdgeData>>(std::move(arrays));
        ComplementaryGraph g;
        if (owned->offsets.size() == 0) return g;
        // The edge arrays may be longer than the edge count (builder scratch): trim the views.
        const std::size_t m = static_cast<std::size_t>(owned->offsets[owned->offsets.size() - 1]);
        g.offsets_ = owned->offsets.span();
        g.targets_ = owned->targets.span().first(m);
        g.weights_ = owned->weights.span().first(m);
        if (owned->lookup16.size() != 0) g.lookup16_ = owned->lookup16.span().first(m);
        if (owned->lookup32.size() != 0) g.lookup32_ = owned->lookup32.span().first(m);
        if constexpr (has_payload) g.payload_ = owned->payload.span().first(m);
        g.version_ = version;
        g.time_ = time;
        g.keep_ = std::move(owned);
        return g;
    }

    /// A view over arrays that live elsewhere (a mapped file); `keep` keeps them alive.
    /// The caller (graph/io.hpp) has validated them. Exactly one lookup span is non-empty when m > 0.
    static ComplementaryGraph view(std::shared_ptr<const void> keep, std::span<const std::uint64_t> offsets,
                                   std::span<const Id> targets, std::span<const float> weights,
                                   std::span<const std::uint16_t> lookup16, std::span<const std::uint32_t> lookup32,
                                   std::span<const EdgeData> payload, std::uint64_t version, std::int64_t time) {
        ComplementaryGraph g;
        if (offsets.empty()) return g;
        g.offsets_ = offsets;
        g.targets_ = targets;
        g.weights_ = weights;
        g.lookup16_ = lookup16;
        g.lookup32_ = lookup32;
        if constexpr (has_payload) g.payload_ = payload;
        g.version_ = version;
        g.time_ = time;
        g.keep_ = std::move(keep);
        return g;
    }

    /// Same arrays, other metadata (used by GraphStore and the feedback learner). O(1).
    ComplementaryGraph with_version(std::uint64_t version) const {
        ComplementaryGraph g = *this;
        g.version_ = version;
        return g;
    }
    ComplementaryGraph with_time(std::int64_t time) const {
        ComplementaryGraph g = *this;
        g.time_ = time;
        return g;
    }

    ComplementaryGraph(const ComplementaryGraph&) = default;
    ComplementaryGraph& operator=(const ComplementaryGraph&) = default;
    // Moves copy: a moved-from graph stays a valid handle on the same arrays.
    ComplementaryGraph(ComplementaryGraph&& o) noexcept : ComplementaryGraph(static_cast<const ComplementaryGraph&>(o)) {}
    ComplementaryGraph& operator=(ComplementaryGraph&& o) noexcept {
        return *this = static_cast<const ComplementaryGraph&>(o);
    }

    /// Number of nodes (ids 0 .. node_count()-1 may have edges; larger ids simply have none).
    std::size_t node_count() const noexcept { return offsets_.size() - 1; }
    std::uint64_t edge_count() const noexcept { return offsets_.back(); }
    bool empty() const noexcept { return edge_count() == 0; }

    /// Whether `id` is a node of this graph (valid and below node_count()).
    bool contains(Id id) const noexcept { return id.valid() && id.index() < node_count(); }

    /// Out-degree; 0 for ids outside the graph.
    std::size_t degree(Id id) const noexcept {
        if (!contains(id)) return 0;
        return static_cast<std::size_t>(offsets_[id.index() + 1] - offsets_[id.index()]);
    }

    /// Largest out-degree (O(n)).
    std::size_t max_degree() const noexcept {
        std::uint64_t best = 0;
        for (std::size_t i = 0; i + 1 < offsets_.size(); ++i) best = std::max(best, offsets_[i + 1] - offsets_[i]);
        return static_cast<std::size_t>(best);
    }

    /// All out-edges of `id`, strongest first; empty for ids outside the graph.
    Row neighbors(Id id) const noexcept {
        if (!contains(id)) return Row{};
        const std::uint64_t b = offsets_[id.index()], e = offsets_[id.index() + 1];
        return slice(b, e);
    }

    /// The k strongest out-edges of `id` (a prefix of neighbors(id)).
    Row top_k(Id id, std::size_t k) const noexcept {
        if (!contains(id)) return Row{};
        const std::uint64_t b = offsets_[id.index()], e = offsets_[id.index() + 1];
        return slice(b, b + std::min<std::uint64_t>(k, e - b));
    }

    /// Edge index of from -> to, or npos. O(log degree).
    edge_index find(Id from, Id to) const noexcept {
        if (!contains(from)) return npos;
        const std::uint64_t b = offsets_[from.index()], e = offsets_[from.index() + 1];
        const std::uint64_t d = e - b;
        if (d <= linear_search_limit) {
            for (std::uint64_t i = b; i < e; ++i)
                if (targets_[i] == to) return i;
            return npos;
        }
        std::uint64_t lo = 0, hi = d;  // search over lookup positions [lo, hi)
        while (lo < hi) {
            const std::uint64_t mid = lo + (hi - lo) / 2;
            const Id t = targets_[b + lookup_at(b + mid)];
            if (t < to)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < d) {
            const std::uint64_t i = b + lookup_at(b + lo);
            if (targets_[i] == to) return i;
        }
        return npos;
    }

    bool has_edge(Id from, Id to) const noexcept { return find(from, to) != npos; }

    /// Weight of from -> to, or nullopt when there is no such edge.
    std::optional<float> weight(Id from, Id to) const noexcept {
        const edge_index i = find(from, to);
        if (i == npos) return std::nullopt;
        return weights_[i];
    }

    /// Per-edge accessors by edge index (precondition: i < edge_count()).
    Id target(edge_index i) const noexcept { return targets_[i]; }
    float weight_at(edge_index i) const noexcept { return weights_[i]; }
    EdgeData payload_at(edge_index i) const noexcept {
        if constexpr (has_payload)
            return payload_[i];
        else
            return EdgeData{};
    }
    /// Source of edge i (binary search over offsets, O(log n)).
    Id source(edge_index i) const noexcept {
        const auto it = std::upper_bound(offsets_.begin(), offsets_.end(), i);
        return Id(static_cast<typename Id::value_type>((it - offsets_.begin()) - 1));
    }
    /// First edge index of row `id` (edge_count() for ids outside the graph).
    edge_index row_begin(Id id) const noexcept { return contains(id) ? offsets_[id.index()] : edge_count(); }

    /// Raw arrays (struct of arrays), e.g. for streaming over every edge.
    std::span<const std::uint64_t> offsets() const noexcept { return offsets_; }
    std::span<const Id> targets() const noexcept { return targets_; }
    std::span<const float> weights() const noexcept { return weights_; }
    std::span<const EdgeData> payload() const noexcept { return payload_; }
    /// Bytes per entry of the by-target lookup (2 or 4; 0 for a graph without edges).
    std::size_t lookup_width() const noexcept { return !lookup16_.empty() ? 2 : !lookup32_.empty() ? 4 : 0; }
    std::span<const std::uint16_t> lookup16() const noexcept { return lookup16_; }
    std::span<const std::uint32_t> lookup32() const noexcept { return lookup32_; }
    /// In-row position of the j-th smallest target of the row containing edge index `b + j`.
    std::uint32_t lookup_at(std::uint64_t i) const noexcept {
        return !lookup16_.empty() ? lookup16_[i] : lookup32_[i];
    }

    /// Snapshot version (set by GraphStore::publish) and the time its statistics refer to.
    std::uint64_t version() const noexcept { return version_; }
    std::int64_t time() const noexcept { return time_; }

    /// Bytes of the arrays (mapped or owned).
    std::size_t memory_bytes() const noexcept {
        return offsets_.size_bytes() + targets_.size_bytes() + weights_.size_bytes() + lookup16_.size_bytes() +
               lookup32_.size_bytes() + payload_.size_bytes();
    }

    /// Whether two graphs have the same nodes, edges, order, weights and payload bytes.
    friend bool same_content(const ComplementaryGraph& a, const ComplementaryGraph& b) noexcept {
        auto eq = [](auto x, auto y) {
            return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size_bytes()) == 0);
        };
        return eq(a.offsets_, b.offsets_) && eq(a.targets_, b.targets_) && eq(a.weights_, b.weights_) &&
               eq(a.payload_, b.payload_);
    }

private:
    Row slice(std::uint64_t b, std::uint64_t e) const noexcept {
        Row r;
        r.targets = targets_.subspan(b, e - b);
        r.weights = weights_.subspan(b, e - b);
        if constexpr (has_payload) r.payload = payload_.subspan(b, e - b);
        r.first = b;
        return r;
    }

    static constexpr std::uint64_t zero_offset_ = 0;
    std::shared_ptr<const void> keep_;
    std::span<const std::uint64_t> offsets_;
    std::span<const Id> targets_;
    std::span<const float> weights_;
    std::span<const std::uint16_t> lookup16_;
    std::span<const std::uint32_t> lookup32_;
    std::span<const EdgeData> payload_;
    std::uint64_t version_ = 0;
    std::int64_t time_ = 0;
};

}  // namespace kerec
