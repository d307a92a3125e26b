// kerec/graph/io.hpp — complementary graph persistence: binary snapshots (mmap, zero copy) and TSV.
//
// The paper's graph is rebuilt offline and served online; a snapshot file lets a server map it
// instead of rebuilding it. Binary format v2 (little-endian, docs/graph.md has the table): a
// 128-byte header (magic "KERECGRF", version, widths, payload tag, n, m, graph version, time,
// rationale pool sizes, file size, CRC-32C of the body, CRC-32C of the header) followed by the CSR
// arrays and the rationale pool, each section 64-byte aligned. load_graph() maps the file and
// returns a graph whose spans point into the mapping (no copy). Every size, offset, id, weight,
// lookup entry and rationale is validated before use, so a truncated, corrupted or hostile file
// raises ParseError, never UB. Save: O(bytes), atomic (temp + fsync + rename). Load: O(bytes)
// validation (one streaming pass, plus the CRC pass when verify_checksum). TSV:
// "from<TAB>to<TAB>weight[<TAB>payload...]" (no rationales: the binary file carries them).
#pragma once

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "kerec/core/checksum.hpp"
#include "kerec/core/error.hpp"
#include "kerec/core/io.hpp"
#include "kerec/core/mmap.hpp"
#include "kerec/core/vocabulary.hpp"
#include "kerec/graph/builder.hpp"
#include "kerec/graph/complementary_graph.hpp"
#include "kerec/llm/prompt.hpp"

