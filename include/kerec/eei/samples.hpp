// kerec/eei/samples.hpp — complementary exposure samples for the E-E-I model, and a builder from
// Event logs.
//
// The paper trains its Entity-Entity-Item weight model on "real complementary exposure-click
// samples": an item i of entity c shown to a user because of a purchase of an item of entity t,
// label 1 when it was clicked. EEISample is that row as a plain struct callers may fill from their
// own logs (trigger entity t, candidate entity c, item, the edge's learned weight and LLM
// confidence, dense item features, the caller's base-ranker logit, label). build_eei_samples makes
// them from Event spans with `trigger` set: exposures are grouped with their clicks by
// (request, item) when the log carries request ids, else by (user, trigger item, time, item).
// ItemFeatures is a dense per-item feature table (row-major, n × f). Building: O(events) expected.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/item_entity_map.hpp"
#include "kerec/core/recommendation.hpp"

namespace kerec {

/// One complementary exposure (see the file comment).
struct EEISample {
    UserId user;
    EntityId trigger;    ///< entity of the purchase that caused the exposure
    EntityId candidate;  ///< entity of the shown item
    ItemId item;
    std::uint16_t position = 0;
    std::int64_t time = 0;
    float edge_weight = 0.0f;     ///< learned w(trigger, candidate); 0 when not an edge
    float llm_confidence = 0.0f;  ///< the LLM's prior of the edge; 0 when not an edge
    std::vector<float> item_features;  ///< dense features of the item (same length for every sample)
    float base_logit = 0.0f;      ///< the caller's existing ranker's logit for this exposure
    float label = 0.0f;           ///< 1 = clicked, 0 = not
};

/// Dense item features, one row of `dim()` floats per item (row-major). Rows must be finite
/// where they are used (the E-E-I model rejects NaN/Inf naming the sample and feature).
class ItemFeatures {
public:
    ItemFeatures() = default;
    ItemFeatures(std::size_t items, std::size_t dim) : n_(items), dim_(dim), data_(items * dim, 0.0f) {}

