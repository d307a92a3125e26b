// kerec/llm/response_parser.hpp — reading the LLM's answer about one pair into a label and a confidence.
//
// The paper's judge output, read so that the answer is a function of what the model said about the
// pair, never of text the entity names carry (OWASP LLM01). parse_answer(reply, name_a, name_b):
//   1. Names are masked first. The reply and both names go through the prompt's normalisation
//      (invisible characters dropped, whitespace collapsed, case folded; the names as the prompt
//      showed them: sanitized, cut at max_name_bytes, and JSON-escaped); every word-bounded
//      occurrence of a name is blanked before anything else is read. A name that is by itself an
//      answer token (yes/no/true/是/…, a JSON field name, a number) cannot carry an answer: it is
//      left in JSON (it cannot form an object) and blanked in plain text except as the leading
//      label word or a number marked "confidence".
//   2. JSON: every `{…}` object left is read with nlohmann-json (depth-limited SAX, no exception
//      escapes); bare, fenced (``` blocks, one-line too) or with prose before/after. Label under
//      "complementary"/"is_complementary"/"label"/"answer"/"complement", confidence under
//      "confidence", rationale under "reason"/"rationale"/"explanation". Duplicate keys, label keys
//      that disagree, several objects that disagree, prose whose leading yes/no contradicts the
//      JSON, and malformed or unterminated objects are failures.
//   3. Plain text: a leading yes/no/true/false, ja/nein or 是/是的/否/不是; the rest must not answer
//      the other way or hedge ("Yes, but not really." fails); the confidence is the number marked
//      "confidence"/"置信度"/"Konfidenz"/"sure", else the only number, else the default; several
//      unmarked numbers are a failure.
// Confidence: a number in [0, 1], a percentage ("85%", "85 %", 0..100), or a whole number 10..100
// read as a percentage; anything else (1.5, 7, 250, -0.5, NaN) is a failure, never rescaled.
// Failures are ok == false with the reason (judges re-ask once, then store unknown): never a guess.
// O(|reply| + |names|) (KMP matching, one pass for objects, linear SAX), replies capped at
// max_reply_bytes.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "kerec/llm/judgment.hpp"
#include "kerec/llm/prompt.hpp"

