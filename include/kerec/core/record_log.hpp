// kerec/core/record_log.hpp — RecordLog: a crash-safe, append-only log of opaque records.
//
// File layout: a 16-byte header ("KERECLOG", u32 version = 1, u32 CRC-32C of the first 12 bytes),
// then records framed as [u32 payload length][u32 CRC-32C(length bytes + payload)][payload]
// (little-endian). Each append is one write(2) of frame + payload, so a killed process leaves at
// most one torn record at the end. Opening scans every frame: the first frame that is short,
// oversized or fails its checksum ends the valid prefix; it and everything after it are reported
// (RecordLogRecovery) and, when the log is opened for appending, truncated away so new records
// follow the intact prefix. Durability against power loss follows FsyncPolicy. An appender holds
// an exclusive flock(2) on the file, so two writers cannot interleave records.
// Open O(file bytes); append O(record bytes), no allocation once the frame buffer has grown.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

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
    /// Largest accepted payload; a longer length field is treated as corruption.
    std::uint32_t max_record_bytes = 64u << 20;
};

/// What opening or scanning a log found.
struct RecordLogRecovery {
    std::uint64_t records = 0;        ///< intact records
    std::uint64_t valid_bytes = 0;    ///< size of the intact prefix (header included)
    std::uint64_t file_bytes = 0;     ///< size of the file before any truncation
    std::uint64_t skipped_bytes = 0;  ///< file_bytes - valid_bytes: the torn or corrupt tail
    std::string problem;              ///< why the tail was skipped; empty when the log was clean
    bool clean() const noexcept { return skipped_bytes == 0; }
};

class RecordLog {
public:
    static constexpr char magic[8] = {'K', 'E', 'R', 'E', 'C', 'L', 'O', 'G'};
    static constexpr std::uint32_t version = 1;
    static constexpr std::size_t header_bytes = 16;
    static constexpr std::size_t frame_bytes = 8;

    using Visitor = std::function<void(std::string_view payload, std::uint64_t offset)>;

    /// Read every intact record of `path` without modifying the file. A missing file is an
    /// IoError; a file that is not a record log (bad magic or version) is a ParseError.
    static RecordLogRecovery scan(const std::filesystem::path& path, const Visitor& visit,
                                  const RecordLogOptions& options = {}) {
        const std::string bytes = read_file(path);
        return scan_bytes_(path.string(), bytes, visit, options);
    }

