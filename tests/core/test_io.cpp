#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <kerec/core/io.hpp>
#include <kerec/core/npy.hpp>

#include "../test_util.hpp"

using namespace kerec;

TEST_CASE("atomic file: commit replaces, abandon keeps the old content and no temp file") {
    test::TempDir dir("atomic");
    const auto path = dir / "f.txt";
    write_file_atomic(path, "old");
    CHECK(read_file(path) == "old");
    {
        AtomicFile f(path);
        f.write("new content that is never committed");
    }  // destroyed without commit
    CHECK(read_file(path) == "old");
    int files = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++files;
    CHECK(files == 1);
    {
        AtomicFile f(path);
        std::string big(200000, 'z');
        f.write("a");
        f.write(big);
        f.commit();
        CHECK_THROWS_AS(f.commit(), InvalidArgument);
    }
    CHECK(read_file(path).size() == 200001);
    CHECK_THROWS_AS(write_file_atomic(dir / "no/such/dir/f.txt", "x"), IoError);
    CHECK_THROWS_AS(read_file(dir / "missing"), IoError);
}

TEST_CASE("line reader: line numbers, CRLF, missing final newline, long lines") {
    test::TempDir dir("lines");
    std::string content = "first\r\nsecond\n\nfourth";
    content += "\n" + std::string(300000, 'L') + "\nlast";
    write_file_atomic(dir / "l.txt", content);
    LineReader r(dir / "l.txt");
    std::string_view line;
    std::vector<std::string> got;
    while (r.next(line)) got.emplace_back(line);
    REQUIRE(got.size() == 6);
    CHECK(got[0] == "first");
    CHECK(got[1] == "second");
    CHECK(got[2].empty());
    CHECK(got[3] == "fourth");
    CHECK(got[4].size() == 300000);
    CHECK(got[5] == "last");
    CHECK(r.line_number() == 6);
    const auto err = r.error(3, "bad field");
    CHECK(std::string(err.what()).find(":6:3: bad field") != std::string::npos);
    write_file_atomic(dir / "e.txt", "");
    LineReader empty(dir / "e.txt");
    CHECK_FALSE(empty.next(line));
    CHECK_THROWS_AS(LineReader(dir / "nope.txt"), IoError);
}

TEST_CASE("tsv split and field escaping") {
    std::vector<std::string_view> f;
    split_tsv("a\tb\t\tc", f);
    REQUIRE(f.size() == 4);
    CHECK(f[2].empty());
    CHECK(f[3] == "c");
    split_tsv("", f);
    CHECK(f.size() == 1);
    std::string out;
    CHECK(unescape_field(escape_field("x\ty\nz\\"), out));
    CHECK(out == "x\ty\nz\\");
    std::size_t col = 0;
    CHECK_FALSE(unescape_field("abc\\", out, &col));
    CHECK(col == 4);
}

TEST_CASE("npy: float and double round trip, numpy-compatible header") {
    test::TempDir dir("npy");
    RowMatrix<float> m(3, 4);
    for (int i = 0; i < 12; ++i) m.data()[i] = static_cast<float>(i) * 0.5f - 1.0f;
    save_npy(dir / "m.npy", m);
    const auto bytes = read_file(dir / "m.npy");
    CHECK(bytes.substr(0, 6) == "\x93NUMPY");
    CHECK(bytes.find("'descr': '<f4'") != std::string::npos);
    CHECK(bytes.find("'shape': (3, 4)") != std::string::npos);
    CHECK((bytes.size() - 3 * 4 * 4) % 64 == 0);  // header padded to 64 bytes
    const auto back = load_npy<float>(dir / "m.npy");
    CHECK(back == m);

    Eigen::MatrixXd col(2, 3);  // column-major source is saved row-major
    col << 1, 2, 3, 4, 5, 6;
    save_npy(dir / "d.npy", col);
    const auto d = load_npy<double>(dir / "d.npy");
    CHECK(d(1, 2) == 6.0);
    CHECK(d(0, 1) == 2.0);

    RowMatrix<double> empty(0, 5);
    save_npy(dir / "e.npy", empty);
    CHECK(load_npy<double>(dir / "e.npy").rows() == 0);
}

