// kerec/graph/complementary_graph.hpp — ComplementaryGraph<Id, EdgeData>: an immutable CSR snapshot.
//
// The paper's "complementary graph": a directed edge a -> b says entity b complements entity a
// (buy a, then recommend b), with a weight w(a, b) that starts from the LLM's confidence and is
// then learned from user feedback. Stored as compressed sparse rows, struct of arrays:
//   offsets[n+1] (u64) | targets[m] (Id) | weights[m] (f32) | lookup[m] (u16) | payload[m]
//   | rationale_ids[m] (u32, only for graphs built from judgments; see rationale_table.hpp)
// Row r is [offsets[r], offsets[r+1]); each row is sorted by weight (descending, ties by target),
// so top_k(r, k) is a prefix. lookup holds, per row, the in-row positions ordered by target, so an
// edge lookup is a binary search over the row: O(log degree); rows hold at most 65 536 edges.
// Without payload a graph costs 4 + 4 + 2 = 10 bytes per edge plus 8 bytes per node.
// neighbors/top_k/degree are O(1); find is O(log degree); edges(g) streams every edge in row order.
// The arrays either belong to the graph or view a memory-mapped file (see graph/io.hpp); a graph
// is a cheap handle (copies share the arrays) and never changes once built.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/graph/rationale_table.hpp"

namespace kerec {

struct Judgment;

/// Edge payload for graphs that carry nothing but the weight (costs no memory).
struct NoPayload {
    friend constexpr bool operator==(NoPayload, NoPayload) noexcept = default;
};

/// Customisation point describing an edge payload type (specialise it for your own payloads;
/// the GraphPayload concept states what is required). Optional members: `tsv_header` (column
/// names), `static T from_judgment(const Judgment&)` (GraphBuilder::add(judgment)) and
/// `static T merge(const T& older, const T& newer)` (a newer duplicate under keep_last).
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

/// What an edge payload must provide: trivially copyable bytes (they are stored in files as is),
/// a `name` (a mismatch on load is a ParseError), `valid` (checked on build and load), and the
/// TSV columns (`tsv_fields`, `format` appends tab-separated fields, `parse` reads them back).
template <class T>
concept GraphPayload = std::is_trivially_copyable_v<T> && std::default_initializable<T> &&
                       requires(const T& p, T& q, std::string& out, std::span<const std::string_view> fields) {
                           { graph_payload_traits<T>::name } -> std::convertible_to<std::string_view>;
                           { graph_payload_traits<T>::tsv_fields } -> std::convertible_to<std::size_t>;
                           { graph_payload_traits<T>::valid(p) } -> std::same_as<bool>;
                           graph_payload_traits<T>::format(p, out);
                           { graph_payload_traits<T>::parse(fields, q) } -> std::same_as<bool>;
                       };

namespace detail {

/// Uninitialised, 64-byte aligned array of a trivially copyable type (no zero-fill pass). Arrays
/// of 2 MiB or more are 2 MiB aligned and asked for transparent huge pages (Linux): a graph's
/// arrays are then faulted in and walked with ~500 times fewer page faults and TLB misses.
template <class T>
class RawArray {
    static_assert(std::is_trivially_copyable_v<T>);
    static constexpr std::size_t huge = std::size_t{1} << 21;

public:
    RawArray() = default;
    explicit RawArray(std::size_t n) : size_(n) {
        if (n == 0) return;
        if (n > std::numeric_limits<std::size_t>::max() / sizeof(T) - huge) throw std::bad_alloc();
        data_ = static_cast<T*>(::operator new(bytes(), alignment()));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (bytes() >= huge) ::madvise(data_, bytes(), MADV_HUGEPAGE);  // advice only: failure is harmless
#endif
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
    std::size_t bytes() const noexcept {  // whole huge pages for huge arrays
        const std::size_t b = size_ * sizeof(T);
        return b >= huge ? (b + huge - 1) / huge * huge : b;
    }
    std::align_val_t alignment() const noexcept { return std::align_val_t{size_ * sizeof(T) >= huge ? huge : 64}; }
    void release() noexcept {
        if (data_) ::operator delete(data_, alignment());
        data_ = nullptr;
        size_ = 0;
    }
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

/// Owned arrays of one graph snapshot (what the builder fills). Edge arrays may be longer than
/// offsets.back() (builder scratch); `rationale_ids` is empty for graphs without rationales.
template <class Id, class EdgeData>
struct GraphArrays {
    RawArray<std::uint64_t> offsets;
    RawArray<Id> targets;
    RawArray<float> weights;
    RawArray<std::uint16_t> lookup;
    RawArray<EdgeData> payload;
    RawArray<std::uint32_t> rationale_ids;
};

}  // namespace detail

/// Immutable directed graph in CSR form, rows sorted by weight. See the file comment.
template <class Id = EntityId, class EdgeData = NoPayload>
class ComplementaryGraph {
    static_assert(is_id_v<Id>, "ComplementaryGraph<Id, EdgeData>: Id must be a kerec::Id<Tag>");
    static_assert(GraphPayload<EdgeData>, "EdgeData must satisfy GraphPayload (see graph_payload_traits)");
    static_assert(sizeof(Id) == 4);

public:
    using id_type = Id;
    using payload_type = EdgeData;
    using edge_index = std::uint64_t;
    static constexpr bool has_payload = !std::is_empty_v<EdgeData>;
    static constexpr edge_index npos = std::numeric_limits<edge_index>::max();
    /// Most edges one row can hold (in-row positions are 16-bit).
    static constexpr std::size_t max_degree_limit = std::size_t{1} << 16;
    /// Rows with at most this many edges are searched linearly (faster than the indirection).
    static constexpr std::size_t linear_search_limit = 16;

