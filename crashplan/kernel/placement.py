"""Where the kernel puts the ``crashkernel=`` reservation: a model of memblock at that moment.

Mirrors, for the decision :func:`crashplan.kernel.syntax.decide` took:

* ``reserve_crashkernel_generic()`` and ``reserve_crashkernel_low()`` (kernel/crash_reserve.c):
  a top-down aligned search in the low window ``[0, CRASH_ADDR_LOW_MAX)``, the fall-back to
  ``[CRASH_ADDR_LOW_MAX, CRASH_ADDR_HIGH_MAX)`` with the default low area, ``X,high`` and its
  fall-back, a fixed ``@offset`` with no fall-back, and all-or-nothing low+high;
* ``reserve_crashkernel_cma()`` (kernel/crash_reserve.c, in v6.17) with
  ``cma_declare_contiguous_nid()`` (mm/cma.c): chunks placed bottom-up from 4 GiB (else
  top-down), pageblock-aligned, the request halved on failure, at most 4 ranges, partial
  results kept;
* ``memblock_phys_alloc_range()`` -> ``memblock_find_in_range_node()`` ->
  ``__memblock_find_range_top_down()`` / ``_bottom_up()`` (mm/memblock.c): the highest
  (lowest) aligned base whose whole area lies in one free range, never page 0;
* the arch callers: x86 ``arch_reserve_crashkernel()``, arm64, riscv, loongarch (generic),
  powerpc (always a fixed base, ``get_crash_base()``), s390 ``reserve_crashkernel()`` (own code).

What user space cannot see is modelled, and said so in :attr:`Layout.occupants`: on x86 the
initrd sits where the boot loader put it (the top of RAM below 4 GiB, moved by the kernel to the
top of RAM when that spot is not usable RAM), and each NUMA node's early allocations (node
data, found by booting the real kernel: they keep ``,high`` one alignment step below the top).
The kernel image is exactly where the capture shows it under ``nokaslr``; with KASLR it can be
anywhere, and :func:`assess` reports whether each area fits wherever it lands.  Sizes and
success are exact claims; addresses are predictions.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import field
from typing import Literal

from crashplan._frozen import frozen
from crashplan.kernel.syntax import Decision
from crashplan.units import GiB, MiB, TiB
from crashplan.values import MemRange

__all__ = [
    "ArchRules",
    "Assessment",
    "Layout",
    "Occupant",
    "Placement",
    "Reservation",
    "WindowLimits",
    "arch_rules",
    "assess",
    "build_layout",
    "memmap_holes",
    "place",
]

PAGE_SIZE = 4096
AreaName = Literal["crashkernel", "crashkernel-low", "crashkernel-cma"]
Verdict = Literal["fits", "fits-some", "never"]

# reserve_crashkernel_cma(): CRASHKERNEL_CMA_RANGES_MAX (include/linux/crash_reserve.h).
CMA_RANGES_MAX = 4
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
    """The per-arch constants of the reservation (shared/reference/kernel-crashkernel.md 2.5).

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


@frozen
class Reservation:
    """One reserved area, half-open; ``kernel/crash_reserve.c`` names them crashk_res,
    crashk_low_res and crashk_cma_ranges[]."""

    name: AreaName
    start: int
    end: int

    @property
    def size(self) -> int:
        """Bytes reserved."""
        return self.end - self.start

    def to_json(self) -> dict[str, object]:
        """``{"name", "start", "end", "size"}``."""
        return {"name": self.name, "start": self.start, "end": self.end, "size": self.size}


@frozen
class Placement:
    """The outcome of one boot: the areas reserved and the kernel's log lines for it.

    ``ok`` is True when the standard area (and its low area) was reserved; ``hang`` when the
    kernel would retry forever (reference 2.2 item 4).  ``cma_reserved`` sums the requested
    chunk sizes, as the kernel's log line does.
    """

    ok: bool
    reservations: tuple[Reservation, ...]
    kernel_log: tuple[str, ...]
    cma_requested: int = 0
    cma_reserved: int = 0
    hang: bool = False

    def area(self, name: AreaName) -> tuple[Reservation, ...]:
        """The reserved areas of one kind."""
        return tuple(r for r in self.reservations if r.name == name)


