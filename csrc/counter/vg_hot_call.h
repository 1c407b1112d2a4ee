/* vg_hot_call.h - Counter.changed(token) as a plain C METH_O function (vmgen/counter/_core.pyx installs it).
 *
 * The common case - an open counter in the process that opened it, a token that is a small exact int - is
 * one load of the hot word and a compare, with no Cython prologue around it. Anything else (a closed counter,
 * the first call in a forked child, a token of another type, negative or larger than 64 bits) goes to
 * vg_changed_slow, _core.pyx's full version with its checks and exceptions.
 */
#ifndef VG_HOT_CALL_H
#define VG_HOT_CALL_H

#include <Python.h>
#if PY_VERSION_HEX < 0x030B0000
#include <longintrepr.h>   /* 3.11+ include it from Python.h */
#endif
#include <stdint.h>

#include "vg_counter.h"

/* _core.pyx's CounterBase, field for field (_core.pyx compares the offsets at import and refuses to load if
 * one differs). vtab: Cython's pointer to the cdef methods' table. */
typedef struct {
    PyObject_HEAD
    void *vtab;
    vg_counter *c;
    vg_hot_ptr hot;       /* NULL once closed */
    int busy;
    int closed;
    void *interrupt;
    uint64_t fork_gen;    /* vg_fork_generation() when this process last adopted the C state, or VG_GEN_CLOSED */
    PyObject *tok_obj;    /* the int token() last returned (owned; ints are immutable) ... */
    uint64_t tok_val;     /* ... and its value */
} vg_counter_object;

/* CounterBase._fork_gen while its hot word is NULL (closed): a 32-bit generation never equals it. */
#define VG_GEN_CLOSED UINT64_MAX

/* Set by _core.pyx at import. */
static PyObject *(*vg_changed_slow)(PyObject *self, PyObject *token);

/* token as a uint64_t if it is an exact, non-negative int that fits without a call; else 0. */
static inline int vg_token_fast(PyObject *o, uint64_t *out)
{
    if (!PyLong_CheckExact(o))
        return 0;
#if PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000
    /* 3.12/3.13's lv_tag: digit count << 3 | sign (0 positive, 1 zero, 2 negative). Fast: zero (tag 1) or one
     * positive digit (tag 8); never a negative. (What PyUnstable_Long_CompactValue does, without its
     * multiply by the sign.) */
    uintptr_t tag = ((PyLongObject *)o)->long_value.lv_tag;
    if (tag & ~(uintptr_t)9)
        return 0;
    *out = (tag >> 3) ? (uint64_t)((PyLongObject *)o)->long_value.ob_digit[0] : 0;
    return 1;
#elif PY_VERSION_HEX >= 0x030E0000
    if (!PyUnstable_Long_IsCompact((PyLongObject *)o))
        return 0;
    Py_ssize_t v = PyUnstable_Long_CompactValue((PyLongObject *)o);
    if (v < 0)
        return 0;
    *out = (uint64_t)v;
    return 1;
#else
    const digit *d = ((PyLongObject *)o)->ob_digit;
    Py_ssize_t n = Py_SIZE(o);
    if (n == 1)
        *out = d[0];
    else if (n == 0)
        *out = 0;
    else if (n == 2)
        *out = (uint64_t)d[0] | ((uint64_t)d[1] << PyLong_SHIFT);
    else
        return 0;   /* negative, or more digits */
    return 1;
#endif
}

static PyObject *vg_changed(PyObject *self, PyObject *token)
{
    vg_counter_object *c = (vg_counter_object *)self;
    uint64_t t;
    /* one compare: open (else fork_gen is VG_GEN_CLOSED) and adopted by this process */
    if (c->fork_gen == (uint64_t)vg_fork_generation()) {
        if (token == c->tok_obj)   /* the usual call: the very object token() returned */
            t = c->tok_val;
        else if (!vg_token_fast(token, &t))
            return vg_changed_slow(self, token);
        if (vg_hot_load(c->hot) != t)
            Py_RETURN_TRUE;
        Py_RETURN_FALSE;
    }
    return vg_changed_slow(self, token);
}

static PyMethodDef vg_changed_def = {
    "changed", vg_changed, METH_O,
    "changed($self, token, /)\n--\n\nTrue if the generation has changed since token() returned `token`.",
};

#endif /* VG_HOT_CALL_H */
