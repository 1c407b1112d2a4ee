/* vg_counter_linux.c - the Linux side of vg_counter.h: simulated, vmclock and vmgenid backends.
 *
 * Every Linux counter keeps its generation in a VMClock-shaped page (vg_vmclock.h):
 *   simulated  anonymous memory, or a file mapped MAP_SHARED by every process that opens it;
 *   vmclock    /dev/vmclock0 (or any file holding a page) mapped read-only;
 *   vmgenid    private memory written by a C listener thread reading NETLINK_KOBJECT_UEVENT.
 * So one seqlock reader serves all of them, and changed() is one load of a word in that page.
 *
 * Blocking waits: pages vmgen writes itself (simulated, vmgenid) are waited on with futex_waitv
 * over the page's seq_count (shared futex: wakes cross processes) plus a private per-counter word
 * that close()/wake() bump, so no wake-up is lost between the check and the sleep. vmclock waits
 * poll() the device where it notifies, else re-read the page every VG_REREAD_NS.
 *
 * asyncio: every event loop gets fds of its own from vg_listen (a shared fd is drained by one loop and the
 * others miss the change): an eventfd this file signals (in-process simulated, vmgenid), an inotify instance
 * (file-backed simulated) or its own open of the device (vmclock).
 * fork(): vg_fork.h. A child's first call adopts the counter: the inherited fds are closed unsignalled and
 * rebuilt, and a vmgenid counter starts its own listener thread.
 */
#define _GNU_SOURCE
#include "vg_posix_page.h"   /* vg_counter.h, vg_vmclock.h, the page's seqlock and mapping, errors */
#include "vg_fork.h"

#include <limits.h>
#include <linux/futex.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#define VG_REREAD_NS (5 * 1000000LL)        /* vmclock without notifications: re-read every 5 ms */
#define VG_SLICE_NS (50 * 1000000LL)        /* longest sleep before re-checking close/wake flags */
#define VG_UEVENT_BUF 8192

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#define VG_FUTEX2_SIZE_U32 0x02
#define VG_FUTEX2_PRIVATE 128

struct vg_futex_waitv { uint64_t val, uaddr; uint32_t flags, reserved; };

enum wait_kind { WAIT_FUTEX, WAIT_POLL_DEVICE, WAIT_REREAD };

struct vg_counter {
    int backend;
    volatile vg_vmclock_page *page;
    size_t map_len;           /* length of the page's mapping */
    int ext;                  /* enum vg_page_source: vmgen's own page, or which word of a hypervisor's page
                               * (vmclock: the one its flags named at open) */
    int src;                  /* vmclock: the source its hot word follows now (note_source); else ext */
    int writable;             /* simulated: may store */
    const volatile uint64_t *hot;   /* atomic: vmclock re-targets it when the page's flags change */
    enum wait_kind wait_kind;
    vg_file file;             /* the mapped file or vmclock device (poll waits reopen its path); fd -1 if none */
    int event_fd;             /* vg_event_fd: eventfd / inotify / device fd / -1 */
    int event_is_inotify, event_is_device;
    uint32_t wake_word;       /* private futex: bumped by close and wake */
    int closed;
    int close_fd;             /* eventfd readable once closed (for poll() waits) */
    /* vmgenid listener */
    int nl_fd, stop_fd, thread_started;
    pthread_t thread;
    char *devpath;
    /* vg_listen's fds, one per event loop, guarded by lists_lock (the listener thread signals them) */
    int *lfd;
    size_t nlfd, lcap;
    unsigned fork_gen;        /* vg_fork.h: the fork generation these fds and threads belong to */
    char desc[400];
    char desc_now[700];       /* vg_describe once the file is gone, or the page's flags changed */
};

/* Guards every counter's listener list. One lock for all: it is held for a few writes at a time, and
 * the fork handlers hold it across fork() so a child never sees a list half-grown by another thread. */
static pthread_mutex_t lists_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---------- small helpers ---------- */

static void futex_wake_all(volatile void *addr, int private_) {
    syscall(SYS_futex, addr, FUTEX_WAKE | (private_ ? FUTEX_PRIVATE_FLAG : 0), INT_MAX, NULL, NULL, 0);
}

static void efd_signal(int fd) {
    uint64_t one = 1;
    if (fd >= 0) (void)!write(fd, &one, sizeof one);
}

/* ---------- opening each backend ---------- */

