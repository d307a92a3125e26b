// kerec/llm/judgment_store.hpp — JudgmentStore: the crash-safe cache of every LLM judgment.
//
// The paper judges each entity pair once and reuses the answer. The store is an append-only
// RecordLog (core/record_log.hpp): every judgment is appended the moment it arrives; on reopen a
// torn last record is cut, damaged records are moved to "<path>.quarantine" and every intact one
// is kept, all reported in recovery(). Reloaded, it is the cache keyed by (ordered pair, model,
// prompt version): judge() asks the judge only for pairs it does not hold. all() is the full
// history (a later judgment of a key supersedes, never erases, an earlier one); latest(model,
// prompt) is the current answer per pair. Several models combine per pair by majority (yes > no)
// or by confidence-weighted vote (sum of +-confidence); consistency() counts A->B vs B->A
// disagreements of one model. Rationales are free text from the model: ill-formed UTF-8 in them
// is repaired (U+FFFD) when added or loaded, and counted; the model name and prompt version must
// be valid UTF-8. One process appends to a store at a time; the object is not thread-safe (judges
// call back on the calling thread). Load O(log bytes); lookup O(1) expected; latest and
// consensus O(judgments log judgments).
#pragma once

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
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
#include "kerec/core/progress.hpp"
#include "kerec/core/record_log.hpp"
#include "kerec/core/vocabulary.hpp"
#include "kerec/llm/judge.hpp"
#include "kerec/llm/judgment.hpp"

namespace kerec {

enum class VoteRule : std::uint8_t {
    majority,             ///< more yes than no votes -> yes; a tie -> unknown
    confidence_weighted,  ///< sign of sum(confidence * (+1 yes, -1 no))
};

/// The combined verdict of several models on one ordered pair.
struct Consensus {
    EntityPair pair;
    Label label = Label::unknown;
    float p_yes = 0.5f;        ///< majority: yes / (yes + no); weighted: sum conf(yes) / sum conf
    std::uint32_t votes = 0;   ///< yes + no votes (unknown judgments do not vote)
    std::uint32_t yes = 0;
};

/// A->B against B->A for one model and prompt version.
struct ConsistencyReport {
    std::uint64_t pairs_both_directions = 0;  ///< unordered pairs judged in both directions
    std::uint64_t disagreements = 0;          ///< of which the two labels differ
    std::vector<EntityPair> disagreeing;      ///< those pairs, a < b
    double disagreement_rate() const noexcept {
        return pairs_both_directions ? static_cast<double>(disagreements) / static_cast<double>(pairs_both_directions) : 0.0;
    }
};

struct JudgeRunOptions {
    /// Answers per fsync of the store (every answer is appended the moment it arrives), and for a
    /// judge that does not stream, queries per call of its judge().
    std::size_t batch_size = 64;
    /// Ask again for pairs whose cached judgment is unknown (an unparseable answer).
    bool reask_unknown = false;
    /// A cached B->A judgment answers A->B too (for symmetric questions).
    bool symmetric = false;
    ProgressCallback progress;
};

/// What one JudgmentStore::judge() run did.
struct JudgeRunReport {
    std::uint64_t requested = 0;   ///< queries passed in
    std::uint64_t duplicates = 0;  ///< repeated queries in the input (asked once)
    std::uint64_t cached = 0;      ///< answered from the store, not asked
    std::uint64_t asked = 0;       ///< pairs asked: pending queries sent to the judge
    /// Model calls made for them, read from the judge's stats().calls (JudgeStats): HTTP requests
    /// for the HTTP judge (re-asks and transport retries included), one per answer attempt for
    /// the simulated judge. A judge without stats() is counted as one call per invocation.
    std::uint64_t calls = 0;
    /// Times the store called judge.judge(): 1 for a StreamingJudge, one per batch_size queries
    /// otherwise, 0 when nothing was pending.
    std::uint64_t invocations = 0;
    std::uint64_t stored = 0;      ///< new judgments appended
    std::uint64_t yes = 0, no = 0, unknown = 0;  ///< labels of the new judgments
    std::uint64_t lost = 0;              ///< asked but never answered by the judge
    std::uint64_t duplicate_answers = 0; ///< answered twice by the judge (second one ignored)
    double seconds = 0.0;
};

namespace detail {
template <class J>
concept CountsCalls = requires(const J& j) {
    { j.stats().calls } -> std::convertible_to<std::uint64_t>;
};
/// The model calls a judge has made so far (0 for a judge that keeps no JudgeStats).
template <class J>
std::uint64_t judge_calls(const J& j) {
    if constexpr (CountsCalls<J>) return static_cast<std::uint64_t>(j.stats().calls);
    else return 0;
}
}  // namespace detail

class JudgmentStore {
public:
    /// Open or create the store at `path`. What reopening found (records kept, damaged ranges
    /// quarantined, a torn tail cut) is in recovery(). A record in an intact frame that is not a
    /// valid judgment is a ParseError naming the file and the record's byte offset.
    explicit JudgmentStore(std::filesystem::path path, RecordLogOptions options = {})
        : path_(path), log_(std::move(path), [this](std::string_view payload, std::uint64_t offset) { load_(payload, offset); },
               options) {}

