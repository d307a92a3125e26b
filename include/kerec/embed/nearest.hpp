// kerec/embed/nearest.hpp — exact nearest neighbours and predicted complements over embeddings.
//
// Substitutes of e are its nearest neighbours by cosine in h1. Complements generalise through
// substitutes: for entity a with graph neighbours n (normalised weights ŵ),
//   s(a, b) = Σₙ ŵ(a,n)·cos(h(n), h(b)) = (Σₙ ŵ(a,n)·ĥ(n)) · ĥ(b)        (ĥ = h/|h|)
// so predicted complements are a top-k search for one query vector per entity. Exact search:
// blocks of queries × blocks of rows as Eigen matrix products, a k-heap per query.
// O(q·n·d) time, O(n·d) for the normalised copy.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/npy.hpp"
#include "kerec/embed/entity_embeddings.hpp"
#include "kerec/embed/second_order.hpp"

namespace kerec {

template <class Scalar = float>
struct Neighbour {
    EntityId entity;
    Scalar score = 0;  ///< cosine (nearest) or s(a, b) (predicted complements)
};

/// Exact top-k search over the row-normalised copy of a table (zero rows stay zero).
template <class Scalar = float>
class NearestIndex {
public:
    using Matrix = RowMatrix<Scalar>;
    static constexpr Eigen::Index query_block = 256, row_block = 2048;

    explicit NearestIndex(const EntityEmbeddings<Scalar>& h) : n_(h.matrix()) {
        for (Eigen::Index r = 0; r < n_.rows(); ++r) {
            const Scalar norm = n_.row(r).norm();
            if (norm > 0) n_.row(r) /= norm;
        }
    }

    std::size_t size() const noexcept { return static_cast<std::size_t>(n_.rows()); }
    std::size_t dim() const noexcept { return static_cast<std::size_t>(n_.cols()); }
    /// The unit vector of e.
    auto unit(EntityId e) const { return n_.row(index(e)); }

    /// For each query row q_i (dim() values), the k rows with the largest q_i·ĥ(r), best first,
    /// skipping rows r for which skip(i, r) is true. Ties broken by smaller entity id.
    template <class Skip>
    std::vector<std::vector<Neighbour<Scalar>>> search(const Matrix& queries, std::size_t k, Skip&& skip) const {
        if (queries.cols() != n_.cols())
            throw InvalidArgument(fmt::format("NearestIndex::search: queries of dimension {} (expected {})", queries.cols(), n_.cols()));
        const Eigen::Index q = queries.rows(), n = n_.rows();
        std::vector<std::vector<Neighbour<Scalar>>> out(static_cast<std::size_t>(q));
        auto better = [](const Neighbour<Scalar>& a, const Neighbour<Scalar>& b) {  // as heap order: the worst on top
            return a.score != b.score ? a.score > b.score : a.entity < b.entity;
        };
        Matrix scores;
        for (Eigen::Index q0 = 0; q0 < q; q0 += query_block) {
            const Eigen::Index qb = std::min(query_block, q - q0);
            for (Eigen::Index r0 = 0; r0 < n; r0 += row_block) {
                const Eigen::Index rb = std::min(row_block, n - r0);
                scores.noalias() = queries.middleRows(q0, qb) * n_.middleRows(r0, rb).transpose();
                for (Eigen::Index i = 0; i < qb; ++i) {
                    auto& heap = out[static_cast<std::size_t>(q0 + i)];
                    for (Eigen::Index j = 0; j < rb; ++j) {
                        const Neighbour<Scalar> c{EntityId(static_cast<std::uint32_t>(r0 + j)), scores(i, j)};
                        if (heap.size() == k && !better(c, heap.front())) continue;
                        if (skip(static_cast<std::size_t>(q0 + i), c.entity)) continue;
                        if (k == 0) continue;
                        if (heap.size() == k) {
                            std::pop_heap(heap.begin(), heap.end(), better);
                            heap.back() = c;
                        } else {
                            heap.push_back(c);
                        }
                        std::push_heap(heap.begin(), heap.end(), better);
                    }
                }
            }
        }
        for (auto& h : out) std::sort_heap(h.begin(), h.end(), better);
        return out;
    }

    /// The k nearest entities of each query entity by cosine (the entity itself excluded).
    std::vector<std::vector<Neighbour<Scalar>>> nearest(std::span<const EntityId> queries, std::size_t k) const {
        Matrix qv(static_cast<Eigen::Index>(queries.size()), n_.cols());
        for (std::size_t i = 0; i < queries.size(); ++i) qv.row(static_cast<Eigen::Index>(i)) = n_.row(index(queries[i]));
        return search(qv, k, [&](std::size_t i, EntityId r) { return r == queries[i]; });
    }

private:
    Eigen::Index index(EntityId e) const {
        if (!e.valid() || e.index() >= size()) throw OutOfRange(fmt::format("NearestIndex: entity {} (expected < {})", e, size()));
        return static_cast<Eigen::Index>(e.index());
    }
    Matrix n_;
};

/// Predicted complements of each source a: the top k entities b by s(a, b) (file comment),
/// excluding a itself and, with `exclude_known`, a's graph neighbours. A source without graph
/// neighbours gets an empty list. Throws OutOfRange for a source id or when index and neighbours
/// cover different entity counts.
template <class Scalar>
std::vector<std::vector<Neighbour<Scalar>>> predict_complements(const NearestIndex<Scalar>& index, const ComplementNeighbours& nb,
                                                               std::span<const EntityId> sources, std::size_t k, bool exclude_known = true) {
    if (index.size() != nb.entity_count())
        throw OutOfRange(fmt::format("predict_complements: the embeddings cover {} entities, the graph neighbours {}", index.size(),
                                     nb.entity_count()));
    RowMatrix<Scalar> q = RowMatrix<Scalar>::Zero(static_cast<Eigen::Index>(sources.size()), static_cast<Eigen::Index>(index.dim()));
    for (std::size_t i = 0; i < sources.size(); ++i) {
        const auto t = nb.targets(sources[i]);
        const auto w = nb.weights(sources[i]);
        for (std::size_t j = 0; j < t.size(); ++j) q.row(static_cast<Eigen::Index>(i)) += static_cast<Scalar>(w[j]) * index.unit(t[j]);
    }
    auto res = index.search(q, k, [&](std::size_t i, EntityId r) {
        if (r == sources[i]) return true;
        if (!exclude_known) return false;
        const auto t = nb.targets(sources[i]);
        return std::find(t.begin(), t.end(), r) != t.end();
    });
    for (std::size_t i = 0; i < sources.size(); ++i)
        if (!nb.has_neighbours(sources[i])) res[i].clear();
    return res;
}

}  // namespace kerec
