// kerec/entity/linker.hpp — silver labels, entity linking, cold-start discovery, and the
// combined extractor (dictionary + tagger + linker).
//
// The paper unifies extracted terms into concept entities and lets new entities enter the graph
// (cold start). Here:
//   * silver_examples: dictionary matches on titles become training spans for the CRF, so the
//     tagger learns to find forms the dictionary lacks (titles without any match are skipped:
//     they are where unknown forms live, and labelling them all-O would teach the opposite).
//   * EntityLinker: a span links to an entity by normalised exact match over every surface form
//     (synonyms → one canonical entity); optionally by its head (longest linkable token suffix,
//     "smoked paprika" → paprika), reported as such.
//   * CandidateDiscovery: unlinked spans are counted by normalised form; forms seen at least
//     min_count times become candidate new entities, with the entity their head links to.
//   * EntityPipeline<Tagger>: dictionary mentions first (score 1), then the spans of any
//     Extractor (the CRF by default, or a caller's tagger) that do not overlap them, linked or
//     left unlinked (entity invalid) — an Extractor like the others.
// Linking is O(min(|span|, longest form)) expected per suffix tried (hash lookup, suffixes longer
// than the longest form skipped); discovery O(1) per span. The pipeline merges the two sorted
// mention lists in one pass: O(bytes + mentions) per text, capped by max_text_bytes.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/random.hpp"
#include "kerec/core/vocabulary.hpp"
#include "kerec/entity/crf_tagger.hpp"
#include "kerec/entity/dictionary.hpp"
#include "kerec/entity/mention.hpp"
#include "kerec/entity/normalizer.hpp"

