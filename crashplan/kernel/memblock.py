"""memblock at the moment the crash kernel is reserved: what is free, and where a search lands.

Mirrors ``memblock_find_in_range_node()`` -> ``__memblock_find_range_top_down()`` /
``_bottom_up()`` (mm/memblock.c): the highest (lowest) aligned base whose whole area lies in
one free range, never page 0; and builds that free map from a host's RAM ranges, kernel image,
initrd, ``memmap=`` holes and the early per-node allocations (x86 ``alloc_node_data()``,
arch/x86/mm/numa.c), with the per-arch windows of ``arch/*/include/asm/crash_reserve.h``.
"""

from __future__ import annotations

from bisect import bisect_right, insort

from crashplan._frozen import frozen
from crashplan.units import GiB, MiB, TiB
from crashplan.values import MemRange

__all__ = ["PAGE_SIZE", "ArchRules", "FreeMap", "Layout", "Occupant", "WindowLimits", "arch_rules", "build_layout", "free_map", "memmap_holes"]

PAGE_SIZE = 4096
# x86: e820__memblock_setup() / "x86/setup: Always reserve the first 1M of RAM" (in v5.13).
X86_FIRST_MB = 1 * MiB
# The early top-down allocation of each NUMA node before the crash kernel is placed: the node's
# pg_data_t (alloc_node_data(), arch/x86/mm/numa.c), SMP_CACHE_BYTES-aligned.  Measured on
# Debian's 7.3.4 x86_64 kernel with memblock=debug under QEMU: "__memblock_reserve:
# [0x000000023ffd2f40-0x000000023fffdfff] nid=0 ... memblock_alloc_range_nid", 0x2b0c0 bytes.
# It is what keeps ,high one alignment step below the top of RAM.
NODE_DATA_MODEL = 0x2B0C0
NODE_DATA_ALIGN = 64


@frozen
class ArchRules:
    """The per-arch constants of the reservation (``arch/*/include/asm/crash_reserve.h``).

    ``low_max``/``high_max`` of None mean "derived from RAM" (arm64 ``arm64_dma_phys_limit``,
    riscv ``dma32_phys_limit``, ``memblock_end_of_DRAM()``).
    """

    arch: str
    crash_align: int
    low_max: int | None
    high_max: int | None
    cma_align: int
    kaslr_align: int
    kaslr_min: int
    fixed_base: int | None = None  # powerpc: get_crash_base() without an offset


def arch_rules(arch: str) -> ArchRules:
    """The :class:`ArchRules` of ``arch``.

    >>> arch_rules("x86_64").crash_align == 16 * MiB
    True
    """
    if arch == "x86_64":
        # arch/x86/include/asm/crash_reserve.h: CRASH_ALIGN SZ_16M, LOW_MAX SZ_4G, HIGH_MAX SZ_64T;
        # CONFIG_PHYSICAL_ALIGN 2M and LOAD_PHYSICAL_ADDR 16M bound where KASLR puts the image.
        return ArchRules(arch, 16 * MiB, 4 * GiB, 64 * TiB, 2 * MiB, 2 * MiB, 16 * MiB)
    if arch == "arm64":
        return ArchRules(arch, 2 * MiB, None, None, 2 * MiB, 2 * MiB, 0)
    if arch == "riscv64":
        return ArchRules(arch, 2 * MiB, None, None, 2 * MiB, 2 * MiB, 0)
    if arch == "loongarch64":
        return ArchRules(arch, 2 * MiB, 4 * GiB, None, 2 * MiB, 2 * MiB, 0)
    if arch == "ppc64le":
        # get_crash_base(): min(ppc64_rma_size / 2, SZ_512M) on an LPAR; the RMA is at least
        # 1 GiB on current PowerVM and KVM guests, so 512 MiB.  pageblock is 16 MiB with 64K pages.
        return ArchRules(arch, PAGE_SIZE, 4 * GiB, None, 16 * MiB, PAGE_SIZE, 0, fixed_base=512 * MiB)
    if arch == "s390x":
        # KEXEC_CRASH_MEM_ALIGN = HPAGE_SIZE (1 MiB); size and base are rounded up to it.
        return ArchRules(arch, 1 * MiB, None, None, 1 * MiB, 1 * MiB, 0)
    raise ValueError(f"unknown architecture {arch!r}")


