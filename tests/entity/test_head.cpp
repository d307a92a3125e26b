#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <kerec/core/random.hpp>
#include <kerec/entity/head.hpp>

using namespace kerec;

namespace {

const NormalizerOptions folding{.fold_plurals = true};

NormalizedText norm_of(std::string_view s) {
    NormalizedText n;
    Normalizer(folding).normalize(s, n);
    return n;
}

Mention mention(std::string_view text, std::string_view span, EntityId e = {}) {
    const auto b = static_cast<std::uint32_t>(text.find(span));
    REQUIRE(b != std::string_view::npos);
    return Mention{e, b, b + static_cast<std::uint32_t>(span.size()), 1.0f, MentionSource::crf};
}

// A synthetic catalogue: "<brand> [modifier] <noun>[s] [size]", sometimes "... with <topping>".
// The seed knows a few nouns; the others must be discovered; modifiers are frequent but rarely
// heads ("Organic" alone heads one title in forty), so they must not become entities.
struct Catalogue {
    std::vector<std::string> titles;
    std::vector<std::string> nouns;  // noun of each title
};
Catalogue make_catalogue(std::uint64_t seed, int n) {
    const char* brands[] = {"Acme", "Bolt", "Crest Farms", "Dune", "Evergreen", "Fjord", "Gala", "Holm"};
    const char* mods[] = {"Organic", "Spicy", "Classic", "Smoked", "Vanilla", "Sea Salt"};
    const char* nouns[] = {"Chips", "Salsa", "Yogurt", "Crackers", "Pretzels", "Hummus", "Granola", "Kombucha"};
    const char* sizes[] = {"12 oz", "500 ml", "1 lb", "6 Pack", "", ""};
    const char* toppings[] = {"Herbs", "Garlic", "Honey"};
    Catalogue c;
    Rng rng(seed);
    for (int i = 0; i < n; ++i) {
        std::string t = brands[rng.uniform_int(8)];
        const char* mod = mods[rng.uniform_int(6)];
        if (rng.bernoulli(0.7)) t += std::string(" ") + mod;
        const std::string noun = nouns[rng.uniform_int(8)];
        if (rng.bernoulli(0.025)) {  // a title headed by its modifier
            c.titles.push_back(t + " " + mod);
            c.nouns.push_back(mod);
            continue;
        }
        t += " " + noun;
        if (rng.bernoulli(0.2)) t += std::string(" with ") + toppings[rng.uniform_int(3)];
        const std::string size = sizes[rng.uniform_int(6)];
        if (!size.empty()) t += ", " + size;
        c.titles.push_back(t);
        c.nouns.push_back(noun);
    }
    return c;
}

SelfTrainingOptions small_options() {
    SelfTrainingOptions o;
    o.dictionary.normalizer = folding;
    o.crf.normalizer = folding;
    o.crf.hash_bits = 14;
    o.crf.epochs = 4;
    o.crf.word_dropout = 0.3;
    o.pipeline.at_least_one = true;
    o.pipeline.link_by_head = true;
    o.min_count = 5;
    o.min_head_share = 0.2;
    return o;
}

}  // namespace

TEST_CASE("head finder: core phrase ends at the first cut word, heads skip units and numbers") {
    const HeadFinder h({}, folding);
    auto n = norm_of("Mini Rigatoni With Vodka Cream Sauce");
    CHECK(h.core_end(n) == 2);
    CHECK(h.head(n, 0, h.core_end(n)) == 1);  // rigatoni
    CHECK(h.head(n, 0, n.tokens().size()) == 5);
    n = norm_of("With Love Cookies");  // a cut word at token 0 does not cut
    CHECK(h.core_end(n) == 3);
    n = norm_of("ZeroMercury 357 Battery - 3 CT");
    CHECK(n.token_text(h.head(n, 0, n.tokens().size())) == "batteri");
    CHECK(h.content("batteri"));
    CHECK_FALSE(h.content("oz"));
    CHECK_FALSE(h.content("12oz"));
    CHECK_FALSE(h.content("ab"));  // shorter than min_letters
    CHECK_FALSE(h.content("with"));
    n = norm_of("12 oz");
    CHECK(h.head(n, 0, n.tokens().size()) == HeadFinder::npos);
    n = norm_of("");
    CHECK(h.core_end(n) == 0);
    CHECK(h.head(n, 0, 0) == HeadFinder::npos);
    // custom lists are normalised like the text (plural folding applies to them too)
    const HeadFinder custom(HeadOptions{{"Featuring"}, {"Bottles"}, 2}, folding);
    n = norm_of("Water Bottles Featuring Lids");
    CHECK(custom.core_end(n) == 2);
    CHECK(custom.head(n, 0, 2) == 0);
}

