// kerec/graph/builder.hpp — GraphBuilder: judgments or raw edges -> ComplementaryGraph snapshot.
//
// The paper turns the LLM's "yes, b complements a" answers into the complementary graph. Each
// judgment becomes an edge a -> b with prior weight p = p_complementary() (yes: confidence,
// no: 1 - confidence) when p >= min_probability. Duplicates are resolved by a policy (max, first,
// last, sum), edges may be mirrored (symmetrise), self-loops dropped, kept or rejected.
// Build: a two-level radix partition by source. Edges are scattered straight into the edge
// arrays by source bucket (2^14 nodes), then each bucket is counting-sorted by source into a
// cache-resident scratch and every row is deduplicated and ordered by weight (rows of <= 64
// edges by vectorised rank counting, longer ones by sorting) and written back compacted with
// its by-target lookup. O(m + sum d log d) work, parallel over input
// chunks and buckets; scratch: 2 bytes per edge plus one bucket per worker. merge() folds new
// edges into an existing snapshot: rows no new edge touches are copied verbatim (memcpy of their
// four arrays), only touched rows are merged and re-sorted.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/graph/complementary_graph.hpp"
#include "kerec/core/parallel.hpp"
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
    unsigned threads = 0;        ///< 0: hardware concurrency
    ProgressCallback progress;   ///< stages "graph: partition", "graph: rows"
};

/// How a judgment becomes a prior edge weight.
struct JudgmentPrior {
    float min_probability = 0.5f;  ///< keep the edge when p_complementary() >= this
    bool keep_unknown = false;     ///< keep Label::unknown answers (p = 0.5) when they pass the threshold
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
concept payload_from_judgment = requires(const Judgment& j) {
    { graph_payload_traits<EdgeData>::from_judgment(j) } -> std::convertible_to<EdgeData>;
};
template <class EdgeData>
concept payload_mergeable = requires(const EdgeData& a) {
    { graph_payload_traits<EdgeData>::merge(a, a) } -> std::convertible_to<EdgeData>;
};

/// Maps floats to unsigned keys with the same order (no NaN; -0 must be normalised to +0).
inline std::uint32_t float_order_key(float f) noexcept {
    const std::uint32_t b = std::bit_cast<std::uint32_t>(f);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

/// Stable LSD radix sort of packed keys by their high 32 bits (11-bit digits over the range
/// actually used). Ties keep their input order, so keys whose low halves ascend in input order
/// end up fully sorted. `tmp` holds n keys. O(passes * (n + 2048)).
inline void radix_sort_high(std::uint64_t* k, std::uint64_t* tmp, std::size_t n) noexcept {
    std::uint32_t lo = 0xFFFFFFFFu, hi = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const auto h = static_cast<std::uint32_t>(k[i] >> 32);
        lo = std::min(lo, h);
        hi = std::max(hi, h);
    }
    const unsigned bits = static_cast<unsigned>(std::bit_width(hi - lo));
    constexpr unsigned R = 11;
    std::uint32_t count[1u << R];
    std::uint64_t* src = k;
    std::uint64_t* dst = tmp;
    for (unsigned shift = 0; shift < bits; shift += R) {
        std::fill(count, count + (1u << R), 0u);
        auto digit = [&](std::uint64_t x) { return ((static_cast<std::uint32_t>(x >> 32) - lo) >> shift) & ((1u << R) - 1); };
        for (std::size_t i = 0; i < n; ++i) ++count[digit(src[i])];
        std::uint32_t acc = 0;
        for (auto& c : count) {
            const std::uint32_t v = c;
            c = acc;
            acc += v;
        }
        for (std::size_t i = 0; i < n; ++i) dst[count[digit(src[i])]++] = src[i];
        std::swap(src, dst);
    }
    if (src != k) std::memcpy(k, src, n * sizeof(std::uint64_t));
}

/// Sort distinct packed 64-bit keys whose low 32 bits ascend in input order (an index): rank
/// counting for the shortest rows, insertion sort up to 32, std::sort for mid-sized rows, radix
/// sort on the high halves for long rows (`tmp` grows to n).
inline void sort_keys(std::uint64_t* k, std::size_t n, std::vector<std::uint64_t>* tmp = nullptr) {
    if (n <= 16) {
        // Distinct keys: the rank of k[i] is how many keys are smaller. Branch-free; beats
        // insertion sort's mispredicted exits on short random rows.
        std::uint64_t sorted[16];
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint64_t x = k[i];
            std::uint32_t r = 0;
            for (std::size_t j = 0; j < n; ++j) r += k[j] < x;
            sorted[r] = x;
        }
        for (std::size_t i = 0; i < n; ++i) k[i] = sorted[i];
    } else if (n <= 32) {
        for (std::size_t i = 1; i < n; ++i) {
            const std::uint64_t x = k[i];
            std::size_t j = i;
            for (; j > 0 && k[j - 1] > x; --j) k[j] = k[j - 1];
            k[j] = x;
        }
    } else if (n <= 384 || tmp == nullptr) {
        std::sort(k, k + n);
    } else {
        if (tmp->size() < n) tmp->resize(n);
        radix_sort_high(k, tmp->data(), n);
    }
}

inline constexpr unsigned bucket_bits = 14;  // nodes per partition bucket: 16384 (128 KiB of counters)

