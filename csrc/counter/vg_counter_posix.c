/* vg_counter_posix.c - vg_counter.h on POSIX systems without Linux's futex, eventfd and inotify
 * (macOS, the BSDs): the simulated counter. vmclock and vmgenid are Linux devices and Windows has its
 * own file, so those backends report NotSupported here.
 *
 * The page, its seqlock and the file format are Linux's (vg_posix_page.h), so changed() is the same
 * single load. What differs is how a blocked waiter is woken without a futex:
 *   - by this process (a store, wake() or close()): waiters sleep in poll() on the read end of the
 *     current "epoch" pipe. Each such event starts a new epoch and closes the old pipe's write end, so
 *     every waiter of the old epoch sees end-of-file at once: a broadcast with no lost wake-up (a
 *     waiter takes its epoch before it checks the page) and nothing to drain (EOF stays readable).
 *     poll() fails with EINTR on a signal, so Ctrl-C ends a wait as it does on Linux.
 *   - by another process sharing a file: nothing reaches our pipes, so waiters on a file-backed
 *     counter also re-read the page every VG_SHARED_REREAD_NS.
 *   - asyncio: a long-lived self-pipe per event loop (vg_listen; vg_event_fd is one more) carries this
 *     process's changes; file-backed counters are also re-read every VG_SHARED_REREAD_NS.
 *   - fork(): vg_fork.h. The child handler closes the child's copy of each current epoch's write end at
 *     once (else the parent's broadcast, a close, would not reach EOF while a child lives); the child's
 *     first call on a counter replaces its pipes with its own.
 * On Linux this file builds too (VMGEN_COUNTER_BACKEND=posix), which is how its tests run here.
 */
#if defined(__APPLE__)
#define _DARWIN_C_SOURCE   /* MAP_ANON and flock under -std=c11 */
#elif defined(__linux__)
#define _DEFAULT_SOURCE
#endif
#include "vg_posix_page.h"   /* vg_counter.h, vg_vmclock.h, the page's seqlock and mapping, errors */
#include "vg_fork.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>

#define VG_SHARED_REREAD_NS (2 * 1000000LL)  /* file-backed: how soon another process's store is seen */
#define VG_SLICE_NS (50 * 1000000LL)         /* longest sleep before re-checking anyway */

/* One epoch of in-process events. Closing wr wakes every poll() on rd. */
typedef struct vg_epoch {
    int rd, wr;
    unsigned refs;   /* waiters holding it, plus one while it is the counter's current epoch */
} vg_epoch;

struct vg_counter {
    int backend;
    volatile vg_vmclock_page *page;
    vg_file file;              /* the shared file; fd -1 for an in-process counter */
    int writable;
    pthread_mutex_t lock;      /* guards epoch and refs */
    vg_epoch *epoch;           /* NULL after close, or if a pipe could not be made (then waiters poll) */
    uint32_t wake_word;        /* bumped by close and wake */
    int closed;
    int notify_rd, notify_wr;  /* vg_event_fd: one byte per in-process event, drained by vg_drain */
    int (*lfd)[2];             /* vg_listen's self-pipes (one per event loop), guarded by lock */
    size_t nlfd, lcap;
    unsigned fork_gen;         /* vg_fork.h */
    struct vg_counter *next, *prev;   /* every open counter, for the fork handlers */
    char desc[160];
    char desc_now[300];        /* vg_describe once the file is gone */
};

/* Every open counter: the fork handlers close each child's copy of the current epoch's write end. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static vg_counter *registry;

static void registry_add(vg_counter *c) {
    pthread_mutex_lock(&registry_lock);
    c->next = registry;
    if (registry) registry->prev = c;
    registry = c;
    pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(vg_counter *c) {
    pthread_mutex_lock(&registry_lock);
    if (c->prev) c->prev->next = c->next;
    else if (registry == c) registry = c->next;
    if (c->next) c->next->prev = c->prev;
    c->next = c->prev = NULL;
    pthread_mutex_unlock(&registry_lock);
}

/* Hold every lock across fork() so the child sees no half-made change; the child's handler is
 * async-signal-safe (close and unlock only). */