namespace kerec {

struct ParsedAnswer {
    bool ok = false;
    Label label = Label::unknown;
    float confidence = 0.0f;
    std::string rationale;  ///< valid UTF-8, at most max_rationale_bytes
    std::string error;      ///< why parsing failed (ok == false)
};

struct ParseOptions {
    /// Confidence used when the answer gives none.
    float default_confidence = 0.8f;
    /// Longest rationale kept (bytes).
    std::size_t max_rationale_bytes = 500;
    /// The prompt's PromptTemplate::max_name_bytes: where the names the model saw were cut.
    std::size_t max_name_bytes = 200;
    /// Longer replies are a failure (a judge's answer is one line).
    std::size_t max_reply_bytes = 64 * 1024;
    /// Deepest JSON nesting read.
    int max_json_depth = 16;
};

namespace detail {

inline std::string_view trim(std::string_view s) {
    auto sp = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!s.empty() && sp(s.front())) s.remove_prefix(1);
    while (!s.empty() && sp(s.back())) s.remove_suffix(1);
    return s;
}

inline std::string lower_ascii(std::string_view s) {
    std::string o(s);
    for (auto& c : o)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return o;
}

constexpr bool ascii_word(char ch) noexcept {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}
constexpr bool ascii_digit(char ch) noexcept { return ch >= '0' && ch <= '9'; }

/// The byte a masked name occurrence is replaced with: not a word character, not a digit, not
/// JSON structure, and allowed inside a JSON string (so a name echoed in a "reason" stays valid).
inline constexpr char mask_byte = '\x7F';

/// A label word (folded): yes/no and their spellings.
inline std::optional<Label> answer_word(std::string_view w) {
    const std::string l = lower_ascii(trim(w));
    for (const char* y : {"yes", "y", "true", "1", "complementary", "ja", "是", "是的"})
        if (l == y) return Label::yes;
    for (const char* n : {"no", "n", "false", "0", "not complementary", "nein", "否", "不是", "不"})
        if (l == n) return Label::no;
    return std::nullopt;
}

inline bool field_word(std::string_view l) {
    for (const char* f : {"complementary", "is_complementary", "label", "answer", "complement", "confidence", "reason",
                          "rationale", "explanation", "null"})
        if (l == f) return true;
    return false;
}

/// "85", "0.9", "0,9", "85%" (folded form).
inline bool number_token(std::string_view l) {
    if (!l.empty() && l.back() == '%') l.remove_suffix(1);
    std::size_t i = 0, digits = 0;
    while (i < l.size() && ascii_digit(l[i])) ++i, ++digits;
    if (i < l.size() && (l[i] == '.' || l[i] == ',')) {
        ++i;
        while (i < l.size() && ascii_digit(l[i])) ++i, ++digits;
    }
    return digits > 0 && i == l.size();
}

// --- names ---------------------------------------------------------------------------------

struct NameForm {
    std::string text;  ///< folded
    bool reserved = false;
    bool numeric = false;
    bool label_word = false;
};

inline void add_form(std::vector<NameForm>& forms, std::string folded) {
    while (!folded.empty() && folded.back() == ' ') folded.pop_back();
    if (folded.empty()) return;
    for (const auto& f : forms)
        if (f.text == folded) return;
    NameForm f;
    // An answer token by itself ("Yes!", "0.9", "confidence"): no braces or quotes, one word.
    std::string_view core = folded;
    auto punct = [](char c) { return !ascii_word(c) && static_cast<unsigned char>(c) < 0x80 && c != '%'; };
    while (!core.empty() && punct(core.front())) core.remove_prefix(1);
    while (!core.empty() && punct(core.back())) core.remove_suffix(1);
    const bool structural = folded.find_first_of("{}\"") != std::string::npos;
    if (!structural && !core.empty()) {
        f.label_word = answer_word(core).has_value() && core != "1" && core != "0";
        f.numeric = number_token(core);
        f.reserved = f.label_word || f.numeric || field_word(core);
    }
    f.text = std::move(folded);
    forms.push_back(std::move(f));
}

/// The forms of a name the model may echo: as the prompt showed it (sanitized, cut), whole,
/// without the cut's ellipsis, and JSON-escaped (inside a string of a JSON reply); all folded.
inline std::vector<NameForm> name_forms(std::string_view name, const ParseOptions& opt) {
    std::vector<NameForm> forms;
    const std::string shown = sanitize_name(name, std::max<std::size_t>(opt.max_name_bytes, 8));
    add_form(forms, normalize_text(shown, true));
    add_form(forms, normalize_text(name, true));  // the whole name, when the prompt showed it cut
    if (shown.ends_with("...")) add_form(forms, normalize_text(std::string_view(shown).substr(0, shown.size() - 3), true));
    const std::string quoted = json_quote(shown);
    const std::string_view escaped = std::string_view(quoted).substr(1, quoted.size() - 2);
    if (escaped != shown) add_form(forms, normalize_text(escaped, true));
    return forms;
}

struct NameSpan {
    std::size_t begin = 0, end = 0;
    const NameForm* form = nullptr;
};

/// Every occurrence of `pat` in `text` (Knuth–Morris–Pratt, O(|text| + |pat|)).
inline void find_all(std::string_view text, std::string_view pat, std::vector<std::size_t>& fail,
                     std::vector<std::size_t>& starts) {
    starts.clear();
    const std::size_t m = pat.size();
    if (m == 0 || m > text.size()) return;
    fail.assign(m, 0);
    for (std::size_t i = 1, k = 0; i < m; ++i) {
        while (k > 0 && pat[i] != pat[k]) k = fail[k - 1];
        if (pat[i] == pat[k]) ++k;
        fail[i] = k;
    }
    for (std::size_t i = 0, k = 0; i < text.size(); ++i) {
        while (k > 0 && text[i] != pat[k]) k = fail[k - 1];
        if (text[i] == pat[k]) ++k;
        if (k == m) {
            starts.push_back(i + 1 - m);
            k = fail[k - 1];
        }
    }
}

/// Word-bounded, non-overlapping occurrences of any form in `folded` (longest first at a tie).
inline std::vector<NameSpan> find_names(std::string_view folded, const std::vector<NameForm>& forms) {
    std::vector<NameSpan> all;
    std::vector<std::size_t> fail, starts;
    for (const NameForm& f : forms) {
        find_all(folded, f.text, fail, starts);
        const bool left_word = ascii_word(f.text.front()), right_word = ascii_word(f.text.back());
        for (std::size_t b : starts) {
            const std::size_t e = b + f.text.size();
            if (left_word && b > 0 && ascii_word(folded[b - 1])) continue;
            if (right_word && e < folded.size() && ascii_word(folded[e])) continue;
            // A number inside a longer number ("0.9" in "10.95", "1,5") is not the name.
            if (f.numeric && ((b > 1 && (folded[b - 1] == '.' || folded[b - 1] == ',') && ascii_digit(folded[b - 2])) ||
                              (e + 1 < folded.size() && (folded[e] == '.' || folded[e] == ',') && ascii_digit(folded[e + 1]))))
                continue;
            all.push_back({b, e, &f});
        }
    }
    std::sort(all.begin(), all.end(), [](const NameSpan& x, const NameSpan& y) {
        return x.begin != y.begin ? x.begin < y.begin : x.end > y.end;
    });
    std::vector<NameSpan> out;
    std::size_t covered = 0;
    for (const auto& s : all)
        if (s.begin >= covered) out.push_back(s), covered = s.end;
    return out;
}

// --- plain-text vocabulary -------------------------------------------------------------------

inline bool has_word(std::string_view lower, std::string_view w) {
    for (std::size_t p = lower.find(w); p != std::string_view::npos; p = lower.find(w, p + 1)) {
        const std::size_t e = p + w.size();
        if ((p == 0 || !ascii_word(lower[p - 1])) && (e >= lower.size() || !ascii_word(lower[e]))) return true;
    }
    return false;
}
inline bool has_any_word(std::string_view lower, std::initializer_list<std::string_view> words) {
    for (auto w : words)
        if (has_word(lower, w)) return true;
    return false;
}
inline bool has_any(std::string_view text, std::initializer_list<std::string_view> parts) {
    for (auto w : parts)
        if (text.find(w) != std::string_view::npos) return true;
    return false;
}

inline bool hedges(std::string_view lower) {
    return has_any_word(lower, {"but", "however", "although", "though", "maybe", "perhaps", "possibly", "probably", "might",
                                "unless", "depends", "depending", "sometimes", "partly", "partially", "somewhat", "unclear",
                                "uncertain", "unsure", "arguably", "aber", "jedoch", "vielleicht", "manchmal", "eventuell",
                                "teilweise", "wahrscheinlich"}) ||
           has_any(lower, {"但", "可能", "也许", "或许", "不确定", "有时", "取决"});
}
inline bool negates(std::string_view lower) {
    return has_any_word(lower, {"no", "not", "never", "neither", "nor", "none", "nein", "nicht", "kein", "keine", "keinen",
                                "keiner", "keinem"}) ||
           has_any(lower, {"n't", "n\xE2\x80\x99t", "不", "没", "否", "非"});
}
inline bool affirms(std::string_view lower) { return has_any_word(lower, {"yes", "ja"}) || has_any(lower, {"是的"}); }

/// Words that mark the number after (or before) them as the confidence.
inline bool confidence_word_before(std::string_view lower, std::size_t pos) {
    std::size_t i = pos;
    auto skip_sep = [&] {
        for (;;) {
            if (i > 0 && (lower[i - 1] == ' ' || lower[i - 1] == ':' || lower[i - 1] == '=' || lower[i - 1] == '(' ||
                          lower[i - 1] == '-')) {
                --i;
                continue;
            }
            bool more = false;
            for (std::string_view s : {"：", "（", "为", "是", "约", "大约"})
                if (i >= s.size() && lower.substr(i - s.size(), s.size()) == s) {
                    i -= s.size();
                    more = true;
                    break;
                }
            if (!more) return;
        }
    };
    skip_sep();
    for (std::string_view filler : {"of", "is", "at", "level", "about", "von", "bei", "etwa"})
        if (i >= filler.size() && lower.substr(i - filler.size(), filler.size()) == filler &&
            (i == filler.size() || !ascii_word(lower[i - filler.size() - 1]))) {
            i -= filler.size();
            skip_sep();
            break;
        }
    for (std::string_view k : {"confidence", "confident", "certainty", "certain", "probability", "likelihood", "sure", "conf",
                               "konfidenz", "sicherheit", "wahrscheinlichkeit", "zuversicht"})
        if (i >= k.size() && lower.substr(i - k.size(), k.size()) == k && (i == k.size() || !ascii_word(lower[i - k.size() - 1])))
            return true;
    for (std::string_view k : {"置信度", "置信", "信心", "把握", "确信度", "概率"})
        if (i >= k.size() && lower.substr(i - k.size(), k.size()) == k) return true;
    return false;
}
inline bool confidence_word_after(std::string_view lower, std::size_t end) {
    std::size_t i = end;
    while (i < lower.size() && lower[i] == ' ') ++i;
    for (std::string_view k : {"confidence", "confident", "sure", "certain", "konfidenz", "sicher", "置信", "把握"})
        if (lower.substr(i, k.size()) == k) return true;
    return false;
}

/// A confidence from a number: see the header comment. nullopt when out of range.
inline std::optional<float> confidence_from(double v, bool percent) {
    if (!std::isfinite(v) || v < 0.0) return std::nullopt;
    if (percent) return v <= 100.0 ? std::optional<float>(static_cast<float>(v / 100.0)) : std::nullopt;
    if (v <= 1.0) return static_cast<float>(v);
    if (v >= 10.0 && v <= 100.0 && v == std::floor(v)) return static_cast<float>(v / 100.0);
    return std::nullopt;
}

struct NumberAt {
    std::size_t begin = 0, end = 0;
    double value = 0;
    bool percent = false;
};

/// The number starting at `i` (digits[.digits], or 0,d / 1,d with a decimal comma, then an
/// optional "%", "％" or " %"), if `i` starts one that is not glued to a word ("7up", "680g").
inline std::optional<NumberAt> number_at(std::string_view t, std::size_t i) {
    if (!ascii_digit(t[i]) || (i > 0 && (ascii_word(t[i - 1]) || t[i - 1] == '.' || t[i - 1] == ','))) return std::nullopt;
    std::size_t e = i;
    while (e < t.size() && ascii_digit(t[e])) ++e;
    std::string num(t.substr(i, e - i));
    if (e + 1 < t.size() && (t[e] == '.' || (t[e] == ',' && e - i == 1 && (t[i] == '0' || t[i] == '1'))) && ascii_digit(t[e + 1])) {
        num += '.';
        ++e;
        while (e < t.size() && ascii_digit(t[e])) num += t[e++];
    }
    NumberAt n;
    n.begin = i;
    if (e < t.size() && t[e] == '%') n.percent = true, ++e;
    else if (t.substr(e, 3) == "％") n.percent = true, e += 3;
    else if (t.substr(e, 2) == " %") n.percent = true, e += 2;
    if (e < t.size() && ascii_word(t[e])) return std::nullopt;
    const auto r = std::from_chars(num.data(), num.data() + num.size(), n.value);
    if (r.ec != std::errc()) return std::nullopt;
    n.end = e;
    return n;
}

/// Where the answer proper starts: after markdown emphasis/quotes and an "Answer:" prefix.
inline std::size_t answer_start(std::string_view lower) {
    std::size_t p = 0;
    auto skip = [&] {
        while (p < lower.size() && (lower[p] == ' ' || lower[p] == '*' || lower[p] == '_' || lower[p] == '"' ||
                                    lower[p] == '\'' || lower[p] == '`' || lower[p] == '#' || lower[p] == '>'))
            ++p;
    };
    skip();
    for (std::string_view w : {"answer", "antwort", "final answer", "答案", "回答"}) {
        if (lower.substr(p, w.size()) != w) continue;
        std::size_t q = p + w.size();
        while (q < lower.size() && (lower[q] == ' ' || lower[q] == '*')) ++q;
        if (lower.substr(q, 1) == ":") q += 1;
        else if (lower.substr(q, 3) == "：") q += 3;
        else continue;
        p = q;
        skip();
        break;
    }
    return p;
}

struct LeadWord {
    Label label = Label::unknown;
    std::size_t end = 0;
    std::string error;
};

/// The leading label word of a plain answer at `p` of `lower`.
inline LeadWord lead_word(std::string_view lower, std::size_t p) {
    LeadWord w;
    const std::string_view t = lower.substr(p);
    auto cjk = [&](std::string_view s) { return t.starts_with(s); };
    if (cjk("是否") || cjk("是不是")) {
        w.error = "answer starts with a question (是否 / 是不是)";
        return w;
    }
    if (cjk("不是") || cjk("否")) {
        w.label = Label::no;
        w.end = p + (cjk("否") ? 3 : 6);
        return w;
    }
    if (cjk("不") && (t.size() == 3 || t[3] == ' ' || t.substr(3, 3) == "，" || t.substr(3, 3) == "。" || t[3] == ',' || t[3] == '.')) {
        w.label = Label::no;
        w.end = p + 3;
        return w;
    }
    if (cjk("是")) {
        w.label = Label::yes;
        w.end = p + (cjk("是的") ? 6 : 3);
        return w;
    }
    for (auto [word, label] : {std::pair<std::string_view, Label>{"yes", Label::yes}, {"true", Label::yes}, {"ja", Label::yes},
                               {"no", Label::no}, {"false", Label::no}, {"nein", Label::no}})
        if (t.starts_with(word) && (t.size() == word.size() || !ascii_word(t[word.size()]))) {
            w.label = label;
            w.end = p + word.size();
            return w;
        }
    w.error = "answer is neither JSON nor starts with yes/no/true/false/ja/nein/是/否";
    return w;
}

inline std::string rationale_of(std::string_view text, const ParseOptions& opt) {
    std::string_view t = trim(text);
    for (bool more = true; more && !t.empty();) {
        more = false;
        if (t.front() == ',' || t.front() == '.' || t.front() == ':' || t.front() == '-' || t.front() == ' ') {
            t.remove_prefix(1);
            more = true;
        }
        for (std::string_view p : {"，", "。", "："})
            if (t.starts_with(p)) t.remove_prefix(p.size()), more = true;
    }
    return sanitize_name(t, std::max<std::size_t>(opt.max_rationale_bytes, 8));
}

/// Plain answer over `masked` (names blanked) and `text` (the same bytes unmasked, for the rationale).
/// `*defaulted` (when given) is set when the answer carried no confidence.
inline ParsedAnswer from_plain(std::string_view masked, std::string_view text, const ParseOptions& opt,
                               bool* defaulted = nullptr) {
    ParsedAnswer r;
    const std::string lower = lower_ascii(masked);
    const LeadWord lead = lead_word(lower, answer_start(lower));
    if (!lead.error.empty()) {
        r.error = lead.error;
        return r;
    }
    const std::string_view rest = std::string_view(lower).substr(lead.end);
    if (hedges(rest)) {
        r.error = "answer hedges (but/maybe/depends/…): neither a clear yes nor a clear no";
        return r;
    }
    if ((lead.label == Label::yes && negates(rest)) || (lead.label == Label::no && affirms(rest))) {
        r.error = "answer contains both yes and no";
        return r;
    }
    // The confidence: the number marked as such, else the only number.
    std::vector<NumberAt> marked, plain;
    for (std::size_t i = lead.end; i < lower.size(); ++i) {
        const auto n = number_at(lower, i);
        if (!n) continue;
        (confidence_word_before(lower, n->begin) || confidence_word_after(lower, n->end) ? marked : plain).push_back(*n);
        i = n->end - 1;
    }
    const std::vector<NumberAt>& use = marked.empty() ? plain : marked;
    float confidence = opt.default_confidence;
    if (use.size() > 1) {
        for (const auto& n : use)
            if (n.value != use[0].value || n.percent != use[0].percent) {
                r.error = marked.empty() ? "several numbers in the answer and none is marked as the confidence"
                                         : "several different confidences in the answer";
                return r;
            }
    }
    if (!use.empty()) {
        const auto c = confidence_from(use[0].value, use[0].percent);
        if (!c) {
            r.error = "confidence in a plain answer is not in [0, 1] or a percentage";
            return r;
        }
        confidence = *c;
    }
    if (defaulted) *defaulted = use.empty();
    r.label = lead.label;
    r.confidence = confidence;
    r.rationale = rationale_of(text.substr(std::min(lead.end, text.size())), opt);
    r.ok = true;
    return r;
}

// --- JSON -------------------------------------------------------------------------------------

/// SAX reader for one answer object: its top-level scalar members, duplicate keys (at any depth)
/// and a depth limit. Returning false stops nlohmann's parser; it never throws from here.
struct AnswerSax {
    struct Scalar {
        enum Kind : std::uint8_t { null, boolean, number, string, other } kind = other;
        bool b = false;
        double num = 0.0;
        std::string str;
    };
    using json = nlohmann::json;

