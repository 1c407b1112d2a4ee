/* vg_file_guard.h - a counter file truncated under its mapping must not kill the process.
 *
 * A MAP_SHARED mapping of a regular file raises SIGBUS when a page lies wholly past the file's end: truncate
 * a simulated counter's file (or a vmclock page file) and every process mapping it dies at its next changed(),
 * token(), read() or wait(). The ways to survive that, and why this one:
 *   - fstat() before each access: a system call on the hot path, whose point is one load (read() and waits,
 *     which are allowed a system call, do check the file: vg_posix_page.h, file_check);
 *   - a private copy of the page: loses the sharing the file exists for;
 *   - making truncation impossible: seals (F_ADD_SEALS) exist only for memfd/shmem, not for a file in a
 *     directory; a lease only delays a truncation (lease-break-time) and is refused to a process that writes;
 *   - a SIGBUS handler (this file) costs nothing until the fault and leaves changed() one load. The fault can
 *     only come from a page of ours, so the handler looks the address up among vmgen's file mappings, puts a
 *     private page with sentinel values (VG_HOT_BROKEN) over that mapping, marks the guard broken and returns:
 *     the faulting load re-runs on the new page. changed() then reports True; read(), waits and stores see the
 *     broken flag and raise VmgenError naming the file. Every other SIGBUS goes on to the handler that was
 *     installed before ours, as if ours were not there.
 *
 * Installed once, when the first counter file is mapped; never removed. A handler installed after ours that
 * re-raises SIGBUS instead of chaining (Python's faulthandler: dump, restore its predecessor, raise) reaches us
 * as a SIGBUS the process sent itself, with no address: then we fstat our files and cover any that shrank to
 * nothing, so the faulting load still succeeds when it re-runs (after faulthandler's spurious report).
 *
 * The handler only reads the registry and makes system calls (fstat, mmap/mremap, sigaction, pthread_sigmask,
 * raise, sched_yield): no locks, no allocation. Slots are claimed with compare-and-swap; the list of slot
 * chunks only grows, so the handler may walk it while another thread registers a file.
 */
#ifndef VG_FILE_GUARD_H
#define VG_FILE_GUARD_H

#include "vg_counter.h"
#include "vg_vmclock.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MAP_ANON
#define MAP_ANON MAP_ANONYMOUS
#endif

enum { GUARD_FREE = 0, GUARD_LIVE = 1, GUARD_BUSY = 2 };

typedef struct vg_guard {
    int state;       /* GUARD_*: LIVE -> BUSY with a CAS by whoever works on it, for a few system calls */
    int broken;      /* the file's page is gone: the sentinel page is mapped in its place */
    char *addr;      /* the mapping, page aligned */
    size_t len;      /* its length, rounded up to the system page */
    int fd;          /* the mapped file (for fstat when the fault's address is unknown) */
} vg_guard;

#define VG_GUARD_CHUNK 64
typedef struct vg_guard_chunk {
    struct vg_guard_chunk *next;
    vg_guard slot[VG_GUARD_CHUNK];
} vg_guard_chunk;

static vg_guard_chunk *guard_chunks;   /* append-only, never freed */
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;   /* writers: install, grow, claim a free slot */
static struct sigaction guard_prev;    /* what SIGBUS did before us */
static int guard_installed;
static size_t guard_pagesize;

#define G_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define G_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static int guard_claim(vg_guard *g) {
    int live = GUARD_LIVE;
    return __atomic_compare_exchange_n(&g->state, &live, GUARD_BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Put a private page with the sentinel values over g's mapping (g claimed). 1 = done. */
static int guard_cover(vg_guard *g) {
    char *addr = __atomic_load_n(&g->addr, __ATOMIC_RELAXED);
    size_t len = __atomic_load_n(&g->len, __ATOMIC_RELAXED);
#if defined(__linux__) && defined(MREMAP_FIXED)
    /* Fill a fresh page first, then move it over the mapping in one step: a reader in another thread sees the
     * old page or the sentinel, never a zero hot word in between. */
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
    if (p == MAP_FAILED) return 0;
    ((vg_vmclock_page *)p)->vm_generation_counter = VG_HOT_BROKEN;
    ((vg_vmclock_page *)p)->disruption_marker = VG_HOT_BROKEN;   /* every word a hot path may load */
    ((vg_vmclock_page *)p)->vg_changes = VG_HOT_BROKEN;
    if (mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, addr) == MAP_FAILED) {
        munmap(p, len);
        return 0;
    }
#else
    /* No mremap: map over, then fill (a reader racing the fill may see a zero hot word for a moment). */
    void *p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED) return 0;
    __atomic_store_n(&((vg_vmclock_page *)p)->vm_generation_counter, VG_HOT_BROKEN, __ATOMIC_RELEASE);
    __atomic_store_n(&((vg_vmclock_page *)p)->disruption_marker, VG_HOT_BROKEN, __ATOMIC_RELEASE);
    __atomic_store_n(&((vg_vmclock_page *)p)->vg_changes, VG_HOT_BROKEN, __ATOMIC_RELEASE);