static void vg_backend_fork_prepare(void) {
    pthread_mutex_lock(&registry_lock);
    for (vg_counter *c = registry; c; c = c->next) pthread_mutex_lock(&c->lock);
}

static void vg_backend_fork_parent(void) {
    for (vg_counter *c = registry; c; c = c->next) pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&registry_lock);
}

static void vg_backend_fork_child(void) {
    for (vg_counter *c = registry; c; c = c->next) {
        if (c->epoch && c->epoch->wr >= 0) {
            close(c->epoch->wr);
            c->epoch->wr = -1;
        }
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}

const char *vg_platform(void) { return "posix"; }

/* ---------- pipes ---------- */

static int cloexec_pipe(int fds[2], int nonblock) {
    if (pipe(fds) != 0) return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);   /* no pipe2() on macOS */
        if (nonblock) fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    return 0;
}

static vg_epoch *epoch_new(void) {
    vg_epoch *e = malloc(sizeof *e);
    int fds[2];
    if (!e) return NULL;
    if (cloexec_pipe(fds, 0) != 0) {
        free(e);
        return NULL;
    }
    e->rd = fds[0];
    e->wr = fds[1];
    e->refs = 1;
    return e;
}

/* Drop one reference; the last one closes the read end (the write end closed when the epoch ended). */
static void epoch_release(vg_counter *c, vg_epoch *e) {
    if (!e) return;
    pthread_mutex_lock(&c->lock);
    int last = --e->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (last) {
        if (e->wr >= 0) close(e->wr);
        close(e->rd);
        free(e);
    }
}

static vg_epoch *epoch_hold(vg_counter *c) {
    pthread_mutex_lock(&c->lock);
    vg_epoch *e = c->epoch;
    if (e) e->refs++;
    pthread_mutex_unlock(&c->lock);
    return e;
}

/* End the current epoch, waking its waiters; start the next one unless closing. */
static void epoch_advance(vg_counter *c, int closing) {
    vg_epoch *next = closing ? NULL : epoch_new();
    pthread_mutex_lock(&c->lock);
    vg_epoch *old = c->epoch;
    c->epoch = next;
    int wr = -1;
    if (old) {
        wr = old->wr;
        old->wr = -1;
    }
    pthread_mutex_unlock(&c->lock);
    if (wr >= 0) close(wr);   /* the broadcast */
    epoch_release(c, old);    /* the "current" reference */
}

static void notify(vg_counter *c) {
    char one = 1;
    if (c->notify_wr >= 0) (void)!write(c->notify_wr, &one, 1);   /* full pipe: already readable */
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nlfd; i++) (void)!write(c->lfd[i][1], &one, 1);
    pthread_mutex_unlock(&c->lock);
}

/* ---------- the interface ---------- */

static int open_simulated(vg_counter *c, const char *path, int flags, vg_error *err) {
    if (path && *path) {
        if (page_map_sim_file(&c->file, path, flags, &c->writable, &c->page, err) != VG_OK) return VG_ERROR;
        snprintf(c->desc, sizeof c->desc, "file %s shared by processes (pipe wake-ups in this process, "
                 "re-read every %lld ms for others)%s", path, (long long)(VG_SHARED_REREAD_NS / 1000000),
                 c->writable ? "" : ", read-only");
    } else {
        if (page_map_anon(&c->page, err) != VG_OK) return VG_ERROR;
        c->writable = 1;
        snprintf(c->desc, sizeof c->desc, "in-process (pipe wake-ups)");
    }
    int fds[2];
    if (cloexec_pipe(fds, 1) != 0) return fail_errno(err, errno, "pipe", "");
    c->notify_rd = fds[0];
    c->notify_wr = fds[1];
    if (!(c->epoch = epoch_new())) return fail_errno(err, errno ? errno : ENOMEM, "pipe", "");
    return VG_OK;
}

