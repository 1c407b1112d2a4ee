"""A user's program, type-checked with mypy --strict against vmgen's stubs (tests/test_typing.py)."""
from __future__ import annotations

import uuid

import vmgen
from vmgen import FeatureSettings, NicSaveState, PortPropertyParameters


def restore(buf: bytearray, ours: uuid.UUID) -> bytes:
    state = NicSaveState(buf)
    state.validate(extension_id=ours)
    data: memoryview = state.save_data
    port: int = state.port_id
    name: str = state.extension_friendly_name
    assert port >= 0 and name is not None
    return data.tobytes()


def save(into: bytearray, ours: uuid.UUID, payload: bytes) -> int:
    try:
        NicSaveState.build(ours, "Vendor", payload, port_id=1, into=into)
    except vmgen.BufferTooShort as exc:
        return exc.bytes_needed
    return 0


def policy() -> int:
    settings = FeatureSettings.build(int_value8=1, variable_length_array=[1, 2, 3])
    params = PortPropertyParameters.build(port_id=1, property_id=uuid.uuid4(), property_version="1.1",
                                          property_instance_id=uuid.uuid4(), payload=settings)
    inner: FeatureSettings = params.custom().settings(FeatureSettings)
    major, minor = vmgen.decode_version(params.property_version)
    return inner.int_value8 + major + minor + vmgen.encode_version("1.0") + FeatureSettings.version


def counter() -> str:
    with vmgen.open("simulated") as c:
        token = c.token()
        g = c.read()
        if c.changed(token):
            return "changed"
        return f"{g} {int(g)} {g.count} {g.count_high}"


def counter_file(path: str) -> int:
    with vmgen.open("simulated", path=path, mode=0o600, shared_write=False) as c:
        return c.read().count
