// kerec/entity/detail/binary.hpp — little helpers for the entity component's binary files.
//
// Layout of every file: 8-byte magic, u32 version, payload, u32 CRC-32C of all preceding bytes.
// BinaryReader checks size, magic, version and checksum before any payload is trusted and throws
// ParseError naming the file and what was expected. O(bytes).
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/checksum.hpp"
#include "kerec/core/error.hpp"
#include "kerec/core/io.hpp"

namespace kerec::detail {

class BinaryWriter {
public:
    BinaryWriter(std::string_view magic, std::uint32_t version) {
        buf_.append(magic.data(), magic.size());
        put(version);
    }
    template <class T>
    void put(const T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        buf_.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    template <class T>
    void put_vector(const std::vector<T>& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        put(static_cast<std::uint64_t>(v.size()));
        if (!v.empty()) buf_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    }
    void put_string(std::string_view s) {
        put(static_cast<std::uint64_t>(s.size()));
        buf_.append(s.data(), s.size());
    }
    /// Append the checksum and return the file image.
    std::string finish() {
        put(crc32c(buf_));
        return std::move(buf_);
    }
    /// Append the checksum and write atomically.
    void commit(const std::filesystem::path& path) { write_file_atomic(path, finish()); }

private:
    std::string buf_;
};

class BinaryReader {
public:
    BinaryReader(const std::filesystem::path& path, std::string_view magic, std::uint32_t version)
        : BinaryReader(read_file(path), path.string(), magic, version) {}
    /// A file image held in memory; `source` names it in errors.
    BinaryReader(std::string data, std::string source, std::string_view magic, std::uint32_t version)
        : source_(std::move(source)), data_(std::move(data)) {
        if (data_.size() < magic.size() + 8)
            throw ParseError(source_, 0, 0, fmt::format("file of {} bytes is too short (truncated?)", data_.size()));
        if (std::string_view(data_).substr(0, magic.size()) != magic)
            throw ParseError(source_, 0, 0, fmt::format("bad magic, expected '{}'", magic));
        std::uint32_t stored = 0;
        std::memcpy(&stored, data_.data() + data_.size() - 4, 4);
        const std::uint32_t actual = crc32c(data_.data(), data_.size() - 4);
        if (stored != actual)
            throw ParseError(source_, 0, 0,
                             fmt::format("checksum mismatch (stored {:08x}, computed {:08x}): file corrupted or "
                                         "truncated", stored, actual));
        end_ = data_.size() - 4;
        pos_ = magic.size();
        const auto v = get<std::uint32_t>();
        if (v != version)
            throw ParseError(source_, 0, 0, fmt::format("unsupported version {}, expected {}", v, version));
    }
    template <class T>
    T get() {
        static_assert(std::is_trivially_copyable_v<T>);
        need(sizeof(T));
        T v;
        std::memcpy(&v, data_.data() + pos_, sizeof v);
        pos_ += sizeof v;
        return v;
    }
    template <class T>
    std::vector<T> get_vector(std::uint64_t max_count) {
        const auto n = get<std::uint64_t>();
        if (n > max_count || n > (end_ - pos_) / sizeof(T))
            throw error(fmt::format("array of {} elements does not fit the file", n));
        std::vector<T> v(static_cast<std::size_t>(n));
        if (n) std::memcpy(v.data(), data_.data() + pos_, n * sizeof(T));
        pos_ += n * sizeof(T);
        return v;
    }
    std::string get_string() {
        const auto n = get<std::uint64_t>();
        need(n);
        std::string s(data_.data() + pos_, static_cast<std::size_t>(n));
        pos_ += n;
        return s;
    }
    void expect_end() const {
        if (pos_ != end_) throw error(fmt::format("{} unexpected trailing bytes", end_ - pos_));
    }
    ParseError error(const std::string& what) const {
        return ParseError(source_, 0, 0, fmt::format("at byte {}: {}", pos_, what));
    }
    const std::string& source() const noexcept { return source_; }

private:
    void need(std::uint64_t n) const {
        if (n > end_ - pos_) throw error(fmt::format("truncated: need {} bytes, {} left", n, end_ - pos_));
    }
    std::string source_;
    std::string data_;
    std::size_t pos_ = 0, end_ = 0;
};

}  // namespace kerec::detail
