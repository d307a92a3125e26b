// kerec/recall/u2e2i.hpp — U2E2IRecall: complementary recall, user → entity → complementary
// entity → item, every result with its explanation path.
//
// The paper's U2E2I recall. The user's recent bills (the request context) give trigger entities
// with recency weights r_t = Σ_{bills of t} 2^(−(now − time)/half_life) (the max_triggers heaviest,
// heaviest first, ties by entity id); each trigger's strongest complementary neighbours c (learned
// weights w(t, c), a prefix of its graph row) get
//   s(c) = Σ_t r_t · w(t, c),
// and their best items (the entity side of the ItemEntityMap, ranked by prior) are scored
//   score(i) = s(c(i)) · max(prior(i), min_prior)          (path score)
// or, when a scorer is given (the E-E-I model, or the integrated pipeline), by the scorer's logit
// of the best path. Items reached twice keep their best path (equal scores: the path found first,
// triggers heaviest first, rows strongest first); excluded and context items are dropped; ties in
// score go to the lower item id.
// Each entity's items are ranked by prior, so its path scores fall along its row: the best L
// candidates by path score are the first L distinct items of a best-first merge (a heap of one
// cursor per complementary entity) — L = K for the path score, L = max_candidates for a scorer.
// Cost per request: O(T·N + P·log E) for T triggers, N neighbours each, E complementary entities
// and P ≥ L items popped (L plus the excluded and already-taken ones), plus the scorer on L
// candidates and a partial sort of its logits; no item outside the top L is looked at.
// A U2E2IWorkspace holds every buffer, so a request allocates nothing at steady state.
// Thread safety: recommend(request, out, workspace, scorer) is const; concurrent requests need
// one workspace (and scorer) each — or one U2E2IRecall copy each (copies share the graph store and
// the map). Each request takes the store's current snapshot once and keeps it for the request,
// so a new snapshot may be published at any time.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/item_entity_map.hpp"
#include "kerec/core/recommendation.hpp"
#include "kerec/graph/feedback.hpp"
#include "kerec/graph/store.hpp"

namespace kerec {

namespace detail {
/// A hint that `p` will be read soon (no effect where the compiler has no such builtin).
inline void prefetch(const void* p) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(p);
#else
    (void)p;
#endif
}
}  // namespace detail

struct U2E2IOptions {
    std::size_t max_context = 20;            ///< most recent context items looked at
    std::size_t max_triggers = 10;           ///< distinct trigger entities kept (largest r_t)
    std::size_t neighbors_per_trigger = 20;  ///< complementary neighbours per trigger (row prefix)
    std::size_t items_per_entity = 50;       ///< best items (by prior) per complementary entity
    std::size_t max_candidates = 1000;       ///< candidates handed to a scorer (best path scores)
    double recency_half_life = 7.0 * 86400;  ///< seconds; 0 = no decay
    float min_prior = 1e-6f;                 ///< floor of the item prior in the path score
    bool exclude_context = true;             ///< never return an item of the context
    bool all_item_entities = false;          ///< context item → all its entities (weight × link score), not only its primary

    void validate() const {
        if (!(recency_half_life >= 0.0))
            throw InvalidArgument(fmt::format("U2E2IOptions: recency_half_life = {} (expected >= 0)", recency_half_life));
        if (!(min_prior >= 0.0f) || !std::isfinite(min_prior))
            throw InvalidArgument(fmt::format("U2E2IOptions: min_prior = {} (expected finite, >= 0)", min_prior));
        if (max_candidates == 0) throw InvalidArgument("U2E2IOptions: max_candidates = 0 (expected >= 1)");
    }
};

/// One recalled item with its best path, as a scorer sees it.
struct RecallCandidate {
    ItemId item;
    EntityId trigger;             ///< trigger entity of the best path
    EntityId entity;              ///< complementary entity the item was reached through
    float edge_weight = 0.0f;     ///< learned w(trigger, entity)
    float llm_confidence = 0.0f;  ///< the LLM's prior of the edge (0 when the graph has none)
    float recency = 0.0f;         ///< r_trigger
    float prior = 0.0f;           ///< the item's prior in the map
    float path_score = 0.0f;      ///< s(entity) · max(prior, min_prior)
};

/// Rescores recalled candidates: one logit (higher = better) per candidate.
template <class S>
concept RecallScorer = requires(S& s, const RecommendRequest& request, std::span<const RecallCandidate> c,
                                std::span<float> logits) {
    s.score(request, c, logits);
};

