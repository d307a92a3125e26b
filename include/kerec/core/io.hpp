// kerec/core/io.hpp — crash-safe file output, line-oriented input, text fields.
//
// AtomicFile writes to "<path>.tmp.<pid>.<n>", fsyncs it, renames it over <path> and fsyncs the
// directory, so readers see the old file or the new one, never a torn one. LineReader is a
// buffered reader (of a file or of text in memory) that counts lines (for ParseError) and strips
// "\n" / "\r\n". split_tsv splits a line on tabs without copying; escape_field/unescape_field make a
// value one-line safe. invalid_utf8/repair_utf8 find and replace ill-formed UTF-8 (U+FFFD per
// maximal ill-formed subpart, as the Unicode Standard recommends). All operations are O(bytes).
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kerec/core/error.hpp"

namespace kerec {

namespace detail {

inline void write_all(int fd, const char* data, std::size_t size, const std::string& path) {
    while (size > 0) {
        const ::ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw IoError(path, "write", errno);
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

inline void fsync_directory_of(const std::filesystem::path& path) {
    auto dir = path.parent_path();
    if (dir.empty()) dir = ".";
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;  // best effort: some filesystems do not allow opening directories
    ::fsync(fd);
    ::close(fd);
}

}  // namespace detail

/// A file that becomes visible at its final path only when commit() succeeds.
/// Destroying an uncommitted AtomicFile removes the temporary file; the old content is untouched.
class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path path) : path_(std::move(path)) {
        static std::atomic<unsigned> counter{0};
        temp_ = path_;
        temp_ += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
        fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) throw IoError(path_.string(), "open for writing", errno);
        buffer_.reserve(1 << 16);
    }
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile() {
        if (fd_ >= 0) {
            ::close(fd_);
            ::unlink(temp_.c_str());
        }
    }

    void write(std::string_view bytes) {
        if (fd_ < 0) throw InvalidArgument(path_.string() + ": write after commit");
        if (buffer_.size() + bytes.size() > (1u << 16)) flush_buffer();
        if (bytes.size() >= (1u << 16)) {
            detail::write_all(fd_, bytes.data(), bytes.size(), temp_.string());
        } else {
            buffer_.append(bytes);
        }
    }
    void write(const void* data, std::size_t size) {
        write(std::string_view(static_cast<const char*>(data), size));
    }

    /// Flush, fsync, rename over the target and fsync the directory.
    void commit() {
        if (fd_ < 0) throw InvalidArgument(path_.string() + ": commit called twice");
        flush_buffer();
        if (::fsync(fd_) != 0) throw IoError(temp_.string(), "fsync", errno);
        if (::close(fd_) != 0) {
            fd_ = -1;
            ::unlink(temp_.c_str());
            throw IoError(temp_.string(), "close", errno);
        }
        fd_ = -1;
        if (::rename(temp_.c_str(), path_.c_str()) != 0) {
            const int e = errno;
            ::unlink(temp_.c_str());
            throw IoError(path_.string(), "rename", e);
        }
        detail::fsync_directory_of(path_);
    }

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    void flush_buffer() {
        if (!buffer_.empty()) {
            detail::write_all(fd_, buffer_.data(), buffer_.size(), temp_.string());
            buffer_.clear();
        }
    }
    std::filesystem::path path_;
    std::filesystem::path temp_;
    int fd_ = -1;
    std::string buffer_;
};

/// Replace the content of `path` atomically with `bytes`.
inline void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
    AtomicFile file(path);
    file.write(bytes);
    file.commit();
}

/// Read a whole file into a string. Throws IoError when it cannot be opened or read.
inline std::string read_file(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(path.string(), "open for reading", errno);
    std::string out;
    struct ::stat st {};
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        ::close(fd);
        throw IoError(path.string(), "is a directory, expected a file");
    }
    if (st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
    char buffer[1 << 16];
    for (;;) {
        const ::ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd);
            throw IoError(path.string(), "read", e);
        }
        if (n == 0) break;
        out.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

