/* counter_smoke.c - the Linux counter backends (csrc/counter/vg_counter_linux.c) driven from plain C, through
 * nothing but the API in csrc/counter/vg_counter.h. Built by tests/rigs/test_musl_counter.py twice, against musl
 * (musl-gcc -static: what the musllinux wheels link against) and against glibc (the system gcc):
 *
 *   cc -O2 -std=c11 -Icsrc -pthread tests/rigs/c/counter_smoke.c csrc/counter/vg_counter_linux.c -o counter_smoke
 *   ./counter_smoke DIR [VMGENID_DEVPATH]
 *
 * DIR: a writable directory for the file-backed simulated counter. VMGENID_DEVPATH (optional, needs root
 * and a device bound to the vmgenid driver): also write "change" to /sys<DEVPATH>/uevent and expect the
 * listener thread to see the kernel's uevent.
 *
 * Every check prints a line on failure; the exit status is 1 if any failed, 0 otherwise. Every wait has
 * a deadline, so a lost wake-up is a failed check, not a hang.
 */
#define _GNU_SOURCE
#include "vg_counter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static int checks, failures;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        checks++;                                                               \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
        }                                                                       \
    } while (0)

/* A check whose failure makes the rest of a section meaningless. */
#define REQUIRE(cond, ...)                                                      \
    do {                                                                        \
        int before_ = failures;                                                 \
        CHECK(cond, __VA_ARGS__);                                               \
        if (failures != before_) return;                                        \
    } while (0)

