"""``/proc/buddyinfo``: free blocks per order in each zone's buddy allocator.

Authoritative source: ``mm/vmstat.c: frag_show_print()``, which prints
``"Node %d, zone %8s "`` and then ``"%6lu "`` for each order ``0 .. NR_PAGE_ORDERS-1``
(``MAX_ORDER`` before 6.8): the number of free blocks of ``2**order`` pages.  crashplan uses it
to judge fragmentation: a crashkernel or CMA area needs contiguous free memory, and only the
high orders provide it.  Counts are kept as printed; byte helpers take the page size
explicitly because the file does not state it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt, is_decimal, table_lines
from crashplan.values import build_columns

__all__ = ["BuddyInfo", "BuddyZone", "parse_buddyinfo"]


@dataclass(frozen=True, slots=True)
class BuddyZone:
    """One line of ``/proc/buddyinfo``: ``free[order]`` free blocks of ``2**order`` pages."""

    node: int
    zone: str
    free: tuple[int, ...]

    @property
    def free_pages(self) -> int:
        """Free pages in the zone, summed over all orders.

        >>> BuddyZone(0, "DMA", (1, 0, 2)).free_pages
        9
        """
        return sum(count << order for order, count in enumerate(self.free))

    def free_bytes(self, page_size: int) -> int:
        """Free bytes in the zone for the given page size."""
        return self.free_pages * page_size

    @property
    def largest_order(self) -> int | None:
        """The highest order with a free block, or None when nothing is free.

        >>> BuddyZone(0, "DMA", (1, 0, 2, 0)).largest_order
        2
        """
        for order in range(len(self.free) - 1, -1, -1):
            if self.free[order]:
                return order
        return None

    def largest_block_bytes(self, page_size: int) -> int:
        """Size in bytes of the largest free contiguous block (0 when nothing is free)."""
        order = self.largest_order
        return 0 if order is None else page_size << order


@dataclass(frozen=True, slots=True)
class BuddyInfo:
    """All zones of ``/proc/buddyinfo``, in file order."""

    zones: tuple[BuddyZone, ...]

    def get(self, node: int, zone: str) -> BuddyZone | None:
        """The line for ``zone`` of ``node``, or None when the file has no such zone."""
        return next((z for z in self.zones if z.node == node and z.zone == zone), None)


def parse_buddyinfo(text: str, *, path: str = "/proc/buddyinfo") -> BuddyInfo:
    """Parse the text of ``/proc/buddyinfo``.

    Raises :class:`SourceError` naming the line for a line not of the form
    ``Node N, zone NAME c0 c1 ...``, a count that is not a decimal number, a line with a
    different number of orders than the first, or a last line without its newline.

    >>> b = parse_buddyinfo("Node 0, zone      DMA      1      0      3 \\n")
    >>> b.zones[0]
    BuddyZone(node=0, zone='DMA', free=(1, 0, 3))
    """
    lines = table_lines(text, path=path, expected="'Node N, zone NAME ...' lines")
    if _SHAPE.fullmatch(text):
        # Every line in the kernel's shape: cut and convert column by column.
        rows = [line.split() for line in lines]
        if len(set(map(len, rows))) == 1:
            return BuddyInfo(
                tuple(
                    build_columns(
                        BuddyZone,
                        len(rows),
                        {
                            "node": [int(row[1][:-1]) for row in rows],
                            "zone": [row[3] for row in rows],
                            "free": [tuple(map(int, row[4:])) for row in rows],
                        },
                    )
                )
            )
    return _parse_lines(lines, path)


# frag_show_print()'s lines: "Node %d, zone %8s " and then "%6lu " per order.
_SHAPE = re.compile(r"(?:Node [0-9]++, zone ++[^\s]++(?: ++[0-9]++)++ *+\n)++")


def _parse_lines(lines: list[str], path: str) -> BuddyInfo:
    """The line-by-line reading, which names the line at fault."""
    zones: list[BuddyZone] = []
    orders: int | None = None
    for lineno, line in enumerate(lines, 1):
        words = line.split()
        if (
            len(words) < 5
            or words[0] != "Node"
            or words[2] != "zone"
            or not words[1].endswith(",")
            or not is_decimal(words[1][:-1])
        ):
            raise SourceError(
                f"expected 'Node N, zone NAME count...', got {excerpt(line)}",
                path=path,
                line=lineno,
            )
        counts = words[4:]
        joined = "".join(counts)  # one check for the whole line; the culprit only on failure
        if not (joined.isascii() and joined.isdigit()):
            bad = next(c for c in counts if not is_decimal(c))
            raise SourceError(
                f"free-block count {excerpt(bad)} is not a decimal number", path=path, line=lineno
            )
        if orders is None:
            orders = len(counts)
        elif len(counts) != orders:
            raise SourceError(
                f"{len(counts)} orders where line 1 has {orders}", path=path, line=lineno
            )
        zones.append(BuddyZone(int(words[1][:-1]), words[3], tuple(map(int, counts))))
    return BuddyInfo(tuple(zones))
