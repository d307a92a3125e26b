#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <kerec/core/io.hpp>
#include <kerec/core/random.hpp>
#include <kerec/entity/crf_layer.hpp>
#include <kerec/entity/crf_tagger.hpp>
#include <kerec/entity/dictionary.hpp>
#include <kerec/entity/head.hpp>

#include "../test_util.hpp"

using namespace kerec;

namespace {

// Enumerate every tag sequence of length T (3^T) — the brute-force reference.
template <class F>
void for_each_sequence(std::size_t T, F&& f) {
    std::vector<std::uint8_t> y(T, 0);
    for (;;) {
        f(y);
        std::size_t k = 0;
        while (k < T && ++y[k] == 3) y[k++] = 0;
        if (k == T) return;
    }
}

CrfLayer random_layer(Rng& rng) {
    CrfLayer l;
    for (auto& v : l.trans) v = rng.normal();
    for (auto& v : l.start) v = rng.normal();
    for (auto& v : l.stop) v = rng.normal();
    return l;
}

// A toy catalogue: "<brand> <form> <size>" where forms come from a small list.
struct Toy {
    std::vector<TrainingExample> examples;
    std::vector<std::pair<std::string, EntityId>> forms;
};
Toy make_toy(std::uint64_t seed, int n) {
    Toy toy;
    const char* brands[] = {"Acme", "Bolt", "Crest Farms", "Dune", "Evergreen", "Fjord"};
    const char* forms[] = {"tortilla chips", "greek yogurt", "olive oil", "peanut butter", "green tea",
                           "oat milk", "dark chocolate", "salsa", "rice", "coffee beans"};
    const char* sizes[] = {"12 oz", "500 ml", "1 lb", "6 pack", "", "family size"};
    for (std::uint32_t i = 0; i < 10; ++i) toy.forms.emplace_back(forms[i], EntityId(i));
    Rng rng(seed);
    for (int i = 0; i < n; ++i) {
        TrainingExample ex;
        ex.text = std::string(brands[rng.uniform_int(6)]) + " ";
        std::string form = forms[rng.uniform_int(10)];
        form[0] = static_cast<char>(std::toupper(form[0]));
        const auto b = static_cast<std::uint32_t>(ex.text.size());
        ex.text += form;
        ex.spans.emplace_back(b, static_cast<std::uint32_t>(ex.text.size()));
        const std::string size = sizes[rng.uniform_int(6)];
        if (!size.empty()) ex.text += ", " + size;
        toy.examples.push_back(std::move(ex));
    }
    return toy;
}

}  // namespace

TEST_CASE("crf layer: forward-backward, Viterbi and span marginals equal brute force") {
    Rng rng(11);
    for (int trial = 0; trial < 20; ++trial) {
        const CrfLayer layer = random_layer(rng);
        const std::size_t T = 1 + rng.uniform_int(5);
        std::vector<double> em(T * 3);
        for (auto& v : em) v = 2.0 * rng.normal();
        CrfLayer::Workspace ws;
        const double log_z = layer.forward_backward(std::span<const double>(em), ws);
        double z = 0, best = -1e300;
        std::vector<std::uint8_t> best_y;
        std::vector<double> marg(T * 3, 0.0);
        for_each_sequence(T, [&](const std::vector<std::uint8_t>& y) {
            const double s = layer.score(std::span<const double>(em), std::span<const std::uint8_t>(y));
            if (!std::isfinite(s)) return;
            z += std::exp(s);
            for (std::size_t t = 0; t < T; ++t) marg[t * 3 + y[t]] += std::exp(s);
            if (s > best) best = s, best_y = y;
        });
        CHECK(log_z == doctest::Approx(std::log(z)).epsilon(1e-9));
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t y = 0; y < 3; ++y) CHECK(CrfLayer::marginal(ws, t, y) == doctest::Approx(marg[t * 3 + y] / z));
        std::vector<std::uint8_t> tags;
        const double vs = layer.viterbi(std::span<const double>(em), tags, ws);
        CHECK(vs == doctest::Approx(best));
        CHECK(tags == best_y);
        // span [b, e): B I..I then not I
        for (std::size_t b = 0; b < T; ++b)
            for (std::size_t e = b + 1; e <= T; ++e) {
                double p = 0;
                for_each_sequence(T, [&](const std::vector<std::uint8_t>& y) {
                    if (y[b] != 1) return;
                    for (std::size_t t = b + 1; t < e; ++t)
                        if (y[t] != 2) return;
                    if (e < T && y[e] == 2) return;
                    const double s = layer.score(std::span<const double>(em), std::span<const std::uint8_t>(y));
                    if (std::isfinite(s)) p += std::exp(s);
                });
                CHECK(std::exp(layer.span_log_prob(std::span<const double>(em), ws, b, e)) == doctest::Approx(p / z));
            }
    }
}

