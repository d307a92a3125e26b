// kerec/version.hpp — the library's version (semantic versioning). CMake reads it from here, so
// a copy of include/ vendored without CMake knows its version too. O(1).
#pragma once

#define KEREC_VERSION_MAJOR 0
#define KEREC_VERSION_MINOR 2
#define KEREC_VERSION_PATCH 0
/// MAJOR * 10000 + MINOR * 100 + PATCH, for `#if KEREC_VERSION >= 200`.
#define KEREC_VERSION (KEREC_VERSION_MAJOR * 10000 + KEREC_VERSION_MINOR * 100 + KEREC_VERSION_PATCH)

namespace kerec {
inline constexpr int version_major = KEREC_VERSION_MAJOR;
inline constexpr int version_minor = KEREC_VERSION_MINOR;
inline constexpr int version_patch = KEREC_VERSION_PATCH;
}  // namespace kerec
