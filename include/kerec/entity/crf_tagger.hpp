// kerec/entity/crf_tagger.hpp — CrfTagger: hashed sparse features + the CRF layer, trained with
// L2-regularised AdaGrad. The stand-alone tagger of the paper's BERT-CRF entity extractor.
//
// Each token t of the normalised text gets ~30 hashed features φ(x, t) (token, neighbours ±2,
// bigrams, prefixes/suffixes 1–3, shape of the original bytes, position, training-frequency
// class of t and its neighbours, dictionary-match flags B/I/O at t−1, t, t+1); emissions are E[t, y] = Σ_{f ∈ φ(x,t)} W[f, y] with W a 2^hash_bits × 3
// table. Training minimises Σ_i −log P(y_i | x_i) + (λ/2)‖θ‖² with AdaGrad (per-example sparse
// steps, L2 applied to the touched coordinates); dictionary features are dropped for a share of
// examples so the tagger also learns lexical and contextual cues (it must find forms that the
// dictionary does not know). Tagging: O(T·(features + L²)); training: O(epochs · Σ T · features).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/core/random.hpp"
#include "kerec/entity/crf_layer.hpp"
#include "kerec/entity/detail/binary.hpp"
#include "kerec/entity/dictionary.hpp"
#include "kerec/entity/mention.hpp"
#include "kerec/entity/normalizer.hpp"

namespace kerec {

struct CrfOptions {
    std::uint32_t hash_bits = 19;        ///< feature table of 2^hash_bits rows × 3 tags (8..28)
    double l2 = 1.0;                     ///< λ of (λ/2)‖θ‖², objective summed over examples
    double learning_rate = 0.2;          ///< AdaGrad η
    int epochs = 8;
    std::uint64_t seed = 42;             ///< shuffling and dictionary-feature dropout
    double dictionary_dropout = 0.8;     ///< share of examples trained without dictionary features
    double word_dropout = 0.0;           ///< share of tokens trained without their own word features
                                         ///< (context then decides: generalises to unknown words)
    NormalizerOptions normalizer{};      ///< must equal the attached dictionary's
};

/// A training text with its entity spans, as byte offsets [begin, end) into `text`. A token is
/// inside a span when its bytes lie within it.
struct TrainingExample {
    std::string text;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;
};

/// A tagged entity span: original bytes, token range, and its marginal probability.
struct TaggedSpan {
    std::uint32_t begin = 0, end = 0;              ///< bytes of the original text
    std::uint32_t token_begin = 0, token_end = 0;  ///< tokens of the normalised text
    float confidence = 0;                          ///< P(span is exactly one entity | text)
};

struct CrfTrainReport {
    std::vector<double> loss_per_epoch;      ///< mean NLL per example (with dropout as trained)
    std::vector<double> seconds_per_epoch;
    std::size_t examples = 0, tokens = 0;
};

class CrfTagger {
public:
    struct Workspace {
        NormalizedText norm;
        std::vector<std::uint32_t> feats, offsets;
        std::vector<std::uint8_t> dflags, tags;
        std::vector<DictMatch> dm;
        std::vector<std::uint32_t> dscratch;
        std::vector<double> em;
        CrfLayer::Workspace lw;
        std::vector<std::pair<std::uint32_t, std::uint32_t>> spans;
        std::vector<TaggedSpan> tagged;
    };

    explicit CrfTagger(CrfOptions options = {}, std::shared_ptr<const DictionaryExtractor> dictionary = nullptr)
        : options_(options), normalizer_(options.normalizer) {
        if (options_.hash_bits < 8 || options_.hash_bits > 28)
            throw InvalidArgument(fmt::format("CrfTagger: hash_bits {} outside [8, 28]", options_.hash_bits));
        if (!(options_.l2 >= 0) || !(options_.learning_rate > 0) || options_.epochs < 0 ||
            !(options_.dictionary_dropout >= 0 && options_.dictionary_dropout <= 1) ||
            !(options_.word_dropout >= 0 && options_.word_dropout < 1))
            throw InvalidArgument(
                "CrfTagger: l2 ≥ 0, learning_rate > 0, epochs ≥ 0, dictionary_dropout in [0, 1], word_dropout in [0, 1)");
        weights_.assign((std::size_t{1} << options_.hash_bits) * L, 0.0);
        counts_.assign(std::size_t{1} << count_bits, 0);
        set_dictionary(std::move(dictionary));
    }