TEST_CASE("head finder: tokens_of maps source bytes to the tokens they cover") {
    const std::string t = "Dark  Chocolate, Almonds";
    const auto n = norm_of(t);
    const auto m = mention(t, "Chocolate, Almonds");
    const auto [a, b] = HeadFinder::tokens_of(n, m.begin, m.end);
    CHECK(a == 1);
    CHECK(b == 3);
    const auto [c, d] = HeadFinder::tokens_of(n, 0, 0);
    CHECK(c == d);
}

TEST_CASE("title_head: rightmost core mention whose head links, else its entity, else the next candidate") {
    const HeadFinder h({}, folding);
    EntityLinker linker(folding);
    linker.add("sauce", EntityId(0));
    linker.add("rigatoni", EntityId(1));
    linker.add("cream", EntityId(2));
    const std::string t = "Mini Rigatoni With Vodka Cream Sauce";
    const auto n = norm_of(t);
    std::vector<Mention> ms{mention(t, "Mini Rigatoni"), mention(t, "Vodka Cream Sauce")};
    TitleHead c = title_head(ms, n, h, &linker);
    CHECK(c.mention == 0);
    CHECK(c.entity == EntityId(1));
    CHECK(n.token_text(c.token) == "rigatoni");
    CHECK(c.head_mention == 0);
    CHECK(c.head_entity == EntityId(1));
    // the core mention links to nothing: the post-modifier mention gives the entity, while the
    // title's head word stays the unknown "rigatoni" (a discovery candidate)
    EntityLinker only_sauce(folding);
    only_sauce.add("sauce", EntityId(0));
    c = title_head(ms, n, h, &only_sauce);
    CHECK(c.mention == 1);
    CHECK(c.entity == EntityId(0));
    CHECK(n.token_text(c.token) == "sauce");
    CHECK(n.token_text(c.head_token) == "rigatoni");
    CHECK_FALSE(c.head_entity.valid());
    // a mention that carries its own entity resolves even when its words do not link
    ms[0].entity = EntityId(7);
    c = title_head(ms, n, h, &only_sauce);
    CHECK(c.mention == 0);
    CHECK(c.entity == EntityId(7));
    CHECK_FALSE(c.head_entity.valid());  // ... but its head word is still unknown
    // without a linker, the mentions' own entities decide
    c = title_head(ms, n, h, nullptr);
    CHECK(c.entity == EntityId(7));
    // nothing links: no entity, the rightmost core head comes back as the head word
    ms[0].entity = EntityId{};
    EntityLinker empty(folding);
    c = title_head(ms, n, h, &empty);
    CHECK(c.mention == HeadFinder::npos);
    CHECK_FALSE(c.entity.valid());
    CHECK(c.head_mention == 0);
    CHECK(n.token_text(c.head_token) == "rigatoni");
    c = title_head(std::span<const Mention>{}, n, h, &linker);
    CHECK(c.mention == HeadFinder::npos);
    CHECK(c.head_token == HeadFinder::npos);
}

