# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The zero-copy field engine behind every vmgen buffer view.

A view holds one Py_buffer of the object it wraps for its whole life (so a bytearray cannot be resized
and an mmap cannot be closed under it) and reads/writes fields straight in that memory. Each field is a
data descriptor (a ``Field`` subclass) whose C attributes say where it lives; a view type is an ordinary
class holding those descriptors, made by ``make_view_type`` from a ``vmgen.switch.layout.Layout`` - the built-in
views and the ones the MOF compiler makes at run time are the same kind of object and equally fast.

Bounds: the fixed part is checked once, when the view is made (the buffer must hold ``layout.size``
bytes past ``offset``). Every offset or length read from the buffer is checked at each access.
"""
cimport cython
from cpython.buffer cimport PyBuffer_FillInfo, PyBuffer_Release, PyObject_GetBuffer, PyBUF_SIMPLE
from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES, PyBUF_WRITABLE
from cpython.object cimport PyObject, PyTypeObject
from cpython.memoryview cimport PyMemoryView_Check
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.stdlib cimport free, malloc
from cpython.unicode cimport PyUnicode_AsEncodedString
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy, memset

from _operator import index as _index   # operator.index; the operator module costs `import vmgen` ~1.5 M instructions
from sys import intern as _intern

from vmgen.errors import BufferTooShort, LayoutError
from vmgen.switch.layout import K_BLOB, K_CSTR, K_FARR, K_GUID, K_INT, K_OARR, K_OSTR


cdef extern from "vg_fields.h":
    uint64_t vg_load_u(const char *p, int size) nogil
    int64_t vg_load_s(const char *p, int size) nogil
    void vg_store_u(char *p, int size, uint64_t v) nogil
    object vg_guid_to_int(const char *p)
    object vg_decode_wchars(const char *p, Py_ssize_t nbytes)

cdef extern from "vg_view.h":
    ctypedef struct vg_fast_int:
        PyObject *name
        Py_ssize_t offset
        int kind
        int size
        int is_signed
        uint64_t umax
    int VG_KIND(int size, bint is_signed)
    PyObject *vg_buf_obj(Py_buffer *b)
    bint vg_is_bytearray(object o)
    void vg_bytearray_export(object o, Py_buffer *b)
    void vg_buffer_release(Py_buffer *b)
    PyObject *vg_view_alloc(PyTypeObject *tp)
    size_t vg_name_slot(PyObject *name, uint64_t mul, int shift)
    PyObject *vg_last_type
    PyObject *vg_last_lay
    object (*vg_view_new_slow)(object, PyObject **, size_t, PyObject *)
    int (*vg_view_set_slow)(PyObject *, vg_fast_int *, PyObject *) except -1
    PyObject *vg_view_vectorcall(PyObject *, PyObject **, size_t, PyObject *)
    void vg_view_dealloc(PyObject *)
    PyObject *vg_view_getattro(PyObject *, PyObject *)
    int vg_view_setattro(PyObject *, PyObject *, PyObject *)
    unsigned long Py_TPFLAGS_IMMUTABLETYPE
    # the C mirrors of View and _Layout (vg_view.h): compared with Cython's layout at import
    Py_ssize_t VG_OFF_VIEW_BUF "offsetof(vg_view_object, buf)"
    Py_ssize_t VG_OFF_VIEW_PTR "offsetof(vg_view_object, ptr)"
    Py_ssize_t VG_OFF_VIEW_AVAIL "offsetof(vg_view_object, avail)"
    Py_ssize_t VG_OFF_VIEW_OFFSET "offsetof(vg_view_object, offset)"
    Py_ssize_t VG_OFF_VIEW_READONLY "offsetof(vg_view_object, readonly)"
    Py_ssize_t VG_OFF_VIEW_UNTRACKED "offsetof(vg_view_object, untracked)"
    Py_ssize_t VG_OFF_VIEW_LAY "offsetof(vg_view_object, lay)"
    Py_ssize_t VG_SIZEOF_VIEW "sizeof(vg_view_object)"
    Py_ssize_t VG_OFF_LAY_SIZE "offsetof(vg_layout_object, size)"
    Py_ssize_t VG_OFF_LAY_OWNER "offsetof(vg_layout_object, owner)"
    Py_ssize_t VG_OFF_LAY_FAST "offsetof(vg_layout_object, fast)"
    Py_ssize_t VG_OFF_LAY_FMUL "offsetof(vg_layout_object, fmul)"
    Py_ssize_t VG_OFF_LAY_FSHIFT "offsetof(vg_layout_object, fshift)"

cdef extern from "Python.h":
    ctypedef object (*vectorcallfunc)(object, PyObject **, size_t, PyObject *)
    ctypedef PyObject *(*newfunc)(PyTypeObject *, PyObject *, PyObject *)
    ctypedef void (*destructor)(PyObject *)
    ctypedef int (*visitproc)(PyObject *, void *)
    ctypedef int (*traverseproc)(PyObject *, visitproc, void *)
    ctypedef PyObject *(*getattrofunc)(PyObject *, PyObject *)
    ctypedef int (*setattrofunc)(PyObject *, PyObject *, PyObject *)
    ctypedef struct PyTypeObject_vc "PyTypeObject":
        Py_ssize_t tp_basicsize
        const char *tp_name
        Py_ssize_t tp_dictoffset
        Py_ssize_t tp_weaklistoffset
        destructor tp_dealloc
        traverseproc tp_traverse
        getattrofunc tp_getattro
        setattrofunc tp_setattro
        vectorcallfunc tp_vectorcall
        newfunc tp_new
        unsigned long tp_flags
    PyTypeObject PyLong_Type
    PyTypeObject *Py_TYPE(PyObject *)
    bint Py_IS_TYPE(PyObject *, PyTypeObject *)
    bint PyType_IS_GC(PyTypeObject *)
    bint PyObject_IS_GC(PyObject *)
    bint PyObject_GC_IsTracked(object)
    void PyObject_GC_Track(PyObject *)
    void PyType_Modified(PyTypeObject *)
    Py_ssize_t PyByteArray_GET_SIZE(object)
    object PyObject_GenericGetAttr(object, object)
    int _generic_setattr "PyObject_GenericSetAttr"(PyObject *, PyObject *, PyObject *) except -1
    unsigned long long PyLong_AsUnsignedLongLong(object)
    long long PyLong_AsLongLong(object)
    PyObject *PyErr_Occurred()
    void PyErr_Clear()
    Py_ssize_t PyVectorcall_NARGS(size_t nargsf)
    int PyObject_GenericSetAttr(object o, object name, object value) except -1
    PyObject *PyTuple_GET_ITEM(object, Py_ssize_t)
    Py_ssize_t PyTuple_GET_SIZE(object)


# --- uuid.UUID without its slow Python __init__: allocate and fill the two slots directly -----------------
# uuid is imported at the first GUID access, not with `import vmgen`: it loads platform, enum and libuuid.
cdef object _UUID = None
cdef object _SAFE_UNKNOWN = None
cdef object _object_new = object.__new__
cdef str _S_INT = "int"
cdef str _S_IS_SAFE = "is_safe"


cdef object _load_uuid():
    global _UUID, _SAFE_UNKNOWN
    import uuid
    _SAFE_UNKNOWN = uuid.SafeUUID.unknown  # first: _UUID set means both are
    _UUID = uuid.UUID
    return _UUID


cdef object _guid_get(const char *p):
    cdef object u = _object_new(_UUID if _UUID is not None else _load_uuid())
    PyObject_GenericSetAttr(u, _S_INT, vg_guid_to_int(p))  # bypasses UUID.__setattr__ (immutable)
    PyObject_GenericSetAttr(u, _S_IS_SAFE, _SAFE_UNKNOWN)
    return u


cdef bytes _guid_bytes_le(object value, str name):
    cdef object UUID = _UUID if _UUID is not None else _load_uuid()
    if isinstance(value, UUID):
        return value.bytes_le
    if isinstance(value, str):
        return UUID(value).bytes_le
    raise TypeError(f"{name} must be a uuid.UUID or a GUID string, not {type(value).__name__}")


cdef inline uint64_t _max_unsigned(int size) noexcept:
    return 0xFFFFFFFFFFFFFFFF if size == 8 else ((<uint64_t>1) << (8 * size)) - 1


cdef int _store_int(char *p, int size, bint signed, object value, str name) except -1:
    """Range-checked integer store: OverflowError when the value does not fit the C type."""
    cdef uint64_t u
    cdef int64_t i, hi
    if type(value) is not int:
        value = _index(value)  # __index__ only (bool, IntEnum, numpy ints): floats and strings are TypeErrors
    if signed:
        i = PyLong_AsLongLong(value)
        hi = <int64_t>(_max_unsigned(size) >> 1)
        if (i == -1 and PyErr_Occurred() is not NULL) or i > hi or i < -hi - 1:
            PyErr_Clear()
            raise OverflowError(f"{name}: {value} does not fit a signed {8 * size}-bit field")
        vg_store_u(p, size, <uint64_t>i)
    else:
        u = PyLong_AsUnsignedLongLong(value)  # negative or > 2**64-1: -1 with OverflowError set
        if (u == <uint64_t>-1 and PyErr_Occurred() is not NULL) or u > _max_unsigned(size):
            PyErr_Clear()
            raise OverflowError(f"{name}: {value} does not fit an unsigned {8 * size}-bit field")
        vg_store_u(p, size, u)
    return 0


# --- per-type compiled layout --------------------------------------------------------------------------
cdef class _Layout:
    # Field order and types: vg_view.h's vg_layout_object mirrors them (checked at import).
    cdef readonly Py_ssize_t size
    cdef readonly tuple fields
    cdef readonly str name
    cdef readonly object layout
    cdef PyObject *owner  # the exact view type whose slots use `fast` (it owns this layout: borrowed)
    cdef vg_fast_int *fast  # the plain integer fields by name (vg_fast_find); names borrowed from the Fields
    cdef uint64_t fmul
    cdef int fshift

    def __init__(self, str name, Py_ssize_t size, tuple fields, object layout):
        self.name = name
        self.size = size
        self.fields = fields
        self.layout = layout

    def __dealloc__(self):
        free(self.fast)


cdef inline _Layout _layout_of(type cls):
    # One-entry cache (vg_view.h's vg_last_type/vg_last_lay, which its vectorcall reads too): strong
    # references, so the type's address cannot be reused while cached.
    global vg_last_type, vg_last_lay
    if <PyObject *>cls is vg_last_type:
        return <_Layout>vg_last_lay
    cdef _Layout lay = _layout_lookup(cls)
    cdef PyObject *old_type = vg_last_type
    cdef PyObject *old_lay = vg_last_lay
    Py_INCREF(cls)
    Py_INCREF(lay)
    vg_last_type = <PyObject *>cls
    vg_last_lay = <PyObject *>lay
    if old_type is not NULL:  # after the swap: these may free a type
        Py_DECREF(<object>old_type)
        Py_DECREF(<object>old_lay)
    return lay


cdef _Layout _layout_lookup(type cls):
    # The type owns its compiled layout (no global registry: a view type made at run time, e.g. from a
    # MOF class, is freed with its last reference). Subclasses inherit it through the MRO.
    lay = getattr(cls, "_vg_compiled", None)
    if isinstance(lay, _Layout):
        return <_Layout>lay
    raise TypeError(f"{cls.__name__} is not a vmgen view type (use vmgen.switch.layout / make_view_type)")


# --- zero-copy sub-regions: memoryview(_Span(...)) -------------------------------------------------------
cdef class _Span:
    """Exports part of a view's memory as a typed 1-D buffer; keeps the view (and so its buffer) alive."""
    cdef View owner
    cdef char *ptr
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]
    cdef Py_ssize_t itemsize
    cdef bytes fmt

    def __getbuffer__(self, Py_buffer *b, int flags):
        if (flags & PyBUF_WRITABLE) == PyBUF_WRITABLE and self.owner._readonly:
            raise BufferError("the underlying buffer is read-only")
        b.buf = self.ptr
        b.obj = self
        b.len = self.shape[0] * self.itemsize
        b.readonly = self.owner._readonly
        b.itemsize = self.itemsize
        if (flags & PyBUF_FORMAT) == PyBUF_FORMAT:
            b.format = <char *>self.fmt  # self.fmt lives as long as this span
        else:
            b.format = NULL
        b.ndim = 1
        b.shape = self.shape if (flags & PyBUF_ND) == PyBUF_ND else NULL
        b.strides = self.strides if (flags & PyBUF_STRIDES) == PyBUF_STRIDES else NULL
        b.suboffsets = NULL
        b.internal = NULL

    def __releasebuffer__(self, Py_buffer *b):
        pass