TEST_CASE("crf layer: emission hook validates its input") {
    CrfLayer layer;
    CrfLayer::Workspace ws;
    std::vector<std::uint8_t> tags;
    std::vector<float> bad(7, 0.f);
    CHECK_THROWS_AS(layer.viterbi(std::span<const float>(bad), tags, ws), InvalidArgument);
    std::vector<float> nan(6, 0.f);
    nan[4] = std::nanf("");
    CHECK_THROWS_AS(layer.forward_backward(std::span<const float>(nan), ws), InvalidArgument);
    std::vector<float> em{0, 5, 0, 0, 0, 5, 5, 0, 0};  // B I O
    layer.viterbi(std::span<const float>(em), tags, ws);
    CHECK(tags == std::vector<std::uint8_t>{1, 2, 0});
    std::vector<std::uint8_t> forbidden{0, 2, 0};
    CHECK_THROWS_AS(layer.nll(std::span<const float>(em), std::span<const std::uint8_t>(forbidden), ws, {}, nullptr),
                    InvalidArgument);
    std::vector<float> empty;
    CHECK(layer.viterbi(std::span<const float>(empty), tags, ws) == 0.0);
    CHECK(tags.empty());
}

TEST_CASE("crf tagger: analytic gradient matches finite differences") {
    Toy toy = make_toy(5, 12);
    auto dict = std::make_shared<const DictionaryExtractor>(
        DictionaryExtractor::build(std::vector<std::pair<std::string, EntityId>>(toy.forms.begin(), toy.forms.begin() + 5)));
    CrfOptions o;
    o.hash_bits = 10;
    o.l2 = 0.7;
    CrfTagger tagger(o, dict);
    Rng rng(9);
    for (std::size_t k = 0; k < tagger.parameter_count(); ++k) tagger.parameter_ref(k) = 0.3 * rng.normal();
    std::vector<double> grad;
    const double f0 = tagger.objective(toy.examples, &grad);
    CHECK(std::isfinite(f0));
    // coordinates with a data gradient (features that fire) plus every layer parameter
    std::vector<std::size_t> coords;
    for (std::size_t k = 0; k < tagger.parameter_count() - 15; ++k)
        if (std::abs(grad[k] - o.l2 * tagger.parameter(k)) > 1e-6 && coords.size() < 60 && rng.bernoulli(0.5)) coords.push_back(k);
    for (std::size_t k = tagger.parameter_count() - 15; k < tagger.parameter_count(); ++k) coords.push_back(k);
    REQUIRE(coords.size() > 40);
    const double h = 1e-5;
    double worst = 0;
    for (std::size_t k : coords) {
        const double w = tagger.parameter(k);
        tagger.parameter_ref(k) = w + h;
        const double fp = tagger.objective(toy.examples);
        tagger.parameter_ref(k) = w - h;
        const double fm = tagger.objective(toy.examples);
        tagger.parameter_ref(k) = w;
        const double numeric = (fp - fm) / (2 * h);
        const double rel = std::abs(numeric - grad[k]) / std::max(1.0, std::abs(numeric) + std::abs(grad[k]));
        worst = std::max(worst, rel);
    }
    CHECK(worst < 1e-6);
}

