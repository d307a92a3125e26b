// kerec/llm/response_parser.hpp — reading the LLM's answer into a label and a confidence.
//
// Accepted answers (the paper's judge output, as real models actually write it):
//   * a JSON object, bare, inside a ``` fenced block, or after some prose, with the label under
//     "complementary" / "label" / "answer" / "is_complementary" (true/false, 1/0, "yes"/"no",
//     "是"/"否") and optional "confidence" (0..1, or a percentage 1..100) and "reason"/"rationale";
//   * plain text starting with yes/no/true/false or 是/否/不是, optionally followed by a confidence
//     ("yes, 0.9", "No (confidence 80%)") and free text that does not also contain the opposite word.
// Anything else is an explicit failure (ok = false with the reason), never a silent "no".
// O(|answer|); a strict JSON reader (depth <= 32) is included.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kerec/llm/judgment.hpp"

namespace kerec {

struct ParsedAnswer {
    bool ok = false;
    Label label = Label::unknown;
    float confidence = 0.0f;
    std::string rationale;
    std::string error;  ///< why parsing failed (ok == false)
};

struct ParseOptions {
    /// Confidence used when the answer gives none.
    float default_confidence = 0.8f;
    /// Longest rationale kept (bytes).
    std::size_t max_rationale_bytes = 500;
};

namespace detail {

struct Json {
    enum Kind : std::uint8_t { null, boolean, number, string, array, object } kind = null;
    bool b = false;
    double num = 0.0;
    std::string str;
    std::vector<Json> items;
    std::vector<std::pair<std::string, Json>> members;