/// Buffered line reader with 1-based line numbers. Lines are returned without "\n" or "\r\n";
/// a last line without a newline is returned too. The view is valid until the next call.
class LineReader {
public:
    explicit LineReader(const std::filesystem::path& path) : name_(path.string()) {
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd_ < 0) throw IoError(name_, "open for reading", errno);
        struct ::stat st {};
        if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
            ::close(fd_);
            fd_ = -1;
            throw IoError(name_, "is a directory, expected a file");
        }
        buffer_.resize(1 << 16);
    }
    /// Lines of `text` held in memory (`name` appears in errors).
    static LineReader from_string(std::string_view text, std::string name = "<text>") {
        return LineReader(text, std::move(name));
    }
    LineReader(LineReader&& o) noexcept
        : name_(std::move(o.name_)), fd_(std::exchange(o.fd_, -1)), buffer_(std::move(o.buffer_)), pos_(o.pos_),
          end_(o.end_), eof_(o.eof_), line_(o.line_) {}
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;
    ~LineReader() {
        if (fd_ >= 0) ::close(fd_);
    }

    /// Next line, or false at end of file.
    bool next(std::string_view& line) {
        for (;;) {
            const char* begin = buffer_.data() + pos_;
            const std::size_t avail = end_ - pos_;
            if (const void* nl = avail ? std::memchr(begin, '\n', avail) : nullptr) {
                std::size_t len = static_cast<std::size_t>(static_cast<const char*>(nl) - begin);
                pos_ += len + 1;
                if (len > 0 && begin[len - 1] == '\r') --len;
                ++line_;
                line = std::string_view(begin, len);
                return true;
            }
            if (eof_) {
                if (avail == 0) return false;
                std::size_t len = avail;
                pos_ = end_;
                if (begin[len - 1] == '\r') --len;
                ++line_;
                line = std::string_view(begin, len);
                return true;
            }
            refill();
        }
    }

    /// 1-based number of the line last returned (0 before the first).
    std::uint64_t line_number() const noexcept { return line_; }
    const std::string& name() const noexcept { return name_; }

    /// A ParseError pointing at the current line.
    ParseError error(std::uint64_t column, const std::string& message) const {
        return ParseError(name_, line_, column, message);
    }

private:
    LineReader(std::string_view text, std::string name)
        : name_(std::move(name)), buffer_(text.begin(), text.end()), end_(text.size()), eof_(true) {}

    void refill() {
        // Move the partial line to the front; grow when one line fills the buffer.
        const std::size_t keep = end_ - pos_;
        if (pos_ > 0) {
            std::memmove(buffer_.data(), buffer_.data() + pos_, keep);
            pos_ = 0;
            end_ = keep;
        }
        if (end_ == buffer_.size()) buffer_.resize(buffer_.size() * 2);
        for (;;) {
            const ::ssize_t n = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
            if (n < 0) {
                if (errno == EINTR) continue;
                throw IoError(name_, "read", errno);
            }
            if (n == 0) eof_ = true;
            end_ += static_cast<std::size_t>(n);
            return;
        }
    }

    std::string name_;
    int fd_ = -1;
    std::vector<char> buffer_;
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
    bool eof_ = false;
    std::uint64_t line_ = 0;
};

/// Split `line` on `sep` into `fields` (cleared first). Views point into `line`.
inline void split(std::string_view line, char sep, std::vector<std::string_view>& fields) {
    fields.clear();
    std::size_t start = 0;
    for (;;) {
        const std::size_t p = line.find(sep, start);
        if (p == std::string_view::npos) {
            fields.push_back(line.substr(start));
            return;
        }
        fields.push_back(line.substr(start, p - start));
        start = p + 1;
    }
}

/// Split a TSV line on tabs (no quoting; use escape_field for values holding tabs/newlines).
inline void split_tsv(std::string_view line, std::vector<std::string_view>& fields) {
    split(line, '\t', fields);
}