TEST_CASE("crf tagger: learns from examples, generalises to unseen forms, confidence in (0, 1]") {
    Toy train = make_toy(1, 400);
    CrfOptions o;
    o.hash_bits = 16;
    o.epochs = 6;
    o.dictionary_dropout = 0.0;
    CrfTagger tagger(o);
    const auto rep = tagger.train(train.examples);
    REQUIRE(rep.loss_per_epoch.size() == 6);
    CHECK(rep.loss_per_epoch.back() < 0.2 * rep.loss_per_epoch.front());
    CHECK(rep.tokens > 400);
    std::vector<TaggedSpan> spans;
    const std::string t = "Dune Peanut Butter, 12 oz";
    tagger.tag(t, spans);
    REQUIRE(spans.size() == 1);
    CHECK(t.substr(spans[0].begin, spans[0].end - spans[0].begin) == "Peanut Butter");
    CHECK(spans[0].confidence > 0.5f);
    CHECK(spans[0].confidence <= 1.0f);
    // a form never seen in training, in the same template: found by context
    const std::string u = "Acme Almond Butter, 12 oz";
    tagger.tag(u, spans);
    REQUIRE(spans.size() == 1);
    CHECK(u.substr(spans[0].begin, spans[0].end - spans[0].begin).find("Butter") != std::string::npos);
    // best_span: the most probable span even when Viterbi picks nothing; its probability is
    // at least that of any other span
    TaggedSpan best;
    CrfTagger::Workspace ws;
    REQUIRE(tagger.best_span(t, best, ws));
    CHECK(t.substr(best.begin, best.end - best.begin) == "Peanut Butter");
    CHECK(best.confidence >= spans[0].confidence - 1e-6f);  // the maximum over all spans
    CHECK(!tagger.best_span(" ,, ", best, ws));
    // empty and hostile input
    tagger.tag("", spans);
    CHECK(spans.empty());
    tagger.tag("\xFF\xFE\xFD", spans);
    std::vector<Mention> ms;
    tagger.extract(std::string(1 << 20, 'x') + " Acme Rice", ms);
    for (const auto& m : ms) CHECK(m.source == MentionSource::crf);
    // bad spans in training data
    std::vector<TrainingExample> bad{{"abc", {{2, 10}}}};
    CHECK_THROWS_AS(tagger.train(bad), InvalidArgument);
    std::vector<TrainingExample> overlap{{"abc def", {{0, 7}, {4, 7}}}};
    CHECK_THROWS_AS(tagger.train(overlap), InvalidArgument);
}

TEST_CASE("crf tagger: training is deterministic for a seed; save/load round trip; corrupted files") {
    test::TempDir dir("crf");
    Toy toy = make_toy(2, 150);
    auto dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(toy.forms));
    CrfOptions o;
    o.hash_bits = 12;
    o.epochs = 2;
    CrfTagger a(o, dict), b(o, dict);
    a.train(toy.examples);
    b.train(toy.examples);
    for (std::size_t k = 0; k < a.parameter_count(); k += 97) CHECK(a.parameter(k) == b.parameter(k));
    a.save(dir / "m.crf");
    CHECK_THROWS_AS(CrfTagger::load(dir / "m.crf"), InvalidArgument);  // needs its dictionary
    CrfTagger c = CrfTagger::load(dir / "m.crf", dict);
    for (std::size_t k = 0; k < a.parameter_count(); ++k) REQUIRE(a.parameter(k) == c.parameter(k));
    std::vector<TaggedSpan> sa, sc;
    for (const auto& ex : toy.examples) {
        a.tag(ex.text, sa);
        c.tag(ex.text, sc);
        REQUIRE(sa.size() == sc.size());
        for (std::size_t k = 0; k < sa.size(); ++k) CHECK(sa[k].begin == sc[k].begin);
    }
    const std::string bytes = read_file(dir / "m.crf");
    for (std::size_t pos : {std::size_t{0}, std::size_t{12}, bytes.size() / 2, bytes.size() - 1}) {
        std::string x = bytes;
        x[pos] ^= 0x10;
        write_file_atomic(dir / "x.crf", x);
        CHECK_THROWS_AS(CrfTagger::load(dir / "x.crf", dict), ParseError);
    }
    write_file_atomic(dir / "t.crf", bytes.substr(0, 100));
    CHECK_THROWS_AS(CrfTagger::load(dir / "t.crf", dict), ParseError);
    CHECK_THROWS_AS(CrfTagger(CrfOptions{.hash_bits = 40}), InvalidArgument);
    CHECK_THROWS_AS(CrfTagger(CrfOptions{.word_dropout = 1.0}), InvalidArgument);
    CHECK_THROWS_AS(CrfTagger(CrfOptions{.dictionary_dropout = -0.1}), InvalidArgument);
    CHECK_THROWS_AS(CrfTagger(CrfOptions{.l2 = std::nan("")}), InvalidArgument);
    // word dropout trains, stays deterministic, and keeps the tagger working
    CrfOptions wd = o;
    wd.word_dropout = 0.3;
    CrfTagger w1(wd, dict), w2(wd, dict);
    w1.train(toy.examples);
    w2.train(toy.examples);
    for (std::size_t k = 0; k < w1.parameter_count(); k += 101) CHECK(w1.parameter(k) == w2.parameter(k));
}

