// Extract entities from simulated item titles: a dictionary from the world's exported surface
// forms, a CRF trained on silver labels (dictionary matches), linking, and cold-start candidates.
// Prints a few titles with their mentions, span F1 for titles whose form is in the dictionary
// and titles whose form was held out of it, and how often the item's entity (title_head, through
// the item ↔ entity map) is the true one.
//   extract_entities [preset=small] [seed=42] [--json]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <kerec/entity/dictionary.hpp>
#include <kerec/entity/evaluate.hpp>
#include <kerec/entity/item_entities.hpp>
#include <kerec/entity/linker.hpp>
#include <kerec/sim/world.hpp>

int main(int argc, char** argv) {
    using namespace kerec;
    std::string preset = "small";
    std::uint64_t seed = 42;
    bool json = false;
    int pos = 0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) json = true;
        else if (pos++ == 0) preset = argv[i];
        else seed = std::stoull(argv[i]);
    }
    try {
        TerminalProgressBar bar;
        const auto world = sim::World::generate(sim::Config::preset(preset, seed), bar.callback());
        auto dict = std::make_shared<DictionaryExtractor>(DictionaryExtractor::build(world.dictionary()));

        // Silver labels: dictionary matches on every title.
        std::vector<std::string_view> titles;
        for (const auto& it : world.items()) titles.push_back(it.title);
        const auto silver = silver_examples(*dict, titles);

        CrfOptions co;
        co.seed = seed;
        auto tagger = std::make_shared<CrfTagger>(co, dict);
        const auto t0 = std::chrono::steady_clock::now();
        const auto rep = tagger->train(silver, bar.callback());
        const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

        auto linker = std::make_shared<EntityLinker>();
        linker->add_all(world.dictionary());
        EntityPipeline pipeline(dict, tagger, linker, PipelineOptions{.use_dictionary = false});
        EntityPipeline both(dict, tagger, linker);

        PrecisionRecall crf_in, crf_out, dict_in, dict_out, both_in, both_out;
        CandidateDiscovery discovery;
        std::vector<Mention> ms;
        for (const auto& it : world.items()) {
            const std::pair<std::uint32_t, std::uint32_t> gold{it.span_begin, it.span_end};
            const bool in_dict = world.surface_forms()[it.form].in_dictionary;
            ms.clear();
            pipeline.extract(it.title, ms, &discovery);
            score_spans(ms, {&gold, 1}, in_dict ? crf_in : crf_out);
            score_extractor(*dict, it.title, {&gold, 1}, in_dict ? dict_in : dict_out, ms);
            score_extractor(both, it.title, {&gold, 1}, in_dict ? both_in : both_out, ms);
        }

        // The item <-> entity map: every linked mention a link, title_head's choice the primary.
        const ItemEntityMap items = item_entities(both, titles, world.entities().size(), linker.get());
        std::size_t right = 0, mapped = 0;
        for (std::uint32_t i = 0; i < items.item_count(); ++i) {
            mapped += items.primary(ItemId(i)).valid();
            right += items.primary(ItemId(i)) == world.items()[i].entity;
        }
        const double accuracy = static_cast<double>(right) / static_cast<double>(items.item_count());

        if (json) {
            std::printf("{\"name\": \"entity.item.primary_accuracy\", \"value\": %.4f, \"unit\": \"share of items\"}\n", accuracy);
            std::printf("{\"name\": \"entity.crf.f1_in_dict\", \"value\": %.4f, \"unit\": \"F1\"}\n", crf_in.f1());
            std::printf("{\"name\": \"entity.crf.f1_held_out\", \"value\": %.4f, \"unit\": \"F1\"}\n", crf_out.f1());
            std::printf("{\"name\": \"entity.dict.f1_held_out\", \"value\": %.4f, \"unit\": \"F1\"}\n", dict_out.f1());
            return 0;
        }
        std::printf("world '%s': %zu items, %zu dictionary forms; %zu silver titles, %zu tokens; CRF trained in %.2f s\n",
                    preset.c_str(), world.items().size(), dict->size(), rep.examples, rep.tokens, train_s);
        std::printf("\n%-58s  %s\n", "title", "mentions (entity, source, score)");
        int shown_in = 0, shown_out = 0;
        for (const auto& it : world.items()) {
            const bool in_dict = world.surface_forms()[it.form].in_dictionary;
            if ((in_dict ? shown_in : shown_out)++ >= 4) continue;
            ms.clear();
            both.extract(it.title, ms);
            std::printf("%-58.58s ", it.title.c_str());
            for (const auto& m : ms)
                std::printf(" [%.*s -> %s, %s, %.2f]", static_cast<int>(m.size()), it.title.data() + m.begin,
                            m.entity.valid() ? std::string(world.entities().name(m.entity)).c_str() : "?",
                            m.source == MentionSource::dictionary ? "dict" : "crf", m.score);
            std::printf("%s\n", in_dict ? "" : "   (held-out form)");
        }
        std::printf("\nspan P/R/F1        in-dictionary forms          held-out forms\n");
        std::printf("dictionary         %.3f / %.3f / %.3f      %.3f / %.3f / %.3f\n", dict_in.precision(),
                    dict_in.recall(), dict_in.f1(), dict_out.precision(), dict_out.recall(), dict_out.f1());
        std::printf("CRF (silver)       %.3f / %.3f / %.3f      %.3f / %.3f / %.3f\n", crf_in.precision(),
                    crf_in.recall(), crf_in.f1(), crf_out.precision(), crf_out.recall(), crf_out.f1());
        std::printf("dictionary + CRF   %.3f / %.3f / %.3f      %.3f / %.3f / %.3f\n", both_in.precision(),
                    both_in.recall(), both_in.f1(), both_out.precision(), both_out.recall(), both_out.f1());
        std::printf("\nitem -> entity map: %zu items, %zu links; %zu items mapped, primary entity right for %.1f %%\n",
                    items.item_count(), items.link_count(), mapped, 100.0 * accuracy);
        const auto cands = discovery.candidates(3);
        std::printf("\n%zu candidate new forms seen >= 3 times (unlinked CRF spans); top ones:\n", cands.size());
        for (std::size_t i = 0; i < 5 && i < cands.size(); ++i)
            std::printf("  %-30s x%-4llu e.g. \"%s\"  head -> %s\n", cands[i].form.c_str(),
                        static_cast<unsigned long long>(cands[i].count), cands[i].example.c_str(),
                        cands[i].head.valid() ? std::string(world.entities().name(cands[i].head)).c_str() : "-");
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "extract_entities: %s\n", e.what());
        return 1;
    }
}