    std::size_t size() const noexcept { return n_; }
    std::size_t dim() const noexcept { return dim_; }
    std::span<float> row(ItemId i) { return {data_.data() + index(i) * dim_, dim_}; }
    std::span<const float> row(ItemId i) const { return {data_.data() + index(i) * dim_, dim_}; }
    /// Append rows for new items (zeros); returns the first new id.
    ItemId grow(std::size_t count) {
        const ItemId first{static_cast<std::uint32_t>(n_)};
        n_ += count;
        data_.resize(n_ * dim_, 0.0f);
        return first;
    }

private:
    std::size_t index(ItemId i) const {
        if (!i.valid() || i.index() >= n_) throw OutOfRange(fmt::format("ItemFeatures: item {} (expected < {})", i, n_));
        return i.index();
    }
    std::size_t n_ = 0, dim_ = 0;
    std::vector<float> data_;
};

struct EEISampleOptions {
    bool graph_edges_only = true;  ///< keep only exposures whose (trigger, candidate) is a graph edge
};

/// What the builder saw.
struct EEISampleStats {
    std::size_t exposures = 0, clicks = 0;     ///< events with a trigger, by kind
    std::size_t samples = 0, positives = 0;
    std::size_t unmapped = 0;                  ///< trigger or shown item without an entity (or invalid)
    std::size_t no_edge = 0;                   ///< dropped: not a graph edge (graph_edges_only)
    std::size_t clicks_without_exposure = 0;   ///< clicks whose exposure is not in the span
};

/// Samples from `events` (any order): every exposure with a valid trigger item whose trigger and
/// shown item map to entities (primary entities of `map`), label = whether a click of the same
/// exposure is in the log. Edge weight and LLM confidence come from `graph` (anything with
/// find(from, to), weight_at(i) and, optionally, payload_at(i).prior). `features` (optional)
/// fills item_features. Items outside the map throw OutOfRange.
template <class Graph>
std::vector<EEISample> build_eei_samples(std::span<const Event> events, const ItemEntityMap& map, const Graph& graph,
                                         const ItemFeatures* features = nullptr, const EEISampleOptions& options = {},
                                         EEISampleStats* stats_out = nullptr) {
    EEISampleStats st;
    struct Key {
        std::uint64_t a, b;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& k) const noexcept {
            return static_cast<std::size_t>((k.a * 0x9E3779B97F4A7C15ULL) ^ (k.b + 0x632BE59BD9B4E019ULL + (k.a << 6)));
        }
    };
    auto key = [](const Event& e) {
        if (e.request != 0) return Key{(std::uint64_t{1} << 63) | e.request, e.item.value()};
        return Key{(std::uint64_t{e.user.value()} << 32) | e.trigger.value(),
                   (static_cast<std::uint64_t>(e.time) << 32) ^ e.item.value()};
    };
    auto check_item = [&](ItemId i, std::size_t k) {
        if (i.valid() && i.index() >= map.item_count())
            throw OutOfRange(fmt::format("build_eei_samples: event {} names item {} (expected < {})", k, i, map.item_count()));
    };
    std::vector<EEISample> out;
    std::unordered_map<Key, std::size_t, KeyHash> index;
    std::vector<std::size_t> click_events;
    for (std::size_t k = 0; k < events.size(); ++k) {
        const Event& e = events[k];
        if ((e.kind != EventKind::exposure && e.kind != EventKind::click) || !e.trigger.valid()) continue;
        check_item(e.item, k);
        check_item(e.trigger, k);
        if (e.kind == EventKind::click) {
            ++st.clicks;
            click_events.push_back(k);
            continue;
        }
        ++st.exposures;
        const EntityId t = map.primary_or_none(e.trigger), c = map.primary_or_none(e.item);
        if (!t.valid() || !c.valid()) {
            ++st.unmapped;
            continue;
        }
        EEISample s;
        s.user = e.user, s.trigger = t, s.candidate = c, s.item = e.item, s.position = e.position, s.time = e.time;
        const auto edge = graph.find(t, c);
        if (edge == Graph::npos) {
            if (options.graph_edges_only) {
                ++st.no_edge;
                continue;
            }
        } else {
            s.edge_weight = graph.weight_at(edge);
            if constexpr (requires { graph.payload_at(edge).prior; }) s.llm_confidence = graph.payload_at(edge).prior;
        }
        if (features) {
            const auto row = features->row(e.item);
            s.item_features.assign(row.begin(), row.end());
        }
        index.emplace(key(e), out.size());
        out.push_back(std::move(s));
    }
    for (const std::size_t k : click_events) {
        const Event& e = events[k];
        const auto it = index.find(key(e));
        if (it == index.end()) {
            const EntityId t = map.primary_or_none(e.trigger), c = map.primary_or_none(e.item);
            if (t.valid() && c.valid() && (!options.graph_edges_only || graph.find(t, c) != Graph::npos)) ++st.clicks_without_exposure;
            continue;
        }
        out[it->second].label = 1.0f;
    }
    st.samples = out.size();
    for (const auto& s : out) st.positives += s.label > 0.0f ? 1 : 0;
    if (stats_out) *stats_out = st;
    return out;
}

/// The candidate a BaseRanker sees for a sample.
inline Candidate candidate_of(const EEISample& s) {
    return Candidate{s.user, s.item, s.trigger, s.candidate, s.position, s.time};
}

/// Fill every sample's base_logit from `ranker` (a BaseRanker), in batches of `batch`.
template <class Ranker>
    requires BaseRanker<Ranker>
void fill_base_logits(std::span<EEISample> samples, Ranker& ranker, std::size_t batch = 4096) {
    std::vector<Candidate> c;
    std::vector<float> l;
    for (std::size_t b = 0; b < samples.size(); b += batch) {
        const std::size_t n = std::min(batch, samples.size() - b);
        c.resize(n), l.assign(n, 0.0f);
        for (std::size_t i = 0; i < n; ++i) c[i] = candidate_of(samples[b + i]);
        ranker.score(std::span<const Candidate>(c), std::span<float>(l));
        for (std::size_t i = 0; i < n; ++i) {
            if (!std::isfinite(l[i]))
                throw Error(fmt::format("fill_base_logits: the base ranker gave {} for sample {} (item {})", l[i], b + i, samples[b + i].item));
            samples[b + i].base_logit = l[i];
        }
    }
}

}  // namespace kerec
