// kerec/core/npy.hpp — NumPy .npy files <-> Eigen matrices.
//
// Embeddings (h1, h2, final entity representations) travel to and from numpy as 2-D .npy files:
// magic "\x93NUMPY", version, a little-endian header length, a Python-dict header
// {'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols)} padded to 64 bytes, then the
// data. Loading validates everything in kerec's own words before a byte of payload is trusted:
// the header, the dtype (float32 for float, float64 for double, byte order '<', '=' or '>'; any
// other type, e.g. '|u1', is rejected by name), rank 2, each dimension <= 2^32 - 1 (one row per
// 32-bit id), rows * cols * item size without overflow and equal to the payload in the file; only
// then is the matrix allocated and the payload read once, straight into it (big-endian data is
// swapped, Fortran order transposed). NpyLoadOptions::finite rejects NaN/Inf with the index of the
// first one. Errors are ParseErrors naming the file. Writes go through xtensor's npy writer,
// atomically. O(rows * cols).
#pragma once

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Eigen/Core>
#include <fmt/format.h>
#include <xtensor/xadapt.hpp>
#include <xtensor/xnpy.hpp>

#include "kerec/core/error.hpp"
#include "kerec/core/io.hpp"

namespace kerec {

/// Row-major dynamic Eigen matrix: the in-memory layout of every kerec embedding table.
template <class Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// What a validated .npy header says.
struct NpyHeader {
    std::string descr;            ///< e.g. "<f4"
    bool fortran_order = false;
    std::vector<std::uint64_t> shape;
    std::size_t data_offset = 0;  ///< bytes before the payload
};

namespace detail {

inline void npy_skip_ws(std::string_view h, std::size_t& i) {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\n' || h[i] == '\t')) ++i;
}

/// Parse the dict literal of a .npy header. Strict: the three keys, each once, nothing else.
inline NpyHeader parse_npy_dict(std::string_view h, const std::string& name) {
    auto fail = [&](std::size_t col, const std::string& what) {
        return ParseError(name, 0, 0, fmt::format("npy header, offset {}: {}", col, what));
    };
    NpyHeader out;
    bool have_descr = false, have_order = false, have_shape = false;
    std::size_t i = 0;
    npy_skip_ws(h, i);
    if (i >= h.size() || h[i] != '{') throw fail(i, "expected '{'");
    ++i;
    for (;;) {
        npy_skip_ws(h, i);
        if (i < h.size() && h[i] == '}') {
            ++i;
            break;
        }
        if (i >= h.size() || (h[i] != '\'' && h[i] != '"')) throw fail(i, "expected a quoted key or '}'");
        const char q = h[i++];
        const std::size_t key_end = h.find(q, i);
        if (key_end == std::string_view::npos) throw fail(i, "unterminated key");
        const std::string_view key = h.substr(i, key_end - i);
        i = key_end + 1;
        npy_skip_ws(h, i);
        if (i >= h.size() || h[i] != ':') throw fail(i, "expected ':'");
        ++i;
        npy_skip_ws(h, i);
        if (key == "descr") {
            if (have_descr) throw fail(i, "duplicate key 'descr'");
            if (i >= h.size() || (h[i] != '\'' && h[i] != '"')) throw fail(i, "descr must be a string");
            const char q2 = h[i++];
            const std::size_t e = h.find(q2, i);
            if (e == std::string_view::npos || e - i > 16) throw fail(i, "bad descr string");
            out.descr = std::string(h.substr(i, e - i));
            i = e + 1;
            have_descr = true;
        } else if (key == "fortran_order") {
            if (have_order) throw fail(i, "duplicate key 'fortran_order'");
            if (h.substr(i, 4) == "True") {
                out.fortran_order = true;
                i += 4;
            } else if (h.substr(i, 5) == "False") {
                out.fortran_order = false;
                i += 5;
            } else {
                throw fail(i, "fortran_order must be True or False");
            }
            have_order = true;
        } else if (key == "shape") {
            if (have_shape) throw fail(i, "duplicate key 'shape'");
            if (i >= h.size() || h[i] != '(') throw fail(i, "shape must be a tuple");
            ++i;
            for (;;) {
                npy_skip_ws(h, i);
                if (i < h.size() && h[i] == ')') {
                    ++i;
                    break;
                }
                if (i >= h.size() || h[i] < '0' || h[i] > '9') throw fail(i, "expected a dimension");
                std::uint64_t v = 0;
                while (i < h.size() && h[i] >= '0' && h[i] <= '9') {
                    if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) throw fail(i, "dimension overflows");
                    v = v * 10 + static_cast<std::uint64_t>(h[i] - '0');
                    ++i;
                }
                if (i < h.size() && h[i] == 'L') ++i;  // Python 2 long suffix
                out.shape.push_back(v);
                if (out.shape.size() > 32) throw fail(i, "too many dimensions");
                npy_skip_ws(h, i);
                if (i < h.size() && h[i] == ',') {
                    ++i;
                    continue;
                }
                npy_skip_ws(h, i);
                if (i < h.size() && h[i] == ')') {
                    ++i;
                    break;
                }
                throw fail(i, "expected ',' or ')' in shape");
            }
            have_shape = true;
        } else {
            throw fail(i, fmt::format("unknown key '{}'", excerpt(key)));
        }
        npy_skip_ws(h, i);
        if (i < h.size() && h[i] == ',') {
            ++i;
            continue;
        }
        npy_skip_ws(h, i);
        if (i < h.size() && h[i] == '}') {
            ++i;
            break;
        }
        throw fail(i, "expected ',' or '}'");
    }
    if (!have_descr || !have_order || !have_shape)
        throw ParseError(name, 0, 0, "npy header lacks one of 'descr', 'fortran_order', 'shape'");
    return out;
}

}  // namespace detail

