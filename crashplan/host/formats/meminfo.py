"""``/proc/meminfo``: the kernel's memory counters, converted to bytes.

Authoritative source: ``fs/proc/meminfo.c: meminfo_proc_show()`` (``show_val_kb()`` prints
``"<Name>:" + value + " kB\\n"``), ``mm/hugetlb.c: hugetlb_report_meminfo()`` (the unitless
``HugePages_*`` page counts) and ``arch_report_meminfo()`` (``DirectMap4k/2M/4M/1G`` on x86
and s390).  Every ``kB`` value is converted to bytes (x 1024) at parse time; the ``HugePages_*``
lines are counts and stay counts.  A counter the kernel did not print is ``None``, never 0: old
kernels lack ``MemAvailable`` (before 3.14) and kernels without ``CONFIG_CMA`` lack ``CmaTotal``.

Relevant to crashplan: the crashkernel
area is *not* in ``MemTotal`` (memblock-reserved, never given to the buddy allocator), while
``crashkernel=,cma`` areas *are*, and show in ``CmaTotal``/``CmaFree``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt, is_decimal, table_lines

__all__ = ["Meminfo", "parse_meminfo"]

# Kernel name -> Meminfo attribute, for the counters crashplan reads by name.
_TYPED: dict[str, str] = {
    "MemTotal": "mem_total",
    "MemFree": "mem_free",
    "MemAvailable": "mem_available",
    "Buffers": "buffers",
    "Cached": "cached",
    "SwapCached": "swap_cached",
    "SwapTotal": "swap_total",
    "SwapFree": "swap_free",
    "AnonPages": "anon_pages",
    "Shmem": "shmem",
    "KReclaimable": "k_reclaimable",
    "Slab": "slab",
    "SReclaimable": "s_reclaimable",
    "SUnreclaim": "s_unreclaim",
    "KernelStack": "kernel_stack",
    "PageTables": "page_tables",
    "Percpu": "percpu",
    "VmallocTotal": "vmalloc_total",
    "VmallocUsed": "vmalloc_used",
    "CommitLimit": "commit_limit",
    "Committed_AS": "committed_as",
    "AnonHugePages": "anon_huge_pages",
    "CmaTotal": "cma_total",
    "CmaFree": "cma_free",
    "HugePages_Total": "hugepages_total",
    "HugePages_Free": "hugepages_free",
    "HugePages_Rsvd": "hugepages_rsvd",
    "HugePages_Surp": "hugepages_surp",
    "Hugepagesize": "hugepagesize",
    "Hugetlb": "hugetlb",
    "DirectMap4k": "direct_map_4k",
    "DirectMap2M": "direct_map_2m",
    "DirectMap4M": "direct_map_4m",
    "DirectMap1G": "direct_map_1g",
}
# The typed counters the kernel always prints in kB: such a line without " kB" was cut short.
_KB_FIELDS = frozenset(k for k in _TYPED if not k.startswith("HugePages_"))


def _counter(name: str) -> Any:
    """A read-only attribute for the counter the kernel calls ``name`` (None when absent)."""
    return property(lambda self: self.fields.get(name), doc=f"``{name}`` from /proc/meminfo, or None.")


@dataclass(frozen=True, slots=True)
class Meminfo:
    """The counters of ``/proc/meminfo``: bytes, except the ``hugepages_*`` page counts.

    ``fields`` holds every line as printed, keyed by the kernel's name (``"Active(anon)"``),
    converted the same way (``kB`` lines in bytes, unitless lines as counts).  The counters
    crashplan reads by name are attributes too (``mem_total`` is ``fields.get("MemTotal")``);
    absent counters are ``None``.  They are properties rather than fields: a frozen dataclass of
    35 fields costs 3 ms to define, on the start-up path of every command.
    """

    fields: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    mem_total = _counter("MemTotal")
    mem_free = _counter("MemFree")
    mem_available = _counter("MemAvailable")
    buffers = _counter("Buffers")
    cached = _counter("Cached")
    swap_cached = _counter("SwapCached")
    swap_total = _counter("SwapTotal")
    swap_free = _counter("SwapFree")
    anon_pages = _counter("AnonPages")
    shmem = _counter("Shmem")
    k_reclaimable = _counter("KReclaimable")
    slab = _counter("Slab")
    s_reclaimable = _counter("SReclaimable")
    s_unreclaim = _counter("SUnreclaim")
    kernel_stack = _counter("KernelStack")
    page_tables = _counter("PageTables")
    percpu = _counter("Percpu")
    vmalloc_total = _counter("VmallocTotal")
    vmalloc_used = _counter("VmallocUsed")
    commit_limit = _counter("CommitLimit")
    committed_as = _counter("Committed_AS")
    anon_huge_pages = _counter("AnonHugePages")
    cma_total = _counter("CmaTotal")
    cma_free = _counter("CmaFree")
    hugepages_total = _counter("HugePages_Total")
    hugepages_free = _counter("HugePages_Free")
    hugepages_rsvd = _counter("HugePages_Rsvd")
    hugepages_surp = _counter("HugePages_Surp")
    hugepagesize = _counter("Hugepagesize")
    hugetlb = _counter("Hugetlb")
    direct_map_4k = _counter("DirectMap4k")
    direct_map_2m = _counter("DirectMap2M")
    direct_map_4m = _counter("DirectMap4M")
    direct_map_1g = _counter("DirectMap1G")


def parse_meminfo(text: str, *, path: str = "/proc/meminfo") -> Meminfo:
    """Parse the text of ``/proc/meminfo``.

    Leading blanks before a name are tolerated (a report script indented the first line of
    one real capture).  Raises :class:`SourceError` naming the line for a line without
    ``Name:``, a value that is not a decimal number, a unit other than ``kB``, a known ``kB``
    counter without its unit, a counter printed twice, or a last line without its newline.

    >>> m = parse_meminfo("MemTotal:        3882988 kB\\nHugePages_Total:       0\\n")
    >>> m.mem_total, m.hugepages_total, m.cma_total
    (3976179712, 0, None)
    """
    fields = _read_fast(text)
    if fields is None:
        fields = _read_lines(text, path)
    return Meminfo(MappingProxyType(fields))


# The kernel prints unsigned longs; a byte count past 64 bits is garbage, not a huge host.
_U64_MAX = (1 << 64) - 1


# meminfo_proc_show()'s lines ("%-15s %8lu kB" and the unitless HugePages_* counts), read in two
# passes of the regular-expression engine; anything else goes line by line, which names the fault.
_ROW = r"[ \t]*+([^:\s]++):[ \t]*+([0-9]++)(?:[ \t]++(kB))?+[ \t]*+\n"
_ROWS = re.compile(f"(?:{_ROW})++")
_ROW_FIELDS = re.compile(_ROW)


def _read_fast(text: str) -> dict[str, int] | None:
    """The counters of a file in the kernel's shape, or None to read it line by line."""
    if not text.isascii() or _ROWS.fullmatch(text) is None:
        return None
    rows = _ROW_FIELDS.findall(text)
    fields = {name: int(number) << 10 if unit else int(number) for name, number, unit in rows}
    if len(fields) != len(rows) or any(not unit and name in _KB_FIELDS for name, _, unit in rows):
        return None  # a counter twice, or a kB counter cut short: the line-by-line reading says which
    if any(value > _U64_MAX for value in fields.values()):
        return None  # past 64 bits: the line-by-line reading names the line
    return fields