@frozen
class Occupant:
    """Memory memblock holds reserved before the crash kernel is placed.

    ``exact`` is True when the capture shows it (kernel image under nokaslr, firmware
    reservations), False when crashplan models it (initrd, early allocations).
    """

    name: str
    range: MemRange
    exact: bool


@frozen
class WindowLimits:
    """The windows of ``reserve_crashkernel_generic()``: ``[0, low_max)`` and ``[low_max, high_max)``."""

    low_max: int
    high_max: int


@frozen
class Layout:
    """Physical memory as memblock sees it when ``arch_reserve_crashkernel()`` runs.

    ``ram`` is ``memblock.memory`` (merged, sorted); ``nodes`` are NUMA node spans (a free range
    never crosses one).  ``kernel_image`` is where the capture saw the image; ``kaslr`` says
    whether it moves at each boot.
    """

    arch: str
    ram: tuple[MemRange, ...]
    occupants: tuple[Occupant, ...]
    kernel_image: MemRange | None
    kaslr: bool
    rules: ArchRules
    limits: WindowLimits
    nodes: tuple[MemRange, ...] = ()
    assumptions: tuple[str, ...] = ()

    @property
    def end_of_dram(self) -> int:
        """``memblock_end_of_DRAM()``."""
        return self.ram[-1].end if self.ram else 0


