// kerec/entity/dictionary.hpp — DictionaryExtractor: surface-form dictionary matching.
//
// The dictionary half of the paper's entity extractor: a list of (surface form → entity) pairs,
// where synonyms map to one canonical entity (the "unified concept term"), compiled over
// normalised text (kerec/entity/normalizer.hpp) and matched leftmost-longest, non-overlapping.
//   * Byte trie, built breadth-first from the sorted forms: a state's children have consecutive
//     ids, so a 32-byte state holds its sorted labels inline (child k = first + k); the root and
//     states with ≥ dense_degree children get a dense 256-entry row; a state below which one form
//     continues keeps the rest as a memcmp'd tail.
//   * Word-boundary mode (default): a match starts and ends on token boundaries, so the scan walks
//     a trie over words from each token start (words looked up in a small hash table of the
//     forms' words; unknown words end a walk at once) and resumes after the longest match.
//   * Without word boundaries: Aho–Corasick, f(v) = δ(f(u), c), output links to the nearest
//     terminal on the failure chain; a candidate is committed once no future match can start at
//     or before it (position − depth(state) > start).
//   * CJK characters are tokens of their own, so CJK forms match inside unspaced CJK text.
//   * One surface form claimed by two entities: ConflictPolicy decides (error by default,
//     first_wins, or drop the form); every conflict is listed in stats().conflicts.
// Build: O(Σ|forms| log n) (sort) + O(Σ|forms|). Scan: O(bytes + words · walk) or O(bytes +
// matches) for Aho–Corasick, no allocation at steady state. Save/load: magic + version + CRC-32C,
// structure validated on load.
#pragma once

#include <algorithm>
#include <cstring>
#include <cstdint>
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
    std::uint32_t dense_degree = 12;                ///< states with this many children get a dense row (≤ 23)
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
    std::size_t states = 0, dense_states = 0, memory_bytes = 0;
};

/// A dictionary match in normalised coordinates: bytes [begin, end) of NormalizedText::text().
struct DictMatch {
    EntityId entity;
    std::uint32_t begin = 0, end = 0;
};

class DictionaryExtractor {
public:
    /// Reusable scratch space for the const extraction entry points (one per thread).
    struct Workspace {
        NormalizedText norm;
        std::vector<DictMatch> matches, candidates;
    };

    DictionaryExtractor() = default;

    /// Compile (form, entity) pairs. `forms` is any range of pairs whose first converts to
    /// std::string_view and second is an EntityId. Invalid entity ids are an InvalidArgument.
    template <std::ranges::input_range R>
    static DictionaryExtractor build(const R& forms, DictionaryOptions options = {}, ProgressCallback progress = {}) {
        DictionaryExtractor d;
        d.options_ = options;
        d.normalizer_ = Normalizer(options.normalizer);
        d.compile(forms, progress);
        return d;
    }

    // ---- extraction -----------------------------------------------------------------------

    /// Extractor concept: append dictionary mentions of `text` (original byte offsets, score 1).
    /// Uses an internal workspace: not thread-safe; use the Workspace overload across threads.
    void extract(std::string_view text, std::vector<Mention>& out) { extract(text, out, ws_); }

    void extract(std::string_view text, std::vector<Mention>& out, Workspace& ws) const {
        normalizer_.normalize(text, ws.norm);
        ws.matches.clear();
        find(ws.norm, ws.matches, ws.candidates);
        for (const DictMatch& m : ws.matches) {
            const auto [b, e] = ws.norm.source_span(m.begin, m.end);
            out.push_back(Mention{m.entity, b, e, 1.0f, MentionSource::dictionary});
        }
    }

    /// Leftmost-longest non-overlapping matches in already normalised text (appended to out).
    /// `candidates` is scratch space.
    void find(const NormalizedText& norm, std::vector<DictMatch>& out, std::vector<DictMatch>& candidates) const {
        find(norm.text(), out, candidates);
    }

