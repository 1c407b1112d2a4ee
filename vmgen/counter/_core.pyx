# cython: language_level=3, boundscheck=False, wraparound=False
"""C core of the generation counter: one extension type over csrc/counter/vg_counter.h.

Only the interface in vg_counter.h is used here (no OS headers), so this file builds unchanged on
Linux and Windows. vmgen/counter/__init__.py builds the public API on top of CounterBase.
"""
cimport cython
from cpython.exc cimport PyErr_CheckSignals
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdint cimport uint64_t, int64_t

from vmgen.errors import CounterClosed, DeviceNotFound, LayoutError, NotSupported, VmgenError

BACKEND_IDS = {
    "windows": VG_BACKEND_WINDOWS,
    "vmclock": VG_BACKEND_VMCLOCK,
    "vmgenid": VG_BACKEND_VMGENID,
    "simulated": VG_BACKEND_SIMULATED,
}

# The C backend file in this build: "linux", "posix" (macOS, BSDs: simulated only) or "windows".
PLATFORM = vg_platform().decode("ascii")

# vg_wait() returns VG_WOKEN to this sentinel's callers (subscription threads re-check their state).
WOKEN = None

# vg_open flags for a counter file (vg_counter.h): open() builds them from its keywords.
OPEN_CREATE = VG_OPEN_CREATE
OPEN_SHARED_WRITE = VG_OPEN_SHARED_WRITE
OPEN_MODE_SET = VG_OPEN_MODE_SET


cdef object _exception(vg_error *err):
    msg = err.msg.decode("utf-8", "replace")
    kind = err.kind
    e = err.sys_errno
    if kind == VG_E_NOT_FOUND:
        if err.winerror:   # Windows: keep winerror (errno 2 = ENOENT, as FileNotFoundError has)
            return DeviceNotFound(e or 2, msg, None, err.winerror)
        return DeviceNotFound(e, msg) if e else DeviceNotFound(msg)
    if kind == VG_E_PERMISSION:
        return PermissionError(e, msg, None, err.winerror or None) if e or err.winerror else PermissionError(msg)
    if kind == VG_E_NOT_SUPPORTED:
        return NotSupported(e, msg, None, err.winerror or None) if e or err.winerror else NotSupported(msg)
    if kind == VG_E_INVALID:
        return LayoutError(msg)
    if kind == VG_E_WEDGED or kind == VG_E_BROKEN:
        return VmgenError(msg)
    return OSError(e, msg, None, err.winerror or None)


cdef bytes _path_arg(path):
    if path is None:
        return None
    import os
    p = os.fsencode(path)
    if b"\0" in p:
        raise ValueError("path contains a NUL byte")
    return p


def probe(str name, path=None):
    """(True, "") if backend `name` can be opened here (path as for open), else (False, reason)."""
    cdef vg_error err
    cdef int backend = BACKEND_IDS[name]
    cdef bytes p = _path_arg(path)
    cdef const char *cp = NULL
    if p is not None:
        cp = p
    cdef int rc
    with nogil:
        rc = vg_probe(backend, cp, &err)
    if rc == VG_OK:
        return True, ""
    return False, err.msg.decode("utf-8", "replace")


def now_ns():
    """The monotonic clock vg_wait's deadlines use."""
    return vg_now_ns()


cdef extern from "pythread.h":
    unsigned long PyThread_get_thread_ident()

import sys as _sys

cdef bint _POSIX = _sys.platform != "win32"   # Windows: Ctrl-C sets an event the wait itself watches
cdef int64_t _SIGNAL_SLICE_NS = 250 * 1000000
cdef unsigned long _IMPORT_THREAD = PyThread_get_thread_ident()


cdef bint _on_main_thread():
    """True on the thread that runs Python's signal handlers (threading's record when it is loaded; else the
    thread that imported vmgen, which is that thread unless a program imports vmgen from another one first)."""
    t = _sys.modules.get("threading")
    if t is not None:
        return PyThread_get_thread_ident() == t.main_thread().ident
    return PyThread_get_thread_ident() == _IMPORT_THREAD




