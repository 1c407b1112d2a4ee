"""atheris harness over every vmgen view: constructors, every field read, to_dict, nbytes, validate,
custom()/settings(), buffer export, in-place writes - on the C engine, checked against the reference.

Run (the ASan test does this with a sanitizer build, see tests/switch/test_fuzz_asan.py):

    PYTHONMALLOC=malloc python3 fuzz/fuzz_views.py -runs=100000 [-max_len=2048] [corpus_dir]

Only the documented exceptions are allowed (LayoutError/BufferTooShort for malformed buffers; TypeError,
OverflowError, AttributeError, ValueError for bad writes); anything else - another exception, a
disagreement with the pure-Python reference, a value read from outside the buffer, or a sanitizer
report - is a finding. PYTHONMALLOC=malloc puts every buffer in its own malloc block so AddressSanitizer
sees a read one byte past it.
"""
from __future__ import annotations

import array
import os
import struct
import sys
import uuid

import atheris

with atheris.instrument_imports(include=["vmgen"]):
    import vmgen._reference as ref
    from vmgen.switch import _fields
    from vmgen.switch._viewdefs import define_views
    from vmgen.errors import BufferTooShort, LayoutError

    from vmgen.switch import layout as L
    from vmgen.switch import _pyfields as _ref_fields  # the reference engine (moved in the issue-12 reorganisation)

# A run-time layout with the widths the built-ins lack (signed, 64-bit counts/offsets, a revision-gated
# field): the engine's generic paths, which MOF layouts use.
GENERIC = L.Layout(L.Struct("GENERIC", [
    ("A8", L.INT8), ("A16", L.INT16), ("A64", L.INT64), ("Id", L.GUID), ("NameLen", L.UINT64), ("Name", L.WCHAR, 5),
    ("StrOff", L.UINT64), ("FixCount", L.UINT8), ("Fix", L.INT16, 3), ("VarCount", L.UINT64), ("VarOff", L.UINT64),
    ("BlobSize", L.UINT64), ("BlobOff", L.UINT64), ("Rev", L.UINT8), ("Extra", L.INT16),
]), (
    L.Int("a8", "A8"), L.Int("a16", "A16"), L.Int("a64", "A64"), L.Guid("id", "Id"),
    L.CountedString("name", "NameLen", "Name"), L.OffsetString("text", "StrOff"), L.FixedArray("fix", "FixCount", "Fix"),
    L.OffsetArray("var", "VarCount", "VarOff", L.INT64), L.Blob("blob", "BlobSize", "BlobOff"), L.Int("rev", "Rev"),
    L.Int("extra", "Extra", present_if=("Rev", 2)),
), view_name="Generic")

C = define_views(_fields)  # the C engine, whatever VMGEN_PURE says
R = {name: getattr(ref, name) for name in C}
C["Generic"] = _fields.make_view_type("Generic", GENERIC)
R["Generic"] = _ref_fields.make_view_type("Generic", GENERIC)
NAMES = sorted(C)
print(f"fuzz_views: vmgen.switch._fields from {_fields.__file__}", file=sys.stderr, flush=True)
CHECK_REFERENCE = os.environ.get("VMGEN_FUZZ_NO_REFERENCE") is None

# Valid templates to mutate (coverage of the deep paths comes much faster from these than from noise)
_FS = C["FeatureSettings"].build(int_value8=1, int_value16=2, int_value32=3, int_value64=4, fixed_length_string="ab",
                                 variable_length_string="xyz", fixed_length_array=[1, 2], variable_length_array=[7, 8, 9])
_FS_BYTES = bytes(memoryview(_FS))
TEMPLATES = {
    "NicSaveState": bytes(C["NicSaveState"].build(uuid.UUID(int=1), "name", b"saved-data").obj),
    "FeatureSettings": _FS_BYTES,
    "PropertyCustom": bytes(C["PropertyCustom"].build(_FS_BYTES).obj),
    "PortPropertyParameters": bytes(C["PortPropertyParameters"].build(
        port_id=1, property_id=uuid.UUID(int=2), property_version="1.0", property_instance_id=uuid.UUID(int=3),
        payload=_FS_BYTES).obj),
    "SwitchPropertyParameters": bytes(C["SwitchPropertyParameters"].build(
        property_id=uuid.UUID(int=2), property_version="1.0", property_instance_id=uuid.UUID(int=3),
        payload=_FS_BYTES).obj),
    "Generic": bytes(GENERIC.struct.size) + struct.pack("<H", 4) + "hi".encode("utf-16-le") + bytes(16),
}
_g = bytearray(TEMPLATES["Generic"])
_gs = GENERIC.struct
struct.pack_into("<Q", _g, _gs.member("StrOff")[0], _gs.size)
struct.pack_into("<QQ", _g, _gs.member("VarCount")[0], 1, _gs.size + 8)
struct.pack_into("<QQ", _g, _gs.member("BlobSize")[0], 6, _gs.size)
struct.pack_into("<B", _g, _gs.member("Rev")[0], 2)
TEMPLATES["Generic"] = bytes(_g)

READ_ERRORS = (LayoutError,)
WRITE_ERRORS = (LayoutError, TypeError, OverflowError, AttributeError, ValueError)


class Finding(AssertionError):
    pass


def _norm(value):
    if isinstance(value, memoryview):
        data = value.tolist()  # touches every byte of the region: ASan checks it is inside the buffer
        return ("mv", value.format, value.nbytes, data)
    return value


def _outcome(fn):
    try:
        return ("ok", _norm(fn()))
    except READ_ERRORS as e:
        return ("err", type(e).__name__, e.field, getattr(e, "bytes_needed", None))