int vg_probe(int backend, const char *path, vg_error *err) {
    vg_counter *c = NULL;
    int rc = vg_open(backend, path, 0, &c, err);
    if (c) vg_free(c);
    return rc;
}

int vg_open(int backend, const char *path, int flags, vg_counter **out, vg_error *err) {
    *out = NULL;
    if (backend != VG_BACKEND_SIMULATED) {
        if (backend < VG_BACKEND_WINDOWS || backend > VG_BACKEND_SIMULATED)
            return fail(err, VG_E_INVALID, 0, "unknown backend %d", backend);
        return fail(err, VG_E_NOT_SUPPORTED, 0, "%s exists only on %s; this system has the simulated counter only",
                    backend == VG_BACKEND_WINDOWS ? "the windows backend" : backend == VG_BACKEND_VMCLOCK
                    ? "vmclock (/dev/vmclock0)" : "vmgenid (the Linux driver's uevent)",
                    backend == VG_BACKEND_WINDOWS ? "Windows" : "Linux");
    }
    vg_counter *c = calloc(1, sizeof *c);
    if (!c) return fail(err, VG_E_OS, ENOMEM, "out of memory");
    c->backend = backend;
    c->notify_rd = c->notify_wr = -1;
    file_init(&c->file, "simulated counter file");
    pthread_mutex_init(&c->lock, NULL);
    vg_fork_init();
    c->fork_gen = vg_fork_generation();
    registry_add(c);
    if (open_simulated(c, path, flags, err) != VG_OK) {
        vg_free(c);
        return VG_ERROR;
    }
    *out = c;
    return VG_OK;
}

int vg_read(vg_counter *c, vg_gen *out, vg_error *err) {
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    if (vg_own(c, &c->fork_gen, err) != VG_OK) return VG_ERROR;
    if (file_check(&c->file, err) != VG_OK) return VG_ERROR;
    int rc = page_read_gen(c->page, 1, &c->closed, out, err);
    if (rc == VG_OK && file_gone(&c->file)) return file_gone_error(&c->file, err);   /* covered while we read */
    return rc;
}

/* poll() the epoch's pipe (or nothing) until the epoch ends, the deadline, the re-read interval or a
 * signal. Returns VG_OK (re-check), VG_TIMEOUT or VG_INTERRUPTED. */
static int epoch_sleep(vg_counter *c, vg_epoch *e, int64_t deadline) {
    int64_t now = vg_now_ns();
    int64_t until = now + (c->file.fd >= 0 || !e ? VG_SHARED_REREAD_NS : VG_SLICE_NS);
    if (deadline >= 0 && deadline < until) until = deadline;
    if (until <= now) return VG_TIMEOUT;
    struct pollfd pf = {e ? e->rd : -1, POLLIN, 0};
    int ms = (int)((until - now + 999999) / 1000000);   /* round up: never spin on a 0 ms timeout */
    if (poll(&pf, 1, ms) < 0 && errno == EINTR) return VG_INTERRUPTED;
    return deadline >= 0 && vg_now_ns() >= deadline ? VG_TIMEOUT : VG_OK;
}

#define UNCHANGED 100   /* check(): the generation is still *seen */

static int check(vg_counter *c, const vg_gen *seen, vg_gen *out, vg_error *err) {
    vg_gen now;
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    if (file_watch(&c->file, err) != VG_OK) return VG_ERROR;   /* truncated, replaced, removed: say so */
    int rc = page_read_gen(c->page, 1, &c->closed, &now, err);
    if (rc != VG_OK) return rc;
    if (file_gone(&c->file)) return file_gone_error(&c->file, err);
    if (now.count == seen->count && now.count_high == seen->count_high) return UNCHANGED;
    *out = now;
    return VG_OK;
}

