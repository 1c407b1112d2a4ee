# Cython declarations of csrc/vg_counter.h, the platform-neutral generation-counter interface.
from cpython.object cimport PyObject
from libc.stdint cimport uint64_t, int64_t

cdef extern from "vg_counter.h" nogil:
    enum:
        VG_BACKEND_WINDOWS
        VG_BACKEND_VMCLOCK
        VG_BACKEND_VMGENID
        VG_BACKEND_SIMULATED
    enum:
        VG_OK
        VG_TIMEOUT
        VG_INTERRUPTED
        VG_CLOSED
        VG_WOKEN
        VG_ERROR
    enum:
        VG_E_OS
        VG_E_NOT_FOUND
        VG_E_NOT_SUPPORTED
        VG_E_PERMISSION
        VG_E_INVALID
        VG_E_WEDGED
        VG_E_BROKEN
    enum:
        VG_OPEN_CREATE
        VG_OPEN_SHARED_WRITE
        VG_OPEN_MODE_SET
    uint64_t VG_HOT_BROKEN

    ctypedef struct vg_error:
        int kind
        int sys_errno
        unsigned long winerror
        char msg[240]

    ctypedef struct vg_gen:
        uint64_t count
        uint64_t count_high

    ctypedef struct vg_counter:
        pass

    ctypedef void *vg_hot_ptr  # really const volatile uint64_t *; only vg_hot_load reads it

    int vg_probe(int backend, const char *path, vg_error *err)
    int vg_open(int backend, const char *path, int flags, vg_counter **out, vg_error *err)
    int vg_read(vg_counter *c, vg_gen *out, vg_error *err)
    int vg_wait(vg_counter *c, const vg_gen *seen, vg_gen *out, int64_t deadline_ns, void *interrupt,
                vg_error *err)
    vg_hot_ptr vg_hot_word(vg_counter *c)
    uint64_t vg_hot_load(vg_hot_ptr w)
    int vg_event_fd(vg_counter *c)
    int vg_drain(vg_counter *c)
    int64_t vg_poll_interval_ns(vg_counter *c)
    int vg_sim_store(vg_counter *c, const vg_gen *value, int advance, vg_gen *out, vg_error *err)
    void vg_wake(vg_counter *c)
    void vg_close(vg_counter *c)
    void vg_free(vg_counter *c)
    int64_t vg_now_ns()
    void *vg_interrupt_handle()
    const char *vg_describe(vg_counter *c)
    const char *vg_source(vg_counter *c)
    const char *vg_platform()
    int vg_listen(vg_counter *c, int *fd, vg_error *err)
    void vg_listen_drain(vg_counter *c, int fd)
    void vg_unlisten(vg_counter *c, int fd)
    unsigned vg_fork_generation()
    int vg_adopt(vg_counter *c, vg_error *err)


cdef class CounterBase:
    cdef vg_counter *_c
    cdef vg_hot_ptr _hot      # NULL once closed: changed()/token() then raise CounterClosed
    cdef int _busy            # calls in flight without the GIL, plus asyncio watchers holding the fds
    cdef bint _closed
    cdef void *_interrupt
    # vg_fork_generation() when this process last adopted the C state, or VG_GEN_CLOSED (no generation is)
    # while _hot is NULL: so vg_hot_call.h's changed() checks both with one compare
    cdef uint64_t _fork_gen
    # The int token() last returned (owned) and its value: changed(that object) skips the int's conversion
    cdef PyObject *_tok_obj
    cdef uint64_t _tok_val
    cdef str _source_name     # vg_source(), kept for after close  (after the fields vg_hot_call.h mirrors)
    cdef int _enter(self) except -1
    cdef void _leave(self)
    cdef int _adopt(self) except -1
    cdef void _refresh_hot(self)
