#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <kerec/core/random.hpp>
#include <kerec/graph/builder.hpp>
#include <kerec/graph/feedback.hpp>
#include <kerec/graph/io.hpp>

#include "../test_util.hpp"

using namespace kerec;

namespace {
using G = ComplementaryGraph<EntityId, NoPayload>;
using B = GraphBuilder<EntityId, NoPayload>;
using E = GraphEdge<EntityId, NoPayload>;
using FB = GraphBuilder<EntityId, EdgeFeedback>;
using FE = GraphEdge<EntityId, EdgeFeedback>;

G small_graph(std::size_t nodes = 40, std::size_t m = 300, std::uint64_t seed = 3) {
    Rng rng(seed);
    std::vector<E> es;
    for (std::size_t i = 0; i < m; ++i)
        es.push_back(E{EntityId(static_cast<std::uint32_t>(rng.uniform_int(nodes))),
                       EntityId(static_cast<std::uint32_t>(rng.uniform_int(nodes))), static_cast<float>(rng.uniform()), {}});
    return B::build(es, {}).with_version(7).with_time(123456);
}

// A graph built from judgments: carries rationales (one of them not ASCII, one long).
FeedbackGraph judged_graph() {
    std::vector<Judgment> js;
    Rng rng(5);
    for (std::uint32_t a = 0; a < 12; ++a)
        for (std::uint32_t b = 0; b < 12; ++b)
            if (a != b && rng.bernoulli(0.4))
                js.push_back(Judgment{.a = EntityId(a), .b = EntityId(b), .label = Label::yes,
                                      .confidence = static_cast<float>(rng.uniform(0.5, 1.0)),
                                      .rationale = a % 3 == 0 ? "" : a % 3 == 1 ? fmt::format("{} goes with {}", a, b) : "（置信度）",
                                      .model = "m", .prompt_version = "v1", .time = 0});
    return build_graph<EdgeFeedback>(js).with_version(4).with_time(99);
}

FeedbackGraph feedback_graph() {
    std::vector<FE> es;
    Rng rng(11);
    for (int i = 0; i < 200; ++i) {
        const auto a = static_cast<std::uint32_t>(rng.uniform_int(30)), b = static_cast<std::uint32_t>(rng.uniform_int(30));
        es.push_back(FE{EntityId(a), EntityId(b), static_cast<float>(rng.uniform()),
                        EdgeFeedback{static_cast<float>(rng.uniform()), static_cast<float>(rng.uniform_int(100)),
                                     static_cast<float>(rng.uniform_int(10)), 1.5f}});
    }
    return FB::build(es, {});
}

// Rewrite header fields and fix both checksums, so only structural validation can catch it.
void patch(std::string& bytes, std::size_t pos, const void* value, std::size_t size) {
    std::memcpy(bytes.data() + pos, value, size);
    detail::GraphHeader h;
    std::memcpy(&h, bytes.data(), sizeof h);
    h.body_crc = crc32c(bytes.data() + 128, bytes.size() - 128);
    h.header_crc = crc32c(&h, 124);
    std::memcpy(bytes.data(), &h, sizeof h);
}
}  // namespace

TEST_CASE("graph io: binary round trip through mmap, zero copy, metadata kept") {
    test::TempDir dir("graph_io");
    const G g = small_graph();
    save_graph(g, dir / "g.bin");
    const G h = load_graph<G>(dir / "g.bin");
    CHECK(same_content(g, h));
    CHECK(h.version() == 7);
    CHECK(h.time() == 123456);
    for (std::uint32_t a = 0; a < 40; ++a)
        for (std::uint32_t b = 0; b < 40; ++b) CHECK(g.weight(EntityId(a), EntityId(b)) == h.weight(EntityId(a), EntityId(b)));
    const auto bytes = serialize_graph(g);
    CHECK(std::filesystem::file_size(dir / "g.bin") == bytes.size());
    CHECK(bytes.size() % 4 == 0);
    // the view lives on after the file is replaced and the original handle is gone
    const G copy = h;
    save_graph(G{}, dir / "g.bin");
    CHECK(same_content(copy, g));
    CHECK(load_graph<G>(dir / "g.bin").edge_count() == 0);
    // payload graphs round-trip too, and their payload type is checked
    const FeedbackGraph f = feedback_graph();
    save_graph(f, dir / "f.bin");
    const auto f2 = load_graph<FeedbackGraph>(dir / "f.bin");
    CHECK(same_content(f, f2));
    CHECK(f2.payload_at(0) == f.payload_at(0));
    CHECK_THROWS_AS(load_graph<G>(dir / "f.bin"), ParseError);
    CHECK_THROWS_AS(load_graph<FeedbackGraph>(dir / "g.bin"), ParseError);
}