int vg_wait(vg_counter *c, const vg_gen *seen, vg_gen *out, int64_t deadline_ns, void *interrupt,
            vg_error *err) {
    (void)interrupt;
    if (vg_own(c, &c->fork_gen, err) != VG_OK) return VG_ERROR;
    for (;;) {
        vg_epoch *e = epoch_hold(c);   /* first: an event after the check below ends this epoch */
        uint32_t wake = __atomic_load_n(&c->wake_word, __ATOMIC_ACQUIRE);
        int rc = check(c, seen, out, err);
        int slept = rc == UNCHANGED;
        if (slept) rc = epoch_sleep(c, e, deadline_ns);
        epoch_release(c, e);
        if (!slept || rc == VG_INTERRUPTED) return rc;   /* a result, closed, an error, or a signal */
        if (__atomic_load_n(&c->wake_word, __ATOMIC_ACQUIRE) != wake &&
            !__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE))
            return VG_WOKEN;
        if (rc == VG_TIMEOUT) {   /* one last look: a change right at the deadline still counts */
            rc = check(c, seen, out, err);
            return rc == UNCHANGED ? VG_TIMEOUT : rc;
        }
    }
}

vg_hot_ptr vg_hot_word(vg_counter *c) { return &c->page->vg_changes; }

int vg_event_fd(vg_counter *c) { return vg_own(c, &c->fork_gen, NULL) == VG_OK ? c->notify_rd : -1; }

static void drain_fd(int fd) {
    char buf[256];
    while (fd >= 0 && read(fd, buf, sizeof buf) > 0) {}
}

int vg_drain(vg_counter *c) {
    if (vg_own(c, &c->fork_gen, NULL) == VG_OK) drain_fd(c->notify_rd);
    return VG_OK;
}

int vg_listen(vg_counter *c, int *fd, vg_error *err) {
    *fd = -1;
    if (vg_own(c, &c->fork_gen, err) != VG_OK) return VG_ERROR;
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    int p[2];
    if (cloexec_pipe(p, 1) != 0) return fail_errno(err, errno, "pipe", "");
    pthread_mutex_lock(&c->lock);
    if (c->nlfd == c->lcap) {
        size_t cap = c->lcap ? 2 * c->lcap : 4;
        int (*n)[2] = realloc(c->lfd, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&c->lock);
            close(p[0]);
            close(p[1]);
            return fail(err, VG_E_OS, ENOMEM, "out of memory");
        }
        c->lfd = n;
        c->lcap = cap;
    }
    c->lfd[c->nlfd][0] = p[0];
    c->lfd[c->nlfd][1] = p[1];
    c->nlfd++;
    char one = 1;
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) (void)!write(p[1], &one, 1);   /* closed meanwhile */
    pthread_mutex_unlock(&c->lock);
    *fd = p[0];
    return VG_OK;
}

void vg_listen_drain(vg_counter *c, int fd) { (void)c; drain_fd(fd); }

void vg_unlisten(vg_counter *c, int fd) {
    int pair[2] = {-1, -1};
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nlfd; i++)
        if (c->lfd[i][0] == fd) {
            pair[0] = c->lfd[i][0];
            pair[1] = c->lfd[i][1];
            c->nlfd--;
            c->lfd[i][0] = c->lfd[c->nlfd][0];
            c->lfd[i][1] = c->lfd[c->nlfd][1];
            break;
        }
    pthread_mutex_unlock(&c->lock);
    if (pair[0] >= 0) {   /* only ours: a forked child closed its inherited ones when it adopted c */
        close(pair[0]);
        close(pair[1]);
    }
}