namespace kerec {

static_assert(std::endian::native == std::endian::little, "kerec graph files are little-endian");

struct GraphLoadOptions {
    bool verify_checksum = true;  ///< CRC-32C of the body (one extra pass); structure is always validated
    MapAdvice advice = MapAdvice::normal;
};

namespace detail {

inline constexpr char graph_magic[8] = {'K', 'E', 'R', 'E', 'C', 'G', 'R', 'F'};
inline constexpr std::uint32_t graph_format_version = 2;
inline constexpr std::size_t graph_header_size = 128;

struct GraphHeader {
    char magic[8];
    std::uint32_t format_version;
    std::uint32_t header_size;
    std::uint32_t id_bytes;
    std::uint32_t lookup_bytes;
    std::uint32_t payload_bytes;
    std::uint32_t payload_tag;
    std::uint64_t node_count;
    std::uint64_t edge_count;
    std::uint64_t graph_version;
    std::int64_t time;
    std::uint64_t rationale_count;  ///< strings in the rationale pool; 0 = the graph carries none
    std::uint64_t rationale_bytes;
    std::uint64_t file_size;
    std::uint32_t body_crc;
    std::uint32_t flags;
    std::uint8_t reserved[28];
    std::uint32_t header_crc;  ///< CRC-32C of bytes [0, 124)
};
static_assert(sizeof(GraphHeader) == graph_header_size);
static_assert(offsetof(GraphHeader, header_crc) == 124);

constexpr std::uint64_t align64(std::uint64_t x) noexcept { return (x + 63) & ~std::uint64_t{63}; }

/// The canonical layout: where each section starts, and the file size. Fully determined by the
/// sizes in the header (the loader recomputes it).
struct GraphLayout {
    std::uint64_t offsets, targets, weights, lookup, payload, rationale_ids, rationale_offsets, rationale_bytes, end;
};
inline GraphLayout graph_layout(const GraphHeader& h) noexcept {
    const std::uint64_t n = h.node_count, m = h.edge_count, k = h.rationale_count;
    GraphLayout l{};
    l.offsets = graph_header_size;
    l.targets = align64(l.offsets + (n + 1) * 8);
    l.weights = align64(l.targets + m * 4);
    l.lookup = align64(l.weights + m * 4);
    l.payload = align64(l.lookup + m * 2);
    l.end = l.payload + m * h.payload_bytes;
    if (k > 0) {
        l.rationale_ids = align64(l.end);
        l.rationale_offsets = align64(l.rationale_ids + m * 4);
        l.rationale_bytes = align64(l.rationale_offsets + (k + 1) * 8);
        l.end = l.rationale_bytes + h.rationale_bytes;
    }
    return l;
}

/// `count` elements of type T at byte `pos` of a validated, 64-byte aligned file image.
template <class T>
std::span<const T> section(const std::byte* base, std::uint64_t pos, std::size_t count) noexcept {
    return {reinterpret_cast<const T*>(base + pos), count};
}

template <class EdgeData>
std::uint32_t payload_tag() noexcept {
    return crc32c(graph_payload_traits<EdgeData>::name);
}

/// Calls sink(ptr, size) for every body chunk of g in file order (padding included).
template <class Graph, class Sink>
void for_each_body_chunk(const Graph& g, const GraphLayout& l, Sink&& sink) {
    static constexpr char zeros[64] = {};
    std::uint64_t pos = graph_header_size;
    auto put = [&](std::uint64_t at, const void* p, std::size_t size) {
        if (at > pos) sink(zeros, static_cast<std::size_t>(at - pos));
        if (size) sink(p, size);
        pos = at + size;
    };
    put(l.offsets, g.offsets().data(), g.offsets().size_bytes());
    put(l.targets, g.targets().data(), g.targets().size_bytes());
    put(l.weights, g.weights().data(), g.weights().size_bytes());
    const auto lookup = GraphAccess::lookup(g);
    put(l.lookup, lookup.data(), lookup.size_bytes());
    put(l.payload, g.payload().data(), g.payload().size_bytes());
    if (g.has_rationales()) {
        put(l.rationale_ids, g.rationale_ids().data(), g.rationale_ids().size_bytes());
        put(l.rationale_offsets, g.rationales()->offsets().data(), g.rationales()->offsets().size_bytes());
        put(l.rationale_bytes, g.rationales()->bytes().data(), g.rationales()->bytes().size());
    }
}

template <class Graph>
GraphHeader make_header(const Graph& g) {
    using EdgeData = typename Graph::payload_type;
    GraphHeader h{};
    std::memcpy(h.magic, graph_magic, 8);
    h.format_version = graph_format_version;
    h.header_size = graph_header_size;
    h.id_bytes = 4;
    h.lookup_bytes = 2;
    h.payload_bytes = Graph::has_payload ? static_cast<std::uint32_t>(sizeof(EdgeData)) : 0;
    h.payload_tag = payload_tag<EdgeData>();
    h.node_count = g.node_count();
    h.edge_count = g.edge_count();
    h.graph_version = g.version();
    h.time = g.time();
    if (g.has_rationales()) {
        h.rationale_count = g.rationales()->size();
        h.rationale_bytes = g.rationales()->bytes().size();
    }
    const GraphLayout l = graph_layout(h);
    h.file_size = l.end;
    std::uint32_t crc = 0;
    for_each_body_chunk(g, l, [&](const void* p, std::size_t size) { crc = crc32c(p, size, crc); });
    h.body_crc = crc;
    h.header_crc = crc32c(&h, offsetof(GraphHeader, header_crc));
    return h;
}

}  // namespace detail

/// The whole binary snapshot as bytes (for small graphs, tests and network transfer).
template <class Graph>
std::string serialize_graph(const Graph& g) {
    const auto h = detail::make_header(g);
    std::string out;
    out.reserve(static_cast<std::size_t>(h.file_size));
    out.append(reinterpret_cast<const char*>(&h), sizeof h);
    detail::for_each_body_chunk(g, detail::graph_layout(h), [&](const void* p, std::size_t size) { out.append(static_cast<const char*>(p), size); });
    return out;
}

/// Write a binary snapshot atomically (temp file, fsync, rename).
template <class Graph>
void save_graph(const Graph& g, const std::filesystem::path& path) {
    const auto h = detail::make_header(g);
    AtomicFile file(path);
    file.write(&h, sizeof h);
    detail::for_each_body_chunk(g, detail::graph_layout(h), [&](const void* p, std::size_t size) { file.write(p, size); });
    file.commit();
}

/// A graph viewing `bytes` (no copy when `bytes` is 64-byte aligned, else one aligned copy).
/// `keep` keeps the bytes alive; `source` names them in errors. Throws ParseError.
template <class Graph>
Graph graph_from_bytes(std::span<const std::byte> bytes, std::shared_ptr<const void> keep, const std::string& source,
                       const GraphLoadOptions& opt = {}) {
    using Id = typename Graph::id_type;
    using EdgeData = typename Graph::payload_type;
    using Traits = graph_payload_traits<EdgeData>;
    auto fail = [&](const std::string& msg) { return ParseError(source, 0, 0, msg); };

    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % 64 != 0) {
        auto copy = std::make_shared<detail::RawArray<std::byte>>(bytes.size());
        if (!bytes.empty()) std::memcpy(copy->data(), bytes.data(), bytes.size());
        std::span<const std::byte> aligned(copy->data(), bytes.size());
        return graph_from_bytes<Graph>(aligned, std::shared_ptr<const void>(copy), source, opt);
    }
    const std::uint64_t size = bytes.size();
    if (size < detail::graph_header_size)
        throw fail(fmt::format("truncated graph file: {} bytes, expected at least the {}-byte header", size,
                               detail::graph_header_size));
    detail::GraphHeader h;
    std::memcpy(&h, bytes.data(), sizeof h);
    if (std::memcmp(h.magic, detail::graph_magic, 8) != 0)
        throw fail("not a kerec graph file (magic \"KERECGRF\" expected)");
    if (crc32c(bytes.data(), offsetof(detail::GraphHeader, header_crc)) != h.header_crc)
        throw fail("graph header checksum mismatch (corrupted header)");
    if (h.format_version != detail::graph_format_version)
        throw fail(fmt::format("graph format version {} (expected {}; rebuild or re-save the graph)", h.format_version,
                               detail::graph_format_version));
    if (h.header_size != detail::graph_header_size)
        throw fail(fmt::format("header size {} (expected {})", h.header_size, detail::graph_header_size));
    if (h.id_bytes != 4) throw fail(fmt::format("id width {} bytes (expected 4)", h.id_bytes));
    if (h.lookup_bytes != 2) throw fail(fmt::format("lookup width {} bytes (expected 2)", h.lookup_bytes));
    const std::uint32_t want_payload = Graph::has_payload ? static_cast<std::uint32_t>(sizeof(EdgeData)) : 0;
    if (h.payload_bytes != want_payload || h.payload_tag != detail::payload_tag<EdgeData>())
        throw fail(fmt::format("edge payload is {} bytes with tag {:08x}, expected payload '{}' ({} bytes)",
                               h.payload_bytes, h.payload_tag, Traits::name, want_payload));
    if (h.flags != 0 || std::any_of(std::begin(h.reserved), std::end(h.reserved), [](std::uint8_t b) { return b != 0; }))
        throw fail("unknown header flags or reserved bytes (expected 0)");
    if (h.node_count > 0xFFFFFFFFull) throw fail(fmt::format("node count {} exceeds 2^32 - 1", h.node_count));
    if (h.edge_count > (std::uint64_t{1} << 40)) throw fail(fmt::format("edge count {} exceeds 2^40", h.edge_count));
    if (h.rationale_count > 0xFFFFFFFFull || h.rationale_bytes > (std::uint64_t{1} << 40) ||
        (h.rationale_count == 0 && h.rationale_bytes != 0) || (h.edge_count == 0 && h.rationale_count != 0))
        throw fail(fmt::format("rationale pool of {} strings, {} bytes (expected < 2^32 strings, none without edges)",
                               h.rationale_count, h.rationale_bytes));
    const auto l = detail::graph_layout(h);
    if (h.file_size != l.end) throw fail(fmt::format("file size {} in the header, the sizes in it give {}", h.file_size, l.end));
    if (size < l.end) throw fail(fmt::format("truncated graph file: {} bytes, header says {}", size, l.end));
    if (size > l.end) throw fail(fmt::format("graph file has {} trailing bytes after the last section", size - l.end));
    if (opt.verify_checksum &&
        crc32c(bytes.data() + detail::graph_header_size, static_cast<std::size_t>(l.end - detail::graph_header_size)) !=
            h.body_crc)
        throw fail("graph body checksum mismatch (corrupted data)");

