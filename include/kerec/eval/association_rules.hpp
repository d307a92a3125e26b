// kerec/eval/association_rules.hpp — the association-rule baseline, mined as R's arules apriori
// mines them, and a recommender over the rules.
//
// Over N baskets, support(X) = count(X)/N. Frequent itemsets: count(Z) >= ceil(N · min_support),
// 1 <= |Z| <= max_length. Rules X ⇒ {y} for every frequent Z and y ∈ Z, X = Z \ {y}, with
// |Z| >= min_length, confidence = count(Z)/count(X) >= min_confidence (arules' 1e-12 tolerance),
// support = count(Z)/N, lift = confidence · N / count(y). With min_length 1 (arules' default)
// that includes {} ⇒ {y} when support(y) >= min_confidence. Same definitions and defaults as
// arules (support 0.1, confidence 0.8, minlen 1, maxlen 10), hence the same rules.
// Mining: depth-first over vertical tid-lists (Eclat), items in ascending frequency; the frequent
// itemsets form a prefix tree (children contiguous, sorted) where a rule's antecedent is a node:
// O(Σ over frequent Z of the tid-list intersections), memory O(tree + one tid-list per depth).
// Recommend: walk the tree along the context's items (each visited node is a frequent subset X of
// the context) and collect the consequents of X's rules: O(frequent subsets of the context + rules).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/recommendation.hpp"
#include "kerec/eval/baskets.hpp"
#include "kerec/eval/detail/request_filter.hpp"

namespace kerec {

/// arules' apriori parameters, with its defaults.
struct AprioriOptions {
    double min_support = 0.1;     ///< in (0, 1]
    double min_confidence = 0.8;  ///< in [0, 1]
    std::size_t min_length = 1;   ///< minimal |X ∪ {y}| of a rule (1 allows empty antecedents)
    std::size_t max_length = 10;  ///< maximal |X ∪ {y}| (itemsets are mined up to this size)
};

/// One rule X ⇒ {y}; `antecedent` is sorted by item id and views the miner's storage.
struct AssociationRule {
    std::span<const ItemId> antecedent;
    ItemId consequent;
    std::uint32_t count = 0;  ///< baskets holding X ∪ {y}
    double support = 0.0;
    double confidence = 0.0;
    double lift = 0.0;
};

class AssociationRules {
public:
    explicit AssociationRules(const Baskets& training, AprioriOptions options = {})
        : options_(options), transactions_(training.size()), filter_(training.item_count()) {
        if (!(options.min_support > 0.0 && options.min_support <= 1.0))
            throw InvalidArgument(fmt::format("AssociationRules: min_support = {} (expected in (0, 1])", options.min_support));
        if (!(options.min_confidence >= 0.0 && options.min_confidence <= 1.0))
            throw InvalidArgument(fmt::format("AssociationRules: min_confidence = {} (expected in [0, 1])", options.min_confidence));
        if (options.min_length == 0 || options.max_length == 0 || options.min_length > options.max_length)
            throw InvalidArgument(fmt::format("AssociationRules: min_length = {}, max_length = {} (expected 1 <= min_length <= max_length)",
                                              options.min_length, options.max_length));
        if (training.size() >= std::numeric_limits<std::uint32_t>::max())
            throw InvalidArgument("AssociationRules: more than 2^32-2 baskets");
        const double want = std::ceil(static_cast<double>(transactions_) * options.min_support);
        min_count_ = static_cast<std::uint32_t>(std::max(1.0, want));
        mine(training);
        build_rules();
    }

    /// Number of baskets the rules were mined from (N).
    std::size_t transaction_count() const noexcept { return transactions_; }
    /// ceil(N · min_support), at least 1: the count a frequent itemset needs.
    std::uint32_t min_count() const noexcept { return min_count_; }
    /// Frequent itemsets of sizes 1..max_length (what arules' apriori returns for target "frequent itemsets").
    std::size_t itemset_count() const noexcept { return nodes_.size() - 1; }
    std::size_t rule_count() const noexcept { return rules_.size(); }
    const AprioriOptions& options() const noexcept { return options_; }

