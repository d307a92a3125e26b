// kerec/graph/builder.hpp — GraphBuilder: judgments or raw edges -> ComplementaryGraph snapshot.
//
// The paper turns the LLM's "yes, b complements a" answers into the complementary graph: judgments
// become edges by the edge rule (graph/edge_rule.hpp: the latest judgment of a pair decides, a
// "yes" is an edge whose prior weight is its confidence). Raw edges can be added too; duplicates
// are resolved by a policy (max, first, last, sum), edges may be mirrored (symmetrise), self-loops
// dropped, kept or rejected.
// Build, one path: a counting sort by source (count, prefix sums, a stable scatter straight into
// the edge arrays), then per row, in place: sort by target, resolve duplicates, filter, sort by
// weight, write the row back with its by-target lookup. O(m + n + sum d log d) work, parallel
// over ranges of rows (each sorter reads the whole input and keeps its own rows); no per-edge
// scratch, 16 bytes per node. merge() = build(base edges ++ delta); reweight() = build(the same
// edges, new weights).
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/parallel.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/graph/complementary_graph.hpp"
#include "kerec/graph/edge_rule.hpp"
#include "kerec/graph/rationale_table.hpp"
#include "kerec/llm/judgment.hpp"

namespace kerec {

/// What to do when the same (from, to) edge is given more than once.
enum class DuplicatePolicy : std::uint8_t {
    keep_max,    ///< the largest weight wins (with its payload)
    keep_first,  ///< the first given wins (in a merge: the base snapshot's edge)
    keep_last,   ///< the last given wins (in a merge: the new edge, payload via traits::merge)
    sum,         ///< weights are added; the first edge's payload is kept
};

/// What to do with an edge a -> a.
enum class SelfLoopPolicy : std::uint8_t { drop, keep, reject };

struct GraphBuildOptions {
    std::size_t node_count = 0;  ///< 0: one past the largest id seen; otherwise ids must be below it
    bool symmetrise = false;     ///< also add b -> a for every a -> b
    DuplicatePolicy duplicates = DuplicatePolicy::keep_max;
    SelfLoopPolicy self_loops = SelfLoopPolicy::drop;
    float min_weight = -std::numeric_limits<float>::infinity();  ///< drop edges below (after dedupe)
    float min_confidence = 0.0f;  ///< judgments: a latest "yes" is an edge when its confidence >= this
    bool rationales = true;       ///< judgments: the graph carries each edge's rationale
    unsigned threads = 0;         ///< 0: hardware concurrency
    ProgressCallback progress{};  ///< stages "graph: sort", "graph: rows"
};

/// A raw input edge.
template <class Id = EntityId, class EdgeData = NoPayload>
struct GraphEdge {
    Id from;
    Id to;
    float weight = 0.0f;
    [[no_unique_address]] EdgeData payload{};
};

namespace detail {

template <class EdgeData>
concept payload_mergeable = requires(const EdgeData& a) {
    { graph_payload_traits<EdgeData>::merge(a, a) } -> std::convertible_to<EdgeData>;
};

/// Maps floats to unsigned keys with the same order (no NaN; -0 must be normalised to +0).
inline std::uint32_t float_order_key(float f) noexcept {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

/// Sort distinct 64-bit keys: rank counting (branch-free) for short rows, std::sort otherwise.
inline void sort_distinct(std::uint64_t* k, std::size_t n) {
    constexpr std::size_t small = 32;
    if (n > small) return std::sort(k, k + n);
    std::uint64_t out[small];
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t r = 0;
        for (std::size_t j = 0; j < n; ++j) r += k[j] < k[i];
        out[r] = k[i];
    }
    std::copy(out, out + n, k);
}

}  // namespace detail

/// Collects edges (or judgments) and builds immutable graph snapshots. See the file comment.
template <class Id = EntityId, class EdgeData = NoPayload>
class GraphBuilder {
public:
    using Graph = ComplementaryGraph<Id, EdgeData>;
    using Edge = GraphEdge<Id, EdgeData>;
    using Traits = graph_payload_traits<EdgeData>;
    static constexpr bool has_payload = Graph::has_payload;

    explicit GraphBuilder(GraphBuildOptions options = {}) : options_(std::move(options)) {}

