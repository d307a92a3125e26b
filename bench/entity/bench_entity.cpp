// scripts/bench entity — dictionary extraction throughput side by side with Hyperscan, dictionary
// build time for 1M forms, CRF tagging/training speed, span F1 on the simulated marketplace, and
// the pipeline's seconds per MB on one long title.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <hs/hs.h>

#include <kerec/core/random.hpp>
#include <kerec/entity/dictionary.hpp>
#include <kerec/entity/evaluate.hpp>
#include <kerec/entity/linker.hpp>
#include <kerec/sim/world.hpp>

#include "figures.hpp"

using namespace kerec;

namespace {

struct HsMatches {
    std::vector<std::pair<unsigned long long, unsigned long long>>* out;
};

int on_match(unsigned int /*id*/, unsigned long long from, unsigned long long to, unsigned int /*flags*/, void* ctx) {
    static_cast<HsMatches*>(ctx)->out->emplace_back(from, to);
    return 0;
}

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

TEST_CASE("dictionary throughput vs hyperscan") {
    // Titles and forms of the large simulated marketplace (events are not needed here).
    auto cfg = sim::Config::preset("large", 42);
    cfg.users = 1000;
    cfg.events = 1000;
    std::vector<std::pair<std::string, EntityId>> forms;
    std::vector<std::string> titles;
    {
        const auto world = sim::World::generate(cfg);
        forms = world.dictionary();
        for (const auto& it : world.items()) titles.push_back(it.title);
    }
    Rng rng(1);
    rng.shuffle(forms);
    forms.resize(std::min<std::size_t>(forms.size(), 100000));
    // Repeat the titles until there are >= 100 MB of text; keep them in one buffer (offsets).
    std::string buffer;
    std::vector<std::pair<std::size_t, std::size_t>> lines;
    while (buffer.size() < 100u * 1000 * 1000) {
        for (const auto& t : titles) {
            lines.emplace_back(buffer.size(), t.size());
            buffer += t;
            buffer += '\n';
        }
    }
    titles = {};
    const double mb = static_cast<double>(buffer.size()) / 1e6;
    std::fprintf(stderr, "%zu forms, %zu titles, %.1f MB\n", forms.size(), lines.size(), mb);

    const auto t0 = std::chrono::steady_clock::now();
    DictionaryOptions dopt;
    dopt.on_conflict = ConflictPolicy::first_wins;
    DictionaryExtractor dict = DictionaryExtractor::build(forms, dopt);
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "kerec build %.2f s, %zu word-trie states, %.1f MiB\n", build_s, dict.stats().states,
                 static_cast<double>(dict.stats().memory_bytes) / (1 << 20));