def observe(views, name, buf, offset):
    cls = views[name]
    try:
        v = cls(buf, offset=offset)
    except BufferTooShort as e:
        return {"construct": e.bytes_needed}, None
    out = {}
    for attr in cls.layout.attr_names():
        out[attr] = _outcome(lambda: getattr(v, attr))
    out["to_dict"] = _outcome(lambda: {k: _norm(x) for k, x in v.to_dict().items()})
    out["nbytes"] = _outcome(lambda: v.nbytes)
    out["export"] = _outcome(lambda: bytes(v.__buffer__(0) if hasattr(v, "__buffer__") and views is R
                                           else memoryview(v)))
    if out["to_dict"][0] == "ok":
        out["repr"] = repr(v)
        out["eq"] = v == v
    if name == "NicSaveState":
        out["validate"] = _outcome(lambda: v.validate())
        out["validate_ext"] = _outcome(lambda: v.validate(extension_id=uuid.UUID(int=1)))
    if name in ("PortPropertyParameters", "SwitchPropertyParameters"):
        out["custom"] = _outcome(lambda: v.custom().to_dict())
        out["settings"] = _outcome(lambda: v.custom().settings(views["FeatureSettings"]).to_dict())
    if name == "PropertyCustom":
        out["settings"] = _outcome(lambda: v.settings(views["FeatureSettings"]).to_dict())
    return out, v


def check_invariants(name, out, buf_len, offset):
    if "construct" in out:
        if buf_len - offset >= C[name].layout.size:
            raise Finding(f"{name}: BufferTooShort with {buf_len - offset} bytes available")
        return
    if out["nbytes"][0] == "ok":
        n = out["nbytes"][1]
        if not C[name].layout.size <= n <= buf_len - offset:
            raise Finding(f"{name}: nbytes {n} outside [{C[name].layout.size}, {buf_len - offset}]")
        if out["export"] != ("ok", out["export"][1]) or len(out["export"][1]) != n:
            raise Finding(f"{name}: export does not cover nbytes")


def make_buffer(fdp, data):
    kind = fdp.ConsumeIntInRange(0, 4)
    if kind == 0:
        return bytes(data), False
    if kind == 1:
        return bytearray(data), True
    if kind == 2:
        return memoryview(bytearray(data)), True
    if kind == 3:
        return memoryview(bytes(data)), False
    a = array.array("B")
    a.frombytes(data)
    return a, True


def fuzz_value(fdp):
    k = fdp.ConsumeIntInRange(0, 6)
    if k == 0:
        return fdp.ConsumeIntInRange(0, 2**64 + 1) - fdp.ConsumeIntInRange(0, 2)
    if k == 1:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 300))
    if k == 2:
        return [fdp.ConsumeIntInRange(0, 2**33) for _ in range(fdp.ConsumeIntInRange(0, 10))]
    if k == 3:
        return uuid.UUID(bytes=fdp.ConsumeBytes(16).ljust(16, b"\0"))
    if k == 4:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
    if k == 5:
        return fdp.ConsumeFloat()
    return None


def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    name = NAMES[fdp.ConsumeIntInRange(0, len(NAMES) - 1)]
    offset = fdp.ConsumeIntInRange(0, 8) if fdp.ConsumeBool() else 0
    if fdp.ConsumeBool():  # a valid structure with a few fuzzed 1/2/4-byte patches and a fuzzed length
        raw = bytearray(bytes(offset) + TEMPLATES[name])
        for _ in range(fdp.ConsumeIntInRange(0, 3)):
            width = (1, 2, 4)[fdp.ConsumeIntInRange(0, 2)]
            at = fdp.ConsumeIntInRange(0, max(0, len(raw) - width))
            raw[at:at + width] = fdp.ConsumeBytes(width).ljust(width, b"\0")
        how = fdp.ConsumeIntInRange(0, 3)  # 0, 1: keep the length; 2: cut; 3: grow
        if how == 2:
            raw = raw[:fdp.ConsumeIntInRange(0, len(raw))]
        elif how == 3:
            raw += bytes(fdp.ConsumeIntInRange(1, 64))
        ops = fdp.ConsumeBytes(64)
    else:
        ops = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64))
        raw = fdp.ConsumeBytes(fdp.remaining_bytes())
    raw = bytes(raw)
    ofdp = atheris.FuzzedDataProvider(ops)
    buf, writable = make_buffer(ofdp, raw)
    out, view = observe(C, name, buf, offset)
    check_invariants(name, out, len(raw), offset)
    if CHECK_REFERENCE:
        rout, _ = observe(R, name, bytes(raw), offset)
        out_cmp = {k: v for k, v in out.items() if k != "repr" or "repr" in rout}
        if out_cmp != {k: v for k, v in rout.items() if k in out_cmp}:
            raise Finding(f"{name}: C and reference disagree on {raw!r} at offset {offset}:\n{out}\n{rout}")
    if view is None:
        return
    # in-place writes: only documented exceptions; a write never touches bytes outside the structure
    attrs = type(view).layout.attr_names()
    before = bytes(raw)
    for _ in range(ofdp.ConsumeIntInRange(0, 3)):
        attr = attrs[ofdp.ConsumeIntInRange(0, len(attrs) - 1)]
        try:
            setattr(view, attr, fuzz_value(ofdp))
        except WRITE_ERRORS:
            pass
        if not writable:
            continue
        now = bytes(memoryview(buf).cast("B"))
        fixed_end = offset + type(view).layout.struct.size
        if now[:offset] != before[:offset] or now[fixed_end:] != before[fixed_end:]:
            raise Finding(f"{name}.{attr}: a write changed bytes outside the structure's fixed part")
        for a in attrs:
            _outcome(lambda: getattr(view, a))
    if not writable:
        if bytes(memoryview(buf).cast("B")) != before:
            raise Finding(f"{name}: a read-only buffer changed")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
