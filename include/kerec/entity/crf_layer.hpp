// kerec/entity/crf_layer.hpp — the CRF layer of BERT-CRF: a linear-chain CRF over BIO tags.
//
// The paper's entity extractor is BERT-CRF; this is its CRF half, usable on its own through the
// emission hook: any encoder (a BERT run in the caller's runtime, or kerec's hashed-feature
// tagger) supplies a T×3 emission matrix E (row-major, tags O=0, B=1, I=2) and the layer adds
// transitions A, start and stop scores:
//   score(y) = start[y0] + Σ_t E[t, y_t] + Σ_{t>0} A[y_{t-1}, y_t] + stop[y_{T-1}],
//   P(y | x) = exp(score(y)) / Z,  Z = Σ_y exp(score(y))   (O→I and a leading I are forbidden).
// Forward-backward in log space gives log Z, unary/pairwise marginals, the negative
// log-likelihood and its gradient (marginals − gold indicators) with respect to the emissions and
// the layer's own parameters, so a caller can back-propagate into their encoder. Viterbi gives
// the best tag sequence; span_log_prob the exact marginal probability of one decoded span.
// Cost: O(T·L²) per sequence (L = 3), no allocation once the Workspace has grown.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"

namespace kerec {

/// BIO tags of the entity tagger.
enum class Bio : std::uint8_t { O = 0, B = 1, I = 2 };

/// Gradient of the layer's own parameters (same layout as CrfLayer).
struct CrfLayerGradient {
    std::array<double, 9> trans{};
    std::array<double, 3> start{}, stop{};
    void clear() noexcept {
        trans.fill(0);
        start.fill(0);
        stop.fill(0);
    }
};

class CrfLayer {
public:
    static constexpr std::size_t L = 3;  ///< number of tags (O, B, I)
    static constexpr double neg_inf = -std::numeric_limits<double>::infinity();

    std::array<double, 9> trans{};       ///< trans[prev * 3 + cur]
    std::array<double, 3> start{}, stop{};

    static constexpr bool allowed(std::size_t prev, std::size_t cur) noexcept { return !(prev == 0 && cur == 2); }
    static constexpr bool allowed_start(std::size_t cur) noexcept { return cur != 2; }

    /// Scratch buffers; one per thread.
    struct Workspace {
        std::vector<double> alpha, beta;
        std::vector<std::uint8_t> back;
        double log_z = 0;
        std::size_t T = 0;
    };

    /// Transition score, −∞ where forbidden.
    double a(std::size_t prev, std::size_t cur) const noexcept { return allowed(prev, cur) ? trans[prev * L + cur] : neg_inf; }
    double s0(std::size_t cur) const noexcept { return allowed_start(cur) ? start[cur] : neg_inf; }

    /// Number of positions of an emission matrix; InvalidArgument when it is not T×3 or holds NaN/inf.
    template <class S>
    static std::size_t check_emissions(std::span<const S> em) {
        if (em.size() % L != 0)
            throw InvalidArgument(fmt::format("CrfLayer: emission matrix has {} values, expected T×{}", em.size(), L));
        for (std::size_t i = 0; i < em.size(); ++i)
            if (!std::isfinite(static_cast<double>(em[i])))
                throw InvalidArgument(fmt::format("CrfLayer: emission [{}, {}] is not finite", i / L, i % L));
        return em.size() / L;
    }

