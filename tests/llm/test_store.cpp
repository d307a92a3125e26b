#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <kerec/core/io.hpp>
#include <kerec/core/random.hpp>
#include <kerec/core/record_log.hpp>
#include <kerec/llm/judgment_store.hpp>
#include <kerec/llm/replay_judge.hpp>
#include <kerec/llm/simulated_judge.hpp>

#include "../test_util.hpp"

using namespace kerec;

namespace {
std::vector<std::string> read_all(const std::filesystem::path& p, RecordLogRecovery* rec = nullptr) {
    std::vector<std::string> out;
    auto r = RecordLog::scan(p, [&](std::string_view s, std::uint64_t) { out.emplace_back(s); });
    if (rec) *rec = r;
    return out;
}
void append_raw(const std::filesystem::path& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::app);
    f << bytes;
}
std::string record(int i) { return "record " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 7), 'x'); }
}  // namespace

TEST_CASE("record log: round trip, torn tail at every byte, corruption, foreign files") {
    test::TempDir dir("rlog");
    const auto p = dir / "log";
    {
        RecordLog log(p);
        CHECK(log.recovery().clean());
        for (int i = 0; i < 20; ++i) log.append(record(i));
        log.append("");  // empty records are records
        CHECK(log.records() == 21);
    }
    RecordLogRecovery rec;
    auto all = read_all(p, &rec);
    REQUIRE(all.size() == 21);
    CHECK(rec.clean());
    for (int i = 0; i < 20; ++i) CHECK(all[static_cast<std::size_t>(i)] == record(i));
    const std::string full = read_file(p);
    // Cut the file anywhere inside the last two records: the intact prefix survives, the rest is reported.
    const std::size_t last2 = full.size() - (RecordLog::frame_bytes + 0) - (RecordLog::frame_bytes + record(19).size());
    for (std::size_t cut = last2; cut < full.size(); ++cut) {
        write_file_atomic(p, full.substr(0, cut));
        auto got = read_all(p, &rec);
        const std::size_t expect = cut < last2 + RecordLog::frame_bytes + record(19).size() ? 19 : 20;
        CHECK(got.size() == expect);
        CHECK(rec.valid_bytes <= cut);
        CHECK(rec.skipped_bytes == cut - rec.valid_bytes);
        CHECK((cut == last2 || cut == last2 + RecordLog::frame_bytes + record(19).size()) == rec.clean());
    }
    // Reopen for append after a torn tail: truncated, reported, new records follow the prefix.
    write_file_atomic(p, full.substr(0, full.size() - 3));
    {
        RecordLog log(p);
        CHECK_FALSE(log.recovery().clean());
        CHECK(log.recovery().problem.find("torn") != std::string::npos);
        CHECK(log.records() == 20);
        log.append("after");
    }
    all = read_all(p, &rec);
    CHECK(rec.clean());
    REQUIRE(all.size() == 21);
    CHECK(all.back() == "after");
    // A flipped bit in the middle: everything from that record on is skipped and reported.
    std::string bad = read_file(p);
    bad[RecordLog::header_bytes + 60] ^= 0x10;
    write_file_atomic(p, bad);
    all = read_all(p, &rec);
    CHECK(all.size() < 21);
    CHECK(rec.problem.find("checksum") != std::string::npos);
    // A huge length field is corruption, not an allocation.
    write_file_atomic(p, full.substr(0, RecordLog::header_bytes) + std::string("\xff\xff\xff\x7f\0\0\0\0", 8));
    all = read_all(p, &rec);
    CHECK(all.empty());
    CHECK(rec.problem.find("claims") != std::string::npos);
    // Not a record log: never clobbered.
    write_file_atomic(p, "this is somebody's text file, not a log\n");
    CHECK_THROWS_AS(RecordLog{p}, ParseError);
    CHECK(read_file(p) == "this is somebody's text file, not a log\n");
    CHECK_THROWS_AS(read_all(dir / "missing"), IoError);
    // A torn header (crash while creating) starts over.
    write_file_atomic(p, full.substr(0, 5));
    {
        RecordLog log(p);
        CHECK(log.records() == 0);
        CHECK(log.recovery().problem == "torn file header");
    }
    {
        RecordLog writer(p);
        CHECK_THROWS_AS(RecordLog{p}, IoError);  // a second appender is refused
        CHECK_NOTHROW(read_all(p));              // readers are not
    }
    CHECK_NOTHROW(RecordLog{p});  // released on close
    RecordLogOptions o;
    o.fsync = FsyncPolicy::every_record;
    o.max_record_bytes = 10;
    RecordLog small(dir / "small", {}, o);
    small.append("0123456789");
    CHECK_THROWS_AS(small.append("0123456789x"), InvalidArgument);
    small.close();
    CHECK_THROWS_AS(small.append("x"), InvalidArgument);
}