    const std::size_t n = static_cast<std::size_t>(h.node_count), m = static_cast<std::size_t>(h.edge_count);
    const auto* base = bytes.data();
    const auto offsets = detail::section<std::uint64_t>(base, l.offsets, n + 1);
    const auto targets = detail::section<Id>(base, l.targets, m);
    const auto weights = detail::section<float>(base, l.weights, m);
    const auto lookup = detail::section<std::uint16_t>(base, l.lookup, m);
    std::span<const EdgeData> payload;
    if constexpr (Graph::has_payload) payload = detail::section<EdgeData>(base, l.payload, m);

    // Structure: offsets monotone in [0, m], ids in range, weights finite and sorted, lookup a
    // permutation ordering the row by target, payload valid.
    if (offsets[0] != 0) throw fail(fmt::format("offsets[0] = {} (expected 0)", offsets[0]));
    if (offsets[n] != m) throw fail(fmt::format("offsets[{}] = {} (expected the edge count {})", n, offsets[n], m));
    for (std::size_t r = 0; r < n; ++r) {
        const std::uint64_t b = offsets[r], e = offsets[r + 1];
        if (e < b || e > m)
            throw fail(fmt::format("row {}: offsets {}..{} are not increasing within [0, {}]", r, b, e, m));
        const std::uint64_t d = e - b;
        if (d > Graph::max_degree_limit) throw fail(fmt::format("row {}: {} edges (at most {})", r, d, Graph::max_degree_limit));
        for (std::uint64_t i = b; i < e; ++i) {
            if (!targets[i].valid() || targets[i].index() >= n)
                throw fail(fmt::format("edge {} (row {}): target {} is not a node (node count {})", i, r,
                                       targets[i].value(), n));
            if (!std::isfinite(weights[i]))
                throw fail(fmt::format("edge {} (row {}): weight {} is not finite", i, r, weights[i]));
            if (i > b && (weights[i] > weights[i - 1] ||
                          (weights[i] == weights[i - 1] && !(targets[i - 1] < targets[i]))))
                throw fail(fmt::format("row {}: edges are not sorted by weight (descending, ties by target)", r));
            if constexpr (Graph::has_payload)
                if (!Traits::valid(payload[i]))
                    throw fail(fmt::format("edge {} (row {}): invalid {} payload", i, r, Traits::name));
        }
        for (std::uint64_t j = 0; j < d; ++j) {
            const std::uint64_t pos = lookup[b + j];
            if (pos >= d) throw fail(fmt::format("row {}: lookup entry {} = {} is outside the row (degree {})", r, j, pos, d));
            if (j > 0 && !(targets[b + lookup[b + j - 1]] < targets[b + pos]))
                throw fail(fmt::format("row {}: lookup does not order the row by target", r));
        }
    }

