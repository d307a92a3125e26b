// kerec/entity/dictionary.hpp — DictionaryExtractor: surface-form dictionary matching.
//
// The dictionary half of the paper's entity extractor: a list of (surface form → entity) pairs,
// where synonyms map to one canonical entity (the "unified concept term"), compiled over
// normalised text (kerec/entity/normalizer.hpp) and matched leftmost-longest, non-overlapping:
// at the first position where some form matches, the longest one is taken, and the scan resumes
// after it. One matcher per mode, both built from the sorted, deduplicated forms:
//   * Word boundaries (default): a match starts and ends on token boundaries, so from each token
//     start the scan walks a trie over WORDS (each token looked up in a hash table of the forms'
//     words; a word no form contains ends the walk at once) and resumes after the longest match.
//     O(bytes + tokens · walk), walk ≤ the longest form in words.
//   * Without word boundaries: Aho–Corasick over the normalised bytes (failure links
//     f(v) = δ(f(u), c), output links to the nearest terminal on the failure chain). Every
//     occurrence (start, state) records the longest form starting there, best[start]; one greedy
//     pass over best then takes leftmost-longest. O(bytes + occurrences), occurrences counting
//     every, possibly overlapping, form occurrence; scratch of 4 bytes per normalised byte.
// One surface form claimed by two entities: ConflictPolicy decides (error by default, first_wins,
// or drop the form); every conflict is listed in stats().conflicts.
// Build: O(Σ|forms| log n). Scans allocate nothing at steady state. Files hold the options and
// the sorted forms only (magic + version + CRC-32C); load validates them and rebuilds.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/io.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/entity/detail/binary.hpp"
#include "kerec/entity/mention.hpp"
#include "kerec/entity/normalizer.hpp"

namespace kerec {

/// What to do when one normalised surface form is claimed by two different entities.
enum class ConflictPolicy : std::uint8_t {
    error = 0,       ///< throw InvalidArgument naming the form and both entities (default)
    first_wins = 1,  ///< keep the entity listed first in the input, record the conflict
    drop = 2,        ///< remove the ambiguous form entirely, record the conflict
};

struct DictionaryOptions {
    bool word_boundary = true;                      ///< matches start and end on token boundaries
    ConflictPolicy on_conflict = ConflictPolicy::error;
    NormalizerOptions normalizer{};                 ///< e.g. fold_plurals for English catalogues
};

struct DictionaryConflict {
    std::string form;  ///< normalised form
    EntityId kept;     ///< the entity kept (invalid when the form was dropped)
    EntityId other;    ///< the entity whose claim was rejected
};

struct DictionaryStats {
    std::size_t input_forms = 0;   ///< pairs given to build()
    std::size_t patterns = 0;      ///< distinct normalised forms compiled
    std::size_t duplicates = 0;    ///< same form, same entity: merged silently
    std::size_t empty_forms = 0;   ///< forms that normalise to nothing (skipped)
    std::vector<DictionaryConflict> conflicts;
    std::size_t states = 0;        ///< states of the matcher (word-trie nodes or Aho–Corasick states)
    std::size_t memory_bytes = 0;  ///< forms + matcher
};

/// A dictionary match in normalised coordinates: bytes [begin, end) of NormalizedText::text().
struct DictMatch {
    EntityId entity;
    std::uint32_t begin = 0, end = 0;
};

/// What DictionaryExtractor::build takes: a range of (surface form, entity) pairs, e.g.
/// std::vector<std::pair<std::string, EntityId>> or a map from names to ids.
template <class R>
concept SurfaceFormRange = std::ranges::input_range<const R> && requires(std::ranges::range_reference_t<const R> p) {
    { p.first } -> std::convertible_to<std::string_view>;
    { p.second } -> std::convertible_to<EntityId>;
};

namespace detail {

inline constexpr std::uint32_t no_entity = 0xFFFFFFFFu;

/// The compiled forms: normalised, sorted bytewise, distinct; form i is
/// bytes[off[i], off[i+1]) and names entity[i]. Exact and prefix lookups by binary search.
struct SortedForms {
    std::string bytes;
    std::vector<std::uint32_t> off{0};
    std::vector<std::uint32_t> entity;

