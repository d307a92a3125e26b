// Entity extraction on 49,688 real product titles (the Instacart catalogue).
//
// Seed: a dictionary made only of the words of the 134 aisle names (plural-folded, generic words
// removed), one entity per word. The CRF is trained on the silver labels that dictionary gives on
// the titles, then tags every title; spans that link to no seed entity are counted by their head
// word, and heads that recur become new entities (cold-start discovery) added to the dictionary.
// The aisle of each product is used only to score the result: the aisle purity of the products
// each entity gathers (share of them in the entity's most common aisle), against the coverage
// (share of titles with at least one entity).
//
//   instacart_entities --data DIR [--min-count N] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/csv.hpp>
#include <kerec/core/progress.hpp>
#include <kerec/core/vocabulary.hpp>
#include <kerec/entity/dictionary.hpp>
#include <kerec/entity/linker.hpp>

using namespace kerec;

namespace {

struct Options {
    std::filesystem::path data;
    std::uint64_t min_count = 8;
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw InvalidArgument(fmt::format("{} needs a value", a));
            return argv[++i];
        };
        if (a == "--data") o.data = value();
        else if (a == "--min-count") o.min_count = std::stoull(value());
        else if (a == "--json") o.json = true;
        else if (a == "--help" || a == "-h") {
            std::puts("usage: instacart_entities --data DIR [--min-count N] [--json]\n"
                      "  DIR holds products.csv and aisles.csv (the Instacart catalogue)");
            std::exit(0);
        } else {
            throw InvalidArgument(fmt::format("unknown option '{}' (try --help)", a));
        }
    }
    if (o.data.empty()) throw InvalidArgument("--data DIR is required (the folder with products.csv and aisles.csv)");
    return o;
}

struct Product {
    std::string title;
    std::uint32_t aisle = 0;
};

/// Coverage and purity of an entity assignment (entities of each product).
struct Scores {
    double coverage = 0, purity = 0;
    std::size_t entities_used = 0;
};

Scores score(const std::vector<Product>& products, const std::vector<std::vector<EntityId>>& found) {
    std::unordered_map<std::uint32_t, std::map<std::uint32_t, std::uint64_t>> by_entity;  // entity -> aisle -> n
    std::size_t covered = 0;
    for (std::size_t p = 0; p < products.size(); ++p) {
        covered += !found[p].empty();
        for (EntityId e : found[p]) ++by_entity[e.value()][products[p].aisle];
    }
    std::uint64_t total = 0, majority = 0;
    for (const auto& [e, aisles] : by_entity) {
        std::uint64_t n = 0, best = 0;
        for (const auto& [a, c] : aisles) n += c, best = std::max(best, c);
        total += n;
        majority += best;
    }
    return Scores{static_cast<double>(covered) / static_cast<double>(products.size()),
                  total ? static_cast<double>(majority) / static_cast<double>(total) : 0.0, by_entity.size()};
}

/// Distinct valid entities of a title's mentions.
void entities_of(const std::vector<Mention>& ms, std::vector<EntityId>& out) {
    out.clear();
    for (const Mention& m : ms)
        if (m.entity.valid() && std::find(out.begin(), out.end(), m.entity) == out.end()) out.push_back(m.entity);
}

}  // namespace

