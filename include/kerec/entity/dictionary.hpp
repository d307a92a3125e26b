// kerec/entity/dictionary.hpp — DictionaryExtractor: surface-form dictionary matching.
//
// The dictionary half of the paper's entity extractor: a list of (surface form → entity) pairs,
// where synonyms map to one canonical entity (the "unified concept term"), compiled into an
// Aho–Corasick automaton over normalised text (kerec/entity/normalizer.hpp).
//   * Automaton: trie built breadth-first from the sorted forms, failure links f(v) = δ(f(u), c)
//     and output links to the nearest terminal on the failure chain. Transitions are compact:
//     states with ≥ dense_degree children (always the root) get a dense 256-entry row, the rest
//     sorted (label, target) runs scanned linearly.
//   * Matches are leftmost-longest and non-overlapping: a candidate is committed once no future
//     match can start at or before it (current position − depth(state) > candidate start).
//   * Optional word-boundary rule: a match must start and end on token boundaries. CJK characters
//     are tokens on their own, so CJK forms still match inside unspaced CJK text.
//   * One surface form claimed by two entities: ConflictPolicy decides (error by default,
//     first_wins, or drop the form); every conflict is listed in stats().conflicts.
// Build: O(Σ|forms| log n) (sort) + O(Σ|forms|) (trie, links). Scan: O(bytes + matches), no
// allocation at steady state. Save/load: binary file, magic + version + CRC-32C, validated.
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

    /// Word-boundary mode: matches start at token starts only, so a plain trie walk from each
    /// token start (longest terminal ending on a token end) is leftmost-longest without failure
    /// links; after a match the scan resumes at its end. O(bytes · typical walk length).
    void find_at_token_starts(std::string_view t, std::vector<DictMatch>& out) const {
        const auto* s = reinterpret_cast<const unsigned char*>(t.data());
        const std::size_t n = t.size();
        const Node* nodes = nodes_.data();
        std::size_t p = 0;
        while (p < n) {
            std::uint32_t state = 0, best_ent = none;
            std::size_t best_end = 0;
            for (std::size_t i = p; i < n; ++i) {
                state = child(state, s[i]);
                if (state == 0) break;
                const std::uint32_t o = nodes[state].out;
                if (o != none && (i + 1 == n || s[i + 1] == ' ')) best_end = i + 1, best_ent = o;
            }
            if (best_end) {
                out.push_back(DictMatch{EntityId(best_ent), static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(best_end)});
                p = best_end + 1;  // skip the separating space
                continue;
            }
            const void* sp = std::memchr(s + p, ' ', n - p);
            if (!sp) break;
            p = static_cast<std::size_t>(static_cast<const unsigned char*>(sp) - s) + 1;
        }
    }

    /// Entity of a whole normalised form (exact match of the complete string), if any.
    std::optional<EntityId> lookup_normalized(std::string_view form) const {
        if (nodes_.empty()) return std::nullopt;
        std::uint32_t s = 0;
        for (unsigned char c : form) {
            s = child(s, c);
            if (s == 0) return std::nullopt;
        }
        if (nodes_[s].out == none) return std::nullopt;
        return EntityId(nodes_[s].out);
    }
    /// True when some compiled form starts with the normalised bytes `prefix` (or equals them).
    bool has_prefix_normalized(std::string_view prefix) const {
        if (nodes_.empty()) return false;
        std::uint32_t s = 0;
        for (unsigned char c : prefix) {
            s = child(s, c);
            if (s == 0) return false;
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
        r.expect_end();
        d.validate(r);
        d.fill_stats();
        return d;
    }

private:
    static constexpr std::string_view magic = "KERECDIC";
    static constexpr std::uint32_t version = 2;
    static constexpr std::uint32_t none = 0xFFFFFFFFu;

    static constexpr std::uint32_t inline_labels = 22;

    // Hot layout for the trie walk: one 32-byte record per state (two per cache line). Children
    // of a state have consecutive ids (breadth-first numbering), so a sparse state stores only its
    // sorted labels inline and child k is first + k; a dense state's first is its 256-entry row.
    struct Node {
        std::uint32_t first = 0;   // first child id, or dense row index when dense
        std::uint32_t out = none;  // entity when this state ends a form
        std::uint8_t degree_minus_one = 0;  // number of children − 1 (meaningful when has_children)
        std::uint8_t flags = 0;    // bit 0: dense, bit 1: has children
        std::uint8_t labels[inline_labels] = {};
        bool dense() const noexcept { return flags & 1; }
        std::uint32_t degree() const noexcept { return (flags & 2) ? degree_minus_one + 1u : 0u; }
    };
    static_assert(sizeof(Node) == 32);
    // Cold layout for Aho–Corasick (word_boundary = false) only.
    struct Link {
        std::uint32_t fail = 0;   // failure link (a shallower state; BFS ids make it smaller)
        std::uint32_t dict = 0;   // nearest terminal state on the failure chain (0 = none)
        std::uint32_t depth = 0;  // length of the state's string
    };

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
        // 5. failure and output links, breadth-first (a state's failure target is shallower)
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
        stats_.memory_bytes = nodes_.size() * (sizeof(Node) + sizeof(Link)) + dense_.size() * 4;
    }

    // Everything a scan relies on: children have larger ids than their parent (walks
    // terminate), failure/output links point to smaller ids (chains terminate), indices in range.
    void validate(const detail::BinaryReader& r) const {
        const std::size_t ns = nodes_.size();
        if (ns == 0) throw r.error("automaton has no root state");
        if (links_.size() != ns) throw r.error("link and state arrays differ in size");
        if (dense_.size() % 256 != 0) throw r.error("dense table is not a whole number of rows");
        if (!nodes_[0].dense()) throw r.error("root state must be dense");
        if (links_[0].depth != 0) throw r.error("root depth must be 0");
        const std::size_t rows = dense_.size() / 256;
        auto check_child = [&](std::size_t s, std::uint32_t t) {
            if (t == 0) return;
            if (t <= s || t >= ns || links_[t].depth != links_[s].depth + 1)
                throw r.error(fmt::format("state {}: transition to {} invalid", s, t));
        };
        for (std::size_t s = 0; s < ns; ++s) {
            const Node& nd = nodes_[s];
            if (nd.flags > 3) throw r.error(fmt::format("state {}: bad flags", s));
            if (nd.dense()) {
                if (nd.first >= rows) throw r.error(fmt::format("state {}: dense row out of range", s));
                for (unsigned c = 0; c < 256; ++c) check_child(s, dense_[(std::size_t{nd.first} << 8) | c]);
            } else {
                const std::uint32_t deg = nd.degree();
                if (deg > inline_labels) throw r.error(fmt::format("state {}: {} inline labels", s, deg));
                for (std::uint32_t k = 0; k < deg; ++k) {
                    if (k > 0 && nd.labels[k] <= nd.labels[k - 1])
                        throw r.error(fmt::format("state {}: edge labels not sorted", s));
                    check_child(s, nd.first + k);
                    if (nd.first + k == 0) throw r.error(fmt::format("state {}: edge to root", s));
                }
            }
            if (s != 0) {
                const Link& l = links_[s];
                if (l.fail >= s || l.dict >= s || l.depth == 0)
                    throw r.error(fmt::format("state {}: failure/output link does not point to an earlier state", s));
                if (links_[l.fail].depth >= l.depth || (l.dict != 0 && links_[l.dict].depth >= l.depth))
                    throw r.error(fmt::format("state {}: failure/output link not shallower", s));
            }
        }
    }

    DictionaryOptions options_{};
    Normalizer normalizer_{};
    DictionaryStats stats_{};
    std::vector<Node> nodes_;
    std::vector<Link> links_;
    std::vector<std::uint32_t> dense_;
    Workspace ws_;
};

static_assert(Extractor<DictionaryExtractor>);

}  // namespace kerec