    // Hyperscan: the same forms, normalised (lower case, single spaces), as caseless literals
    // with start-of-match (leftmost) reporting.
    std::vector<std::string> hs_forms;
    for (const auto& [f, e] : forms) hs_forms.push_back(dict.normalizer().normalize(f));
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    std::vector<unsigned> flags, ids;
    for (std::size_t i = 0; i < hs_forms.size(); ++i) {
        if (hs_forms[i].empty()) continue;
        ptrs.push_back(hs_forms[i].c_str());
        lens.push_back(hs_forms[i].size());
        flags.push_back(HS_FLAG_CASELESS | HS_FLAG_SOM_LEFTMOST);
        ids.push_back(static_cast<unsigned>(i));
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    const auto h0 = std::chrono::steady_clock::now();
    if (hs_compile_lit_multi(ptrs.data(), flags.data(), ids.data(), lens.data(), static_cast<unsigned>(ptrs.size()),
                             HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
        FAIL("hyperscan compile failed: " << (err ? err->message : "?"));
    }
    const double hs_build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - h0).count();
    std::fprintf(stderr, "hyperscan build %.2f s\n", hs_build_s);
    hs_scratch_t* scratch = nullptr;
    REQUIRE(hs_alloc_scratch(db, &scratch) == HS_SUCCESS);

    std::vector<Mention> out;
    out.reserve(1 << 22);
    std::vector<std::pair<unsigned long long, unsigned long long>> hs_out;
    hs_out.reserve(1 << 23);
    std::size_t kerec_matches = 0, hs_matches = 0;
    DictionaryExtractor::Workspace ws;

    BENCHMARK("kerec dictionary, per title") {
        out.clear();
        for (const auto& [off, len] : lines) dict.extract(std::string_view(buffer.data() + off, len), out, ws);
        kerec_matches = out.size();
        return out.size();
    };
    BENCHMARK("hyperscan, per title") {
        hs_out.clear();
        HsMatches ctx{&hs_out};
        for (const auto& [off, len] : lines)
            hs_scan(db, buffer.data() + off, static_cast<unsigned>(len), 0, scratch, on_match, &ctx);
        hs_matches = hs_out.size();
        return hs_out.size();
    };
    BENCHMARK("kerec dictionary, one buffer") {
        out.clear();
        dict.extract(buffer, out, ws);
        return out.size();
    };
    BENCHMARK("hyperscan, one buffer") {
        hs_out.clear();
        HsMatches ctx{&hs_out};
        hs_scan(db, buffer.data(), static_cast<unsigned>(buffer.size()), 0, scratch, on_match, &ctx);
        return hs_out.size();
    };
    const double k_title = mb / bench::median_seconds("kerec dictionary, per title");
    const double h_title = mb / bench::median_seconds("hyperscan, per title");
    const double k_buf = mb / bench::median_seconds("kerec dictionary, one buffer");
    const double h_buf = mb / bench::median_seconds("hyperscan, one buffer");
    std::fprintf(stderr, "matches: kerec %zu (leftmost-longest, non-overlapping, word boundaries), hyperscan %zu (all)\n",
                 kerec_matches, hs_matches);
    bench::emit("entity.dict.mb_per_s", k_title, "MB/s (per-title calls; ratio > 1: kerec faster)", "hyperscan",
                k_title / h_title);
    bench::emit("entity.dict.mb_per_s_buffer", k_buf, "MB/s (one 100 MB buffer; ratio > 1: kerec faster)", "hyperscan",
                k_buf / h_buf);
    bench::emit("entity.dict.build_s_100k", build_s, "s", "hyperscan", hs_build_s / build_s);
    hs_free_scratch(scratch);
    hs_free_database(db);
    CHECK(kerec_matches > lines.size() / 2);
}

TEST_CASE("dictionary build time 1M forms") {
    // Synthetic forms: 1-4 words from a 20k-word vocabulary of random syllables.
    Rng rng(3);
    const char* syl[] = {"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pa", "qua", "bri", "sto", "gle", "dun"};
    std::vector<std::string> vocab;
    for (int i = 0; i < 20000; ++i) {
        std::string w;
        const auto n = 2 + rng.uniform_int(3);
        for (std::uint64_t k = 0; k < n; ++k) w += syl[rng.uniform_int(15)];
        vocab.push_back(w);
    }
    std::vector<std::pair<std::string, EntityId>> forms;
    for (std::uint32_t i = 0; i < 1000000; ++i) {
        std::string f;
        const auto n = 1 + rng.uniform_int(4);
        for (std::uint64_t k = 0; k < n; ++k) f += (k ? " " : "") + vocab[rng.uniform_int(vocab.size())];
        forms.emplace_back(std::move(f), EntityId(i));
    }
    DictionaryOptions o;
    o.on_conflict = ConflictPolicy::first_wins;
    std::vector<double> secs;
    std::size_t states = 0;
    for (int run = 0; run < 3; ++run) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto d = DictionaryExtractor::build(forms, o);
        secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        states = d.stats().states;
    }
    std::fprintf(stderr, "1M forms: %zu states\n", states);
    bench::emit("entity.dict.build_s_1m", median_of(secs), "s");
    CHECK(states > 1000000);
}

