// kerec/pairs/entity_pair.hpp — EntityPair, the unit the segmented pair generator emits and the
// LLM judges. Ordered (a -> b: "is b a complement of a?"); unordered uses keep a < b. 8 bytes.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>

#include "kerec/core/id.hpp"

namespace kerec {

struct EntityPair {
    EntityId a;
    EntityId b;

    friend constexpr bool operator==(EntityPair, EntityPair) noexcept = default;
    friend constexpr auto operator<=>(EntityPair, EntityPair) noexcept = default;

    /// The same pair with a <= b.
    constexpr EntityPair canonical() const noexcept { return b < a ? EntityPair{b, a} : *this; }
    constexpr EntityPair reversed() const noexcept { return EntityPair{b, a}; }
};

}  // namespace kerec

template <>
struct std::hash<kerec::EntityPair> {
    std::size_t operator()(kerec::EntityPair p) const noexcept {
        const std::uint64_t k = (static_cast<std::uint64_t>(p.a.value()) << 32) | p.b.value();
        std::uint64_t z = k * 0x9E3779B97F4A7C15ULL;
        return static_cast<std::size_t>(z ^ (z >> 29));
    }
};