    /// Queued raw edges plus queued judgments.
    std::size_t pending() const noexcept { return edges_.size() + judged_.size(); }
    void clear() noexcept { edges_.clear(), judged_ = {}; }

    /// Queue one edge. Invalid ids and non-finite weights are rejected here (InvalidArgument).
    void add_edge(Id from, Id to, float weight, EdgeData payload = {}) {
        check_edge(Edge{from, to, weight, payload}, edges_.size());
        edges_.push_back(Edge{from, to, weight, payload});
    }

    /// Queue a judgment; the edge rule is applied at build time, over every judgment queued.
    /// Throws InvalidArgument for invalid ids or a confidence outside [0, 1].
    void add(const Judgment& j)
        requires std::is_same_v<Id, EntityId>
    {
        judged_.add(j, options_.rationales);
    }
    void add(std::span<const Judgment> judgments)
        requires std::is_same_v<Id, EntityId>
    {
        for (const auto& j : judgments) judged_.add(j, options_.rationales);
    }

    /// Build a snapshot from the queued edges and judgments (and forget them).
    Graph build() {
        std::vector<std::uint32_t> rids;
        if (!judged_.empty() && options_.rationales) rids.assign(edges_.size(), 0);
        append_judged(judged_, options_.min_confidence, edges_, options_.rationales ? &rids : nullptr, nullptr);
        const auto table = rids.empty() ? nullptr : judged_.pool().finish();
        Graph g = build_impl(edges_, rids, table, options_, 0, 0);
        clear();
        edges_.shrink_to_fit();
        return g;
    }

    /// Build a snapshot from `edges` (not modified). Throws InvalidArgument for an invalid id, an
    /// id >= options.node_count (when set), a non-finite weight, a self-loop under `reject`, or a
    /// row holding more than Graph::max_degree_limit distinct targets.
    static Graph build(std::span<const Edge> edges, const GraphBuildOptions& opt) {
        return build_impl(edges, {}, nullptr, opt, 0, 0);
    }

    /// A new snapshot = build(base's edges ++ delta): duplicates across base and delta resolved by
    /// opt.duplicates with base = first, delta = last; symmetrise mirrors the delta only. Keeps
    /// base's node count, rationales, version and time (GraphStore::publish assigns a version).
    static Graph merge(const Graph& base, std::span<const Edge> delta, const GraphBuildOptions& opt) {
        std::vector<Edge> all;
        std::vector<std::uint32_t> rids;
        base_edges(base, [](Id, Id) { return false; }, all, rids);
        const std::size_t base_m = all.size();
        all.insert(all.end(), delta.begin(), delta.end());
        if (!rids.empty()) rids.resize(all.size(), 0);
        Graph g = build_impl(all, rids, base.rationales(), opt, base_m, base.node_count());
        return g.with_version(base.version()).with_time(base.time());
    }

    /// merge() with judgments: for every pair the judgments name, the latest of them replaces the
    /// base's edge (a "yes" sets the prior; payloads combine through traits::merge, so learned
    /// counts survive) or removes it ("no", "unknown"). Rationales follow (opt.rationales).
    static Graph merge(const Graph& base, std::span<const Judgment> judgments, const GraphBuildOptions& opt)
        requires std::is_same_v<Id, EntityId>
    {
        if (opt.symmetrise)
            throw InvalidArgument("GraphBuilder::merge: symmetrise does not apply to judgments (judge both directions)");
        detail::JudgedPairs<EdgeData> delta;
        if (base.rationales()) delta.pool() = detail::RationalePool(*base.rationales());
        for (const auto& j : judgments) delta.add(j, opt.rationales);
        delta.latest();
        std::vector<Edge> all;
        std::vector<std::uint32_t> rids;
        base_edges(base, [&](EntityId a, EntityId b) { return delta.names(a, b); }, all, rids);  // pairs not judged again
        const std::size_t base_m = all.size();
        const bool keep_rationales = opt.rationales || !rids.empty();
        if (keep_rationales) rids.resize(all.size(), 0);
        append_judged(delta, opt.min_confidence, all, keep_rationales ? &rids : nullptr, &base);
        const auto table = rids.empty() ? nullptr : delta.pool().finish();
        Graph g = build_impl(all, rids, table, opt, base_m, base.node_count());
        return g.with_version(base.version()).with_time(base.time());
    }

