// kerec/embed/evaluate.hpp — scoring entity representations against known substitutes/complements.
//
// substitute_precision_at_k: for each query, the share of its k nearest neighbours that are true
// substitutes, hits / min(k, r) with r the query's number of substitutes (queries with r = 0 are
// skipped), averaged over queries. missed_complement_recall_at_k: over true complementary edges
// a -> b that the graph does not contain, from sources a with at least one graph neighbour, the
// share for which b is among a's top k predicted complements (nearest.hpp, known edges excluded),
// micro-averaged; random_missed_complement_recall_at_k ranks the same candidates at random.
// O(q·n·d) for the searches.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kerec/core/random.hpp"
#include "kerec/embed/nearest.hpp"
#include "kerec/embed/second_order.hpp"

namespace kerec {

/// `is_substitute(q, r)` -> bool and `substitute_count(q)` -> number of true substitutes of q.
template <class Scalar, class IsSubstitute, class SubstituteCount>
double substitute_precision_at_k(const NearestIndex<Scalar>& index, std::span<const EntityId> queries, std::size_t k,
                                 IsSubstitute&& is_substitute, SubstituteCount&& substitute_count) {
    std::vector<EntityId> q;
    for (auto e : queries)
        if (substitute_count(e) > 0) q.push_back(e);
    if (q.empty() || k == 0) return 0.0;
    const auto res = index.nearest(q, k);
    double sum = 0;
    for (std::size_t i = 0; i < q.size(); ++i) {
        std::size_t hits = 0;
        for (const auto& nb : res[i]) hits += is_substitute(q[i], nb.entity) ? 1 : 0;
        sum += static_cast<double>(hits) / static_cast<double>(std::min<std::size_t>(k, static_cast<std::size_t>(substitute_count(q[i]))));
    }
    return sum / static_cast<double>(q.size());
}

struct MissedRecall {
    double recall = 0;
    std::uint64_t hits = 0;
    std::uint64_t missed_edges = 0;  ///< true edges absent from the graph, from sources with neighbours
    std::uint64_t sources = 0;       ///< sources with at least one such edge
};

namespace detail {
/// The true edges a -> b absent from nb, grouped by a (sources with neighbours only).
inline std::unordered_map<std::uint32_t, std::vector<EntityId>> missed_edges(const ComplementNeighbours& nb,
                                                                            std::span<const std::pair<EntityId, EntityId>> truth) {
    std::unordered_map<std::uint32_t, std::vector<EntityId>> m;
    for (auto [a, b] : truth) {
        if (a == b || !nb.has_neighbours(a) || b.index() >= nb.entity_count()) continue;
        const auto t = nb.targets(a);
        if (std::find(t.begin(), t.end(), b) != t.end()) continue;
        auto& v = m[a.value()];
        if (std::find(v.begin(), v.end(), b) == v.end()) v.push_back(b);
    }
    return m;
}
}  // namespace detail

template <class Scalar>
MissedRecall missed_complement_recall_at_k(const NearestIndex<Scalar>& index, const ComplementNeighbours& nb,
                                           std::span<const std::pair<EntityId, EntityId>> truth, std::size_t k) {
    const auto missed = detail::missed_edges(nb, truth);
    std::vector<EntityId> src;
    for (const auto& [a, v] : missed) src.push_back(EntityId(a));
    std::sort(src.begin(), src.end());
    const auto pred = predict_complements(index, nb, src, k, true);
    MissedRecall r;
    r.sources = src.size();
    for (std::size_t i = 0; i < src.size(); ++i) {
        const auto& want = missed.at(src[i].value());
        r.missed_edges += want.size();
        for (const auto& p : pred[i]) r.hits += std::find(want.begin(), want.end(), p.entity) != want.end() ? 1 : 0;
    }
    r.recall = r.missed_edges ? static_cast<double>(r.hits) / static_cast<double>(r.missed_edges) : 0.0;
    return r;
}

/// The same candidates (every entity but a and its known neighbours) ranked at random (seeded).
inline MissedRecall random_missed_complement_recall_at_k(const ComplementNeighbours& nb, std::span<const std::pair<EntityId, EntityId>> truth,
                                                         std::size_t k, std::uint64_t seed) {
    const auto missed = detail::missed_edges(nb, truth);
    std::vector<std::uint32_t> src;
    for (const auto& [a, v] : missed) src.push_back(a);
    std::sort(src.begin(), src.end());
    Rng rng(seed);
    MissedRecall r;
    r.sources = src.size();
    const std::size_t n = nb.entity_count();
    std::vector<EntityId> picked;
    for (auto a : src) {
        const EntityId ea(a);
        const auto& want = missed.at(a);
        r.missed_edges += want.size();
        const auto known = nb.targets(ea);
        const std::size_t candidates = n - 1 - known.size();
        picked.clear();
        for (std::size_t tries = 0; picked.size() < std::min(k, candidates) && tries < 100 * k; ++tries) {
            const EntityId b(static_cast<std::uint32_t>(rng.uniform_int(n)));
            if (b == ea || std::find(known.begin(), known.end(), b) != known.end() ||
                std::find(picked.begin(), picked.end(), b) != picked.end())
                continue;
            picked.push_back(b);
        }
        for (auto b : picked) r.hits += std::find(want.begin(), want.end(), b) != want.end() ? 1 : 0;
    }
    r.recall = r.missed_edges ? static_cast<double>(r.hits) / static_cast<double>(r.missed_edges) : 0.0;
    return r;
}

}  // namespace kerec