    void find(std::string_view t, std::vector<DictMatch>& out, std::vector<DictMatch>& cand) const {
        if (nodes_.empty()) return;
        if (options_.word_boundary) {
            find_at_token_starts(t, out);
            return;
        }
        cand.clear();
        const auto* s = reinterpret_cast<const unsigned char*>(t.data());
        const std::size_t n = t.size();
        const bool wb = options_.word_boundary;
        const Node* nodes = nodes_.data();
        const Link* links = links_.data();
        std::uint32_t state = 0;
        std::uint32_t blocked = 0;  // matches must start at or after the end of the last one kept
        for (std::size_t i = 0; i < n; ++i) {
            const unsigned c = s[i];
            for (;;) {
                const std::uint32_t nx = child(state, c);
                if (nx) {
                    state = nx;
                    break;
                }
                if (state == 0) break;
                state = links[state].fail;
            }
            const Node& nd = nodes[state];
            const Link& ln = links[state];
            const auto end = static_cast<std::uint32_t>(i + 1);
            if ((nd.out != none || ln.dict != 0) && (!wb || end == n || s[end] == ' ')) {
                std::uint32_t u = nd.out != none ? state : ln.dict;
                while (u != 0) {
                    const std::uint32_t start = end - links[u].depth;
                    if (start >= blocked && (!wb || start == 0 || s[start - 1] == ' '))
                        cand.push_back(DictMatch{EntityId(nodes[u].out), start, end});
                    u = links[u].dict;
                }
            }
            if (!cand.empty()) commit(cand, out, blocked, end - ln.depth);
        }
        if (!cand.empty()) commit(cand, out, blocked, 0xFFFFFFFFu);
    }

