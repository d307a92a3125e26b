// libFuzzer target for the replay TSV reader, ReplayJudge::parse (built by clang++ directly, see
// CMakeLists.txt; it lives beside the other parser fuzzers). The first input byte picks the header
// (the groceries format, kerec's own export, or none: the input's own first line) and the options
// (symmetric, a source model); the rest is the file. A file that loads is then asked about pairs
// named from its own lines and by id: every answer must be a valid judgment with UTF-8 text.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <kerec/core/io.hpp>
#include <kerec/llm/replay_judge.hpp>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_replay_tsv: %s\n", what);
    std::abort();
}
#define CHECK(cond) \
    if (!(cond)) fail(#cond)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t mode = data[0];
    std::string text;
    if ((mode & 3) == 0) text = "item_a\titem_b\tlabel\tconfidence\n";
    else if ((mode & 3) == 1) text = "a\tb\tname_a\tname_b\tlabel\tconfidence\tmodel\tprompt_version\ttime\trationale\n";
    text.append(reinterpret_cast<const char*>(data + 1), size - 1);
    kerec::ReplayJudgeOptions o;
    o.symmetric = (mode & 4) != 0;
    if (mode & 8) o.source_model = "m";
    try {
        auto judge = kerec::ReplayJudge::parse(text, "fuzz.tsv", o);
        // Ask about the first two tab-separated fields of every line, and by id.
        std::vector<kerec::PairQuery> queries;
        std::vector<std::string_view> lines, fields;
        kerec::split(text, '\n', lines);
        std::uint32_t id = 0;
        for (std::string_view line : lines) {
            kerec::split_tsv(line, fields);
            if (fields.size() >= 2)
                queries.push_back({kerec::EntityId{id}, kerec::EntityId{id + 1}, std::string(fields[0]), std::string(fields[1])});
            queries.push_back({kerec::EntityId{id % 7}, kerec::EntityId{id % 5}, "", ""});
            ++id;
        }
        const auto answers = judge.judge(queries);
        CHECK(answers.size() == queries.size());
        for (std::size_t i = 0; i < answers.size(); ++i) {
            const kerec::Judgment& j = answers[i];
            CHECK(j.a == queries[i].a && j.b == queries[i].b);
            CHECK(j.confidence >= 0.0f && j.confidence <= 1.0f);
            CHECK(kerec::invalid_utf8(j.rationale) == 0);
            CHECK(j.model == o.model && j.prompt_version == o.prompt_version);
        }
        CHECK(judge.stats().queries == queries.size());
        CHECK(judge.missing() <= queries.size());
    } catch (const kerec::ParseError&) {
    }
    return 0;
}