static const char *rc_name(int rc) {
    switch (rc) {
    case VG_OK: return "VG_OK";
    case VG_TIMEOUT: return "VG_TIMEOUT";
    case VG_INTERRUPTED: return "VG_INTERRUPTED";
    case VG_CLOSED: return "VG_CLOSED";
    case VG_WOKEN: return "VG_WOKEN";
    case VG_ERROR: return "VG_ERROR";
    default: return "?";
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int readable(int fd, int timeout_ms) {
    struct pollfd pf = {fd, POLLIN, 0};
    int r;
    do r = poll(&pf, 1, timeout_ms); while (r < 0 && errno == EINTR);
    return r > 0 && (pf.revents & POLLIN);
}

static int gen_eq(vg_gen a, vg_gen b) { return a.count == b.count && a.count_high == b.count_high; }

/* ---------- a waiter thread ---------- */

struct waiter {
    vg_counter *c;
    vg_gen seen, out;
    int64_t deadline_ns;
    int rc;
    vg_error err;
    int started;            /* set (atomically) just before vg_wait */
    int64_t returned_ns;    /* vg_now_ns() when vg_wait returned */
    pthread_t thread;
};

static void *waiter_main(void *arg) {
    struct waiter *w = arg;
    __atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
    w->rc = vg_wait(w->c, &w->seen, &w->out, w->deadline_ns, vg_interrupt_handle(), &w->err);
    w->returned_ns = vg_now_ns();
    return NULL;
}

/* Start a waiter on c for a change from seen, and give it time to block in the kernel. */
static int waiter_start(struct waiter *w, vg_counter *c, vg_gen seen, int64_t timeout_ns) {
    memset(w, 0, sizeof *w);
    w->c = c;
    w->seen = seen;
    w->deadline_ns = vg_now_ns() + timeout_ns;
    w->rc = -99;
    if (pthread_create(&w->thread, NULL, waiter_main, w) != 0) return -1;
    while (!__atomic_load_n(&w->started, __ATOMIC_ACQUIRE)) sleep_ms(1);
    sleep_ms(100);   /* now it is asleep in futex_waitv (or it has a bug we will see) */
    return 0;
}

/* ---------- 1. in-process simulated counter ---------- */

static void test_in_process(void) {
    vg_error err = {0};
    vg_counter *c = NULL;
    vg_gen g, out;
    int rc = vg_open(VG_BACKEND_SIMULATED, NULL, 0, &c, &err);
    REQUIRE(rc == VG_OK && c, "vg_open(simulated, NULL): %s %s", rc_name(rc), err.msg);
    CHECK(vg_describe(c) && *vg_describe(c), "no description");
    CHECK(vg_poll_interval_ns(c) == 0, "a futex-waited counter should not poll");

    rc = vg_read(c, &g, &err);
    CHECK(rc == VG_OK && g.count == 0 && g.count_high == 0, "fresh read: %s %llu/%llu", rc_name(rc),
          (unsigned long long)g.count, (unsigned long long)g.count_high);

    /* store: the value reads back, the hot word moves, the asyncio eventfd turns readable */
    vg_hot_ptr hot = vg_hot_word(c);
    REQUIRE(hot != NULL, "no hot word");
    uint64_t h0 = vg_hot_load(hot);
    int efd = vg_event_fd(c);
    CHECK(efd >= 0, "in-process counter has no event fd");
    CHECK(efd < 0 || !readable(efd, 0), "event fd readable before any store");
    vg_gen v = {5, 7};
    rc = vg_sim_store(c, &v, 0, &out, &err);
    CHECK(rc == VG_OK && gen_eq(out, v), "store {5,7}: %s %s", rc_name(rc), err.msg);
    rc = vg_read(c, &g, &err);
    CHECK(rc == VG_OK && gen_eq(g, v), "read after store: %llu/%llu", (unsigned long long)g.count,
          (unsigned long long)g.count_high);
    uint64_t h1 = vg_hot_load(hot);
    CHECK(h1 != h0, "hot word did not move on a store (%llu)", (unsigned long long)h1);
    CHECK(efd < 0 || readable(efd, 0), "event fd not readable after a store");
    CHECK(vg_drain(c) == VG_OK, "vg_drain");
    CHECK(efd < 0 || !readable(efd, 0), "event fd still readable after vg_drain");

    /* storing the same value is no change: the hot word stays */
    rc = vg_sim_store(c, &v, 0, &out, &err);
    CHECK(rc == VG_OK && vg_hot_load(hot) == h1, "same-value store moved the hot word");

    /* advance: count + 1, and the 128-bit carry */
    rc = vg_sim_store(c, NULL, 1, &out, &err);
    CHECK(rc == VG_OK && out.count == 6 && out.count_high == 7, "advance: %s %llu/%llu", rc_name(rc),
          (unsigned long long)out.count, (unsigned long long)out.count_high);
    CHECK(vg_hot_load(hot) != h1, "hot word did not move on advance");
    vg_gen top = {UINT64_MAX, 1};
    vg_sim_store(c, &top, 0, &out, &err);
    rc = vg_sim_store(c, NULL, 1, &out, &err);
    CHECK(rc == VG_OK && out.count == 0 && out.count_high == 2, "advance carry: %llu/%llu",
          (unsigned long long)out.count, (unsigned long long)out.count_high);

    /* a waiter thread blocked in vg_wait is woken by a store, promptly */
    struct waiter w;
    vg_read(c, &g, &err);
    REQUIRE(waiter_start(&w, c, g, 10000 * MS) == 0, "pthread_create");
    CHECK(__atomic_load_n(&w.rc, __ATOMIC_ACQUIRE) == -99, "vg_wait returned before any change: %s",
          rc_name(w.rc));
    vg_gen v2 = {42, 0};
    int64_t stored_at = vg_now_ns();
    rc = vg_sim_store(c, &v2, 0, &out, &err);
    CHECK(rc == VG_OK, "store {42,0}: %s", err.msg);
    pthread_join(w.thread, NULL);
    CHECK(w.rc == VG_OK && gen_eq(w.out, v2), "waiter: %s (%s) %llu/%llu", rc_name(w.rc), w.err.msg,
          (unsigned long long)w.out.count, (unsigned long long)w.out.count_high);
    CHECK(w.returned_ns - stored_at < 2000 * MS, "waiter woke %lld ms after the store",
          (long long)((w.returned_ns - stored_at) / MS));

    /* a wait with nothing changing times out at its deadline, not before */
    vg_read(c, &g, &err);
    int64_t t0 = vg_now_ns();
    rc = vg_wait(c, &g, &out, t0 + 150 * MS, NULL, &err);
    int64_t took = vg_now_ns() - t0;
    CHECK(rc == VG_TIMEOUT, "timed wait: %s %s", rc_name(rc), err.msg);
    CHECK(took >= 149 * MS && took < 3000 * MS, "timed wait took %lld ms (deadline 150 ms)", (long long)(took / MS));

    /* a wait whose generation already differs returns at once */
    vg_gen old = {1, 0};
    rc = vg_wait(c, &old, &out, vg_now_ns() + 5000 * MS, NULL, &err);
    CHECK(rc == VG_OK && gen_eq(out, g), "stale-token wait: %s", rc_name(rc));

    /* vg_wake: a blocked waiter returns VG_WOKEN, nothing changed */
    REQUIRE(waiter_start(&w, c, g, 10000 * MS) == 0, "pthread_create");
    vg_wake(c);
    pthread_join(w.thread, NULL);
    CHECK(w.rc == VG_WOKEN, "waiter after vg_wake: %s", rc_name(w.rc));

    /* vg_close wakes a blocked waiter with VG_CLOSED; afterwards every call says VG_CLOSED */
    REQUIRE(waiter_start(&w, c, g, 10000 * MS) == 0, "pthread_create");
    int64_t closed_at = vg_now_ns();
    vg_close(c);
    pthread_join(w.thread, NULL);
    CHECK(w.rc == VG_CLOSED, "waiter after vg_close: %s", rc_name(w.rc));
    CHECK(w.returned_ns - closed_at < 2000 * MS, "vg_close woke the waiter after %lld ms",
          (long long)((w.returned_ns - closed_at) / MS));
    vg_close(c);   /* idempotent */
    CHECK(vg_read(c, &g, &err) == VG_CLOSED, "read after close");
    CHECK(vg_sim_store(c, NULL, 1, &out, &err) == VG_CLOSED, "store after close");
    CHECK(vg_wait(c, &g, &out, -1, NULL, &err) == VG_CLOSED, "wait after close");
    vg_free(c);
}

/* ---------- 2. a file-backed simulated counter shared with a child process ---------- */

static int child_main(const char *path, vg_gen start) {
    /* Its own counter on the same file (as another program would open it). */
    vg_error err = {0};
    vg_counter *c = NULL;
    vg_gen out, g;
    if (vg_open(VG_BACKEND_SIMULATED, path, 0, &c, &err) != VG_OK) { fprintf(stderr, "child open: %s\n", err.msg); return 10; }
    if (vg_read(c, &g, &err) != VG_OK || !gen_eq(g, start)) { fprintf(stderr, "child read: %s\n", err.msg); return 11; }
    sleep_ms(150);   /* the parent is asleep in vg_wait by now */
    if (vg_sim_store(c, NULL, 1, &out, &err) != VG_OK || out.count != start.count + 1) {
        fprintf(stderr, "child advance: %s\n", err.msg);
        return 12;
    }
    /* and the other way round: wait for the parent's store */
    int rc = vg_wait(c, &out, &g, vg_now_ns() + 10000 * MS, NULL, &err);
    if (rc != VG_OK) { fprintf(stderr, "child wait: %s %s\n", rc_name(rc), err.msg); return 13; }
    if (g.count != 1000 || g.count_high != 3) {
        fprintf(stderr, "child saw %llu/%llu, expected 1000/3\n", (unsigned long long)g.count,
                (unsigned long long)g.count_high);
        return 14;
    }
    vg_close(c);
    vg_free(c);
    return 0;
}

static void test_shared_file(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/sim-%ld", dir, (long)getpid());
    unlink(path);
    vg_error err = {0};
    vg_counter *c = NULL, *probe = NULL;
    vg_gen g0, g, out;

    int rc = vg_open(VG_BACKEND_SIMULATED, path, 0, &probe, &err);
    CHECK(rc == VG_ERROR && err.kind == VG_E_NOT_FOUND, "opening a missing file without VG_OPEN_CREATE: %s kind=%d",
          rc_name(rc), err.kind);
    if (probe) vg_free(probe);
    rc = vg_open(VG_BACKEND_SIMULATED, path, VG_OPEN_CREATE, &c, &err);
    REQUIRE(rc == VG_OK && c, "vg_open(simulated, %s, CREATE): %s %s", path, rc_name(rc), err.msg);
    REQUIRE(vg_read(c, &g0, &err) == VG_OK, "read: %s", err.msg);
    vg_hot_ptr hot = vg_hot_word(c);
    uint64_t h0 = vg_hot_load(hot);
    int efd = vg_event_fd(c);
    CHECK(efd >= 0, "file counter has no (inotify) event fd");
    vg_drain(c);

    /* The same file through the vmclock backend (a simulated file is a valid VMClock page): read-only,
     * no notifications, so its waits re-read the page. */
    vg_counter *vc = NULL;
    rc = vg_open(VG_BACKEND_VMCLOCK, path, 0, &vc, &err);
    CHECK(rc == VG_OK && vc, "vg_open(vmclock, %s): %s %s", path, rc_name(rc), err.msg);
    CHECK(!vc || vg_poll_interval_ns(vc) > 0, "vmclock over a file should re-read");
    CHECK(!vc || strcmp(vg_source(vc), "vm_generation_counter") == 0, "vmclock source of a flagged page: %s",
          vc ? vg_source(vc) : "");
    CHECK(!vc || vg_sim_store(vc, NULL, 1, &out, &err) == VG_ERROR, "vmclock counter accepted a store");

    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) _exit(child_main(path, g0));

    /* Parent: asleep in vg_wait until the child advances the shared page. */
    int64_t t0 = vg_now_ns();
    rc = vg_wait(c, &g0, &g, t0 + 10000 * MS, NULL, &err);
    CHECK(rc == VG_OK && g.count == g0.count + 1 && g.count_high == g0.count_high,
          "parent wait for the child's advance: %s %s %llu", rc_name(rc), err.msg, (unsigned long long)g.count);
    int64_t waited = vg_now_ns() - t0;
    CHECK(waited >= 100 * MS, "parent wait returned after %lld ms, before the child stored", (long long)(waited / MS));
    CHECK(waited < 3000 * MS, "parent wait returned after %lld ms: the child's store did not wake it",
          (long long)(waited / MS));
    CHECK(vg_hot_load(hot) != h0, "hot word did not move on the child's store");
    CHECK(efd < 0 || readable(efd, 2000), "inotify fd not readable after the child's store");
    vg_drain(c);
    if (vc) {
        vg_gen seen = g0;
        rc = vg_wait(vc, &seen, &out, vg_now_ns() + 2000 * MS, NULL, &err);
        CHECK(rc == VG_OK && gen_eq(out, g), "vmclock view of the file: %s %llu", rc_name(rc),
              (unsigned long long)out.count);
    }

    sleep_ms(100);   /* the child is asleep in vg_wait by now */
    vg_gen v = {1000, 3};
    rc = vg_sim_store(c, &v, 0, &out, &err);
    CHECK(rc == VG_OK, "parent store: %s", err.msg);
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, 0); while (r < 0 && errno == EINTR);
    CHECK(r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit status %d (raw %d)",
          WIFEXITED(status) ? WEXITSTATUS(status) : -1, status);

    /* Reopening the file sees the last value: it lives in the file, not in either process. */
    vg_counter *again = NULL;
    rc = vg_open(VG_BACKEND_SIMULATED, path, 0, &again, &err);
    CHECK(rc == VG_OK && vg_read(again, &g, &err) == VG_OK && gen_eq(g, v), "reopen: %s", err.msg);
    if (again) vg_free(again);
    if (vc) { vg_close(vc); vg_free(vc); }
    vg_close(c);
    vg_free(c);
    unlink(path);
}

