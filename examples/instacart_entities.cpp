// Entity extraction on 49,688 real product titles (the Instacart catalogue).
//
// Seed: a dictionary made only of the words of the 134 aisle names (plural-folded, generic words
// removed), one entity per word. Self-training (kerec/entity/head.hpp): the CRF is trained on the
// silver labels the dictionary gives on titles whose head word it knows; the pipeline (dictionary
// + CRF, with a fallback span for titles where neither finds anything) tags every title; the head
// word of each title's rightmost core mention that links to no entity is counted, and head words
// that recur (>= --min-count titles) and are mostly used as heads (>= --min-head-share of their
// occurrences) become new entities; the CRF is retrained on the extended dictionary, and so on.
// Each product then gathers under the entity of its head mention (the unified concept term).
// The aisle of each product is used only to score the result: coverage (share of titles with an
// entity) and aisle purity (for each entity, the share of the products it gathers in its most
// common aisle; Σ majority / Σ gathered), for the seed dictionary alone and for the final model.
//
//   instacart_entities --data DIR [--min-count N] [--min-head-share S] [--rounds R]
//                      [--word-dropout P] [--json]
#include <algorithm>
#include <cctype>
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
#include <kerec/entity/head.hpp>
#include <kerec/entity/linker.hpp>

#include "cli.hpp"

using namespace kerec;

