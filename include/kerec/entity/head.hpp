// kerec/entity/head.hpp — head words: the unified concept term of a title, discovery of new
// entities by recurring head words, and a self-training round (silver labels → CRF → heads →
// dictionary).
//
// The paper unifies the terms extracted from a title into concept entities ("unified concept
// terms"): what the item IS, a head noun. English product titles are head-final noun phrases
// with post-modifiers ("Mini Rigatoni With Vodka Cream Sauce"), so:
//   * core(x) = tokens before the first cut word ("with", "in", "for", ...; never token 0);
//   * content(t) = t has ≥ min_letters bytes, does not start with a digit, is no unit/size word
//     and no U+FFFD (an invalid byte);
//   * head(span) = its last content token; title_head, kerec's one rule for the item's entity:
//     the first mention, core(x) right to left then the rest right to left, whose head's longest
//     linkable suffix (else its own entity) resolves; the title gathers under that one entity,
//     and the head of the first mention with one is the title's head word (for discovery).
// Discovery: over a catalogue, h(w) = #titles whose head word is w and links to nothing, n(w) = #content
// occurrences of w; w becomes a new entity when h(w) ≥ min_count and h(w)/n(w) ≥ min_head_share
// (a word mostly used as a modifier — "organic", "chocolate" — is no concept, though it sometimes
// ends a title); the new entity is named by the word's most frequent spelling. Self-training:
// round r trains the CRF on the silver labels of the seed + discovered dictionary of round r−1
// (only titles whose head that dictionary knows: labelling an unknown head O would teach the
// tagger to skip new concepts), discovers heads with it, and extends the dictionary.
// Costs: head/entity per title O(tokens + mentions), no allocation; discovery O(1) per token
// (hash); a round O(CRF training + one pass of the pipeline over the titles). HeadFinder and the
// head functions are const and thread-safe; HeadDiscovery is not (one per thread, or lock).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/core/vocabulary.hpp"
#include "kerec/entity/crf_tagger.hpp"
#include "kerec/entity/dictionary.hpp"
#include "kerec/entity/linker.hpp"
#include "kerec/entity/mention.hpp"
#include "kerec/entity/normalizer.hpp"

namespace kerec {

struct HeadOptions {
    /// Words that open a post-modifier: the head phrase ends before the first of them.
    std::vector<std::string> cut_words{"with", "w", "in", "for", "from", "on", "by"};
    /// Unit, size and packaging words: never a head ("Battery - 3 CT").
    std::vector<std::string> non_heads{"oz", "ounce", "fl", "ct", "count", "lb", "pound", "pk", "pack", "ml", "l",
                                       "g", "gram", "kg", "gal", "gallon", "qt", "quart", "pt", "pint", "size",
                                       "x", "inch", "ea", "each", "piece", "pc", "serving", "value", "family"};
    std::size_t min_letters = 3;  ///< shorter tokens are never heads
};

/// Finds the head token of a span or title (see the header comment). Word lists are compared
/// after normalisation with the same options as the text.
class HeadFinder {
public:
    static constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

    explicit HeadFinder(HeadOptions options = {}, NormalizerOptions normalizer = {}) : options_(std::move(options)) {
        const Normalizer n(normalizer);
        for (const auto& w : options_.cut_words) add_word(n, w, cut_);
        for (const auto& w : options_.non_heads) add_word(n, w, non_heads_);
    }

    /// Number of leading tokens before the first cut word (a cut word at token 0 does not cut).
    std::size_t core_end(const NormalizedText& norm) const {
        const std::size_t T = norm.tokens().size();
        for (std::size_t t = 1; t < T; ++t)
            if (cut_.count(norm.token_text(t))) return t;
        return T;
    }

    bool is_cut(std::string_view normalized_word) const { return cut_.count(normalized_word) != 0; }

    /// A token that can be a head: long enough, not numeric, not a unit or cut word, not the
    /// replacement character an invalid byte became.
    bool content(std::string_view w) const {
        if (w.size() < options_.min_letters || w == "\xEF\xBF\xBD") return false;
        if (w[0] >= '0' && w[0] <= '9') return false;
        return !non_heads_.count(w) && !cut_.count(w);
    }