    /// Same edges, new weights: for every edge i of row `from`, f(from, i, old_weight, old_payload,
    /// new_payload) returns the new weight (must be finite) and may rewrite the payload; rows are
    /// then re-sorted (the one build path; rationales move with their edges, the pool is shared).
    /// f is called concurrently from `threads` workers (0 = hardware concurrency), each edge once.
    template <class F>
    static Graph reweight(const Graph& base, F&& f, unsigned threads = 0, ProgressCallback progress = {}) {
        const std::uint64_t m = base.edge_count();
        if (m == 0) return base;
        std::vector<Edge> es(static_cast<std::size_t>(m));
        const auto tasks = row_tasks(base.offsets(), 64);
        detail::parallel_for(m < (1u << 16) ? 1u : threads, tasks.size() - 1, [&](std::size_t t, unsigned) {
            for (std::size_t r = tasks[t]; r < tasks[t + 1]; ++r)
                for (std::uint64_t i = base.offsets()[r]; i < base.offsets()[r + 1]; ++i) {
                    const Id from(static_cast<typename Id::value_type>(r));
                    EdgeData np = base.payload_at(i);
                    const float nw = f(from, i, base.weight_at(i), base.payload_at(i), np);
                    if (!std::isfinite(nw))
                        throw InvalidArgument(fmt::format("GraphBuilder::reweight: edge {} -> {} got weight {} (expected finite)",
                                                          from, base.target(i), nw));
                    es[i] = Edge{from, base.target(i), nw, np};
                }
        });
        const GraphBuildOptions o{.node_count = base.node_count(), .duplicates = DuplicatePolicy::keep_first,
                                  .self_loops = SelfLoopPolicy::keep, .threads = threads, .progress = std::move(progress)};
        const Graph g = build_impl(es, base.rationale_ids(), base.rationales(), o, es.size(), 0);
        return g.with_version(base.version()).with_time(base.time());
    }

private:
    /// Per-worker scratch for one row: keys, then the resolved entries in target order.
    struct Workspace {
        std::vector<std::uint64_t> keys, wk;
        std::vector<Id> t;
        std::vector<float> w;
        std::vector<EdgeData> p;
        std::vector<std::uint32_t> r;
        void resize(std::size_t d) {
            if (keys.size() >= d) return;
            keys.resize(d), wk.resize(d), t.resize(d), w.resize(d), r.resize(d);
            if constexpr (has_payload) p.resize(d);
        }
    };

    /// The input edges and the rules for them (copied into each hot loop, so nothing aliases).
    struct Input {
        const Edge* edges;
        std::size_t mirror_from, limit;  // edges before mirror_from come from a base snapshot
        bool symmetrise, keep_loops, reject_loops;

        void validate(std::size_t i) const {  // the message is built only on failure
            const Edge& e = edges[i];
            if (e.from.index() >= limit || e.to.index() >= limit || !std::isfinite(e.weight) || !Traits::valid(e.payload) ||
                (reject_loops && e.from == e.to)) [[unlikely]]
                invalid_edge(e, i >= mirror_from ? fmt::format("edge {}", i - mirror_from) : fmt::format("base edge {}", i), limit);
        }
        /// Emitted copies of edge i: itself (unless a dropped self-loop) and its mirror (symmetrise).
        template <class F>
        void emit(std::size_t i, F&& f) const {
            const Edge& e = edges[i];
            if (e.from == e.to) {
                if (keep_loops) f(e.from, e.to);
                return;
            }
            f(e.from, e.to);
            if (symmetrise && i >= mirror_from) f(e.to, e.from);
        }
    };

    [[noreturn]] static void invalid_edge(const Edge& e, const std::string& name, std::size_t limit) {
        check_edge(e, name);
        if (e.from.index() >= limit || e.to.index() >= limit)
            throw InvalidArgument(fmt::format("GraphBuilder: {} ({} -> {}) has an id >= node_count {}", name, e.from, e.to, limit));
        throw InvalidArgument(fmt::format("GraphBuilder: {} is a self-loop {} -> {} (policy reject)", name, e.from, e.to));
    }

