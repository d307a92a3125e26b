// LLM-KERec on real grocery baskets (the Groceries data): basket completion with cold-start items,
// and next-basket prediction, against association rules, item-CF and popularity.
//
//   groceries --data DIR [--seed N] [--cold-items N] [--json] [--store DIR]
//
// The 169 product categories are the entities (and the items). An LLM's judgments of every
// category pair (llm_judgments.tsv), replayed through the judgment store, give the complementary
// graph; training baskets are its feedback (a basket holding a is an exposure of each neighbour b,
// a click when b is in it too), which learns the edge weights.
//
// Task 1, basket completion (baskets.csv): 80% of baskets train, 20% test; `--cold-items` items are
// held out as cold-start items: every training basket holding one is removed, so no co-occurrence
// method knows them. A test query hides one item of a basket and asks for 10 items from the rest
// (overall: a random item; cold: a cold item of a basket holding one).
// Task 2, next basket (member_purchases.csv, a basket = member + date): each member's baskets
// before the last are the history; recommend for the last (items not already in the history count).
//
// The pipeline is two recall channels merged by quota (ChannelMerger): a warm channel (a logistic
// ranker over co-purchase statistics, popularity, the complementary graph's learned weights and LLM
// confidences, and the E-E-I logit of the context's edges to the candidate — E-E-I stage 1 fitted
// on the baskets' complementary exposures over entity embeddings of the baskets; this logistic is
// the integration stage, which learns how far to trust an edge) and the complementary channel
// (U2E2I over the learned graph) restricted to items without sales history. The complementary
// channel's share of the 10 slots is learned from the training split alone: inside it, held-out
// "pseudo-cold" items are simulated the same way, and the (share, score floor) chosen is the one
// with the best simulated cold recall among those whose simulated overall Recall@10 stays at least
// that of the best co-occurrence baseline (share 0 when none does). For task 2,
// the pipeline is popularity (the base ranker) merged with U2E2I over the member's recent bills,
// at the share the simulated split (each member's second-to-last basket) finds best (0 = the base).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/random.hpp>
#include <kerec/core/vocabulary.hpp>
#include <kerec/eei/integration.hpp>
#include <kerec/eei/model.hpp>
#include <kerec/eei/samples.hpp>
#include <kerec/embed/trainer.hpp>
#include <kerec/eval/association_rules.hpp>
#include <kerec/eval/basket_csv.hpp>
#include <kerec/eval/baskets.hpp>
#include <kerec/eval/item_cf.hpp>
#include <kerec/eval/popularity_recommender.hpp>
#include <kerec/eval/ranking_evaluation.hpp>
#include <kerec/graph/baskets.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/replay_judge.hpp>
#include <kerec/recall/channel_merge.hpp>
#include <kerec/recall/u2e2i.hpp>

#include "cli.hpp"
#include "figures.hpp"

using namespace kerec;