cdef object _span(View v, Py_ssize_t start, Py_ssize_t n_items, Py_ssize_t itemsize, bytes fmt):
    cdef _Span s = _Span.__new__(_Span)
    s.owner = v
    s.ptr = v._ptr + start
    s.shape[0] = n_items
    s.strides[0] = itemsize
    s.itemsize = itemsize
    s.fmt = fmt
    return memoryview(s)


# --- the view base class ---------------------------------------------------------------------------------
@cython.no_gc  # no Python-object fields; the view types make_view_type builds are GC types (see there)
cdef class View:
    """Base of every view. Subclasses are made by ``make_view_type``; don't instantiate View itself."""
    cdef Py_buffer _buf
    cdef char *_ptr
    cdef Py_ssize_t _avail
    cdef Py_ssize_t _offset
    cdef bint _readonly
    cdef bint _untracked  # known never GC-tracked: the dealloc skips the tracking check
    # The compiled layout, an owned reference; NULL until bound. A raw pointer (and no cdef methods, so
    # no vtable) keeps a view's memory plain: vg_view.h's vectorcall fills it without running tp_new.
    # Field order and types: vg_view.h's vg_view_object mirrors them (checked at import).
    cdef PyObject *_lay

    def __init__(self, buf, Py_ssize_t offset=0):
        _attach(self, buf, offset, _layout_of(type(self)))

    def __dealloc__(self):
        _release(self)

    @property
    def offset(self):
        """Where the structure starts in the wrapped buffer."""
        return self._offset

    @property
    def readonly(self):
        return bool(self._readonly)

    @property
    def obj(self):
        """The wrapped object."""
        _check(self)
        return self._buf.obj

    @property
    def nbytes(self):
        """The structure's full size: the fixed part and every variable part it points to."""
        _check(self)
        return _nbytes(self)

    def to_dict(self):
        """Every field decoded to a Python value (arrays and blobs as zero-copy memoryviews)."""
        _check(self)
        cdef dict d = {}
        cdef Field f
        for f in (<_Layout>self._lay).fields:
            if f.present(self):
                d[f.name] = f.get(self)
        return d

    def __getbuffer__(self, Py_buffer *b, int flags):
        _check(self)
        PyBuffer_FillInfo(b, self, self._ptr, _nbytes(self), self._readonly, flags)

    def __releasebuffer__(self, Py_buffer *b):
        pass

    def __eq__(self, other):
        if type(self) is not type(other):
            return NotImplemented
        try:
            return memoryview(self) == memoryview(other)
        except LayoutError:
            return self is other  # a malformed structure has no well-defined bytes: it equals only itself

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = None  # mutable: views compare by the bytes they see

    def __repr__(self):
        from vmgen.switch._format import format_view
        return format_view(self)