TEST_CASE("npy: wrong dtype, wrong rank, truncated and corrupted files are ParseErrors") {
    test::TempDir dir("npy_bad");
    RowMatrix<float> m = RowMatrix<float>::Ones(4, 4);
    save_npy(dir / "m.npy", m);
    const std::string good = read_file(dir / "m.npy");

    CHECK_THROWS_WITH_AS(load_npy<double>(dir / "m.npy"), doctest::Contains("npy dtype '<f4' (32-bit floats) is not 64-bit floats"),
                         ParseError);

    auto expect_parse_error = [&](const std::string& bytes, const char* needle) {
        write_file_atomic(dir / "x.npy", bytes);
        try {
            (void)load_npy<float>(dir / "x.npy");
            FAIL("expected a ParseError for ", needle);
        } catch (const ParseError& e) {
            CHECK_MESSAGE(std::string(e.what()).find(needle) != std::string::npos, e.what());
        }
    };
    expect_parse_error(good.substr(0, good.size() - 1), "truncated");
    expect_parse_error(good.substr(0, 5), "truncated");
    expect_parse_error(good.substr(0, 40), "truncated");
    expect_parse_error(good + "xx", "trailing");
    std::string bad_magic = good;
    bad_magic[1] = 'X';
    expect_parse_error(bad_magic, "magic");
    std::string bad_version = good;
    bad_version[6] = 9;
    expect_parse_error(bad_version, "version");
    std::string rank3 = good;
    const auto pos = rank3.find("(4, 4)");
    REQUIRE(pos != std::string::npos);
    rank3.replace(pos, 6, "(4,4,1)");
    expect_parse_error(rank3, "rank 3");
    std::string garbage = good;
    garbage.replace(good.find("'shape'"), 7, "'shap?'");
    expect_parse_error(garbage, "unknown key");
    std::string huge = good;
    huge.replace(huge.find("(4, 4)"), 6, "(99999999999999999999999, 4)");
    expect_parse_error(huge, "npy");
    std::string big_shape = good;
    big_shape.replace(big_shape.find("(4, 4)"), 6, "(4000000000000, 4)");
    expect_parse_error(big_shape, "npy");
    CHECK_THROWS_AS(load_npy<float>(dir / "missing.npy"), IoError);
}

namespace {
// A hand-made .npy: version `major`, the header dict `dict`, then `payload`.
std::string make_npy(const std::string& dict, const std::string& payload, int major = 1) {
    std::string h = dict;
    const std::size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    out += static_cast<char>(h.size() & 0xFF);
    out += static_cast<char>(h.size() >> 8);
    if (major != 1) out += std::string(2, '\0');
    return out + h + payload;
}
std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}
template <class T>
std::string raw(std::initializer_list<T> values, bool big_endian = false) {
    std::string out;
    for (T v : values) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof v);
        if (big_endian) std::reverse(b, b + sizeof(T));
        out.append(b, sizeof b);
    }
    return out;
}
std::string npy_error(const std::string& bytes, const NpyLoadOptions& o = {}) {
    try {
        (void)npy_from_buffer<float>(bytes, "t.npy", o);
    } catch (const ParseError& e) {
        return e.what();
    }
    return "no error";
}
}  // namespace