namespace {

constexpr std::size_t K = 10;
constexpr std::array<double, 6> kShares = {0.0, 0.1, 0.2, 0.3, 0.4, 0.5};  // complementary channel's share of K
constexpr std::array<double, 4> kFloors = {0.0, 0.5, 0.75, 0.9};   // cold channel's score floor, as a quantile of its best score
constexpr std::array<double, 6> kBetas = {1e-6, 0.01, 0.03, 0.1, 0.3, 1.0};  // cold_rule's weight of LLM edges

struct Options {
    std::filesystem::path data, store;
    std::uint64_t seed = 42;
    std::size_t cold_items = 10;
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    examples::Args args(argc, argv,
                        "usage: groceries --data DIR [--seed N] [--cold-items N] [--json] [--store DIR]\n"
                        "  DIR holds items.txt, llm_judgments.tsv, baskets.csv and member_purchases.csv (the Groceries data)");
    for (std::string a; args.next(a);) {
        if (a == "--data") o.data = args.value();
        else if (a == "--store") o.store = args.value();
        else if (a == "--seed") o.seed = args.number();
        else if (a == "--cold-items") o.cold_items = args.number();
        else if (a == "--json") o.json = true;
        else args.unknown();
    }
    if (o.data.empty()) throw InvalidArgument("--data DIR is required (the folder with items.txt, llm_judgments.tsv, baskets.csv)");
    if (o.store.empty()) o.store = std::filesystem::temp_directory_path() / "kerec-groceries-store";
    return o;
}

/// The complementary graph from the LLM's judgments of every ordered pair (replayed into a store).
FeedbackGraph llm_graph(const Options& opt, const Vocabulary<ItemId>& items, std::size_t* asked) {
    auto judge = ReplayJudge::load(opt.data / "llm_judgments.tsv");
    std::vector<PairQuery> queries;
    for (std::uint32_t a = 0; a < items.size(); ++a)
        for (std::uint32_t b = 0; b < items.size(); ++b)
            if (a != b)
                queries.push_back({EntityId{a}, EntityId{b}, std::string(items.name(ItemId{a})), std::string(items.name(ItemId{b}))});
    std::filesystem::create_directories(opt.store);
    JudgmentStore store(opt.store / "groceries-judgments.log");
    *asked = store.judge(judge, queries).asked;
    std::vector<Judgment> judgments;
    for (const auto& q : queries)
        if (const Judgment* j = store.find(q.pair(), judge.model(), judge.prompt_version())) judgments.push_back(*j);
    GraphBuildOptions go;
    go.node_count = items.size();
    return build_graph<EdgeFeedback>(judgments, go);
}

std::vector<Basket> as_entity_baskets(const Baskets& b) {
    std::vector<Basket> out(b.size());
    for (std::size_t k = 0; k < b.size(); ++k)
        for (ItemId i : b[k]) out[k].push_back(EntityId{i.value()});
    return out;
}

/// Co-purchase statistics of a training set: n_i baskets holding i, c_ij holding both (dense).
struct CoCounts {
    std::size_t n = 0, N = 0;
    std::vector<float> freq, co;
    explicit CoCounts(const Baskets& b) : n(b.item_count()), N(b.size()), freq(n, 0.0f), co(n * n, 0.0f) {
        for (std::size_t k = 0; k < b.size(); ++k)
            for (ItemId i : b[k]) {
                freq[i.index()] += 1;
                for (ItemId j : b[k])
                    if (i != j) co[i.index() * n + j.index()] += 1;
            }
    }
    bool has_history(ItemId i) const { return freq[i.index()] > 0; }
};

/// E-E-I stage 1 on baskets: entity embeddings (SGNS over the training baskets, the second order
/// from the learned graph, InfoNCE between them), then the E-E-I model fitted on the baskets'
/// complementary exposures (a basket holding a shows each graph neighbour b of a; a click when b
/// is in it too; b must have sales history). The result is the E-E-I logit of every graph edge,
/// a dense n × n table (NaN where there is no edge), which the warm ranker's fit integrates.
std::vector<float> eei_edge_logits(const Baskets& train, const CoCounts& counts, const FeedbackGraph& learned, const ItemEntityMap& map,
                                   std::uint64_t seed) {
    const std::size_t n = counts.n;
    std::vector<float> table(n * n, std::numeric_limits<float>::quiet_NaN());
    const auto entity_baskets = as_entity_baskets(train);
    std::vector<std::vector<EntityId>> lists;
    for (const auto& b : entity_baskets)
        if (b.size() >= 2) lists.emplace_back(b.begin(), b.end());
    EmbedOptions eo;
    // λ = 1 rather than the library's default (0.15): at 0.15 overall Recall@10 was lower on two
    // seeds of three (0.4090 / 0.4031 / 0.4038 against 0.4110 / 0.4038 / 0.4038 for seeds 42 / 1 / 2).
    eo.sgns.dim = 16, eo.sgns.seed = derive_seed(seed, 21), eo.epochs = 5, eo.lambda = 1.0;
    const auto h = fit<float>(EntitySequences::from_lists(lists, n), learned, eo).final;
    ItemFeatures features(n, 1);
    for (std::uint32_t i = 0; i < n; ++i) features.row(ItemId{i})[0] = std::log1p(counts.freq[i]);
    auto events = basket_feedback_events(std::span<const Basket>(entity_baskets), learned);
    std::erase_if(events, [&](const Event& e) { return !counts.has_history(e.item); });
    const auto samples = build_eei_samples(events, map, learned, &features);
    EEIConfig ec;
    ec.hidden = {16}, ec.seed = derive_seed(seed, 22), ec.max_epochs = 10;
    EEIModel<float> model(h.dim(), features.dim(), ec);
    const std::size_t nv = samples.size() / 7;  // the last baskets' samples validate (early stopping)
    model.fit(h, std::span<const EEISample>(samples).first(samples.size() - nv), std::span<const EEISample>(samples).last(nv));
    std::vector<EEISample> edges;
    for (auto [a, b, w, payload] : kerec::edges(learned))
        edges.push_back(EEISample{.user = UserId{0}, .trigger = a, .candidate = b, .item = ItemId{b.value()}, .position = 0, .time = 0, .edge_weight = w, .llm_confidence = payload.prior,
                                  .item_features = {features.row(ItemId{b.value()}).begin(), features.row(ItemId{b.value()}).end()}, .base_logit = 0.0f, .label = 0.0f});
    std::vector<float> z(edges.size());
    model.score(h, edges, z);
    for (std::size_t k = 0; k < edges.size(); ++k) table[edges[k].trigger.index() * n + edges[k].candidate.index()] = z[k];
    return table;
}

/// The warm channel: logistic regression on, for a candidate j and the context C,
///   log popularity(j), log max_{i∈C} P(j | i), log Σ P(j | i), Σ_{i∈C} cos(i, j), Σ w_learned(i → j), Σ p_llm(i → j),
///   the first two times log(1 + |C|), Σ log lift(i, j) (smoothed; a naive-Bayes score),
///   max_{i∈C} E-E-I(i → j) over the context's edges to j and whether there is one, 1
/// fitted on hide-one queries of the training baskets (their counts leave the query basket out),
/// so the fit decides how far to trust the graph's edges next to the co-purchase statistics.
class WarmRanker {
public:
    static constexpr std::size_t P = 12;