/* The child's own pipes (vg_fork.h). No child thread can hold any of the old ones: every call adopts first. */
static int vg_backend_adopt(vg_counter *c, vg_error *err) {
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->nlfd; i++) {
        close(c->lfd[i][0]);
        close(c->lfd[i][1]);
    }
    c->nlfd = 0;
    vg_epoch *old = c->epoch;
    c->epoch = NULL;
    pthread_mutex_unlock(&c->lock);
    if (old) {   /* references held by the parent's waiters are ghosts here */
        if (old->wr >= 0) close(old->wr);
        close(old->rd);
        free(old);
    }
    if (c->notify_rd >= 0) close(c->notify_rd);
    if (c->notify_wr >= 0) close(c->notify_wr);
    c->notify_rd = c->notify_wr = -1;
    __atomic_store_n(&c->fork_gen, vg_fork_generation(), __ATOMIC_RELEASE);
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_OK;
    if (c->file.fd < 0) {   /* a private page: a parent thread may have been mid-store at the fork */
        uint32_t s = VG_LOAD(&c->page->seq_count);
        if (s & 1u) __atomic_store_n(&c->page->seq_count, s + 1u, __ATOMIC_RELEASE);
    }
    int fds[2];
    if (cloexec_pipe(fds, 1) != 0) return fail_errno(err, errno, "pipe", "");
    c->notify_rd = fds[0];
    c->notify_wr = fds[1];
    vg_epoch *e = epoch_new();   /* NULL: waiters re-read on a timer, as at open */
    pthread_mutex_lock(&c->lock);
    c->epoch = e;
    pthread_mutex_unlock(&c->lock);
    return VG_OK;
}

int vg_adopt(vg_counter *c, vg_error *err) { return vg_own(c, &c->fork_gen, err); }

int64_t vg_poll_interval_ns(vg_counter *c) { return c->file.fd >= 0 ? VG_SHARED_REREAD_NS : 0; }

int vg_sim_store(vg_counter *c, const vg_gen *value, int advance, vg_gen *out, vg_error *err) {
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    if (vg_own(c, &c->fork_gen, err) != VG_OK) return VG_ERROR;
    if (file_check(&c->file, err) != VG_OK) return VG_ERROR;   /* a store to a replaced file would reach no one */
    int changed, rc = page_sim_store(c->page, &c->closed, c->writable, value, advance, out, &changed, err);
    if (rc != VG_OK) return rc;
    if (file_gone(&c->file)) return file_gone_error(&c->file, err);
    if (changed) {
        epoch_advance(c, 0);
        notify(c);
    }
    return VG_OK;
}

void vg_wake(vg_counter *c) {
    __atomic_fetch_add(&c->wake_word, 1u, __ATOMIC_RELEASE);
    epoch_advance(c, __atomic_load_n(&c->closed, __ATOMIC_ACQUIRE));
}

void vg_close(vg_counter *c) {
    if (__atomic_exchange_n(&c->closed, 1, __ATOMIC_ACQ_REL)) return;
    (void)vg_own(c, &c->fork_gen, NULL);   /* a forked child's copy: drop the parent's pipes unsignalled */
    vg_wake(c);
    notify(c);
}

void vg_free(vg_counter *c) {
    if (!c) return;
    registry_remove(c);
    if (c->fork_gen != vg_fork_generation()) {   /* a forked child's copy: free it, signal nothing */
        __atomic_store_n(&c->closed, 1, __ATOMIC_RELEASE);
        vg_backend_adopt(c, NULL);
    }
    for (size_t i = 0; i < c->nlfd; i++) {
        close(c->lfd[i][0]);
        close(c->lfd[i][1]);
    }
    free(c->lfd);
    epoch_release(c, c->epoch);
    file_unguard(&c->file);   /* before the mapping goes */
    int fds[] = {c->notify_rd, c->notify_wr};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    if (c->page) munmap((void *)c->page, VG_PAGE_SIZE);
    file_close(&c->file);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const char *vg_describe(vg_counter *c) { return file_describe(&c->file, c->desc, c->desc_now, sizeof c->desc_now); }

const char *vg_source(vg_counter *c) { (void)c; return "simulated"; }   /* the one backend this file has */
