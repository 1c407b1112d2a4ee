"""`vmgen decode` as a user runs it: a subprocess, binary or hex input, exit codes, no tracebacks."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import vmgen

EXT = uuid.UUID("5cbf81be-5055-47cd-9055-a76b2b4e369e")


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vmgen", "decode", *args], input=stdin, capture_output=True)


@pytest.fixture()
def state_bytes() -> bytes:
    return bytes(memoryview(vmgen.NicSaveState.build(EXT, "Vendor ext", b"\xde\xad\xbe\xef", port_id=9)))


def test_binary_file(tmp_path: Path, state_bytes: bytes) -> None:
    f = tmp_path / "state.bin"
    f.write_bytes(state_bytes)
    r = run("nic-save-state", str(f))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.startswith("NicSaveState:")
    assert "port_id = 9" in out and f"extension_id = UUID('{EXT}')" in out and "'Vendor ext'" in out
    assert "save_data = b'\\xde\\xad\\xbe\\xef' (total 4)" in out


@pytest.mark.parametrize("sep", [" ", "", ":", "-"])
def test_hex_stdin_and_json(state_bytes: bytes, sep: str) -> None:
    r = run("nic-save-state", "-", "--json", stdin=(state_bytes.hex(sep) if sep else state_bytes.hex()).encode() + b"\n")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)["NicSaveState"]
    assert doc["extension_id"] == str(EXT) and doc["save_data"] == "deadbeef" and doc["save_data_offset"] == 568


def test_offset(tmp_path: Path, state_bytes: bytes) -> None:
    f = tmp_path / "state.bin"
    f.write_bytes(b"\0" * 12 + state_bytes)
    assert run("nic-save-state", str(f), "--offset", "12").returncode == 0
    assert run("nic-save-state", str(f)).returncode == 1  # header type 0 at offset 0: validate refuses


def test_port_property_chain_with_payload(tmp_path: Path) -> None:
    settings = vmgen.FeatureSettings.build(int_value32=31337, variable_length_string="policy")
    params = vmgen.PortPropertyParameters.build(port_id=4, property_id=uuid.uuid4(), property_version="1.1",
                                                property_instance_id=uuid.uuid4(), payload=settings)
    f = tmp_path / "p.hex"
    f.write_text(bytes(memoryview(params)).hex())
    r = run("port-property", str(f), "--payload", "feature-settings", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["PortPropertyParameters"]["property_version"] == 0x0101
    assert doc["PropertyCustom"]["property_buffer_offset"] == 16
    assert doc["FeatureSettings"]["int_value32"] == 31337
    assert doc["FeatureSettings"]["variable_length_string"] == "policy"


@pytest.mark.parametrize("payload,needle", [
    (b"\x80\x01", "needs 568 bytes"),  # too short
    (b"not hex at all, just text", "needs 568 bytes"),  # read as binary, too short
    (b"abc", "not valid hex"),  # hex-looking with an odd digit count
])
def test_bad_input_is_one_line_exit_1(payload: bytes, needle: str) -> None:
    r = run("nic-save-state", "-", stdin=payload)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


def test_malformed_offset_names_the_field(state_bytes: bytes) -> None:
    bad = bytearray(state_bytes)
    bad[566:568] = (4000).to_bytes(2, "little")  # SaveDataOffset past the end
    r = run("nic-save-state", "-", stdin=bytes(bad))
    assert r.returncode == 1 and b"save_data" in r.stderr and b"Traceback" not in r.stderr


def test_missing_file_and_usage() -> None:
    r = run("nic-save-state", "/nonexistent/x.bin")
    assert r.returncode == 1 and b"No such file" in r.stderr and b"Traceback" not in r.stderr
    assert run("no-such-kind", "-").returncode == 2
