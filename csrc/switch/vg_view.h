/* Buffer export and type-object helpers for the view engine (vmgen/switch/_fields.pyx).
 *
 * Wrapping a bytearray is the common case: its export is done inline (the same fields bytearray's own
 * bf_getbuffer fills, and the same export count, so the bytearray still cannot be resized under a view),
 * and released inline, with no Python code and no error-state juggling on the way out.
 */
#ifndef VG_VIEW_H
#define VG_VIEW_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "vg_fields.h"

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

/* ---- the slots of the exact view types (make_view_type) -------------------------------------------------
 *
 * The common cases run here without entering Cython code: wrapping an exact bytearray with ViewType(buf),
 * freeing a view, and reading or writing a plain integer field by name. Everything else (keyword arguments,
 * offsets, other exporters, errors and their messages, subclasses) goes to _fields.pyx through the *_slow
 * function pointers it sets at import, so the checks live in one place.
 *
 * The structs below mirror _fields.pyx's View and _Layout field for field; _fields.pyx compares every
 * offset at import and refuses to load if one differs. */

typedef struct {          /* one plain (unconditional) integer field; name NULL = an empty slot */
    PyObject *name;       /* the Field's interned name (the layout owns it): compared by identity */
    Py_ssize_t offset;
    int kind;             /* VG_KIND(size, signed): one jump-table dispatch when loading */
    int size;
    int is_signed;
    uint64_t umax;
} vg_fast_int;

/* 0-3: unsigned 1, 2, 4, 8 bytes; 4-7: signed. */
#define VG_KIND(size, is_signed) (((is_signed) ? 4 : 0) | ((size) == 1 ? 0 : (size) == 2 ? 1 : (size) == 4 ? 2 : 3))

typedef struct {          /* _fields.pyx: cdef class View */
    PyObject_HEAD
    Py_buffer buf;
    char *ptr;
    Py_ssize_t avail;
    Py_ssize_t offset;
    int readonly;
    int untracked;        /* known never GC-tracked (allocated here and not tracked since): dealloc skips the check */
    PyObject *lay;        /* the _Layout, owned; NULL until bound */
} vg_view_object;

typedef struct {          /* _fields.pyx: cdef class _Layout */
    PyObject_HEAD
    Py_ssize_t size;
    PyObject *fields;
    PyObject *name;
    PyObject *layout;
    PyObject *owner;      /* the exact view type whose slots use `fast` (borrowed: it owns this layout) */
    vg_fast_int *fast;    /* the plain integer fields, each in its own slot: vg_name_slot(name, fmul, fshift) */
    uint64_t fmul;        /* chosen by _fields.pyx so that no two of this layout's names share a slot */
    int fshift;           /* 64 - log2(table size) */
} vg_layout_object;

/* A name's slot: multiplicative hashing of the pointer (not the string, so no read through a name of any
 * type). The layout's fields were placed collision-free, so one compare decides hit or miss. */
static inline size_t vg_name_slot(PyObject *name, uint64_t mul, int shift)
{
    return (size_t)((((uint64_t)(uintptr_t)name >> 4) * mul) >> shift);
}

/* One-entry cache type -> layout (strong references, set by _fields.pyx's _layout_of). */
static PyObject *vg_last_type = NULL;
static PyObject *vg_last_lay = NULL;

/* Set by _fields.pyx at import: the full (checked, slower) paths. */
static PyObject *(*vg_view_new_slow)(PyObject *cls, PyObject **args, size_t nargsf, PyObject *kwnames);
static int (*vg_view_set_slow)(PyObject *view, vg_fast_int *f, PyObject *value);

/* A small free list of view objects (all exact view types share one size): wrapping in a loop then costs
 * no allocation. Entries are untracked GC objects whose type reference has been dropped. None in a
 * free-threaded build (it would need a lock). */
#ifdef Py_GIL_DISABLED
#define VG_FREELIST_MAX 0
#else
#define VG_FREELIST_MAX 16
#endif
static PyObject *vg_freelist[VG_FREELIST_MAX > 0 ? VG_FREELIST_MAX : 1];
static int vg_freelist_n = 0;

/* A new, untracked, uninitialised (except for the object header) instance of exact view type tp. */
static inline PyObject *vg_view_new_raw(PyTypeObject *tp)
{
    if (vg_freelist_n > 0)
        return PyObject_Init(vg_freelist[--vg_freelist_n], tp);   /* type, its reference, refcount 1 */
    return (PyObject *)PyObject_GC_New(PyObject, tp);           /* untracked; tracked later only if needed */
}

/* vg_view_new_raw with every view field zeroed (for _fields.pyx's slow path). */
static inline PyObject *vg_view_alloc(PyTypeObject *tp)
{
    PyObject *o = vg_view_new_raw(tp);
    if (o != NULL) {
        memset((char *)o + sizeof(PyObject), 0, (size_t)tp->tp_basicsize - sizeof(PyObject));
        ((vg_view_object *)o)->untracked = 1;
    }
    return o;
}

static void vg_view_dealloc(PyObject *o);

