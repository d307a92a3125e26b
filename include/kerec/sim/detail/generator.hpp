// kerec/sim/detail/generator.hpp — implementation of sim::World::generate (included by world.hpp).
//
// Steps in order, each drawing from its own Rng stream derived from the seed (stream number in
// brackets), so a change to one step leaves the draws of the others alone: substitute groups (1),
// entities and surface forms (2), popularity and arrivals (3), items (4), hidden graph (5), users
// (6), event log (7, views 8). Two helpers do the bookkeeping: apportion() splits a count by
// weights, Rows/RowSampler hold the CSR rows (entities of a group, items of an entity) and draw
// from a row by weight.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace kerec::sim {

namespace detail {

/// Split `total` into one count per weight: each at least 1, the remaining total - n in proportion
/// to the weights, rounded by largest remainder (ties to the lower index). total >= n > 0.
inline std::vector<std::size_t> apportion(std::size_t total, std::span<const double> weights) {
    const std::size_t n = weights.size();
    const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
    std::vector<std::size_t> count(n, 1);
    std::size_t assigned = n;
    std::vector<std::pair<double, std::size_t>> remainder(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double exact = static_cast<double>(total - n) * weights[i] / sum;
        count[i] += static_cast<std::size_t>(exact);
        assigned += static_cast<std::size_t>(exact);
        remainder[i] = {exact - std::floor(exact), i};
    }
    std::sort(remainder.begin(), remainder.end(),
              [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (std::size_t k = 0; assigned < total; ++k, ++assigned) ++count[remainder[k % n].second];
    return count;
}

/// Compressed rows of ids 0..n-1 grouped by row_of(id): row r is ids[offsets[r], offsets[r + 1]),
/// ascending. A counting sort, O(rows + n).
struct Rows {
    std::vector<std::uint32_t> offsets, ids;

    template <class RowOf>
    static std::vector<std::uint32_t> offsets_of(std::size_t rows, std::size_t n, RowOf row_of) {
        std::vector<std::uint32_t> off(rows + 1, 0);
        for (std::size_t i = 0; i < n; ++i) ++off[row_of(i) + 1];
        for (std::size_t r = 0; r < rows; ++r) off[r + 1] += off[r];
        return off;
    }
    template <class RowOf>
    Rows(std::size_t rows, std::size_t n, RowOf row_of) : offsets(offsets_of(rows, n, row_of)), ids(n) {
        auto fill = offsets;
        for (std::size_t i = 0; i < n; ++i) ids[fill[row_of(i)]++] = static_cast<std::uint32_t>(i);
    }
    Rows() = default;
    std::size_t size() const noexcept { return offsets.empty() ? 0 : offsets.size() - 1; }
    std::span<const std::uint32_t> operator[](std::size_t r) const noexcept {
        return std::span<const std::uint32_t>(ids).subspan(offsets[r], offsets[r + 1] - offsets[r]);
    }
};

/// One alias table per row of `rows`: (r, rng) draws an id of row r with probability ∝ weight(id).
/// Rows must be non-empty and have a positive weight sum.
class RowSampler {
public:
    RowSampler() = default;
    template <class Weight>
    RowSampler(const Rows& rows, Weight weight) : rows_(&rows), alias_(rows.size()) {
        std::vector<double> w;
        for (std::size_t r = 0; r < rows.size(); ++r) {
            w.clear();
            for (const auto id : rows[r]) w.push_back(weight(id));
            alias_[r].build(w);
        }
    }
    std::uint32_t operator()(std::size_t r, Rng& rng) const noexcept { return (*rows_)[r][alias_[r](rng)]; }

private:
    const Rows* rows_ = nullptr;
    std::vector<AliasSampler> alias_;
};

}  // namespace detail

class detail_generator {
public:
    explicit detail_generator(const Config& c, ProgressCallback progress)
        : c_(c), progress_(std::move(progress)), horizon_(c.days * 86400) {}

    World run() {
        w_.config_ = c_;
        choose_heads();
        make_entities();
        make_popularity();
        make_items();
        make_graph();
        make_users();
        make_events();
        return std::move(w_);
    }

private:
    struct HeadRef {
        std::uint32_t department;
        std::uint32_t head;  // index into kDepartments[department].heads
    };

    static std::string title_case(std::string_view s) {
        std::string out(s);
        bool start = true;
        for (auto& ch : out) {
            if (start && ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
            start = (ch == ' ' || ch == '-');
        }
        return out;
    }
    static std::string upper(std::string_view s) {
        std::string out(s);
        for (auto& ch : out)
            if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
        return out;
    }

    // --- taxonomy -------------------------------------------------------------------------------
    void choose_heads() {
        std::vector<HeadRef> all;
        std::unordered_map<std::string_view, std::size_t> by_name;
        for (std::uint32_t d = 0; d < detail::kDepartments.size(); ++d)
            for (std::uint32_t h = 0; h < detail::kDepartments[d].heads.size(); ++h)
                if (!detail::kDepartments[d].heads[h].name.empty()) {
                    by_name.emplace(detail::kDepartments[d].heads[h].name, all.size());
                    all.push_back({d, h});
                }
        // Heads that take part in curated complements come first, so that small worlds keep them.
        std::vector<char> taken(all.size(), 0);
        std::vector<HeadRef> order;
        for (const auto& cc : detail::kCuratedComplements)
            for (auto name : {cc.from, cc.to})
                if (auto it = by_name.find(name); it != by_name.end() && !taken[it->second]) {
                    taken[it->second] = 1;
                    order.push_back(all[it->second]);
                }
        std::vector<HeadRef> rest;
        for (std::size_t i = 0; i < all.size(); ++i)
            if (!taken[i]) rest.push_back(all[i]);
        Rng rng(derive_seed(c_.seed, 1));
        rng.shuffle(rest);
        order.insert(order.end(), rest.begin(), rest.end());
        const std::size_t want = std::clamp<std::size_t>((c_.entities + 5) / 6, std::min<std::size_t>(2, order.size()),
                                                         order.size());
        heads_.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(std::min(want, c_.entities)));
        for (const auto& h : heads_) w_.group_names_.emplace_back(spec(h).name);
    }

    const detail::HeadSpec& spec(const HeadRef& h) const { return detail::kDepartments[h.department].heads[h.head]; }

    void make_entities() {
        Rng rng(derive_seed(c_.seed, 2));
        const std::size_t H = heads_.size();
        // Entities per head: every head gets one, the rest spread with +-50% jitter.
        std::vector<double> share(H);
        for (auto& s : share) s = rng.uniform(0.5, 1.5);
        const auto count = detail::apportion(c_.entities, share);

        w_.entities_.reserve(c_.entities);
        std::vector<std::string> prefixes;  // qualifier part of each entity ("" for the bare head)
        for (std::size_t g = 0; g < H; ++g) {
            const auto& dep = detail::kDepartments[heads_[g].department];
            const std::string_view head = spec(heads_[g]).name;
            std::vector<std::string_view> quals;
            for (auto q : dep.qualifiers)
                if (!q.empty() && head.find(q) == std::string_view::npos) quals.push_back(q);
            std::size_t made = 0;
            auto try_add = [&](std::string prefix) {
                if (made >= count[g]) return;
                std::string name = prefix.empty() ? std::string(head) : prefix + " " + std::string(head);
                if (w_.entities_.contains(name)) return;
                w_.entities_.add(name);
                EntityInfo info;
                info.group = static_cast<std::uint32_t>(g);
                info.department = heads_[g].department;
                w_.entity_info_.push_back(info);
                prefixes.push_back(std::move(prefix));
                ++made;
            };
            try_add("");
            std::vector<std::string> level;
            for (auto q : quals) level.emplace_back(q);
            rng.shuffle(level);
            for (auto& p : level) try_add(p);
            for (int depth = 2; made < count[g] && depth <= 4; ++depth) {
                // All ordered qualifier tuples of this depth, in random order; a level keeps at
                // most 200,000 of them, so large worlds do not materialise millions of names.
                std::vector<std::string> next;
                for (auto& p : level)
                    for (auto q : quals)
                        if (p.find(q) == std::string::npos) next.push_back(std::string(q) + " " + p);
                rng.shuffle(next);
                for (auto& p : next) {
                    if (made >= count[g]) break;
                    try_add(p);
                }
                level = std::move(next);
                if (level.size() > 200000) level.resize(200000);
            }
            if (made < count[g])
                throw InvalidArgument(fmt::format("sim: cannot name {} entities for head '{}' (config too large)", count[g], head));
        }
        // Groups: the members of each, ascending ids (a group's entities were made in one run).
        groups_ = detail::Rows(H, w_.entity_info_.size(), [&](std::size_t e) { return w_.entity_info_[e].group; });
        w_.group_offsets_ = groups_.offsets;
        for (const auto e : groups_.ids) w_.group_members_.push_back(EntityId{e});

        // Surface forms. A text belongs to one entity only: the dictionary stays unambiguous.
        std::unordered_set<std::string> claimed;
        claimed.reserve(c_.entities * 4);
        for (std::uint32_t e = 0; e < w_.entity_info_.size(); ++e) claimed.emplace(w_.entities_.name(EntityId{e}));
        for (std::uint32_t e = 0; e < w_.entity_info_.size(); ++e) {
            auto& info = w_.entity_info_[e];
            info.first_form = static_cast<std::uint32_t>(w_.forms_.size());
            const std::string canonical(w_.entities_.name(EntityId{e}));
            w_.forms_.push_back({canonical, EntityId{e}, true});
            const std::string& prefix = prefixes[e];
            for (auto v : spec(heads_[info.group]).variants) {
                if (v.empty()) continue;
                std::string text = prefix.empty() ? std::string(v) : prefix + " " + std::string(v);
                if (claimed.insert(text).second) w_.forms_.push_back({std::move(text), EntityId{e}, true});
            }
            if (rng.bernoulli(c_.held_out_share)) {
                const std::size_t variants = w_.forms_.size() - info.first_form - 1;
                if (variants > 0 && rng.bernoulli(0.5)) {
                    w_.forms_[info.first_form + 1 + rng.uniform_int(variants)].in_dictionary = false;
                } else {
                    for (int attempt = 0; attempt < 8; ++attempt) {
                        std::string t = typo(canonical, rng);
                        if (!t.empty() && claimed.insert(t).second) {
                            w_.forms_.push_back({std::move(t), EntityId{e}, false});
                            break;
                        }
                    }
                }
            }
            info.form_count = static_cast<std::uint32_t>(w_.forms_.size()) - info.first_form;
        }
    }

    /// A plausible misspelling: drop, double or swap a letter inside a word of >= 4 letters.
    static std::string typo(const std::string& s, Rng& rng) {
        std::vector<std::size_t> pos;
        std::size_t word_start = 0;
        for (std::size_t i = 0; i <= s.size(); ++i) {
            if (i == s.size() || s[i] == ' ') {
                if (i - word_start >= 4)
                    for (std::size_t k = word_start + 1; k + 1 < i; ++k)
                        if (std::isalpha(static_cast<unsigned char>(s[k]))) pos.push_back(k);
                word_start = i + 1;
            }
        }
        if (pos.empty()) return {};
        const std::size_t k = pos[rng.uniform_int(pos.size())];
        std::string t = s;
        switch (rng.uniform_int(3)) {
            case 0: t.erase(k, 1); break;
            case 1: t.insert(k, 1, t[k]); break;
            default:
                if (std::isalpha(static_cast<unsigned char>(t[k + 1])) && t[k] != t[k + 1]) std::swap(t[k], t[k + 1]);
                else t.erase(k, 1);
        }
        return t == s ? std::string{} : t;
    }

    void make_popularity() {
        Rng rng(derive_seed(c_.seed, 3));
        const std::size_t n = w_.entity_info_.size();
        std::vector<std::uint32_t> perm(n);
        std::iota(perm.begin(), perm.end(), 0u);
        rng.shuffle(perm);
        const auto weights = zipf_weights(n, c_.entity_zipf);
        const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
        for (std::size_t r = 0; r < n; ++r) w_.entity_info_[perm[r]].popularity = weights[r] / total;
        // Cold start: a share of entities arrives during the log.
        const auto n_new = static_cast<std::size_t>(std::llround(c_.new_entity_share * static_cast<double>(n)));
        std::vector<std::uint32_t> pick(n);
        std::iota(pick.begin(), pick.end(), 0u);
        rng.shuffle(pick);
        for (std::size_t k = 0; k < n_new && k < n; ++k) {
            auto& info = w_.entity_info_[pick[k]];
            info.is_new = true;
            info.arrival_time = static_cast<std::int64_t>(rng.uniform(0.1, 0.9) * static_cast<double>(horizon_));
        }
        group_pop_.assign(heads_.size(), 0.0);
        for (const auto& info : w_.entity_info_) group_pop_[info.group] += info.popularity;
    }

    std::string make_brand(Rng& rng) {
        using namespace detail;
        for (;;) {
            std::string b;
            const auto syllables = 2 + rng.uniform_int(2);
            for (std::uint64_t s = 0; s < syllables; ++s) {
                b += kBrandOnsets[rng.uniform_int(kBrandOnsets.size())];
                // accented vowels (é, ö, á, ü) are rare, as in real brand names
                const bool accent = rng.bernoulli(0.06);
                b += accent ? kBrandVowels[8 + rng.uniform_int(4)] : kBrandVowels[rng.uniform_int(8)];
            }
            b += kBrandCodas[rng.uniform_int(kBrandCodas.size())];
            if (b.size() < 4 || entity_words_.count(b)) continue;
            b[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(b[0])));
            return b;
        }
    }

    void make_items() {
        Rng rng(derive_seed(c_.seed, 4));
        const std::size_t E = w_.entity_info_.size();
        for (const auto& f : w_.forms_) {
            std::size_t start = 0;
            for (std::size_t i = 0; i <= f.text.size(); ++i)
                if (i == f.text.size() || f.text[i] == ' ') {
                    entity_words_.emplace(f.text.substr(start, i - start));
                    start = i + 1;
                }
        }
        const std::size_t n_brands = std::max<std::size_t>(20, c_.items / 40);
        std::vector<std::string> brands;
        std::unordered_set<std::string> seen;
        while (brands.size() < n_brands) {
            auto b = make_brand(rng);
            if (seen.insert(b).second) brands.push_back(std::move(b));
        }
        AliasSampler brand_pick(zipf_weights(brands.size(), 0.8));

        // Items per entity: one each, the rest proportional to popularity^0.6 (largest remainder).
        std::vector<double> w(E);
        for (std::size_t e = 0; e < E; ++e) w[e] = std::pow(w_.entity_info_[e].popularity, 0.6);
        const auto count = detail::apportion(c_.items, w);

        std::size_t from_new = 0;
        for (std::size_t e = 0; e < E; ++e)
            if (w_.entity_info_[e].is_new) from_new += count[e];
        const double p_new = from_new >= c_.items ? 0.0
            : std::clamp((c_.new_item_share * static_cast<double>(c_.items) - static_cast<double>(from_new)) /
                             static_cast<double>(c_.items - from_new), 0.0, 1.0);

        ProgressThrottle progress(progress_, "sim: items", c_.items);
        std::vector<Item> items;
        items.reserve(c_.items);
        for (std::uint32_t e = 0; e < E; ++e) {
            const auto& info = w_.entity_info_[e];
            const auto share = zipf_weights(count[e], c_.item_zipf);
            const double ssum = std::accumulate(share.begin(), share.end(), 0.0);
            std::vector<double> form_w(info.form_count, 1.0);
            form_w[0] = 2.0;
            AliasSampler form_pick(form_w);
            for (std::size_t k = 0; k < count[e]; ++k) {
                Item it;
                it.entity = EntityId{e};
                it.popularity = info.popularity * share[k] / ssum;
                if (info.is_new) {
                    it.is_new = true;
                    it.arrival_time = std::min<std::int64_t>(horizon_ - 1, info.arrival_time +
                        static_cast<std::int64_t>(rng.uniform(0.0, 0.1) * static_cast<double>(horizon_)));
                } else if (rng.bernoulli(p_new)) {
                    it.is_new = true;
                    it.arrival_time = static_cast<std::int64_t>(rng.uniform(0.05, 0.95) * static_cast<double>(horizon_));
                }
                it.form = info.first_form + form_pick(rng);
                it.brand = brands[brand_pick(rng)];
                compose_title(it, rng);
                items.push_back(std::move(it));
                progress.update(items.size());
            }
        }
        // Item ids in random order (ids carry no information about the entity).
        rng.shuffle(items);
        w_.items_ = std::move(items);
        progress.finish(w_.items_.size());
    }

    void compose_title(Item& it, Rng& rng) {
        using namespace detail;
        const std::string& form = w_.forms_[it.form].text;
        std::string mods;
        const auto n_mods = rng.uniform_int(3);
        std::size_t first_mod = kModifiers.size();
        for (std::uint64_t m = 0; m < n_mods; ++m) {
            auto k = static_cast<std::size_t>(rng.uniform_int(kModifiers.size()));
            if (k == first_mod) k = (k + 1) % kModifiers.size();  // never "Classic Classic"
            first_mod = k;
            if (!mods.empty()) mods += ' ';
            mods += kModifiers[k];
        }
        std::string size;
        const auto amount = 1 + rng.uniform_int(32);
        switch (rng.uniform_int(8)) {
            case 0: size = fmt::format("{} oz", amount); break;
            case 1: size = fmt::format("{} g", amount * 25); break;
            case 2: size = fmt::format("{} ml", amount * 50); break;
            case 3: size = fmt::format("{}.{} L", amount % 3 + 1, amount % 10); break;
            case 4: size = fmt::format("{} ct", amount * 2); break;
            case 5: size = fmt::format("Pack of {}", amount % 12 + 2); break;
            case 6: size = fmt::format("{} x {} g", amount % 6 + 2, amount * 10); break;
            default: size = fmt::format("{}-Pack", amount % 8 + 2); break;
        }
        std::string& t = it.title;
        auto put_form = [&](const std::string& text) {
            it.span_begin = static_cast<std::uint32_t>(t.size());
            t += text;
            it.span_end = static_cast<std::uint32_t>(t.size());
        };
        // Appends only (no operator+ temporaries): GCC 12 -O3 reports false -Wrestrict otherwise.
        auto add = [&](std::initializer_list<std::string_view> parts) {
            for (auto p : parts) t.append(p.data(), p.size());
        };
        const double u = rng.uniform();
        if (u < 0.5) {
            add({it.brand, " "});
            if (!mods.empty()) add({mods, " "});
            put_form(title_case(form));
            add({" ", size});
        } else if (u < 0.7) {
            add({it.brand, " "});
            put_form(title_case(form));
            if (!mods.empty()) add({", ", mods});
            add({", ", size});
        } else if (u < 0.85) {
            put_form(title_case(form));
            add({" by ", it.brand, " - ", size});
        } else if (u < 0.95) {
            add({upper(it.brand), " "});
            put_form(upper(form));
            add({" ", upper(size)});
        } else {
            add({it.brand, " "});
            if (!mods.empty()) add({mods, " "});
            put_form(form);
            add({" (", size, ")"});
        }
    }

    // --- hidden complementary graph ---------------------------------------------------------------
    void make_graph() {
        Rng rng(derive_seed(c_.seed, 5));
        const std::size_t H = heads_.size();
        const std::size_t E = w_.entity_info_.size();
        std::unordered_map<std::string_view, std::uint32_t> head_index;
        for (std::uint32_t g = 0; g < H; ++g) head_index.emplace(spec(heads_[g]).name, g);
        // Head-level relations: curated ones plus a heavy-tailed number of random ones.
        std::vector<std::vector<std::pair<std::uint32_t, float>>> head_edges(H);
        auto has = [&](std::uint32_t a, std::uint32_t b) {
            for (auto& [t, s] : head_edges[a])
                if (t == b) return true;
            return false;
        };
        for (const auto& cc : detail::kCuratedComplements) {
            auto a = head_index.find(cc.from), b = head_index.find(cc.to);
            if (a != head_index.end() && b != head_index.end() && !has(a->second, b->second))
                head_edges[a->second].emplace_back(b->second, cc.strength);
        }
        if (H > 1) {
            AliasSampler target(group_pop_);
            for (std::uint32_t g = 0; g < H; ++g) {
                const double u = std::max(rng.uniform(), 1e-9);
                const auto extra = std::min<std::size_t>(H - 1, static_cast<std::size_t>(0.3 / std::pow(u, 0.8)));
                for (std::size_t k = 0, tries = 0; k < extra && tries < extra * 20; ++tries) {
                    const std::uint32_t t = target(rng);
                    if (t == g || has(g, t)) continue;
                    head_edges[g].emplace_back(t, static_cast<float>(rng.uniform(0.15, 0.5)));
                    ++k;
                }
            }
        }
        // Entity-level edges: partners inside each complementary head, preferring popular ones.
        const detail::RowSampler partner(groups_, [&](std::uint32_t e) { return std::pow(w_.entity_info_[e].popularity, 0.7); });
        ProgressThrottle progress(progress_, "sim: hidden graph", E);
        std::vector<TrueEdge> edges;
        std::vector<std::uint32_t> picked;
        for (std::uint32_t e = 0; e < E; ++e) {
            const auto g = w_.entity_info_[e].group;
            for (auto [h, sh] : head_edges[g]) {
                const double u = std::max(rng.uniform(), 1e-9);
                const auto k = std::min<std::size_t>({groups_[h].size(), 40, 1 + static_cast<std::size_t>(0.4 / std::pow(u, 0.7))});
                picked.clear();
                for (std::size_t tries = 0; picked.size() < k && tries < k * 10; ++tries) {
                    const auto t = partner(h, rng);
                    if (t == e || std::find(picked.begin(), picked.end(), t) != picked.end()) continue;
                    picked.push_back(t);
                }
                for (auto t : picked) {
                    const float s = std::clamp(static_cast<float>(sh * rng.uniform(0.35, 1.0)), 0.01f, 1.0f);
                    edges.push_back({EntityId{e}, EntityId{t}, s, 0.0});
                }
            }
            progress.update(e + 1);
        }
        std::sort(edges.begin(), edges.end(), [](const TrueEdge& a, const TrueEdge& b) {
            return a.from != b.from ? a.from < b.from : (a.to != b.to ? a.to < b.to : a.strength > b.strength);
        });
        edges.erase(std::unique(edges.begin(), edges.end(), [](const TrueEdge& a, const TrueEdge& b) {
                        return a.from == b.from && a.to == b.to;
                    }), edges.end());
        w_.edge_offsets_ = detail::Rows::offsets_of(E, edges.size(), [&](std::size_t k) { return edges[k].from.index(); });
        // Traffic: the co-purchase process buys complement b after a with P ∝ pop(a) * s(a,b) / Σ_b' s(a,b').
        double total = 0;
        for (std::size_t i = 0; i < E; ++i) {
            double ssum = 0;
            for (auto k = w_.edge_offsets_[i]; k < w_.edge_offsets_[i + 1]; ++k) ssum += edges[k].strength;
            for (auto k = w_.edge_offsets_[i]; k < w_.edge_offsets_[i + 1]; ++k) {
                edges[k].traffic = w_.entity_info_[i].popularity * edges[k].strength / ssum;
                total += edges[k].traffic;
            }
        }
        if (total > 0)
            for (auto& x : edges) x.traffic /= total;
        w_.edges_ = std::move(edges);
        progress.finish(E);
    }

    void make_users() {
        Rng rng(derive_seed(c_.seed, 6));
        const std::size_t H = heads_.size();
        const AliasSampler pick(group_pop_);
        w_.users_.resize(c_.users);
        for (auto& u : w_.users_) {
            const auto n = std::min<std::size_t>(H, 2 + rng.uniform_int(4));
            for (std::size_t tries = 0; u.interests.size() < n && tries < 50; ++tries) {
                const auto g = pick(rng);
                if (std::find(u.interests.begin(), u.interests.end(), g) == u.interests.end()) u.interests.push_back(g);
            }
        }
    }

    // --- event log --------------------------------------------------------------------------------
    // One session per loop: the user browses (views), buys, is shown one list (exposures, clicks and
    // purchases of clicked items) and may buy a complement. Times follow the event count, so the
    // log is ordered by construction. Views draw from their own Rng stream: views_per_bill = 0
    // leaves the rest of the log as it was.
    void make_events() {
        rng_ = Rng(derive_seed(c_.seed, 7));
        view_rng_ = Rng(derive_seed(c_.seed, 8));
        const std::size_t E = w_.entity_info_.size();
        std::vector<double> pop(E);
        for (std::size_t e = 0; e < E; ++e) pop[e] = w_.entity_info_[e].popularity;
        entity_pick_.build(pop);
        in_group_ = detail::RowSampler(groups_, [&](std::uint32_t e) { return w_.entity_info_[e].popularity; });
        items_of_ = detail::Rows(E, w_.items_.size(), [&](std::size_t i) { return w_.items_[i].entity.index(); });
        item_pick_ = detail::RowSampler(items_of_, [&](std::uint32_t i) { return w_.items_[i].popularity; });

        auto& ev = w_.events_;
        ev.clear();
        ev.reserve(c_.events);
        const double p_more_views = c_.views_per_bill / (c_.views_per_bill + 1.0);  // geometric, mean views_per_bill
        ProgressThrottle progress(progress_, "sim: events", c_.events);
        while (ev.size() < c_.events) {
            std::size_t views = 0;
            while (views < kMaxViews && view_rng_.bernoulli(p_more_views)) ++views;
            views = std::min(views, c_.events - ev.size() - 1);  // leave room for the bill
            const std::int64_t t_prev = now_;
            now_ = std::max(now_, static_cast<std::int64_t>(static_cast<double>(horizon_) * static_cast<double>(ev.size() + views) /
                                                            static_cast<double>(c_.events)));
            const UserId user{static_cast<std::uint32_t>(rng_.uniform_int(w_.users_.size()))};
            const auto [e, bought] = choose_purchase(user);
            if (bought == kNone) continue;
            browse(user, e, bought, views, t_prev);
            push(Event{.user = user, .item = ItemId{bought}, .time = now_, .kind = EventKind::bill});
            show_list(user, e, bought);
            buy_complement(user, e);
            progress.update(ev.size());
        }
        w_.request_count_ = requests_;
        progress.finish(ev.size());
    }

    static constexpr std::uint32_t kNone = UINT32_MAX;
    static constexpr std::size_t kMaxViews = 64;

    bool arrived(std::uint32_t entity, std::int64_t t) const { return w_.entity_info_[entity].arrival_time <= t; }

    /// An entity by popularity among those arrived at t.
    std::uint32_t draw_entity(std::int64_t t, Rng& rng) const {
        for (;;)
            if (const auto e = entity_pick_(rng); arrived(e, t)) return e;
    }

    /// An item of entity e by popularity among those arrived at t; kNone if none has.
    std::uint32_t draw_item(std::uint32_t e, std::int64_t t, Rng& rng) const {
        for (int k = 0; k < 8; ++k)
            if (const auto i = item_pick_(e, rng); w_.items_[i].arrival_time <= t) return i;
        for (const auto i : items_of_[e])
            if (w_.items_[i].arrival_time <= t) return i;
        return kNone;
    }

    bool push(const Event& e) {
        if (w_.events_.size() >= c_.events) return false;
        w_.events_.push_back(e);
        return true;
    }

    /// The session's purchase {entity, item}: from one of the user's interests (60%) or the
    /// popularity of everything; item kNone when the entity has no item yet.
    std::pair<std::uint32_t, std::uint32_t> choose_purchase(UserId user) {
        const auto& interests = w_.users_[user.index()].interests;
        std::uint32_t e = kNone;
        if (!interests.empty() && rng_.bernoulli(0.6)) {
            const auto g = interests[rng_.uniform_int(interests.size())];
            if (const auto cand = in_group_(g, rng_); arrived(cand, now_)) e = cand;
        }
        if (e == kNone) e = draw_entity(now_, rng_);
        return {e, draw_item(e, now_, rng_)};
    }

    /// Up to n views before buying `bought` (entity e) at now_: substitutes (other items of e,
    /// other entities of e's group), or with view_noise an entity of another group. Each view is
    /// 10 s to 2 min before the next one, never before t_prev (the log's previous event).
    void browse(UserId user, std::uint32_t e, std::uint32_t bought, std::size_t n, std::int64_t t_prev) {
        auto& r = view_rng_;
        const auto group = w_.entity_info_[e].group;
        const auto members = groups_[group];
        views_.clear();
        std::int64_t t = now_;
        for (std::size_t k = 0; k < n; ++k) {
            t = std::max(t_prev, t - r.uniform_int(std::int64_t{10}, std::int64_t{120}));
            std::uint32_t seen_e = e;
            if (r.bernoulli(c_.view_noise)) {
                for (int tries = 0; tries < 16; ++tries)
                    if (seen_e = draw_entity(t, r); w_.entity_info_[seen_e].group != group) break;
            } else if (members.size() > 1 && !r.bernoulli(c_.view_same_entity_share)) {
                // another entity of the group, by popularity; any other one when e dominates
                for (int tries = 0; tries < 8 && seen_e == e; ++tries)
                    if (const auto cand = in_group_(group, r); arrived(cand, t)) seen_e = cand;
                const auto start = seen_e == e ? r.uniform_int(members.size()) : 0;
                for (std::size_t k2 = 0; k2 < members.size() && seen_e == e; ++k2)
                    if (const auto cand = members[(start + k2) % members.size()]; arrived(cand, t)) seen_e = cand;
            }
            std::uint32_t seen = draw_item(seen_e, t, r);
            if (seen == bought && items_of_[e].size() > 1) seen = draw_item(seen_e, t, r);
            if (seen != kNone && seen != bought) views_.emplace_back(seen, t);
        }
        for (auto it = views_.rbegin(); it != views_.rend(); ++it)  // drawn backwards in time
            push(Event{.user = user, .item = ItemId{it->first}, .time = it->second, .kind = EventKind::view});
    }

    /// One list after the purchase, one request id: complements (50%), substitutes (20%) and
    /// popular items; clicks from the click model, 30% of them bought.
    void show_list(UserId user, std::uint32_t e, std::uint32_t bought) {
        const auto out = w_.complements_of(EntityId{e});
        const auto group = groups_[w_.entity_info_[e].group];
        std::uint32_t request = 0;
        for (int pos = 0; pos < c_.exposures_per_bill; ++pos) {
            std::uint32_t shown_e = kNone;
            const double u = rng_.uniform();
            if (u < 0.5 && !out.empty()) shown_e = out[rng_.uniform_int(out.size())].to.value();
            else if (u < 0.7) shown_e = group[rng_.uniform_int(group.size())];
            if (shown_e == kNone || !arrived(shown_e, now_)) shown_e = draw_entity(now_, rng_);
            const auto shown = draw_item(shown_e, now_, rng_);
            if (shown == kNone) continue;
            const auto p = static_cast<std::uint16_t>(pos);
            const Event exposure{.user = user, .item = ItemId{shown}, .time = now_, .kind = EventKind::exposure, .position = p,
                                 .trigger = ItemId{bought}, .request = request ? request : requests_ + 1};
            if (push(exposure)) request = requests_ = exposure.request;
            if (w_.simulate_click(EntityId{e}, ItemId{shown}, p, rng_)) {
                Event click = exposure;
                click.kind = EventKind::click;
                push(click);
                if (rng_.bernoulli(0.3)) push(Event{.user = user, .item = ItemId{shown}, .time = now_, .kind = EventKind::bill});
            }
        }
    }

    /// With complement_purchase_prob, buy a complement of e chosen in proportion to strength.
    void buy_complement(UserId user, std::uint32_t e) {
        const auto out = w_.complements_of(EntityId{e});
        if (out.empty() || !rng_.bernoulli(c_.complement_purchase_prob)) return;
        double ssum = 0;
        for (const auto& x : out) ssum += x.strength;
        double r = rng_.uniform() * ssum;
        std::uint32_t c = out.back().to.value();
        for (const auto& x : out)
            if ((r -= x.strength) < 0) {
                c = x.to.value();
                break;
            }
        if (arrived(c, now_))
            if (const auto i = draw_item(c, now_, rng_); i != kNone)
                push(Event{.user = user, .item = ItemId{i}, .time = now_, .kind = EventKind::bill});
    }

    Config c_;
    ProgressCallback progress_;
    std::int64_t horizon_;
    World w_;
    std::vector<HeadRef> heads_;
    detail::Rows groups_;             // entities of each substitute group
    std::vector<double> group_pop_;   // popularity of each group
    std::unordered_set<std::string> entity_words_;
    // event log state
    Rng rng_, view_rng_;
    AliasSampler entity_pick_;
    detail::RowSampler in_group_;     // an entity of a group, by popularity
    detail::Rows items_of_;           // items of each entity
    detail::RowSampler item_pick_;    // an item of an entity, by popularity
    std::int64_t now_ = 0;
    std::uint32_t requests_ = 0;
    std::vector<std::pair<std::uint32_t, std::int64_t>> views_;
};

inline World World::generate(const Config& config, ProgressCallback progress) {
    config.validate();
    return detail_generator(config, std::move(progress)).run();
}

inline Summary World::summary() const {
    Summary s;
    s.entities = entity_info_.size();
    for (const auto& e : entity_info_) s.new_entities += e.is_new;
    s.groups = group_names_.size();
    std::unordered_set<std::uint32_t> deps;
    for (const auto& e : entity_info_) deps.insert(e.department);
    s.departments = deps.size();
    s.forms = forms_.size();
    for (const auto& f : forms_) (f.in_dictionary ? s.dictionary_forms : s.held_out_forms)++;
    s.items = items_.size();
    for (const auto& it : items_) {
        s.new_items += it.is_new;
        s.held_out_titles += !forms_[it.form].in_dictionary;
    }
    s.users = users_.size();
    std::size_t cold = 0, comp_exp = 0, comp_clk = 0, other_exp = 0, other_clk = 0;
    for (const auto& ev : events_) {
        switch (ev.kind) {
            case EventKind::bill: ++s.bills; break;
            case EventKind::exposure: ++s.exposures; break;
            case EventKind::click: ++s.clicks; break;
            case EventKind::view: ++s.views; break;
        }
        cold += items_[ev.item.index()].is_new;
        if ((ev.kind == EventKind::exposure || ev.kind == EventKind::click) && ev.trigger.valid()) {
            const bool comp = strength(items_[ev.trigger.index()].entity, items_[ev.item.index()].entity) > 0;
            if (ev.kind == EventKind::exposure) (comp ? comp_exp : other_exp)++;
            else (comp ? comp_clk : other_clk)++;
        }
    }
    s.cold_start_event_share = events_.empty() ? 0.0 : static_cast<double>(cold) / static_cast<double>(events_.size());
    s.ctr_complement = comp_exp ? static_cast<double>(comp_clk) / static_cast<double>(comp_exp) : 0.0;
    s.ctr_other = other_exp ? static_cast<double>(other_clk) / static_cast<double>(other_exp) : 0.0;
    s.edges = edges_.size();
    const std::size_t n = entity_info_.size();
    std::vector<std::uint32_t> outd(n), ind(n, 0);
    for (std::size_t i = 0; i < n; ++i) outd[i] = edge_offsets_[i + 1] - edge_offsets_[i];
    for (const auto& x : edges_) ++ind[x.to.index()];
    auto stats = [&](std::vector<std::uint32_t> d) {
        DegreeStats st;
        if (d.empty()) return st;
        std::sort(d.begin(), d.end());
        st.mean = static_cast<double>(std::accumulate(d.begin(), d.end(), std::uint64_t{0})) / static_cast<double>(d.size());
        auto q = [&](double p) { return d[std::min(d.size() - 1, static_cast<std::size_t>(p * static_cast<double>(d.size())))]; };
        st.median = q(0.5);
        st.p90 = q(0.9);
        st.p99 = q(0.99);
        st.max = d.back();
        return st;
    };
    s.out_degree = stats(outd);
    s.in_degree = stats(ind);
    std::vector<double> pops;
    for (const auto& e : entity_info_) pops.push_back(e.popularity);
    std::sort(pops.begin(), pops.end(), std::greater<>());
    const std::size_t top = std::max<std::size_t>(1, n / 100);
    s.top1pct_entity_share = std::accumulate(pops.begin(), pops.begin() + static_cast<std::ptrdiff_t>(top), 0.0);
    return s;
}

}  // namespace kerec::sim
