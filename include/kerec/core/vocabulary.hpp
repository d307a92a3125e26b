// kerec/core/vocabulary.hpp — Vocabulary<Id>: names <-> dense strong ids.
//
// String interning: the i-th distinct name added gets Id(i), forever (ids are stable, never
// reused). Lookup by std::string_view without allocating (heterogeneous hashing). Names are kept
// in a deque, so the views used as keys never move. add/find: O(|name|) expected; save/load: O(bytes).
// File format: UTF-8 text, one name per line, line i (1-based) is Id(i-1); tab, newline, CR and
// backslash are written as \t \n \r \\.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/io.hpp"

namespace kerec {

namespace detail {
struct StringViewHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
}  // namespace detail

template <class IdT>
class Vocabulary {
    static_assert(is_id_v<IdT>, "Vocabulary<Id>: Id must be a kerec::Id<Tag>");

public:
    using id_type = IdT;

    Vocabulary() = default;
    Vocabulary(const Vocabulary& other) { *this = other; }
    Vocabulary& operator=(const Vocabulary& other) {
        if (this != &other) {
            clear();
            for (const auto& n : other.names_) add(n);
        }
        return *this;
    }
    Vocabulary(Vocabulary&&) noexcept = default;
    Vocabulary& operator=(Vocabulary&&) noexcept = default;

    /// Id of `name`, adding it when new. Throws InvalidArgument when the id space is exhausted.
    IdT add(std::string_view name) {
        if (auto it = index_.find(name); it != index_.end()) return it->second;
        if (names_.size() >= IdT::invalid_value)
            throw InvalidArgument("Vocabulary::add: id space exhausted");
        const IdT id(static_cast<typename IdT::value_type>(names_.size()));
        const std::string& stored = names_.emplace_back(name);
        index_.emplace(std::string_view(stored), id);
        return id;
    }

    /// Id of `name`, if present.
    std::optional<IdT> find(std::string_view name) const {
        if (auto it = index_.find(name); it != index_.end()) return it->second;
        return std::nullopt;
    }
    bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }

    /// Name of `id`. Throws InvalidArgument for an invalid or out-of-range id.
    std::string_view name(IdT id) const {
        if (!contains(id))
            throw InvalidArgument(fmt::format("Vocabulary::name: id {} out of range (size {})", id, size()));
        return names_[id.index()];
    }
    std::string_view operator[](IdT id) const { return name(id); }

    bool contains(IdT id) const noexcept { return id.valid() && id.index() < names_.size(); }
    std::size_t size() const noexcept { return names_.size(); }
    bool empty() const noexcept { return names_.empty(); }
    void reserve(std::size_t n) { index_.reserve(n); }
    void clear() {
        index_.clear();
        names_.clear();
    }

    /// Names in id order.
    const std::deque<std::string>& names() const noexcept { return names_; }

    /// Write atomically, one escaped name per line.
    void save(const std::filesystem::path& path) const {
        AtomicFile out(path);
        for (const auto& n : names_) {
            out.write(escape_field(n));
            out.write("\n");
        }
        out.commit();
    }

    /// Load a file written by save(). Duplicate names and bad escapes are ParseErrors with the line.
    static Vocabulary load(const std::filesystem::path& path) {
        Vocabulary v;
        LineReader reader(path);
        std::string_view line;
        std::string name;
        while (reader.next(line)) {
            std::size_t bad = 0;
            if (!unescape_field(line, name, &bad))
                throw reader.error(bad, "invalid escape sequence (expected \\\\, \\t, \\n or \\r)");
            if (auto existing = v.find(name))
                throw reader.error(0, fmt::format("duplicate name '{}' (first on line {})", line,
                                                  existing->value() + 1));
            v.add(name);
        }
        return v;
    }

private:
    std::deque<std::string> names_;
    std::unordered_map<std::string_view, IdT, detail::StringViewHash, std::equal_to<>> index_;
};

}  // namespace kerec
