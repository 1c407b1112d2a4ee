/* Buffer export and type-object helpers for the view engine (vmgen/switch/_fields.pyx).
 *
 * Wrapping a bytearray is the common case: its export is done inline (the same fields bytearray's own
 * bf_getbuffer fills, and the same export count, so the bytearray still cannot be resized under a view),
 * and released inline, with no Python code and no error-state juggling on the way out.
 */
#ifndef VG_VIEW_H
#define VG_VIEW_H

#include <Python.h>

#ifndef Py_TPFLAGS_IMMUTABLETYPE   /* CPython < 3.10: no such flag, types stay mutable */
#define Py_TPFLAGS_IMMUTABLETYPE 0
#endif

/* Py_buffer.obj as a pointer (Cython types it as an object, which cannot be NULL-tested). */
static inline PyObject *vg_buf_obj(Py_buffer *b) { return b->obj; }

static inline int vg_is_bytearray(PyObject *o) { return Py_IS_TYPE(o, &PyByteArray_Type); }

/* bytearray_getbuffer for PyBUF_SIMPLE, without the call: never fails. */
static inline void vg_bytearray_export(PyObject *o, Py_buffer *b)
{
    b->buf = PyByteArray_AS_STRING(o);
    Py_INCREF(o);
    b->obj = o;
    b->len = Py_SIZE(o);
    b->readonly = 0;
    b->itemsize = 1;
    b->format = NULL;
    b->ndim = 1;
    b->shape = NULL;
    b->strides = NULL;
    b->suboffsets = NULL;
    b->internal = NULL;
    ((PyByteArrayObject *)o)->ob_exports++;
}

/* PyBuffer_Release; an inline export of a bytearray is undone inline (exporter code cannot run). */
static inline void vg_buffer_release(Py_buffer *b)
{
    PyObject *o = b->obj;
    if (o != NULL && vg_is_bytearray(o)) {
        ((PyByteArrayObject *)o)->ob_exports--;
        b->obj = NULL;
        Py_DECREF(o);
        return;
    }
    /* Any other exporter may run Python code (__release_buffer__): keep a pending exception intact. */
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyBuffer_Release(b);
    PyErr_Restore(et, ev, tb);
}

/* A small free list of view objects (all exact view types share one size): wrapping in a loop then costs
 * no allocation. Entries are untracked GC objects whose type reference has been dropped. */
#define VG_FREELIST_MAX 16
static PyObject *vg_freelist[VG_FREELIST_MAX];
static int vg_freelist_n = 0;

static inline PyObject *vg_view_alloc(PyTypeObject *tp)
{
    PyObject *o;
    if (vg_freelist_n > 0) {
        o = vg_freelist[--vg_freelist_n];
        PyObject_Init(o, tp);   /* type, a reference to it (heap type), refcount 1 */
    } else {
        o = (PyObject *)_PyObject_GC_New(tp);   /* untracked; tracked later only if its exporter is GC */
        if (o == NULL)
            return NULL;
    }
    memset((char *)o + sizeof(PyObject), 0, (size_t)tp->tp_basicsize - sizeof(PyObject));
    return o;
}

/* The end of a view's dealloc, once its buffer is released: keep the memory or free it, drop the type. */
static inline void vg_view_free(PyObject *o, Py_ssize_t pooled_size)
{
    PyTypeObject *tp = Py_TYPE(o);
    if (tp->tp_basicsize == pooled_size && tp->tp_free == PyObject_GC_Del && vg_freelist_n < VG_FREELIST_MAX)
        vg_freelist[vg_freelist_n++] = o;
    else
        tp->tp_free(o);
    Py_DECREF(tp);   /* instances of heap types own a reference to their type */
}

static inline void vg_untrack(PyObject *o)
{
    if (PyObject_GC_IsTracked(o))
        PyObject_GC_UnTrack(o);
}

#endif /* VG_VIEW_H */
