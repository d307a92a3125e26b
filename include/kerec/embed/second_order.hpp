// kerec/embed/second_order.hpp — the second-order (complementary) view h2.
//
// The paper's second-order embedding: an entity is described by what complements it, so entities
// that share complements get close vectors (hot-dog buns and brioche buns both go with sausages).
// Over e's complementary neighbours n in a graph with learned weights w(e, n) >= 0:
//   a(e) = Σₙ w(e,n)·h1(n) / Σₙ w(e,n),    h2(e) = normalize(W · a(e))      (W ∈ R^{d×d})
// Fallback: an entity without neighbours (new, never judged, or whose weights sum to 0) is its own
// context, a(e) = h1(e), so h2(e) = normalize(W·h1(e)) lives in the same space and is never NaN.
// normalize(x) = x / max(|x|, 1e-12) (PyTorch's F.normalize). ComplementNeighbours is the graph's
// CSR with weights divided by their row sum, validated once. h2 of all entities: O((n + m)·d + n·d²).
#pragma once

#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/npy.hpp"
#include "kerec/embed/entity_embeddings.hpp"

namespace kerec {

/// What a complementary graph must offer: node_count() and neighbors(e) with parallel spans
/// `targets` (EntityId) and `weights` (float). ComplementaryGraph<EntityId, P> (FeedbackGraph) is one.
template <class G>
concept NeighbourGraph = requires(const G& g, EntityId e) {
    { g.node_count() } -> std::convertible_to<std::size_t>;
    { g.neighbors(e).targets } -> std::convertible_to<std::span<const EntityId>>;
    { g.neighbors(e).weights } -> std::convertible_to<std::span<const float>>;
};

/// Normalised complementary neighbours (row weights sum to 1), CSR over entity_count() entities.
class ComplementNeighbours {
public:
    ComplementNeighbours() : offsets_{0} {}

    /// From any NeighbourGraph over (at most) `entity_count` entities. Throws InvalidArgument for
    /// a graph without edges or a weight that is NaN, Inf or negative (naming the edge), and
    /// OutOfRange for an edge whose source or target is >= entity_count (the embedding table and
    /// the graph disagree on the number of entities). Self-loops are dropped.
    template <NeighbourGraph G>
    ComplementNeighbours(const G& g, std::size_t entity_count) : offsets_(entity_count + 1, 0) {
        std::uint64_t seen = 0;
        for (std::size_t a = 0; a < g.node_count(); ++a) {
            const EntityId src(static_cast<std::uint32_t>(a));
            const auto row = g.neighbors(src);
            const std::span<const EntityId> t = row.targets;
            const std::span<const float> w = row.weights;
            if (t.empty()) continue;
            if (a >= entity_count)
                throw OutOfRange(fmt::format("ComplementNeighbours: graph node {} has {} edges but the table has {} entities",
                                             a, t.size(), entity_count));
            double sum = 0;
            for (std::size_t j = 0; j < t.size(); ++j) {
                ++seen;
                if (!t[j].valid() || t[j].index() >= entity_count)
                    throw OutOfRange(fmt::format("ComplementNeighbours: edge {} -> {} (expected targets < {} entities)", src, t[j],
                                                 entity_count));
                if (!std::isfinite(w[j]) || w[j] < 0)
                    throw InvalidArgument(fmt::format("ComplementNeighbours: edge {} -> {} has weight {} (expected finite and >= 0)",
                                                      src, t[j], w[j]));
                if (t[j] == src) continue;
                sum += w[j];
            }
            if (!(sum > 0)) continue;  // zero weights: fallback like an entity without neighbours
            for (std::size_t j = 0; j < t.size(); ++j) {
                if (t[j] == src || w[j] == 0.0f) continue;
                targets_.push_back(t[j]);
                weights_.push_back(static_cast<float>(w[j] / sum));
            }
            offsets_[a + 1] = targets_.size();
        }
        if (seen == 0) throw InvalidArgument("ComplementNeighbours: the graph has no edges (expected a complementary graph)");
        for (std::size_t a = 0; a < entity_count; ++a) offsets_[a + 1] = std::max(offsets_[a + 1], offsets_[a]);
    }

    /// From CSR arrays (tests, callers' own graphs); validated like the graph constructor.
    static ComplementNeighbours from_lists(std::span<const std::vector<std::pair<EntityId, float>>> rows, std::size_t entity_count) {
        struct Lists {
            struct Row {
                std::vector<EntityId> targets;
                std::vector<float> weights;
            };
            std::vector<Row> rows;
            std::size_t node_count() const { return rows.size(); }
            struct View {
                std::span<const EntityId> targets;
                std::span<const float> weights;
            };
            View neighbors(EntityId e) const { return {rows[e.index()].targets, rows[e.index()].weights}; }
        } l;
        for (const auto& r : rows) {
            auto& out = l.rows.emplace_back();
            for (auto [t, w] : r) out.targets.push_back(t), out.weights.push_back(w);
        }
        return ComplementNeighbours(l, entity_count);
    }

