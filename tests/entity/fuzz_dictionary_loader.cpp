// libFuzzer target for the dictionary loader (built by clang++ directly, see CMakeLists.txt).
// The first input byte picks a mode:
//   0: the input is the file;  1: the input is a list of (position, byte) edits applied to a valid
//   file whose checksum is then recomputed (so only the structural validation stands between the
//   edit and a scan);  2: the same edits without fixing the checksum;  3: the input is a form list
//   (lines "form\tentity-byte") compiled in either mode, saved and loaded again: both must match
//   alike, within the text, sorted and disjoint.
// Every accepted dictionary scans a few texts (and the input itself) and answers lookups.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <kerec/core/checksum.hpp>
#include <kerec/entity/dictionary.hpp>

namespace {

const std::string& valid_file(bool word_boundary) {
    static const auto make = [](bool wb) {
        const std::vector<std::pair<std::string, kerec::EntityId>> forms{
            {"olive oil", kerec::EntityId(0)}, {"oil", kerec::EntityId(1)},     {"extra virgin olive oil", kerec::EntityId(2)},
            {"salsa", kerec::EntityId(3)},     {"salsa verde", kerec::EntityId(4)}, {"牛奶", kerec::EntityId(5)},
            {"crème brûlée", kerec::EntityId(6)}, {"a", kerec::EntityId(7)},     {"aab", kerec::EntityId(8)}};
        kerec::DictionaryOptions o;
        o.word_boundary = wb;
        return kerec::DictionaryExtractor::build(forms, o).to_bytes();
    };
    static const std::string with = make(true), without = make(false);
    return word_boundary ? with : without;
}

void check_matches(const std::vector<kerec::Mention>& ms, std::size_t size) {
    std::uint32_t last = 0;
    for (const auto& m : ms) {
        if (m.begin >= m.end || m.end > size || m.begin < last) __builtin_trap();
        last = m.end;
    }
}

void exercise(const kerec::DictionaryExtractor& d, std::string_view input) {
    kerec::DictionaryExtractor::Workspace ws;
    std::vector<kerec::Mention> ms;
    for (std::string_view t : {std::string_view("Extra Virgin OLIVE OIL, salsa-verde 有机牛奶 aaab"), std::string_view(""), input}) {
        ms.clear();
        d.extract(t, ms, ws);
        check_matches(ms, t.size());
    }
    for (std::size_t i = 0; i < d.size(); ++i) {
        if (d.lookup_normalized(d.form(i)) != d.entity(i)) __builtin_trap();
        if (!d.has_prefix_normalized(d.form(i).substr(0, d.form(i).size() / 2))) __builtin_trap();
    }
    (void)d.lookup(input);
}

void load(std::string bytes) {
    try {
        exercise(kerec::DictionaryExtractor::from_bytes(std::move(bytes), "fuzz"), "olive oil salsa");
    } catch (const kerec::ParseError&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 4;
    const bool wb = (data[0] / 4) % 2 == 0;
    ++data, --size;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (mode == 0) {
        load(std::string(input));
        return 0;
    }
    if (mode == 3) {
        std::vector<std::pair<std::string, kerec::EntityId>> forms;
        std::size_t p = 0;
        while (p < input.size() && forms.size() < 256) {
            std::size_t q = input.find('\n', p);
            if (q == std::string_view::npos) q = input.size();
            const std::string_view line = input.substr(p, q - p);
            const std::size_t tab = line.rfind('\t');
            const auto id = tab != std::string_view::npos && tab + 1 < line.size() ? static_cast<unsigned char>(line[tab + 1]) : 0u;
            forms.emplace_back(std::string(line.substr(0, tab)), kerec::EntityId(id));
            p = q + 1;
        }
        kerec::DictionaryOptions o;
        o.word_boundary = wb;
        o.on_conflict = kerec::ConflictPolicy::first_wins;
        auto d = kerec::DictionaryExtractor::build(forms, o);
        auto l = kerec::DictionaryExtractor::from_bytes(d.to_bytes(), "roundtrip");
        std::vector<kerec::Mention> a, b;
        d.extract(input, a);
        l.extract(input, b);
        if (a != b || l.size() != d.size()) __builtin_trap();
        check_matches(a, input.size());
        exercise(l, input);
        return 0;
    }
    std::string bytes = valid_file(wb);
    for (std::size_t k = 0; k + 2 < size; k += 3) {
        const std::size_t pos = (static_cast<std::size_t>(data[k]) << 8 | data[k + 1]) % bytes.size();
        bytes[pos] = static_cast<char>(data[k + 2]);
    }
    if (mode == 1) {
        const std::uint32_t c = kerec::crc32c(bytes.data(), bytes.size() - 4);
        std::memcpy(bytes.data() + bytes.size() - 4, &c, 4);
    }
    load(std::move(bytes));
    return 0;
}