TEST_CASE("title_head: never hides an unknown head behind a known modifier, yet the item gathers under it") {
    const HeadFinder h({}, folding);
    EntityLinker linker(folding);
    linker.add("gentle", EntityId(3));
    const std::string t = "Kids Extra Gentle Shampoo 12 oz";
    const auto n = norm_of(t);
    const std::vector<Mention> ms{mention(t, "Gentle", EntityId(3)), mention(t, "Shampoo 12 oz")};
    TitleHead c = title_head(ms, n, h, &linker);
    CHECK(c.head_mention == 1);
    CHECK(n.token_text(c.head_token) == "shampoo");
    CHECK_FALSE(c.head_entity.valid());
    CHECK(c.mention == 0);  // assignment does resolve to the modifier
    CHECK(c.entity == EntityId(3));
    const std::vector<Mention> units{mention(t, "12 oz")};
    c = title_head(units, n, h, &linker);
    CHECK(c.head_mention == HeadFinder::npos);
    CHECK(c.mention == HeadFinder::npos);
    // a span that inherited a contained modifier's entity still has an unknown head word
    const std::vector<Mention> inherited{mention(t, "Gentle Shampoo", EntityId(3))};
    c = title_head(inherited, n, h, &linker);
    CHECK_FALSE(c.head_entity.valid());
    CHECK(c.entity == EntityId(3));
    // a multi-word form links as a whole: its head word alone is no discovery candidate
    linker.add("peanut butter", EntityId(4));
    linker.add("butter", EntityId(5));
    const std::string pb = "Acme Creamy Peanut Butter, 16 oz";
    const auto npb = norm_of(pb);
    const std::vector<Mention> forms{mention(pb, "Creamy Peanut Butter")};
    c = title_head(forms, npb, h, &linker);
    CHECK(c.head_entity == EntityId(4));
    CHECK(c.entity == EntityId(4));
    CHECK(npb.token_text(c.head_token) == "butter");
}

TEST_CASE("title_head: a brute-force reading of the rule agrees on random mentions") {
    // The rule spelt out naively (token ranges by a full scan per mention, candidate lists built
    // explicitly) against the linear implementation.
    const HeadFinder h({}, folding);
    EntityLinker linker(folding);
    const char* words[] = {"salsa", "chips", "with", "oz", "12", "verde", "hot", "for", "dip"};
    linker.add("salsa", EntityId(0));
    linker.add("salsa verde", EntityId(1));
    linker.add("dip", EntityId(2));
    linker.add("hot dip", EntityId(3));
    Rng rng(17);
    for (int trial = 0; trial < 2000; ++trial) {
        std::string t;
        const auto len = 1 + rng.uniform_int(7);
        for (std::uint64_t k = 0; k < len; ++k) t += std::string(k ? " " : "") + words[rng.uniform_int(9)];
        const auto n = norm_of(t);
        std::vector<Mention> ms;
        for (std::uint32_t b = 0; b < t.size(); ++b) {
            if (t[b] == ' ' || (b > 0 && t[b - 1] != ' ') || !rng.bernoulli(0.4)) continue;
            std::uint32_t e = b;
            const auto words_in = 1 + rng.uniform_int(3);
            for (std::uint64_t w = 0; w < words_in && e < t.size(); ++w) {
                while (e < t.size() && t[e] != ' ') ++e;
                if (w + 1 < words_in && e < t.size()) ++e;
            }
            while (e > b && t[e - 1] == ' ') --e;
            const EntityId own = rng.bernoulli(0.3) ? EntityId(static_cast<std::uint32_t>(10 + rng.uniform_int(3))) : EntityId{};
            ms.push_back(Mention{own, b, e, 1.0f, MentionSource::external});
            b = e;
        }
        // the rule, naively
        const std::size_t core = h.core_end(n);
        const std::uint32_t core_src = core < n.tokens().size() ? n.tokens()[core].src_begin : 0xFFFFFFFFu;
        std::vector<std::size_t> order;
        for (int pass = 0; pass < 2; ++pass)
            for (std::size_t i = ms.size(); i-- > 0;)
                if ((ms[i].begin < core_src) == (pass == 0)) order.push_back(i);
        TitleHead want;
        bool got_e = false, got_h = false;
        for (std::size_t i : order) {
            const auto [a, b] = HeadFinder::tokens_of(n, ms[i].begin, ms[i].end);
            if (a >= b) continue;
            const std::size_t hd = h.head(n, a, ms[i].begin < core_src ? std::min(b, core) : b);
            EntityId linked;
            if (hd != HeadFinder::npos)
                for (std::size_t s = a; s <= hd && !linked.valid(); ++s) {  // longest suffix ending at hd
                    std::string piece;
                    for (std::size_t k = s; k <= hd; ++k) piece += std::string(k > s ? " " : "") + std::string(n.token_text(k));
                    if (auto e = linker.link_normalized(piece)) linked = *e;
                }
            if (!got_h && hd != HeadFinder::npos) want.head_mention = i, want.head_token = hd, want.head_entity = linked, got_h = true;
            const EntityId e = linked.valid() ? linked : ms[i].entity;
            if (!got_e && e.valid()) want.mention = i, want.token = hd, want.entity = e, got_e = true;
        }
        const TitleHead got = title_head(ms, n, h, &linker);
        INFO(t);
        CHECK(got.mention == want.mention);
        CHECK(got.token == want.token);
        CHECK(got.entity == want.entity);
        CHECK(got.head_mention == want.head_mention);
        CHECK(got.head_token == want.head_token);
        CHECK(got.head_entity == want.head_entity);
    }
}

