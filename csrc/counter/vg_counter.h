/* vg_counter.h - the platform-neutral generation-counter interface.
 *
 * vmgen/_counter.pyx calls only what is declared here, so the same .pyx builds on Linux
 * (csrc/vg_counter_linux.c) and on Windows (csrc/vg_counter_windows.c). Everything OS-specific
 * lives behind these functions.
 *
 * Threading contract:
 *   - vg_read, vg_wait, vg_sim_store and vg_hot_word may run without the GIL, from any thread,
 *     concurrently with each other.
 *   - vg_close may run concurrently with vg_wait (it is how waiters get woken with VG_CLOSED);
 *     it never frees memory. vg_free frees everything and must only be called once no other call
 *     on the counter is in flight (the Cython layer counts in-flight waits under the GIL).
 *   - vg_wake wakes every current vg_wait with VG_WOKEN (used to stop subscription threads).
 */
#ifndef VG_COUNTER_H
#define VG_COUNTER_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Backend ids: also the priority order of vmgen.backends(). */
enum vg_backend {
    VG_BACKEND_WINDOWS = 0,
    VG_BACKEND_VMCLOCK = 1,
    VG_BACKEND_VMGENID = 2,
    VG_BACKEND_SIMULATED = 3,
};

/* Return codes of every function that returns int (unless it says otherwise). */
enum vg_status {
    VG_OK = 0,
    VG_TIMEOUT = 1,      /* vg_wait: the deadline passed with no change */
    VG_INTERRUPTED = 2,  /* vg_wait: a signal arrived (EINTR / SIGINT event); caller checks signals, retries */
    VG_CLOSED = 3,       /* the counter was closed (before or during the call) */
    VG_WOKEN = 4,        /* vg_wait: vg_wake() was called; caller decides whether to wait again */
    VG_ERROR = -1,       /* see the vg_error filled in by the call */
};

/* What kind of error; the Cython layer maps it to a Python exception. */
enum vg_errkind {
    VG_E_OS = 1,           /* OSError(sys_errno) or OSError(winerror) */
    VG_E_NOT_FOUND = 2,    /* vmgen.DeviceNotFound */
    VG_E_NOT_SUPPORTED = 3,/* vmgen.NotSupported */
    VG_E_PERMISSION = 4,   /* PermissionError */
    VG_E_INVALID = 5,      /* ValueError: bad page (magic, size, version, flags) or bad argument */
    VG_E_WEDGED = 6,       /* the seqlock stayed odd/moving past the retry bound: vmgen.VmgenError */
    VG_E_BROKEN = 7,       /* the counter's file was truncated, replaced or removed while open: vmgen.VmgenError */
};

typedef struct vg_error {
    int kind;              /* enum vg_errkind */
    int sys_errno;         /* errno, 0 if none */
    unsigned long winerror;/* GetLastError(), 0 if none (Windows only) */
    char msg[240];         /* one line, no trailing newline */
} vg_error;

/* Fill *err (if given) and return VG_ERROR: the one way every backend reports a failure. */
static inline int vg_fail(vg_error *err, int kind, int sys_errno, unsigned long winerror, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->kind = kind;
        err->sys_errno = sys_errno;
        err->winerror = winerror;
    }
    return VG_ERROR;
}

/* VM_GENCOUNTER: GenerationCount, GenerationCountHigh. */
typedef struct vg_gen {
    uint64_t count;
    uint64_t count_high;
} vg_gen;

typedef struct vg_counter vg_counter;   /* opaque */

/* Open flags. The rules for a counter file (POSIX; docs/counter.md "Counter files"): never follow a symlink at
 * the last component, only a regular file, owned by the caller or root, not writable by group or others unless
 * VG_OPEN_SHARED_WRITE. The vmclock character device keeps the device's own rules. Windows ignores all but CREATE. */
#define VG_OPEN_CREATE 0x1        /* simulated with a path: create the file (O_EXCL, as a fresh page) if missing */
#define VG_OPEN_SHARED_WRITE 0x2  /* accept a file its group or others may write (they can forge or wedge it) */
#define VG_OPEN_MODE_SET 0x4      /* create with exactly VG_OPEN_MODE_OF(flags), not 0644 less the umask */
#define VG_OPEN_MODE(m) (VG_OPEN_MODE_SET | (((m) & 0777) << 8))
#define VG_OPEN_MODE_OF(flags) (((unsigned)(flags) >> 8) & 0777)

/* What the hot word holds once a counter's file is gone (truncated, replaced, removed): the page was swapped
 * for a private one carrying this value. token() never hands it out (it returns VG_HOT_BROKEN ^ 1 instead), so
 * changed() is True for every token from then on: the conservative answer, still one load. */
