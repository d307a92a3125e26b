#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <unordered_set>

#include <kerec/core/checksum.hpp>
#include <kerec/core/event.hpp>
#include <kerec/core/id.hpp>
#include <kerec/core/progress.hpp>
#include <kerec/core/random.hpp>
#include <kerec/core/vocabulary.hpp>
#include <kerec/core/stats.hpp>

#include "../test_util.hpp"

using namespace kerec;

TEST_CASE("ids: strong types, invalid value, ordering, hashing, formatting") {
    static_assert(sizeof(EntityId) == 4);
    static_assert(!std::is_convertible_v<ItemId, EntityId>);
    static_assert(!std::is_convertible_v<std::uint32_t, EntityId>);
    static_assert(!std::is_constructible_v<EntityId, ItemId>);
    EntityId none;
    CHECK_FALSE(none.valid());
    CHECK(none == EntityId::invalid());
    CHECK(EntityId{3} < EntityId{4});
    CHECK(EntityId{3} != EntityId{4});
    std::unordered_set<EntityId> set{EntityId{1}, EntityId{2}, EntityId{1}};
    CHECK(set.size() == 2);
    CHECK(fmt::format("{}", ItemId{42}) == "42");
    CHECK(fmt::format("{}", ItemId{}) == "invalid");
}

TEST_CASE("vocabulary: interning, stable ids, heterogeneous find") {
    Vocabulary<EntityId> v;
    CHECK(v.empty());
    const auto a = v.add("salsa");
    const auto b = v.add(std::string("tortilla chips"));
    CHECK(v.add(std::string_view("salsa")) == a);
    CHECK(a == EntityId{0});
    CHECK(b == EntityId{1});
    CHECK(v.size() == 2);
    CHECK(v.find("tortilla chips") == b);
    CHECK_FALSE(v.find("guacamole").has_value());
    CHECK(v.name(b) == "tortilla chips");
    // the names survive growth (views into a deque)
    for (int i = 0; i < 10000; ++i) v.add("n" + std::to_string(i));
    CHECK(v.name(a) == "salsa");
    CHECK(v.find("n9999") == EntityId{10001});
    CHECK_THROWS_AS(v.name(EntityId{}), InvalidArgument);
    CHECK_THROWS_AS(v.name(EntityId{999999}), InvalidArgument);
    Vocabulary<EntityId> copy = v;
    CHECK(copy.find("n5") == v.find("n5"));
}

TEST_CASE("vocabulary: save/load round trip with tabs, newlines, backslashes and UTF-8") {
    test::TempDir dir("vocab");
    Vocabulary<ItemId> v;
    v.add("plain");
    v.add("with\ttab");
    v.add("multi\nline\r\n");
    v.add("back\\slash\\t");
    v.add("café 咖啡");
    v.add("");
    v.save(dir / "v.txt");
    const auto w = Vocabulary<ItemId>::load(dir / "v.txt");
    REQUIRE(w.size() == v.size());
    for (std::uint32_t i = 0; i < v.size(); ++i) CHECK(w.name(ItemId{i}) == v.name(ItemId{i}));
}

TEST_CASE("vocabulary: bad files give clear errors") {
    test::TempDir dir("vocab_bad");
    CHECK_THROWS_AS(Vocabulary<EntityId>::load(dir / "missing.txt"), IoError);
    CHECK_THROWS_AS(Vocabulary<EntityId>::load(dir.path()), IoError);
    write_file_atomic(dir / "dup.txt", "a\nb\na\n");
    try {
        (void)Vocabulary<EntityId>::load(dir / "dup.txt");
        FAIL("expected ParseError");
    } catch (const ParseError& e) {
        CHECK(e.line() == 3);
        CHECK(std::string(e.what()).find("duplicate") != std::string::npos);
    }
    write_file_atomic(dir / "esc.txt", "ok\nbad\\q\n");
    try {
        (void)Vocabulary<EntityId>::load(dir / "esc.txt");
        FAIL("expected ParseError");
    } catch (const ParseError& e) {
        CHECK(e.line() == 2);
        CHECK(e.column() == 4);
    }
    write_file_atomic(dir / "empty.txt", "");
    CHECK(Vocabulary<EntityId>::load(dir / "empty.txt").empty());
}

