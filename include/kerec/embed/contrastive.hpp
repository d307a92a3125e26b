// kerec/embed/contrastive.hpp — contrastive alignment of the two views: symmetric InfoNCE.
//
// The paper brings the first-order and second-order views of the same entity closer by contrastive
// learning. For a batch e_1..e_B: z_i = normalize(h1(e_i)), p_i = h2(e_i) (second_order.hpp),
// S_ij = z_i·p_j / τ, and the other entities of the batch are the negatives:
//   L = 1/(2B) Σ_i [ -log softmax_j(S_i·)_i  -  log softmax_j(S_·i)_i ]
// Gradients (analytic): G = ∂L/∂S = (R + C - 2I)/(2B) with R, C the row- and column-softmaxes;
// ∂L/∂z_i = (G P)_i/τ, ∂L/∂p_i = (Gᵀ Z)_i/τ; through y = x/|x|: ∂x = (∂y - (∂y·y)y)/|x|; with
// q_i = W a_i: ∂W = ∂Qᵀ A, ∂a_i = Wᵀ ∂q_i, scattered to h1(n) with weight ŵ(e_i, n).
// Since |S_ij| <= 1/τ, exp(S - 1/τ) never overflows (nor underflows for τ >= 0.025): one exp per
// entry serves both softmaxes.
// step() is fused (forward, backward, lazy Adam on the touched rows and on W) and allocates nothing
// once its workspace has grown to the largest batch: its products run Eigen's GEMM kernel on
// packing buffers of the workspace (Eigen's own product would allocate them per call
// above EIGEN_STACK_ALLOCATION_LIMIT, as at B = 1024). O(B²·d + B·d² + Σ degree·d) per step.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/npy.hpp"
#include "kerec/embed/adam.hpp"
#include "kerec/embed/second_order.hpp"

namespace kerec {

namespace detail {
/// res = lhs · rhs (rows × depth times depth × cols; storage orders and strides as given) through
/// Eigen's GEMM kernel, with the packing buffers kept here: Eigen's `noalias() = a * b` allocates
/// them on every call once they exceed EIGEN_STACK_ALLOCATION_LIMIT. Calls Eigen 3.4's
/// internal::general_matrix_matrix_product (the BLAS gemm under EIGEN_USE_BLAS) with the blocking
/// sizes Eigen's own product would use. Allocates only when a product needs larger buffers.
template <class Scalar>
class GemmBuffers {
public:
    template <int LhsOrder, int RhsOrder, int ResOrder>
    void product(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth, const Scalar* lhs, Eigen::Index lhs_stride,
                 const Scalar* rhs, Eigen::Index rhs_stride, Scalar* res, Eigen::Index res_stride) {
        // Eigen computes a row-major result as its transpose: its blocking is in that frame.
        constexpr bool transposed = ResOrder == Eigen::RowMajor;
        Eigen::Index kc = depth, mc = transposed ? cols : rows, nc = transposed ? rows : cols;
        Eigen::internal::computeProductBlockingSizes<Scalar, Scalar, 1>(kc, mc, nc, Eigen::Index{1});
        if (a_.size() < kc * mc) a_.resize(kc * mc);
        if (b_.size() < kc * nc) b_.resize(kc * nc);
        Blocking blocking(a_.data(), b_.data(), mc, nc, kc);
        const Eigen::Index outer = transposed ? rows : cols, inner = transposed ? cols : rows;
        for (Eigen::Index o = 0; o < outer; ++o) std::fill_n(res + o * res_stride, inner, Scalar(0));  // the kernel accumulates
        Eigen::internal::general_matrix_matrix_product<Eigen::Index, Scalar, LhsOrder, false, Scalar, RhsOrder, false, ResOrder, 1>::run(
            rows, cols, depth, lhs, lhs_stride, rhs, rhs_stride, res, 1, res_stride, Scalar(1), blocking, nullptr);
    }

private:
    struct Blocking : Eigen::internal::level3_blocking<Scalar, Scalar> {
        Blocking(Scalar* a, Scalar* b, Eigen::Index mc, Eigen::Index nc, Eigen::Index kc) {
            this->m_blockA = a, this->m_blockB = b, this->m_mc = mc, this->m_nc = nc, this->m_kc = kc;
        }
    };
    Eigen::Matrix<Scalar, Eigen::Dynamic, 1> a_, b_;  // aligned as the kernel's packets need
};
}  // namespace detail

struct InfoNceOptions {
    double temperature = 0.1;  ///< τ (>= 0.025)