    /// Attach (or detach) the dictionary whose matches become features.
    void set_dictionary(std::shared_ptr<const DictionaryExtractor> dictionary) {
        if (dictionary && dictionary->options().normalizer.fold_plurals != options_.normalizer.fold_plurals)
            throw InvalidArgument("CrfTagger: the dictionary's normaliser options differ from the tagger's");
        dict_ = std::move(dictionary);
    }
    const std::shared_ptr<const DictionaryExtractor>& dictionary() const noexcept { return dict_; }

    // ---- tagging ------------------------------------------------------------------------------

    /// Entity spans of `text` (cleared first) with their marginal confidence.
    void tag(std::string_view text, std::vector<TaggedSpan>& out, Workspace& ws) const {
        out.clear();
        prepare(text, ws);
        const std::size_t T = ws.norm.tokens().size();
        if (T == 0) return;
        emissions(ws, false);
        const std::span<const double> em(ws.em.data(), T * L);
        layer_.viterbi(em, ws.tags, ws.lw);
        CrfLayer::spans(ws.tags, ws.spans);
        if (ws.spans.empty()) return;
        layer_.forward_backward(em, ws.lw);
        const auto& tk = ws.norm.tokens();
        for (auto [b, e] : ws.spans) {
            const double lp = layer_.span_log_prob(em, ws.lw, b, e);
            out.push_back(TaggedSpan{tk[b].src_begin, tk[e - 1].src_end, b, e, static_cast<float>(std::exp(lp))});
        }
    }
    /// Same, with the tagger's own workspace (not thread-safe: use one Workspace per thread).
    void tag(std::string_view text, std::vector<TaggedSpan>& out) { tag(text, out, ws_); }

    /// The single most probable entity span of `text` (at most `max_tokens` tokens) by exact span
    /// marginal, whether or not Viterbi selects it: a fallback for texts that must name something
    /// (every catalogue item is some product). False when the text has no tokens.
    /// O(T · max_tokens²) after one forward-backward.
    bool best_span(std::string_view text, TaggedSpan& best, Workspace& ws, std::size_t max_tokens = 4) const {
        prepare(text, ws);
        const std::size_t T = ws.norm.tokens().size();
        if (T == 0) return false;
        emissions(ws, false);
        const std::span<const double> em(ws.em.data(), T * L);
        layer_.forward_backward(em, ws.lw);
        double best_lp = CrfLayer::neg_inf;
        std::size_t bb = 0, be = 1;
        for (std::size_t b = 0; b < T; ++b)
            for (std::size_t e = b + 1; e <= T && e - b <= max_tokens; ++e) {
                const double lp = layer_.span_log_prob(em, ws.lw, b, e);
                if (lp > best_lp) best_lp = lp, bb = b, be = e;
            }
        const auto& tk = ws.norm.tokens();
        best = TaggedSpan{tk[bb].src_begin, tk[be - 1].src_end, static_cast<std::uint32_t>(bb),
                          static_cast<std::uint32_t>(be), static_cast<float>(std::exp(best_lp))};
        return true;
    }

    /// Extractor concept: spans as unlinked mentions (entity invalid, source crf). Not thread-safe.
    void extract(std::string_view text, std::vector<Mention>& out) {
        tag(text, ws_.tagged, ws_);
        for (const auto& s : ws_.tagged) out.push_back(Mention{EntityId{}, s.begin, s.end, s.confidence, MentionSource::crf});
    }

    /// Emission hook, features side: the T×3 emission matrix kerec's features give `text`
    /// (T = number of tokens). Add a caller's encoder scores to it, or replace it entirely, and
    /// decode with layer().viterbi / forward_backward.
    std::span<const double> feature_emissions(std::string_view text, Workspace& ws) const {
        prepare(text, ws);
        emissions(ws, false);
        return {ws.em.data(), ws.norm.tokens().size() * L};
    }

    /// The CRF layer (transitions) for the emission hook.
    const CrfLayer& layer() const noexcept { return layer_; }
    CrfLayer& layer() noexcept { return layer_; }
    const Normalizer& normalizer() const noexcept { return normalizer_; }
    const CrfOptions& options() const noexcept { return options_; }

    // ---- training -----------------------------------------------------------------------------