    const Json* get(std::string_view key) const {
        for (const auto& [k, v] : members)
            if (k == key) return &v;
        return nullptr;
    }
};

class JsonReader {
public:
    explicit JsonReader(std::string_view s) : s_(s) {}
    /// Parse one value starting at pos; on success pos is just after it.
    bool value(Json& out, int depth = 0) {
        if (depth > 32) return false;
        ws_();
        if (p_ >= s_.size()) return false;
        const char c = s_[p_];
        if (c == '{') return object_(out, depth);
        if (c == '[') return array_(out, depth);
        if (c == '"') {
            out.kind = Json::string;
            return string_(out.str);
        }
        if (c == 't') return lit_("true", out, Json::boolean, true);
        if (c == 'f') return lit_("false", out, Json::boolean, false);
        if (c == 'n') return lit_("null", out, Json::null, false);
        return number_(out);
    }
    std::size_t pos() const noexcept { return p_; }
    void pos(std::size_t p) noexcept { p_ = p; }

private:
    void ws_() {
        while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\r' || s_[p_] == '\t')) ++p_;
    }
    bool lit_(std::string_view w, Json& out, Json::Kind k, bool b) {
        if (s_.substr(p_, w.size()) != w) return false;
        p_ += w.size();
        out.kind = k;
        out.b = b;
        return true;
    }
    bool number_(Json& out) {
        const std::size_t start = p_;
        if (p_ < s_.size() && s_[p_] == '-') ++p_;
        while (p_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[p_])) || s_[p_] == '.' || s_[p_] == 'e' ||
                                  s_[p_] == 'E' || s_[p_] == '+' || s_[p_] == '-'))
            ++p_;
        if (p_ == start) return false;
        double v = 0;
        const auto r = std::from_chars(s_.data() + start, s_.data() + p_, v);
        if (r.ec != std::errc() || r.ptr != s_.data() + p_ || !std::isfinite(v)) return false;
        out.kind = Json::number;
        out.num = v;
        return true;
    }
    static void utf8_(std::string& o, std::uint32_t cp) {
        if (cp < 0x80) o += static_cast<char>(cp);
        else if (cp < 0x800) o += static_cast<char>(0xC0 | (cp >> 6)), o += static_cast<char>(0x80 | (cp & 0x3F));
        else if (cp < 0x10000)
            o += static_cast<char>(0xE0 | (cp >> 12)), o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                o += static_cast<char>(0x80 | (cp & 0x3F));
        else
            o += static_cast<char>(0xF0 | (cp >> 18)), o += static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
                o += static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), o += static_cast<char>(0x80 | (cp & 0x3F));
    }
    bool hex4_(std::uint32_t& v) {
        if (p_ + 4 > s_.size()) return false;
        v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[p_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
            else return false;
        }
        return true;
    }
    bool string_(std::string& o) {
        ++p_;  // opening quote
        o.clear();
        while (p_ < s_.size()) {
            const char c = s_[p_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') {
                o += c;
                continue;
            }
            if (p_ >= s_.size()) return false;
            switch (s_[p_++]) {
                case '"': o += '"'; break;
                case '\\': o += '\\'; break;
                case '/': o += '/'; break;
                case 'b': o += '\b'; break;
                case 'f': o += '\f'; break;
                case 'n': o += '\n'; break;
                case 'r': o += '\r'; break;
                case 't': o += '\t'; break;
                case 'u': {
                    std::uint32_t cp;
                    if (!hex4_(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        std::uint32_t lo;
                        if (s_.substr(p_, 2) != "\\u") return false;
                        p_ += 2;
                        if (!hex4_(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return false;
                    }
                    utf8_(o, cp);
                    break;
                }
                default: return false;
            }
        }
        return false;
    }
    bool array_(Json& out, int depth) {
        ++p_;
        out.kind = Json::array;
        ws_();
        if (p_ < s_.size() && s_[p_] == ']') return ++p_, true;
        for (;;) {
            Json v;
            if (!value(v, depth + 1)) return false;
            out.items.push_back(std::move(v));
            ws_();
            if (p_ >= s_.size()) return false;
            if (s_[p_] == ',') { ++p_; continue; }
            if (s_[p_] == ']') return ++p_, true;
            return false;
        }
    }
    bool object_(Json& out, int depth) {
        ++p_;
        out.kind = Json::object;
        ws_();
        if (p_ < s_.size() && s_[p_] == '}') return ++p_, true;
        for (;;) {
            ws_();
            if (p_ >= s_.size() || s_[p_] != '"') return false;
            std::string key;
            if (!string_(key)) return false;
            ws_();
            if (p_ >= s_.size() || s_[p_] != ':') return false;
            ++p_;
            Json v;
            if (!value(v, depth + 1)) return false;
            out.members.emplace_back(std::move(key), std::move(v));
            ws_();
            if (p_ >= s_.size()) return false;
            if (s_[p_] == ',') { ++p_; continue; }
            if (s_[p_] == '}') return ++p_, true;
            return false;
        }
    }
    std::string_view s_;
    std::size_t p_ = 0;
};

inline std::string_view trim(std::string_view s) {
    auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!s.empty() && sp(s.front())) s.remove_prefix(1);
    while (!s.empty() && sp(s.back())) s.remove_suffix(1);
    return s;
}

inline std::string lower_ascii(std::string_view s) {
    std::string o(s);
    for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return o;
}

/// yes/no words (ASCII case-insensitive, or Chinese); nullopt when it is neither.
inline std::optional<Label> answer_word(std::string_view w) {
    const std::string l = lower_ascii(trim(w));
    if (l == "yes" || l == "y" || l == "true" || l == "1" || l == "complementary" || l == "是" || l == "是的")
        return Label::yes;
    if (l == "no" || l == "n" || l == "false" || l == "0" || l == "not complementary" || l == "否" || l == "不是" ||
        l == "不")
        return Label::no;
    return std::nullopt;
}

/// A confidence from a number: [0, 1] as is, (1, 100] as a percentage; nullopt otherwise.
inline std::optional<float> confidence_from(double v, bool percent) {
    if (!std::isfinite(v) || v < 0.0) return std::nullopt;
    if (percent || v > 1.0) {
        if (v > 100.0) return std::nullopt;
        v /= 100.0;
    }
    return static_cast<float>(v);
}

inline std::string cap_utf8(std::string s, std::size_t max) {
    if (s.size() <= max) return s;
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    s.resize(cut);
    return s;
}

inline ParsedAnswer from_json(const Json& j, const ParseOptions& opt) {
    ParsedAnswer r;
    if (j.kind != Json::object) {
        r.error = "JSON answer is not an object";
        return r;
    }
    const Json* lab = nullptr;
    for (const char* key : {"complementary", "is_complementary", "label", "answer", "complement"})
        if ((lab = j.get(key))) break;
    if (!lab) {
        r.error = "JSON answer has no \"complementary\"/\"label\"/\"answer\" field";
        return r;
    }
    std::optional<Label> label;
    if (lab->kind == Json::boolean) label = lab->b ? Label::yes : Label::no;
    else if (lab->kind == Json::number && (lab->num == 0.0 || lab->num == 1.0)) label = lab->num == 1.0 ? Label::yes : Label::no;
    else if (lab->kind == Json::string) label = answer_word(lab->str);
    if (!label) {
        r.error = "JSON label is not true/false, 1/0, yes/no or 是/否";
        return r;
    }
    r.confidence = opt.default_confidence;
    if (const Json* c = j.get("confidence")) {
        std::optional<float> conf;
        if (c->kind == Json::number) conf = confidence_from(c->num, false);
        else if (c->kind == Json::string) {
            std::string_view t = trim(c->str);
            const bool pct = !t.empty() && t.back() == '%';
            if (pct) t.remove_suffix(1);
            double v = 0;
            const auto res = std::from_chars(t.data(), t.data() + t.size(), v);
            if (res.ec == std::errc() && res.ptr == t.data() + t.size()) conf = confidence_from(v, pct);
        } else if (c->kind == Json::null) {
            conf = opt.default_confidence;
        }
        if (!conf) {
            r.error = "JSON confidence is not a number in [0, 1] or a percentage";
            return r;
        }
        r.confidence = *conf;
    }
    for (const char* key : {"reason", "rationale", "explanation"})
        if (const Json* t = j.get(key); t && t->kind == Json::string) {
            r.rationale = cap_utf8(t->str, opt.max_rationale_bytes);
            break;
        }
    r.ok = true;
    r.label = *label;
    return r;
}

inline bool is_word_char(unsigned char c) { return std::isalnum(c) || c == '_'; }

/// Does `text` contain `word` as a whole ASCII word (case-insensitive) or, for CJK words, anywhere?
inline bool contains_word(const std::string& lower_text, std::string_view word) {
    std::size_t p = 0;
    const bool cjk = static_cast<unsigned char>(word.front()) >= 0x80;
    while ((p = lower_text.find(word, p)) != std::string::npos) {
        if (cjk) return true;
        const bool left = p == 0 || !is_word_char(static_cast<unsigned char>(lower_text[p - 1]));
        const std::size_t e = p + word.size();
        const bool right = e >= lower_text.size() || !is_word_char(static_cast<unsigned char>(lower_text[e]));
        if (left && right) return true;
        p = e;
    }
    return false;
}

inline ParsedAnswer from_plain(std::string_view text, const ParseOptions& opt) {
    ParsedAnswer r;
    const std::string l = lower_ascii(text);
    Label label;
    std::size_t used = 0;
    auto starts = [&](std::string_view w, bool ascii) {
        if (l.compare(0, w.size(), w) != 0) return false;
        if (ascii && l.size() > w.size() && is_word_char(static_cast<unsigned char>(l[w.size()]))) return false;
        used = w.size();
        return true;
    };
    if (starts("不是", false) || starts("否", false)) label = Label::no;
    else if (starts("是否", false)) {
        r.error = "answer starts with 是否 (a question, not an answer)";
        return r;
    } else if (starts("是", false) || starts("yes", true) || starts("true", true)) label = Label::yes;
    else if (starts("no", true) || starts("false", true)) label = Label::no;
    else {
        r.error = "answer is neither JSON nor starts with yes/no/true/false/是/否";
        return r;
    }
    const std::string rest = l.substr(used);
    // The rest must not also answer the other way.
    // (Chinese 是 inside a sentence is the copula "is", so only 是的 / 否 count there.)
    const bool yes_word = contains_word(rest, "yes") || contains_word(rest, "是的");
    const bool no_word = contains_word(rest, "no") || contains_word(rest, "否");
    if ((label == Label::yes && no_word) || (label == Label::no && yes_word)) {
        r.error = "answer contains both yes and no";
        return r;
    }
    r.label = label;
    r.confidence = opt.default_confidence;
    // Optional confidence: the first number in the rest (a trailing % makes it a percentage).
    const std::string_view rv = text.substr(used);
    for (std::size_t i = 0; i < rv.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(rv[i]))) continue;
        std::size_t e = i;
        while (e < rv.size() && (std::isdigit(static_cast<unsigned char>(rv[e])) || rv[e] == '.')) ++e;
        double v = 0;
        const auto res = std::from_chars(rv.data() + i, rv.data() + e, v);
        const bool pct = e < rv.size() && rv[e] == '%';
        std::optional<float> conf;
        if (res.ec == std::errc()) conf = confidence_from(v, pct);
        if (!conf) {
            r.error = "confidence in a plain answer is not in [0, 1] or a percentage";
            return r;
        }
        r.confidence = *conf;
        break;
    }
    r.rationale = cap_utf8(std::string(trim(rv)), opt.max_rationale_bytes);
    r.ok = true;
    return r;
}

}  // namespace detail