    WarmRanker(const Baskets& train, const CoCounts& counts, const FeedbackGraph& learned, std::vector<float> eei, std::uint64_t seed)
        : c_(&counts), n_(counts.n), w_(n_ * n_, 0.0f), conf_(n_ * n_, 0.0f), eei_(std::move(eei)) {
        for (std::uint32_t a = 0; a < n_; ++a) {
            const auto row = learned.neighbors(EntityId{a});
            for (std::size_t k = 0; k < row.size(); ++k) {
                w_[a * n_ + row.targets[k].index()] = row.weights[k];
                conf_[a * n_ + row.targets[k].index()] = row.payload[k].prior;
            }
        }
        fit(train, seed);
    }

    void recommend(const RecommendRequest& r, std::vector<Recommendation>& out) {
        blocked_.assign(n_, 0);
        ctx_.clear();
        for (const auto& h : r.context)
            if (h.item.valid() && !blocked_[h.item.index()]) blocked_[h.item.index()] = 1, ctx_.push_back(h.item);
        for (ItemId i : r.exclude) blocked_[i.index()] = 1;
        cand_.clear();
        for (std::uint32_t j = 0; j < n_; ++j) {
            if (blocked_[j]) continue;
            const auto x = features(ItemId{j}, ctx_, {});
            double z = 0;
            for (std::size_t p = 0; p < P; ++p) z += theta_[p] * x[p];
            cand_.push_back({ItemId{j}, static_cast<float>(z), {}});
        }
        const std::size_t k = std::min(r.k, cand_.size());
        std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k), cand_.end(),
                          [](const Recommendation& a, const Recommendation& b) { return a.score != b.score ? a.score > b.score : a.item < b.item; });
        out.assign(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(k));
    }
    const std::array<double, P>& coefficients() const { return theta_; }

private:
    // Features of j given the context; `loo`: a training basket whose own counts are left out.
    std::array<double, P> features(ItemId j, std::span<const ItemId> ctx, std::span<const ItemId> loo) const {
        auto in_loo = [&](ItemId i) { return std::find(loo.begin(), loo.end(), i) != loo.end(); };
        const bool jl = in_loo(j);
        const double N = static_cast<double>(c_->N) - (loo.empty() ? 0.0 : 1.0);
        const double nj = c_->freq[j.index()] - (jl ? 1.0 : 0.0);
        double cond = 0, sum_cond = 0, cos = 0, w = 0, conf = 0, lift = 0, eei = -std::numeric_limits<double>::infinity();
        for (ItemId i : ctx) {
            const bool il = in_loo(i);
            const double ni = c_->freq[i.index()] - (il ? 1.0 : 0.0);
            const double cij = c_->co[i.index() * n_ + j.index()] - (jl && il ? 1.0 : 0.0);
            cond = std::max(cond, cij / (ni + 5.0));
            sum_cond += cij / (ni + 5.0);
            const double expect = ni * nj / std::max(N, 1.0);
            lift += std::log((cij + 1.0) / (expect + 1.0));  // naive Bayes: Σ log smoothed lift
            if (ni > 0 && nj > 0) cos += cij / std::sqrt(ni * nj);
            w += w_[i.index() * n_ + j.index()];
            conf += conf_[i.index() * n_ + j.index()];
            if (const float z = eei_[i.index() * n_ + j.index()]; !std::isnan(z)) eei = std::max<double>(eei, z);
        }
        const bool edge = std::isfinite(eei);
        const double pop = std::log((nj + 1.0) / (N + 1.0)), size = std::log(static_cast<double>(ctx.size()) + 1.0);
        return {pop, std::log(cond + 1e-3), std::log(sum_cond + 1e-3), cos, w, conf, pop * size, std::log(cond + 1e-3) * size, lift, edge ? eei : 0.0, edge ? 1.0 : 0.0, 1.0};
    }

    // Hide-one queries of up to 3000 training baskets: the hidden item against every other item.
    void fit(const Baskets& train, std::uint64_t seed) {
        Rng rng(derive_seed(seed, 11));
        std::vector<std::size_t> idx;
        for (std::size_t b = 0; b < train.size(); ++b)
            if (train[b].size() >= 2) idx.push_back(b);
        rng.shuffle(idx);
        if (idx.size() > 3000) idx.resize(3000);
        std::vector<std::array<double, P>> rows;
        std::vector<float> y;
        std::vector<ItemId> ctx;
        for (std::size_t b : idx) {
            const auto basket = train[b];
            const ItemId hidden = basket[rng.uniform_int(basket.size())];
            ctx.clear();
            for (ItemId i : basket)
                if (i != hidden) ctx.push_back(i);
            rows.push_back(features(hidden, ctx, basket)), y.push_back(1.0f);
            for (std::uint32_t j = 0; j < n_; ++j)  // every other item with history is a negative
                if (std::find(basket.begin(), basket.end(), ItemId{j}) == basket.end() && c_->has_history(ItemId{j}))
                    rows.push_back(features(ItemId{j}, ctx, basket)), y.push_back(0.0f);
        }
        theta_ = detail::fit_logistic<P>(rows.size(), [&](std::size_t i) { return rows[i]; }, y, 1e-3);
    }

    const CoCounts* c_;
    std::size_t n_;
    std::vector<float> w_, conf_, eei_;
    std::array<double, P> theta_{};
    std::vector<char> blocked_;
    std::vector<ItemId> ctx_;
    std::vector<Recommendation> cand_;
};