    explicit AnswerSax(int max_depth) : max_depth_(max_depth) {}

    std::vector<std::pair<std::string, Scalar>> members;
    std::string error;

    bool null() { return value_(scalar_(Scalar::null)); }
    bool boolean(bool v) { return value_(scalar_(Scalar::boolean, v)); }
    bool number_integer(json::number_integer_t v) { return value_(scalar_(Scalar::number, false, static_cast<double>(v))); }
    bool number_unsigned(json::number_unsigned_t v) { return value_(scalar_(Scalar::number, false, static_cast<double>(v))); }
    bool number_float(json::number_float_t v, const json::string_t&) {
        if (!std::isfinite(v)) return fail_("a number out of range");
        return value_(scalar_(Scalar::number, false, v));
    }
    bool string(json::string_t& v) { return value_(scalar_(Scalar::string, false, 0.0, std::move(v))); }
    bool binary(json::binary_t&) { return fail_("binary value"); }
    bool start_object(std::size_t) {
        if (!open_(true)) return false;
        keys_.emplace_back();
        return true;
    }
    bool key(json::string_t& k) {
        if (!keys_.back().insert(k).second) return fail_("duplicate key \"" + k.substr(0, 40) + "\"");
        if (stack_.size() == 1) members.emplace_back(k, Scalar{});
        return true;
    }
    bool end_object() {
        keys_.pop_back();
        stack_.pop_back();
        return true;
    }
    bool start_array(std::size_t) { return open_(false); }
    bool end_array() {
        stack_.pop_back();
        return true;
    }
    bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) {
        if (error.empty()) error = "malformed JSON at byte " + std::to_string(pos);
        return false;
    }

private:
    static Scalar scalar_(Scalar::Kind kind, bool b = false, double num = 0.0, std::string str = {}) {
        Scalar v;
        v.kind = kind;
        v.b = b;
        v.num = num;
        v.str = std::move(str);
        return v;
    }
    bool fail_(std::string why) {
        if (error.empty()) error = std::move(why);
        return false;
    }
    bool open_(bool object) {
        if (stack_.empty() && !object) return fail_("JSON answer is not an object");
        if (static_cast<int>(stack_.size()) >= max_depth_) return fail_("JSON nested deeper than the limit");
        if (stack_.size() == 1) members.back().second = Scalar{};  // a nested member value
        stack_.push_back(object);
        return true;
    }
    bool value_(Scalar v) {
        if (stack_.empty()) return fail_("JSON answer is not an object");
        if (stack_.size() == 1) members.back().second = std::move(v);
        return true;
    }
    int max_depth_;
    std::vector<bool> stack_;  // open containers, true = object
    std::vector<std::unordered_set<std::string>> keys_;
};