TEST_CASE("head discovery: counts, head share and ordering") {
    const HeadFinder h({}, folding);
    HeadDiscovery d;
    for (int i = 0; i < 10; ++i) {
        d.add_text(norm_of("Organic Hummus"), h);
        d.add_head("hummu", "Organic Hummus");
    }
    for (int i = 0; i < 20; ++i) d.add_text(norm_of("Organic Crackers"), h);
    for (int i = 0; i < 6; ++i) d.add_head("cracker", "Organic Crackers");
    d.add_text(norm_of("Acme Organic"), h);
    d.add_head("organic", "Acme Organic");
    d.add_head("", "ignored");
    d.add_head("tomato", "Roma Tomatoes", "Tomatoes");
    d.add_head("tomato", "Tomato Paste", "TOMATO");
    d.add_head("tomato", "Cherry Tomatoes", "tomatoes");
    d.add_head("potato", "Russet Potato");  // no spelling given: the word itself
    auto c = d.candidates(5);
    REQUIRE(c.size() == 2);
    CHECK(c[0].word == "hummu");
    CHECK(c[0].heads == 10);
    CHECK(c[0].head_share() == doctest::Approx(1.0));
    CHECK(c[1].word == "cracker");
    CHECK(c[1].head_share() == doctest::Approx(6.0 / 20.0));
    CHECK(c[1].example == "Organic Crackers");
    CHECK(d.candidates(5, 0.5).size() == 1);
    c = d.candidates(1);
    REQUIRE(c.size() == 5);
    CHECK(c[2].word == "tomato");
    CHECK(c[2].name == "tomatoes");
    CHECK(c[3].word == "organic");
    CHECK(c[3].name == "organic");
    CHECK(c[3].head_share() == doctest::Approx(1.0 / 31.0));
    CHECK(c[4].name == "potato");
    CHECK(d.candidates(1, 0.05).size() == 4);
    CHECK_THROWS_AS(d.candidates(1, 1.5), InvalidArgument);
    CHECK_THROWS_AS(d.candidates(1, std::nan("")), InvalidArgument);
    d.clear();
    CHECK(d.candidates(0).empty());
}

TEST_CASE("head silver labels: only titles whose head the dictionary knows") {
    const std::vector<std::pair<std::string, EntityId>> forms{{"salsa", EntityId(0)}, {"organic", EntityId(1)}};
    DictionaryOptions o;
    o.normalizer = folding;
    const auto dict = DictionaryExtractor::build(forms, o);
    const HeadFinder h({}, folding);
    SilverOptions s;
    s.typo_share = 0;
    s.skip_collocated = false;
    const std::vector<std::string> titles{"Acme Organic Salsa, 12 oz", "Acme Organic Shampoo", "Salsa with Organic Herbs",
                                          "Bolt Salsas", "", "\xff\xfe Salsa"};
    const auto ex = head_silver_examples(dict, titles, h, s);
    std::vector<std::string> texts;
    for (const auto& e : ex) texts.push_back(e.text);
    CHECK(texts == std::vector<std::string>{"Acme Organic Salsa, 12 oz", "Salsa with Organic Herbs", "Bolt Salsas",
                                            "\xff\xfe Salsa"});
    CHECK(ex[0].spans.size() == 2);
}