namespace kerec {

struct SilverOptions {
    bool skip_unmatched = true;    ///< drop titles where the dictionary finds nothing
    bool skip_extendable = true;   ///< drop titles where a match may be part of a longer unknown form
    std::size_t context_tokens = 3;  ///< how many neighbouring tokens the extendability test looks at
    bool skip_collocated = true;   ///< drop titles where a match follows a word that nearly always precedes it
    std::uint32_t collocation_min_count = 3;  ///< ... seen at least this often before a match
    double collocation_share = 0.8;           ///< ... with this share of its occurrences before one entity
    double typo_share = 0.3;       ///< add a copy with one misspelt entity word for this share of titles
    std::uint64_t seed = 42;       ///< for the typo copies
};

/// A copy of `ex` with one interior letter of one word (≥ 4 ASCII letters) inside one of its
/// spans dropped, doubled or swapped with its neighbour; spans are shifted accordingly. Returns
/// false when no word qualifies. Teaches the tagger that misspelt words inside entities are
/// still entity words (titles are full of them; the dictionary never matches them).
inline bool misspell_copy(const TrainingExample& ex, Rng& rng, TrainingExample& out) {
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    std::vector<std::uint32_t> pos;  // interior letter positions of qualifying words
    for (auto [b, e] : ex.spans) {
        std::uint32_t w = b;
        for (std::uint32_t i = b; i <= e; ++i) {
            if (i == e || !alpha(ex.text[i])) {
                if (i - w >= 4)
                    for (std::uint32_t k = w + 1; k + 1 < i; ++k) pos.push_back(k);
                w = i + 1;
            }
        }
    }
    if (pos.empty()) return false;
    const std::uint32_t k = pos[rng.uniform_int(pos.size())];
    out.text = ex.text;
    int delta = 0;
    switch (rng.uniform_int(3)) {
        case 0: out.text.erase(k, 1), delta = -1; break;
        case 1: out.text.insert(out.text.begin() + k, out.text[k]), delta = 1; break;
        default:
            if (out.text[k] == out.text[k + 1]) {
                out.text.erase(k, 1), delta = -1;
            } else {
                std::swap(out.text[k], out.text[k + 1]);
            }
    }
    out.spans = ex.spans;
    for (auto& [b, e] : out.spans) {
        if (b > k) b = static_cast<std::uint32_t>(static_cast<int>(b) + delta);
        if (e > k) e = static_cast<std::uint32_t>(static_cast<int>(e) + delta);
    }
    return true;
}

/// True when dictionary match [b, e) (normalised bytes) of `norm` could be the truncated tail or
/// head of a longer form: the 1..k tokens before it followed by a space start some dictionary
/// form, or the match followed by a space starts a longer form and another token follows.
/// Such matches are typical of forms missing from the dictionary ("mirrorless phones" seen as
/// "phones"), and training on them would teach the tagger the truncation.
inline bool extendable_match(const DictionaryExtractor& dictionary, const NormalizedText& norm, std::uint32_t b,
                             std::uint32_t e, std::size_t k, std::string& scratch) {
    const auto& tk = norm.tokens();
    const std::string_view text = norm.text();
    std::size_t first = 0;  // index of the first token of the match
    while (first < tk.size() && tk[first].norm_begin < b) ++first;
    for (std::size_t n = 1; n <= k && n <= first; ++n) {
        const std::uint32_t from = tk[first - n].norm_begin;
        scratch.assign(text.substr(from, b - from));  // "w1 w2 " (ends with the separating space)
        if (dictionary.has_prefix_normalized(scratch)) return true;
    }
    if (e < text.size()) {
        scratch.assign(text.substr(b, e - b));
        scratch += ' ';
        if (dictionary.has_prefix_normalized(scratch)) return true;
    }
    return false;
}

/// Training examples whose spans are the dictionary's matches on `titles` (any range of things
/// convertible to std::string_view).
/// Training examples whose spans are the dictionary's matches on `titles` (any range of things
/// convertible to std::string_view). Denoising: titles without matches, with extendable matches
/// (extendable_match) and with collocated matches are skipped. A word w directly before a match
/// of entity e is collocated when w occurs before matches ≥ collocation_min_count times and
/// ≥ collocation_share of those times before e: brands and modifiers precede many entities, a
/// qualifier of a form the dictionary lacks ("shallot tomatoes" seen as "tomatoes") precedes one.
template <class Titles>
std::vector<TrainingExample> silver_examples(const DictionaryExtractor& dictionary, const Titles& titles,
                                             SilverOptions options = {}) {
    struct Title {
        std::string_view text;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;
        std::vector<std::pair<std::string, EntityId>> before;  // (word before a match, its entity)
    };
    std::vector<Title> kept;
    DictionaryExtractor::Workspace ws;
    std::string scratch;
    // word -> (entity -> count)
    std::unordered_map<std::string, std::unordered_map<std::uint32_t, std::uint32_t>, detail::StringViewHash,
                       std::equal_to<>> prev;
    for (const auto& t : titles) {
        const std::string_view text(t);
        dictionary.normalizer().normalize(text, ws.norm);
        ws.matches.clear();
        dictionary.find(ws.norm, ws.matches, ws.scratch);
        if (ws.matches.empty() && options.skip_unmatched) continue;
        bool skip = false;
        if (options.skip_extendable)
            for (const auto& m : ws.matches)
                if ((skip = extendable_match(dictionary, ws.norm, m.begin, m.end, options.context_tokens, scratch))) break;
        if (skip) continue;
        Title ti;
        ti.text = text;
        const auto& tk = ws.norm.tokens();
        std::size_t k = 0;
        for (const auto& m : ws.matches) {
            const auto [sb, se] = ws.norm.source_span(m.begin, m.end);
            ti.spans.emplace_back(sb, se);
            if (!options.skip_collocated) continue;
            while (k < tk.size() && tk[k].norm_begin < m.begin) ++k;
            if (k > 0 && tk[k - 1].norm_end < m.begin) {
                ti.before.emplace_back(std::string(ws.norm.token_text(k - 1)), m.entity);
                ++prev[ti.before.back().first][m.entity.value()];
            }
        }
        kept.push_back(std::move(ti));
    }
    auto collocated = [&](const std::string& w, EntityId e) {
        const auto& m = prev.find(w)->second;
        std::uint64_t total = 0;
        for (const auto& [ent, c] : m) total += c;
        const std::uint32_t c = m.at(e.value());
        return c >= options.collocation_min_count &&
               static_cast<double>(c) >= options.collocation_share * static_cast<double>(total);
    };
    std::vector<TrainingExample> out;
    Rng rng(options.seed);
    TrainingExample copy;
    for (auto& ti : kept) {
        bool skip = false;
        for (const auto& [w, e] : ti.before)
            if ((skip = collocated(w, e))) break;
        if (skip) continue;
        TrainingExample ex;
        ex.text = std::string(ti.text);
        ex.spans = std::move(ti.spans);
        const bool typo = !ex.spans.empty() && rng.bernoulli(options.typo_share) && misspell_copy(ex, rng, copy);
        out.push_back(std::move(ex));
        if (typo) out.push_back(std::move(copy));
    }
    return out;
}

/// How a span was linked.
enum class LinkKind : std::uint8_t { none = 0, exact = 1, head = 2 };

struct LinkResult {
    EntityId entity;
    LinkKind kind = LinkKind::none;
};

/// Links normalised span text to entities: exact form (synonyms included), then optionally head.
class EntityLinker {
public:
    EntityLinker() = default;
    explicit EntityLinker(NormalizerOptions options) : normalizer_(options) {}