    /// Train with AdaGrad for options().epochs passes (continues from the current weights).
    CrfTrainReport train(std::span<const TrainingExample> examples, ProgressCallback progress = {}) {
        CrfTrainReport rep;
        count_tokens(examples);
        Prepared P = prepare_all(examples);
        rep.examples = P.count();
        rep.tokens = P.gold.size();
        if (rep.examples == 0) return rep;
        const std::size_t D = weights_.size();
        // one allocation for the AdaGrad accumulators and the gradient scatter buffer (two
        // separate vectors trip a GCC 12 -O3 -Wfree-nonheap-object false positive)
        std::vector<double> acc_grad(2 * D, 0.0);
        double* acc = acc_grad.data();
        double* grad = acc + D;
        std::vector<std::uint8_t> touched_flag(D, 0);
        std::vector<std::uint32_t> touched;
        std::array<double, 15> acc_layer{};
        Rng rng(options_.seed);
        std::vector<std::uint32_t> order(rep.examples);
        std::iota(order.begin(), order.end(), 0u);
        const double l2n = options_.l2 / static_cast<double>(rep.examples);
        const double eta = options_.learning_rate;
        constexpr double eps = 1e-8;
        std::vector<double> em, d_em;
        std::vector<std::uint8_t> word_mask;
        CrfLayer::Workspace lw;
        CrfLayerGradient gl;
        ProgressThrottle throttle(progress, "training CRF", static_cast<std::uint64_t>(options_.epochs) * rep.examples);
        std::uint64_t done = 0;
        for (int epoch = 0; epoch < options_.epochs; ++epoch) {
            const auto t0 = std::chrono::steady_clock::now();
            rng.shuffle(order);
            double loss = 0;
            for (std::uint32_t i : order) {
                const bool drop = rng.bernoulli(options_.dictionary_dropout);
                const std::size_t T = P.tok_off[i + 1] - P.tok_off[i];
                word_mask.assign(T, 0);
                if (options_.word_dropout > 0)
                    for (auto& m : word_mask) m = rng.bernoulli(options_.word_dropout);
                example_emissions(P, i, drop, em, word_mask.data());
                d_em.assign(T * L, 0.0);
                gl.clear();
                const std::span<const std::uint8_t> gold(P.gold.data() + P.tok_off[i], T);
                loss += layer_.nll(std::span<const double>(em), gold, lw, d_em, &gl);
                // scatter the sparse gradient
                touched.clear();
                for (std::size_t t = 0; t < T; ++t) {
                    const std::size_t tok = P.tok_off[i] + t;
                    for (std::uint32_t k = P.feat_off[tok]; k < P.feat_off[tok + 1]; ++k) {
                        const std::uint32_t f = P.feats[k];
                        if ((drop && (f & dict_bit)) || (word_mask[t] && (f & word_bit))) continue;
                        const std::size_t row = static_cast<std::size_t>(f & ~flag_bits) * L;
                        if (!touched_flag[row]) touched_flag[row] = 1, touched.push_back(static_cast<std::uint32_t>(row));
                        for (std::size_t y = 0; y < L; ++y) grad[row + y] += d_em[t * L + y];
                    }
                }
                for (std::uint32_t row : touched) {
                    for (std::size_t y = 0; y < L; ++y) {
                        double& w = weights_[row + y];
                        const double g = grad[row + y] + l2n * w;
                        acc[row + y] += g * g;
                        w -= eta * g / (std::sqrt(acc[row + y]) + eps);
                        grad[row + y] = 0.0;
                    }
                    touched_flag[row] = 0;
                }
                auto step = [&](double& w, double g, double& a) {
                    g += l2n * w;
                    a += g * g;
                    w -= eta * g / (std::sqrt(a) + eps);
                };
                for (std::size_t k = 0; k < 9; ++k) step(layer_.trans[k], gl.trans[k], acc_layer[k]);
                for (std::size_t k = 0; k < 3; ++k) step(layer_.start[k], gl.start[k], acc_layer[9 + k]);
                for (std::size_t k = 0; k < 3; ++k) step(layer_.stop[k], gl.stop[k], acc_layer[12 + k]);
                throttle.update(++done);
            }
            rep.loss_per_epoch.push_back(loss / static_cast<double>(rep.examples));
            rep.seconds_per_epoch.push_back(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        throttle.finish(done);
        return rep;
    }

    /// Exact objective Σ_i NLL_i + (λ/2)‖θ‖² over `examples` with every feature on (no
    /// dropout). When `gradient` is given it is resized to parameter_count() and filled.
    double objective(std::span<const TrainingExample> examples, std::vector<double>* gradient = nullptr) const {
        Prepared P = prepare_all(examples);
        double total = 0;
        if (gradient) gradient->assign(parameter_count(), 0.0);
        std::vector<double> em, d_em;
        CrfLayer::Workspace lw;
        CrfLayerGradient gl;
        for (std::size_t i = 0; i < P.count(); ++i) {
            const std::size_t T = P.tok_off[i + 1] - P.tok_off[i];
            example_emissions(P, i, false, em);
            d_em.assign(T * L, 0.0);
            gl.clear();
            const std::span<const std::uint8_t> gold(P.gold.data() + P.tok_off[i], T);
            total += layer_.nll(std::span<const double>(em), gold, lw, gradient ? std::span<double>(d_em) : std::span<double>{},
                                gradient ? &gl : nullptr);
            if (!gradient) continue;
            auto& g = *gradient;
            for (std::size_t t = 0; t < T; ++t) {
                const std::size_t tok = P.tok_off[i] + t;
                for (std::uint32_t k = P.feat_off[tok]; k < P.feat_off[tok + 1]; ++k) {
                    const std::size_t row = static_cast<std::size_t>(P.feats[k] & ~flag_bits) * L;
                    for (std::size_t y = 0; y < L; ++y) g[row + y] += d_em[t * L + y];
                }
            }
            const std::size_t base = weights_.size();
            for (std::size_t k = 0; k < 9; ++k) g[base + k] += gl.trans[k];
            for (std::size_t k = 0; k < 3; ++k) g[base + 9 + k] += gl.start[k];
            for (std::size_t k = 0; k < 3; ++k) g[base + 12 + k] += gl.stop[k];
        }
        double sq = 0;
        for (std::size_t k = 0; k < parameter_count(); ++k) {
            const double w = parameter(k);
            sq += w * w;
            if (gradient) (*gradient)[k] += options_.l2 * w;
        }
        return total + 0.5 * options_.l2 * sq;
    }

    /// All parameters: feature weights (2^hash_bits × 3), then trans (9), start (3), stop (3).
    std::size_t parameter_count() const noexcept { return weights_.size() + 15; }
    double parameter(std::size_t k) const { return const_cast<CrfTagger*>(this)->parameter_ref(k); }
    double& parameter_ref(std::size_t k) {
        if (k < weights_.size()) return weights_[k];
        k -= weights_.size();
        if (k < 9) return layer_.trans[k];
        if (k < 12) return layer_.start[k - 9];
        if (k < 15) return layer_.stop[k - 12];
        throw InvalidArgument(fmt::format("CrfTagger::parameter: index out of range"));
    }

    /// Gold BIO tags of an example over the tokens of its normalised text (InvalidArgument when a
    /// span lies outside the text or spans overlap).
    void gold_tags(const TrainingExample& ex, const NormalizedText& norm, std::vector<std::uint8_t>& tags) const {
        const auto& tk = norm.tokens();
        tags.assign(tk.size(), 0);
        std::uint32_t prev_end = 0;
        auto spans = ex.spans;
        std::sort(spans.begin(), spans.end());
        for (auto [b, e] : spans) {
            if (b >= e || e > ex.text.size())
                throw InvalidArgument(fmt::format("CrfTagger: span [{}, {}) outside text of {} bytes ('{}')", b, e,
                                                  ex.text.size(), ex.text));
            if (b < prev_end) throw InvalidArgument(fmt::format("CrfTagger: overlapping spans in '{}'", ex.text));
            prev_end = e;
            bool first = true;
            for (std::size_t k = 0; k < tk.size(); ++k) {
                if (tk[k].src_begin >= b && tk[k].src_end <= e) {
                    tags[k] = first ? 1 : 2;
                    first = false;
                }
            }
        }
    }

    // ---- persistence --------------------------------------------------------------------------

    void save(const std::filesystem::path& path) const {
        detail::BinaryWriter w(magic, version);
        w.put(options_.hash_bits);
        w.put(static_cast<std::uint8_t>(options_.normalizer.fold_plurals));
        w.put(static_cast<std::uint8_t>(dict_ != nullptr));
        w.put(options_.l2);
        w.put(options_.learning_rate);
        w.put(static_cast<std::int32_t>(options_.epochs));
        w.put(options_.seed);
        w.put(options_.dictionary_dropout);
        w.put(options_.word_dropout);
        w.put(layer_.trans);
        w.put(layer_.start);
        w.put(layer_.stop);
        w.put_vector(weights_);
        w.put_vector(counts_);
        w.commit(path);
    }

    /// Load a model written by save(). A model trained with dictionary features needs the same
    /// dictionary again (InvalidArgument without one). Corrupted files are a ParseError.
    static CrfTagger load(const std::filesystem::path& path, std::shared_ptr<const DictionaryExtractor> dictionary = nullptr) {
        detail::BinaryReader r(path, magic, version);
        CrfOptions o;
        o.hash_bits = r.get<std::uint32_t>();
        const auto fp = r.get<std::uint8_t>();
        const auto ud = r.get<std::uint8_t>();
        if (o.hash_bits < 8 || o.hash_bits > 28 || fp > 1 || ud > 1) throw r.error("invalid header fields");
        o.normalizer.fold_plurals = fp;
        o.l2 = r.get<double>();
        o.learning_rate = r.get<double>();
        o.epochs = r.get<std::int32_t>();
        o.seed = r.get<std::uint64_t>();
        o.dictionary_dropout = r.get<double>();
        o.word_dropout = r.get<double>();
        if (!(o.dictionary_dropout >= 0 && o.dictionary_dropout <= 1) || !(o.word_dropout >= 0 && o.word_dropout < 1) ||
            !(o.l2 >= 0) || !(o.learning_rate > 0) || o.epochs < 0)
            throw r.error("invalid training options");
        CrfLayer layer;
        layer.trans = r.get<std::array<double, 9>>();
        layer.start = r.get<std::array<double, 3>>();
        layer.stop = r.get<std::array<double, 3>>();
        auto weights = r.get_vector<double>(std::uint64_t{1} << 30);
        auto counts = r.get_vector<std::uint16_t>(std::uint64_t{1} << 30);
        r.expect_end();
        if (counts.size() != (std::size_t{1} << count_bits)) throw r.error("token count table has the wrong size");
        if (weights.size() != (std::size_t{1} << o.hash_bits) * L) throw r.error("weight table size does not match hash_bits");
        for (double v : weights)
            if (!std::isfinite(v)) throw r.error("non-finite weight");
        if (ud && !dictionary)
            throw InvalidArgument(fmt::format("{}: model uses dictionary features; pass the dictionary to load()", r.source()));
        CrfTagger t(o, ud ? std::move(dictionary) : nullptr);
        t.layer_ = layer;
        t.weights_ = std::move(weights);
        t.counts_ = std::move(counts);
        return t;
    }

private:
    static constexpr std::size_t L = CrfLayer::L;
    static constexpr std::uint32_t dict_bit = 0x80000000u;  // feature reads the dictionary
    static constexpr std::uint32_t word_bit = 0x40000000u;  // feature reads the token's own identity
    static constexpr std::uint32_t flag_bits = dict_bit | word_bit;
    static constexpr std::uint32_t count_bits = 20;
    static constexpr std::string_view magic = "KERECCRF";
    static constexpr std::uint32_t version = 2;

    struct Prepared {
        std::vector<std::uint32_t> feats, feat_off{0}, tok_off{0};
        std::vector<std::uint8_t> gold;
        std::size_t count() const noexcept { return tok_off.size() - 1; }
    };

    Prepared prepare_all(std::span<const TrainingExample> examples) const {
        Prepared P;
        Workspace ws;
        std::vector<std::uint8_t> tags;
        for (const auto& ex : examples) {
            prepare(ex.text, ws);
            const std::size_t T = ws.norm.tokens().size();
            if (T == 0) continue;
            gold_tags(ex, ws.norm, tags);
            for (std::size_t t = 0; t < T; ++t) {
                for (std::uint32_t k = ws.offsets[t]; k < ws.offsets[t + 1]; ++k) P.feats.push_back(ws.feats[k]);
                P.feat_off.push_back(static_cast<std::uint32_t>(P.feats.size()));
                P.gold.push_back(tags[t]);
            }
            P.tok_off.push_back(static_cast<std::uint32_t>(P.gold.size()));
        }
        return P;
    }

    // Token frequencies feed the rare-word features (a misspelt or unknown word is rare, brand
    // and modifier words are not). Saturating 16-bit counters indexed by the word hash.
    void count_tokens(std::span<const TrainingExample> examples) {
        NormalizedText norm;
        for (const auto& ex : examples) {
            normalizer_.normalize(ex.text, norm);
            for (std::size_t t = 0; t < norm.tokens().size(); ++t) {
                auto& c = counts_[hash_bytes(norm.token_text(t), 7) & ((1u << count_bits) - 1)];
                if (c < 0xFFFF) ++c;
            }
        }
    }
    std::uint64_t freq_class(std::uint64_t word_hash) const noexcept {
        if (word_hash == 0x1111 || word_hash == 0x2222) return 4;  // sentence boundary
        const std::uint16_t c = counts_[word_hash & ((1u << count_bits) - 1)];
        return c <= 2 ? 0 : c <= 20 ? 1 : 2;
    }

    void example_emissions(const Prepared& P, std::size_t i, bool drop, std::vector<double>& em,
                           const std::uint8_t* word_mask = nullptr) const {
        const std::size_t T = P.tok_off[i + 1] - P.tok_off[i];
        em.assign(T * L, 0.0);
        for (std::size_t t = 0; t < T; ++t) {
            const std::size_t tok = P.tok_off[i] + t;
            double e0 = 0, e1 = 0, e2 = 0;
            for (std::uint32_t k = P.feat_off[tok]; k < P.feat_off[tok + 1]; ++k) {
                const std::uint32_t f = P.feats[k];
                if ((drop && (f & dict_bit)) || (word_mask && word_mask[t] && (f & word_bit))) continue;
                const double* w = weights_.data() + static_cast<std::size_t>(f & ~flag_bits) * L;
                e0 += w[0], e1 += w[1], e2 += w[2];
            }
            em[t * L] = e0, em[t * L + 1] = e1, em[t * L + 2] = e2;
        }
    }

    void emissions(Workspace& ws, bool drop) const {
        const std::size_t T = ws.norm.tokens().size();
        ws.em.resize(T * L);
        for (std::size_t t = 0; t < T; ++t) {
            double e0 = 0, e1 = 0, e2 = 0;
            for (std::uint32_t k = ws.offsets[t]; k < ws.offsets[t + 1]; ++k) {
                const std::uint32_t f = ws.feats[k];
                if (drop && (f & dict_bit)) continue;
                const double* w = weights_.data() + static_cast<std::size_t>(f & ~flag_bits) * L;
                e0 += w[0], e1 += w[1], e2 += w[2];
            }
            ws.em[t * L] = e0, ws.em[t * L + 1] = e1, ws.em[t * L + 2] = e2;
        }
    }

    // ---- features -----------------------------------------------------------------------------

    static std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed) noexcept {
        std::uint64_t h = seed ^ (s.size() * 0x9E3779B97F4A7C15ULL);
        std::size_t i = 0;
        for (; i + 8 <= s.size(); i += 8) {
            std::uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
            h ^= h >> 31;
        }
        std::uint64_t w = 0;
        std::memcpy(&w, s.data() + i, s.size() - i);
        h = (h ^ w ^ 0xA5) * 0x94D049BB133111EBULL;
        h ^= h >> 29;
        return h;
    }
    static std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
        std::uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ULL)) * 0xD6E8FEB86659FD93ULL;
        return h ^ (h >> 32);
    }

    // Tokenise, run the dictionary, and fill ws.feats / ws.offsets.
    void prepare(std::string_view text, Workspace& ws) const {
        normalizer_.normalize(text, ws.norm);
        const auto& tk = ws.norm.tokens();
        const std::size_t T = tk.size();
        ws.feats.clear();
        ws.offsets.assign(1, 0);
        ws.dflags.assign(T, 0);
        if (T == 0) return;
        if (dict_) {
            ws.dm.clear();
            dict_->find(ws.norm, ws.dm, ws.dscratch);
            std::size_t m = 0;
            for (std::size_t t = 0; t < T && m < ws.dm.size(); ++t) {
                while (m < ws.dm.size() && ws.dm[m].end <= tk[t].norm_begin) ++m;
                if (m == ws.dm.size()) break;
                if (ws.dm[m].begin < tk[t].norm_end) ws.dflags[t] = tk[t].norm_begin <= ws.dm[m].begin ? 1 : 2;
            }
        }
        const std::uint32_t mask = (std::uint32_t{1} << options_.hash_bits) - 1;
        auto add = [&](std::uint64_t h) { ws.feats.push_back(static_cast<std::uint32_t>(h) & mask); };
        auto add_dict = [&](std::uint64_t h) { ws.feats.push_back((static_cast<std::uint32_t>(h) & mask) | dict_bit); };
        auto add_word = [&](std::uint64_t h) { ws.feats.push_back((static_cast<std::uint32_t>(h) & mask) | word_bit); };
        auto word = [&](std::ptrdiff_t t) -> std::uint64_t {
            if (t < 0) return 0x1111;
            if (t >= static_cast<std::ptrdiff_t>(T)) return 0x2222;
            return hash_bytes(ws.norm.token_text(static_cast<std::size_t>(t)), 7);
        };
        auto shape = [&](std::ptrdiff_t t) -> std::uint64_t {
            if (t < 0 || t >= static_cast<std::ptrdiff_t>(T)) return 0x3333;
            const Token& k = tk[static_cast<std::size_t>(t)];
            std::uint64_t h = 0;
            char last = 0;
            int n = 0;
            for (std::uint32_t i = k.src_begin; i < k.src_end && n < 6; ++i) {
                const unsigned char c = static_cast<unsigned char>(text[i]);
                const char s = (c >= 'A' && c <= 'Z') ? 'X' : (c >= 'a' && c <= 'z') ? 'x' : (c >= '0' && c <= '9') ? 'd'
                               : c >= 0x80 ? 'u' : '-';
                if (s == last) continue;
                last = s;
                h = h * 131 + static_cast<unsigned char>(s);
                ++n;
            }
            return h;
        };
        // per-token word hashes for reuse
        std::uint64_t wm2 = word(-2), wm1 = word(-1), w0 = word(0), wp1 = word(1), wp2 = word(2);
        std::uint64_t sm1 = shape(-1), s0 = shape(0), sp1 = shape(1);
        for (std::size_t t = 0; t < T; ++t) {
            const std::string_view w = ws.norm.token_text(t);
            const auto ti = static_cast<std::ptrdiff_t>(t);
            add(mix(1, 0));  // bias
            add_word(mix(2, w0));
            add(mix(3, wm1));
            add(mix(4, wp1));
            add(mix(5, wm2));
            add(mix(6, wp2));
            add_word(mix(7, mix(wm1, w0)));
            add_word(mix(8, mix(w0, wp1)));
            for (std::size_t k = 1; k <= 3 && k <= w.size(); ++k) {
                add_word(mix(9 + k, hash_bytes(w.substr(0, k), 11)));
                add_word(mix(13 + k, hash_bytes(w.substr(w.size() - k), 13)));
            }
            add(mix(17, s0));
            add(mix(18, mix(sm1, s0)));
            add(mix(19, mix(s0, sp1)));
            add(mix(20, (t == 0 ? 1 : 0) + (t + 1 == T ? 2 : 0)));
            add_word(mix(21, std::min<std::size_t>(w.size(), 12)));
            {
                const std::uint64_t fm1 = freq_class(wm1), f0 = freq_class(w0), fp1 = freq_class(wp1);
                add_word(mix(26, f0));
                add_word(mix(27, fm1 * 8 + f0));
                add_word(mix(28, f0 * 8 + fp1));
                add_word(mix(29, mix(f0, s0)));
                add_word(mix(30, (freq_class(wm2) * 8 + fm1) * 8 + f0));
            }
            const std::uint8_t dp = t > 0 ? ws.dflags[t - 1] : 3, d0 = ws.dflags[t], dn = t + 1 < T ? ws.dflags[t + 1] : 3;
            if (dict_) {
                add_dict(mix(22, d0));
                add_dict(mix(23, dp * 4 + d0));
                add_dict(mix(24, d0 * 4 + dn));
                add_dict(mix(25, mix(d0, w0)));
            }
            ws.offsets.push_back(static_cast<std::uint32_t>(ws.feats.size()));
            // slide the windows
            wm2 = wm1, wm1 = w0, w0 = wp1, wp1 = wp2, wp2 = word(ti + 3);
            sm1 = s0, s0 = sp1, sp1 = shape(ti + 2);
        }
    }

    CrfOptions options_;
    Normalizer normalizer_;
    std::shared_ptr<const DictionaryExtractor> dict_;
    CrfLayer layer_;
    std::vector<double> weights_;
    std::vector<std::uint16_t> counts_;  // saturating token frequencies of the training data, by hash
    Workspace ws_;
};

static_assert(Extractor<CrfTagger>);

}  // namespace kerec