    std::size_t size() const noexcept { return entity.size(); }
    std::string_view form(std::size_t i) const noexcept { return {bytes.data() + off[i], off[i + 1] - off[i]}; }
    std::size_t lower_bound(std::string_view key) const noexcept {
        std::size_t lo = 0, hi = size();
        while (lo < hi) {
            const std::size_t mid = (lo + hi) / 2;
            if (form(mid) < key) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
    std::size_t memory_bytes() const noexcept { return bytes.size() + off.size() * 4 + entity.size() * 4; }
};

/// Word-boundary matcher: a trie whose edges are words. Node 0 is the root; a node's children
/// are sorted by word id; root children are also indexed densely by word id (root_child).
class WordMatcher {
public:
    /// Build from sorted forms (' ' is the smallest byte of normalised text, so forms sharing
    /// their first k words are contiguous: each form reuses the path of the previous one for the
    /// words they share and appends states for the rest). O(Σ|forms|) plus a sort of the edges.
    void build(const SortedForms& f, ProgressThrottle& progress) {
        words_.clear();
        word_off_.assign(1, 0);
        std::unordered_map<std::string_view, std::uint32_t> ids;
        struct Edge {
            std::uint32_t parent, word, child;
        };
        std::vector<Edge> edges;
        std::vector<std::uint32_t> outs(1, no_entity), path;
        std::vector<std::string_view> prev, toks;
        for (std::size_t i = 0; i < f.size(); ++i) {
            const std::string_view form = f.form(i);
            toks.clear();
            for (std::size_t p = 0; p <= form.size();) {
                std::size_t q = form.find(' ', p);
                if (q == std::string_view::npos) q = form.size();
                toks.push_back(form.substr(p, q - p));
                p = q + 1;
            }
            std::size_t l = 0;
            while (l < toks.size() && l < prev.size() && toks[l] == prev[l]) ++l;
            path.resize(l);
            std::uint32_t cur = l == 0 ? 0 : path[l - 1];
            for (std::size_t k = l; k < toks.size(); ++k) {
                auto it = ids.try_emplace(toks[k], static_cast<std::uint32_t>(ids.size())).first;
                const auto id = static_cast<std::uint32_t>(outs.size());
                outs.push_back(no_entity);
                edges.push_back(Edge{cur, it->second, id});
                cur = id;
                path.push_back(id);
            }
            outs[cur] = f.entity[i];
            std::swap(prev, toks);
            progress.update(i + 1);
        }
        std::vector<std::string_view> by_id(ids.size());
        for (const auto& [w, id] : ids) by_id[id] = w;
        for (const auto& w : by_id) {
            words_.append(w);
            word_off_.push_back(static_cast<std::uint32_t>(words_.size()));
        }
        std::size_t cap = 16;
        while (cap < 2 * by_id.size() + 2) cap <<= 1;
        slots_.assign(cap, 0);
        for (std::uint32_t id = 0; id < by_id.size(); ++id) {
            std::size_t s = hash(by_id[id]) & (cap - 1);
            while (slots_[s] != 0) s = (s + 1) & (cap - 1);
            slots_[s] = id + 1;
        }
        std::sort(edges.begin(), edges.end(), [](const Edge& x, const Edge& y) {
            return x.parent != y.parent ? x.parent < y.parent : x.word < y.word;
        });
        nodes_.assign(outs.size(), Node{});
        edge_word_.resize(edges.size());
        edge_child_.resize(edges.size());
        root_child_.assign(by_id.size(), 0);
        for (std::size_t k = 0; k < edges.size(); ++k) {
            const Edge& e = edges[k];
            Node& nd = nodes_[e.parent];
            if (nd.degree == 0) nd.first = static_cast<std::uint32_t>(k);
            ++nd.degree;
            edge_word_[k] = e.word;
            edge_child_[k] = e.child;
            if (e.parent == 0) root_child_[e.word] = e.child;
        }
        for (std::size_t v = 0; v < outs.size(); ++v) nodes_[v].out = outs[v];
    }

    /// Leftmost-longest matches of normalised text `t` (appended to out).
    void find(std::string_view t, std::vector<DictMatch>& out) const {
        if (root_child_.empty()) return;
        const char* s = t.data();
        const std::size_t n = t.size();
        auto token_end = [&](std::size_t p) {
            const void* sp = std::memchr(s + p, ' ', n - p);
            return sp ? static_cast<std::size_t>(static_cast<const char*>(sp) - s) : n;
        };
        std::size_t p = 0;
        while (p < n) {
            const std::size_t q = token_end(p);
            const std::uint32_t w = word_id(std::string_view(s + p, q - p));
            std::uint32_t cur = w != no_entity ? root_child_[w] : 0;
            if (cur == 0) {
                p = q + 1;
                continue;
            }
            std::size_t e = q, best_end = 0;
            std::uint32_t best_ent = no_entity;
            for (;;) {
                const Node& nd = nodes_[cur];
                if (nd.out != no_entity) best_end = e, best_ent = nd.out;
                if (e >= n || nd.degree == 0) break;
                const std::size_t p2 = e + 1, q2 = token_end(p2);
                const std::uint32_t w2 = word_id(std::string_view(s + p2, q2 - p2));
                if (w2 == no_entity) break;
                cur = child(nd, w2);
                if (cur == 0) break;
                e = q2;
            }
            if (best_end) {
                out.push_back(DictMatch{EntityId(best_ent), static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(best_end)});
                p = best_end + 1;
            } else {
                p = q + 1;
            }
        }
    }

    std::size_t states() const noexcept { return nodes_.size(); }
    std::size_t memory_bytes() const noexcept {
        return words_.size() + (word_off_.size() + slots_.size() + edge_word_.size() + edge_child_.size() + root_child_.size()) * 4 +
               nodes_.size() * sizeof(Node);
    }

private:
    struct Node {
        std::uint32_t first = 0;          // first edge in edge_word_/edge_child_
        std::uint32_t degree = 0;
        std::uint32_t out = no_entity;    // entity when the word sequence is a form
    };
    static std::uint64_t hash(std::string_view w) noexcept {
        std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ w.size();
        std::size_t i = 0;
        for (; i + 8 <= w.size(); i += 8) {
            std::uint64_t x;
            std::memcpy(&x, w.data() + i, 8);
            h = (h ^ x) * 0xBF58476D1CE4E5B9ULL;
            h ^= h >> 29;
        }
        std::uint64_t x = 0;
        std::memcpy(&x, w.data() + i, w.size() - i);
        h = (h ^ x) * 0x94D049BB133111EBULL;
        return h ^ (h >> 31);
    }
    std::uint32_t word_id(std::string_view w) const noexcept {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t i = hash(w) & mask;; i = (i + 1) & mask) {
            const std::uint32_t id = slots_[i];
            if (id == 0) return no_entity;
            const std::uint32_t b = word_off_[id - 1], e = word_off_[id];
            if (e - b == w.size() && std::memcmp(words_.data() + b, w.data(), w.size()) == 0) return id - 1;
        }
    }
    std::uint32_t child(const Node& nd, std::uint32_t w) const noexcept {
        const std::uint32_t* ws = edge_word_.data() + nd.first;
        const std::uint32_t* it = std::lower_bound(ws, ws + nd.degree, w);
        return it != ws + nd.degree && *it == w ? edge_child_[nd.first + static_cast<std::uint32_t>(it - ws)] : 0;
    }

    std::string words_;                      // the distinct words of all forms, concatenated
    std::vector<std::uint32_t> word_off_;    // word i is words_[word_off_[i], word_off_[i+1])
    std::vector<std::uint32_t> slots_;       // open addressing: word id + 1, 0 = empty
    std::vector<Node> nodes_;
    std::vector<std::uint32_t> edge_word_, edge_child_, root_child_;
};

/// Matcher without word boundaries: Aho–Corasick over normalised bytes. States are numbered
/// breadth-first, so a state's children have consecutive ids (labels sorted) and every failure
/// or output link points to a smaller id.
class ByteMatcher {
public:
    void build(const SortedForms& f, ProgressThrottle& progress) {
        // trie, breadth-first: state v owns the sorted range [lo[v], hi[v]) of forms it prefixes
        states_.assign(1, State{});
        label_.assign(1, 0);
        std::vector<std::uint32_t> lo{0}, hi{static_cast<std::uint32_t>(f.size())};
        std::uint64_t done = 0;
        for (std::uint32_t v = 0; v < states_.size(); ++v) {
            std::uint32_t a = lo[v];
            const std::uint32_t b = hi[v], depth = states_[v].depth;
            if (a < b && f.form(a).size() == depth) {  // the form equal to this prefix sorts first
                states_[v].out = f.entity[a++];
                progress.update(++done);
            }
            states_[v].first = static_cast<std::uint32_t>(states_.size());
            while (a < b) {
                const auto c = static_cast<unsigned char>(f.form(a)[depth]);
                std::uint32_t e = a + 1;
                while (e < b && static_cast<unsigned char>(f.form(e)[depth]) == c) ++e;
                if (states_.size() >= no_entity - 1) throw InvalidArgument("DictionaryExtractor::build: too many states");
                State s;
                s.depth = depth + 1;
                states_.push_back(s);
                label_.push_back(static_cast<std::uint8_t>(c));
                lo.push_back(a);
                hi.push_back(e);
                ++states_[v].degree;
                a = e;
            }
        }
        root_.fill(0);
        for (std::uint32_t k = 0; k < states_[0].degree; ++k) root_[label_[1 + k]] = 1 + k;
        // failure and output links, in id order (a failure target is shallower, so done before)
        for (std::uint32_t u = 0; u < states_.size(); ++u)
            for (std::uint32_t v = states_[u].first; v < states_[u].first + states_[u].degree; ++v) {
                std::uint32_t fl = 0;
                if (u != 0)
                    for (std::uint32_t x = states_[u].fail;; x = states_[x].fail) {
                        if (const std::uint32_t y = child(x, label_[v])) {
                            fl = y;
                            break;
                        }
                        if (x == 0) break;
                    }
                states_[v].fail = fl;
                states_[v].dict = states_[fl].out != no_entity ? fl : states_[fl].dict;
            }
    }