    /// Add a surface form of an entity. A form already linked to another entity keeps its first
    /// entity and is counted in conflicts() (linking must stay deterministic).
    void add(std::string_view form, EntityId entity) {
        if (!entity.valid()) throw InvalidArgument(fmt::format("EntityLinker::add: invalid entity for '{}'", form));
        std::string key = normalizer_.normalize(form);
        if (key.empty()) return;
        max_form_bytes_ = std::max(max_form_bytes_, key.size());
        auto [it, inserted] = forms_.emplace(std::move(key), entity);
        if (!inserted && it->second != entity) ++conflicts_;
    }
    /// Add every (form, entity) pair of a range.
    template <SurfaceFormRange R>
    void add_all(const R& forms) {
        for (const auto& [f, e] : forms) add(std::string_view(f), e);
    }
    /// Add the canonical names of a vocabulary (entity i is named names()[i]).
    void add_names(const Vocabulary<EntityId>& names) {
        for (std::uint32_t i = 0; i < names.size(); ++i) add(names.names()[i], EntityId(i));
    }

    /// Link already normalised text (e.g. a span of NormalizedText::text()).
    std::optional<EntityId> link_normalized(std::string_view normalized) const {
        auto it = forms_.find(normalized);
        if (it == forms_.end()) return std::nullopt;
        return it->second;
    }

    /// Link a span [tb, te) of tokens of `norm` (tb < te ≤ tokens): exact, else (with
    /// `use_head`) the longest proper token suffix that links. Pieces longer than the longest
    /// form are not looked up, so a long span costs O(tokens + longest form · suffixes tried).
    LinkResult link_tokens(const NormalizedText& norm, std::size_t tb, std::size_t te, bool use_head) const {
        const auto& tk = norm.tokens();
        if (tb >= te || te > tk.size()) return {};
        const std::string_view text = norm.text();
        auto length = [&](std::size_t b) { return std::size_t{tk[te - 1].norm_end - tk[b].norm_begin}; };
        auto piece = [&](std::size_t b) { return text.substr(tk[b].norm_begin, length(b)); };
        if (length(tb) <= max_form_bytes_)
            if (auto e = link_normalized(piece(tb))) return {*e, LinkKind::exact};
        if (use_head) {
            std::size_t b = tb + 1;
            while (b < te && length(b) > max_form_bytes_) ++b;
            for (; b < te; ++b)
                if (auto e = link_normalized(piece(b))) return {*e, LinkKind::head};
        }
        return {};
    }

    /// Link raw text (normalised first; allocates).
    LinkResult link(std::string_view raw, bool use_head = false) const {
        NormalizedText norm;
        normalizer_.normalize(raw, norm);
        if (norm.tokens().empty()) return {};
        return link_tokens(norm, 0, norm.tokens().size(), use_head);
    }