TEST_CASE("self-training discovers the head nouns the seed lacks, not the modifiers") {
    const Catalogue cat = make_catalogue(5, 3000);
    Vocabulary<EntityId> seed;
    std::vector<std::pair<std::string, EntityId>> forms;
    for (const char* w : {"chips", "salsa", "yogurt"}) forms.emplace_back(w, seed.add(w));
    const auto model = self_train(seed, forms, cat.titles, small_options());
    CHECK(model.seed_entities == 3);
    REQUIRE(model.rounds.size() >= 2);
    CHECK(model.rounds[0].discovered > 0);
    std::vector<std::string> found;
    for (const auto& c : model.discovered) found.push_back(c.word);
    INFO("discovered: ", fmt::format("{}", fmt::join(found, " ")));
    for (const char* w : {"cracker", "pretzel", "hummus", "granola", "kombucha"})
        CHECK_MESSAGE(std::find(found.begin(), found.end(), w) != found.end(), std::string(w));
    for (const char* w : {"organic", "spici", "classic", "smoked", "vanilla", "salt", "acme", "herb", "garlic", "honei"})
        CHECK_MESSAGE(std::find(found.begin(), found.end(), w) == found.end(), std::string(w));
    CHECK(model.entities.size() == 3 + model.discovered.size());
    // the final pipeline gives almost every title the entity of its noun
    EntityPipeline pipe = model.pipeline();
    const HeadFinder h({}, folding);
    const Normalizer norm(folding);
    std::size_t right = 0, noun_titles = 0;
    std::vector<Mention> ms;
    NormalizedText n;
    for (std::size_t i = 0; i < cat.titles.size(); ++i) {
        ms.clear();
        pipe.extract(cat.titles[i], ms);
        norm.normalize(cat.titles[i], n);
        const TitleHead c = title_head(ms, n, h, model.linker.get());
        if (cat.nouns[i] == "Organic" || cat.nouns[i] == "Spicy" || cat.nouns[i] == "Classic" || cat.nouns[i] == "Smoked" ||
            cat.nouns[i] == "Vanilla" || cat.nouns[i] == "Sea Salt")
            continue;
        ++noun_titles;
        right += c.entity.valid() && model.linker->link_normalized(norm.normalize(cat.nouns[i])) == c.entity;
    }
    CHECK(static_cast<double>(right) >= 0.95 * static_cast<double>(noun_titles));
    // deterministic given the seeds
    const auto again = self_train(seed, forms, cat.titles, small_options());
    CHECK(again.entities.names() == model.entities.names());
}

TEST_CASE("self-training: one round still returns parts that know the discovered entities") {
    const Catalogue cat = make_catalogue(9, 1500);
    Vocabulary<EntityId> seed;
    std::vector<std::pair<std::string, EntityId>> forms;
    for (const char* w : {"chips", "salsa"}) forms.emplace_back(w, seed.add(w));
    auto o = small_options();
    o.rounds = 1;
    std::vector<std::string> stages;
    std::uint64_t discovery_done = 0, discovery_total = 0;
    const auto model = self_train(seed, forms, cat.titles, o, [&](const Progress& p) {
        if (stages.empty() || stages.back() != p.stage) stages.emplace_back(p.stage);
        if (p.stage == "discovering head words") discovery_done = p.done, discovery_total = p.total;
    });
    CHECK(stages == std::vector<std::string>{"training CRF", "discovering head words"});
    CHECK(discovery_total == cat.titles.size());
    CHECK(discovery_done == cat.titles.size());
    REQUIRE(model.rounds.size() == 1);
    REQUIRE_FALSE(model.discovered.empty());
    const auto id = model.entities.find(model.discovered[0].name);
    REQUIRE(id);
    CHECK(model.dictionary->lookup_normalized(model.discovered[0].word) == id);
    CHECK(model.linker->link_normalized(model.discovered[0].word) == id);
    CHECK(model.tagger->dictionary() == model.dictionary);
}

