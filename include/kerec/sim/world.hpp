// kerec/sim/world.hpp — a seeded synthetic marketplace with hidden ground truth.
//
// Stands in for the paper's Alipay logs so every component can be tested and measured against
// known answers: an entity taxonomy (substitute groups = head nouns, several surface forms per
// entity, some held out of the exported dictionary), a hidden directed complementary graph with
// strengths s(a,b) in (0,1] and heavy-tailed degrees, items whose titles are brand + modifiers +
// surface form + size, Zipf popularity, users with interests and a time-ordered log of browsing
// sessions (views, mostly of substitutes of the purchase that follows), bills, exposure lists
// (one request id per list) and clicks. A click on item i shown at position k after buying an item
// of entity a:
//   P(click) = bias(k) * (0.03 + 0.55 * s(a, entity(i))) * boost(popularity(i)),  bias(k) = (1+k)^-0.6.
// New entities and items arrive during the log (cold start). Generation is O(items + events).
// The same Config (incl. seed) gives the same world on the same platform (compiler, standard
// library, libm). Across platforms it may differ: the random draws are exact integer arithmetic,
// but popularity weights, degrees and the click model go through std::pow / std::log10, whose
// last bit is not the same in every math library, and one such bit can flip a draw.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/item_entity_map.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/core/random.hpp"
#include "kerec/core/vocabulary.hpp"
#include "kerec/sim/taxonomy.hpp"

namespace kerec::sim {

/// Size and shape of a synthetic world. Start from a preset and override fields.
struct Config {
    std::string name = "custom";
    std::size_t entities = 60;
    std::size_t items = 600;
    std::size_t users = 200;
    std::size_t events = 5000;
    std::uint64_t seed = 42;
    double held_out_share = 0.3;    ///< share of entities with one surface form held out of the dictionary
    double new_entity_share = 0.05; ///< entities that arrive during the log (cold start)
    double new_item_share = 0.10;   ///< items that arrive during the log (includes all items of new entities)
    double entity_zipf = 1.05;      ///< Zipf exponent of entity popularity
    double item_zipf = 1.0;         ///< Zipf exponent of item popularity within an entity
    std::int64_t days = 30;         ///< length of the event log
    int exposures_per_bill = 4;     ///< items shown after each purchase
    double complement_purchase_prob = 0.35;  ///< chance a purchase is followed by one of a complement
    double views_per_bill = 2.0;    ///< mean number of items viewed before a session's purchase (geometric)
    double view_noise = 0.2;        ///< share of those views on entities outside the purchase's substitute group
    double view_same_entity_share = 0.3;  ///< share of the substitute views on other items of the purchased entity

    /// "tiny" (tests, < 50 ms), "small", "medium", "large" (~1M items, 100k entities, 10M events).
    static Config preset(std::string_view name, std::uint64_t seed = 42) {
        Config c;
        c.seed = seed;
        c.name = std::string(name);
        if (name == "tiny") {
            c.entities = 60, c.items = 600, c.users = 200, c.events = 5000;
        } else if (name == "small") {
            c.entities = 600, c.items = 10000, c.users = 2000, c.events = 100000;
        } else if (name == "medium") {
            c.entities = 5000, c.items = 100000, c.users = 20000, c.events = 1000000;
        } else if (name == "large") {
            c.entities = 100000, c.items = 1000000, c.users = 200000, c.events = 10000000;
        } else {
            throw InvalidArgument(fmt::format("sim::Config::preset: unknown size '{}' (expected tiny, small, medium or large)", name));
        }
        return c;
    }