namespace {

struct Options {
    std::filesystem::path data;
    std::uint64_t min_count = 3;     // a concept recurs: at least three titles headed by it
    double min_head_share = 0.1;     // ... and it heads at least one in ten of its occurrences
    double word_dropout = 0.3;       // the CRF must also tag words it never saw (context features)
    int rounds = 3;                  // seed -> discover -> retrain -> discover -> retrain
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    examples::Args args(argc, argv,
                        "usage: instacart_entities --data DIR [--min-count N] [--min-head-share S] [--rounds R]\n"
                        "                          [--word-dropout P] [--json]\n"
                        "  DIR holds products.csv and aisles.csv (the Instacart catalogue)");
    for (std::string a; args.next(a);) {
        if (a == "--data") o.data = args.value();
        else if (a == "--min-count") o.min_count = args.number();
        else if (a == "--min-head-share") o.min_head_share = args.real();
        else if (a == "--word-dropout") o.word_dropout = args.real();
        else if (a == "--rounds") o.rounds = static_cast<int>(args.number());
        else if (a == "--json") o.json = true;
        else args.unknown();
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
    double purity_large = 0;  ///< the same over entities gathering >= 10 products (small ones are pure by construction)
};

Scores score(const std::vector<Product>& products, const std::vector<std::vector<EntityId>>& found) {
    std::unordered_map<std::uint32_t, std::map<std::uint32_t, std::uint64_t>> by_entity;  // entity -> aisle -> n
    std::size_t covered = 0;
    for (std::size_t p = 0; p < products.size(); ++p) {
        covered += !found[p].empty();
        for (EntityId e : found[p]) ++by_entity[e.value()][products[p].aisle];
    }
    std::uint64_t total = 0, majority = 0, total_large = 0, majority_large = 0;
    for (const auto& [e, aisles] : by_entity) {
        std::uint64_t n = 0, best = 0;
        for (const auto& [a, c] : aisles) n += c, best = std::max(best, c);
        total += n;
        majority += best;
        if (n >= 10) total_large += n, majority_large += best;
    }
    auto share = [](std::uint64_t a, std::uint64_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; };
    return Scores{share(covered, products.size()), share(majority, total), by_entity.size(),
                  share(majority_large, total_large)};
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

    // The catalogue: titles and (for scoring only) aisles, through the checked CSV reader: a bad
    // line is reported as file:line:column with the field.
    std::vector<std::string> aisle_names;  // in aisle id order
    std::map<std::uint32_t, std::string> aisles;
    {
        CsvReader csv(opt.data / "aisles.csv", CsvOptions{.fields = 2});
        std::vector<std::string> f;
        if (!csv.next(f) || f != std::vector<std::string>{"aisle_id", "aisle"})
            throw csv.error("expected the header 'aisle_id,aisle'");
        std::map<std::uint32_t, std::uint64_t> first_line;
        while (csv.next(f)) {
            const auto id = csv.integer<std::uint32_t>(f, 0, "aisle_id");
            if (const auto [it, fresh] = first_line.emplace(id, csv.line()); !fresh)
                throw csv.error(0, fmt::format("aisle_id {} listed twice (first on line {})", id, it->second));
            aisles[id] = f[1];
        }
        for (const auto& [id, name] : aisles) aisle_names.push_back(name);
    }
    std::vector<Product> products;
    {
        CsvReader csv(opt.data / "products.csv", CsvOptions{.fields = 4});
        std::vector<std::string> f;
        if (!csv.next(f) || f != std::vector<std::string>{"product_id", "product_name", "aisle_id", "department_id"})
            throw csv.error("expected the header 'product_id,product_name,aisle_id,department_id'");
        while (csv.next(f)) {
            const auto aisle = csv.integer<std::uint32_t>(f, 2, "aisle_id");
            if (!aisles.count(aisle)) throw csv.error(2, fmt::format("aisle_id {} is not in aisles.csv", aisle));
            products.push_back(Product{f[1], aisle});
        }
    }
    std::vector<std::string_view> titles;
    for (const auto& p : products) titles.push_back(p.title);

    // Seed dictionary: the aisle names' words, folded to one form per concept.
    static const std::set<std::string, std::less<>> generic{
        "other", "packaged", "fresh", "prepared", "specialty", "more", "missing", "bulk", "frozen", "canned",
        "jarred", "refrigerated", "counter", "care", "need", "good", "food", "supply", "product", "instant",
        "dried", "hot", "soft", "first", "mix", "meal", "accessory", "kosher", "asian", "indian", "latino", "ice"};
    Vocabulary<EntityId> entities;  // named by the first spelling ("cookies"), matched folded ("cooki")
    std::vector<std::pair<std::string, EntityId>> forms;
    {
        std::set<std::string, std::less<>> seen;
        NormalizedText words;
        for (std::size_t a = 0; a < aisle_names.size(); ++a) {
            normalizer.normalize(aisle_names[a], words);
            for (std::size_t t = 0; t < words.tokens().size(); ++t) {
                const std::string_view folded = words.token_text(t);
                if (folded.size() < 3 || generic.count(folded) || !seen.emplace(folded).second) continue;
                const Token& tk = words.tokens()[t];
                std::string spelling = aisle_names[a].substr(tk.src_begin, tk.src_end - tk.src_begin);
                for (char& c : spelling) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                forms.emplace_back(spelling, entities.add(spelling));
            }
        }
    }
    const std::size_t seed_entities = entities.size();
    DictionaryOptions dict_options;
    dict_options.normalizer = folding;
    const HeadFinder heads({}, folding);

    // Each product gathers under the entity of its head mention (the unified concept term: what
    // the item is); the seed is scored both that way and with every mention.
    std::vector<std::vector<EntityId>> found(products.size()), found_all(products.size());
    std::vector<Mention> ms;
    NormalizedText norm;
    auto assign_head = [&](std::size_t p, const EntityLinker& linker) {
        normalizer.normalize(titles[p], norm);
        const TitleHead h = title_head(ms, norm, heads, &linker);
        found[p].clear();
        if (h.entity.valid()) found[p].push_back(h.entity);
    };
    {
        const DictionaryExtractor seed_dict = DictionaryExtractor::build(forms, dict_options);
        EntityLinker seed_linker(folding);
        seed_linker.add_all(forms);
        DictionaryExtractor::Workspace dws;
        for (std::size_t p = 0; p < products.size(); ++p) {
            ms.clear();
            seed_dict.extract(titles[p], ms, dws);
            entities_of(ms, found_all[p]);
            assign_head(p, seed_linker);
        }
    }
    const Scores seed_all = score(products, found_all);
    const Scores seed = score(products, found);

    // Self-training: silver labels of the dictionary -> CRF -> head words of the titles' head
    // mentions that link to nothing -> new entities -> retrain on the extended dictionary.
    SelfTrainingOptions st;
    st.dictionary = dict_options;
    st.crf.normalizer = folding;
    st.crf.word_dropout = opt.word_dropout;
    st.pipeline.at_least_one = true;   // every catalogue item is some product
    st.pipeline.link_by_head = true;
    st.rounds = opt.rounds;
    st.min_count = opt.min_count;
    st.min_head_share = opt.min_head_share;
    const auto t0 = std::chrono::steady_clock::now();
    const SelfTrainedExtractor model = self_train(entities, forms, titles, st, bar.callback());
    bar.close();
    const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // The final extraction: dictionary + CRF + discovered entities, one head entity per title.
    EntityPipeline pipeline = model.pipeline();
    const auto t1 = std::chrono::steady_clock::now();
    for (std::size_t p = 0; p < products.size(); ++p) {
        ms.clear();
        pipeline.extract(titles[p], ms);
        assign_head(p, *model.linker);
    }
    const double extract_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    const Scores final_scores = score(products, found);
    const std::size_t discovered = model.entities.size() - seed_entities;
    std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> titles_of;
    for (std::size_t p = 0; p < products.size(); ++p)
        for (EntityId e : found[p])
            if (e.index() >= seed_entities) titles_of[e.value()].push_back(static_cast<std::uint32_t>(p));

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
               aisle_names.size());
    fmt::print("  {:<50} {:>9} {:>7} {:>9} {:>9}\n", "", "coverage", "purity", "entities", "purity*");
    auto row = [](std::string_view what, const Scores& s, std::size_t n) {
        fmt::print("  {:<50} {:>8.1f}% {:>7.3f} {:>9} {:>9.3f}\n", what, 100 * s.coverage, s.purity, n, s.purity_large);
    };
    row("seed dictionary, every mention", seed_all, seed_entities);
    row("seed dictionary, head mention", seed, seed_entities);
    row("dictionary + CRF + discovered, head mention", final_scores, model.entities.size());
    fmt::print("  (purity*: over the entities that gather at least 10 products)\n");
    fmt::print("\n  entities: {} seed + {} discovered (head words heading >= {} titles, head share >= {})\n",
               seed_entities, discovered, opt.min_count, opt.min_head_share);
    for (std::size_t r = 0; r < model.rounds.size(); ++r)
        fmt::print("  round {}: CRF on {} silver titles ({:.1f} s), {} new entities\n", r + 1,
                   model.rounds[r].silver_examples, model.rounds[r].crf_seconds, model.rounds[r].discovered);
    fmt::print("  final extraction: {:.0f} titles/s (one core); self-training {:.1f} s\n",
               static_cast<double>(products.size()) / extract_s, train_s);
    // a sample spread over the discovery ranking (most frequent heads first)
    const std::size_t step = std::max<std::size_t>(1, model.discovered.size() / 15);
    fmt::print("\n  sample of discovered entities (every {}th by head count), with titles they gather:\n", step);
    for (std::size_t k = 0; k < model.discovered.size(); k += step) {
        const auto& c = model.discovered[k];
        const auto id = model.entities.find(c.name);
        if (!id || !titles_of.count(id->value())) continue;
        const auto& ts = titles_of[id->value()];
        fmt::print("  {:<14} {:>4} titles, e.g. ", c.name, ts.size());
        for (std::size_t j = 0; j < 3 && j < ts.size(); ++j) fmt::print("{}\"{}\"", j ? ", " : "", products[ts[j]].title);
        fmt::print("\n");
    }
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "instacart_entities: %s\n", e.what());
    return 1;
}
