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
from bisect import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import repeat
from types import MappingProxyType

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt, is_decimal, table_lines
from crashplan.values import MemRange, build_columns

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

    With ``counters=False`` the zone counters and per-node stats are not kept (``stats`` and
    ``node_stats`` are empty): a file in the kernel's layout is then read by a few searches
    of the regular-expression engine (:func:`_parse_sizes`), and anything else goes through
    the line-by-line parser, which names the line at fault.
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
            counter = _counter(stripped, lineno, path)
            if counter is not None:
                target[counter[0]] = counter[1]
            continue
        if stripped == "per-node stats":
            target = node_stats.setdefault(builder.node, {})
            continue
        if stripped == "pagesets":
            in_pagesets = True
            continue
        if stripped.startswith("pages free"):
            target = builder.stats
            if builder.free is not None:
                raise SourceError(
                    f"zone {builder.name} of node {builder.node} has a second 'pages free' line",
                    path=path,
                    line=lineno,
                )
            builder.free = _number(
                stripped[len("pages free") :].strip(), "pages free", lineno, path
            )
            continue
        if stripped.startswith("protection:"):
            if builder.protection is not None:
                raise SourceError(
                    f"zone {builder.name} of node {builder.node} has a second 'protection' line",
                    path=path,
                    line=lineno,
                )
            builder.protection = _protection(stripped, lineno, path)
            continue
        if ":" in stripped:
            key, _, value = stripped.partition(":")
            builder.store(key.strip(), _number(value.strip(), key.strip(), lineno, path), lineno, path)
            continue
        counter = _counter(stripped, lineno, path)
        if counter is not None:
            if target is builder.stats:
                builder.store(*counter, lineno, path)
            else:
                target[counter[0]] = counter[1]
    if builder is not None:
        zones.append(builder.build(path))
    if not counters:
        return ZoneInfo(tuple(replace(z, stats=_NO_STATS) for z in zones))
    frozen_nodes = {n: MappingProxyType(s) for n, s in node_stats.items()}
    return ZoneInfo(tuple(zones), MappingProxyType(frozen_nodes))


# The size lines a zone has at most once: a second one is an error of the line-by-line parser
# (the kernel prints each once), so both readings can only agree on which line counts.
_SIZE_NAMES = frozenset({"min", "low", "high", "spanned", "present", "managed", "cma", "start_pfn"})

# Why a second reading: issue 14's target of 10 ms for a 64-node host's facts needs it
# (benchmarks/parse_host.py: the line-by-line reading of that host's 9,412 zoneinfo lines takes
# 8.5 ms, this one 1.0 ms, the whole gather 2.8 ms).  tests/host/formats/test_fast_paths.py and
# the zoneinfo fuzz target hold it equal to the line-by-line reading wherever that succeeds.
#
# The fast reading (counters=False) follows zoneinfo_show_print() where it matters.  Each zone's
# size lines come from one seq_printf(), so they are one contiguous block ("pages free", the
# watermarks, spanned/present/managed/cma, "protection: (...)").  Three passes of the
# regular-expression engine over the whole text find every line that starts with "Node ",
# every "pages free" block and every "start_pfn" with their positions; each must be in the
# kernel's exact form (an optional group that did not match means it is not), and the
# positions say which zone each block and start_pfn belong to.  Up to 4.x the zone counters
# came between the sizes and "protection"; they are skipped, but not one named like a size
# line.  Optional lines are those some kernel version lacks.  Possessive quantifiers: nothing
# here needs backtracking, and they make the block pass a third faster.
_HEADERS = re.compile(r"\nNode (?:(\d++), zone ++(\S++)(?=\n))?")
_SIZES = re.compile(
    r"\n  pages free (?: *+(\d++)"
    r"(?:\n        boost ++\d++)?+"
    r"\n        min ++(\d++)\n        low ++(\d++)\n        high ++(\d++)"
    r"(?:\n        promo ++\d++)?+(?:\n        scanned ++\d++)?+"
    r"\n        spanned ++(\d++)\n        present ++(\d++)"
    r"(?:\n        managed ++(\d++))?+(?:\n        cma ++(\d++))?+"
    r"(?:\n {4,6}+(?! |(?:min|low|high|spanned|present|managed|cma|start_pfn) )[a-z0-9_]++ ++\d++)*+"
    r"\n        protection: \((-?\d++(?:, -?\d++)*+)\)(?=\n|\Z))?"
)
_STARTS = re.compile(r"start_pfn(?:(?<=\n  start_pfn): ++(\d++)(?=\n|\Z))?")
_NO_STATS: Mapping[str, int] = MappingProxyType({})


