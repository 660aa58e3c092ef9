"""What crashplan assumes about a kernel whose version a host does not tell.

Several ``crashkernel=`` rules changed over time (shared/reference/kernel-crashkernel.md,
section 4): the 128 MiB round-up of RAM in range matching (about v6.2), ``size >= RAM`` being
-EINVAL (v6.11), the ``,cma`` suffix (v6.17 on x86_64, v6.19 on powerpc).  When the version is
unknown, every command evaluates the two ends of that history, the oldest kernel crashplan
mirrors and the newest, and reports the worse; it never silently assumes the newest.
"""

from __future__ import annotations

from crashplan.kernel.crashkernel import Decision, decide
from crashplan.kernel.features import DEFAULT_KERNEL_VERSION, Features, KernelVersion, features_for
from crashplan.units import format_size
from crashplan.values import Finding

__all__ = ["OLDEST_KERNEL_VERSION", "feature_cases", "version_dependence"]

# RHEL 7's kernel: the oldest in the samples that wrote a real vmcore; every switch of
# Features is off there (each one is later than v3.10).
OLDEST_KERNEL_VERSION = KernelVersion(3, 10)


def feature_cases(arch: str, version: KernelVersion | None) -> tuple[Features, ...]:
    """The kernels to evaluate: the one given, else the oldest and the newest mirrored.

    >>> [str(f.version) for f in feature_cases("x86_64", None)]
    ['3.10', '7.3']
    >>> [str(f.version) for f in feature_cases("x86_64", KernelVersion(6, 1))]
    ['6.1']
    """
    if version is not None:
        return (features_for(arch, version),)
    return (features_for(arch, OLDEST_KERNEL_VERSION), features_for(arch, DEFAULT_KERNEL_VERSION))


def _reserves(d: Decision) -> str:
    if not d.ok:
        return "reserves nothing" + (f" but {format_size(d.cma_size)} of CMA" if d.reserves_cma else "")
    parts = [format_size(d.crash_size)] + ([f"{format_size(d.low_size)} low"] if d.high and d.low_size else [])
    parts += [f"{format_size(d.cma_size)} of CMA"] if d.reserves_cma else []
    return "reserves " + " + ".join(parts)


def version_dependence(cmdline: str, system_ram: int, arch: str) -> Finding | None:
    """A ``version-dependent`` warning when the oldest and newest kernels reserve differently.

    >>> version_dependence("crashkernel=4G-:256M", (4 << 30) - (1 << 20), "x86_64").message
    'the kernel version is unknown: Linux 7.3 reserves 256M, but a kernel as old as 3.10 reserves nothing (give --kernel-version X.Y)'
    >>> version_dependence("crashkernel=256M", 4 << 30, "x86_64") is None
    True
    """
    old, new = feature_cases(arch, None)
    then, now = _reserves(decide(cmdline, system_ram, old)), _reserves(decide(cmdline, system_ram, new))
    if then == now:
        return None
    return Finding(
        "warning",
        "version-dependent",
        f"the kernel version is unknown: Linux {new.version} {now}, but a kernel as old as {old.version} {then} (give --kernel-version X.Y)",
    )
