// kerec/core/csv.hpp — an RFC 4180 CSV reader for the caller's catalogue and basket files.
//
// Fields are separated by commas; a field in double quotes may hold commas, newlines and doubled
// quotes (""), which become one quote. A backslash is an ordinary character (as in the files the
// public Instacart and Groceries data sets ship). Records are returned one at a time into a reused
// vector of strings; the reader tracks the 1-based line where each record starts, and an
// unterminated quote or text after a closing quote is a ParseError. O(bytes), no allocation per
// record at steady state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/io.hpp"

namespace kerec {

class CsvReader {
public:
    explicit CsvReader(const std::filesystem::path& path, char separator = ',')
        : name_(path.string()), text_(read_file(path)), sep_(separator) {}

    /// Parse CSV held in memory (`name` appears in errors).
    static CsvReader from_string(std::string text, std::string name = "<csv>", char separator = ',') {
        return CsvReader(std::move(text), std::move(name), separator);
    }

    /// Next record into `fields` (resized; strings reused). False at end of input.
    bool next(std::vector<std::string>& fields) {
        if (pos_ >= text_.size()) return false;
        record_line_ = line_;
        std::size_t n = 0;
        auto field = [&]() -> std::string& {
            if (n == fields.size()) fields.emplace_back();
            std::string& f = fields[n++];
            f.clear();
            return f;
        };
        for (;;) {
            std::string& f = field();
            if (pos_ < text_.size() && text_[pos_] == '"') {
                const std::uint64_t open_line = line_;
                const std::size_t open_col = column();
                ++pos_;
                for (;;) {
                    if (pos_ >= text_.size())
                        throw ParseError(name_, open_line, open_col, "unterminated quoted field");
                    const char c = text_[pos_++];
                    if (c == '"') {
                        if (pos_ < text_.size() && text_[pos_] == '"') {
                            f += '"';
                            ++pos_;
                            continue;
                        }
                        break;
                    }
                    if (c == '\n') {
                        ++line_;
                        line_start_ = pos_;
                    }
                    f += c;
                }
                if (pos_ < text_.size() && text_[pos_] != sep_ && text_[pos_] != '\n' && text_[pos_] != '\r')
                    throw ParseError(name_, line_, column(),
                                     fmt::format("unexpected character '{}' after a closing quote (expected '{}' or end of line)",
                                                 text_[pos_], sep_));
            } else {
                const std::size_t start = pos_;
                while (pos_ < text_.size() && text_[pos_] != sep_ && text_[pos_] != '\n') ++pos_;
                std::size_t end = pos_;
                if (end > start && text_[end - 1] == '\r' && (pos_ >= text_.size() || text_[pos_] == '\n')) --end;
                f.assign(text_, start, end - start);
            }
            if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
            if (pos_ >= text_.size()) break;
            if (text_[pos_] == sep_) {
                ++pos_;
                continue;
            }
            if (text_[pos_] == '\n') {
                ++pos_;
                ++line_;
                line_start_ = pos_;
                break;
            }
        }
        fields.resize(n);
        return true;
    }

    /// Line (1-based) where the last record returned by next() starts.
    std::uint64_t line() const noexcept { return record_line_; }
    const std::string& name() const noexcept { return name_; }
    /// A ParseError pointing at the last record.
    ParseError error(const std::string& message) const { return ParseError(name_, record_line_, 0, message); }

private:
    CsvReader(std::string text, std::string name, char separator)
        : name_(std::move(name)), text_(std::move(text)), sep_(separator) {}
    std::size_t column() const noexcept { return pos_ - line_start_ + 1; }

    std::string name_;
    std::string text_;
    char sep_;
    std::size_t pos_ = 0;
    std::size_t line_start_ = 0;
    std::uint64_t line_ = 1;
    std::uint64_t record_line_ = 0;
};

}  // namespace kerec
