"""The kernel log lines that tell where early-boot memory went: the initrd, the crash areas.

Authoritative sources: ``arch/x86/kernel/setup.c`` (``early_reserve_initrd()`` prints
``RAMDISK: [mem %#010llx-%#010llx]`` with the page-aligned end minus one;
``relocate_initrd()`` prints ``Allocated new RAMDISK: [mem %#010llx-%#010llx]`` and
``Move RAMDISK from [mem ...] to [mem %#010llx-%#010llx]`` with the unaligned end minus one),
``kernel/crash_reserve.c`` (the ``crashkernel`` lines: ``crashkernel reserved: %#018llx - %#018llx
(%lld MB)`` with the end exclusive, and ``crashkernel low memory reserved:``), the per-arch
``reserve_crashkernel()`` it replaced (``arch/x86/kernel/setup.c`` before Linux 6.7, arm, sh:
``Reserving %ldMB of memory at %ldMB for crashkernel (System RAM: %ldMB)``, the RAM being
``memblock_phys_mem_size()``) and ``mm/cma.c`` (``cma: Reserved``).
Lines may carry the ``[    0.000000] `` timestamp of ``dmesg``; it is removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crashplan.values import MemRange

__all__ = ["KERNEL_LOG_FILES", "Dmesg", "crash_log_lines", "parse_dmesg"]

KERNEL_LOG_FILES = ("dmesg.txt", "sos_commands/kernel/dmesg", "var/log/dmesg")
"""Where a host tree keeps the kernel log: a crashplan snapshot, a sosreport, Debian's boot log."""

_PAGE = 4096
_STAMP = re.compile(r"^\[\s*\d+\.\d+\] ", re.MULTILINE)
_MEM = re.compile(r"\[mem (0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)\]")
_PRESENT = re.compile(r"^Memory: \d+K/(\d+)K available")
_RESERVED = re.compile(r"^crashkernel (?:low memory )?reserved: (0x[0-9a-fA-F]+) - (0x[0-9a-fA-F]+) \(\d+ MB\)")
_RESERVING = re.compile(r"^Reserving (\d+)MB of memory at (\d+)MB for crashkernel \(System (low )?RAM: (\d+)MB\)")


@dataclass(frozen=True, slots=True)
class Dmesg:
    """What the kernel log says about early boot memory.

    ``initrd`` is where the initrd was when the crash kernel was placed (after a move), with
    the end rounded up to a page as memblock reserves it; ``present`` is the second number
    of the ``Memory: .../...K available`` line in bytes.  ``crash_regions`` are the crash
    kernel areas the log says were reserved, in address order, and ``system_ram`` the RAM
    the older ``Reserving ...`` line counted, in bytes (whole MiB, rounded down by the kernel).
    """

    lines: tuple[str, ...]
    initrd: MemRange | None
    present: int | None
    crash_regions: tuple[MemRange, ...] = ()
    system_ram: int | None = None


def parse_dmesg(text: str) -> Dmesg:
    """Read the kernel log (``dmesg`` output, with or without timestamps).

    >>> parse_dmesg("[    0.000000] RAMDISK: [mem 0xbfee4000-0xbffdffff]\\n").initrd
    MemRange(start=3220062208, end=3221094400)
    >>> d = parse_dmesg("Reserving 161MB of memory at 704MB for crashkernel (System RAM: 4095MB)")
    >>> d.crash_regions, d.system_ram >> 20
    ((MemRange(start=738197504, end=907018240),), 4095)
    >>> parse_dmesg("crashkernel reserved: 0x00000000af000000 - 0x00000000bf000000 (256 MB)").crash_regions
    (MemRange(start=2936012800, end=3204448256),)
    """
    # splitlines() knows more line breaks than "\n" (a CR among them): the lines are cut first,
    # then joined with "\n" so that one pass removes every line's timestamp.
    lines = tuple(_STAMP.sub("", "\n".join(text.splitlines())).split("\n")) if text else ()
    initrd = None
    present = None
    regions: list[MemRange] = []
    system_ram = None
    for line in lines:
        if line.startswith(("RAMDISK: ", "Move RAMDISK from ")):
            matches = _MEM.findall(line)
            if matches:
                start, last = (int(v, 16) for v in matches[-1])
                end = -(-(last + 1) // _PAGE) * _PAGE
                initrd = MemRange(start, end)
        elif line.startswith("Memory: "):
            m = _PRESENT.match(line)
            if m:
                present = int(m.group(1)) * 1024
        elif line.startswith("crashkernel "):
            m = _RESERVED.match(line)
            if m:
                regions.append(MemRange(int(m.group(1), 16), int(m.group(2), 16)))
        elif line.startswith("Reserving "):
            m = _RESERVING.match(line)
            if m:
                size, base = int(m.group(1)) << 20, int(m.group(2)) << 20
                regions.append(MemRange(base, base + size))
                if not m.group(3):
                    system_ram = int(m.group(4)) << 20
    return Dmesg(lines, initrd, present, tuple(sorted(set(regions))), system_ram)


def crash_log_lines(dmesg: Dmesg) -> tuple[str, ...]:
    """The lines the crash-kernel reservation writes: parsing warnings, the reservations, CMA."""
    out = []
    for line in dmesg.lines:
        if "command line:" in line.lower():
            continue
        if line.startswith(("crashkernel", "crahskernel", "cma: ", "cannot allocate crashkernel", "Crash kernel")) or (
            line.startswith("Reserving ") and "for crashkernel" in line
        ):
            out.append(line)
    return tuple(out)
