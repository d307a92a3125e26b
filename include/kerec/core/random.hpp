// kerec/core/random.hpp — seeded randomness: Rng and AliasSampler.
//
// Rng is xoshiro256** (Blackman & Vigna) seeded through SplitMix64; every derived draw (uniform
// integers by Lemire's multiply-shift with rejection, doubles from the top 53 bits, Fisher–Yates
// shuffle) is defined here, never by std::*_distribution whose output differs between standard
// libraries. Integer draws, uniform() in [0, 1), bernoulli(), shuffle() and AliasSampler draws
// use only exact integer and IEEE operations: the same stream on every platform. normal(),
// exponential(), uniform(a, b) and zipf_weights() go through libm (log, sin, cos, log1p, pow, not
// correctly rounded everywhere) or a multiply-add a compiler may fuse: the same output on the same
// platform (compiler, flags, libm), not necessarily across platforms.
// AliasSampler is Walker's alias method (Vose's construction): O(n) build, O(1) per draw.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"

namespace kerec {

namespace detail {
__extension__ typedef unsigned __int128 uint128_t;  // GCC/Clang extension, silenced for -Wpedantic
}

/// SplitMix64 step; also a good 64-bit mixer for hashing seeds.
constexpr std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// Mix a seed with a stream number: independent child seeds for sub-components.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) noexcept {
    std::uint64_t s = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    splitmix64(s);
    return splitmix64(s);
}

/// xoshiro256** — satisfies std::uniform_random_bit_generator.
class Rng {
public:
    using result_type = std::uint64_t;

    explicit Rng(std::uint64_t seed = 0x5EED) noexcept { reseed(seed); }

    /// A generator in the given raw state (as the reference implementation's s[0..3]); an
    /// all-zero state never leaves zero and is an InvalidArgument.
    static Rng from_state(const std::array<std::uint64_t, 4>& state) {
        if ((state[0] | state[1] | state[2] | state[3]) == 0) throw InvalidArgument("Rng::from_state: all-zero state");
        Rng r;
        for (int i = 0; i < 4; ++i) r.s_[i] = state[static_cast<std::size_t>(i)];
        return r;
    }

    void reseed(std::uint64_t seed) noexcept {
        std::uint64_t sm = seed;
        for (auto& w : s_) w = splitmix64(sm);
    }

    static constexpr result_type min() noexcept { return 0; }
    static constexpr result_type max() noexcept { return std::numeric_limits<result_type>::max(); }

    result_type operator()() noexcept { return next(); }

    std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    /// Uniform in [0, n); n == 0 (an empty range) is an InvalidArgument. Unbiased (Lemire 2019).
    std::uint64_t uniform_int(std::uint64_t n) {
        if (n == 0) throw InvalidArgument("Rng::uniform_int: empty range [0, 0)");
        detail::uint128_t m = static_cast<detail::uint128_t>(next()) * n;
        auto low = static_cast<std::uint64_t>(m);
        if (low < n) {
            const std::uint64_t threshold = (0 - n) % n;
            while (low < threshold) {
                m = static_cast<detail::uint128_t>(next()) * n;
                low = static_cast<std::uint64_t>(m);
            }
        }
        return static_cast<std::uint64_t>(m >> 64);
    }