    /// Leftmost-longest matches of normalised text `t` (appended to out); `best` is scratch.
    void find(std::string_view t, std::vector<DictMatch>& out, std::vector<std::uint32_t>& best) const {
        const auto* s = reinterpret_cast<const unsigned char*>(t.data());
        const std::size_t n = t.size();
        best.assign(n, 0);  // best[p]: terminal state of the longest form starting at p (0: none)
        std::uint32_t state = 0;
        for (std::size_t i = 0; i < n; ++i) {
            for (;;) {
                if (const std::uint32_t nx = child(state, s[i])) {
                    state = nx;
                    break;
                }
                if (state == 0) break;
                state = states_[state].fail;
            }
            // every form ending at i; for one start a later end is longer, so it overwrites
            for (std::uint32_t u = states_[state].out != no_entity ? state : states_[state].dict; u != 0; u = states_[u].dict)
                best[i + 1 - states_[u].depth] = u;
        }
        for (std::size_t p = 0; p < n;) {
            if (const std::uint32_t u = best[p]) {
                const auto b = static_cast<std::uint32_t>(p), e = b + states_[u].depth;
                out.push_back(DictMatch{EntityId(states_[u].out), b, e});
                p = e;
            } else {
                ++p;
            }
        }
    }

    std::size_t states() const noexcept { return states_.size(); }
    std::size_t memory_bytes() const noexcept { return states_.size() * (sizeof(State) + 1) + sizeof(root_); }

private:
    struct State {
        std::uint32_t first = 0, degree = 0;  // children: ids [first, first + degree)
        std::uint32_t out = no_entity;        // entity when this state ends a form
        std::uint32_t fail = 0, dict = 0;     // failure link; nearest terminal on the chain (0: none)
        std::uint32_t depth = 0;              // length of the state's string
    };
    std::uint32_t child(std::uint32_t v, unsigned c) const noexcept {
        if (v == 0) return root_[c];
        const State& st = states_[v];
        for (std::uint32_t k = st.first, e = st.first + st.degree; k < e; ++k)
            if (label_[k] >= c) return label_[k] == c ? k : 0;
        return 0;
    }
    std::vector<State> states_ = std::vector<State>(1);      // state 0: the root
    std::vector<std::uint8_t> label_ = std::vector<std::uint8_t>(1);  // label of the edge into each state
    std::array<std::uint32_t, 256> root_{};
};

}  // namespace detail

class DictionaryExtractor {
public:
    /// Reusable scratch space for the const extraction entry points (one per thread).
    struct Workspace {
        NormalizedText norm;
        std::vector<DictMatch> matches;
        std::vector<std::uint32_t> scratch;
    };