    /// Word-boundary mode: matches start and end on token boundaries, so the scan walks a trie
    /// over WORDS: each token is looked up in the forms' word table (small, cache-resident; a
    /// word no form contains, such as a brand, ends the walk at once), then the longest form
    /// starting at the token is followed word by word; after a match the scan resumes at its end.
    /// Leftmost-longest by construction. O(bytes + words · walk length).
    void find_at_token_starts(std::string_view t, std::vector<DictMatch>& out) const {
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
            std::uint32_t cur = w != none ? root_child_[w] : 0;
            if (cur == 0) {
                p = q + 1;
                continue;
            }
            std::size_t e = q, best_end = 0;
            std::uint32_t best_ent = none;
            for (;;) {
                const WordNode& nd = wnodes_[cur];
                if (nd.out != none) best_end = e, best_ent = nd.out;
                if (e >= n || nd.degree == 0) break;
                const std::size_t p2 = e + 1, q2 = token_end(p2);
                const std::uint32_t w2 = word_id(std::string_view(s + p2, q2 - p2));
                if (w2 == none) break;
                cur = word_child(nd, w2);
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

    /// Entity of a whole normalised form (exact match of the complete string), if any.
    std::optional<EntityId> lookup_normalized(std::string_view form) const {
        if (nodes_.empty()) return std::nullopt;
        std::uint32_t s = 0;
        for (std::size_t i = 0; i < form.size(); ++i) {
            s = child(s, static_cast<unsigned char>(form[i]));
            if (s == 0) return std::nullopt;
            const Node& nd = nodes_[s];
            if (nd.tail() && i + 1 < form.size()) {
                const std::string_view rest = form.substr(i + 1);
                if (rest == std::string_view(tails_.data() + nd.first, nd.tail_length())) return EntityId(nd.tail_entity());
                return std::nullopt;
            }
        }
        if (nodes_[s].out == none) return std::nullopt;
        return EntityId(nodes_[s].out);
    }
    /// True when some compiled form starts with the normalised bytes `prefix` (or equals them).
    bool has_prefix_normalized(std::string_view prefix) const {
        if (nodes_.empty()) return false;
        std::uint32_t s = 0;
        for (std::size_t i = 0; i < prefix.size(); ++i) {
            s = child(s, static_cast<unsigned char>(prefix[i]));
            if (s == 0) return false;
            const Node& nd = nodes_[s];
            if (nd.tail() && i + 1 < prefix.size()) {
                const std::string_view rest = prefix.substr(i + 1);
                return std::string_view(tails_.data() + nd.first, nd.tail_length()).starts_with(rest);
            }
        }
        return true;
    }
    /// Entity of a raw surface form (normalised with this dictionary's options first).
    std::optional<EntityId> lookup(std::string_view form) const {
        return lookup_normalized(normalizer_.normalize(form));
    }

    const Normalizer& normalizer() const noexcept { return normalizer_; }
    const DictionaryOptions& options() const noexcept { return options_; }
    const DictionaryStats& stats() const noexcept { return stats_; }
    std::size_t size() const noexcept { return stats_.patterns; }
    bool empty() const noexcept { return stats_.patterns == 0; }

    // ---- persistence ----------------------------------------------------------------------

    void save(const std::filesystem::path& path) const {
        detail::BinaryWriter w(magic, version);
        w.put(static_cast<std::uint8_t>(options_.word_boundary));
        w.put(static_cast<std::uint8_t>(options_.on_conflict));
        w.put(static_cast<std::uint8_t>(options_.normalizer.fold_plurals));
        w.put(options_.dense_degree);
        w.put(static_cast<std::uint64_t>(stats_.patterns));
        w.put_vector(nodes_);
        w.put_vector(links_);
        w.put_vector(dense_);
        w.put_string(tails_);
        w.put_string(words_);
        w.put_vector(word_off_);
        w.put_vector(wnodes_);
        w.put_vector(wedge_word_);
        w.put_vector(wedge_child_);
        w.commit(path);
    }

    /// Load a file written by save(). Truncated, corrupted or inconsistent files are a ParseError.
    static DictionaryExtractor load(const std::filesystem::path& path) {
        detail::BinaryReader r(path, magic, version);
        DictionaryExtractor d;
        const auto wb = r.get<std::uint8_t>();
        const auto pol = r.get<std::uint8_t>();
        const auto fp = r.get<std::uint8_t>();
        if (wb > 1 || pol > 2 || fp > 1) throw r.error("invalid option flags");
        d.options_.word_boundary = wb;
        d.options_.on_conflict = static_cast<ConflictPolicy>(pol);
        d.options_.normalizer.fold_plurals = fp;
        d.options_.dense_degree = r.get<std::uint32_t>();
        d.normalizer_ = Normalizer(d.options_.normalizer);
        d.stats_.patterns = static_cast<std::size_t>(r.get<std::uint64_t>());
        constexpr std::uint64_t lim = std::uint64_t{1} << 40;
        d.nodes_ = r.get_vector<Node>(lim);
        d.links_ = r.get_vector<Link>(lim);
        d.dense_ = r.get_vector<std::uint32_t>(lim);
        d.tails_ = r.get_string();
        d.words_ = r.get_string();
        d.word_off_ = r.get_vector<std::uint32_t>(lim);
        d.wnodes_ = r.get_vector<WordNode>(lim);
        d.wedge_word_ = r.get_vector<std::uint32_t>(lim);
        d.wedge_child_ = r.get_vector<std::uint32_t>(lim);
        r.expect_end();
        d.validate(r);
        d.validate_words(r);
        if (d.options_.word_boundary) {
            d.build_word_slots();
            d.root_child_.assign(d.word_off_.size() - 1, 0);
            const WordNode& root = d.wnodes_[0];
            for (std::uint32_t k = 0; k < root.degree; ++k) d.root_child_[d.wedge_word_[root.first + k]] = d.wedge_child_[root.first + k];
        }
        d.fill_stats();
        return d;
    }

private:
    static constexpr std::string_view magic = "KERECDIC";
    static constexpr std::uint32_t version = 4;
    static constexpr std::uint32_t none = 0xFFFFFFFFu;

    static constexpr std::uint32_t inline_labels = 22;

    // Hot layout for the trie walk: one 32-byte record per state (two per cache line). Children
    // of a state have consecutive ids (breadth-first numbering), so a sparse state stores only its
    // sorted labels inline and child k is first + k; a dense state's first is its 256-entry row.
    // In word-boundary mode a state below which exactly one form continues is a tail state: the
    // rest of that form sits in tails_ at offset `first` and is compared with memcmp, so a long
    // form costs one cache miss at its end instead of one per byte.
    struct Node {
        std::uint32_t first = 0;   // first child id, or dense row index when dense
        std::uint32_t out = none;  // entity when this state ends a form
        std::uint8_t degree_minus_one = 0;  // number of children − 1 (meaningful when has_children)
        std::uint8_t flags = 0;    // bit 0: dense, bit 1: has children, bit 2: tail
        std::uint8_t labels[inline_labels] = {};  // tail states: tail length (u32), tail entity (u32)
        bool dense() const noexcept { return flags & 1; }
        bool tail() const noexcept { return flags & 4; }
        std::uint32_t tail_length() const noexcept {
            std::uint32_t v;
            std::memcpy(&v, labels, 4);
            return v;
        }
        std::uint32_t tail_entity() const noexcept {
            std::uint32_t v;
            std::memcpy(&v, labels + 4, 4);
            return v;
        }
        std::uint32_t degree() const noexcept { return (flags & 2) ? degree_minus_one + 1u : 0u; }
    };
    static_assert(sizeof(Node) == 32);
    // Cold layout for Aho–Corasick (word_boundary = false) only.
    struct Link {
        std::uint32_t fail = 0;   // failure link (a shallower state; BFS ids make it smaller)
        std::uint32_t dict = 0;   // nearest terminal state on the failure chain (0 = none)
        std::uint32_t depth = 0;  // length of the state's string
    };

    // Word trie (word-boundary scans): node = sequence of words; children sorted by word id.
    struct WordNode {
        std::uint32_t first = 0;   // offset into wedge_word_/wedge_child_
        std::uint32_t degree = 0;
        std::uint32_t out = none;  // entity when the word sequence is a form
    };

    static std::uint64_t word_hash(std::string_view w) noexcept {
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
        if (word_slots_.empty()) return none;
        const std::size_t mask = word_slots_.size() - 1;
        for (std::size_t i = word_hash(w) & mask;; i = (i + 1) & mask) {
            const std::uint32_t id = word_slots_[i];
            if (id == 0) return none;
            const std::uint32_t b = word_off_[id - 1], e = word_off_[id];
            if (e - b == w.size() && std::memcmp(words_.data() + b, w.data(), w.size()) == 0) return id - 1;
        }
    }
    std::uint32_t word_child(const WordNode& nd, std::uint32_t w) const noexcept {
        const std::uint32_t* ws = wedge_word_.data() + nd.first;
        std::uint32_t lo = 0, hi = nd.degree;
        while (lo < hi) {
            const std::uint32_t mid = (lo + hi) / 2;
            if (ws[mid] < w) lo = mid + 1;
            else hi = mid;
        }
        return lo < nd.degree && ws[lo] == w ? wedge_child_[nd.first + lo] : 0;
    }

    // Build the word table and word trie from the kept forms (normalised, space-separated, in
    // byte order). ' ' is the smallest byte of normalised text, so forms sharing their first k
    // words are contiguous: each form reuses the path of the previous one for the words they
    // share and appends new states for the rest. O(Σ|forms|) plus a sort of the edges.
    template <class FormAt>
    void build_word_trie(std::size_t count, FormAt&& form_at, const std::vector<std::uint32_t>& entity_at) {
        words_.clear();
        word_off_.assign(1, 0);
        std::unordered_map<std::string_view, std::uint32_t> ids;
        struct Edge {
            std::uint32_t parent, word, child;
        };
        std::vector<Edge> edges;
        std::vector<std::uint32_t> outs(1, none), path;
        std::vector<std::string_view> prev, toks;
        for (std::size_t i = 0; i < count; ++i) {
            const std::string_view f = form_at(i);
            toks.clear();
            for (std::size_t p = 0; p <= f.size();) {
                std::size_t q = f.find(' ', p);
                if (q == std::string_view::npos) q = f.size();
                toks.push_back(f.substr(p, q - p));
                p = q + 1;
            }
            std::size_t l = 0;
            while (l < toks.size() && l < prev.size() && toks[l] == prev[l]) ++l;
            path.resize(l);
            std::uint32_t cur = l == 0 ? 0 : path[l - 1];
            for (std::size_t k = l; k < toks.size(); ++k) {
                auto it = ids.find(toks[k]);
                if (it == ids.end()) it = ids.emplace(toks[k], static_cast<std::uint32_t>(ids.size())).first;
                const auto id = static_cast<std::uint32_t>(outs.size());
                outs.push_back(none);
                edges.push_back(Edge{cur, it->second, id});
                cur = id;
                path.push_back(id);
            }
            outs[cur] = entity_at[i];
            std::swap(prev, toks);
        }
        std::vector<std::string_view> by_id(ids.size());
        for (const auto& [w, id] : ids) by_id[id] = w;
        for (const auto& w : by_id) {
            words_.append(w);
            word_off_.push_back(static_cast<std::uint32_t>(words_.size()));
        }
        build_word_slots();
        std::sort(edges.begin(), edges.end(), [](const Edge& x, const Edge& y) {
            return x.parent != y.parent ? x.parent < y.parent : x.word < y.word;
        });
        wnodes_.assign(outs.size(), WordNode{});
        wedge_word_.resize(edges.size());
        wedge_child_.resize(edges.size());
        root_child_.assign(by_id.size(), 0);
        for (std::size_t k = 0; k < edges.size(); ++k) {
            const Edge& e = edges[k];
            WordNode& nd = wnodes_[e.parent];
            if (nd.degree == 0) nd.first = static_cast<std::uint32_t>(k);
            ++nd.degree;
            wedge_word_[k] = e.word;
            wedge_child_[k] = e.child;
            if (e.parent == 0) root_child_[e.word] = e.child;
        }
        for (std::size_t v = 0; v < outs.size(); ++v) wnodes_[v].out = outs[v];
    }
    void build_word_slots() {
        const std::size_t nw = word_off_.size() - 1;
        std::size_t cap = 16;
        while (cap < 2 * nw + 2) cap <<= 1;
        word_slots_.assign(cap, 0);
        for (std::uint32_t id = 0; id < nw; ++id) {
            const std::string_view w(words_.data() + word_off_[id], word_off_[id + 1] - word_off_[id]);
            std::size_t i = word_hash(w) & (cap - 1);
            while (word_slots_[i] != 0) i = (i + 1) & (cap - 1);
            word_slots_[i] = id + 1;
        }
    }

    std::uint32_t child(std::uint32_t s, unsigned c) const noexcept {
        const Node& nd = nodes_[s];
        if (nd.flags & 1) return dense_[(static_cast<std::size_t>(nd.first) << 8) | c];
        const std::uint32_t deg = nd.degree();
        for (std::uint32_t k = 0; k < deg; ++k)
            if (nd.labels[k] >= c) return nd.labels[k] == c ? nd.first + k : 0;
        return 0;
    }

    // Commit every candidate that no future match can beat: the leftmost start (ties: longest)
    // among candidates, once it lies strictly before `earliest_future_start`.
    static void commit(std::vector<DictMatch>& cand, std::vector<DictMatch>& out, std::uint32_t& blocked,
                       std::uint32_t earliest_future_start) {
        for (;;) {
            std::size_t best = cand.size();
            for (std::size_t k = 0; k < cand.size(); ++k) {
                if (cand[k].begin < blocked) continue;
                if (best == cand.size() || cand[k].begin < cand[best].begin ||
                    (cand[k].begin == cand[best].begin && cand[k].end > cand[best].end))
                    best = k;
            }
            if (best == cand.size()) {
                cand.clear();
                return;
            }
            if (cand[best].begin >= earliest_future_start) return;
            out.push_back(cand[best]);
            blocked = cand[best].end;
            std::size_t w = 0;
            for (std::size_t k = 0; k < cand.size(); ++k)
                if (cand[k].begin >= blocked) cand[w++] = cand[k];
            cand.resize(w);
            if (cand.empty()) return;
        }
    }

    template <class R>
    void compile(const R& forms, const ProgressCallback& progress) {
        // 1. normalise every form into one arena
        std::string arena;
        std::vector<std::uint64_t> off;   // begin offsets, off[i+1] = end
        std::vector<std::uint32_t> ent;
        off.push_back(0);
        NormalizedText nt;
        for (const auto& p : forms) {
            const std::string_view raw(p.first);
            const EntityId e = p.second;
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
        const std::size_t n = ent.size();
        auto form = [&](std::size_t i) { return std::string_view(arena.data() + off[i], off[i + 1] - off[i]); };
        // 2. sort (stable: the first listed claim comes first among equal forms)
        std::vector<std::uint32_t> order(n);
        std::iota(order.begin(), order.end(), 0u);
        std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return form(a) < form(b); });
        // 3. duplicates and conflicts
        std::vector<std::uint32_t> keep;
        keep.reserve(n);
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
            if (!(conflict && options_.on_conflict == ConflictPolicy::drop)) keep.push_back(order[i]);
            i = j;
        }
        stats_.patterns = keep.size();
        ProgressThrottle throttle(progress, "compiling dictionary", keep.size());
        std::uint64_t done = 0;
        // 4. breadth-first trie: state v owns the sorted range [lo[v], hi[v]) of forms it
        //    prefixes; its children get consecutive ids.
        nodes_.assign(1, Node{});
        links_.assign(1, Link{});
        tails_.clear();
        std::vector<std::uint32_t> lo{0}, hi{static_cast<std::uint32_t>(keep.size())};
        std::vector<std::uint8_t> child_labels;
        const std::uint32_t dense_at = std::min(options_.dense_degree == 0 ? 1u : options_.dense_degree, inline_labels + 1);
        dense_.clear();
        std::uint32_t rows = 0;
        for (std::uint32_t v = 0; v < nodes_.size(); ++v) {
            std::uint32_t a = lo[v];
            const std::uint32_t b = hi[v];
            const std::uint32_t depth = links_[v].depth;
            if (a < b && form(keep[a]).size() == depth) {  // the form equal to this prefix sorts first
                nodes_[v].out = ent[keep[a]];
                ++a;
                throttle.update(++done);
            }
            if (options_.word_boundary && v != 0 && b - a == 1) {  // one form continues: a tail
                const std::string_view rest = form(keep[a]).substr(depth);
                Node& nd = nodes_[v];
                nd.flags = 4;
                nd.first = static_cast<std::uint32_t>(tails_.size());
                const auto len = static_cast<std::uint32_t>(rest.size());
                const std::uint32_t te = ent[keep[a]];
                std::memcpy(nd.labels, &len, 4);
                std::memcpy(nd.labels + 4, &te, 4);
                tails_.append(rest);
                if (tails_.size() >= none) throw InvalidArgument("DictionaryExtractor::build: forms too long");
                throttle.update(++done);
                continue;
            }
            const auto first = static_cast<std::uint32_t>(nodes_.size());
            child_labels.clear();
            while (a < b) {
                const auto c = static_cast<unsigned char>(form(keep[a])[depth]);
                std::uint32_t e = a + 1;
                while (e < b && static_cast<unsigned char>(form(keep[e])[depth]) == c) ++e;
                if (nodes_.size() >= none - 1) throw InvalidArgument("DictionaryExtractor::build: too many states");
                nodes_.push_back(Node{});
                Link l;
                l.depth = depth + 1;
                links_.push_back(l);
                lo.push_back(a);
                hi.push_back(e);
                child_labels.push_back(c);
                a = e;
            }
            Node& nd = nodes_[v];
            const auto deg = static_cast<std::uint32_t>(child_labels.size());
            if (deg == 0) continue;
            nd.flags = 2;
            nd.degree_minus_one = static_cast<std::uint8_t>(deg - 1);
            if (v == 0 || deg >= dense_at) {
                const std::size_t base = dense_.size();
                dense_.resize(base + 256, 0);
                for (std::uint32_t k = 0; k < deg; ++k) dense_[base + child_labels[k]] = first + k;
                nd.first = rows++;
                nd.flags |= 1;
            } else {
                nd.first = first;
                for (std::uint32_t k = 0; k < deg; ++k) nd.labels[k] = child_labels[k];
            }
        }
        if (nodes_[0].degree() == 0) {  // empty dictionary: give the root its (empty) dense row
            dense_.assign(256, 0);
            nodes_[0].flags = 1;
            nodes_[0].first = 0;
        }
        throttle.finish(done);
        lo = {};
        hi = {};
        // 5. failure and output links, breadth-first (a state's failure target is shallower);
        //    only the Aho–Corasick scan (word_boundary = false) uses them.
        if (options_.word_boundary) {
            links_.clear();
            build_word_trie(keep.size(), [&](std::size_t i) { return form(keep[i]); },
                            [&] {
                                std::vector<std::uint32_t> e(keep.size());
                                for (std::size_t i = 0; i < keep.size(); ++i) e[i] = ent[keep[i]];
                                return e;
                            }());
            fill_stats();
            return;
        }
        auto link = [&](std::uint32_t u, unsigned c, std::uint32_t v) {
            std::uint32_t f = 0;
            if (u != 0) {
                std::uint32_t x = links_[u].fail;
                for (;;) {
                    const std::uint32_t y = child(x, c);
                    if (y) {
                        f = y;
                        break;
                    }
                    if (x == 0) break;
                    x = links_[x].fail;
                }
            }
            links_[v].fail = f;
            links_[v].dict = nodes_[f].out != none ? f : links_[f].dict;
        };
        for (std::uint32_t u = 0; u < nodes_.size(); ++u) {
            const Node& nd = nodes_[u];
            if (nd.dense()) {
                for (unsigned c = 0; c < 256; ++c)
                    if (const std::uint32_t v = dense_[(std::size_t{nd.first} << 8) | c]) link(u, c, v);
            } else {
                for (std::uint32_t k = 0; k < nd.degree(); ++k) link(u, nd.labels[k], nd.first + k);
            }
        }
        fill_stats();
    }