/// Reusable per-worker scratch for sorting and deduplicating one row.
template <class Id, class EdgeData>
struct RowWorkspace {
    std::vector<std::uint64_t> keys;  // (target << 32 | index), then (~weight key << 32 | index)
    std::vector<std::uint32_t> rank;
    std::vector<std::uint64_t> radix;  // radix-sort buffer
    std::vector<Id> ut, tt;
    std::vector<float> uw, tw;
    std::vector<EdgeData> up, tp;
    std::vector<Id> st;  // bucket scratch (counting-sorted by source)
    std::vector<float> sw;
    std::vector<EdgeData> sp;
};

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

    GraphBuildOptions& options() noexcept { return options_; }
    void reserve(std::size_t edges) { edges_.reserve(edges); }
    std::size_t pending() const noexcept { return edges_.size(); }
    std::span<const Edge> pending_edges() const noexcept { return edges_; }
    void clear() noexcept { edges_.clear(); }

    /// Queue one edge. Invalid ids and non-finite weights are rejected here (InvalidArgument).
    void add_edge(Id from, Id to, float weight, EdgeData payload = {}) {
        check_edge(Edge{from, to, weight, payload}, edges_.size());
        edges_.push_back(Edge{from, to, weight, payload});
    }

    /// Queue the edge a -> b implied by a judgment; returns whether it passed `prior`.
    bool add(const Judgment& j, const JudgmentPrior& prior = {})
        requires std::is_same_v<Id, EntityId>
    {
        Edge e;
        if (!edge_from_judgment(j, prior, e)) return false;
        add_edge(e.from, e.to, e.weight, e.payload);
        return true;
    }

    /// Queue every judgment; returns how many became edges.
    std::size_t add(std::span<const Judgment> judgments, const JudgmentPrior& prior = {})
        requires std::is_same_v<Id, EntityId>
    {
        std::size_t added = 0;
        edges_.reserve(edges_.size() + judgments.size());
        for (const auto& j : judgments) added += add(j, prior) ? 1 : 0;
        return added;
    }

    /// Build a snapshot from the queued edges (and forget them).
    Graph build() {
        Graph g = build(edges_, options_);
        edges_.clear();
        edges_.shrink_to_fit();
        return g;
    }

    /// Fold the queued edges into `base` (see merge()) and forget them.
    Graph merge_into(const Graph& base) {
        Graph g = merge(base, edges_, options_);
        edges_.clear();
        return g;
    }

    /// Convert a judgment to an edge (false when it does not pass `prior`). Throws InvalidArgument
    /// for invalid ids or a confidence outside [0, 1] (NaN included).
    static bool edge_from_judgment(const Judgment& j, const JudgmentPrior& prior, Edge& out)
        requires std::is_same_v<Id, EntityId>
    {
        if (!(j.confidence >= 0.0f && j.confidence <= 1.0f))
            throw InvalidArgument(fmt::format("GraphBuilder: judgment {} -> {} has confidence {} (expected [0, 1])",
                                              j.a, j.b, j.confidence));
        if (!j.a.valid() || !j.b.valid())
            throw InvalidArgument(fmt::format("GraphBuilder: judgment {} -> {} has an invalid entity id", j.a, j.b));
        if (j.label == Label::unknown && !prior.keep_unknown) return false;
        const float p = j.p_complementary();
        if (!(p >= prior.min_probability)) return false;
        out.from = j.a;
        out.to = j.b;
        out.weight = p;
        if constexpr (detail::payload_from_judgment<EdgeData>)
            out.payload = Traits::from_judgment(j);
        else
            out.payload = EdgeData{};
        return true;
    }

    /// Build a snapshot from `edges` (not modified). Throws InvalidArgument for an invalid id, an
    /// id >= options.node_count (when set), a non-finite weight, or a self-loop under `reject`.
    static Graph build(std::span<const Edge> edges, const GraphBuildOptions& opt) {
        const std::size_t m_in = edges.size();
        const unsigned threads = m_in < (1u << 16) ? 1u : detail::worker_count(opt.threads, 64);
        const std::size_t chunks = threads == 1 ? 1 : std::size_t{threads} * 16;
        const std::size_t chunk_len = (m_in + chunks - 1) / std::max<std::size_t>(chunks, 1);
        const bool drop_loops = opt.self_loops == SelfLoopPolicy::drop;
        auto validate = [&](std::size_t i) {
            const Edge& e = edges[i];
            check_edge(e, i);
            if (opt.node_count != 0 && (e.from.index() >= opt.node_count || e.to.index() >= opt.node_count))
                throw InvalidArgument(fmt::format("GraphBuilder: edge {} ({} -> {}) has an id >= node_count {}", i, e.from,
                                                  e.to, opt.node_count));
            if (e.from == e.to && opt.self_loops == SelfLoopPolicy::reject)
                throw InvalidArgument(
                    fmt::format("GraphBuilder: edge {} is a self-loop {} -> {} (policy reject)", i, e.from, e.to));
        };
        // Emitted copies of edge i: itself (unless a dropped self-loop) and its mirror (symmetrise).
        auto for_each_emitted = [&](std::size_t i, auto&& emit) {
            const Edge& e = edges[i];
            if (e.from == e.to) {
                if (!drop_loops) emit(e.from, e.to, i);
                return;
            }
            emit(e.from, e.to, i);
            if (opt.symmetrise) emit(e.to, e.from, i);
        };

        // --- node count (one validating pass when the caller did not give it) ----------------
        std::size_t n = opt.node_count;
        const bool fused_validation = n != 0;
        if (n == 0) {
            std::vector<std::uint64_t> chunk_max(chunks, 0);
            detail::parallel_for(threads, chunks, [&](std::size_t c, unsigned) {
                const std::size_t b = std::min(m_in, c * chunk_len), e = std::min(m_in, b + chunk_len);
                std::uint64_t mx = 0;
                for (std::size_t i = b; i < e; ++i) {
                    validate(i);
                    mx = std::max<std::uint64_t>(mx, std::max(edges[i].from.index(), edges[i].to.index()) + 1);
                }
                chunk_max[c] = mx;
            });
            n = static_cast<std::size_t>(*std::max_element(chunk_max.begin(), chunk_max.end()));
            if (n == 0) return Graph{};
        }

        // --- level 1: stable partition by source bucket -------------------------------------
        const std::size_t buckets = ((n - 1) >> detail::bucket_bits) + 1;
        std::vector<std::uint64_t> counts(chunks * buckets, 0);
        ProgressThrottle part_progress(opt.progress, "graph: partition", 2 * chunks);
        std::atomic<std::uint64_t> part_done{0};
        detail::parallel_for(threads, chunks, [&](std::size_t c, unsigned w) {
            const std::size_t b = std::min(m_in, c * chunk_len), e = std::min(m_in, b + chunk_len);
            std::uint64_t* cnt = counts.data() + c * buckets;
            for (std::size_t i = b; i < e; ++i) {
                if (fused_validation) validate(i);
                for_each_emitted(i, [&](Id from, Id, std::size_t) { ++cnt[from.index() >> detail::bucket_bits]; });
            }
            const auto d = part_done.fetch_add(1, std::memory_order_relaxed) + 1;
            if (w == 0) part_progress.update(d);
        });
        std::vector<std::uint64_t> bucket_start(buckets + 1, 0);
        std::uint64_t total = 0;
        for (std::size_t bk = 0; bk < buckets; ++bk) {
            bucket_start[bk] = total;
            for (std::size_t c = 0; c < chunks; ++c) {
                const std::uint64_t k = counts[c * buckets + bk];
                counts[c * buckets + bk] = total;  // becomes the write cursor of (chunk, bucket)
                total += k;
            }
        }
        bucket_start[buckets] = total;
        const std::uint64_t m_raw = total;
        if (m_raw == 0) return Graph{};

        // Partition straight into the edge arrays; the source is kept as its 14-bit offset
        // inside the bucket (2 bytes per edge of scratch).
        detail::GraphArrays<Id, EdgeData> raw;
        raw.targets = detail::RawArray<Id>(m_raw);
        raw.weights = detail::RawArray<float>(m_raw);
        if constexpr (has_payload) raw.payload = detail::RawArray<EdgeData>(m_raw);
        // (In the common 16-bit case this array then becomes the lookup: a bucket's lookups are
        // written only after the bucket's local offsets have been read.)
        detail::RawArray<std::uint16_t> local(m_raw);
        constexpr std::uint32_t local_mask = (1u << detail::bucket_bits) - 1;
        detail::parallel_for(threads, chunks, [&](std::size_t c, unsigned w) {
            const std::size_t b = std::min(m_in, c * chunk_len), e = std::min(m_in, b + chunk_len);
            std::uint64_t* cur = counts.data() + c * buckets;
            for (std::size_t i = b; i < e; ++i)
                for_each_emitted(i, [&](Id from, Id to, std::size_t src) {
                    const std::uint64_t pos = cur[from.index() >> detail::bucket_bits]++;
                    raw.targets[pos] = to;
                    raw.weights[pos] = edges[src].weight;
                    if constexpr (has_payload) raw.payload[pos] = edges[src].payload;
                    local[pos] = static_cast<std::uint16_t>(from.value() & local_mask);
                });
            const auto d = part_done.fetch_add(1, std::memory_order_relaxed) + 1;
            if (w == 0) part_progress.update(d);
        });
        part_progress.finish(2 * chunks);

        // --- lookup width: 16 bits unless some row has more than 65 536 edges ----------------
        const unsigned bucket_threads = m_raw < (1u << 16) ? 1u : threads;
        const unsigned workers = detail::worker_count(bucket_threads, buckets);
        std::vector<std::vector<std::uint64_t>> cursors(workers);
        std::atomic<bool> wide{false};
        detail::parallel_for(bucket_threads, buckets, [&](std::size_t bk, unsigned w) {
            const std::uint64_t b = bucket_start[bk], e = bucket_start[bk + 1];
            if (e - b <= 65536) return;  // no row of this bucket can be wider
            auto& cur = cursors[w];
            cur.assign(std::size_t{1} << detail::bucket_bits, 0);
            for (std::uint64_t i = b; i < e; ++i)
                if (++cur[local[i]] > 65536) {
                    wide.store(true, std::memory_order_relaxed);
                    return;
                }
        });
        const bool narrow = !wide.load();
        if (!narrow) raw.lookup32 = detail::RawArray<std::uint32_t>(m_raw);
        const std::uint16_t* local_of = local.data();  // read-only view for the bucket pass
        if (narrow) raw.lookup16 = std::move(local);

        // --- level 2, per bucket: counting sort by source into a reused scratch (cache
        //     resident), then each row is deduplicated, sorted by weight and written back
        //     compacted from the bucket's start --------------------------------------------------
        detail::GraphArrays<Id, EdgeData> out;
        out.offsets = detail::RawArray<std::uint64_t>(n + 1);  // holds degrees until the prefix sum
        std::vector<std::uint64_t> bucket_kept(buckets, 0);
        std::vector<detail::RowWorkspace<Id, EdgeData>> work(workers);
        ProgressThrottle row_progress(opt.progress, "graph: rows", n);
        std::atomic<std::uint64_t> rows_done{0};
        detail::parallel_for(bucket_threads, buckets, [&](std::size_t bk, unsigned w) {
            const std::size_t lo = bk << detail::bucket_bits, hi = std::min(n, (bk + 1) << detail::bucket_bits);
            auto& cur = cursors[w];
            auto& ws = work[w];
            cur.assign(hi - lo + 1, 0);
            const std::uint64_t b = bucket_start[bk], e = bucket_start[bk + 1], size = e - b;
            for (std::uint64_t i = b; i < e; ++i) ++cur[local_of[i] + 1];
            for (std::size_t r = 0; r < hi - lo; ++r) cur[r + 1] += cur[r];  // cur[r] = start of row r
            ws.st.resize(std::max<std::size_t>(ws.st.size(), size));
            ws.sw.resize(std::max<std::size_t>(ws.sw.size(), size));
            if constexpr (has_payload) ws.sp.resize(std::max<std::size_t>(ws.sp.size(), size));
            for (std::uint64_t i = b; i < e; ++i) {
                const std::uint64_t pos = cur[local_of[i]]++;
                ws.st[pos] = raw.targets[i];
                ws.sw[pos] = raw.weights[i];
                if constexpr (has_payload) ws.sp[pos] = raw.payload[i];
            }
            // cur[r] is now the end of row r; rows start at cur[r - 1] (0 for r = 0).
            std::uint64_t dst = b;
            for (std::size_t r = 0; r < hi - lo; ++r) {
                const std::uint64_t src = r == 0 ? 0 : cur[r - 1], d = cur[r] - src;
                const EdgeData* p = nullptr;
                if constexpr (has_payload) p = ws.sp.data() + src;
                const std::uint64_t kept = process_row(ws, ws.st.data() + src, ws.sw.data() + src, p, raw, dst, d, opt);
                out.offsets[lo + r + 1] = kept;
                dst += kept;
            }
            bucket_kept[bk] = dst - b;
            const auto done = rows_done.fetch_add(hi - lo, std::memory_order_relaxed) + (hi - lo);
            if (w == 0) row_progress.update(done);
        });
        row_progress.finish(n);
        local = detail::RawArray<std::uint16_t>();  // (empty when it became the lookup)

        // --- offsets, and close the gaps left by removed edges (memmove per bucket) ----------
        out.offsets[0] = 0;
        for (std::size_t r = 0; r < n; ++r) out.offsets[r + 1] += out.offsets[r];
        const std::uint64_t m = out.offsets[n];
        if (m == 0) return Graph{};
        std::uint64_t at = 0;
        for (std::size_t bk = 0; bk < buckets; ++bk) {
            const std::uint64_t from = bucket_start[bk], k = bucket_kept[bk];
            if (from != at && k > 0) {
                std::memmove(raw.targets.data() + at, raw.targets.data() + from, k * sizeof(Id));
                std::memmove(raw.weights.data() + at, raw.weights.data() + from, k * sizeof(float));
                if constexpr (has_payload)
                    std::memmove(static_cast<void*>(raw.payload.data() + at), raw.payload.data() + from, k * sizeof(EdgeData));
                if (narrow)
                    std::memmove(raw.lookup16.data() + at, raw.lookup16.data() + from, k * sizeof(std::uint16_t));
                else
                    std::memmove(raw.lookup32.data() + at, raw.lookup32.data() + from, k * sizeof(std::uint32_t));
            }
            at += k;
        }
        if (m >= m_raw - m_raw / 8) {  // little was removed: keep the arrays (views are trimmed)
            out.targets = std::move(raw.targets);
            out.weights = std::move(raw.weights);
            out.lookup16 = std::move(raw.lookup16);
            out.lookup32 = std::move(raw.lookup32);
            out.payload = std::move(raw.payload);
        } else {  // give the memory of removed duplicates back
            out.targets = detail::RawArray<Id>(m);
            out.weights = detail::RawArray<float>(m);
            if constexpr (has_payload) out.payload = detail::RawArray<EdgeData>(m);
            if (narrow)
                out.lookup16 = detail::RawArray<std::uint16_t>(m);
            else
                out.lookup32 = detail::RawArray<std::uint32_t>(m);
            copy_row(raw, 0, out, 0, m);
        }
        return Graph::adopt(std::move(out));
    }

    /// A new snapshot = `base` plus `delta`. Rows of `base` that no delta edge touches are copied
    /// verbatim; touched rows are merged (duplicates across base and delta resolved by
    /// opt.duplicates with base = first, delta = last), filtered by min_weight and re-sorted.
    /// The result keeps base's version and time (GraphStore::publish assigns a new version).
    static Graph merge(const Graph& base, std::span<const Edge> delta, const GraphBuildOptions& opt) {
        GraphBuildOptions dopt = opt;
        dopt.progress = {};
        dopt.min_weight = -std::numeric_limits<float>::infinity();
        if (dopt.node_count != 0) dopt.node_count = std::max(dopt.node_count, base.node_count());
        const Graph dg = build(delta, dopt);
        const std::size_t n = std::max({base.node_count(), dg.node_count(), opt.node_count});
        if (n == 0) return base;
        const unsigned threads = (base.edge_count() + delta.size()) < (1u << 16) ? 1u : detail::worker_count(opt.threads, 64);
        const std::size_t tasks = ((n - 1) >> detail::bucket_bits) + 1;
        std::vector<detail::RowWorkspace<Id, EdgeData>> work(detail::worker_count(threads, tasks));

        // pass 1: degrees
        detail::GraphArrays<Id, EdgeData> out;
        out.offsets = detail::RawArray<std::uint64_t>(n + 1);
        std::vector<std::uint64_t> task_max(tasks, 0);
        ProgressThrottle progress(opt.progress, "graph: merge", 2 * tasks);
        std::atomic<std::uint64_t> done{0};
        detail::parallel_for(threads, tasks, [&](std::size_t t, unsigned w) {
            const std::size_t lo = t << detail::bucket_bits, hi = std::min(n, (t + 1) << detail::bucket_bits);
            std::uint64_t mx = 0;
            for (std::size_t r = lo; r < hi; ++r) {
                const Id id(static_cast<typename Id::value_type>(r));
                const std::uint64_t d = dg.degree(id) == 0 ? base.degree(id) : merge_row(work[w], id, base, dg, opt);
                out.offsets[r + 1] = d;
                mx = std::max(mx, d);
            }
            task_max[t] = mx;
            const auto k = done.fetch_add(1, std::memory_order_relaxed) + 1;
            if (w == 0) progress.update(k);
        });
        out.offsets[0] = 0;
        for (std::size_t r = 0; r < n; ++r) out.offsets[r + 1] += out.offsets[r];
        const std::uint64_t m = out.offsets[n];
        if (m == 0) return Graph{}.with_version(base.version()).with_time(base.time());
        const bool narrow = *std::max_element(task_max.begin(), task_max.end()) <= 65536;
        out.targets = detail::RawArray<Id>(m);
        out.weights = detail::RawArray<float>(m);
        if constexpr (has_payload) out.payload = detail::RawArray<EdgeData>(m);
        if (narrow)
            out.lookup16 = detail::RawArray<std::uint16_t>(m);
        else
            out.lookup32 = detail::RawArray<std::uint32_t>(m);

        // pass 2: copy untouched rows, write merged rows
        detail::parallel_for(threads, tasks, [&](std::size_t t, unsigned w) {
            const std::size_t lo = t << detail::bucket_bits, hi = std::min(n, (t + 1) << detail::bucket_bits);
            for (std::size_t r = lo; r < hi; ++r) {
                const Id id(static_cast<typename Id::value_type>(r));
                const std::uint64_t dst = out.offsets[r], d = out.offsets[r + 1] - dst;
                if (d == 0) continue;
                if (dg.degree(id) == 0) {
                    copy_graph_row(base, base.row_begin(id), out, dst, d);
                } else {
                    merge_row(work[w], id, base, dg, opt);
                    write_sorted(work[w], out, dst);
                }
            }
            const auto k = done.fetch_add(1, std::memory_order_relaxed) + 1;
            if (w == 0) progress.update(k);
        });
        progress.finish(2 * tasks);
        return Graph::adopt(std::move(out), base.version(), base.time());
    }

    /// merge() with judgments as the delta.
    static Graph merge(const Graph& base, std::span<const Judgment> judgments, const JudgmentPrior& prior,
                       const GraphBuildOptions& opt)
        requires std::is_same_v<Id, EntityId>
    {
        std::vector<Edge> delta;
        delta.reserve(judgments.size());
        Edge e;
        for (const auto& j : judgments)
            if (edge_from_judgment(j, prior, e)) delta.push_back(e);
        return merge(base, delta, opt);
    }

    /// Same edges, new weights: for every edge i of row `from`, f(from, i, old_weight, old_payload,
    /// new_payload) returns the new weight (must be finite) and may rewrite the payload. Rows are
    /// re-sorted by the new weights and their lookups rebuilt. f is called concurrently from
    /// `threads` workers (0 = hardware concurrency), each edge exactly once. O(m log d).
    template <class F>
    static Graph reweight(const Graph& base, F&& f, unsigned threads = 0, ProgressCallback progress = {}) {
        const std::size_t n = base.node_count();
        const std::uint64_t m = base.edge_count();
        if (m == 0) return base;
        detail::GraphArrays<Id, EdgeData> out;
        out.offsets = detail::RawArray<std::uint64_t>(n + 1);
        std::memcpy(out.offsets.data(), base.offsets().data(), (n + 1) * sizeof(std::uint64_t));
        out.targets = detail::RawArray<Id>(m);
        out.weights = detail::RawArray<float>(m);
        if constexpr (has_payload) out.payload = detail::RawArray<EdgeData>(m);
        if (base.lookup_width() == 2)
            out.lookup16 = detail::RawArray<std::uint16_t>(m);
        else
            out.lookup32 = detail::RawArray<std::uint32_t>(m);
        const std::size_t tasks = ((n - 1) >> detail::bucket_bits) + 1;
        const unsigned workers = m < (1u << 16) ? 1u : threads;
        std::vector<detail::RowWorkspace<Id, EdgeData>> work(detail::worker_count(workers, tasks));
        ProgressThrottle prog(std::move(progress), "graph: reweight", n);
        std::atomic<std::uint64_t> done{0};
        detail::parallel_for(workers, tasks, [&](std::size_t t, unsigned w) {
            auto& ws = work[w];
            const std::size_t lo = t << detail::bucket_bits, hi = std::min(n, (t + 1) << detail::bucket_bits);
            for (std::size_t r = lo; r < hi; ++r) {
                const Id from(static_cast<typename Id::value_type>(r));
                const std::uint64_t b = base.offsets()[r], d = base.offsets()[r + 1] - b;
                if (d == 0) continue;
                ws.ut.resize(d);
                ws.uw.resize(d);
                if constexpr (has_payload) ws.up.resize(d);
                for (std::uint64_t j = 0; j < d; ++j) {  // gather in target order
                    const std::uint64_t i = b + base.lookup_at(b + j);
                    ws.ut[j] = base.targets()[i];
                    EdgeData np = base.payload_at(i);
                    const float nw = f(from, i, base.weights()[i], base.payload_at(i), np);
                    if (!std::isfinite(nw))
                        throw InvalidArgument(fmt::format("GraphBuilder::reweight: edge {} -> {} got weight {} (expected finite)",
                                                          from, ws.ut[j], nw));
                    ws.uw[j] = nw;
                    if constexpr (has_payload) ws.up[j] = np;
                }
                sort_by_weight(ws);
                write_sorted(ws, out, b);
            }
            const auto k = done.fetch_add(hi - lo, std::memory_order_relaxed) + (hi - lo);
            if (w == 0) prog.update(k);
        });
        prog.finish(n);
        return Graph::adopt(std::move(out), base.version(), base.time());
    }

