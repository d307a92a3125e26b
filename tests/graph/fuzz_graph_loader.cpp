// libFuzzer target for the binary graph loader (built by clang++ directly, see CMakeLists.txt).
// The first input byte picks a mode:
//   0: the input is the file;  1: the input is a list of (position, byte) edits applied to a valid
//   file whose checksums are then recomputed (so only structural validation stands between the
//   edit and a crash);  2: the same edits without fixing the checksums;  3: raw input loaded as a
//   graph with a payload type;  4, 5: edits of a valid graph built from judgments (payload and
//   rationale pool), with and without fixing the checksums.
// Every accepted graph is then queried (neighbors, top_k, find over all pairs).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/io.hpp>

namespace {
using G = kerec::ComplementaryGraph<kerec::EntityId, kerec::NoPayload>;

const std::string& valid_file() {
    static const std::string bytes = [] {
        std::vector<kerec::GraphEdge<kerec::EntityId, kerec::NoPayload>> es;
        for (std::uint32_t b = 1; b < 30; ++b)  // a row above the linear-search limit
            es.push_back({kerec::EntityId(0), kerec::EntityId(b), static_cast<float>(b % 7), {}});
        for (std::uint32_t a = 1; a < 8; ++a) es.push_back({kerec::EntityId(a), kerec::EntityId(a * 3 % 30), 0.5f, {}});
        return kerec::serialize_graph(kerec::GraphBuilder<kerec::EntityId, kerec::NoPayload>::build(es, {}));
    }();
    return bytes;
}

const std::string& valid_judged_file() {
    static const std::string bytes = [] {
        std::vector<kerec::Judgment> js;
        for (std::uint32_t b = 1; b < 24; ++b)
            js.push_back(kerec::Judgment{.a = kerec::EntityId(0), .b = kerec::EntityId(b), .label = kerec::Label::yes,
                                         .confidence = static_cast<float>(b % 9) / 10.0f,
                                         .rationale = b % 3 ? "goes with " + std::to_string(b % 5) : "",
                                         .model = "m", .prompt_version = "v", .time = 0});
        return kerec::serialize_graph(kerec::build_graph<kerec::EdgeFeedback>(js));
    }();
    return bytes;
}

template <class Graph>
void exercise(const Graph& g) {
    volatile float sink = 0;
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(g.node_count(), 64));
    for (std::uint32_t a = 0; a < n + 2; ++a) {
        const auto row = g.neighbors(kerec::EntityId(a));
        for (std::size_t j = 0; j < row.size(); ++j) sink = sink + row.weights[j] + static_cast<float>(row.targets[j].value());
        sink = sink + static_cast<float>(g.top_k(kerec::EntityId(a), 3).size());
        for (std::uint32_t b = 0; b < n + 2; ++b) {
            const auto i = g.find(kerec::EntityId(a), kerec::EntityId(b));
            if (i != Graph::npos)
                sink = sink + g.weight_at(i) + static_cast<float>(g.source(i).value()) + static_cast<float>(g.rationale(i).size());
        }
    }
}

template <class Graph>
void load(const std::string& bytes, bool verify) {
    kerec::GraphLoadOptions opt;
    opt.verify_checksum = verify;
    try {
        exercise(kerec::graph_from_buffer<Graph>(bytes, "fuzz", opt));
    } catch (const kerec::ParseError&) {
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 6;
    ++data, --size;
    if (mode == 0 || mode == 3) {
        const std::string bytes(reinterpret_cast<const char*>(data), size);
        if (mode == 0) {
            load<G>(bytes, true);
            load<G>(bytes, false);
        } else {
            load<kerec::FeedbackGraph>(bytes, false);
        }
        return 0;
    }
    const bool judged = mode >= 4;
    std::string bytes = judged ? valid_judged_file() : valid_file();
    for (std::size_t k = 0; k + 2 < size; k += 3) {
        const std::size_t pos = (static_cast<std::size_t>(data[k]) << 8 | data[k + 1]) % bytes.size();
        bytes[pos] = static_cast<char>(data[k + 2]);
    }
    if ((mode == 1 || mode == 4) && bytes.size() >= 128) {
        kerec::detail::GraphHeader h;
        std::memcpy(&h, bytes.data(), sizeof h);
        h.body_crc = kerec::crc32c(bytes.data() + 128, bytes.size() - 128);
        h.header_crc = kerec::crc32c(&h, 124);
        std::memcpy(bytes.data(), &h, sizeof h);
    }
    if (judged)
        load<kerec::FeedbackGraph>(bytes, mode == 5);
    else
        load<G>(bytes, mode == 2);
    return 0;
}