    DictionaryExtractor() = default;  ///< empty: matches nothing

    /// Compile (form, entity) pairs. Invalid entity ids are an InvalidArgument.
    template <SurfaceFormRange R>
    static DictionaryExtractor build(const R& forms, DictionaryOptions options = {}, ProgressCallback progress = {}) {
        DictionaryExtractor d;
        d.options_ = options;
        d.normalizer_ = Normalizer(options.normalizer);
        d.compile(forms, progress);
        return d;
    }

    // ---- extraction -----------------------------------------------------------------------

    /// Extractor concept: append dictionary mentions of `text` (original byte offsets, score 1),
    /// sorted by begin. Uses an internal workspace: not thread-safe; use the Workspace overload
    /// (const: one shared dictionary, one Workspace per thread).
    void extract(std::string_view text, std::vector<Mention>& out) { extract(text, out, ws_); }

    void extract(std::string_view text, std::vector<Mention>& out, Workspace& ws) const {
        normalizer_.normalize(text, ws.norm);
        ws.matches.clear();
        find(ws.norm, ws.matches, ws.scratch);
        for (const DictMatch& m : ws.matches) {
            const auto [b, e] = ws.norm.source_span(m.begin, m.end);
            out.push_back(Mention{m.entity, b, e, 1.0f, MentionSource::dictionary});
        }
    }