static vg_counter *counter_new(int backend) {
    vg_counter *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->backend = backend;
    c->event_fd = c->close_fd = c->nl_fd = c->stop_fd = -1;
    file_init(&c->file, backend == VG_BACKEND_VMCLOCK ? "vmclock page file" : "simulated counter file");
    c->fork_gen = vg_fork_generation();
    return c;
}

static int map_anon_page(vg_counter *c, vg_error *err) {
    if (page_map_anon(&c->page, err) != VG_OK) return VG_ERROR;
    c->map_len = VG_PAGE_SIZE;
    c->ext = 1;
    c->writable = 1;
    return VG_OK;
}

/* Other processes' stores touch the file's mtime (see vg_sim_store): an inotify instance on it sees those. */
/* An inotify fd of its own on a counter file. Other processes' stores touch the file's mtime (see vg_sim_store):
 * inotify sees those, and a truncation (IN_MODIFY), a rename over it or its removal (IN_ATTRIB for the link count,
 * IN_DELETE_SELF, IN_MOVE_SELF) wake asyncio waiters, whose read() then reports it. Watch the open file itself
 * (/proc/self/fd), not whatever the path names by now; without /proc, the path, not following a symlink. */
static int inotify_fd(const vg_file *file, vg_error *err) {
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return fail_errno(err, errno, "inotify_init1", file->path), -1;
    const uint32_t mask = IN_ATTRIB | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF;
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", file->fd);
    if (inotify_add_watch(fd, self, mask) < 0 && inotify_add_watch(fd, file->path, mask | IN_DONT_FOLLOW) < 0) {
        int e = errno;
        close(fd);
        return fail_errno(err, e, "inotify_add_watch", file->path), -1;
    }
    return fd;
}

static int open_sim_file(vg_counter *c, const char *path, int flags, vg_error *err) {
    c->map_len = VG_PAGE_SIZE;   /* vg_free unmaps it if mapping succeeded, whatever fails after */
    c->ext = 1;
    if (page_map_sim_file(&c->file, path, flags, &c->writable, &c->page, err) != VG_OK) return VG_ERROR;
    c->event_is_inotify = 1;
    return (c->event_fd = inotify_fd(&c->file, err)) < 0 ? VG_ERROR : VG_OK;
}

