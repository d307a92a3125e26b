// kerec/core/record_log.hpp — RecordLog: a crash-safe, append-only log of opaque records.
//
// File layout: a 16-byte header ("KERECLOG", u32 version = 2, u32 CRC-32C of the first 12 bytes),
// then frames of 16 bytes + payload, little-endian:
//     u32 magic (bytes FF 'k' 'r' FE) | u32 payload length | u32 CRC-32C(payload) |
//     u32 CRC-32C(the 12 bytes before) | payload
// Each append is one write(2) of frame + payload, so a killed process leaves at most one torn
// record at the end. Opening scans every frame. A frame that is not intact (magic, either
// checksum, length) is damage: the scan resynchronises on the next intact frame (it looks for the
// magic, then checks both checksums), so every intact record before and after it is kept. The
// bytes between are a damaged range; a frame whose header is intact but whose payload is short at
// the end of the file is the torn tail. Opened for appending, damaged ranges are first appended to
// the quarantine log "<path>.quarantine" (itself a RecordLog, fsynced) and the log is then
// rewritten atomically without them; a torn tail is cut. Nothing but a torn tail is ever deleted.
// Version-1 logs (8-byte frames: length, CRC-32C(length ‖ payload); no magic) are still read and
// appended to in their own format, resynchronising by trying every offset.
// The magic holds bytes that UTF-8 never uses, so text payloads cannot contain a false frame start.
// Open O(file bytes) plus O(record) per magic candidate inside a damaged range; append O(record
// bytes), no allocation once the frame buffer has grown. An appender holds an exclusive flock(2)
// on the file, so two writers cannot interleave records.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "kerec/core/checksum.hpp"
#include "kerec/core/error.hpp"
#include "kerec/core/io.hpp"

namespace kerec {

/// When appended records are forced to stable storage. Every appended record is handed to the
/// kernel at once, so it survives a crash of the process under any policy; fsync protects
/// against power loss and kernel crashes.
enum class FsyncPolicy : std::uint8_t {
    never,         ///< only when sync() is called
    every_record,  ///< fsync after every append
    every_n,       ///< fsync after every `fsync_every` appends (and on sync()/close)
};

struct RecordLogOptions {
    FsyncPolicy fsync = FsyncPolicy::every_n;
    std::uint32_t fsync_every = 64;
    /// Largest accepted payload; a longer length field is treated as damage.
    std::uint32_t max_record_bytes = 64u << 20;
};

/// One damaged range of a log: bytes that are not an intact frame, between intact ones.
struct RecordLogDamage {
    std::uint64_t offset = 0;  ///< first byte, in the file as it was found
    std::uint64_t bytes = 0;
    std::string problem;       ///< what was wrong with the frame at `offset`
};

/// What opening or scanning a log found (and, when opened for appending, did).
struct RecordLogRecovery {
    std::uint64_t records = 0;            ///< intact records (all of them kept)
    std::uint64_t file_bytes = 0;         ///< size of the file as found
    std::uint64_t valid_bytes = 0;        ///< header + intact records: the size after recovery
    /// damaged_bytes + torn_bytes (= file_bytes - valid_bytes, except that a damaged file header
    /// counts here and, replaced by a fresh one, in valid_bytes too)
    std::uint64_t skipped_bytes = 0;
    std::uint64_t damaged_bytes = 0;      ///< sum of the damaged ranges
    std::uint64_t quarantined_bytes = 0;  ///< damaged bytes moved to `quarantine` (opened for appending only)
    std::uint64_t torn_bytes = 0;         ///< the torn last record (or file header), cut
    std::vector<RecordLogDamage> damaged; ///< damaged ranges in file order (the file header is [0, 16))
    std::filesystem::path quarantine;     ///< quarantine log the damaged bytes went to; empty if none
    std::string problem;                  ///< one-line summary; empty when the log was clean
    bool clean() const noexcept { return skipped_bytes == 0; }
};

/// One entry of a quarantine log: damaged bytes and where they were.
struct QuarantinedBytes {
    std::uint64_t offset = 0;     ///< where `bytes` started in the damaged log
    std::uint64_t log_bytes = 0;  ///< size of the damaged log when they were moved
    std::string bytes;
};

class RecordLog {
public:
    static constexpr char magic[8] = {'K', 'E', 'R', 'E', 'C', 'L', 'O', 'G'};
    static constexpr std::uint32_t version = 2;  ///< written by new logs; version 1 is still read
    static constexpr std::size_t header_bytes = 16;
    static constexpr std::size_t frame_bytes = 16;     ///< version 2
    static constexpr std::size_t frame_bytes_v1 = 8;
    static constexpr unsigned char frame_magic[4] = {0xFF, 'k', 'r', 0xFE};