    /// Rule r (grouped by antecedent). OutOfRange for r >= rule_count().
    AssociationRule rule(std::size_t r) const {
        if (r >= rules_.size()) throw OutOfRange(fmt::format("AssociationRules::rule: {} (expected < {})", r, rules_.size()));
        const Rule& x = rules_[r];
        const Node& ante = nodes_[x.antecedent];
        const double conf = static_cast<double>(x.count) / static_cast<double>(ante.count);
        return AssociationRule{
            .antecedent = std::span<const ItemId>(antecedent_items_).subspan(antecedent_offsets_[r], antecedent_offsets_[r + 1] - antecedent_offsets_[r]),
            .consequent = x.consequent,
            .count = x.count,
            .support = static_cast<double>(x.count) / static_cast<double>(transactions_),
            .confidence = conf,
            .lift = conf * static_cast<double>(transactions_) / static_cast<double>(nodes_[1 + rank_of_[x.consequent.index()]].count),
        };
    }

    /// count(itemset) when it is frequent (and at most max_length long), else 0; the empty set
    /// counts N. Repeats and order do not matter; an invalid id throws InvalidArgument.
    std::uint32_t count(std::span<const ItemId> itemset) const {
        std::vector<std::uint32_t> ranks;
        for (ItemId i : itemset) {
            if (!i.valid()) throw InvalidArgument("AssociationRules::count: invalid item id");
            if (i.index() >= rank_of_.size() || rank_of_[i.index()] == npos) return 0;
            ranks.push_back(rank_of_[i.index()]);
        }
        std::sort(ranks.begin(), ranks.end());
        ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
        const std::uint32_t n = find(ranks);
        return n == npos ? 0 : nodes_[n].count;
    }

    /// Fills `out` with the consequents of the rules whose antecedent is a subset of the
    /// request's context, each scored by its best rule's confidence (ties: higher lift, then
    /// lower id), best first, at most k, never a context or excluded item. Rules with an empty
    /// antecedent (if mined) apply to every request. Not thread-safe: one instance per thread.
    void recommend(const RecommendRequest& request, std::vector<Recommendation>& out) {
        out.clear();
        filter_.begin(request, "AssociationRules");
        context_ranks_.clear();
        for (ItemId i : filter_.context())
            if (rank_of_[i.index()] != npos) context_ranks_.push_back(rank_of_[i.index()]);
        std::sort(context_ranks_.begin(), context_ranks_.end());
        touched_.clear();
        collect(0, 0);
        best_.clear();
        for (ItemId y : touched_) {
            best_.push_back(Scored{y, best_conf_[y.index()], best_lift_[y.index()]});
            best_conf_[y.index()] = -1.0;
        }
        filter_.release();
        const std::size_t n = std::min(request.k, best_.size());
        std::partial_sort(best_.begin(), best_.begin() + static_cast<std::ptrdiff_t>(n), best_.end(), [](const Scored& a, const Scored& b) {
            if (a.confidence != b.confidence) return a.confidence > b.confidence;
            if (a.lift != b.lift) return a.lift > b.lift;
            return a.item < b.item;
        });
        for (std::size_t j = 0; j < n; ++j)
            out.push_back(Recommendation{.item = best_[j].item, .score = static_cast<float>(best_[j].confidence), .why = {}});
    }

private:
    static constexpr std::uint32_t npos = std::numeric_limits<std::uint32_t>::max();

    // Prefix tree of frequent itemsets in rank order. Node 0 is the empty set (count N); the
    // children of a node are contiguous, ascending by rank.
    struct Node {
        std::uint32_t rank = npos;
        std::uint32_t count = 0;
        std::uint32_t parent = npos;
        std::uint32_t first_child = 0;
        std::uint32_t child_count = 0;
        std::uint32_t depth = 0;
        std::uint32_t rule_begin = 0;  // rules with this node as antecedent: [rule_begin, next node's)
    };
    struct Rule {
        std::uint32_t antecedent;  // node
        ItemId consequent;
        std::uint32_t count;
    };
    struct Candidate {
        std::uint32_t rank;
        std::vector<std::uint32_t> tids;
    };
    struct Scored {
        ItemId item;
        double confidence, lift;
    };

