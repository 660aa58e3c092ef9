"""Sizes in bytes: the kernel's ``memparse()`` number syntax, and formatting back to it.

Authoritative source: ``lib/cmdline.c: memparse()``, ``lib/vsprintf.c: simple_strtoull()`` and
``lib/kstrtox.c: _parse_integer_fixup_radix()`` / ``_parse_integer_limit()``.  Every size inside crashplan
is an ``int`` number of bytes.
"""

from __future__ import annotations

import re

from crashplan._frozen import frozen
from crashplan.errors import ParseError

__all__ = [
    "GiB",
    "KiB",
    "MiB",
    "Number",
    "TiB",
    "format_human",
    "format_size",
    "memparse",
    "parse_size",
]

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

_U64 = (1 << 64) - 1
_SHIFTS = {"k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_UNITS = (("E", 60), ("P", 50), ("T", 40), ("G", 30), ("M", 20), ("K", 10))
# The digits _parse_integer() accepts in each base: ASCII only ('8' ends an octal number,
# 'a' a decimal one).
_RUNS = {8: re.compile("[0-7]*"), 10: re.compile("[0-9]*"), 16: re.compile("[0-9a-fA-F]*")}


@frozen
class Number:
    """One number read by ``memparse()``: its value and how it was written.

    ``end`` is the index just past what the kernel consumed (digits and the optional unit).
    ``radix`` is 8, 10 or 16; ``overflow`` is true when the value wrapped modulo 2**64.
    """

    value: int
    start: int
    end: int
    radix: int
    digits_end: int
    unit: str | None
    overflow: bool


def memparse(text: str, pos: int = 0, end: int | None = None) -> Number | None:
    """Read a number at ``text[pos:]`` exactly as the kernel's ``memparse()`` does.

    Returns ``None`` when no digit is there (the kernel's ``endptr == ptr`` case).  Reading
    stops at ``end`` (default: the end of ``text``), as if the string ended there.  Base is
    detected like ``simple_strtoull(..., 0)``: ``0x`` followed by a hex digit is hex, another
    leading ``0`` is octal, anything else decimal; one optional unit letter
    ``K M G T P E`` (either case) shifts by 10 bits each; overflow wraps modulo 2**64.

    >>> memparse("256M").value == 256 << 20
    True
    >>> memparse("0256M").value >> 20   # a leading zero means octal
    174
    >>> memparse("0x1E").value          # 'E' is a hex digit here, not exbi
    30
    >>> memparse("M") is None
    True
    """
    n = len(text) if end is None else min(end, len(text))
    if pos >= n or not ("0" <= text[pos] <= "9"):
        return None
    i = pos
    radix = 10
    if text[i] == "0":
        if i + 2 < n and text[i + 1] in "xX" and _is_xdigit(text[i + 2]):
            radix = 16
            i += 2
        else:
            radix = 8
    run = _RUNS[radix].match(text, i, n)
    assert run is not None  # "*" always matches
    value, overflow = _wrap(run.group(), radix)
    i = digits_end = run.end()
    unit = None
    if i < n and text[i].isascii() and text[i].lower() in _SHIFTS:
        unit = text[i]
        shifted = value << _SHIFTS[unit.lower()]
        if shifted > _U64:
            overflow = True
        value = shifted & _U64
        i += 1
    return Number(value, pos, i, radix, digits_end, unit, overflow)


def parse_size(text: str, *, what: str = "size") -> int:
    """Parse a whole size given by a user (``--ram 16G``), in the kernel's syntax, to bytes.

    Unlike the kernel, nothing may follow the number: ``16GB`` and ``16 G`` are errors, and so
    is a value that wraps modulo 2**64.

    >>> parse_size("16G") == 16 << 30
    True
    >>> parse_size("1948M") == 1948 << 20
    True
    """
    stripped = text.strip()
    offset = text.find(stripped) if stripped else 0
    number = memparse(stripped)
    if number is None:
        raise ParseError(f"{what}: a number is expected", source=text, span=(offset, offset + 1))
    if number.end != len(stripped):
        at = offset + number.end
        raise ParseError(
            f"{what}: unexpected {stripped[number.end]!r} (units are one letter: K, M, G, T, P, E)",
            source=text,
            span=(at, at + 1),
        )
    if number.overflow:
        raise ParseError(f"{what}: does not fit in 64 bits", source=text, span=(offset, len(text)))
    return number.value


def format_size(value: int) -> str:
    """Write bytes in the kernel's syntax with the largest exact unit; it reads back with memparse.

    >>> format_size(256 << 20), format_size(1 << 30), format_size(0), format_size(1000)
    ('256M', '1G', '0', '1000')
    """
    if value < 0 or value > _U64:
        raise ValueError(f"size out of range: {value}")
    if value:
        for letter, shift in _UNITS:
            if value % (1 << shift) == 0:
                return f"{value >> shift}{letter}"
    return str(value)


def format_human(value: int) -> str:
    """Write bytes for people, in binary units with at most one decimal.

    >>> format_human(256 << 20), format_human(1536 << 20), format_human(512)
    ('256 MiB', '1.5 GiB', '512 B')
    """
    for letter, shift in _UNITS:
        if value >= 1 << shift:
            scaled = value / (1 << shift)
            text = f"{scaled:.1f}".removesuffix(".0")
            return f"{text} {letter}iB"
    return f"{value} B"


def _is_xdigit(c: str) -> bool:
    return c in "0123456789abcdefABCDEF"


def _wrap(digits: str, radix: int) -> tuple[int, bool]:
    """The value of ``digits`` modulo 2**64, as ``res = res * base + val`` leaves it in C, and
    whether it wrapped.  Linear in the length: a 10 MB number is one pass, not a bignum."""
    significant = digits.lstrip("0")
    if radix != 10:
        # 8**22 and 16**16 are multiples of 2**64: only the last digits matter.
        keep = 22 if radix == 8 else 16
        exact = int(significant[-keep:] or "0", radix)
        return exact & _U64, exact > _U64 or len(significant) > keep
    if len(significant) <= 20:
        exact = int(significant or "0")
        return exact & _U64, exact > _U64
    value = 0
    for k in range(0, len(significant), 18):
        chunk = significant[k : k + 18]
        value = (value * 10 ** len(chunk) + int(chunk)) & _U64
    return value, True