cdef class CounterBase:
    """One open counter (C state). Not for direct use: vmgen.open() returns its subclass Counter."""

    def __cinit__(self, int backend, path=None, int flags=0, *args, **kwargs):
        cdef vg_error err
        cdef bytes p = _path_arg(path)
        cdef const char *cp = NULL
        cdef int rc
        cdef vg_counter *c = NULL
        if p is not None:
            cp = p
        with nogil:
            rc = vg_open(backend, cp, flags, &c, &err)
        if rc != VG_OK:
            raise _exception(&err)
        self._c = c
        self._hot = vg_hot_word(c)
        self._fork_gen = vg_fork_generation() if self._hot != NULL else VG_GEN_CLOSED
        self._source_name = vg_source(c).decode("ascii")
        self._interrupt = vg_interrupt_handle()

    def __dealloc__(self):
        Py_XDECREF(self._tok_obj)
        self._tok_obj = NULL
        if self._c != NULL:
            vg_close(self._c)
            vg_free(self._c)
            self._c = NULL

    cdef int _enter(self) except -1:
        if self._closed:
            raise CounterClosed("the counter is closed")
        self._busy += 1
        return 0

    cdef void _leave(self):
        self._busy -= 1
        if self._closed and self._busy == 0 and self._c != NULL:
            vg_free(self._c)      # last user out frees what close() could not
            self._c = NULL

    cdef int _adopt(self) except -1:
        """First use in a forked child: the C state builds this process's own fds/threads (vg_fork.h)."""
        cdef vg_error err
        cdef int rc
        if self._c == NULL:
            return 0
        with nogil:
            rc = vg_adopt(self._c, &err)
        if rc != VG_OK:
            raise _exception(&err)
        if self._hot != NULL:
            self._fork_gen = vg_fork_generation()
        return 0

    cdef void _refresh_hot(self):
        """After an exact read or wait (GIL held): vmclock may have re-targeted its hot word (the page's flags
        changed, vg_counter.h vg_hot_word). Costs the hot path nothing: changed() still loads self._hot."""
        cdef vg_hot_ptr h
        if self._c != NULL and not self._closed:
            h = vg_hot_word(self._c)
            if h != self._hot:   # only on a switch: read() pays one call and a compare
                self._hot = h
                self._source_name = vg_source(self._c).decode("ascii")

    @property
    def source(self):
        """Where changed()'s word and Generation.count come from: "vm_generation_counter" or "disruption_marker"
        (vmclock), "uevents" (vmgenid), "GenerationCount" (windows), "simulated"."""
        return self._source_name

    def _after_fork_child(self):
        """os.register_at_fork(after_in_child=...): no thread of the parent is in a call here, and the
        parent's asyncio watchers were dropped, so nothing holds the C state busy."""
        self._busy = 0

    # ---- the hot path: one atomic load and a compare, no system call ----
    # changed() is C (csrc/counter/vg_hot_call.h, installed below as CounterBase.changed); _changed_slow
    # is what it does not handle. binding=False: plain METH_O / METH_NOARGS method descriptors, which
    # CPython 3.11+ specialises at the call site (a cyfunction is called through the generic path).

    @cython.binding(False)
    def token(self):
        """A cheap opaque snapshot (an int) for changed()."""
        if self._hot == NULL:
            raise CounterClosed("the counter is closed")
        if vg_fork_generation() != self._fork_gen:
            self._adopt()
        cdef uint64_t t = vg_hot_load(self._hot)
        if t == VG_HOT_BROKEN:   # the file is gone (vg_counter.h): a token changed() never matches
            t ^= 1
        cdef object tok = t
        cdef PyObject *old = self._tok_obj
        Py_INCREF(tok)           # remembered for changed()'s identity check (ints are immutable)
        self._tok_obj = <PyObject *>tok
        self._tok_val = t
        Py_XDECREF(old)
        return tok

    # ---- exact reads and waits ----

    def _read(self):
        """(count, count_high), an exact seqlock/syscall read."""
        cdef vg_gen g
        cdef vg_error err
        cdef int rc
        self._enter()
        try:
            with nogil:
                rc = vg_read(self._c, &g, &err)
        finally:
            self._leave()
        if rc == VG_OK:
            self._refresh_hot()
            return g.count, g.count_high
        if rc == VG_CLOSED:
            raise CounterClosed("the counter is closed")
        raise _exception(&err)

    def _wait(self, uint64_t count, uint64_t count_high, int64_t deadline_ns):
        """Block (GIL released) until the generation differs from (count, count_high).
        deadline_ns: absolute on now_ns()'s clock, -1 = none. Returns (count, count_high), or
        WOKEN if _wake() was called. Raises TimeoutError, CounterClosed, KeyboardInterrupt."""
        cdef vg_gen seen, out
        cdef vg_error err
        cdef int rc
        seen.count = count
        seen.count_high = count_high
        # per call, with the GIL: on Windows the backend learns here which thread may take Ctrl-C
        cdef void *interrupt = vg_interrupt_handle()
        cdef int64_t until
        # POSIX: a signal that lands after Python last looked and before the sleep starts gives no EINTR, and
        # its handler (Ctrl-C's KeyboardInterrupt) would wait for the next change. So the thread that runs
        # signal handlers looks before each sleep and sleeps in slices of _SIGNAL_SLICE_NS.
        cdef bint sliced = _POSIX and _on_main_thread()
        self._enter()
        try:
            while True:
                until = deadline_ns
                if sliced:
                    PyErr_CheckSignals()
                    until = vg_now_ns() + _SIGNAL_SLICE_NS
                    if 0 <= deadline_ns < until:
                        until = deadline_ns
                with nogil:
                    rc = vg_wait(self._c, &seen, &out, until, interrupt, &err)
                if rc == VG_INTERRUPTED:
                    PyErr_CheckSignals()     # raises KeyboardInterrupt (or what a handler raises)
                    continue                 # a handled signal: the deadline is absolute, wait on
                if rc == VG_TIMEOUT and until != deadline_ns:
                    continue                 # the end of a slice, not of the wait
                break
        finally:
            self._leave()
        self._refresh_hot()
        if rc == VG_OK:
            return out.count, out.count_high
        if rc == VG_TIMEOUT:
            raise TimeoutError("the VM generation did not change before the timeout")
        if rc == VG_CLOSED:
            raise CounterClosed("the counter was closed")
        if rc == VG_WOKEN:
            return WOKEN
        raise _exception(&err)

    def _wake(self):
        """Wake current waiters with WOKEN (they re-check their state)."""
        if self._c != NULL and not self._closed:
            vg_wake(self._c)

    # ---- simulated ----

    def _store(self, uint64_t count, uint64_t count_high, bint advance):
        cdef vg_gen g, out
        cdef vg_error err
        cdef int rc
        g.count = count
        g.count_high = count_high
        self._enter()
        try:
            with nogil:
                rc = vg_sim_store(self._c, &g, advance, &out, &err)
        finally:
            self._leave()
        if rc == VG_OK:
            return out.count, out.count_high
        if rc == VG_CLOSED:
            raise CounterClosed("the counter is closed")
        raise _exception(&err)

    # ---- asyncio support: an fd to watch, or an interval to re-check at ----

    def _hold(self):
        """Keep the C state (and its fds) alive across close() until _release()."""
        self._enter()

    def _release(self):
        self._leave()

    def _event_fd(self):
        if self._c == NULL or self._closed:
            raise CounterClosed("the counter is closed")
        return vg_event_fd(self._c)

    def _drain(self):
        if self._c != NULL:
            vg_drain(self._c)

    def _listen(self):
        """A new fd of the caller's own (one per event loop), or -1 if this counter has none (re-read)."""
        cdef vg_error err
        cdef int fd = -1, rc
        if self._c == NULL or self._closed:
            raise CounterClosed("the counter is closed")
        rc = vg_listen(self._c, &fd, &err)
        if rc == VG_CLOSED:
            raise CounterClosed("the counter is closed")
        if rc != VG_OK:
            raise _exception(&err)
        return fd

    def _listen_drain(self, int fd):
        if self._c != NULL:
            vg_listen_drain(self._c, fd)

    def _unlisten(self, int fd):
        if self._c != NULL and fd >= 0:
            vg_unlisten(self._c, fd)

    def _poll_interval(self):
        """Seconds between re-reads when the backend has no notification (0.0 if it has)."""
        if self._c == NULL:
            return 0.0
        return vg_poll_interval_ns(self._c) / 1e9

    def _describe(self):
        if self._c == NULL:
            return "closed"
        return vg_describe(self._c).decode("utf-8", "replace")


    # ---- closing ----

    @property
    def closed(self):
        return self._closed

    def _close(self):
        """Idempotent. Waiters in flight wake with CounterClosed; memory goes when the last leaves."""
        if self._closed:
            return
        self._closed = True
        self._fork_gen = VG_GEN_CLOSED
        self._hot = NULL
        if self._c != NULL:
            vg_close(self._c)
            if self._busy == 0:
                vg_free(self._c)
                self._c = NULL


