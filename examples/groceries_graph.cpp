// A complementary graph from real LLM judgments, weighted by real baskets (the Groceries data).
//
// Replays an LLM's judgments of all 14,196 category pairs (llm_judgments.tsv) through the replay
// judge into a JudgmentStore, builds the complementary graph from the "yes" answers, learns edge
// weights from 80% of the 9,835 baskets (a basket holding a is an exposure of each neighbour b, a
// click when b is in it too), and checks, on the 20% held out, which weight predicts the edge's
// click rate (share of held-out baskets holding a that also hold b): the LLM's confidence or the
// learned weight.
//
//   groceries_graph --data DIR [--store DIR] [--seed N] [--json]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <kerec/core/csv.hpp>
#include <kerec/core/io.hpp>
#include <kerec/core/random.hpp>
#include <kerec/core/vocabulary.hpp>
#include <kerec/core/stats.hpp>
#include <kerec/graph/baskets.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/replay_judge.hpp>

#include "cli.hpp"

using namespace kerec;

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct Options {
    std::filesystem::path data;
    std::filesystem::path store;
    std::uint64_t seed = 42;
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options o;
    examples::Args args(argc, argv, "usage: groceries_graph --data DIR [--store DIR] [--seed N] [--json]\n"
                      "  DIR holds items.txt, llm_judgments.tsv and baskets.csv (the Groceries data)");
    for (std::string a; args.next(a);) {
        if (a == "--data") o.data = args.value();
        else if (a == "--store") o.store = args.value();
        else if (a == "--seed") o.seed = args.number();
        else if (a == "--json") o.json = true;
        else args.unknown();
    }
    if (o.data.empty()) throw InvalidArgument("--data DIR is required (the folder with items.txt, llm_judgments.tsv, baskets.csv)");
    if (o.store.empty()) o.store = std::filesystem::temp_directory_path() / "kerec-groceries-store";
    return o;
}

}  // namespace