TEST_CASE("rng: the published xoshiro256** and SplitMix64 reference outputs") {
    // xoshiro256** from the state {1, 2, 3, 4} (the authors' xoshiro256starstar.c), derived by
    // hand from the algorithm: rotl(s1 * 5, 7) * 9, then the xor/shift/rotate state update.
    Rng x = Rng::from_state({1, 2, 3, 4});
    CHECK(x.next() == 11520u);
    CHECK(x.next() == 0u);
    CHECK(x.next() == 1509978240u);
    CHECK(x.next() == 1215971899390074240u);
    // SplitMix64 from 0 (the authors' splitmix64.c), which seeds Rng: Rng(0) starts from these.
    std::uint64_t sm = 0;
    CHECK(splitmix64(sm) == 0xE220A8397B1DCDAFull);
    CHECK(splitmix64(sm) == 0x6E789E6AA1B965F4ull);
    CHECK(splitmix64(sm) == 0x06C45D188009454Full);
    Rng z(0);
    CHECK(z.next() == 0x99EC5F36CB75F2B4ull);
    CHECK(z.next() == 0xBF6E1F784956452Aull);
    // Lemire's bounded draws from {1, 2, 3, 4}, computed outside kerec from the same description.
    Rng l = Rng::from_state({1, 2, 3, 4});
    std::vector<std::uint64_t> draws;
    for (int i = 0; i < 8; ++i) draws.push_back(l.uniform_int(std::uint64_t{1000}));
    CHECK(draws == std::vector<std::uint64_t>{0, 0, 65, 65, 32, 876, 459, 574});
    CHECK_THROWS_AS(Rng::from_state({0, 0, 0, 0}), InvalidArgument);
    Rng a(123), b(123), c(124);
    const auto first = a.next();
    CHECK(first == b.next());
    CHECK(first != c.next());
}

TEST_CASE("rng: uniform_int over wide and empty ranges") {
    constexpr auto lo = std::numeric_limits<std::int64_t>::min(), hi = std::numeric_limits<std::int64_t>::max();
    Rng r(5);
    int negative = 0;
    for (int i = 0; i < 4000; ++i) negative += r.uniform_int(lo, hi) < 0;  // the full range
    CHECK(std::abs(negative - 2000) < 200);
    for (int i = 0; i < 1000; ++i) {
        const auto v = r.uniform_int(-1, hi);  // a span of 2^63 + 1: overflowed in signed arithmetic before
        REQUIRE(v >= -1);
        const auto w = r.uniform_int(lo, 0);
        REQUIRE(w <= 0);
        const auto u = r.uniform_int(lo + 1, lo + 3);
        REQUIRE(u >= lo + 1);
        REQUIRE(u <= lo + 3);
    }
    CHECK(r.uniform_int(lo, lo) == lo);
    CHECK(r.uniform_int(hi, hi) == hi);
    CHECK(r.uniform_int(7, 7) == 7);
    CHECK_THROWS_AS(r.uniform_int(5, 4), InvalidArgument);
    CHECK_THROWS_AS(r.uniform_int(std::uint64_t{0}), InvalidArgument);
    CHECK(r.uniform_int(std::uint64_t{1}) == 0u);
    AliasSampler empty;
    CHECK(empty.empty());
    CHECK_THROWS_AS(empty(r), InvalidArgument);
}

TEST_CASE("rng: uniform_int is in range and unbiased, uniform in [0,1)") {
    Rng r(7);
    std::vector<int> counts(6, 0);
    const int n = 60000;
    for (int i = 0; i < n; ++i) {
        const auto v = r.uniform_int(6);
        REQUIRE(v < 6);
        ++counts[v];
    }
    for (int c : counts) CHECK(std::abs(c - n / 6) < 400);  // ~4.5 sigma
    for (int i = 0; i < 10000; ++i) {
        const double u = r.uniform();
        REQUIRE(u >= 0.0);
        REQUIRE(u < 1.0);
    }
    for (int i = 0; i < 1000; ++i) {
        const auto v = r.uniform_int(-3, 3);
        REQUIRE(v >= -3);
        REQUIRE(v <= 3);
    }
    double sum = 0, sq = 0;
    for (int i = 0; i < 20000; ++i) {
        const double x = r.normal();
        sum += x;
        sq += x * x;
    }
    CHECK(std::abs(sum / 20000) < 0.05);
    CHECK(std::abs(sq / 20000 - 1.0) < 0.05);
    std::vector<int> p{0, 1, 2, 3, 4, 5, 6, 7};
    r.shuffle(p);
    CHECK(std::set<int>(p.begin(), p.end()).size() == 8);
}

TEST_CASE("alias sampler: matches the weights, rejects bad input") {
    const std::vector<double> w{1.0, 0.0, 3.0, 6.0};
    AliasSampler s(w);
    Rng r(11);
    std::vector<int> counts(4, 0);
    const int n = 100000;
    for (int i = 0; i < n; ++i) ++counts[s(r)];
    CHECK(counts[1] == 0);
    CHECK(std::abs(counts[0] / double(n) - 0.1) < 0.01);
    CHECK(std::abs(counts[2] / double(n) - 0.3) < 0.01);
    CHECK(std::abs(counts[3] / double(n) - 0.6) < 0.01);
    CHECK_THROWS_AS(AliasSampler(std::vector<double>{}), InvalidArgument);
    CHECK_THROWS_AS(AliasSampler(std::vector<double>{0.0, 0.0}), InvalidArgument);
    CHECK_THROWS_AS(AliasSampler(std::vector<double>{1.0, -1.0}), InvalidArgument);
    CHECK_THROWS_AS(AliasSampler(std::vector<double>{1.0, std::nan("")}), InvalidArgument);
    CHECK_THROWS_AS(AliasSampler(std::vector<double>{1.0, std::numeric_limits<double>::infinity()}), InvalidArgument);
}

