"""Generation: the value type of API.md section 1."""
import pickle
import struct

import pytest

import vmgen
from vmgen import Generation


def test_fields_int_str_bytes():
    g = Generation(0x1234, 0xAB)
    assert (g.count, g.count_high) == (0x1234, 0xAB)
    assert int(g) == 0xAB << 64 | 0x1234
    assert str(g) == "1234:ab"            # the seed's %I64x:%I64x
    assert bytes(g) == struct.pack("<QQ", 0x1234, 0xAB)
    assert Generation.from_bytes(bytes(g)) == g
    assert Generation.from_bytes(bytearray(bytes(g))) == g
    assert Generation.from_bytes(memoryview(bytes(g))) == g
    assert Generation.from_int(int(g)) == g
    assert str(Generation()) == "0:0"
    assert repr(g) == "Generation(count=0x1234, count_high=0xab)"


def test_immutable_hashable_ordered():
    a, b, c = Generation(5), Generation(6), Generation(0, 1)
    with pytest.raises(AttributeError):
        a.count = 1
    with pytest.raises(AttributeError):
        del a.count_high
    assert {a: 1}[Generation(5)] == 1
    assert len({a, Generation(5), b}) == 2
    assert a < b < c and c > b >= b and a <= a
    assert sorted([c, b, a]) == [a, b, c]          # by value: count_high is the high half
    assert Generation(2**64 - 1) < Generation(0, 1)
    assert a != b and a == Generation(5)
    assert (a == 5) is False and a != 5
    with pytest.raises(TypeError):
        a < 5
    assert pickle.loads(pickle.dumps(c)) == c


@pytest.mark.parametrize("args,exc", [((-1,), OverflowError), ((2**64,), OverflowError), ((0, 2**64), OverflowError),
                                      (("1",), TypeError), ((1.0,), TypeError), ((True,), TypeError)])
def test_bad_values(args, exc):
    with pytest.raises(exc):
        Generation(*args)


def test_bad_bytes_and_ints():
    with pytest.raises(ValueError, match="16 bytes"):
        Generation.from_bytes(b"\0" * 15)
    with pytest.raises(ValueError):
        Generation.from_bytes(b"\0" * 17)
    with pytest.raises(TypeError):
        Generation.from_bytes("x" * 16)
    with pytest.raises(OverflowError):
        Generation.from_int(2**128)
    with pytest.raises(OverflowError):
        Generation.from_int(-1)


def test_public_names():
    for name in ("open", "backends", "BackendInfo", "Generation", "Counter"):
        assert name in vmgen.__all__ and hasattr(vmgen, name)
    infos = vmgen.backends()
    assert [i.name for i in infos] == ["windows", "vmclock", "vmgenid", "simulated"]
    for i in infos:
        assert isinstance(i.available, bool) and i.reason