    // Rationales: offsets from 0 (string 0 empty) to the byte count, UTF-8 strings, ids in range.
    std::span<const std::uint32_t> rationale_ids;
    std::shared_ptr<const RationaleTable> rationales;
    if (const std::size_t k = static_cast<std::size_t>(h.rationale_count); k > 0) {
        rationale_ids = detail::section<std::uint32_t>(base, l.rationale_ids, m);
        const auto roff = detail::section<std::uint64_t>(base, l.rationale_offsets, k + 1);
        const auto rbytes = detail::section<char>(base, l.rationale_bytes, static_cast<std::size_t>(h.rationale_bytes));
        if (roff[0] != 0 || roff[1] != 0) throw fail("rationale 0 is not the empty string");
        if (roff[k] != h.rationale_bytes)
            throw fail(fmt::format("rationale offsets end at {} (expected the byte count {})", roff[k], h.rationale_bytes));
        for (std::size_t i = 0; i < k; ++i) {
            if (roff[i + 1] < roff[i] || roff[i + 1] > h.rationale_bytes)
                throw fail(fmt::format("rationale {}: offsets {}..{} are not increasing within [0, {}]", i, roff[i], roff[i + 1],
                                       h.rationale_bytes));
            if (!valid_utf8(std::string_view(rbytes.data() + roff[i], static_cast<std::size_t>(roff[i + 1] - roff[i]))))
                throw fail(fmt::format("rationale {} is not valid UTF-8", i));
        }
        for (std::size_t i = 0; i < m; ++i)
            if (rationale_ids[i] >= k)
                throw fail(fmt::format("edge {}: rationale id {} is outside the pool ({} strings)", i, rationale_ids[i], k));
        rationales = detail::GraphAccess::table_view(keep, roff, rbytes);
    }
    return detail::GraphAccess::view<Graph>(std::move(keep), offsets, targets, weights, lookup, payload, rationale_ids,
                                            std::move(rationales), h.graph_version, h.time);
}