/// How load_npy checks the values it read.
struct NpyLoadOptions {
    /// Reject NaN and +-Inf (ParseError with the index of the first one): embedding tables.
    bool finite = false;
};

/// Largest dimension load_npy accepts: a table has at most one row per 32-bit id.
inline constexpr std::uint64_t npy_max_dimension = 0xFFFFFFFFu;

namespace detail {

template <class Scalar>
constexpr std::string_view npy_descr() {
    if constexpr (std::is_same_v<Scalar, float>) return "<f4";
    else if constexpr (std::is_same_v<Scalar, double>) return "<f8";
    else static_assert(sizeof(Scalar) == 0, "kerec npy: Scalar must be float or double");
}

/// What a simple numpy dtype string ('<f4', '|u1', ...) names, for error messages.
inline std::string npy_dtype_name(char kind, unsigned size) {
    const unsigned bits = size * 8;
    switch (kind) {
        case 'f': return fmt::format("{}-bit floats", bits);
        case 'i': return fmt::format("{}-bit signed integers", bits);
        case 'u': return fmt::format("{}-bit unsigned integers", bits);
        case 'b': return "booleans";
        case 'c': return fmt::format("{}-bit complex numbers", bits);
        case 'S': case 'a': return fmt::format("{}-byte strings", size);
        case 'U': return fmt::format("{}-character unicode strings", size);
        case 'O': return "Python objects";
        case 'V': return "raw bytes";
        case 'M': return "datetimes";
        case 'm': return "timedeltas";
        default: return "an unknown type";
    }
}

/// Rows, columns and byte order of a validated header for Scalar.
struct NpyLayout {
    std::uint64_t rows = 0, cols = 0;
    std::uint64_t payload = 0;  ///< bytes
    bool swap = false;          ///< the file's byte order is not the host's
    bool fortran = false;
};

/// Validate `h` for a RowMatrix<Scalar> whose payload has `available` bytes in the file.
template <class Scalar>
NpyLayout npy_layout(const NpyHeader& h, std::uint64_t available, const std::string& name) {
    constexpr std::string_view want = npy_descr<Scalar>();
    const std::string& d = h.descr;
    const auto fail = [&](const std::string& what) { return ParseError(name, 0, 0, what); };
    // A simple dtype is byte order, kind, item size: '<f4'.
    unsigned size = 0;
    bool simple = d.size() >= 3 && d.size() <= 5 && (d[0] == '<' || d[0] == '>' || d[0] == '=' || d[0] == '|') &&
                  std::isalpha(static_cast<unsigned char>(d[1]));
    for (std::size_t k = 2; simple && k < d.size(); ++k) {
        if (d[k] < '0' || d[k] > '9') simple = false;
        else size = size * 10 + static_cast<unsigned>(d[k] - '0');
    }
    if (!simple)
        throw fail(fmt::format("npy dtype '{}' is not a simple numpy type (expected '{}')", excerpt(d), want));
    if (d[1] == 'f' && size == sizeof(Scalar) && d[0] == '|')
        throw fail(fmt::format("npy dtype '{}': byte order '|' (not applicable) for a {}-byte type (expected '{}', '={}' or '>{}')",
                               d, sizeof(Scalar), want, want.substr(1), want.substr(1)));
    if (d[1] != 'f' || size != sizeof(Scalar))
        throw fail(fmt::format("npy dtype '{}' ({}) is not {}-bit floats (expected '{}', '={}' or '>{}')", d,
                               npy_dtype_name(d[1], size), 8 * sizeof(Scalar), want, want.substr(1), want.substr(1)));
    NpyLayout l;
    const bool file_little = d[0] == '<' || (d[0] == '=' && std::endian::native == std::endian::little);
    l.swap = file_little != (std::endian::native == std::endian::little);
    l.fortran = h.fortran_order;
    if (h.shape.size() != 2)
        throw fail(fmt::format("npy array has rank {} (expected 2: rows, cols)", h.shape.size()));
    l.rows = h.shape[0], l.cols = h.shape[1];
    for (std::uint64_t dim : h.shape)
        if (dim > npy_max_dimension)
            throw fail(fmt::format("npy shape ({}, {}): dimension {} exceeds {} (one row per 32-bit id)", l.rows, l.cols,
                                   dim, npy_max_dimension));
    const std::uint64_t elements = l.rows * l.cols;  // < 2^64: both factors < 2^32
    if (elements > std::numeric_limits<std::uint64_t>::max() / sizeof(Scalar) ||
        elements > static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max()))
        throw fail(fmt::format("npy shape ({}, {}) is too large", l.rows, l.cols));
    l.payload = elements * sizeof(Scalar);
    if (available != l.payload)
        throw fail(fmt::format("npy payload is {} bytes, shape ({}, {}) of '{}' needs {}{}", available, l.rows, l.cols, d,
                               l.payload, available < l.payload ? " (file truncated)" : " (trailing bytes)"));
    return l;
}