cdef object _changed_slow(object self, object token):
    """changed() in full (vg_changed takes the common case): the token's conversion and its errors, a closed
    counter, the first call in a forked child."""
    cdef uint64_t t = token   # TypeError / OverflowError for anything but an int in [0, 2**64)
    cdef CounterBase c = <CounterBase>self
    if c._hot == NULL:
        raise CounterClosed("the counter is closed")
    if vg_fork_generation() != c._fork_gen:   # one load: changes only in a forked child
        c._adopt()
    return vg_hot_load(c._hot) != t


cdef extern from "Python.h":
    ctypedef struct PyMethodDescrObject:
        PyMethodDef *d_method
    ctypedef struct PyMethodDef:
        pass
    ctypedef struct PyTypeObject_d "PyTypeObject":
        PyObject *tp_dict
    object PyDescr_NewMethod(type cls, PyMethodDef *meth)
    void PyType_Modified(type)


cdef extern from "vg_hot_call.h":
    uint64_t VG_GEN_CLOSED
    PyMethodDef *VG_CHANGED_DEF "(&vg_changed_def)"
    object (*vg_changed_slow)(object, object)
    # vg_counter_object mirrors CounterBase's struct: compared at import
    Py_ssize_t VG_OFF_HOT "offsetof(vg_counter_object, hot)"
    Py_ssize_t VG_OFF_FORK_GEN "offsetof(vg_counter_object, fork_gen)"
    Py_ssize_t CY_OFF_HOT "offsetof(struct __pyx_obj_5vmgen_7counter_5_core_CounterBase, _hot)"
    Py_ssize_t CY_OFF_FORK_GEN "offsetof(struct __pyx_obj_5vmgen_7counter_5_core_CounterBase, _fork_gen)"
    Py_ssize_t VG_OFF_TOK_OBJ "offsetof(vg_counter_object, tok_obj)"
    Py_ssize_t VG_OFF_TOK_VAL "offsetof(vg_counter_object, tok_val)"
    Py_ssize_t CY_OFF_TOK_OBJ "offsetof(struct __pyx_obj_5vmgen_7counter_5_core_CounterBase, _tok_obj)"
    Py_ssize_t CY_OFF_TOK_VAL "offsetof(struct __pyx_obj_5vmgen_7counter_5_core_CounterBase, _tok_val)"