/// Own a copy of `bytes` and parse it (convenience for small buffers).
template <class Graph>
Graph graph_from_buffer(std::string_view bytes, const std::string& source = "<buffer>", const GraphLoadOptions& opt = {}) {
    auto copy = std::make_shared<detail::RawArray<std::byte>>(bytes.size());
    if (!bytes.empty()) std::memcpy(copy->data(), bytes.data(), bytes.size());
    std::span<const std::byte> view(copy->data(), bytes.size());
    return graph_from_bytes<Graph>(view, std::shared_ptr<const void>(copy), source, opt);
}

/// Map a binary snapshot and return a graph viewing the mapping (zero copy). The mapping lives
/// as long as any copy of the graph. Throws IoError (open/mmap) or ParseError (content).
template <class Graph>
Graph load_graph(const std::filesystem::path& path, const GraphLoadOptions& opt = {}) {
    auto file = std::make_shared<MappedFile>(path, opt.advice);
    const auto bytes = file->bytes();
    return graph_from_bytes<Graph>(bytes, std::shared_ptr<const void>(file), path.string(), opt);
}

// ------------------------------------------------------------------------------------------
// TSV

namespace detail {
template <class Id>
bool parse_id(std::string_view s, const Vocabulary<Id>* names, Id& out) {
    if (names) {
        std::string unescaped;
        if (!unescape_field(s, unescaped)) return false;
        auto id = names->find(unescaped);
        if (!id) return false;
        out = *id;
        return true;
    }
    std::uint32_t v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v == Id::invalid_value) return false;
    out = Id(v);
    return true;
}
}  // namespace detail

/// Write every edge as "from<TAB>to<TAB>weight[<TAB>payload fields]" after a '#' header line.
/// With `names`, ids are written as (escaped) names. Atomic.
template <class Graph>
void save_graph_tsv(const Graph& g, const std::filesystem::path& path,
                    const Vocabulary<typename Graph::id_type>* names = nullptr) {
    using Traits = graph_payload_traits<typename Graph::payload_type>;
    AtomicFile file(path);
    std::string line = "#from\tto\tweight";
    if constexpr (requires { Traits::tsv_header; })
        if (Traits::tsv_fields > 0) line += fmt::format("\t{}", Traits::tsv_header);
    line += '\n';
    auto name_of = [&](typename Graph::id_type id) {
        if (names && names->contains(id)) return escape_field(names->name(id));
        return fmt::format("{}", id.value());
    };
    for (std::size_t r = 0; r < g.node_count(); ++r) {
        const typename Graph::id_type from(static_cast<std::uint32_t>(r));
        const auto row = g.neighbors(from);
        if (row.empty()) continue;
        const std::string from_name = name_of(from);
        for (std::size_t j = 0; j < row.size(); ++j) {
            line += from_name;
            line += '\t';
            line += name_of(row.targets[j]);
            line += fmt::format("\t{}", row.weights[j]);  // shortest round-trip representation
            if constexpr (Graph::has_payload) {
                line += '\t';
                Traits::format(row.payload[j], line);
            }
            line += '\n';
            if (line.size() > (1u << 16)) {
                file.write(line);
                line.clear();
            }
        }
    }
    file.write(line);
    file.commit();
}