/// The default: the path score itself (no rescoring pass).
struct PathScore {
    void score(const RecommendRequest&, std::span<const RecallCandidate> c, std::span<float> logits) const noexcept {
        for (std::size_t i = 0; i < c.size(); ++i) logits[i] = c[i].path_score;
    }
};

/// The LLM's rationale of an edge from → to (empty when unknown). Must be safe to call from
/// several threads; the returned text must outlive the results that view it. Without one, the
/// rationale comes from the graph's own rationale table (graphs built from judgments carry it):
/// it views the request's snapshot, valid while that snapshot is alive (copy it to keep results
/// across a publish).
using RationaleLookup = std::function<std::string_view(EntityId from, EntityId to)>;

template <class Graph, class Scorer>
class U2E2IRecall;

/// Every buffer of one request (reuse it: steady-state requests allocate nothing).
class U2E2IWorkspace {
public:
    std::size_t memory_bytes() const noexcept {
        return triggers_.capacity() * sizeof(Trigger) + entity_mark_.capacity() * sizeof(Mark) + touched_.capacity() * sizeof(Touched) +
               item_mark_.capacity() * 4 + cursors_.capacity() * sizeof(Cursor) + heap_.capacity() * sizeof(HeapEntry) +
               tied_.capacity() * sizeof(Tied) +
               (candidates_.capacity() + grouped_.capacity()) * sizeof(RecallCandidate) +
               (via_.capacity() + grouped_via_.capacity() + group_start_.capacity() + logits_.capacity() + order_.capacity()) * 4;
    }

private:
    template <class, class>
    friend class U2E2IRecall;
    static constexpr std::uint64_t no_edge = std::numeric_limits<std::uint64_t>::max();
    struct Trigger {
        EntityId entity;
        float weight;
    };
    struct Touched {
        EntityId entity;
        float score;       // s(c)
        float best;        // r_t · w(t, c) of the best path
        EntityId trigger;  // of the best path
        float edge_weight, llm_confidence, recency;
        std::uint64_t edge;  // edge index of trigger → entity in the snapshot (no_edge if the graph has none)
        const ItemId* ids;   // the entity's item row, capped at items_per_entity
        const float* priors;
        std::uint32_t items;
    };
    struct Mark {  // stamp == the request's stamp: slot is valid for this request (one cache line access)
        std::uint32_t stamp = 0, slot = 0;
    };
    struct Cursor {  // the next unread item of one complementary entity's (capped) item row
        const ItemId* id;    // this item in the row
        const float* prior;
        std::ptrdiff_t step;  // +1; −1 when s(c) < 0 (then a lower prior scores higher)
        std::uint32_t slot;  // index into touched_
        std::uint32_t left;  // items of the row not yet read, this one included
    };
    struct HeapEntry {  // a max-heap on the path score of each cursor's next item
        float score;
        std::uint32_t cursor;
    };
    struct Tied {  // one item of a run of equal path scores
        ItemId item;
        std::uint32_t slot;
        float prior;
    };

    std::uint32_t next_stamp(std::size_t entities, std::size_t items) {
        if (entity_mark_.size() < entities) entity_mark_.resize(entities);
        if (item_mark_.size() < items) item_mark_.resize(items);
        if (++stamp_ == 0) {  // wrapped: forget every mark
            std::fill(entity_mark_.begin(), entity_mark_.end(), Mark{});
            std::fill(item_mark_.begin(), item_mark_.end(), 0u);
            stamp_ = 1;
        }
        return stamp_;
    }

    std::uint32_t stamp_ = 0;
    std::vector<Trigger> triggers_;
    std::vector<Mark> entity_mark_;  // entity → index into touched_
    std::vector<Touched> touched_;
    std::vector<std::uint32_t> item_mark_;  // item → stamp of the request that took or excluded it
    std::vector<Cursor> cursors_;
    std::vector<HeapEntry> heap_;
    std::vector<Tied> tied_;
    std::vector<RecallCandidate> candidates_;
    std::vector<std::uint32_t> via_;  // candidate → index into touched_ (its path)
    std::vector<RecallCandidate> grouped_;  // with a scorer: the candidates grouped by path
    std::vector<std::uint32_t> grouped_via_, group_start_;
    std::vector<float> logits_;
    std::vector<std::uint32_t> order_;
};

/// U2E2I recall over a GraphStore (or one fixed snapshot) and an ItemEntityMap. See the file
/// comment. `Graph` needs top_k(EntityId, k) rows of targets/weights (payload with `.prior` for
/// the LLM confidence, optional; `first` edge index and rationale(edge) for the graph's
/// rationales, optional); Recommender.
template <class Graph = FeedbackGraph, class Scorer = PathScore>
class U2E2IRecall {
    static_assert(RecallScorer<Scorer>);
    static constexpr bool path_score_only = std::is_same_v<Scorer, PathScore>;

public:
    using graph_type = Graph;
    using scorer_type = Scorer;