    void validate() const {
        auto share = [](double v, const char* what) {
            if (!(v >= 0.0 && v <= 1.0))
                throw InvalidArgument(fmt::format("sim::Config: {} = {} (expected a share in [0, 1])", what, v));
        };
        share(held_out_share, "held_out_share");
        share(new_entity_share, "new_entity_share");
        share(new_item_share, "new_item_share");
        share(complement_purchase_prob, "complement_purchase_prob");
        share(view_noise, "view_noise");
        share(view_same_entity_share, "view_same_entity_share");
        if (!(views_per_bill >= 0.0 && views_per_bill <= 32.0))
            throw InvalidArgument(fmt::format("sim::Config: views_per_bill = {} (expected 0..32)", views_per_bill));
        if (entities < 2) throw InvalidArgument(fmt::format("sim::Config: entities = {} (expected >= 2)", entities));
        if (items < entities)
            throw InvalidArgument(fmt::format("sim::Config: items = {} (expected >= entities = {})", items, entities));
        if (entities > 4000000) throw InvalidArgument(fmt::format("sim::Config: entities = {} (at most 4,000,000)", entities));
        if (users == 0) throw InvalidArgument("sim::Config: users = 0 (expected >= 1)");
        if (days <= 0) throw InvalidArgument(fmt::format("sim::Config: days = {} (expected > 0)", days));
        if (exposures_per_bill < 0 || exposures_per_bill > 1000)
            throw InvalidArgument(fmt::format("sim::Config: exposures_per_bill = {} (expected 0..1000)", exposures_per_bill));
        if (!(entity_zipf >= 0.0 && entity_zipf < 5.0) || !(item_zipf >= 0.0 && item_zipf < 5.0))
            throw InvalidArgument("sim::Config: zipf exponents must be in [0, 5)");
    }
};

/// One way of writing an entity in a title ("tortilla chips", "tortilla crisps", "tortila chips").
struct SurfaceForm {
    std::string text;       ///< lower case
    EntityId entity;
    bool in_dictionary = true;  ///< false: held out of dictionary(), to be found by learned extraction
};

struct EntityInfo {
    std::uint32_t group = 0;        ///< substitute group (entities of one group replace each other)
    std::uint32_t department = 0;
    double popularity = 0.0;        ///< share of bills drawn from this entity (sums to 1)
    std::int64_t arrival_time = 0;  ///< 0 for the initial catalogue
    bool is_new = false;            ///< arrives during the log (cold start)
    std::uint32_t first_form = 0;   ///< its forms are surface_forms()[first_form, first_form + form_count)
    std::uint32_t form_count = 0;
};

struct Item {
    EntityId entity;
    std::string title;
    std::uint32_t form = 0;        ///< index into surface_forms(): the form written in the title
    std::uint32_t span_begin = 0;  ///< byte span of that form inside the title (title case may differ)
    std::uint32_t span_end = 0;
    std::string brand;
    double popularity = 0.0;       ///< share of bills (sums to 1 over items)
    std::int64_t arrival_time = 0;
    bool is_new = false;
};

struct User {
    std::vector<std::uint32_t> interests;  ///< substitute groups the user buys from most
};

/// A hidden complementary relation: `to` complements `from` with `strength`.
struct TrueEdge {
    EntityId from;
    EntityId to;
    float strength = 0.0f;  ///< in (0, 1]
    double traffic = 0.0;   ///< share of purchase traffic the relation carries (sums to 1)
};

/// Headline numbers of a world (what scripts/demo prints).
struct DegreeStats {
    double mean = 0;
    std::uint32_t median = 0, p90 = 0, p99 = 0, max = 0;
};
struct Summary {
    std::size_t entities = 0, new_entities = 0, groups = 0, departments = 0;
    std::size_t forms = 0, dictionary_forms = 0, held_out_forms = 0;
    std::size_t items = 0, new_items = 0, held_out_titles = 0, users = 0;
    std::size_t bills = 0, exposures = 0, clicks = 0, views = 0;
    std::size_t edges = 0;
    DegreeStats out_degree, in_degree;
    double cold_start_event_share = 0;  ///< share of events on items of the cold-start catalogue
    double ctr_complement = 0;          ///< click-through of exposures that are true complements
    double ctr_other = 0;               ///< click-through of the other exposures
    double top1pct_entity_share = 0;    ///< bill share of the 1% most popular entities
};

class World {
public:
    /// Generate a world. Throws InvalidArgument on an invalid config.
    static World generate(const Config& config, ProgressCallback progress = {});

    const Config& config() const noexcept { return config_; }

