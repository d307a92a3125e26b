// Concurrent extraction as documented: one dictionary, CRF tagger and linker shared read-only,
// one EntityPipeline (or Workspace) per thread. Every thread must see exactly what one thread
// sees; under ThreadSanitizer (label tsan) any shared write would be reported.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/entity/head.hpp>
#include <kerec/entity/linker.hpp>

using namespace kerec;

namespace {
struct Parts {
    std::vector<std::pair<std::string, EntityId>> forms;
    std::vector<std::string> titles;
    std::shared_ptr<const DictionaryExtractor> dict, ac;
    std::shared_ptr<const CrfTagger> tagger;
    std::shared_ptr<const EntityLinker> linker;
};

Parts make_parts() {
    Parts p;
    const char* nouns[] = {"tortilla chips", "salsa", "greek yogurt", "olive oil", "green tea", "oat milk"};
    const char* unknown[] = {"almond butter", "rice crackers"};
    const char* brands[] = {"Acme", "Bolt", "Dune", "Fjord"};
    for (std::uint32_t i = 0; i < 6; ++i) p.forms.emplace_back(nouns[i], EntityId(i));
    Rng rng(5);
    for (int i = 0; i < 400; ++i) {
        const bool known = rng.bernoulli(0.8);
        p.titles.push_back(std::string(brands[rng.uniform_int(4)]) + " " +
                           (known ? nouns[rng.uniform_int(6)] : unknown[rng.uniform_int(2)]) + (i % 3 ? " 12 oz" : " with Lime"));
    }
    p.dict = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(p.forms));
    DictionaryOptions o;
    o.word_boundary = false;
    p.ac = std::make_shared<const DictionaryExtractor>(DictionaryExtractor::build(p.forms, o));
    CrfOptions co;
    co.hash_bits = 14;
    co.epochs = 3;
    auto tagger = std::make_shared<CrfTagger>(co, p.dict);
    tagger->train(silver_examples(*p.dict, p.titles));
    p.tagger = tagger;
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(p.forms);
    p.linker = linker;
    return p;
}

// Everything one thread extracts from the titles, flattened.
struct Result {
    std::vector<Mention> pipeline, dict, ac;
    std::vector<TaggedSpan> crf;
    std::vector<EntityId> heads;
    std::uint64_t discovered = 0;
};

Result run(const Parts& p, std::size_t rounds) {
    Result r;
    EntityPipeline pipeline(p.dict, p.tagger, p.linker);
    DictionaryExtractor::Workspace dws;
    CrfTagger::Workspace cws;
    CandidateDiscovery discovery;
    const HeadFinder heads;
    const Normalizer normalizer;
    NormalizedText norm;
    std::vector<Mention> ms;
    std::vector<TaggedSpan> spans;
    for (std::size_t round = 0; round < rounds; ++round)
        for (const auto& t : p.titles) {
            ms.clear();
            pipeline.extract(t, ms, &discovery);
            normalizer.normalize(t, norm);
            if (round == 0) {
                r.pipeline.insert(r.pipeline.end(), ms.begin(), ms.end());
                r.heads.push_back(title_head(ms, norm, heads, p.linker.get()).entity);
            }
            const std::size_t d0 = r.dict.size(), a0 = r.ac.size();
            p.dict->extract(t, r.dict, dws);
            p.ac->extract(t, r.ac, dws);
            p.tagger->tag(t, spans, cws);
            if (round == 0) {
                r.crf.insert(r.crf.end(), spans.begin(), spans.end());
            } else {
                r.dict.resize(d0);
                r.ac.resize(a0);
            }
        }
    r.discovered = discovery.total();
    return r;
}
}  // namespace

TEST_CASE("entity: threads sharing one dictionary, tagger and linker, a pipeline each, see what one thread sees") {
    const Parts parts = make_parts();
    const Result one = run(parts, 1);
    REQUIRE(one.pipeline.size() > parts.titles.size() / 2);
    REQUIRE(!one.crf.empty());
    constexpr int threads = 4;
    std::vector<Result> results(threads);
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) pool.emplace_back([&, k] { results[k] = run(parts, 3); });
    for (auto& t : pool) t.join();
    for (const Result& r : results) {
        CHECK(r.pipeline == one.pipeline);
        CHECK(r.dict == one.dict);
        CHECK(r.ac == one.ac);
        CHECK(r.heads == one.heads);
        CHECK(r.discovered == 3 * one.discovered);
        REQUIRE(r.crf.size() == one.crf.size());
        for (std::size_t i = 0; i < r.crf.size(); ++i) {
            CHECK(r.crf[i].begin == one.crf[i].begin);
            CHECK(r.crf[i].end == one.crf[i].end);
            CHECK(r.crf[i].confidence == one.crf[i].confidence);
        }
    }
}
