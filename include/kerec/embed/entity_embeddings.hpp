// kerec/embed/entity_embeddings.hpp — EntityEmbeddings<Scalar>: one vector per entity.
//
// The paper represents every entity from a first-order (substitutable) and a second-order
// (complementary) view, h1 and h2, and feeds the final representation to the E-E-I model. All
// three are this type: an Eigen row-major matrix E ∈ R^{n×d}, row e = the vector of entity e,
// contiguous so that a row is one cache-friendly span and the table is one .npy file (shape
// (n, d), '<f4' or '<f8'). row()/cosine() O(d); save/load O(n·d); loads reject NaN/Inf.
#pragma once

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <span>
#include <utility>

#include <Eigen/Core>
#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/npy.hpp"

namespace kerec {

template <class Scalar = float>
class EntityEmbeddings {
    static_assert(std::is_floating_point_v<Scalar>, "EntityEmbeddings<Scalar>: Scalar is float or double");

public:
    using scalar_type = Scalar;
    using Matrix = RowMatrix<Scalar>;

    EntityEmbeddings() = default;
    /// n entities × dim, zero-filled.
    EntityEmbeddings(std::size_t n, std::size_t dim)
        : m_(Matrix::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim))) {}
    /// Adopts a matrix (one row per entity). Throws InvalidArgument on a NaN/Inf entry.
    explicit EntityEmbeddings(Matrix m) : m_(std::move(m)) { check_finite("EntityEmbeddings"); }

    std::size_t size() const noexcept { return static_cast<std::size_t>(m_.rows()); }
    std::size_t dim() const noexcept { return static_cast<std::size_t>(m_.cols()); }
    bool empty() const noexcept { return m_.rows() == 0; }

    Matrix& matrix() noexcept { return m_; }
    const Matrix& matrix() const noexcept { return m_; }

    /// Entity e's vector. Throws OutOfRange for an id outside the table.
    auto row(EntityId e) { return m_.row(index(e)); }
    auto row(EntityId e) const { return m_.row(index(e)); }
    std::span<const Scalar> span(EntityId e) const { return {m_.data() + index(e) * m_.cols(), dim()}; }

    /// cos(h(a), h(b)); 0 when either vector is zero.
    Scalar cosine(EntityId a, EntityId b) const {
        const auto x = row(a), y = row(b);
        const Scalar nx = x.norm(), ny = y.norm();
        return nx > 0 && ny > 0 ? x.dot(y) / (nx * ny) : Scalar(0);
    }

    /// Writes a (size, dim) .npy atomically.
    void save(const std::filesystem::path& path) const { save_npy(path, m_); }
    /// Reads a (n, d) .npy of this Scalar; NaN/Inf, a wrong dtype/rank or a truncated file throw.
    static EntityEmbeddings load(const std::filesystem::path& path) {
        EntityEmbeddings e;
        e.m_ = load_npy<Scalar>(path);
        e.check_finite(path.string());
        return e;
    }

private:
    Eigen::Index index(EntityId e) const {
        if (!e.valid() || e.index() >= size())
            throw OutOfRange(fmt::format("EntityEmbeddings: entity {} (expected < {})", e, size()));
        return static_cast<Eigen::Index>(e.index());
    }
    void check_finite(const std::string& where) const {
        for (Eigen::Index r = 0; r < m_.rows(); ++r)
            for (Eigen::Index c = 0; c < m_.cols(); ++c)
                if (!std::isfinite(m_(r, c)))
                    throw InvalidArgument(fmt::format("{}: entry ({}, {}) is {} (expected finite)", where, r, c, m_(r, c)));
    }

    Matrix m_;
};

}  // namespace kerec