    /// Last content token in [tb, te), or npos.
    std::size_t head(const NormalizedText& norm, std::size_t tb, std::size_t te) const {
        for (std::size_t t = te; t > tb; --t)
            if (content(norm.token_text(t - 1))) return t - 1;
        return npos;
    }

    /// Token range [first, last) covered by source bytes [begin, end) of `norm`.
    static std::pair<std::size_t, std::size_t> tokens_of(const NormalizedText& norm, std::uint32_t begin, std::uint32_t end) {
        const auto& tk = norm.tokens();
        std::size_t a = 0;
        while (a < tk.size() && tk[a].src_end <= begin) ++a;
        std::size_t b = a;
        while (b < tk.size() && tk[b].src_begin < end) ++b;
        return {a, b};
    }

    const HeadOptions& options() const noexcept { return options_; }

private:
    using Set = std::unordered_set<std::string, detail::StringViewHash, std::equal_to<>>;
    static void add_word(const Normalizer& n, const std::string& w, Set& s) {
        std::string k = n.normalize(w);
        if (!k.empty()) s.insert(std::move(k));
    }
    HeadOptions options_;
    Set cut_, non_heads_;
};

/// The head of a title: which mention is the item's entity, and the title's head word.
struct TitleHead {
    std::size_t mention = HeadFinder::npos;       ///< the mention that gives the item's entity (npos: none)
    std::size_t token = HeadFinder::npos;         ///< that mention's head token (npos: it has no content token)
    EntityId entity;                              ///< the item's entity (invalid: nothing resolves)
    std::size_t head_mention = HeadFinder::npos;  ///< the first candidate with a head token
    std::size_t head_token = HeadFinder::npos;    ///< the title's head word as written (token of `norm`)
    EntityId head_entity;                         ///< what the head word links to (invalid: an unknown head)
};

/// kerec's one rule for "which mention is the item's entity" (the unified concept term):
///   * candidates: the mentions starting inside core(x), right to left, then the others, right
///     to left (English titles are head-final; post-modifiers come after a cut word);
///   * a candidate's head is its last content token (inside core(x) for a core mention);
///   * a candidate resolves to the entity of the longest token suffix ending at its head that
///     `linker` links ("peanut butter" as a whole), else to the mention's own entity;
///   * the item's entity is that of the first candidate that resolves (`mention`, `entity`);
///   * the title's head word is the head of the first candidate that has one (`head_token`);
///     `head_entity` is what its suffixes link to, never a mention's inherited entity: invalid
///     means an unknown head, the cold-start candidate HeadDiscovery counts.
/// So an unknown head ("Extra Gentle Shampoo") is reported for discovery while the item still
/// gathers under the next candidate that resolves. `mentions` are sorted by begin (Extractor);
/// mentions that cover no token of `norm` (offsets outside the text, inverted) are ignored.
/// `linker` may be null (mentions' own entities only). O(mentions + tokens) plus one linker
/// lookup per suffix tried; no allocation.
inline TitleHead title_head(std::span<const Mention> mentions, const NormalizedText& norm, const HeadFinder& heads,
                            const EntityLinker* linker) {
    const std::size_t core = heads.core_end(norm);
    const auto& tk = norm.tokens();
    const std::uint32_t core_src_end = core < tk.size() ? tk[core].src_begin : std::numeric_limits<std::uint32_t>::max();
    TitleHead r;
    bool have_entity = false, have_head = false;
    for (int pass = 0; pass < 2 && !(have_entity && have_head); ++pass) {
        std::size_t a = tk.size();  // moves left as the (sorted) begins decrease
        std::uint32_t last_begin = std::numeric_limits<std::uint32_t>::max();
        for (std::size_t i = mentions.size(); i-- > 0 && !(have_entity && have_head);) {
            const Mention& m = mentions[i];
            if ((m.begin < core_src_end) != (pass == 0)) continue;
            if (m.begin > last_begin) a = tk.size();  // not sorted: start the token scan over
            last_begin = m.begin;
            while (a > 0 && tk[a - 1].src_end > m.begin) --a;
            std::size_t b = a;
            while (b < tk.size() && tk[b].src_begin < m.end) ++b;
            if (a >= b || m.end <= m.begin) continue;  // covers no token
            const std::size_t h = heads.head(norm, a, pass == 0 ? std::min(b, core) : b);
            EntityId linked;
            if (linker && h != HeadFinder::npos) linked = linker->link_tokens(norm, a, h + 1, true).entity;
            if (!have_head && h != HeadFinder::npos) {
                r.head_mention = i, r.head_token = h, r.head_entity = linked;
                have_head = true;
            }
            const EntityId e = linked.valid() ? linked : m.entity;
            if (!have_entity && e.valid()) {
                r.mention = i, r.token = h, r.entity = e;
                have_entity = true;
            }
        }
    }
    return r;
}

/// Silver labels (silver_examples) from the titles whose head is known: the last content token
/// of core(x) lies inside a dictionary match. A title whose head the dictionary lacks would be
/// labelled as if that head were no entity, teaching the tagger to skip exactly the unknown
/// concepts discovery looks for ("Extra Gentle Shampoo" with "gentle" known). O(Σ bytes).
template <class Titles>
std::vector<TrainingExample> head_silver_examples(const DictionaryExtractor& dictionary, const Titles& titles,
                                                  const HeadFinder& heads, SilverOptions options = {}) {
    std::vector<std::string_view> kept;
    DictionaryExtractor::Workspace ws;
    for (const auto& t : titles) {
        const std::string_view text(t);
        dictionary.normalizer().normalize(text, ws.norm);
        const std::size_t h = heads.head(ws.norm, 0, heads.core_end(ws.norm));
        if (h == HeadFinder::npos) continue;
        ws.matches.clear();
        dictionary.find(ws.norm, ws.matches, ws.scratch);
        const auto& tk = ws.norm.tokens()[h];
        const bool known = std::any_of(ws.matches.begin(), ws.matches.end(), [&](const DictMatch& m) {
            return m.begin <= tk.norm_begin && tk.norm_end <= m.end;
        });
        if (known) kept.push_back(text);
    }
    return silver_examples(dictionary, kept, options);
}

/// A discovered head word.
struct HeadCandidate {
    std::string word;             ///< normalised head word (the new entity's dictionary form)
    std::string name;             ///< its most frequent spelling, ASCII lower-cased (the entity's name)
    std::string example;          ///< one title it heads
    std::uint64_t heads = 0;      ///< titles whose unlinked head it is
    std::uint64_t occurrences = 0;  ///< content-token occurrences over the titles seen
    double head_share() const noexcept {
        return occurrences ? static_cast<double>(heads) / static_cast<double>(occurrences) : 0.0;
    }
};

/// Counts unlinked head words and every content word's occurrences (see the header comment).
class HeadDiscovery {
public:
    /// Count the content tokens of a normalised title (the denominator of the head share).
    void add_text(const NormalizedText& norm, const HeadFinder& heads) {
        for (std::size_t t = 0; t < norm.tokens().size(); ++t) {
            const std::string_view w = norm.token_text(t);
            if (heads.content(w)) ++entry(w).occurrences;
        }
    }
    /// Record that `word` (normalised) heads a title (`example`) and links to no entity;
    /// `spelling` is the head token as written (empty: use `word`).
    void add_head(std::string_view word, std::string_view example, std::string_view spelling = {}) {
        if (word.empty()) return;
        Entry& e = entry(word);
        if (e.heads++ == 0) e.example = std::string(example);
        std::string sp(spelling.empty() ? word : spelling);
        for (char& ch : sp)
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
        auto it = std::find_if(e.spellings.begin(), e.spellings.end(), [&](const auto& p) { return p.first == sp; });
        if (it == e.spellings.end()) {
            if (e.spellings.size() < max_spellings) e.spellings.emplace_back(std::move(sp), 1);
        } else {
            ++it->second;
        }
    }

