// kerec/core/npy.hpp — NumPy .npy files <-> Eigen matrices (via xtensor's npy support).
//
// Embeddings (h1, h2, final entity representations) travel to and from numpy as 2-D .npy files:
// magic "\x93NUMPY", version, a little-endian header length, a Python-dict header
// {'descr': '<f4'|'<f8', 'fortran_order': bool, 'shape': (rows, cols)} padded to 64 bytes, then the
// data. The header, dtype, rank and exact payload size are validated before any data is trusted
// (ParseError otherwise); writes are atomic. O(rows * cols).
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

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
            throw fail(i, fmt::format("unknown key '{}'", key));
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

template <class Scalar>
constexpr std::string_view npy_descr() {
    if constexpr (std::is_same_v<Scalar, float>) return "<f4";
    else if constexpr (std::is_same_v<Scalar, double>) return "<f8";
    else static_assert(sizeof(Scalar) == 0, "kerec npy: Scalar must be float or double");
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

/// Load a 2-D .npy whose dtype is exactly Scalar (float -> '<f4', double -> '<f8').
/// Wrong dtype, rank, a corrupt header or a payload of the wrong size throw ParseError.
template <class Scalar>
RowMatrix<Scalar> load_npy(const std::filesystem::path& path) {
    const std::string name = path.string();
    const std::string bytes = read_file(path);
    const NpyHeader h = read_npy_header(bytes, name);
    const std::string_view want = detail::npy_descr<Scalar>();
    if (h.descr != want && !(h.descr.size() == 3 && h.descr[0] == '=' && h.descr.substr(1) == want.substr(1)))
        throw ParseError(name, 0, 0, fmt::format("npy dtype '{}' (expected '{}')", h.descr, want));
    if (h.shape.size() != 2)
        throw ParseError(name, 0, 0, fmt::format("npy array has rank {} (expected 2: rows, cols)", h.shape.size()));
    const std::uint64_t rows = h.shape[0], cols = h.shape[1];
    constexpr std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<Eigen::Index>::max());
    if (rows > limit || cols > limit || (cols != 0 && rows > limit / cols / sizeof(Scalar)))
        throw ParseError(name, 0, 0, fmt::format("npy shape ({}, {}) is too large", rows, cols));
    const std::uint64_t payload = rows * cols * sizeof(Scalar);
    if (bytes.size() - h.data_offset != payload)
        throw ParseError(name, 0, 0,
                         fmt::format("npy payload is {} bytes, shape ({}, {}) of '{}' needs {}{}", bytes.size() - h.data_offset,
                                     rows, cols, h.descr, payload,
                                     bytes.size() - h.data_offset < payload ? " (file truncated)" : " (trailing bytes)"));
    RowMatrix<Scalar> out(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
    if (payload == 0) return out;
    try {
        std::istringstream in(bytes);
        auto arr = xt::load_npy<Scalar>(in);
        if (arr.size() != static_cast<std::size_t>(out.size())) throw ParseError(name, 0, 0, "npy payload size mismatch");
        if (h.fortran_order) {
            Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>> src(
                arr.data(), out.rows(), out.cols());
            out = src;
        } else {
            std::memcpy(out.data(), arr.data(), payload);
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw ParseError(name, 0, 0, fmt::format("npy decode failed: {}", e.what()));
    }
    return out;
}

}  // namespace kerec
