// kerec/core/mmap.hpp — read-only memory-mapped files.
//
// MappedFile maps a whole file read-only (PROT_READ, MAP_PRIVATE) so that loaders can build views
// over its bytes without copying them: the kernel pages data in on first touch and shares clean
// pages between processes. The mapping is page aligned; an empty file maps to an empty span.
// Opening is O(1) in the file size (plus the page faults of whatever is read later).
#pragma once

#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kerec/core/error.hpp"

namespace kerec {

/// Access pattern hint for MappedFile (madvise).
enum class MapAdvice { normal, sequential, random, will_need };

/// A read-only mapping of a whole file. Movable, not copyable; unmaps on destruction.
class MappedFile {
public:
    MappedFile() = default;

    explicit MappedFile(const std::filesystem::path& path, MapAdvice advice = MapAdvice::normal)
        : path_(path.string()) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw IoError(path_, "open for reading", errno);
        struct ::stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            ::close(fd);
            throw IoError(path_, "fstat", e);
        }
        if (!S_ISREG(st.st_mode)) {
            ::close(fd);
            throw IoError(path_, "is not a regular file, expected a file to map");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                const int e = errno;
                ::close(fd);
                size_ = 0;
                throw IoError(path_, "mmap", e);
            }
            data_ = static_cast<const std::byte*>(p);
            advise(advice);
        }
        ::close(fd);  // the mapping keeps the file alive
    }

    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& o) noexcept
        : path_(std::move(o.path_)), data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    MappedFile& operator=(MappedFile&& o) noexcept {
        if (this != &o) {
            unmap();
            path_ = std::move(o.path_);
            data_ = std::exchange(o.data_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    ~MappedFile() { unmap(); }

    /// Hint the kernel about the coming access pattern (best effort, errors ignored).
    void advise(MapAdvice advice) const noexcept {
        if (!data_) return;
        int a = MADV_NORMAL;
        switch (advice) {
            case MapAdvice::normal: a = MADV_NORMAL; break;
            case MapAdvice::sequential: a = MADV_SEQUENTIAL; break;
            case MapAdvice::random: a = MADV_RANDOM; break;
            case MapAdvice::will_need: a = MADV_WILLNEED; break;
        }
        ::madvise(const_cast<std::byte*>(data_), size_, a);
    }

    const std::byte* data() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }
    std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
    std::string_view view() const noexcept { return {reinterpret_cast<const char*>(data_), size_}; }
    const std::string& path() const noexcept { return path_; }

private:
    void unmap() noexcept {
        if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
        data_ = nullptr;
        size_ = 0;
    }
    std::string path_;
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace kerec