namespace {
// Wait (up to 20 s) until `path` holds more than `bytes` bytes: a kill that lands before the child
// wrote anything would test nothing, and a fixed sleep is too short on a loaded machine.
void wait_for_bytes(const std::filesystem::path& path, std::uintmax_t bytes) {
    for (int i = 0; i < 4000; ++i) {
        std::error_code ec;
        if (std::filesystem::file_size(path, ec) > bytes && !ec) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}
}  // namespace

TEST_CASE("record log: a process killed while appending leaves an intact prefix") {
    test::TempDir dir("rkill");
    const auto p = dir / "log";
    for (int round = 0; round < 3; ++round) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            RecordLogOptions o;
            o.fsync = FsyncPolicy::never;
            RecordLog log(p, {}, o);
            const std::string big(3000, 'k');
            for (int i = 0;; ++i) log.append(std::to_string(log.records()) + ":" + big.substr(0, static_cast<std::size_t>(i % 3000)));
        }
        wait_for_bytes(p, 64 * 1024);
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        RecordLogRecovery rec;
        const auto all = read_all(p, &rec);
        CHECK(all.size() > 0);
        for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].substr(0, all[i].find(':')) == std::to_string(i));
    }
}

namespace {
Judgment make(std::uint32_t a, std::uint32_t b, Label l, float c, const std::string& model = "m1") {
    Judgment j;
    j.a = EntityId{a};
    j.b = EntityId{b};
    j.label = l;
    j.confidence = c;
    j.model = model;
    j.prompt_version = "v1";
    j.rationale = "tab\there\nnewline";
    j.time = 1700000000;
    return j;
}
}  // namespace

TEST_CASE("judgment store: cache across reopen, validation, votes, consistency, export") {
    test::TempDir dir("store");
    const auto p = dir / "judgments.log";
    {
        JudgmentStore s(p);
        s.add(make(1, 2, Label::yes, 0.9f));
        s.add(make(2, 1, Label::no, 0.6f));
        s.add(make(1, 2, Label::no, 0.55f, "m2"));
        s.add(make(1, 2, Label::yes, 0.7f, "m3"));
        s.add(make(3, 4, Label::no, 0.9f, "m1"));
        s.add(make(3, 4, Label::yes, 0.95f, "m2"));
        s.add(make(4, 3, Label::no, 0.8f, "m1"));
        CHECK_THROWS_AS(s.add(make(1, 2, Label::yes, std::nanf(""))), InvalidArgument);
        CHECK_THROWS_AS(s.add(make(1, 2, Label::yes, 1.5f)), InvalidArgument);
        CHECK_THROWS_AS(s.add(make(1, 2, Label::yes, 0.5f, "")), InvalidArgument);
        Judgment bad = make(1, 2, Label::yes, 0.5f);
        bad.a = EntityId{};
        CHECK_THROWS_AS(s.add(bad), InvalidArgument);
        CHECK(s.size() == 7);
    }
    JudgmentStore s(p);
    CHECK(s.recovery().clean());
    REQUIRE(s.size() == 7);
    const Judgment* j = s.find({EntityId{1}, EntityId{2}}, "m1", "v1");
    REQUIRE(j);
    CHECK(j->label == Label::yes);
    CHECK(j->confidence == 0.9f);
    CHECK(j->rationale == "tab\there\nnewline");
    CHECK(j->time == 1700000000);
    CHECK_FALSE(s.contains({EntityId{1}, EntityId{2}}, "m1", "v2"));

    const auto maj = s.consensus(VoteRule::majority);
    REQUIRE(maj.size() == 4);  // ordered pairs: (1,2) (2,1) (3,4) (4,3)
    CHECK(maj[0].pair == EntityPair{EntityId{1}, EntityId{2}});
    CHECK(maj[0].label == Label::yes);  // 2 of 3
    CHECK(maj[0].votes == 3);
    CHECK(maj[0].p_yes == doctest::Approx(2.0 / 3.0));
    CHECK(maj[1].label == Label::no);
    CHECK(maj[2].pair == EntityPair{EntityId{3}, EntityId{4}});
    CHECK(maj[2].label == Label::unknown);  // 1 vs 1
    const auto w = s.consensus(VoteRule::confidence_weighted);
    CHECK(w[2].label == Label::yes);  // 0.95 vs 0.9
    CHECK(w[2].p_yes == doctest::Approx(0.95 / 1.85));
    const std::vector<std::string> only{"m2"};
    const auto m2 = s.consensus(VoteRule::majority, only);
    REQUIRE(m2.size() == 2);
    CHECK(m2[0].label == Label::no);

    const auto cons = s.consistency("m1", "v1");
    CHECK(cons.pairs_both_directions == 2);
    CHECK(cons.disagreements == 1);
    REQUIRE(cons.disagreeing.size() == 1);
    CHECK(cons.disagreeing[0] == EntityPair{EntityId{1}, EntityId{2}});

    // A later judgment for the same key supersedes the earlier one.
    s.add(make(1, 2, Label::no, 0.8f));
    CHECK(s.find({EntityId{1}, EntityId{2}}, "m1", "v1")->label == Label::no);
    CHECK(s.superseded() == 1);

    // Export -> ReplayJudge -> same answers.
    Vocabulary<EntityId> names;
    for (auto n : {"zero", "salsa", "tortilla chips", "tent", "sleeping bag"}) names.add(n);
    s.export_tsv(dir / "export.tsv", &names);
    CHECK_THROWS_AS(ReplayJudge::load(dir / "export.tsv"), ParseError);  // m1 and m2 disagree on a pair
    ReplayJudgeOptions ro;
    ro.source_model = "m1";
    auto replay = ReplayJudge::load(dir / "export.tsv", ro);
    CHECK(replay.size() == 4);  // m1's four ordered pairs
    const auto hit = replay.lookup("tent", "sleeping bag");
    REQUIRE(hit);
    CHECK(hit->first == Label::no);
    CHECK_FALSE(replay.lookup("sleeping bag", "salsa"));
    s.export_tsv(dir / "ids.tsv");
    ro.model = "x";
    auto by_id = ReplayJudge::load(dir / "ids.tsv", ro);
    std::vector<PairQuery> q{{EntityId{2}, EntityId{1}, "", ""}};
    CHECK(by_id.judge(q)[0].label == Label::no);
}

