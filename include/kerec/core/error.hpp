// kerec/core/error.hpp — the exception hierarchy of the library.
//
// Every failure the library reports is an exception derived from kerec::Error whose message names
// the input (file, line, column, field, value) and what was expected. The library never prints and
// never exits. Cost: formatting the message, only on the error path.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace kerec {

/// Base class of every exception kerec throws.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// A caller passed a value outside the documented domain (out-of-range id, NaN, empty input...).
class InvalidArgument : public Error {
public:
    explicit InvalidArgument(const std::string& what) : Error(what) {}
};

/// An id or index outside the range of the container it addresses (the message names both).
class OutOfRange : public InvalidArgument {
public:
    explicit OutOfRange(const std::string& what) : InvalidArgument(what) {}
};

/// An operating-system level failure (open, write, fsync, rename, mmap...).
class IoError : public Error {
public:
    IoError(std::string path, std::string_view operation, int errno_value)
        : Error(fmt::format("{}: {} failed: {}", path, operation, describe(errno_value))),
          path_(std::move(path)), errno_(errno_value) {}
    IoError(std::string path, const std::string& message)
        : Error(fmt::format("{}: {}", path, message)), path_(std::move(path)), errno_(0) {}

    const std::string& path() const noexcept { return path_; }
    int error_code() const noexcept { return errno_; }

private:
    static std::string describe(int e);
    std::string path_;
    int errno_;
};

/// Malformed input data. line/column are 1-based; 0 means "not applicable".
class ParseError : public Error {
public:
    ParseError(std::string source, std::uint64_t line, std::uint64_t column, const std::string& message)
        : Error(format_message(source, line, column, message)),
          source_(std::move(source)), line_(line), column_(column) {}

    const std::string& source() const noexcept { return source_; }
    std::uint64_t line() const noexcept { return line_; }
    std::uint64_t column() const noexcept { return column_; }

private:
    static std::string format_message(const std::string& source, std::uint64_t line,
                                      std::uint64_t column, const std::string& message) {
        if (line == 0) return fmt::format("{}: {}", source, message);
        if (column == 0) return fmt::format("{}:{}: {}", source, line, message);
        return fmt::format("{}:{}:{}: {}", source, line, column, message);
    }
    std::string source_;
    std::uint64_t line_;
    std::uint64_t column_;
};

}  // namespace kerec

#include <cstring>

inline std::string kerec::IoError::describe(int e) {
    if (e == 0) return "unknown error";
    char buffer[256];
    // GNU strerror_r may return a pointer to a static string instead of filling the buffer.
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    const char* text = ::strerror_r(e, buffer, sizeof buffer);
    return fmt::format("{} (errno {})", text, e);
#else
    if (::strerror_r(e, buffer, sizeof buffer) != 0) return fmt::format("errno {}", e);
    return fmt::format("{} (errno {})", buffer, e);
#endif
}
