// kerec/entity/linker.hpp — silver labels, entity linking, cold-start discovery, and the
// combined extractor (dictionary + CRF + linker).
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
//   * EntityPipeline: dictionary mentions first (score 1), then CRF spans that do not overlap
//     them, linked or left unlinked (entity invalid) — an Extractor like the others.
// Linking is O(|span|) expected (hash lookup); discovery O(1) per span; pipeline O(text).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
        auto [it, inserted] = forms_.emplace(std::move(key), entity);
        if (!inserted && it->second != entity) ++conflicts_;
    }
    /// Add every (form, entity) pair of a range.
    template <class R>
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

    /// Link a span [tb, te) of tokens of `norm`: exact, else (with `use_head`) the longest
    /// proper token suffix that links.
    LinkResult link_tokens(const NormalizedText& norm, std::size_t tb, std::size_t te, bool use_head) const {
        const auto& tk = norm.tokens();
        const std::string_view text = norm.text();
        auto piece = [&](std::size_t b) { return text.substr(tk[b].norm_begin, tk[te - 1].norm_end - tk[b].norm_begin); };
        if (auto e = link_normalized(piece(tb))) return {*e, LinkKind::exact};
        if (use_head)
            for (std::size_t b = tb + 1; b < te; ++b)
                if (auto e = link_normalized(piece(b))) return {*e, LinkKind::head};
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
    bool use_crf = true;          ///< then CRF spans not overlapping them
    bool link_by_head = false;    ///< link an unknown span by its head (LinkKind::head)
    bool keep_unlinked = true;    ///< emit unlinked CRF spans with an invalid entity
    float min_confidence = 0.0f;  ///< drop CRF spans below this marginal probability
    /// A CRF span with at least this confidence that strictly contains dictionary mentions
    /// replaces them ("green energy drinks" over "energy drinks"); > 1 disables it.
    float override_confidence = 0.5f;
    /// When neither the dictionary nor Viterbi finds anything, emit the CRF's most probable span
    /// (CrfTagger::best_span) if its probability is at least fallback_confidence.
    bool at_least_one = false;
    float fallback_confidence = 0.0f;
};

/// Dictionary + CRF + linker behind the Extractor concept. Holds shared pointers to its parts.
class EntityPipeline {
public:
    EntityPipeline(std::shared_ptr<const DictionaryExtractor> dictionary, std::shared_ptr<const CrfTagger> tagger,
                   std::shared_ptr<const EntityLinker> linker, PipelineOptions options = {})
        : dict_(std::move(dictionary)), crf_(std::move(tagger)), linker_(std::move(linker)), options_(options) {
        if (options_.use_dictionary && !dict_) throw InvalidArgument("EntityPipeline: use_dictionary without a dictionary");
        if (options_.use_crf && !crf_) throw InvalidArgument("EntityPipeline: use_crf without a tagger");
        if (crf_ && linker_ &&
            crf_->normalizer().options().fold_plurals != linker_->normalizer().options().fold_plurals)
            throw InvalidArgument("EntityPipeline: tagger and linker normalise differently");
    }

    /// Extractor concept. Mentions come out sorted by begin. Not thread-safe (one per thread).
    void extract(std::string_view text, std::vector<Mention>& out) { extract(text, out, nullptr); }

    /// Like extract, and records unlinked CRF spans in `discovery` (may be null).
    void extract(std::string_view text, std::vector<Mention>& out, CandidateDiscovery* discovery) {
        const std::size_t first = out.size();
        if (options_.use_dictionary) dict_->extract(text, out, dws_);
        const std::size_t dict_end = out.size();
        if (options_.use_crf) {
            crf_->tag(text, cws_.tagged, cws_);
            if (options_.at_least_one && cws_.tagged.empty() && dict_end == first) {
                TaggedSpan best;
                if (crf_->best_span(text, best, cws_) && best.confidence >= options_.fallback_confidence)
                    cws_.tagged.push_back(best);
            }
            for (const TaggedSpan& s : cws_.tagged) {
                if (s.confidence < options_.min_confidence) continue;
                bool blocked = false;
                EntityId contained;  // a dictionary entity inside the span: its head suggestion
                for (std::size_t k = first; k < dict_end && !blocked; ++k) {
                    const Mention& d = out[k];
                    if (!(d.begin < s.end && s.begin < d.end) || !d.entity.valid()) continue;
                    const bool inside = s.begin <= d.begin && d.end <= s.end && (s.begin < d.begin || d.end < s.end);
                    if (inside && s.confidence >= options_.override_confidence) {
                        contained = d.entity;
                    } else {
                        blocked = true;
                    }
                }
                if (blocked) continue;
                if (contained.valid())  // drop the dictionary mentions the span replaces
                    for (std::size_t k = first; k < dict_end; ++k)
                        if (out[k].entity.valid() && s.begin <= out[k].begin && out[k].end <= s.end) out[k].entity = EntityId{};
                LinkResult lr;
                if (linker_) lr = linker_->link_tokens(cws_.norm, s.token_begin, s.token_end, true);
                if (lr.kind == LinkKind::none && contained.valid()) lr = LinkResult{contained, LinkKind::head};
                if (lr.kind != LinkKind::exact && discovery) {
                    const auto& tk = cws_.norm.tokens();
                    const std::string_view norm_text = cws_.norm.text().substr(
                        tk[s.token_begin].norm_begin, tk[s.token_end - 1].norm_end - tk[s.token_begin].norm_begin);
                    discovery->add(norm_text, text.substr(s.begin, s.end - s.begin), s.confidence, lr.entity);
                }
                if (lr.kind == LinkKind::head && !options_.link_by_head) lr = LinkResult{};
                if (lr.kind == LinkKind::none && !options_.keep_unlinked) continue;
                out.push_back(Mention{lr.entity, s.begin, s.end, s.confidence, MentionSource::crf});
            }
            // remove replaced dictionary mentions (marked with an invalid entity above)
            std::size_t w = first;
            for (std::size_t k = first; k < out.size(); ++k)
                if (k >= dict_end || out[k].entity.valid()) out[w++] = out[k];
            out.resize(w);
        }
        std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                  [](const Mention& a, const Mention& b) { return a.begin < b.begin; });
    }

    const PipelineOptions& options() const noexcept { return options_; }
    PipelineOptions& options() noexcept { return options_; }

private:
    std::shared_ptr<const DictionaryExtractor> dict_;
    std::shared_ptr<const CrfTagger> crf_;
    std::shared_ptr<const EntityLinker> linker_;
    PipelineOptions options_;
    DictionaryExtractor::Workspace dws_;
    CrfTagger::Workspace cws_;
};

static_assert(Extractor<EntityPipeline>);

}  // namespace kerec