    /// One out-edge as `for (auto [target, weight] : g.neighbors(e))` sees it.
    struct Neighbor {
        Id target;
        float weight;
    };

    /// One row: parallel spans, sorted by weight descending (`payload` is empty without payload,
    /// `rationale_ids` without rationales). Also a range of Neighbor.
    struct Row {
        std::span<const Id> targets;
        std::span<const float> weights;
        std::span<const EdgeData> payload;
        std::span<const std::uint32_t> rationale_ids;
        const RationaleTable* rationales = nullptr;
        edge_index first = 0;  ///< edge index of targets[0]

        std::size_t size() const noexcept { return targets.size(); }
        bool empty() const noexcept { return targets.empty(); }
        Neighbor operator[](std::size_t k) const noexcept { return {targets[k], weights[k]}; }
        /// The LLM's rationale for the k-th edge ("" when the graph carries none).
        std::string_view rationale(std::size_t k) const noexcept {
            return rationale_ids.empty() ? std::string_view() : (*rationales)[rationale_ids[k]];
        }

        struct iterator {
            using iterator_category = std::forward_iterator_tag;
            using value_type = Neighbor;
            using difference_type = std::ptrdiff_t;
            const Id* target = nullptr;
            const float* weight = nullptr;
            Neighbor operator*() const noexcept { return {*target, *weight}; }
            iterator& operator++() noexcept { return ++target, ++weight, *this; }
            iterator operator++(int) noexcept {
                iterator t = *this;
                ++*this;
                return t;
            }
            friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.target == b.target; }
        };
        iterator begin() const noexcept { return {targets.data(), weights.data()}; }
        iterator end() const noexcept { return {targets.data() + targets.size(), weights.data() + weights.size()}; }
    };

