// libFuzzer target for the .npy header parser and loader (built by clang++ directly, see
// CMakeLists.txt). The first input byte picks a mode:
//   0: the input is the file, loaded from memory as float and as double (finite on and off);
//   1: the input is the header dict text, framed by a valid prefix, followed by 64 payload bytes;
//   2: mode 1's file written to disk and loaded with load_npy: it must agree with the in-memory
//      loader (same matrix, or both refuse).
// Anything but a kerec::ParseError escaping, or a loaded matrix whose size disagrees with the
// payload, is a finding.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <kerec/core/io.hpp>
#include <kerec/core/npy.hpp>

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_npy: %s\n", what);
    std::abort();
}
#define CHECK(cond) \
    if (!(cond)) fail(#cond)

template <class Scalar>
bool load(const std::string& bytes, bool finite, kerec::RowMatrix<Scalar>* out = nullptr) {
    try {
        const auto m = kerec::npy_from_buffer<Scalar>(bytes, "fuzz", {.finite = finite});
        const kerec::NpyHeader h = kerec::read_npy_header(bytes, "fuzz");
        CHECK(static_cast<std::uint64_t>(m.size()) * sizeof(Scalar) == bytes.size() - h.data_offset);
        if (finite)
            for (Eigen::Index i = 0; i < m.size(); ++i) CHECK(std::isfinite(m.data()[i]));
        if (out) *out = m;
        return true;
    } catch (const kerec::ParseError&) {
        return false;
    }
}

std::string framed(const std::uint8_t* data, std::size_t size) {
    std::string dict(reinterpret_cast<const char*>(data), size);
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\0';
    out += static_cast<char>(dict.size() & 0xFF);
    out += static_cast<char>((dict.size() >> 8) & 0xFF);
    out += dict;
    for (int i = 0; i < 64; ++i) out += static_cast<char>(i * 7);  // payload
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 3;
    ++data, --size;
    if (size > 65535) return 0;
    const std::string bytes = mode == 0 ? std::string(reinterpret_cast<const char*>(data), size) : framed(data, size);
    kerec::RowMatrix<float> mem;
    const bool ok = load<float>(bytes, false, &mem);
    load<float>(bytes, true);
    load<double>(bytes, false);
    load<double>(bytes, true);
    if (mode != 2) return 0;
    static const std::filesystem::path path = [] {
        std::filesystem::path d = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
        return d / ("kerec_fuzz_npy_" + std::to_string(::getpid()) + ".npy");
    }();
    static const bool cleanup = [] {
        return std::atexit([] {
                   std::error_code ec;
                   std::filesystem::remove(path, ec);
               }) == 0;
    }();
    (void)cleanup;
    kerec::write_file_atomic(path, bytes);
    try {
        const auto disk = kerec::load_npy<float>(path);
        CHECK(ok);
        CHECK(disk.rows() == mem.rows() && disk.cols() == mem.cols());
        CHECK(std::memcmp(disk.data(), mem.data(), static_cast<std::size_t>(disk.size()) * sizeof(float)) == 0);
    } catch (const kerec::ParseError&) {
        CHECK(!ok);
    }
    return 0;
}