    const Normalizer& normalizer() const noexcept { return normalizer_; }
    std::size_t size() const noexcept { return forms_.size(); }
    std::size_t conflicts() const noexcept { return conflicts_; }

private:
    Normalizer normalizer_;
    std::unordered_map<std::string, EntityId, detail::StringViewHash, std::equal_to<>> forms_;
    std::size_t conflicts_ = 0;
    std::size_t max_form_bytes_ = 0;
};

/// A recurring unlinked span: a candidate new entity (cold start).
struct EntityCandidate {
    std::string form;       ///< normalised form
    std::string example;    ///< one original spelling
    std::uint64_t count = 0;
    double mean_confidence = 0;
    EntityId head;          ///< entity the form's head links to (invalid when none)
};

/// Counts unlinked spans by normalised form; forms seen ≥ min_count times are candidates.
class CandidateDiscovery {
public:
    /// Record one unlinked span (normalised form, original text, tagger confidence, head link).
    void add(std::string_view normalized_form, std::string_view original, float confidence, EntityId head = {}) {
        if (normalized_form.empty()) return;
        auto it = stats_.find(normalized_form);
        if (it == stats_.end()) {
            it = stats_.emplace(std::string(normalized_form), Entry{}).first;
            it->second.example = std::string(original);
            it->second.head = head;
        }
        ++it->second.count;
        it->second.confidence_sum += confidence;
        ++total_;
    }

    /// Candidates with count ≥ min_count, most frequent first (ties by form).
    std::vector<EntityCandidate> candidates(std::uint64_t min_count) const {
        std::vector<EntityCandidate> out;
        for (const auto& [form, e] : stats_) {
            if (e.count < min_count) continue;
            out.push_back(EntityCandidate{form, e.example, e.count, e.confidence_sum / static_cast<double>(e.count), e.head});
        }
        std::sort(out.begin(), out.end(), [](const EntityCandidate& a, const EntityCandidate& b) {
            return a.count != b.count ? a.count > b.count : a.form < b.form;
        });
        return out;
    }

    std::size_t distinct() const noexcept { return stats_.size(); }
    std::uint64_t total() const noexcept { return total_; }
    void clear() {
        stats_.clear();
        total_ = 0;
    }

private:
    struct Entry {
        std::uint64_t count = 0;
        double confidence_sum = 0;
        std::string example;
        EntityId head;
    };
    std::unordered_map<std::string, Entry, detail::StringViewHash, std::equal_to<>> stats_;
    std::uint64_t total_ = 0;
};

struct PipelineOptions {
    bool use_dictionary = true;   ///< dictionary mentions first (score 1)
    bool use_tagger = true;       ///< then the tagger's spans not overlapping them
    bool link_by_head = false;    ///< link an unknown span by its head (LinkKind::head)
    bool keep_unlinked = true;    ///< emit unlinked tagger spans with an invalid entity
    float min_confidence = 0.0f;  ///< drop tagger spans scored below this (the CRF: marginal probability)
    /// A tagger span with at least this score that strictly contains dictionary mentions
    /// replaces them ("green energy drinks" over "energy drinks"); > 1 disables it.
    float override_confidence = 0.5f;
    /// When neither the dictionary nor the tagger finds anything, emit the tagger's fallback span
    /// (for the CRF its most probable span, CrfTagger::best_span) if it scores at least
    /// fallback_confidence. Taggers without `fallback(text, Mention&)` have none.
    bool at_least_one = false;
    float fallback_confidence = 0.0f;
    /// Work cap per text: only its first max_text_bytes bytes (cut back to a character start)
    /// are read, so one hostile multi-megabyte "title" costs at most that much; every stage is
    /// linear in the bytes. Titles and bill lines are far shorter. 0: no cap.
    std::size_t max_text_bytes = 64 * 1024;
};

/// The CRF as the pipeline's tagger: CrfTagger spans as unlinked mentions scored by their
/// marginal probability, with best_span as the fallback. Copies share the (const) tagger and
/// each has its own workspace, so one trained tagger serves a pipeline per thread.
class CrfSpans {
public:
    CrfSpans() = default;
    template <class P>
        requires std::convertible_to<P, std::shared_ptr<const CrfTagger>>
    CrfSpans(P tagger) : tagger_(std::move(tagger)) {}  // NOLINT: implicit, so a shared_ptr passes as a tagger