class FreeMap:
    """``memblock.memory`` minus ``memblock.reserved``: sorted, disjoint, half-open ranges."""

    __slots__ = ("ranges",)

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self.ranges = ranges

    def copy(self) -> FreeMap:
        return FreeMap(list(self.ranges))

    def reserve(self, start: int, end: int) -> None:
        """Take ``[start, end)`` out of the free ranges (a bisection, then a slice)."""
        ranges = self.ranges
        i = max(0, bisect_right(ranges, (start, start)) - 1)
        j = i
        pieces = []
        while j < len(ranges) and ranges[j][0] < end:
            s, e = ranges[j]
            if e > start:
                if s < start:
                    pieces.append((s, start))
                if e > end:
                    pieces.append((end, e))
            else:
                pieces.append((s, e))
            j += 1
        ranges[i:j] = pieces

    def free(self, start: int, end: int) -> None:
        insort(self.ranges, (start, end))

    def is_free(self, start: int, end: int) -> bool:
        return any(s <= start and end <= e for s, e in self.ranges)

    def top_down(self, size: int, align: int, start: int, end: int) -> int:
        """Mirrors ``__memblock_find_range_top_down()``: 0 when nothing fits."""
        start = max(start, PAGE_SIZE)
        end = max(start, end)
        ranges = self.ranges
        k = bisect_right(ranges, (end, end))
        while k > 0:
            k -= 1
            s, e = ranges[k]
            if e <= start:
                break
            s, e = max(s, start), min(e, end)
            if e < size:
                continue
            cand = (e - size) // align * align
            if cand >= s:
                return cand
        return 0

    def bottom_up(self, size: int, align: int, start: int, end: int) -> int:
        """Mirrors ``__memblock_find_range_bottom_up()``: 0 when nothing fits."""
        start = max(start, PAGE_SIZE)
        end = max(start, end)
        ranges = self.ranges
        k = max(0, bisect_right(ranges, (start, start)) - 1)
        for i in range(k, len(ranges)):
            s, e = ranges[i]
            if s >= end:
                break
            s, e = max(s, start), min(e, end)
            cand = -(-s // align) * align
            if cand < e and e - cand >= size:
                return cand
        return 0

    def alloc(self, size: int, align: int, start: int, end: int, *, bottom_up: bool = False) -> int:
        """``memblock_phys_alloc_range()``: find and reserve; 0 on failure."""
        if size <= 0:
            return 0
        found = (self.bottom_up if bottom_up else self.top_down)(size, align, start, end)
        if found:
            self.reserve(found, found + size)
        return found


def free_map(layout: Layout, *, kernel_image: MemRange | None) -> FreeMap:
    """RAM (split at NUMA node boundaries) minus every occupant, in one sorted sweep."""
    cuts = sorted({n.start for n in layout.nodes} | {n.end for n in layout.nodes})
    taken = sorted(
        [(o.range.start, o.range.end) for o in layout.occupants]
        + ([(kernel_image.start, kernel_image.end)] if kernel_image is not None else [])
    )
    ranges: list[tuple[int, int]] = []
    k = 0
    c = 0
    for r in layout.ram:
        start = r.start
        while c < len(cuts) and cuts[c] <= start:
            c += 1
        pieces = []
        while c < len(cuts) and cuts[c] < r.end:
            pieces.append((start, cuts[c]))
            start = cuts[c]
            c += 1
        pieces.append((start, r.end))
        for s, e in pieces:
            while k < len(taken) and taken[k][1] <= s:
                k += 1
            m = k
            while m < len(taken) and taken[m][0] < e:
                ts, te = taken[m]
                if ts > s:
                    ranges.append((s, ts))
                s = max(s, te)
                if te > e:
                    break
                m += 1
            if s < e:
                ranges.append((s, e))
    return FreeMap(ranges)


def memmap_holes(args: tuple[str, ...]) -> tuple[MemRange, ...]:
    """The ranges that ``memmap=SIZE$ADDR`` / ``SIZE!ADDR`` / ``SIZE#ADDR`` take out of RAM.

    >>> memmap_holes(("ro", "memmap=1G$0x80000000"))
    (MemRange(start=2147483648, end=3221225472),)
    """
    from crashplan.units import memparse

    holes = []
    for arg in args:
        if not arg.startswith("memmap="):
            continue
        for item in arg[len("memmap=") :].split(","):
            size = memparse(item)
            if size is None or size.end >= len(item) or item[size.end] not in "$!#":
                continue
            addr = memparse(item, size.end + 1)
            if addr is not None and size.value:
                holes.append(MemRange(addr.value, addr.value + size.value))
    return tuple(sorted(holes, key=lambda r: r.start))


def build_layout(
    arch: str,
    ram: tuple[MemRange, ...],
    *,
    kernel_image: MemRange | None,
    kaslr: bool,
    initrd: MemRange | None = None,
    initrd_size: int | None = None,
    firmware_reserved: tuple[MemRange, ...] = (),
    existing_crash: tuple[MemRange, ...] = (),
    nodes: tuple[MemRange, ...] = (),
    boot_holes: tuple[MemRange, ...] = (),
    dma_limit: int | None = None,
) -> Layout:
    """The memblock layout at crash-kernel time for a captured host.

    :param ram: top-level "System RAM" of the capture.
    :param existing_crash: "Crash kernel" regions of the capture: free again at the next boot
        (on s390 they are carved out of System RAM and are added back).
    :param initrd: where the initrd was (the kernel log's ``RAMDISK:`` line), when known.
    :param initrd_size: its size otherwise, for the modelled position.
    :param boot_holes: ``memmap=`` holes: RAM to the boot loader, not to the kernel.
    :param dma_limit: arm64's ``arm64_dma_phys_limit`` when known (e.g. 1 GiB on a Raspberry Pi 4).
    """
    rules = arch_rules(arch)
    merged = _merge([*ram, *(r for r in existing_crash if arch == "s390x")])
    occupants: list[Occupant] = []
    assumptions: list[str] = []
    if arch == "x86_64":
        occupants.append(Occupant("first 1 MiB", MemRange(0, X86_FIRST_MB), True))
    for r in firmware_reserved:
        occupants.append(Occupant("firmware reserved", r, True))
    end = merged[-1].end if merged else 0
    low_max = rules.low_max
    if arch == "s390x":
        # s390's reserve_crashkernel() has no low and high windows: one search over all RAM.
        low_max = end
    elif low_max is None:
        low_max = min(4 * GiB, end) if arch in ("arm64", "riscv64") else 4 * GiB
        if dma_limit is not None:
            low_max = min(low_max, dma_limit)
    high_max = rules.high_max if rules.high_max is not None else end
    if arch == "x86_64":
        if initrd is not None:
            occupants.append(Occupant("initrd (from the kernel log)", initrd, True))
        elif (modelled := _x86_initrd(merged, boot_holes, initrd_size, kernel_image)) is not None:
            occupants.append(Occupant("initrd (modelled)", modelled, False))
            assumptions.append(
                "the initrd sits at the top of RAM below 4 GiB, where QEMU and GRUB put it "
                "(moved by the kernel to the top of RAM when that spot is a memmap= hole)"
            )
        draft = Layout(arch, merged, tuple(occupants), kernel_image, kaslr, rules, WindowLimits(low_max, high_max), nodes)
        free = free_map(draft, kernel_image=kernel_image)
        for node in nodes or (MemRange(0, end),):
            top = free.top_down(NODE_DATA_MODEL, NODE_DATA_ALIGN, node.start, node.end)
            if top:
                free.reserve(top, top + NODE_DATA_MODEL)
                # Measured, not captured; tests/kernel/ checks the addresses it implies.
                occupants.append(Occupant("node data (modelled)", MemRange(top, top + NODE_DATA_MODEL), True))
        assumptions.append("each NUMA node's pg_data_t (176 KiB, measured on Debian's 7.3 kernel) sits at its top")
    else:
        assumptions.append(f"the initrd and early firmware allocations of {arch} are not modelled")
    if kaslr:
        assumptions.append("KASLR: the kernel image may land anywhere in RAM at the next boot")
    return Layout(
        arch,
        merged,
        tuple(occupants),
        kernel_image,
        kaslr,
        rules,
        WindowLimits(low_max, high_max),
        nodes,
        tuple(assumptions),
    )


def _merge(ranges: list[MemRange]) -> tuple[MemRange, ...]:
    out: list[MemRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if out and r.start <= out[-1].end:
            out[-1] = MemRange(out[-1].start, max(out[-1].end, r.end))
        else:
            out.append(r)
    return tuple(out)


def _x86_initrd(
    ram: tuple[MemRange, ...],
    holes: tuple[MemRange, ...],
    size: int | None,
    kernel_image: MemRange | None,
) -> MemRange | None:
    """Where the initrd is when the crash kernel is placed (x86).

    The boot loader puts it at the top of its RAM below 4 GiB (QEMU: ``initrd_max`` is the end
    of below-4G RAM; GRUB: the highest fit under its limit); ``reserve_initrd()`` moves it to the
    top of RAM (``relocate_initrd()``) when that spot is not RAM for the kernel.
    """
    if not size or not ram:
        return None
    area = -(-size // PAGE_SIZE) * PAGE_SIZE
    loader_ram = _merge([*ram, *holes])
    below = [r for r in loader_ram if r.start < 4 * GiB]
    if not below:
        return None
    top = min(below[-1].end, 4 * GiB)
    start = (top - area) // PAGE_SIZE * PAGE_SIZE
    placed = MemRange(start, start + area)
    if any(r.start <= placed.start and placed.end <= r.end for r in ram):
        return placed
    free = FreeMap([(r.start, r.end) for r in ram])
    if kernel_image is not None:
        free.reserve(kernel_image.start, kernel_image.end)
    moved = free.top_down(area, PAGE_SIZE, 0, ram[-1].end)
    return MemRange(moved, moved + area) if moved else None