    static void check_edge(const Edge& e, std::size_t i) { check_edge(e, fmt::format("edge {}", i)); }
    static void check_edge(const Edge& e, const std::string& name) {
        if (!e.from.valid() || !e.to.valid())
            throw InvalidArgument(fmt::format("GraphBuilder: {} ({} -> {}) has an invalid id", name, e.from, e.to));
        if (!std::isfinite(e.weight))
            throw InvalidArgument(fmt::format("GraphBuilder: {} ({} -> {}) has weight {} (expected finite)", name, e.from, e.to, e.weight));
        if (!Traits::valid(e.payload))
            throw InvalidArgument(fmt::format("GraphBuilder: {} ({} -> {}) has an invalid {} payload", name, e.from, e.to, Traits::name));
    }

    /// Append the edges the rule makes of `judged` to `out` (rationale ids to `rids`); with
    /// `base`, a payload merges (traits::merge) with that of the base edge it replaces.
    static void append_judged(detail::JudgedPairs<EdgeData>& judged, float min_confidence, std::vector<Edge>& out,
                              std::vector<std::uint32_t>* rids, const Graph* base) {
        if constexpr (std::is_same_v<Id, EntityId>)
            for (const auto& j : judged.latest()) {
                if (!judged.is_edge(j, min_confidence)) continue;
                Edge e{j.a, j.b, j.confidence, j.payload};
                if constexpr (detail::payload_mergeable<EdgeData>)
                    if (const auto i = base ? base->find(j.a, j.b) : Graph::npos; i != Graph::npos)
                        e.payload = Traits::merge(base->payload_at(i), j.payload);
                out.push_back(e);
                if (rids) rids->push_back(j.rationale);
            }
    }

    /// The edges of `base` in row order (their rationale ids to `rids`), except where skip(a, b).
    template <class Skip>
    static void base_edges(const Graph& base, Skip&& skip, std::vector<Edge>& out, std::vector<std::uint32_t>& rids) {
        out.reserve(static_cast<std::size_t>(base.edge_count()));
        if (base.has_rationales()) rids.reserve(out.capacity());
        const auto range = edges(base);
        for (auto it = range.begin(); it != range.end(); ++it) {
            const auto [a, b, w, p] = *it;
            if (skip(a, b)) continue;
            out.push_back(Edge{a, b, w, p});
            if (base.has_rationales()) rids.push_back(base.rationale_ids()[it.index()]);
        }
    }

    static void allocate(detail::GraphArrays<Id, EdgeData>& a, std::size_t n, std::uint64_t m, bool rationales) {
        a.offsets = detail::RawArray<std::uint64_t>(n + 1);
        a.targets = detail::RawArray<Id>(m);
        a.weights = detail::RawArray<float>(m);
        a.lookup = detail::RawArray<std::uint16_t>(m);
        if constexpr (has_payload) a.payload = detail::RawArray<EdgeData>(m);
        if (rationales) a.rationale_ids = detail::RawArray<std::uint32_t>(m);
    }

    /// Row boundaries splitting `offsets` into about `parts` ranges of equal edge counts.
    static std::vector<std::size_t> row_tasks(std::span<const std::uint64_t> offsets, std::size_t parts) {
        const std::size_t n = offsets.size() - 1;
        const std::uint64_t m = offsets.back();
        std::vector<std::size_t> cut{0};
        for (std::size_t t = 1; t < parts; ++t) {
            const auto r = static_cast<std::size_t>(
                std::lower_bound(offsets.begin(), offsets.end(), m / parts * t) - offsets.begin());
            if (r > cut.back() && r < n) cut.push_back(r);
        }
        cut.push_back(n);
        return cut;
    }

    /// Write the ws entries [0, d) (in target order; ws.wk holds their weight keys) as a row at
    /// out[dst, dst + d): sorted by weight, with the lookup.
    static void write_row(Workspace& ws, std::size_t d, detail::GraphArrays<Id, EdgeData>& out, std::uint64_t dst) {
        detail::sort_distinct(ws.wk.data(), d);
        const bool rationales = out.rationale_ids.size() != 0;
        for (std::size_t r = 0; r < d; ++r) {
            const auto u = static_cast<std::uint32_t>(ws.wk[r]);
            out.targets[dst + r] = ws.t[u];
            out.weights[dst + r] = ws.w[u];
            if constexpr (has_payload) out.payload[dst + r] = ws.p[u];
            if (rationales) out.rationale_ids[dst + r] = ws.r[u];
            out.lookup[dst + u] = static_cast<std::uint16_t>(r);
        }
    }

