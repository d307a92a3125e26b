#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

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

    CHECK_THROWS_AS(load_npy<double>(dir / "m.npy"), ParseError);  // dtype

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
    CHECK_THROWS_AS(junk.next(f), ParseError);
    auto empty = CsvReader::from_string("");
    CHECK_FALSE(empty.next(f));
    CHECK_THROWS_AS(CsvReader("/nonexistent/file.csv"), IoError);
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
        CHECK(std::stoul(f[0]) == n);
    }
    CHECK(n == 49688);
}
