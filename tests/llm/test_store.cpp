#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <kerec/core/checksum.hpp>
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

TEST_CASE("record log: round trip, torn tail at every byte, damage, foreign files") {
    test::TempDir dir("rlog");
    const auto p = dir / "log";
    {
        RecordLog log(p);
        CHECK(log.recovery().clean());
        CHECK(log.file_version() == 2);
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
    // Cut the file anywhere inside the last two records: a torn tail, cut, never "damage".
    const std::size_t last2 = full.size() - (RecordLog::frame_bytes + 0) - (RecordLog::frame_bytes + record(19).size());
    for (std::size_t cut = last2; cut < full.size(); ++cut) {
        write_file_atomic(p, full.substr(0, cut));
        auto got = read_all(p, &rec);
        const std::size_t expect = cut < last2 + RecordLog::frame_bytes + record(19).size() ? 19 : 20;
        CHECK(got.size() == expect);
        CHECK(rec.valid_bytes <= cut);
        CHECK(rec.torn_bytes == cut - rec.valid_bytes);
        CHECK(rec.damaged.empty());
        CHECK(rec.skipped_bytes == rec.torn_bytes);
        CHECK((cut == last2 || cut == last2 + RecordLog::frame_bytes + record(19).size()) == rec.clean());
    }
    // Reopen for append after a torn tail: cut, reported, new records follow the intact prefix;
    // nothing is quarantined.
    write_file_atomic(p, full.substr(0, full.size() - 3));
    {
        RecordLog log(p);
        CHECK_FALSE(log.recovery().clean());
        CHECK(log.recovery().problem.find("torn") != std::string::npos);
        CHECK(log.recovery().quarantined_bytes == 0);
        CHECK(log.records() == 20);
        log.append("after");
    }
    CHECK_FALSE(std::filesystem::exists(RecordLog::quarantine_path(p)));
    all = read_all(p, &rec);
    CHECK(rec.clean());
    REQUIRE(all.size() == 21);
    CHECK(all.back() == "after");
    // A flipped bit in the middle: that record alone is lost, the scan resynchronises.
    std::string bad = read_file(p);
    bad[RecordLog::header_bytes + 60] ^= 0x10;
    write_file_atomic(p, bad);
    all = read_all(p, &rec);
    CHECK(all.size() == 20);
    REQUIRE(rec.damaged.size() == 1);
    CHECK(rec.damaged[0].offset < RecordLog::header_bytes + 60);
    CHECK(rec.damaged[0].offset + rec.damaged[0].bytes > RecordLog::header_bytes + 60);
    CHECK(rec.problem.find("checksum") != std::string::npos);
    CHECK(read_file(p) == bad);  // scanning never modifies
    // A huge length field behind an intact frame header is damage, not an allocation.
    {
        std::string frame;
        RecordLog::encode_frame("x", 2, frame);
        frame[4] = frame[5] = frame[6] = '\xff', frame[7] = '\x7f';
        const std::uint32_t hcrc = crc32c(frame.data(), 12);
        for (int k = 0; k < 4; ++k) frame[static_cast<std::size_t>(12 + k)] = static_cast<char>(hcrc >> (8 * k));
        write_file_atomic(p, full.substr(0, RecordLog::header_bytes) + frame);
    }
    all = read_all(p, &rec);
    CHECK(all.empty());
    CHECK(rec.problem.find("claims") != std::string::npos);
    CHECK(rec.damaged_bytes == RecordLog::frame_bytes + 1);
    // Not a record log: never clobbered.
    write_file_atomic(p, "this is somebody's text file, not a log\n");
    CHECK_THROWS_AS(RecordLog{p}, ParseError);
    CHECK(read_file(p) == "this is somebody's text file, not a log\n");
    CHECK_FALSE(std::filesystem::exists(RecordLog::quarantine_path(p)));
    CHECK_THROWS_AS(read_all(dir / "missing"), IoError);
    // A damaged file header with no intact frame behind it: a ParseError, the file untouched.
    std::string header_only = full.substr(0, RecordLog::header_bytes);
    header_only[9] ^= 1;
    write_file_atomic(p, header_only);
    CHECK_THROWS_AS(RecordLog{p}, ParseError);
    CHECK(read_file(p) == header_only);
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
// A log of `n` records in memory, with each record's frame offset.
std::string log_bytes(const std::vector<std::string>& payloads, std::vector<std::size_t>& starts, std::uint32_t version = 2) {
    std::string out = RecordLog::file_header(version), frame;
    starts.clear();
    for (const auto& p : payloads) {
        starts.push_back(out.size());
        RecordLog::encode_frame(p, version, frame);
        out += frame;
    }
    return out;
}
std::string judgment_payload(std::uint32_t i) {
    return JudgmentStore::encode(Judgment{.a = EntityId{i},
                                          .b = EntityId{i + 1},
                                          .label = i % 3 ? Label::yes : Label::no,
                                          .confidence = 0.75f,
                                          .rationale = {},
                                          .model = "m",
                                          .prompt_version = "v",
                                          .time = 17});
}
}  // namespace

TEST_CASE("record log: one flipped bit anywhere loses at most the record it hit (every bit of 200 records)") {
    std::vector<std::string> payloads;
    for (std::uint32_t i = 0; i < 200; ++i) payloads.push_back(judgment_payload(i));
    std::vector<std::size_t> starts;
    const std::string good = log_bytes(payloads, starts);
    starts.push_back(good.size());
    std::uint64_t positions = 0, lost_other = 0, wrong = 0;
    std::vector<std::uint32_t> seen;
    std::string bytes = good;
    for (std::size_t byte = 0; byte < good.size(); ++byte) {
        // The record whose frame holds this byte (none for the file header).
        const auto it = std::upper_bound(starts.begin(), starts.end(), byte);
        const std::size_t hit = byte < RecordLog::header_bytes ? payloads.size() : static_cast<std::size_t>(it - starts.begin()) - 1;
        for (int bit = 0; bit < 8; ++bit) {
            bytes[byte] = static_cast<char>(good[byte] ^ (1 << bit));
            seen.clear();
            const auto rec = RecordLog::scan_buffer(bytes, "flip", [&](std::string_view payload, std::uint64_t offset) {
                const auto k = static_cast<std::size_t>(std::lower_bound(starts.begin(), starts.end(), offset) - starts.begin());
                if (k >= payloads.size() || starts[k] != offset || payloads[k] != payload) ++wrong;
                else seen.push_back(static_cast<std::uint32_t>(k));
            });
            ++positions;
            const std::uint64_t expect = hit == payloads.size() ? payloads.size() : payloads.size() - 1;
            if (seen.size() < expect) lost_other += expect - seen.size();
            // One damaged range, exactly the frame that was hit (or the file header).
            const std::size_t from = hit == payloads.size() ? 0 : starts[hit];
            const std::size_t to = hit == payloads.size() ? RecordLog::header_bytes : starts[hit + 1];
            if (rec.damaged.size() != 1 || rec.damaged[0].offset != from || rec.damaged[0].bytes != to - from ||
                rec.torn_bytes != 0 || rec.records != seen.size())
                ++wrong;
        }
        bytes[byte] = good[byte];
    }
    CHECK(positions == 8 * good.size());
    CHECK(lost_other == 0);
    CHECK(wrong == 0);
}

TEST_CASE("record log: random damage keeps every untouched record, in order") {
    std::vector<std::string> written;
    Rng rng(1);
    for (int i = 0; i < 200; ++i) {
        std::string r(static_cast<std::size_t>(rng.uniform_int(std::uint64_t{300})), '\0');
        for (auto& c : r) c = static_cast<char>(rng.uniform_int(std::uint64_t{256}));  // binary payloads
        written.push_back(r);
    }
    std::vector<std::size_t> starts;
    const std::string full = log_bytes(written, starts);
    starts.push_back(full.size());
    Rng edit(2);
    for (int trial = 0; trial < 400; ++trial) {
        std::string bytes = full;
        if (trial % 2) bytes.resize(RecordLog::header_bytes + edit.uniform_int(bytes.size() - RecordLog::header_bytes));
        std::vector<char> touched(written.size(), 0);
        const int edits = static_cast<int>(edit.uniform_int(std::uint64_t{6}));
        for (int f = 0; f < edits && bytes.size() > RecordLog::header_bytes; ++f) {
            const std::size_t at = RecordLog::header_bytes + edit.uniform_int(bytes.size() - RecordLog::header_bytes);
            bytes[at] ^= static_cast<char>(1 + edit.uniform_int(std::uint64_t{255}));
            touched[static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), at) - starts.begin()) - 1] = 1;
        }
        std::vector<std::string> expect;
        for (std::size_t k = 0; k < written.size(); ++k)
            if (!touched[k] && starts[k + 1] <= bytes.size()) expect.push_back(written[k]);
        std::vector<std::string> got;
        const auto rec = RecordLog::scan_buffer(bytes, "trial", [&](std::string_view s, std::uint64_t) { got.emplace_back(s); });
        CHECK(got == expect);
        CHECK(rec.valid_bytes + rec.skipped_bytes == bytes.size());
        std::uint64_t sum = 0, last_end = 0;
        for (const auto& d : rec.damaged) {
            CHECK(d.offset >= last_end);
            CHECK(d.bytes > 0);
            last_end = d.offset + d.bytes;
            sum += d.bytes;
        }
        CHECK(sum == rec.damaged_bytes);
        CHECK(last_end + rec.torn_bytes <= bytes.size());
    }
}