/* ---------- 3. probes, and the vmgenid listener thread ---------- */

static void test_probes(const char *vmgenid_devpath) {
    vg_error err = {0};
    int rc = vg_probe(VG_BACKEND_VMGENID, NULL, &err);
    CHECK(rc == VG_OK, "vg_probe(vmgenid): netlink uevent socket: %s %s", rc_name(rc), err.msg);
    rc = vg_probe(VG_BACKEND_SIMULATED, NULL, &err);
    CHECK(rc == VG_OK, "vg_probe(simulated): %s %s", rc_name(rc), err.msg);
    memset(&err, 0, sizeof err);
    rc = vg_probe(VG_BACKEND_WINDOWS, NULL, &err);
    CHECK(rc == VG_ERROR && err.kind == VG_E_NOT_SUPPORTED && err.msg[0], "vg_probe(windows): %s kind=%d",
          rc_name(rc), err.kind);
    memset(&err, 0, sizeof err);
    rc = vg_probe(VG_BACKEND_VMCLOCK, "/nonexistent/vmclock0", &err);
    CHECK(rc == VG_ERROR && err.kind == VG_E_NOT_FOUND && err.sys_errno == ENOENT, "vg_probe(vmclock, missing): %s kind=%d",
          rc_name(rc), err.kind);
    memset(&err, 0, sizeof err);
    rc = vg_probe(VG_BACKEND_VMCLOCK, "/dev/null", &err);
    CHECK(rc == VG_ERROR, "vg_probe(vmclock, /dev/null) accepted it");
    memset(&err, 0, sizeof err);
    rc = vg_probe(99, NULL, &err);
    CHECK(rc == VG_ERROR && err.kind == VG_E_INVALID, "vg_probe(99): %s kind=%d", rc_name(rc), err.kind);

    /* A vmgenid counter: the netlink listener thread starts, waits time out, close wakes, free joins. */
    const char *devpath = vmgenid_devpath ? vmgenid_devpath : "/devices/platform/VMGENCTR:00";
    vg_counter *c = NULL;
    rc = vg_open(VG_BACKEND_VMGENID, devpath, 0, &c, &err);
    REQUIRE(rc == VG_OK && c, "vg_open(vmgenid, %s): %s %s", devpath, rc_name(rc), err.msg);
    vg_gen g, out;
    CHECK(vg_read(c, &g, &err) == VG_OK && g.count == 0, "vmgenid fresh read");
    CHECK(vg_sim_store(c, NULL, 1, &out, &err) == VG_ERROR && err.kind == VG_E_NOT_SUPPORTED,
          "vmgenid accepted vg_sim_store");
    rc = vg_wait(c, &g, &out, vg_now_ns() + 50 * MS, NULL, &err);
    CHECK(rc == VG_TIMEOUT, "vmgenid timed wait: %s", rc_name(rc));

    if (vmgenid_devpath) {   /* a real kernel uevent: root writes "change" to the device's uevent file */
        char ue[4200];
        snprintf(ue, sizeof ue, "/sys%s/uevent", vmgenid_devpath);
        struct waiter w;
        REQUIRE(waiter_start(&w, c, g, 10000 * MS) == 0, "pthread_create");
        int fd = open(ue, O_WRONLY | O_CLOEXEC);
        CHECK(fd >= 0, "open %s: %s", ue, strerror(errno));
        if (fd >= 0) {
            CHECK(write(fd, "change", 6) == 6, "write %s: %s", ue, strerror(errno));
            close(fd);
        }
        pthread_join(w.thread, NULL);
        CHECK(w.rc == VG_OK && w.out.count >= 1, "vmgenid waiter after a change uevent: %s %llu", rc_name(w.rc),
              (unsigned long long)w.out.count);
        vg_read(c, &g, &err);
    }

    struct waiter w;
    REQUIRE(waiter_start(&w, c, g, 10000 * MS) == 0, "pthread_create");
    vg_close(c);
    pthread_join(w.thread, NULL);
    CHECK(w.rc == VG_CLOSED, "vmgenid waiter after vg_close: %s", rc_name(w.rc));
    vg_free(c);   /* joins the listener thread: a hang here is a failure the caller's timeout catches */
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [VMGENID_DEVPATH]\n", argv[0]);
        return 2;
    }
#ifdef __GLIBC__
    printf("libc: glibc %d.%d\n", __GLIBC__, __GLIBC_MINOR__);
#else
    printf("libc: not glibc (musl)\n");
#endif
    int64_t t0 = vg_now_ns();
    test_in_process();
    test_shared_file(argv[1]);
    test_probes(argc > 2 && argv[2][0] ? argv[2] : NULL);
    printf("%d checks, %d failed, %lld ms\n", checks, failures, (long long)((vg_now_ns() - t0) / MS));
    return failures ? 1 : 0;
}