    using Visitor = std::function<void(std::string_view payload, std::uint64_t offset)>;

    /// Read every intact record of `path` without modifying the file. A missing file is an
    /// IoError; a file that is not a record log (bad magic or version) is a ParseError.
    static RecordLogRecovery scan(const std::filesystem::path& path, const Visitor& visit,
                                  const RecordLogOptions& options = {}) {
        const std::string bytes = read_file(path);
        return scan_buffer(bytes, path.string(), visit, options);
    }

    /// scan() over a log held in memory (`name` appears in errors).
    static RecordLogRecovery scan_buffer(std::string_view bytes, const std::string& name, const Visitor& visit,
                                         const RecordLogOptions& options = {}) {
        std::uint32_t v = 0;
        return scan_(name, bytes, visit, options, v);
    }

    /// The quarantine log that damaged bytes of the log at `path` are moved to.
    static std::filesystem::path quarantine_path(const std::filesystem::path& path) {
        std::filesystem::path q = path;
        q += ".quarantine";
        return q;
    }

    /// Every entry of a quarantine log, in the order they were moved.
    static std::vector<QuarantinedBytes> read_quarantine(const std::filesystem::path& quarantine) {
        std::vector<QuarantinedBytes> out;
        scan(quarantine, [&](std::string_view p, std::uint64_t offset) {
            if (p.size() < 16)
                throw ParseError(quarantine.string(), 0, 0, fmt::format("quarantine record at byte {} is {} bytes (expected >= 16)",
                                                                        offset, p.size()));
            out.push_back({get_u64_(p.data()), get_u64_(p.data() + 8), std::string(p.substr(16))});
        });
        return out;
    }

    /// Open (creating when missing) for appending. Intact records are passed to `visit`; damage
    /// is quarantined and the torn tail cut, as recovery() describes. A file that is not a record
    /// log is a ParseError and is not modified.
    explicit RecordLog(std::filesystem::path path, const Visitor& visit = {}, RecordLogOptions options = {})
        : path_(std::move(path)), options_(options) {
        if (options_.fsync == FsyncPolicy::every_n && options_.fsync_every == 0)
            throw InvalidArgument(fmt::format("{}: RecordLogOptions::fsync_every must be > 0", path_.string()));
        open_locked_();
        try {
            struct ::stat st {};
            if (::fstat(fd_, &st) != 0) throw IoError(path_.string(), "fstat", errno);
            if (S_ISDIR(st.st_mode)) throw IoError(path_.string(), "is a directory, expected a file");
            const std::string bytes = st.st_size > 0 ? read_file(path_) : std::string();
            if (bytes.size() < header_bytes && is_header_prefix_(bytes)) {
                // New file, or a crash while the header was being written: start over.
                recovery_.file_bytes = bytes.size();
                recovery_.skipped_bytes = recovery_.torn_bytes = bytes.size();
                if (!bytes.empty()) recovery_.problem = "torn file header";
                version_ = version;
                truncate_(0);
                write_header_();
                recovery_.valid_bytes = header_bytes;
            } else {
                recovery_ = scan_(path_.string(), bytes, visit, options_, version_);
                if (!recovery_.damaged.empty()) {
                    quarantine_(bytes);
                    rewrite_(bytes);
                } else if (recovery_.torn_bytes > 0) {
                    truncate_(recovery_.valid_bytes);
                }
            }
            if (::lseek(fd_, 0, SEEK_END) < 0) throw IoError(path_.string(), "lseek", errno);
            size_ = recovery_.valid_bytes;
            records_ = recovery_.records;
        } catch (...) {
            ::close(fd_);
            fd_ = -1;
            throw;
        }
    }

    RecordLog(const RecordLog&) = delete;
    RecordLog& operator=(const RecordLog&) = delete;
    RecordLog(RecordLog&& o) noexcept { *this = std::move(o); }
    RecordLog& operator=(RecordLog&& o) noexcept {
        if (this != &o) {
            close_noexcept_();
            path_ = std::move(o.path_);
            options_ = o.options_;
            fd_ = std::exchange(o.fd_, -1);
            version_ = o.version_;
            recovery_ = std::move(o.recovery_);
            frame_ = std::move(o.frame_);
            size_ = o.size_;
            records_ = o.records_;
            unsynced_ = o.unsynced_;
        }
        return *this;
    }
    ~RecordLog() { close_noexcept_(); }