static int open_simulated(vg_counter *c, const char *path, int flags, vg_error *err) {
    int rc;
    if (path && *path) {
        rc = open_sim_file(c, path, flags, err);
        snprintf(c->desc, sizeof c->desc, "file %s shared by processes (futex waits, inotify for asyncio)%s",
                 path, c->writable ? "" : ", read-only");
    } else {
        rc = map_anon_page(c, err);
        if (rc == VG_OK && (c->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
            rc = fail_errno(err, errno, "eventfd", "");
        snprintf(c->desc, sizeof c->desc, "in-process (futex waits)");
    }
    c->wait_kind = WAIT_FUTEX;
    if (rc == VG_OK) c->hot = &c->page->vg_changes;
    return rc;
}

/* An fd of its own on the vmclock device: the driver keeps "last seen seq" per open file, so each
 * waiter needs one (a shared fd would let one waiter's read() swallow another's wake-up). */
static int device_fd(const char *path, vg_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fail_errno(err, errno, "cannot open", path), -1;
    char tmp[VMCLOCK_ABI_SIZE];
    (void)!read(fd, tmp, sizeof tmp);   /* seen the current seq_count: readable again at the next change */
    return fd;
}

/* Validate a vmclock page file/device and map it read-only. The device keeps its own rules (the kernel checked
 * its page against the memory resource); a regular file follows file_open's rules, and its length stands in
 * for that resource: the page's size field must fit in it. */
static int open_vmclock(vg_counter *c, const char *path, int flags, vg_error *err) {
    if (!path || !*path) path = "/dev/vmclock0";
    struct stat st;
    int writable, is_device;
    if (file_open(&c->file, path, flags & VG_OPEN_SHARED_WRITE, 0, 1, &st, &writable, &is_device, err) != VG_OK)
        return VG_ERROR;
    if (!is_device && st.st_size < (off_t)VMCLOCK_ABI_SIZE)
        return fail(err, VG_E_INVALID, 0, "%s: %lld bytes is too small for a VMClock page (needs %u)", path,
                    (long long)st.st_size, VMCLOCK_ABI_SIZE);
    void *p = mmap(NULL, VG_PAGE_SIZE, PROT_READ, MAP_SHARED, c->file.fd, 0);
    if (p == MAP_FAILED) return fail_errno(err, errno, "cannot mmap", path);
    c->page = p;
    c->map_len = VG_PAGE_SIZE;
    c->ext = VG_SRC_GEN_COUNTER;
    if (!is_device && file_guard(&c->file, p, VG_PAGE_SIZE, VMCLOCK_ABI_SIZE, err) != VG_OK) return VG_ERROR;
    const char *why = vg_page_check_backed(c->page, 0, is_device ? 0 : (uint64_t)st.st_size);
    if (why) return fail(err, VG_E_INVALID, 0, "%s: %s", path, why);
    if (!is_device) c->file.need = (off_t)VG_LOAD(&c->page->size);   /* the file must keep what the page claims */
    /* The source, once: vm_generation_counter if the hypervisor keeps one, else disruption_marker (issue 18:
     * QEMU 11.1 bumps it on every restore and every live migration). changed() stays one load, of that word. */
    c->ext = c->src = vg_page_source(c->page);
    c->hot = vg_page_source_word(c->page, c->ext);
    const char *src = c->ext == VG_SRC_GEN_COUNTER ? "vm_generation_counter"
                      : "disruption_marker (no generation counter: also changes on live migration)";
    if (is_device && !c->file.path && !(c->file.path = strdup(path)))
        return fail(err, VG_E_OS, ENOMEM, "out of memory");
    /* poll() only means something on the device: a regular file is always "readable". */
    if (is_device && (VG_LOAD(&c->page->flags) & VMCLOCK_FLAG_NOTIFICATION_PRESENT)) {
        c->wait_kind = WAIT_POLL_DEVICE;
        c->event_is_device = 1;
        if ((c->event_fd = device_fd(path, err)) < 0) return VG_ERROR;
        snprintf(c->desc, sizeof c->desc, "%s, %s, poll() notifications", path, src);
    } else {
        c->wait_kind = WAIT_REREAD;
        snprintf(c->desc, sizeof c->desc, "%s, %s, no notifications: re-read every %lld ms", path, src,
                 (long long)(VG_REREAD_NS / 1000000));
    }
    return VG_OK;
}

/* Signal every vg_listen eventfd (counters whose changes this process makes or hears itself). */
static void signal_listeners(vg_counter *c) {
    if (c->event_is_inotify || c->event_is_device) return;   /* the kernel signals those */
    pthread_mutex_lock(&lists_lock);
    for (size_t i = 0; i < c->nlfd; i++) efd_signal(c->lfd[i]);
    pthread_mutex_unlock(&lists_lock);
}

/* ---------- vmgenid: the uevent listener ---------- */

/* A change: bump count (= changes this process has observed) under the seqlock, wake everyone. */
static void vmgenid_bump(vg_counter *c) {
    uint32_t seq;
    while (!vg_page_try_lock(c->page, &seq)) cpu_relax();   /* only this thread writes */
    vg_page_store_unlock(c->page, seq, VG_LOAD(&c->page->vm_generation_counter) + 1u, 0);
    futex_wake_all(&c->page->seq_count, 0);
    efd_signal(c->event_fd);
    signal_listeners(c);
}

/* Does this uevent datagram say "change" for our device? Format: "action@devpath\0KEY=VAL\0...". */
static int uevent_matches(const char *buf, size_t n, const char *devpath) {
    int is_change = 0, is_ours = 0;
    size_t i = 0;
    if (n >= 8 && memcmp(buf, "libudev", 8) == 0) return 0;   /* udev's re-broadcast, not the kernel */
    while (i < n) {
        const char *s = buf + i;
        size_t len = strnlen(s, n - i);
        if (len == 13 && memcmp(s, "ACTION=change", 13) == 0) is_change = 1;
        if (len > 8 && memcmp(s, "DEVPATH=", 8) == 0 && strlen(devpath) == len - 8 &&
            memcmp(s + 8, devpath, len - 8) == 0)
            is_ours = 1;
        i += len + 1;
    }
    return is_change && is_ours;
}

static void *vmgenid_listener(void *arg) {
    vg_counter *c = arg;
    char *msg = malloc(VG_UEVENT_BUF);
    struct pollfd pf[2] = {{c->nl_fd, POLLIN, 0}, {c->stop_fd, POLLIN, 0}};
    for (;;) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[1].revents) break;
        for (;;) {
            struct sockaddr_nl from;
            struct iovec iov = {msg, VG_UEVENT_BUF - 1};
            struct msghdr mh = {0};
            mh.msg_name = &from;
            mh.msg_namelen = sizeof from;
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            ssize_t n = msg ? recvmsg(c->nl_fd, &mh, MSG_DONTWAIT) : -1;
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == ENOBUFS) { vmgenid_bump(c); continue; }   /* events lost: assume a change */
                break;                                                 /* EAGAIN: drained */
            }
            if (from.nl_pid != 0 || (mh.msg_flags & MSG_TRUNC)) continue;  /* only whole kernel messages */
            msg[n] = 0;
            if (uevent_matches(msg, (size_t)n, c->devpath)) vmgenid_bump(c);
        }
    }
    free(msg);
    return NULL;
}

