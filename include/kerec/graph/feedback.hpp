// kerec/graph/feedback.hpp — edge weights learned from exposure/click/purchase feedback.
//
// The paper: an LLM can say *whether* b complements a but not *how strongly* users prefer it, so
// edge weights are adjusted continuously from feedback on complementary recommendations. An
// exposure of item i (entity b) shown because the user bought an item of entity a is attributed to
// edge a -> b; a click on it and a purchase of it (within a window) are successes. Per edge, a
// Beta posterior on the click-through rate whose prior comes from the LLM:
//   m = clamp(kappa * p_llm),  alpha = s*m + C + wp*P,  beta = s*(1-m) + max(0, N - C),
//   weight = alpha / (alpha + beta)       (or a seeded Beta draw for young edges: Thompson)
// s = prior strength (pseudo-exposures), kappa maps LLM confidences to the CTR scale (estimated
// by empirical Bayes: global CTR / mean confidence), N = position-weighted exposures (clicks over
// expected clicks, COEC), C clicks, P purchases; all counts decay by 2^(-age / half_life).
// Counts accumulate concurrently (lock-free atomic adds into one dense table per snapshot) and a
// new snapshot is published with re-sorted rows. Attribution O(events * log degree); publishing
// O(m log d).
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/core/random.hpp"
#include "kerec/graph/builder.hpp"
#include "kerec/graph/complementary_graph.hpp"
#include "kerec/graph/parallel.hpp"
#include "kerec/graph/store.hpp"
#include "kerec/llm/judgment.hpp"

namespace kerec {

/// Per-edge feedback statistics (the payload of a FeedbackGraph). 16 bytes.
struct EdgeFeedback {
    float prior = 0.5f;      ///< the LLM's p(complementary) for the edge, in [0, 1]
    float exposures = 0.0f;  ///< decayed, position-weighted exposures attributed to the edge
    float clicks = 0.0f;     ///< decayed clicks
    float purchases = 0.0f;  ///< decayed purchases after a click

