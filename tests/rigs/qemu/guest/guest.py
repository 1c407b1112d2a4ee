"""The QEMU rig's guest program: runs as PID 1 in the guest (tests/rigs/qemu/guest/init hands over to it), with
vmgen from the rig disk (/opt/vmgen-rig), and reports JSON lines on the second serial port (/dev/ttyS1), which the
host reads (tests/rigs/qemu/qemurig.py, tests/rigs/test_qemu_guest.py). Standard library and vmgen only.

Events, in order:
  boot    what vmgen says about the real devices: backends(), `vmgen doctor --json`, the VMClock page read three
          ways (the driver's pread at offset 0, a pure-Python seqlock read of the mapped device, vmgen's counter)
  ready   the restore watchers are in place: a thread blocked in c.wait() inside c.guard(), restore hooks, a
          token, a vmgenid counter (to count uevents); the host snapshots the VM after this line
  woke    (clones) the waiter returned: its CLOCK_MONOTONIC, written at once (the host times it too)
  result  (clones) what happened after the restore: page, changed(token), guard, hooks, open(), latencies
  error   anything that raised, with the traceback

Then the program idles; the host ends the VM (QMP quit). If it ever exits, the kernel panics and QEMU exits
(-no-reboot), so a crash is never a hang.
"""
import time  # noqa: E402

T_START = time.monotonic_ns()   # before any other import: the interpreter's own start-up ends here

import json  # noqa: E402
import mmap  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import termios  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

DEVICE = "/dev/vmclock0"
FORK_LINE = "crng reseeded due to virtual machine fork"
T0 = time.monotonic_ns()

# include/uapi/linux/vmclock-abi.h: (name, struct format, offset); 112 bytes up to vm_generation_counter's end
FIELDS = (("magic", "I", 0), ("size", "I", 4), ("version", "H", 8), ("counter_id", "B", 10),
          ("time_type", "B", 11), ("seq_count", "I", 12), ("disruption_marker", "Q", 16), ("flags", "Q", 24),
          ("clock_status", "B", 34), ("leap_second_smearing_hint", "B", 35), ("tai_offset_sec", "h", 36),
          ("leap_indicator", "B", 38), ("counter_period_shift", "B", 39), ("counter_value", "Q", 40),
          ("counter_period_frac_sec", "Q", 48), ("counter_period_esterror_rate_frac_sec", "Q", 56),
          ("counter_period_maxerror_rate_frac_sec", "Q", 64), ("time_sec", "Q", 72), ("time_frac_sec", "Q", 80),
          ("time_esterror_nanosec", "Q", 88), ("time_maxerror_nanosec", "Q", 96),
          ("vm_generation_counter", "Q", 104))
ABI_SIZE = 112
TICKS = 10


class Out:
    """JSON lines on /dev/ttyS1 (nothing else writes there: the kernel's console is ttyS0)."""

    def __init__(self, path="/dev/ttyS1"):
        self.fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
        attrs = termios.tcgetattr(self.fd)
        attrs[1] &= ~termios.OPOST              # no \n -> \r\n
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        self.lock = threading.Lock()

    def emit(self, event, **data):
        line = json.dumps({"event": event, "mono_ns": time.monotonic_ns(), **data}, default=repr) + "\n"
        raw = line.encode()
        with self.lock:
            while raw:
                raw = raw[os.write(self.fd, raw):]


def decode(buf):
    return {name: struct.unpack_from("<" + fmt, buf, off)[0] for name, fmt, off in FIELDS}


def page_pread():
    """The real driver's read path: pread(fd, 4096, 0) of /dev/vmclock0."""
    fd = os.open(DEVICE, os.O_RDONLY)
    try:
        data = os.pread(fd, 4096, 0)
        again = os.pread(fd, 4096, len(data))          # at EOF: 0 bytes
    finally:
        os.close(fd)
    return {"len": len(data), "eof_read": len(again), **decode(data)}


def page_mmap():
    """The page as a mapping of the device, read under its seqlock (even and unchanged seq_count around a copy)."""
    fd = os.open(DEVICE, os.O_RDONLY)
    try:
        m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ)
    finally:
        os.close(fd)
    try:
        for _ in range(100000):
            s1 = struct.unpack_from("<I", m, 12)[0]
            if s1 & 1:
                continue
            copy = m[:ABI_SIZE]
            if struct.unpack_from("<I", m, 12)[0] == s1 and struct.unpack_from("<I", copy, 12)[0] == s1:
                return decode(copy)
        raise RuntimeError("VMClock seq_count stayed odd or kept moving")
    finally:
        m.close()


def device_mappings():
    """This process's mappings of the VMClock device (/proc/self/maps lines naming it)."""
    with open("/proc/self/maps") as f:
        return [ln.strip() for ln in f if ln.rstrip().endswith(DEVICE)]


