// kerec/sim/score.hpp — scoring the knowledge-graph stages against a sim::World's hidden truth.
//
// traffic_coverage: the share of purchase traffic carried by hidden complementary edges whose pair
// was generated (sum of TrueEdge::traffic over covered edges). edge_precision_recall: a predicted
// directed edge set vs the hidden one. strength_spearman: Spearman between predicted weights and the
// hidden strengths over the predicted edges that are true. All O((|pairs| + |edges|) log) or better.
#pragma once

#include <algorithm>
#include <span>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "kerec/eval/stats.hpp"
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

}  // namespace kerec::sim