#endif
    G_STORE(&g->broken, 1);
    return 1;
}

/* A fault at addr: if it lies in one of our mappings, cover that mapping. 1 = covered (re-run the access). */
static int guard_fix_addr(const char *addr) {
again:
    for (vg_guard_chunk *ch = G_LOAD(&guard_chunks); ch; ch = G_LOAD(&ch->next))
        for (int i = 0; i < VG_GUARD_CHUNK; i++) {
            vg_guard *g = &ch->slot[i];
            if (G_LOAD(&g->state) == GUARD_FREE) continue;
            char *a = __atomic_load_n(&g->addr, __ATOMIC_RELAXED);
            if (addr < a || addr >= a + __atomic_load_n(&g->len, __ATOMIC_RELAXED)) continue;
            if (!guard_claim(g)) {   /* another thread is covering, checking or (re)filling it: wait, look again */
                while (G_LOAD(&g->state) == GUARD_BUSY) sched_yield();
                goto again;
            }
            a = __atomic_load_n(&g->addr, __ATOMIC_RELAXED);   /* ours now: re-check what it maps */
            int ok = 0, mine = addr >= a && addr < a + __atomic_load_n(&g->len, __ATOMIC_RELAXED);
            if (mine) ok = G_LOAD(&g->broken) || guard_cover(g);
            G_STORE(&g->state, GUARD_LIVE);
            if (!mine) goto again;
            return ok;
        }
    return 0;
}

/* A SIGBUS without an address (raised by a handler installed after ours): cover every file of ours that has
 * shrunk to nothing, i.e. whose mapped page is wholly past the end. 1 = one of ours is (now) covered, so the
 * fault was probably ours and re-running the access succeeds. That includes a file another thread covered
 * first: its fault and ours came together. (A later raise(SIGBUS) that is not a fault, while such a file stays
 * empty, is taken for ours too: the one case this guess gets wrong. A real fault elsewhere still arrives with
 * its address and is chained.) */
static int guard_sweep(void) {
    int fixed = 0;
    for (vg_guard_chunk *ch = G_LOAD(&guard_chunks); ch; ch = G_LOAD(&ch->next))
        for (int i = 0; i < VG_GUARD_CHUNK; i++) {
            vg_guard *g = &ch->slot[i];
            if (G_LOAD(&g->state) != GUARD_LIVE || !guard_claim(g)) continue;
            struct stat st;
            if (fstat(g->fd, &st) == 0 && st.st_size == 0) fixed |= G_LOAD(&g->broken) || guard_cover(g);
            G_STORE(&g->state, GUARD_LIVE);
        }
    return fixed;
}

/* Hand a SIGBUS that is not ours to the handler before us, with its semantics. */
static void guard_chain(int sig, siginfo_t *si, void *ctx) {
    struct sigaction prev = guard_prev;
    int fault = si && si->si_code > 0;   /* raised by the kernel for an access, not sent by a process */
    if (prev.sa_flags & SA_RESETHAND) {  /* a one-shot handler: next time, the default */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        guard_prev = dfl;
    }
    int custom = (prev.sa_flags & SA_SIGINFO) ? prev.sa_sigaction != NULL
                                              : prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN;
    if (custom) {
        /* Its sa_mask, and SIGBUS blocked during it unless it asked for SA_NODEFER (faulthandler does, so that
         * its raise() reaches the handler it restores at once). */
        sigset_t mask, old;
        mask = prev.sa_mask;
        if (prev.sa_flags & SA_NODEFER) {
            pthread_sigmask(SIG_BLOCK, &mask, &old);
            sigset_t un;
            sigemptyset(&un);
            sigaddset(&un, sig);
            pthread_sigmask(SIG_UNBLOCK, &un, NULL);
        } else {
            sigaddset(&mask, sig);
            pthread_sigmask(SIG_BLOCK, &mask, &old);
        }
        if (prev.sa_flags & SA_SIGINFO) prev.sa_sigaction(sig, si, ctx);
        else prev.sa_handler(sig);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return;
    }
    if (prev.sa_handler == SIG_IGN && !fault) return;   /* an ignored SIGBUS sent by a process */
    /* The default action (the kernel also applies it to an ignored SIGBUS from a fault): restore it, then let
     * the fault happen again on return, or re-send the signal (blocked until we return). */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    if (!fault) raise(sig);
}

