// kerec/entity/normalizer.hpp — text normalisation and tokenisation for entity extraction.
//
// The first stage of the paper's entity extractor: titles and bill lines are mapped to one
// canonical byte string so that surface forms match regardless of case, punctuation or spacing.
//   * UTF-8 is validated; every invalid byte becomes U+FFFD (its own token) and is counted.
//   * Case folding: ASCII, Latin-1 (À→à …), fullwidth ASCII, basic Greek and Cyrillic.
//   * Punctuation, symbols and every Unicode space become one separator; apostrophes, soft
//     hyphens and zero-width characters are removed (women's → womens).
//   * Tokens are maximal runs of word characters; a CJK character (Han, kana, Hangul) is a token
//     on its own, so CJK text without spaces is handled character-wise.
//   * The normalised text is the tokens joined by single spaces. Every normalised byte keeps the
//     source span [begin, end) of the character it came from, so a span of normalised text maps
//     back to original byte offsets: [source_begin(b), source_end(e - 1)).
// Optional plural folding (fold_plural) applies a light English stemmer to ASCII tokens.
// Cost: O(bytes) per call, no allocation once the reused NormalizedText has grown.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"

namespace kerec {

/// One token of a NormalizedText: bytes [norm_begin, norm_end) of the normalised text and the
/// bytes [src_begin, src_end) of the original text it came from.
struct Token {
    std::uint32_t norm_begin = 0, norm_end = 0;
    std::uint32_t src_begin = 0, src_end = 0;
};

namespace detail {

/// Light English plural folding of an all-lower-case ASCII word, in place (never grows):
/// -ies→i, -sses→ss, -ches/-shes/-xes/-zes→drop "es", -oes→o (≥ 6 letters), -s→drop (not after
/// s/u/i), then -ie→i and consonant+y→i. Singular and plural reach the same stem
/// (berry/berries→berri, cookie/cookies→cooki, tomato/tomatoes→tomato, box/boxes→box).
inline std::size_t fold_plural_inplace(char* w, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i)
        if (w[i] < 'a' || w[i] > 'z') return n;
    auto ends = [&](std::string_view s) { return n >= s.size() && std::string_view(w + n - s.size(), s.size()) == s; };
    auto vowel = [](char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; };
    if (n >= 4) {
        if (ends("ies")) {
            n -= 2;  // -ies -> -i
        } else if (ends("sses")) {
            n -= 2;
        } else if (n >= 5 && (ends("ches") || ends("shes") || ends("xes") || ends("zes"))) {
            n -= 2;
        } else if (n >= 6 && ends("oes")) {
            n -= 2;
        } else if (w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i') {
            n -= 1;
        }
    }
    if (n >= 3 && ends("ie")) {
        n -= 1;
    } else if (n >= 3 && w[n - 1] == 'y' && !vowel(w[n - 2])) {
        w[n - 1] = 'i';
    }
    return n;
}

enum class CharClass : std::uint8_t { word, separator, removed, isolated };

// ASCII: letters and digits are word characters, the apostrophe is removed, the rest separates.
constexpr std::array<std::uint8_t, 128> make_ascii_table() {
    std::array<std::uint8_t, 128> t{};
    for (int c = 0; c < 128; ++c) {
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) t[c] = static_cast<std::uint8_t>(c);
        else if (c >= 'A' && c <= 'Z') t[c] = static_cast<std::uint8_t>(c + 32);
        else if (c == '\'') t[c] = 1;  // removed
        else t[c] = 0;                 // separator
    }
    return t;
}
inline constexpr auto ascii_fold = make_ascii_table();

