// kerec/graph/rationale_table.hpp — RationaleTable: the LLM's reasons for a graph's edges.
//
// The paper explains a complementary recommendation by the LLM's answer for the edge that led to
// it. A graph built from judgments carries, per edge, a 32-bit id into this table: an immutable,
// deduplicated pool of strings (id 0 is the empty string, "no rationale"), stored as
//   offsets[k + 1] (u64) | bytes[offsets[k]] (UTF-8)      string i = bytes[offsets[i], offsets[i+1])
// Snapshots re-weighted by the feedback learner share one table (a shared_ptr); only the per-edge
// ids move with their edges. Lookup O(1); building O(total bytes) with hashing for dedupe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kerec/core/error.hpp"

namespace kerec {

namespace detail {
class RationalePool;
struct GraphAccess;
}  // namespace detail

/// Immutable pool of rationale strings; id 0 is "". Owns its arrays or views a mapped file.
class RationaleTable {
public:
    /// Number of strings (at least 1: the empty string).
    std::size_t size() const noexcept { return offsets_.size() - 1; }
    /// String `id` (precondition: id < size()).
    std::string_view operator[](std::uint32_t id) const noexcept {
        return {bytes_.data() + offsets_[id], static_cast<std::size_t>(offsets_[id + 1] - offsets_[id])};
    }
    std::span<const std::uint64_t> offsets() const noexcept { return offsets_; }
    std::span<const char> bytes() const noexcept { return bytes_; }
    std::size_t memory_bytes() const noexcept { return offsets_.size_bytes() + bytes_.size_bytes(); }

    friend bool operator==(const RationaleTable& a, const RationaleTable& b) noexcept {
        return std::string_view(a.bytes_.data(), a.bytes_.size()) == std::string_view(b.bytes_.data(), b.bytes_.size()) &&
               std::equal(a.offsets_.begin(), a.offsets_.end(), b.offsets_.begin(), b.offsets_.end());
    }

private:
    friend class detail::RationalePool;
    friend struct detail::GraphAccess;
    RationaleTable() = default;

    std::shared_ptr<const void> keep_;  // a mapped file, when viewing one
    std::vector<std::uint64_t> own_offsets_;
    std::string own_bytes_;
    std::span<const std::uint64_t> offsets_;
    std::span<const char> bytes_;
};

namespace detail {

/// Collects strings into a new RationaleTable, one id per distinct string (id 0 = "").
/// Seeded with an existing table, the existing ids keep their meaning.
class RationalePool {
public:
    RationalePool() : offsets_{0, 0} { index_.emplace(std::string(), 0u); }
    explicit RationalePool(const RationaleTable& base) : offsets_(base.offsets().begin(), base.offsets().end()),
                                                         bytes_(base.bytes().data(), base.bytes().size()) {
        for (std::uint32_t i = 0; i < base.size(); ++i) index_.emplace(std::string(base[i]), i);
    }

    std::uint32_t intern(std::string_view s) {
        if (s.empty()) return 0;
        const auto it = index_.find(std::string(s));
        if (it != index_.end()) return it->second;
        if (offsets_.size() - 1 >= 0xFFFFFFFFu) throw InvalidArgument("RationaleTable: more than 2^32 - 1 distinct rationales");
        const auto id = static_cast<std::uint32_t>(offsets_.size() - 1);
        bytes_.append(s);
        offsets_.push_back(bytes_.size());
        index_.emplace(std::string(s), id);
        return id;
    }
    std::size_t size() const noexcept { return offsets_.size() - 1; }

    std::shared_ptr<const RationaleTable> finish() {
        auto t = std::shared_ptr<RationaleTable>(new RationaleTable());
        t->own_offsets_ = std::move(offsets_);
        t->own_bytes_ = std::move(bytes_);
        t->offsets_ = t->own_offsets_;
        t->bytes_ = std::span<const char>(t->own_bytes_.data(), t->own_bytes_.size());
        index_.clear();
        return t;
    }

private:
    std::vector<std::uint64_t> offsets_;
    std::string bytes_;
    std::unordered_map<std::string, std::uint32_t> index_;
};

}  // namespace detail
}  // namespace kerec
