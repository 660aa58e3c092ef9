"""``/proc/zoneinfo``: the size, position and free memory of every memory zone.

Authoritative source: ``mm/vmstat.c: zoneinfo_show_print()``.  Per zone it prints the header
``"Node %d, zone %8s"``; for the first populated zone of a node a ``per-node stats`` block;
then ``pages free``, the watermarks (``boost``/``min``/``low``/``high``/``promo``, ``scanned``
before 4.x), ``spanned``, ``present``, ``managed`` (since 3.x), ``cma`` (newer kernels),
``protection: (...)``; for populated zones the zone counters (``nr_*``, ``numa_*``), the
``pagesets`` block (per-CPU lists, skipped here), and ``start_pfn:``.  Every number is a count
of pages; crashplan keeps pages and converts with an explicit page size
(:meth:`Zone.span`, :meth:`Zone.present_bytes`, ...), because the file does not state it.

Names follow ``struct zone``: ``spanned_pages`` (``zone->spanned_pages``: the PFN range,
holes included), ``present_pages`` (physical pages in that range), ``managed_pages`` (pages
given to the buddy allocator: present minus memblock reservations such as the crashkernel
area), ``zone_start_pfn``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from crashplan.errors import SourceError
from crashplan.formats._text import excerpt, is_decimal, table_lines
from crashplan.model import MemRange

__all__ = ["Zone", "ZoneInfo", "parse_zoneinfo"]

# Keys of the lines inside "pagesets" (per-CPU page lists): skipped.
_PAGESET_KEYS = frozenset(
    {"cpu", "count", "high", "batch", "high_min", "high_max", "vm stats threshold"}
)


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone of ``/proc/zoneinfo``; every number is in pages, ``None`` when not printed.

    ``zone_start_pfn`` is ``None`` for an unpopulated zone (the kernel stops printing after
    ``protection``); ``managed_pages`` is ``None`` on kernels before it existed (3.x), and
    ``cma_pages`` on kernels that do not print it.  ``stats`` holds every ``name value`` line
    of the zone (watermarks and ``nr_*`` counters included) as printed.
    """

    node: int
    name: str
    free_pages: int
    spanned_pages: int
    present_pages: int
    managed_pages: int | None = None
    cma_pages: int | None = None
    min_wmark_pages: int | None = None
    low_wmark_pages: int | None = None
    high_wmark_pages: int | None = None
    zone_start_pfn: int | None = None
    protection: tuple[int, ...] = ()
    stats: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    @property
    def populated(self) -> bool:
        """True when the zone has present pages (``populated_zone()``)."""
        return self.present_pages > 0

    def span(self, page_size: int) -> MemRange | None:
        """The physical range ``[start_pfn, start_pfn + spanned)`` in bytes, holes included.

        >>> Zone(0, "DMA32", 0, 1044480, 782336, zone_start_pfn=4096).span(4096)
        MemRange(start=16777216, end=4294967296)
        """
        if self.zone_start_pfn is None:
            return None
        return MemRange(
            self.zone_start_pfn * page_size, (self.zone_start_pfn + self.spanned_pages) * page_size
        )

    def free_bytes(self, page_size: int) -> int:
        """Free memory in bytes (``pages free``)."""
        return self.free_pages * page_size

    def spanned_bytes(self, page_size: int) -> int:
        """Bytes spanned by the zone, holes included."""
        return self.spanned_pages * page_size

    def present_bytes(self, page_size: int) -> int:
        """Bytes of physical memory present in the zone."""
        return self.present_pages * page_size

    def managed_bytes(self, page_size: int) -> int | None:
        """Bytes managed by the buddy allocator, or None when the kernel did not print it."""
        return None if self.managed_pages is None else self.managed_pages * page_size

    def cma_bytes(self, page_size: int) -> int | None:
        """Bytes of CMA in the zone, or None when the kernel did not print it."""
        return None if self.cma_pages is None else self.cma_pages * page_size


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    """All zones of ``/proc/zoneinfo`` in file order, and each node's ``per-node stats``."""

    zones: tuple[Zone, ...]
    node_stats: Mapping[int, Mapping[str, int]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def get(self, node: int, name: str) -> Zone | None:
        """The zone ``name`` of ``node``, or None when the file has no such zone."""
        return next((z for z in self.zones if z.node == node and z.name == name), None)


def parse_zoneinfo(text: str, *, path: str = "/proc/zoneinfo", counters: bool = True) -> ZoneInfo:
    """Parse the text of ``/proc/zoneinfo``.

    Unknown counters are kept in ``stats``; a counter line whose name the kernel printed empty
    (a bare number, seen in a RHEL 8.0 4.18 capture) is skipped.  Raises
    :class:`SourceError` naming the line for a malformed header, a line before the first
    header, a value that is not a decimal number, a malformed ``protection`` tuple, a zone
    without its ``pages free``/``spanned``/``present`` lines, or a last line without its newline.

    >>> z = parse_zoneinfo("Node 0, zone      DMA\\n  pages free     3840\\n"
    ...                    "        spanned  4095\\n        present  3998\\n"
    ...                    "        managed  3840\\n  start_pfn:           1\\n")
    >>> z.zones[0].name, z.zones[0].managed_pages, z.zones[0].zone_start_pfn
    ('DMA', 3840, 1)

    With ``counters=False`` the zone counters and per-node stats are not kept (``stats``
    holds only the size lines): a file whose every line has a known shape is then read in
    one pass of the regular-expression engine, and anything else goes through the full,
    line-by-line parser, which names the line at fault.
    """
    if not counters and text.endswith("\n") and text.isascii():
        fast = _parse_sizes(text)
        if fast is not None:
            return fast
    lines = table_lines(text, path=path, expected="'Node N, zone NAME' blocks")
    builder: _ZoneBuilder | None = None
    zones: list[Zone] = []
    node_stats: dict[int, dict[str, int]] = {}
    target: dict[str, int] | None = None  # where "name value" lines go: zone or node stats
    in_pagesets = False
    for lineno, line in enumerate(lines, 1):
        if line.startswith("Node "):
            node, rest = _header(line, lineno, path)
            if builder is not None:
                zones.append(builder.build(path))
            in_pagesets = False
            if rest == "per-node stats":  # a proposed layout prints node stats on their own
                builder = None
                target = node_stats.setdefault(node, {})
                continue
            builder = _ZoneBuilder(node, rest, lineno)
            target = builder.stats
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if target is None:
            raise SourceError(
                f"expected a 'Node N, zone NAME' header, got {excerpt(line)}",
                path=path,
                line=lineno,
            )
        indent = len(line) - len(line.lstrip(" "))
        if in_pagesets:
            key = stripped.split(":", 1)[0]
            if indent != 2 or key == "vm stats threshold":
                if key not in _PAGESET_KEYS and ":" not in stripped:
                    raise SourceError(
                        f"unexpected line in pagesets: {excerpt(stripped)}", path=path, line=lineno
                    )
                continue
            in_pagesets = False
        if builder is None:  # node stats block without a zone (proposed layout)
            _counter(stripped, target, lineno, path)
            continue
        if stripped == "per-node stats":
            target = node_stats.setdefault(builder.node, {})
            continue
        if stripped == "pagesets":
            in_pagesets = True
            continue
        if stripped.startswith("pages free"):
            target = builder.stats
            builder.free = _number(
                stripped[len("pages free") :].strip(), "pages free", lineno, path
            )
            continue
        if stripped.startswith("protection:"):
            builder.protection = _protection(stripped, lineno, path)
            continue
        if ":" in stripped:
            key, _, value = stripped.partition(":")
            builder.stats[key.strip()] = _number(value.strip(), key.strip(), lineno, path)
            continue
        _counter(stripped, target, lineno, path)
    if builder is not None:
        zones.append(builder.build(path))
    frozen_nodes = {n: MappingProxyType(s) for n, s in node_stats.items()}
    return ZoneInfo(tuple(zones), MappingProxyType(frozen_nodes))


# The lines a zone's size and position come from, as zoneinfo_show_print() indents them.
# Matched after a newline: the regular-expression engine then looks only at line starts.
_SIZE_LINE = re.compile(
    r"\n(?:Node (\d+), zone +(\S+)|  pages free +(\d+)"
    r"|        (min|low|high|spanned|present|managed|cma) +(\d+)"
    r"|  start_pfn: +(\d+)| +protection: \(([-0-9, ]*)\))(?=\n)"
)


# A line that starts with neither "Node " nor a space (nor is empty): not zoneinfo's shape.
_OTHER_LINE = re.compile(r"\n(?!Node |[ \n]|\Z)")


def _parse_sizes(text: str) -> ZoneInfo | None:
    """The zones' size lines only, in one pass of the regular-expression engine.

    Returns None (and the caller parses line by line) when a line does not start with
    ``Node`` or a space, or a zone lacks a line every kernel prints: the fast reading never
    guesses.
    """
    body = "\n" + text
    if _OTHER_LINE.search(body):
        return None
    zones: list[Zone] = []
    values: dict[str, int] = {}
    node = -1
    name = ""
    protection: tuple[int, ...] = ()

    def finish() -> bool:
        if node < 0:
            return True
        if "free" not in values or "spanned" not in values or "present" not in values:
            return False
        free = values.pop("free")
        zones.append(
            Zone(
                node=node,
                name=name,
                free_pages=free,
                spanned_pages=values["spanned"],
                present_pages=values["present"],
                managed_pages=values.get("managed"),
                cma_pages=values.get("cma"),
                min_wmark_pages=values.get("min"),
                low_wmark_pages=values.get("low"),
                high_wmark_pages=values.get("high"),
                zone_start_pfn=values.get("start_pfn"),
                protection=protection,
                stats=MappingProxyType(values),
            )
        )
        return True

    for n, zone, free, key, value, start_pfn, prot in _SIZE_LINE.findall(body):
        if n:
            if not finish():
                return None
            node, name, values, protection = int(n), zone, {}, ()
        elif node < 0:
            return None
        elif free:
            values["free"] = int(free)
        elif key:
            values.setdefault(key, int(value))
        elif start_pfn:
            values["start_pfn"] = int(start_pfn)
        else:
            protection = tuple(int(v) for v in prot.split(",") if v.strip())
    if not finish():
        return None
    return ZoneInfo(tuple(zones))


class _ZoneBuilder:
    """The lines of one zone collected so far."""

    __slots__ = ("free", "header_line", "name", "node", "protection", "stats")

    def __init__(self, node: int, name: str, header_line: int) -> None:
        self.node = node
        self.name = name
        self.header_line = header_line
        self.free: int | None = None
        self.protection: tuple[int, ...] = ()
        self.stats: dict[str, int] = {}

    def build(self, path: str) -> Zone:
        """The finished Zone; raises if a line every kernel prints is missing."""
        stats = self.stats
        for label, value in (
            ("pages free", self.free),
            ("spanned", stats.get("spanned")),
            ("present", stats.get("present")),
        ):
            if value is None:
                raise SourceError(
                    f"zone {self.name} of node {self.node} has no {label!r} line (file cut short?)",
                    path=path,
                    line=self.header_line,
                )
        assert self.free is not None  # checked above
        return Zone(
            node=self.node,
            name=self.name,
            free_pages=self.free,
            spanned_pages=stats["spanned"],
            present_pages=stats["present"],
            managed_pages=stats.get("managed"),
            cma_pages=stats.get("cma"),
            min_wmark_pages=stats.get("min"),
            low_wmark_pages=stats.get("low"),
            high_wmark_pages=stats.get("high"),
            zone_start_pfn=stats.get("start_pfn"),
            protection=self.protection,
            stats=MappingProxyType(stats),
        )


def _header(line: str, lineno: int, path: str) -> tuple[int, str]:
    """Parse ``Node N, zone NAME`` (or ``Node N, per-node stats``) into ``(N, NAME)``."""
    node_text, comma, rest = line[len("Node ") :].partition(",")
    rest = rest.strip()
    if comma and is_decimal(node_text.strip()):
        if rest == "per-node stats":
            return int(node_text), rest
        kind, _, name = rest.partition(" ")
        name = name.strip()
        if kind == "zone" and name and " " not in name:
            return int(node_text), name
    raise SourceError(f"expected 'Node N, zone NAME', got {excerpt(line)}", path=path, line=lineno)


def _counter(stripped: str, target: dict[str, int], lineno: int, path: str) -> None:
    """Store a ``name value`` counter line; skip a bare number (a counter with an empty name)."""
    name, _, value = stripped.rpartition(" ")
    name = name.strip()
    if not name:
        _number(value, "counter", lineno, path)
        return
    target[name] = _number(value, name, lineno, path)


def _number(text: str, what: str, lineno: int, path: str) -> int:
    """A decimal page count."""
    if not is_decimal(text):
        raise SourceError(
            f"value of {what!r} is not a decimal number: {excerpt(text)}", path=path, line=lineno
        )
    return int(text)


def _protection(stripped: str, lineno: int, path: str) -> tuple[int, ...]:
    """Parse ``protection: (0, 3019, 4683)`` (``lowmem_reserve``, printed with ``%ld``)."""
    inner = stripped[len("protection:") :].strip()
    if not (inner.startswith("(") and inner.endswith(")")):
        raise SourceError(
            f"expected 'protection: (n, ...)', got {excerpt(stripped)}", path=path, line=lineno
        )
    values: list[int] = []
    for item in inner[1:-1].split(","):
        item = item.strip()
        digits = item[1:] if item.startswith("-") else item
        if not is_decimal(digits):
            raise SourceError(
                f"protection value {excerpt(item)} is not a number", path=path, line=lineno
            )
        values.append(int(item))
    return tuple(values)