/// cold_rule: association rules, plus the items without history scored β · Σ_{i∈C} p_llm(i → j).
class ColdRule {
public:
    ColdRule(AssociationRules& rules, const FeedbackGraph& prior, const CoCounts& counts, double beta)
        : rules_(&rules), prior_(&prior), c_(&counts), beta_(beta) {}
    void set_beta(double b) { beta_ = b; }
    void recommend(const RecommendRequest& r, std::vector<Recommendation>& out) {
        rules_->recommend(r, out);
        acc_.assign(c_->n, 0.0f);
        for (const auto& h : r.context) {
            const auto row = prior_->neighbors(EntityId{h.item.value()});
            for (std::size_t k = 0; k < row.size(); ++k) acc_[row.targets[k].index()] += row.payload[k].prior;
        }
        for (const auto& h : r.context) acc_[h.item.index()] = 0;
        for (ItemId i : r.exclude) acc_[i.index()] = 0;
        for (std::uint32_t j = 0; j < c_->n; ++j)
            if (acc_[j] > 0 && !c_->has_history(ItemId{j})) out.push_back({ItemId{j}, static_cast<float>(beta_ * acc_[j]), {}});
        std::stable_sort(out.begin(), out.end(), [](const Recommendation& a, const Recommendation& b) { return a.score > b.score; });
        if (out.size() > r.k) out.resize(r.k);
    }

private:
    AssociationRules* rules_;
    const FeedbackGraph* prior_;
    const CoCounts* c_;
    double beta_;
    std::vector<float> acc_;
};

/// One evaluation query: what the recommender sees, what it should find.
struct Query {
    std::vector<HistoryItem> context;
    std::vector<ItemId> relevant;
    UserId user{};
    std::int64_t now = 0;
};

template <class R>
RankingEvaluation evaluate(R& rec, std::span<const Query> queries, std::size_t catalogue) {
    RankingEvaluation ev(K, catalogue);
    std::vector<Recommendation> out;
    for (const Query& q : queries) {
        rec.recommend(RecommendRequest{q.user, q.context, q.now, K, {}}, out);
        ev.add(out, q.relevant);
    }
    return ev;
}

/// Hide-one queries: `overall` hides a random item of every basket of >= 2 items; `cold` hides a
/// cold item of every basket of >= 2 items holding one.
void completion_queries(const Baskets& test, std::span<const char> is_cold, std::uint64_t seed, std::vector<Query>& overall,
                        std::vector<Query>& cold) {
    Rng rng(seed);
    std::vector<ItemId> colds;
    for (std::size_t b = 0; b < test.size(); ++b) {
        const auto basket = test[b];
        if (basket.size() < 2) continue;
        auto make = [&](ItemId hidden) {
            Query q;
            for (ItemId i : basket)
                if (i != hidden) q.context.push_back({i, 0});
            q.relevant = {hidden};
            return q;
        };
        overall.push_back(make(basket[rng.uniform_int(basket.size())]));
        colds.clear();
        for (ItemId i : basket)
            if (is_cold[i.index()]) colds.push_back(i);
        if (!colds.empty()) cold.push_back(make(colds[rng.uniform_int(colds.size())]));
    }
}

/// `count` items drawn among those in 50..400 baskets (so that each leaves a few hundred test
/// queries but its removal keeps most of the training baskets), never one of `avoid`.
std::vector<char> draw_cold_items(const Baskets& all, std::size_t count, std::span<const char> avoid, std::uint64_t seed) {
    const auto f = all.item_frequencies();
    std::vector<ItemId> pool;
    for (std::uint32_t i = 0; i < f.size(); ++i)
        if (f[i] >= 50 && f[i] <= 400 && (avoid.empty() || !avoid[i])) pool.push_back(ItemId{i});
    if (count > pool.size()) throw InvalidArgument(fmt::format("--cold-items {}: only {} items qualify (50..400 baskets)", count, pool.size()));
    Rng rng(seed);
    rng.shuffle(pool);
    std::vector<char> cold(all.item_count(), 0);
    for (std::size_t k = 0; k < count; ++k) cold[pool[k].index()] = 1;
    return cold;
}