namespace {
// A scratch directory on tmpfs when there is one (reopen loops fsync a lot), else under the build tree.
struct ScratchDir {
    std::filesystem::path path;
    std::unique_ptr<test::TempDir> fallback;
    explicit ScratchDir(const std::string& tag) {
        std::error_code ec;
        if (std::filesystem::is_directory("/dev/shm", ec)) {
            path = std::filesystem::path("/dev/shm") / ("kerec_" + tag + "_" + std::to_string(::getpid()));
            std::filesystem::remove_all(path, ec);
            if (std::filesystem::create_directories(path, ec) && !ec) return;
        }
        fallback = std::make_unique<test::TempDir>(tag);
        path = fallback->path();
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!fallback) std::filesystem::remove_all(path, ec);
    }
    std::filesystem::path operator/(const std::string& name) const { return path / name; }
};
}  // namespace

TEST_CASE("judgment store: a flipped bit is quarantined, every other judgment kept, the log repaired") {
    ScratchDir dir("sflip");
    const auto p = dir / "judgments.log";
    std::vector<Judgment> written;
    {
        JudgmentStore s(p);
        for (std::uint32_t i = 0; i < 200; ++i) {
            written.push_back(Judgment{.a = EntityId{i},
                                       .b = EntityId{i + 1},
                                       .label = i % 3 ? Label::yes : Label::no,
                                       .confidence = 0.5f + static_cast<float>(i % 50) / 100.0f,
                                       .rationale = "because " + std::to_string(i),
                                       .model = "m",
                                       .prompt_version = "v",
                                       .time = 1700000000 + i});
            s.add(written.back());
        }
    }
    const std::string good = read_file(p);
    std::vector<std::size_t> starts;
    RecordLog::scan_buffer(good, "good", [&](std::string_view, std::uint64_t o) { starts.push_back(o); });
    REQUIRE(starts.size() == 200);
    starts.push_back(good.size());
    const auto q = RecordLog::quarantine_path(p);
    // Bits in the file header, in record 0, in a middle record's frame header and payload, in the
    // last record, and a spread of others.
    std::vector<std::size_t> bits{3, 77, 8 * starts[0] + 1, 8 * starts[100] + 37, 8 * starts[100] + 8 * 20 + 5,
                                  8 * starts[199] + 2, 8 * good.size() - 1};
    for (std::size_t b = 11; b < 8 * good.size(); b += 1531) bits.push_back(b);
    for (const std::size_t bit : bits) {
        CAPTURE(bit);
        std::string bytes = good;
        bytes[bit / 8] ^= static_cast<char>(1 << (bit % 8));
        write_file_atomic(p, bytes);
        std::filesystem::remove(q);
        const std::size_t byte = bit / 8;
        const bool in_header = byte < RecordLog::header_bytes;
        const std::size_t hit = in_header ? 200 : static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), byte) - starts.begin()) - 1;
        const std::size_t from = in_header ? 0 : starts[hit], to = in_header ? RecordLog::header_bytes : starts[hit + 1];
        {
            JudgmentStore s(p);
            const auto& rec = s.recovery();
            CHECK(s.size() == (in_header ? 200u : 199u));
            CHECK(rec.records == s.size());
            REQUIRE(rec.damaged.size() == 1);
            CHECK(rec.damaged[0].offset == from);
            CHECK(rec.quarantined_bytes == to - from);
            CHECK(rec.torn_bytes == 0);
            CHECK(rec.quarantine == q);
            CHECK(rec.problem.find("quarantine") != std::string::npos);
            for (std::size_t k = 0; k < written.size(); ++k) {
                const Judgment* j = s.find(written[k].pair(), "m", "v");
                if (k == hit) {
                    CHECK(j == nullptr);
                    continue;
                }
                REQUIRE(j);
                CHECK(j->rationale == written[k].rationale);
                CHECK(j->confidence == written[k].confidence);
            }
            // The damaged bytes are in the quarantine log, as they were.
            const auto moved = RecordLog::read_quarantine(q);
            REQUIRE(moved.size() == 1);
            CHECK(moved[0].offset == from);
            CHECK(moved[0].log_bytes == bytes.size());
            CHECK(moved[0].bytes == bytes.substr(from, to - from));
            if (hit < 200) s.add(written[hit]);  // the store appends after the repaired log
        }
        JudgmentStore again(p);
        CHECK(again.recovery().clean());
        CHECK(again.size() == 200);
    }
}

