"""A user's program, type-checked with mypy --strict against vmgen's stubs (tests/test_typing.py)."""
from __future__ import annotations

import random
import uuid
from typing import Callable

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


def save_in_place(oid_buffer: bytearray, ours: uuid.UUID, payload: bytes) -> int:
    try:
        state: NicSaveState = NicSaveState.fill(oid_buffer, extension_id=ours, extension_friendly_name="Vendor",
                                                save_data=payload, feature_class_id=None)
    except vmgen.BufferTooShort as exc:
        return exc.bytes_needed
    return state.save_data_size + NicSaveState.bytes_needed(len(payload), state.save_data_offset)


def checked_policy(oid_buffer: bytes, ours: uuid.UUID) -> int:
    params = PortPropertyParameters(oid_buffer)
    params.validate(property_id=ours, property_version="1.0")
    params.custom().validate()
    settings: FeatureSettings = params.validated_settings(FeatureSettings, property_id=ours, property_version=(1, 0))
    return settings.int_value32


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
        source: str = c.source   # "vm_generation_counter", "disruption_marker", ... (issue 18)
        return f"{g} {int(g)} {g.count} {g.count_high} {source}"


def restore_hooks() -> None:
    @vmgen.register_after_restore
    def forget() -> None: ...

    f: "Callable[[int], str]" = vmgen.register_after_restore(str, 1)   # returns the function unchanged
    vmgen.register_before_snapshot(print, "bye")
    failed: "list[BaseException]" = vmgen.run_before_snapshot() + vmgen.run_after_restore()
    vmgen.unregister_after_restore(forget)
    vmgen.reseed_on_restore()
    rng = vmgen.register_rng(random.Random(), reseed=lambda r, seed: r.seed(seed))
    rng.random()
    assert f(1) == "1" and not failed


def counter_file(path: str) -> int:
    with vmgen.open("simulated", path=path, mode=0o600, shared_write=False) as c:
        return c.read().count