    /// The empty graph (no nodes).
    ComplementaryGraph() noexcept { offsets_ = std::span<const std::uint64_t>(&zero_offset_, 1); }

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
        return slice(offsets_[id.index()], offsets_[id.index() + 1]);
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
            if (targets_[b + lookup_[b + mid]] < to)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < d && targets_[b + lookup_[b + lo]] == to) return b + lookup_[b + lo];
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
    /// The LLM's rationale for edge i ("" when the graph carries none). O(1).
    std::string_view rationale(edge_index i) const noexcept {
        return rationale_ids_.empty() ? std::string_view() : (*rationales_)[rationale_ids_[i]];
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
    /// Per-edge ids into rationales() (empty when the graph carries no rationales).
    std::span<const std::uint32_t> rationale_ids() const noexcept { return rationale_ids_; }
    bool has_rationales() const noexcept { return !rationale_ids_.empty(); }
    /// The rationale pool, shared by the snapshots re-weighted from one build (null without).
    const std::shared_ptr<const RationaleTable>& rationales() const noexcept { return rationales_; }

    /// Snapshot version (set by GraphStore::publish) and the time its statistics refer to.
    std::uint64_t version() const noexcept { return version_; }
    std::int64_t time() const noexcept { return time_; }

    /// Bytes of the arrays (mapped or owned), the rationale pool included.
    std::size_t memory_bytes() const noexcept {
        return offsets_.size_bytes() + targets_.size_bytes() + weights_.size_bytes() + lookup_.size_bytes() +
               payload_.size_bytes() + rationale_ids_.size_bytes() + (rationales_ ? rationales_->memory_bytes() : 0);
    }

    /// Whether two graphs have the same nodes, edges, order, weights, payload bytes and rationales.
    friend bool same_content(const ComplementaryGraph& a, const ComplementaryGraph& b) noexcept {
        auto eq = [](auto x, auto y) {
            return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size_bytes()) == 0);
        };
        if (!(eq(a.offsets_, b.offsets_) && eq(a.targets_, b.targets_) && eq(a.weights_, b.weights_) &&
              eq(a.payload_, b.payload_) && a.has_rationales() == b.has_rationales()))
            return false;
        if (a.rationales_ == b.rationales_) return eq(a.rationale_ids_, b.rationale_ids_);
        for (edge_index i = 0; i < a.rationale_ids_.size(); ++i)
            if (a.rationale(i) != b.rationale(i)) return false;
        return true;
    }

private:
    friend struct detail::GraphAccess;

    Row slice(std::uint64_t b, std::uint64_t e) const noexcept {
        Row r;
        r.targets = targets_.subspan(b, e - b);
        r.weights = weights_.subspan(b, e - b);
        if constexpr (has_payload) r.payload = payload_.subspan(b, e - b);
        if (!rationale_ids_.empty()) r.rationale_ids = rationale_ids_.subspan(b, e - b), r.rationales = rationales_.get();
        r.first = b;
        return r;
    }

    static constexpr std::uint64_t zero_offset_ = 0;
    std::shared_ptr<const void> keep_;
    std::span<const std::uint64_t> offsets_;
    std::span<const Id> targets_;
    std::span<const float> weights_;
    std::span<const std::uint16_t> lookup_;
    std::span<const EdgeData> payload_;
    std::span<const std::uint32_t> rationale_ids_;
    std::shared_ptr<const RationaleTable> rationales_;
    std::uint64_t version_ = 0;
    std::int64_t time_ = 0;
};

/// One edge as `for (auto [source, target, weight, payload] : edges(g))` sees it.
template <class Id, class EdgeData>
struct EdgeRef {
    Id source;
    Id target;
    float weight;
    EdgeData payload;
};

/// Every edge of a graph, row by row (sources ascending, each row strongest first). O(n + m).
template <class Id, class EdgeData>
class EdgeRange {
public:
    using Graph = ComplementaryGraph<Id, EdgeData>;
    struct iterator {
        using iterator_category = std::forward_iterator_tag;
        using value_type = EdgeRef<Id, EdgeData>;
        using difference_type = std::ptrdiff_t;
        const Graph* g = nullptr;
        std::uint64_t row = 0;  // row of edge `edge` (advanced past empty rows)
        std::uint64_t edge = 0;