    /// Uniform integer in [lo, hi] (inclusive), any lo <= hi of the int64 range (computed in
    /// unsigned arithmetic: no overflow); lo > hi is an InvalidArgument.
    std::int64_t uniform_int(std::int64_t lo, std::int64_t hi) {
        if (lo > hi) throw InvalidArgument(fmt::format("Rng::uniform_int: empty range [{}, {}]", lo, hi));
        const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo) + 1;  // mod 2^64
        const std::uint64_t offset = span == 0 ? next() : uniform_int(span);  // span 0: all 2^64 values
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + offset);  // two's complement, mod 2^64
    }

    /// Uniform double in [0, 1) with 53 random bits.
    double uniform() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    /// Uniform double in [a, b) (same platform: a + (b - a) * u may be fused).
    double uniform(double a, double b) noexcept { return a + (b - a) * uniform(); }
    /// True with probability p.
    bool bernoulli(double p) noexcept { return uniform() < p; }

    /// Standard normal (Box–Muller, one value per call; the pair's second value is cached).
    /// Uses libm's log, sin and cos: reproducible on the same platform.
    double normal() noexcept {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        constexpr double two_pi = 6.283185307179586476925286766559;
        spare_ = r * std::sin(two_pi * u2);
        has_spare_ = true;
        return r * std::cos(two_pi * u2);
    }

    /// Exponential with rate lambda (libm's log1p: reproducible on the same platform).
    double exponential(double lambda) noexcept { return -std::log1p(-uniform()) / lambda; }

    /// Fisher–Yates shuffle of a random-access range.
    template <class Range>
    void shuffle(Range&& r) {
        using std::swap;
        auto first = std::begin(r);
        const auto n = static_cast<std::uint64_t>(std::end(r) - first);
        for (std::uint64_t i = n; i > 1; --i) {
            const auto j = uniform_int(i);
            swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
        }
    }

private:
    static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4]{};
    double spare_ = 0.0;
    bool has_spare_ = false;
};

/// Walker's alias method: draws index i with probability w[i] / sum(w).
class AliasSampler {
public:
    AliasSampler() = default;

    /// Weights must be finite and >= 0 with a positive sum; otherwise InvalidArgument.
    explicit AliasSampler(std::span<const double> weights) { build(weights); }

    void build(std::span<const double> weights) {
        const std::size_t n = weights.size();
        if (n == 0) throw InvalidArgument("AliasSampler: empty weight vector");
        if (n > std::numeric_limits<std::uint32_t>::max())
            throw InvalidArgument("AliasSampler: more than 2^32-1 weights");
        double sum = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double w = weights[i];
            if (!std::isfinite(w) || w < 0.0)
                throw InvalidArgument(fmt::format("AliasSampler: weight[{}] = {} (expected finite and >= 0)", i, w));
            sum += w;
        }
        if (!(sum > 0.0)) throw InvalidArgument("AliasSampler: weights sum to zero");

        prob_.assign(n, 0.0);
        alias_.assign(n, 0);
        std::vector<double> scaled(n);
        std::vector<std::uint32_t> small, large;
        small.reserve(n);
        large.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            scaled[i] = weights[i] * static_cast<double>(n) / sum;
            (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
        }
        while (!small.empty() && !large.empty()) {
            const std::uint32_t s = small.back();
            small.pop_back();
            const std::uint32_t l = large.back();
            prob_[s] = scaled[s];
            alias_[s] = l;
            scaled[l] = (scaled[l] + scaled[s]) - 1.0;
            if (scaled[l] < 1.0) {
                large.pop_back();
                small.push_back(l);
            }
        }
        for (auto i : large) prob_[i] = 1.0, alias_[i] = i;
        for (auto i : small) prob_[i] = 1.0, alias_[i] = i;  // numerical leftovers
    }

    std::size_t size() const noexcept { return prob_.size(); }
    bool empty() const noexcept { return prob_.empty(); }

    /// One draw; a default-constructed (empty) sampler is an InvalidArgument.
    std::uint32_t operator()(Rng& rng) const {
        if (prob_.empty()) throw InvalidArgument("AliasSampler: draw from an empty sampler (build it from weights first)");
        const auto i = static_cast<std::uint32_t>(rng.uniform_int(prob_.size()));
        return rng.uniform() < prob_[i] ? i : alias_[i];
    }

private:
    std::vector<double> prob_;
    std::vector<std::uint32_t> alias_;
};

/// Zipf weights 1/(rank+1)^s for ranks 0..n-1 (libm's pow: the same on the same platform).
inline std::vector<double> zipf_weights(std::size_t n, double s) {
    std::vector<double> w(n);
    for (std::size_t i = 0; i < n; ++i) w[i] = std::pow(static_cast<double>(i + 1), -s);
    return w;
}

}  // namespace kerec