    /// Append one record (one write(2) of frame + payload); returns its offset in the file.
    std::uint64_t append(std::string_view payload) {
        if (fd_ < 0) throw InvalidArgument(fmt::format("{}: append on a closed record log", path_.string()));
        if (payload.size() > options_.max_record_bytes)
            throw InvalidArgument(fmt::format("{}: record of {} bytes exceeds max_record_bytes = {}", path_.string(),
                                              payload.size(), options_.max_record_bytes));
        encode_frame(payload, version_, frame_);
        const std::uint64_t offset = size_;
        try {
            detail::write_all(fd_, frame_.data(), frame_.size(), path_.string());
        } catch (...) {
            // Never leave a partial frame in front of later appends.
            if (::ftruncate(fd_, static_cast<::off_t>(size_)) == 0) ::lseek(fd_, 0, SEEK_END);
            throw;
        }
        size_ += frame_.size();
        ++records_;
        ++unsynced_;
        if (options_.fsync == FsyncPolicy::every_record ||
            (options_.fsync == FsyncPolicy::every_n && unsynced_ >= options_.fsync_every))
            sync();
        return offset;
    }

    /// Force appended records to stable storage.
    void sync() {
        if (fd_ < 0 || unsynced_ == 0) return;
        if (::fdatasync(fd_) != 0) throw IoError(path_.string(), "fdatasync", errno);
        unsynced_ = 0;
    }

    /// sync() and close; later appends throw.
    void close() {
        if (fd_ < 0) return;
        sync();
        const int fd = std::exchange(fd_, -1);
        if (::close(fd) != 0) throw IoError(path_.string(), "close", errno);
    }

    const RecordLogRecovery& recovery() const noexcept { return recovery_; }
    const RecordLogOptions& options() const noexcept { return options_; }
    std::uint64_t records() const noexcept { return records_; }
    std::uint64_t size_bytes() const noexcept { return size_; }
    /// Format version of this log's file (2, or 1 for a log created by an older kerec).
    std::uint32_t file_version() const noexcept { return version_; }
    const std::filesystem::path& path() const noexcept { return path_; }

    /// One record framed as a log of `file_version` stores it (frame + payload), into `out`.
    static void encode_frame(std::string_view payload, std::uint32_t file_version, std::string& out) {
        const auto len = static_cast<std::uint32_t>(payload.size());
        if (file_version == 1) {
            out.resize(frame_bytes_v1 + payload.size());
            auto* p = reinterpret_cast<unsigned char*>(out.data());
            put_u32_(p, len);
            put_u32_(p + 4, crc32c(payload, crc32c(p, 4)));
            if (!payload.empty()) std::memcpy(out.data() + frame_bytes_v1, payload.data(), payload.size());
            return;
        }
        out.resize(frame_bytes + payload.size());
        auto* p = reinterpret_cast<unsigned char*>(out.data());
        std::memcpy(p, frame_magic, 4);
        put_u32_(p + 4, len);
        put_u32_(p + 8, crc32c(payload));
        put_u32_(p + 12, crc32c(p, 12));
        if (!payload.empty()) std::memcpy(out.data() + frame_bytes, payload.data(), payload.size());
    }

    /// The 16-byte file header of a log of `file_version`.
    static std::string file_header(std::uint32_t file_version = version) {
        std::string h(header_bytes, '\0');
        std::memcpy(h.data(), magic, 8);
        put_u32_(reinterpret_cast<unsigned char*>(h.data()) + 8, file_version);
        put_u32_(reinterpret_cast<unsigned char*>(h.data()) + 12, crc32c(h.data(), 12));
        return h;
    }

private:
    static void put_u32_(unsigned char* p, std::uint32_t v) noexcept {
        p[0] = static_cast<unsigned char>(v), p[1] = static_cast<unsigned char>(v >> 8);
        p[2] = static_cast<unsigned char>(v >> 16), p[3] = static_cast<unsigned char>(v >> 24);
    }
    static std::uint32_t get_u32_(const char* p) noexcept {
        const auto* u = reinterpret_cast<const unsigned char*>(p);
        return std::uint32_t{u[0]} | (std::uint32_t{u[1]} << 8) | (std::uint32_t{u[2]} << 16) | (std::uint32_t{u[3]} << 24);
    }
    static std::uint64_t get_u64_(const char* p) noexcept {
        return std::uint64_t{get_u32_(p)} | (std::uint64_t{get_u32_(p + 4)} << 32);
    }
    static void put_u64_(std::string& out, std::uint64_t v) {
        for (int k = 0; k < 8; ++k) out += static_cast<char>(v >> (8 * k));
    }
    static bool is_header_prefix_(std::string_view bytes) {
        return file_header(version).compare(0, bytes.size(), bytes) == 0 || file_header(1).compare(0, bytes.size(), bytes) == 0;
    }

