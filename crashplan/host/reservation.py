"""The crash kernel reservation a source shows: the "Crash kernel" regions, ``kexec_crash_size``, the ``,cma`` ranges.

Authoritative sources: ``kernel/crash_reserve.c`` (``crashk_res`` and ``crashk_low_res`` are both named
"Crash kernel" in /proc/iomem; children of System RAM outside s390) and ``kernel/ksysfs.c``
(``kexec_crash_size``: both areas, CMA excluded; ``kexec_crash_loaded``; ``kexec_crash_cma_ranges``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from crashplan.host.formats.iomem import KERNEL_IMAGE_NAMES, IomemMap, Resource, ram_subtree
from crashplan.host.formats.iomem import reserved as iomem_reserved
from crashplan.host.formats.sysfs import (
    parse_cma_ranges,
    parse_kexec_crash_loaded,
    parse_kexec_crash_size,
)
from crashplan.host.gathering import FactLog, Reader
from crashplan.units import GiB, format_human
from crashplan.values import MemRange

__all__ = ["crash_region_names", "read_kexec_files", "read_layout", "reservation_total"]

_T = TypeVar("_T")

_LOW_LIMIT = 4 * GiB  # CRASH_ADDR_LOW_MAX: the low area of crashkernel=,high lies below it


def crash_region_names(regions: tuple[MemRange, ...]) -> tuple[str, ...]:
    """Name the "Crash kernel" ranges: with two, the one below 4 GiB is ``crashkernel-low``.

    ``crashk_low_res`` and ``crashk_res`` carry the same name in iomem; the low one is the
    ``crashkernel=,low`` area below ``CRASH_ADDR_LOW_MAX`` (kernel/crash_reserve.c).

    >>> crash_region_names((MemRange(0x69000000, 0x79000000), MemRange(0x858000000, 0x878000000)))
    ('crashkernel-low', 'crashkernel')
    >>> crash_region_names((MemRange(0xaf000000, 0xbf000000),))
    ('crashkernel',)
    """
    if len(regions) == 2:
        low = [r.end <= _LOW_LIMIT for r in regions]
        if low.count(True) == 1:
            return tuple("crashkernel-low" if is_low else "crashkernel" for is_low in low)
    return ("crashkernel",) * len(regions)


def _sorted_ranges(resources: Iterable[Resource]) -> tuple[MemRange, ...]:
    """The resources' ranges in address order."""
    return tuple(sorted(res.range for res in resources))


def read_layout(
    f: FactLog, iomem: IomemMap | None
) -> tuple[tuple[MemRange, ...], MemRange | None, tuple[MemRange, ...], tuple[MemRange, ...], int]:
    """RAM, kernel image, nested reservations and crash regions from /proc/iomem.

    Only the top level and the subtrees of System RAM are looked at: "Kernel code" and, outside
    s390, "Crash kernel" are children of System RAM (kernel/resource.c),
    and a big map's PCI subtrees are thousands of lines that hold neither.  The last value is
    the number of "Crash kernel" lines, which a map without addresses still shows.
    """
    keys = ("ram", "kernel_image", "reserved", "crash_regions")
    if iomem is None:
        for key in keys:
            f.prov[key] = "unknown: /proc/iomem is absent"
        return (), None, (), (), 0
    top = iomem.resources
    nested = ram_subtree(iomem)
    crash = [res for res in top if res.name == "Crash kernel"]
    crash += [res for res in nested if res.name == "Crash kernel"]
    if not iomem.addresses_visible:
        for key in keys:
            f.prov[key] = "unknown: /proc/iomem was read without root (every address is 0)"
        return (), None, (), (), len(crash)
    ram = _sorted_ranges(res for res in top if res.name == "System RAM")
    f.prov["ram"] = "top-level System RAM in /proc/iomem"
    image = [res for res in nested if res.name in KERNEL_IMAGE_NAMES]
    kernel_image = None
    if image:
        kernel_image = MemRange(min(res.start for res in image), max(res.end for res in image))
        f.prov["kernel_image"] = "'Kernel code' to 'Kernel bss' inside System RAM in /proc/iomem"
    else:
        f.prov["kernel_image"] = "unknown: no 'Kernel code' line in /proc/iomem"
    reserved = tuple(sorted(iomem_reserved(iomem)))  # the one rule: formats/iomem.reserved()
    f.prov["reserved"] = "'reserved' nested inside System RAM in /proc/iomem"
    regions = _sorted_ranges(crash)
    f.prov["crash_regions"] = (
        "'Crash kernel' in /proc/iomem" if regions else "no 'Crash kernel' line in /proc/iomem"
    )
    return ram, kernel_image, reserved, regions, len(crash)


def read_kexec_files(r: Reader, f: FactLog) -> tuple[int | None, bool | None, tuple[MemRange, ...] | None]:
    """``kexec_crash_size``, ``kexec_crash_loaded`` and ``kexec_crash_cma_ranges`` from /sys/kernel, each None when absent."""
    size = _read_kexec(r, f, "kexec_crash_size", "crash_size", parse_kexec_crash_size, " (no CONFIG_KEXEC_CORE, or not captured)")
    loaded = _read_kexec(r, f, "kexec_crash_loaded", "crash_loaded", parse_kexec_crash_loaded)
    cma = _read_kexec(r, f, "cma_ranges", "crash_cma_ranges", parse_cma_ranges, " (kernels before the CMA export)")
    return size, loaded, cma


def _read_kexec(r: Reader, f: FactLog, key: str, name: str, parse: Callable[..., _T], why_absent: str = "") -> _T | None:
    """The fact ``key`` from ``/sys/kernel/kexec_<name>`` (or ``/sys/kernel/kexec/<name>``), with its provenance."""
    text, relpath = r.first(f"sys/kernel/kexec_{name}", f"sys/kernel/kexec/{name}")
    if text is None:
        f.prov[key] = f"unknown: /sys/kernel/kexec_{name} is absent{why_absent}"
        return None
    f.prov[key] = f"/{relpath}"
    return parse(text, path=r.path(relpath))


def reservation_total(
    f: FactLog,
    iomem: IomemMap | None,
    arch: str | None,
    regions: tuple[MemRange, ...],
    crash_lines: int,
    kexec_size: int | None,
) -> int | None:
    """Bytes reserved for the crash kernel (main plus low area; CMA not included)."""
    if regions:
        total = sum(r.size for r in regions)
        where = f.prov.get("crash_regions", "")
        f.prov["reservation_total"] = f"sum of {where}" if where.startswith("the kernel log") else "sum of the 'Crash kernel' ranges in /proc/iomem"
        if kexec_size is not None and kexec_size != total:
            f.note(
                "warning",
                "crash-size-mismatch",
                f"/sys/kernel/kexec_crash_size says {format_human(kexec_size)} but /proc/iomem "
                f"shows {format_human(total)} of 'Crash kernel'",
            )
        return total
    if kexec_size is not None:
        f.prov["reservation_total"] = "/sys/kernel/kexec_crash_size"
        return kexec_size
    # powerpc never exported the area to iomem (arch_add_crash_res_to_iomem() is false).
    if iomem is not None and crash_lines == 0 and arch != "ppc64le":
        f.prov["reservation_total"] = "no 'Crash kernel' line in /proc/iomem"
        return 0
    f.prov["reservation_total"] = "unknown: no 'Crash kernel' addresses and no /sys/kernel/kexec_crash_size"
    return None