/// Read a TSV edge list (as written by save_graph_tsv; '#' lines and blank lines are skipped)
/// into edges. Names are resolved through `names` when given, otherwise ids are decimal.
/// Throws ParseError naming the file, line and field; offending text is quoted through
/// detail::excerpt (at most ~80 bytes, control bytes and ill-formed UTF-8 as \xHH), so a hostile
/// line of any length gives a short, well-formed message.
template <class Id, class EdgeData>
std::vector<GraphEdge<Id, EdgeData>> read_graph_tsv_edges(const std::filesystem::path& path,
                                                          const Vocabulary<Id>* names = nullptr) {
    using Traits = graph_payload_traits<EdgeData>;
    LineReader reader(path);
    std::vector<GraphEdge<Id, EdgeData>> edges;
    std::vector<std::string_view> fields;
    std::string_view line;
    const std::size_t want = 3 + Traits::tsv_fields;
    while (reader.next(line)) {
        if (line.empty() || line.front() == '#') continue;
        split_tsv(line, fields);
        if (fields.size() != want)
            throw reader.error(0, fmt::format("{} fields, expected {} (from, to, weight{})", fields.size(), want,
                                              Traits::tsv_fields ? ", payload" : ""));
        GraphEdge<Id, EdgeData> e;
        if (!detail::parse_id(fields[0], names, e.from))
            throw reader.error(1, fmt::format("field 'from' = '{}' is not a {}", detail::excerpt(fields[0]),
                                              names ? "known name" : "decimal id below 2^32-1"));
        if (!detail::parse_id(fields[1], names, e.to))
            throw reader.error(static_cast<std::uint64_t>(fields[1].data() - line.data()) + 1,
                               fmt::format("field 'to' = '{}' is not a {}", detail::excerpt(fields[1]),
                                           names ? "known name" : "decimal id below 2^32-1"));
        const auto w = fields[2];
        const auto r = std::from_chars(w.data(), w.data() + w.size(), e.weight);
        if (r.ec != std::errc{} || r.ptr != w.data() + w.size() || !std::isfinite(e.weight))
            throw reader.error(static_cast<std::uint64_t>(w.data() - line.data()) + 1,
                               fmt::format("field 'weight' = '{}' is not a finite number", detail::excerpt(w)));
        if constexpr (Traits::tsv_fields > 0) {
            if (!Traits::parse(std::span<const std::string_view>(fields).subspan(3), e.payload) || !Traits::valid(e.payload))
                throw reader.error(static_cast<std::uint64_t>(fields[3].data() - line.data()) + 1,
                                   fmt::format("payload fields '{}' are not a valid {}",
                                               detail::excerpt(line.substr(static_cast<std::size_t>(fields[3].data() - line.data()))),
                                               Traits::name));
        }
        edges.push_back(e);
    }
    return edges;
}

/// Read a TSV edge list and build a graph from it.
template <class Graph>
Graph load_graph_tsv(const std::filesystem::path& path, const GraphBuildOptions& options = {},
                     const Vocabulary<typename Graph::id_type>* names = nullptr) {
    using Id = typename Graph::id_type;
    using EdgeData = typename Graph::payload_type;
    const auto edges = read_graph_tsv_edges<Id, EdgeData>(path, names);
    return GraphBuilder<Id, EdgeData>::build(edges, options);
}

}  // namespace kerec