/// The matrix a payload of layout `l` is read into: row-major, or (cols, rows) for Fortran order.
template <class Scalar>
RowMatrix<Scalar> npy_destination(const NpyLayout& l) {
    const auto r = static_cast<Eigen::Index>(l.rows), c = static_cast<Eigen::Index>(l.cols);
    return l.fortran ? RowMatrix<Scalar>(c, r) : RowMatrix<Scalar>(r, c);
}

/// Byte order, Fortran order and the finite check, after the payload landed in `m`.
template <class Scalar>
void npy_finish(RowMatrix<Scalar>& m, const NpyLayout& l, const NpyLoadOptions& options, const std::string& name) {
    if (l.swap) {
        using U = std::conditional_t<sizeof(Scalar) == 4, std::uint32_t, std::uint64_t>;
        for (Eigen::Index i = 0; i < m.size(); ++i) {
            U u;
            std::memcpy(&u, m.data() + i, sizeof u);
            if constexpr (sizeof(U) == 4) u = __builtin_bswap32(u);
            else u = __builtin_bswap64(u);
            std::memcpy(m.data() + i, &u, sizeof u);
        }
    }
    if (l.fortran) m = RowMatrix<Scalar>(m.transpose());
    if (!options.finite) return;
    for (Eigen::Index i = 0; i < m.size(); ++i)
        if (!std::isfinite(m.data()[i]))
            throw ParseError(name, 0, 0,
                             fmt::format("npy element ({}, {}) is {} (finite values required)", i / m.cols(), i % m.cols(),
                                         m.data()[i]));
}

// pread exactly `size` bytes at `offset`; a file that ends early is a ParseError.
inline void npy_pread(int fd, void* out, std::size_t size, std::uint64_t offset, const std::string& name) {
    auto* p = static_cast<char*>(out);
    while (size > 0) {
        const ::ssize_t n = ::pread(fd, p, size, static_cast<::off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw IoError(name, "read", errno);
        }
        if (n == 0) throw ParseError(name, 0, 0, "npy file truncated while reading (was it being written?)");
        p += n, size -= static_cast<std::size_t>(n), offset += static_cast<std::uint64_t>(n);
    }
}

}  // namespace detail