def _parse_sizes(text: str) -> ZoneInfo | None:
    """Every zone's size lines, read from the kernel's exact layout, column by column.

    Returns None (and the caller parses line by line) when a header, a size block or a
    ``start_pfn`` line is not in the kernel's form, a zone has no size block or two, or a size
    line is missing in its exact form but present in another: the fast reading never guesses.
    Where the line-by-line reading succeeds both give the same values (a test and a fuzz
    target check it; that reading rejects a zone with a size line twice, so both read the
    same line).  The lines between the size lines (counters, pagesets) are not looked at.
    """
    if not text.startswith("Node "):
        return None
    body = "\n" + text
    # Every line that starts with "Node " (where the line-by-line reading starts a zone) must be
    # a header: one the fast reading did not recognise would merge two zones.
    headers = list(_HEADERS.finditer(body))
    count = len(headers)
    nodes, names = zip(*map(re.Match.groups, headers), strict=True)
    if None in nodes:
        return None
    heads = list(map(re.Match.start, headers))
    # One size block per zone, in the kernel's form: a garbled header that is not a "Node " line
    # any more would otherwise merge two zones (the line-by-line reading rejects such a file).
    blocks = list(_SIZES.finditer(body))
    columns = list(zip(*map(re.Match.groups, blocks), strict=True))
    if len(blocks) != count or None in columns[0] or len(set(_owners(heads, blocks))) != count:
        return None
    free, min_wm, low_wm, high_wm, spanned, present, managed, cma, protection = columns
    # start_pfn: every occurrence in its exact form, at most one per zone (an unpopulated zone
    # has none).
    starts: list[str | None] = [None] * count
    found = list(_STARTS.finditer(body))
    if found:
        values = list(map(re.Match.group, found, repeat(1)))
        owners = _owners(heads, found)
        if None in values or len(set(owners)) != len(owners):
            return None
        for owner, value in zip(owners, values, strict=True):
            starts[owner] = value
    for key, column in (("managed", managed), ("cma", cma)):
        if None in column:
            ends = [*heads[1:], len(body)]
            if any(_named(body[heads[i] : ends[i]], key) for i, value in enumerate(column) if value is None):
                return None
    # Zones of a kind (every node's unpopulated DMA, ...) share their protection tuple.
    protections = {p: tuple(map(int, p.split(", "))) for p in set(protection)}
    zones = build_columns(
        Zone,
        count,
        {
            "node": list(map(int, nodes)),
            "name": list(names),
            "free_pages": list(map(int, free)),
            "spanned_pages": list(map(int, spanned)),
            "present_pages": list(map(int, present)),
            "managed_pages": _ints(managed),
            "cma_pages": _ints(cma),
            "min_wmark_pages": list(map(int, min_wm)),
            "low_wmark_pages": list(map(int, low_wm)),
            "high_wmark_pages": list(map(int, high_wm)),
            "zone_start_pfn": _ints(starts),
            "protection": list(map(protections.__getitem__, protection)),
            "stats": [_NO_STATS] * count,
        },
    )
    return ZoneInfo(tuple(zones))


def _owners(heads: list[int], found: list[re.Match[str]]) -> list[int]:
    """The zone (index into ``heads``, the header positions) each match lies in."""
    return [i - 1 for i in map(bisect, repeat(heads), map(re.Match.start, found))]


def _ints(texts: Sequence[str | None]) -> list[int | None]:
    """The numbers of a column in which some zones may have no value."""
    if None not in texts:
        return list(map(int, texts))  # type: ignore[arg-type]
    return [None if text is None else int(text) for text in texts]


def _named(block: str, key: str) -> bool:
    """True when a line of ``block`` could be read as ``key`` by the line-by-line parser.

    That parser strips a line and reads ``key value`` or ``key: value``; any occurrence of
    ``key`` between whitespace and whitespace or a colon counts (``nr_free_cma`` does not).
    """
    padded = block + "\n"
    end = len(key)
    at = padded.find(key)
    while at >= 0:
        if padded[at - 1].isspace() and (padded[at + end] == ":" or padded[at + end].isspace()):
            return True
        at = padded.find(key, at + 1)
    return False


class _ZoneBuilder:
    """The lines of one zone collected so far."""

    __slots__ = ("free", "header_line", "name", "node", "protection", "stats")

    def __init__(self, node: int, name: str, header_line: int) -> None:
        self.node = node
        self.name = name
        self.header_line = header_line
        self.free: int | None = None
        self.protection: tuple[int, ...] | None = None
        self.stats: dict[str, int] = {}

    def store(self, key: str, value: int, lineno: int, path: str) -> None:
        """Keep a ``key value`` line of the zone; a size line the zone already has is an error."""
        if key in _SIZE_NAMES and key in self.stats:
            raise SourceError(
                f"zone {self.name} of node {self.node} has a second {key!r} line",
                path=path,
                line=lineno,
            )
        self.stats[key] = value

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
            protection=() if self.protection is None else self.protection,
            stats=MappingProxyType(stats),
        )


def _header(line: str, lineno: int, path: str) -> tuple[int, str]:
    """Parse ``Node N, zone NAME`` (or ``Node N, per-node stats``) into ``(N, NAME)``."""
    node_text, comma, rest = line[len("Node ") :].partition(",")
    node_text = node_text.strip()  # int() strips less than str.strip() does ("\x1c" and kin)
    rest = rest.strip()
    if comma and is_decimal(node_text):
        if rest == "per-node stats":
            return int(node_text), rest
        kind, _, name = rest.partition(" ")
        name = name.strip()
        if kind == "zone" and name and " " not in name:
            return int(node_text), name
    raise SourceError(f"expected 'Node N, zone NAME', got {excerpt(line)}", path=path, line=lineno)


def _counter(stripped: str, lineno: int, path: str) -> tuple[str, int] | None:
    """A ``name value`` counter line; None for a bare number (a counter with an empty name)."""
    name, _, value = stripped.rpartition(" ")
    name = name.strip()
    if not name:
        _number(value, "counter", lineno, path)
        return None
    return name, _number(value, name, lineno, path)


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
