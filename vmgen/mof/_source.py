"""MOF bytes -> text: the encodings mofcomp and DSP0221 files come in, and reading files for #pragma include.

BOM-marked UTF-8/UTF-16; UTF-16 without a BOM where the text shows it (MOF starts with ASCII: every other
byte of its first characters is NUL); else UTF-8; else Windows-1252, with a warning (MOF written by old
Windows tools), since a MOF file that is not UTF-8 is most likely that.
"""
from __future__ import annotations

import codecs
import warnings
from typing import List, Optional, Tuple

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


def read_mof_file(path: str) -> Tuple[str, List[str]]:
    with open(path, "rb") as f:
        data = f.read()
    return decode_mof(data, path)


def warn(messages: List[str]) -> None:
    """Encoding guesses are UnicodeWarnings; everything else (a class declared again, #warning) UserWarnings."""
    for message in messages:
        category = UnicodeWarning if "Windows-1252" in message else UserWarning
        warnings.warn(message, category, stacklevel=3)