TEST_CASE("npy: byte orders, Fortran order, version 2 headers; the file and buffer readers agree") {
    test::TempDir dir("npy_forms");
    const std::string le = make_npy(dict("<f4", "(2, 3)"), raw<float>({1, 2, 3, 4, 5, 6}));
    const std::string native = make_npy(dict("=f4", "(2, 3)"), raw<float>({1, 2, 3, 4, 5, 6}));
    const std::string be = make_npy(dict(">f4", "(2, 3)"), raw<float>({1, 2, 3, 4, 5, 6}, true));
    const std::string fortran = make_npy(dict("<f4", "(2, 3)", true), raw<float>({1, 4, 2, 5, 3, 6}));
    const std::string v2 = make_npy(dict("<f8", "(2, 3)"), raw<double>({1, 2, 3, 4, 5, 6}), 2);
    RowMatrix<float> want(2, 3);
    want << 1, 2, 3, 4, 5, 6;
    for (const auto* bytes : {&le, &native, &be, &fortran}) {
        write_file_atomic(dir / "f.npy", *bytes);
        CHECK(load_npy<float>(dir / "f.npy") == want);
        CHECK(npy_from_buffer<float>(*bytes, "mem") == want);
    }
    write_file_atomic(dir / "d.npy", v2);
    CHECK(load_npy<double>(dir / "d.npy") == want.cast<double>());
    CHECK(npy_from_buffer<double>(v2, "mem") == want.cast<double>());
    const auto empty = npy_from_buffer<float>(make_npy(dict("<f4", "(0, 7)"), ""), "mem");
    CHECK(empty.rows() == 0);
    CHECK(empty.cols() == 7);
}

TEST_CASE("npy: dtypes, shapes and values are checked in kerec's words, before any allocation") {
    const std::string payload = raw<float>({1, 2, 3, 4});
    // A dtype xtensor would call an "invalid typestring" is named by kerec.
    for (const char* d : {"|u1", "<i4", "<f8", "<f2", "|b1", "<U3"}) {
        const std::string e = npy_error(make_npy(dict(d, "(2, 2)"), payload));
        CAPTURE(d);
        CHECK(e.find(std::string("npy dtype '") + d + "'") != std::string::npos);
        CHECK(e.find("is not 32-bit floats") != std::string::npos);
        CHECK(e.find("typestring") == std::string::npos);
    }
    CHECK(npy_error(make_npy(dict("|u1", "(2, 2)"), payload)).find("8-bit unsigned integers") != std::string::npos);
    CHECK(npy_error(make_npy(dict("|f4", "(2, 2)"), payload)).find("byte order '|' (not applicable)") != std::string::npos);
    CHECK(npy_error(make_npy(dict("f4", "(2, 2)"), payload)).find("not a simple numpy type") != std::string::npos);
    CHECK(npy_error(make_npy(dict("<f4x", "(2, 2)"), payload)).find("not a simple numpy type") != std::string::npos);
    // Shapes: a dimension beyond 32 bits, an element count that overflows, one the file cannot hold.
    CHECK(npy_error(make_npy(dict("<f4", "(1099511627776, 0)"), "")).find("exceeds 4294967295") != std::string::npos);
    CHECK(npy_error(make_npy(dict("<f4", "(4294967295, 4294967295)"), payload)).find("too large") != std::string::npos);
    CHECK(npy_error(make_npy(dict("<f4", "(2147483648, 2147483648)"), payload)).find("too large") != std::string::npos);
    // 2^60 elements: 4 EiB, never allocated: the file holds 16 bytes.
    CHECK(npy_error(make_npy(dict("<f4", "(1073741824, 1073741824)"), payload)).find("file truncated") != std::string::npos);
    CHECK(npy_error(make_npy(dict("<f4", "(2,)"), payload)).find("rank 1") != std::string::npos);
    // Values: NaN and Inf pass unless the caller asks for finite values, then the first is named.
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    const std::string bad = make_npy(dict("<f4", "(2, 3)"), raw<float>({1, 2, 3, 4, 5, nan}));
    CHECK(std::isnan(npy_from_buffer<float>(bad, "mem")(1, 2)));
    CHECK(npy_error(bad, {.finite = true}).find("npy element (1, 2) is nan (finite values required)") != std::string::npos);
    const std::string bad_f = make_npy(dict("<f4", "(2, 3)", true), raw<float>({1, 4, inf, 5, 3, 6}));
    CHECK(npy_error(bad_f, {.finite = true}).find("npy element (0, 1) is inf") != std::string::npos);
    test::TempDir dir("npy_finite");
    write_file_atomic(dir / "bad.npy", bad);
    CHECK_THROWS_WITH_AS(load_npy<float>(dir / "bad.npy", {.finite = true}), doctest::Contains("bad.npy: npy element (1, 2)"),
                         ParseError);
    CHECK_NOTHROW(load_npy<float>(dir / "bad.npy"));
    // A header length beyond what kerec reads, and beyond the file.
    std::string long_header = make_npy(dict("<f4", "(2, 2)"), payload, 2);
    long_header[10] = 0x20;  // 2 MiB
    write_file_atomic(dir / "long.npy", long_header);
    CHECK_THROWS_WITH_AS(load_npy<float>(dir / "long.npy"), doctest::Contains("at most 1 MiB"), ParseError);
    CHECK(npy_error(long_header).find("truncated") != std::string::npos);
}

