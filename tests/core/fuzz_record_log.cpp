// libFuzzer target for the record-log scanner and its recovery (built by clang++ directly, see
// CMakeLists.txt). The first input byte picks a mode:
//   0: the input is a log file: scan it in memory, check the report's arithmetic, decode every
//      record as a judgment (JudgmentStore::decode);
//   1: records cut from the input (ASCII, as the store's text payloads) form a valid version-2 log;
//      up to 4 byte edits (never creating the frame magic's first byte) and an optional cut are
//      applied; every record the edits and the cut did not touch must come back, in order, and
//      nothing else;
//   2: the same with a version-1 log (no magic: only the records before the first edit are
//      guaranteed);
//   3: mode 1's file opened for appending on disk: the rewritten log must scan clean with the same
//      records, and the quarantine log must hold exactly the damaged bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include <kerec/core/io.hpp>
#include <kerec/core/record_log.hpp>
#include <kerec/llm/judgment_store.hpp>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_record_log: %s\n", what);
    std::abort();
}
#define CHECK(cond) \
    if (!(cond)) fail(#cond)

void check_report(const kerec::RecordLogRecovery& r, std::size_t size) {
    std::uint64_t sum = 0, end = 0;
    for (const auto& d : r.damaged) {
        CHECK(d.bytes > 0);
        CHECK(d.offset >= end);
        end = d.offset + d.bytes;
        sum += d.bytes;
    }
    CHECK(end <= size);
    CHECK(sum == r.damaged_bytes);
    CHECK(r.skipped_bytes == r.damaged_bytes + r.torn_bytes);
    if (size < kerec::RecordLog::header_bytes) {
        CHECK(r.valid_bytes == 0 && r.torn_bytes == size);
        return;
    }
    const bool header_damaged = !r.damaged.empty() && r.damaged.front().offset == 0;
    CHECK(r.valid_bytes + r.damaged_bytes + r.torn_bytes == size + (header_damaged ? kerec::RecordLog::header_bytes : 0));
    CHECK(r.clean() == r.problem.empty());
}

struct Built {
    std::string bytes;
    std::vector<std::string> records;
    std::vector<std::size_t> starts;  // frame offsets, plus the end
    std::vector<char> kept;           // records the edits and the cut did not touch
};

// Records: the input split at '\n' (each byte made ASCII); edits: (position, xor) pairs.
Built build(const std::uint8_t* data, std::size_t size, std::uint32_t version) {
    Built b;
    std::size_t split = size;
    for (std::size_t i = 0; i < size; ++i)
        if (data[i] == 0xA5) {  // records | edits
            split = i;
            break;
        }
    std::string cur;
    for (std::size_t i = 0; i < split; ++i) {
        if (data[i] == '\n') {
            b.records.push_back(cur);
            cur.clear();
        } else {
            cur += static_cast<char>(data[i] & 0x7F);
        }
    }
    b.records.push_back(cur);
    b.bytes = kerec::RecordLog::file_header(version);
    std::string frame;
    for (const auto& r : b.records) {
        b.starts.push_back(b.bytes.size());
        kerec::RecordLog::encode_frame(r, version, frame);
        b.bytes += frame;
    }
    b.starts.push_back(b.bytes.size());
    b.kept.assign(b.records.size(), 1);
    const std::string original = b.bytes;
    const std::uint8_t* e = data + split + (split < size);
    std::size_t left = size - split - (split < size);
    int edits = 0;
    while (left >= 3 && edits < 4) {
        const std::size_t pos = (std::size_t{e[0]} << 8 | e[1]) % b.bytes.size();
        const auto x = static_cast<unsigned char>(e[2]);
        e += 3, left -= 3;
        const auto now = static_cast<unsigned char>(static_cast<unsigned char>(b.bytes[pos]) ^ x);
        if (x == 0 || now == 0xFF) continue;
        b.bytes[pos] = static_cast<char>(now);
        ++edits;
    }
    // A record is touched when a byte of its frame differs in the end (two edits may cancel).
    for (std::size_t k = 0; k < b.records.size(); ++k)
        if (b.bytes.compare(b.starts[k], b.starts[k + 1] - b.starts[k], original, b.starts[k], b.starts[k + 1] - b.starts[k]))
            b.kept[k] = 0;
    if (left >= 2) {  // cut
        const std::size_t cut = (std::size_t{e[0]} << 8 | e[1]) % (b.bytes.size() + 1);
        b.bytes.resize(cut);
        for (std::size_t k = 0; k < b.records.size(); ++k)
            if (b.starts[k + 1] > cut) b.kept[k] = 0;
    }
    return b;
}

std::vector<std::string> scan(const std::string& bytes, kerec::RecordLogRecovery* rec = nullptr) {
    std::vector<std::string> got;
    const auto r = kerec::RecordLog::scan_buffer(bytes, "fuzz", [&](std::string_view p, std::uint64_t) { got.emplace_back(p); });
    check_report(r, bytes.size());
    if (rec) *rec = r;
    return got;
}

const std::filesystem::path& scratch() {
    static const std::filesystem::path dir = [] {
        std::filesystem::path d = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
        d /= "kerec_fuzz_record_log_" + std::to_string(::getpid());
        std::filesystem::create_directories(d);
        return d;
    }();
    static const bool cleanup = [] {  // registered after `dir` exists, so it runs before `dir` is destroyed
        return std::atexit([] {
                   std::error_code ec;
                   std::filesystem::remove_all(dir, ec);
               }) == 0;
    }();
    (void)cleanup;
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 4;
    ++data, --size;
    if (mode == 0) {
        const std::string bytes(reinterpret_cast<const char*>(data), size);
        try {
            std::vector<std::string_view> fields;
            const auto r = kerec::RecordLog::scan_buffer(bytes, "fuzz", [&](std::string_view p, std::uint64_t offset) {
                CHECK(offset + p.size() <= bytes.size());
                try {
                    bool repaired = false;
                    const kerec::Judgment j = kerec::JudgmentStore::decode(p, "fuzz", offset, &repaired);
                    CHECK(kerec::invalid_utf8(j.rationale) == 0);
                    CHECK(j.confidence >= 0.0f && j.confidence <= 1.0f);
                } catch (const kerec::ParseError&) {
                }
            });
            check_report(r, bytes.size());
        } catch (const kerec::ParseError&) {
        }
        return 0;
    }
    const Built b = build(data, size, mode == 2 ? 1 : 2);
    std::vector<std::string> expect;
    for (std::size_t k = 0; k < b.records.size(); ++k)
        if (b.kept[k]) expect.push_back(b.records[k]);
    std::vector<std::string> got;
    kerec::RecordLogRecovery rec;
    try {
        got = scan(b.bytes, &rec);
    } catch (const kerec::ParseError&) {
        // Only a damaged file header without an intact first record behind it.
        const std::size_t h = std::min(b.bytes.size(), kerec::RecordLog::header_bytes);
        const bool header_intact = b.bytes.compare(0, h, kerec::RecordLog::file_header(mode == 2 ? 1 : 2), 0, h) == 0;
        CHECK(!header_intact && (b.bytes.size() < kerec::RecordLog::header_bytes || !b.kept[0]));
        return 0;
    }
    if (mode == 2) {
        for (std::size_t k = 0; k < b.records.size() && b.kept[k]; ++k) CHECK(k < got.size() && got[k] == b.records[k]);
        return 0;
    }
    CHECK(got == expect);
    if (mode != 3) return 0;
    const auto path = scratch() / "log";
    const auto q = kerec::RecordLog::quarantine_path(path);
    std::error_code ec;
    std::filesystem::remove(q, ec);
    kerec::write_file_atomic(path, b.bytes);
    std::vector<std::string> opened;
    {
        kerec::RecordLog log(path, [&](std::string_view p, std::uint64_t) { opened.emplace_back(p); });
        CHECK(opened == got);
        CHECK(log.records() == got.size());
        log.append("appended");
    }
    kerec::RecordLogRecovery again;
    auto after = scan(kerec::read_file(path), &again);
    CHECK(again.clean());
    CHECK(!after.empty() && after.back() == "appended");
    after.pop_back();
    CHECK(after == got);
    if (rec.damaged.empty()) {
        CHECK(!std::filesystem::exists(q));
    } else {
        const auto moved = kerec::RecordLog::read_quarantine(q);
        std::size_t i = 0;
        for (const auto& d : rec.damaged) {
            for (std::uint64_t done = 0; done < d.bytes; ++i) {
                CHECK(i < moved.size());
                CHECK(moved[i].offset == d.offset + done);
                CHECK(moved[i].log_bytes == b.bytes.size());
                CHECK(b.bytes.compare(moved[i].offset, moved[i].bytes.size(), moved[i].bytes) == 0);
                done += moved[i].bytes.size();
            }
        }
        CHECK(i == moved.size());
    }
    return 0;
}