// ---- silver labels, linking, discovery, pipeline ------------------------------------------------

#include <kerec/entity/evaluate.hpp>
#include <kerec/entity/linker.hpp>
#include <kerec/sim/world.hpp>

TEST_CASE("silver labels: dictionary spans, denoising and typo copies") {
    std::vector<std::pair<std::string, EntityId>> forms{{"tomatoes", EntityId(0)}, {"cherry tomatoes", EntityId(1)},
                                                        {"salsa", EntityId(2)}, {"tomato", EntityId(3)}};
    const auto dict = DictionaryExtractor::build(forms);
    std::vector<std::string> titles{"Acme Tomatoes 1 lb", "Nothing here", "Bolt Cherry Tomatoes", "Cherry Bolt Tomatoes",
                                    "Dune Salsa Verde"};
    SilverOptions so;
    so.typo_share = 0.0;
    so.skip_collocated = false;
    auto ex = silver_examples(dict, titles, so);
    // "Nothing here": no match; "Cherry Bolt Tomatoes" is fine ("bolt " starts no form);
    // "Dune Salsa Verde": "salsa " starts no longer form -> kept
    REQUIRE(ex.size() == 4);
    CHECK(ex[0].text == "Acme Tomatoes 1 lb");
    REQUIRE(ex[0].spans.size() == 1);
    CHECK(ex[0].spans[0] == std::pair<std::uint32_t, std::uint32_t>{5, 13});
    // extendable: "cherry " starts a dictionary form, so "Cherry X Tomatoes"-like noise is caught
    std::vector<std::string> titles2{"Acme Cherry Tomatoes", "Acme Cherry Tomato"};
    auto ex2 = silver_examples(dict, titles2, so);
    REQUIRE(ex2.size() == 1);  // the second: "cherry " before the "tomato" match starts a form -> skipped
    CHECK(ex2[0].spans[0].first == 5);
    so.skip_unmatched = false;
    CHECK(silver_examples(dict, titles, so).size() == 5);

    // collocation: a word that always precedes the same entity is a missing qualifier
    std::vector<std::string> t3;
    for (int i = 0; i < 5; ++i) t3.push_back("Brand" + std::to_string(i) + " Shallot Tomatoes");
    for (int i = 0; i < 5; ++i) t3.push_back("Acme Tomatoes " + std::to_string(i));
    for (int i = 0; i < 5; ++i) t3.push_back("Acme Salsa " + std::to_string(i));
    SilverOptions sc;
    sc.typo_share = 0.0;
    auto ex3 = silver_examples(dict, t3, sc);
    CHECK(ex3.size() == 10);  // the five "Shallot Tomatoes" titles are dropped, "Acme" precedes two entities
    for (const auto& e : ex3) CHECK(e.text.find("Shallot") == std::string::npos);

    // typo copies: same spans shifted, one edit inside the span
    Rng rng(1);
    TrainingExample in{"Acme Cherry Tomatoes 1 lb", {{5, 20}}}, out;
    for (int i = 0; i < 50; ++i) {
        REQUIRE(misspell_copy(in, rng, out));
        CHECK(out.text != in.text);
        const int delta = static_cast<int>(out.text.size()) - static_cast<int>(in.text.size());
        CHECK(out.spans[0].first == 5);
        CHECK(static_cast<int>(out.spans[0].second) == 20 + delta);
        CHECK(out.text.substr(out.spans[0].second) == " 1 lb");
    }
    TrainingExample tiny{"Ab Cd", {{0, 2}}};
    CHECK(!misspell_copy(tiny, rng, out));
}