    /// The one build path (file comment). Edges from index `mirror_from` on are checked and, under
    /// symmetrise, mirrored (those before come from a base snapshot); `rids` (empty, or one per
    /// edge) index `table`; the graph gets at least `min_nodes` nodes.
    static Graph build_impl(std::span<const Edge> edges, std::span<const std::uint32_t> rids,
                            std::shared_ptr<const RationaleTable> table, const GraphBuildOptions& opt,
                            std::size_t mirror_from, std::size_t min_nodes) {
        const std::size_t m_in = edges.size();
        const std::size_t limit = opt.node_count ? std::max(opt.node_count, min_nodes) : Id::invalid_value;
        const Input input{edges.data(), mirror_from, limit, opt.symmetrise, opt.self_loops != SelfLoopPolicy::drop,
                          opt.self_loops == SelfLoopPolicy::reject};
        const unsigned threads = m_in < (1u << 16) ? 1u : detail::worker_count(opt.threads, 64);

        // Node count: one validating pass when the caller did not give it.
        std::size_t n = std::max(opt.node_count, min_nodes);
        const bool validated = opt.node_count == 0;
        if (validated && m_in > 0) {
            std::vector<std::size_t> top(threads, 0);
            const std::size_t len = (m_in + threads - 1) / threads;
            detail::parallel_for(threads, threads, [&](std::size_t c, unsigned) {
                for (std::size_t i = c * len; i < std::min(m_in, c * len + len); ++i) {
                    input.validate(i);
                    top[c] = std::max<std::size_t>(top[c], std::max(edges[i].from.index(), edges[i].to.index()) + 1);
                }
            });
            n = std::max(n, *std::max_element(top.begin(), top.end()));
        }
        if (n == 0 || m_in == 0) return Graph{};

        // 1. Counting sort by source. Worker t owns the rows [own[t], own[t+1]) and reads the whole
        //    input, counting and then scattering only the edges of its rows, in input order: the
        //    scatter is stable, and no two workers ever write near one another.
        const unsigned sorters = std::min(threads, 4u);  // every sorter reads all of the input
        detail::RawArray<std::uint64_t> raw_offsets(n + 1);  // row r is [raw_offsets[r], raw_offsets[r+1])
        std::fill(raw_offsets.data(), raw_offsets.data() + n + 1, 0);
        std::vector<std::size_t> own(sorters + 1);
        for (unsigned t = 0; t <= sorters; ++t) own[t] = n * t / sorters;  // counting: even id ranges
        ProgressThrottle sort_progress(opt.progress, "graph: sort", 2 * sorters);
        std::atomic<std::uint64_t> sorted{0};
        auto sort_pass = [&](bool check, auto per_edge) {
            detail::parallel_for(sorters, sorters, [&](std::size_t t, unsigned w) {
                const Input in = input;  // local copies: the stores below cannot alias them
                const auto f = per_edge;
                const std::size_t lo = own[t], span = own[t + 1] - own[t], len = (m_in + sorters - 1) / sorters;
                const std::size_t vb = t * len, vn = std::min(m_in, vb + len) - std::min(m_in, vb);  // edges t validates
                for (std::size_t i = 0; i < m_in; ++i) {
                    if (check && i - vb < vn) in.validate(i);
                    in.emit(i, [&](Id from, Id to) {
                        if (from.index() - lo < span) f(from.index(), i, to);
                    });
                }
                const auto d = sorted.fetch_add(1, std::memory_order_relaxed) + 1;
                if (w == 0) sort_progress.update(d);
            });
        };
        sort_pass(!validated, [c = raw_offsets.data() + 1](std::size_t r, std::size_t, Id) { ++c[r]; });
        for (std::size_t r = 0; r < n; ++r) raw_offsets[r + 1] += raw_offsets[r];
        const std::uint64_t m_raw = raw_offsets[n];
        if (m_raw == 0) return Graph{};
        const auto balanced = row_tasks(raw_offsets.span(), sorters);  // scatter: even edge counts
        for (unsigned t = 0; t <= sorters; ++t) own[t] = t < balanced.size() ? balanced[t] : n;
        detail::RawArray<std::uint64_t> cursor(n);
        std::copy(raw_offsets.data(), raw_offsets.data() + n, cursor.data());
        detail::GraphArrays<Id, EdgeData> out;  // the edge arrays are the scatter's destination
        allocate(out, n, m_raw, !rids.empty());
        sort_pass(false, [cur = cursor.data(), t = out.targets.data(), w = out.weights.data(), p = out.payload.data(),
                          r = out.rationale_ids.data(), e = edges.data(), rid = rids.data()](std::size_t row, std::size_t i, Id to) {
            const std::uint64_t pos = cur[row]++;
            t[pos] = to;
            w[pos] = e[i].weight;
            if constexpr (has_payload) p[pos] = e[i].payload;
            if (r) r[pos] = rid[i];
        });
        sort_progress.finish(2 * sorters);
        cursor = {};

        // 2. Per row, in place: sort by target, resolve duplicates, filter, sort by weight, write
        //    back. A task writes its rows compacted from its first raw position (a row is read whole
        //    before it is written, never past its own end); step 3 closes the gaps.
        const auto tasks = row_tasks(raw_offsets.span(), threads == 1 ? 1 : std::size_t{threads} * 16);
        const std::size_t ntasks = tasks.size() - 1;
        std::vector<std::uint64_t> kept(ntasks, 0);
        std::vector<Workspace> work(detail::worker_count(threads, ntasks));
        ProgressThrottle row_progress(opt.progress, "graph: rows", ntasks);
        std::atomic<std::uint64_t> rows_done{0};
        detail::parallel_for(threads, ntasks, [&](std::size_t t, unsigned w) {
            Workspace& ws = work[w];
            std::uint64_t dst = raw_offsets[tasks[t]];
            for (std::size_t r = tasks[t]; r < tasks[t + 1]; ++r) {
                const std::uint64_t b = raw_offsets[r];
                const std::size_t k = resolve_row(ws, out, b, raw_offsets[r + 1] - b, opt);
                if (k > Graph::max_degree_limit)
                    throw InvalidArgument(fmt::format("GraphBuilder: node {} has {} distinct out-edges (at most {} per row)", r, k,
                                                      Graph::max_degree_limit));
                write_row(ws, k, out, dst);
                out.offsets[r + 1] = k;
                dst += k;
            }
            kept[t] = dst - raw_offsets[tasks[t]];
            const auto done = rows_done.fetch_add(1, std::memory_order_relaxed) + 1;
            if (w == 0) row_progress.update(done);
        });
        row_progress.finish(ntasks);

        // 3. Offsets, and each task's block moved down over the gaps left by removed edges.
        out.offsets[0] = 0;
        for (std::size_t r = 0; r < n; ++r) out.offsets[r + 1] += out.offsets[r];
        const std::uint64_t m = out.offsets[n];
        if (m == 0) return Graph{};
        for (std::size_t t = 0, at = 0; t < ntasks; at += kept[t], ++t)
            if (raw_offsets[tasks[t]] != at) move_edges(out, raw_offsets[tasks[t]], out, at, kept[t]);
        if (m < m_raw - m_raw / 8) {  // give the memory of many removed edges back
            detail::GraphArrays<Id, EdgeData> exact;
            allocate(exact, 0, m, !rids.empty());
            exact.offsets = std::move(out.offsets);
            move_edges(out, 0, exact, 0, m);
            out = std::move(exact);
        }
        if (!rids.empty()) table = compact_rationales(out, m, std::move(table));
        return detail::GraphAccess::adopt(std::move(out), std::move(table));
    }