    void validate() const {
        if (!(temperature >= 0.025) || !std::isfinite(temperature))
            throw InvalidArgument(fmt::format("InfoNceOptions: temperature = {} (expected >= 0.025: exp(-2/τ) must stay a normal float)", temperature));
    }
};

/// Symmetric InfoNCE between h1 and h2 with a reusable workspace. Not thread-safe (one per thread).
template <class Scalar = float>
class InfoNce {
public:
    using Matrix = RowMatrix<Scalar>;
    using Map = Eigen::Map<Matrix>;
    using ConstMap = Eigen::Map<const Matrix>;
    static constexpr Scalar norm_epsilon = Scalar(1e-12);

    explicit InfoNce(const InfoNceOptions& opt = {}) : opt_(opt) { opt_.validate(); }
    const InfoNceOptions& options() const noexcept { return opt_; }

    /// The loss of one batch (no gradients). See forward_backward() for the checks.
    Scalar loss(const Matrix& h1, const Matrix& W, std::span<const EntityId> batch, const ComplementNeighbours& nb) {
        return run(h1, W, batch, nb, false);
    }

    /// Loss and gradients of one batch, kept in the workspace: touched() rows of the table with
    /// row_gradients(), and w_gradient(). Throws InvalidArgument on shape mismatches (W not d×d,
    /// table rows != nb.entity_count()) and batches of fewer than 2, OutOfRange for a batch id.
    Scalar forward_backward(const Matrix& h1, const Matrix& W, std::span<const EntityId> batch, const ComplementNeighbours& nb) {
        return run(h1, W, batch, nb, true);
    }

    /// Table rows that received a gradient in the last forward_backward(), in first-touch order.
    std::span<const EntityId> touched() const noexcept { return std::span<const EntityId>(touched_).first(touched_count_); }
    /// Their gradients (touched().size() × d).
    ConstMap row_gradients() const noexcept {
        return ConstMap(grad_rows_.data(), static_cast<Eigen::Index>(touched_count_), d_);
    }
    const Matrix& w_gradient() const noexcept { return dW_; }

    /// Fused step: forward_backward(), then Adam on the touched rows of h1 (lazy) and on W, both
    /// with step size scaled by `scale` (the trainer's λ). A non-finite loss updates nothing and is
    /// returned as is (the caller reports the divergence).
    Scalar step(Matrix& h1, Matrix& W, std::span<const EntityId> batch, const ComplementNeighbours& nb, LazyAdam<Scalar>& adam_h1,
                LazyAdam<Scalar>& adam_w, double scale = 1.0) {
        const Scalar l = run(h1, W, batch, nb, true);
        if (!std::isfinite(l)) return l;
        if (adam_h1.rows() != h1.rows() || adam_h1.cols() != h1.cols() || adam_w.rows() != W.rows() || adam_w.cols() != W.cols())
            throw InvalidArgument(fmt::format("InfoNce::step: Adam states are {}×{} and {}×{}, parameters {}×{} and {}×{}",
                                              adam_h1.rows(), adam_h1.cols(), adam_w.rows(), adam_w.cols(), h1.rows(), h1.cols(),
                                              W.rows(), W.cols()));
        adam_h1.begin_step(scale);
        constexpr std::size_t ahead = 4;  // rows prefetched ahead of their update (2 to 8 measure alike)
        for (std::size_t k = 0; k < touched_count_; ++k) {
            if (k + ahead < touched_count_) adam_h1.prefetch_row(h1, touched_[k + ahead].index());
            adam_h1.update_row(h1, touched_[k].index(), grad_rows_.data() + k * static_cast<std::size_t>(d_));
        }
        adam_w.begin_step(scale);
        adam_w.update_all(W, dW_);
        return l;
    }

private:
    template <class V>
    static void grow(V& v, std::size_t n) {
        if (v.size() < n) v.resize(n);
    }

