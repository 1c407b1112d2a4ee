/* vg_counter_windows.c - the Windows side of vg_counter.h: the Hyper-V generation counter device
 * (\\.\VmGenerationCounter) and the simulated counter.
 *
 * windows backend
 *   The device is opened once with FILE_FLAG_OVERLAPPED (fallback: the first present device interface
 *   GUID_DEVINTERFACE_VM_GENCOUNTER from CM_Get_Device_Interface_ListW when the symbolic link is missing).
 *   - vg_read: a polling IOCTL_VMGENCOUNTER_READ (zero-length input), exact.
 *   - vg_wait: an event-driven IOCTL (input = the value the caller has seen) on its own OVERLAPPED, waited on
 *     with WaitForMultipleObjects together with a per-wait wake event (vg_wake/vg_close) and the
 *     interpreter's SIGINT event (main thread only). Whatever ends the wait - value, timeout, Ctrl-C, wake,
 *     close, error - a still-pending IOCTL is cancelled with CancelIoEx and reaped with
 *     GetOverlappedResult(bWait=TRUE) before the OVERLAPPED, its event and the buffers go away.
 *   - hot path: one event-driven IOCTL is kept armed in the background. Its completion is seen by a thread-pool
 *     wait (CreateThreadpoolWait) - C only, no Python thread, no GIL - which stores the new value, bumps the
 *     64-bit change sequence that vg_hot_word() exposes (changed() is one load of it) and re-arms with the new
 *     value as input, so a change between completion and re-arm completes the next IOCTL at once.
 *     The watcher's IOCTLs are all issued on the one thread of a private pool that never shrinks (g_pool):
 *     I/O is cancelled when the thread that issued it exits, and Wine then may never write its status block
 *     (the write is an APC to that thread), which left a re-armed watcher spinning on a set event.
 *   - lifetime: the C state is reference-counted. vg_free drops the owner's reference after stopping the
 *     watcher; each pending async op holds one until its IOCTL is reaped, so the device handle and the state
 *     it reaps through outlive the Python objects in whatever order the garbage collector frees them.
 *   - ERROR_NOT_SUPPORTED on an event-driven read (pre-Vista-SP2 guests): vg_wait and the background watcher
 *     fall back to a polling IOCTL every VG_WIN_POLL_MS (10 ms); the counter says so in vg_describe().
 *   - vg_async_*: one overlapped event-driven IOCTL per asynchronous wait, exposing its event handle so
 *     asyncio's proactor can wait for it (no thread per wait); cancel = CancelIoEx + reap.
 *
 * simulated backend (so the same tests and `VMGEN_SIMULATE=FILE` work on Windows)
 *   The generation lives in a VMClock-shaped page (vg_vmclock.h): heap memory, or a file mapped with
 *   CreateFileMapping by every process that opens it. In-process stores wake waiters at once through their
 *   wake events; changes made by another process are seen by re-reading the page every VG_SIM_REREAD_MS.
 */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0600
#endif
#include <windows.h>
#include <cfgmgr32.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vg_counter.h"
#include "vg_vmclock.h"

#define VG_WIN_POLL_MS 10          /* polling fallback when event-driven reads are not supported */
#define VG_SIM_REREAD_MS 1         /* simulated file pages: how often a waiter re-reads for other processes */
#define VG_IOCTL_VMGENCOUNTER_READ 0x0032C004u

/* GUID_DEVINTERFACE_VM_GENCOUNTER {3ff2c92b-6598-4e60-8e1c-0ccf4927e319} */
static const GUID vg_gencounter_guid = {0x3ff2c92b, 0x6598, 0x4e60, {0x8e, 0x1c, 0x0c, 0xcf, 0x49, 0x27, 0xe3, 0x19}};
static const wchar_t vg_device_path[] = L"\\\\.\\VmGenerationCounter";

/* From the hosting interpreter (exported by python3X.dll; declared in CPython's internal pycore_signal.h). */
__declspec(dllimport) void *_PyOS_SigintEvent(void);
__declspec(dllimport) int _PyOS_IsMainThread(void);

typedef struct vg_waiter {
    struct vg_waiter *next, *prev;
    HANDLE ev;               /* manual-reset; set by vg_wake / vg_close / a simulated store */
} vg_waiter;

struct vg_counter {
    int backend;
    volatile LONG refs;      /* the owner's (dropped by vg_free) + one per unreaped async op */
    volatile uint64_t hot;   /* the hot-path word (windows backend): bumped on every change the watcher sees */
    SRWLOCK lock;            /* waiters list, closed, last */
    vg_waiter waiters;       /* list head */
    volatile LONG closed;
    volatile LONG wake_seq;
    char desc[200];

    /* windows backend */
    HANDLE dev;
    volatile LONG event_mode;      /* 1 until the device answers ERROR_NOT_SUPPORTED */
    vg_gen last;                   /* last value the watcher published */
    CRITICAL_SECTION bg_cs;        /* bg_* below */
    OVERLAPPED bg_ov;
    vg_gen bg_in, bg_out;
    int bg_pending, bg_stop;
    unsigned long bg_error;        /* last unexpected error of the watcher (0 = none) */
    PTP_WAIT bg_wait;
    PTP_TIMER bg_timer;            /* polling fallback for the hot word */

    /* simulated backend */
    volatile vg_vmclock_page *page;
    HANDLE file, mapping;          /* file-backed page, else NULL */
    void *heap_page;
};