/// Baskets of `from` (indices) without any item marked in `drop`.
Baskets without(const Baskets& all, std::span<const std::size_t> from, std::span<const char> drop) {
    std::vector<std::size_t> keep;
    for (std::size_t b : from) {
        const auto basket = all[b];
        if (std::none_of(basket.begin(), basket.end(), [&](ItemId i) { return drop[i.index()] != 0; })) keep.push_back(b);
    }
    return all.subset(keep);
}

U2E2IOptions u2e2i_options(double half_life) {
    U2E2IOptions u;
    u.max_context = 50;
    u.max_triggers = 50;
    u.neighbors_per_trigger = 200;
    u.items_per_entity = 1;
    u.recency_half_life = half_life;
    return u;
}

/// Edge weights learned from basket feedback. Exposures of items without sales history carry no
/// information (the item could not be bought), so they are left out: such an edge keeps the LLM's
/// calibrated prior.
std::shared_ptr<const FeedbackGraph> learn_weights(const FeedbackGraph& prior, const Baskets& train, const CoCounts& counts,
                                                   const ItemEntityMap& map) {
    const auto entity_baskets = as_entity_baskets(train);
    auto events = basket_feedback_events(std::span<const Basket>(entity_baskets), prior);
    std::erase_if(events, [&](const Event& e) { return !counts.has_history(e.item); });
    FeedbackOptions fo;
    fo.half_life = 0.0;
    fo.threads = 1;
    return std::make_shared<const FeedbackGraph>(FeedbackLearner(fo).learn(prior, events, map).graph);
}

/// What both tasks train on one set of baskets: the baselines, the LLM graph and its learned
/// weights, U2E2I over each (the learned one with recency half-life `half_life`), cold_rule at `beta`.
struct TrainedOn {
    CoCounts counts;
    ItemCF itemcf;
    AssociationRules rules;
    PopularityRecommender popularity;
    std::shared_ptr<const FeedbackGraph> prior, learned;
    U2E2IRecall<FeedbackGraph> llm, complementary;
    ColdRule cold_rule;

    TrainedOn(const Baskets& train, std::shared_ptr<const FeedbackGraph> prior_graph, const ItemEntityMap& map, double half_life, double beta)
        : counts(train), itemcf(train), rules(train, AprioriOptions{.min_support = 0.001, .min_confidence = 0.1}), popularity(train),
          prior(std::move(prior_graph)), learned(learn_weights(*prior, train, counts, map)), llm(prior, map, u2e2i_options(0)),
          complementary(learned, map, u2e2i_options(half_life)), cold_rule(rules, *prior, counts, beta) {}
};

/// Every recommender of task 1: the warm channel and the cold channel (U2E2I over the learned
/// graph, items without history), merged.
struct CompletionModels : TrainedOn {
    std::function<bool(ItemId)> no_history;
    FilteredChannel<U2E2IRecall<FeedbackGraph>, std::function<bool(ItemId)>> cold_channel;
    WarmRanker warm;
    ChannelMerger<WarmRanker, decltype(cold_channel)> pipeline;

    CompletionModels(const Baskets& train, std::shared_ptr<const FeedbackGraph> prior_graph, const ItemEntityMap& map, std::uint64_t seed)
        : TrainedOn(train, std::move(prior_graph), map, 0.0, kBetas[0]), no_history([this](ItemId i) { return !counts.has_history(i); }),
          cold_channel(complementary, no_history, map.item_count()),
          warm(train, counts, *learned, eei_edge_logits(train, counts, *learned, map, seed), seed),
          pipeline({1.0, 0.0}, warm, cold_channel) {}
};

/// Task 2 split: for each member with enough baskets, the basket `back` from the end is the
/// target, the earlier ones the history; training = every basket but each member's last `back + 1`.
void next_basket_split(const Baskets& b, std::size_t back, Baskets& train, std::vector<Query>& queries) {
    std::vector<std::size_t> keep;
    for (std::size_t first = 0; first < b.size();) {
        std::size_t end = first;
        while (end < b.size() && b.user(end) == b.user(first)) ++end;  // from_events: baskets grouped by member, by day
        const std::size_t count = end - first;
        for (std::size_t k = first; k + back + 1 < end; ++k) keep.push_back(k);
        if (count >= back + 2) {
            const std::size_t target = end - 1 - back;
            Query q;
            q.user = b.user(target);
            q.now = b.time(target);
            std::vector<char> seen(b.item_count(), 0);
            for (std::size_t k = first; k < target; ++k)
                for (ItemId i : b[k]) q.context.push_back({i, b.time(k)}), seen[i.index()] = 1;
            for (ItemId i : b[target])
                if (!seen[i.index()]) q.relevant.push_back(i);
            if (!q.relevant.empty()) queries.push_back(std::move(q));
        }
        first = end;
    }
    train = b.subset(keep);
}

