// entity_embeddings — the paper's entity representations on the synthetic marketplace: first-order
// (substitutable) h1 from browsing/purchase sessions, second-order (complementary) h2 from the
// complementary graph, aligned by InfoNCE; then, for five entities, their nearest substitutes by h1
// and predicted complements s(a, b) = Σₙ w(a,n)·cos(h(n), h(b)) beyond the graph's own edges,
// each marked against the hidden truth.
//
//   entity_embeddings [--size tiny|small|medium] [--seed N] [--epochs N] [--lambda X] [--out FILE.npy] [--json]
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <kerec/core/progress.hpp>
#include <kerec/embed/evaluate.hpp>
#include <kerec/embed/nearest.hpp>
#include <kerec/embed/trainer.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/sim/score.hpp>
#include <kerec/sim/world.hpp>

#include "cli.hpp"

using namespace kerec;

int main(int argc, char** argv) {
    try {
        std::string size = "small", out;
        std::uint64_t seed = 42;
        bool json = false;
        EmbedOptions opt;
        opt.sgns.threads = 2;
        examples::Args args(argc, argv,
                            "entity_embeddings [--size tiny|small|medium] [--seed N] [--epochs N] [--lambda X] [--out FILE.npy] [--json]");
        for (std::string f; args.next(f);) {
            if (f == "--size") size = args.value();
            else if (f == "--seed") seed = args.number();
            else if (f == "--epochs") opt.epochs = static_cast<int>(args.number());
            else if (f == "--lambda") opt.lambda = args.real();
            else if (f == "--out") out = args.value();
            else if (f == "--json") json = true;
            else args.unknown();
        }
        TerminalProgressBar bar;
        const auto world = sim::World::generate(sim::Config::preset(size, seed), bar.callback());
        const std::size_t n = world.entity_info().size();
        const auto names = [&](EntityId e) { return std::string(world.entities().name(e)); };

        // 1. Sessions -> entity sequences (the substitute signal).
        const ItemEntityMap items = world.item_entity_map();
        SequenceStats st;
        const auto seqs = build_sequences(world.events(), items, {}, &st);
        // 2. The complementary graph: an imperfect LLM (misses 30% of the complements), weights
        //    learned from the exposure/click feedback of the log.
        const auto judgments = sim::noisy_judgments(world, seed + 1, {.miss_share = 0.3, .false_positive_share = 0.2, .model = "simulated"});
        const auto graph = FeedbackLearner().learn(build_graph<EdgeFeedback>(judgments), world.events(), items).graph;
        // 3. h1, h2 and the contrastive alignment in one call.
        opt.sgns.seed = seed;
        FitCallbacks cb{bar.callback(), [&](const EpochLog& l) {
                            bar.close();
                            std::fprintf(stderr, "epoch %2d  sgns %.4f  infonce %.4f  validation %.4f  %.1f s%s\n", l.epoch, l.sgns_loss,
                                         l.infonce_loss, l.validation_loss, l.seconds, l.improved ? "  *" : "");
                        }};
        const ComplementNeighbours nb(graph, n);
        const auto model = fit<float>(seqs, nb, opt, cb);
        bar.close();
        if (!out.empty()) model.final.save(out);

        std::printf("%s world (seed %llu): %zu entities, %zu sessions of >= 2 entities (%llu tokens), %llu graph edges\n", size.c_str(),
                    static_cast<unsigned long long>(seed), n, seqs.size(), static_cast<unsigned long long>(seqs.token_count()),
                    static_cast<unsigned long long>(nb.edge_count()));
        std::printf("trained %zu epochs (best %d), final representation: %s\n\n", model.log.size(), model.best_epoch,
                    std::string(to_string(model.final_view)).c_str());

        // 4. Five well-connected entities: substitutes by h1, complements beyond the graph.
        const NearestIndex<float> h1(model.h1), fin(model.final);
        std::vector<EntityId> shown;
        for (std::uint32_t e = 0; e < n && shown.size() < 5; e += static_cast<std::uint32_t>(std::max<std::size_t>(1, n / 50)))
            if (nb.degree(EntityId(e)) >= 2 && world.group_members(world.group_of(EntityId(e))).size() >= 3) shown.push_back(EntityId(e));
        const auto subs = h1.nearest(shown, 5);
        const auto comps = predict_complements(fin, nb, shown, 5);
        for (std::size_t i = 0; i < shown.size(); ++i) {
            const EntityId a = shown[i];
            std::printf("%s  (group '%s', %zu graph complements)\n", names(a).c_str(), std::string(world.group_name(world.group_of(a))).c_str(),
                        nb.degree(a));
            std::printf("  nearest substitutes (h1):\n");
            for (const auto& s : subs[i])
                std::printf("    %-28s cos %.3f  %s\n", names(s.entity).c_str(), s.score, world.substitutes(a, s.entity) ? "substitute" : "-");
            std::printf("  predicted complements beyond the graph:\n");
            for (const auto& c : comps[i])
                std::printf("    %-28s s %.3f    %s\n", names(c.entity).c_str(), c.score,
                            world.strength(a, c.entity) > 0 ? "true complement (missed by the LLM)" : "-");
        }

        // 5. The headline figures.
        std::vector<EntityId> all(n);
        for (std::uint32_t e = 0; e < n; ++e) all[e] = EntityId(e);
        const double p10 = substitute_precision_at_k(h1, all, 10, [&](EntityId x, EntityId y) { return world.substitutes(x, y); },
                                                     [&](EntityId x) { return world.group_members(world.group_of(x)).size() - 1; });
        std::vector<std::pair<EntityId, EntityId>> truth;
        for (const auto& e : world.complement_edges()) truth.emplace_back(e.from, e.to);
        const auto rec = missed_complement_recall_at_k(fin, nb, truth, 10);
        const auto rnd = random_missed_complement_recall_at_k(nb, truth, 10, seed);
        std::printf("\nsubstitute precision@10 (h1)                        %.3f\n", p10);
        std::printf("recall@10 of the %llu complements the graph misses    %.3f (random ranking %.3f)\n",
                    static_cast<unsigned long long>(rec.missed_edges), rec.recall, rnd.recall);
        if (json) {
            std::printf("{\"name\": \"embed.example.subst_p_at_10\", \"value\": %.6g, \"unit\": \"precision@10 (%s world)\"}\n", p10, size.c_str());
            std::printf("{\"name\": \"embed.example.missed_recall_at_10\", \"value\": %.6g, \"unit\": \"recall@10\"}\n", rec.recall);
        }
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "entity_embeddings: %s\n", e.what());
        return 1;
    }
}
