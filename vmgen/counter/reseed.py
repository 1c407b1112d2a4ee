"""Reseed user-space random number generators after a restore: ``reseed_on_restore()``, ``register_rng()``.

After a snapshot is restored into several VMs (or one VM twice), every clone holds the same memory, so
every user-space RNG produces the same sequence in every clone. The kernel's RNG is reseeded by the
kernel itself (drivers/virt/vmgenid.c calls add_vmfork_randomness()); the ones in the process are not.
``reseed_on_restore()`` adds one vmgen hook, run before every user after-restore hook, that reseeds:

* the ``random`` module's global instance and every ``random.Random`` passed to ``register_rng()``;
* NumPy's legacy global RandomState (``numpy.random.seed``/``rand``...) if NumPy is already imported, and
  NumPy ``Generator``/``RandomState`` objects passed to ``register_rng()`` (vmgen never imports NumPy);
* OpenSSL's RNG, through ``ssl.RAND_add``;
* ``uuid.uuid1()``: its last-timestamp state, and it stops using libuuid's in-process clock sequence
  (which every clone shares and Python cannot reseed), so its clock sequence comes from the reseeded
  ``random`` module;
* any object registered with ``register_rng(obj, reseed=callable)``.

The seed is 32 bytes from the kernel (os.urandom) hashed together with the clocks read at that moment
(see ``fresh_seed``). docs/restore-hooks.md says when the kernel's own reseed is known to have happened.
"""
from __future__ import annotations

import os
import _struct as struct   # the struct module is `from _struct import *`: its own file would cost `import vmgen` a load
import sys
import time
from _thread import allocate_lock   # threading.Lock: `import vmgen` runs this module and skips threading

from . import hooks

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    Reseed = Callable[[Any, bytes], None]

__all__ = ["reseed_on_restore", "register_rng", "unregister_rng", "reseed_now", "fresh_seed", "await_kernel_reseed",
           "kernel_reseed"]

# id(obj) -> (reference to obj, reseed function); weak where the object allows it
_rngs: Dict[int, Tuple[Callable[[], Any], Reseed]] = {}
_rngs_lock = allocate_lock()


def fresh_seed(n: int = 32) -> bytes:
    """``n`` bytes (1..64) for seeding: the kernel's RNG output hashed with this moment's clocks.

    The kernel's output is what makes it unpredictable, and it is unique to each clone once the kernel
    has reseeded after the restore. The clocks (wall, monotonic, performance counter, thread CPU time)
    make clones differ even when this runs before the kernel's reseed has landed: clones restored at
    different instants read different nanoseconds."""
    if not 1 <= n <= 64:
        raise ValueError("fresh_seed() gives 1..64 bytes")
    import hashlib   # here, not at import: it loads OpenSSL, and `import vmgen` imports this module

    h = hashlib.blake2b(digest_size=n, person=b"vmgen-reseed")
    h.update(os.urandom(32))
    h.update(struct.pack("<qqqqq", time.time_ns(), time.monotonic_ns(), time.perf_counter_ns(),
                         time.thread_time_ns(), os.getpid()))
    return h.digest()


def _seed_int(seed: bytes) -> int:
    return int.from_bytes(seed, "little")


def _reseed_random(obj: Any, seed: bytes) -> None:
    obj.seed(_seed_int(seed))


def _numpy_reseeder(obj: Any) -> Optional[Reseed]:
    """Reseed functions for NumPy's Generator and RandomState, found without importing NumPy."""
    np_random = sys.modules.get("numpy.random")
    if np_random is None:
        return None
    if isinstance(obj, np_random.Generator):
        def generator(g: Any, seed: bytes) -> None:
            bg = g.bit_generator   # same bit generator type, new state from a SeedSequence of the seed
            bg.state = type(bg)(np_random.SeedSequence(_seed_int(seed))).state
        return generator
    if isinstance(obj, np_random.RandomState):
        def legacy(rs: Any, seed: bytes) -> None:
            rs.seed(list(struct.unpack("<8I", seed[:32])))
        return legacy
    return None


def register_rng(obj: Any, reseed: Optional[Reseed] = None) -> Any:
    """Have ``obj`` reseeded after each restore (once ``reseed_on_restore()`` is on); returns ``obj``.

    ``random.Random`` and NumPy ``Generator``/``RandomState`` are known; for anything else pass
    ``reseed(obj, seed)``, called with 32 fresh bytes. The object is held weakly where it allows it."""
    if reseed is None:
        import random

        if isinstance(obj, random.SystemRandom):
            raise TypeError("random.SystemRandom reads the kernel's RNG each time; it needs no reseeding")
        if isinstance(obj, random.Random):
            reseed = _reseed_random
        else:
            reseed = _numpy_reseeder(obj)
        if reseed is None:
            raise TypeError(f"vmgen does not know how to reseed a {type(obj).__name__}; "
                            "pass reseed=function(obj, seed_bytes)")
    elif not callable(reseed):
        raise TypeError("reseed must be callable as reseed(obj, seed_bytes)")
    import weakref

    try:
        ref: Callable[[], Any] = weakref.ref(obj, lambda _r, key=id(obj): _forget(key))
    except TypeError:   # not weak-referenceable: hold it until unregister_rng()
        ref = (lambda o: lambda: o)(obj)
    with _rngs_lock:
        _rngs[id(obj)] = (ref, reseed)
    return obj