/// Every recommender of task 2: popularity (the base ranker) merged with U2E2I over recent bills.
struct NextBasketModels : TrainedOn {
    ChannelMerger<PopularityRecommender, U2E2IRecall<FeedbackGraph>> pipeline;

    NextBasketModels(const Baskets& train, std::shared_ptr<const FeedbackGraph> prior_graph, const ItemEntityMap& map, double beta)
        : TrainedOn(train, std::move(prior_graph), map, 30.0 * 86400, beta), pipeline({1.0, 0.0}, popularity, complementary) {}
};

struct Row {
    std::string method;
    RankingSummary overall, cold, next;
};

/// The q-quantile of the cold channel's best score over the queries that have a candidate.
template <class R>
float channel_score_quantile(R& channel, std::span<const Query> queries, double q) {
    if (q <= 0.0) return -std::numeric_limits<float>::infinity();
    std::vector<float> top;
    std::vector<Recommendation> out;
    for (const Query& x : queries) {
        channel.recommend(RecommendRequest{x.user, x.context, 0, 1, {}}, out);
        if (!out.empty()) top.push_back(out[0].score);
    }
    if (top.empty()) return 0.0f;
    std::sort(top.begin(), top.end());
    return top[std::min(top.size() - 1, static_cast<std::size_t>(q * static_cast<double>(top.size())))];
}

}  // namespace