# --------------------------------------------------------------------------------------------
# The free map and memblock's searches


class _Free:
    """``memblock.memory`` minus ``memblock.reserved``: sorted, disjoint, half-open ranges."""

    __slots__ = ("ranges",)

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        self.ranges = ranges

    def copy(self) -> _Free:
        return _Free(list(self.ranges))

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


def _free_map(layout: Layout, *, kernel_image: MemRange | None) -> _Free:
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
    return _Free(ranges)


# --------------------------------------------------------------------------------------------
# Building a layout from host facts


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
        free = _free_map(draft, kernel_image=kernel_image)
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
    free = _Free([(r.start, r.end) for r in ram])
    if kernel_image is not None:
        free.reserve(kernel_image.start, kernel_image.end)
    moved = free.top_down(area, PAGE_SIZE, 0, ram[-1].end)
    return MemRange(moved, moved + area) if moved else None


# --------------------------------------------------------------------------------------------
# The reservation itself


def place(
    decision: Decision,
    layout: Layout,
    *,
    kernel_image: MemRange | Literal["captured"] | None = "captured",
    _base: _Free | None = None,
) -> Placement:
    """Simulate the boot: what ``arch_reserve_crashkernel()`` reserves, and the log it writes.

    ``kernel_image`` overrides where the image is (for KASLR); by default it is where the
    capture saw it.
    """
    image = layout.kernel_image if kernel_image == "captured" else kernel_image
    if _base is None:
        free = _free_map(layout, kernel_image=image)  # type: ignore[arg-type]
    else:
        free = _base.copy()
        if isinstance(image, MemRange):
            free.reserve(image.start, image.end)
    log = list(decision.messages)
    reservations: list[Reservation] = []
    ok = False
    hang = False
    if decision.ok:
        if layout.arch == "s390x":
            ok = _place_s390(decision, layout, free, reservations, log)
        else:
            size, base = decision.crash_size, decision.crash_base
            if layout.arch == "ppc64le":
                base = base or (layout.rules.fixed_base or 0)
                if image is not None and base < image.end and image.start < base + size:
                    log.append("Crash kernel can not overlap current kernel")
                    base = -1
            if base >= 0:
                ok, hang = _place_generic(size, base, decision.low_size, decision.high, layout, free, reservations, log)
    cma_requested = cma_reserved = 0
    if decision.reserves_cma and not hang:
        cma_requested = decision.cma_size
        cma_reserved = _place_cma(decision.cma_size, layout, free, reservations, log)
    return Placement(ok, tuple(reservations), tuple(log), cma_requested, cma_reserved, hang)


def _place_generic(
    size: int,
    base: int,
    low_size: int,
    high: bool,
    layout: Layout,
    free: _Free,
    out: list[Reservation],
    log: list[str],
) -> tuple[bool, bool]:
    """Mirrors ``reserve_crashkernel_generic()``; returns (reserved, hangs)."""
    align = layout.rules.crash_align
    low_max, high_max = layout.limits.low_max, layout.limits.high_max
    fixed = base != 0
    search_base, search_end = 0, low_max
    if fixed:
        search_base, search_end = base, base + size
    elif high:
        search_base, search_end = low_max, high_max
    while True:
        found = free.alloc(size, align, search_base, search_end)
        if found:
            break
        if fixed:
            log.append("crashkernel reservation failed - memory is in use.")
            return False, False
        if not high and search_end == low_max:
            search_end, search_base = high_max, low_max
            low_size = _default_low(layout)
            if high_max == low_max:
                # Without the x86_32/riscv dead-loop fix the kernel retries [L, L) forever.
                log.append("(the kernel retries the empty window [CRASH_ADDR_LOW_MAX, CRASH_ADDR_HIGH_MAX) forever: boot hangs)")
                return False, True
            continue
        if high and search_end == high_max:
            search_end, search_base = low_max, 0
            if search_end != high_max:
                continue
        log.append(f"cannot allocate crashkernel (size:0x{size:x})")
        return False, False
    if found >= low_max and low_size:
        low = free.alloc(low_size, align, 0, low_max)
        if not low:
            log.append(f"cannot allocate crashkernel low memory (size:0x{low_size:x}).")
            free.free(found, found + size)
            return False, False
        log.append(f"crashkernel low memory reserved: 0x{low:08x} - 0x{low + low_size:08x} ({low_size >> 20} MB)")
        out.append(Reservation("crashkernel-low", low, low + low_size))
    log.append(f"crashkernel reserved: 0x{found:016x} - 0x{found + size:016x} ({size >> 20} MB)")
    out.insert(0, Reservation("crashkernel", found, found + size))
    return True, False