    // --- catalogue ----------------------------------------------------------------------------
    const Vocabulary<EntityId>& entities() const noexcept { return entities_; }
    std::span<const EntityInfo> entity_info() const noexcept { return entity_info_; }
    const EntityInfo& entity(EntityId e) const { return entity_info_.at(check(e)); }
    std::span<const SurfaceForm> surface_forms() const noexcept { return forms_; }
    std::span<const SurfaceForm> forms_of(EntityId e) const {
        const auto& info = entity(e);
        return std::span<const SurfaceForm>(forms_).subspan(info.first_form, info.form_count);
    }
    /// (surface form, entity) for every form that is in the dictionary; a form maps to one entity.
    std::vector<std::pair<std::string, EntityId>> dictionary() const {
        std::vector<std::pair<std::string, EntityId>> out;
        for (const auto& f : forms_)
            if (f.in_dictionary) out.emplace_back(f.text, f.entity);
        return out;
    }
    std::span<const Item> items() const noexcept { return items_; }
    const Item& item(ItemId i) const {
        if (!i.valid() || i.index() >= items_.size())
            throw InvalidArgument(fmt::format("sim::World::item: id {} out of range ({} items)", i, items_.size()));
        return items_[i.index()];
    }
    std::span<const User> users() const noexcept { return users_; }
    /// The log, ordered by time: per session, views (browsing before the purchase), the bill, one
    /// list of exposures (trigger = purchased item) with their clicks, and further bills.
    std::span<const Event> events() const noexcept { return events_; }
    /// Number of exposure lists in the log; their Event::request ids are 1..request_count().
    std::uint32_t request_count() const noexcept { return request_count_; }

    /// The time that splits the log into the first `share` of its events (time < cut: training)
    /// and the rest (time >= cut: test). share in [0, 1]: 0 gives the first event's time, 1 one
    /// past the last one. Events of one second stay on one side, so the split is at that second.
    std::int64_t split_time(double share) const {
        if (!(share >= 0.0 && share <= 1.0))
            throw InvalidArgument(fmt::format("sim::World::split_time: share = {} (expected a share in [0, 1])", share));
        if (events_.empty()) return 0;
        const auto k = static_cast<std::size_t>(share * static_cast<double>(events_.size()));
        return k >= events_.size() ? events_.back().time + 1 : events_[k].time;
    }
    /// The events with time < t (a prefix of the log) and with time >= t (the rest).
    std::span<const Event> events_before(std::int64_t t) const noexcept {
        return std::span<const Event>(events_).first(first_event_at(t));
    }
    std::span<const Event> events_from(std::int64_t t) const noexcept {
        return std::span<const Event>(events_).subspan(first_event_at(t));
    }
    /// Items that arrive at or after time t (so no event before t mentions them), ascending ids.
    std::vector<ItemId> items_arriving_from(std::int64_t t) const {
        std::vector<ItemId> out;
        for (std::uint32_t i = 0; i < items_.size(); ++i)
            if (items_[i].arrival_time >= t) out.push_back(ItemId{i});
        return out;
    }
    /// Entities that arrive at or after time t, ascending ids.
    std::vector<EntityId> entities_arriving_from(std::int64_t t) const {
        std::vector<EntityId> out;
        for (std::uint32_t e = 0; e < entity_info_.size(); ++e)
            if (entity_info_[e].arrival_time >= t) out.push_back(EntityId{e});
        return out;
    }
    /// The true item → entity relation (one entity per item), each entity's items ranked by the
    /// item's popularity (the prior). For tests and oracles: a pipeline extracts its own map.
    ItemEntityMap item_entity_map() const {
        std::vector<EntityId> entity(items_.size());
        std::vector<float> prior(items_.size());
        for (std::size_t i = 0; i < items_.size(); ++i) {
            entity[i] = items_[i].entity;
            prior[i] = static_cast<float>(items_[i].popularity);
        }
        return ItemEntityMap::from_primary(entity, entity_info_.size(), prior);
    }

    std::size_t group_count() const noexcept { return group_names_.size(); }
    std::uint32_t group_of(EntityId e) const { return entity(e).group; }
    std::string_view group_name(std::uint32_t g) const { return group_names_.at(g); }
    std::span<const EntityId> group_members(std::uint32_t g) const {
        if (g >= group_names_.size())
            throw InvalidArgument(fmt::format("sim::World::group_members: group {} out of range ({})", g, group_names_.size()));
        return std::span<const EntityId>(group_members_).subspan(group_offsets_[g], group_offsets_[g + 1] - group_offsets_[g]);
    }
    std::string_view department_name(std::uint32_t d) const { return detail::kDepartments.at(d).name; }
    bool substitutes(EntityId a, EntityId b) const { return a != b && group_of(a) == group_of(b); }

