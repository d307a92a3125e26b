// kerec/core/event.hpp — behaviour events as plain structs callers fill from their own logs.
//
// The paper learns edge weights from exposure/click feedback and popularity from bills. An Event is
// one row of such a log: who, what, when, which kind, at which position, and (for exposures shown
// because of an earlier purchase) the item that triggered them, and the request (impression) id
// that groups the exposures of one shown list. Views are items looked at in a browsing session
// (the substitute signal of first-order entity embeddings). 32 bytes, trivially copyable.
#pragma once

#include <cstdint>
#include <string_view>

#include "kerec/core/id.hpp"

namespace kerec {

enum class EventKind : std::uint8_t {
    bill = 0,      ///< a purchase (the paper's "bill")
    exposure = 1,  ///< the item was shown to the user
    click = 2,     ///< the user clicked a shown item
    view = 3,      ///< the user looked at an item while browsing (not the exposure of a shown list)
};

constexpr std::string_view to_string(EventKind k) noexcept {
    switch (k) {
        case EventKind::bill: return "bill";
        case EventKind::exposure: return "exposure";
        case EventKind::click: return "click";
        case EventKind::view: return "view";
    }
    return "unknown";
}

struct Event {
    UserId user{};
    ItemId item{};
    std::int64_t time = 0;          ///< seconds (any epoch; only order and differences matter)
    EventKind kind = EventKind::bill;
    std::uint16_t position = 0;     ///< slot in the exposed list (exposure/click), 0 = top
    ItemId trigger{};               ///< item whose purchase caused this exposure/click; invalid if none
    std::uint32_t request = 0;      ///< impression id grouping the exposures of one list; 0 = none
};

static_assert(sizeof(Event) == 32, "Event is a 32-byte log row");

}  // namespace kerec