static int uevent_socket(vg_error *err) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
    if (fd < 0) return fail_errno(err, errno, "socket(NETLINK_KOBJECT_UEVENT)", ""), -1;
    struct sockaddr_nl sa = {0};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = 1;   /* the kernel's uevent multicast group */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return fail_errno(err, e, "bind(NETLINK_KOBJECT_UEVENT)", ""), -1;
    }
    int sz = 1 << 20;   /* a burst of unrelated uevents should not overflow us (ENOBUFS = change) */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    return fd;
}

/* The listener thread and its fds (at open, and in a forked child that adopts the counter). */
static int start_listener(vg_counter *c, vg_error *err) {
    if ((c->nl_fd = uevent_socket(err)) < 0) return VG_ERROR;
    if ((c->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 || (c->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        return fail_errno(err, errno, "eventfd", "");
    /* The listener must never take the process's signals (SIGINT belongs to Python's main thread). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&c->thread, NULL, vmgenid_listener, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) return fail_errno(err, e, "pthread_create", "(vmgenid listener)");
    c->thread_started = 1;
    return VG_OK;
}

static int open_vmgenid(vg_counter *c, const char *devpath, vg_error *err) {
    if (!devpath || devpath[0] != '/')
        return fail(err, VG_E_INVALID, 0, "vmgenid needs the device's DEVPATH (e.g. /devices/platform/VMGENCTR:00)");
    if (!(c->devpath = strdup(devpath))) return fail(err, VG_E_OS, ENOMEM, "out of memory");
    if (map_anon_page(c, err) != VG_OK) return VG_ERROR;   /* private page: only the listener writes */
    c->hot = &c->page->vg_changes;
    c->wait_kind = WAIT_FUTEX;
    if (start_listener(c, err) != VG_OK) return VG_ERROR;
    snprintf(c->desc, sizeof c->desc, "uevents for %s (count = changes seen by this process)", devpath);
    return VG_OK;
}

/* ---------- the interface ---------- */

int vg_probe(int backend, const char *path, vg_error *err) {
    vg_counter *c = NULL;
    if (backend == VG_BACKEND_WINDOWS)
        return fail(err, VG_E_NOT_SUPPORTED, 0, "only on Windows");
    if (backend == VG_BACKEND_VMGENID) {   /* a listener thread just to probe is wasteful: check the socket */
        int fd = uevent_socket(err);
        if (fd < 0) return VG_ERROR;
        close(fd);
        return VG_OK;
    }
    int rc = vg_open(backend, path, 0, &c, err);
    if (c) vg_free(c);
    return rc;
}

int vg_open(int backend, const char *path, int flags, vg_counter **out, vg_error *err) {
    *out = NULL;
    vg_fork_init();
    vg_counter *c = counter_new(backend);
    if (!c) return fail(err, VG_E_OS, ENOMEM, "out of memory");
    int rc;
    switch (backend) {
    case VG_BACKEND_SIMULATED: rc = open_simulated(c, path, flags, err); break;
    case VG_BACKEND_VMCLOCK: rc = open_vmclock(c, path, flags, err); break;
    case VG_BACKEND_VMGENID: rc = open_vmgenid(c, path, err); break;
    case VG_BACKEND_WINDOWS: rc = fail(err, VG_E_NOT_SUPPORTED, 0, "the windows backend exists only on Windows"); break;
    default: rc = fail(err, VG_E_INVALID, 0, "unknown backend %d", backend);
    }
    if (rc == VG_OK && (c->close_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        rc = fail_errno(err, errno, "eventfd", "");
    if (rc != VG_OK) {
        vg_free(c);
        return rc;
    }
    *out = c;
    return VG_OK;
}

/* vmclock: an exact read found the page's flags naming another source than the hot word follows (the
 * hypervisor gained or lost its generation counter, e.g. across a migration): re-target the hot word, so
 * changed() follows the word read() does from the next vg_hot_word() on (the Cython layer re-fetches it after
 * every read and wait). Tokens taken from the old word then read as changed: the switch is a change. */
static void note_source(vg_counter *c, const vg_page_snapshot *s) {
    if (c->backend != VG_BACKEND_VMCLOCK || s->src == __atomic_load_n(&c->src, __ATOMIC_ACQUIRE)) return;
    __atomic_store_n(&c->hot, vg_page_source_word(c->page, s->src), __ATOMIC_RELEASE);
    __atomic_store_n(&c->src, s->src, __ATOMIC_RELEASE);
}

int vg_read(vg_counter *c, vg_gen *out, vg_error *err) {
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    if (vg_own(c, &c->fork_gen, err) != VG_OK) return VG_ERROR;
    if (file_check(&c->file, err) != VG_OK) return VG_ERROR;
    vg_page_snapshot s;
    int rc = page_read(c->page, c->ext, &s, err);
    if (rc == VG_OK && file_gone(&c->file)) return file_gone_error(&c->file, err);   /* covered while we read */
    if (rc == VG_OK) {
        note_source(c, &s);
        snap_to_gen(&s, out);
    }
    return rc;
}

/* Does the page still say the device notifies (poll())? Only the device's own page can. */
static int page_notifies(vg_counter *c) {
    return (VG_LOAD(&c->page->flags) & VMCLOCK_FLAG_NOTIFICATION_PRESENT) != 0;
}

/* Sleep on the page's seq_count (shared futex) and our wake_word (private) until either moves,
 * the deadline or a signal. Returns VG_OK (re-check), VG_TIMEOUT or VG_INTERRUPTED. */
static int futex_sleep(vg_counter *c, uint32_t seq, uint32_t wake, int64_t deadline) {
    struct vg_futex_waitv w[2] = {
        {seq, (uint64_t)(uintptr_t)&c->page->seq_count, VG_FUTEX2_SIZE_U32, 0},
        {wake, (uint64_t)(uintptr_t)&c->wake_word, VG_FUTEX2_SIZE_U32 | VG_FUTEX2_PRIVATE, 0},
    };
    struct timespec ts, *tsp = NULL;
    if (deadline >= 0) {
        ns_to_timespec(deadline, &ts);
        tsp = &ts;
    }
    static int no_waitv;
    if (!__atomic_load_n(&no_waitv, __ATOMIC_RELAXED)) {
        long r = syscall(SYS_futex_waitv, w, 2, 0, tsp, CLOCK_MONOTONIC);
        if (r >= 0 || errno == EAGAIN) return VG_OK;
        if (errno == ETIMEDOUT) return VG_TIMEOUT;
        if (errno == EINTR) return VG_INTERRUPTED;
        if (errno != ENOSYS) return VG_OK;   /* unexpected: re-check rather than fail a wait */
        __atomic_store_n(&no_waitv, 1, __ATOMIC_RELAXED);
    }
    /* Before 5.16: sleep on seq_count alone, in slices, so close/wake are seen within VG_SLICE_NS. */
    int64_t now = vg_now_ns(), until = now + VG_SLICE_NS;
    if (deadline >= 0 && deadline < until) until = deadline;
    if (until <= now) return VG_TIMEOUT;
    ns_to_timespec(until - now, &ts);
    if (syscall(SYS_futex, &c->page->seq_count, FUTEX_WAIT, seq, &ts, NULL, 0) != 0 && errno == EINTR)
        return VG_INTERRUPTED;
    return VG_OK;
}

/* poll() on fds plus our close eventfd, bounded by the deadline and max_ns. *hup (if given) is set when the
 * device answers POLLHUP/POLLERR without POLLIN: the driver's answer once the page no longer sets
 * VMCLOCK_FLAG_NOTIFICATION_PRESENT (it returns at once, forever), so the caller re-reads instead. */
static int poll_sleep(vg_counter *c, int fd, int64_t max_ns, int64_t deadline, int *hup) {
    struct pollfd pf[2] = {{c->close_fd, POLLIN, 0}, {fd, POLLIN, 0}};
    int64_t now = vg_now_ns(), until = now + max_ns;
    if (deadline >= 0 && deadline < until) until = deadline;
    if (until <= now) return VG_TIMEOUT;
    struct timespec ts;
    ns_to_timespec(until - now, &ts);
    int r = ppoll(pf, fd >= 0 ? 2 : 1, &ts, NULL);
    if (r < 0 && errno == EINTR) return VG_INTERRUPTED;
    if (fd >= 0 && (pf[1].revents & POLLIN)) {
        char tmp[VMCLOCK_ABI_SIZE];
        (void)!read(fd, tmp, sizeof tmp);   /* tells the driver this fd has seen the current seq_count */
    } else if (fd >= 0 && hup && (pf[1].revents & (POLLHUP | POLLERR | POLLNVAL)))
        *hup = 1;
    return VG_OK;
}

/* One look at the page: VG_OK with *out when it differs from *seen, VG_TIMEOUT when it does not, else the
 * error (a torn read, a file truncated or replaced under us). */
static int look(vg_counter *c, const vg_gen *seen, vg_gen *out, vg_error *err) {
    vg_page_snapshot s;
    int rc = page_read(c->page, c->ext, &s, err);
    if (rc != VG_OK) return rc;
    if (file_gone(&c->file)) return file_gone_error(&c->file, err);
    note_source(c, &s);
    if (same_gen(&s, seen)) return VG_TIMEOUT;
    snap_to_gen(&s, out);
    return VG_OK;
}

int vg_wait(vg_counter *c, const vg_gen *seen, vg_gen *out, int64_t deadline_ns, void *interrupt,
            vg_error *err) {
    (void)interrupt;
    int devfd = -1, rc = VG_OK;
    if (vg_own(c, &c->fork_gen, err) != VG_OK) return VG_ERROR;
    /* A device that stopped notifying (its page lost NOTIFICATION_PRESENT, e.g. migrated to QEMU) answers poll()
     * with POLLHUP at once: re-read instead, as for a page that never notified. */
    if (c->wait_kind == WAIT_POLL_DEVICE && page_notifies(c) && (devfd = device_fd(c->file.path, err)) < 0)
        return VG_ERROR;
    for (;;) {
        uint32_t wake = __atomic_load_n(&c->wake_word, __ATOMIC_ACQUIRE);
        if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) { rc = VG_CLOSED; break; }
        if ((rc = file_watch(&c->file, err)) != VG_OK) break;   /* truncated, replaced, removed: say so */
        uint32_t seq = __atomic_load_n(&c->page->seq_count, __ATOMIC_ACQUIRE);
        if ((rc = look(c, seen, out, err)) != VG_TIMEOUT) break;
        if (c->wait_kind == WAIT_FUTEX && c->file.guard) {
            /* A file's futex hears only stores to the file: wake up now and then to look at the file itself. */
            int64_t slice = vg_now_ns() + VG_FILE_RECHECK_NS;
            rc = futex_sleep(c, seq, wake, deadline_ns >= 0 && deadline_ns < slice ? deadline_ns : slice);
            if (rc == VG_TIMEOUT && (deadline_ns < 0 || deadline_ns >= slice)) rc = VG_OK;
        } else if (c->wait_kind == WAIT_FUTEX) rc = futex_sleep(c, seq, wake, deadline_ns);
        else if (c->wait_kind == WAIT_POLL_DEVICE && devfd >= 0) {
            int hup = 0;
            rc = poll_sleep(c, devfd, VG_SLICE_NS, deadline_ns, &hup);
            if (hup) {   /* the device stopped notifying: re-read for the rest of this wait */
                close(devfd);
                devfd = -1;
            }
        } else rc = poll_sleep(c, -1, VG_REREAD_NS, deadline_ns, NULL);
        if (rc == VG_INTERRUPTED) break;
        if (__atomic_load_n(&c->wake_word, __ATOMIC_ACQUIRE) != wake &&
            !__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) { rc = VG_WOKEN; break; }
        if (rc == VG_TIMEOUT) {   /* one last look: a change right at the deadline still counts */
            if ((rc = file_check(&c->file, err)) != VG_OK) break;
            if ((rc = look(c, seen, out, err)) == VG_TIMEOUT && __atomic_load_n(&c->closed, __ATOMIC_ACQUIRE))
                rc = VG_CLOSED;
            break;
        }
    }
    if (devfd >= 0) close(devfd);
    return rc;
}

vg_hot_ptr vg_hot_word(vg_counter *c) { return __atomic_load_n(&c->hot, __ATOMIC_ACQUIRE); }

int vg_event_fd(vg_counter *c) { return vg_own(c, &c->fork_gen, NULL) == VG_OK ? c->event_fd : -1; }

static void drain_fd(vg_counter *c, int fd) {
    char buf[4096];
    if (fd < 0) return;
    if (c->event_is_device) {
        (void)!read(fd, buf, VMCLOCK_ABI_SIZE);
        return;
    }
    while (read(fd, buf, c->event_is_inotify ? sizeof buf : 8) > 0) {}
}

int vg_drain(vg_counter *c) {
    if (vg_own(c, &c->fork_gen, NULL) == VG_OK) drain_fd(c, c->event_fd);
    return VG_OK;
}

int vg_listen(vg_counter *c, int *fd, vg_error *err) {
    *fd = -1;
    if (vg_own(c, &c->fork_gen, err) != VG_OK) return VG_ERROR;
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    int f;
    if (c->event_is_inotify) f = inotify_fd(&c->file, err);
    else if (c->event_is_device) {
        if (!page_notifies(c)) return VG_OK;   /* stopped notifying: fd -1, the caller re-reads (POLLHUP would spin) */
        f = device_fd(c->file.path, err);
    }
    else if (c->event_fd >= 0) {
        if ((f = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) fail_errno(err, errno, "eventfd", "");
    } else return VG_OK;   /* no notifications: the caller re-reads */
    if (f < 0) return VG_ERROR;
    pthread_mutex_lock(&lists_lock);
    if (c->nlfd == c->lcap) {
        size_t cap = c->lcap ? 2 * c->lcap : 4;
        int *n = realloc(c->lfd, cap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&lists_lock);
            close(f);
            return fail(err, VG_E_OS, ENOMEM, "out of memory");
        }
        c->lfd = n;
        c->lcap = cap;
    }
    c->lfd[c->nlfd++] = f;
    /* closed meanwhile: vg_close signalled the list before f joined it */
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE) && !c->event_is_inotify && !c->event_is_device) efd_signal(f);
    pthread_mutex_unlock(&lists_lock);
    *fd = f;
    return VG_OK;
}

void vg_listen_drain(vg_counter *c, int fd) { drain_fd(c, fd); }

void vg_unlisten(vg_counter *c, int fd) {
    int found = 0;
    pthread_mutex_lock(&lists_lock);
    for (size_t i = 0; i < c->nlfd; i++)
        if (c->lfd[i] == fd) {
            c->lfd[i] = c->lfd[--c->nlfd];
            found = 1;
            break;
        }
    pthread_mutex_unlock(&lists_lock);
    if (found) close(fd);   /* only ours: an fd a forked child inherited was closed when it adopted c */
}

int64_t vg_poll_interval_ns(vg_counter *c) {
    return c->wait_kind == WAIT_REREAD || (c->wait_kind == WAIT_POLL_DEVICE && !page_notifies(c)) ? VG_REREAD_NS : 0;
}

int vg_sim_store(vg_counter *c, const vg_gen *value, int advance, vg_gen *out, vg_error *err) {
    if (c->backend != VG_BACKEND_SIMULATED)
        return fail(err, VG_E_NOT_SUPPORTED, 0, "only a simulated counter can be advanced or set");
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_CLOSED;
    if (vg_own(c, &c->fork_gen, err) != VG_OK) return VG_ERROR;
    if (file_check(&c->file, err) != VG_OK) return VG_ERROR;   /* a store to a replaced file would reach no one */
    int changed, rc = page_sim_store(c->page, &c->closed, c->writable, value, advance, out, &changed, err);
    if (rc != VG_OK) return rc;
    if (file_gone(&c->file)) return file_gone_error(&c->file, err);
    if (changed) {
        futex_wake_all(&c->page->seq_count, 0);
        if (c->file.fd >= 0) futimens(c->file.fd, NULL);   /* inotify: wakes asyncio waiters everywhere */
        else {
            efd_signal(c->event_fd);
            signal_listeners(c);
        }
    }
    return VG_OK;
}

static void bump_wake(vg_counter *c) {
    __atomic_fetch_add(&c->wake_word, 1u, __ATOMIC_RELEASE);
    futex_wake_all(&c->wake_word, 1);
}

void vg_wake(vg_counter *c) { bump_wake(c); }

void vg_close(vg_counter *c) {
    if (__atomic_exchange_n(&c->closed, 1, __ATOMIC_ACQ_REL)) return;
    /* In a forked child that never used c: drop the parent's fds unsignalled (closed: nothing is rebuilt). */
    (void)vg_own(c, &c->fork_gen, NULL);
    bump_wake(c);
    efd_signal(c->close_fd);   /* stays readable: poll() waiters see it now and forever */
    efd_signal(c->event_fd >= 0 && !c->event_is_inotify && !c->event_is_device ? c->event_fd : -1);
    signal_listeners(c);
}

/* Forget what fork() copied from the parent: close (never signal, never read) its fds; its listener
 * thread does not exist here. */
static void disown(vg_counter *c) {
    for (size_t i = 0; i < c->nlfd; i++) close(c->lfd[i]);
    c->nlfd = 0;
    int *fds[] = {&c->nl_fd, &c->stop_fd, &c->event_fd, &c->close_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    c->thread_started = 0;
}

/* A writer of a private page (the parent's listener, another parent thread storing) may have been
 * mid-update at the fork: it will never finish here, so release its seqlock. */
static void unstick_private_page(vg_counter *c) {
    uint32_t s = VG_LOAD(&c->page->seq_count);
    if (s & 1u) __atomic_store_n(&c->page->seq_count, s + 1u, __ATOMIC_RELEASE);
}

static int vg_backend_adopt(vg_counter *c, vg_error *err) {
    disown(c);
    __atomic_store_n(&c->fork_gen, vg_fork_generation(), __ATOMIC_RELEASE);   /* never the parent's fds again */
    if (__atomic_load_n(&c->closed, __ATOMIC_ACQUIRE)) return VG_OK;
    if ((c->close_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) return fail_errno(err, errno, "eventfd", "");
    switch (c->backend) {
    case VG_BACKEND_SIMULATED:
        if (c->file.fd >= 0) return (c->event_fd = inotify_fd(&c->file, err)) < 0 ? VG_ERROR : VG_OK;
        unstick_private_page(c);
        if ((c->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) return fail_errno(err, errno, "eventfd", "");
        return VG_OK;
    case VG_BACKEND_VMCLOCK:
        if (c->event_is_device && (c->event_fd = device_fd(c->file.path, err)) < 0) return VG_ERROR;
        return VG_OK;
    case VG_BACKEND_VMGENID:
        unstick_private_page(c);
        /* The parent heard the uevents up to the fork; this process hears nothing until its own listener
         * runs. A change in between would be lost, so count one: a token from before the fork reads as
         * changed here (the conservative answer). */
        if (start_listener(c, err) != VG_OK) return VG_ERROR;
        vmgenid_bump(c);
        return VG_OK;
    }
    return VG_OK;
}

int vg_adopt(vg_counter *c, vg_error *err) { return vg_own(c, &c->fork_gen, err); }

static void vg_backend_fork_prepare(void) { pthread_mutex_lock(&lists_lock); }
static void vg_backend_fork_parent(void) { pthread_mutex_unlock(&lists_lock); }
static void vg_backend_fork_child(void) { pthread_mutex_unlock(&lists_lock); }

void vg_free(vg_counter *c) {
    if (!c) return;
    if (c->fork_gen != vg_fork_generation()) {   /* a forked child's copy: never stop the parent's thread */
        disown(c);
        c->fork_gen = vg_fork_generation();
    }
    if (c->thread_started) {
        efd_signal(c->stop_fd);
        pthread_join(c->thread, NULL);
    }
    file_unguard(&c->file);   /* before the mapping goes */
    int fds[] = {c->nl_fd, c->stop_fd, c->event_fd, c->close_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    for (size_t i = 0; i < c->nlfd; i++) close(c->lfd[i]);   /* after the join: the listener signals them */
    free(c->lfd);
    if (c->page) munmap((void *)c->page, c->map_len);
    file_close(&c->file);
    free(c->devpath);
    free(c);
}

static const char *source_name(int src) {
    return src == VG_SRC_DISRUPTION_MARKER ? "disruption_marker" : "vm_generation_counter";
}

const char *vg_describe(vg_counter *c) {
    const char *d = file_describe(&c->file, c->desc, c->desc_now, sizeof c->desc_now);
    if (d != c->desc || c->backend != VG_BACKEND_VMCLOCK || vg_page_source(c->page) == c->ext) return d;
    /* The hypervisor gained or lost the generation counter since open (a migration): say what that means. */
    snprintf(c->desc_now, sizeof c->desc_now, "%s; VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT has been %s since open: "
             "a change (count_high 1 while it lasts); read() follows %s now, changed() follows %s", c->desc,
             c->ext == VG_SRC_GEN_COUNTER ? "cleared" : "set", source_name(vg_page_source(c->page)),
             source_name(__atomic_load_n(&c->src, __ATOMIC_ACQUIRE)));
    return c->desc_now;
}

const char *vg_source(vg_counter *c) {
    switch (c->backend) {
    case VG_BACKEND_VMCLOCK: return source_name(__atomic_load_n(&c->src, __ATOMIC_ACQUIRE));
    case VG_BACKEND_VMGENID: return "uevents";
    default: return "simulated";
    }
}

const char *vg_platform(void) { return "linux"; }