    Scalar run(const Matrix& h1, const Matrix& W, std::span<const EntityId> batch, const ComplementNeighbours& nb, bool backward) {
        const auto B = static_cast<Eigen::Index>(batch.size());
        const Eigen::Index d = h1.cols();
        detail::check_second_order_shapes(static_cast<std::size_t>(h1.rows()), static_cast<std::size_t>(d), W.rows(), W.cols(),
                                          nb.entity_count(), "InfoNce");
        if (B < 2) throw InvalidArgument(fmt::format("InfoNce: batch of {} entities (expected >= 2: the others are the negatives)", B));
        for (std::size_t i = 0; i < batch.size(); ++i)
            if (!batch[i].valid() || batch[i].index() >= static_cast<std::size_t>(h1.rows()))
                throw OutOfRange(fmt::format("InfoNce: batch[{}] = entity {} (expected < {})", i, batch[i], h1.rows()));
        d_ = d;
        const auto Bd = static_cast<std::size_t>(B * d);
        grow(z_, Bd), grow(a_, Bd), grow(p_, Bd), grow(s_, static_cast<std::size_t>(B * B));
        grow(nz_, static_cast<std::size_t>(B)), grow(np_, static_cast<std::size_t>(B)), grow(r_, static_cast<std::size_t>(B)),
            grow(c_, static_cast<std::size_t>(B));
        Map Z(z_.data(), B, d), A(a_.data(), B, d), P(p_.data(), B, d), S(s_.data(), B, B);
        // Forward. Table rows are scattered over far more memory than the caches hold, so the
        // neighbour lists of entity i + 4 and the rows of entity i + 2 are prefetched while entity
        // i is aggregated. With backward, each row that will receive a gradient gets its slot here,
        // while its id is in cache: entries_ lists, per batch entity, its own slot (for ∂z) and then
        // the slots and weights that ∂a is scattered to (itself with weight 1 without neighbours).
        const auto row_bytes = static_cast<std::size_t>(d) * sizeof(Scalar);
        auto row_of = [&](EntityId e) { return h1.data() + e.index() * static_cast<std::size_t>(d); };
        auto prefetch_lists = [&](EntityId e) {
            const auto t = nb.targets(e);
            const auto w = nb.weights(e);
            detail::prefetch_bytes(t.data(), t.size_bytes());
            detail::prefetch_bytes(w.data(), w.size_bytes());
        };
        auto prefetch_rows = [&](EntityId e) {
            detail::prefetch_bytes(row_of(e), row_bytes);
            for (const EntityId t : nb.targets(e)) detail::prefetch_bytes(row_of(t), row_bytes);
        };
        if (backward) {
            if (slot_.size() < static_cast<std::size_t>(h1.rows())) slot_.assign(static_cast<std::size_t>(h1.rows()), -1);
            touched_count_ = 0;
            entries_.clear();
            entry_begin_.clear();
        }
        for (Eigen::Index i = 0; i < B; ++i) {
            const EntityId e = batch[static_cast<std::size_t>(i)];
            if (i + 4 < B) prefetch_lists(batch[static_cast<std::size_t>(i + 4)]);
            if (i + 2 < B) prefetch_rows(batch[static_cast<std::size_t>(i + 2)]);
            Z.row(i) = h1.row(e.index());
            nz_[static_cast<std::size_t>(i)] = Z.row(i).norm();
            Z.row(i) /= std::max(nz_[static_cast<std::size_t>(i)], norm_epsilon);
            aggregate_neighbours(h1, nb, e, A.data() + i * d);
            if (!backward) continue;
            entry_begin_.push_back(entries_.size());
            const std::size_t self = slot_of(e, d);
            entries_.push_back({self, Scalar(0)});
            const auto t = nb.targets(e);
            if (t.empty()) entries_.push_back({self, Scalar(1)});
            const auto w = nb.weights(e);
            for (std::size_t j = 0; j < t.size(); ++j) entries_.push_back({slot_of(t[j], d), static_cast<Scalar>(w[j])});
        }
        if (backward) {
            entry_begin_.push_back(entries_.size());
            for (std::size_t k = 0; k < touched_count_; ++k) slot_[touched_[k].index()] = -1;
        }
        gemm_.template product<Eigen::RowMajor, Eigen::ColMajor, Eigen::RowMajor>(B, d, d, A.data(), d, W.data(), d, P.data(), d);  // Q = A·Wᵀ
        for (Eigen::Index i = 0; i < B; ++i) {
            np_[static_cast<std::size_t>(i)] = P.row(i).norm();
            P.row(i) /= std::max(np_[static_cast<std::size_t>(i)], norm_epsilon);
        }
        gemm_.template product<Eigen::RowMajor, Eigen::ColMajor, Eigen::RowMajor>(B, B, d, Z.data(), d, P.data(), d, S.data(), B);  // S = Z·Pᵀ: cosines; logits are S/τ
        const auto inv_tau = static_cast<Scalar>(1.0 / opt_.temperature);
        grow(dg_, static_cast<std::size_t>(B));
        for (Eigen::Index i = 0; i < B; ++i) dg_[static_cast<std::size_t>(i)] = (S(i, i) - Scalar(1)) * inv_tau;
        // exp((S - 1)/τ) in (e^{-2/τ}, 1] (no overflow, no underflow for τ >= 0.025) and the row and
        // column sums in one pass over S, row by row (a row stays in L1; S itself does not fit L2).
        Eigen::Map<Eigen::Array<Scalar, 1, Eigen::Dynamic>> cs(c_.data(), B);
        cs.setZero();
        for (Eigen::Index i = 0; i < B; ++i) {
            auto row = S.row(i).array();
            row = ((row - Scalar(1)) * inv_tau).exp();
            r_[static_cast<std::size_t>(i)] = row.sum();
            cs += row;
        }
        double total = 0;
        for (Eigen::Index i = 0; i < B; ++i) {
            const auto k = static_cast<std::size_t>(i);
            // -log softmax_row = -(S_ii - 1)/τ + log Σ_j exp((S_ij - 1)/τ); the column term alike.
            total += -2.0 * static_cast<double>(dg_[k]) + std::log(static_cast<double>(r_[k])) + std::log(static_cast<double>(c_[k]));
        }
        const auto loss = static_cast<Scalar>(total / (2.0 * static_cast<double>(B)));
        if (!backward || !std::isfinite(loss)) return loss;

        // Backward: G = (R + C - 2I) / (2B), in place of the exponentials.
        const Scalar g_scale = Scalar(1) / (Scalar(2) * static_cast<Scalar>(B));
        for (Eigen::Index i = 0; i < B; ++i) {
            r_[static_cast<std::size_t>(i)] = g_scale / r_[static_cast<std::size_t>(i)];
            c_[static_cast<std::size_t>(i)] = g_scale / c_[static_cast<std::size_t>(i)];
        }
        for (Eigen::Index i = 0; i < B; ++i) {
            Scalar* row = S.data() + i * B;
            const Scalar inv_r = r_[static_cast<std::size_t>(i)];
            const Scalar* inv_c = c_.data();
            for (Eigen::Index j = 0; j < B; ++j) row[j] *= inv_r + inv_c[j];
            row[i] -= Scalar(2) * g_scale;
        }
        grow(dz_, Bd), grow(dp_, Bd);
        Map dZ(dz_.data(), B, d), dP(dp_.data(), B, d);
        gemm_.template product<Eigen::RowMajor, Eigen::RowMajor, Eigen::RowMajor>(B, d, B, S.data(), B, P.data(), d, dZ.data(), d);  // G·P
        dZ *= inv_tau;
        // Gᵀ·Z into a column-major buffer, then copied: with a row-major destination Eigen packs
        // the B × B operand the slow way (1.45 against 1.07 ms at B = 1024, d = 64).
        grow(dpc_, Bd);
        Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>> dPc(dpc_.data(), B, d);
        gemm_.template product<Eigen::ColMajor, Eigen::RowMajor, Eigen::ColMajor>(B, d, B, S.data(), B, Z.data(), d, dpc_.data(), B);  // Gᵀ·Z
        dP = dPc * inv_tau;
        // Through the normalisations: dZ -> ∂h1(e_i), dP -> ∂q_i.
        for (Eigen::Index i = 0; i < B; ++i) {
            unnormalize(dZ.row(i), Z.row(i), nz_[static_cast<std::size_t>(i)]);
            unnormalize(dP.row(i), P.row(i), np_[static_cast<std::size_t>(i)]);
        }
        dW_.resize(d, d);
        gemm_.template product<Eigen::ColMajor, Eigen::RowMajor, Eigen::RowMajor>(d, d, B, dP.data(), d, A.data(), d, dW_.data(), d);  // ∂Qᵀ·A
        grow(da_, Bd);
        Map dA(da_.data(), B, d);
        gemm_.template product<Eigen::RowMajor, Eigen::RowMajor, Eigen::RowMajor>(B, d, d, dP.data(), d, W.data(), d, dA.data(), d);  // ∂a_i = Wᵀ ∂q_i
        // Scatter to the table rows through the slots of the forward pass.
        for (Eigen::Index i = 0; i < B; ++i) {
            const std::size_t b = entry_begin_[static_cast<std::size_t>(i)], end = entry_begin_[static_cast<std::size_t>(i) + 1];
            using Row = Eigen::Map<Eigen::Array<Scalar, 1, Eigen::Dynamic>>;
            const Eigen::Map<const Eigen::Array<Scalar, 1, Eigen::Dynamic>> dz(dZ.data() + i * d, d), da(dA.data() + i * d, d);
            Row(grad_rows_.data() + entries_[b].slot * static_cast<std::size_t>(d), d) += dz;
            for (std::size_t k = b + 1; k < end; ++k)
                Row(grad_rows_.data() + entries_[k].slot * static_cast<std::size_t>(d), d) += entries_[k].weight * da;
        }
        return loss;
    }