#define VG_HOT_BROKEN 0xBADF11E0BADF11E0ull

/* Is this backend usable here? VG_OK, or VG_ERROR with err->msg saying why not.
 * path: as for vg_open (NULL = the backend's default device). Never blocks for long. */
int vg_probe(int backend, const char *path, vg_error *err);

/* Open a counter. path: simulated = NULL (in-process) or a file holding a VMClock-shaped page;
 * vmclock = device or file (NULL = /dev/vmclock0); vmgenid = the device's kobject DEVPATH as it
 * appears in uevents, e.g. "/devices/platform/VMGENCTR:00"; windows = NULL. */
int vg_open(int backend, const char *path, int flags, vg_counter **out, vg_error *err);

/* Exact, fresh read of the current generation. */
int vg_read(vg_counter *c, vg_gen *out, vg_error *err);

/* Block until the generation differs from *seen (then *out = the new one, VG_OK), or until
 * deadline_ns on vg_now_ns()'s clock (-1 = no deadline; VG_TIMEOUT), a signal (VG_INTERRUPTED),
 * vg_wake (VG_WOKEN) or vg_close (VG_CLOSED). Call without the GIL.
 * interrupt: vg_interrupt_handle() (Windows: the interpreter's SIGINT event; Linux: unused, NULL). */
int vg_wait(vg_counter *c, const vg_gen *seen, vg_gen *out, int64_t deadline_ns, void *interrupt,
            vg_error *err);

/* The 64-bit word changed() compares a token against: load it with vg_hot_load (one atomic
 * acquire load, no system call). Valid until vg_free. Its value is opaque: it differs from an
 * earlier value whenever the generation has changed since. vmclock re-targets it when a vg_read or vg_wait
 * finds the page's flags naming another source (issue 18): callers fetch it again after those calls. */
typedef const volatile uint64_t *vg_hot_ptr;
vg_hot_ptr vg_hot_word(vg_counter *c);

static inline uint64_t vg_hot_load(vg_hot_ptr w) {
#if defined(_MSC_VER) && !defined(__clang__)
    uint64_t v = *w;            /* aligned 64-bit loads are atomic on x64/arm64 */
    _ReadWriteBarrier();
    return v;
#else
    return __atomic_load_n(w, __ATOMIC_ACQUIRE);
#endif
}

/* An fd that becomes readable when the generation may have changed (for asyncio add_reader), or
 * -1 if this counter has none (then async callers re-check every vg_poll_interval_ns()).
 * After it turns readable, call vg_drain() before re-checking the generation. */
int vg_event_fd(vg_counter *c);
int vg_drain(vg_counter *c);
/* Re-read interval this backend uses when it has no notification (ns); 0 if it never polls. */
int64_t vg_poll_interval_ns(vg_counter *c);

/* asyncio with several event loops (issue 13): each loop needs an fd of its own, because a shared one is
 * drained by whichever loop reads first and the others never wake.
 *   vg_listen:       *fd = a new fd, readable when the generation may have changed (and, for counters this
 *                    process signals itself, once closed); -1 if this counter has no notifications (re-check
 *                    every vg_poll_interval_ns()). VG_OK, VG_CLOSED or VG_ERROR.
 *   vg_listen_drain: consume its readiness (call before re-reading the generation).
 *   vg_unlisten:     close it (after the caller stopped watching it). Only fds vg_listen returned.
 * Windows: inline stubs (no fds: the proactor path or a timer). */
#ifdef _WIN32
static inline int vg_listen(vg_counter *c, int *fd, vg_error *err) { (void)c; (void)err; *fd = -1; return VG_OK; }
static inline void vg_listen_drain(vg_counter *c, int fd) { (void)c; (void)fd; }
static inline void vg_unlisten(vg_counter *c, int fd) { (void)c; (void)fd; }
#else
int vg_listen(vg_counter *c, int *fd, vg_error *err);
void vg_listen_drain(vg_counter *c, int fd);
void vg_unlisten(vg_counter *c, int fd);
#endif

/* fork() (POSIX; issue 13). A counter opened before fork() works in the child: its first use there (any call
 * below, or vg_adopt) rebuilds the child's own fds and threads, without writing to or reading from the
 * parent's, so nothing the child does reaches the parent. vg_fork_generation() changes in a child at its
 * fork (one relaxed load: the Cython hot path compares it before trusting the hot word); vg_adopt makes c
 * this process's own if it is not yet. On Windows there is no fork: always 0, and vg_adopt does nothing. */