def try_call(fn, *args, **kw):
    try:
        return {"ok": True, "value": fn(*args, **kw)}
    except BaseException as e:   # noqa: B902 - reported, not swallowed: the host asserts on it
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}


def gen(g):
    return None if g is None else {"count": g.count, "count_high": g.count_high, "str": str(g)}


def kmsg_records(fd):
    """(timestamp_us, message) of each record readable now from a /dev/kmsg fd (non-blocking fd)."""
    out = []
    while True:
        try:
            rec = os.read(fd, 8192)
        except BlockingIOError:
            return out
        except BrokenPipeError:          # overwritten records: go on
            continue
        if not rec:
            return out
        head, _, msg = rec.decode("utf-8", "replace").partition(";")
        fields = head.split(",")
        out.append((int(fields[2]), msg.split("\n")[0]))


def kmsg_offset():
    """printk's clock minus CLOCK_MONOTONIC, in ns: a record written between two clock reads carries a
    timestamp of the printk clock (local_clock); returns (offset, uncertainty = half the write's duration)."""
    r = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    w = os.open("/dev/kmsg", os.O_WRONLY)
    try:
        os.lseek(r, 0, os.SEEK_END)
        tag = f"vmgen-rig: calibrate {random.getrandbits(48):x}"
        a = time.monotonic_ns()
        os.write(w, tag.encode() + b"\n")   # the newline finalises the record: readers see only finalised ones
        b = time.monotonic_ns()
        for _ in range(100):
            for ts, msg in kmsg_records(r):
                if msg == tag:
                    return ts * 1000 - (a + b) // 2, (b - a) // 2
            time.sleep(0.001)
        return None, None
    finally:
        os.close(r)
        os.close(w)


def doctor_json():
    r = subprocess.run([sys.executable, "-m", "vmgen", "doctor", "--json"], capture_output=True, text=True,
                       timeout=120)
    try:
        return {"rc": r.returncode, "report": json.loads(r.stdout)}
    except ValueError:
        return {"rc": r.returncode, "stdout": r.stdout[-2000:], "stderr": r.stderr[-2000:]}


def environment():
    import vmgen
    import vmgen.counter._core as core
    return {"uname": " ".join(os.uname()), "python": sys.version, "vmgen": vmgen.__file__,
            "core": core.__file__, "platform": core.PLATFORM,
            "cmdline": open("/proc/cmdline").read().strip(),
            "vmgenid_driver": sorted(os.listdir("/sys/bus/platform/drivers/vmgenid"))
            if os.path.isdir("/sys/bus/platform/drivers/vmgenid") else None,
            "vmclock_dev": oct(os.stat(DEVICE).st_mode) if os.path.exists(DEVICE) else None,
            "vmclock_rdev": [os.major(os.stat(DEVICE).st_rdev), os.minor(os.stat(DEVICE).st_rdev)]
            if os.path.exists(DEVICE) else None}


def pages_now(counter=None):
    """The page three ways, back to back: the driver's pread, a mapping read, and vmgen's reader (read(), the
    mapped seqlock reader of csrc/counter/vg_vmclock.h, and describe())."""
    out = {"pread": try_call(page_pread), "mmap": try_call(page_mmap)}
    if counter is not None:
        out["vmgen_read"] = try_call(lambda: gen(counter.read()))
        out["vmgen_describe"] = try_call(counter.describe)
    out["pread_after"] = try_call(page_pread)      # the page did not move while vmgen read it (if equal to first)
    return out