    // What the frame at `pos` is. `len` is meaningful from too_long on.
    enum class Frame : std::uint8_t { ok, short_header, bad_magic, bad_header_crc, too_long, short_payload, bad_payload_crc };
    struct FrameCheck {
        Frame kind;
        std::uint32_t len = 0;
    };
    static FrameCheck check_frame_(std::string_view b, std::size_t pos, std::uint32_t v, std::uint32_t max) noexcept {
        const std::size_t left = b.size() - pos;
        const char* p = b.data() + pos;
        if (v == 1) {
            if (left < frame_bytes_v1) return {Frame::short_header};
            const std::uint32_t len = get_u32_(p);
            if (len > max) return {Frame::too_long, len};
            if (left - frame_bytes_v1 < len) return {Frame::short_payload, len};
            if (crc32c(p + frame_bytes_v1, len, crc32c(p, 4)) != get_u32_(p + 4)) return {Frame::bad_payload_crc, len};
            return {Frame::ok, len};
        }
        if (left < frame_bytes) return {Frame::short_header};
        if (std::memcmp(p, frame_magic, 4) != 0) return {Frame::bad_magic};
        if (crc32c(p, 12) != get_u32_(p + 12)) return {Frame::bad_header_crc};
        const std::uint32_t len = get_u32_(p + 4);
        if (len > max) return {Frame::too_long, len};
        if (left - frame_bytes < len) return {Frame::short_payload, len};
        if (crc32c(p + frame_bytes, std::size_t{len}) != get_u32_(p + 8)) return {Frame::bad_payload_crc, len};
        return {Frame::ok, len};
    }
    static std::string describe_(FrameCheck f, std::string_view b, std::size_t pos, std::uint32_t v, std::uint32_t max) {
        const std::size_t left = b.size() - pos, fb = v == 1 ? frame_bytes_v1 : frame_bytes;
        switch (f.kind) {
            case Frame::ok: return "intact";
            case Frame::short_header: return fmt::format("torn record frame at byte {} ({} of {} bytes)", pos, left, fb);
            case Frame::bad_magic: return fmt::format("no record frame at byte {} (bad frame magic)", pos);
            case Frame::bad_header_crc: return fmt::format("frame header checksum mismatch in record at byte {}", pos);
            case Frame::too_long:
                return fmt::format("record at byte {} claims {} bytes (max {}): corrupt", pos, f.len, max);
            case Frame::short_payload:
                return fmt::format("torn record at byte {} ({} of {} payload bytes)", pos, left - fb, f.len);
            case Frame::bad_payload_crc: return fmt::format("checksum mismatch in record at byte {}", pos);
        }
        return "unknown";
    }
    // A last frame that is a torn write (cut) rather than damage (quarantined).
    static bool torn_(FrameCheck f, std::string_view b, std::size_t pos, std::uint32_t v) noexcept {
        if (f.kind == Frame::short_payload) return true;
        if (f.kind != Frame::short_header) return false;
        if (v == 1) return true;
        const std::size_t n = std::min<std::size_t>(4, b.size() - pos);
        return std::memcmp(b.data() + pos, frame_magic, n) == 0;
    }
    // First offset >= from where an intact frame starts, or npos.
    static std::size_t next_frame_(std::string_view b, std::size_t from, std::uint32_t v, std::uint32_t max) noexcept {
        const std::size_t fb = v == 1 ? frame_bytes_v1 : frame_bytes;
        for (std::size_t q = from; q + fb <= b.size(); ++q) {
            if (v != 1) {
                const void* m = std::memchr(b.data() + q, frame_magic[0], b.size() - fb + 1 - q);
                if (!m) return std::string_view::npos;
                q = static_cast<std::size_t>(static_cast<const char*>(m) - b.data());
            }
            if (check_frame_(b, q, v, max).kind == Frame::ok) return q;
        }
        return std::string_view::npos;
    }