    /// Best tag sequence (written to `tags`, resized to T); returns its score. T = 0 gives 0.
    template <class S>
    double viterbi(std::span<const S> em, std::vector<std::uint8_t>& tags, Workspace& ws) const {
        const std::size_t T = check_emissions(em);
        tags.resize(T);
        if (T == 0) return 0.0;
        ws.back.resize(T * L);
        double cur[L], nxt[L];
        for (std::size_t y = 0; y < L; ++y) cur[y] = s0(y) + static_cast<double>(em[y]);
        for (std::size_t t = 1; t < T; ++t) {
            for (std::size_t y = 0; y < L; ++y) {
                double best = neg_inf;
                std::uint8_t arg = 0;
                for (std::size_t p = 0; p < L; ++p) {
                    const double v = cur[p] + a(p, y);
                    if (v > best) best = v, arg = static_cast<std::uint8_t>(p);
                }
                nxt[y] = best + static_cast<double>(em[t * L + y]);
                ws.back[t * L + y] = arg;
            }
            for (std::size_t y = 0; y < L; ++y) cur[y] = nxt[y];
        }
        double best = neg_inf;
        std::uint8_t arg = 0;
        for (std::size_t y = 0; y < L; ++y)
            if (cur[y] + stop[y] > best) best = cur[y] + stop[y], arg = static_cast<std::uint8_t>(y);
        tags[T - 1] = arg;
        for (std::size_t t = T - 1; t > 0; --t) tags[t - 1] = ws.back[t * L + tags[t]];
        return best;
    }

    /// Forward-backward; fills ws.alpha/ws.beta (T×3, log space) and returns log Z.
    /// alpha[t,y] includes E[t,y]; beta[t,y] excludes it.
    template <class S>
    double forward_backward(std::span<const S> em, Workspace& ws) const {
        const std::size_t T = check_emissions(em);
        ws.T = T;
        ws.alpha.resize(T * L);
        ws.beta.resize(T * L);
        if (T == 0) return ws.log_z = 0.0;
        double* al = ws.alpha.data();
        double* be = ws.beta.data();
        for (std::size_t y = 0; y < L; ++y) al[y] = s0(y) + static_cast<double>(em[y]);
        for (std::size_t t = 1; t < T; ++t)
            for (std::size_t y = 0; y < L; ++y) {
                double v[L];
                for (std::size_t p = 0; p < L; ++p) v[p] = al[(t - 1) * L + p] + a(p, y);
                al[t * L + y] = lse(v) + static_cast<double>(em[t * L + y]);
            }
        for (std::size_t y = 0; y < L; ++y) be[(T - 1) * L + y] = stop[y];
        for (std::size_t t = T - 1; t > 0; --t)
            for (std::size_t p = 0; p < L; ++p) {
                double v[L];
                for (std::size_t y = 0; y < L; ++y) v[y] = a(p, y) + static_cast<double>(em[t * L + y]) + be[t * L + y];
                be[(t - 1) * L + p] = lse(v);
            }
        double v[L];
        for (std::size_t y = 0; y < L; ++y) v[y] = al[(T - 1) * L + y] + stop[y];
        return ws.log_z = lse(v);
    }

    /// P(y_t = y) after forward_backward.
    static double marginal(const Workspace& ws, std::size_t t, std::size_t y) noexcept {
        return std::exp(ws.alpha[t * L + y] + ws.beta[t * L + y] - ws.log_z);
    }

    /// log P(tags[b] = B, tags[b+1..e) = I, tags[e] ≠ I) after forward_backward: the exact
    /// marginal log-probability of the span [b, e) being one entity.
    template <class S>
    double span_log_prob(std::span<const S> em, const Workspace& ws, std::size_t b, std::size_t e) const {
        const std::size_t T = ws.T;
        if (b >= e || e > T) throw InvalidArgument(fmt::format("CrfLayer::span_log_prob: bad span [{}, {}) of {}", b, e, T));
        double s;
        if (b == 0) {
            s = s0(1);
        } else {
            double v[L];
            for (std::size_t p = 0; p < L; ++p) v[p] = ws.alpha[(b - 1) * L + p] + a(p, 1);
            s = lse(v);
        }
        s += static_cast<double>(em[b * L + 1]);
        std::size_t last = 1;
        for (std::size_t t = b + 1; t < e; ++t) {
            s += a(last, 2) + static_cast<double>(em[t * L + 2]);
            last = 2;
        }
        if (e == T) {
            s += stop[last];
        } else {
            double v[L];
            for (std::size_t y = 0; y < L; ++y)
                v[y] = y == 2 ? neg_inf : a(last, y) + static_cast<double>(em[e * L + y]) + ws.beta[e * L + y];
            s += lse(v);
        }
        return s - ws.log_z;
    }