    /// Extractor concept: spans sorted by begin, entity invalid, source crf.
    void extract(std::string_view text, std::vector<Mention>& out) {
        tagger_->tag(text, ws_.tagged, ws_);
        for (const TaggedSpan& s : ws_.tagged) out.push_back(Mention{EntityId{}, s.begin, s.end, s.confidence, MentionSource::crf});
    }
    /// The most probable span even when Viterbi selects none (false for a text without tokens).
    bool fallback(std::string_view text, Mention& m) {
        TaggedSpan best;
        if (!tagger_->best_span(text, best, ws_)) return false;
        m = Mention{EntityId{}, best.begin, best.end, best.confidence, MentionSource::crf};
        return true;
    }
    const std::shared_ptr<const CrfTagger>& tagger() const noexcept { return tagger_; }

private:
    std::shared_ptr<const CrfTagger> tagger_;
    CrfTagger::Workspace ws_;
};

/// Dictionary + tagger + linker behind the Extractor concept. `Tagger` is any Extractor (held by
/// value; the default, CrfSpans, wraps a shared CrfTagger); its mentions are expected sorted by
/// begin (sorted here if they are not; spans outside the text are dropped). A tagger mention that
/// carries an entity keeps it; the others are linked. Output: sorted by begin, dictionary first
/// among equal begins. One pipeline per thread (it holds workspaces); the dictionary, tagger
/// weights and linker are shared, read-only.
template <Extractor Tagger = CrfSpans>
class EntityPipeline {
public:
    EntityPipeline(std::shared_ptr<const DictionaryExtractor> dictionary, Tagger tagger,
                   std::shared_ptr<const EntityLinker> linker, PipelineOptions options = {})
        : dict_(std::move(dictionary)), tagger_(std::move(tagger)), linker_(std::move(linker)), options_(options) {
        if (options_.use_dictionary && !dict_) throw InvalidArgument("EntityPipeline: use_dictionary without a dictionary");
        if (linker_) normalizer_ = linker_->normalizer();
        else if (dict_) normalizer_ = dict_->normalizer();
        if constexpr (std::is_same_v<Tagger, CrfSpans>) {
            const auto& crf = tagger_.tagger();
            if (options_.use_tagger && !crf) throw InvalidArgument("EntityPipeline: use_tagger without a tagger");
            if (crf && linker_ && crf->normalizer().options().fold_plurals != linker_->normalizer().options().fold_plurals)
                throw InvalidArgument("EntityPipeline: tagger and linker normalise differently");
            if (crf && !linker_) normalizer_ = crf->normalizer();
        }
    }

    /// Extractor concept. Mentions come out sorted by begin. Not thread-safe (one per thread).
    void extract(std::string_view text, std::vector<Mention>& out) { extract(text, out, nullptr); }