#include <kerec/core/csv.hpp>

TEST_CASE("csv: quoted fields, doubled quotes, embedded newlines, CRLF, backslashes") {
    auto r = CsvReader::from_string(
        "id,name,aisle\r\n1,Chocolate Sandwich Cookies,61\r\n2,\"Salt, Sea\",104\n3,\"He said \"\"hi\"\"\",5\n"
        "4,\"multi\nline\",7\n5,\"Back\\\"\"slash\",9\n6,,\n7,+Plus,1");
    std::vector<std::string> f;
    std::vector<std::vector<std::string>> rows;
    std::vector<std::uint64_t> lines;
    while (r.next(f)) {
        rows.push_back(f);
        lines.push_back(r.line());
    }
    REQUIRE(rows.size() == 8);
    CHECK(rows[0] == std::vector<std::string>{"id", "name", "aisle"});
    CHECK(rows[1][1] == "Chocolate Sandwich Cookies");
    CHECK(rows[1][2] == "61");
    CHECK(rows[2][1] == "Salt, Sea");
    CHECK(rows[3][1] == "He said \"hi\"");
    CHECK(rows[4][1] == "multi\nline");
    CHECK(rows[5][1] == "Back\\\"slash");
    CHECK(rows[6] == std::vector<std::string>{"6", "", ""});
    CHECK(rows[7][1] == "+Plus");
    CHECK(lines[5] == 7);  // the multi-line record moved the line count
}

TEST_CASE("csv: malformed input is a ParseError with the line") {
    std::vector<std::string> f;
    auto unterminated = CsvReader::from_string("a,b\n1,\"open\n", "u.csv");
    CHECK(unterminated.next(f));
    try {
        unterminated.next(f);
        FAIL("expected ParseError");
    } catch (const ParseError& e) {
        CHECK(e.line() == 2);
        CHECK(std::string(e.what()).find("unterminated") != std::string::npos);
    }
    auto junk = CsvReader::from_string("\"x\"y,1\n", "j.csv");
    CHECK_THROWS_WITH_AS(junk.next(f), doctest::Contains("j.csv:1:4: 'y' after the closing quote of field 1"), ParseError);
    auto junk2 = CsvReader::from_string("a,\"b\"\x01\n", "k.csv");
    CHECK_THROWS_WITH_AS(junk2.next(f), doctest::Contains("k.csv:1:6: '\\x01' after the closing quote of field 2"), ParseError);
    auto empty = CsvReader::from_string("");
    CHECK_FALSE(empty.next(f));
    CHECK_THROWS_AS(CsvReader("/nonexistent/file.csv"), IoError);
    CHECK_THROWS_AS(CsvReader::from_string("a", "s.csv", CsvOptions{.separator = '"'}), InvalidArgument);
}