    void mine(const Baskets& training) {
        const auto freq = training.item_frequencies();
        rank_of_.assign(training.item_count(), npos);
        std::vector<ItemId> frequent;
        for (std::uint32_t i = 0; i < freq.size(); ++i)
            if (freq[i] >= min_count_) frequent.push_back(ItemId{i});
        std::stable_sort(frequent.begin(), frequent.end(), [&](ItemId a, ItemId b) { return freq[a.index()] < freq[b.index()]; });
        item_of_rank_ = frequent;
        std::vector<Candidate> level(frequent.size());
        for (std::uint32_t r = 0; r < frequent.size(); ++r) {
            rank_of_[frequent[r].index()] = r;
            level[r].rank = r;
            level[r].tids.reserve(freq[frequent[r].index()]);
        }
        for (std::size_t b = 0; b < training.size(); ++b)
            for (ItemId i : training[b])
                if (const auto r = rank_of_[i.index()]; r != npos) level[r].tids.push_back(static_cast<std::uint32_t>(b));
        nodes_.push_back(Node{.rank = npos, .count = static_cast<std::uint32_t>(transactions_), .parent = npos, .first_child = 1,
                              .child_count = static_cast<std::uint32_t>(level.size()), .depth = 0});
        for (const auto& c : level)
            nodes_.push_back(Node{.rank = c.rank, .count = static_cast<std::uint32_t>(c.tids.size()), .parent = 0, .depth = 1});
        expand(1, level, 1);
    }

    // `level[i]` is node first + i (depth `depth`); add their children and recurse.
    void expand(std::uint32_t first, std::vector<Candidate>& level, std::size_t depth) {
        if (depth >= options_.max_length) return;
        std::vector<Candidate> next;
        std::vector<std::uint32_t> tids;
        for (std::size_t i = 0; i < level.size(); ++i) {
            next.clear();
            for (std::size_t j = i + 1; j < level.size(); ++j) {
                tids.clear();
                std::set_intersection(level[i].tids.begin(), level[i].tids.end(), level[j].tids.begin(), level[j].tids.end(),
                                      std::back_inserter(tids));
                if (tids.size() >= min_count_) next.push_back(Candidate{level[j].rank, tids});
            }
            std::vector<std::uint32_t>().swap(level[i].tids);  // no longer needed: only j > i reuse level[j]
            if (next.empty()) continue;
            const auto parent = static_cast<std::uint32_t>(first + i);
            const auto child_first = static_cast<std::uint32_t>(nodes_.size());
            nodes_[parent].first_child = child_first;
            nodes_[parent].child_count = static_cast<std::uint32_t>(next.size());
            for (const auto& c : next)
                nodes_.push_back(Node{.rank = c.rank, .count = static_cast<std::uint32_t>(c.tids.size()), .parent = parent,
                                      .depth = static_cast<std::uint32_t>(depth + 1)});
            expand(child_first, next, depth + 1);
        }
    }

    // Node of the itemset with these ascending ranks, or npos.
    std::uint32_t find(std::span<const std::uint32_t> ranks) const {
        std::uint32_t node = 0;
        for (std::uint32_t r : ranks) {
            node = child(node, r);
            if (node == npos) return npos;
        }
        return node;
    }
    std::uint32_t child(std::uint32_t node, std::uint32_t rank) const {
        const Node& p = nodes_[node];
        const auto begin = nodes_.begin() + p.first_child, end = begin + p.child_count;
        const auto it = std::lower_bound(begin, end, rank, [](const Node& n, std::uint32_t r) { return n.rank < r; });
        return it != end && it->rank == rank ? static_cast<std::uint32_t>(it - nodes_.begin()) : npos;
    }