TEST_CASE("linker: exact, synonyms, head; discovery counts unknown spans") {
    EntityLinker linker;
    linker.add("Tortilla Chips", EntityId(1));
    linker.add("tortilla crisps", EntityId(1));  // synonym, same concept
    linker.add("salsa", EntityId(2));
    linker.add("SALSA", EntityId(3));             // conflict: first kept, counted
    CHECK(linker.size() == 3);
    CHECK(linker.conflicts() == 1);
    CHECK(linker.link("TORTILLA-CRISPS").entity == EntityId(1));
    CHECK(linker.link("tortilla crisps").kind == LinkKind::exact);
    CHECK(linker.link("Salsa").entity == EntityId(2));
    CHECK(linker.link("smoky salsa").kind == LinkKind::none);
    const auto h = linker.link("smoky salsa", true);
    CHECK(h.kind == LinkKind::head);
    CHECK(h.entity == EntityId(2));
    CHECK(linker.link("").kind == LinkKind::none);
    CHECK_THROWS_AS(linker.add("x", EntityId{}), InvalidArgument);

    CandidateDiscovery d;
    for (int i = 0; i < 5; ++i) d.add("smoky salsa", "Smoky Salsa", 0.9f, EntityId(2));
    for (int i = 0; i < 2; ++i) d.add("rare thing", "Rare Thing", 0.5f);
    d.add("", "", 1.0f);
    CHECK(d.total() == 7);
    CHECK(d.distinct() == 2);
    auto c = d.candidates(3);
    REQUIRE(c.size() == 1);
    CHECK(c[0].form == "smoky salsa");
    CHECK(c[0].count == 5);
    CHECK(c[0].head == EntityId(2));
    CHECK(c[0].mean_confidence == doctest::Approx(0.9));
    CHECK(d.candidates(1).size() == 2);
}

TEST_CASE("sim world: silver-trained CRF finds held-out forms the dictionary cannot") {
    const auto world = sim::World::generate(sim::Config::preset("small", 5));
    auto dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(world.dictionary()));
    std::vector<std::string_view> titles;
    for (const auto& it : world.items()) titles.push_back(it.title);
    const auto silver = silver_examples(*dict, titles);
    CHECK(silver.size() > titles.size() / 2);
    CrfOptions o;
    o.hash_bits = 18;
    auto tagger = std::make_shared<CrfTagger>(o, dict);
    tagger->train(silver);
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(world.dictionary());
    EntityPipeline crf_only(nullptr, tagger, linker, PipelineOptions{.use_dictionary = false});
    EntityPipeline both(dict, tagger, linker);
    DictionaryExtractor dict_only = *dict;
    PrecisionRecall crf_in, crf_out, dict_out, both_in;
    CandidateDiscovery discovery;
    std::vector<Mention> ms;
    std::size_t correct_entity = 0, in_titles = 0;
    for (const auto& it : world.items()) {
        const std::pair<std::uint32_t, std::uint32_t> gold{it.span_begin, it.span_end};
        const bool in_dict = world.surface_forms()[it.form].in_dictionary;
        ms.clear();
        crf_only.extract(it.title, ms, &discovery);
        score_spans(ms, {&gold, 1}, in_dict ? crf_in : crf_out);
        if (!in_dict) {
            score_extractor(dict_only, it.title, {&gold, 1}, dict_out, ms);
        } else {
            score_extractor(both, it.title, {&gold, 1}, both_in, ms);
            ++in_titles;
            for (const auto& m : ms) correct_entity += m.entity == it.entity;
        }
    }
    MESSAGE("CRF F1 in-dictionary " << crf_in.f1() << ", held-out " << crf_out.f1() << "; dictionary held-out "
                                    << dict_out.f1());
    CHECK(crf_in.f1() >= 0.95);
    CHECK(crf_out.f1() >= 0.85);
    CHECK(dict_out.f1() < 0.1);
    CHECK(both_in.f1() >= 0.95);
    // the fallback names something in every title that has a token
    EntityPipeline fallback(nullptr, tagger, linker, PipelineOptions{.use_dictionary = false, .at_least_one = true});
    std::size_t named = 0;
    for (std::size_t i = 0; i < 200; ++i) {
        ms.clear();
        fallback.extract(world.items()[i].title, ms);
        named += !ms.empty();
    }
    CHECK(named == 200);
    CHECK(static_cast<double>(correct_entity) >= 0.95 * static_cast<double>(in_titles));  // linking
    const auto cands = discovery.candidates(3);
    REQUIRE(!cands.empty());
    // most recurring unknown spans are true held-out forms
    std::size_t true_forms = 0;
    for (const auto& c : cands)
        for (const auto& f : world.surface_forms())
            if (!f.in_dictionary && f.text == c.form) {
                ++true_forms;
                break;
            }
    CHECK(static_cast<double>(true_forms) >= 0.7 * static_cast<double>(cands.size()));
}

