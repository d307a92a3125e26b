// docs/embed.md — sessions -> entity sequences, complementary graph -> neighbours, fit(), neighbours, .npy.
#include <cstdio>
#include <filesystem>

#include <kerec/embed/nearest.hpp>
#include <kerec/embed/trainer.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/sim/world.hpp>

int main() {
    using namespace kerec;
    const auto world = sim::World::generate(sim::Config::preset("tiny", /*seed=*/7));
    const std::size_t n = world.entity_info().size();

    // 1. Browsing sessions -> entity sequences (items become their primary entity).
    const EntitySequences seqs = build_sequences(world.events(), world.item_entity_map());

    // 2. The complementary graph (here one "yes" per hidden complement) -> normalised neighbours.
    std::vector<Judgment> judgments;
    for (const auto& e : world.complement_edges()) judgments.push_back(Judgment{e.from, e.to, Label::yes, 0.8f, "", "example", "v1", 0});
    const ComplementNeighbours nb(build_graph<EdgeFeedback>(judgments), n);

    // 3. h1 (SGNS) + h2 (graph) + InfoNCE alignment; the final table is what recall/E-E-I consume.
    EmbedOptions opt;
    opt.sgns.dim = 32;
    opt.epochs = 3;
    const EntityModel<float> model = fit<float>(seqs, nb, opt);

    // 4. Nearest neighbours (exact) of one entity.
    const EntityId a = world.complement_edges().front().from;
    const auto near = NearestIndex<float>(model.h1).nearest(std::vector<EntityId>{a}, 3);
    std::printf("closest to %s:\n", std::string(world.entities().name(a)).c_str());
    for (const auto& x : near[0]) std::printf("  %-24s %.3f\n", std::string(world.entities().name(x.entity)).c_str(), x.score);

    // 5. .npy out and back in (numpy: np.load(path) is an (n, d) float32 array).
    const auto path = std::filesystem::temp_directory_path() / "kerec_embed_snippet.npy";
    model.final.save(path);
    const auto back = EntityEmbeddings<float>::load(path);
    std::filesystem::remove(path);
    return back.matrix() == model.final.matrix() && model.log.size() >= 1 ? 0 : 1;
}
