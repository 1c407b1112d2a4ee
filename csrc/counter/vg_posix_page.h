/* vg_posix_page.h - the parts of a counter backend that any POSIX system can run.
 *
 * Included by exactly one backend per build: vg_counter_linux.c (Linux) or vg_counter_posix.c (macOS and
 * other POSIX systems). It owns:
 *   - errno -> vg_error, with the kind the Python layer maps to an exception;
 *   - the VMClock page's seqlock, read and written with bounds (a wedged page is an error, not a hang);
 *   - mapping a simulated counter's page: anonymous memory, or a file shared by processes and created
 *     under flock so that two processes racing to create it agree on one page.
 * How a waiter sleeps differs per OS (futex on Linux, pipes elsewhere) and stays in the backend.
 */
#ifndef VG_POSIX_PAGE_H
#define VG_POSIX_PAGE_H

#include "vg_counter.h"
#include "vg_vmclock.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VG_SEQ_SPINS 1024                   /* AWS-LC's bound on tight seqlock retries ... */
#define VG_SEQ_DEADLINE_NS (100 * 1000000LL)/* ... then yield until this (the kernel's read() uses 100 ms) */

#define fail(err, kind, e, ...) vg_fail((err), (kind), (e), 0, __VA_ARGS__)

static int fail_errno(vg_error *err, int e, const char *what, const char *path) {
    int kind = VG_E_OS;
    const char *hint = "";
    if (e == ENOENT || e == ENODEV || e == ENXIO) kind = VG_E_NOT_FOUND;
    else if (e == EACCES || e == EPERM) {
        kind = VG_E_PERMISSION;
        hint = " (needs read access: run as root or grant it with a udev rule)";
    }
    return fail(err, kind, e, "%s %s: %s%s", what, path ? path : "", strerror(e), hint);
}

/* Exported (vg_counter.h): this header is compiled into exactly one backend. */
int64_t vg_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void *vg_interrupt_handle(void) { return NULL; }   /* POSIX waits see signals as EINTR */