    /// Serves the store's current snapshot (taken once per request). The store and the map must
    /// outlive the recall; the map must not change while requests run.
    U2E2IRecall(const GraphStore<Graph>& store, const ItemEntityMap& map, U2E2IOptions options = {}, Scorer scorer = {},
                RationaleLookup rationale = {})
        : store_(&store), map_(&map), opt_(options), scorer_(std::move(scorer)), rationale_(std::move(rationale)) {
        opt_.validate();
    }
    /// Serves one fixed snapshot.
    U2E2IRecall(std::shared_ptr<const Graph> graph, const ItemEntityMap& map, U2E2IOptions options = {}, Scorer scorer = {},
                RationaleLookup rationale = {})
        : fixed_(std::move(graph)), map_(&map), opt_(options), scorer_(std::move(scorer)), rationale_(std::move(rationale)) {
        if (!fixed_) throw InvalidArgument("U2E2IRecall: null graph");
        opt_.validate();
    }

    const U2E2IOptions& options() const noexcept { return opt_; }
    Scorer& scorer() noexcept { return scorer_; }
    const ItemEntityMap& map() const noexcept { return *map_; }
    std::shared_ptr<const Graph> snapshot() const { return store_ ? store_->current() : fixed_; }

    /// Recommender: fills `out` with at most request.k items, best first, using this object's
    /// workspace and scorer (one object per thread).
    void recommend(const RecommendRequest& request, std::vector<Recommendation>& out) {
        recommend(request, out, ws_, scorer_);
    }

