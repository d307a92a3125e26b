// kerec/sim/score.hpp — scoring the knowledge-graph stages against a sim::World's hidden truth.
//
// traffic_coverage: the share of purchase traffic carried by hidden complementary edges whose pair
// was generated (sum of TrueEdge::traffic over covered edges). edge_precision_recall: a predicted
// directed edge set vs the hidden one. strength_spearman: Spearman between predicted weights and the
// hidden strengths over the predicted edges that are true; graph_strength_spearman the same over
// every edge of a graph (false ones have strength 0). noisy_judgments is an LLM stand-in that knows
// *whether* but hardly *how much*. For representations and recall: substitute_precision_at_k
// (neighbours in the entity's hidden substitute group / k), hidden_edges_missing_from (hidden edges
// a graph lacks) and edge_recall_at_k (share of hidden edges a → b with b in the top k for a).
// All O((|pairs| + |edges|) log) or better.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <span>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/random.hpp"
#include "kerec/core/stats.hpp"
#include "kerec/llm/judgment.hpp"
#include "kerec/pairs/entity_pair.hpp"
#include "kerec/sim/world.hpp"

namespace kerec::sim {

/// Share of complementary purchase traffic whose edge (from, to) is among `pairs`. With
/// `ordered == false` a pair covers both directions.
inline double traffic_coverage(const World& world, std::span<const EntityPair> pairs, bool ordered) {
    std::unordered_set<EntityPair> set;
    set.reserve(pairs.size() * 2);
    for (auto p : pairs) set.insert(ordered ? p : p.canonical());
    double covered = 0.0;
    for (const auto& e : world.complement_edges()) {
        const EntityPair p{e.from, e.to};
        if (set.count(ordered ? p : p.canonical())) covered += e.traffic;
    }
    return covered;
}

/// Precision/recall of a predicted set of directed complementary edges against the hidden graph.
/// With `ordered == false` a predicted pair matches a hidden edge in either direction, and recall
/// counts hidden edges whose unordered pair is predicted.
inline PrecisionRecall edge_precision_recall(const World& world, std::span<const EntityPair> predicted, bool ordered = true) {
    PrecisionRecall pr;
    std::unordered_set<EntityPair> pred;
    pred.reserve(predicted.size() * 2);
    for (auto p : predicted) pred.insert(ordered ? p : p.canonical());
    std::unordered_set<EntityPair> truth;
    truth.reserve(world.complement_edges().size() * 2);
    for (const auto& e : world.complement_edges()) {
        const EntityPair p{e.from, e.to};
        truth.insert(ordered ? p : p.canonical());
    }
    for (const auto& p : pred) (truth.count(p) ? pr.tp : pr.fp)++;
    for (const auto& p : truth) pr.fn += pred.count(p) ? 0 : 1;
    return pr;
}

/// Spearman correlation between `weights[i]` of predicted edge `edges[i]` and the hidden strength,
/// over the predicted edges that are true complementary edges (the question is "how much", given
/// "whether"). Returns 0 with fewer than two true edges.
inline double strength_spearman(const World& world, std::span<const EntityPair> edges, std::span<const double> weights) {
    if (edges.size() != weights.size())
        throw InvalidArgument(fmt::format("strength_spearman: {} edges but {} weights", edges.size(), weights.size()));
    std::vector<double> w, s;
    for (std::size_t i = 0; i < edges.size(); ++i) {
        const float truth = world.strength(edges[i].a, edges[i].b);
        if (truth > 0.0f) {
            w.push_back(weights[i]);
            s.push_back(truth);
        }
    }
    return w.size() < 2 ? 0.0 : spearman(w, s);
}

/// Spearman correlation between the weights of every edge of `graph` (anything with node_count()
/// and neighbors(EntityId) rows of targets/weights) and the hidden strengths, 0 for false edges.
template <class Graph>
double graph_strength_spearman(const World& world, const Graph& graph) {
    std::vector<double> w, s;
    for (std::uint32_t a = 0; a < graph.node_count(); ++a) {
        const auto row = graph.neighbors(EntityId(a));
        for (std::size_t j = 0; j < row.size(); ++j) {
            w.push_back(row.weights[j]);
            s.push_back(world.strength(EntityId(a), row.targets[j]));
        }
    }
    return spearman(w, s);
}

/// Precision@k of a nearest-neighbour list against the hidden substitute groups: the share of the
/// first `k` neighbours other than `entity` itself (k = 0: all of them) that share its group.
/// Returns 0 for an empty list. The ceiling is min(k, |group| - 1) / k for small groups.
inline double substitute_precision_at_k(const World& world, EntityId entity, std::span<const EntityId> neighbours,
                                        std::size_t k = 0) {
    const auto group = world.group_of(entity);
    std::size_t considered = 0, same = 0;
    for (const EntityId n : neighbours) {
        if (k && considered == k) break;
        if (n == entity) continue;
        ++considered;
        same += world.group_of(n) == group;
    }
    return considered ? static_cast<double>(same) / static_cast<double>(considered) : 0.0;
}

/// The hidden complementary edges a → b (with their strength) that `graph` does not contain, in
/// the order of complement_edges() (by source, then target). `graph` is anything with node_count()
/// and neighbors(EntityId) rows with `targets` (e.g. a ComplementaryGraph); sources at or beyond
/// node_count() have no edges in it. The truth for "recall beyond the known graph".
template <class Graph>
std::vector<TrueEdge> hidden_edges_missing_from(const World& world, const Graph& graph) {
    std::vector<TrueEdge> out;
    std::vector<EntityId> row;
    const auto nodes = static_cast<std::size_t>(graph.node_count());
    for (std::uint32_t a = 0; a < world.entity_info().size(); ++a) {
        const auto hidden = world.complements_of(EntityId{a});
        if (hidden.empty()) continue;
        row.clear();
        if (a < nodes)
            for (const EntityId t : graph.neighbors(EntityId{a}).targets) row.push_back(t);
        std::sort(row.begin(), row.end());
        for (const auto& e : hidden)
            if (!std::binary_search(row.begin(), row.end(), e.to)) out.push_back(e);
    }
    return out;
}

/// Recall@k over a list of hidden edges a → b: the share of `edges` whose target is among the
/// first k entities of `ranked(a)` (any range of EntityId, best first; e.g. predicted complements
/// with the known ones excluded). ranked is called once per run of equal sources, so once per
/// source when `edges` is sorted by source (as complement_edges() and hidden_edges_missing_from
/// are). Returns 0 for no edges. O(|edges| + sources · k).
template <class Ranked>
double edge_recall_at_k(std::span<const TrueEdge> edges, std::size_t k, Ranked&& ranked) {
    if (edges.empty()) return 0.0;
    std::size_t hit = 0;
    std::vector<EntityId> top;
    for (std::size_t i = 0; i < edges.size();) {
        const EntityId a = edges[i].from;
        top.clear();
        for (const EntityId b : ranked(a)) {
            if (top.size() == k) break;
            top.push_back(b);
        }
        for (; i < edges.size() && edges[i].from == a; ++i)
            hit += std::find(top.begin(), top.end(), edges[i].to) != top.end();
    }
    return static_cast<double>(hit) / static_cast<double>(edges.size());
}

struct NoisyJudgmentOptions {
    double miss_share = 0.0;             ///< true complements the stand-in misses
    double false_positive_share = 0.2;   ///< random non-complements said yes, as a share of the yes answers
    std::string model = "noisy";
};

/// An LLM stand-in for graph experiments: "yes" for the true complements (minus misses) with a
/// confidence that barely tracks strength, c = clamp(0.78 + 0.1 N(0,1) + 0.1 (s - 0.5), 0.5, 0.99),
/// plus false positives with confidence U[0.5, 0.95). Deterministic for a seed.
inline std::vector<Judgment> noisy_judgments(const World& world, std::uint64_t seed, const NoisyJudgmentOptions& options = {}) {
    Rng rng(seed);
    std::vector<Judgment> js;
    for (const auto& e : world.complement_edges()) {
        if (options.miss_share > 0.0 && rng.bernoulli(options.miss_share)) continue;
        const double c = std::clamp(0.78 + 0.1 * rng.normal() + 0.1 * (e.strength - 0.5), 0.5, 0.99);
        js.push_back(Judgment{e.from, e.to, Label::yes, static_cast<float>(c), "", options.model, "v1", 0});
    }
    const auto fps = static_cast<std::size_t>(options.false_positive_share * static_cast<double>(js.size()));
    const auto n = world.entity_info().size();
    for (std::size_t k = 0; k < fps; ++k) {
        const EntityId a(static_cast<std::uint32_t>(rng.uniform_int(n))), b(static_cast<std::uint32_t>(rng.uniform_int(n)));
        if (a == b || world.strength(a, b) > 0) continue;
        js.push_back(Judgment{a, b, Label::yes, static_cast<float>(rng.uniform(0.5, 0.95)), "", options.model, "v1", 0});
    }
    return js;
}

}  // namespace kerec::sim