    /// Like extract, and records unlinked tagger spans in `discovery` (may be null).
    void extract(std::string_view text, std::vector<Mention>& out, CandidateDiscovery* discovery) {
        text = capped(text);
        const std::size_t first = out.size();
        if (options_.use_dictionary) dict_->extract(text, out, dws_);
        const std::size_t dict_end = out.size();
        if (!options_.use_tagger) return;
        spans_.clear();
        tagger_.extract(text, spans_);
        std::erase_if(spans_, [&](const Mention& m) { return m.begin >= m.end || m.end > text.size(); });
        if (!std::is_sorted(spans_.begin(), spans_.end(), by_begin)) std::sort(spans_.begin(), spans_.end(), by_begin);
        if constexpr (requires(Tagger& x, std::string_view v, Mention& m) { x.fallback(v, m); }) {
            Mention m;
            if (options_.at_least_one && spans_.empty() && dict_end == first && tagger_.fallback(text, m) && m.begin < m.end &&
                m.end <= text.size() && m.score >= options_.fallback_confidence)
                spans_.push_back(m);
        }
        if (spans_.empty()) return;
        if (linker_ || discovery) normalizer_.normalize(text, norm_);
        const auto& tk = norm_.tokens();
        accepted_.clear();
        std::size_t k = first;  // first dictionary mention ending after the current span's begin
        std::size_t t = 0;      // first token ending after the current span's begin
        for (const Mention& s : spans_) {
            if (s.score < options_.min_confidence) continue;
            while (k < dict_end && out[k].end <= s.begin) ++k;  // dictionary mentions: sorted, disjoint
            bool blocked = false;
            EntityId contained;  // a dictionary entity inside the span: its head suggestion
            for (std::size_t j = k; j < dict_end && out[j].begin < s.end && !blocked; ++j) {
                if (!out[j].entity.valid()) continue;  // replaced by an earlier span
                if (inside(out[j], s) && s.score >= options_.override_confidence) contained = out[j].entity;
                else blocked = true;
            }
            if (blocked) continue;
            if (contained.valid())  // drop the dictionary mentions the span replaces
                for (std::size_t j = k; j < dict_end && out[j].begin < s.end; ++j)
                    if (inside(out[j], s)) out[j].entity = EntityId{};
            LinkResult lr{s.entity, s.entity.valid() ? LinkKind::exact : LinkKind::none};
            std::size_t tb = 0, te = 0;
            if (linker_ || discovery) {
                while (t < tk.size() && tk[t].src_end <= s.begin) ++t;
                tb = te = t;
                while (te < tk.size() && tk[te].src_begin < s.end) ++te;
            }
            if (lr.kind == LinkKind::none && linker_ && tb < te) lr = linker_->link_tokens(norm_, tb, te, true);
            if (lr.kind == LinkKind::none && contained.valid()) lr = LinkResult{contained, LinkKind::head};
            if (lr.kind != LinkKind::exact && discovery && tb < te) {
                const std::string_view norm_text =
                    norm_.text().substr(tk[tb].norm_begin, tk[te - 1].norm_end - tk[tb].norm_begin);
                discovery->add(norm_text, text.substr(s.begin, s.end - s.begin), s.score, lr.entity);
            }
            if (lr.kind == LinkKind::head && !options_.link_by_head) lr = LinkResult{};
            if (lr.kind == LinkKind::none && !options_.keep_unlinked) continue;
            accepted_.push_back(Mention{lr.entity, s.begin, s.end, s.score, s.source});
        }
        // drop the replaced dictionary mentions, then merge the two sorted lists from the back
        std::size_t w = first;
        for (std::size_t j = first; j < dict_end; ++j)
            if (out[j].entity.valid()) out[w++] = out[j];
        out.resize(w + accepted_.size());
        std::size_t i = w, a = accepted_.size(), pos = out.size();
        while (a > 0) {
            if (i > first && out[i - 1].begin > accepted_[a - 1].begin) out[--pos] = out[--i];
            else out[--pos] = accepted_[--a];
        }
    }

    const PipelineOptions& options() const noexcept { return options_; }
    PipelineOptions& options() noexcept { return options_; }
    Tagger& tagger() noexcept { return tagger_; }
    const Tagger& tagger() const noexcept { return tagger_; }

private:
    static bool by_begin(const Mention& a, const Mention& b) noexcept { return a.begin < b.begin; }
    /// d strictly inside s
    static bool inside(const Mention& d, const Mention& s) noexcept {
        return s.begin <= d.begin && d.end <= s.end && (s.begin < d.begin || d.end < s.end);
    }
    std::string_view capped(std::string_view text) const noexcept {
        if (options_.max_text_bytes == 0 || text.size() <= options_.max_text_bytes) return text;
        std::size_t n = options_.max_text_bytes;
        for (int back = 0; back < 3 && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80; ++back) --n;
        return text.substr(0, n);
    }

    std::shared_ptr<const DictionaryExtractor> dict_;
    Tagger tagger_;
    std::shared_ptr<const EntityLinker> linker_;
    PipelineOptions options_;
    Normalizer normalizer_;
    DictionaryExtractor::Workspace dws_;
    NormalizedText norm_;
    std::vector<Mention> spans_, accepted_;
};

EntityPipeline(std::shared_ptr<const DictionaryExtractor>, std::shared_ptr<const CrfTagger>,
               std::shared_ptr<const EntityLinker>, PipelineOptions = {}) -> EntityPipeline<CrfSpans>;

static_assert(Extractor<EntityPipeline<>>);

}  // namespace kerec