TEST_CASE("crc32c: reference values") {
    CHECK(crc32c("123456789") == 0xE3069283u);
    CHECK(crc32c("") == 0u);
    const std::string long_text(1000, 'x');
    // incremental == one shot
    CHECK(crc32c(long_text.substr(500), crc32c(long_text.substr(0, 500))) == crc32c(long_text));
}

TEST_CASE("stats: spearman with ties, pearson, precision/recall") {
    const std::vector<double> x{1, 2, 3, 4, 5};
    const std::vector<double> y{5, 6, 7, 8, 7};
    CHECK(spearman(x, x) == doctest::Approx(1.0));
    const std::vector<double> rev{5, 4, 3, 2, 1};
    CHECK(spearman(x, rev) == doctest::Approx(-1.0));
    const auto r = rank_average(y);
    CHECK(r[2] == doctest::Approx(3.5));
    CHECK(r[4] == doctest::Approx(3.5));
    CHECK(spearman(x, y) == doctest::Approx(0.8207826816681233));
    const std::vector<double> constant{1, 1, 1, 1, 1};
    CHECK(pearson(x, constant) == 0.0);
    CHECK_THROWS_AS(spearman(x, std::vector<double>{1, 2}), InvalidArgument);
    CHECK_THROWS_AS(spearman(x, std::vector<double>{1, 2, std::nan(""), 4, 5}), InvalidArgument);
    PrecisionRecall pr{8, 2, 8};
    CHECK(pr.precision() == doctest::Approx(0.8));
    CHECK(pr.recall() == doctest::Approx(0.5));
    CHECK(pr.f1() == doctest::Approx(2 * 0.8 * 0.5 / 1.3));
    CHECK(PrecisionRecall{}.f1() == 0.0);
}

namespace {
std::string contents(std::FILE* f) {
    std::fflush(f);
    std::string out;
    std::rewind(f);
    char buf[256];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    return out;
}
}  // namespace

TEST_CASE("progress: throttle reports start and end") {
    std::vector<Progress> seen;
    std::vector<std::string> stages;
    {
        ProgressThrottle t([&](const Progress& p) { seen.push_back(p); stages.emplace_back(p.stage); }, "stage", 1000,
                           std::chrono::milliseconds(1000000));
        for (std::uint64_t i = 1; i <= 1000; ++i) t.update(i);
    }
    REQUIRE(seen.size() == 2);  // start + done == total
    CHECK(seen.front().done == 0);
    CHECK(seen.back().done == 1000);
    CHECK(stages.back() == "stage");
    ProgressThrottle none({}, "nothing", 10);  // an empty callback is allowed and silent
    none.update(10);
    none.finish(10);
}

TEST_CASE("progress: the terminal bar prints nothing when its file is not a terminal, and draws when forced") {
    std::FILE* quiet = std::tmpfile();
    REQUIRE(quiet);
    {
        TerminalProgressBar bar(false, quiet);  // a regular file is not a TTY
        CHECK_FALSE(bar.enabled());
        bar(Progress{"judging pairs", 1, 2, 1.0});
        bar.callback()(Progress{"judging pairs", 2, 2, 1.0});
        bar.close();
    }
    CHECK(contents(quiet).empty());
    std::fclose(quiet);

    std::FILE* out = std::tmpfile();
    REQUIRE(out);
    {
        TerminalProgressBar bar(true, out);
        CHECK(bar.enabled());
        bar(Progress{"judging pairs", 5, 10, 2.0});
        bar(Progress{"building graph", 3, 0, 1.0});  // a new stage ends the old line; no total
    }  // the destructor ends the line
    const std::string text = contents(out);
    std::fclose(out);
    CHECK(text.find("\rjudging pairs") != std::string::npos);
    CHECK(text.find(" 50.0% 5/10") != std::string::npos);
    CHECK(text.find("[###############...............]") != std::string::npos);
    CHECK(text.find("\n\rbuilding graph") != std::string::npos);
    CHECK(text.back() == '\n');
    CHECK(std::count(text.begin(), text.end(), '\n') == 2);
}

TEST_CASE("event: plain struct, kinds print") {
    Event e{UserId{1}, ItemId{2}, 10, EventKind::click, 3, ItemId{}};
    CHECK(to_string(e.kind) == "click");
    CHECK_FALSE(e.trigger.valid());
    static_assert(std::is_trivially_copyable_v<Event>);
}
