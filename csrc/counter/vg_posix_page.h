/* vg_posix_page.h - the parts of a counter backend that any POSIX system can run.
 *
 * Included by exactly one backend per build: vg_counter_linux.c (Linux) or vg_counter_posix.c (macOS and
 * other POSIX systems). It owns:
 *   - errno -> vg_error, with the kind the Python layer maps to an exception;
 *   - the VMClock page's seqlock, read and written with bounds (a wedged page is an error, not a hang);
 *   - mapping a simulated counter's page: anonymous memory, or a file shared by processes and created
 *     under flock so that two processes racing to create it agree on one page;
 *   - the rules for opening a counter file that may sit in a directory other users can write (file_open),
 *     and noticing later that the file was truncated, replaced or removed (file_check; the SIGBUS guard in
 *     vg_file_guard.h covers the hot path, which makes no system call).
 * How a waiter sleeps differs per OS (futex on Linux, pipes elsewhere) and stays in the backend.
 */
#ifndef VG_POSIX_PAGE_H
#define VG_POSIX_PAGE_H

#include "vg_counter.h"
#include "vg_file_guard.h"
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
/* ... then yield until this. The kernel's read() gives up after 100 ms, but its writer is the hypervisor; ours is
 * a process that a busy machine can deschedule for longer than that in mid-store (stress mode saw it), so a live
 * writer must not read as a wedged one: 1 s. */
#define VG_SEQ_DEADLINE_NS (1000 * 1000000LL)
#define VG_FILE_RECHECK_NS (250 * 1000000LL)/* a waiter on a counter file looks at the file this often */

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
static inline int page_read_gen(const volatile vg_vmclock_page *page, int ext, const int *closed, vg_gen *out,
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

/* ---------- counter files ---------- */

/* A counter file, as opened: enough to notice later that it was truncated, replaced or removed. */
typedef struct vg_file {
    char *path;               /* NULL: the counter has no file */
    int fd;
    dev_t dev;
    ino_t ino;
    off_t need;               /* the page needs the file to stay at least this long */
    vg_guard *guard;          /* the SIGBUS guard of its mapping; NULL for the vmclock device */
    const char *what;         /* "simulated counter file", "vmclock page file" */
    const char *why;          /* set once it is gone: "truncated", "replaced", "removed" */
    int64_t next_check_ns;    /* waits look at the path again from then on */
} vg_file;

static void file_init(vg_file *f, const char *what) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->what = what;
}

static const char *file_type(mode_t m) {
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : S_ISLNK(m) ? "a symbolic link"
         : "not a plain file";
}

/* Open a counter file the way a shared directory such as /tmp requires:
 *   - never follow a symlink at the last component (O_NOFOLLOW): another user could point it anywhere;
 *   - create only a new file (O_CREAT|O_EXCL), mode 0644 less the umask, or exactly the mode asked for;
 *   - only a regular file, checked with fstat after an O_NONBLOCK open (a FIFO would block open() forever);
 *   - owned by the caller or root, and writable by nobody else unless VG_OPEN_SHARED_WRITE: whoever can write
 *     it can forge a restore, wedge the seqlock or truncate it.
 * want_write: simulated (read-write, or read-only if that is all we may). allow_device: vmclock, whose
 * character device keeps the device's own rules (a udev symlink to it is followed). f->fd is set as soon as
 * the file is open, so the caller closes it on every path. */