    /// Words with heads ≥ min_count and head share ≥ min_head_share, most frequent first (ties
    /// by word).
    std::vector<HeadCandidate> candidates(std::uint64_t min_count, double min_head_share = 0.0) const {
        if (!(min_head_share >= 0.0 && min_head_share <= 1.0))
            throw InvalidArgument(fmt::format("HeadDiscovery::candidates: min_head_share {} outside [0, 1]", min_head_share));
        std::vector<HeadCandidate> out;
        for (const auto& [w, e] : stats_) {
            if (e.heads == 0 || e.heads < min_count) continue;
            std::string name = w;
            std::uint64_t best = 0;
            for (const auto& [sp, n] : e.spellings)  // most frequent, ties: alphabetical
                if (n > best || (n == best && sp < name)) best = n, name = sp;
            HeadCandidate c{w, std::move(name), e.example, e.heads, std::max(e.occurrences, e.heads)};
            if (c.head_share() >= min_head_share) out.push_back(std::move(c));
        }
        std::sort(out.begin(), out.end(), [](const HeadCandidate& a, const HeadCandidate& b) {
            return a.heads != b.heads ? a.heads > b.heads : a.word < b.word;
        });
        return out;
    }
    std::size_t distinct() const noexcept { return stats_.size(); }
    void clear() { stats_.clear(); }

private:
    static constexpr std::size_t max_spellings = 8;  ///< distinct spellings kept per word
    struct Entry {
        std::uint64_t heads = 0, occurrences = 0;
        std::string example;
        std::vector<std::pair<std::string, std::uint64_t>> spellings;
    };
    Entry& entry(std::string_view w) {
        auto it = stats_.find(w);
        if (it == stats_.end()) it = stats_.emplace(std::string(w), Entry{}).first;
        return it->second;
    }
    std::unordered_map<std::string, Entry, detail::StringViewHash, std::equal_to<>> stats_;
};

struct SelfTrainingOptions {
    DictionaryOptions dictionary{};  ///< on_conflict is forced to first_wins (seed forms first)
    CrfOptions crf{};                ///< normaliser must equal the dictionary's
    SilverOptions silver{};
    PipelineOptions pipeline{};      ///< used for discovery and by pipeline(); at_least_one is advised
    HeadOptions heads{};
    int rounds = 2;                  ///< CRF trainings (≥ 1); every round but the last discovers
                                     ///< (rounds = 1: train, discover once, no retraining)
    std::uint64_t min_count = 5;     ///< a head word must head this many titles ...
    double min_head_share = 0.1;     ///< ... and be the head in this share of its occurrences
};

struct SelfTrainingRound {
    std::size_t silver_examples = 0, discovered = 0;  ///< discovered: new entities this round
    double crf_seconds = 0, discovery_seconds = 0;
};

/// The state of a self-trained extractor: the dictionary (seed forms first, then discovered head
/// words), the CRF trained on its silver labels, the linker, and what each round did.
struct SelfTrainedExtractor {
    Vocabulary<EntityId> entities;                        ///< seed entities first
    std::vector<std::pair<std::string, EntityId>> forms;  ///< seed forms, then discovered words
    std::size_t seed_entities = 0;
    std::vector<HeadCandidate> discovered;                ///< in order of discovery
    std::shared_ptr<const DictionaryExtractor> dictionary;
    std::shared_ptr<const CrfTagger> tagger;
    std::shared_ptr<const EntityLinker> linker;
    std::vector<SelfTrainingRound> rounds;
    PipelineOptions pipeline_options;