TEST_CASE("csv: CR, CRLF and LF all end a record; blank lines are skipped") {
    std::vector<std::string> f;
    auto all = [&](CsvReader r) {
        std::vector<std::pair<std::uint64_t, std::vector<std::string>>> out;
        while (r.next(f)) out.emplace_back(r.line(), f);
        return out;
    };
    using Rows = std::vector<std::pair<std::uint64_t, std::vector<std::string>>>;
    CHECK(all(CsvReader::from_string("a,b\rc,d\r")) == Rows{{1, {"a", "b"}}, {2, {"c", "d"}}});  // old Mac files
    CHECK(all(CsvReader::from_string("a\r\nb\nc\rd")) == Rows{{1, {"a"}}, {2, {"b"}}, {3, {"c"}}, {4, {"d"}}});
    // A closing quote then CR: the record ends there, the next one starts (not three fields).
    CHECK(all(CsvReader::from_string("\"ab\"\rx,c")) == Rows{{1, {"ab"}}, {2, {"x", "c"}}});
    // Line ends inside quotes are content and are counted.
    CHECK(all(CsvReader::from_string("\"a\rb\",c\r\n\"d\r\ne\nf\",g\nh,i")) ==
          Rows{{1, {"a\rb", "c"}}, {3, {"d\r\ne\nf", "g"}}, {6, {"h", "i"}}});
    CHECK(all(CsvReader::from_string("a,b\n\n\r\n\rc,d\n\n")) == Rows{{1, {"a", "b"}}, {5, {"c", "d"}}});
    CHECK(all(CsvReader::from_string("a,\nb,,\n,")) == Rows{{1, {"a", ""}}, {2, {"b", "", ""}}, {3, {"", ""}}});
    CHECK(all(CsvReader::from_string("a\tb,c\n", "t.tsv", CsvOptions{.separator = '\t'})) == Rows{{1, {"a", "b,c"}}});
}

TEST_CASE("csv: an expected field count and typed fields name file:line:column and the field") {
    std::vector<std::string> f;
    auto few = CsvReader::from_string("a,b,c\n1,2\n", "few.csv", CsvOptions{.fields = 3});
    CHECK(few.next(f));
    CHECK_THROWS_WITH_AS(few.next(f), doctest::Contains("few.csv:2:4: record has 2 fields (expected 3)"), ParseError);
    auto many = CsvReader::from_string("a,b,c\n1,2,3,4,5\n", "many.csv", CsvOptions{.fields = 3});
    CHECK(many.next(f));
    CHECK_THROWS_WITH_AS(many.next(f), doctest::Contains("many.csv:2:7: record has more than 3 fields (field 4 starts here)"),
                         ParseError);
    auto one = CsvReader::from_string("\"multi\nline\",x\n", "one.csv", CsvOptions{.fields = 1});
    CHECK_THROWS_WITH_AS(one.next(f), doctest::Contains("one.csv:2:7: record has more than 1 field"), ParseError);

    auto r = CsvReader::from_string("id,name,aisle\n7,\"Salt,\nSea\",x12\n8,Kale,99999999999\n9,Tea,-1\n", "p.csv",
                                    CsvOptions{.fields = 3});
    REQUIRE(r.next(f));
    REQUIRE(r.next(f));
    CHECK(r.integer<std::uint32_t>(f, 0, "product_id") == 7u);
    CHECK_THROWS_WITH_AS(r.integer<std::uint32_t>(f, 2, "aisle_id"),
                         doctest::Contains("p.csv:3:6: field 3: aisle_id 'x12' (expected an integer in [0, 4294967295])"),
                         ParseError);
    CHECK_THROWS_WITH_AS(r.integer<std::uint32_t>(f, 5, "extra"), doctest::Contains("field 6 (of 3): extra is missing"),
                         ParseError);
    CHECK(std::string(r.error(1, "bad name").what()) == "p.csv:2:3: field 2: bad name");
    REQUIRE(r.next(f));
    CHECK_THROWS_WITH_AS(r.integer<std::uint32_t>(f, 2, "aisle_id"), doctest::Contains("p.csv:4:8: field 3: aisle_id '99999999999'"),
                         ParseError);
    CHECK(r.integer<std::uint64_t>(f, 2, "big") == 99999999999u);
    REQUIRE(r.next(f));
    CHECK_THROWS_AS(r.integer<std::uint32_t>(f, 2, "aisle_id"), ParseError);
    CHECK(r.integer<int>(f, 2, "delta") == -1);
    CHECK_FALSE(r.next(f));
}