struct vg_async {
    vg_counter *c;
    OVERLAPPED ov;
    vg_gen in, out;
    int pending;                   /* the IOCTL is in flight (not yet reaped) */
    int closed;                    /* the counter was closed when it was reaped */
    DWORD result;                  /* ERROR_SUCCESS or the completion's error */
};

/* ---------- helpers ---------- */

#define fail(err, kind, winerror, ...) vg_fail((err), (kind), 0, (winerror), __VA_ARGS__)

static void win_message(unsigned long e, char *buf, size_t n) {
    DWORD len = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, e, 0, buf,
                               (DWORD)n, NULL);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '.'))
        buf[--len] = 0;
    if (!len) snprintf(buf, n, "Windows error %lu", e);
}

/* Map a Win32 error to vg_errkind, keeping winerror. */
static int fail_win(vg_error *err, unsigned long e, const char *what) {
    char m[120];
    win_message(e, m, sizeof m);
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_DEV_NOT_EXIST:
    case ERROR_NOT_READY:
        return fail(err, VG_E_NOT_FOUND, e, "%s: %s (not running in a Hyper-V VM, or its generation counter "
                    "driver is not loaded)", what, m);
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
        return fail(err, VG_E_PERMISSION, e, "%s: %s (the VM generation counter device needs administrator "
                    "or SYSTEM rights)", what, m);
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
        return fail(err, VG_E_NOT_SUPPORTED, e, "%s: %s", what, m);
    default:
        return fail(err, VG_E_OS, e, "%s: %s", what, m);
    }
}

static int gen_eq(const vg_gen *a, const vg_gen *b) {
    return a->count == b->count && a->count_high == b->count_high;
}

int64_t vg_now_ns(void) {
    static LARGE_INTEGER freq;
    LARGE_INTEGER t;
    if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&t);
    return (int64_t)((double)t.QuadPart * 1e9 / (double)freq.QuadPart);
}

/* Call with the GIL held. Python delivers SIGINT to the main thread only, so only the main thread waits on
 * the event (a non-main thread would otherwise wake for a Ctrl-C it cannot handle, over and over). */
static volatile DWORD g_main_tid;   /* the interpreter's main thread, learnt by vg_interrupt_handle() */

void *vg_interrupt_handle(void) {
    if (_PyOS_IsMainThread()) g_main_tid = GetCurrentThreadId();
    return _PyOS_SigintEvent();
}

static DWORD ms_until(int64_t deadline_ns, DWORD cap) {
    int64_t left;
    if (deadline_ns < 0) return cap;
    left = deadline_ns - vg_now_ns();
    if (left <= 0) return 0;
    left = (left + 999999) / 1000000;   /* round up: never wake before the deadline */
    return left < (int64_t)cap ? (DWORD)left : cap;
}

static void waiter_add(vg_counter *c, vg_waiter *w) {
    AcquireSRWLockExclusive(&c->lock);
    w->next = c->waiters.next;
    w->prev = &c->waiters;
    c->waiters.next->prev = w;
    c->waiters.next = w;
    ReleaseSRWLockExclusive(&c->lock);
}

static void waiter_remove(vg_counter *c, vg_waiter *w) {
    AcquireSRWLockExclusive(&c->lock);
    w->prev->next = w->next;
    w->next->prev = w->prev;
    ReleaseSRWLockExclusive(&c->lock);
}

static void wake_waiters(vg_counter *c) {
    vg_waiter *w;
    AcquireSRWLockShared(&c->lock);
    for (w = c->waiters.next; w != &c->waiters; w = w->next) SetEvent(w->ev);
    ReleaseSRWLockShared(&c->lock);
}

static vg_counter *counter_new(int backend) {
    vg_counter *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->backend = backend;
    InitializeSRWLock(&c->lock);
    c->waiters.next = c->waiters.prev = &c->waiters;
    c->dev = INVALID_HANDLE_VALUE;
    c->event_mode = 1;
    InitializeCriticalSection(&c->bg_cs);
    c->refs = 1;
    return c;
}

static void counter_destroy(vg_counter *c);

static void counter_release(vg_counter *c) {
    if (InterlockedDecrement(&c->refs) == 0) counter_destroy(c);
}

/* The watcher's pool: one thread, created once per process and never closed. Every IOCTL of the watcher is
 * issued from it, so none is cancelled by its issuing thread exiting (see the header comment). */
static PTP_POOL g_pool;
static TP_CALLBACK_ENVIRON g_pool_env;

static BOOL CALLBACK pool_init(PINIT_ONCE once, PVOID param, PVOID *ctx) {
    (void)once; (void)param; (void)ctx;
    g_pool = CreateThreadpool(NULL);
    if (!g_pool) return FALSE;
    SetThreadpoolThreadMaximum(g_pool, 1);
    if (!SetThreadpoolThreadMinimum(g_pool, 1)) {
        CloseThreadpool(g_pool);
        g_pool = NULL;
        return FALSE;
    }
    InitializeThreadpoolEnvironment(&g_pool_env);
    SetThreadpoolCallbackPool(&g_pool_env, g_pool);
    return TRUE;
}

static PTP_CALLBACK_ENVIRON watcher_env(void) {
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    return InitOnceExecuteOnce(&once, pool_init, NULL, NULL) ? &g_pool_env : NULL;
}

/* ---------- the device ---------- */