    std::size_t entity_count() const noexcept { return offsets_.size() - 1; }
    std::uint64_t edge_count() const noexcept { return targets_.size(); }
    bool has_neighbours(EntityId e) const { return degree(e) > 0; }
    std::size_t degree(EntityId e) const {
        const auto i = index(e);
        return static_cast<std::size_t>(offsets_[i + 1] - offsets_[i]);
    }
    /// e's neighbours and their normalised weights (sum 1; empty without neighbours).
    std::span<const EntityId> targets(EntityId e) const {
        const auto i = index(e);
        return std::span<const EntityId>(targets_).subspan(offsets_[i], offsets_[i + 1] - offsets_[i]);
    }
    std::span<const float> weights(EntityId e) const {
        const auto i = index(e);
        return std::span<const float>(weights_).subspan(offsets_[i], offsets_[i + 1] - offsets_[i]);
    }
    /// Entities with at least one neighbour, ascending.
    std::vector<EntityId> sources() const {
        std::vector<EntityId> s;
        for (std::size_t a = 0; a < entity_count(); ++a)
            if (offsets_[a + 1] > offsets_[a]) s.push_back(EntityId(static_cast<std::uint32_t>(a)));
        return s;
    }

private:
    std::size_t index(EntityId e) const {
        if (!e.valid() || e.index() >= entity_count())
            throw OutOfRange(fmt::format("ComplementNeighbours: entity {} (expected < {})", e, entity_count()));
        return e.index();
    }
    std::vector<std::uint64_t> offsets_;
    std::vector<EntityId> targets_;
    std::vector<float> weights_;
};

namespace detail {
inline void check_second_order_shapes(std::size_t rows, std::size_t dim, Eigen::Index w_rows, Eigen::Index w_cols,
                                      std::size_t entities, const char* where) {
    if (w_rows != static_cast<Eigen::Index>(dim) || w_cols != static_cast<Eigen::Index>(dim))
        throw InvalidArgument(fmt::format("{}: W is {}×{} but the table has dimension {} (expected {}×{})", where, w_rows, w_cols,
                                          dim, dim, dim));
    if (rows != entities)
        throw InvalidArgument(fmt::format("{}: the table has {} entities but the graph neighbours cover {}", where, rows, entities));
}
}  // namespace detail

/// a(e) of the file comment (the weighted mean of e's neighbours' h1, or h1(e) without neighbours).
template <class Scalar>
void aggregate_neighbours(const RowMatrix<Scalar>& h1, const ComplementNeighbours& nb, EntityId e, Scalar* out) {
    const auto d = static_cast<std::size_t>(h1.cols());
    const auto t = nb.targets(e);
    if (t.empty()) {
        const Scalar* src = h1.data() + static_cast<std::size_t>(e.index()) * d;
        std::copy(src, src + d, out);
        return;
    }
    const auto w = nb.weights(e);
    std::fill(out, out + d, Scalar(0));
    for (std::size_t j = 0; j < t.size(); ++j) {
        const Scalar* src = h1.data() + static_cast<std::size_t>(t[j].index()) * d;
        const auto wj = static_cast<Scalar>(w[j]);
        for (std::size_t x = 0; x < d; ++x) out[x] += wj * src[x];
    }
}

/// h2 for every entity (the file comment's formula, fallback included). Throws InvalidArgument when
/// W is not dim×dim or the table and the neighbours disagree on the number of entities.
template <class Scalar>
EntityEmbeddings<Scalar> second_order(const EntityEmbeddings<Scalar>& h1, const RowMatrix<Scalar>& W, const ComplementNeighbours& nb) {
    detail::check_second_order_shapes(h1.size(), h1.dim(), W.rows(), W.cols(), nb.entity_count(), "second_order");
    const auto n = static_cast<Eigen::Index>(h1.size()), d = static_cast<Eigen::Index>(h1.dim());
    RowMatrix<Scalar> a(n, d);
    for (Eigen::Index e = 0; e < n; ++e) aggregate_neighbours(h1.matrix(), nb, EntityId(static_cast<std::uint32_t>(e)), a.data() + e * d);
    RowMatrix<Scalar> q = a * W.transpose();
    for (Eigen::Index e = 0; e < n; ++e) q.row(e) /= std::max(q.row(e).norm(), Scalar(1e-12));
    return EntityEmbeddings<Scalar>(std::move(q));
}

}  // namespace kerec