def _forget(key: int) -> None:
    with _rngs_lock:
        _rngs.pop(key, None)


def unregister_rng(obj: Any) -> None:
    """Stop reseeding ``obj``; unknown objects are ignored."""
    with _rngs_lock:
        entry = _rngs.get(id(obj))
        if entry is not None and entry[0]() is obj:
            del _rngs[id(obj)]


def _reseed_numpy_global(seed: bytes) -> bool:
    np_random = sys.modules.get("numpy.random")
    if np_random is None:
        return False
    np_random.seed(list(struct.unpack("<8I", seed[:32])))   # the legacy global RandomState
    return True


def _reseed_uuid1() -> None:
    import uuid

    # uuid1() keeps the last timestamp it handed out; clones share it. Reset it, and stop using libuuid's
    # generator, whose in-process clock sequence every clone shares: the pure-Python path draws the clock
    # sequence from the random module, reseeded just before this.
    if hasattr(uuid, "_last_timestamp"):
        uuid._last_timestamp = None
    if getattr(uuid, "_generate_time_safe", None) is not None:
        uuid._generate_time_safe = None


def reseed_now() -> List[str]:
    """Reseed everything ``reseed_on_restore()`` covers, now; returns what was reseeded (for logs/tests).
    A failing registered RNG is reported (threading.excepthook) and the others are still reseeded."""
    import random

    done = []
    random.seed(_seed_int(fresh_seed()))
    done.append("random")
    with _rngs_lock:
        entries = list(_rngs.values())
    for ref, reseed in entries:
        obj = ref()
        if obj is None:
            continue
        try:
            reseed(obj, fresh_seed())
            done.append(type(obj).__name__)
        except Exception as exc:
            hooks._report(exc, f"reseed of a registered {type(obj).__name__}")
    if _reseed_numpy_global(fresh_seed()):
        done.append("numpy.random")
    try:
        import ssl
    except ImportError:   # Python built without OpenSSL
        pass
    else:
        ssl.RAND_add(fresh_seed(), 32.0)
        done.append("ssl")
    _reseed_uuid1()
    done.append("uuid1")
    return done


# ---- knowing that the kernel has reseeded ----
# Linux reseeds its RNG on a VM fork only through vmgenid (add_vmfork_randomness), which logs FORK_RESEED_LINE.
# When the kernel log is readable and a device is bound to vmgenid, the hook waits (at most KERNEL_WAIT) for a
# new such line before drawing entropy; `kernel_reseed` records what was known for the last restore.
KERNEL_WAIT = 0.1
kernel_reseed = "no restore yet"
_kmsg_baseline: Optional[int] = None


def _fork_reseeds(root: str = "/") -> Optional[int]:
    from ._doctor import _Machine

    return _Machine(root, "").fork_reseeds_logged()


def _vmgenid_bound(root: str = "/") -> bool:
    from ._doctor import VMGENID_IDS, _Machine

    m = _Machine(root, "")
    return any(m.driver(d) == "vmgenid" for _, d in m.platform_devices(VMGENID_IDS, "microsoft,vmgenid"))


def await_kernel_reseed(baseline: Optional[int], timeout: float = KERNEL_WAIT, root: str = "/") -> Tuple[bool, str]:
    """Wait up to ``timeout`` s for the kernel log's count of VM-fork reseeds to differ from ``baseline``.
    Returns (confirmed, how we know) -- confirmed False when the log is unreadable or stays the same."""
    if baseline is None:
        return False, "kernel log unreadable (needs root or kernel.dmesg_restrict=0): reseed not confirmed"
    deadline = time.monotonic() + timeout
    while True:
        n = _fork_reseeds(root)
        if n is not None and n != baseline:
            return True, "the kernel log shows a new 'crng reseeded due to virtual machine fork'"
        if time.monotonic() >= deadline:
            return False, f"no new kernel reseed logged within {timeout * 1000:.0f} ms: seeds mix in the clocks"
        time.sleep(0.005)


def _reseed_hook() -> None:
    global kernel_reseed, _kmsg_baseline
    source = hooks._source() or ""
    if source.startswith("simulated"):
        kernel_reseed = "simulated restore: the kernel's RNG was never cloned"
    elif source.startswith("vmgenid"):
        kernel_reseed = "vmgenid uevent: sent after add_vmfork_randomness() returned"
    elif sys.platform.startswith("linux") and _vmgenid_bound():
        confirmed, kernel_reseed = await_kernel_reseed(_kmsg_baseline)
        _kmsg_baseline = _fork_reseeds()
    else:
        kernel_reseed = "no vmgenid device: the kernel does not reseed on restore; seeds mix in the clocks"
    reseed_now()


def reseed_on_restore() -> None:
    """Turn on reseeding after every observed restore (idempotent). It runs before every user
    after-restore hook, so those already see fresh RNGs. Starts the restore-hook watcher if needed."""
    global _kmsg_baseline
    # Import now what the reseed imports, not in the hook thread right after a restore: in the QEMU rig the
    # first reseed's lazy `import hashlib` (OpenSSL) delayed the user's hooks by 1 to 2.5 s.
    import hashlib  # noqa: F401
    import uuid  # noqa: F401
    try:
        import ssl  # noqa: F401
    except ImportError:
        pass
    if sys.platform.startswith("linux") and not hooks._has_prologue(_reseed_hook):
        _kmsg_baseline = _fork_reseeds()
    hooks._add_prologue(_reseed_hook)
