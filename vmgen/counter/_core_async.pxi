# Included by _counter.pyx (issue 6): asynchronous event-driven waits for backends that have them (Windows).
#
# One overlapped IOCTL per async wait, whose event HANDLE asyncio's proactor waits for
# (vmgen/_aio_win.py); no thread per wait. The op holds the counter busy (CounterBase._enter) until its
# IOCTL is reaped (finish/cancel), so close() cannot free the device under a pending IOCTL; the event handle
# lives until the AsyncOp object dies (a thread-pool wait on it may still be unregistering after a cancel).
from libc.stdint cimport uintptr_t

cdef extern from "vg_counter.h" nogil:
    ctypedef struct vg_async:
        pass
    int vg_async_start(vg_counter *c, const vg_gen *seen, vg_async **op, void **event, vg_error *err)
    int vg_async_finish(vg_async *op, vg_gen *out, vg_error *err)
    void vg_async_free(vg_async *op)


# no_gc_clear: when an op and its counter die in the same garbage cycle, __dealloc__ still needs _counter
# (to reap through it and _leave it); the C side also keeps its state alive until the op is reaped.
@cython.no_gc_clear
cdef class AsyncOp:
    """One event-driven read in flight. `handle` is signalled when it completes; then call finish().
    cancel() cancels the IOCTL (CancelIoEx) and reaps it; the handle is closed when this object dies."""
    cdef vg_async *_op
    cdef CounterBase _counter
    cdef bint _reaped
    cdef readonly object handle

    def finish(self):
        """Reap (cancelling first if still pending): (count, count_high), or None if it was cancelled.
        Raises CounterClosed, NotSupported, OSError."""
        cdef vg_gen out
        cdef vg_error err
        cdef int rc
        if self._op == NULL:
            raise RuntimeError("this async wait was never started")
        with nogil:
            rc = vg_async_finish(self._op, &out, &err)
        if not self._reaped:
            self._reaped = True
            self._counter._leave()
        if rc == VG_OK:
            return out.count, out.count_high
        if rc == VG_CLOSED:
            raise CounterClosed("the counter was closed")
        if rc == VG_WOKEN:
            return None
        raise _exception(&err)

    def cancel(self):
        """Cancel (CancelIoEx) and reap; idempotent, never raises."""
        cdef vg_gen out
        if self._op != NULL and not self._reaped:
            with nogil:
                vg_async_finish(self._op, &out, NULL)
            self._reaped = True
            self._counter._leave()

    def __dealloc__(self):
        if self._op != NULL:
            vg_async_free(self._op)      # reaps first if still pending
            self._op = NULL
            if not self._reaped:
                self._reaped = True
                self._counter._leave()


def async_start(CounterBase counter, uint64_t count, uint64_t count_high, bint strict=False):
    """Start an event-driven read that completes once the generation differs from (count, count_high).
    Returns an AsyncOp, or None if this counter has no event-driven reads (then re-check on a timer;
    strict=True raises NotSupported instead)."""
    cdef vg_gen seen
    cdef vg_error err
    cdef vg_async *op = NULL
    cdef void *event = NULL
    cdef int rc
    seen.count = count
    seen.count_high = count_high
    counter._enter()
    with nogil:
        rc = vg_async_start(counter._c, &seen, &op, &event, &err)
    if rc != VG_OK:
        counter._leave()
        if rc == VG_CLOSED:
            raise CounterClosed("the counter is closed")
        if err.kind == VG_E_NOT_SUPPORTED and not strict:
            return None
        raise _exception(&err)
    cdef AsyncOp a = AsyncOp.__new__(AsyncOp)
    a._op = op
    a._counter = counter
    a.handle = <uintptr_t>event
    return a