    const RecordLogRecovery& recovery() const noexcept { return log_.recovery(); }
    /// Distinct keys (pair, model, prompt version).
    std::size_t size() const noexcept { return index_.size(); }
    /// The full history: every stored judgment in append order, superseded ones included (a later
    /// judgment of the same pair, model and prompt version supersedes an earlier one). For the
    /// current answers use latest().
    std::span<const Judgment> all() const noexcept { return judgments_; }
    /// Judgments in all() that a later one of the same key supersedes.
    std::uint64_t superseded() const noexcept { return judgments_.size() - index_.size(); }
    /// Rationales whose ill-formed UTF-8 was replaced by U+FFFD (loaded or added since opening).
    std::uint64_t rationales_repaired() const noexcept { return repaired_; }

    /// The latest judgment of every pair judged by `model` with `prompt_version`, sorted by pair
    /// (a, then b). Ready for build_graph(). Empty when that model and version judged nothing.
    std::vector<Judgment> latest(std::string_view model, std::string_view prompt_version) const {
        std::vector<Judgment> out;
        const auto mp = find_mp_(model, prompt_version);
        if (!mp) return out;
        std::vector<std::size_t> idx;
        for (const auto& [k, i] : index_)
            if (k.mp == *mp) idx.push_back(i);
        std::sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) { return judgments_[x].pair() < judgments_[y].pair(); });
        out.reserve(idx.size());
        for (std::size_t i : idx) out.push_back(judgments_[i]);
        return out;
    }

    const Judgment* find(EntityPair pair, std::string_view model, std::string_view prompt_version) const {
        const auto mp = find_mp_(model, prompt_version);
        if (!mp) return nullptr;
        const auto it = index_.find(key_(pair, *mp));
        return it == index_.end() ? nullptr : &judgments_[it->second];
    }
    bool contains(EntityPair pair, std::string_view model, std::string_view prompt_version) const {
        return find(pair, model, prompt_version) != nullptr;
    }

    /// Validate and append one judgment (written to the log before this returns). Invalid ids, a
    /// confidence outside [0, 1] (NaN included), an empty or ill-formed (UTF-8) model or prompt
    /// version are InvalidArguments; ill-formed UTF-8 in the rationale is repaired (U+FFFD).
    void add(const Judgment& j) {
        if (const std::string problem = problem_(j); !problem.empty())
            throw InvalidArgument(fmt::format("JudgmentStore::add: pair ({}, {}): {}", j.a, j.b, problem));
        if (invalid_utf8(j.rationale) == 0) {
            log_.append(encode(j));
            insert_(j);
            return;
        }
        Judgment fixed = j;
        repair_utf8(fixed.rationale);
        log_.append(encode(fixed));
        insert_(fixed);
        ++repaired_;
    }

    /// The record payload of a judgment: one escaped TSV line a, b, label, confidence, time,
    /// model, prompt version, rationale.
    static std::string encode(const Judgment& j) {
        return fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}", j.a.value(), j.b.value(), static_cast<int>(j.label), j.confidence,
                           j.time, escape_field(j.model), escape_field(j.prompt_version), escape_field(j.rationale));
    }

    /// Inverse of encode(). Anything but a valid judgment is a ParseError naming `source` and
    /// the record's byte `offset`; an ill-formed rationale is repaired and `*repaired` set.
    static Judgment decode(std::string_view payload, const std::string& source, std::uint64_t offset,
                           bool* repaired = nullptr) {
        std::vector<std::string_view> fields;
        return decode_(payload, source, offset, fields, repaired);
    }

    void sync() { log_.sync(); }

    /// Judge every query the store does not hold yet (see JudgeRunOptions), persisting each
    /// judgment as it arrives; returns what happened. A StreamingJudge gets every pending query in
    /// one call (its window stays full); the log is synced every `batch_size` answers. Any other
    /// Judge is called once per `batch_size` queries. Exceptions from the judge propagate after
    /// the judgments received so far are stored and synced.
    template <Judge J>
    JudgeRunReport judge(J& judge, std::span<const PairQuery> queries, const JudgeRunOptions& opt = {}) {
        if (opt.batch_size == 0) throw InvalidArgument("JudgmentStore::judge: batch_size must be > 0");
        const auto start = std::chrono::steady_clock::now();
        JudgeRunReport rep;
        rep.requested = queries.size();
        const std::string model = judge.model();
        const std::string prompt = judge.prompt_version();
        if (model.empty() || prompt.empty())
            throw InvalidArgument("JudgmentStore::judge: the judge has an empty model name or prompt version");
        // Pending = not cached, first occurrence only.
        std::vector<PairQuery> pending;
        std::unordered_map<EntityPair, char> seen;
        seen.reserve(queries.size());
        for (const auto& q : queries) {
            if (!seen.emplace(q.pair(), 0).second) {
                ++rep.duplicates;
                continue;
            }
            const Judgment* c = find(q.pair(), model, prompt);
            if (!c && opt.symmetric) c = find(q.pair().reversed(), model, prompt);
            if (c && !(opt.reask_unknown && c->label == Label::unknown)) {
                ++rep.cached;
                continue;
            }
            pending.push_back(q);
        }
        rep.asked = pending.size();
        ProgressThrottle progress(opt.progress, "judging pairs", pending.size());
        if (pending.empty()) {
            progress.finish(0);
            rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            return rep;
        }
        std::vector<char> answered(pending.size(), 0);
        std::uint64_t done = 0;
        std::size_t unsynced = 0;
        const bool durable = log_.options().fsync != FsyncPolicy::never;
        // Answer `i` of the `n` queries starting at pending[first].
        auto accept = [&](std::size_t first, std::size_t n, std::size_t i, Judgment&& j) {
            if (i >= n) throw InvalidArgument(fmt::format("judge returned answer index {} for {} queries", i, n));
            const PairQuery& q = pending[first + i];
            if (answered[first + i]) {
                ++rep.duplicate_answers;
                return;
            }
            if (j.a != q.a || j.b != q.b)
                throw InvalidArgument(fmt::format("judge answered pair ({}, {}) for query ({}, {})", j.a, j.b, q.a, q.b));
            if (j.model.empty()) j.model = model;
            if (j.prompt_version.empty()) j.prompt_version = prompt;
            if (j.time == 0) j.time = static_cast<std::int64_t>(std::time(nullptr));
            add(j);
            answered[first + i] = 1;
            ++rep.stored;
            (j.label == Label::yes ? rep.yes : j.label == Label::no ? rep.no : rep.unknown)++;
            progress.update(++done);
            if (durable && ++unsynced >= opt.batch_size) {  // durable every batch_size answers
                log_.sync();
                unsynced = 0;
            }
        };
        const std::uint64_t calls_before = detail::judge_calls(judge);
        try {
            if constexpr (StreamingJudge<J>) {
                ++rep.invocations;
                judge.judge(std::span<const PairQuery>(pending),
                            JudgmentSink([&](std::size_t i, Judgment&& j) { accept(0, pending.size(), i, std::move(j)); }));
            } else {
                for (std::size_t first = 0; first < pending.size(); first += opt.batch_size) {
                    const std::size_t n = std::min(opt.batch_size, pending.size() - first);
                    ++rep.invocations;
                    std::vector<Judgment> out = judge.judge(std::span<const PairQuery>(pending.data() + first, n));
                    if (out.size() > n)
                        throw InvalidArgument(fmt::format("judge returned {} judgments for {} queries", out.size(), n));
                    for (std::size_t i = 0; i < out.size(); ++i) accept(first, n, i, std::move(out[i]));
                }
            }
        } catch (...) {
            if (durable) {
                try {
                    log_.sync();
                } catch (...) {  // the judge's exception is the one to report
                }
            }
            throw;
        }
        if (durable) log_.sync();
        rep.calls = detail::judge_calls(judge) - calls_before;
        if constexpr (!detail::CountsCalls<J>) rep.calls = rep.invocations;
        rep.lost = static_cast<std::uint64_t>(std::count(answered.begin(), answered.end(), 0));
        progress.finish(pending.size() - rep.lost);
        rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return rep;
    }

    /// One verdict per ordered pair over the latest judgment of every (model, prompt version);
    /// `models` restricts the voters (empty = all). Sorted by pair.
    std::vector<Consensus> consensus(VoteRule rule, std::span<const std::string> models = {}) const {
        std::vector<std::size_t> idx;
        idx.reserve(index_.size());
        for (const auto& [k, i] : index_) {
            const Judgment& j = judgments_[i];
            if (!models.empty() && std::find(models.begin(), models.end(), j.model) == models.end()) continue;
            idx.push_back(i);
        }
        std::sort(idx.begin(), idx.end(), [&](std::size_t x, std::size_t y) {
            return judgments_[x].pair() < judgments_[y].pair() || (judgments_[x].pair() == judgments_[y].pair() && x < y);
        });
        std::vector<Consensus> out;
        for (std::size_t s = 0; s < idx.size();) {
            std::size_t e = s;
            Consensus c;
            c.pair = judgments_[idx[s]].pair();
            double wy = 0, wn = 0;
            while (e < idx.size() && judgments_[idx[e]].pair() == c.pair) {
                const Judgment& j = judgments_[idx[e++]];
                if (j.label == Label::unknown) continue;
                ++c.votes;
                if (j.label == Label::yes) ++c.yes, wy += j.confidence;
                else wn += j.confidence;
            }
            const std::uint32_t no = c.votes - c.yes;
            if (rule == VoteRule::majority) {
                c.label = c.yes > no ? Label::yes : no > c.yes ? Label::no : Label::unknown;
                c.p_yes = c.votes ? static_cast<float>(c.yes) / static_cast<float>(c.votes) : 0.5f;
            } else {
                c.label = wy > wn ? Label::yes : wn > wy ? Label::no : Label::unknown;
                c.p_yes = wy + wn > 0 ? static_cast<float>(wy / (wy + wn)) : 0.5f;
            }
            out.push_back(c);
            s = e;
        }
        return out;
    }

    /// Pairs judged in both directions by `model` with `prompt_version` and how often they differ.
    ConsistencyReport consistency(std::string_view model, std::string_view prompt_version) const {
        ConsistencyReport r;
        const auto mp = find_mp_(model, prompt_version);
        if (!mp) return r;
        std::vector<EntityPair> done;
        for (const auto& [k, i] : index_) {
            if ((k.mp) != *mp) continue;
            const Judgment& j = judgments_[i];
            if (!(j.a < j.b)) continue;
            const auto it = index_.find(key_(j.pair().reversed(), *mp));
            if (it == index_.end()) continue;
            const Judgment& back = judgments_[it->second];
            if (j.label == Label::unknown || back.label == Label::unknown) continue;
            ++r.pairs_both_directions;
            if (j.label != back.label) {
                ++r.disagreements;
                r.disagreeing.push_back(j.pair());
            }
        }
        std::sort(r.disagreeing.begin(), r.disagreeing.end());
        return r;
    }

    /// Write the current judgments (latest per key) as kerec's TSV, atomically. Names come from
    /// `names` when given (empty otherwise). ReplayJudge reads this format.
    void export_tsv(const std::filesystem::path& path, const Vocabulary<EntityId>* names = nullptr) const {
        std::vector<std::size_t> idx;
        idx.reserve(index_.size());
        for (const auto& [k, i] : index_) idx.push_back(i);
        std::sort(idx.begin(), idx.end());
        AtomicFile out(path);
        out.write("a\tb\tname_a\tname_b\tlabel\tconfidence\tmodel\tprompt_version\ttime\trationale\n");
        auto name = [&](EntityId e) -> std::string {
            return names && names->contains(e) ? escape_field(names->name(e)) : std::string();
        };
        for (std::size_t i : idx) {
            const Judgment& j = judgments_[i];
            out.write(fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n", j.a.value(), j.b.value(), name(j.a), name(j.b),
                                  to_string(j.label), j.confidence, escape_field(j.model), escape_field(j.prompt_version),
                                  j.time, escape_field(j.rationale)));
        }
        out.commit();
    }

