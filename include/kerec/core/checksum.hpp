// kerec/core/checksum.hpp — CRC-32C (Castagnoli) for file and record integrity.
//
// Used by every binary format and append-only log in kerec to detect torn or corrupted data.
// Polynomial 0x82F63B78 (reflected), slice-by-8 tables built at compile time: ~1–2 GB/s per core,
// O(bytes). crc32c("123456789") == 0xE3069283.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace kerec {

namespace detail {
constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc32c_tables() {
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
        for (std::size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    return t;
}
inline constexpr auto crc32c_tables = make_crc32c_tables();
}  // namespace detail

/// Continue a CRC-32C over `size` bytes. Start with crc = 0.
inline std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0) noexcept {
    const auto& t = detail::crc32c_tables;
    auto p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    while (size >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);  // little-endian hosts (x86-64, aarch64)
        w ^= crc;
        crc = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^ t[5][(w >> 16) & 0xFF] ^ t[4][(w >> 24) & 0xFF] ^
              t[3][(w >> 32) & 0xFF] ^ t[2][(w >> 40) & 0xFF] ^ t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
        p += 8;
        size -= 8;
    }
    while (size--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
    return ~crc;
}

inline std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0) noexcept {
    return crc32c(bytes.data(), bytes.size(), crc);
}

}  // namespace kerec