static int file_open(vg_file *f, const char *path, int flags, int want_write, int allow_device, struct stat *st,
                     int *writable, int *is_device, vg_error *err) {
    const int base = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
    int fd = -1, e = 0, created = 0;
    unsigned mode = (flags & VG_OPEN_MODE_SET) ? VG_OPEN_MODE_OF(flags) : 0644;
    *writable = want_write;
    *is_device = 0;
    if ((mode & 022) && !(flags & VG_OPEN_SHARED_WRITE))
        return fail(err, VG_E_INVALID, 0, "mode %03o lets group or others write the counter file: pass "
                    "shared_write=True if that is what you want", mode);
    for (int tries = 0; tries < 16; tries++) {
        int create_errno = 0;
        if (want_write && (flags & VG_OPEN_CREATE)) {
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | base, (mode_t)mode);
            if (fd >= 0) {
                created = 1;
                break;
            }
            create_errno = errno;   /* EEXIST; or EACCES/EROFS, which an existing file may still get past */
            if (create_errno != EEXIST && create_errno != EACCES && create_errno != EROFS && create_errno != EPERM) {
                e = create_errno;
                break;
            }
        }
        fd = open(path, (want_write ? O_RDWR : O_RDONLY) | base);
        if (fd < 0 && want_write && (errno == EACCES || errno == EROFS || errno == EPERM)) {
            fd = open(path, O_RDONLY | base);   /* still useful: read and wait, not store */
            *writable = 0;
        }
        if (fd >= 0) break;
        e = errno;
        if (e == ENOENT && create_errno && create_errno != EEXIST) {
            e = create_errno;   /* could not create it, and it does not exist: say why it could not be created */
            break;
        }
        if (!(e == ENOENT && create_errno == EEXIST)) break;   /* else removed in between our two opens: again */
    }
    if (fd < 0 && e == ELOOP && allow_device) {   /* a symlink: acceptable only to the vmclock device */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0 && (fstat(fd, st) != 0 || !S_ISCHR(st->st_mode))) {
            close(fd);
            fd = -1;
        }
        if (fd < 0) e = ELOOP;
    }
    if (fd < 0) {
        struct stat lst;
        if (e == ELOOP)
            return fail(err, VG_E_PERMISSION, ELOOP, "%s is a symbolic link: vmgen never follows one at the end of "
                        "a counter file's path (in a shared directory another user could point it anywhere)", path);
        if (e == ENXIO && lstat(path, &lst) == 0)
            return fail(err, VG_E_INVALID, 0, "%s: %s, not a regular file; a %s must be one", path,
                        file_type(lst.st_mode), f->what);
        return fail_errno(err, e, "cannot open", path);
    }
    f->fd = fd;
    if (fstat(fd, st) != 0) return fail_errno(err, errno, "cannot stat", path);
    if (allow_device && S_ISCHR(st->st_mode)) {
        *is_device = 1;
        return VG_OK;
    }
    if (!S_ISREG(st->st_mode))
        return fail(err, VG_E_INVALID, 0, "%s: %s, not a regular file; a %s must be one", path,
                    file_type(st->st_mode), f->what);
    if (st->st_uid != geteuid() && st->st_uid != 0)
        return fail(err, VG_E_PERMISSION, EPERM, "%s is owned by uid %u, neither you (uid %u) nor root: its owner "
                    "could forge or wedge the counter; refusing it", path, (unsigned)st->st_uid, (unsigned)geteuid());
    if (created && (flags & VG_OPEN_MODE_SET)) {   /* exactly the mode asked for, whatever the umask */
        if (fchmod(fd, (mode_t)mode) != 0 || fstat(fd, st) != 0) return fail_errno(err, errno, "cannot chmod", path);
    }
    if ((st->st_mode & 022) && !(flags & VG_OPEN_SHARED_WRITE))
        return fail(err, VG_E_PERMISSION, EPERM, "%s is writable by its group or others (mode %03o): whoever can "
                    "write it can forge a restore or wedge the counter; pass shared_write=True to accept that",
                    path, (unsigned)(st->st_mode & 0777));
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    if (!(f->path = strdup(path))) return fail(err, VG_E_OS, ENOMEM, "out of memory");
    return VG_OK;
}

/* Guard a fresh mapping of f (before anything reads it): a truncation then costs a VmgenError, not SIGBUS. */
static int file_guard(vg_file *f, void *map, size_t map_len, off_t need, vg_error *err) {
    f->need = need;
    f->guard = guard_add(map, map_len, f->fd, err);
    return f->guard ? VG_OK : VG_ERROR;
}

/* Before unmapping. */
static void file_unguard(vg_file *f) {
    guard_remove(f->guard);
    f->guard = NULL;
}