TEST_CASE("graph io: the rationale table is persisted, mapped with the graph, and validated") {
    test::TempDir dir("graph_rationales");
    const FeedbackGraph g = judged_graph();
    REQUIRE(g.has_rationales());
    REQUIRE(g.rationales()->size() > 3);
    save_graph(g, dir / "g.bin");
    const auto h = load_graph<FeedbackGraph>(dir / "g.bin");
    CHECK(same_content(g, h));
    CHECK(h.has_rationales());
    for (std::uint64_t i = 0; i < g.edge_count(); ++i) CHECK(h.rationale(i) == g.rationale(i));
    CHECK(*h.rationales() == *g.rationales());
    // learned snapshots share the loaded pool, and re-saving gives the same bytes
    const auto bytes = serialize_graph(h);
    CHECK(bytes == serialize_graph(g));
    const auto layout = [&] {
        detail::GraphHeader hd;
        std::memcpy(&hd, bytes.data(), sizeof hd);
        return std::pair(hd, detail::graph_layout(hd));
    }();
    const auto& [hd, l] = layout;
    CHECK(hd.rationale_count == g.rationales()->size());
    auto expect = [](const std::string& b, const std::string& needle) {
        try {
            (void)graph_from_buffer<FeedbackGraph>(b, "r.bin");
            FAIL("accepted a bad rationale section, expected '" << needle << "'");
        } catch (const ParseError& e) {
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    {  // an edge's rationale id outside the pool
        std::string b = bytes;
        const std::uint32_t v = 1000;
        patch(b, l.rationale_ids, &v, 4);
        expect(b, "rationale id 1000");
    }
    {  // string 0 not empty
        std::string b = bytes;
        const std::uint64_t v = 1;
        patch(b, l.rationale_offsets + 8, &v, 8);
        expect(b, "rationale 0");
    }
    {  // offsets going backwards
        std::string b = bytes;
        const std::uint64_t v = hd.rationale_bytes + 5;
        patch(b, l.rationale_offsets + 16, &v, 8);
        expect(b, "not increasing");
    }
    {  // invalid UTF-8 in a rationale
        std::string b = bytes;
        const std::uint8_t v = 0xFF;
        patch(b, l.rationale_bytes, &v, 1);
        expect(b, "UTF-8");
    }
    {  // a pool on a graph without edges, or bytes without strings
        std::string b = bytes;
        const std::uint64_t v = 0;
        patch(b, 64, &v, 8);
        expect(b, "rationale pool");
    }
    // every truncation fails
    for (std::size_t len = l.rationale_ids; len < bytes.size(); len += 7)
        CHECK_THROWS_AS(graph_from_buffer<FeedbackGraph>(std::string_view(bytes).substr(0, len)), ParseError);
    // a graph built without rationales writes none
    const std::vector<Judgment> one{Judgment{.a = EntityId(0), .b = EntityId(1), .label = Label::yes, .confidence = 0.7f,
                                             .rationale = "r", .model = "m", .prompt_version = "v", .time = 0}};
    const auto plain_bytes = serialize_graph(build_graph<EdgeFeedback>(one, {.rationales = false}));
    CHECK(plain_bytes.size() < serialize_graph(build_graph<EdgeFeedback>(one)).size());
    CHECK(!graph_from_buffer<FeedbackGraph>(plain_bytes).has_rationales());
}

TEST_CASE("graph io: unaligned buffers are copied, not misread") {
    const G g = small_graph();
    const std::string bytes = serialize_graph(g);
    std::string shifted = "x" + bytes;
    const G h = graph_from_buffer<G>(std::string_view(shifted).substr(1));
    CHECK(same_content(g, h));
}

namespace {
template <class Graph>
void truncations_and_flips(const Graph& g) {
    const std::string bytes = serialize_graph(g);
    for (std::size_t len = 0; len < bytes.size(); ++len)
        CHECK_THROWS_AS(graph_from_buffer<Graph>(std::string_view(bytes).substr(0, len)), ParseError);
    CHECK_THROWS_AS(graph_from_buffer<Graph>(bytes + "extra"), ParseError);
    for (std::size_t pos = 0; pos < bytes.size(); ++pos) {
        std::string bad = bytes;
        bad[pos] = static_cast<char>(bad[pos] ^ 0x5A);
        CHECK_THROWS_AS(graph_from_buffer<Graph>(bad), ParseError);
        // without the body checksum, a flip must still give a ParseError or a graph that is safe to use
        GraphLoadOptions no_crc;
        no_crc.verify_checksum = false;
        try {
            const Graph h = graph_from_buffer<Graph>(bad, "flip", no_crc);
            std::size_t chars = 0;
            for (std::uint64_t i = 0; i < h.edge_count(); ++i) chars += h.rationale(i).size();
            for (std::uint32_t a = 0; a < h.node_count(); ++a)
                for (std::uint32_t b = 0; b < h.node_count(); ++b) (void)h.find(EntityId(a), EntityId(b));
            CHECK(chars <= bytes.size());
        } catch (const ParseError&) {
        }
    }
}
}  // namespace

TEST_CASE("graph io: every truncation and every header/body byte flip is a ParseError") {
    truncations_and_flips(small_graph(12, 40));
    truncations_and_flips(judged_graph());
}

TEST_CASE("graph io: hostile headers with valid checksums are rejected with clear messages") {
    const G g = small_graph(12, 40);
    const std::string bytes = serialize_graph(g);
    auto expect = [](const std::string& b, const std::string& needle) {
        try {
            (void)graph_from_buffer<G>(b, "hostile.bin");
            FAIL("accepted a hostile file expecting '" << needle << "'");
        } catch (const ParseError& e) {
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
            CHECK(std::string(e.what()).find("hostile.bin") == 0);
        }
    };
    {  // huge node count
        std::string b = bytes;
        const std::uint64_t v = 1ull << 62;
        patch(b, 32, &v, 8);
        expect(b, "node count");
    }
    {  // edge count that does not match the file size
        std::string b = bytes;
        const std::uint64_t v = 41;
        patch(b, 40, &v, 8);
        expect(b, "file size");
    }
    {  // offsets going backwards
        std::string b = bytes;
        const std::uint64_t v = 1000;
        patch(b, 128 + 8 * 3, &v, 8);
        expect(b, "offsets");
    }
    detail::GraphHeader h;
    std::memcpy(&h, bytes.data(), sizeof h);
    const auto l = detail::graph_layout(h);
    {  // target out of range
        std::string b = bytes;
        const std::uint32_t v = 999;
        patch(b, l.targets, &v, 4);
        expect(b, "not a node");
    }
    {  // NaN weight
        std::string b = bytes;
        const float v = std::nanf("");
        patch(b, l.weights, &v, 4);
        expect(b, "not finite");
    }
    {  // lookup pointing outside the row
        std::string b = bytes;
        const std::uint16_t v = 60000;
        patch(b, l.lookup, &v, 2);
        expect(b, "lookup");
    }
    {  // wrong lookup width (the one width is 2 bytes)
        std::string b = bytes;
        const std::uint32_t v = 4;
        patch(b, 20, &v, 4);
        expect(b, "lookup width 4");
    }
    {  // a version 1 file (16/32-bit lookups) and a future version
        std::string b = bytes;
        const std::uint32_t v = 1;
        patch(b, 8, &v, 4);
        expect(b, "version 1 (expected 2");
        const std::uint32_t w = 3;
        patch(b, 8, &w, 4);
        expect(b, "version 3");
    }
    {  // a reserved byte set
        std::string b = bytes;
        const std::uint8_t v = 1;
        patch(b, 100, &v, 1);
        expect(b, "reserved");
    }
    expect(std::string(200, 'K'), "magic");
    expect(std::string("KERECGR"), "truncated");
}

TEST_CASE("graph io: files that are missing, empty or directories") {
    test::TempDir dir("graph_files");
    CHECK_THROWS_AS(load_graph<G>(dir / "missing.bin"), IoError);
    CHECK_THROWS_AS(load_graph<G>(dir.path()), IoError);
    write_file_atomic(dir / "empty.bin", "");
    CHECK_THROWS_AS(load_graph<G>(dir / "empty.bin"), ParseError);
}

TEST_CASE("graph io: TSV round trip with ids, names and payload; bad lines name the line") {
    test::TempDir dir("graph_tsv");
    const G g = small_graph();
    save_graph_tsv(g, dir / "g.tsv");
    GraphBuildOptions o;
    o.node_count = g.node_count();
    CHECK(same_content(load_graph_tsv<G>(dir / "g.tsv", o), g));

    Vocabulary<EntityId> names;
    for (int i = 0; i < 40; ++i) names.add(i == 5 ? "tab\there" : fmt::format("entity {}", i));
    save_graph_tsv(g, dir / "n.tsv", &names);
    CHECK(read_file(dir / "n.tsv").find("entity 1\t") != std::string::npos);
    CHECK(same_content(load_graph_tsv<G>(dir / "n.tsv", o, &names), g));

    const FeedbackGraph f = feedback_graph();
    save_graph_tsv(f, dir / "f.tsv");
    CHECK(read_file(dir / "f.tsv").rfind("#from\tto\tweight\tprior\texposures\tclicks\tpurchases\n", 0) == 0);
    GraphBuildOptions fo;
    fo.node_count = f.node_count();
    CHECK(same_content(load_graph_tsv<FeedbackGraph>(dir / "f.tsv", fo), f));

    auto expect_line = [&](const std::string& text, std::uint64_t line, const Vocabulary<EntityId>* v = nullptr) {
        write_file_atomic(dir / "bad.tsv", text);
        try {
            (void)load_graph_tsv<G>(dir / "bad.tsv", {}, v);
            FAIL("accepted: " << text);
        } catch (const ParseError& e) {
            CHECK_MESSAGE(e.line() == line, e.what());
        }
    };
    expect_line("#c\n0\t1\t0.5\n0\t1\n", 3);             // too few fields
    expect_line("0\t1\tnan\n", 1);                       // NaN weight
    expect_line("0\t1\t0.5\n1\t-2\t0.5\n", 2);           // negative id
    expect_line("0\t4294967295\t1\n", 1);                // the invalid id
    expect_line("0\t1\t1e999\n", 1);                     // overflow
    expect_line("entity 1\t\xff\xfe\t0.5\n", 1, &names);  // invalid UTF-8 / unknown name
    expect_line("entity 1\tentity 2\t0.5\textra\n", 1, &names);

    // A huge bad field is quoted in the error through detail::excerpt: about 80 bytes and "…"
    // (never cut inside a UTF-8 character), whichever field it is.
    auto message_of = [&](const std::string& text, const Vocabulary<EntityId>* v = nullptr) -> std::string {
        write_file_atomic(dir / "huge.tsv", text);
        try {
            (void)load_graph_tsv<G>(dir / "huge.tsv", {}, v);
        } catch (const ParseError& e) {
            return e.what();
        }
        return "accepted";
    };
    const std::string huge(1 << 20, 'x');
    for (const auto& text : {huge + "\t1\t0.5\n", "0\t" + huge + "\t0.5\n", "0\t1\t" + huge + "\n"}) {
        const std::string msg = message_of(text);
        CHECK_MESSAGE(msg.size() < 300, msg.substr(0, 300));
        CHECK(msg.find(std::string(80, 'x') + "\xE2\x80\xA6") != std::string::npos);
        CHECK(msg.find(std::string(81, 'x')) == std::string::npos);
    }
    std::string accents;
    while (accents.size() < 1000) accents += "\xC3\xA9";  // é: a byte cut at 80 or 81 would split one
    const std::string msg = message_of("x" + accents + "\t1\t0.5\n", &names);
    CHECK(msg.size() < 300);
    CHECK(invalid_utf8(msg) == 0);
    CHECK(msg.find("= 'x\xC3\xA9") != std::string::npos);
    CHECK(msg.find("\xC3\xA9\xE2\x80\xA6'") != std::string::npos);  // whole characters, then the ellipsis

    // Hostile 1 MB lines: control bytes and ill-formed UTF-8, a million tabs, a huge payload, a
    // huge line of NULs. Every message stays short, valid UTF-8 and names the line.
    std::string garbage;
    for (std::size_t i = 0; garbage.size() < (1u << 20); ++i) garbage += i % 3 ? "\xff\x01" : "\x1b[2J\xC3";
    std::vector<std::pair<std::string, std::string>> hostile = {
        {"0\t1\t0.5\n" + garbage + "\t1\t0.5\n", "\\xff"},
        {"0\t1\t0.5\n0\t" + garbage + "\t0.5\n", "\\x1b"},
        {"0\t1\t0.5\n0\t1\t" + garbage + "\n", "\\x01"},
        {"0\t1\t0.5\n" + std::string(1 << 20, '\t') + "\n", "1048577 fields"},
        {"0\t1\t0.5\n" + std::string(1 << 20, '\0') + "\t1\t0.5\n", "\\x00"},
    };
    for (const auto& [text, expect] : hostile) {
        const std::string m = message_of(text);
        CHECK_MESSAGE(m.size() < 300, m.substr(0, 300));
        CHECK(invalid_utf8(m) == 0);
        CHECK_MESSAGE(m.find(expect) != std::string::npos, m);
        CHECK_MESSAGE(m.find(":2:") != std::string::npos, m);
    }
    {  // a feedback graph's payload: a 1 MB field where a count belongs
        write_file_atomic(dir / "huge_payload.tsv", "0\t1\t0.5\t0.5\t" + garbage + "\t1\t0\n");
        try {
            (void)load_graph_tsv<FeedbackGraph>(dir / "huge_payload.tsv");
            FAIL("accepted a 1 MB payload field");
        } catch (const ParseError& e) {
            const std::string m = e.what();
            CHECK_MESSAGE(m.size() < 300, m.substr(0, 300));
            CHECK(invalid_utf8(m) == 0);
            CHECK(m.find("payload fields '0.5\\x09") != std::string::npos);
        }
    }
    CHECK(message_of("0\t1\t0.5\n").find("accepted") == 0);
}