    EntityPipeline<> pipeline() const { return EntityPipeline<>(dictionary, tagger, linker, pipeline_options); }
};

/// Self-training from a seed dictionary over unlabelled titles (a range of things convertible
/// to std::string_view, iterated several times). Each round: compile the dictionary, train a
/// fresh CRF on its head silver labels, run the pipeline over every title, count the words of
/// the titles' head words (title_head) that link to nothing (HeadDiscovery), and add the
/// candidates as new entities, named by their most frequent spelling (forms: the normalised word
/// and that spelling). Stops early when a round adds nothing.
template <class Titles>
SelfTrainedExtractor self_train(Vocabulary<EntityId> seed_entities, std::vector<std::pair<std::string, EntityId>> seed_forms,
                                const Titles& titles, SelfTrainingOptions options, ProgressCallback progress = {}) {
    if (options.rounds < 1) throw InvalidArgument(fmt::format("self_train: rounds {} < 1", options.rounds));
    if (options.crf.normalizer.fold_plurals != options.dictionary.normalizer.fold_plurals)
        throw InvalidArgument("self_train: the CRF and the dictionary must normalise alike");
    for (const auto& [f, e] : seed_forms)
        if (!e.valid() || e.index() >= seed_entities.size())
            throw InvalidArgument(fmt::format("self_train: seed form '{}' names entity {} outside the vocabulary ({} entities)",
                                              f, e.value(), seed_entities.size()));
    options.dictionary.on_conflict = ConflictPolicy::first_wins;
    SelfTrainedExtractor s;
    s.entities = std::move(seed_entities);
    s.forms = std::move(seed_forms);
    s.seed_entities = s.entities.size();
    s.pipeline_options = options.pipeline;
    const HeadFinder heads(options.heads, options.dictionary.normalizer);
    const Normalizer normalizer(options.dictionary.normalizer);
    NormalizedText norm;
    std::vector<Mention> ms;
    for (int r = 0; r < options.rounds; ++r) {
        SelfTrainingRound rep;
        auto t0 = std::chrono::steady_clock::now();
        auto dict = std::make_shared<DictionaryExtractor>(DictionaryExtractor::build(s.forms, options.dictionary));
        auto linker = std::make_shared<EntityLinker>(options.dictionary.normalizer);
        linker->add_all(s.forms);
        auto tagger = std::make_shared<CrfTagger>(options.crf, dict);
        const auto silver = head_silver_examples(*dict, titles, heads, options.silver);
        rep.silver_examples = silver.size();
        tagger->train(silver, progress);
        s.dictionary = dict, s.tagger = tagger, s.linker = linker;
        auto t1 = std::chrono::steady_clock::now();
        rep.crf_seconds = std::chrono::duration<double>(t1 - t0).count();
        if (r + 1 == options.rounds && r > 0) {  // the last round only retrains on what was found
            s.rounds.push_back(rep);
            break;
        }
        EntityPipeline pipe = s.pipeline();
        HeadDiscovery disc;
        std::uint64_t total = 0, done = 0;
        if constexpr (std::ranges::sized_range<const Titles>) total = static_cast<std::uint64_t>(std::ranges::size(titles));
        ProgressThrottle throttle(progress, "discovering head words", total);
        for (const auto& t : titles) {
            throttle.update(++done);
            const std::string_view text(t);
            ms.clear();
            pipe.extract(text, ms);
            normalizer.normalize(text, norm);
            disc.add_text(norm, heads);
            const TitleHead h = title_head(ms, norm, heads, linker.get());
            if (h.head_token != HeadFinder::npos && !h.head_entity.valid()) {
                const Token& tk = norm.tokens()[h.head_token];
                disc.add_head(norm.token_text(h.head_token), text, text.substr(tk.src_begin, tk.src_end - tk.src_begin));
            }
        }
        throttle.finish(done);
        std::size_t added = 0;
        for (auto& c : disc.candidates(options.min_count, options.min_head_share)) {
            if (s.entities.contains(c.name) || linker->link_normalized(c.word)) continue;
            const EntityId id = s.entities.add(c.name);
            s.forms.emplace_back(c.word, id);
            if (c.name != c.word) s.forms.emplace_back(c.name, id);
            s.discovered.push_back(std::move(c));
            ++added;
        }
        rep.discovered = added;
        rep.discovery_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
        s.rounds.push_back(rep);
        if (added == 0) break;
        if (r + 1 == options.rounds) {  // one round only: rebuild the parts over the extended forms
            auto d2 = std::make_shared<DictionaryExtractor>(DictionaryExtractor::build(s.forms, options.dictionary));
            auto l2 = std::make_shared<EntityLinker>(options.dictionary.normalizer);
            l2->add_all(s.forms);
            auto t2 = std::make_shared<CrfTagger>(*tagger);
            t2->set_dictionary(d2);
            s.dictionary = d2, s.linker = l2, s.tagger = t2;
        }
    }
    return s;
}

}  // namespace kerec