namespace {
std::vector<PairQuery> queries(std::uint32_t n) {
    std::vector<PairQuery> q;
    for (std::uint32_t a = 0; a < n; ++a)
        for (std::uint32_t b = 0; b < n; ++b)
            if (a != b) q.push_back({EntityId{a}, EntityId{b}, "e" + std::to_string(a), "e" + std::to_string(b)});
    return q;
}
float truth(EntityId a, EntityId b) { return (a.value() + 2 * b.value()) % 7 == 0 ? 0.8f : 0.0f; }
}  // namespace

TEST_CASE("judgment store: judging through the store skips cached pairs and survives a kill") {
    test::TempDir dir("sjudge");
    const auto p = dir / "judgments.log";
    const auto q = queries(30);  // 870 ordered pairs
    // A child judges slowly and is killed part way.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        SimulatedJudgeOptions o;
        o.latency = std::chrono::microseconds(200);
        SimulatedJudge judge(truth, o);
        JudgmentStore store(p);
        JudgeRunOptions ro;
        ro.batch_size = 16;
        store.judge(judge, q, ro);
        ::_exit(0);
    }
    wait_for_bytes(p, 2048);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    append_raw(p, std::string("\x40\0\0\0garbage", 11));  // and a torn record on top

    {
        JudgmentStore store(p);
        CHECK_FALSE(store.recovery().clean());
        const std::size_t before = store.size();
        CHECK(before > 0);
        CHECK(before < q.size());
        SimulatedJudge judge(truth);
        std::vector<Progress> seen;
        JudgeRunOptions ro;
        ro.progress = [&](const Progress& pr) { seen.push_back(pr); };
        std::vector<PairQuery> with_dups = q;
        with_dups.insert(with_dups.end(), q.begin(), q.begin() + 10);
        const auto rep = store.judge(judge, with_dups, ro);
        CHECK(rep.requested == q.size() + 10);
        CHECK(rep.duplicates == 10);
        CHECK(rep.cached == before);
        CHECK(rep.asked == q.size() - before);
        CHECK(judge.stats().queries == rep.asked);  // nothing asked twice
        CHECK(rep.lost == 0);
        CHECK(rep.duplicate_answers == 0);
        CHECK(rep.yes + rep.no + rep.unknown == rep.asked);
        CHECK(store.size() == q.size());
        CHECK(store.superseded() == 0);
        REQUIRE_FALSE(seen.empty());
        CHECK(seen.back().done == rep.asked);
    }
    // Reloaded, everything is cached.
    JudgmentStore again(p);
    CHECK(again.recovery().clean());
    SimulatedJudge judge2(truth);
    const auto rep2 = again.judge(judge2, q);
    CHECK(rep2.asked == 0);
    CHECK(rep2.cached == q.size());
    CHECK(judge2.stats().calls == 0);
    // Labels agree with what a fresh judge says (deterministic per seed).
    for (const auto& qq : q) {
        const Judgment* j = again.find(qq.pair(), "sim-judge", "kerec-complement-v1");
        REQUIRE(j);
        CHECK(j->label == judge2.judge(std::span<const PairQuery>(&qq, 1))[0].label);
    }
}

