"""What crashplan assumes about a kernel whose version a host does not tell.

Several ``crashkernel=`` rules changed over time (shared/reference/kernel-crashkernel.md,
section 4): the 128 MiB round-up of RAM in range matching (about v6.2), ``size >= RAM`` being
-EINVAL (v6.11), the ``,cma`` suffix (v6.17 on x86_64, v6.19 on powerpc).  When the version is
unknown, every command evaluates the two ends of that history, the oldest kernel crashplan
mirrors and the newest, and reports the worse; it never silently assumes the newest.
"""

from __future__ import annotations

from crashplan.kernel.features import DEFAULT_KERNEL_VERSION, Features, KernelVersion, features_for

__all__ = ["OLDEST_KERNEL_VERSION", "feature_cases"]

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