    /// Resolve the raw row a[b, b + d) (input order) into ws entries in target order, with their
    /// weight keys in ws.wk. Returns how many are kept.
    static std::size_t resolve_row(Workspace& ws, const detail::GraphArrays<Id, EdgeData>& a,
                                   std::uint64_t b, std::uint64_t d, const GraphBuildOptions& opt) {
        if (d == 0) return 0;
        if (d > 0xFFFFFFFFull) throw InvalidArgument("GraphBuilder: a row of more than 2^32 input edges");
        ws.resize(d);
        std::uint64_t* keys = ws.keys.data();
        for (std::uint64_t j = 0; j < d; ++j) keys[j] = (std::uint64_t{a.targets[b + j].value()} << 32) | j;
        detail::sort_distinct(keys, d);
        auto idx = [&](std::size_t k) { return static_cast<std::uint32_t>(keys[k]); };
        auto weight = [&](std::uint32_t j) { return a.weights[b + j]; };
        const bool rationales = a.rationale_ids.size() != 0;
        std::size_t u = 0;
        for (std::size_t g0 = 0, g1 = 0; g0 < d; g0 = g1) {
            for (g1 = g0 + 1; g1 < d && (keys[g1] >> 32) == (keys[g0] >> 32);) ++g1;
            std::uint32_t rep = idx(g0);
            float w = weight(rep);
            switch (opt.duplicates) {
                case DuplicatePolicy::keep_first: break;
                case DuplicatePolicy::keep_last: rep = idx(g1 - 1), w = weight(rep); break;
                case DuplicatePolicy::keep_max:
                    for (std::size_t k = g0 + 1; k < g1; ++k)
                        if (weight(idx(k)) > w) rep = idx(k), w = weight(rep);
                    break;
                case DuplicatePolicy::sum:
                    for (std::size_t k = g0 + 1; k < g1; ++k) w += weight(idx(k));
                    break;
            }
            if (!(w >= opt.min_weight) || !std::isfinite(w)) continue;
            w += 0.0f;  // -0 -> +0: equal weights must have equal sort keys
            ws.t[u] = Id(static_cast<typename Id::value_type>(keys[g0] >> 32));
            ws.w[u] = w;
            if constexpr (has_payload) {
                ws.p[u] = a.payload[b + rep];
                if constexpr (detail::payload_mergeable<EdgeData>)
                    if (opt.duplicates == DuplicatePolicy::keep_last && g1 - g0 > 1) {  // fold older -> newer
                        ws.p[u] = a.payload[b + idx(g0)];
                        for (std::size_t k = g0 + 1; k < g1; ++k) ws.p[u] = Traits::merge(ws.p[u], a.payload[b + idx(k)]);
                    }
            }
            if (rationales) ws.r[u] = a.rationale_ids[b + rep];
            ws.wk[u] = (std::uint64_t{~detail::float_order_key(w)} << 32) | u;
            ++u;
        }
        return u;
    }

