"""Where the kernel puts the ``crashkernel=`` reservation: a model of memblock at that moment.

Mirrors, for the decision :func:`crashplan.kernel.crashkernel.decide` took, on the free map of
:mod:`crashplan.kernel.memblock`:

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

from dataclasses import field
from typing import Literal

from crashplan._frozen import frozen
from crashplan.kernel.crashkernel import Decision
from crashplan.kernel.memblock import PAGE_SIZE, FreeMap, Layout, free_map
from crashplan.units import GiB
from crashplan.values import MemRange

__all__ = ["AreaName", "AreaVerdict", "Assessment", "Placement", "Reservation", "Verdict", "assess", "place"]

AreaName = Literal["crashkernel", "crashkernel-low", "crashkernel-cma"]
Verdict = Literal["fits", "fits-some", "never"]

# reserve_crashkernel_cma(): CRASHKERNEL_CMA_RANGES_MAX (include/linux/crash_reserve.h).
CMA_RANGES_MAX = 4


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


def place(
    decision: Decision,
    layout: Layout,
    *,
    kernel_image: MemRange | Literal["captured"] | None = "captured",
    _base: FreeMap | None = None,
) -> Placement:
    """Simulate the boot: what ``arch_reserve_crashkernel()`` reserves, and the log it writes.

    ``kernel_image`` overrides where the image is (for KASLR); by default it is where the
    capture saw it.
    """
    image = layout.kernel_image if kernel_image == "captured" else kernel_image
    if _base is None:
        free = free_map(layout, kernel_image=image)  # type: ignore[arg-type]
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
    free: FreeMap,
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
    from crashplan.kernel.features import features_for

    return features_for(layout.arch).default_low_size


def _place_cma(cma_size: int, layout: Layout, free: FreeMap, out: list[Reservation], log: list[str]) -> int:
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


def _cma_declare(size: int, layout: Layout, free: FreeMap) -> tuple[int, int]:
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


def _place_s390(decision: Decision, layout: Layout, free: FreeMap, out: list[Reservation], log: list[str]) -> bool:
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
    base = free_map(layout, kernel_image=None)
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


def _s390_max(free: FreeMap, layout: Layout) -> int:
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


def _ppc_max(free: FreeMap, layout: Layout) -> int:
    """The largest ``crashkernel=`` powerpc reserves: the free extent at ``get_crash_base()``.

    powerpc always takes the fixed-base path of ``reserve_crashkernel_generic()`` (reference 2.9):
    the whole ``[base, base + size)`` must be free; there is no search and no fall-back.
    """
    base = layout.rules.fixed_base or 0
    for s, e in free.ranges:
        if s <= base < e:
            return e - base
    return 0


def _window_ranges(free: FreeMap, start: int, end: int) -> list[tuple[int, int]]:
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


def _nominal_fit(free: FreeMap, layout: Layout, start: int, end: int) -> int:
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


def _image_candidates(layout: Layout, base: FreeMap) -> list[MemRange]:
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