    static RecordLogRecovery scan_(const std::string& name, std::string_view bytes, const Visitor& visit,
                                   const RecordLogOptions& options, std::uint32_t& v) {
        RecordLogRecovery r;
        r.file_bytes = bytes.size();
        const std::uint32_t max = options.max_record_bytes;
        auto damage = [&](std::uint64_t offset, std::uint64_t n, std::string problem) {
            if (!r.damaged.empty() && r.damaged.back().offset + r.damaged.back().bytes == offset)
                r.damaged.back().bytes += n;  // adjacent: one range
            else
                r.damaged.push_back({offset, n, std::move(problem)});
            r.damaged_bytes += n;
        };
        if (bytes.size() < header_bytes) {
            if (!is_header_prefix_(bytes))
                throw ParseError(name, 0, 0, "not a kerec record log (expected the KERECLOG header)");
            r.skipped_bytes = r.torn_bytes = bytes.size();
            r.problem = bytes.empty() ? "" : "torn file header";
            v = version;
            return r;
        }
        const bool magic_ok = std::memcmp(bytes.data(), magic, 8) == 0;
        const bool crc_ok = get_u32_(bytes.data() + 12) == crc32c(bytes.data(), 12);
        v = get_u32_(bytes.data() + 8);
        if (magic_ok && crc_ok) {
            if (v != 1 && v != version)
                throw ParseError(name, 0, 0, fmt::format("record log version {} (expected 1 or {})", v, version));
        } else {
            // A damaged file header is recognised by the intact frame that follows it.
            if (check_frame_(bytes, header_bytes, version, max).kind == Frame::ok) v = version;
            else if (check_frame_(bytes, header_bytes, 1, max).kind == Frame::ok) v = 1;
            else if (!magic_ok) throw ParseError(name, 0, 0, "not a kerec record log (expected the KERECLOG header)");
            else throw ParseError(name, 0, 0, "record log header checksum mismatch");
            damage(0, header_bytes, "file header damaged");
        }
        const std::size_t fb = v == 1 ? frame_bytes_v1 : frame_bytes;
        std::size_t pos = header_bytes;
        std::uint64_t valid = header_bytes;
        while (pos < bytes.size()) {
            const FrameCheck f = check_frame_(bytes, pos, v, max);
            if (f.kind == Frame::ok) {
                if (visit) visit(bytes.substr(pos + fb, f.len), pos);
                ++r.records;
                pos += fb + f.len;
                valid += fb + f.len;
                continue;
            }
            // A version-2 frame whose header is intact has a trusted extent: resume after it.
            std::size_t from = pos + 1;
            if (v != 1 && (f.kind == Frame::bad_payload_crc || f.kind == Frame::too_long) &&
                bytes.size() - pos - fb >= f.len)
                from = pos + fb + f.len;
            const std::size_t q = next_frame_(bytes, from, v, max);
            if (q == std::string_view::npos) {
                if (torn_(f, bytes, pos, v)) {
                    r.torn_bytes = bytes.size() - pos;
                    r.problem = describe_(f, bytes, pos, v, max);
                } else {
                    damage(pos, bytes.size() - pos, describe_(f, bytes, pos, v, max));
                }
                break;
            }
            damage(pos, q - pos, describe_(f, bytes, pos, v, max));
            pos = q;
        }
        r.valid_bytes = valid;
        r.skipped_bytes = r.damaged_bytes + r.torn_bytes;
        if (!r.damaged.empty()) {
            std::string torn = std::move(r.problem);
            r.problem = fmt::format("{} damaged range{} ({} bytes; first at byte {}: {})", r.damaged.size(),
                                    r.damaged.size() == 1 ? "" : "s", r.damaged_bytes, r.damaged.front().offset,
                                    r.damaged.front().problem);
            if (!torn.empty()) r.problem += "; " + torn;
        }
        return r;
    }