namespace {
// A caller's own extractor: every capitalised word is a mention of entity 7.
struct CapitalisedWords {
    void extract(std::string_view text, std::vector<Mention>& out) const {
        for (std::size_t i = 0; i < text.size();) {
            if (text[i] >= 'A' && text[i] <= 'Z' && (i == 0 || text[i - 1] == ' ')) {
                std::size_t e = i;
                while (e < text.size() && text[e] != ' ') ++e;
                out.push_back(Mention{EntityId(7), static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(e), 0.5f,
                                      MentionSource::external});
                i = e;
            } else {
                ++i;
            }
        }
    }
};
struct NotAnExtractor {
    void extract(std::string_view) {}
};
}  // namespace

TEST_CASE("extractor concept: caller types plug into scoring") {
    static_assert(Extractor<CapitalisedWords>);
    static_assert(!Extractor<NotAnExtractor>);
    static_assert(!Extractor<int>);
    CapitalisedWords x;
    PrecisionRecall pr;
    std::vector<Mention> scratch;
    const std::pair<std::uint32_t, std::uint32_t> gold[] = {{5, 10}, {11, 14}};
    score_extractor(x, "some Salsa Dip here", gold, pr, scratch);
    CHECK(pr.tp == 2);
    CHECK(pr.fp == 0);
    CHECK(pr.fn == 0);
    score_extractor(x, "Salsa dip", gold, pr, scratch);  // predicted [0,5): one fp, two fn
    CHECK(pr.tp == 2);
    CHECK(pr.fp == 1);
    CHECK(pr.fn == 2);
    CHECK(pr.f1() == doctest::Approx(2.0 * (2.0 / 3) * 0.5 / (2.0 / 3 + 0.5)));
}

// ---- steady state: no allocation per call -------------------------------------------------------

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

// Count every allocation of this test binary (replaceable global operator new). GCC 12 sees
// malloc/free through the inlined allocator and warns about a mismatch that is not one.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    ++g_allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    ++g_allocations;
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

TEST_CASE("hot paths allocate nothing at steady state") {
    Toy toy = make_toy(4, 200);
    auto dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(toy.forms));
    CrfOptions o;
    o.hash_bits = 14;
    o.epochs = 2;
    auto tagger = std::make_shared<CrfTagger>(o, dict);
    tagger->train(toy.examples);
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(toy.forms);
    EntityPipeline pipeline(dict, tagger, linker);
    DictionaryExtractor::Workspace dws;
    CrfTagger::Workspace cws;
    std::vector<Mention> out;
    std::vector<TaggedSpan> spans;
    const HeadFinder heads;
    const Normalizer normalizer;
    NormalizedText norm;
    std::size_t resolved = 0;
    auto pass = [&] {
        for (const auto& ex : toy.examples) {
            out.clear();
            dict->extract(ex.text, out, dws);
            tagger->tag(ex.text, spans, cws);
            out.clear();
            pipeline.extract(ex.text, out);
            normalizer.normalize(ex.text, norm);
            const TitleHead th = title_head(out, norm, heads, linker.get());
            resolved += th.entity.valid() + th.head_entity.valid();
        }
    };
    pass();  // warm-up: workspaces and output vectors grow
    const std::size_t probe = g_allocations.load();
    {
        std::vector<int> v(3);  // the counter does count
        CHECK(v.size() == 3);
    }
    CHECK(g_allocations.load() - probe == 1);
    const std::size_t before = g_allocations.load();
    pass();
    CHECK(g_allocations.load() - before == 0);
    CHECK(!out.empty());
    CHECK(resolved > 0);
}

// ---- the pipeline: any tagger, one linear merge, a work cap -----------------------------------

