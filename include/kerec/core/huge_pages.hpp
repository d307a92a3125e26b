// kerec/core/huge_pages.hpp — a transparent-huge-page hint for large, randomly accessed tables.
//
// Support code, not part of the paper's method. Lazy sparse-row updates (the contrastive step's
// Adam moments) touch a few thousand rows scattered over tables of tens of megabytes: nearly every
// row is a TLB miss, which is dearer still under virtualisation. advise_huge_pages() asks Linux
// to back the 2 MiB-aligned interior of [p, p + bytes) with huge pages (madvise MADV_HUGEPAGE),
// which helps when THP is in "madvise" mode; call it before the memory is first written. It is a
// hint: errors are ignored, and it does nothing elsewhere or for blocks under 4 MiB. O(1).
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace kerec {

inline void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
    if (p == nullptr || bytes < 2 * huge) return;
    const auto begin = (reinterpret_cast<std::uintptr_t>(p) + huge - 1) & ~(huge - 1);
    const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(huge - 1);
    if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
    (void)p, (void)bytes;
#endif
}

}  // namespace kerec