if (VG_OFF_HOT != CY_OFF_HOT or VG_OFF_FORK_GEN != CY_OFF_FORK_GEN or VG_OFF_TOK_OBJ != CY_OFF_TOK_OBJ
        or VG_OFF_TOK_VAL != CY_OFF_TOK_VAL):
    raise ImportError("vmgen.counter._core: vg_hot_call.h's vg_counter_object differs from CounterBase")
vg_changed_slow = _changed_slow
# A static type takes no setattr: its dict is written directly, then its method cache is told.
(<dict>(<PyTypeObject_d *><PyObject *>CounterBase).tp_dict)["changed"] = PyDescr_NewMethod(CounterBase,
                                                                                          VG_CHANGED_DEF)
PyType_Modified(CounterBase)


# Asynchronous event-driven waits (Windows backend, issue 6): AsyncOp, async_start.
include "_core_async.pxi"


def bind_hot_methods(type cls):
    """Give subclass `cls` its own descriptors for changed() and token(). CPython's specialised call of a
    METH_O / no-argument method descriptor requires the instance's exact type to be the descriptor's type
    (otherwise it de-optimises on every call), and users hold Counter instances, not CounterBase ones."""
    if not issubclass(cls, CounterBase):
        raise TypeError("not a CounterBase subclass")
    for name in ("changed", "token"):
        base = CounterBase.__dict__[name]
        setattr(cls, name, PyDescr_NewMethod(cls, (<PyMethodDescrObject *><PyObject *>base).d_method))