    /// The same with the caller's workspace and scorer (const: share one recall between threads).
    void recommend(const RecommendRequest& request, std::vector<Recommendation>& out, U2E2IWorkspace& ws, Scorer& scorer) const {
        out.clear();
        const auto graph = snapshot();  // kept for the whole request
        const std::span<const RecallCandidate> cands = recall(*graph, request, ws);
        if (cands.empty()) return;
        const std::size_t n = cands.size();
        std::size_t k = std::min(request.k, n);
        auto& order = ws.order_;
        order.resize(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
        ws.logits_.resize(n);
        if constexpr (path_score_only) {  // recall() already gave the top K in order
            for (std::size_t i = 0; i < n; ++i) ws.logits_[i] = cands[i].path_score;
        } else {
            scorer.score(request, cands, std::span<float>(ws.logits_.data(), n));
            for (std::size_t i = 0; i < n; ++i)
                if (!std::isfinite(ws.logits_[i]))
                    throw Error(fmt::format("U2E2IRecall: the scorer gave {} for item {} (candidate {})", ws.logits_[i], cands[i].item, i));
            const auto better = [&](std::uint32_t a, std::uint32_t b) {
                const float la = ws.logits_[a], lb = ws.logits_[b];
                return la != lb ? la > lb : cands[a].item < cands[b].item;
            };
            if (k < n) std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(), better);
            std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), better);
        }
        out.reserve(k);
        for (std::size_t r = 0; r < k; ++r) {
            const RecallCandidate& c = cands[order[r]];
            Explanation why{c.trigger, c.entity, c.edge_weight, c.llm_confidence, {}};
            if (rationale_) {
                why.rationale = rationale_(c.trigger, c.entity);
            } else if constexpr (requires { graph->rationale(std::uint64_t{}); }) {
                const std::uint64_t e = ws.touched_[ws.via_[order[r]]].edge;
                if (e != U2E2IWorkspace::no_edge) why.rationale = graph->rationale(e);
            }
            out.push_back(Recommendation{c.item, ws.logits_[order[r]], why});
        }
    }

    /// The candidate set of a request before scoring: deduplicated, exclusions applied, the best
    /// path scores — with the path score, at most request.k of them, best first (ties by item id);
    /// with a scorer, at most options().max_candidates, grouped by path (in the order the paths
    /// were found), each group best first. Views `ws`.
    std::span<const RecallCandidate> recall(const Graph& graph, const RecommendRequest& request, U2E2IWorkspace& ws) const {
        const ItemEntityMap& map = *map_;
        ws.candidates_.clear();
        ws.via_.clear();
        ws.triggers_.clear();
        ws.touched_.clear();
        ws.cursors_.clear();
        ws.heap_.clear();
        if (request.k == 0) return {};
        const std::uint32_t stamp = ws.next_stamp(map.entity_count(), map.item_count());

        // 1. Exclusions (items the caller names, and the context itself).
        auto exclude = [&](ItemId i, const char* what) {
            if (!i.valid()) return;
            if (i.index() >= map.item_count())
                throw OutOfRange(fmt::format("U2E2IRecall: {} item {} (expected < {})", what, i, map.item_count()));
            ws.item_mark_[i.index()] = stamp;
        };
        for (ItemId i : request.exclude) exclude(i, "excluded");

        // 2. Trigger entities with recency weights (most recent context first), heaviest first.
        const auto ctx = request.context;
        const std::size_t take = std::min(ctx.size(), opt_.max_context);
        const double rate = opt_.recency_half_life > 0.0 ? 1.0 / opt_.recency_half_life : 0.0;
        for (std::size_t j = 0; j < take; ++j) {
            const HistoryItem& h = ctx[ctx.size() - 1 - j];
            if (!h.item.valid()) continue;
            const auto ents = map.entities(h.item);  // throws OutOfRange
            if (opt_.exclude_context) exclude(h.item, "context");
            const double age = std::max<double>(0.0, static_cast<double>(request.now - h.time));
            const float r = static_cast<float>(std::exp2(-age * rate));
            const std::size_t ne = opt_.all_item_entities ? ents.size() : std::min<std::size_t>(1, ents.size());
            for (std::size_t q = 0; q < ne; ++q) {
                const float w = opt_.all_item_entities ? r * ents.values[q] : r;
                auto it = std::find_if(ws.triggers_.begin(), ws.triggers_.end(), [&](const auto& t) { return t.entity == ents.ids[q]; });
                if (it != ws.triggers_.end())
                    it->weight += w;
                else
                    ws.triggers_.push_back({ents.ids[q], w});
            }
        }
        for (const auto& t : ws.triggers_)
            if (!std::isfinite(t.weight))
                throw Error(fmt::format("U2E2IRecall: trigger entity {} weighs {} (context link scores overflow float)", t.entity, t.weight));
        std::sort(ws.triggers_.begin(), ws.triggers_.end(),
                  [](const auto& a, const auto& b) { return a.weight != b.weight ? a.weight > b.weight : a.entity < b.entity; });
        if (ws.triggers_.size() > opt_.max_triggers) ws.triggers_.resize(opt_.max_triggers);

        // 3. Complementary entities: s(c) = Σ_t r_t w(t, c), best path kept (first on ties).
        for (const auto& t : ws.triggers_) {
            const auto row = graph.top_k(t.entity, opt_.neighbors_per_trigger);
            for (std::size_t j = 0; j < row.size(); ++j)  // the marks are random reads: issue them together
                if (row.targets[j].index() < ws.entity_mark_.size()) detail::prefetch(&ws.entity_mark_[row.targets[j].index()]);
            for (std::size_t j = 0; j < row.size(); ++j) {
                const EntityId c = row.targets[j];
                if (!c.valid() || c.index() >= map.entity_count())
                    throw OutOfRange(fmt::format("U2E2IRecall: graph edge {} -> {} names an entity outside the item map (expected < {})",
                                                 t.entity, c, map.entity_count()));
                const float w = row.weights[j];
                const float contrib = t.weight * w;
                float conf = 0.0f;
                if constexpr (requires { row.payload[j].prior; }) conf = row.payload[j].prior;
                std::uint64_t edge = U2E2IWorkspace::no_edge;
                if constexpr (requires { row.first; }) edge = static_cast<std::uint64_t>(row.first + j);
                auto& mark = ws.entity_mark_[c.index()];
                if (mark.stamp != stamp) {
                    mark = {stamp, static_cast<std::uint32_t>(ws.touched_.size())};
                    const auto items = map.items(c);
                    const auto m = static_cast<std::uint32_t>(std::min(items.size(), opt_.items_per_entity));
                    detail::prefetch(items.ids.data()), detail::prefetch(items.values.data());  // read by step 4
                    ws.touched_.push_back({c, contrib, contrib, t.entity, w, conf, t.weight, edge, items.ids.data(), items.values.data(), m});
                    continue;
                }
                auto& e = ws.touched_[mark.slot];
                e.score += contrib;
                if (contrib > e.best)
                    e.best = contrib, e.trigger = t.entity, e.edge_weight = w, e.llm_confidence = conf, e.recency = t.weight, e.edge = edge;
            }
        }

        // 4. The best L items by path score: a best-first merge of the entities' item rows. A row
        // is ranked by prior, so its path scores s(c) · max(prior, min_prior) never rise along it
        // (read backwards when s(c) < 0). An item's first pop is its best path; later pops are
        // skipped. A run of equal scores is taken whole and ordered by (item, path found first).
        const std::size_t L = path_score_only ? request.k : opt_.max_candidates;
        const float floor = opt_.min_prior;
        auto& cursors = ws.cursors_;
        auto& heap = ws.heap_;
        for (std::uint32_t slot = 0; slot < ws.touched_.size(); ++slot) {
            const auto& e = ws.touched_[slot];
            if (!std::isfinite(e.score))
                throw Error(fmt::format("U2E2IRecall: complementary entity {} scores {} (recency × edge weight overflows float)", e.entity, e.score));
            const std::uint32_t m = e.items;
            if (m == 0) continue;
            const std::ptrdiff_t step = e.score < 0.0f ? -1 : 1;
            const std::size_t first = step > 0 ? 0 : m - 1;
            heap.push_back({e.score * std::max(e.priors[first], floor), static_cast<std::uint32_t>(cursors.size())});
            cursors.push_back({e.ids + first, e.priors + first, step, slot, m});
            detail::prefetch(&ws.item_mark_[e.ids[first].index()]);  // each pop reads its item's mark: fetch it early
        }
        const auto lower = [](const U2E2IWorkspace::HeapEntry& a, const U2E2IWorkspace::HeapEntry& b) { return a.score < b.score; };
        std::make_heap(heap.begin(), heap.end(), lower);
        const auto sift_down = [&heap] {  // restore the heap after heap[0] changed
            const auto v = heap[0];
            const std::size_t n = heap.size();
            std::size_t i = 0;
            for (std::size_t c = 1; c < n; i = c, c = 2 * c + 1) {
                if (c + 1 < n && heap[c + 1].score > heap[c].score) ++c;
                if (!(heap[c].score > v.score)) break;
                heap[i] = heap[c];
            }
            heap[i] = v;
        };
        auto& tied = ws.tied_;
        while (!heap.empty() && ws.candidates_.size() < L) {
            const float p = heap.front().score;
            tied.clear();
            do {  // every unread item scoring p
                auto& c = cursors[heap.front().cursor];
                if (ws.item_mark_[c.id->index()] != stamp) tied.push_back({*c.id, c.slot, *c.prior});
                if (--c.left == 0) {
                    heap.front() = heap.back();
                    heap.pop_back();
                } else {
                    c.id += c.step, c.prior += c.step;
                    heap.front().score = ws.touched_[c.slot].score * std::max(*c.prior, floor);
                    detail::prefetch(&ws.item_mark_[c.id->index()]);
                }
                if (!heap.empty()) sift_down();
            } while (!heap.empty() && heap.front().score == p);
            if (tied.size() > 1)
                std::sort(tied.begin(), tied.end(), [](const auto& a, const auto& b) { return a.item != b.item ? a.item < b.item : a.slot < b.slot; });
            for (const auto& t : tied) {
                if (ws.candidates_.size() == L) break;
                auto& mark = ws.item_mark_[t.item.index()];
                if (mark == stamp) continue;  // the same item through a later path of the run
                mark = stamp;
                const auto& e = ws.touched_[t.slot];
                ws.candidates_.push_back(RecallCandidate{t.item, e.trigger, e.entity, e.edge_weight, e.llm_confidence, e.recency, t.prior, p});
                ws.via_.push_back(t.slot);
            }
        }
        if constexpr (!path_score_only) {
            // A scorer reads each candidate's trigger and entity (e.g. their embedding rows): hand
            // it the candidates of one path together (by path, then path score), as a scan would.
            auto& start = ws.group_start_;
            start.assign(ws.touched_.size() + 1, 0);
            for (const std::uint32_t v : ws.via_) ++start[v + 1];
            for (std::size_t e = 0; e < ws.touched_.size(); ++e) start[e + 1] += start[e];
            ws.grouped_.resize(ws.candidates_.size());
            ws.grouped_via_.resize(ws.candidates_.size());
            for (std::size_t i = 0; i < ws.candidates_.size(); ++i) {
                const std::uint32_t to = start[ws.via_[i]]++;
                ws.grouped_[to] = ws.candidates_[i], ws.grouped_via_[to] = ws.via_[i];
            }
            std::swap(ws.candidates_, ws.grouped_);
            std::swap(ws.via_, ws.grouped_via_);
        }
        return ws.candidates_;
    }

private:
    const GraphStore<Graph>* store_ = nullptr;
    std::shared_ptr<const Graph> fixed_;
    const ItemEntityMap* map_;
    U2E2IOptions opt_;
    Scorer scorer_;
    RationaleLookup rationale_;
    U2E2IWorkspace ws_;
};

}  // namespace kerec