    /// Leftmost-longest non-overlapping matches in already normalised text (appended to out,
    /// sorted by begin). `scratch` is reused.
    void find(const NormalizedText& norm, std::vector<DictMatch>& out, std::vector<std::uint32_t>& scratch) const {
        find(norm.text(), out, scratch);
    }
    void find(std::string_view normalized, std::vector<DictMatch>& out, std::vector<std::uint32_t>& scratch) const {
        if (options_.word_boundary) {
            words_.find(normalized, out);
        } else {
            bytes_.find(normalized, out, scratch);
        }
    }

    /// Entity of a whole normalised form (exact match of the complete string), if any.
    std::optional<EntityId> lookup_normalized(std::string_view form) const {
        const std::size_t i = forms_.lower_bound(form);
        if (i == forms_.size() || forms_.form(i) != form) return std::nullopt;
        return EntityId(forms_.entity[i]);
    }
    /// True when some compiled form starts with the normalised bytes `prefix` (or equals them).
    bool has_prefix_normalized(std::string_view prefix) const {
        const std::size_t i = forms_.lower_bound(prefix);
        return i < forms_.size() && forms_.form(i).starts_with(prefix);
    }
    /// Entity of a raw surface form (normalised with this dictionary's options first).
    std::optional<EntityId> lookup(std::string_view form) const {
        return lookup_normalized(normalizer_.normalize(form));
    }