cdef int _attach(View v, object buf, Py_ssize_t offset, _Layout lay) except -1:
    if v._lay is not NULL:
        raise TypeError("a view is bound to its buffer once, at construction")
    if offset < 0:
        raise ValueError(f"{lay.name}: offset must be >= 0, not {offset}")
    if vg_is_bytearray(buf):
        if PyByteArray_GET_SIZE(buf) - offset < lay.size:
            _too_short(lay, offset, PyByteArray_GET_SIZE(buf))
        vg_bytearray_export(buf, &v._buf)
    else:
        PyObject_GetBuffer(buf, &v._buf, PyBUF_SIMPLE)
        if v._buf.len - offset < lay.size:
            PyBuffer_Release(&v._buf)
            _too_short(lay, offset, v._buf.len)
    v._ptr = <char *>v._buf.buf + offset
    v._avail = v._buf.len - offset
    v._offset = offset
    v._readonly = v._buf.readonly
    Py_INCREF(lay)
    v._lay = <PyObject *>lay
    # A view refers to its exporter; only a GC exporter can refer back (a bytearray subclass holding the
    # view...), so only then is the view tracked: wrapping a bytearray or bytes stays cheap. Not a memoryview:
    # the collector may clear a memoryview while it is still exported (memory_clear drops its managed buffer
    # when the release fails), and our later release of it would then crash inside CPython. A cycle through a
    # memoryview stays uncollectable, as every view cycle was before.
    cdef PyObject *exporter = vg_buf_obj(&v._buf)
    if (PyType_IS_GC(Py_TYPE(<PyObject *>v)) and PyObject_IS_GC(exporter)
            and not PyMemoryView_Check(<object>exporter) and not PyObject_GC_IsTracked(v)):
        v._untracked = False
        PyObject_GC_Track(<PyObject *>v)
    return 0