TEST_CASE("judgment store: unknown answers are stored, re-asked on request; bad judges are caught") {
    test::TempDir dir("sunk");
    JudgmentStore store(dir / "s.log");
    SimulatedJudgeOptions o;
    o.malformed_rate = 0.5;
    SimulatedJudge flaky(truth, o);
    const auto q = queries(12);
    const auto rep = store.judge(flaky, q);
    CHECK(rep.unknown > 0);
    CHECK(rep.unknown == flaky.stats().unknown);
    JudgeRunOptions ro;
    ro.reask_unknown = true;
    SimulatedJudgeOptions o2;
    o2.seed = 77;  // a different model draw... same model name and prompt
    SimulatedJudge better(truth, o2);
    const auto rep2 = store.judge(better, q, ro);
    CHECK(rep2.asked == rep.unknown);
    struct Liar {
        std::string model() const { return "liar"; }
        std::string prompt_version() const { return "v"; }
        std::vector<Judgment> judge(std::span<const PairQuery> qs) {
            std::vector<Judgment> out(qs.size());
            for (std::size_t i = 0; i < qs.size(); ++i) out[i].a = qs[i].b, out[i].b = qs[i].a;  // wrong pair
            return out;
        }
    } liar;
    CHECK_THROWS_AS(store.judge(liar, q), InvalidArgument);
    struct Silent {
        std::string model() const { return "silent"; }
        std::string prompt_version() const { return "v"; }
        std::vector<Judgment> judge(std::span<const PairQuery>) { return {}; }
    } silent;
    const auto rep3 = store.judge(silent, q);
    CHECK(rep3.lost == q.size());
    CHECK(rep3.stored == 0);
}

TEST_CASE("record log: random truncation and corruption always yield a prefix of what was written") {
    test::TempDir dir("rfuzz");
    const auto p = dir / "log";
    std::vector<std::string> written;
    {
        RecordLog log(p);
        Rng rng(1);
        for (int i = 0; i < 200; ++i) {
            std::string r(static_cast<std::size_t>(rng.uniform_int(std::uint64_t{300})), '\0');
            for (auto& c : r) c = static_cast<char>(rng.uniform_int(std::uint64_t{256}));
            log.append(r);
            written.push_back(r);
        }
    }
    const std::string full = read_file(p);
    Rng rng(2);
    for (int trial = 0; trial < 300; ++trial) {
        std::string bytes = full;
        if (trial % 2) bytes.resize(RecordLog::header_bytes + rng.uniform_int(bytes.size() - RecordLog::header_bytes));
        const int flips = static_cast<int>(rng.uniform_int(std::uint64_t{3}));
        for (int f = 0; f < flips && bytes.size() > RecordLog::header_bytes; ++f)
            bytes[RecordLog::header_bytes + rng.uniform_int(bytes.size() - RecordLog::header_bytes)] ^=
                static_cast<char>(1 + rng.uniform_int(std::uint64_t{255}));
        write_file_atomic(p, bytes);
        RecordLogRecovery rec;
        const auto got = read_all(p, &rec);
        REQUIRE(got.size() <= written.size());
        for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == written[i]);
        CHECK(rec.valid_bytes + rec.skipped_bytes == bytes.size());
        if (bytes == full) CHECK(got.size() == written.size());
    }
}

#include <kerec/pairs/segmented_generator.hpp>

TEST_CASE("judge_pairs: a lazy pair range through the store in one call, with progress") {
    test::TempDir dir("jpairs");
    Vocabulary<EntityId> names;
    for (int i = 0; i < 80; ++i) names.add("entity " + std::to_string(i));
    std::vector<double> pop(80);
    for (std::size_t i = 0; i < pop.size(); ++i) pop[i] = 1.0 / static_cast<double>(i + 1);
    const SegmentedPairGenerator gen{Popularity(pop)};
    JudgmentStore store(dir / "s.log");
    SimulatedJudge judge(truth);
    std::uint64_t last_done = 0, calls = 0;
    JudgeRunOptions ro;
    ro.progress = [&](const Progress& p) {
        CHECK(p.done >= last_done);
        last_done = p.done;
        ++calls;
    };
    const auto rep = judge_pairs(store, judge, gen.pairs(), names, ro, gen.count(), 100);
    CHECK(rep.requested == gen.count());
    CHECK(rep.asked == gen.count());
    CHECK(rep.lost == 0);
    CHECK(store.size() == gen.count());
    CHECK(last_done == gen.count());
    CHECK(calls >= 2);
    const auto again = judge_pairs(store, judge, gen.pairs(), names);
    CHECK(again.asked == 0);
    CHECK(again.cached == gen.count());
    std::vector<EntityPair> bad{{EntityId{1}, EntityId{500}}};
    CHECK_THROWS_AS(make_queries(bad, names), InvalidArgument);
}