    void open_locked_() {
        // One appender at a time (released by close or by the process dying). A log replaced by
        // another appender's recovery while we waited is opened again.
        for (int attempt = 0;; ++attempt) {
            fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
            if (fd_ < 0) throw IoError(path_.string(), "open for appending", errno);
            if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
                const int e = errno;
                ::close(fd_);
                fd_ = -1;
                if (e == EWOULDBLOCK) throw IoError(path_.string(), "is open for appending elsewhere (locked)");
                throw IoError(path_.string(), "flock", e);
            }
            struct ::stat mine {}, now {};
            if (::fstat(fd_, &mine) == 0 && ::stat(path_.c_str(), &now) == 0 && mine.st_ino == now.st_ino &&
                mine.st_dev == now.st_dev)
                return;
            ::close(fd_);
            fd_ = -1;
            if (attempt == 2) throw IoError(path_.string(), "was replaced while being opened (try again)");
        }
    }

    // Append every damaged range to the quarantine log, durably, before the log loses them.
    void quarantine_(std::string_view bytes) {
        recovery_.quarantine = quarantine_path(path_);
        RecordLogOptions qo;
        qo.fsync = FsyncPolicy::never;
        RecordLog q(recovery_.quarantine, {}, qo);
        constexpr std::size_t chunk = 1u << 20;
        std::string payload;
        for (const RecordLogDamage& d : recovery_.damaged) {
            for (std::uint64_t done = 0; done < d.bytes;) {
                const std::uint64_t n = std::min<std::uint64_t>(chunk, d.bytes - done);
                payload.clear();
                put_u64_(payload, d.offset + done);
                put_u64_(payload, bytes.size());
                payload.append(bytes.substr(d.offset + done, n));
                q.append(payload);
                done += n;
            }
        }
        q.close();
        recovery_.quarantined_bytes = recovery_.damaged_bytes;
        recovery_.problem += fmt::format("; moved to {}", recovery_.quarantine.string());
    }

    // Replace the log, atomically, by its header and intact records (damage and torn tail gone).
    // The new file is locked before it becomes visible, so the lock is never released.
    void rewrite_(std::string_view bytes) {
        std::string out = file_header(version_);
        out.reserve(recovery_.valid_bytes);
        std::uint64_t pos = header_bytes;
        const std::uint64_t end = bytes.size() - recovery_.torn_bytes;
        for (const RecordLogDamage& d : recovery_.damaged) {
            if (d.offset > pos) out.append(bytes.substr(pos, d.offset - pos));
            pos = std::max(pos, d.offset + d.bytes);
        }
        if (end > pos) out.append(bytes.substr(pos, end - pos));
        std::filesystem::path temp = path_;
        temp += fmt::format(".recover.{}", ::getpid());
        const int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) throw IoError(temp.string(), "open for writing", errno);
        try {
            if (::flock(fd, LOCK_EX | LOCK_NB) != 0) throw IoError(temp.string(), "flock", errno);
            detail::write_all(fd, out.data(), out.size(), temp.string());
            if (::fsync(fd) != 0) throw IoError(temp.string(), "fsync", errno);
            if (::rename(temp.c_str(), path_.c_str()) != 0) throw IoError(path_.string(), "rename", errno);
        } catch (...) {
            ::close(fd);
            ::unlink(temp.c_str());
            throw;
        }
        detail::fsync_directory_of(path_);
        ::close(std::exchange(fd_, fd));
    }

    void truncate_(std::uint64_t size) {
        if (::ftruncate(fd_, static_cast<::off_t>(size)) != 0) throw IoError(path_.string(), "ftruncate", errno);
        if (::fsync(fd_) != 0) throw IoError(path_.string(), "fsync", errno);
    }
    void write_header_() {
        const std::string h = file_header(version_);
        if (::lseek(fd_, 0, SEEK_SET) < 0) throw IoError(path_.string(), "lseek", errno);
        detail::write_all(fd_, h.data(), h.size(), path_.string());
        if (::fsync(fd_) != 0) throw IoError(path_.string(), "fsync", errno);
        detail::fsync_directory_of(path_);
    }
    void close_noexcept_() noexcept {
        if (fd_ >= 0) {
            if (unsynced_ > 0) ::fdatasync(fd_);
            ::close(fd_);
            fd_ = -1;
        }
    }

    std::filesystem::path path_;
    RecordLogOptions options_;
    int fd_ = -1;
    std::uint32_t version_ = version;
    RecordLogRecovery recovery_;
    std::string frame_;
    std::uint64_t size_ = 0;
    std::uint64_t records_ = 0;
    std::uint64_t unsynced_ = 0;
};

}  // namespace kerec
