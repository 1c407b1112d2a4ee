/* vg_vmclock.h - the VMClock page (include/uapi/linux/vmclock-abi.h) and its seqlock, in portable C.
 *
 * Shared by every backend that keeps its generation in such a page: the real vmclock device,
 * the simulated counter (in memory or in a file shared by processes) and the vmgenid listener's
 * private page. One reader, one writer, no OS headers (Windows builds it too).
 *
 * Bytes 112.. of the page are vmgen's own extension, used only by pages vmgen writes itself
 * (simulated, vmgenid): GenerationCountHigh, a change sequence for the hot path, and a marker.
 */
#ifndef VG_VMCLOCK_H
#define VG_VMCLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vg_msvc_atomic.h"   /* MSVC: the __atomic builtins below, as macros (Windows native builds) */

#define VG_PAGE_SIZE 4096u
#define VMCLOCK_MAGIC 0x4b4c4356u            /* "VCLK" */
#define VMCLOCK_VERSION 1u
#define VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT (1ull << 8)
#define VMCLOCK_FLAG_NOTIFICATION_PRESENT (1ull << 9)
#define VG_EXT_MAGIC 0x4d534756u             /* "VGSM": page written by vmgen */

/* Little-endian layout, x86_64/aarch64 natural alignment; offsets checked below. */
typedef struct vg_vmclock_page {
    uint32_t magic;                 /* 0 */
    uint32_t size;                  /* 4 */
    uint16_t version;               /* 8 */
    uint8_t counter_id;             /* 10 */
    uint8_t time_type;              /* 11 */
    uint32_t seq_count;             /* 12: odd = update in progress */
    uint64_t disruption_marker;     /* 16 */
    uint64_t flags;                 /* 24 */
    uint8_t pad[2], clock_status, leap_second_smearing_hint; /* 32 */
    int16_t tai_offset_sec;         /* 36 */
    uint8_t leap_indicator, counter_period_shift;             /* 38 */
    uint64_t counter_value;         /* 40 */
    uint64_t counter_period_frac_sec;                    /* 48 */
    uint64_t counter_period_esterror_rate_frac_sec;      /* 56 */
    uint64_t counter_period_maxerror_rate_frac_sec;      /* 64 */
    uint64_t time_sec, time_frac_sec, time_esterror_nanosec, time_maxerror_nanosec; /* 72..96 */
    uint64_t vm_generation_counter; /* 104 */
    /* --- vmgen extension (not part of the kernel ABI) --- */
    uint64_t vg_count_high;         /* 112: GenerationCountHigh */
    uint64_t vg_changes;            /* 120: bumped on every change; the hot-path word */
    uint32_t vg_magic;              /* 128: VG_EXT_MAGIC */
    uint32_t vg_reserved;           /* 132 */
} vg_vmclock_page;

#define VMCLOCK_ABI_SIZE 112u       /* sizeof(struct vmclock_abi) */

_Static_assert(offsetof(vg_vmclock_page, seq_count) == 12, "seq_count");
_Static_assert(offsetof(vg_vmclock_page, flags) == 24, "flags");
_Static_assert(offsetof(vg_vmclock_page, counter_value) == 40, "counter_value");
_Static_assert(offsetof(vg_vmclock_page, time_sec) == 72, "time_sec");
_Static_assert(offsetof(vg_vmclock_page, vm_generation_counter) == 104, "vm_generation_counter");
_Static_assert(offsetof(vg_vmclock_page, vg_count_high) == VMCLOCK_ABI_SIZE, "extension");
_Static_assert(sizeof(vg_vmclock_page) == 136, "page struct");

#define VG_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define VG_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* Check a page before trusting it. Returns NULL if fine, else why not (static string).
 * need_ext: the page must carry vmgen's extension (simulated files).
 * backing: how many bytes back the page: a file's length, or 0 for the vmclock device. The kernel's driver
 * (drivers/ptp/ptp_vmclock.c) accepts any `size` up to its memory resource (8192 is fine; 64 KiB on arm64 with
 * 64 KiB pages, where the device appears only if size >= PAGE_SIZE) and maps the first page, so vmgen asks only
 * that size covers vm_generation_counter and, for a file (the resource a file stands in for), fits in it.
 * need_ext also requires VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT; a hypervisor's page may lack it (vg_page_source). */
static inline const char *vg_page_check_backed(const volatile vg_vmclock_page *p, int need_ext, uint64_t backing) {
    if (VG_LOAD(&p->magic) != VMCLOCK_MAGIC)
        return "bad magic (not a VMClock page)";
    uint32_t size = VG_LOAD(&p->size);
    if (size < VMCLOCK_ABI_SIZE)
        return "bad size (smaller than the 112 bytes up to vm_generation_counter)";
    if (backing && size > backing)
        return "bad size (the page's size field is larger than the file holding it)";
    if (VG_LOAD(&p->version) != VMCLOCK_VERSION)
        return "unsupported version (expected 1)";
    /* Pages vmgen writes always set the flag. A hypervisor's page without it still has disruption_marker:
     * the vmclock backend follows that instead (vg_page_source), so only vmgen's own pages require the flag. */
    if (need_ext && !(VG_LOAD(&p->flags) & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT))
        return "VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT is not set (a page vmgen writes always sets it)";
    if (need_ext && (size < sizeof(vg_vmclock_page) || VG_LOAD(&p->vg_magic) != VG_EXT_MAGIC))
        return "not a vmgen simulated-counter page (missing VGSM extension)";
    return NULL;
}

