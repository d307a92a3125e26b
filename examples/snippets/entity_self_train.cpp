// docs/entity.md — self-training from a small seed: head words become new entities.
#include <cstdio>
#include <string>
#include <vector>

#include <kerec/entity/head.hpp>

int main() {
    using namespace kerec;
    // Titles are head-final: "<brand> [modifier] <noun>". The seed knows two nouns only.
    const char* brands[] = {"Acme", "Bolt", "Dune", "Fjord", "Kelp"};
    const char* mods[] = {"Organic", "Spicy", "Classic"};
    const char* nouns[] = {"Salsa", "Chips", "Crackers", "Hummus", "Pretzels"};
    std::vector<std::string> titles;
    for (int i = 0; i < 600; ++i)
        titles.push_back(std::string(brands[i % 5]) + " " + mods[(i / 5) % 3] + " " + nouns[(i / 15) % 5] +
                         (i % 4 == 0 ? " with Herbs, 12 oz" : ""));
    Vocabulary<EntityId> seed;
    std::vector<std::pair<std::string, EntityId>> forms;
    for (const char* w : {"salsa", "chips"}) forms.emplace_back(w, seed.add(w));

    // Silver labels -> CRF -> head words of the titles that link to nothing -> new entities ->
    // retrain on the extended dictionary.
    SelfTrainingOptions options;
    options.dictionary.normalizer.fold_plurals = options.crf.normalizer.fold_plurals = true;
    options.crf.hash_bits = 14;
    options.pipeline.at_least_one = true;
    options.min_count = 5;
    const SelfTrainedExtractor model = self_train(seed, forms, titles, options);
    for (const auto& c : model.discovered)
        std::printf("discovered '%s': heads %llu titles (share %.2f), e.g. \"%s\"\n", c.name.c_str(),
                    static_cast<unsigned long long>(c.heads), c.head_share(), c.example.c_str());

    // Each title gathers under the entity of its head mention (the unified concept term).
    EntityPipeline pipeline = model.pipeline();
    const HeadFinder heads(options.heads, options.dictionary.normalizer);
    const Normalizer normalizer(options.dictionary.normalizer);
    std::vector<Mention> mentions;
    NormalizedText norm;
    const std::string title = "Orca Smoked Crackers with Sea Salt, 6 oz";
    pipeline.extract(title, mentions);
    normalizer.normalize(title, norm);
    const TitleHead head = title_head(mentions, norm, heads, model.linker.get());
    std::printf("'%s' -> %s\n", title.c_str(), head.entity.valid() ? std::string(model.entities.name(head.entity)).c_str() : "-");
    return head.entity.valid() && model.entities.name(head.entity) == "crackers" ? 0 : 1;
}