/* Open the device: the symbolic link, else the first present interface of GUID_DEVINTERFACE_VM_GENCOUNTER. */
static HANDLE open_device(const char *path, DWORD flags, vg_error *err) {
    HANDLE h;
    DWORD e;
    wchar_t wpath[512];
    const wchar_t *p = vg_device_path;
    if (path) {
        if (!MultiByteToWideChar(CP_UTF8, 0, path, -1, wpath, 512)) {
            fail(err, VG_E_INVALID, GetLastError(), "device path is not valid UTF-8 or too long");
            return INVALID_HANDLE_VALUE;
        }
        p = wpath;
    }
    h = CreateFileW(p, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
                    flags, NULL);
    if (h != INVALID_HANDLE_VALUE) return h;
    e = GetLastError();
    if (!path && (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)) {
        ULONG len = 0;
        if (CM_Get_Device_Interface_List_SizeW(&len, (LPGUID)&vg_gencounter_guid, NULL,
                                               CM_GET_DEVICE_INTERFACE_LIST_PRESENT) == CR_SUCCESS && len > 1) {
            wchar_t *list = calloc(len, sizeof(wchar_t));
            if (list && CM_Get_Device_Interface_ListW((LPGUID)&vg_gencounter_guid, NULL, list, len,
                                                      CM_GET_DEVICE_INTERFACE_LIST_PRESENT) == CR_SUCCESS &&
                list[0]) {
                h = CreateFileW(list, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL,
                                OPEN_EXISTING, flags, NULL);
                if (h == INVALID_HANDLE_VALUE) e = GetLastError();
            }
            free(list);
            if (h != INVALID_HANDLE_VALUE) return h;
        }
        if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND) {
            fail(err, VG_E_NOT_FOUND, e, "\\\\.\\VmGenerationCounter does not exist and no device interface "
                 "{3ff2c92b-6598-4e60-8e1c-0ccf4927e319} is present: not running in a Hyper-V VM (or the VM "
                 "generation counter driver is not loaded)");
            return INVALID_HANDLE_VALUE;
        }
    }
    fail_win(err, e, path ? path : "cannot open \\\\.\\VmGenerationCounter");
    return INVALID_HANDLE_VALUE;
}

/* A polling read on the (overlapped) handle: issue and wait for it. */
static int device_poll(HANDLE dev, vg_gen *out, vg_error *err) {
    OVERLAPPED ov;
    DWORD n = 0;
    vg_gen v;
    memset(&ov, 0, sizeof ov);
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ov.hEvent) return fail_win(err, GetLastError(), "CreateEvent");
    if (!DeviceIoControl(dev, VG_IOCTL_VMGENCOUNTER_READ, NULL, 0, &v, sizeof v, NULL, &ov)) {
        DWORD e = GetLastError();
        if (e != ERROR_IO_PENDING) {
            CloseHandle(ov.hEvent);
            return fail_win(err, e, "IOCTL_VMGENCOUNTER_READ (polling)");
        }
    }
    if (!GetOverlappedResult(dev, &ov, &n, TRUE)) {
        DWORD e = GetLastError();
        CloseHandle(ov.hEvent);
        return fail_win(err, e, "IOCTL_VMGENCOUNTER_READ (polling)");
    }
    CloseHandle(ov.hEvent);
    if (n != sizeof v) return fail(err, VG_E_OS, 0, "IOCTL_VMGENCOUNTER_READ returned %lu bytes, expected 16", n);
    *out = v;
    return VG_OK;
}

/* Publish a value the watcher saw; bump the hot word if it changed. */
static void publish(vg_counter *c, const vg_gen *v) {
    AcquireSRWLockExclusive(&c->lock);
    if (!gen_eq(v, &c->last)) {
        c->last = *v;
        InterlockedIncrement64((volatile LONG64 *)&c->hot);   /* full barrier: value stored before */
    }
    ReleaseSRWLockExclusive(&c->lock);
}

static void start_poll_timer(vg_counter *c);

/* Arm the background event-driven read (call with bg_cs held). Completions that happen at once are published
 * and re-armed in the loop; a pending one is handed to the thread-pool wait. */
static void bg_arm_locked(vg_counter *c) {
    for (;;) {
        DWORD e;
        if (c->bg_stop || c->bg_pending) return;
        AcquireSRWLockShared(&c->lock);
        c->bg_in = c->last;
        ReleaseSRWLockShared(&c->lock);
        ResetEvent(c->bg_ov.hEvent);
        c->bg_ov.Internal = c->bg_ov.InternalHigh = 0;
        c->bg_ov.Offset = c->bg_ov.OffsetHigh = 0;
        if (DeviceIoControl(c->dev, VG_IOCTL_VMGENCOUNTER_READ, &c->bg_in, sizeof c->bg_in, &c->bg_out,
                            sizeof c->bg_out, NULL, &c->bg_ov)) {
            publish(c, &c->bg_out);
            continue;
        }
        e = GetLastError();
        if (e == ERROR_IO_PENDING) {
            c->bg_pending = 1;
            SetThreadpoolWait(c->bg_wait, c->bg_ov.hEvent, NULL);
            return;
        }
        if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION) InterlockedExchange(&c->event_mode, 0);
        else c->bg_error = e;
        start_poll_timer(c);
        return;
    }
}