static void guard_handler(int sig, siginfo_t *si, void *ctx) {
    int saved = errno;
    int ours = 0;
    if (si && si->si_code > 0) ours = guard_fix_addr((const char *)si->si_addr);
    else if (si && si->si_pid == getpid()) ours = guard_sweep();
    if (!ours) guard_chain(sig, si, ctx);
    errno = saved;
}

static void guard_atfork_prepare(void) { pthread_mutex_lock(&guard_lock); }
static void guard_atfork_after(void) { pthread_mutex_unlock(&guard_lock); }

/* Under guard_lock. */
static int guard_install(vg_error *err) {
    if (guard_installed) return VG_OK;
    long ps = sysconf(_SC_PAGESIZE);
    guard_pagesize = ps > 0 ? (size_t)ps : VG_PAGE_SIZE;
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    sigemptyset(&sa.sa_mask);
    /* SA_ONSTACK: a thread with an alternate signal stack keeps using it; SA_RESTART as the handler before us
     * had it, so a SIGBUS sent to the process interrupts system calls as it did without vmgen. */
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    if (sigaction(SIGBUS, NULL, &cur) == 0) sa.sa_flags |= cur.sa_flags & SA_RESTART;
    if (sigaction(SIGBUS, &sa, &guard_prev) != 0)
        return vg_fail(err, VG_E_OS, errno, 0, "sigaction(SIGBUS): %s", strerror(errno));
    pthread_atfork(guard_atfork_prepare, guard_atfork_after, guard_atfork_after);
    guard_installed = 1;
    return VG_OK;
}

/* Watch a file mapping (before anything touches it). NULL with *err filled on failure. */
static vg_guard *guard_add(void *addr, size_t map_len, int fd, vg_error *err) {
    vg_guard *g = NULL;
    pthread_mutex_lock(&guard_lock);
    if (guard_install(err) != VG_OK) goto out;
    vg_guard_chunk **tail = &guard_chunks;
    for (vg_guard_chunk *ch = guard_chunks; ch; tail = &ch->next, ch = ch->next)
        for (int i = 0; i < VG_GUARD_CHUNK && !g; i++) {
            int free_ = GUARD_FREE;
            if (__atomic_compare_exchange_n(&ch->slot[i].state, &free_, GUARD_BUSY, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                g = &ch->slot[i];
        }
    if (!g) {
        vg_guard_chunk *ch = calloc(1, sizeof *ch);
        if (!ch) {
            vg_fail(err, VG_E_OS, ENOMEM, 0, "out of memory");
            goto out;
        }
        g = &ch->slot[0];
        g->state = GUARD_BUSY;
        G_STORE(tail, ch);   /* published whole: the handler may walk into it now */
    }
    __atomic_store_n(&g->addr, (char *)addr, __ATOMIC_RELAXED);
    __atomic_store_n(&g->len, (map_len + guard_pagesize - 1) / guard_pagesize * guard_pagesize, __ATOMIC_RELAXED);
    g->fd = fd;
    G_STORE(&g->broken, 0);
    G_STORE(&g->state, GUARD_LIVE);
out:
    pthread_mutex_unlock(&guard_lock);
    return g;
}

/* Stop watching (before the caller unmaps and closes). Waits out a handler working on it. */
static void guard_remove(vg_guard *g) {
    if (!g) return;
    while (!guard_claim(g)) sched_yield();
    __atomic_store_n(&g->addr, (char *)NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&g->len, (size_t)0, __ATOMIC_RELAXED);
    g->fd = -1;
    G_STORE(&g->state, GUARD_FREE);
}

static int guard_broken(const vg_guard *g) { return g && G_LOAD(&g->broken); }

/* Outside a signal: the file was found gone. Cover the mapping so changed() turns conservative. 1 = covered. */
static int guard_break(vg_guard *g) {
    if (!g) return 0;
    while (!guard_claim(g)) sched_yield();
    int ok = G_LOAD(&g->broken) || guard_cover(g);
    G_STORE(&g->state, GUARD_LIVE);
    return ok;
}

#endif /* VG_FILE_GUARD_H */