    void fill_stats() {
        stats_.states = nodes_.size();
        stats_.dense_states = dense_.size() / 256;
        stats_.memory_bytes = nodes_.size() * sizeof(Node) + links_.size() * sizeof(Link) + dense_.size() * 4 + tails_.size() +
                              words_.size() + word_off_.size() * 4 + word_slots_.size() * 4 + wnodes_.size() * sizeof(WordNode) +
                              (wedge_word_.size() + wedge_child_.size() + root_child_.size()) * 4;
    }

    // Everything a scan relies on: children have larger ids than their parent (walks
    // terminate), failure/output links point to smaller ids (chains terminate), indices in range.
    void validate_words(const detail::BinaryReader& r) const {
        if (!options_.word_boundary) {
            if (!words_.empty() || word_off_.size() > 1 || !wnodes_.empty()) throw r.error("word trie in Aho-Corasick mode");
            return;
        }
        if (word_off_.empty() || word_off_[0] != 0 || word_off_.back() != words_.size())
            throw r.error("word offsets inconsistent");
        for (std::size_t i = 1; i < word_off_.size(); ++i)
            if (word_off_[i] < word_off_[i - 1]) throw r.error("word offsets not increasing");
        const std::size_t nw = word_off_.size() - 1, nn = wnodes_.size();
        if (nn == 0 || wedge_word_.size() != wedge_child_.size()) throw r.error("word trie arrays inconsistent");
        for (std::size_t v = 0; v < nn; ++v) {
            const WordNode& nd = wnodes_[v];
            if (static_cast<std::size_t>(nd.first) + nd.degree > wedge_word_.size()) throw r.error("word edges out of range");
            for (std::uint32_t k = 0; k < nd.degree; ++k) {
                const std::uint32_t w = wedge_word_[nd.first + k], c = wedge_child_[nd.first + k];
                if (w >= nw || (k > 0 && w <= wedge_word_[nd.first + k - 1]) || c <= v || c >= nn)
                    throw r.error(fmt::format("word trie node {}: bad edge", v));
            }
        }
    }