cdef int _too_short(_Layout lay, Py_ssize_t offset, Py_ssize_t have) except -1:
    raise BufferTooShort(f"{lay.name}: needs {lay.size} bytes at offset {offset}, the buffer has {have}",
                         <object>offset + lay.size)  # a Python int: offset may be near PY_SSIZE_T_MAX


cdef inline void _release(View v) noexcept:
    cdef PyObject *lay = v._lay
    if lay is not NULL:
        v._lay = NULL
        v._ptr = NULL
        vg_buffer_release(&v._buf)
        Py_DECREF(<object>lay)


cdef inline int _check(View v) except -1:
    if v._lay is NULL:
        raise ValueError("view is not bound to a buffer")
    return 0


cdef Py_ssize_t _nbytes(View v) except -1:
    cdef _Layout lay = <_Layout>v._lay
    cdef Py_ssize_t n = lay.size, e
    cdef Field f
    for f in lay.fields:
        e = f.extent(v)
        if e > n:
            n = e
    return n


cdef tuple _EMPTY = ()
cdef Py_ssize_t _VIEW_SIZE = (<PyTypeObject_vc *>View).tp_basicsize


# The slots of the exact view types (make_view_type) are C (vg_view.h): allocation from a free list, an
# inline bytearray export, a dealloc without error-state save/restore, per-type lookup of plain integer
# fields. What they do not handle comes here.

cdef int _view_traverse(View v, visitproc visit, void *arg) noexcept:
    cdef int r = visit(<PyObject *>Py_TYPE(<PyObject *>v), arg)  # a heap type's instances visit their type
    if r == 0 and v._lay is not NULL and vg_buf_obj(&v._buf) is not NULL:
        r = visit(vg_buf_obj(&v._buf), arg)
    return r


cdef object _view_new_slow(object cls, PyObject **args, size_t nargsf, PyObject *kwnames):
    """``ViewType(buf, offset=0)`` in full: arguments by keyword, an offset, any exporter, the errors."""
    cdef Py_ssize_t nargs = PyVectorcall_NARGS(nargsf)
    cdef Py_ssize_t offset = 0, i
    cdef PyObject *buf = NULL
    if kwnames is NULL and nargs == 1:
        buf = args[0]
    else:
        if nargs > 2:
            raise TypeError(f"{(<type>cls).__name__}() takes at most 2 positional arguments ({nargs} given)")
        if nargs >= 1:
            buf = args[0]
        if nargs == 2:
            offset = <object>args[1]
        for i in range(0 if kwnames is NULL else PyTuple_GET_SIZE(<object>kwnames)):
            key = <object>PyTuple_GET_ITEM(<object>kwnames, i)
            if key == "offset" and nargs < 2:
                offset = <object>args[nargs + i]
            elif key == "buf" and buf is NULL:
                buf = args[nargs + i]
            else:
                raise TypeError(f"{(<type>cls).__name__}() got an unexpected keyword argument {key!r}")
        if buf is NULL:
            raise TypeError(f"{(<type>cls).__name__}() missing required argument 'buf'")
    cdef _Layout lay = _layout_of(cls)
    cdef PyTypeObject_vc *tp = <PyTypeObject_vc *><PyObject *>cls
    cdef PyObject *o
    if tp.tp_dealloc == <destructor>vg_view_dealloc:
        o = vg_view_alloc(<PyTypeObject *>tp)
    else:
        o = tp.tp_new(<PyTypeObject *>cls, <PyObject *>_EMPTY, NULL)
    if o is NULL:
        raise MemoryError()
    cdef View v = <View>o  # the allocation is a new reference; Cython's cast takes another
    Py_DECREF(v)
    _attach(v, <object>buf, offset, lay)
    return v