TEST_CASE("record log: version-1 logs are read, resynchronised and appended to in their own format") {
    test::TempDir dir("rlog_v1");
    const auto p = dir / "old.log";
    std::vector<std::string> payloads;
    for (int i = 0; i < 30; ++i) payloads.push_back(record(i));
    std::vector<std::size_t> starts;
    std::string bytes = log_bytes(payloads, starts, 1);
    bytes[starts[10] + RecordLog::frame_bytes_v1 + 2] ^= 0x04;  // record 10's payload
    write_file_atomic(p, bytes);
    std::vector<std::string> got;
    {
        RecordLog log(p, [&](std::string_view s, std::uint64_t) { got.emplace_back(s); });
        CHECK(log.file_version() == 1);
        CHECK(got.size() == 29);
        CHECK(std::find(got.begin(), got.end(), record(10)) == got.end());
        CHECK(log.recovery().quarantined_bytes == RecordLog::frame_bytes_v1 + record(10).size());
        log.append("new");
    }
    const auto all = read_all(p);
    REQUIRE(all.size() == 30);
    CHECK(all.back() == "new");
    CHECK(read_file(p).substr(0, RecordLog::header_bytes) == RecordLog::file_header(1));
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

TEST_CASE("judgment store: all() is the history, latest() the current answer per pair") {
    test::TempDir dir("slatest");
    JudgmentStore s(dir / "s.log");
    s.add(make(5, 1, Label::yes, 0.9f));
    s.add(make(1, 2, Label::yes, 0.6f));
    s.add(make(1, 2, Label::no, 0.7f, "m2"));
    s.add(make(1, 2, Label::no, 0.8f));  // supersedes m1's first answer for (1, 2)
    Judgment other_prompt = make(3, 4, Label::yes, 0.9f);
    other_prompt.prompt_version = "v2";
    s.add(other_prompt);
    s.add(make(0, 9, Label::unknown, 0.0f));
    CHECK(s.all().size() == 6);
    CHECK(s.superseded() == 1);
    const auto m1 = s.latest("m1", "v1");
    REQUIRE(m1.size() == 3);
    CHECK(m1[0].pair() == EntityPair{EntityId{0}, EntityId{9}});  // sorted by pair
    CHECK(m1[1].pair() == EntityPair{EntityId{1}, EntityId{2}});
    CHECK(m1[1].label == Label::no);
    CHECK(m1[1].confidence == 0.8f);
    CHECK(m1[2].pair() == EntityPair{EntityId{5}, EntityId{1}});
    CHECK(s.latest("m1", "v2").size() == 1);
    CHECK(s.latest("m2", "v1").size() == 1);
    CHECK(s.latest("m3", "v1").empty());
    CHECK(s.latest("m1", "v1").size() == s.latest("m1", "v1").size());
}

TEST_CASE("judgment store: a bad judgment in an intact frame names the file and byte offset; UTF-8 is repaired") {
    test::TempDir dir("sbad");
    const auto p = dir / "j.log";
    auto store_with = [&](const std::vector<std::string>& payloads) {
        std::filesystem::remove(p);
        RecordLog log(p);
        for (const auto& x : payloads) log.append(x);
    };
    const std::string ok = JudgmentStore::encode(make(1, 2, Label::yes, 0.9f));
    store_with({ok, "1\t2\t1\tnan\t17\tm\tv\twhy"});
    try {
        JudgmentStore s(p);
        FAIL("expected ParseError");
    } catch (const ParseError& e) {
        const std::string what = e.what();
        CHECK_MESSAGE(what.find(p.string()) != std::string::npos, what);
        CHECK_MESSAGE(what.find(fmt::format("record at byte {}", RecordLog::header_bytes + RecordLog::frame_bytes + ok.size())) !=
                                    std::string::npos,
                      what);
        CHECK_MESSAGE(what.find("confidence nan") != std::string::npos, what);
    }
    store_with({"1\t2\t7\t0.5\t17\tm\tv\twhy"});
    CHECK_THROWS_WITH_AS(JudgmentStore{p}, doctest::Contains("label 7"), ParseError);
    store_with({"1\t2\t1\t0.5\t17\tm\tv"});
    CHECK_THROWS_WITH_AS(JudgmentStore{p}, doctest::Contains("7 fields (expected 8)"), ParseError);
    store_with({"1\t2\t1\t0.5\t17\tm\xff\tv\twhy"});
    CHECK_THROWS_WITH_AS(JudgmentStore{p}, doctest::Contains("not valid UTF-8"), ParseError);
    store_with({std::string("1\t2\t1\t0.5\t17\tm\tv\t") + std::string(100000, 'x') + "\\q"});
    try {
        JudgmentStore s(p);
        FAIL("expected ParseError");
    } catch (const ParseError& e) {
        CHECK(std::string(e.what()).size() < 300);  // no 100 kB field copied into the message
    }
    // Ill-formed UTF-8 in a stored rationale: repaired on load (U+FFFD per bad sequence), counted.
    store_with({"1\t2\t1\t0.5\t17\tm\tv\tok \xe2\x82 then \xff end"});
    {
        JudgmentStore s(p);
        CHECK(s.rationales_repaired() == 1);
        const Judgment* j = s.find({EntityId{1}, EntityId{2}}, "m", "v");
        REQUIRE(j);
        CHECK(j->rationale == "ok \xEF\xBF\xBD then \xEF\xBF\xBD end");
        // ... and when added: the stored bytes are valid UTF-8.
        Judgment bad = make(3, 4, Label::no, 0.6f);
        bad.rationale = "caf\xc3";
        s.add(bad);
        CHECK(s.rationales_repaired() == 2);
        CHECK(s.find({EntityId{3}, EntityId{4}}, "m1", "v1")->rationale == "caf\xEF\xBF\xBD");
        Judgment bad_model = make(3, 4, Label::no, 0.6f, "m\xc0\xaf");
        CHECK_THROWS_WITH_AS(s.add(bad_model), doctest::Contains("not valid UTF-8"), InvalidArgument);
    }
    JudgmentStore reopened(p);
    CHECK(reopened.find({EntityId{3}, EntityId{4}}, "m1", "v1")->rationale == "caf\xEF\xBF\xBD");
    CHECK(reopened.rationales_repaired() == 1);  // only the record written before repair existed
    // decode() is encode()'s inverse.
    const Judgment j = make(7, 8, Label::yes, 0.25f);
    const Judgment back = JudgmentStore::decode(JudgmentStore::encode(j), "x", 0);
    CHECK(back.pair() == j.pair());
    CHECK(back.rationale == j.rationale);
    CHECK(back.confidence == j.confidence);
    CHECK(back.time == j.time);
}

TEST_CASE("replay judge: parse from memory, names with NUL bytes, repaired rationales, capped errors") {
    const std::string header = "a\tb\tname_a\tname_b\tlabel\tconfidence\tmodel\tprompt_version\ttime\trationale\n";
    // Two pairs that a NUL-joined key would confuse: ("x\0y", "z") and ("x", "y\0z").
    std::string text = header + std::string("1\t2\tx\0y\tz\tyes\t0.9\tm\tv\t1\tr1\n", 27) +
                       std::string("3\t4\tx\ty\0z\tno\t0.8\tm\tv\t1\tbad \xff utf8\n", 34);
    const auto r = ReplayJudge::parse(text, "mem.tsv");
    CHECK(r.size() == 2);
    CHECK(r.rationales_repaired() == 1);
    REQUIRE(r.lookup(std::string("x\0y", 3), "z"));
    CHECK(r.lookup(std::string("x\0y", 3), "z")->first == Label::yes);
    CHECK(r.lookup("x", std::string("y\0z", 3))->first == Label::no);
    try {
        (void)ReplayJudge::parse(header + "1\t2\ta\tb\t" + std::string(5000, 'Y') + "\t0.9\tm\tv\t1\tr\n", "big.tsv");
        FAIL("expected ParseError");
    } catch (const ParseError& e) {
        CHECK(e.line() == 2);
        CHECK(std::string(e.what()).size() < 300);
    }
    CHECK_THROWS_WITH_AS(ReplayJudge::parse("", "empty.tsv"), doctest::Contains("empty.tsv:1"), ParseError);
    CHECK_THROWS_WITH_AS(ReplayJudge::parse("item_a\titem_b\tlabel\tconfidence\nx\ty\t1\tnan\n", "g.tsv"),
                         doctest::Contains("g.tsv:2"), ParseError);
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

TEST_CASE("judgment store: a streaming judge gets one call, every answer is on disk as it arrives") {
    test::TempDir dir("sstream");
    const auto p = dir / "s.log";
    const auto q = queries(12);  // 132 ordered pairs
    // A streaming judge without stats(): it records its calls and, before each answer, checks that
    // the previous one is already in the file (appended, not held for the batch's end).
    struct Watching {
        std::filesystem::path path;
        SimulatedJudge inner{truth};
        std::vector<std::size_t> call_sizes;
        std::size_t not_on_disk = 0;
        std::string model() const { return inner.model(); }
        std::string prompt_version() const { return inner.prompt_version(); }
        std::vector<Judgment> judge(std::span<const PairQuery> qs) { return inner.judge(qs); }
        void judge(std::span<const PairQuery> qs, const JudgmentSink& sink) {
            call_sizes.push_back(qs.size());
            std::uintmax_t last = std::filesystem::file_size(path);
            for (std::size_t i = 0; i < qs.size(); ++i) {
                const std::uintmax_t now = std::filesystem::file_size(path);
                if (i > 0 && now <= last) ++not_on_disk;
                last = now;
                const std::size_t k = qs.size() - 1 - i;  // answers out of order
                sink(k, std::move(inner.judge(qs.subspan(k, 1))[0]));
            }
        }
    };
    static_assert(StreamingJudge<Watching>);
    JudgmentStore store(p);
    // Half of the pairs are cached: only the rest is pending, all in one call despite batch_size 8.
    SimulatedJudge pre(truth);
    const std::vector<PairQuery> half(q.begin(), q.begin() + 66);
    const auto first = store.judge(pre, half);
    CHECK(first.asked == 66);
    CHECK(first.invocations == 1);
    CHECK(first.calls == pre.stats().calls);  // SimulatedJudge counts its model calls
    CHECK(first.calls >= first.asked);
    Watching w;
    w.path = p;
    JudgeRunOptions ro;
    ro.batch_size = 8;
    const auto rep = store.judge(w, q, ro);
    CHECK(w.call_sizes == std::vector<std::size_t>{66});
    CHECK(w.not_on_disk == 0);
    CHECK(rep.asked == 66);
    CHECK(rep.cached == 66);
    CHECK(rep.invocations == 1);
    CHECK(rep.calls == 1);  // no stats(): one call per invocation
    CHECK(rep.stored == 66);
    CHECK(rep.lost == 0);
    CHECK(store.size() == q.size());
    for (const auto& x : q) CHECK(store.contains(x.pair(), w.model(), w.prompt_version()));
    // Nothing pending: the judge is not called at all.
    const auto none = store.judge(w, q, ro);
    CHECK(none.invocations == 0);
    CHECK(none.calls == 0);
    CHECK(w.call_sizes.size() == 1);

    // A judge that only answers batches is called once per batch_size queries.
    struct Batches {
        std::vector<std::size_t> sizes;
        std::string model() const { return "batches"; }
        std::string prompt_version() const { return "v"; }
        std::vector<Judgment> judge(std::span<const PairQuery> qs) {
            sizes.push_back(qs.size());
            std::vector<Judgment> out;
            for (const auto& x : qs) out.push_back(unanswered_judgment(x, "batches", "v"));
            return out;
        }
    } b;
    static_assert(!StreamingJudge<Batches>);
    const auto rb = store.judge(b, q, ro);  // 132 = 16 x 8 + 4
    CHECK(b.sizes.size() == 17);
    CHECK(b.sizes.back() == 4);
    CHECK(rb.invocations == 17);
    CHECK(rb.calls == 17);
    CHECK(rb.asked == q.size());
    CHECK(rb.stored == q.size());

    // A streaming judge that throws part way: what it answered before is stored.
    struct Failing {
        std::string model() const { return "failing"; }
        std::string prompt_version() const { return "v"; }
        std::vector<Judgment> judge(std::span<const PairQuery>) { return {}; }
        void judge(std::span<const PairQuery> qs, const JudgmentSink& sink) {
            for (std::size_t i = 0; i < 5; ++i) sink(i, unanswered_judgment(qs[i], "failing", "v"));
            throw IoError("server", "gone");
        }
    } f;
    CHECK_THROWS_AS(store.judge(f, q, ro), IoError);
    CHECK(store.latest("failing", "v").size() == 5);
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
