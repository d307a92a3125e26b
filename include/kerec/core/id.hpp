// kerec/core/id.hpp — strong ids: EntityId, ItemId, UserId.
//
// The paper's nodes (entities), items and users are dense 32-bit indices wrapped in a tag type so
// that passing an ItemId where an EntityId is expected does not compile. Id<Tag>::invalid() is the
// all-ones value. Every operation is O(1) and the wrapper has the size of a uint32_t.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>

#include <fmt/format.h>

namespace kerec {

/// A dense, strongly typed index. `Tag` only distinguishes kinds of ids.
template <class Tag>
class Id {
public:
    using value_type = std::uint32_t;
    static constexpr value_type invalid_value = std::numeric_limits<value_type>::max();

    constexpr Id() noexcept = default;  // invalid
    constexpr explicit Id(value_type v) noexcept : value_(v) {}

    static constexpr Id invalid() noexcept { return Id{}; }
    constexpr bool valid() const noexcept { return value_ != invalid_value; }
    constexpr value_type value() const noexcept { return value_; }
    /// The id as an array index.
    constexpr std::size_t index() const noexcept { return value_; }

    friend constexpr bool operator==(Id, Id) noexcept = default;
    friend constexpr auto operator<=>(Id, Id) noexcept = default;

private:
    value_type value_ = invalid_value;
};

struct EntityTag {};
struct ItemTag {};
struct UserTag {};

/// A unified concept term: a node of the complementary graph.
using EntityId = Id<EntityTag>;
/// A catalogue item (product, service) with a title.
using ItemId = Id<ItemTag>;
/// A user of the caller's platform.
using UserId = Id<UserTag>;

template <class T>
inline constexpr bool is_id_v = false;
template <class Tag>
inline constexpr bool is_id_v<Id<Tag>> = true;

}  // namespace kerec

template <class Tag>
struct std::hash<kerec::Id<Tag>> {
    std::size_t operator()(kerec::Id<Tag> id) const noexcept {
        // Fibonacci mixing: dense ids would otherwise cluster in power-of-two tables.
        return static_cast<std::size_t>(static_cast<std::uint64_t>(id.value()) * 0x9E3779B97F4A7C15ULL);
    }
};

template <class Tag>
struct fmt::formatter<kerec::Id<Tag>> : fmt::formatter<std::uint32_t> {
    template <class Ctx>
    auto format(kerec::Id<Tag> id, Ctx& ctx) const {
        if (!id.valid()) return fmt::format_to(ctx.out(), "invalid");
        return fmt::formatter<std::uint32_t>::format(id.value(), ctx);
    }
};