/// `s` without leading and trailing ASCII whitespace (space, \t, \n, \r, \f, \v).
constexpr std::string_view trim_whitespace(std::string_view s) noexcept {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

/// Escape a value for a one-line text field: backslash, tab, newline and CR become \\ \t \n \r.
inline std::string escape_field(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            default: out += c;
        }
    }
    return out;
}

/// Inverse of escape_field. Returns false on a dangling or unknown escape; `bad_column` is the
/// 1-based column of the offending backslash.
inline bool unescape_field(std::string_view value, std::string& out, std::size_t* bad_column = nullptr) {
    out.clear();
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i + 1 == value.size()) {
            if (bad_column) *bad_column = i + 1;
            return false;
        }
        switch (value[++i]) {
            case '\\': out += '\\'; break;
            case 't': out += '\t'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            default:
                if (bad_column) *bad_column = i;
                return false;
        }
    }
    return true;
}

namespace detail {
// Length of the well-formed UTF-8 sequence at s[0] (1..4), or 0 with `bad` = the length of its
// maximal ill-formed subpart (>= 1). Table 3-7 of the Unicode Standard.
inline std::size_t utf8_sequence(const unsigned char* s, std::size_t n, std::size_t& bad) noexcept {
    const unsigned char c = s[0];
    if (c < 0x80) return 1;
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c == 0xED) len = 3, hi = 0x9F;
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c == 0xF4) len = 4, hi = 0x8F;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else {
        bad = 1;
        return 0;
    }
    for (std::size_t k = 1; k < len; ++k) {
        if (k >= n || s[k] < lo || s[k] > hi) {
            bad = k;
            return 0;
        }
        lo = 0x80, hi = 0xBF;
    }
    return len;
}
}  // namespace detail

namespace detail {
/// `text` as it may appear in an error message: at most `max` bytes of it (then "…"), control
/// bytes and ill-formed UTF-8 written as \xHH.
inline std::string excerpt(std::string_view text, std::size_t max = 80) {
    std::string out;
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t i = 0;
    for (const std::size_t n = text.size(); i < n && out.size() < max;) {
        std::size_t bad = 0;
        const std::size_t len = utf8_sequence(s + i, n - i, bad);
        if (len == 1 && (s[i] < 0x20 || s[i] == 0x7F)) bad = 1;
        if (len && !bad) {
            out.append(text, i, len);
            i += len;
            continue;
        }
        for (std::size_t k = 0; k < std::max<std::size_t>(bad, 1); ++k) {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[s[i + k] >> 4];
            out += hex[s[i + k] & 15];
        }
        i += std::max<std::size_t>(bad, 1);
    }
    if (i < text.size()) out += "…";
    return out;
}
}  // namespace detail

/// Number of ill-formed sequences in `text` (0: well-formed UTF-8, no overlongs, surrogates or
/// code points above U+10FFFF).
inline std::size_t invalid_utf8(std::string_view text) noexcept {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t bad_count = 0;
    for (std::size_t i = 0, n = text.size(); i < n;) {
        std::size_t bad = 0;
        const std::size_t len = detail::utf8_sequence(s + i, n - i, bad);
        i += len ? len : bad;
        bad_count += len == 0;
    }
    return bad_count;
}

/// Replace every ill-formed sequence of `text` by U+FFFD, in place; returns how many were replaced.
inline std::size_t repair_utf8(std::string& text) {
    if (invalid_utf8(text) == 0) return 0;
    std::string out;
    out.reserve(text.size() + 8);
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t replaced = 0;
    for (std::size_t i = 0, n = text.size(); i < n;) {
        std::size_t bad = 0;
        const std::size_t len = detail::utf8_sequence(s + i, n - i, bad);
        if (len) {
            out.append(text, i, len);
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++replaced;
            i += bad;
        }
    }
    text = std::move(out);
    return replaced;
}

}  // namespace kerec
