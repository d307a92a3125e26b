// docs/core.md — ids, vocabulary, seeded randomness, atomic files and .npy in one page.
#include <cstdio>
#include <filesystem>

#include <kerec/core/id.hpp>
#include <kerec/core/io.hpp>
#include <kerec/core/npy.hpp>
#include <kerec/core/random.hpp>
#include <kerec/core/vocabulary.hpp>

int main() {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "kerec_core_snippet";
    fs::create_directories(dir);

    // Strong ids: an EntityId is not an ItemId.
    kerec::Vocabulary<kerec::EntityId> entities;
    const kerec::EntityId chips = entities.add("tortilla chips");
    const kerec::EntityId salsa = entities.add("salsa");
    entities.save(dir / "entities.txt");  // atomic: temp file, fsync, rename
    const auto reloaded = kerec::Vocabulary<kerec::EntityId>::load(dir / "entities.txt");
    std::printf("%s -> id %u, reloaded %zu names\n", std::string(entities.name(salsa)).c_str(), salsa.value(),
                reloaded.size());

    // Seeded randomness that is the same on every platform.
    kerec::Rng rng(42);
    const std::vector<double> weights{0.7, 0.2, 0.1};
    kerec::AliasSampler pick(weights);
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 10000; ++i) ++counts[pick(rng)];
    std::printf("alias draws: %d %d %d\n", counts[0], counts[1], counts[2]);

    // Embedding tables travel to numpy as row-major .npy.
    kerec::RowMatrix<float> emb = kerec::RowMatrix<float>::Random(entities.size(), 8);
    kerec::save_npy(dir / "h1.npy", emb);
    const auto back = kerec::load_npy<float>(dir / "h1.npy");
    std::printf("npy round trip equal: %s (row of chips = %u)\n", back == emb ? "yes" : "no", chips.value());
    fs::remove_all(dir);
    return back == emb ? 0 : 1;
}