/* A page vmgen maps as one VG_PAGE_SIZE view (Windows' simulated file). */
static inline const char *vg_page_check(const volatile vg_vmclock_page *p, int need_ext) {
    return vg_page_check_backed(p, need_ext, VG_PAGE_SIZE);
}

/* Lay out a fresh page (not yet visible to other readers). */
static inline void vg_page_init(vg_vmclock_page *p, uint64_t extra_flags) {
    memset((void *)p, 0, sizeof *p);
    p->size = VG_PAGE_SIZE;
    p->version = VMCLOCK_VERSION;
    p->flags = VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT | extra_flags;
    p->vg_magic = VG_EXT_MAGIC;
    __atomic_store_n(&p->magic, VMCLOCK_MAGIC, __ATOMIC_RELEASE);  /* magic last: page complete */
}

/* Where a counter's generation comes from: the `ext` argument of the readers below (0 and 1 keep their old
 * meaning, so callers that pass a literal are unchanged). Chosen once, when the counter is opened. */
enum vg_page_source {
    VG_SRC_GEN_COUNTER = 0,        /* a hypervisor's page with VM_GEN_COUNTER_PRESENT: vm_generation_counter */
    VG_SRC_VMGEN = 1,              /* a page vmgen writes (simulated, vmgenid): plus the extension words */
    VG_SRC_DISRUPTION_MARKER = 2,  /* a hypervisor's page without it (QEMU 11.1): disruption_marker, which also
                                    * changes on live migration -- a conservative restore signal */
};

/* Which word a hypervisor's page (read-only to us) should be followed by, from its flags now. */
static inline int vg_page_source(const volatile vg_vmclock_page *p) {
    return (VG_LOAD(&p->flags) & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT) ? VG_SRC_GEN_COUNTER
                                                                        : VG_SRC_DISRUPTION_MARKER;
}

/* The word changed() loads for a hypervisor's page opened with source `src` (one 64-bit load, as before). */
static inline const volatile uint64_t *vg_page_source_word(const volatile vg_vmclock_page *p, int src) {
    return src == VG_SRC_DISRUPTION_MARKER ? &p->disruption_marker : &p->vm_generation_counter;
}

typedef struct vg_page_snapshot {
    uint64_t count, count_high, changes;
    uint32_t seq;
    int src;                        /* enum vg_page_source the snapshot's count came from */
} vg_page_snapshot;

/* One seqlock read attempt: 1 = consistent snapshot in *out, 0 = retry (odd or moved).
 * ext: VG_SRC_VMGEN reads the extension words (count_high, changes). For a hypervisor's page, ext is the source
 * chosen at open, and the page's flags are read in the same snapshot: count comes from the word the flags name
 * NOW (vm_generation_counter while VM_GEN_COUNTER_PRESENT is set, else disruption_marker), and count_high is 1
 * while that flag differs from what it was at open, else 0. So a flags change is a change to read(), wait() and
 * guard(), and they never follow a word the hypervisor stopped maintaining. src = the source count came from
 * (the backend re-targets its hot word to it: vg_counter_linux.c note_source). */
static inline int vg_page_try_read(const volatile vg_vmclock_page *p, int ext, vg_page_snapshot *out) {
    uint32_t s1 = __atomic_load_n(&p->seq_count, __ATOMIC_ACQUIRE);
    if (s1 & 1u)
        return 0;
    if (ext == VG_SRC_VMGEN) {
        out->count = VG_LOAD(&p->vm_generation_counter);
        out->count_high = VG_LOAD(&p->vg_count_high);
        out->changes = VG_LOAD(&p->vg_changes);
        out->src = VG_SRC_VMGEN;
    } else {
        int now = (VG_LOAD(&p->flags) & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT) ? VG_SRC_GEN_COUNTER
                                                                             : VG_SRC_DISRUPTION_MARKER;
        out->count = VG_LOAD(vg_page_source_word(p, now));
        out->count_high = now != ext;
        out->changes = out->count;
        out->src = now;
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);   /* field loads complete before the re-check */
    uint32_t s2 = VG_LOAD(&p->seq_count);
    out->seq = s1;
    return s1 == s2;
}

/* Writer side (pages vmgen owns). Take the seqlock by moving seq_count even -> odd with a CAS, so
 * writers in several processes serialise on the page itself. 1 = taken (*seq = the odd value),
 * 0 = someone else holds it (retry). */
static inline int vg_page_try_lock(volatile vg_vmclock_page *p, uint32_t *seq) {
    uint32_t s = VG_LOAD(&p->seq_count);
    if (s & 1u)
        return 0;
    if (!__atomic_compare_exchange_n(&p->seq_count, &s, s + 1u, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return 0;
    __atomic_thread_fence(__ATOMIC_RELEASE);   /* odd seq visible before any field store */
    *seq = s + 1u;
    return 1;
}

/* Store the generation under a held lock and release it. Returns 1 if the value changed. */
static inline int vg_page_store_unlock(volatile vg_vmclock_page *p, uint32_t seq, uint64_t count,
                                       uint64_t count_high) {
    int changed = VG_LOAD(&p->vm_generation_counter) != count || VG_LOAD(&p->vg_count_high) != count_high;
    if (changed) {
        VG_STORE(&p->vm_generation_counter, count);
        VG_STORE(&p->vg_count_high, count_high);
        /* The hot-path word last, with release: whoever sees it move also sees the new value. */
        __atomic_store_n(&p->vg_changes, VG_LOAD(&p->vg_changes) + 1u, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&p->seq_count, seq + 1u, __ATOMIC_RELEASE);
    return changed;
}

#endif /* VG_VMCLOCK_H */