def _read_lines(text: str, path: str) -> dict[str, int]:
    """Every line in turn; raises naming the first line that is not a counter."""
    lines = table_lines(text, path=path, expected="'Name: value kB' lines")
    fields: dict[str, int] = {}
    for lineno, line in enumerate(lines, 1):
        name, colon, rest = line.partition(":")
        name = name.lstrip(" \t")
        if not colon or not name or any(c in name for c in " \t"):
            raise SourceError(
                f"expected 'Name: value [kB]', got {excerpt(line)}", path=path, line=lineno
            )
        words = rest.split()
        if not words or len(words) > 2:
            raise SourceError(
                f"expected one value after {name + ':'!r}, got {excerpt(rest.strip())}",
                path=path,
                line=lineno,
            )
        number = words[0]
        if not is_decimal(number):
            raise SourceError(
                f"value of {name} is not a decimal number: {excerpt(number)}",
                path=path,
                line=lineno,
            )
        value = int(number)
        if len(words) == 2:
            if words[1] != "kB":
                raise SourceError(
                    f"unsupported unit {excerpt(words[1])} for {name} (expected 'kB')",
                    path=path,
                    line=lineno,
                )
            value <<= 10
        elif name in _KB_FIELDS:
            raise SourceError(f"{name} has no 'kB' unit (line cut short?)", path=path, line=lineno)
        if value > _U64_MAX:
            raise SourceError(f"{name} does not fit in 64 bits (in bytes)", path=path, line=lineno)
        if name in fields:
            raise SourceError(f"{name} appears twice", path=path, line=lineno)
        fields[name] = value
    return fields
