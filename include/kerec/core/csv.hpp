// kerec/core/csv.hpp — an RFC 4180 CSV reader for the caller's catalogue and basket files.
//
// Fields are separated by commas (or CsvOptions::separator); a field in double quotes may hold
// separators, line ends and doubled quotes (""), which become one quote. A backslash is an
// ordinary character (as in the files the public Instacart and Groceries data sets ship). CR,
// CRLF and LF all end a record; blank lines are skipped. A closing quote must be followed by a
// separator, a line end or the end of the input; anything else, and an unterminated quote, is a
// ParseError with file:line:column. With CsvOptions::fields set, a record with another number of
// fields is a ParseError too (file:line:column of the first extra field, or of the line end).
// Records are returned one at a time into a reused vector of strings; error(k, …) and integer<T>
// name file:line:column and the field number of field k of the last record. O(bytes), no
// allocation per record at steady state.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/io.hpp"

namespace kerec {

struct CsvOptions {
    char separator = ',';
    /// Fields every record must have; 0 accepts any number.
    std::size_t fields = 0;
};

class CsvReader {
public:
    explicit CsvReader(const std::filesystem::path& path, char separator = ',')
        : CsvReader(path, CsvOptions{.separator = separator}) {}
    CsvReader(const std::filesystem::path& path, CsvOptions options)
        : name_(path.string()), text_(read_file(path)), opt_(options) {
        check_options_();
    }

    /// Parse CSV held in memory (`name` appears in errors).
    static CsvReader from_string(std::string text, std::string name = "<csv>", char separator = ',') {
        return CsvReader(std::move(text), std::move(name), CsvOptions{.separator = separator});
    }
    static CsvReader from_string(std::string text, std::string name, CsvOptions options) {
        return CsvReader(std::move(text), std::move(name), options);
    }

    /// Next record into `fields` (resized; strings reused). False at end of input.
    bool next(std::vector<std::string>& fields) {
        // Blank lines are not records.
        while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) end_line_();
        if (pos_ >= text_.size()) return false;
        record_line_ = line_;
        std::size_t n = 0;
        starts_.clear();
        for (;;) {
            if (n == fields.size()) fields.emplace_back();
            std::string& f = fields[n++];
            f.clear();
            starts_.push_back({line_, column_()});
            if (opt_.fields != 0 && n == opt_.fields + 1)
                throw ParseError(name_, line_, column_(), fmt::format("record has more than {} fields (field {} starts here)",
                                                                      opt_.fields, n));
            if (pos_ < text_.size() && text_[pos_] == '"') {
                const std::uint64_t open_line = line_;
                const std::uint64_t open_col = column_();
                ++pos_;
                for (;;) {
                    if (pos_ >= text_.size()) throw ParseError(name_, open_line, open_col, "unterminated quoted field");
                    const char c = text_[pos_];
                    if (c == '"') {
                        ++pos_;
                        if (pos_ < text_.size() && text_[pos_] == '"') {
                            f += '"';
                            ++pos_;
                            continue;
                        }
                        break;
                    }
                    if (c == '\n' || c == '\r') {  // a line end inside quotes is content
                        const std::size_t from = pos_;
                        end_line_();
                        f.append(text_, from, pos_ - from);
                        continue;
                    }
                    f += c;
                    ++pos_;
                }
                if (pos_ < text_.size() && text_[pos_] != opt_.separator && text_[pos_] != '\n' && text_[pos_] != '\r')
                    throw ParseError(name_, line_, column_(),
                                     fmt::format("'{}' after the closing quote of field {} (expected '{}' or a line end)",
                                                 detail::excerpt(std::string_view(text_).substr(pos_, 1)), n,
                                                 opt_.separator));
            } else {
                const std::size_t start = pos_;
                while (pos_ < text_.size() && text_[pos_] != opt_.separator && text_[pos_] != '\n' && text_[pos_] != '\r')
                    ++pos_;
                f.assign(text_, start, pos_ - start);
            }
            if (pos_ < text_.size() && text_[pos_] == opt_.separator) {
                ++pos_;
                continue;
            }
            const std::uint64_t end_line = line_, end_col = column_();
            if (pos_ < text_.size()) end_line_();
            if (opt_.fields != 0 && n != opt_.fields)
                throw ParseError(name_, end_line, end_col,
                                 fmt::format("record has {} field{} (expected {})", n, n == 1 ? "" : "s", opt_.fields));
            break;
        }
        fields.resize(n);
        return true;
    }

    /// Line (1-based) where the last record returned by next() starts.
    std::uint64_t line() const noexcept { return record_line_; }
    const std::string& name() const noexcept { return name_; }
    const CsvOptions& options() const noexcept { return opt_; }

    /// A ParseError pointing at the last record.
    ParseError error(const std::string& message) const { return ParseError(name_, record_line_, 0, message); }
    /// A ParseError pointing at field `k` (0-based) of the last record: file:line:column, "field k+1".
    ParseError error(std::size_t k, const std::string& message) const {
        if (k < starts_.size())
            return ParseError(name_, starts_[k].line, starts_[k].column, fmt::format("field {}: {}", k + 1, message));
        return ParseError(name_, record_line_, 0, fmt::format("field {} (of {}): {}", k + 1, starts_.size(), message));
    }

    /// Field `k` of `fields` (the record next() returned last) as an integer of type T, the whole
    /// field, decimal; otherwise a ParseError naming file:line:column, the field and `what`.
    template <std::integral T>
        requires(!std::same_as<T, bool>)
    T integer(const std::vector<std::string>& fields, std::size_t k, std::string_view what) const {
        if (k >= fields.size()) throw error(k, fmt::format("{} is missing", what));
        const std::string& f = fields[k];
        T v{};
        const auto r = std::from_chars(f.data(), f.data() + f.size(), v);
        if (r.ec != std::errc() || r.ptr != f.data() + f.size())
            throw error(k, fmt::format("{} '{}' (expected an integer in [{}, {}])", what, detail::excerpt(f),
                                       std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
        return v;
    }

private:
    struct Start {
        std::uint64_t line;
        std::uint64_t column;
    };
    CsvReader(std::string text, std::string name, CsvOptions options)
        : name_(std::move(name)), text_(std::move(text)), opt_(options) {
        check_options_();
    }
    void check_options_() const {
        const char s = opt_.separator;
        if (s == '"' || s == '\n' || s == '\r')
            throw InvalidArgument(fmt::format("{}: CSV separator cannot be a quote or a line end", name_));
    }
    std::uint64_t column_() const noexcept { return pos_ - line_start_ + 1; }
    // Consume one line end (CR, LF or CRLF) at pos_.
    void end_line_() noexcept {
        if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
        ++pos_;
        ++line_;
        line_start_ = pos_;
    }

    std::string name_;
    std::string text_;
    CsvOptions opt_;
    std::size_t pos_ = 0;
    std::size_t line_start_ = 0;
    std::uint64_t line_ = 1;
    std::uint64_t record_line_ = 0;
    std::vector<Start> starts_;
};

}  // namespace kerec
