"""MOF bytes -> text: the encodings mofcomp and DSP0221 files come in, and reading files for #pragma include.

BOM-marked UTF-8/UTF-16; UTF-16 without a BOM where the text shows it (MOF starts with ASCII: every other
byte of its first characters is NUL); else UTF-8; else Windows-1252, with a warning (MOF written by old
Windows tools), since a MOF file that is not UTF-8 is most likely that.
"""
from __future__ import annotations

import codecs
import errno
import os
import stat
import warnings
from typing import Callable, List, Optional, Tuple

from ..errors import MofError

_SNIFF = 256  # bytes looked at to tell UTF-16 without a BOM


def _utf16_without_bom(data: bytes) -> Optional[str]:
    head = data[:_SNIFF]
    if len(head) < 4:
        return None
    head = head[:len(head) & ~1]
    even_nul = head[0::2].count(0)
    odd_nul = head[1::2].count(0)
    half = len(head) // 2
    if odd_nul >= half * 0.9 and even_nul == 0:
        return "utf-16-le"
    if even_nul >= half * 0.9 and odd_nul == 0:
        return "utf-16-be"
    return None


def decode_mof(data: bytes, shown: str = "<MOF>") -> Tuple[str, List[str]]:
    """(text, warnings) of MOF file bytes. MofError when they are no text in a supported encoding."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                          (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            break
    else:
        encoding = _utf16_without_bom(data) or "utf-8"
    try:
        return data.decode(encoding), []
    except UnicodeDecodeError as exc:
        if encoding != "utf-8":
            raise MofError(f"{shown}: not {encoding} text ({exc.reason} at byte {exc.start})") from None
        first_bad = exc.start
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise MofError(f"{shown}: neither UTF-8 (invalid at byte {first_bad}) nor Windows-1252 text "
                       f"(byte 0x{data[exc.start]:02x} at {exc.start})") from None
    return text, [f"{shown}: not UTF-8 (invalid at byte {first_bad}); read as Windows-1252"]


MAX_FILE = 64 << 20   # bytes read of one MOF file (the CLI's cap on its input, docs/mof.md)


def read_mof_file(path: str, regular_only: bool = True) -> Tuple[str, List[str]]:
    """(text, warnings) of a file of at most MAX_FILE bytes. With ``regular_only`` (every included file) a
    FIFO, device or folder is refused (OSError), not read: opening a FIFO waits for a writer, /dev/zero never
    ends. The file a caller names itself may be a pipe (``<(cmd)``); it is still read only up to the cap."""
    if regular_only:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):   # non-blocking open: a FIFO gets here at once
            os.close(fd)
            raise OSError(errno.EINVAL, f"{path} is not a regular file")
        f = os.fdopen(fd, "rb")
    else:
        f = open(path, "rb")
    with f:
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise OSError(errno.EFBIG, f"{path} is larger than {MAX_FILE >> 20} MiB, the most read of a MOF file")
    return decode_mof(data, path)


class Budget:
    """A loader that refuses to read more than ``limit`` characters or MAX_FILES files in all (one parse:
    #pragma include and #include of the same file again and again double the text per level)."""

    MAX_FILES = 4096   # file inclusions in one parse (tiny files included exponentially often cost time)

    def __init__(self, loader: Callable[[str], Tuple[str, List[str]]], limit: int = MAX_FILE) -> None:
        self.loader, self.left, self.limit, self.files = loader, limit, limit, 0

    def __call__(self, path: str) -> Tuple[str, List[str]]:
        self.files += 1
        if self.files > self.MAX_FILES:
            raise OSError(errno.EMFILE, f"more than {self.MAX_FILES} files included in all, past the most read "
                                        "(the same file included again and again?)")
        text, warnings = self.loader(path)
        self.left -= len(text)
        if self.left < 0:
            raise OSError(errno.EFBIG, f"included files grow the text past {self.limit >> 20} MiB "
                                       f"(the same file included again and again?)")
        return text, warnings


def warn(messages: List[str]) -> None:
    """Encoding guesses are UnicodeWarnings; everything else (a class declared again, #warning) UserWarnings."""
    for message in messages:
        category = UnicodeWarning if "Windows-1252" in message else UserWarning
        warnings.warn(message, category, stacklevel=3)