/// Read and validate the header of an .npy file held in `bytes` (`name` is used in errors).
inline NpyHeader read_npy_header(std::string_view bytes, const std::string& name) {
    if (bytes.size() < 10) throw ParseError(name, 0, 0, fmt::format("npy file truncated: {} bytes, header needs at least 10", bytes.size()));
    if (std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
        throw ParseError(name, 0, 0, "not an npy file: bad magic (expected \\x93NUMPY)");
    const auto major = static_cast<unsigned char>(bytes[6]);
    std::size_t header_len = 0, prefix = 0;
    if (major == 1) {
        header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
        prefix = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) throw ParseError(name, 0, 0, "npy file truncated inside the header length");
        for (int k = 0; k < 4; ++k)
            header_len |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[8 + k])) << (8 * k);
        prefix = 12;
    } else {
        throw ParseError(name, 0, 0, fmt::format("unsupported npy version {}.{} (expected 1.0, 2.0 or 3.0)", major,
                                                 static_cast<unsigned>(static_cast<unsigned char>(bytes[7]))));
    }
    if (header_len > bytes.size() - prefix)
        throw ParseError(name, 0, 0, fmt::format("npy file truncated: header says {} bytes, file has {}", header_len,
                                                 bytes.size() - prefix));
    NpyHeader h = detail::parse_npy_dict(bytes.substr(prefix, header_len), name);
    h.data_offset = prefix + header_len;
    return h;
}

/// Save a matrix as a row-major 2-D .npy (float32 or float64), atomically.
template <class Derived>
void save_npy(const std::filesystem::path& path, const Eigen::MatrixBase<Derived>& m) {
    using Scalar = typename Derived::Scalar;
    (void)detail::npy_descr<Scalar>();
    const RowMatrix<Scalar> rm = m;  // evaluates expressions, fixes the layout
    const std::vector<std::size_t> shape{static_cast<std::size_t>(rm.rows()), static_cast<std::size_t>(rm.cols())};
    auto view = xt::adapt(rm.data(), static_cast<std::size_t>(rm.size()), xt::no_ownership(), shape);
    write_file_atomic(path, xt::dump_npy(view));
}

/// Load a 2-D .npy of float32 (Scalar = float) or float64 (double), validated as the header
/// comment says; every problem is a ParseError naming the file (IoError when it cannot be read).
template <class Scalar>
RowMatrix<Scalar> load_npy(const std::filesystem::path& path, const NpyLoadOptions& options = {}) {
    const std::string name = path.string();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError(name, "open for reading", errno);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct ::stat st {};
    if (::fstat(fd, &st) != 0) throw IoError(name, "fstat", errno);
    if (S_ISDIR(st.st_mode)) throw IoError(name, "is a directory, expected a file");
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    // The header: 10 or 12 bytes of prefix, then its length (at most 1 MiB here: a 2-D table's is < 200 bytes).
    std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(file_size, 12)), '\0');
    detail::npy_pread(fd, head.data(), head.size(), 0, name);
    std::uint64_t want = head.size();
    if (head.size() >= 10 && std::memcmp(head.data(), "\x93NUMPY", 6) == 0) {
        const auto b = [&](std::size_t k) { return static_cast<std::uint64_t>(static_cast<unsigned char>(head[k])); };
        if (head[6] == 1) want = 10 + (b(8) | b(9) << 8);
        else if (head.size() == 12 && (head[6] == 2 || head[6] == 3)) want = 12 + (b(8) | b(9) << 8 | b(10) << 16 | b(11) << 24);
    }
    if (want > 12 + (1u << 20)) throw ParseError(name, 0, 0, fmt::format("npy header of {} bytes (at most 1 MiB read)", want - 12));
    want = std::min(want, file_size);
    const std::size_t got = head.size();
    head.resize(static_cast<std::size_t>(std::max<std::uint64_t>(want, got)));
    if (head.size() > got) detail::npy_pread(fd, head.data() + got, head.size() - got, got, name);
    const NpyHeader h = read_npy_header(head, name);
    const detail::NpyLayout layout = detail::npy_layout<Scalar>(h, file_size - h.data_offset, name);
    RowMatrix<Scalar> out = detail::npy_destination<Scalar>(layout);
    detail::npy_pread(fd, out.data(), static_cast<std::size_t>(layout.payload), h.data_offset, name);
    detail::npy_finish(out, layout, options, name);
    return out;
}

/// load_npy of a file held in memory (`name` appears in errors).
template <class Scalar>
RowMatrix<Scalar> npy_from_buffer(std::string_view bytes, const std::string& name, const NpyLoadOptions& options = {}) {
    const NpyHeader h = read_npy_header(bytes, name);
    const detail::NpyLayout layout = detail::npy_layout<Scalar>(h, bytes.size() - h.data_offset, name);
    RowMatrix<Scalar> out = detail::npy_destination<Scalar>(layout);
    if (layout.payload) std::memcpy(out.data(), bytes.data() + h.data_offset, static_cast<std::size_t>(layout.payload));
    detail::npy_finish(out, layout, options, name);
    return out;
}

}  // namespace kerec