static void ns_to_timespec(int64_t ns, struct timespec *ts) {
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Past the tight retries, yield until a deadline; then the page is wedged. 1 = keep trying. */
static int seq_backoff(unsigned i, int64_t *deadline) {
    if (i < VG_SEQ_SPINS) {
        cpu_relax();
        return 1;
    }
    int64_t now = vg_now_ns();
    if (!*deadline) *deadline = now + VG_SEQ_DEADLINE_NS;
    else if (now > *deadline) return 0;
    sched_yield();
    return 1;
}

/* A consistent snapshot of the page, or VG_E_WEDGED if its writer never finishes. */
static int page_read(const volatile vg_vmclock_page *page, int ext, vg_page_snapshot *snap, vg_error *err) {
    int64_t deadline = 0;
    for (unsigned i = 0; !vg_page_try_read(page, ext, snap); i++)
        if (!seq_backoff(i, &deadline))
            return fail(err, VG_E_WEDGED, EAGAIN,
                        "VMClock seqlock never settled (seq_count=0x%x for %lld ms): the page's writer is wedged",
                        (unsigned)VG_LOAD(&page->seq_count), (long long)(VG_SEQ_DEADLINE_NS / 1000000));
    return VG_OK;
}

static void snap_to_gen(const vg_page_snapshot *s, vg_gen *g) {
    g->count = s->count;
    g->count_high = s->count_high;
}

static int same_gen(const vg_page_snapshot *s, const vg_gen *g) {
    return s->count == g->count && s->count_high == g->count_high;
}

/* vg_read for a page-backed counter: VG_CLOSED once *closed is set, else a consistent generation. */
static int page_read_gen(const volatile vg_vmclock_page *page, int ext, const int *closed, vg_gen *out,
                         vg_error *err) {
    if (__atomic_load_n(closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    vg_page_snapshot s;
    int rc = page_read(page, ext, &s, err);
    if (rc == VG_OK) snap_to_gen(&s, out);
    return rc;
}

/* A fresh simulated page in private anonymous memory (one VG_PAGE_SIZE mapping). */
static int page_map_anon(volatile vg_vmclock_page **out, vg_error *err) {
    void *p = mmap(NULL, VG_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
    if (p == MAP_FAILED) return fail_errno(err, errno, "mmap", "anonymous page");
    vg_page_init(p, 0);
    *out = p;
    return VG_OK;
}

/* Open (creating it if asked and missing) and map a simulated-counter file, MAP_SHARED.
 * *fd is set as soon as the file is open, so the caller closes it on every path. *writable: 0 when the
 * file is read-only for this process (still useful: read and wait, not store). */
static int page_map_sim_file(const char *path, int flags, int *fd_out, int *writable,
                             volatile vg_vmclock_page **out, vg_error *err) {
    int fd = open(path, O_RDWR | O_CLOEXEC | ((flags & VG_OPEN_CREATE) ? O_CREAT : 0), 0666);
    *writable = 1;
    if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        *writable = 0;
    }
    if (fd < 0) return fail_errno(err, errno, "cannot open simulated counter", path);
    *fd_out = fd;
    struct stat st;
    if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) return fail_errno(err, errno, "cannot lock", path);
    if (!S_ISREG(st.st_mode)) {
        flock(fd, LOCK_UN);
        return fail(err, VG_E_INVALID, 0, "%s: a simulated counter must be a regular file", path);
    }
    if (st.st_size == 0 && *writable) {
        vg_vmclock_page fresh;
        static const char zeros[VG_PAGE_SIZE];
        vg_page_init(&fresh, 0);
        if (pwrite(fd, zeros, sizeof zeros, 0) != (ssize_t)sizeof zeros ||
            pwrite(fd, &fresh, sizeof fresh, 0) != (ssize_t)sizeof fresh) {
            int e = errno;
            flock(fd, LOCK_UN);
            return fail_errno(err, e ? e : EIO, "cannot initialise", path);
        }
        st.st_size = VG_PAGE_SIZE;
    }
    flock(fd, LOCK_UN);
    if (st.st_size < (off_t)VG_PAGE_SIZE)
        return fail(err, VG_E_INVALID, 0, "%s: %lld bytes; a simulated counter file is one %u-byte page",
                    path, (long long)st.st_size, VG_PAGE_SIZE);
    void *p = mmap(NULL, VG_PAGE_SIZE, PROT_READ | (*writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return fail_errno(err, errno, "cannot mmap", path);
    *out = p;
    const char *why = vg_page_check(p, 1);
    if (why) return fail(err, VG_E_INVALID, 0, "%s: %s", path, why);
    return VG_OK;
}

/* vg_sim_store's common part: store a generation (absolute, or count + 1 with a 128-bit carry) under the
 * page's own seqlock, which writers in every process sharing the page serialise on. VG_CLOSED once *closed
 * is set. *changed: the value moved (the caller wakes waiters its own way). */
static int page_sim_store(volatile vg_vmclock_page *page, const int *closed, int writable, const vg_gen *value,
                          int advance, vg_gen *out, int *changed, vg_error *err) {
    *changed = 0;
    if (__atomic_load_n(closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    if (!writable)
        return fail(err, VG_E_PERMISSION, EACCES, "this simulated counter file is read-only for this process");
    uint32_t seq;
    int64_t deadline = 0;
    for (unsigned i = 0; !vg_page_try_lock(page, &seq); i++)   /* another writer holds it */
        if (!seq_backoff(i, &deadline))
            return fail(err, VG_E_WEDGED, EAGAIN,
                        "simulated counter page is locked (seq_count=0x%x): a writer died mid-update?",
                        (unsigned)VG_LOAD(&page->seq_count));
    vg_gen g;
    if (advance) {
        g.count = VG_LOAD(&page->vm_generation_counter) + 1u;
        g.count_high = VG_LOAD(&page->vg_count_high) + (g.count == 0);
    } else g = *value;
    *changed = vg_page_store_unlock(page, seq, g.count, g.count_high);
    *out = g;
    return VG_OK;
}

#endif /* VG_POSIX_PAGE_H */