    /// Score of a given tag sequence (−∞ when it uses a forbidden transition).
    template <class S>
    double score(std::span<const S> em, std::span<const std::uint8_t> tags) const {
        const std::size_t T = tags.size();
        if (T == 0) return 0.0;
        double s = s0(tags[0]) + stop[tags[T - 1]];
        for (std::size_t t = 0; t < T; ++t) {
            s += static_cast<double>(em[t * L + tags[t]]);
            if (t) s += a(tags[t - 1], tags[t]);
        }
        return s;
    }

    /// Negative log-likelihood of `gold` (size T, values < 3). Adds dNLL/dE to `d_em` (size 3T,
    /// may be empty to skip) and dNLL/dθ to `d_layer` (may be null). Gold sequences using a
    /// forbidden transition are an InvalidArgument.
    template <class S>
    double nll(std::span<const S> em, std::span<const std::uint8_t> gold, Workspace& ws, std::span<double> d_em,
               CrfLayerGradient* d_layer) const {
        const std::size_t T = check_emissions(em);
        if (gold.size() != T)
            throw InvalidArgument(fmt::format("CrfLayer::nll: {} gold tags for {} positions", gold.size(), T));
        if (T == 0) return 0.0;
        for (std::size_t t = 0; t < T; ++t) {
            if (gold[t] >= L) throw InvalidArgument(fmt::format("CrfLayer::nll: gold tag {} at {} out of range", gold[t], t));
            if ((t == 0 && !allowed_start(gold[t])) || (t > 0 && !allowed(gold[t - 1], gold[t])))
                throw InvalidArgument(fmt::format("CrfLayer::nll: gold tags use a forbidden transition at {}", t));
        }
        const double log_z = forward_backward(em, ws);
        const double nll_value = log_z - score(em, gold);
        if (!d_em.empty()) {
            if (d_em.size() != T * L) throw InvalidArgument("CrfLayer::nll: gradient buffer must be T×3");
            for (std::size_t t = 0; t < T; ++t) {
                for (std::size_t y = 0; y < L; ++y) d_em[t * L + y] += marginal(ws, t, y);
                d_em[t * L + gold[t]] -= 1.0;
            }
        }
        if (d_layer) {
            for (std::size_t y = 0; y < L; ++y) {
                d_layer->start[y] += marginal(ws, 0, y);
                d_layer->stop[y] += marginal(ws, T - 1, y);
            }
            d_layer->start[gold[0]] -= 1.0;
            d_layer->stop[gold[T - 1]] -= 1.0;
            for (std::size_t t = 1; t < T; ++t) {
                for (std::size_t p = 0; p < L; ++p)
                    for (std::size_t y = 0; y < L; ++y) {
                        if (!allowed(p, y)) continue;
                        d_layer->trans[p * L + y] += std::exp(ws.alpha[(t - 1) * L + p] + trans[p * L + y] +
                                                              static_cast<double>(em[t * L + y]) + ws.beta[t * L + y] - log_z);
                    }
                d_layer->trans[gold[t - 1] * L + gold[t]] -= 1.0;
            }
        }
        return nll_value;
    }

    /// Turn a tag sequence into spans [b, e) of positions (a stray I starts a span).
    static void spans(std::span<const std::uint8_t> tags, std::vector<std::pair<std::uint32_t, std::uint32_t>>& out) {
        out.clear();
        std::size_t b = 0;
        bool open = false;
        for (std::size_t t = 0; t < tags.size(); ++t) {
            if (tags[t] == 1 || (tags[t] == 2 && !open)) {
                if (open) out.emplace_back(static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(t));
                b = t;
                open = true;
            } else if (tags[t] == 0 && open) {
                out.emplace_back(static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(t));
                open = false;
            }
        }
        if (open) out.emplace_back(static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(tags.size()));
    }

private:
    static double lse(const double (&v)[L]) noexcept {
        double m = v[0];
        for (std::size_t i = 1; i < L; ++i) m = v[i] > m ? v[i] : m;
        if (m == neg_inf) return neg_inf;
        double s = 0;
        for (std::size_t i = 0; i < L; ++i) s += std::exp(v[i] - m);
        return m + std::log(s);
    }
};

}  // namespace kerec
