// Replaces the global operator new/delete to count allocations while g_count_allocs is set (the
// recall tests check that a warm request makes none). Its own translation unit, so that no call
// site sees malloc/free behind new/delete.
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

std::atomic<bool> g_count_allocs{false};
std::atomic<std::size_t> g_allocs{0};

void* operator new(std::size_t n) {
    if (g_count_allocs.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