TEST_CASE("utf8: ill-formed sequences found and replaced by maximal subpart (Unicode Table 3-8)") {
    CHECK(invalid_utf8("plain ascii, café, 咖啡, 🍵") == 0);
    // The Unicode Standard's example: <61 F1 80 80 E1 80 C2 62 80 63 80 BF 64>.
    std::string t = "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64";
    CHECK(invalid_utf8(t) == 6);
    CHECK(repair_utf8(t) == 6);
    const std::string r = "\xEF\xBF\xBD";
    CHECK(t == "a" + r + r + r + "b" + r + "c" + r + r + "d");
    std::string overlong = "\xC0\xAF", surrogate = "\xED\xA0\x80", truncated = "ok\xE2\x82", high = "\xF4\x90\x80\x80";
    CHECK(repair_utf8(overlong) == 2);
    CHECK(repair_utf8(surrogate) == 3);
    CHECK(repair_utf8(truncated) == 1);
    CHECK(truncated == "ok" + r);
    CHECK(repair_utf8(high) == 4);
    std::string fine = "café";
    CHECK(repair_utf8(fine) == 0);
    CHECK(fine == "café");
    CHECK(detail::excerpt(std::string(1000, 'x')) == std::string(80, 'x') + "…");
    CHECK(detail::excerpt("a\tb\xff") == "a\\x09b\\xff");
}

TEST_CASE("line reader: from memory, same rules as from a file") {
    LineReader r = LineReader::from_string("one\r\ntwo\n\nlast", "mem");
    std::string_view line;
    std::vector<std::string> got;
    while (r.next(line)) got.emplace_back(line);
    CHECK(got == std::vector<std::string>{"one", "two", "", "last"});
    CHECK(std::string(r.error(2, "x").what()) == "mem:4:2: x");
    LineReader none = LineReader::from_string("");
    CHECK_FALSE(none.next(line));
}

TEST_CASE("csv: the real Instacart catalogue parses (when the data is present)") {
    const auto dir = test::data_dir("instacart");
    if (dir.empty()) {
        MESSAGE("instacart data not present: skipped");
        return;
    }
    CsvReader r(dir / "products.csv");
    std::vector<std::string> f;
    REQUIRE(r.next(f));
    CHECK(f == std::vector<std::string>{"product_id", "product_name", "aisle_id", "department_id"});
    std::size_t n = 0;
    while (r.next(f)) {
        REQUIRE(f.size() == 4);
        ++n;
        CHECK(r.integer<std::size_t>(f, 0, "product_id") == n);
    }
    CHECK(n == 49688);
}

#include <kerec/core/huge_pages.hpp>

TEST_CASE("advise_huge_pages: a hint that never faults and leaves the memory as it was") {
    kerec::advise_huge_pages(nullptr, 0);
    kerec::advise_huge_pages(nullptr, std::size_t{64} << 20);  // null: ignored
    float small[16] = {};
    kerec::advise_huge_pages(small, sizeof small);  // under 4 MiB: ignored
    CHECK(small[0] == 0.0f);
    // 9 MiB at an unaligned start (the hint covers only the 2 MiB-aligned interior), hinted before
    // the first write, then written and read back whole; a second hint on written memory is harmless.
    std::vector<float> big((std::size_t{9} << 20) / sizeof(float) + 3);
    kerec::advise_huge_pages(big.data() + 1, (big.size() - 1) * sizeof(float));
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 1021);
    kerec::advise_huge_pages(big.data(), big.size() * sizeof(float));
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < big.size(); ++i) wrong += big[i] != static_cast<float>(i % 1021);
    CHECK(wrong == 0);
}