private:
    struct Key {
        std::uint64_t pair;
        std::uint32_t mp;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept {
            std::uint64_t z = (k.pair ^ (std::uint64_t{k.mp} * 0xD1B54A32D192ED03ULL)) * 0x9E3779B97F4A7C15ULL;
            return static_cast<std::size_t>(z ^ (z >> 29));
        }
    };
    static Key key_(EntityPair p, std::uint32_t mp) {
        return Key{(std::uint64_t{p.a.value()} << 32) | p.b.value(), mp};
    }
    std::optional<std::uint32_t> find_mp_(std::string_view model, std::string_view prompt) const {
        for (std::uint32_t i = 0; i < mps_.size(); ++i)
            if (mps_[i].first == model && mps_[i].second == prompt) return i;
        return std::nullopt;
    }
    std::uint32_t intern_mp_(const std::string& model, const std::string& prompt) {
        if (auto f = find_mp_(model, prompt)) return *f;
        mps_.emplace_back(model, prompt);
        return static_cast<std::uint32_t>(mps_.size() - 1);
    }

    // Why `j` cannot be stored, or empty.
    static std::string problem_(const Judgment& j) {
        if (!j.a.valid() || !j.b.valid()) return "invalid entity id";
        if (!(j.confidence >= 0.0f && j.confidence <= 1.0f))
            return fmt::format("confidence {} (expected a number in [0, 1])", j.confidence);
        if (j.label != Label::yes && j.label != Label::no && j.label != Label::unknown)
            return fmt::format("label {} (expected no, yes or unknown)", static_cast<int>(j.label));
        if (j.model.empty() || j.prompt_version.empty()) return "empty model or prompt version";
        if (invalid_utf8(j.model) || invalid_utf8(j.prompt_version)) return "model or prompt version is not valid UTF-8";
        return {};
    }

    static Judgment decode_(std::string_view payload, const std::string& source, std::uint64_t offset,
                            std::vector<std::string_view>& fields, bool* repaired) {
        auto fail = [&](const std::string& what) {
            return ParseError(source, 0, 0, fmt::format("record at byte {}: {}", offset, what));
        };
        split_tsv(payload, fields);
        if (fields.size() != 8) throw fail(fmt::format("{} fields (expected 8)", fields.size()));
        std::uint32_t a = 0, b = 0;
        int label = 0;
        float confidence = 0;
        std::int64_t time = 0;
        auto num = [&](std::string_view f, auto& v, const char* what) {
            const auto r = std::from_chars(f.data(), f.data() + f.size(), v);
            if (r.ec != std::errc() || r.ptr != f.data() + f.size())
                throw fail(fmt::format("bad {} '{}'", what, detail::excerpt(f)));
        };
        num(fields[0], a, "entity a");
        num(fields[1], b, "entity b");
        num(fields[2], label, "label");
        num(fields[3], confidence, "confidence");
        num(fields[4], time, "time");
        if (label < 0 || label > 2) throw fail(fmt::format("label {} (expected 0, 1 or 2)", label));
        Judgment j{.a = EntityId(a),
                   .b = EntityId(b),
                   .label = static_cast<Label>(label),
                   .confidence = confidence,
                   .rationale = {},
                   .model = {},
                   .prompt_version = {},
                   .time = time};
        if (!unescape_field(fields[5], j.model) || !unescape_field(fields[6], j.prompt_version) ||
            !unescape_field(fields[7], j.rationale))
            throw fail("bad escape sequence");
        if (const std::string problem = problem_(j); !problem.empty()) throw fail(problem);
        const bool fixed = repair_utf8(j.rationale) > 0;
        if (repaired) *repaired = fixed;
        return j;
    }
    void load_(std::string_view payload, std::uint64_t offset) {
        bool fixed = false;
        insert_(decode_(payload, path_.string(), offset, fields_, &fixed));
        repaired_ += fixed;
    }
    void insert_(const Judgment& j) {
        const std::uint32_t mp = intern_mp_(j.model, j.prompt_version);
        judgments_.push_back(j);
        index_[key_(j.pair(), mp)] = judgments_.size() - 1;
    }

    std::vector<Judgment> judgments_;
    std::unordered_map<Key, std::size_t, KeyHash> index_;
    std::vector<std::pair<std::string, std::string>> mps_;
    std::vector<std::string_view> fields_;
    std::uint64_t repaired_ = 0;
    std::filesystem::path path_;
    RecordLog log_;  // last: its constructor replays records into the members above
};

