// libFuzzer target for the CSV reader (built by clang++ directly, see CMakeLists.txt). The first
// input byte picks the separator (',', '\t', ';', '|') and an expected field count (0 = any, 1..3);
// the rest is the CSV text. Every record is read (a kerec::ParseError ends the input); record lines
// must never decrease, every field goes through integer<>(). When the whole text parses, it is
// written back with every field quoted and must parse to the same records.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <kerec/core/csv.hpp>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_csv: %s\n", what);
    std::abort();
}
#define CHECK(cond) \
    if (!(cond)) fail(#cond)

using Records = std::vector<std::vector<std::string>>;

bool read_all(std::string text, kerec::CsvOptions o, Records& out) {
    auto r = kerec::CsvReader::from_string(std::move(text), "fuzz.csv", o);
    std::vector<std::string> f;
    std::uint64_t line = 0;
    try {
        while (r.next(f)) {
            CHECK(r.line() >= line && r.line() > 0);
            line = r.line();
            CHECK(!f.empty());
            if (o.fields) CHECK(f.size() == o.fields);
            for (std::size_t k = 0; k < f.size(); ++k) {
                try {
                    (void)r.integer<std::int32_t>(f, k, "n");
                } catch (const kerec::ParseError&) {
                }
            }
            out.push_back(f);
        }
    } catch (const kerec::ParseError&) {
        return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static constexpr char seps[] = {',', '\t', ';', '|'};
    const kerec::CsvOptions o{.separator = seps[data[0] & 3], .fields = static_cast<std::size_t>((data[0] >> 2) & 3)};
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    Records first;
    if (!read_all(text, o, first)) return 0;
    std::string again;
    for (const auto& rec : first) {
        for (std::size_t k = 0; k < rec.size(); ++k) {
            if (k) again += o.separator;
            again += '"';
            for (char c : rec[k]) {
                if (c == '"') again += '"';
                again += c;
            }
            again += '"';
        }
        again += '\n';
    }
    Records second;
    CHECK(read_all(again, o, second));
    CHECK(first == second);
    return 0;
}