cdef int _view_set_slow(PyObject *o, vg_fast_int *f, PyObject *value) except -1:
    """A plain integer field's store that vg_view_setattro left: read-only, signed, not an int, out of range."""
    cdef View v = <View>o
    if v._readonly:
        raise TypeError(f"cannot set {<object>f.name}: the underlying buffer is read-only")
    return _store_int(v._ptr + f.offset, f.size, f.is_signed, <object>value, <str>f.name)


cdef int _check_mirrors() except -1:
    """vg_view.h reads View and _Layout through C mirrors of their structs: refuse to load if one differs."""
    cdef View v = View.__new__(View)
    cdef _Layout lay = _Layout.__new__(_Layout)
    cdef char *vp = <char *><PyObject *>v
    cdef char *lp = <char *><PyObject *>lay
    cdef list bad = [name for name, got, want in (
        ("View._buf", <char *>&v._buf - vp, VG_OFF_VIEW_BUF),
        ("View._ptr", <char *>&v._ptr - vp, VG_OFF_VIEW_PTR),
        ("View._avail", <char *>&v._avail - vp, VG_OFF_VIEW_AVAIL),
        ("View._offset", <char *>&v._offset - vp, VG_OFF_VIEW_OFFSET),
        ("View._readonly", <char *>&v._readonly - vp, VG_OFF_VIEW_READONLY),
        ("View._untracked", <char *>&v._untracked - vp, VG_OFF_VIEW_UNTRACKED),
        ("View._lay", <char *>&v._lay - vp, VG_OFF_VIEW_LAY),
        ("View size", _VIEW_SIZE, VG_SIZEOF_VIEW),
        ("_Layout.size", <char *>&lay.size - lp, VG_OFF_LAY_SIZE),
        ("_Layout.owner", <char *>&lay.owner - lp, VG_OFF_LAY_OWNER),
        ("_Layout.fast", <char *>&lay.fast - lp, VG_OFF_LAY_FAST),
        ("_Layout.fmul", <char *>&lay.fmul - lp, VG_OFF_LAY_FMUL),
        ("_Layout.fshift", <char *>&lay.fshift - lp, VG_OFF_LAY_FSHIFT),
    ) if got != want]
    if bad:
        raise ImportError(f"vmgen.switch._fields: vg_view.h's struct mirrors differ from the Cython classes: {bad}")
    return 0


_check_mirrors()
vg_view_new_slow = _view_new_slow
vg_view_set_slow = _view_set_slow


# --- fields --------------------------------------------------------------------------------------------
cdef class Field:
    """A data descriptor for one view attribute. Subclasses implement get/set/extent."""
    cdef readonly str name
    cdef _Layout lay  # the layout this field belongs to: refuses views of another type
    cdef type owner  # the view type it was made for: one pointer compare on the fast path
    cdef Py_ssize_t fixed_size

    cdef object get(self, View v):
        raise NotImplementedError

    cdef int set(self, View v, object value) except -1:
        raise AttributeError(f"{self.name} is a variable-length part and cannot be set in place; use build()")

    cdef Py_ssize_t extent(self, View v) except -1:
        return 0

    cdef bint present(self, View v):
        return True

    cdef inline int _own(self, object inst) except -1:
        if type(inst) is self.owner and (<View>inst)._ptr is not NULL:  # NULL: made by __new__, never bound
            return 0
        if not isinstance(inst, View) or (<View>inst)._lay is not <PyObject *>self.lay:
            if isinstance(inst, View) and (<View>inst)._lay is NULL:
                raise ValueError("view is not bound to a buffer")
            raise TypeError(f"field {self.name!r} does not belong to {type(inst).__name__}")
        return 0

    def __get__(self, inst, owner):
        if inst is None:
            return self
        self._own(inst)
        return self.get(<View>inst)

    def __set__(self, inst, value):
        self._own(inst)
        if (<View>inst)._readonly:
            raise TypeError(f"cannot set {self.name}: the underlying buffer is read-only")
        self.set(<View>inst, value)

    def __delete__(self, inst):
        raise AttributeError(f"cannot delete field {self.name!r}")

    cdef object _bad(self, str why):
        return LayoutError(f"{self.name}: {why}", self.name)

    cdef int _part_in_bounds(self, View v, uint64_t off, uint64_t count, uint64_t unit=1) except -1:
        """A variable part (count * unit bytes at off) must lie after the fixed part and inside the buffer.
        Written so that nothing wraps around: off, count and unit may each be any 64-bit value."""
        if off < <uint64_t>self.fixed_size:
            raise self._bad(f"offset {off} points inside the {self.fixed_size}-byte fixed part")
        if count > <uint64_t>v._avail // unit or off > <uint64_t>v._avail - count * unit:
            raise self._bad(f"{<object>count * <object>unit} bytes at offset {off} run past the end of the "
                            f"{v._avail}-byte buffer")
        return 0