    friend bool operator==(const EdgeFeedback&, const EdgeFeedback&) = default;
};

template <>
struct graph_payload_traits<EdgeFeedback> {
    static constexpr std::string_view name = "kerec.edge_feedback.v1";
    static constexpr std::size_t tsv_fields = 4;
    static constexpr std::string_view tsv_header = "prior\texposures\tclicks\tpurchases";
    static bool valid(const EdgeFeedback& f) noexcept {
        return f.prior >= 0.0f && f.prior <= 1.0f && f.exposures >= 0.0f && f.clicks >= 0.0f && f.purchases >= 0.0f &&
               std::isfinite(f.exposures) && std::isfinite(f.clicks) && std::isfinite(f.purchases);
    }
    static void format(const EdgeFeedback& f, std::string& out) {
        out += fmt::format("{}\t{}\t{}\t{}", f.prior, f.exposures, f.clicks, f.purchases);
    }
    static bool parse(std::span<const std::string_view> fields, EdgeFeedback& f) {
        if (fields.size() != 4) return false;
        float* dst[4] = {&f.prior, &f.exposures, &f.clicks, &f.purchases};
        for (std::size_t k = 0; k < 4; ++k) {
            const auto s = fields[k];
            const auto r = std::from_chars(s.data(), s.data() + s.size(), *dst[k]);
            if (r.ec != std::errc{} || r.ptr != s.data() + s.size()) return false;
        }
        return true;
    }
    /// A new judgment for an existing edge: take its prior, keep the feedback gathered so far.
    static EdgeFeedback merge(const EdgeFeedback& older, const EdgeFeedback& newer) noexcept {
        return EdgeFeedback{newer.prior, older.exposures, older.clicks, older.purchases};
    }
    static EdgeFeedback from_judgment(const Judgment& j) noexcept { return EdgeFeedback{j.p_complementary(), 0, 0, 0}; }
};

/// The complementary graph whose weights are learned from feedback.
using FeedbackGraph = ComplementaryGraph<EntityId, EdgeFeedback>;

struct FeedbackOptions {
    double prior_strength = 20.0;  ///< pseudo-exposures the LLM prior is worth (s)
    double prior_scale = 0.0;      ///< kappa; 0 = estimate (global CTR / mean LLM confidence)
    double half_life = 30.0 * 86400.0;  ///< seconds; 0 or infinity = no decay
    double purchase_weight = 1.0;  ///< a purchase adds this many successes (wp)
    std::int64_t purchase_window = 86400;  ///< a bill of a clicked item within this many seconds is a purchase
    /// Examination probability by position (exposure at position k counts position_weight[k];
    /// positions past the end use the last entry). Empty: every exposure counts 1.
    std::vector<double> position_weight;
    bool estimate_position_bias = false;  ///< estimate position_weight as CTR(k)/CTR(0) from the log
    bool thompson = false;          ///< young edges get a Beta draw instead of the posterior mean
    double young_exposures = 10.0;  ///< "young": fewer effective exposures than this
    std::uint64_t seed = 0x5EED;    ///< seed of the Thompson draws (same seed, same weights)
    std::optional<std::int64_t> now;  ///< reference time; default max(graph time, last event time)
    unsigned threads = 0;           ///< 0 = hardware concurrency
};

/// What attribution saw.
struct FeedbackStats {
    std::uint64_t exposures = 0, clicks = 0, bills = 0;  ///< events read, by kind
    std::uint64_t attributed_exposures = 0, attributed_clicks = 0, attributed_purchases = 0;
    std::uint64_t no_edge = 0;        ///< exposures/clicks whose (trigger entity -> shown entity) is not an edge
    std::uint64_t unmapped = 0;       ///< exposures/clicks without a trigger or with an unmapped item
    FeedbackStats& operator+=(const FeedbackStats& o) noexcept {
        exposures += o.exposures, clicks += o.clicks, bills += o.bills;
        attributed_exposures += o.attributed_exposures, attributed_clicks += o.attributed_clicks;
        attributed_purchases += o.attributed_purchases, no_edge += o.no_edge, unmapped += o.unmapped;
        return *this;
    }
};

namespace detail {
inline double gamma_draw(double shape, Rng& rng) {
    if (shape < 1.0) {  // boost: Gamma(a) = Gamma(a + 1) * U^(1/a)
        const double u = std::max(rng.uniform(), 1e-300);
        return gamma_draw(shape + 1.0, rng) * std::pow(u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {  // Marsaglia & Tsang (2000)
        double x, v;
        do {
            x = rng.normal();
            v = 1.0 + c * x;
        } while (v <= 0.0);
        v = v * v * v;
        const double u = rng.uniform();
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (std::log(std::max(u, 1e-300)) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
}
}  // namespace detail

/// A Beta(alpha, beta) draw (alpha, beta > 0).
inline double beta_draw(double alpha, double beta, Rng& rng) {
    const double x = detail::gamma_draw(alpha, rng), y = detail::gamma_draw(beta, rng);
    return x + y > 0.0 ? x / (x + y) : 0.5;
}

/// Concurrent per-edge counters for one base snapshot: any number of threads may record at once
/// (relaxed atomic adds; the sum is order-independent up to floating-point rounding). Counts are
/// decayed to `now` as they are recorded. 24 bytes per edge.
class FeedbackAccumulator {
public:
    static constexpr std::size_t max_positions = 64;

    FeedbackAccumulator(std::shared_ptr<const FeedbackGraph> base, std::int64_t now, const FeedbackOptions& opt)
        : base_(std::move(base)), now_(now), m_(base_->edge_count()),
          exposures_(new std::atomic<double>[m_]), clicks_(new std::atomic<double>[m_]),
          purchases_(new std::atomic<double>[m_]) {
        if (!(opt.half_life >= 0.0)) throw InvalidArgument(fmt::format("FeedbackOptions: half_life = {} (expected >= 0)", opt.half_life));
        decay_rate_ = (opt.half_life > 0.0 && std::isfinite(opt.half_life)) ? std::log(2.0) / opt.half_life : 0.0;
        for (std::size_t i = 0; i < m_; ++i) {
            exposures_[i].store(0.0, std::memory_order_relaxed);
            clicks_[i].store(0.0, std::memory_order_relaxed);
            purchases_[i].store(0.0, std::memory_order_relaxed);
        }
        set_position_weight(opt.position_weight);
    }

    const FeedbackGraph& graph() const noexcept { return *base_; }
    std::shared_ptr<const FeedbackGraph> graph_ptr() const noexcept { return base_; }
    std::int64_t now() const noexcept { return now_; }

    void set_position_weight(std::span<const double> w) {
        for (double x : w)
            if (!(x > 0.0) || !std::isfinite(x))
                throw InvalidArgument(fmt::format("FeedbackOptions: position weight {} (expected finite and > 0)", x));
        position_weight_.assign(w.begin(), w.end());
    }

    /// Decay factor of an event at time t (ages below 0 count as 0).
    double decay(std::int64_t t) const noexcept {
        if (decay_rate_ == 0.0 || t >= now_) return 1.0;
        return std::exp(-decay_rate_ * static_cast<double>(now_ - t));
    }
    double examination(std::uint16_t position) const noexcept {
        if (position_weight_.empty()) return 1.0;
        return position_weight_[std::min<std::size_t>(position, position_weight_.size() - 1)];
    }

    void record_exposure(std::uint64_t edge, std::int64_t t, std::uint16_t position) noexcept {
        exposures_[edge].fetch_add(decay(t) * examination(position), std::memory_order_relaxed);
    }
    void record_click(std::uint64_t edge, std::int64_t t) noexcept {
        clicks_[edge].fetch_add(decay(t), std::memory_order_relaxed);
    }
    void record_purchase(std::uint64_t edge, std::int64_t t) noexcept {
        purchases_[edge].fetch_add(decay(t), std::memory_order_relaxed);
    }

    double exposures(std::uint64_t edge) const noexcept { return exposures_[edge].load(std::memory_order_relaxed); }
    double clicks(std::uint64_t edge) const noexcept { return clicks_[edge].load(std::memory_order_relaxed); }
    double purchases(std::uint64_t edge) const noexcept { return purchases_[edge].load(std::memory_order_relaxed); }
    std::uint64_t edge_count() const noexcept { return m_; }

private:
    std::shared_ptr<const FeedbackGraph> base_;
    std::int64_t now_;
    std::uint64_t m_;
    std::unique_ptr<std::atomic<double>[]> exposures_, clicks_, purchases_;
    double decay_rate_ = 0.0;
    std::vector<double> position_weight_;
};

/// item id -> entity id for any catalogue whose elements have an `.entity` member (e.g. sim items).
template <class Items>
std::vector<EntityId> item_entity_map(const Items& items) {
    std::vector<EntityId> out;
    out.reserve(std::size(items));
    for (const auto& it : items) out.push_back(it.entity);
    return out;
}

/// Attribute events to edges of acc.graph(): exposure/click of item i (entity b) with trigger item t
/// (entity a) -> edge a -> b; a bill of a clicked (user, item) within opt.purchase_window after the
/// click -> purchase on that click's edge. `events` must be in time order (as logged). Splits
/// them into chunks processed by opt.threads workers (clicks are matched to bills within their
/// chunk and the window after it).
inline FeedbackStats attribute_events(std::span<const Event> events, std::span<const EntityId> item_entity,
                                      FeedbackAccumulator& acc, const FeedbackOptions& opt,
                                      ProgressCallback progress = {}) {
    const FeedbackGraph& g = acc.graph();
    auto entity_of = [&](ItemId i) -> EntityId {
        return i.valid() && i.index() < item_entity.size() ? item_entity[i.index()] : EntityId::invalid();
    };
    const std::size_t n = events.size();
    const unsigned workers = n < 200000 ? 1u : detail::worker_count(opt.threads, 64);
    const std::size_t chunks = workers == 1 ? 1 : std::size_t{workers} * 4;
    const std::size_t len = (n + chunks - 1) / std::max<std::size_t>(chunks, 1);
    std::vector<FeedbackStats> stats(chunks);
    ProgressThrottle prog(std::move(progress), "graph: attribute feedback", chunks);
    std::atomic<std::uint64_t> done{0};
    detail::parallel_for(workers, chunks, [&](std::size_t c, unsigned w) {
        FeedbackStats s;
        struct Pending {
            std::uint64_t edge;
            std::int64_t time;
        };
        std::unordered_map<std::uint64_t, Pending> clicked;  // (user << 32 | item) -> last click
        const std::size_t b = std::min(n, c * len), e = std::min(n, b + len);
        auto bill = [&](const Event& ev) {
            if (clicked.empty()) return;
            const std::uint64_t key = (std::uint64_t{ev.user.value()} << 32) | ev.item.value();
            auto it = clicked.find(key);
            if (it == clicked.end()) return;
            if (ev.time >= it->second.time && ev.time - it->second.time <= opt.purchase_window) {
                acc.record_purchase(it->second.edge, ev.time);
                ++s.attributed_purchases;
            }
            clicked.erase(it);
        };
        for (std::size_t k = b; k < e; ++k) {
            const Event& ev = events[k];
            if (ev.kind == EventKind::bill) {
                ++s.bills;
                bill(ev);
                continue;
            }
            if (ev.kind != EventKind::exposure && ev.kind != EventKind::click) continue;  // views: not feedback
            const bool click = ev.kind == EventKind::click;
            ++(click ? s.clicks : s.exposures);
            const EntityId a = entity_of(ev.trigger), bb = entity_of(ev.item);
            if (!a.valid() || !bb.valid()) {
                ++s.unmapped;
                continue;
            }
            const auto edge = g.find(a, bb);
            if (edge == FeedbackGraph::npos) {
                ++s.no_edge;
                continue;
            }
            if (click) {
                acc.record_click(edge, ev.time);
                ++s.attributed_clicks;
                clicked[(std::uint64_t{ev.user.value()} << 32) | ev.item.value()] = Pending{edge, ev.time};
            } else {
                acc.record_exposure(edge, ev.time, ev.position);
                ++s.attributed_exposures;
            }
        }
        // Bills just after the chunk can still complete this chunk's clicks.
        if (e > b && !clicked.empty()) {
            const std::int64_t limit = events[e - 1].time + opt.purchase_window;
            for (std::size_t k = e; k < n && events[k].time <= limit && !clicked.empty(); ++k)
                if (events[k].kind == EventKind::bill) bill(events[k]);
        }
        stats[c] = s;
        const auto d = done.fetch_add(1, std::memory_order_relaxed) + 1;
        if (w == 0) prog.update(d);
    });
    prog.finish(chunks);
    FeedbackStats total;
    for (const auto& s : stats) total += s;
    return total;
}

/// Position weights CTR(k) / CTR(0) over exposures that map to edges of g (positions < 64).
inline std::vector<double> estimate_position_weight(const FeedbackGraph& g, std::span<const Event> events,
                                                    std::span<const EntityId> item_entity) {
    constexpr std::size_t P = FeedbackAccumulator::max_positions;
    std::vector<double> exp(P, 0.0), clk(P, 0.0);
    std::size_t top = 0;
    for (const Event& ev : events) {
        if ((ev.kind != EventKind::exposure && ev.kind != EventKind::click) || ev.position >= P) continue;
        const auto t = ev.trigger, i = ev.item;
        if (!t.valid() || t.index() >= item_entity.size() || !i.valid() || i.index() >= item_entity.size()) continue;
        if (!g.has_edge(item_entity[t.index()], item_entity[i.index()])) continue;
        (ev.kind == EventKind::click ? clk : exp)[ev.position] += 1.0;
        top = std::max<std::size_t>(top, ev.position + 1);
    }
    std::vector<double> w;
    if (top == 0 || exp[0] == 0.0 || clk[0] == 0.0) return w;  // not enough data: no weighting
    const double ctr0 = clk[0] / exp[0];
    for (std::size_t k = 0; k < top; ++k) {
        const double ctr = exp[k] > 0 && clk[k] > 0 ? (clk[k] / exp[k]) / ctr0 : (w.empty() ? 1.0 : w.back());
        w.push_back(std::clamp(ctr, 1e-3, 1e3));
    }
    return w;
}

/// The posterior weight of one edge (see the file comment). `kappa` maps LLM confidence to CTR.
inline double feedback_weight(const EdgeFeedback& f, double kappa, const FeedbackOptions& opt, Rng* thompson_rng) {
    const double m = std::clamp(kappa * static_cast<double>(f.prior), 1e-6, 1.0 - 1e-6);
    const double s = std::max(opt.prior_strength, 1e-9);
    const double succ = static_cast<double>(f.clicks) + opt.purchase_weight * static_cast<double>(f.purchases);
    const double fail = std::max(0.0, static_cast<double>(f.exposures) - static_cast<double>(f.clicks));
    const double alpha = s * m + succ, beta = s * (1.0 - m) + fail;
    if (thompson_rng) return beta_draw(alpha, beta, *thompson_rng);
    return alpha / (alpha + beta);
}

/// New snapshot: old counts decayed to acc.now() plus the accumulated ones; weights recomputed;
/// rows re-sorted. The result's time() is acc.now(). `kappa_out` receives the prior scale used.
inline FeedbackGraph apply_feedback(const FeedbackAccumulator& acc, const FeedbackOptions& opt,
                                    ProgressCallback progress = {}, double* kappa_out = nullptr) {
    const FeedbackGraph& g = acc.graph();
    const std::int64_t now = acc.now();
    const double rate = (opt.half_life > 0.0 && std::isfinite(opt.half_life)) ? std::log(2.0) / opt.half_life : 0.0;
    const double old_decay = (rate == 0.0 || now <= g.time()) ? 1.0 : std::exp(-rate * static_cast<double>(now - g.time()));
    auto updated = [&](std::uint64_t i) {
        EdgeFeedback f = g.payload_at(i);
        f.exposures = static_cast<float>(f.exposures * old_decay + acc.exposures(i));
        f.clicks = static_cast<float>(f.clicks * old_decay + acc.clicks(i));
        f.purchases = static_cast<float>(f.purchases * old_decay + acc.purchases(i));
        return f;
    };
    double kappa = opt.prior_scale;
    if (!(kappa > 0.0)) {  // empirical Bayes: global CTR / mean prior of the edges with feedback
        double succ = 0, trials = 0, prior_sum = 0, prior_n = 0;
        for (std::uint64_t i = 0; i < g.edge_count(); ++i) {
            const EdgeFeedback f = updated(i);
            if (f.exposures <= 0.0f) continue;
            succ += f.clicks;
            trials += f.exposures;
            prior_sum += f.prior;
            prior_n += 1;
        }
        kappa = (trials > 0 && prior_sum > 0) ? (succ / trials) / (prior_sum / prior_n) : 1.0;
        if (!(kappa > 0.0) || !std::isfinite(kappa)) kappa = 1.0;
    }
    if (kappa_out) *kappa_out = kappa;
    auto out = GraphBuilder<EntityId, EdgeFeedback>::reweight(
        g,
        [&](EntityId from, std::uint64_t i, float, const EdgeFeedback&, EdgeFeedback& np) -> float {
            np = updated(i);
            if (opt.thompson && np.exposures < opt.young_exposures) {
                const std::uint64_t key = (std::uint64_t{from.value()} << 32) | g.target(i).value();
                Rng rng(derive_seed(derive_seed(opt.seed, key), static_cast<std::uint64_t>(now)));
                return static_cast<float>(feedback_weight(np, kappa, opt, &rng));
            }
            return static_cast<float>(feedback_weight(np, kappa, opt, nullptr));
        },
        opt.threads, std::move(progress));
    return out.with_time(now);
}

/// Result of FeedbackLearner::learn.
struct FeedbackResult {
    FeedbackGraph graph;
    FeedbackStats stats;
    double prior_scale = 1.0;  ///< kappa used
    std::vector<double> position_weight;
};

/// One call from an event log to a re-weighted snapshot (and optionally its publication).
class FeedbackLearner {
public:
    explicit FeedbackLearner(FeedbackOptions options = {}) : opt_(std::move(options)) {
        if (!(opt_.prior_strength > 0.0) || !std::isfinite(opt_.prior_strength))
            throw InvalidArgument(fmt::format("FeedbackOptions: prior_strength = {} (expected > 0)", opt_.prior_strength));
        if (!(opt_.purchase_weight >= 0.0) || !std::isfinite(opt_.purchase_weight))
            throw InvalidArgument(fmt::format("FeedbackOptions: purchase_weight = {} (expected >= 0)", opt_.purchase_weight));
        if (opt_.purchase_window < 0)
            throw InvalidArgument(fmt::format("FeedbackOptions: purchase_window = {} (expected >= 0)", opt_.purchase_window));
        if (!(opt_.half_life >= 0.0))
            throw InvalidArgument(fmt::format("FeedbackOptions: half_life = {} (expected >= 0)", opt_.half_life));
    }
    const FeedbackOptions& options() const noexcept { return opt_; }

    /// Attribute `events` (items mapped to entities by item_entity[item]) to edges of `base` and
    /// return the re-weighted snapshot. Progress stages: attribution, reweight.
    FeedbackResult learn(std::shared_ptr<const FeedbackGraph> base, std::span<const Event> events,
                         std::span<const EntityId> item_entity, ProgressCallback progress = {}) const {
        if (!base) throw InvalidArgument("FeedbackLearner::learn: null graph");
        std::int64_t now = base->time();
        for (const Event& e : events) now = std::max(now, e.time);
        if (opt_.now) now = *opt_.now;
        FeedbackResult r;
        r.position_weight = opt_.position_weight;
        if (opt_.estimate_position_bias) r.position_weight = estimate_position_weight(*base, events, item_entity);
        FeedbackOptions o = opt_;
        o.position_weight = r.position_weight;
        FeedbackAccumulator acc(base, now, o);
        r.stats = attribute_events(events, item_entity, acc, o, progress);
        r.graph = apply_feedback(acc, o, progress, &r.prior_scale);
        return r;
    }
    FeedbackResult learn(const FeedbackGraph& base, std::span<const Event> events, std::span<const EntityId> item_entity,
                         ProgressCallback progress = {}) const {
        return learn(std::make_shared<const FeedbackGraph>(base), events, item_entity, std::move(progress));
    }

    /// learn() from the store's current snapshot and publish the result (optimistically: if
    /// another writer published meanwhile, the learned counts are re-applied to the newer
    /// snapshot by retrying). Returns the new version and the stats.
    std::pair<std::uint64_t, FeedbackStats> learn_and_publish(GraphStore<FeedbackGraph>& store, std::span<const Event> events,
                                                              std::span<const EntityId> item_entity,
                                                              ProgressCallback progress = {}) const {
        for (;;) {
            const auto cur = store.current();
            auto r = learn(cur, events, item_entity, progress);
            if (auto v = store.publish_if(cur->version(), std::move(r.graph))) return {*v, r.stats};
        }
    }

private:
    FeedbackOptions opt_;
};

}  // namespace kerec