static VOID CALLBACK bg_wait_cb(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PTP_WAIT wait, TP_WAIT_RESULT res) {
    vg_counter *c = ctx;
    DWORD n = 0;
    (void)inst; (void)wait; (void)res;
    EnterCriticalSection(&c->bg_cs);
    if (c->bg_pending) {
        BOOL ok = GetOverlappedResult(c->dev, &c->bg_ov, &n, FALSE);
        DWORD e = ok ? 0 : GetLastError();
        if (!ok && e == ERROR_IO_INCOMPLETE) {
            /* The event was set but the IOCTL is still pending (a stale set): reset it before waiting again, or
             * the wait fires at once, over and over. The completion writes the status block before it sets the
             * event, so re-reading the status after the reset cannot miss it. */
            ResetEvent(c->bg_ov.hEvent);
            ok = GetOverlappedResult(c->dev, &c->bg_ov, &n, FALSE);
            e = ok ? 0 : GetLastError();
            if (!ok && e == ERROR_IO_INCOMPLETE) {
                SetThreadpoolWait(c->bg_wait, c->bg_ov.hEvent, NULL);
                LeaveCriticalSection(&c->bg_cs);
                return;
            }
        }
        c->bg_pending = 0;
        if (ok && n == sizeof c->bg_out) publish(c, &c->bg_out);
        else if (!ok && !c->bg_stop && e != ERROR_OPERATION_ABORTED) {
            if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION) InterlockedExchange(&c->event_mode, 0);
            else c->bg_error = e;
            start_poll_timer(c);
            LeaveCriticalSection(&c->bg_cs);
            return;
        }
        /* ERROR_OPERATION_ABORTED without bg_stop: someone cancelled all our I/O (CancelIoEx(dev, NULL)); re-arm */
    }
    bg_arm_locked(c);
    LeaveCriticalSection(&c->bg_cs);
}

static VOID CALLBACK bg_timer_cb(PTP_CALLBACK_INSTANCE inst, PVOID ctx, PTP_TIMER timer) {
    vg_counter *c = ctx;
    vg_gen v;
    (void)inst; (void)timer;
    if (c->bg_stop) return;
    if (device_poll(c->dev, &v, NULL) == VG_OK) publish(c, &v);
}

/* Called with bg_cs held. */
static void start_poll_timer(vg_counter *c) {
    FILETIME due;
    ULARGE_INTEGER u;
    if (c->bg_stop || c->bg_timer) return;
    c->bg_timer = CreateThreadpoolTimer(bg_timer_cb, c, watcher_env());
    if (!c->bg_timer) return;
    u.QuadPart = (ULONGLONG)(-(LONGLONG)VG_WIN_POLL_MS * 10000);   /* relative, 100 ns units */
    due.dwLowDateTime = u.LowPart;
    due.dwHighDateTime = u.HighPart;
    SetThreadpoolTimer(c->bg_timer, &due, VG_WIN_POLL_MS, 0);
}

static int open_windows(vg_counter *c, const char *path, vg_error *err) {
    vg_gen v;
    PTP_CALLBACK_ENVIRON env;
    c->dev = open_device(path, FILE_FLAG_OVERLAPPED, err);
    if (c->dev == INVALID_HANDLE_VALUE) return VG_ERROR;
    if (device_poll(c->dev, &v, err) != VG_OK) return VG_ERROR;
    c->last = v;
    c->bg_ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!c->bg_ov.hEvent) return fail_win(err, GetLastError(), "CreateEvent");
    env = watcher_env();
    if (!env) return fail_win(err, GetLastError(), "CreateThreadpool");
    c->bg_wait = CreateThreadpoolWait(bg_wait_cb, c, env);
    if (!c->bg_wait) return fail_win(err, GetLastError(), "CreateThreadpoolWait");
    /* The first arm also happens on the pool's thread (not this one, which may exit): the callback finds
     * nothing pending and arms with c->last as input, so a change since the read above completes it at once. */
    SetEvent(c->bg_ov.hEvent);
    SetThreadpoolWait(c->bg_wait, c->bg_ov.hEvent, NULL);
    return VG_OK;
}

/* Cancel (if still pending) and reap an IOCTL on ov. Returns TRUE if it completed with a full value. */
static BOOL cancel_and_reap(HANDLE dev, OVERLAPPED *ov, DWORD *error) {
    DWORD n = 0;
    BOOL ok;
    if (!HasOverlappedIoCompleted(ov)) CancelIoEx(dev, ov);   /* ERROR_NOT_FOUND if it just completed: fine */
    ok = GetOverlappedResult(dev, ov, &n, TRUE);
    *error = ok ? 0 : GetLastError();
    return ok && n == sizeof(vg_gen);
}

/* Polling fallback for vg_wait (event-driven reads not supported). */
static int wait_polling(vg_counter *c, vg_waiter *w, const vg_gen *seen, vg_gen *out, int64_t deadline_ns,
                        HANDLE interrupt, LONG wake0, vg_error *err) {
    for (;;) {
        HANDLE hs[2];
        DWORD n = 0, r, ms;
        int rc = device_poll(c->dev, out, err);
        if (rc != VG_OK) return rc;
        if (!gen_eq(out, seen)) return VG_OK;
        if (c->closed) return VG_CLOSED;
        if (c->wake_seq != wake0) return VG_WOKEN;
        ms = ms_until(deadline_ns, VG_WIN_POLL_MS);
        if (deadline_ns >= 0 && ms == 0) return VG_TIMEOUT;
        hs[n++] = w->ev;
        if (interrupt) hs[n++] = interrupt;
        r = WaitForMultipleObjects(n, hs, FALSE, ms);
        if (r == WAIT_OBJECT_0 + 1) return VG_INTERRUPTED;
    }
}