#ifdef _WIN32
static inline unsigned vg_fork_generation(void) { return 0; }
static inline int vg_adopt(vg_counter *c, vg_error *err) { (void)c; (void)err; return VG_OK; }
#else
#if defined(__GNUC__)
__attribute__((visibility("hidden")))   /* one load, not a GOT load and a load: changed() reads it every call */
#endif
extern unsigned vg_fork_gen_;
static inline unsigned vg_fork_generation(void) { return __atomic_load_n(&vg_fork_gen_, __ATOMIC_RELAXED); }
int vg_adopt(vg_counter *c, vg_error *err);
#endif

/* Simulated only: store a new generation (absolute) or advance count by one (advance != 0),
 * waking waiters in every process sharing the page. *out = the generation now stored. */
int vg_sim_store(vg_counter *c, const vg_gen *value, int advance, vg_gen *out, vg_error *err);

/* Wake current waiters with VG_WOKEN (no state change). Thread-safe. */
void vg_wake(vg_counter *c);
/* Mark closed and wake every waiter with VG_CLOSED. Idempotent, thread-safe, frees nothing. */
void vg_close(vg_counter *c);
/* Free everything (fds, mappings, listener threads). Only once no call on c is in flight. */
void vg_free(vg_counter *c);

/* Monotonic clock for deadlines, in ns. */
int64_t vg_now_ns(void);
/* What vg_wait's `interrupt` argument should be on this platform (NULL on Linux). */
/* Call with the GIL held (Windows: the SIGINT event on the main thread, NULL on other threads, which Python
 * never interrupts; vg_wait resets it before waiting, as time.sleep() does). */
void *vg_interrupt_handle(void);
/* Which C backend file this build carries: "linux", "posix" (macOS and other POSIX systems: the
 * simulated counter only) or "windows". */
const char *vg_platform(void);
/* Extra one-line facts about an open counter for `vmgen status` (e.g. "poll() notifications",
 * "re-read every 5 ms"). Static or counter-owned storage. */
const char *vg_describe(vg_counter *c);
/* Where changed()'s word (and read()'s count) come from, static storage: "GenerationCount" (windows),
 * "vm_generation_counter" or "disruption_marker" (vmclock: the latter when the hypervisor's page has no
 * generation counter, issue 18; chosen at open, re-chosen with the hot word), "uevents" (vmgenid: changes this
 * process heard), "simulated". */
const char *vg_source(vg_counter *c);

/* ---- Asynchronous waits without a thread (added for the Windows backend, issue 6) ----
 * Windows asyncio's default loop (proactor) has no add_reader, so vg_event_fd() is -1 there. Instead an
 * async wait starts ONE overlapped event-driven IOCTL and hands back a waitable event handle; the .pyx
 * (vmgen/_counter_async.pxi) gives it to the proactor (wait_for_handle: a thread-pool wait posting to the
 * loop's completion port, no thread per wait), then calls vg_async_finish.
 *   vg_async_start:  VG_OK (*op, *event set), VG_CLOSED, or VG_ERROR (VG_E_NOT_SUPPORTED when this counter
 *                    has no event-driven reads: re-check every vg_poll_interval_ns() instead).
 *   vg_async_finish: cancel (CancelIoEx) if still pending, reap (GetOverlappedResult), report: VG_OK with *out,
 *                    VG_CLOSED, VG_WOKEN (cancelled) or VG_ERROR. Idempotent. After it, no I/O is in flight
 *                    and the counter may be freed; the event handle stays valid.
 *   vg_async_free:   finish if needed, close the event, free op. Separate from finish because a thread-pool
 *                    wait on the event may still be unregistering when the caller gives up.
 * On other platforms these are inline stubs that report VG_E_NOT_SUPPORTED. */
typedef struct vg_async vg_async;
#ifdef _WIN32
int vg_async_start(vg_counter *c, const vg_gen *seen, vg_async **op, void **event, vg_error *err);
int vg_async_finish(vg_async *op, vg_gen *out, vg_error *err);
void vg_async_free(vg_async *op);
#else
static inline int vg_async_start(vg_counter *c, const vg_gen *seen, vg_async **op, void **event, vg_error *err) {
    (void)c; (void)seen; *op = 0; *event = 0;
    if (err) { err->kind = VG_E_NOT_SUPPORTED; err->sys_errno = 0; err->winerror = 0; err->msg[0] = 0; }
    return VG_ERROR;
}
static inline int vg_async_finish(vg_async *op, vg_gen *out, vg_error *err) {
    (void)op; (void)out; (void)err; return VG_ERROR;
}
static inline void vg_async_free(vg_async *op) { (void)op; }
#endif

#ifdef __cplusplus
}
#endif
#endif /* VG_COUNTER_H */
