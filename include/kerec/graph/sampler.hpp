// kerec/graph/sampler.hpp — NeighborSampler: a random out-neighbour drawn in proportion to weight.
//
// Second-order (complementary) embeddings and exploration draw graph neighbours: for node a,
//   P(a -> b) = w(a, b) / sum_c w(a, c)      (uniform over the row when every weight is 0)
// Per row, the running sums of the weights (8 bytes per edge, computed once); a draw is one
// uniform number and a binary search over the row: O(log degree), no allocation. Weights must be
// finite and >= 0. The sampler keeps its own handle on the graph; draws are reproducible from the
// Rng's seed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/random.hpp"
#include "kerec/graph/complementary_graph.hpp"

namespace kerec {

template <class Graph>
class NeighborSampler {
public:
    using Id = typename Graph::id_type;
    using edge_index = typename Graph::edge_index;

    /// Throws InvalidArgument naming the edge when a weight is negative (or not finite).
    explicit NeighborSampler(Graph g) : g_(std::move(g)), cumulative_(g_.edge_count()) {
        const auto off = g_.offsets();
        for (std::size_t r = 0; r < g_.node_count(); ++r) {
            double sum = 0;
            for (std::uint64_t i = off[r]; i < off[r + 1]; ++i) {
                const float w = g_.weight_at(i);
                if (!(w >= 0.0f) || !std::isfinite(w))
                    throw InvalidArgument(fmt::format("NeighborSampler: edge {} ({} -> {}) has weight {} (expected finite, >= 0)",
                                                      i, r, g_.target(i), w));
                cumulative_[i] = sum += static_cast<double>(w);
            }
        }
    }

    const Graph& graph() const noexcept { return g_; }

    /// Edge index of a draw from the out-edges of `from`, or Graph::npos when it has none.
    edge_index sample(Id from, Rng& rng) const noexcept {
        const std::size_t d = g_.degree(from);
        if (d == 0) return Graph::npos;
        const edge_index b = g_.row_begin(from), e = b + d;
        const double total = cumulative_[e - 1];
        if (!(total > 0.0)) return b + rng.uniform_int(d);
        const double x = rng.uniform() * total;  // in [0, total): the first running sum above x
        const auto it = std::upper_bound(cumulative_.begin() + static_cast<std::ptrdiff_t>(b),
                                         cumulative_.begin() + static_cast<std::ptrdiff_t>(e), x);
        return std::min<edge_index>(static_cast<edge_index>(it - cumulative_.begin()), e - 1);
    }

    /// The target of a draw, or nullopt when `from` has no out-edges.
    std::optional<Id> sample_target(Id from, Rng& rng) const noexcept {
        const edge_index i = sample(from, rng);
        if (i == Graph::npos) return std::nullopt;
        return g_.target(i);
    }

    /// Probability that a draw from the source of edge i returns edge i.
    double probability(edge_index i) const noexcept {
        const Id from = g_.source(i);
        const edge_index b = g_.row_begin(from), e = b + g_.degree(from);
        const double total = cumulative_[e - 1];
        if (!(total > 0.0)) return 1.0 / static_cast<double>(e - b);
        return (cumulative_[i] - (i == b ? 0.0 : cumulative_[i - 1])) / total;
    }

private:
    Graph g_;
    std::vector<double> cumulative_;  // running weight sum within each row, per edge
};

}  // namespace kerec
