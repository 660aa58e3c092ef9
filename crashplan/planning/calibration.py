"""Constants of the footprint model derived from real crash dumps (tests/data/kdump-trials).

Each trial of ``tests/kernel/kdump.py`` bisected the smallest ``crashkernel=X`` with which a
real kernel, booted under QEMU, wrote a dump with ``kexec -s -p`` and ``makedumpfile -d 31``;
:func:`calibrate` turns those into the profile constants ``kernel_runtime_base`` and
``kexec_segments`` (tests/planning/test_footprint.py checks the profiles hold exactly these values).
:func:`calibrate_userspace` does the same for a real distribution's capture path
(tests/data/debian-trials: systemd, udev and kdump-tools from the root file system): what it
needs at run time beyond ``kernel_runtime_base``, the profile constant ``kdump_userspace``.
Kept apart from :mod:`crashplan.planning.footprint` so that estimating, on every host, does not load it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crashplan.planning.footprint import PAGE, STRUCT_PAGE, round_up
from crashplan.units import MiB

__all__ = ["Calibration", "RealPath", "TrialPoint", "calibrate", "calibrate_userspace"]


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


@dataclass(frozen=True, slots=True)
class RealPath:
    """What a real capture path's trials leave for its run time, beyond the measured pieces.

    ``room_max`` is the largest run-time allowance any working minimum leaves (the upper
    envelope, as :func:`calibrate` takes it), ``room_min`` the largest the probes one step
    below leave (they failed, so the path needs more than that); ``kdump_userspace`` is what
    ``room_max`` asks beyond ``kernel_runtime_base``, never below 0.
    """

    kdump_userspace: int
    room_max: int
    room_min: int
    trials: int


def calibrate_userspace(
    points: Iterable[TrialPoint], kernel_runtime_base: int, kexec_segments: int, page_size: int = PAGE
) -> RealPath:
    """Derive ``kdump_userspace`` from bisected trials of a real capture path (no CMA).

    The same model as :func:`calibrate`: ``X * (1 - 64/4096) >= kernel + initrd + tmpfs +
    bitmap + segments + room``; ``room`` at the working minimum is an upper bound of what the
    run time needs, at one step below a lower bound.

    >>> p = TrialPoint("t", 4 << 30, 60 * MiB, 10 * MiB, 30 * MiB, None, 136 * MiB, 8 * MiB)
    >>> r = calibrate_userspace([p], 18 * MiB, 9 * MiB)
    >>> r.kdump_userspace // MiB, r.room_max // MiB, r.room_min // MiB
    (7, 24, 16)
    """
    points = [p for p in points if not p.cma]
    room_max = room_min = 0
    for p in points:
        bitmap = min(4 * MiB, p.ram // page_size * 2 // 8)
        need = p.kernel_size + p.initrd_size + p.initrd_tmpfs + bitmap + kexec_segments
        room_max = max(room_max, p.min_crashkernel * (page_size - STRUCT_PAGE) // page_size - need)
        room_min = max(room_min, (p.min_crashkernel - p.step) * (page_size - STRUCT_PAGE) // page_size - need)
    return RealPath(round_up(max(room_max - kernel_runtime_base, 0), MiB), room_max, room_min, len(points))
