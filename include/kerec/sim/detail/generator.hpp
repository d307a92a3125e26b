// kerec/sim/detail/generator.hpp — implementation of sim::World::generate (included by world.hpp).
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
        const double total = std::accumulate(share.begin(), share.end(), 0.0);
        std::vector<std::size_t> count(H, 1);
        std::size_t assigned = H;
        std::vector<std::pair<double, std::size_t>> remainders;
        for (std::size_t g = 0; g < H; ++g) {
            const double exact = static_cast<double>(c_.entities - H) * share[g] / total;
            count[g] += static_cast<std::size_t>(exact);
            assigned += static_cast<std::size_t>(exact);
            remainders.emplace_back(exact - std::floor(exact), g);
        }
        std::sort(remainders.begin(), remainders.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
        for (std::size_t k = 0; assigned < c_.entities; ++k, ++assigned) ++count[remainders[k % H].second];

        w_.entities_.reserve(c_.entities);
        std::vector<std::vector<EntityId>> members(H);
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
                const EntityId id = w_.entities_.add(name);
                EntityInfo info;
                info.group = static_cast<std::uint32_t>(g);
                info.department = heads_[g].department;
                w_.entity_info_.push_back(info);
                prefixes.push_back(std::move(prefix));
                members[g].push_back(id);
                ++made;
            };
            try_add("");
            std::vector<std::string> level;
            for (auto q : quals) level.emplace_back(q);
            rng.shuffle(level);
            for (auto& p : level) try_add(p);
            for (int depth = 2; made < count[g] && depth <= 4; ++depth) {
                // All ordered qualifier tuples of this depth, in random order, generated lazily in
                // blocks so that large worlds do not materialise millions of names.
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
        // Groups: CSR of members.
        w_.group_offsets_.assign(H + 1, 0);
        for (std::size_t g = 0; g < H; ++g) {
            w_.group_offsets_[g + 1] = w_.group_offsets_[g] + static_cast<std::uint32_t>(members[g].size());
            w_.group_members_.insert(w_.group_members_.end(), members[g].begin(), members[g].end());
        }
        members_ = std::move(members);

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
        const double wsum = std::accumulate(w.begin(), w.end(), 0.0);
        std::vector<std::size_t> count(E, 1);
        std::size_t assigned = E;
        std::vector<std::pair<double, std::uint32_t>> rem(E);
        for (std::size_t e = 0; e < E; ++e) {
            const double exact = static_cast<double>(c_.items - E) * w[e] / wsum;
            count[e] += static_cast<std::size_t>(exact);
            assigned += static_cast<std::size_t>(exact);
            rem[e] = {exact - std::floor(exact), static_cast<std::uint32_t>(e)};
        }
        std::sort(rem.begin(), rem.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
        for (std::size_t k = 0; assigned < c_.items; ++k, ++assigned) ++count[rem[k % E].second];

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
        std::vector<double> group_pop(H, 0.0);
        for (const auto& info : w_.entity_info_) group_pop[info.group] += info.popularity;

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
            AliasSampler target(group_pop);
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
        std::vector<AliasSampler> partner(H);
        for (std::uint32_t g = 0; g < H; ++g) {
            std::vector<double> pw;
            for (auto e : members_[g]) pw.push_back(std::pow(w_.entity_info_[e.index()].popularity, 0.7));
            partner[g].build(pw);
        }
        ProgressThrottle progress(progress_, "sim: hidden graph", E);
        std::vector<TrueEdge> edges;
        std::vector<std::uint32_t> picked;
        for (std::uint32_t e = 0; e < E; ++e) {
            const auto g = w_.entity_info_[e].group;
            for (auto [h, sh] : head_edges[g]) {
                const auto& m = members_[h];
                const double u = std::max(rng.uniform(), 1e-9);
                const auto k = std::min<std::size_t>({m.size(), 40, 1 + static_cast<std::size_t>(0.4 / std::pow(u, 0.7))});
                picked.clear();
                for (std::size_t tries = 0; picked.size() < k && tries < k * 10; ++tries) {
                    const auto t = m[partner[h](rng)].value();
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
        w_.edge_offsets_.assign(E + 1, 0);
        for (const auto& x : edges) ++w_.edge_offsets_[x.from.index() + 1];
        for (std::size_t i = 0; i < E; ++i) w_.edge_offsets_[i + 1] += w_.edge_offsets_[i];
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
        std::vector<double> group_pop(H, 0.0);
        for (const auto& info : w_.entity_info_) group_pop[info.group] += info.popularity;
        AliasSampler pick(group_pop);
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
    // One session per loop: the user browses (views), buys, is shown a list (exposures, clicks, and
    // purchases of clicked items), and may buy a complement. Times follow the event count, so the
    // log is ordered by construction. Views draw from their own Rng stream: views_per_bill = 0
    // leaves the rest of the log as it was.
    void make_events() {
        Rng rng(derive_seed(c_.seed, 7));
        Rng view_rng(derive_seed(c_.seed, 8));
        const std::size_t E = w_.entity_info_.size();
        const std::size_t H = heads_.size();
        std::vector<double> pop(E);
        for (std::size_t e = 0; e < E; ++e) pop[e] = w_.entity_info_[e].popularity;
        AliasSampler global(pop);
        std::vector<AliasSampler> in_group(H);
        for (std::uint32_t g = 0; g < H; ++g) {
            std::vector<double> pw;
            for (auto e : members_[g]) pw.push_back(w_.entity_info_[e.index()].popularity);
            in_group[g].build(pw);
        }
        // Items of each entity (CSR) with an alias sampler over their popularity.
        std::vector<std::uint32_t> item_off(E + 1, 0);
        for (const auto& it : w_.items_) ++item_off[it.entity.index() + 1];
        for (std::size_t e = 0; e < E; ++e) item_off[e + 1] += item_off[e];
        std::vector<std::uint32_t> item_ids(w_.items_.size());
        {
            auto fill = item_off;
            for (std::uint32_t i = 0; i < w_.items_.size(); ++i) item_ids[fill[w_.items_[i].entity.index()]++] = i;
        }
        std::vector<AliasSampler> item_pick(E);
        for (std::size_t e = 0; e < E; ++e) {
            std::vector<double> pw;
            for (auto k = item_off[e]; k < item_off[e + 1]; ++k) pw.push_back(w_.items_[item_ids[k]].popularity);
            item_pick[e].build(pw);
        }

        const std::size_t target = c_.events;
        auto& ev = w_.events_;
        ev.clear();
        ev.reserve(target);
        std::int64_t now = 0;
        auto arrived_entity = [&](std::uint32_t e, std::int64_t t) { return w_.entity_info_[e].arrival_time <= t; };
        auto draw_item = [&](std::uint32_t e, std::int64_t t, Rng& r) -> std::uint32_t {
            for (int k = 0; k < 8; ++k) {
                const auto i = item_ids[item_off[e] + item_pick[e](r)];
                if (w_.items_[i].arrival_time <= t) return i;
            }
            for (auto k = item_off[e]; k < item_off[e + 1]; ++k)
                if (w_.items_[item_ids[k]].arrival_time <= t) return item_ids[k];
            return UINT32_MAX;
        };
        auto draw_global = [&](std::int64_t t, Rng& r) -> std::uint32_t {
            for (;;) {
                const auto e = global(r);
                if (arrived_entity(e, t)) return e;
            }
        };
        auto push = [&](const Event& e) {
            if (ev.size() >= target) return false;
            ev.push_back(e);
            return true;
        };
        auto bill = [&](UserId u, std::uint32_t item, std::int64_t t) {
            push(Event{.user = u, .item = ItemId{item}, .time = t, .kind = EventKind::bill});
        };
        // Views before buying `bought` (entity e) at time t_bill: substitutes (other items of e, other
        // entities of e's group), or with view_noise an entity of another group. Each view is 10 s
        // to 2 min before the next, never before the previous event of the log.
        std::vector<std::pair<std::uint32_t, std::int64_t>> views;
        auto browse = [&](std::size_t n, std::uint32_t e, std::uint32_t bought, std::int64_t t_prev, std::int64_t t_bill) {
            views.clear();
            const auto group = w_.entity_info_[e].group;
            const auto& members = members_[group];
            std::int64_t t = t_bill;
            for (std::size_t k = 0; k < n; ++k) {
                t = std::max(t_prev, t - view_rng.uniform_int(std::int64_t{10}, std::int64_t{120}));
                std::uint32_t seen_e = e;
                if (view_rng.bernoulli(c_.view_noise)) {
                    for (int tries = 0; tries < 16; ++tries) {
                        seen_e = draw_global(t, view_rng);
                        if (w_.entity_info_[seen_e].group != group) break;
                    }
                } else if (members.size() > 1 && !view_rng.bernoulli(c_.view_same_entity_share)) {
                    // another entity of the group, by popularity; a uniform one when e dominates
                    for (int tries = 0; tries < 8 && seen_e == e; ++tries) {
                        const auto cand = members[in_group[group](view_rng)].value();
                        if (arrived_entity(cand, t)) seen_e = cand;
                    }
                    const auto start = seen_e == e ? view_rng.uniform_int(members.size()) : 0;
                    for (std::size_t k = 0; k < members.size() && seen_e == e; ++k) {
                        const auto cand = members[(start + k) % members.size()].value();
                        if (arrived_entity(cand, t)) seen_e = cand;
                    }
                }
                std::uint32_t seen = draw_item(seen_e, t, view_rng);
                if (seen == bought && item_off[e + 1] - item_off[e] > 1) seen = draw_item(seen_e, t, view_rng);
                if (seen != UINT32_MAX && seen != bought) views.emplace_back(seen, t);
            }
            return views.size();
        };
        const double p_more_views = c_.views_per_bill / (c_.views_per_bill + 1.0);  // geometric, mean views_per_bill
        std::uint32_t requests = 0;
        ProgressThrottle progress(progress_, "sim: events", target);
        const auto horizon = static_cast<double>(horizon_);
        auto time_at = [&](std::size_t index) {
            return std::max(now, static_cast<std::int64_t>(horizon * static_cast<double>(index) / static_cast<double>(target)));
        };
        while (ev.size() < target) {
            std::size_t n_views = 0;
            while (n_views < kMaxViews && view_rng.bernoulli(p_more_views)) ++n_views;
            n_views = std::min(n_views, target - ev.size() - 1);  // room for the bill
            const std::int64_t t_prev = now;
            now = time_at(ev.size() + n_views);
            const UserId user{static_cast<std::uint32_t>(rng.uniform_int(w_.users_.size()))};
            const auto& interests = w_.users_[user.index()].interests;
            std::uint32_t e = UINT32_MAX;
            if (!interests.empty() && rng.bernoulli(0.6)) {
                const auto g = interests[rng.uniform_int(interests.size())];
                const auto cand = members_[g][in_group[g](rng)].value();
                if (arrived_entity(cand, now)) e = cand;
            }
            if (e == UINT32_MAX) e = draw_global(now, rng);
            const auto bought = draw_item(e, now, rng);
            if (bought == UINT32_MAX) continue;
            if (n_views && browse(n_views, e, bought, t_prev, now))
                for (auto it = views.rbegin(); it != views.rend(); ++it)  // drawn backwards in time
                    push(Event{.user = user, .item = ItemId{it->first}, .time = it->second, .kind = EventKind::view});
            bill(user, bought, now);
            const auto out = w_.complements_of(EntityId{e});
            // Exposures after the purchase, one list: complements, substitutes and popular items.
            std::uint32_t request = 0;
            for (int pos = 0; pos < c_.exposures_per_bill; ++pos) {
                std::uint32_t shown_e = UINT32_MAX;
                const double u = rng.uniform();
                if (u < 0.5 && !out.empty()) {
                    shown_e = out[rng.uniform_int(out.size())].to.value();
                } else if (u < 0.7) {
                    const auto& m = members_[w_.entity_info_[e].group];
                    shown_e = m[rng.uniform_int(m.size())].value();
                }
                if (shown_e == UINT32_MAX || !arrived_entity(shown_e, now)) shown_e = draw_global(now, rng);
                const auto shown = draw_item(shown_e, now, rng);
                if (shown == UINT32_MAX) continue;
                const auto p = static_cast<std::uint16_t>(pos);
                const Event exposure{.user = user, .item = ItemId{shown}, .time = now, .kind = EventKind::exposure, .position = p,
                                     .trigger = ItemId{bought}, .request = request ? request : requests + 1};
                if (push(exposure)) request = exposure.request, requests = request;
                if (w_.simulate_click(EntityId{e}, ItemId{shown}, p, rng)) {
                    Event click = exposure;
                    click.kind = EventKind::click;
                    push(click);
                    if (rng.bernoulli(0.3)) bill(user, shown, now);
                }
            }
            // Complementary co-purchase, proportional to strength.
            if (!out.empty() && rng.bernoulli(c_.complement_purchase_prob)) {
                double ssum = 0;
                for (const auto& x : out) ssum += x.strength;
                double r = rng.uniform() * ssum;
                std::uint32_t c = out.back().to.value();
                for (const auto& x : out) {
                    if ((r -= x.strength) < 0) {
                        c = x.to.value();
                        break;
                    }
                }
                if (arrived_entity(c, now))
                    if (const auto i = draw_item(c, now, rng); i != UINT32_MAX) bill(user, i, now);
            }
            progress.update(ev.size());
        }
        w_.request_count_ = requests;
        progress.finish(ev.size());
    }

    static constexpr std::size_t kMaxViews = 64;

    Config c_;
    ProgressCallback progress_;
    std::int64_t horizon_;
    World w_;
    std::vector<HeadRef> heads_;
    std::vector<std::vector<EntityId>> members_;
    std::unordered_set<std::string> entity_words_;
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