cdef class IntField(Field):
    cdef Py_ssize_t offset
    cdef int size
    cdef bint signed
    cdef Py_ssize_t cond_offset
    cdef int cond_size
    cdef uint64_t cond_min
    cdef uint64_t umax

    # The hot path (one field read or write) inlined: exact-type check, load, box.
    def __get__(self, inst, owner):
        cdef View v
        if type(inst) is self.owner and not self.cond_size and (<View>inst)._ptr is not NULL:
            v = <View>inst
            if self.signed:
                return vg_load_s(v._ptr + self.offset, self.size)
            if self.size <= 4:
                return <unsigned long>vg_load_u(v._ptr + self.offset, self.size)
            return vg_load_u(v._ptr + self.offset, self.size)
        if inst is None:
            return self
        self._own(inst)
        return self.get(<View>inst)

    def __set__(self, inst, value):
        cdef View v
        cdef uint64_t u
        if (type(inst) is self.owner and type(value) is int and not self.signed and not self.cond_size
                and (<View>inst)._ptr is not NULL):
            v = <View>inst
            if not v._readonly:
                u = PyLong_AsUnsignedLongLong(value)
                if u <= self.umax and (u != <uint64_t>-1 or PyErr_Occurred() is NULL):
                    vg_store_u(v._ptr + self.offset, self.size, u)
                    return
                PyErr_Clear()  # out of range: the general path below raises the OverflowError
        self._own(inst)
        v = <View>inst
        if v._readonly:
            raise TypeError(f"cannot set {self.name}: the underlying buffer is read-only")
        if self.cond_size:
            self.set(v, value)
        else:
            _store_int(v._ptr + self.offset, self.size, self.signed, value, self.name)

    cdef bint present(self, View v):
        if self.cond_size == 0:
            return True
        return (vg_load_u(v._ptr + self.cond_offset, self.cond_size) >= self.cond_min
                and self.offset + self.size <= v._avail)

    cdef object get(self, View v):
        if self.cond_size and not self.present(v):
            raise self._bad(f"not present in this structure (needs {self.cond_min} in its revision field "
                            f"and {self.offset + self.size} bytes)")
        if self.signed:
            return vg_load_s(v._ptr + self.offset, self.size)
        return vg_load_u(v._ptr + self.offset, self.size)

    cdef int set(self, View v, object value) except -1:
        if self.cond_size and not self.present(v):
            raise self._bad("not present in this structure")
        return _store_int(v._ptr + self.offset, self.size, self.signed, value, self.name)

    cdef Py_ssize_t extent(self, View v) except -1:
        return self.offset + self.size if self.cond_size and self.present(v) else 0


cdef class GuidField(Field):
    cdef Py_ssize_t offset

    cdef object get(self, View v):
        return _guid_get(v._ptr + self.offset)

    cdef int set(self, View v, object value) except -1:
        cdef bytes b = _guid_bytes_le(value, self.name)
        memcpy(v._ptr + self.offset, <char *>b, 16)
        return 0


cdef inline void _store_counted(View v, Py_ssize_t data_offset, const char *data, Py_ssize_t used,
                                Py_ssize_t capacity, Py_ssize_t count_offset, int count_size,
                                uint64_t count) noexcept:
    """An inline counted part (WCHAR[n] + byte count, T[n] + element count): the data, zeros up to the
    capacity so no stale bytes survive a shorter value, then the count."""
    memcpy(v._ptr + data_offset, data, used)
    memset(v._ptr + data_offset + used, 0, capacity - used)
    vg_store_u(v._ptr + count_offset, count_size, count)


cdef class CountedStringField(Field):
    cdef Py_ssize_t len_offset
    cdef int len_size
    cdef Py_ssize_t chars_offset
    cdef Py_ssize_t capacity  # WCHARs, NUL excluded

    cdef object get(self, View v):
        cdef uint64_t n = vg_load_u(v._ptr + self.len_offset, self.len_size)
        if n & 1:
            raise self._bad(f"byte count {n} is odd (UTF-16 needs 2 bytes a character)")
        if n > <uint64_t>(2 * self.capacity):
            raise self._bad(f"byte count {n} exceeds the {2 * self.capacity}-byte capacity")
        return vg_decode_wchars(v._ptr + self.chars_offset, <Py_ssize_t>n)

    cdef int set(self, View v, object value) except -1:
        if not isinstance(value, str):
            raise TypeError(f"{self.name} must be a str, not {type(value).__name__}")
        cdef bytes b = PyUnicode_AsEncodedString(value, "utf-16-le", "surrogatepass")
        cdef Py_ssize_t n = len(b)
        if n > 2 * self.capacity:
            raise OverflowError(f"{self.name}: {n // 2} UTF-16 code units exceed the capacity of {self.capacity}")
        _store_counted(v, self.chars_offset, <char *>b, n, 2 * (self.capacity + 1),  # NUL slot zeroed too
                       self.len_offset, self.len_size, <uint64_t>n)
        return 0