class Watch:
    """What is in place when the snapshot is taken."""

    def __init__(self, out):
        import vmgen
        from vmgen.errors import GenerationChanged
        self.vmgen, self.out, self.GenerationChanged = vmgen, out, GenerationChanged
        self.hook_calls = []
        self.waiter = {}
        self.counter = None
        maps_before = device_mappings()
        self.open_default = try_call(vmgen.open)
        self.open_default["device_mappings"] = [maps_before, device_mappings()]   # vmgen's mapping of the page
        if self.open_default["ok"]:
            self.counter = self.open_default.pop("value")
            self.open_default["backend"] = self.counter.backend
            self.open_default["source"] = getattr(self.counter, "source", None)   # which page word it follows
            self.open_default["describe"] = self.counter.describe()
        self.open_vmclock = try_call(lambda: vmgen.open("vmclock").close())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.vmgenid = try_call(vmgen.open, "vmgenid")
        self.vmgenid_warnings = [str(w.message) for w in caught]
        self.vmgenid_counter = self.vmgenid.pop("value", None)
        self.vmgenid_before_gen = self.vmgenid_counter.read() if self.vmgenid_counter else None
        self.vmgenid_before = gen(self.vmgenid_before_gen)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vmgen.register_after_restore(self.hook)
            vmgen.reseed_on_restore()
            vmgen.register_rng(self, reseed=lambda obj, seed: obj.mark("reseed"))   # when reseeding reached us
        self.hook_warnings = [str(w.message) for w in caught]
        self.unregistered_random = random.Random(1234)        # a Random nobody registered: clones agree on it
        self.marks = {}
        self.subscription = self.counter.subscribe(lambda g: self.mark("subscribe")) if self.counter else None
        self.probe = {}
        threading.Thread(target=self.probe_page, name="rig-probe", daemon=True).start()
        self.token = self.counter.token() if self.counter else None
        self.g0 = self.counter.read() if self.counter else None
        self.in_wait = threading.Event()
        self.thread = None
        if self.counter is not None:
            self.thread = threading.Thread(target=self.wait_in_guard, name="rig-waiter", daemon=True)
            self.thread.start()
            self.in_wait.wait(10)
            time.sleep(0.3)             # the thread is inside c.wait() (its C loop), not just about to call it

    def mark(self, what):
        self.marks.setdefault(what, time.monotonic_ns())

    def probe_page(self):
        """The resume reference: a 1 ms pure-Python poll of the mapped page's disruption_marker (QEMU writes it
        before the clone runs, so the first poll after the resume sees it). `before` is its last poll that saw
        the old value: the VM resumed between the two (guest CLOCK_MONOTONIC does not advance while it is
        stopped, so the snapshot's pause leaves no gap)."""
        fd = os.open(DEVICE, os.O_RDONLY)
        m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ)
        os.close(fd)
        old = struct.unpack_from("<Q", m, 16)[0]
        last = time.monotonic_ns()
        while True:
            if struct.unpack_from("<Q", m, 16)[0] != old:
                self.probe.update(seen_ns=time.monotonic_ns(), before_ns=last)
                return
            last = time.monotonic_ns()
            time.sleep(0.001)

    def hook(self):
        self.hook_calls.append({"mono_ns": time.monotonic_ns(), "thread": threading.current_thread().name,
                                "generation": gen(self.counter.read()) if self.counter else None})

    def wait_in_guard(self):
        w = self.waiter
        try:
            with self.counter.guard() as before:
                w["guard_entered"] = gen(before)
                self.in_wait.set()
                g = self.counter.wait(before, timeout=24 * 3600)
                w["wake_ns"] = time.monotonic_ns()
                self.out.emit("woke", wake_ns=w["wake_ns"], generation=gen(g))
                w["generation"] = gen(g)
            w["guard_raised"] = None
        except self.GenerationChanged as e:
            w["guard_raised"] = f"GenerationChanged: {e}"
        except BaseException as e:   # noqa: B902
            w["error"] = f"{type(e).__name__}: {e}"
            w["traceback"] = traceback.format_exc()
        finally:
            self.in_wait.set()

    def state(self):
        return {"open_default": self.open_default, "open_vmclock": self.open_vmclock,
                "vmgenid_open": self.vmgenid, "vmgenid_warnings": self.vmgenid_warnings,
                "vmgenid_before": self.vmgenid_before, "hook_warnings": self.hook_warnings,
                "token": self.token, "g0": gen(self.g0), "waiting": self.thread is not None and self.thread.is_alive(),
                "waiter": dict(self.waiter)}


def boot_report():
    """What the guest says at boot, with CLOCK_MONOTONIC (s since the guest kernel started) at each step."""
    steps = {"python_started": T_START / 1e9, "guest_imports_done": T0 / 1e9}
    offset, _ = kmsg_offset()
    r = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    try:
        for ts, msg in kmsg_records(r):
            if msg.startswith("vmgen-rig-init: exec") and offset is not None:
                steps["init_exec_python"] = (ts * 1000 - offset) / 1e9
            elif "Run /init as init process" in msg and offset is not None:
                steps["kernel_runs_init"] = (ts * 1000 - offset) / 1e9
    finally:
        os.close(r)
    import vmgen
    steps["vmgen_imported"] = time.monotonic_ns() / 1e9
    out = {"env": environment(), "backends": [b._asdict() for b in vmgen.backends()]}
    steps["backends"] = time.monotonic_ns() / 1e9
    out["doctor"] = doctor_json()
    steps["doctor"] = time.monotonic_ns() / 1e9
    out["pages"] = pages_now()
    out["steps"] = steps
    return out