    const Normalizer& normalizer() const noexcept { return normalizer_; }
    const DictionaryOptions& options() const noexcept { return options_; }
    const DictionaryStats& stats() const noexcept { return stats_; }
    std::size_t size() const noexcept { return forms_.size(); }
    bool empty() const noexcept { return forms_.size() == 0; }
    /// The compiled forms: normalised, sorted bytewise, distinct (i < size()).
    std::string_view form(std::size_t i) const noexcept { return forms_.form(i); }
    EntityId entity(std::size_t i) const noexcept { return EntityId(forms_.entity[i]); }

    // ---- persistence ----------------------------------------------------------------------

    /// The file image: magic, version, options, the sorted forms and their entities, CRC-32C.
    std::string to_bytes() const {
        detail::BinaryWriter w(magic, version);
        w.put(static_cast<std::uint8_t>(options_.word_boundary));
        w.put(static_cast<std::uint8_t>(options_.on_conflict));
        w.put(static_cast<std::uint8_t>(options_.normalizer.fold_plurals));
        w.put_string(forms_.bytes);
        w.put_vector(forms_.off);
        w.put_vector(forms_.entity);
        return w.finish();
    }
    /// Write atomically (temp, fsync, rename).
    void save(const std::filesystem::path& path) const { write_file_atomic(path, to_bytes()); }

    /// Load a file written by save(). Truncated, corrupted or inconsistent files are a ParseError.
    static DictionaryExtractor load(const std::filesystem::path& path) {
        return from_bytes(read_file(path), path.string());
    }
    /// Same from a file image (`source` names it in errors). The forms are validated (offsets,
    /// strictly sorted, no empty word, valid entities) before the matcher is rebuilt from them.
    static DictionaryExtractor from_bytes(std::string bytes, std::string source = "<bytes>") {
        detail::BinaryReader r(std::move(bytes), std::move(source), magic, version);
        DictionaryExtractor d;
        const auto wb = r.get<std::uint8_t>(), pol = r.get<std::uint8_t>(), fp = r.get<std::uint8_t>();
        if (wb > 1 || pol > 2 || fp > 1) throw r.error(fmt::format("invalid option flags {}/{}/{}", wb, pol, fp));
        d.options_.word_boundary = wb;
        d.options_.on_conflict = static_cast<ConflictPolicy>(pol);
        d.options_.normalizer.fold_plurals = fp;
        d.normalizer_ = Normalizer(d.options_.normalizer);
        detail::SortedForms f;
        f.bytes = r.get_string();
        f.off = r.get_vector<std::uint32_t>(std::uint64_t{1} << 32);
        f.entity = r.get_vector<std::uint32_t>(std::uint64_t{1} << 32);
        r.expect_end();
        if (f.off.size() != f.entity.size() + 1 || f.off[0] != 0 || f.off.back() != f.bytes.size())
            throw r.error(fmt::format("{} form offsets for {} forms of {} bytes", f.off.size(), f.entity.size(), f.bytes.size()));
        for (std::size_t i = 0; i < f.size(); ++i)
            if (f.off[i + 1] <= f.off[i]) throw r.error(fmt::format("form {} is empty or its offset decreases", i));
        for (std::size_t i = 0; i < f.size(); ++i) {  // offsets now lie inside the bytes
            const std::string_view s = f.form(i);
            if (s.front() == ' ' || s.back() == ' ' || s.find("  ") != std::string_view::npos)
                throw r.error(fmt::format("form {} has an empty word", i));
            for (const char ch : s)  // what the normaliser emits: ' ', a-z, 0-9 and UTF-8 bytes
                if (const auto c = static_cast<unsigned char>(ch); c != ' ' && !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c < 0x80)
                    throw r.error(fmt::format("form {} holds byte 0x{:02x}, which normalised text never does", i, c));
            if (i > 0 && !(f.form(i - 1) < s)) throw r.error(fmt::format("forms {} and {} are not strictly sorted", i - 1, i));
            if (f.entity[i] == detail::no_entity) throw r.error(fmt::format("form {} has an invalid entity", i));
        }
        d.stats_.input_forms = d.stats_.patterns = f.size();
        d.compile_matcher(std::move(f));
        return d;
    }

private:
    static constexpr std::string_view magic = "KERECDIC";
    static constexpr std::uint32_t version = 5;