int main(int argc, char** argv) try {
    const Options opt = parse(argc, argv);
    const auto clock0 = std::chrono::steady_clock::now();
    auto say = [&](std::string_view format, const auto&... a) {  // progress notes on stderr (not with --json)
        if (!opt.json) fmt::print(stderr, fmt::runtime(format), a...);
    };
    BootstrapOptions boot;
    boot.seed = derive_seed(opt.seed, 99);

    // Data: categories are items and entities; baskets; the LLM's graph.
    Vocabulary<ItemId> items;
    read_item_names(opt.data / "items.txt", items);
    const std::size_t n = items.size();
    BasketCsvOptions csv_opt{.add_unknown = false, .aliases = {{"pot plants", "potted plants"}}};
    const Baskets all = read_basket_lists(opt.data / "baskets.csv", items, csv_opt);
    std::size_t asked = 0;
    const auto prior = std::make_shared<const FeedbackGraph>(llm_graph(opt, items, &asked));
    const ItemEntityMap map = basket_item_map(n);
    const AssociationRules arules_all(all, AprioriOptions{.min_support = 0.001, .min_confidence = 0.5});
    say("Groceries: {} categories, {} baskets, {} LLM edges ({} judge calls this run), {} rules at support 0.001 / confidence 0.5\n", n,
        all.size(), prior->edge_count(), asked, arules_all.rule_count());

    // ---- Task 1: basket completion with cold-start items ----
    Rng rng(opt.seed);
    std::vector<std::size_t> order(all.size());
    std::iota(order.begin(), order.end(), 0);
    rng.shuffle(order);
    const std::size_t n_test = all.size() / 5;
    const std::span<const std::size_t> test_idx(order.data(), n_test), train_idx(order.data() + n_test, all.size() - n_test);
    const auto cold = draw_cold_items(all, opt.cold_items, {}, derive_seed(opt.seed, 1));
    const Baskets train = without(all, train_idx, cold), test = all.subset(test_idx);
    std::vector<Query> q_all, q_cold;
    completion_queries(test, cold, derive_seed(opt.seed, 2), q_all, q_cold);

    // The simulated split, inside the training baskets only: pseudo-cold items, a validation part.
    const auto pseudo = draw_cold_items(train, opt.cold_items, cold, derive_seed(opt.seed, 3));
    std::vector<std::size_t> t_idx(train.size());
    std::iota(t_idx.begin(), t_idx.end(), 0);
    Rng srng(derive_seed(opt.seed, 4));
    srng.shuffle(t_idx);
    const std::size_t n_val = train.size() / 5;
    const Baskets sim_train = without(train, std::span<const std::size_t>(t_idx).subspan(n_val), pseudo);
    const Baskets sim_val = train.subset(std::span<const std::size_t>(t_idx).first(n_val));
    std::vector<Query> s_all, s_cold;
    completion_queries(sim_val, pseudo, derive_seed(opt.seed, 5), s_all, s_cold);
    say("task 1: {} training baskets ({} cold items, their baskets removed), {} test queries, {} on cold items; "
        "simulated split: {} / {} queries\n", train.size(), opt.cold_items, q_all.size(), q_cold.size(), s_all.size(), s_cold.size());

    auto recall_of = [&](auto& rec, std::span<const Query> qs) {
        const auto ev = evaluate(rec, qs, n);
        double s = 0;
        for (double v : ev.recall()) s += v;
        return qs.empty() ? 0.0 : s / static_cast<double>(qs.size());
    };

    // Operating point: the (share, floor) with the best simulated cold recall among those whose
    // simulated overall recall is at least the best co-occurrence baseline's (share 0 if none is).
    std::size_t chosen = 0, chosen_floor = 0, chosen_beta = 0;
    {
        CompletionModels sim(sim_train, prior, map, derive_seed(opt.seed, 6));
        const double floor = std::max(recall_of(sim.rules, s_all), recall_of(sim.itemcf, s_all));
        double best_cold = -1;
        say("simulated split: best co-occurrence baseline recall@10 {:.4f}; (share, floor quantile): overall / cold\n", floor);
        for (std::size_t f = 0; f < kFloors.size(); ++f) {
            sim.pipeline.set_floors({-std::numeric_limits<float>::infinity(), channel_score_quantile(sim.cold_channel, s_all, kFloors[f])});
            for (std::size_t s = 1; s < kShares.size(); ++s) {
                sim.pipeline.set_shares({1.0 - kShares[s], kShares[s]});
                const double all_r = recall_of(sim.pipeline, s_all), cold_r = recall_of(sim.pipeline, s_cold);
                say("  ({:.1f}, {:.2f}): {:.4f} / {:.4f}\n", kShares[s], kFloors[f], all_r, cold_r);
                if (all_r >= floor && cold_r > best_cold) best_cold = cold_r, chosen = s, chosen_floor = f;
            }
        }
        double best = -1;
        for (std::size_t b = 0; b < kBetas.size(); ++b) {  // cold_rule: best overall + cold recall on the simulated split
            sim.cold_rule.set_beta(kBetas[b]);
            const double v = recall_of(sim.cold_rule, s_all) + recall_of(sim.cold_rule, s_cold);
            if (v > best) best = v, chosen_beta = b;
        }
        say("  chosen share {:.1f}, floor quantile {:.2f}; cold_rule beta {:g}\n", kShares[chosen], kFloors[chosen_floor], kBetas[chosen_beta]);
    }

    CompletionModels m(train, prior, map, derive_seed(opt.seed, 7));
    const float score_floor = channel_score_quantile(m.cold_channel, s_all, kFloors[chosen_floor]);
    m.pipeline.set_floors({-std::numeric_limits<float>::infinity(), score_floor});
    m.pipeline.set_shares({1.0 - kShares[chosen], kShares[chosen]});
    m.cold_rule.set_beta(kBetas[chosen_beta]);
    // no_eei: the same pipeline (models, cold channel, operating point) with a warm ranker fitted
    // without the E-E-I feature (no edge has an E-E-I logit).
    WarmRanker warm_no_eei(train, m.counts, *m.learned, std::vector<float>(n * n, std::numeric_limits<float>::quiet_NaN()), derive_seed(opt.seed, 7));
    ChannelMerger<WarmRanker, decltype(m.cold_channel)> no_eei(m.pipeline.shares(), warm_no_eei, m.cold_channel);
    no_eei.set_floors(m.pipeline.floors());
    std::vector<Row> rows;
    auto run1 = [&](std::string name, auto& rec) {
        Row r{std::move(name), evaluate(rec, q_all, n).summary(boot), evaluate(rec, q_cold, n).summary(boot), {}};
        rows.push_back(std::move(r));
    };
    run1("pipeline", m.pipeline);
    run1("no_eei", no_eei);
    run1("llm_graph", m.llm);
    run1("cold_rule", m.cold_rule);
    run1("assoc_rules", m.rules);
    run1("itemcf", m.itemcf);
    run1("popularity", m.popularity);
    std::vector<double> curve_all, curve_cold;
    for (double s : kShares) {
        m.pipeline.set_shares({1.0 - s, s});
        curve_all.push_back(recall_of(m.pipeline, q_all));
        curve_cold.push_back(recall_of(m.pipeline, q_cold));
    }
    say("task 1 done ({:.1f} s)\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - clock0).count());

    // ---- Task 2: next basket ----
    Vocabulary<UserId> members;
    const auto purchases = read_purchase_events(opt.data / "member_purchases.csv", PurchaseColumns{"Member_number", "Date", "itemDescription"},
                                                items, members, csv_opt);
    const Baskets trips = Baskets::from_events(purchases, BasketKey::user_day, n);
    Baskets nb_train, nb_sim_train;
    std::vector<Query> q_next, s_next;
    next_basket_split(trips, 0, nb_train, q_next);
    next_basket_split(trips, 1, nb_sim_train, s_next);
    std::size_t chosen_next = 0;
    {
        NextBasketModels sim(nb_sim_train, prior, map, kBetas[chosen_beta]);
        double best = -1;
        say("task 2: {} member baskets, {} test members, {} simulated; simulated share curve:", trips.size(), q_next.size(), s_next.size());
        for (std::size_t s = 0; s < kShares.size(); ++s) {
            sim.pipeline.set_shares({1.0 - kShares[s], kShares[s]});
            const double r = recall_of(sim.pipeline, s_next);
            say(" {:.1f}: {:.4f}", kShares[s], r);
            if (r > best) best = r, chosen_next = s;  // ties keep the smaller share (the base ranker)
        }
        say("\n  chosen share {:.1f}\n", kShares[chosen_next]);
    }
    NextBasketModels m2(nb_train, prior, map, kBetas[chosen_beta]);
    m2.pipeline.set_shares({1.0 - kShares[chosen_next], kShares[chosen_next]});
    std::vector<double> next_curve;
    auto run2 = [&](std::string_view name, auto& rec) {
        for (Row& r : rows)
            if (r.method == name) r.next = evaluate(rec, q_next, n).summary(boot);
    };
    run2("pipeline", m2.pipeline);
    run2("no_eei", m2.pipeline);  // the next-basket pipeline has no E-E-I stage
    run2("llm_graph", m2.llm);
    run2("cold_rule", m2.cold_rule);
    run2("assoc_rules", m2.rules);
    run2("itemcf", m2.itemcf);
    run2("popularity", m2.popularity);
    for (double s : kShares) {
        m2.pipeline.set_shares({1.0 - s, s});
        next_curve.push_back(recall_of(m2.pipeline, q_next));
    }
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - clock0).count();

    // ---- Output ----
    if (opt.json) {
        for (const Row& r : rows) {
            auto fig = [&](std::string_view what, const Interval& v, std::string_view unit) {
                examples::emit(fmt::format("groceries.{}.{}", r.method, what), v.estimate, unit);
                examples::emit(fmt::format("groceries.{}.{}_lo", r.method, what), v.lower, fmt::format("{} (95% bootstrap lower)", unit));
                examples::emit(fmt::format("groceries.{}.{}_hi", r.method, what), v.upper, fmt::format("{} (95% bootstrap upper)", unit));
            };
            fig("recall_at_10", r.overall.recall, "Recall@10");
            fig("ndcg_at_10", r.overall.ndcg, "NDCG@10");
            fig("recall_at_10_cold", r.cold.recall, "Recall@10 on cold-start items");
            fig("next_basket_recall_at_10", r.next.recall, "next-basket Recall@10");
        }
        examples::emit("groceries.assoc_rules.rule_count", static_cast<double>(arules_all.rule_count()), "rules (support 0.001, confidence 0.5, all baskets)");
        for (std::size_t s = 0; s < kShares.size(); ++s) {
            examples::emit(fmt::format("groceries.merge_curve.{:.1f}.recall_at_10", kShares[s]), curve_all[s], "Recall@10");
            examples::emit(fmt::format("groceries.merge_curve.{:.1f}.recall_at_10_cold", kShares[s]), curve_cold[s], "Recall@10 on cold-start items");
        }
        examples::emit("groceries.merge_curve.chosen_share", kShares[chosen], "complementary channel share of the 10 slots");
        for (std::size_t s = 0; s < kShares.size(); ++s)
            examples::emit(fmt::format("groceries.next_basket_curve.{:.1f}.recall_at_10", kShares[s]), next_curve[s], "next-basket Recall@10");
        examples::emit("groceries.next_basket_curve.chosen_share", kShares[chosen_next], "U2E2I channel share of the 10 slots (rest: popularity)");
        examples::emit("groceries.total_s", total_s, "s");
        examples::emit("groceries.merge_curve.chosen_floor_quantile", kFloors[chosen_floor], "cold channel score floor (quantile of its best score)");
        return 0;
    }
    auto ci = [](const Interval& v) { return fmt::format("{:.4f} [{:.3f}, {:.3f}]", v.estimate, v.lower, v.upper); };
    fmt::print("\nGroceries, seed {}, {} cold items (95% bootstrap intervals)\n\n", opt.seed, opt.cold_items);
    fmt::print("| method | Recall@10 | NDCG@10 | Recall@10 cold | next-basket Recall@10 |\n|---|---|---|---|---|\n");
    for (const Row& r : rows)
        fmt::print("| {} | {} | {} | {} | {} |\n", r.method, ci(r.overall.recall), ci(r.overall.ndcg), ci(r.cold.recall), ci(r.next.recall));
    fmt::print("\nmerge curve (share of the complementary channel at score floor quantile {:.2f}: overall / cold Recall@10):\n", kFloors[chosen_floor]);
    for (std::size_t s = 0; s < kShares.size(); ++s)
        fmt::print("  {:.1f}: {:.4f} / {:.4f}{}\n", kShares[s], curve_all[s], curve_cold[s], s == chosen ? "   <- chosen on the simulated split" : "");
    fmt::print("\nnext basket: share of U2E2I next to popularity: Recall@10\n");
    for (std::size_t s = 0; s < kShares.size(); ++s)
        fmt::print("  {:.1f}: {:.4f}{}\n", kShares[s], next_curve[s], s == chosen_next ? "   <- chosen on the simulated split" : "");
    fmt::print("\nassociation rules at support 0.001, confidence 0.5 on all baskets: {} (arules: 5668)\ntotal {:.1f} s\n",
               arules_all.rule_count(), total_s);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "groceries: %s\n", e.what());
    return 1;
}
