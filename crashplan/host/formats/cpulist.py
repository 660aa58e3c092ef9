"""CPU lists such as ``/sys/devices/system/cpu/{online,possible,present,offline}``.

Authoritative source: ``lib/bitmap-str.c: bitmap_parselist()`` (the grammar; ``lib/bitmap.c``
before 6.4) and ``bitmap_print_list_to_buf()`` / ``"%*pbl"`` (what sysfs prints): comma-separated
decimal CPU numbers and inclusive ranges ``a-b``, then ``"\\n"``; an empty set prints as an empty
line.  The group syntax ``a-b:used/group`` that ``bitmap_parselist()`` also accepts (for
``isolcpus=`` and friends) is supported; the ``N`` (last CPU) shorthand is not, because it
needs the bitmap size.
"""

from __future__ import annotations

from collections.abc import Iterable

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt, is_decimal

__all__ = ["format_cpulist", "parse_cpulist"]

# Larger than any kernel's CONFIG_NR_CPUS maximum (8192 on x86 MAXSMP): a bound that keeps a
# garbled range like "0-4294967295" from building a huge set.
_MAX_CPUS = 1 << 16


def parse_cpulist(text: str, *, path: str = "/sys/devices/system/cpu/online") -> frozenset[int]:
    """Parse a CPU list; an empty string (or a lone newline) is the empty set.

    >>> sorted(parse_cpulist("0-3,8-11\\n"))
    [0, 1, 2, 3, 8, 9, 10, 11]
    >>> sorted(parse_cpulist("0-7:2/4")), parse_cpulist("")
    ([0, 1, 4, 5], frozenset())
    """
    body = text[:-1] if text.endswith("\n") else text
    body = body.strip(" \t")
    if not body:
        return frozenset()
    if "\n" in body:
        raise SourceError("a CPU list is one line; found a second line", path=path, line=2)
    cpus: set[int] = set()
    for item in body.split(","):
        cpus.update(_item(item, path))
    return frozenset(cpus)


def _item(item: str, path: str) -> Iterable[int]:
    """One comma-separated item: ``n``, ``a-b`` or ``a-b:used/group``, as the CPUs it names."""
    spec, colon, group = item.partition(":")
    first, dash, last = spec.partition("-")
    if not is_decimal(first) or (dash and not is_decimal(last)):
        raise SourceError(
            f"expected 'n' or 'a-b' in CPU list, got {excerpt(item)}", path=path, line=1
        )
    lo = int(first)
    hi = int(last) if dash else lo
    if hi < lo:
        raise SourceError(f"range {excerpt(spec)} ends before it starts", path=path, line=1)
    if hi >= _MAX_CPUS:
        raise SourceError(
            f"CPU number {hi} is beyond any kernel's NR_CPUS ({_MAX_CPUS})", path=path, line=1
        )
    if not colon:
        return range(lo, hi + 1)
    used, slash, size = group.partition("/")
    if not (dash and slash and is_decimal(used) and is_decimal(size)):
        raise SourceError(
            f"expected 'a-b:used/group' in CPU list, got {excerpt(item)}", path=path, line=1
        )
    used_n, size_n = int(used), int(size)
    if size_n == 0 or used_n == 0 or used_n > size_n:
        raise SourceError(f"group {excerpt(group)} needs 0 < used <= group size", path=path, line=1)
    return _grouped(lo, hi, used_n, size_n)


def _grouped(lo: int, hi: int, used: int, size: int) -> list[int]:
    """CPUs ``lo..hi`` keeping the first ``used`` of every ``size`` (``bitmap_set_region()``)."""
    return [c for c in range(lo, hi + 1) if (c - lo) % size < used]


def format_cpulist(cpus: frozenset[int] | set[int]) -> str:
    """Format CPUs the way sysfs prints them (``%*pbl``), without the trailing newline.

    >>> format_cpulist({0, 1, 2, 3, 8, 10, 11})
    '0-3,8,10-11'
    """
    out: list[str] = []
    ordered = sorted(cpus)
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        out.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(out)