inline ParsedAnswer from_json(std::string_view object, const ParseOptions& opt) {
    ParsedAnswer r;
    AnswerSax sax(opt.max_json_depth);
    bool parsed = false;
    try {
        parsed = nlohmann::json::sax_parse(object.data(), object.data() + object.size(), &sax,
                                           nlohmann::json::input_format_t::json, true, false);
    } catch (const nlohmann::json::exception& e) {
        sax.error = std::string("malformed JSON: ") + e.what();
    }
    if (!parsed) {
        r.error = sax.error.empty() ? "malformed JSON answer" : sax.error;
        return r;
    }
    auto find = [&](std::string_view key) -> const AnswerSax::Scalar* {
        for (const auto& [k, v] : sax.members)
            if (k == key) return &v;
        return nullptr;
    };
    std::optional<Label> label;
    bool any = false;
    for (const char* key : {"complementary", "is_complementary", "label", "answer", "complement"}) {
        const AnswerSax::Scalar* v = find(key);
        if (!v) continue;
        any = true;
        std::optional<Label> l;
        if (v->kind == AnswerSax::Scalar::boolean) l = v->b ? Label::yes : Label::no;
        else if (v->kind == AnswerSax::Scalar::number && (v->num == 0.0 || v->num == 1.0)) l = v->num == 1.0 ? Label::yes : Label::no;
        else if (v->kind == AnswerSax::Scalar::string) l = answer_word(normalize_text(v->str, true));
        if (!l) {
            r.error = fmt::format("JSON \"{}\" is not true/false, 1/0, yes/no or 是/否", key);
            return r;
        }
        if (label && *label != *l) {
            r.error = "JSON label fields disagree";
            return r;
        }
        label = l;
    }
    if (!any) {
        r.error = "JSON answer has no \"complementary\"/\"label\"/\"answer\" field";
        return r;
    }
    float confidence = opt.default_confidence;
    if (const AnswerSax::Scalar* c = find("confidence")) {
        std::optional<float> conf;
        if (c->kind == AnswerSax::Scalar::number) {
            conf = confidence_from(c->num, false);
        } else if (c->kind == AnswerSax::Scalar::string) {
            const std::string t = normalize_text(c->str, true);
            const auto n = t.empty() ? std::nullopt : number_at(t, 0);
            if (n && n->end == t.size()) conf = confidence_from(n->value, n->percent);
        } else if (c->kind == AnswerSax::Scalar::null) {
            conf = opt.default_confidence;
        }
        if (!conf) {
            r.error = "JSON confidence is not a number in [0, 1] or a percentage";
            return r;
        }
        confidence = *conf;
    }
    for (const char* key : {"reason", "rationale", "explanation"})
        if (const AnswerSax::Scalar* t = find(key); t && t->kind == AnswerSax::Scalar::string) {
            r.rationale = rationale_of(t->str, opt);
            break;
        }
    r.ok = true;
    r.label = *label;
    r.confidence = confidence;
    return r;
}

