"""Constants of the footprint model derived from real crash dumps (tests/data/kdump-trials).

Each trial of ``tests/kernel/kdump.py`` bisected the smallest ``crashkernel=X`` with which a
real kernel, booted under QEMU, wrote a dump with ``kexec -s -p`` and ``makedumpfile -d 31``;
:func:`calibrate` turns those into the profile constants ``kernel_runtime_base`` and
``kexec_segments`` (tests/planning/test_footprint.py checks the profiles hold exactly these values).
Kept apart from :mod:`crashplan.planning.footprint` so that estimating, on every host, does not load it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crashplan.planning.footprint import PAGE, STRUCT_PAGE, round_up
from crashplan.units import MiB

__all__ = ["Calibration", "TrialPoint", "calibrate"]


@dataclass(frozen=True, slots=True)
class TrialPoint:
    """One bisected setup of tests/data/kdump-trials: the smallest crashkernel=X that dumped."""

    name: str
    ram: int
    kernel_size: int
    initrd_size: int
    initrd_tmpfs: int
    cma: int | None
    min_crashkernel: int
    step: int


@dataclass(frozen=True, slots=True)
class Calibration:
    """Constants derived from the trials, as upper envelopes (every trial is covered)."""

    kernel_runtime_base: int
    kexec_segments: int
    trials: int


def calibrate(points: Iterable[TrialPoint], page_size: int = PAGE) -> Calibration:
    """Derive ``kernel_runtime_base`` and ``kexec_segments`` from bisected trials.

    Without CMA, the smallest working X must hold everything:
    ``X * (1 - 64/4096) >= kernel + initrd + tmpfs + bitmap + segments + base``; the base is
    the largest value the trials require (so the estimate covers every trial).  With CMA the
    standard part holds the fixed part only: ``X >= kernel + initrd + segments``.
    """
    points = list(points)
    segments = 0
    for p in points:
        if p.cma:
            segments = max(segments, p.min_crashkernel - p.kernel_size - p.initrd_size)
    segments = max(segments, 0)
    base = 0
    for p in points:
        if p.cma:
            continue
        usable = p.min_crashkernel * (page_size - STRUCT_PAGE) // page_size
        bitmap = min(4 * MiB, p.ram // page_size * 2 // 8)
        need = p.kernel_size + p.initrd_size + p.initrd_tmpfs + bitmap + segments
        base = max(base, usable - need)
    return Calibration(round_up(base, MiB), round_up(segments, 64 * 1024), len(points))