        value_type operator*() const noexcept {
            return {Id(static_cast<typename Id::value_type>(row)), g->target(edge), g->weight_at(edge), g->payload_at(edge)};
        }
        /// Edge index of the current edge (for rationale(i) and other per-edge arrays).
        std::uint64_t index() const noexcept { return edge; }
        iterator& operator++() noexcept {
            ++edge;
            skip();
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator t = *this;
            ++*this;
            return t;
        }
        friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.edge == b.edge; }
        void skip() noexcept {
            const auto off = g->offsets();
            while (edge < g->edge_count() && off[row + 1] <= edge) ++row;
        }
    };

    explicit EdgeRange(const Graph& g) noexcept : g_(&g) {}
    iterator begin() const noexcept {
        iterator it{g_, 0, 0};
        it.skip();
        return it;
    }
    iterator end() const noexcept { return {g_, g_->node_count(), g_->edge_count()}; }
    std::uint64_t size() const noexcept { return g_->edge_count(); }

private:
    const Graph* g_;
};

/// The whole-graph view: `for (auto [a, b, w, payload] : edges(g))`. The graph must outlive it.
template <class Id, class EdgeData>
EdgeRange<Id, EdgeData> edges(const ComplementaryGraph<Id, EdgeData>& g) noexcept {
    return EdgeRange<Id, EdgeData>(g);
}

namespace detail {

/// The builder's and the loader's access to a graph's insides (not part of the public surface).
struct GraphAccess {
    /// Adopt owned arrays. Does not validate: the builder guarantees them.
    template <class Id, class EdgeData>
    static ComplementaryGraph<Id, EdgeData> adopt(GraphArrays<Id, EdgeData>&& arrays,
                                                  std::shared_ptr<const RationaleTable> rationales,
                                                  std::uint64_t version = 0, std::int64_t time = 0) {
        using G = ComplementaryGraph<Id, EdgeData>;
        auto owned = std::make_shared<GraphArrays<Id, EdgeData>>(std::move(arrays));
        G g;
        if (owned->offsets.size() == 0) return g;
        const std::size_t m = static_cast<std::size_t>(owned->offsets[owned->offsets.size() - 1]);
        g.offsets_ = owned->offsets.span();
        g.targets_ = owned->targets.span().first(m);
        g.weights_ = owned->weights.span().first(m);
        g.lookup_ = owned->lookup.span().first(m);
        if constexpr (G::has_payload) g.payload_ = owned->payload.span().first(m);
        if (owned->rationale_ids.size() != 0 && m > 0) {
            g.rationale_ids_ = owned->rationale_ids.span().first(m);
            g.rationales_ = std::move(rationales);
        }
        g.version_ = version;
        g.time_ = time;
        g.keep_ = std::move(owned);
        return g;
    }

    /// A view over validated arrays that live elsewhere (a mapped file); `keep` keeps them alive.
    template <class G>
    static G view(std::shared_ptr<const void> keep, std::span<const std::uint64_t> offsets,
                  std::span<const typename G::id_type> targets, std::span<const float> weights,
                  std::span<const std::uint16_t> lookup, std::span<const typename G::payload_type> payload,
                  std::span<const std::uint32_t> rationale_ids, std::shared_ptr<const RationaleTable> rationales,
                  std::uint64_t version, std::int64_t time) {
        G g;
        if (offsets.empty()) return g;
        g.offsets_ = offsets;
        g.targets_ = targets;
        g.weights_ = weights;
        g.lookup_ = lookup;
        if constexpr (G::has_payload) g.payload_ = payload;
        if (!rationale_ids.empty()) g.rationale_ids_ = rationale_ids, g.rationales_ = std::move(rationales);
        g.version_ = version;
        g.time_ = time;
        g.keep_ = std::move(keep);
        return g;
    }

    /// A table viewing validated arrays elsewhere.
    static std::shared_ptr<const RationaleTable> table_view(std::shared_ptr<const void> keep,
                                                            std::span<const std::uint64_t> offsets,
                                                            std::span<const char> bytes) {
        auto t = std::shared_ptr<RationaleTable>(new RationaleTable());
        t->keep_ = std::move(keep);
        t->offsets_ = offsets;
        t->bytes_ = bytes;
        return t;
    }

    /// Per row: the in-row positions ordered by target.
    template <class G>
    static std::span<const std::uint16_t> lookup(const G& g) noexcept {
        return g.lookup_;
    }
};

}  // namespace detail
}  // namespace kerec