int main(int argc, char** argv) try {
    const Options opt = parse(argc, argv);
    TerminalProgressBar bar;
    const NormalizerOptions folding{.fold_plurals = true};
    const Normalizer normalizer(folding);

    // The catalogue: titles and (for scoring only) aisles.
    std::vector<std::string> aisle_names(1);
    {
        CsvReader csv(opt.data / "aisles.csv");
        std::vector<std::string> f;
        csv.next(f);  // header
        while (csv.next(f)) {
            if (f.size() != 2) throw csv.error(fmt::format("expected 2 fields (aisle_id,aisle), got {}", f.size()));
            const auto id = std::stoul(f[0]);
            if (aisle_names.size() <= id) aisle_names.resize(id + 1);
            aisle_names[id] = f[1];
        }
    }
    std::vector<Product> products;
    {
        CsvReader csv(opt.data / "products.csv");
        std::vector<std::string> f;
        csv.next(f);
        while (csv.next(f)) {
            if (f.size() != 4) throw csv.error(fmt::format("expected 4 fields, got {}", f.size()));
            products.push_back(Product{f[1], static_cast<std::uint32_t>(std::stoul(f[2]))});
        }
    }
    std::vector<std::string_view> titles;
    for (const auto& p : products) titles.push_back(p.title);

    // Seed dictionary: the aisle names' words, folded to one form per concept.
    static const std::set<std::string, std::less<>> generic{
        "other", "packaged", "fresh", "prepared", "specialty", "more", "missing", "bulk", "frozen", "canned",
        "jarred", "refrigerated", "counter", "care", "need", "good", "food", "supply", "product", "instant",
        "dried", "hot", "soft", "first", "mix", "meal", "accessory", "kosher", "asian", "indian", "latino", "ice"};
    Vocabulary<EntityId> entities;
    std::vector<std::pair<std::string, EntityId>> forms;
    for (std::size_t a = 1; a < aisle_names.size(); ++a) {
        const std::string norm = normalizer.normalize(aisle_names[a]);
        std::size_t start = 0;
        for (std::size_t i = 0; i <= norm.size(); ++i) {
            if (i < norm.size() && norm[i] != ' ') continue;
            const std::string word = norm.substr(start, i - start);
            start = i + 1;
            if (word.size() < 3 || generic.count(word)) continue;
            if (!entities.contains(word)) forms.emplace_back(word, entities.add(word));
        }
    }
    const std::size_t seed_entities = entities.size();
    DictionaryOptions dict_options;
    dict_options.normalizer = folding;
    auto seed_dict = std::make_shared<DictionaryExtractor>(DictionaryExtractor::build(forms, dict_options));

    const auto t0 = std::chrono::steady_clock::now();
    // Seed alone: dictionary matches.
    std::vector<std::vector<EntityId>> found(products.size());
    std::vector<Mention> ms;
    DictionaryExtractor::Workspace dws;
    for (std::size_t p = 0; p < products.size(); ++p) {
        ms.clear();
        seed_dict->extract(titles[p], ms, dws);
        entities_of(ms, found[p]);
    }
    const Scores seed = score(products, found);

    // CRF on the seed's silver labels.
    CrfOptions crf_options;
    crf_options.normalizer = folding;
    auto tagger = std::make_shared<CrfTagger>(crf_options, seed_dict);
    const auto train = tagger->train(silver_examples(*seed_dict, titles), bar.callback());
    bar.close();

    // Pass 1: tag every title; spans that link to nothing are counted by their head word.
    auto linker = std::make_shared<EntityLinker>(folding);
    linker->add_all(forms);
    EntityPipeline first(seed_dict, tagger, linker);
    CandidateDiscovery heads;
    NormalizedText norm;
    for (std::size_t p = 0; p < products.size(); ++p) {
        ms.clear();
        first.extract(titles[p], ms);
        for (const Mention& m : ms) {
            if (m.entity.valid()) continue;
            normalizer.normalize(titles[p].substr(m.begin, m.end - m.begin), norm);
            if (norm.tokens().empty()) continue;
            const auto& last = norm.tokens().back();
            const std::string_view head = norm.text().substr(last.norm_begin, last.norm_end - last.norm_begin);
            if (head.size() >= 3 && !generic.count(head) && !(head[0] >= '0' && head[0] <= '9'))
                heads.add(head, titles[p].substr(m.begin, m.end - m.begin), m.score);
        }
    }
    // Recurring heads become new entities, matched by the dictionary from now on.
    const auto candidates = heads.candidates(opt.min_count);
    for (const auto& c : candidates) forms.emplace_back(c.form, entities.add(c.form));
    auto dict = std::make_shared<DictionaryExtractor>(DictionaryExtractor::build(forms, dict_options));
    linker = std::make_shared<EntityLinker>(folding);
    linker->add_all(forms);
    PipelineOptions final_options;
    final_options.link_by_head = true;
    final_options.keep_unlinked = false;
    EntityPipeline pipeline(dict, tagger, linker, final_options);

    // Pass 2: the final extraction.
    const auto t1 = std::chrono::steady_clock::now();
    std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> titles_of;
    for (std::size_t p = 0; p < products.size(); ++p) {
        ms.clear();
        pipeline.extract(titles[p], ms);
        entities_of(ms, found[p]);
        for (EntityId e : found[p])
            if (e.index() >= seed_entities) titles_of[e.value()].push_back(static_cast<std::uint32_t>(p));
    }
    const double extract_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    const double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const Scores final_scores = score(products, found);
    const std::size_t discovered = entities.size() - seed_entities;

    if (opt.json) {
        auto fig = [](std::string_view name, double v, std::string_view unit) {
            fmt::print("{{\"name\": \"{}\", \"value\": {:.6g}, \"unit\": \"{}\"}}\n", name, v, unit);
        };
        fig("instacart.entity.coverage", final_scores.coverage, "share of titles");
        fig("instacart.entity.purity", final_scores.purity, "aisle purity");
        fig("instacart.entity.seed_coverage", seed.coverage, "share of titles");
        fig("instacart.entity.seed_purity", seed.purity, "aisle purity");
        fig("instacart.entity.discovered", static_cast<double>(discovered), "entities");
        fig("instacart.entity.titles_per_s", static_cast<double>(products.size()) / extract_s, "titles/s");
        return 0;
    }
    fmt::print("Instacart catalogue: {} titles, {} aisles (aisles used for scoring only)\n\n", products.size(),
               aisle_names.size() - 1);
    fmt::print("  {:<44} {:>10} {:>10} {:>10}\n", "", "coverage", "purity", "entities");
    fmt::print("  {:<44} {:>9.1f}% {:>10.3f} {:>10}\n", "seed dictionary (aisle words)", 100 * seed.coverage, seed.purity,
               seed_entities);
    fmt::print("  {:<44} {:>9.1f}% {:>10.3f} {:>10}\n", "dictionary + CRF + discovered entities", 100 * final_scores.coverage,
               final_scores.purity, entities.size());
    fmt::print("\n  CRF trained on {} silver titles ({} tokens); {} new entities from recurring unlinked heads (>= {}x)\n",
               train.examples, train.tokens, discovered, opt.min_count);
    fmt::print("  final extraction: {:.0f} titles/s (one core); whole run {:.1f} s\n", static_cast<double>(products.size()) / extract_s,
               total_s);
    fmt::print("\n  sample of discovered entities, with their titles:\n");
    std::size_t shown = 0;
    for (const auto& c : candidates) {
        const auto id = entities.find(c.form);
        if (!id || !titles_of.count(id->value())) continue;
        const auto& ts = titles_of[id->value()];
        fmt::print("  {:<16} {:>5} titles, e.g. ", c.form, ts.size());
        for (std::size_t k = 0; k < 3 && k < ts.size(); ++k) fmt::print("{}\"{}\"", k ? ", " : "", products[ts[k]].title);
        fmt::print("\n");
        if (++shown == 12) break;
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "instacart_entities: %s\n", e.what());
    return 1;
}