    // --- hidden ground truth (evaluation only) ------------------------------------------------
    std::span<const TrueEdge> complement_edges() const noexcept { return edges_; }
    std::span<const TrueEdge> complements_of(EntityId e) const {
        const auto i = check(e);
        return std::span<const TrueEdge>(edges_).subspan(edge_offsets_[i], edge_offsets_[i + 1] - edge_offsets_[i]);
    }
    float strength(EntityId from, EntityId to) const {
        const auto out = complements_of(from);
        check(to);
        auto it = std::lower_bound(out.begin(), out.end(), to, [](const TrueEdge& x, EntityId t) { return x.to < t; });
        return it != out.end() && it->to == to ? it->strength : 0.0f;
    }
    double click_probability(EntityId trigger, ItemId shown, std::uint16_t position) const {
        const auto& it = item(shown);
        const double s = strength(trigger, it.entity);
        const double bias = std::pow(1.0 + position, -0.6);
        const double boost = std::clamp(1.0 + 0.12 * std::log10(std::max(it.popularity * static_cast<double>(items_.size()), 1e-6)), 0.6, 1.4);
        return std::min(1.0, bias * (0.03 + 0.55 * s) * boost);
    }
    bool simulate_click(EntityId trigger, ItemId shown, std::uint16_t position, Rng& rng) const {
        return rng.uniform() < click_probability(trigger, shown, position);
    }

    /// Online feedback: replay the purchases (bills) of `log` and, after each, show the items that
    /// `recommend(purchased item, shown)` puts into `shown` (top first, at most 1000), drawing clicks
    /// from the click model. Returns the exposure and click events, trigger = the purchased item,
    /// in log order. Use it to let a recommender (e.g. a complementary graph) collect the feedback
    /// its own recommendations earn. `max_bills` = 0: every bill. Deterministic for a seed.
    /// Each non-empty list gets the next request id from `first_request` on (0: request_count() + 1,
    /// after the world's own lists); pass distinct ranges to keep several calls apart.
    template <class Recommend>
    std::vector<Event> simulate_exposures(std::span<const Event> log, Recommend&& recommend, std::uint64_t seed,
                                          std::size_t max_bills = 0, std::uint32_t first_request = 0) const {
        Rng rng(seed);
        std::vector<Event> out;
        std::vector<ItemId> shown;
        std::size_t bills = 0;
        std::uint32_t request = (first_request ? first_request : request_count_ + 1) - 1;
        for (const Event& ev : log) {
            if (ev.kind != EventKind::bill) continue;
            if (max_bills && bills == max_bills) break;
            ++bills;
            const EntityId truth = item(ev.item).entity;
            shown.clear();
            recommend(ev.item, shown);
            const std::size_t n = std::min<std::size_t>(shown.size(), 1000);
            if (n) ++request;
            for (std::size_t k = 0; k < n; ++k) {
                const auto pos = static_cast<std::uint16_t>(k);
                out.push_back(Event{.user = ev.user, .item = shown[k], .time = ev.time, .kind = EventKind::exposure, .position = pos,
                                    .trigger = ev.item, .request = request});
                if (simulate_click(truth, shown[k], pos, rng))
                    out.push_back(Event{.user = ev.user, .item = shown[k], .time = ev.time, .kind = EventKind::click, .position = pos,
                                        .trigger = ev.item, .request = request});
            }
        }
        return out;
    }

    Summary summary() const;

private:
    std::size_t first_event_at(std::int64_t t) const noexcept {
        return static_cast<std::size_t>(std::lower_bound(events_.begin(), events_.end(), t,
                                                         [](const Event& e, std::int64_t x) { return e.time < x; }) -
                                        events_.begin());
    }
    std::size_t check(EntityId e) const {
        if (!e.valid() || e.index() >= entity_info_.size())
            throw InvalidArgument(fmt::format("sim::World: entity id {} out of range ({} entities)", e, entity_info_.size()));
        return e.index();
    }

    Config config_;
    Vocabulary<EntityId> entities_;
    std::vector<EntityInfo> entity_info_;
    std::vector<SurfaceForm> forms_;
    std::vector<std::string> group_names_;
    std::vector<std::uint32_t> group_offsets_;
    std::vector<EntityId> group_members_;
    std::vector<Item> items_;
    std::vector<User> users_;
    std::vector<Event> events_;
    std::uint32_t request_count_ = 0;
    std::vector<TrueEdge> edges_;
    std::vector<std::uint32_t> edge_offsets_;

    friend class detail_generator;
};

}  // namespace kerec::sim

#include "kerec/sim/detail/generator.hpp"