/// Parse one LLM reply. Never throws on bad text: ok == false carries the reason.
inline ParsedAnswer parse_answer(std::string_view reply, const ParseOptions& opt = {}) {
    std::string_view text = detail::trim(reply);
    if (text.empty()) return ParsedAnswer{false, Label::unknown, 0.0f, {}, "empty answer"};
    // A bare JSON object first (its strings may contain anything, fences included).
    if (text.front() == '{') {
        detail::JsonReader reader(text);
        detail::Json j;
        if (reader.value(j) && detail::trim(text.substr(reader.pos())).empty()) return detail::from_json(j, opt);
        return ParsedAnswer{false, Label::unknown, 0.0f, {}, "malformed JSON answer"};
    }
    // Then a fenced code block: take its content.
    if (const auto f = text.find("```"); f != std::string_view::npos) {
        std::size_t body = text.find('\n', f);
        const auto close = body == std::string_view::npos ? std::string_view::npos : text.find("```", body);
        if (close == std::string_view::npos) return ParsedAnswer{false, Label::unknown, 0.0f, {}, "unterminated ``` block"};
        text = detail::trim(text.substr(body + 1, close - body - 1));
    }
    // Then the first JSON object after some prose.
    if (const auto brace = text.find('{'); brace != std::string_view::npos) {
        detail::JsonReader reader(text.substr(brace));
        detail::Json j;
        if (reader.value(j)) return detail::from_json(j, opt);
        if (brace == 0) return ParsedAnswer{false, Label::unknown, 0.0f, {}, "malformed JSON answer"};
    }
    return detail::from_plain(text, opt);
}

}  // namespace kerec
