// docs/core.md — ids, vocabulary, seeded randomness, atomic files, CSV and .npy in one page.
#include <cstdio>
#include <filesystem>

#include <kerec/core/csv.hpp>
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

    // Seeded randomness: integer and alias draws are the same on every platform.
    kerec::Rng rng(42);
    const std::vector<double> weights{0.7, 0.2, 0.1};
    kerec::AliasSampler pick(weights);
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 10000; ++i) ++counts[pick(rng)];
    std::printf("alias draws: %d %d %d\n", counts[0], counts[1], counts[2]);

    // Embedding tables travel to numpy as row-major .npy.
    kerec::RowMatrix<float> emb = kerec::RowMatrix<float>::Random(entities.size(), 8);
    kerec::save_npy(dir / "h1.npy", emb);
    const auto back = kerec::load_npy<float>(dir / "h1.npy", {.finite = true});  // NaN/Inf: a ParseError
    std::printf("npy round trip equal: %s (row of chips = %u)\n", back == emb ? "yes" : "no", chips.value());

    // CSV with an expected field count; a bad id names file:line:column and the field.
    kerec::write_file_atomic(dir / "aisles.csv", "aisle_id,aisle\r\n1,fresh fruits\r\nx2,snacks\r\n");
    kerec::CsvReader csv(dir / "aisles.csv", kerec::CsvOptions{.fields = 2});
    std::vector<std::string> f;
    csv.next(f);  // header
    std::string error;
    try {
        while (csv.next(f)) (void)csv.integer<std::uint32_t>(f, 0, "aisle_id");
    } catch (const kerec::ParseError& e) {
        error = e.what();
    }
    std::printf("%s\n", error.substr(error.find("aisles.csv")).c_str());
    fs::remove_all(dir);
    return back == emb && error.find("aisles.csv:3:1: field 1: aisle_id 'x2'") != std::string::npos ? 0 : 1;
}