    void build_rules() {
        const double min_conf = options_.min_confidence - 1e-12;
        std::vector<Rule> rules;
        std::vector<std::uint32_t> path, sub;
        for (std::uint32_t z = 1; z < nodes_.size(); ++z) {
            const Node& node = nodes_[z];
            if (node.depth < options_.min_length) continue;
            path.clear();
            for (std::uint32_t n = z; n != 0; n = nodes_[n].parent) path.push_back(nodes_[n].rank);
            std::reverse(path.begin(), path.end());
            for (std::size_t k = 0; k < path.size(); ++k) {
                sub.assign(path.begin(), path.end());
                sub.erase(sub.begin() + static_cast<std::ptrdiff_t>(k));
                const std::uint32_t x = find(sub);  // frequent by downward closure
                if (static_cast<double>(node.count) / static_cast<double>(nodes_[x].count) >= min_conf)
                    rules.push_back(Rule{x, item_of_rank_[path[k]], node.count});
            }
        }
        // Group by antecedent node (counting sort, stable).
        std::vector<std::uint32_t> start(nodes_.size() + 1, 0);
        for (const Rule& r : rules) ++start[r.antecedent + 1];
        for (std::size_t n = 0; n < nodes_.size(); ++n) start[n + 1] += start[n];
        for (std::size_t n = 0; n < nodes_.size(); ++n) nodes_[n].rule_begin = start[n];
        rule_end_ = start.back();
        rules_.resize(rules.size());
        for (const Rule& r : rules) rules_[start[r.antecedent]++] = r;
        antecedent_offsets_.assign(1, 0);
        for (const Rule& r : rules_) {
            const std::size_t from = antecedent_items_.size();
            for (std::uint32_t n = r.antecedent; n != 0; n = nodes_[n].parent) antecedent_items_.push_back(item_of_rank_[nodes_[n].rank]);
            std::sort(antecedent_items_.begin() + static_cast<std::ptrdiff_t>(from), antecedent_items_.end());
            antecedent_offsets_.push_back(antecedent_items_.size());
        }
        best_conf_.assign(rank_of_.size(), -1.0);
        best_lift_.assign(rank_of_.size(), 0.0);
    }

    std::uint32_t rules_end(std::uint32_t node) const noexcept {
        return node + 1 < nodes_.size() ? nodes_[node + 1].rule_begin : rule_end_;
    }

    // Apply the rules of `node` (a frequent subset of the context), then extend it by each later
    // context item that keeps it frequent.
    void collect(std::uint32_t node, std::size_t from) {
        for (std::uint32_t r = nodes_[node].rule_begin; r < rules_end(node); ++r) {
            const Rule& rule = rules_[r];
            const ItemId y = rule.consequent;
            if (filter_.blocked(y)) continue;
            const double conf = static_cast<double>(rule.count) / static_cast<double>(nodes_[node].count);
            const double lift = conf * static_cast<double>(transactions_) / static_cast<double>(nodes_[1 + rank_of_[y.index()]].count);
            double& bc = best_conf_[y.index()];
            if (bc < 0.0) touched_.push_back(y);
            if (conf > bc || (conf == bc && lift > best_lift_[y.index()])) {
                bc = conf;
                best_lift_[y.index()] = lift;
            }
        }
        for (std::size_t i = from; i < context_ranks_.size(); ++i)
            if (const std::uint32_t c = child(node, context_ranks_[i]); c != npos) collect(c, i + 1);
    }

    AprioriOptions options_;
    std::size_t transactions_ = 0;
    std::uint32_t min_count_ = 1;
    std::vector<std::uint32_t> rank_of_;   // item -> rank among frequent items (ascending count), npos if infrequent
    std::vector<ItemId> item_of_rank_;
    std::vector<Node> nodes_;
    std::vector<Rule> rules_;
    std::uint32_t rule_end_ = 0;
    std::vector<std::size_t> antecedent_offsets_;
    std::vector<ItemId> antecedent_items_;
    // Request workspace.
    detail::RequestFilter filter_;
    std::vector<std::uint32_t> context_ranks_;
    std::vector<ItemId> touched_;
    std::vector<double> best_conf_, best_lift_;
    std::vector<Scored> best_;
};

}  // namespace kerec
