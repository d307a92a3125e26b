// docs/llm.md — the store's history and latest answers, and what reopening a damaged log does.
#include <cstdio>
#include <filesystem>
#include <string>

#include <kerec/core/io.hpp>
#include <kerec/llm/judgment_store.hpp>

int main() {
    using namespace kerec;
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "kerec_store_recovery_snippet";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path path = dir / "judgments.log";
    {
        JudgmentStore store(path);
        for (std::uint32_t b = 1; b <= 100; ++b)
            store.add(Judgment{.a = EntityId{0},
                               .b = EntityId{b},
                               .label = b % 4 ? Label::no : Label::yes,
                               .confidence = 0.8f,
                               .rationale = "often bought together",
                               .model = "gpt-4o-mini",
                               .prompt_version = "kerec-complement-v1",
                               .time = 1700000000});
        // Asked again later: the new answer supersedes the old one; all() keeps both.
        store.add(Judgment{.a = EntityId{0},
                           .b = EntityId{1},
                           .label = Label::yes,
                           .confidence = 0.9f,
                           .rationale = "on reflection",
                           .model = "gpt-4o-mini",
                           .prompt_version = "kerec-complement-v1",
                           .time = 1700000100});
        const auto latest = store.latest("gpt-4o-mini", "kerec-complement-v1");  // one per pair, sorted by pair
        std::printf("history %zu judgments, latest %zu (pair (0, 1) now %s)\n", store.all().size(), latest.size(),
                    to_string(latest.front().label).data());
    }
    // One flipped bit in the 50th record, as a failing disk might leave it.
    std::string bytes = read_file(path);
    bytes[bytes.size() / 2] ^= 0x04;
    write_file_atomic(path, bytes);
    JudgmentStore reopened(path);
    const RecordLogRecovery& r = reopened.recovery();
    std::printf("kept %llu records; %zu damaged range of %llu bytes moved to %s\n%s\n",
                static_cast<unsigned long long>(r.records), r.damaged.size(),
                static_cast<unsigned long long>(r.quarantined_bytes), r.quarantine.filename().c_str(), r.problem.c_str());
    const bool ok = r.records == 100 && r.damaged.size() == 1 && RecordLog::read_quarantine(r.quarantine).size() == 1;
    fs::remove_all(dir);
    return ok ? 0 : 1;
}