static int wait_windows(vg_counter *c, vg_waiter *w, const vg_gen *seen, vg_gen *out, int64_t deadline_ns,
                        HANDLE interrupt, LONG wake0, vg_error *err) {
    OVERLAPPED ov;
    vg_gen in = *seen, res;
    DWORD e, n = 0;
    int rc;

    if (!c->event_mode) return wait_polling(c, w, seen, out, deadline_ns, interrupt, wake0, err);
    memset(&ov, 0, sizeof ov);
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!ov.hEvent) return fail_win(err, GetLastError(), "CreateEvent");
    if (DeviceIoControl(c->dev, VG_IOCTL_VMGENCOUNTER_READ, &in, sizeof in, &res, sizeof res, NULL, &ov)) {
        /* completed at once: the value already differs (the handle has no completion port; reap anyway) */
        GetOverlappedResult(c->dev, &ov, &n, TRUE);
        CloseHandle(ov.hEvent);
        *out = res;
        return VG_OK;
    }
    e = GetLastError();
    if (e != ERROR_IO_PENDING) {
        CloseHandle(ov.hEvent);
        if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION) {
            InterlockedExchange(&c->event_mode, 0);
            return wait_polling(c, w, seen, out, deadline_ns, interrupt, wake0, err);
        }
        return fail_win(err, e, "IOCTL_VMGENCOUNTER_READ (event-driven)");
    }
    for (;;) {
        HANDLE hs[3];
        DWORD nh = 0, r;
        hs[nh++] = ov.hEvent;
        hs[nh++] = w->ev;
        if (interrupt) hs[nh++] = interrupt;
        r = WaitForMultipleObjects(nh, hs, FALSE, ms_until(deadline_ns, INFINITE));
        if (r == WAIT_OBJECT_0) {                          /* the IOCTL completed */
            if (GetOverlappedResult(c->dev, &ov, &n, FALSE)) {
                CloseHandle(ov.hEvent);
                if (n != sizeof res)
                    return fail(err, VG_E_OS, 0, "IOCTL_VMGENCOUNTER_READ returned %lu bytes, expected 16", n);
                *out = res;
                return VG_OK;
            }
            e = GetLastError();
            if (e == ERROR_IO_INCOMPLETE) {      /* a stale set: reset, or WaitForMultipleObjects spins */
                ResetEvent(ov.hEvent);
                if (HasOverlappedIoCompleted(&ov)) SetEvent(ov.hEvent);   /* completed meanwhile: next round */
                continue;
            }
            CloseHandle(ov.hEvent);
            if (c->closed) return VG_CLOSED;
            if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION) {
                InterlockedExchange(&c->event_mode, 0);
                return wait_polling(c, w, seen, out, deadline_ns, interrupt, wake0, err);
            }
            if (e == ERROR_OPERATION_ABORTED) {
                /* cancelled by someone else (e.g. CancelIoEx(handle, NULL) of another thread): report as a wake */
                return VG_WOKEN;
            }
            return fail_win(err, e, "IOCTL_VMGENCOUNTER_READ (event-driven)");
        }
        if (r == WAIT_OBJECT_0 + 1) {                      /* vg_wake / vg_close */
            if (!c->closed && c->wake_seq == wake0) { ResetEvent(w->ev); continue; }   /* stale */
            rc = c->closed ? VG_CLOSED : VG_WOKEN;
        } else if (r == WAIT_OBJECT_0 + 2) {
            rc = VG_INTERRUPTED;
        } else if (r == WAIT_TIMEOUT) {
            rc = VG_TIMEOUT;
        } else {
            e = GetLastError();
            cancel_and_reap(c->dev, &ov, &n);
            CloseHandle(ov.hEvent);
            return fail_win(err, e, "WaitForMultipleObjects");
        }
        /* every exit path: cancel, then reap before ov/res go out of scope */
        if (cancel_and_reap(c->dev, &ov, &e) && rc != VG_CLOSED) {
            CloseHandle(ov.hEvent);
            *out = res;                                    /* it completed in the race: a change is a change */
            return VG_OK;
        }
        CloseHandle(ov.hEvent);
        return rc;
    }
}

/* ---------- simulated ---------- */

static int sim_read(vg_counter *c, vg_page_snapshot *s, vg_error *err) {
    int64_t deadline = 0;
    for (unsigned i = 0; !vg_page_try_read(c->page, 1, s); i++) {
        if (i < 1024) { YieldProcessor(); continue; }
        if (!deadline) deadline = vg_now_ns() + 100 * 1000000LL;
        else if (vg_now_ns() > deadline)
            return fail(err, VG_E_WEDGED, 0, "simulated counter page: seq_count stayed odd/moving for 100 ms "
                        "(seq_count=0x%x)", (unsigned)VG_LOAD(&c->page->seq_count));
        SwitchToThread();
    }
    return VG_OK;
}