/* tp_vectorcall: ViewType(bytearray) for the type last wrapped, else the slow path. */
static PyObject *vg_view_vectorcall(PyObject *cls, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    if (cls == vg_last_type && kwnames == NULL && PyVectorcall_NARGS(nargsf) == 1) {
        PyObject *buf = args[0];
        vg_layout_object *lay = (vg_layout_object *)vg_last_lay;
        if (PyByteArray_CheckExact(buf) && PyByteArray_GET_SIZE(buf) >= lay->size
                && ((PyTypeObject *)cls)->tp_dealloc == vg_view_dealloc) {
            vg_view_object *v = (vg_view_object *)vg_view_new_raw((PyTypeObject *)cls);
            if (v == NULL)
                return NULL;
            vg_bytearray_export(buf, &v->buf);   /* the bounds check above came first: nothing to undo */
            v->ptr = (char *)v->buf.buf;
            v->avail = v->buf.len;
            v->offset = 0;
            v->readonly = 0;
            v->untracked = 1;
            Py_INCREF(lay);
            v->lay = (PyObject *)lay;
            return (PyObject *)v;
        }
    }
    return vg_view_new_slow(cls, (PyObject **)args, nargsf, kwnames);
}

/* tp_dealloc: release the buffer (inline for a bytearray), keep the memory in the free list. */
static void vg_view_dealloc(PyObject *o)
{
    vg_view_object *v = (vg_view_object *)o;
    PyTypeObject *tp = Py_TYPE(o);
    PyObject *lay = v->lay;
    /* A subclass's instance comes here through subtype_dealloc, which re-tracks it first, and was laid out by
     * its own type (a larger size, and on 3.11+ a managed __dict__ before the object): it is always checked
     * and never kept, or an exact type would reuse memory allocated for another shape. */
    int exact = tp->tp_dealloc == vg_view_dealloc;
    if ((!exact || !v->untracked) && PyObject_GC_IsTracked(o))   /* before anything that may run the collector */
        PyObject_GC_UnTrack(o);
    if (lay != NULL) {
        v->lay = NULL;
        v->ptr = NULL;
        vg_buffer_release(&v->buf);
        Py_DECREF(lay);
    }
    if (VG_FREELIST_MAX > 0 && exact && vg_freelist_n < VG_FREELIST_MAX && tp->tp_free == PyObject_GC_Del)
        vg_freelist[vg_freelist_n++] = o;
    else
        tp->tp_free(o);
    Py_DECREF(tp);   /* instances of heap types own a reference to their type */
}

/* The plain integer field `name` of v, if v is bound, of its layout's exact type, and has one. */
static inline vg_fast_int *vg_fast_find(vg_view_object *v, PyObject *name)
{
    vg_layout_object *lay = (vg_layout_object *)v->lay;
    if (lay == NULL || (PyObject *)Py_TYPE(v) != lay->owner)
        return NULL;
    vg_fast_int *f = &lay->fast[vg_name_slot(name, lay->fmul, lay->fshift)];
    return f->name == name ? f : NULL;
}

/* tp_getattro: a plain integer field is loaded and boxed here; any other name takes the generic lookup
 * (the descriptors, methods, AttributeError). */
static PyObject *vg_view_getattro(PyObject *o, PyObject *name)
{
    vg_view_object *v = (vg_view_object *)o;
    vg_fast_int *f = vg_fast_find(v, name);
    if (f != NULL) {
        const char *p = v->ptr + f->offset;
        switch (f->kind) {
        case 0: return PyLong_FromUnsignedLong((unsigned long)vg_load_u(p, 1));
        case 1: return PyLong_FromUnsignedLong((unsigned long)vg_load_u(p, 2));
        case 2: return PyLong_FromUnsignedLong((unsigned long)vg_load_u(p, 4));
        case 3: return PyLong_FromUnsignedLongLong((unsigned long long)vg_load_u(p, 8));
        case 4: return PyLong_FromLong((long)vg_load_s(p, 1));
        case 5: return PyLong_FromLong((long)vg_load_s(p, 2));
        case 6: return PyLong_FromLongLong((long long)vg_load_s(p, 4));
        default: return PyLong_FromLongLong((long long)vg_load_s(p, 8));
        }
    }
    return PyObject_GenericGetAttr(o, name);
}

/* tp_setattro: an in-range int into a plain unsigned field of a writable view is stored here; read-only
 * views, signed fields, other types and out-of-range values take vg_view_set_slow (its checks and
 * messages); other names and deletion the generic path. */
static int vg_view_setattro(PyObject *o, PyObject *name, PyObject *value)
{
    vg_view_object *v = (vg_view_object *)o;
    vg_fast_int *f = value != NULL ? vg_fast_find(v, name) : NULL;
    if (f == NULL)
        return PyObject_GenericSetAttr(o, name, value);
    if (!v->readonly && !f->is_signed && PyLong_CheckExact(value)) {
        unsigned long long u = PyLong_AsUnsignedLongLong(value);
        if (u <= f->umax && (u != (unsigned long long)-1 || !PyErr_Occurred())) {
            vg_store_u(v->ptr + f->offset, f->size, (uint64_t)u);
            return 0;
        }
        PyErr_Clear();   /* negative or too large: the slow path raises the OverflowError */
    }
    return vg_view_set_slow(o, f, value);
}

#endif /* VG_VIEW_H */