struct ObjectSpan {
    std::size_t begin = 0, end = 0;
    bool closed = false;
};

/// Top-level `{…}` spans of `t` (string-aware inside braces), one pass.
inline std::vector<ObjectSpan> object_spans(std::string_view t) {
    std::vector<ObjectSpan> out;
    std::size_t depth = 0, start = 0;
    bool in_str = false, esc = false;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        if (depth == 0) {
            if (c == '{') start = i, depth = 1, in_str = false, esc = false;
            continue;
        }
        if (in_str) {
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{') ++depth;
        else if (c == '}' && --depth == 0) out.push_back({start, i + 1, true});
    }
    if (depth > 0) out.push_back({start, t.size(), false});
    return out;
}

inline bool looks_like_json(std::string_view t, const ObjectSpan& s) {
    std::size_t i = s.begin + 1;
    while (i < s.end && t[i] == ' ') ++i;
    return i < s.end && (t[i] == '"' || t[i] == '}');
}

inline ParsedAnswer failure(std::string why) {
    ParsedAnswer r;
    r.error = std::move(why);
    return r;
}

}  // namespace detail

/// Parse the model's reply about the pair (name_a, name_b) — the names as the caller has them; the
/// parser derives the forms the prompt showed. Never throws on bad text: ok == false carries the reason.
inline ParsedAnswer parse_answer(std::string_view reply, std::string_view name_a, std::string_view name_b,
                                 const ParseOptions& opt = {}) {
    using namespace detail;
    if (reply.size() > opt.max_reply_bytes)
        return failure(fmt::format("answer of {} bytes (expected at most {})", reply.size(), opt.max_reply_bytes));
    const std::string text = normalize_text(reply, false);
    const std::string folded = normalize_text(reply, true);  // byte-aligned with `text`
    if (text.empty()) return failure("empty answer");

    // 1. Mask the names: `json` keeps answer-token names, `plain` blanks them too (but not as the
    //    leading label word, nor a number marked as the confidence).
    std::vector<NameForm> forms = name_forms(name_a, opt);
    for (auto& f : name_forms(name_b, opt)) forms.push_back(std::move(f));
    const std::vector<NameSpan> spans = find_names(folded, forms);
    std::string json = text, plain = text;
    const std::size_t lead = answer_start(folded);
    bool masked_number = false;  // a number-name was blanked: a plain answer may not default then
    for (const NameSpan& s : spans) {
        const NameForm& f = *s.form;
        if (!f.reserved) std::fill(json.begin() + s.begin, json.begin() + s.end, mask_byte);
        if (f.label_word && s.begin == lead) continue;
        if (f.numeric && (confidence_word_before(folded, s.begin) || confidence_word_after(folded, s.end))) continue;
        masked_number = masked_number || f.numeric;
        std::fill(plain.begin() + s.begin, plain.begin() + s.end, mask_byte);
    }

    // 2. Code fences (names masked first, so a name cannot open or close one).
    std::vector<std::size_t> fences;
    for (std::size_t p = json.find("```"); p != std::string::npos; p = json.find("```", p + 3)) fences.push_back(p);
    if (fences.size() % 2 == 1) return failure("unterminated ``` block");
    for (std::size_t k = 0; k < fences.size(); ++k) {
        std::size_t e = fences[k] + 3;
        if (k % 2 == 0)
            while (e < json.size() && (ascii_word(json[e]) || json[e] == '-' || json[e] == '+')) ++e;  // language tag
        std::fill(json.begin() + fences[k], json.begin() + e, ' ');
        std::fill(plain.begin() + fences[k], plain.begin() + e, ' ');
    }

    // 3. JSON objects left after masking.
    std::optional<ParsedAnswer> answer;
    std::string prose = plain;
    for (const ObjectSpan& s : object_spans(json)) {
        if (!looks_like_json(json, s)) continue;
        if (!s.closed) return failure("unterminated JSON object");
        ParsedAnswer a = from_json(std::string_view(json).substr(s.begin, s.end - s.begin), opt);
        if (!a.ok) return a;
        if (answer && (answer->label != a.label || answer->confidence != a.confidence))
            return failure("several JSON answers that disagree");
        if (!answer) {
            // The rationale from the unmasked object when it still reads (names echoed in it).
            ParsedAnswer u = from_json(std::string_view(text).substr(s.begin, s.end - s.begin), opt);
            if (u.ok && u.label == a.label) a.rationale = std::move(u.rationale);
            answer = std::move(a);
        }
        std::fill(prose.begin() + s.begin, prose.begin() + s.end, ' ');
    }
    if (answer) {
        const ParsedAnswer p = from_plain(prose, prose, opt);
        if (p.ok && p.label != answer->label)
            return failure(fmt::format("the prose says {} but the JSON says {}", to_string(p.label), to_string(answer->label)));
        return *answer;
    }
    bool defaulted = false;
    ParsedAnswer r = from_plain(plain, text, opt, &defaulted);
    if (r.ok && defaulted && masked_number)
        return failure("the only number in the answer is an entity name: the confidence is ambiguous");
    return r;
}

/// parse_answer for the names of `q`.
inline ParsedAnswer parse_answer(std::string_view reply, const PairQuery& q, const ParseOptions& opt = {}) {
    return parse_answer(reply, q.name_a, q.name_b, opt);
}

}  // namespace kerec