TEST_CASE("self-training: bad input") {
    Vocabulary<EntityId> seed;
    std::vector<std::pair<std::string, EntityId>> forms{{"salsa", seed.add("salsa")}};
    const std::vector<std::string> titles{"Acme Salsa", "", "\xc3\x28 broken \xe2\x82", "Bolt Crackers", "Dune Crackers",
                                          "Holm Crackers"};
    auto o = small_options();
    o.min_count = 2;
    o.rounds = 0;
    CHECK_THROWS_AS(self_train(seed, forms, titles, o), InvalidArgument);
    o.rounds = 2;
    auto bad_forms = forms;
    bad_forms.emplace_back("chips", EntityId(5));  // outside the vocabulary
    CHECK_THROWS_AS(self_train(seed, bad_forms, titles, o), InvalidArgument);
    bad_forms.back().second = EntityId{};
    CHECK_THROWS_AS(self_train(seed, bad_forms, titles, o), InvalidArgument);
    auto mismatch = o;
    mismatch.crf.normalizer.fold_plurals = false;
    CHECK_THROWS_AS(self_train(seed, forms, titles, mismatch), InvalidArgument);
    // empty, invalid UTF-8 and tiny inputs run through
    const auto model = self_train(seed, forms, titles, o);
    CHECK(model.entities.contains("crackers"));  // named by its spelling, linked by its folded form
    const LinkResult lr = model.linker->link("Cracker");
    CHECK(lr.kind == LinkKind::exact);
    CHECK(lr.entity == *model.entities.find("crackers"));
    const auto none = self_train(seed, forms, std::vector<std::string>{}, o);
    CHECK(none.discovered.empty());
    CHECK(none.entities.size() == 1);
}

TEST_CASE("head choice: mentions outside the text or inverted are ignored, never read out of range") {
    const HeadFinder h({}, folding);
    EntityLinker linker(folding);
    linker.add("salsa", EntityId(0));
    const std::string t = "Acme Salsa";
    const auto n = norm_of(t);
    const std::vector<Mention> hostile{Mention{EntityId{}, 500, 900, 1.0f, MentionSource::external},
                                       Mention{EntityId{}, 9, 2, 1.0f, MentionSource::external}};
    TitleHead c = title_head(hostile, n, h, &linker);
    CHECK(c.mention == HeadFinder::npos);
    CHECK(c.head_mention == HeadFinder::npos);
    CHECK(title_head(hostile, n, h, nullptr).mention == HeadFinder::npos);
    // hostile offsets with an entity: still ignored (they cover no token); unsorted input is safe
    const std::vector<Mention> linked_hostile{Mention{EntityId(6), 0, 4, 1.0f, MentionSource::external},
                                              Mention{EntityId(4), 500, 900, 1.0f, MentionSource::external},
                                              Mention{EntityId(5), 5, 10, 1.0f, MentionSource::external},
                                              Mention{EntityId(4), 0xFFFFFFF0u, 0xFFFFFFFFu, 1.0f, MentionSource::external}};
    c = title_head(linked_hostile, n, h, nullptr);
    CHECK(c.entity == EntityId(5));
    CHECK(c.mention == 2);
    // Mention::text clamps to the text instead of throwing (it is noexcept)
    CHECK(linked_hostile[1].text(t).empty());
    CHECK(linked_hostile[3].text(t).empty());
    CHECK(Mention{EntityId{}, 9, 2, 1.0f, MentionSource::external}.text(t).empty());
    CHECK(Mention{EntityId{}, 5, 900, 1.0f, MentionSource::external}.text(t) == "Salsa");
    CHECK(Mention{EntityId{}, 9, 2, 1.0f, MentionSource::external}.size() == 0);
    const auto bad = norm_of("\xff\xfe\xfd Salsa \xc3");
    const std::vector<Mention> all{Mention{EntityId{}, 0, 12, 1.0f, MentionSource::crf}};
    c = title_head(all, bad, h, &linker);
    CHECK(c.entity == EntityId(0));
    CHECK(bad.token_text(c.token) == "salsa");
}