cdef class OffsetStringField(Field):
    cdef Py_ssize_t off_offset
    cdef int off_size

    cdef Py_ssize_t _locate(self, View v, uint64_t *nbytes) except -1:
        cdef uint64_t off = vg_load_u(v._ptr + self.off_offset, self.off_size)
        self._part_in_bounds(v, off, 2)
        cdef uint64_t n = vg_load_u(v._ptr + off, 2)
        if n & 1:
            raise self._bad(f"StringLength {n} is odd (it counts bytes of UTF-16)")
        self._part_in_bounds(v, off, 2 + n)
        nbytes[0] = n
        return <Py_ssize_t>off

    cdef object get(self, View v):
        cdef uint64_t n
        cdef Py_ssize_t off = self._locate(v, &n)
        return vg_decode_wchars(v._ptr + off + 2, <Py_ssize_t>n)

    cdef Py_ssize_t extent(self, View v) except -1:
        cdef uint64_t n
        cdef Py_ssize_t off = self._locate(v, &n)
        return off + 2 + <Py_ssize_t>n


cdef class _ArrayField(Field):
    cdef Py_ssize_t count_offset
    cdef int count_size
    cdef Py_ssize_t elem_size
    cdef bytes fmt
    cdef bint signed

    cdef int _store_items(self, char *p, object items, Py_ssize_t n) except -1:
        cdef Py_ssize_t i
        for i in range(n):
            _store_int(p + i * self.elem_size, <int>self.elem_size, self.signed, items[i], self.name)
        return 0


cdef class FixedArrayField(_ArrayField):
    cdef Py_ssize_t array_offset
    cdef Py_ssize_t capacity

    cdef object get(self, View v):
        cdef uint64_t n = vg_load_u(v._ptr + self.count_offset, self.count_size)
        if n > <uint64_t>self.capacity:
            raise self._bad(f"element count {n} exceeds the capacity of {self.capacity}")
        return _span(v, self.array_offset, <Py_ssize_t>n, self.elem_size, self.fmt)

    cdef int set(self, View v, object value) except -1:
        cdef object items = list(value)
        cdef Py_ssize_t n = len(items)
        if n > self.capacity:
            raise OverflowError(f"{self.name}: {n} elements exceed the capacity of {self.capacity}")
        # validate everything before writing anything: a failed set leaves the buffer untouched
        cdef bytearray scratch = bytearray(n * self.elem_size)
        self._store_items(<char *>scratch, items, n)
        _store_counted(v, self.array_offset, <char *>scratch, n * self.elem_size, self.capacity * self.elem_size,
                       self.count_offset, self.count_size, <uint64_t>n)
        return 0


cdef class OffsetArrayField(_ArrayField):
    cdef Py_ssize_t off_offset
    cdef int off_size

    cdef Py_ssize_t _locate(self, View v, uint64_t *count) except -1:
        cdef uint64_t n = vg_load_u(v._ptr + self.count_offset, self.count_size)
        count[0] = n
        if n == 0:
            return 0
        cdef uint64_t off = vg_load_u(v._ptr + self.off_offset, self.off_size)
        self._part_in_bounds(v, off, n, <uint64_t>self.elem_size)
        return <Py_ssize_t>off

    cdef object get(self, View v):
        cdef uint64_t n
        cdef Py_ssize_t off = self._locate(v, &n)
        return _span(v, off, <Py_ssize_t>n, self.elem_size, self.fmt)

    cdef Py_ssize_t extent(self, View v) except -1:
        cdef uint64_t n
        cdef Py_ssize_t off = self._locate(v, &n)
        return off + <Py_ssize_t>n * self.elem_size if n else 0


cdef Field _make_field(tuple spec, _Layout lay):
    cdef int kind = spec[0]
    cdef Field f
    if kind == K_INT:
        f = IntField.__new__(IntField)
        (<IntField>f).offset, (<IntField>f).size, (<IntField>f).signed = spec[2], spec[3], spec[4]
        (<IntField>f).cond_offset, (<IntField>f).cond_size, (<IntField>f).cond_min = spec[5], spec[6], spec[7]
        (<IntField>f).umax = _max_unsigned(spec[3])
    elif kind == K_GUID:
        f = GuidField.__new__(GuidField)
        (<GuidField>f).offset = spec[2]
    elif kind == K_CSTR:
        f = CountedStringField.__new__(CountedStringField)
        (<CountedStringField>f).len_offset, (<CountedStringField>f).len_size = spec[2], spec[3]
        (<CountedStringField>f).chars_offset, (<CountedStringField>f).capacity = spec[4], spec[5]
    elif kind == K_OSTR:
        f = OffsetStringField.__new__(OffsetStringField)
        (<OffsetStringField>f).off_offset, (<OffsetStringField>f).off_size = spec[2], spec[3]
    elif kind == K_FARR:
        f = FixedArrayField.__new__(FixedArrayField)
        (<FixedArrayField>f).count_offset, (<FixedArrayField>f).count_size = spec[2], spec[3]
        (<FixedArrayField>f).array_offset, (<FixedArrayField>f).capacity = spec[4], spec[5]
        (<FixedArrayField>f).elem_size, (<FixedArrayField>f).fmt = spec[6], spec[7].encode()
        (<FixedArrayField>f).signed = spec[8]
    elif kind == K_OARR or kind == K_BLOB:  # a blob (SaveData, PropertyBuffer) is an offset array of bytes
        if kind == K_BLOB:
            spec = spec + (1, "B", False)
        f = OffsetArrayField.__new__(OffsetArrayField)
        (<OffsetArrayField>f).count_offset, (<OffsetArrayField>f).count_size = spec[2], spec[3]
        (<OffsetArrayField>f).off_offset, (<OffsetArrayField>f).off_size = spec[4], spec[5]
        (<OffsetArrayField>f).elem_size, (<OffsetArrayField>f).fmt = spec[6], spec[7].encode()
        (<OffsetArrayField>f).signed = spec[8]
    else:
        raise ValueError(f"unknown field kind {kind}")
    f.name = _intern(spec[1])  # so that `view.name` in code finds it by identity (vg_view.h)
    f.lay = lay
    f.fixed_size = lay.size
    return f