    /// The gradient slot of table row e, opened (zeroed) at its first touch in this batch.
    std::size_t slot_of(EntityId e, Eigen::Index d) {
        std::int32_t& s = slot_[e.index()];
        if (s < 0) {
            s = static_cast<std::int32_t>(touched_count_++);
            grow(touched_, touched_count_);
            grow(grad_rows_, touched_count_ * static_cast<std::size_t>(d));
            touched_[static_cast<std::size_t>(s)] = e;
            std::fill_n(grad_rows_.data() + static_cast<std::size_t>(s) * static_cast<std::size_t>(d), d, Scalar(0));
        }
        return static_cast<std::size_t>(s);
    }

    template <class Grad, class Unit>
    static void unnormalize(Grad&& g, const Unit& y, Scalar norm) {
        if (norm > norm_epsilon) {
            const Scalar dot = g.dot(y);
            g = (g - dot * y) / norm;
        } else {
            g /= norm_epsilon;
        }
    }

    InfoNceOptions opt_;
    detail::GemmBuffers<Scalar> gemm_;
    Eigen::Index d_ = 0;
    std::vector<Scalar> z_, a_, p_, s_, nz_, np_, r_, c_, dg_, dz_, dp_, dpc_, da_, grad_rows_;
    Matrix dW_;
    struct Entry {
        std::size_t slot;
        Scalar weight;
    };
    std::vector<std::int32_t> slot_;
    std::vector<Entry> entries_;
    std::vector<std::size_t> entry_begin_;
    std::vector<EntityId> touched_;
    std::size_t touched_count_ = 0;
};

}  // namespace kerec
