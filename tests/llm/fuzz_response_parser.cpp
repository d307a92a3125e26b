// libFuzzer target for the LLM response parser with names (built by clang++ directly, see
// CMakeLists.txt). The input is split into name A, name B and the reply (two length bytes first);
// half the time the reply is instead spliced around an echo of the names, so the masking paths
// see names that really occur. Checks: no exception escapes, an accepted answer is yes/no with a
// confidence in [0, 1], a failure says why, the rationale is valid UTF-8 within its limit, and
// the names' prompt is well-formed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <kerec/llm/prompt.hpp>
#include <kerec/llm/response_parser.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const std::size_t la = data[0] % 64, lb = data[1] % 64;
    const bool splice = data[2] & 1;
    std::string_view rest(reinterpret_cast<const char*>(data + 3), size - 3);
    const std::string_view name_a = rest.substr(0, std::min(la, rest.size()));
    rest.remove_prefix(name_a.size());
    const std::string_view name_b = rest.substr(0, std::min(lb, rest.size()));
    rest.remove_prefix(name_b.size());
    std::string reply(rest);
    if (splice) {
        const std::size_t at = reply.empty() ? 0 : static_cast<unsigned char>(reply[0]) % (reply.size() + 1);
        reply.insert(at, std::string(name_b) + " " + kerec::sanitize_name(name_a, 200));
    }
    kerec::ParseOptions opt;
    opt.max_rationale_bytes = 64;
    opt.max_name_bytes = 16 + data[2] % 64;
    const kerec::ParsedAnswer a = kerec::parse_answer(reply, name_a, name_b, opt);
    if (a.ok) {
        if (a.label != kerec::Label::yes && a.label != kerec::Label::no) std::abort();
        if (!(a.confidence >= 0.0f && a.confidence <= 1.0f)) std::abort();
    } else if (a.label != kerec::Label::unknown || a.error.empty()) {
        std::abort();
    }
    if (!kerec::valid_utf8(a.rationale) || a.rationale.size() > opt.max_rationale_bytes) std::abort();
    const kerec::PromptBuilder prompts;
    const kerec::Prompt p = prompts.build(name_a, name_b);
    if (!kerec::valid_utf8(p.user)) std::abort();
    return 0;
}