    template <class R>
    void compile(const R& forms, const ProgressCallback& progress) {
        // 1. normalise every form into one arena
        std::string arena;
        std::vector<std::uint64_t> off{0};
        std::vector<std::uint32_t> ent;
        NormalizedText nt;
        for (const auto& p : forms) {
            const std::string_view raw(p.first);
            const EntityId e(p.second);
            if (!e.valid())
                throw InvalidArgument(fmt::format("DictionaryExtractor::build: form '{}' has an invalid entity id", raw));
            ++stats_.input_forms;
            normalizer_.normalize(raw, nt);
            if (nt.empty()) {
                ++stats_.empty_forms;
                continue;
            }
            arena.append(nt.text());
            off.push_back(arena.size());
            ent.push_back(e.value());
        }
        if (arena.size() >= 0xFFFFFFFFu)
            throw InvalidArgument(fmt::format("DictionaryExtractor::build: {} bytes of forms, expected < 4 GiB", arena.size()));
        const std::size_t n = ent.size();
        auto form = [&](std::size_t i) { return std::string_view(arena.data() + off[i], off[i + 1] - off[i]); };
        // 2. sort (stable: the first listed claim comes first among equal forms)
        std::vector<std::uint32_t> order(n);
        std::iota(order.begin(), order.end(), 0u);
        std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return form(a) < form(b); });
        // 3. duplicates and conflicts; the kept forms in order
        detail::SortedForms kept;
        for (std::size_t i = 0; i < n;) {
            std::size_t j = i + 1;
            bool conflict = false;
            while (j < n && form(order[j]) == form(order[i])) {
                if (ent[order[j]] == ent[order[i]]) {
                    ++stats_.duplicates;
                } else {
                    conflict = true;
                    if (options_.on_conflict == ConflictPolicy::error)
                        throw InvalidArgument(fmt::format(
                            "DictionaryExtractor::build: surface form '{}' is claimed by entity {} and entity {} "
                            "(choose ConflictPolicy::first_wins or drop, or fix the list)",
                            form(order[i]), ent[order[i]], ent[order[j]]));
                    const bool drop = options_.on_conflict == ConflictPolicy::drop;
                    stats_.conflicts.push_back(DictionaryConflict{std::string(form(order[i])),
                                                                  drop ? EntityId{} : EntityId(ent[order[i]]),
                                                                  EntityId(ent[order[j]])});
                }
                ++j;
            }
            if (!(conflict && options_.on_conflict == ConflictPolicy::drop)) {
                kept.bytes.append(form(order[i]));
                kept.off.push_back(static_cast<std::uint32_t>(kept.bytes.size()));
                kept.entity.push_back(ent[order[i]]);
            }
            i = j;
        }
        stats_.patterns = kept.size();
        compile_matcher(std::move(kept), progress);
    }

    void compile_matcher(detail::SortedForms forms, const ProgressCallback& progress = {}) {
        forms_ = std::move(forms);
        ProgressThrottle throttle(progress, "compiling dictionary", forms_.size());
        if (options_.word_boundary) {
            words_.build(forms_, throttle);
            stats_.states = words_.states();
            stats_.memory_bytes = forms_.memory_bytes() + words_.memory_bytes();
        } else {
            bytes_.build(forms_, throttle);
            stats_.states = bytes_.states();
            stats_.memory_bytes = forms_.memory_bytes() + bytes_.memory_bytes();
        }
        throttle.finish(forms_.size());
    }

    DictionaryOptions options_{};
    Normalizer normalizer_{};
    DictionaryStats stats_{};
    detail::SortedForms forms_;
    detail::WordMatcher words_;  // word_boundary
    detail::ByteMatcher bytes_;  // !word_boundary
    Workspace ws_;
};

static_assert(Extractor<DictionaryExtractor>);

}  // namespace kerec
