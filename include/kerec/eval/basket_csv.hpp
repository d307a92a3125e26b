// kerec/eval/basket_csv.hpp — reading baskets from the two CSV shapes public basket data ships in.
//
//   basket lists:   one basket per record, item names as fields ("citrus fruit,margarine,...");
//                   the form arules' read.transactions(format = "basket") reads (Groceries).
//   purchase rows:  a header, then one bill per record with user, date and item columns
//                   ("Member_number,Date,itemDescription,..."); read into bill Events, which
//                   Baskets::from_events groups into (user, day) baskets and UserHistory indexes.
// Names are trimmed of spaces and tabs, optionally mapped through aliases, and looked up in (or
// added to) a Vocabulary<ItemId>. Through the checked CsvReader: O(bytes).
#pragma once

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/csv.hpp"
#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/io.hpp"
#include "kerec/core/vocabulary.hpp"
#include "kerec/eval/baskets.hpp"

namespace kerec {

struct BasketCsvOptions {
    /// Names not in the vocabulary become new items (true) or are skipped and counted (false).
    bool add_unknown = true;
    /// (name, canonical name) pairs applied after trimming, e.g. {"pot plants", "potted plants"}.
    std::vector<std::pair<std::string, std::string>> aliases;
};

/// What a reader saw besides the baskets.
struct BasketCsvStats {
    std::size_t records = 0;        ///< data records read (header excluded)
    std::size_t blank_records = 0;  ///< records without any name (skipped; not a basket)
    std::size_t unknown_names = 0;  ///< names skipped because they were not in the vocabulary
};

namespace detail {

inline std::string_view trim_name(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// The item of one name field, or invalid when it is blank or unknown (counted).
inline ItemId resolve_item(std::string_view raw, Vocabulary<ItemId>& items, const BasketCsvOptions& options, BasketCsvStats& stats) {
    std::string_view name = trim_name(raw);
    if (name.empty()) return ItemId::invalid();
    for (const auto& [from, to] : options.aliases)
        if (name == from) {
            name = to;
            break;
        }
    if (const auto id = items.find(name)) return *id;
    if (options.add_unknown) return items.add(name);
    ++stats.unknown_names;
    return ItemId::invalid();
}

/// Seconds since 1970-01-01 of an ISO date "YYYY-MM-DD" (midnight), or of a plain integer.
inline std::int64_t parse_time(std::string_view text, const CsvReader& csv, std::string_view column) {
    text = trim_name(text);
    std::int64_t v = 0;
    const char* end = text.data() + text.size();
    if (auto [p, ec] = std::from_chars(text.data(), end, v); ec == std::errc{} && p == end) return v;
    int y = 0;
    unsigned m = 0, d = 0;
    bool ok = text.size() == 10 && text[4] == '-' && text[7] == '-';
    if (ok) {
        auto num = [&](std::size_t at, std::size_t len, auto& out) {
            auto [p, ec] = std::from_chars(text.data() + at, text.data() + at + len, out);
            return ec == std::errc{} && p == text.data() + at + len;
        };
        ok = num(0, 4, y) && num(5, 2, m) && num(8, 2, d);
    }
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
    if (!ok || !ymd.ok())
        throw csv.error(fmt::format("column '{}': '{}' is not a date (expected YYYY-MM-DD) nor an integer time", column, text));
    return std::int64_t{std::chrono::sys_days{ymd}.time_since_epoch().count()} * 86400;
}

}  // namespace detail

/// A catalogue file, one item name per line (trimmed; blank lines skipped), into `items` in file
/// order (a name already there keeps its id). Returns the number of names read.
inline std::size_t read_item_names(const std::filesystem::path& path, Vocabulary<ItemId>& items) {
    LineReader lines(path);
    std::size_t n = 0;
    for (std::string_view line; lines.next(line);)
        if (const auto name = detail::trim_name(line); !name.empty()) items.add(name), ++n;
    return n;
}

/// Basket lists: record k with at least one name is the next basket (names in any order;
/// repeats collapse; a record whose names are all unknown is an empty basket, still a transaction). The catalogue of the result is items.size() after reading. Malformed CSV
/// throws ParseError naming the file and line.
inline Baskets read_basket_lists(const std::filesystem::path& path, Vocabulary<ItemId>& items, const BasketCsvOptions& options = {},
                                 BasketCsvStats* stats = nullptr) {
    BasketCsvStats st;
    CsvReader csv(path);
    std::vector<std::string> fields;
    std::vector<std::vector<ItemId>> lists;
    std::vector<ItemId> basket;
    while (csv.next(fields)) {
        ++st.records;
        basket.clear();
        bool named = false;
        for (const auto& f : fields) {
            named = named || !detail::trim_name(f).empty();
            if (const ItemId id = detail::resolve_item(f, items, options, st); id.valid()) basket.push_back(id);
        }
        if (!named) {
            ++st.blank_records;
            continue;
        }
        lists.push_back(basket);
    }
    if (stats) *stats = st;
    return Baskets::from_lists(lists, items.size());
}

/// Column names of a purchase-rows file (found in its header, in any position).
struct PurchaseColumns {
    std::string user = "user";
    std::string time = "time";   ///< an ISO date YYYY-MM-DD (midnight UTC) or an integer in seconds
    std::string item = "item";
};

/// Purchase rows → one bill Event per record with a known item (user ids from `users`, time in
/// seconds). A missing column, a record with too few fields or a bad time throws ParseError
/// naming the file, line and value.
inline std::vector<Event> read_purchase_events(const std::filesystem::path& path, const PurchaseColumns& columns,
                                               Vocabulary<ItemId>& items, Vocabulary<UserId>& users,
                                               const BasketCsvOptions& options = {}, BasketCsvStats* stats = nullptr) {
    BasketCsvStats st;
    CsvReader csv(path);
    std::vector<std::string> fields;
    if (!csv.next(fields)) throw ParseError(csv.name(), 1, 0, "empty file (expected a header)");
    auto column = [&](const std::string& name) {
        for (std::size_t c = 0; c < fields.size(); ++c)
            if (detail::trim_name(fields[c]) == name) return c;
        throw csv.error(fmt::format("header has no column '{}'", name));
    };
    const std::size_t cu = column(columns.user), ct = column(columns.time), ci = column(columns.item);
    const std::size_t need = std::max({cu, ct, ci}) + 1;
    std::vector<Event> events;
    while (csv.next(fields)) {
        ++st.records;
        if (fields.size() == 1 && detail::trim_name(fields[0]).empty()) {
            ++st.blank_records;
            continue;
        }
        if (fields.size() < need)
            throw csv.error(fmt::format("{} fields (expected at least {})", fields.size(), need));
        const std::string_view user = detail::trim_name(fields[cu]);
        if (user.empty()) throw csv.error(fmt::format("column '{}' is empty (expected a user)", columns.user));
        const std::int64_t time = detail::parse_time(fields[ct], csv, columns.time);
        const ItemId item = detail::resolve_item(fields[ci], items, options, st);
        if (!item.valid()) {
            if (detail::trim_name(fields[ci]).empty()) throw csv.error(fmt::format("column '{}' is empty (expected an item)", columns.item));
            continue;
        }
        events.push_back(Event{.user = users.add(user), .item = item, .time = time, .kind = EventKind::bill});
    }
    if (stats) *stats = st;
    return events;
}

}  // namespace kerec
