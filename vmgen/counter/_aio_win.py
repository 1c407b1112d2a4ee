"""asyncio waits on Windows (issue 6): one overlapped event-driven IOCTL per wait, no thread.

Windows' default event loop (ProactorEventLoop) has no add_reader, so instead of an fd each wait_async
starts its own event-driven IOCTL_VMGENCOUNTER_READ (C: vg_async_start) and awaits its event handle through
the proactor's ``wait_for_handle`` (a thread-pool wait that posts to the loop's I/O completion port; no thread
per wait). Completion -> the new generation; timeout or task cancellation -> CancelIoEx + reap (C:
vg_async_cancel); close() cancels every IOCTL on the handle, so pending waits raise CounterClosed.

Other loops (a SelectorEventLoop on Windows) and counters without event-driven reads return NotImplemented
here and use vmgen._aio's timer-driven re-check instead.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

from . import _core
from ._generation import Generation


def _proactor(loop: asyncio.AbstractEventLoop) -> Any:
    p = getattr(loop, "_proactor", None)
    return p if p is not None and hasattr(p, "wait_for_handle") else None


async def wait_async(counter: Any, seen: Generation, timeout: Optional[float]) -> Any:
    loop = asyncio.get_running_loop()
    proactor = _proactor(loop)
    if proactor is None or counter.backend != "windows":
        return NotImplemented
    op = _core.async_start(counter, seen.count, seen.count_high)
    if op is None:                     # event-driven reads not supported: the caller re-checks on a timer
        return NotImplemented
    try:
        fut = proactor.wait_for_handle(op.handle, timeout)
        fut._vmgen_op = op             # the event handle outlives the wait's (asynchronous) unregistration
        signalled = await fut
        if not signalled:
            raise TimeoutError("the VM generation did not change before the timeout")
        got = op.finish()
        if got is None:                # cancelled by someone else (not close): report as an error, not a hang
            raise OSError("the event-driven read was cancelled")
        return Generation(*got)
    finally:
        op.cancel()                    # no-op after finish(); otherwise CancelIoEx + reap