namespace {
// A caller's tagger whose spans the test scripts (sorted by begin, as the concept asks).
struct ScriptedTagger {
    std::vector<Mention> next;
    void extract(std::string_view, std::vector<Mention>& out) const { out.insert(out.end(), next.begin(), next.end()); }
};

// The pipeline's rule spelt out naively: every dictionary mention tested against every span.
std::vector<Mention> reference_pipeline(const DictionaryExtractor& dict, std::vector<Mention> spans, const EntityLinker& linker,
                                        const PipelineOptions& o, std::string_view text, CandidateDiscovery& disc) {
    std::vector<Mention> dm;
    DictionaryExtractor::Workspace ws;
    dict.extract(text, dm, ws);
    NormalizedText n;
    linker.normalizer().normalize(text, n);
    std::vector<Mention> acc;
    for (const Mention& s : spans) {
        if (s.begin >= s.end || s.end > text.size() || s.score < o.min_confidence) continue;
        bool blocked = false;
        EntityId contained;
        for (const Mention& d : dm) {
            if (!(d.begin < s.end && s.begin < d.end) || !d.entity.valid()) continue;
            const bool inside = s.begin <= d.begin && d.end <= s.end && (s.begin < d.begin || d.end < s.end);
            if (inside && s.score >= o.override_confidence) contained = d.entity;
            else blocked = true;
        }
        if (blocked) continue;
        if (contained.valid())
            for (Mention& d : dm)
                if (d.entity.valid() && s.begin <= d.begin && d.end <= s.end) d.entity = EntityId{};
        const auto [tb, te] = HeadFinder::tokens_of(n, s.begin, s.end);
        LinkResult lr{s.entity, s.entity.valid() ? LinkKind::exact : LinkKind::none};
        if (lr.kind == LinkKind::none && tb < te) lr = linker.link_tokens(n, tb, te, true);
        if (lr.kind == LinkKind::none && contained.valid()) lr = LinkResult{contained, LinkKind::head};
        if (lr.kind != LinkKind::exact && tb < te)
            disc.add(n.text().substr(n.tokens()[tb].norm_begin, n.tokens()[te - 1].norm_end - n.tokens()[tb].norm_begin),
                     text.substr(s.begin, s.end - s.begin), s.score, lr.entity);
        if (lr.kind == LinkKind::head && !o.link_by_head) lr = LinkResult{};
        if (lr.kind == LinkKind::none && !o.keep_unlinked) continue;
        acc.push_back(Mention{lr.entity, s.begin, s.end, s.score, s.source});
    }
    std::vector<Mention> out;
    for (const Mention& d : dm)
        if (d.entity.valid()) out.push_back(d);
    out.insert(out.end(), acc.begin(), acc.end());
    std::stable_sort(out.begin(), out.end(), [](const Mention& a, const Mention& b) { return a.begin < b.begin; });
    return out;
}
}  // namespace

TEST_CASE("pipeline: a caller's tagger replaces the CRF; the one-pass merge equals the naive rule") {
    const std::vector<std::pair<std::string, EntityId>> forms{{"salsa", EntityId(0)}, {"salsa verde", EntityId(1)},
                                                              {"tortilla chips", EntityId(2)}, {"chips", EntityId(3)},
                                                              {"dip", EntityId(4)}, {"hot dip", EntityId(5)}};
    auto dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(
        std::vector<std::pair<std::string, EntityId>>(forms.begin(), forms.begin() + 5)));
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(forms);
    static_assert(Extractor<ScriptedTagger>);
    const char* words[] = {"salsa", "verde", "chips", "tortilla", "hot", "dip", "acme", "-"};
    Rng rng(23);
    for (int trial = 0; trial < 1500; ++trial) {
        PipelineOptions o;
        o.link_by_head = rng.bernoulli(0.5);
        o.keep_unlinked = rng.bernoulli(0.7);
        o.min_confidence = rng.bernoulli(0.3) ? 0.3f : 0.0f;
        o.override_confidence = rng.bernoulli(0.5) ? 0.5f : 2.0f;
        EntityPipeline<ScriptedTagger> pipe(dict, ScriptedTagger{}, linker, o);
        std::string text;
        const auto len = 1 + rng.uniform_int(10);
        std::vector<std::uint32_t> starts, ends;
        for (std::uint64_t k = 0; k < len; ++k) {
            if (k) text += ' ';
            starts.push_back(static_cast<std::uint32_t>(text.size()));
            text += words[rng.uniform_int(8)];
            ends.push_back(static_cast<std::uint32_t>(text.size()));
        }
        auto& spans = pipe.tagger().next;
        for (std::size_t k = 0; k < len;) {  // token-aligned spans, sometimes overlapping
            if (!rng.bernoulli(0.5)) {
                ++k;
                continue;
            }
            const std::size_t e = std::min<std::size_t>(len, k + 1 + rng.uniform_int(3));
            const EntityId own = rng.bernoulli(0.1) ? EntityId(9) : EntityId{};
            spans.push_back(Mention{own, starts[k], ends[e - 1], static_cast<float>(rng.uniform()), MentionSource::external});
            k = rng.bernoulli(0.2) ? k + 1 : e;
        }
        if (rng.bernoulli(0.05)) spans.push_back(Mention{EntityId{}, 900, 950, 1.0f, MentionSource::external});  // outside
        CandidateDiscovery d1, d2;
        std::vector<Mention> got{Mention{EntityId(8), 0, 0, 1.0f, MentionSource::external}};  // extract appends
        pipe.extract(text, got, &d1);
        REQUIRE(!got.empty());
        CHECK(got[0].entity == EntityId(8));
        got.erase(got.begin());
        const auto want = reference_pipeline(*dict, spans, *linker, o, text, d2);
        INFO(text);
        CHECK(got == want);
        CHECK(d1.total() == d2.total());
        CHECK(std::is_sorted(got.begin(), got.end(), [](const Mention& a, const Mention& b) { return a.begin < b.begin; }));
    }
    // a tagger that emits unsorted spans is sorted first; spans outside the text never reach out
    EntityPipeline<ScriptedTagger> pipe(nullptr, ScriptedTagger{}, linker, PipelineOptions{.use_dictionary = false});
    pipe.tagger().next = {Mention{EntityId{}, 6, 9, 0.9f, MentionSource::external}, Mention{EntityId{}, 0, 5, 0.9f, MentionSource::external},
                          Mention{EntityId{}, 3, 2, 0.9f, MentionSource::external}, Mention{EntityId{}, 8, 4000, 0.9f, MentionSource::external}};
    std::vector<Mention> out;
    pipe.extract("salsa dip", out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].entity == EntityId(0));
    CHECK(out[1].entity == EntityId(4));
}