def make_view_type(str name, object layout, tuple bases=(), dict namespace=None):
    """A new view class for ``layout`` (a ``vmgen.switch.layout.Layout``): ``bases`` add methods (they must
    have ``__slots__ = ()``); the fields become data descriptors of the class."""
    cdef _Layout lay = _Layout(name, layout.size, (), layout)
    fields = tuple(_make_field(spec, lay) for spec in layout.field_specs())
    lay.fields = fields
    ns = dict(namespace or {})
    ns["__slots__"] = ()
    ns["layout"] = layout
    ns["_vg_compiled"] = lay
    for f in fields:
        ns[(<Field>f).name] = f
    cls = type(name, bases + (View,), ns)
    for f in fields:
        (<Field>f).owner = cls
    cdef PyTypeObject_vc *t = <PyTypeObject_vc *><PyObject *>cls
    t.tp_vectorcall = <vectorcallfunc>vg_view_vectorcall
    if t.tp_basicsize == _VIEW_SIZE and t.tp_dictoffset == 0 and t.tp_weaklistoffset == 0:
        # Plain view memory (bases with __slots__ = ()): our own slots. The type stays a GC type so a view
        # over a GC exporter can be tracked (_attach), but a view is never cleared: it cannot drop its buffer
        # while exports of it may exist; a cycle through it is broken at the exporter's side.
        t.tp_dealloc = <destructor>vg_view_dealloc
        t.tp_traverse = <traverseproc>_view_traverse
        t.tp_getattro = <getattrofunc>vg_view_getattro
        t.tp_setattro = <setattrofunc>vg_view_setattro
        lay.owner = <PyObject *>cls
        _fill_fast(lay)
    # Immutable, like a built-in type: CPython specialises calls to it (CALL_BUILTIN_CLASS), and no one can
    # replace a field descriptor under the per-type lookup. Subclassing still works.
    t.tp_flags |= Py_TPFLAGS_IMMUTABLETYPE
    PyType_Modified(<PyTypeObject *>cls)
    return cls


# Odd 64-bit multipliers for _fill_fast to try (the first is 2**64 / the golden ratio).
cdef uint64_t[6] _MULS = [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93,
                          0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53]


cdef int _fill_fast(_Layout lay) except -1:
    """The layout's plain integer fields in a table where each has a slot of its own (vg_fast_find: one
    compare). The smallest table and multiplier that place them all apart; a field that cannot be placed
    (never seen in practice) is left to the generic lookup and its descriptor."""
    cdef list plain = [x for x in lay.fields if isinstance(x, IntField) and not (<IntField>x).cond_size]
    cdef int bits = 3, best_bits = 3, k, placed, best = -1
    cdef uint64_t best_mul = _MULS[0]
    cdef set used
    while (1 << bits) < 4 * len(plain):
        bits += 1
    while bits <= 10 and best < len(plain):
        for k in range(6):
            used = {vg_name_slot(<PyObject *>(<IntField>f).name, _MULS[k], 64 - bits) for f in plain}
            placed = len(used)
            if placed > best:
                best, best_bits, best_mul = placed, bits, _MULS[k]
            if placed == len(plain):
                break
        bits += 1
    cdef size_t n = <size_t>1 << best_bits, i
    lay.fast = <vg_fast_int *>malloc(n * sizeof(vg_fast_int))
    if lay.fast is NULL:
        raise MemoryError()
    memset(lay.fast, 0, n * sizeof(vg_fast_int))
    lay.fmul = best_mul
    lay.fshift = 64 - best_bits
    cdef IntField f
    for f in plain:
        i = vg_name_slot(<PyObject *>f.name, lay.fmul, lay.fshift)
        if lay.fast[i].name is not NULL:
            continue  # a collision: this field keeps the generic path
        lay.fast[i].name = <PyObject *>f.name
        lay.fast[i].offset = f.offset
        lay.fast[i].kind = VG_KIND(f.size, f.signed)
        lay.fast[i].size = f.size
        lay.fast[i].is_signed = f.signed
        lay.fast[i].umax = f.umax
    return 0


def _fast_names(type cls):
    """The fields of view type ``cls`` that its own attribute lookup serves (vg_view.h), for the tests."""
    cdef _Layout lay = _layout_lookup(cls)
    if lay.fast is NULL:
        return frozenset()
    return frozenset(<object>lay.fast[i].name for i in range(1 << (64 - lay.fshift)) if lay.fast[i].name is not NULL)
