"""Reading a command's input file or stdin with a size cap (decode and mof2h share it)."""
from __future__ import annotations

import sys


def read_capped(path: str, limit: int, who: str) -> bytes:
    """The bytes of ``path`` (``-``: stdin), refusing more than ``limit`` without reading further."""
    if path == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    if len(data) > limit:
        shown = "stdin" if path == "-" else path
        raise ValueError(f"{shown}: more than {limit} bytes ({limit >> 20} MiB), the most {who} reads")
    return data