TEST_CASE("pipeline: linear in the title, and capped at max_text_bytes") {
    Toy toy = make_toy(4, 200);
    auto dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(toy.forms));
    CrfOptions co;
    co.hash_bits = 14;
    co.epochs = 2;
    auto tagger = std::make_shared<CrfTagger>(co, dict);
    tagger->train(toy.examples);
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(toy.forms);
    // one long title of repeated forms: the dictionary finds every "salsa"; with the CRF each one
    // is still covered by exactly one mention (kept, or replaced by a CRF span containing it)
    std::string title;
    const int copies = 20000;
    for (int i = 0; i < copies; ++i) title += "salsa ";
    EntityPipeline dict_only(dict, tagger, linker, PipelineOptions{.use_tagger = false, .max_text_bytes = 0});
    std::vector<Mention> out;
    dict_only.extract(title, out);
    CHECK(out.size() == copies);
    EntityPipeline unlimited(dict, tagger, linker, PipelineOptions{.max_text_bytes = 0});
    out.clear();
    unlimited.extract(title, out);
    REQUIRE(!out.empty());
    std::uint32_t last_end = 0;
    bool disjoint = true;
    for (const Mention& m : out) {
        disjoint &= m.begin >= last_end && m.begin < m.end;
        last_end = m.end;
    }
    CHECK(disjoint);
    std::size_t covered = 0, k = 0;
    for (int i = 0; i < copies; ++i) {
        const std::uint32_t b = 6 * static_cast<std::uint32_t>(i), e = b + 5;
        while (k < out.size() && out[k].end < e) ++k;
        covered += k < out.size() && out[k].begin <= b && e <= out[k].end;
    }
    CHECK(covered == copies);
    // the default cap reads the first 64 KiB only
    const PipelineOptions defaults;
    REQUIRE(defaults.max_text_bytes == 64 * 1024);
    EntityPipeline capped(dict, tagger, linker);
    out.clear();
    capped.extract(title, out);
    REQUIRE(!out.empty());
    CHECK(out.back().end <= defaults.max_text_bytes);
    // a configurable cap
    const std::string t2 = std::string(9, 'x') + " salsa \xC3\xA9salsa";  // "salsa" at 10, "é" at 16..18
    EntityPipeline small(dict, tagger, linker, PipelineOptions{.use_tagger = false, .max_text_bytes = 15});
    out.clear();
    small.extract(t2, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].begin == 10);
    small.options().max_text_bytes = 14;  // "salsa" cut to "sals": no match
    out.clear();
    small.extract(t2, out);
    CHECK(out.empty());
    // ... cut back to a character start: a cap inside "é" ends the text before it
    EntityPipeline<ScriptedTagger> spans(nullptr, ScriptedTagger{}, nullptr,
                                         PipelineOptions{.use_dictionary = false, .max_text_bytes = 17});
    spans.tagger().next = {Mention{EntityId{}, 10, 15, 1.0f, MentionSource::external},
                           Mention{EntityId{}, 10, 17, 1.0f, MentionSource::external}};
    out.clear();
    spans.extract(t2, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].end == 15);
    spans.options().max_text_bytes = 18;
    out.clear();
    spans.extract(t2, out);
    CHECK(out.size() == 2);
}