/// Decode one UTF-8 character at s[0..n). Returns its length; sets cp. Invalid → 0.
inline std::size_t decode_utf8(const unsigned char* s, std::size_t n, char32_t& cp) noexcept {
    const unsigned c = s[0];
    auto cont = [&](std::size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
    if (c < 0x80) {
        cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        if (!cont(1)) return 0;
        cp = ((c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(1) || !cont(2)) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  // overlong
        if (c == 0xED && s[1] > 0x9F) return 0;  // surrogates
        cp = ((c & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  // overlong
        if (c == 0xF4 && s[1] > 0x8F) return 0;  // > U+10FFFF
        cp = ((c & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    return 0;
}

inline std::size_t encode_utf8(char32_t cp, char* out) noexcept {
    if (cp < 0x80) {
        out[0] = static_cast<char>(cp);
        return 1;
    }
    if (cp < 0x800) {
        out[0] = static_cast<char>(0xC0 | (cp >> 6));
        out[1] = static_cast<char>(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = static_cast<char>(0xE0 | (cp >> 12));
        out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out[2] = static_cast<char>(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = static_cast<char>(0xF0 | (cp >> 18));
    out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<char>(0x80 | (cp & 0x3F));
    return 4;
}

/// True for characters that form a token on their own (CJK ideographs, kana, Hangul, U+FFFD).
constexpr bool is_isolated(char32_t cp) noexcept {
    return (cp >= 0x3040 && cp <= 0x312F) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
           (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3134F) ||
           cp == 0xFFFD;
}

/// Class and case-folded value of a non-ASCII code point.
constexpr CharClass classify(char32_t& cp) noexcept {
    if (cp <= 0xFF) {
        if (cp < 0xA0) return CharClass::separator;  // C1 controls
        if (cp == 0xAD || cp == 0xB4) return CharClass::removed;  // soft hyphen, acute accent
        if (cp == 0xAA || cp == 0xB5 || cp == 0xBA) return CharClass::word;
        if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) return CharClass::separator;
        if (cp <= 0xDE) cp += 0x20;
        return CharClass::word;
    }
    if (cp == 0x2018 || cp == 0x2019 || cp == 0x02BC || (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 ||
        cp == 0xFEFF)
        return CharClass::removed;
    if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2) {
        cp += 0x20;
        return CharClass::word;
    }
    if (cp >= 0x0410 && cp <= 0x042F) {
        cp += 0x20;
        return CharClass::word;
    }
    if (cp >= 0x0400 && cp <= 0x040F) {
        cp += 0x50;
        return CharClass::word;
    }
    if (cp >= 0xFF10 && cp <= 0xFF19) {
        cp = U'0' + (cp - 0xFF10);
        return CharClass::word;
    }
    if (cp >= 0xFF21 && cp <= 0xFF3A) {
        cp = U'a' + (cp - 0xFF21);
        return CharClass::word;
    }
    if (cp >= 0xFF41 && cp <= 0xFF5A) {
        cp = U'a' + (cp - 0xFF41);
        return CharClass::word;
    }
    if (is_isolated(cp)) return CharClass::isolated;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
        (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF01 && cp <= 0xFF0F) ||
        (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
        (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0xFE00 && cp <= 0xFE0F))
        return CharClass::separator;
    return CharClass::word;
}

}  // namespace detail

/// Fold an English plural to its stem (see detail::fold_plural_inplace). Non-ASCII or
/// non-lower-case words come back unchanged. O(|word|).
inline std::string fold_plural(std::string_view word) {
    std::string w(word);
    w.resize(detail::fold_plural_inplace(w.data(), w.size()));
    return w;
}

struct NormalizerOptions {
    bool fold_plurals = false;  ///< apply fold_plural to every ASCII token
};

/// The output of Normalizer::normalize. Reuse one instance per thread: its buffers only grow.
class NormalizedText {
public:
    /// The normalised text: tokens joined by single spaces.
    std::string_view text() const noexcept { return {buf_.data(), size_}; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    const std::vector<Token>& tokens() const noexcept { return tokens_; }
    std::string_view token_text(std::size_t i) const noexcept {
        const Token& t = tokens_[i];
        return {buf_.data() + t.norm_begin, t.norm_end - t.norm_begin};
    }
    /// First source byte of the character that produced normalised byte i (i < size()).
    std::uint32_t source_begin(std::size_t i) const noexcept { return src_begin_[i]; }
    /// One past the last source byte of the character that produced normalised byte i.
    std::uint32_t source_end(std::size_t i) const noexcept { return src_end_[i]; }
    /// Original byte span of the normalised span [b, e), e > b.
    std::pair<std::uint32_t, std::uint32_t> source_span(std::size_t b, std::size_t e) const noexcept {
        return {src_begin_[b], src_end_[e - 1]};
    }
    /// Invalid UTF-8 bytes replaced by U+FFFD in the last call.
    std::size_t invalid_bytes() const noexcept { return invalid_; }
    /// Bytes of normalised text the buffers can hold without growing.
    std::size_t capacity() const noexcept { return buf_.size(); }
    /// Length of the original text of the last call.
    std::size_t source_size() const noexcept { return source_size_; }

private:
    friend class Normalizer;
    std::vector<char> buf_;
    std::vector<std::uint32_t> src_begin_, src_end_;
    std::vector<Token> tokens_;
    std::size_t size_ = 0;
    std::size_t invalid_ = 0;
    std::size_t source_size_ = 0;
};

/// Maps raw text to NormalizedText (see the file comment). Stateless apart from its options.
class Normalizer {
public:
    Normalizer() = default;
    explicit Normalizer(NormalizerOptions options) : options_(options) {}
    const NormalizerOptions& options() const noexcept { return options_; }

    /// Normalise `text` into `out` (previous content replaced). Texts of 4 GiB or more are an
    /// InvalidArgument (offsets are 32-bit).
    void normalize(std::string_view text, NormalizedText& out) const {
        if (text.size() >= 0xFFFFFFFFu)
            throw InvalidArgument(fmt::format("Normalizer: text of {} bytes, expected < 4 GiB", text.size()));
        const std::size_t n = text.size();
        out.tokens_.clear();
        out.invalid_ = 0;
        out.source_size_ = n;
        // Output grows with the input (ASCII never expands; an invalid byte or a CJK character
        // after a token can: " " + 3 bytes). Room for the rest of the input plus slack is
        // checked once per character or ASCII run; buffers grow geometrically and are kept.
        char* o = nullptr;
        std::uint32_t* sb = nullptr;
        std::uint32_t* se = nullptr;
        std::size_t m = 0;
        std::size_t cap = 0;
        auto reserve = [&](std::size_t need) {
            if (need <= cap) return;
            if (out.buf_.size() < need) {
                const std::size_t c = std::max(need, out.buf_.size() + out.buf_.size() / 2);
                out.buf_.resize(c);
                out.src_begin_.resize(c);
                out.src_end_.resize(c);
            }
            cap = out.buf_.size();
            o = out.buf_.data();
            sb = out.src_begin_.data();
            se = out.src_end_.data();
        };
        reserve(n + 16);
        const auto* s = reinterpret_cast<const unsigned char*>(text.data());
        bool in_token = false;
        std::uint32_t last_src_end = 0;  // source end of the last emitted token byte
        Token cur{};

        auto close_token = [&]() {
            if (!in_token) return;
            in_token = false;
            cur.norm_end = static_cast<std::uint32_t>(m);
            if (options_.fold_plurals) {
                const std::size_t len = cur.norm_end - cur.norm_begin;
                const std::size_t nl = detail::fold_plural_inplace(o + cur.norm_begin, len);
                if (nl < len) {
                    m = cur.norm_begin + nl;
                    se[m - 1] = cur.src_end;  // the stem's last byte covers the removed suffix
                    cur.norm_end = static_cast<std::uint32_t>(m);
                }
            }
            out.tokens_.push_back(cur);
        };
        auto open_token = [&](std::uint32_t src) {
            if (m > 0) {  // one space between tokens, mapped to the gap in the source
                o[m] = ' ';
                sb[m] = last_src_end;
                se[m] = src;
                ++m;
            }
            in_token = true;
            cur.norm_begin = static_cast<std::uint32_t>(m);
            cur.src_begin = src;
        };
        auto emit = [&](const char* bytes, std::size_t len, std::uint32_t b, std::uint32_t e) {
            for (std::size_t k = 0; k < len; ++k) {
                o[m] = bytes[k];
                sb[m] = b;
                se[m] = e;
                ++m;
            }
            cur.src_end = e;
            last_src_end = e;
        };

        std::size_t i = 0;
        while (i < n) {
            if (m + (n - i) + 8 > cap) reserve(m + (n - i) + 16);
            const unsigned c = s[i];
            if (c < 0x80) {
                const std::uint8_t f = detail::ascii_fold[c];
                if (f > 1) {
                    if (!in_token) open_token(static_cast<std::uint32_t>(i));
                    // a run of ASCII word characters: the hot loop
                    auto pos = static_cast<std::uint32_t>(i);
                    std::uint8_t g = f;
                    do {
                        o[m] = static_cast<char>(g);
                        sb[m] = pos;
                        se[m] = pos + 1;
                        ++m;
                        ++pos;
                    } while (pos < n && s[pos] < 0x80 && (g = detail::ascii_fold[s[pos]]) > 1);
                    i = pos;
                    cur.src_end = last_src_end = pos;
                    continue;
                }
                if (f == 0) close_token();
                ++i;
                continue;
            }
            char32_t cp = 0;
            std::size_t len = detail::decode_utf8(s + i, n - i, cp);
            if (len == 0) {
                ++out.invalid_;
                cp = 0xFFFD;
                len = 1;
            }
            const auto b = static_cast<std::uint32_t>(i), e = static_cast<std::uint32_t>(i + len);
            i += len;
            switch (detail::classify(cp)) {
                case detail::CharClass::removed: break;
                case detail::CharClass::separator: close_token(); break;
                case detail::CharClass::word: {
                    if (!in_token) open_token(b);
                    char enc[4];
                    emit(enc, detail::encode_utf8(cp, enc), b, e);
                    break;
                }
                case detail::CharClass::isolated: {
                    close_token();
                    open_token(b);
                    char enc[4];
                    emit(enc, detail::encode_utf8(cp, enc), b, e);
                    in_token = true;
                    close_token();
                    break;
                }
            }
        }
        close_token();
        out.size_ = m;
    }

    /// Convenience: the normalised string only (allocates).
    std::string normalize(std::string_view text) const {
        NormalizedText t;
        normalize(text, t);
        return std::string(t.text());
    }

private:
    NormalizerOptions options_{};
};

}  // namespace kerec