TEST_CASE("CRF speed and span F1 on the simulated marketplace") {
    const auto world = sim::World::generate(sim::Config::preset("medium", 42));
    auto dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(world.dictionary()));
    std::vector<std::string_view> titles;
    for (const auto& it : world.items()) titles.push_back(it.title);
    const auto silver = silver_examples(*dict, titles);
    CrfOptions co;
    co.epochs = 8;
    auto tagger = std::make_shared<CrfTagger>(co, dict);
    const auto rep = tagger->train(silver);
    std::fprintf(stderr, "silver: %zu examples, %zu tokens; loss by epoch:", rep.examples, rep.tokens);
    for (double l : rep.loss_per_epoch) std::fprintf(stderr, " %.4f", l);
    std::fprintf(stderr, "\n");
    bench::emit("entity.crf.train_s_per_epoch", median_of(rep.seconds_per_epoch), "s/epoch (medium world silver set)");
    bench::emit("entity.crf.train_tokens_per_s", static_cast<double>(rep.tokens) / median_of(rep.seconds_per_epoch),
                "tokens/s");

    std::size_t tokens = 0;
    CrfTagger::Workspace ws;
    std::vector<TaggedSpan> spans;
    {
        NormalizedText nt;
        for (auto t : titles) {
            tagger->normalizer().normalize(t, nt);
            tokens += nt.tokens().size();
        }
    }
    BENCHMARK("crf tag medium titles") {
        std::size_t n = 0;
        for (auto t : titles) {
            tagger->tag(t, spans, ws);
            n += spans.size();
        }
        return n;
    };
    bench::emit("entity.crf.tokens_per_s", static_cast<double>(tokens) / bench::median_seconds("crf tag medium titles"),
                "tokens/s (Viterbi + span marginals, one thread)");

    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(world.dictionary());
    EntityPipeline crf_only(nullptr, tagger, linker, PipelineOptions{.use_dictionary = false});
    DictionaryExtractor dict_only = *dict;
    PrecisionRecall crf_in, crf_out, dict_in, dict_out;
    std::vector<Mention> ms;
    for (const auto& it : world.items()) {
        const std::pair<std::uint32_t, std::uint32_t> gold{it.span_begin, it.span_end};
        const bool in_dict = world.surface_forms()[it.form].in_dictionary;
        score_extractor(crf_only, it.title, {&gold, 1}, in_dict ? crf_in : crf_out, ms);
        score_extractor(dict_only, it.title, {&gold, 1}, in_dict ? dict_in : dict_out, ms);
    }
    std::fprintf(stderr, "span P/R: CRF in %.4f/%.4f held-out %.4f/%.4f; dictionary in %.4f/%.4f held-out %.4f/%.4f\n",
                 crf_in.precision(), crf_in.recall(), crf_out.precision(), crf_out.recall(), dict_in.precision(),
                 dict_in.recall(), dict_out.precision(), dict_out.recall());
    bench::emit("entity.crf.f1_in_dict", crf_in.f1(), "span F1, medium world, titles with dictionary forms");
    bench::emit("entity.crf.f1_held_out", crf_out.f1(), "span F1, medium world, titles with held-out forms");
    bench::emit("entity.dict.f1_held_out", dict_out.f1(), "span F1, medium world, titles with held-out forms");
    bench::emit("entity.dict.f1_in_dict", dict_in.f1(), "span F1, medium world, titles with dictionary forms");
    CHECK(crf_in.f1() > 0.9);
}

TEST_CASE("pipeline on one long title (linear in its length)") {
    // The small world's dictionary, a CRF trained on its silver labels, and one hostile title of
    // "salsa " repeated to 1 MB and 4 MB, read whole (max_text_bytes = 0): dictionary + CRF +
    // linking. override_confidence = 0 makes the CRF's one long span replace every dictionary
    // mention and be linked by its head, the path that was quadratic (0.125 / 0.25 / 0.5 MB took
    // 2.2 / 3.7 / 6.6 s per MB before the merge was made linear). Seconds per MB equal at both
    // sizes means linear.
    const auto world = sim::World::generate(sim::Config::preset("small", 42));
    auto dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(world.dictionary()));
    std::vector<std::string_view> titles;
    for (const auto& it : world.items()) titles.push_back(it.title);
    CrfOptions co;
    co.epochs = 4;
    auto tagger = std::make_shared<CrfTagger>(co, dict);
    tagger->train(silver_examples(*dict, titles));
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(world.dictionary());
    REQUIRE(linker->link("salsa").kind == LinkKind::exact);
    EntityPipeline pipeline(dict, tagger, linker, PipelineOptions{.override_confidence = 0.0f, .max_text_bytes = 0});
    std::string one_mb, four_mb;
    while (one_mb.size() < 1000000) one_mb += "salsa ";
    while (four_mb.size() < 4000000) four_mb += "salsa ";
    std::vector<Mention> out;
    std::size_t found_1 = 0, found_4 = 0;
    BENCHMARK("pipeline, one 1 MB title") {
        out.clear();
        pipeline.extract(one_mb, out);
        return found_1 = out.size();
    };
    BENCHMARK("pipeline, one 4 MB title") {
        out.clear();
        pipeline.extract(four_mb, out);
        return found_4 = out.size();
    };
    const double s1 = bench::median_seconds("pipeline, one 1 MB title") / (static_cast<double>(one_mb.size()) / 1e6);
    const double s4 = bench::median_seconds("pipeline, one 4 MB title") / (static_cast<double>(four_mb.size()) / 1e6);
    std::fprintf(stderr, "long title: %zu mentions in 1 MB, %zu in 4 MB\n", found_1, found_4);
    bench::emit("entity.pipeline.s_per_mb_1mb", s1, "s/MB (one 1 MB title: dictionary + CRF + linking)");
    bench::emit("entity.pipeline.s_per_mb_4mb", s4, "s/MB (one 4 MB title; equal to the 1 MB figure = linear)");
    CHECK(found_1 >= 1);
    CHECK(found_4 >= found_1);
}
