"""``/proc/iomem``: the kernel's tree of physical memory resources.

Authoritative source: ``kernel/resource.c: r_show()``, which prints one resource per line as
``"%*s%0*llx-%0*llx : %s\\n"`` -- ``depth * 2`` spaces of indentation (``depth`` capped at
``MAX_IORES_LEVEL`` = 5), the start and the **inclusive** end in hex zero-padded to 8 digits, and
the resource name.  The nesting is the resource tree: "Kernel code" and, on x86/arm64/riscv/
loongarch, "Crash kernel" are children of the "System RAM" they sit in; on s390 "Crash kernel"
is a top-level resource (``arch/s390/kernel/setup.c: reserve_crashkernel()`` inserts it at the top).

Ranges are converted to crashplan's half-open ``[start, end)`` here: ``Resource.end`` is the
printed end plus one.

Without ``CAP_SYS_ADMIN`` ``r_show()`` prints every address as 0 ("/proc/iomem: only expose
physical resource addresses to privileged users", Linux 4.15).  Such a map still parses, with
``addresses_visible=False``; the helpers that need addresses then raise a :class:`SourceError`
with the hint to run as root or use a snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import repeat
from operator import lt, sub
from typing import cast

from crashplan.errors import SourceError
from crashplan.values import MemRange

__all__ = [
    "KERNEL_IMAGE_NAMES",
    "IomemMap",
    "Resource",
    "crash_kernel",
    "find",
    "format_iomem",
    "kernel_image",
    "parse_iomem",
    "ram_subtree",
    "reserved",
    "system_ram",
    "walk",
]

_U64_MAX = (1 << 64) - 1
KERNEL_IMAGE_NAMES = frozenset({"Kernel code", "Kernel rodata", "Kernel data", "Kernel bss"})
_HIDDEN_HINT = "run as root or use a snapshot taken as root"

# One line of r_show() output, unanchored: the whole text is cut with one re.split() (a single
# pass in C) instead of a regex or several str.partition() calls per line in Python.  The text is
# valid exactly when the pieces between the matches are all "\n" (see parse_iomem).  Parsing a
# multi-thousand-line map is dominated by per-line interpreter work, so only what must be done
# per line is done per line.
_LINE = re.compile(r"( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : ([^\n]*)")
_LINE_FULL = re.compile(r"( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)")
# Indentation -> depth; odd widths map to None.  r_show() caps depth at MAX_IORES_LEVEL (5);
# deeper indentation is accepted anyway in case that constant ever grows.
_DEPTH_OF_INDENT = {" " * (2 * depth): depth for depth in range(64)}


@dataclass(frozen=True, slots=True)
class Resource:
    """One line of ``/proc/iomem``: a physical address range ``[start, end)`` and its name.

    ``end`` is exclusive (the file's inclusive end plus one).  ``depth`` is the nesting level
    (0 = top level) and ``children`` the resources nested directly inside this one.  When the
    map was read without root (``IomemMap.addresses_visible`` is false) ``start`` and ``end``
    are both 0.
    """

    start: int
    end: int
    name: str
    depth: int = 0
    children: tuple[Resource, ...] = ()

    @property
    def size(self) -> int:
        """Bytes covered by the resource."""
        return self.end - self.start

    @property
    def range(self) -> MemRange:
        """The resource as a :class:`~crashplan.values.MemRange`."""
        return MemRange(self.start, self.end)


@dataclass(frozen=True, slots=True)
class IomemMap:
    """The parsed ``/proc/iomem``: the top-level resources, in file order.

    ``addresses_visible`` is false when the file was read without ``CAP_SYS_ADMIN`` and every
    address is 0.  ``path`` is where the text came from, for error messages only.
    """

    resources: tuple[Resource, ...]
    addresses_visible: bool = True
    path: str = field(default="/proc/iomem", compare=False, repr=False)




def parse_iomem(
    text: str, *, path: str = "/proc/iomem"
) -> IomemMap:
    """Parse the text of ``/proc/iomem`` into a resource tree.

    Tolerates one extra leading space on the first line (seen in real reports) and blank lines
    at the end of the text.  Raises :class:`SourceError` naming the line for anything else that
    ``r_show()`` cannot have printed: a malformed line, a bad hex address, an end before its
    start, odd indentation, a jump of more than one nesting level, a child outside its parent,
    or a last line without its newline (a truncated file).

    >>> m = parse_iomem("00001000-0009ffff : System RAM\\n00100000-bfffffff : System RAM\\n"
    ...                 "  01000000-01ffffff : Kernel code\\n")
    >>> [(hex(r.start), hex(r.end), r.name) for r in m.resources]
    [('0x1000', '0xa0000', 'System RAM'), ('0x100000', '0xc0000000', 'System RAM')]
    >>> m.resources[1].children[0].name
    'Kernel code'
    """
    body = text.rstrip("\n")
    if not body:
        raise SourceError("empty file: expected at least one resource line", path=path, line=1)
    if not text.endswith("\n"):
        raise SourceError(
            "last line is not terminated by a newline (file truncated?)",
            path=path,
            line=body.count("\n") + 1,
        )
    return _parse_lines(body, path)


def _parse_lines(body: str, path: str) -> IomemMap:
    """Check and build every line of ``body`` (the text without its final newlines)."""
    lines_total = body.count("\n") + 1
    pieces = _LINE.split(body)
    separators = pieces[5:-1:5]
    if (
        pieces[0]
        or pieces[-1]
        or len(separators) != lines_total - 1
        or separators.count("\n") != len(separators)
    ):
        _raise_first_bad_line(body, path)
    if "\r" in body:
        raise SourceError(
            "carriage return in line (CRLF line endings?)",
            path=path,
            line=body.count("\n", 0, body.index("\r")) + 1,
            hint="convert the file to LF line endings",
        )
    indents = pieces[1::5]
    start_texts = pieces[2::5]
    end_texts = pieces[3::5]
    names = pieces[4::5]

    if indents[0] == " ":
        # A report script put one extra space before the first line
        # (samples/arm64-rpi4-4g-cma512m/SOURCE.txt); r_show() never prints odd indentation.
        indents[0] = ""
    maybe_depths = list(map(_DEPTH_OF_INDENT.get, indents))
    if None in maybe_depths:
        i = maybe_depths.index(None)
        width = len(indents[i])
        raise SourceError(
            f"odd indentation ({width} spaces): nesting is 2 spaces per level"
            if width & 1
            else f"indentation of {width} spaces is deeper than any resource tree",
            path=path,
            line=i + 1,
        )
    depths = cast("list[int]", maybe_depths)
    if depths[0] != 0:
        raise SourceError(
            f"first resource is indented {depths[0]} level(s): it has no parent",
            path=path,
            line=1,
        )
    if lines_total > 1 and max(map(sub, depths[1:], depths)) > 1:
        i = next(i for i in range(1, lines_total) if depths[i] - depths[i - 1] > 1)
        raise SourceError(
            f"indented {depths[i] - depths[i - 1]} levels deeper than the line before "
            "(2 spaces per level)",
            path=path,
            line=i + 1,
        )

    starts = list(map(int, start_texts, repeat(16)))
    last = list(map(int, end_texts, repeat(16)))
    if max(starts) > _U64_MAX or max(last) > _U64_MAX:
        i = next(i for i in range(lines_total) if max(starts[i], last[i]) > _U64_MAX)
        raise SourceError(
            f"address {_line_range(start_texts[i], end_texts[i])} does not fit in 64 bits",
            path=path,
            line=i + 1,
        )
    if any(map(lt, last, starts)):
        i = next(i for i in range(lines_total) if last[i] < starts[i])
        raise SourceError(
            f"inclusive end 0x{last[i]:x} is before start 0x{starts[i]:x}",
            path=path,
            line=i + 1,
        )

    visible = any(starts) or any(last)
    ends = [e + 1 for e in last] if visible else last
    return IomemMap(_build_tree(depths, starts, ends, names, visible, path), visible, path)


def _build_tree(
    depths: list[int],
    starts: list[int],
    ends: list[int],
    names: list[str],
    visible: bool,
    path: str,
) -> tuple[Resource, ...]:
    """Create the Resource tree bottom-up, walking the lines from the last to the first.

    Going backwards, every child is complete before its parent is reached, so each Resource is
    created once, already holding its children tuple.  ``pending[d]`` collects (in reverse) the
    finished resources at depth ``d`` whose parent has not been reached yet.
    """
    pending: list[list[Resource]] = [[] for _ in range(max(depths) + 2)]
    for depth, start, end, name in zip(
        depths[::-1], starts[::-1], ends[::-1], names[::-1], strict=True
    ):
        kids = pending[depth + 1]
        children: tuple[Resource, ...] = ()
        if kids:
            kids.reverse()
            if visible:
                for kid in kids:
                    if kid.start < start or kid.end > end:
                        _raise_outside_parent(depths, starts, ends, path)
            children = tuple(kids)
            kids.clear()
        pending[depth].append(Resource(start, end, name, depth, children))
    top = pending[0]
    top.reverse()
    return tuple(top)


def _raise_outside_parent(depths: list[int], starts: list[int], ends: list[int], path: str) -> None:
    """Find the first resource that is not inside its parent and raise for it."""
    parents: list[int] = []  # line indexes of the open ancestors, outermost first
    for j, depth in enumerate(depths):
        del parents[depth:]
        if parents:
            p = parents[-1]
            if starts[j] < starts[p] or ends[j] > ends[p]:
                raise SourceError(
                    f"resource {starts[j]:08x}-{ends[j] - 1:08x} is not inside its parent "
                    f"{starts[p]:08x}-{ends[p] - 1:08x} (line {p + 1})",
                    path=path,
                    line=j + 1,
                )
        parents.append(j)
    raise AssertionError("unreachable: a child outside its parent was seen")  # pragma: no cover


def _raise_first_bad_line(body: str, path: str) -> None:
    """Diagnose the first line the fast pattern rejected, with a message for its fault."""
    for i, line in enumerate(body.split("\n")):
        if _LINE_FULL.fullmatch(line):
            continue
        stripped = line.lstrip(" ")
        if not stripped.strip():
            raise SourceError("empty line inside the resource list", path=path, line=i + 1)
        addresses, sep, _name = stripped.partition(" : ")
        if not sep:
            raise SourceError(
                f"expected '<start>-<end> : <name>', got {_excerpt(stripped)}",
                path=path,
                line=i + 1,
            )
        start, dash, end = addresses.partition("-")
        if not dash:
            raise SourceError(
                f"expected '<start>-<end>' before ' : ', got {_excerpt(addresses)}",
                path=path,
                line=i + 1,
            )
        bad = start if not _is_hex(start) else end
        raise SourceError(f"bad hex address {_excerpt(bad)}", path=path, line=i + 1)
    raise AssertionError("unreachable: every line matched")  # pragma: no cover


def _is_hex(text: str) -> bool:
    """True when ``text`` is one or more ASCII hex digits and nothing else.

    >>> _is_hex("fffffff000000000"), _is_hex("0x10"), _is_hex(""), _is_hex("1_0")
    (True, False, False, False)
    """
    return bool(text) and text.isascii() and all(c in "0123456789abcdefABCDEF" for c in text)


def _excerpt(text: str, limit: int = 40) -> str:
    """``repr()`` of ``text``, shortened to about ``limit`` characters.

    >>> _excerpt("x" * 50)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'"
    """
    return repr(text if len(text) <= limit else text[: limit - 1] + "...")


def _line_range(start: str, end: str) -> str:
    """The address part of a line as printed, shortened for messages."""
    text = f"{start}-{end}"
    return text if len(text) <= 40 else text[:39] + "..."


def format_iomem(iomem: IomemMap) -> str:
    """Render a map back to ``/proc/iomem`` text (inclusive ends, 8-digit padding).

    ``parse_iomem(format_iomem(m)) == m``, and formatting a parsed file gives back the file
    minus the tolerated oddities (an extra first-line space, trailing blank lines).

    >>> text = "00000000-00000fff : Reserved\\n00001000-0009ffff : System RAM\\n"
    >>> format_iomem(parse_iomem(text)) == text
    True
    """
    out: list[str] = []
    visible = iomem.addresses_visible
    for depth, res in walk(iomem):
        last = res.end - 1 if visible else 0
        out.append(f"{'  ' * depth}{res.start:08x}-{last:08x} : {res.name}\n")
    return "".join(out)


def walk(iomem: IomemMap) -> Iterator[tuple[int, Resource]]:
    """Yield ``(depth, resource)`` for every resource, in file order (depth first).

    >>> m = parse_iomem("00100000-bfffffff : System RAM\\n  01000000-01ffffff : Kernel code\\n")
    >>> [(d, r.name) for d, r in walk(m)]
    [(0, 'System RAM'), (1, 'Kernel code')]
    """
    stack = [iter(iomem.resources)]
    while stack:
        res = next(stack[-1], None)
        if res is None:
            stack.pop()
            continue
        yield len(stack) - 1, res
        if res.children:
            stack.append(iter(res.children))


def find(iomem: IomemMap, *names: str) -> tuple[Resource, ...]:
    """Every resource (at any depth) whose name is one of ``names``, in file order.

    Works on maps read without root too (the addresses are then 0).
    """
    wanted = frozenset(names)
    return tuple(res for _depth, res in walk(iomem) if res.name in wanted)


def system_ram(iomem: IomemMap) -> tuple[MemRange, ...]:
    """The top-level "System RAM" ranges.

    Their sum is crashplan's proxy for the kernel's ``memblock_phys_mem_size()``, the system RAM
    ``parse_crashkernel()`` matches ranges against.  Raises :class:`SourceError` when the
    map was read without root.

    >>> system_ram(parse_iomem("00001000-0009ffff : System RAM\\n000a0000-000bffff : PCI Bus\\n"))
    (MemRange(start=4096, end=655360),)
    """
    _require_addresses(iomem, "System RAM")
    return tuple(MemRange(r.start, r.end) for r in iomem.resources if r.name == "System RAM")


def crash_kernel(iomem: IomemMap) -> tuple[MemRange, ...]:
    """The "Crash kernel" ranges at any depth (nested in System RAM on x86/arm64, top level on s390).

    ``crashk_res`` and ``crashk_low_res`` are both named "Crash kernel"; tell them apart by
    address (kernel/crash_reserve.c).  Raises :class:`SourceError` when the map was read
    without root; use ``find(m, "Crash kernel")`` to learn only whether one exists.
    """
    _require_addresses(iomem, "Crash kernel")
    return tuple(r.range for r in find(iomem, "Crash kernel"))


def kernel_image(iomem: IomemMap) -> tuple[MemRange, ...]:
    """The running kernel's "Kernel code/rodata/data/bss" ranges, in file order.

    Old kernels have no "Kernel rodata" line.  Raises :class:`SourceError` when the map was
    read without root.
    """
    _require_addresses(iomem, "Kernel code")
    return tuple(r.range for r in find(iomem, *KERNEL_IMAGE_NAMES))


def ram_subtree(iomem: IomemMap) -> tuple[Resource, ...]:
    """Every resource nested (at any depth) inside a top-level "System RAM", in file order.

    "Kernel code" and, outside s390, "Crash kernel" sit there; a big map's PCI subtrees, which
    hold neither, are thousands of lines that need no walking.
    """
    out: list[Resource] = []
    for top in iomem.resources:
        if top.children and top.name == "System RAM":
            stack = list(reversed(top.children))
            while stack:
                res = stack.pop()
                out.append(res)
                stack.extend(reversed(res.children))
    return tuple(out)


def reserved(iomem: IomemMap) -> tuple[MemRange, ...]:
    """The reservations inside System RAM that user space sees, in file order.

    The resources named "reserved" (any case) nested inside a top-level "System RAM": memblock
    reservations the kernel reports (device-tree ``reserved-memory`` on arm64, firmware areas).
    A top-level "reserved" line is an e820/ACPI hole outside RAM, not a reservation of RAM.
    Raises :class:`SourceError` when the map was read without root.
    """
    _require_addresses(iomem, "reserved")
    return tuple(res.range for res in ram_subtree(iomem) if res.name.lower() == "reserved")


def _require_addresses(iomem: IomemMap, what: str) -> None:
    """Raise when the map's addresses were hidden from a non-root reader."""
    if not iomem.addresses_visible:
        raise SourceError(
            f"cannot read {what!r} ranges: every address is 0 (read without root)",
            path=iomem.path,
            hint=_HIDDEN_HINT,
            code="iomem-addresses-hidden",
        )