static int open_simulated(vg_counter *c, const char *path, int flags, vg_error *err) {
    const char *why;
    if (!path) {
        c->heap_page = _aligned_malloc(VG_PAGE_SIZE, VG_PAGE_SIZE);
        if (!c->heap_page) return fail(err, VG_E_OS, ERROR_NOT_ENOUGH_MEMORY, "out of memory");
        memset(c->heap_page, 0, VG_PAGE_SIZE);
        vg_page_init(c->heap_page, 0);
        c->page = c->heap_page;
        snprintf(c->desc, sizeof c->desc, "simulated, in this process");
        return VG_OK;
    } else {
        wchar_t wpath[1024];
        LARGE_INTEGER size;
        DWORD e;
        DWORD attrs;
        if (!MultiByteToWideChar(CP_UTF8, 0, path, -1, wpath, 1024))
            return fail(err, VG_E_INVALID, GetLastError(), "path is not valid UTF-8 or too long");
        attrs = GetFileAttributesW(wpath);
        if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY)) {
            fail(err, VG_E_OS, 0, "%s: a simulated counter must be a regular file, not a directory", path);
            err->sys_errno = 21;   /* EISDIR: IsADirectoryError, as on Linux */
            return VG_ERROR;
        }
        c->file = CreateFileW(wpath, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                              NULL, (flags & VG_OPEN_CREATE) ? OPEN_ALWAYS : OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
        if (c->file == INVALID_HANDLE_VALUE) {
            c->file = NULL;
            e = GetLastError();
            if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND)
                return fail(err, VG_E_NOT_FOUND, e, "simulated counter file %s does not exist", path);
            return fail_win(err, e, path);
        }
        if (!GetFileSizeEx(c->file, &size)) return fail_win(err, GetLastError(), path);
        if (size.QuadPart == 0 && (flags & VG_OPEN_CREATE)) {
            /* a fresh page; a racing creator writes the same bytes (both start at count 0) */
            static vg_vmclock_page fresh;
            char buf[VG_PAGE_SIZE];
            DWORD wr = 0;
            memset(buf, 0, sizeof buf);
            vg_page_init(&fresh, 0);
            memcpy(buf, &fresh, sizeof fresh);
            if (!WriteFile(c->file, buf, sizeof buf, &wr, NULL) || wr != sizeof buf)
                return fail_win(err, GetLastError(), path);
            size.QuadPart = VG_PAGE_SIZE;
        }
        if (size.QuadPart < (LONGLONG)VG_PAGE_SIZE)
            return fail(err, VG_E_INVALID, 0, "%s: %lld bytes; a simulated counter file is one %u-byte page", path,
                        (long long)size.QuadPart, VG_PAGE_SIZE);
        c->mapping = CreateFileMappingW(c->file, NULL, PAGE_READWRITE, 0, 0, NULL);
        if (!c->mapping) return fail_win(err, GetLastError(), path);
        c->page = MapViewOfFile(c->mapping, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, sizeof(vg_vmclock_page));
        if (!c->page) return fail_win(err, GetLastError(), path);
        if ((why = vg_page_check(c->page, 1)) != NULL) return fail(err, VG_E_INVALID, 0, "%s: %s", path, why);
        snprintf(c->desc, sizeof c->desc, "simulated, shared through %.150s (other processes' changes: re-read "
                 "every %d ms)", path, VG_SIM_REREAD_MS);
        return VG_OK;
    }
}

static int wait_simulated(vg_counter *c, vg_waiter *w, const vg_gen *seen, vg_gen *out, int64_t deadline_ns,
                          HANDLE interrupt, LONG wake0, vg_error *err) {
    for (;;) {
        vg_page_snapshot s;
        HANDLE hs[2];
        DWORD n = 0, r, ms;
        int rc;
        ResetEvent(w->ev);                 /* before the read: a store after it sets the event again */
        if ((rc = sim_read(c, &s, err)) != VG_OK) return rc;
        if (s.count != seen->count || s.count_high != seen->count_high) {
            out->count = s.count;
            out->count_high = s.count_high;
            return VG_OK;
        }
        if (c->closed) return VG_CLOSED;
        if (c->wake_seq != wake0) return VG_WOKEN;
        ms = ms_until(deadline_ns, c->file ? VG_SIM_REREAD_MS : INFINITE);
        if (deadline_ns >= 0 && ms == 0) return VG_TIMEOUT;
        hs[n++] = w->ev;
        if (interrupt) hs[n++] = interrupt;
        r = WaitForMultipleObjects(n, hs, FALSE, ms);
        if (r == WAIT_OBJECT_0 + 1) return VG_INTERRUPTED;
    }
}

/* ---------- the interface ---------- */

int vg_probe(int backend, const char *path, vg_error *err) {
    if (backend == VG_BACKEND_WINDOWS) {
        vg_gen v;
        int rc;
        HANDLE h = open_device(path, FILE_FLAG_OVERLAPPED, err);
        if (h == INVALID_HANDLE_VALUE) return VG_ERROR;
        rc = device_poll(h, &v, err);
        CloseHandle(h);
        return rc;
    }
    if (backend == VG_BACKEND_SIMULATED) return VG_OK;
    if (backend == VG_BACKEND_VMCLOCK)
        return fail(err, VG_E_NOT_FOUND, 0, "VMClock is a Linux device (/dev/vmclock0); not available on Windows");
    if (backend == VG_BACKEND_VMGENID)
        return fail(err, VG_E_NOT_FOUND, 0, "vmgenid is a Linux driver; on Windows the same ACPI device is "
                    "reached through the windows backend");
    return fail(err, VG_E_INVALID, 0, "unknown backend %d", backend);
}

int vg_open(int backend, const char *path, int flags, vg_counter **out, vg_error *err) {
    vg_counter *c;
    int rc;
    *out = NULL;
    if (backend != VG_BACKEND_WINDOWS && backend != VG_BACKEND_SIMULATED) return vg_probe(backend, path, err);
    c = counter_new(backend);
    if (!c) return fail(err, VG_E_OS, ERROR_NOT_ENOUGH_MEMORY, "out of memory");
    rc = backend == VG_BACKEND_WINDOWS ? open_windows(c, path, err) : open_simulated(c, path, flags, err);
    if (rc != VG_OK) {
        vg_free(c);
        return rc;
    }
    *out = c;
    return VG_OK;
}