    /// Move k edges (every per-edge array) from s[from, from + k) to o[to, to + k); s may be o.
    static void move_edges(const detail::GraphArrays<Id, EdgeData>& s, std::uint64_t from, detail::GraphArrays<Id, EdgeData>& o,
                           std::uint64_t to, std::uint64_t k) {
        auto move = [&](auto& dst, const auto& src) {
            if (src.size()) std::memmove(static_cast<void*>(dst.data() + to), src.data() + from, k * sizeof(*src.data()));
        };
        move(o.targets, s.targets), move(o.weights, s.weights), move(o.lookup, s.lookup);
        move(o.payload, s.payload), move(o.rationale_ids, s.rationale_ids);
    }

    /// Keep only the rationales the edges use (ids renumbered in order of first use).
    static std::shared_ptr<const RationaleTable> compact_rationales(detail::GraphArrays<Id, EdgeData>& a, std::uint64_t m,
                                                                   std::shared_ptr<const RationaleTable> table) {
        std::vector<std::uint32_t> remap(table->size(), 0xFFFFFFFFu);
        std::size_t used = 1;
        remap[0] = 0;
        for (std::uint64_t i = 0; i < m; ++i) used += std::exchange(remap[a.rationale_ids[i]], 0) == 0xFFFFFFFFu;
        if (used == table->size()) return table;
        detail::RationalePool pool;
        std::fill(remap.begin(), remap.end(), 0xFFFFFFFFu);
        for (std::uint64_t i = 0; i < m; ++i) {
            auto& id = a.rationale_ids[i];
            if (remap[id] == 0xFFFFFFFFu) remap[id] = pool.intern((*table)[id]);
            id = remap[id];
        }
        return pool.finish();
    }

    GraphBuildOptions options_;
    std::vector<Edge> edges_;
    detail::JudgedPairs<EdgeData> judged_;
};

/// One call: judgments -> graph snapshot under the edge rule (file comment). Options pass as
/// `build_graph(js, {.min_confidence = 0.6f, .progress = bar.callback()})`.
template <class EdgeData = NoPayload>
ComplementaryGraph<EntityId, EdgeData> build_graph(std::span<const Judgment> judgments, GraphBuildOptions options = {}) {
    GraphBuilder<EntityId, EdgeData> builder(std::move(options));
    builder.add(judgments);
    return builder.build();
}

}  // namespace kerec
