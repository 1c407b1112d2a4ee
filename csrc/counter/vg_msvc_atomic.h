/* vg_msvc_atomic.h - the few GCC __atomic builtins vmgen's portable headers use, for MSVC (cl.exe) builds of
 * the Windows extension (pip install / cibuildwheel on Windows). gcc, clang and mingw-w64 use the builtins.
 *
 * Relies on /volatile:ms (setup.py passes it on win32; it is MSVC's default on x64): every access these
 * macros are used for is to a volatile object, and under /volatile:ms volatile loads have acquire and volatile
 * stores release semantics, on x64 and arm64. Aligned <= 8-byte accesses are single-copy atomic on both.
 * Only the 32-bit compare-exchange (the seqlock's seq_count) is needed.
 * Untested here (no MSVC on the Linux CI); the tested Windows build is mingw-w64's, under Wine.
 */
#ifndef VG_MSVC_ATOMIC_H
#define VG_MSVC_ATOMIC_H
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>

#define __ATOMIC_RELAXED 0
#define __ATOMIC_ACQUIRE 2
#define __ATOMIC_RELEASE 3
#define __ATOMIC_ACQ_REL 4

#define __atomic_load_n(p, m) (*(p))
#define __atomic_store_n(p, v, m) ((void)(*(p) = (v)))
#define __atomic_thread_fence(m) (_ReadWriteBarrier(), __faststorefence(), _ReadWriteBarrier())
#define __atomic_compare_exchange_n(p, expected, desired, weak, s, f) \
    vg__cas32((volatile long *)(p), (long *)(expected), (long)(desired))

static __forceinline int vg__cas32(volatile long *p, long *expected, long desired) {
    long old = _InterlockedCompareExchange(p, desired, *expected);
    if (old == *expected) return 1;
    *expected = old;
    return 0;
}
#endif
#endif
