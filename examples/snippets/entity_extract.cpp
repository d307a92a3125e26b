// docs/entity.md — dictionary extraction, a silver-trained CRF, linking and cold-start candidates.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <kerec/entity/linker.hpp>

int main() {
    using namespace kerec;
    // Surface forms -> entities; synonyms map to one unified concept.
    const std::vector<std::pair<std::string, EntityId>> forms{
        {"tortilla chips", EntityId(0)}, {"tortilla crisps", EntityId(0)}, {"salsa", EntityId(1)},
        {"greek yogurt", EntityId(2)},   {"olive oil", EntityId(3)},       {"peanut butter", EntityId(4)}};
    auto dict = std::make_shared<DictionaryExtractor>(DictionaryExtractor::build(forms));

    // 1. Dictionary: leftmost-longest matches, offsets into the original bytes.
    std::vector<Mention> mentions;
    const std::string title = "ACME Tortilla-Crisps & Smoky SALSA, 12 oz";
    dict->extract(title, mentions);
    for (const Mention& m : mentions)
        std::printf("dictionary: '%.*s' -> entity %u\n", static_cast<int>(m.size()), title.data() + m.begin,
                    m.entity.value());

    // 2. A CRF trained on silver labels (the dictionary's own matches) generalises to forms the
    //    dictionary lacks, from the words and their context.
    std::vector<std::string> titles;
    const char* brands[] = {"Acme", "Bolt", "Dune", "Fjord", "Kelp", "Orca"};
    const char* sizes[] = {"12 oz", "500 ml", "Pack of 6", "1 lb"};
    for (int i = 0; i < 240; ++i)
        titles.push_back(std::string(brands[i % 6]) + " " + forms[(i / 6) % forms.size()].first + " " + sizes[i % 4]);
    CrfOptions options;
    options.hash_bits = 16;
    auto tagger = std::make_shared<CrfTagger>(options, dict);
    tagger->train(silver_examples(*dict, titles));

    // 3. Pipeline: dictionary first, CRF for the rest, spans linked to entities when possible;
    //    recurring unlinked spans become candidate new entities.
    auto linker = std::make_shared<EntityLinker>();
    linker->add_all(forms);
    EntityPipeline pipeline(dict, tagger, linker);
    CandidateDiscovery discovery;
    for (const char* t : {"Bolt Almond Butter 12 oz", "Orca Almond Butter 1 lb", "Kelp almond butter Pack of 6"}) {
        mentions.clear();
        pipeline.extract(t, mentions, &discovery);
        for (const Mention& m : mentions)
            std::printf("pipeline: '%.*s' (%s, p=%.2f)\n", static_cast<int>(m.size()), t + m.begin,
                        m.entity.valid() ? "linked" : "unknown", m.score);
    }
    const auto candidates = discovery.candidates(/*min_count=*/3);
    for (const auto& c : candidates) std::printf("candidate new entity: '%s' seen %llu times\n", c.form.c_str(),
                                                 static_cast<unsigned long long>(c.count));
    return candidates.size() == 1 && candidates[0].form == "almond butter" ? 0 : 1;
}