static void file_close(vg_file *f) {
    if (f->fd >= 0) close(f->fd);
    f->fd = -1;
    free(f->path);
    f->path = NULL;
}

/* Has the file been found gone (by file_check, or by the SIGBUS guard)? */
static int file_gone(const vg_file *f) {
    return f->guard && (__atomic_load_n(&f->why, __ATOMIC_ACQUIRE) || guard_broken(f->guard));
}

static int file_gone_error(vg_file *f, vg_error *err) {
    const char *why = __atomic_load_n(&f->why, __ATOMIC_ACQUIRE);
    const char *how = !why || !strcmp(why, "truncated") ? "truncated under its mapping (the page is gone)"
                    : !strcmp(why, "replaced") ? "replaced (another file renamed over its path, which processes "
                                                 "opening it now share instead)"
                    : "removed from its directory (a process opening the path now gets a new counter)";
    return fail(err, VG_E_BROKEN, 0, "%s %s was %s: this counter can no longer see changes and changed() reports "
                "True from now on; reopen it", f->what, f->path, how);
}

/* Is f still the file this counter mapped, at its length? VG_OK, or VG_ERROR (VG_E_BROKEN) once it was
 * truncated, replaced (st_dev/st_ino of the path differ from the open file's) or removed; then its mapping is
 * covered by the guard's sentinel page, so changed() turns conservative. Two system calls: for read(), stores,
 * describe() and, every VG_FILE_RECHECK_NS, waits; never the hot path. */
static int file_check(vg_file *f, vg_error *err) {
    if (!f->guard) return VG_OK;   /* no file, or the vmclock device */
    if (!file_gone(f)) {
        struct stat st;
        const char *why = NULL;
        if (fstat(f->fd, &st) == 0 && st.st_size < f->need) why = "truncated";
        else if (lstat(f->path, &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR) why = "removed";
        } else if (st.st_dev != f->dev || st.st_ino != f->ino) why = "replaced";
        if (!why) return VG_OK;
        const char *none = NULL;
        __atomic_compare_exchange_n(&f->why, &none, why, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
        guard_break(f->guard);
    }
    return file_gone_error(f, err);
}

/* For wait loops: the gone flag always, the file itself once per VG_FILE_RECHECK_NS. */
static int file_watch(vg_file *f, vg_error *err) {
    if (!f->guard) return VG_OK;
    if (file_gone(f)) return file_gone_error(f, err);
    int64_t now = vg_now_ns();
    if (now < __atomic_load_n(&f->next_check_ns, __ATOMIC_RELAXED)) return VG_OK;
    __atomic_store_n(&f->next_check_ns, now + VG_FILE_RECHECK_NS, __ATOMIC_RELAXED);
    return file_check(f, err);
}

/* describe(): the backend's line, or what became of its file. */
static const char *file_describe(vg_file *f, const char *desc, char *buf, size_t n) {
    vg_error e;
    if (file_check(f, &e) == VG_OK) return desc;
    snprintf(buf, n, "BROKEN: %s", e.msg);
    return buf;
}

/* Open (creating it if asked and missing) and map a simulated-counter file, MAP_SHARED, under file_open's
 * rules. *writable: 0 when the file is read-only for this process (still useful: read and wait, not store). */
static int page_map_sim_file(vg_file *f, const char *path, int flags, int *writable, volatile vg_vmclock_page **out,
                             vg_error *err) {
    struct stat st;
    int is_device;
    if (file_open(f, path, flags, 1, 0, &st, writable, &is_device, err) != VG_OK) return VG_ERROR;
    int fd = f->fd;
    if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0) return fail_errno(err, errno, "cannot lock", path);
    if (st.st_size == 0 && *writable) {   /* new (ours, or another process's racing us): lay out a fresh page */
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
    if (file_guard(f, p, VG_PAGE_SIZE, VG_PAGE_SIZE, err) != VG_OK) return VG_ERROR;
    const char *why = vg_page_check_backed(p, 1, (uint64_t)st.st_size);
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