/// The queries for `pairs`, named from `names` (InvalidArgument for an id outside it).
inline std::vector<PairQuery> make_queries(std::span<const EntityPair> pairs, const Vocabulary<EntityId>& names) {
    std::vector<PairQuery> q;
    q.reserve(pairs.size());
    for (const auto& p : pairs) q.push_back({p.a, p.b, std::string(names.name(p.a)), std::string(names.name(p.b))});
    return q;
}

/// Judge every pair of a (possibly huge, lazy) range through `store`: the pairs are named from
/// `names` and judged in chunks of `chunk` pairs with JudgmentStore::judge (cached pairs skipped,
/// every answer persisted on arrival). Progress is reported over the whole range ("judging
/// pairs", done = pairs handled so far, total = `total_hint` when known). Returns the summed report.
template <Judge J, class PairRange>
JudgeRunReport judge_pairs(JudgmentStore& store, J& judge, PairRange&& pairs, const Vocabulary<EntityId>& names,
                           const JudgeRunOptions& options = {}, std::uint64_t total_hint = 0, std::size_t chunk = 4096) {
    if (chunk == 0) throw InvalidArgument("judge_pairs: chunk must be > 0");
    const auto start = std::chrono::steady_clock::now();
    JudgeRunReport sum;
    std::vector<EntityPair> buf;
    buf.reserve(chunk);
    ProgressThrottle progress(options.progress, "judging pairs", total_hint);
    JudgeRunOptions inner = options;
    inner.progress = {};
    std::uint64_t handled = 0;
    auto flush = [&] {
        const auto q = make_queries(buf, names);
        const JudgeRunReport r = store.judge(judge, q, inner);
        sum.requested += r.requested, sum.duplicates += r.duplicates, sum.cached += r.cached, sum.asked += r.asked;
        sum.calls += r.calls, sum.invocations += r.invocations;
        sum.stored += r.stored, sum.yes += r.yes, sum.no += r.no, sum.unknown += r.unknown, sum.lost += r.lost;
        sum.duplicate_answers += r.duplicate_answers;
        handled += buf.size();
        progress.update(handled);
        buf.clear();
    };
    for (const EntityPair& p : pairs) {
        buf.push_back(p);
        if (buf.size() == chunk) flush();
    }
    if (!buf.empty()) flush();
    progress.finish(handled);
    sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return sum;
}

}  // namespace kerec