private:
    static void check_edge(const Edge& e, std::size_t i) {
        if (!e.from.valid() || !e.to.valid())
            throw InvalidArgument(fmt::format("GraphBuilder: edge {} ({} -> {}) has an invalid id", i, e.from, e.to));
        if (!std::isfinite(e.weight))
            throw InvalidArgument(fmt::format("GraphBuilder: edge {} ({} -> {}) has weight {} (expected finite)", i,
                                              e.from, e.to, e.weight));
        if (!Traits::valid(e.payload))
            throw InvalidArgument(
                fmt::format("GraphBuilder: edge {} ({} -> {}) has an invalid {} payload", i, e.from, e.to, Traits::name));
    }

    /// Resolve the group [g0, g1) of ws.keys (same target; low 32 bits = index into w/p, in
    /// input order) into one entry of ws.u*, unless min_weight filters it out.
    static bool resolve(const std::uint64_t* keys, std::size_t g0, std::size_t g1, const float* w, const EdgeData* p,
                        const GraphBuildOptions& opt, float& weight, EdgeData& pl) {
        auto idx = [keys](std::size_t k) { return static_cast<std::uint32_t>(keys[k]); };
        std::uint32_t rep = idx(g0);
        weight = w[rep];
        switch (opt.duplicates) {
            case DuplicatePolicy::keep_first: break;
            case DuplicatePolicy::keep_last:
                rep = idx(g1 - 1);
                weight = w[rep];
                break;
            case DuplicatePolicy::keep_max:
                for (std::size_t k = g0 + 1; k < g1; ++k)
                    if (w[idx(k)] > weight) rep = idx(k), weight = w[rep];
                break;
            case DuplicatePolicy::sum:
                for (std::size_t k = g0 + 1; k < g1; ++k) weight += w[idx(k)];
                break;
        }
        if (!(weight >= opt.min_weight) || !std::isfinite(weight)) return false;
        weight += 0.0f;  // -0 -> +0: equal weights must have equal sort keys
        if constexpr (has_payload) {
            pl = p[rep];
            if constexpr (detail::payload_mergeable<EdgeData>) {
                if (opt.duplicates == DuplicatePolicy::keep_last && g1 - g0 > 1) {
                    pl = p[idx(g0)];  // fold older -> newer
                    for (std::size_t k = g0 + 1; k < g1; ++k) pl = Traits::merge(pl, p[idx(k)]);
                }
            }
        }
        return true;
    }

    static void resolve_push(detail::RowWorkspace<Id, EdgeData>& ws, Id target, const float* w, const EdgeData* p,
                             std::size_t g0, std::size_t g1, const GraphBuildOptions& opt) {
        float weight;
        EdgeData pl{};
        if (!resolve(ws.keys.data(), g0, g1, w, p, opt, weight, pl)) return;
        ws.ut.push_back(target);
        ws.uw.push_back(weight);
        if constexpr (has_payload) ws.up.push_back(pl);
    }

    /// Sort and group ws.keys (target << 32 | index) and resolve each group into ws.u*.
    static void dedupe_sorted(detail::RowWorkspace<Id, EdgeData>& ws, const float* w, const EdgeData* p, std::size_t d,
                              const GraphBuildOptions& opt) {
        detail::sort_keys(ws.keys.data(), d, &ws.radix);
        ws.ut.clear(), ws.uw.clear();
        if constexpr (has_payload) ws.up.clear();
        const std::uint64_t* keys = ws.keys.data();
        for (std::size_t g0 = 0; g0 < d;) {
            const std::uint64_t tg = keys[g0] >> 32;
            std::size_t g1 = g0 + 1;
            while (g1 < d && (keys[g1] >> 32) == tg) ++g1;
            resolve_push(ws, Id(static_cast<typename Id::value_type>(tg)), w, p, g0, g1, opt);
            g0 = g1;
        }
    }

    /// Sort ws.u* (target-sorted, unique) by weight (descending, ties by target) into ws.t*, and
    /// ws.rank (target order -> row position).
    static void sort_by_weight(detail::RowWorkspace<Id, EdgeData>& ws) {
        const std::size_t k = ws.ut.size();
        ws.keys.resize(std::max(ws.keys.size(), k));
        std::uint64_t* keys = ws.keys.data();
        for (std::uint32_t j = 0; j < k; ++j) {
            const float w = ws.uw[j] + 0.0f;
            ws.uw[j] = w;
            keys[j] = (std::uint64_t{~detail::float_order_key(w)} << 32) | j;
        }
        detail::sort_keys(keys, k, &ws.radix);
        ws.tt.resize(k);
        ws.tw.resize(k);
        if constexpr (has_payload) ws.tp.resize(k);
        ws.rank.resize(k);
        for (std::uint32_t r = 0; r < k; ++r) {
            const auto j = static_cast<std::uint32_t>(keys[r]);
            ws.tt[r] = ws.ut[j];
            ws.tw[r] = ws.uw[j];
            if constexpr (has_payload) ws.tp[r] = ws.up[j];
            ws.rank[j] = r;
        }
    }

    static void write_sorted(const detail::RowWorkspace<Id, EdgeData>& ws, detail::GraphArrays<Id, EdgeData>& a,
                             std::uint64_t b) {
        const std::size_t k = ws.tt.size();
        if (k == 0) return;
        std::memcpy(a.targets.data() + b, ws.tt.data(), k * sizeof(Id));
        std::memcpy(a.weights.data() + b, ws.tw.data(), k * sizeof(float));
        if constexpr (has_payload) std::memcpy(static_cast<void*>(a.payload.data() + b), ws.tp.data(), k * sizeof(EdgeData));
        if (a.lookup16.size() != 0)
            for (std::size_t j = 0; j < k; ++j) a.lookup16[b + j] = static_cast<std::uint16_t>(ws.rank[j]);
        else
            for (std::size_t j = 0; j < k; ++j) a.lookup32[b + j] = ws.rank[j];
    }

    /// Sort, dedupe, filter and weight-sort the row (t, w, p)[0, d); write it to `a` at
    /// [dst, dst + kept). Returns kept.
    static std::uint64_t process_row(detail::RowWorkspace<Id, EdgeData>& ws, const Id* t, const float* w,
                                     const EdgeData* p, detail::GraphArrays<Id, EdgeData>& a, std::uint64_t dst,
                                     std::uint64_t d, const GraphBuildOptions& opt) {
        if (d == 0) return 0;
        if (d <= 16 && process_tiny_row<16>(t, w, p, a, dst, d, opt)) return d;
        if (d > 16 && d <= 32 && process_tiny_row<32>(t, w, p, a, dst, d, opt)) return d;
        if (d > 32 && d <= 64 && process_tiny_row<64>(t, w, p, a, dst, d, opt)) return d;
        if (d <= small_row) return process_small_row(t, w, p, a, dst, d, opt);
        ws.keys.resize(std::max<std::size_t>(ws.keys.size(), d));
        for (std::uint32_t j = 0; j < d; ++j) ws.keys[j] = (std::uint64_t{t[j].value()} << 32) | j;
        dedupe_sorted(ws, w, p, d, opt);
        sort_by_weight(ws);
        write_sorted(ws, a, dst);
        return ws.tt.size();
    }

    static constexpr std::size_t small_row = 32;

    /// Rows of at most T (16, 32, 64) edges without duplicates or filtered weights (most rows): ranks by
    /// target and by (weight desc, target asc) counted with fixed-width 32-bit comparisons that
    /// vectorise; no sort. Returns false (nothing written) when the row needs the general path.
    template <std::size_t T>
    static bool process_tiny_row(const Id* t, const float* w, const EdgeData* p, detail::GraphArrays<Id, EdgeData>& a,
                                 std::uint64_t b, std::uint64_t d, const GraphBuildOptions& opt) {
        alignas(64) std::int32_t tb[T];  // targets biased to order as signed integers
        alignas(64) float wv[T];
        for (std::size_t j = 0; j < T; ++j) {
            tb[j] = j < d ? static_cast<std::int32_t>(t[j].value() ^ 0x80000000u) : std::numeric_limits<std::int32_t>::max();
            wv[j] = j < d ? w[j] + 0.0f : -std::numeric_limits<float>::infinity();
        }
        std::uint32_t equal = 0, low = 0;
        for (std::size_t i = 0; i < d; ++i) {
            for (std::size_t j = 0; j < T; ++j) equal += tb[j] == tb[i];
            low += !(wv[i] >= opt.min_weight);
        }
        if (equal != d || low != 0) return false;  // duplicates or filtered edges
        std::uint32_t rank_t[T], rank_w[T];
        for (std::size_t i = 0; i < d; ++i) {
            std::uint32_t rt = 0, rw = 0;
            const std::int32_t x = tb[i];
            const float y = wv[i];
            for (std::size_t j = 0; j < T; ++j) {
                rt += tb[j] < x;
                rw += (wv[j] > y) | ((wv[j] == y) & (tb[j] < x));
            }
            rank_t[i] = rt;
            rank_w[i] = rw;
        }
        for (std::size_t i = 0; i < d; ++i) {
            a.targets[b + rank_w[i]] = t[i];
            a.weights[b + rank_w[i]] = wv[i];
            if constexpr (has_payload) a.payload[b + rank_w[i]] = p[i];
        }
        if (a.lookup16.size() != 0)
            for (std::size_t i = 0; i < d; ++i) a.lookup16[b + rank_t[i]] = static_cast<std::uint16_t>(rank_w[i]);
        else
            for (std::size_t i = 0; i < d; ++i) a.lookup32[b + rank_t[i]] = rank_w[i];
        return true;
    }

    /// process_row for d <= small_row: everything on the stack, lookup written directly.
    static std::uint64_t process_small_row(const Id* t, const float* w, const EdgeData* p,
                                           detail::GraphArrays<Id, EdgeData>& a, std::uint64_t b, std::uint64_t d,
                                           const GraphBuildOptions& opt) {
        std::uint64_t k[small_row], wk[small_row];
        Id ut[small_row];
        float uw[small_row];
        [[maybe_unused]] EdgeData up[has_payload ? small_row : 1];
        for (std::uint32_t j = 0; j < d; ++j) k[j] = (std::uint64_t{t[j].value()} << 32) | j;
        detail::sort_keys(k, d);
        std::uint32_t u = 0;
        for (std::size_t g0 = 0; g0 < d;) {
            const std::uint64_t tg = k[g0] >> 32;
            std::size_t g1 = g0 + 1;
            while (g1 < d && (k[g1] >> 32) == tg) ++g1;
            float weight;
            EdgeData pl{};
            if (resolve(k, g0, g1, w, p, opt, weight, pl)) {
                ut[u] = Id(static_cast<typename Id::value_type>(tg));
                uw[u] = weight;
                if constexpr (has_payload) up[u] = pl;
                wk[u] = (std::uint64_t{~detail::float_order_key(weight)} << 32) | u;
                ++u;
            }
            g0 = g1;
        }
        detail::sort_keys(wk, u);
        Id* ot = a.targets.data() + b;
        float* ow = a.weights.data() + b;
        for (std::uint32_t r = 0; r < u; ++r) {
            const auto i = static_cast<std::uint32_t>(wk[r]);
            ot[r] = ut[i];
            ow[r] = uw[i];
            if constexpr (has_payload) a.payload[b + r] = up[i];
        }
        if (a.lookup16.size() != 0)
            for (std::uint32_t r = 0; r < u; ++r) a.lookup16[b + static_cast<std::uint32_t>(wk[r])] = static_cast<std::uint16_t>(r);
        else
            for (std::uint32_t r = 0; r < u; ++r) a.lookup32[b + static_cast<std::uint32_t>(wk[r])] = r;
        return u;
    }

    /// Merge row `id` of base and delta into ws (sorted by weight); returns the merged degree.
    static std::uint64_t merge_row(detail::RowWorkspace<Id, EdgeData>& ws, Id id, const Graph& base, const Graph& dg,
                                   const GraphBuildOptions& opt) {
        // Gather base entries then delta entries; `perm` sorts them by (target, source order).
        const auto br = base.neighbors(id), dr = dg.neighbors(id);
        const std::size_t nb = br.size(), nd = dr.size(), d = nb + nd;
        ws.tt.resize(d);
        ws.tw.resize(d);
        if constexpr (has_payload) ws.tp.resize(d);
        for (std::size_t j = 0; j < nb; ++j) {
            ws.tt[j] = br.targets[j];
            ws.tw[j] = br.weights[j];
            if constexpr (has_payload) ws.tp[j] = br.payload[j];
        }
        for (std::size_t j = 0; j < nd; ++j) {
            ws.tt[nb + j] = dr.targets[j];
            ws.tw[nb + j] = dr.weights[j];
            if constexpr (has_payload) ws.tp[nb + j] = dr.payload[j];
        }
        ws.keys.resize(std::max<std::size_t>(ws.keys.size(), d));
        for (std::uint32_t j = 0; j < d; ++j) ws.keys[j] = (std::uint64_t{ws.tt[j].value()} << 32) | j;
        const EdgeData* p = nullptr;
        if constexpr (has_payload) p = ws.tp.data();
        dedupe_sorted(ws, ws.tw.data(), p, d, opt);
        sort_by_weight(ws);
        return ws.tt.size();
    }

    static void copy_row(const detail::GraphArrays<Id, EdgeData>& s, std::uint64_t sb, detail::GraphArrays<Id, EdgeData>& o,
                         std::uint64_t ob, std::uint64_t d) {
        if (d == 0) return;
        std::memcpy(o.targets.data() + ob, s.targets.data() + sb, d * sizeof(Id));
        std::memcpy(o.weights.data() + ob, s.weights.data() + sb, d * sizeof(float));
        if constexpr (has_payload)
            std::memcpy(static_cast<void*>(o.payload.data() + ob), s.payload.data() + sb, d * sizeof(EdgeData));
        if (o.lookup16.size() != 0)
            std::memcpy(o.lookup16.data() + ob, s.lookup16.data() + sb, d * sizeof(std::uint16_t));
        else
            std::memcpy(o.lookup32.data() + ob, s.lookup32.data() + sb, d * sizeof(std::uint32_t));
    }

    static void copy_graph_row(const Graph& g, std::uint64_t sb, detail::GraphArrays<Id, EdgeData>& o, std::uint64_t ob,
                               std::uint64_t d) {
        std::memcpy(o.targets.data() + ob, g.targets().data() + sb, d * sizeof(Id));
        std::memcpy(o.weights.data() + ob, g.weights().data() + sb, d * sizeof(float));
        if constexpr (has_payload)
            std::memcpy(static_cast<void*>(o.payload.data() + ob), g.payload().data() + sb, d * sizeof(EdgeData));
        if (o.lookup16.size() != 0) {
            if (g.lookup_width() == 2)
                std::memcpy(o.lookup16.data() + ob, g.lookup16().data() + sb, d * sizeof(std::uint16_t));
            else
                for (std::uint64_t j = 0; j < d; ++j) o.lookup16[ob + j] = static_cast<std::uint16_t>(g.lookup_at(sb + j));
        } else {
            for (std::uint64_t j = 0; j < d; ++j) o.lookup32[ob + j] = g.lookup_at(sb + j);
        }
    }

    GraphBuildOptions options_;
    std::vector<Edge> edges_;
};

/// One call: judgments -> graph snapshot, reporting progress (stages "graph: partition", "graph: rows").
template <class EdgeData = NoPayload>
ComplementaryGraph<EntityId, EdgeData> build_graph(std::span<const Judgment> judgments, ProgressCallback progress) {
    GraphBuildOptions options;
    options.progress = std::move(progress);
    GraphBuilder<EntityId, EdgeData> builder(std::move(options));
    builder.add(judgments, JudgmentPrior{});
    return builder.build();
}

/// One call: judgments -> graph snapshot (edge a -> b per judgment passing `prior`).
template <class EdgeData = NoPayload>
ComplementaryGraph<EntityId, EdgeData> build_graph(std::span<const Judgment> judgments, const JudgmentPrior& prior = {},
                                                   GraphBuildOptions options = {}) {
    GraphBuilder<EntityId, EdgeData> builder(std::move(options));
    builder.add(judgments, prior);
    return builder.build();
}

}  // namespace kerec