int vg_read(vg_counter *c, vg_gen *out, vg_error *err) {
    if (c->closed) return VG_CLOSED;
    if (c->backend == VG_BACKEND_WINDOWS) return device_poll(c->dev, out, err);
    {
        vg_page_snapshot s;
        int rc = sim_read(c, &s, err);
        if (rc != VG_OK) return rc;
        out->count = s.count;
        out->count_high = s.count_high;
        return VG_OK;
    }
}

int vg_wait(vg_counter *c, const vg_gen *seen, vg_gen *out, int64_t deadline_ns, void *interrupt,
            vg_error *err) {
    vg_waiter w;
    LONG wake0;
    int rc;
    if (c->closed) return VG_CLOSED;
    w.ev = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!w.ev) return fail_win(err, GetLastError(), "CreateEvent");
    wake0 = c->wake_seq;
    waiter_add(c, &w);
    /* The SIGINT event is for the main thread only (the handle may have been fetched there and passed to a
     * wait on another thread, e.g. a subscription thread). Reset it first, as time.sleep() does. */
    if (interrupt && GetCurrentThreadId() != g_main_tid) interrupt = NULL;
    if (interrupt) ResetEvent((HANDLE)interrupt);
    if (c->closed) rc = VG_CLOSED;
    else if (c->wake_seq != wake0) rc = VG_WOKEN;     /* a vg_wake between reading wake0 and joining the list */
    else if (c->backend == VG_BACKEND_WINDOWS) rc = wait_windows(c, &w, seen, out, deadline_ns, interrupt, wake0, err);
    else rc = wait_simulated(c, &w, seen, out, deadline_ns, interrupt, wake0, err);
    waiter_remove(c, &w);
    CloseHandle(w.ev);
    return rc;
}

const volatile uint64_t *vg_hot_word(vg_counter *c) {
    return c->backend == VG_BACKEND_WINDOWS ? &c->hot : &c->page->vg_changes;
}

int vg_event_fd(vg_counter *c) { (void)c; return -1; }
int vg_drain(vg_counter *c) { (void)c; return VG_OK; }

int64_t vg_poll_interval_ns(vg_counter *c) {
    if (c->backend == VG_BACKEND_WINDOWS) return (int64_t)VG_WIN_POLL_MS * 1000000;
    return (int64_t)VG_SIM_REREAD_MS * 1000000;
}

int vg_sim_store(vg_counter *c, const vg_gen *value, int advance, vg_gen *out, vg_error *err) {
    uint32_t seq;
    int64_t deadline = 0;
    vg_gen g;
    if (c->backend != VG_BACKEND_SIMULATED)
        return fail(err, VG_E_NOT_SUPPORTED, 0, "only a simulated counter can be advanced or set");
    if (c->closed) return VG_CLOSED;
    for (unsigned i = 0; !vg_page_try_lock(c->page, &seq); i++) {
        if (i < 1024) { YieldProcessor(); continue; }
        if (!deadline) deadline = vg_now_ns() + 100 * 1000000LL;
        else if (vg_now_ns() > deadline)
            return fail(err, VG_E_WEDGED, 0, "simulated counter page is locked (seq_count=0x%x): a writer died "
                        "mid-update?", (unsigned)VG_LOAD(&c->page->seq_count));
        SwitchToThread();
    }
    if (advance) {
        g.count = VG_LOAD(&c->page->vm_generation_counter) + 1u;
        g.count_high = VG_LOAD(&c->page->vg_count_high) + (g.count == 0);
    } else g = *value;
    if (vg_page_store_unlock(c->page, seq, g.count, g.count_high)) wake_waiters(c);
    *out = g;
    return VG_OK;
}

void vg_wake(vg_counter *c) {
    InterlockedIncrement(&c->wake_seq);
    wake_waiters(c);
}

void vg_close(vg_counter *c) {
    if (InterlockedExchange(&c->closed, 1)) return;
    InterlockedIncrement(&c->wake_seq);
    wake_waiters(c);
    if (c->backend == VG_BACKEND_WINDOWS) {
        EnterCriticalSection(&c->bg_cs);
        c->bg_stop = 1;
        /* Cancel every IOCTL of this process on the handle: the watcher's (its callback reaps it and does not
         * re-arm), blocking waiters' (they also get their wake event) and async ops' (their event fires and
         * vg_async_finish reports VG_CLOSED). Each owner reaps its own OVERLAPPED. */
        CancelIoEx(c->dev, NULL);
        if (c->bg_timer) SetThreadpoolTimer(c->bg_timer, NULL, 0, 0);
        LeaveCriticalSection(&c->bg_cs);
    }
}

void vg_free(vg_counter *c) {
    if (!c) return;
    vg_close(c);
    if (c->bg_wait) {
        DWORD n;
        EnterCriticalSection(&c->bg_cs);
        if (c->bg_pending) {                 /* cancelled by vg_close: reap it before the OVERLAPPED goes */
            GetOverlappedResult(c->dev, &c->bg_ov, &n, TRUE);
            c->bg_pending = 0;
        }
        LeaveCriticalSection(&c->bg_cs);
        SetThreadpoolWait(c->bg_wait, NULL, NULL);
        WaitForThreadpoolWaitCallbacks(c->bg_wait, TRUE);
        CloseThreadpoolWait(c->bg_wait);
    }
    if (c->bg_timer) {
        SetThreadpoolTimer(c->bg_timer, NULL, 0, 0);
        WaitForThreadpoolTimerCallbacks(c->bg_timer, TRUE);
        CloseThreadpoolTimer(c->bg_timer);
        c->bg_timer = NULL;
    }
    counter_release(c);          /* the owner's reference; async ops still being reaped hold theirs */
}

