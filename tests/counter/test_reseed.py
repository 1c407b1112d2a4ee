"""Reseeding after a restore (vmgen/counter/reseed.py), shown the way sandbox projects hit the bug: n clones of
one process state, restored once. Without reseeding every clone draws the same numbers (the negative
control); with ``vmgen.reseed_on_restore()`` they differ."""
import random
import uuid

import pytest

import vmgen
from vmgen.counter import reseed
from vmgen.pytest_plugin import vm_restore  # noqa: F401 (the fixture, whether or not the entry point is installed)

np = pytest.importorskip("numpy", reason="numpy is in requirements-test.txt")

N = 4


def distinct(values):
    return len(set(values))


def test_clones_repeat_every_user_space_rng_without_reseeding(vm_restore):
    """The failure itself: what sandboxes reported after restoring one snapshot into many VMs."""
    mine = random.Random(7)
    gen = np.random.default_rng(7)
    assert distinct(vm_restore.clones(N, random.random)) == 1
    assert distinct(vm_restore.clones(N, np.random.random)) == 1      # NumPy's legacy global RandomState
    assert distinct(vm_restore.clones(N, mine.random)) == 1
    assert distinct(vm_restore.clones(N, gen.random)) == 1


def test_reseed_on_restore_makes_clones_differ(vm_restore):
    mine = random.Random(7)
    gen = np.random.default_rng(7)
    legacy = np.random.RandomState(7)
    unregistered = random.Random(7)

    class Lcg:                      # a third-party RNG vmgen knows nothing about
        def __init__(self):
            self.x = 1

        def next(self):
            self.x = (self.x * 6364136223846793005 + 1442695040888963407) % 2**64
            return self.x

    lcg = Lcg()
    assert vmgen.register_rng(mine) is mine
    vmgen.register_rng(gen)
    vmgen.register_rng(legacy)
    vmgen.register_rng(lcg, reseed=lambda rng, seed: setattr(rng, "x", int.from_bytes(seed, "little")))
    vmgen.reseed_on_restore()
    vmgen.reseed_on_restore()       # idempotent

    assert distinct(vm_restore.clones(N, random.random)) == N
    assert distinct(vm_restore.clones(N, np.random.random)) == N
    assert distinct(vm_restore.clones(N, mine.random)) == N
    assert distinct(vm_restore.clones(N, gen.random)) == N
    assert distinct(vm_restore.clones(N, legacy.random_sample)) == N
    assert distinct(vm_restore.clones(N, lcg.next)) == N
    assert distinct(vm_restore.clones(N, unregistered.random)) == 1    # control: not registered, not reseeded
    assert distinct(vm_restore.clones(N, lambda: str(uuid.uuid1()))) == N
    vmgen.unregister_rng(mine)
    assert distinct(vm_restore.clones(N, mine.random)) == 1


def test_reseeding_runs_before_user_hooks_whatever_the_order(vm_restore):
    seen = []
    vmgen.register_after_restore(lambda: seen.append(random.getstate()))   # registered first
    vmgen.reseed_on_restore()
    before = random.getstate()
    vm_restore.restore()
    assert seen and seen[0] != before


def test_reseed_now_reports_what_it_reseeded_and_uuid1_leaves_libuuid(vm_restore):
    done = reseed.reseed_now()
    assert done[0] == "random" and "numpy.random" in done and "uuid1" in done
    assert uuid._generate_time_safe is None and uuid.uuid1().version == 1


def test_register_rng_refuses_what_it_cannot_reseed():
    with pytest.raises(TypeError, match="pass reseed="):
        vmgen.register_rng(object())
    with pytest.raises(TypeError, match="needs no reseeding"):
        vmgen.register_rng(random.SystemRandom())
    with pytest.raises(TypeError):
        vmgen.register_rng(object(), reseed=3)
    vmgen.unregister_rng(object())   # unknown: ignored


def test_registered_rngs_are_held_weakly():
    r = random.Random()
    vmgen.register_rng(r)
    key = id(r)
    assert key in reseed._rngs
    del r
    assert key not in reseed._rngs


def test_fresh_seed():
    a, b = reseed.fresh_seed(), reseed.fresh_seed(64)
    assert len(a) == 32 and len(b) == 64 and a != b[:32]
    with pytest.raises(ValueError):
        reseed.fresh_seed(65)


def _kmsg_root(tmp_path, lines):
    (tmp_path / "dev").mkdir(exist_ok=True)
    (tmp_path / "dev" / "kmsg").write_text("".join(f"6,{i},1,-;random: crng reseeded due to virtual machine fork\n"
                                                   for i in range(lines)))
    return str(tmp_path)


def test_the_kernel_reseed_is_confirmed_from_the_kernel_log(tmp_path):
    import threading
    import time

    root = _kmsg_root(tmp_path, 1)
    assert reseed._fork_reseeds(root) == 1
    late = threading.Timer(0.03, lambda: _kmsg_root(tmp_path, 2))   # the kernel logs the reseed 30 ms later
    late.start()
    t0 = time.monotonic()
    confirmed, how = reseed.await_kernel_reseed(1, timeout=5, root=root)
    late.join()
    assert confirmed and "new 'crng reseeded" in how and time.monotonic() - t0 < 4
    confirmed, how = reseed.await_kernel_reseed(2, timeout=0.05, root=root)     # control: nothing new
    assert not confirmed and "within 50 ms" in how
    assert reseed.await_kernel_reseed(None)[0] is False


def test_a_simulated_restore_says_the_kernel_was_not_cloned(vm_restore):
    vmgen.reseed_on_restore()
    vm_restore.restore()
    assert reseed.kernel_reseed == "simulated restore: the kernel's RNG was never cloned"
