// kerec/llm/replay_judge.hpp — ReplayJudge: answers from a file of judgments made earlier.
//
// Replays the paper's LLM judgments without calling a model: reruns, tests and offline data sets.
// Two TSV formats are read, recognised by their header line:
//   * "item_a item_b label confidence" — label 1/0, confidence in that label, names trimmed,
//     unordered pairs (the groceries data set's llm_judgments.tsv);
//   * kerec's own export (JudgmentStore::export_tsv): "a b name_a name_b label confidence model
//     prompt_version time rationale", label yes/no/unknown, escaped fields, ordered pairs.
// Queries are matched by (trimmed) names, or by ids when the file has no names; with `symmetric`
// the reverse pair answers too. A pair the file lacks is answered unknown ("not in replay file")
// and counted. Bad lines are ParseErrors with file:line; ill-formed UTF-8 in a name is rejected,
// in a rationale repaired (U+FFFD). Load O(bytes), each query O(|names|) expected.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/io.hpp"
#include "kerec/llm/judge.hpp"
#include "kerec/llm/judgment.hpp"

namespace kerec {

struct ReplayJudgeOptions {
    std::string model = "replay";           ///< model name used as the cache key
    std::string prompt_version = "replay";  ///< prompt version used as the cache key
    /// Answer (a, b) from a recorded (b, a). Always on for the unordered item_a/item_b format.
    bool symmetric = false;
    /// kerec format only: replay just the rows of this model (empty = every row; two rows of one
    /// pair with different labels are then a ParseError).
    std::string source_model;
};

class ReplayJudge {
public:
    static ReplayJudge load(const std::filesystem::path& path, ReplayJudgeOptions options = {}) {
        LineReader in(path);
        return read_(in, std::move(options));
    }

    /// load() from text held in memory (`name` appears in errors).
    static ReplayJudge parse(std::string_view text, std::string name = "<replay>", ReplayJudgeOptions options = {}) {
        LineReader in = LineReader::from_string(text, std::move(name));
        return read_(in, std::move(options));
    }

    std::string model() const { return opt_.model; }
    std::string prompt_version() const { return opt_.prompt_version; }
    const JudgeStats& stats() const noexcept { return stats_; }
    std::size_t size() const noexcept { return map_.size(); }
    /// Queries the file had no answer for.
    std::uint64_t missing() const noexcept { return missing_; }
    /// Rationales in the file whose ill-formed UTF-8 was replaced by U+FFFD.
    std::uint64_t rationales_repaired() const noexcept { return repaired_; }

    /// The recorded answer for (name_a, name_b), if any.
    std::optional<std::pair<Label, float>> lookup(std::string_view name_a, std::string_view name_b) const {
        if (const Entry* e = find_(std::string(trim_whitespace(name_a)), std::string(trim_whitespace(name_b))))
            return std::pair<Label, float>{e->label, e->confidence};
        return std::nullopt;
    }

