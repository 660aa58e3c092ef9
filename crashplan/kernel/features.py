"""Kernel versions and the per-architecture switches of ``crashkernel=`` handling.

Which suffixes an arch reads, whether ``,cma`` exists, whether system RAM is rounded up before
ranges are matched: each switch is tied to the kernel commit that introduced it
(``kernel/crash_reserve.c`` and the arch ``setup.c``/``init.c`` callers).  This is the one
architecture table: names, aliases and switches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from crashplan.errors import ParseError
from crashplan.units import MiB

__all__ = ["ARCHES", "DEFAULT_KERNEL_VERSION", "Features", "KernelVersion", "canonical_arch", "features_for", "parse_kernel_version", "vendor_auto_kernel"]

ARCHES = ("x86_64", "arm64", "riscv64", "loongarch64", "ppc64le", "s390x")
# Every spelling of an arch that crashplan meets: ``uname -m``, Debian's architecture names
# (amd64, ppc64el, loong64), toolchain triplets (powerpc64le) and the kernel's own directory
# names (arch/loongarch).
_ARCH_ALIASES = {
    "aarch64": "arm64",
    "amd64": "x86_64",
    "ppc64el": "ppc64le",
    "powerpc64le": "ppc64le",
    "loong64": "loongarch64",
    "loongarch": "loongarch64",
}


def canonical_arch(word: str) -> str | None:
    """crashplan's name for an architecture spelled ``word``, or None when it is not one.

    >>> canonical_arch("aarch64"), canonical_arch("ppc64el"), canonical_arch("sparc64")
    ('arm64', 'ppc64le', None)
    """
    name = _ARCH_ALIASES.get(word, word)
    return name if name in ARCHES else None


class KernelVersion(NamedTuple):
    """A kernel ``major.minor`` version; behaviour switches compare against it.

    A named tuple rather than a frozen dataclass: it orders like a version for free, and it
    is on the start-up path of every command (a dataclass costs a millisecond to define).
    """

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


# The newest kernel whose crashkernel= code crashplan mirrors: the Debian kernel that
# tests/kernel/ boots as the oracle (7.3.4 from trixie-backports when this was written).
DEFAULT_KERNEL_VERSION = KernelVersion(7, 3)


def parse_kernel_version(release: str) -> KernelVersion:
    """Read ``major.minor`` from a kernel release or a version given by a user.

    >>> parse_kernel_version("6.17"), parse_kernel_version("7.2.3+deb14-amd64")
    (KernelVersion(major=6, minor=17), KernelVersion(major=7, minor=2))
    >>> parse_kernel_version("4.18.0-80.11.2.el8_0.x86_64")
    KernelVersion(major=4, minor=18)
    """
    text = release.strip()
    parts = text.split(".", 2)
    if len(parts) >= 2 and parts[0].isdigit() and parts[0].isascii():
        digits = ""
        for c in parts[1]:
            if not ("0" <= c <= "9"):
                break
            digits += c
        if digits and len(parts[0]) < 6 and len(digits) < 6:
            return KernelVersion(int(parts[0]), int(digits))
    raise ParseError(
        "kernel version: expected MAJOR.MINOR such as 6.17", source=release, span=(0, max(1, len(release)))
    )


class Features(NamedTuple):
    """What one kernel build on one architecture does with ``crashkernel=``.

    (A named tuple for the same start-up reason as :class:`KernelVersion`.)

    :param suffixes: the ``suffix_tbl`` of ``get_last_crashkernel()``; ``,cma`` only from 6.17.
    :param generic: ``CONFIG_ARCH_HAS_GENERIC_CRASHKERNEL_RESERVATION`` (the ``,high``/``,cma``
        block of ``parse_crashkernel()`` is compiled in).
    :param has_high: the arch passes ``high``/``low_size`` (x86_64, arm64, riscv64, loongarch64).
    :param has_cma: the arch passes ``cma_size`` (x86_64 from 6.17, ppc64le from 6.19).
    :param cma_despite_error: the CMA area is reserved even when ``parse_crashkernel()`` fails
        (ppc64le: ``kdump_cma_reserve()`` in arch/powerpc/kexec/core.c ignores the return code).
    :param round_ram_128m: ranges match RAM rounded up to 128 MiB (since about 6.2).
    :param rejects_size_ge_ram: ``crash_size >= system_ram`` is -EINVAL (since 6.11).
    :param default_low_size: ``DEFAULT_CRASH_KERNEL_LOW_SIZE`` of the arch.
    """

    arch: str
    version: KernelVersion
    suffixes: tuple[str, ...]
    generic: bool
    has_high: bool
    has_cma: bool
    cma_despite_error: bool
    round_ram_128m: bool
    rejects_size_ge_ram: bool
    default_low_size: int

    @property
    def cma_in_suffix_table(self) -> bool:
        """True when ``,cma`` tokens are recognised (and so skipped by the plain lookup)."""
        return ",cma" in self.suffixes


_V = KernelVersion


@lru_cache(maxsize=128)
def features_for(arch: str = "x86_64", version: KernelVersion | str | None = None) -> Features:
    """The :class:`Features` of ``arch`` at kernel ``version`` (default: the newest mirrored).

    Cached: a fleet asks for the same few (arch, version) pairs for every host.

    >>> features_for("x86_64", "6.16").has_cma, features_for("x86_64", "6.17").has_cma
    (False, True)
    >>> features_for("aarch64").arch
    'arm64'
    """
    name = canonical_arch(arch)
    if name is None:
        raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ARCHES)})")
    if version is None:
        v = DEFAULT_KERNEL_VERSION
    elif isinstance(version, str):
        v = parse_kernel_version(version)
    else:
        v = version
    # Since Linux kernel commit 35c18f2933c5 ("kdump: add crashkernel cma suffix") (in v6.17).
    suffixes = (",high", ",low", ",cma") if v >= _V(6, 17) else (",high", ",low")
    # x86_64 default low size: crash_low_size_default() = max(swiotlb_size_or_default() + 8M,
    # 256M), arch/x86/include/asm/crash_reserve.h; the default swiotlb is 64 MiB, so 256 MiB.
    low = {"x86_64": 256 * MiB, "arm64": 128 * MiB, "riscv64": 128 * MiB, "loongarch64": 128 * MiB}
    return Features(
        arch=name,
        version=v,
        suffixes=suffixes,
        generic=name != "s390x",
        has_high=name in ("x86_64", "arm64", "riscv64", "loongarch64"),
        # x86: commit bf8be1c36108 ("x86: implement crashkernel cma reservation") (in v6.17);
        # powerpc: "powerpc/kdump: Add support for crashkernel CMA reservation" (in v6.19).
        has_cma=(name == "x86_64" and v >= _V(6, 17)) or (name == "ppc64le" and v >= _V(6, 19)),
        cma_despite_error=name == "ppc64le",
        # "kdump: round up the total memory size to 128M for crashkernel reservation" (about v6.2).
        round_ram_128m=v >= _V(6, 2),
        # "crash: fix crash memory reserve exceed system memory bug" (in v6.11).
        rejects_size_ge_ram=v >= _V(6, 11),
        default_low_size=low.get(name, 0),
    )


# RHEL 6, 7 and 8 kernels carry a patch, never upstream, that turns crashkernel=auto into a size
# of their own (RHEL 7 x86_64: 161 MiB + 64 MiB per TiB from 2 GiB up); RHEL 9 dropped it.
# (a pattern text, compiled on first use: this module is on explain's start-up path)
_RHEL_AUTO_RELEASE = r"\.el[678](?:_\d+)?(?:\.|$)"


def vendor_auto_kernel(release: str | None, tokens: Iterable[str]) -> bool:
    """True when every ``crashkernel=`` token is ``auto`` and the kernel is a RHEL 6 to 8 build.

    Such a kernel reserves what its patch computes, which crashplan does not model; the mainline
    rules (``decide()``) reject ``auto`` and reserve nothing.

    >>> vendor_auto_kernel("3.10.0-229.11.1.el7.x86_64", ["crashkernel=auto"])
    True
    >>> vendor_auto_kernel("4.18.0-80.11.2.el8_0.x86_64", ["crashkernel=auto", "crashkernel=256M"])
    False
    >>> vendor_auto_kernel("5.14.0-427.el9.x86_64", ["crashkernel=auto"]), vendor_auto_kernel(None, ["crashkernel=auto"])
    (False, False)
    """
    words = list(tokens)
    if not words or any(w.lower() != "crashkernel=auto" for w in words):
        return False
    return release is not None and re.search(_RHEL_AUTO_RELEASE, release) is not None
