"""A whole program that opens a counter, forks, lets the child use its copy and end in a chosen way, then
checks the parent's copy still hears changes. Run as a script (not inside pytest) so that a child ending by
sys.exit really finalises the interpreter, as a user's program does.

    python fork_child.py BACKEND PATH HOW END [idle]
      BACKEND  inproc | file | vmgenid
      PATH     the simulated file (file), else "-"
      HOW      os.fork | mp-fork (multiprocessing's fork start method)
      END      sys.exit | close | os._exit
      idle     the child does nothing with its copy but END (no adopting first)

Prints one line "child ok" / "parent ok ..." per phase; exits non-zero with the reason on any failure.
"""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import threading
import warnings

import vmgen
from vmgen.counter._backends import vmgenid_devpath

BACKEND, PATH, HOW, END = sys.argv[1:5]
IDLE = sys.argv[5:] == ["idle"]
TIMEOUT = 10.0


def open_counter() -> vmgen.Counter:
    if BACKEND == "inproc":
        return vmgen.open("simulated")
    if BACKEND == "file":
        return vmgen.open("simulated", path=PATH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return vmgen.open("vmgenid")


def change_soon(c: vmgen.Counter, delay: float = 0.05) -> threading.Timer:
    """Make a change from another thread of this process after `delay` seconds."""
    def kick() -> None:
        if BACKEND == "vmgenid":
            with open(f"/sys{vmgenid_devpath()}/uevent", "w") as f:
                f.write("change")
        else:
            c.advance()
    t = threading.Timer(delay, kick)
    t.start()
    return t


def hears(c: vmgen.Counter, who: str) -> None:
    """c hears a change through a blocking wait and through wait_async."""
    g = c.read()
    change_soon(c)
    try:
        g = c.wait(g, timeout=TIMEOUT)
    except TimeoutError:
        raise SystemExit(f"{who}: wait() heard no change in {TIMEOUT} s") from None

    async def main() -> None:
        change_soon(c)
        await c.wait_async(g, timeout=TIMEOUT)
    try:
        asyncio.run(main())
    except TimeoutError:
        raise SystemExit(f"{who}: wait_async() heard no change in {TIMEOUT} s") from None


c = open_counter()
before = c.token()


def child() -> None:
    if IDLE:
        if END == "close":
            c.close()
        elif END == "os._exit":
            os._exit(0)
        sys.exit(0)
    if c.changed(before) is not (BACKEND == "vmgenid"):   # vmgenid: a token from before the fork reads changed
        raise SystemExit(f"child: changed(token before fork) = {c.changed(before)}")
    hears(c, "child")
    print("child ok", flush=True)
    if END == "close":
        c.close()
    elif END == "os._exit":
        os._exit(0)
    # sys.exit (and close, afterwards): the interpreter finalises and frees the child's copy
    sys.exit(0)


if HOW == "os.fork":
    pid = os.fork()
    if pid == 0:
        try:
            child()
        except SystemExit as e:
            if e.code not in (0, None):
                print(e.code, file=sys.stderr, flush=True)
                os._exit(3)
            raise          # sys.exit(0): a normal exit, with finalisation
        except BaseException as e:
            print(f"child: {e!r}", file=sys.stderr, flush=True)
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
else:
    p = multiprocessing.get_context("fork").Process(target=child)
    p.start()
    p.join(60)
    code = p.exitcode
if code != 0:
    raise SystemExit(f"child exited with {code}")

# The parent: a fresh uevent/advance must reach it, however the child ended.
hears(c, "parent")
tasks = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else -1
print(f"parent ok tasks={tasks}", flush=True)
c.close()