/* The last reference is gone: nothing can touch the handles any more. */
static void counter_destroy(vg_counter *c) {
    if (c->bg_ov.hEvent) CloseHandle(c->bg_ov.hEvent);
    if (c->dev != INVALID_HANDLE_VALUE) CloseHandle(c->dev);
    if (c->page && c->mapping) UnmapViewOfFile((void *)c->page);
    if (c->mapping) CloseHandle(c->mapping);
    if (c->file) CloseHandle(c->file);
    if (c->heap_page) _aligned_free(c->heap_page);
    DeleteCriticalSection(&c->bg_cs);
    free(c);
}

const char *vg_platform(void) { return "windows"; }

const char *vg_source(vg_counter *c) { return c->backend == VG_BACKEND_WINDOWS ? "GenerationCount" : "simulated"; }

const char *vg_describe(vg_counter *c) {
    if (c->backend == VG_BACKEND_WINDOWS) {
        if (c->event_mode)
            snprintf(c->desc, sizeof c->desc, "\\\\.\\VmGenerationCounter, event-driven IOCTL_VMGENCOUNTER_READ "
                     "(background watcher on the thread pool)");
        else
            snprintf(c->desc, sizeof c->desc, "\\\\.\\VmGenerationCounter, event-driven reads not supported by "
                     "this guest: polling every %d ms", VG_WIN_POLL_MS);
        if (c->bg_error) {
            size_t l = strlen(c->desc);
            snprintf(c->desc + l, sizeof c->desc - l, "; watcher error %lu, polling every %d ms", c->bg_error,
                     VG_WIN_POLL_MS);
        }
    }
    return c->desc;
}

/* ---------- asynchronous waits (Windows) ---------- */

int vg_async_start(vg_counter *c, const vg_gen *seen, vg_async **out, void **event, vg_error *err) {
    vg_async *op;
    DWORD e;
    *out = NULL;
    *event = NULL;
    if (c->closed) return VG_CLOSED;
    if (c->backend != VG_BACKEND_WINDOWS || !c->event_mode)
        return fail(err, VG_E_NOT_SUPPORTED, ERROR_NOT_SUPPORTED, "no event-driven reads on this counter");
    op = calloc(1, sizeof *op);
    if (!op) return fail(err, VG_E_OS, ERROR_NOT_ENOUGH_MEMORY, "out of memory");
    op->c = c;
    op->in = *seen;
    op->ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!op->ov.hEvent) {
        free(op);
        return fail_win(err, GetLastError(), "CreateEvent");
    }
    if (DeviceIoControl(c->dev, VG_IOCTL_VMGENCOUNTER_READ, &op->in, sizeof op->in, &op->out, sizeof op->out,
                        NULL, &op->ov)) {
        op->result = ERROR_SUCCESS;
        SetEvent(op->ov.hEvent);
    } else if ((e = GetLastError()) == ERROR_IO_PENDING) {
        op->pending = 1;
        InterlockedIncrement(&c->refs);         /* until reaped: the handle must outlive the IOCTL */
        /* vg_close stores closed, then cancels every IOCTL on the handle: if closed is still unset here, that
         * CancelIoEx comes after this IOCTL and cancels it; if set, it may have run before: cancel our own. */
        if (c->closed) CancelIoEx(c->dev, &op->ov);
    } else {
        CloseHandle(op->ov.hEvent);
        free(op);
        if (e == ERROR_NOT_SUPPORTED || e == ERROR_INVALID_FUNCTION) InterlockedExchange(&c->event_mode, 0);
        return fail_win(err, e, "IOCTL_VMGENCOUNTER_READ (event-driven)");
    }
    *out = op;
    *event = op->ov.hEvent;
    return VG_OK;
}

int vg_async_finish(vg_async *op, vg_gen *out, vg_error *err) {
    vg_counter *c = op->c;
    if (op->pending) {
        DWORD n = 0;
        if (!HasOverlappedIoCompleted(&op->ov)) CancelIoEx(c->dev, &op->ov);
        op->result = GetOverlappedResult(c->dev, &op->ov, &n, TRUE) ? (n == sizeof op->out ? 0 : ERROR_INVALID_DATA)
                                                                     : GetLastError();
        op->pending = 0;
        op->closed = c->closed;
        if (op->result == ERROR_NOT_SUPPORTED) InterlockedExchange(&c->event_mode, 0);
        op->c = NULL;
        counter_release(c);
    }
    if (op->result == ERROR_SUCCESS) {
        *out = op->out;
        return VG_OK;
    }
    if (op->closed) return VG_CLOSED;
    if (op->result == ERROR_OPERATION_ABORTED) return VG_WOKEN;
    return fail_win(err, op->result, "IOCTL_VMGENCOUNTER_READ (event-driven)");
}

void vg_async_free(vg_async *op) {
    if (!op) return;
    if (op->pending) {
        vg_gen ignored;
        vg_async_finish(op, &ignored, NULL);
    }
    CloseHandle(op->ov.hEvent);
    free(op);
}