int main(int argc, char** argv) try {
    const Options opt = parse(argc, argv);

    // Entities: the 169 categories.
    Vocabulary<EntityId> categories;
    {
        LineReader in(opt.data / "items.txt");
        std::string_view line;
        while (in.next(line))
            if (!trim(line).empty()) categories.add(trim(line));
    }

    // Judge every ordered pair by replaying the LLM's answers (unordered in the file) into a store.
    auto judge = ReplayJudge::load(opt.data / "llm_judgments.tsv");
    std::vector<PairQuery> queries;
    for (std::uint32_t a = 0; a < categories.size(); ++a)
        for (std::uint32_t b = 0; b < categories.size(); ++b)
            if (a != b)
                queries.push_back({EntityId{a}, EntityId{b}, std::string(categories.name(EntityId{a})),
                                   std::string(categories.name(EntityId{b}))});
    std::filesystem::create_directories(opt.store);
    JudgmentStore store(opt.store / "groceries-judgments.log");
    const auto run = store.judge(judge, queries);
    std::vector<Judgment> judgments;
    for (const auto& q : queries)
        if (const Judgment* j = store.find(q.pair(), judge.model(), judge.prompt_version())) judgments.push_back(*j);

    GraphBuildOptions graph_options;
    graph_options.node_count = categories.size();
    GraphBuilder<EntityId, EdgeFeedback> builder(graph_options);
    builder.add(judgments);
    const FeedbackGraph prior = builder.build();

    // Baskets, split 80/20 with a seeded shuffle.
    std::vector<Basket> baskets;
    std::size_t unknown_names = 0;
    {
        CsvReader csv(opt.data / "baskets.csv");
        std::vector<std::string> fields;
        while (csv.next(fields)) {
            Basket basket;
            for (const auto& f : fields) {
                const auto id = categories.find(trim(f));
                if (!id) {
                    if (!trim(f).empty()) ++unknown_names;
                    continue;
                }
                if (std::find(basket.begin(), basket.end(), *id) == basket.end()) basket.push_back(*id);
            }
            if (!basket.empty()) baskets.push_back(std::move(basket));
        }
    }
    Rng rng(opt.seed);
    rng.shuffle(baskets);
    const std::size_t n_train = baskets.size() * 4 / 5;
    const std::span<const Basket> train(baskets.data(), n_train);
    const std::span<const Basket> held_out(baskets.data() + n_train, baskets.size() - n_train);

    // Learned weights: training baskets as exposure/click feedback on the graph's edges.
    const auto events = basket_feedback_events(train, prior);
    FeedbackOptions feedback_options;
    feedback_options.half_life = 0.0;  // one month of data: no decay
    const auto learned = FeedbackLearner(feedback_options).learn(prior, events, basket_item_map(categories.size()));
    const FeedbackGraph& g = learned.graph;

    // Held-out click rate of every edge whose trigger appears in the held-out baskets.
    std::vector<double> conf, weight, rate;
    for (std::uint32_t a = 0; a < g.node_count(); ++a) {
        const auto row = g.neighbors(EntityId{a});
        for (std::size_t k = 0; k < row.size(); ++k) {
            std::uint64_t holding = 0;
            const double r = co_occurrence_rate(held_out, EntityId{a}, row.targets[k], &holding);
            if (holding == 0) continue;
            conf.push_back(row.payload[k].prior);
            weight.push_back(row.weights[k]);
            rate.push_back(r);
        }
    }
    const double rho_llm = spearman(conf, rate);
    const double rho_learned = spearman(weight, rate);

    if (opt.json) {
        fmt::print("{{\"name\": \"groceries.graph.spearman_llm_only\", \"value\": {:.6g}, \"unit\": \"rho vs held-out click rate\"}}\n", rho_llm);
        fmt::print("{{\"name\": \"groceries.graph.spearman_learned\", \"value\": {:.6g}, \"unit\": \"rho vs held-out click rate\"}}\n", rho_learned);
        return 0;
    }
    fmt::print("Groceries: {} categories, {} LLM judgments replayed ({} asked, {} from the store), {} baskets "
               "({} train / {} held out){}\n",
               categories.size(), queries.size(), run.asked, run.cached, baskets.size(), train.size(), held_out.size(),
               unknown_names ? fmt::format(", {} unknown names skipped", unknown_names) : std::string());
    fmt::print("complementary graph: {} directed edges (LLM said yes, both directions)\n\n", g.edge_count());

    // Ten most frequent categories: top complements by LLM confidence and by learned weight.
    std::vector<std::pair<std::size_t, EntityId>> freq(categories.size());
    for (std::uint32_t i = 0; i < categories.size(); ++i) freq[i] = {0, EntityId{i}};
    for (const auto& b : baskets)
        for (EntityId e : b) ++freq[e.index()].first;
    std::sort(freq.begin(), freq.end(), [](auto& x, auto& y) { return x.first > y.first || (x.first == y.first && x.second < y.second); });
    int shown = 0;
    for (auto [count, e] : freq) {
        const auto row = g.neighbors(e);
        if (row.size() < 2) continue;
        std::vector<std::size_t> by_conf(row.size());
        for (std::size_t k = 0; k < row.size(); ++k) by_conf[k] = k;
        std::stable_sort(by_conf.begin(), by_conf.end(), [&](std::size_t x, std::size_t y) { return row.payload[x].prior > row.payload[y].prior; });
        fmt::print("{} ({} baskets)\n", categories.name(e), count);
        for (std::size_t k = 0; k < std::min<std::size_t>(4, row.size()); ++k) {
            const std::size_t c = by_conf[k];
            fmt::print("   by LLM confidence: {:<24} {:.2f}    by learned weight: {:<24} {:.3f}\n",
                       categories.name(row.targets[c]), row.payload[c].prior, categories.name(row.targets[k]), row.weights[k]);
        }
        if (++shown == 10) break;
    }
    fmt::print("\nover {} edges whose trigger appears in held-out baskets, Spearman with the held-out click rate:\n", rate.size());
    fmt::print("  LLM confidence only   {:.3f}\n", rho_llm);
    fmt::print("  learned weight        {:.3f}\n", rho_learned);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "groceries_graph: %s\n", e.what());
    return 1;
}