    /// Open (creating when missing) for appending. Intact records are passed to `visit`; a torn
    /// or corrupt tail is truncated and described by recovery().
    explicit RecordLog(std::filesystem::path path, const Visitor& visit = {}, RecordLogOptions options = {})
        : path_(std::move(path)), options_(options) {
        if (options_.fsync == FsyncPolicy::every_n && options_.fsync_every == 0)
            throw InvalidArgument(fmt::format("{}: RecordLogOptions::fsync_every must be > 0", path_.string()));
        fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) throw IoError(path_.string(), "open for appending", errno);
        try {
            // One appender at a time (released by close or by the process dying).
            if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
                if (errno == EWOULDBLOCK) throw IoError(path_.string(), "is open for appending elsewhere (locked)");
                throw IoError(path_.string(), "flock", errno);
            }
            struct ::stat st {};
            if (::fstat(fd_, &st) != 0) throw IoError(path_.string(), "fstat", errno);
            if (S_ISDIR(st.st_mode)) throw IoError(path_.string(), "is a directory, expected a file");
            const std::string bytes = st.st_size > 0 ? read_file(path_) : std::string();
            if (bytes.size() < header_bytes && is_header_prefix_(bytes)) {
                // New file, or a crash while the header was being written: start over.
                recovery_.file_bytes = bytes.size();
                recovery_.skipped_bytes = bytes.size();
                if (!bytes.empty()) recovery_.problem = "torn file header";
                truncate_(0);
                write_header_();
                recovery_.valid_bytes = header_bytes;
            } else {
                recovery_ = scan_bytes_(path_.string(), bytes, visit, options_);
                if (!recovery_.clean()) truncate_(recovery_.valid_bytes);
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
        const auto len = static_cast<std::uint32_t>(payload.size());
        unsigned char len_bytes[4];
        put_u32_(len_bytes, len);
        const std::uint32_t crc = crc32c(payload, crc32c(len_bytes, 4));
        frame_.resize(frame_bytes + payload.size());
        std::memcpy(frame_.data(), len_bytes, 4);
        put_u32_(reinterpret_cast<unsigned char*>(frame_.data()) + 4, crc);
        if (!payload.empty()) std::memcpy(frame_.data() + frame_bytes, payload.data(), payload.size());
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
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    static void put_u32_(unsigned char* p, std::uint32_t v) noexcept {
        p[0] = static_cast<unsigned char>(v), p[1] = static_cast<unsigned char>(v >> 8);
        p[2] = static_cast<unsigned char>(v >> 16), p[3] = static_cast<unsigned char>(v >> 24);
    }
    static std::uint32_t get_u32_(const char* p) noexcept {
        const auto* u = reinterpret_cast<const unsigned char*>(p);
        return std::uint32_t{u[0]} | (std::uint32_t{u[1]} << 8) | (std::uint32_t{u[2]} << 16) | (std::uint32_t{u[3]} << 24);
    }
    static std::string header_() {
        std::string h(header_bytes, '\0');
        std::memcpy(h.data(), magic, 8);
        put_u32_(reinterpret_cast<unsigned char*>(h.data()) + 8, version);
        put_u32_(reinterpret_cast<unsigned char*>(h.data()) + 12, crc32c(h.data(), 12));
        return h;
    }
    static bool is_header_prefix_(std::string_view bytes) { return header_().compare(0, bytes.size(), bytes) == 0; }

    static RecordLogRecovery scan_bytes_(const std::string& name, std::string_view bytes, const Visitor& visit,
                                         const RecordLogOptions& options) {
        RecordLogRecovery r;
        r.file_bytes = bytes.size();
        if (bytes.size() < header_bytes) {
            if (!is_header_prefix_(bytes))
                throw ParseError(name, 0, 0, "not a kerec record log (expected the KERECLOG header)");
            r.skipped_bytes = bytes.size();
            r.problem = bytes.empty() ? "" : "torn file header";
            if (bytes.empty()) r.skipped_bytes = 0;
            return r;
        }
        if (std::memcmp(bytes.data(), magic, 8) != 0)
            throw ParseError(name, 0, 0, "not a kerec record log (expected the KERECLOG header)");
        if (get_u32_(bytes.data() + 12) != crc32c(bytes.data(), 12))
            throw ParseError(name, 0, 0, "record log header checksum mismatch");
        if (const auto v = get_u32_(bytes.data() + 8); v != version)
            throw ParseError(name, 0, 0, fmt::format("record log version {} (expected {})", v, version));
        std::size_t pos = header_bytes;
        while (pos < bytes.size()) {
            const std::size_t left = bytes.size() - pos;
            if (left < frame_bytes) {
                r.problem = fmt::format("torn record frame at byte {} ({} of {} bytes)", pos, left, frame_bytes);
                break;
            }
            const std::uint32_t len = get_u32_(bytes.data() + pos);
            if (len > options.max_record_bytes) {
                r.problem = fmt::format("record at byte {} claims {} bytes (max {}): corrupt", pos, len,
                                        options.max_record_bytes);
                break;
            }
            if (left - frame_bytes < len) {
                r.problem = fmt::format("torn record at byte {} ({} of {} payload bytes)", pos, left - frame_bytes, len);
                break;
            }
            const std::string_view payload = bytes.substr(pos + frame_bytes, len);
            const std::uint32_t crc = crc32c(payload, crc32c(bytes.data() + pos, 4));
            if (crc != get_u32_(bytes.data() + pos + 4)) {
                r.problem = fmt::format("checksum mismatch in record at byte {}", pos);
                break;
            }
            if (visit) visit(payload, pos);
            ++r.records;
            pos += frame_bytes + len;
        }
        r.valid_bytes = pos;
        r.skipped_bytes = r.file_bytes - r.valid_bytes;
        return r;
    }

    void truncate_(std::uint64_t size) {
        if (::ftruncate(fd_, static_cast<::off_t>(size)) != 0) throw IoError(path_.string(), "ftruncate", errno);
        if (::fsync(fd_) != 0) throw IoError(path_.string(), "fsync", errno);
    }
    void write_header_() {
        const std::string h = header_();
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
    RecordLogRecovery recovery_;
    std::string frame_;
    std::uint64_t size_ = 0;
    std::uint64_t records_ = 0;
    std::uint64_t unsynced_ = 0;
};

}  // namespace kerec