def _default_low(layout: Layout) -> int:
    from crashplan.kernel.syntax import features_for

    return features_for(layout.arch).default_low_size


def _place_cma(cma_size: int, layout: Layout, free: _Free, out: list[Reservation], log: list[str]) -> int:
    """Mirrors ``reserve_crashkernel_cma()`` with ``cma_declare_contiguous()``; returns the
    reserved total as the kernel counts it (the requested chunk sizes)."""
    request = -(-cma_size // PAGE_SIZE) * PAGE_SIZE
    reserved = 0
    count = 0
    while cma_size > reserved and count < CMA_RANGES_MAX:
        addr, real = _cma_declare(request, layout, free)
        if not addr:
            # cma_declare_contiguous_nid() logs every failed attempt (mm/cma.c).
            log.append(f"cma: Failed to reserve {real >> 20} MiB")
            if request <= PAGE_SIZE:
                break
            request = -(-(request // 2) // PAGE_SIZE) * PAGE_SIZE
            continue
        log.append(f"cma: Reserved {real >> 20} MiB at 0x{addr:016x}")
        out.append(Reservation("crashkernel-cma", addr, addr + real))
        count += 1
        reserved += request
    if cma_size > reserved:
        log.append(
            f"crashkernel CMA reservation failed: {cma_size >> 20} MB requested, {reserved >> 20} MB reserved in {count} ranges"
        )
    else:
        log.append(f"crashkernel CMA reserved: {reserved >> 20} MB in {count} ranges")
    return reserved


def _cma_declare(size: int, layout: Layout, free: _Free) -> tuple[int, int]:
    """``cma_declare_contiguous_nid(base=0, size, limit=0, ...)``: (address or 0, real size)."""
    align = layout.rules.cma_align
    # Only the base is pageblock-aligned, the size stays the page-rounded request: measured on
    # Linux 7.2, "crashkernel=64M crashkernel=99M,cma" on a 4 GiB pc guest reserves exactly
    # 0x100000000-0x1062fffff (99 MiB), not the 100 MiB an ALIGN(size, alignment) would give.
    limit = layout.end_of_dram
    addr = 0
    if limit >= 4 * GiB + size:
        addr = free.alloc(size, align, 4 * GiB, limit, bottom_up=True)
    if not addr:
        addr = free.alloc(size, align, 0, limit)
    return addr, size


def _place_s390(decision: Decision, layout: Layout, free: _Free, out: list[Reservation], log: list[str]) -> bool:
    """Mirrors s390 ``reserve_crashkernel()`` (arch/s390/kernel/setup.c), without HSA/oldmem."""
    mb = layout.rules.crash_align
    size = -(-decision.crash_size // mb) * mb
    base = -(-decision.crash_base // mb) * mb
    if not layout.ram or layout.ram[0].size < size:
        log.append("crashkernel reservation failed: first memory chunk must be at least crashkernel size")
        return False
    low = base or max(size, 0)
    high = base + size if base else layout.end_of_dram
    found = free.alloc(size, mb, low, high)
    if not found:
        log.append("crashkernel reservation failed: no suitable area found")
        return False
    ram_mb = sum(r.size for r in layout.ram) >> 20
    log.append(f"Reserving {size >> 20}MB of memory at {found >> 20}MB for crashkernel (System RAM: {ram_mb}MB)")
    out.append(Reservation("crashkernel", found, found + size))
    return True


# --------------------------------------------------------------------------------------------
# Uncertainty: KASLR and the largest sizes that always fit


@frozen
class AreaVerdict:
    """Whether one requested area is reserved wherever the kernel image lands."""

    name: AreaName
    size: int
    verdict: Verdict

    def to_json(self) -> dict[str, object]:
        """``{"name", "size", "verdict"}``."""
        return {"name": self.name, "size": self.size, "verdict": self.verdict}


@frozen
class Assessment:
    """A placement with its uncertainty stated.

    ``placement`` is the predicted boot (image where the capture saw it). ``verdicts`` say per
    area whether it fits wherever the image lands (``fits``), only for some placements
    (``fits-some``) or never. ``max_low``/``max_high`` are the largest sizes guaranteed to fit
    in each window wherever the image lands; ``*_nominal`` with the image where it was.
    ``addresses_exact`` is True when nothing that decides the addresses is modelled.
    """

    placement: Placement
    verdicts: tuple[AreaVerdict, ...]
    max_low: int
    max_high: int
    max_low_nominal: int
    max_high_nominal: int
    addresses_exact: bool
    assumptions: tuple[str, ...] = field(default=())


def assess(decision: Decision, layout: Layout) -> Assessment:
    """Place ``decision`` on ``layout`` and state how sure that is."""
    base = _free_map(layout, kernel_image=None)
    nominal = place(decision, layout, _base=base)
    candidates = _image_candidates(layout, base) if layout.kaslr else []
    outcomes = [nominal, *(place(decision, layout, kernel_image=c, _base=base) for c in candidates)]
    verdicts = []
    wanted: list[tuple[AreaName, int]] = []
    if decision.ok or decision.crash_size:
        # A size the parser rejects (size >= RAM, an invalid token) is a verdict: never.
        wanted.append(("crashkernel", decision.crash_size))
        if decision.high and decision.low_size:
            wanted.append(("crashkernel-low", decision.low_size))
    if decision.reserves_cma:
        wanted.append(("crashkernel-cma", decision.cma_size))
    for name, size in wanted:
        if name == "crashkernel-cma":
            hits = [o.cma_reserved >= o.cma_requested for o in outcomes]
        elif name == "crashkernel-low":
            hits = [bool(o.area("crashkernel-low")) for o in outcomes]
        else:
            hits = [o.ok and decision.ok for o in outcomes]
        verdict: Verdict = "fits" if all(hits) else "fits-some" if any(hits) else "never"
        verdicts.append(AreaVerdict(name, size, verdict))
    image_size = layout.kernel_image.size if layout.kernel_image else 0
    with_image = base.copy()
    if layout.kernel_image is not None:
        with_image.reserve(layout.kernel_image.start, layout.kernel_image.end)
    # Only x86_64's early layout is checked against the real kernel (tests/kernel/).
    exact = layout.arch == "x86_64" and not layout.kaslr and all(o.exact for o in layout.occupants)
    if layout.arch in ("s390x", "ppc64le"):
        # Their own searches (no KASLR on either): the largest size place() reserves is the answer.
        largest = _s390_max(with_image, layout) if layout.arch == "s390x" else _ppc_max(with_image, layout)
        return Assessment(nominal, tuple(verdicts), largest, 0, largest, 0, exact, layout.assumptions)
    low_nominal = _nominal_fit(with_image, layout, 0, layout.limits.low_max)
    high_nominal = _nominal_fit(with_image, layout, layout.limits.low_max, layout.limits.high_max)
    lows = _window_ranges(base, 0, layout.limits.low_max)
    highs = _window_ranges(base, layout.limits.low_max, layout.limits.high_max)
    align = layout.rules.crash_align
    return Assessment(
        placement=nominal,
        verdicts=tuple(verdicts),
        max_low=_guaranteed_fit(lows, align, image_size, layout) if layout.kaslr else low_nominal,
        max_high=_guaranteed_fit(highs, align, image_size, layout) if layout.kaslr else high_nominal,
        max_low_nominal=low_nominal,
        max_high_nominal=high_nominal,
        addresses_exact=exact,
        assumptions=layout.assumptions,
    )


def _s390_max(free: _Free, layout: Layout) -> int:
    """The largest ``crashkernel=`` that s390's ``reserve_crashkernel()`` reserves (no offset).

    The area is searched top-down in ``[size, end of RAM)`` (``low = max(crash_size,
    sclp.hsa_size)``, arch/s390/kernel/setup.c), so it lies at or above its own size: a free
    range ``[s, e)`` holds a 1 MiB-aligned size ``S`` when ``round_down(e, 1M) - S >= max(s, S)``,
    and the first memory chunk must be at least ``S``.  The HSA size is not known from user space.
    """
    mb = layout.rules.crash_align
    best = 0
    for s, e in free.ranges:
        top = e // mb * mb
        s = max(s, PAGE_SIZE)
        if top <= s:
            continue
        best = max(best, min((top - s) // mb * mb, top // 2 // mb * mb))
    first = layout.ram[0].size // mb * mb if layout.ram else 0
    return min(best, first)


def _ppc_max(free: _Free, layout: Layout) -> int:
    """The largest ``crashkernel=`` powerpc reserves: the free extent at ``get_crash_base()``.

    powerpc always takes the fixed-base path of ``reserve_crashkernel_generic()`` (reference 2.9):
    the whole ``[base, base + size)`` must be free; there is no search and no fall-back.
    """
    base = layout.rules.fixed_base or 0
    for s, e in free.ranges:
        if s <= base < e:
            return e - base
    return 0


def _window_ranges(free: _Free, start: int, end: int) -> list[tuple[int, int]]:
    """Free ranges of a window (``free`` without the kernel image)."""
    out = []
    for s, e in free.ranges:
        s, e = max(s, start, PAGE_SIZE), min(e, end)
        if e > s:
            out.append((s, e))
    return out


def _fit(s: int, e: int, align: int) -> int:
    """The largest size whose aligned top-down base lands in ``[s, e)``."""
    base = -(-s // align) * align
    return max(0, e - base)


def _nominal_fit(free: _Free, layout: Layout, start: int, end: int) -> int:
    align = layout.rules.crash_align
    best = 0
    for s, e in free.ranges:
        s, e = max(s, start, PAGE_SIZE), min(e, end)
        if e > s:
            best = max(best, _fit(s, e, align))
    return best


def _guaranteed_fit(ranges: list[tuple[int, int]], align: int, image: int, layout: Layout) -> int:
    """The largest size that fits in one of ``ranges`` wherever an image of ``image`` bytes lands.

    The worst case splits the range with the largest fit as evenly as the image's alignment
    allows; every other range stays whole.
    """
    fits = sorted(((_fit(s, e, align), s, e) for s, e in ranges), reverse=True)
    if not fits:
        return 0
    if not image:
        return fits[0][0]
    second = fits[1][0] if len(fits) > 1 else 0
    best, s, e = fits[0]
    step = layout.rules.kaslr_align
    lo = max(s, layout.rules.kaslr_min)
    lo = -(-lo // step) * step
    if e - lo < image:
        return best  # the image cannot land in this range
    middle = ((s + e - image) // 2) // step * step
    worst = best
    for k in range(-8, 9):
        p = middle + k * step
        if p < lo or p + image > e:
            continue
        worst = min(worst, max(_fit(s, p, align) if p > s else 0, _fit(p + image, e, align)))
    return max(second, worst)


def _image_candidates(layout: Layout, base: _Free) -> list[MemRange]:
    """Kernel image positions that hurt most: the middle of the largest free range of each
    window, and the top of each window's largest range (where top-down searches look first)."""
    if layout.kernel_image is None:
        return []
    size = layout.kernel_image.size
    step = layout.rules.kaslr_align
    out = []
    for start, end in ((0, layout.limits.low_max), (layout.limits.low_max, layout.limits.high_max)):
        ranges = _window_ranges(base, start, end)
        ranges = [(max(s, layout.rules.kaslr_min), e) for s, e in ranges if e - max(s, layout.rules.kaslr_min) >= size]
        if not ranges:
            continue
        s, e = max(ranges, key=lambda r: r[1] - r[0])
        for p in ((s + e - size) // 2 // step * step, (e - size) // step * step, -(-s // step) * step):
            if s <= p and p + size <= e:
                out.append(MemRange(p, p + size))
    return out