    std::vector<Judgment> judge(std::span<const PairQuery> queries) {
        std::vector<Judgment> out;
        out.reserve(queries.size());
        for (const auto& q : queries) {
            Judgment j = unanswered_judgment(q, opt_.model, opt_.prompt_version);
            const Entry* e = find_(std::string(trim_whitespace(q.name_a)), std::string(trim_whitespace(q.name_b)));
            if (!e) e = find_("#" + std::to_string(q.a.value()), "#" + std::to_string(q.b.value()));
            if (e) {
                j.label = e->label;
                j.confidence = e->confidence;
                j.rationale = e->rationale;
            } else {
                ++missing_;
                ++stats_.unknown;
                j.label = Label::unknown;
                j.rationale = "not in replay file";
            }
            ++stats_.queries;
            out.push_back(std::move(j));
        }
        return out;
    }

private:
    static ReplayJudge read_(LineReader& in, ReplayJudgeOptions options) {
        ReplayJudge r(std::move(options));
        std::string_view line;
        if (!in.next(line)) throw ParseError(in.name(), 1, 0, "empty file (expected a header line)");
        std::vector<std::string_view> f;
        split_tsv(line, f);
        for (auto& x : f) x = trim_whitespace(x);
        const bool groceries = f.size() == 4 && f[0] == "item_a" && f[1] == "item_b" && f[2] == "label" && f[3] == "confidence";
        const bool own = f.size() == 10 && f[0] == "a" && f[1] == "b" && f[2] == "name_a" && f[3] == "name_b" &&
                         f[4] == "label" && f[5] == "confidence";
        if (!groceries && !own)
            throw in.error(0, "unknown header (expected 'item_a item_b label confidence' or kerec's "
                              "'a b name_a name_b label confidence model prompt_version time rationale')");
        r.unordered_ = groceries;
        std::string na, nb;
        while (in.next(line)) {
            if (trim_whitespace(line).empty()) continue;
            split_tsv(line, f);
            Entry e;
            std::string ka, kb;
            if (groceries) {
                if (f.size() != 4) throw in.error(0, fmt::format("{} fields (expected 4)", f.size()));
                ka = std::string(trim_whitespace(f[0]));
                kb = std::string(trim_whitespace(f[1]));
                const auto lab = trim_whitespace(f[2]);
                if (lab != "0" && lab != "1") throw in.error(0, fmt::format("label '{}' (expected 0 or 1)", detail::excerpt(lab)));
                e.label = lab == "1" ? Label::yes : Label::no;
                e.confidence = confidence_(in, f[3]);
            } else {
                if (f.size() != 10) throw in.error(0, fmt::format("{} fields (expected 10)", f.size()));
                std::size_t bad = 0;
                if (!r.opt_.source_model.empty()) {
                    std::string m;
                    if (!unescape_field(f[6], m, &bad)) throw in.error(bad, "bad escape sequence in the model");
                    if (m != r.opt_.source_model) continue;
                }
                if (!unescape_field(f[2], na, &bad) || !unescape_field(f[3], nb, &bad))
                    throw in.error(0, "bad escape sequence in a name");
                ka = std::string(trim_whitespace(na));
                kb = std::string(trim_whitespace(nb));
                if (ka.empty() || kb.empty()) {  // no names: match by ids
                    ka = "#" + std::string(trim_whitespace(f[0]));
                    kb = "#" + std::string(trim_whitespace(f[1]));
                    std::uint32_t id = 0;
                    for (auto v : {trim_whitespace(f[0]), trim_whitespace(f[1])}) {
                        const auto res = std::from_chars(v.data(), v.data() + v.size(), id);
                        if (res.ec != std::errc() || res.ptr != v.data() + v.size())
                            throw in.error(0, fmt::format("entity id '{}' (expected an unsigned integer)", detail::excerpt(v)));
                    }
                }
                const auto lab = trim_whitespace(f[4]);
                if (lab == "yes") e.label = Label::yes;
                else if (lab == "no") e.label = Label::no;
                else if (lab == "unknown") e.label = Label::unknown;
                else throw in.error(0, fmt::format("label '{}' (expected yes, no or unknown)", detail::excerpt(lab)));
                e.confidence = confidence_(in, f[5]);
                std::string rationale;
                if (!unescape_field(f[9], rationale, &bad)) throw in.error(0, "bad escape sequence in the rationale");
                r.repaired_ += repair_utf8(rationale) > 0;
                e.rationale = std::move(rationale);
            }
            if (ka.empty() || kb.empty()) throw in.error(0, "empty entity name");
            if (invalid_utf8(ka) || invalid_utf8(kb)) throw in.error(0, "entity name is not valid UTF-8");
            if (groceries && kb < ka) std::swap(ka, kb);  // unordered: one key per pair
            e.line = in.line_number();
            auto [it, fresh] = r.map_.emplace(key_(ka, kb), e);
            if (!fresh) {
                if (it->second.label != e.label)
                    throw in.error(0, fmt::format("pair ('{}', '{}') already judged differently on line {}", detail::excerpt(ka),
                                                  detail::excerpt(kb),
                                                  it->second.line));
                it->second = e;
            }
        }
        return r;
    }

    struct Entry {
        Label label = Label::unknown;
        float confidence = 0.0f;
        std::string rationale;
        std::uint64_t line = 0;
    };
    explicit ReplayJudge(ReplayJudgeOptions o) : opt_(std::move(o)) {
        if (opt_.model.empty() || opt_.prompt_version.empty())
            throw InvalidArgument("ReplayJudge: empty model name or prompt version");
    }
    // Length-prefixed, so names holding any byte (NUL included) cannot collide.
    static std::string key_(const std::string& a, const std::string& b) {
        std::string k = std::to_string(a.size());
        k.reserve(k.size() + a.size() + b.size() + 1);
        k += ':';
        k += a;
        k += b;
        return k;
    }
    static float confidence_(const LineReader& in, std::string_view field) {
        const auto t = trim_whitespace(field);
        float c = 0;
        const auto res = std::from_chars(t.data(), t.data() + t.size(), c);
        if (res.ec != std::errc() || res.ptr != t.data() + t.size() || !(c >= 0.0f && c <= 1.0f))
            throw in.error(0, fmt::format("confidence '{}' (expected a number in [0, 1])", detail::excerpt(t)));
        return c;
    }
    const Entry* find_(const std::string& a, const std::string& b) const {
        if (auto it = map_.find(key_(a, b)); it != map_.end()) return &it->second;
        if (unordered_)
            if (auto it = map_.find(key_(b, a)); it != map_.end()) return &it->second;
        if (opt_.symmetric)
            if (auto it = map_.find(key_(b, a)); it != map_.end()) return &it->second;
        return nullptr;
    }

    ReplayJudgeOptions opt_;
    std::unordered_map<std::string, Entry> map_;
    std::uint64_t missing_ = 0;
    std::uint64_t repaired_ = 0;
    bool unordered_ = false;
    JudgeStats stats_;
};

}  // namespace kerec