    void validate(const detail::BinaryReader& r) const {
        const std::size_t ns = nodes_.size();
        const bool ac = !options_.word_boundary;
        if (ns == 0) throw r.error("automaton has no root state");
        if (ac ? links_.size() != ns : !links_.empty()) throw r.error("link array does not match the mode");
        if (dense_.size() % 256 != 0) throw r.error("dense table is not a whole number of rows");
        if (!nodes_[0].dense()) throw r.error("root state must be dense");
        const std::size_t rows = dense_.size() / 256;
        std::vector<std::uint32_t> depth(ns, 0), parent_seen(ns, 0);
        auto check_child = [&](std::size_t s, std::uint32_t t) {
            if (t == 0) return;
            if (t <= s || t >= ns || parent_seen[t]) throw r.error(fmt::format("state {}: transition to {} invalid", s, t));
            parent_seen[t] = 1;
            depth[t] = depth[s] + 1;
        };
        for (std::size_t s = 0; s < ns; ++s) {
            const Node& nd = nodes_[s];
            if (nd.flags > 4 || (nd.tail() && nd.flags != 4)) throw r.error(fmt::format("state {}: bad flags", s));
            if (s != 0 && !parent_seen[s]) throw r.error(fmt::format("state {}: unreachable", s));
            if (nd.tail()) {
                if (ac) throw r.error(fmt::format("state {}: tail state in Aho-Corasick mode", s));
                if (static_cast<std::size_t>(nd.first) + nd.tail_length() > tails_.size())
                    throw r.error(fmt::format("state {}: tail out of range", s));
            } else if (nd.dense()) {
                if (nd.first >= rows) throw r.error(fmt::format("state {}: dense row out of range", s));
                for (unsigned c = 0; c < 256; ++c) check_child(s, dense_[(std::size_t{nd.first} << 8) | c]);
            } else {
                const std::uint32_t deg = nd.degree();
                if (deg > inline_labels) throw r.error(fmt::format("state {}: {} inline labels", s, deg));
                for (std::uint32_t k = 0; k < deg; ++k) {
                    if (k > 0 && nd.labels[k] <= nd.labels[k - 1])
                        throw r.error(fmt::format("state {}: edge labels not sorted", s));
                    if (nd.first + k == 0) throw r.error(fmt::format("state {}: edge to root", s));
                    check_child(s, nd.first + k);
                }
            }
            if (ac) {
                const Link& l = links_[s];
                if (l.depth != depth[s]) throw r.error(fmt::format("state {}: depth mismatch", s));
                if (s != 0 && (l.fail >= s || l.dict >= s || links_[l.fail].depth >= l.depth ||
                               (l.dict != 0 && links_[l.dict].depth >= l.depth)))
                    throw r.error(fmt::format("state {}: failure/output link not shallower", s));
            }
        }
    }

    DictionaryOptions options_{};
    Normalizer normalizer_{};
    DictionaryStats stats_{};
    std::vector<Node> nodes_;
    std::vector<Link> links_;  // empty in word-boundary mode
    std::vector<std::uint32_t> dense_;
    std::string tails_;
    // word-boundary scans
    std::string words_;                        // the distinct words of all forms, concatenated
    std::vector<std::uint32_t> word_off_;      // word i is words_[word_off_[i], word_off_[i+1])
    std::vector<std::uint32_t> word_slots_;    // open-addressing table: word id + 1, 0 = empty
    std::vector<WordNode> wnodes_;
    std::vector<std::uint32_t> wedge_word_, wedge_child_, root_child_;
    Workspace ws_;
};

static_assert(Extractor<DictionaryExtractor>);

}  // namespace kerec