def after_restore(watch, reseed_ts_us, reader_ns):
    """In a clone: wait for the waiter, then everything the host asserts on."""
    import vmgen
    import vmgen.counter.reseed as reseed
    res = {"reader_woke_ns": reader_ns, "reseed_ts_us": reseed_ts_us}
    if watch.thread is not None:
        watch.thread.join(20)
        res["waiter_alive"] = watch.thread.is_alive()
    res["waiter"] = dict(watch.waiter)
    deadline = time.monotonic() + 5
    while watch.counter is not None and not watch.hook_calls and time.monotonic() < deadline:
        time.sleep(0.01)
    res["hook_calls"] = list(watch.hook_calls)
    res["marks"] = dict(watch.marks)          # subscribe callback, register_rng reseeder: first call, mono ns
    res["probe"] = dict(watch.probe)
    res["kernel_reseed"] = repr(getattr(reseed, "kernel_reseed", None))
    res["offset_after"] = kmsg_offset()
    res["pages"] = pages_now(watch.counter)
    if watch.counter is not None:
        c = watch.counter
        res["changed_token"] = c.changed(watch.token)
        res["changed_fresh_token"] = c.changed(c.token())       # negative control: a token taken now
        res["read_now"] = gen(c.read())
        try:
            with c.guard():
                pass
            res["guard_after"] = "no raise"                     # negative control: no restore inside this block
        except vmgen.GenerationChanged as e:
            res["guard_after"] = f"GenerationChanged: {e}"
    opened = try_call(vmgen.open)
    if opened["ok"]:
        c2 = opened.pop("value")
        opened["backend"] = c2.backend
        opened["source"] = getattr(c2, "source", None)
        opened["read"] = gen(c2.read())
        c2.close()
    res["open_after"] = opened
    res["backends_after"] = [b._asdict() for b in vmgen.backends()]
    # vmgenid: no uevent came with the restore (Linux 7.2 has none); then a synthetic one, which the listener
    # must see (the negative control: the listener works, the kernel is silent)
    if watch.vmgenid_counter is not None:
        vc = watch.vmgenid_counter
        res["vmgenid_after_restore"] = gen(vc.read())
        devpath = vmgen.counter._backends.vmgenid_devpath()
        res["vmgenid_devpath"] = devpath
        try:
            with open(f"/sys{devpath}/uevent", "w") as f:
                f.write("change")
            res["vmgenid_after_synthetic"] = gen(vc.wait(watch.vmgenid_before_gen, 5))
        except BaseException as e:   # noqa: B902
            res["vmgenid_after_synthetic"] = f"{type(e).__name__}: {e}"
    res["random_registered"] = random.random()            # the random module: reseeded by reseed_on_restore
    res["random_unregistered"] = watch.unregistered_random.random()
    res["urandom"] = os.urandom(8).hex()
    res["boot_id"] = open("/proc/sys/kernel/random/boot_id").read().strip()
    return res


def main():
    out = Out()
    try:
        # VMGEN_QEMU_CMDLINE="... vmgen_rig.preimport=hashlib": import a module before the snapshot (to tell its
        # first-import cost in a cold clone from the rest of a restore hook's latency)
        for arg in open("/proc/cmdline").read().split():
            if arg.startswith("vmgen_rig.preimport="):
                for name in arg.split("=", 1)[1].split(","):
                    __import__(name)
        out.emit("boot", **boot_report())
        watch = Watch(out)
        kmsg = os.open("/dev/kmsg", os.O_RDONLY)
        os.lseek(kmsg, 0, os.SEEK_END)
        offset = kmsg_offset()
        out.emit("ready", watch=watch.state(), offset=offset, pages=pages_now(watch.counter),
                 random_registered_before=random.random(), boot_id=open("/proc/sys/kernel/random/boot_id").read().strip())
        # The snapshot is taken from here on. A clone learns it is one from the kernel's log: the vmgenid
        # driver's notify handler reseeds the CRNG and logs FORK_LINE (blocking read: no polling here).
        while True:
            try:
                rec = os.read(kmsg, 8192).decode("utf-8", "replace")
            except BrokenPipeError:       # records overwritten while we slept: go on from the next one
                continue
            head, _, msg = rec.partition(";")
            if FORK_LINE in msg:
                reader_ns = time.monotonic_ns()
                reseed_ts_us = int(head.split(",")[2])
                break
        out.emit("result", **after_restore(watch, reseed_ts_us, reader_ns), offset_before=offset)
        # ticks: lines whose guest CLOCK_MONOTONIC the host pairs with the moment it reads them, to map its own
        # clock (QEMU's RESUME event) onto the guest's; written when the clone is warm, so the serial path is quick
        for i in range(TICKS):
            out.emit("tick", i=i)
            time.sleep(0.02)
    except BaseException:   # noqa: B902
        out.emit("error", traceback=traceback.format_exc())
    while True:                 # PID 1 must not exit; the host ends the VM
        time.sleep(3600)


if __name__ == "__main__":
    main()
