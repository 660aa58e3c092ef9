"""Host facts: one :class:`HostFacts` value of everything crashplan knows about a host, and why.

:func:`gather_facts` reads a :class:`~crashplan.host.sources.Source` (the live host, a snapshot, a
sosreport, a test fixture) through the pure parsers of :mod:`crashplan.host.formats` and records,
for every fact, where it came from (``provenance``).  A file the source does not have is an
absence, not an error; a file that is there but garbled raises the parser's
:class:`~crashplan.errors.SourceError` naming ``source.display(relpath)`` and the line.

Authoritative sources for what the facts mean:

* System RAM as ``parse_crashkernel()`` counts it: ``memblock_phys_mem_size()`` on
  x86, arm64, riscv, loongarch and powerpc, ``ident_map_size`` on s390
  (``arch/s390/kernel/setup.c: reserve_crashkernel``).  crashplan's proxy is the sum of the
  top-level "System RAM" lines of ``/proc/iomem`` (``e820__memblock_setup()`` adds only
  ``E820_TYPE_RAM``), plus, on arm64, the top-level "reserved" lines between RAM ranges (the
  ``nomap`` regions memblock counts but ``request_standard_resources()`` does not call RAM), plus,
  on s390, the top-level "Crash kernel" lines (s390 carves the area out of System RAM).
  Without addresses (non-root) it falls back to ``MemTotal`` (plus ``kexec_crash_size``, which
  ``MemTotal`` excludes), marked as an estimate: ``MemTotal`` is too small (it leaves out
  memblock reservations).
* The reservation: ``crashk_res`` and ``crashk_low_res`` are both named "Crash
  kernel" (kernel/crash_reserve.c) and told apart by address; ``/sys/kernel/kexec_crash_size``
  is their sum; ``,cma`` areas are not in iomem but in ``/sys/kernel/kexec_crash_cma_ranges``
  and in meminfo's ``CmaTotal`` (which counts *every* CMA area).

Facts stay in the shapes a placement model reads directly: ``ram``, ``reserved`` and
``crash_regions`` are tuples of half-open :class:`~crashplan.values.MemRange`, ``kernel_image`` a
``MemRange``.  Provenance and the source's name are kept out of equality (STYLE 11), and are
written with host paths (``/proc/iomem``), so one tree read as a directory and as an archive
gives equal values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from crashplan.errors import ParseError, SourceError
from crashplan.host.bootfiles import (
    BootFiles,
    analyse_boot_files,
    boot_files_to_json,
    find_boot_files,
    parse_stored_boot,
)
from crashplan.host.formats.buddyinfo import BuddyInfo, parse_buddyinfo
from crashplan.host.formats.cmdline import Cmdline, get_param, parse_cmdline
from crashplan.host.formats.cpulist import parse_cpulist
from crashplan.host.formats.dmesg import KERNEL_LOG_FILES, Dmesg, parse_dmesg
from crashplan.host.formats.iomem import IomemMap, Resource, parse_iomem, ram_subtree
from crashplan.host.formats.iomem import reserved as iomem_reserved
from crashplan.host.formats.meminfo import Meminfo, parse_meminfo
from crashplan.host.formats.osrelease import OsRelease, parse_os_release
from crashplan.host.formats.sysfs import (
    parse_cma_ranges,
    parse_kexec_crash_loaded,
    parse_kexec_crash_size,
)
from crashplan.host.formats.zoneinfo import ZoneInfo, parse_zoneinfo
from crashplan.host.platform import LuksDevice, gather_platform, platform_to_json
from crashplan.kernel.crashkernel import Decision, decide
from crashplan.kernel.features import ARCHES, KernelVersion, features_for, parse_kernel_version
from crashplan.units import GiB, format_human
from crashplan.values import Finding, MemRange, Severity, build_columns

if TYPE_CHECKING:
    from crashplan.host.formats.iommu import Iommus
    from crashplan.host.formats.kdumpconf import Family, KdumpConfig
    from crashplan.host.formats.memencrypt import MemEncryption
    from crashplan.host.formats.pcidrivers import PciDrivers
    from crashplan.host.sources import HostInfo, SnapshotInfo, Source

__all__ = [
    "FACT_FILES",
    "KERNEL_LOG_FILES",
    "NON_ROOT_MESSAGE",
    "UNKNOWN_VERSION_RULE",
    "HostFacts",
    "ZoneSpan",
    "crash_region_names",
    "default_snapshot_name",
    "facts_to_json",
    "gather_facts",
    "read_kernel_log",
    "snapshot_extra_files",
]

_P = TypeVar("_P")

#: Every relpath :func:`gather_facts` may read (besides ``boot/`` and ``crashplan-snapshot.json``).
FACT_FILES: tuple[str, ...] = (
    "proc/iomem",
    "proc/meminfo",
    "proc/cmdline",
    "proc/sys/kernel/osrelease",
    "proc/version",
    "proc/zoneinfo",
    "proc/buddyinfo",
    "proc/cpuinfo",
    "sys/devices/system/cpu/online",
    "sys/devices/system/cpu/possible",
    "sys/kernel/kexec_crash_size",
    "sys/kernel/kexec/crash_size",
    "sys/kernel/kexec_crash_loaded",
    "sys/kernel/kexec/crash_loaded",
    "sys/kernel/kexec_crash_cma_ranges",
    "sys/kernel/kexec/crash_cma_ranges",
    "etc/os-release",
    "etc/kdump.conf",
    "etc/sysconfig/kdump",
    "etc/default/kdump-tools",
)

#: What every command assumes about a kernel whose version the source does not tell.
UNKNOWN_VERSION_RULE = (
    "every rule that depends on the version (the 128M round-up of ranges, size >= RAM, ,cma) "
    "is evaluated for the oldest and the newest kernel crashplan mirrors and the worse result is reported; "
    "give --kernel-version X.Y if you know it"
)

#: The finding a map read without root carries (its addresses are all 0).
NON_ROOT_MESSAGE = "placement needs a root capture: run as root or use a root snapshot"

# Absences worth a finding: without these, crashplan knows much less about the host.
_CORE_FILES = ("proc/iomem", "proc/meminfo", "proc/cmdline", "proc/zoneinfo")

_LOW_LIMIT = 4 * GiB  # CRASH_ADDR_LOW_MAX: the low area of crashkernel=,high lies below it
# The top-level resources whose nested lines facts look into (_layout() and _arch_from_iomem();
# the rest, mostly PCI windows on large servers, is checked but not built).
_IOMEM_SUBTREES = frozenset({"System RAM", "reserved", "Reserved"})

# Resources only a PC (e820 firmware, legacy ROMs, the APIC) puts in /proc/iomem.
_PC_RESOURCES = frozenset({"System ROM", "Video ROM", "Adapter ROM", "Local APIC", "IOAPIC 0"})
_KERNEL_IMAGE_NAMES = frozenset({"Kernel code", "Kernel rodata", "Kernel data", "Kernel bss"})
# uname -m -> crashplan's architecture names.
_MACHINES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "riscv64": "riscv64",
    "loongarch64": "loongarch64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}
# Distribution kernel release suffixes (Fedora/RHEL ".x86_64", Debian "-amd64") and
# toolchain triplets in /proc/version ("x86_64-linux-gnu-gcc-14").
_RELEASE_ARCH = re.compile(r"[.\-+_](x86_64|amd64|aarch64|arm64|s390x|ppc64le|ppc64el|riscv64|loong64|loongarch64)$")
_TRIPLET_ARCH = re.compile(r"\b(x86_64|aarch64|s390x|powerpc64le|riscv64|loongarch64)-(?:\w+-)?linux-gnu")
_SUFFIX_ARCHES = {"ppc64el": "ppc64le", "powerpc64le": "ppc64le", "loong64": "loongarch64"}
# Page sizes a kernel can be built with; x86_64, s390x and riscv64 have only 4 KiB base pages.
_PAGE_SIZES = (4096, 16384, 65536)
_FIXED_PAGE_SIZE = {"x86_64": 4096, "s390x": 4096, "riscv64": 4096}
# psutil's virtual_memory().total is MemTotal; allow for a balloon or hot-plug between reads.
_MEM_TOLERANCE = 0.01
# Parameters only one architecture's kernels take: cio_ignore= and the DASD/zFCP boot devices
# of s390 (Documentation/arch/s390/, kernel-parameters.txt).
_CMDLINE_ARCH = (
    ("cio_ignore", "s390x"),
    ("rd.dasd", "s390x"),
    ("rd.zfcp", "s390x"),
    ("dasd", "s390x"),
)


@dataclass(frozen=True, slots=True)
class ZoneSpan:
    """A memory zone of one NUMA node from ``/proc/zoneinfo``, in bytes.

    ``span`` is ``[zone_start_pfn, zone_start_pfn + spanned_pages)`` (holes included), None for an
    unpopulated zone; ``present`` counts physical pages in it, ``managed`` the pages given to
    the buddy allocator (``None`` on kernels that do not print it).
    """

    node: int
    zone: str
    span: MemRange | None
    present: int
    managed: int | None


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What crashplan knows about one host; bytes as ``int``, ranges half-open, absent = None.

    ``provenance`` maps each fact's name to where it came from.  ``crash_regions`` are the
    "Crash kernel" ranges in address order (:func:`crash_region_names` names them);
    ``reservation_total`` is their sum, or ``kexec_crash_size`` when the addresses are hidden.
    ``system_ram_estimated`` is true when ``system_ram`` is not from ``/proc/iomem``.
    ``absent`` lists the host paths that were looked for and not found.
    """

    arch: str | None
    kernel_release: str | None
    kernel_version: KernelVersion | None
    page_size: int | None
    system_ram: int | None
    system_ram_estimated: bool
    mem_total: int | None
    addresses_visible: bool
    ram: tuple[MemRange, ...]
    kernel_image: MemRange | None
    reserved: tuple[MemRange, ...]
    crash_regions: tuple[MemRange, ...]
    reservation_total: int | None
    kexec_crash_size: int | None
    kexec_crash_loaded: bool | None
    cma_total: int | None
    cma_ranges: tuple[MemRange, ...] | None
    cpus_online: int | None
    cpus_possible: int | None
    numa_nodes: tuple[int, ...] | None
    zones: tuple[ZoneSpan, ...]
    buddyinfo: BuddyInfo | None
    cmdline: str | None
    cmdline_crashkernel: Decision | None
    distro: OsRelease | None
    kdump: KdumpConfig | None
    kdump_files: tuple[str, ...]
    boot_files: BootFiles
    absent: tuple[str, ...]
    findings: tuple[Finding, ...]
    provenance: Mapping[str, str] = field(compare=False, hash=False, repr=False)
    source: str = field(default="", compare=False)
    # Platform facts that cost the capture kernel memory (crashplan.host.platform).
    mem_encryption: MemEncryption | None = None
    pci_drivers: PciDrivers | None = None
    iommus: Iommus | None = None
    luks_devices: tuple[LuksDevice, ...] | None = None
    dump_protocol: str | None = None

    @property
    def named_crash_regions(self) -> tuple[tuple[str, MemRange], ...]:
        """``(name, range)`` for every crash region: ``crashkernel`` or ``crashkernel-low``."""
        return tuple(zip(crash_region_names(self.crash_regions), self.crash_regions, strict=True))


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


# --------------------------------------------------------------------------------------------
# Gathering


class _Reader:
    """Reads files of a source, recording absences and (for optional files) unreadable ones."""

    __slots__ = ("absent", "cache", "findings", "source")

    def __init__(self, source: Source) -> None:
        self.source = source
        self.cache: dict[str, str | None] = {}
        self.absent: list[str] = []
        self.findings: list[Finding] = []

    def text(self, relpath: str) -> str | None:
        """The file's text, None when absent; unreadable optional files count as absent."""
        if relpath in self.cache:
            return self.cache[relpath]
        self.cache[relpath] = text = self._read(relpath)
        return text

    def _read(self, relpath: str) -> str | None:
        try:
            text = self.source.read_text(relpath)
        except SourceError as e:
            # /proc is what crashplan is about: an unreadable file there is an error.  An
            # unreadable /etc or /sys file (a 0600 config) only costs that fact.
            if relpath.startswith("proc/") or e.code != "unreadable":
                raise
            self.findings.append(
                Finding("warning", "unreadable-file", f"/{relpath}: {e.one_line()}; treated as absent")
            )
            self.absent.append("/" + relpath)
            return None
        if text is None:
            self.absent.append("/" + relpath)
        return text

    def first(self, *relpaths: str) -> tuple[str | None, str]:
        """The text of the first of ``relpaths`` present, and its relpath.

        When none is present only the first (the usual name) is recorded as absent.
        """
        for relpath in relpaths:
            text = self.text(relpath)
            if text is not None:
                return text, relpath
        for relpath in relpaths[1:]:
            self.absent.remove("/" + relpath)
        return None, relpaths[0]

    def path(self, relpath: str) -> str:
        return self.source.display(relpath)

    def parse(self, relpath: str, kind: str, parse: Callable[[str, str], _P]) -> _P:
        """Parse a /proc table, skipping what pasting a capture adds (:mod:`crashplan.host.formats.pasted`)."""

        text = self.cache[relpath]
        assert text is not None
        path = self.path(relpath)
        try:
            return parse(text, path)
        except SourceError:
            pass  # the tolerant reading below parses again and raises the error if it stands
        from crashplan.host.formats.pasted import parse_tolerant

        return parse_tolerant(lambda t: parse(t, path), text, path=path, kind=kind, findings=self.findings)


class _Facts:
    """The facts and their provenance while they are being gathered."""

    __slots__ = ("findings", "prov")

    def __init__(self) -> None:
        self.prov: dict[str, str] = {}
        self.findings: list[Finding] = []

    def note(self, severity: Severity, code: str, message: str) -> None:
        self.findings.append(Finding(severity, code, message))


def gather_facts(source: Source, *, arch: str | None = None, kernel_version: str | None = None) -> HostFacts:
    """Read everything crashplan uses from ``source`` into one :class:`HostFacts`.

    ``arch`` and ``kernel_version`` (``--arch``, ``--kernel-version``) replace what the source
    tells or what crashplan would infer; they are applied before anything depends on them (the
    kernel's RAM count differs per architecture).

    :raises SourceError: a file is present but garbled or truncated (naming
        ``source.display(relpath)`` and the line), or a /proc file cannot be read.
    """
    r = _Reader(source)
    f = _Facts()
    stored = None if source.is_live else source.snapshot_info()
    info = _host_info(source, stored)

    iomem_text = r.text("proc/iomem")
    iomem = None if iomem_text is None else r.parse("proc/iomem", "iomem", lambda t, p: parse_iomem(t, path=p, subtrees=_IOMEM_SUBTREES))
    meminfo_text = r.text("proc/meminfo")
    meminfo = None if meminfo_text is None else r.parse("proc/meminfo", "meminfo", lambda t, p: parse_meminfo(t, path=p))
    cmdline_text = r.text("proc/cmdline")
    cmdline = None if cmdline_text is None else parse_cmdline(cmdline_text, path=r.path("proc/cmdline"))
    f.prov["cmdline"] = "/proc/cmdline" if cmdline is not None else "unknown: /proc/cmdline is absent"

    release, version = _kernel_release(r, f, info, cmdline, kernel_version)
    arch = _given_arch(f, arch) if arch is not None else _arch(r, f, info, release, iomem, cmdline)
    visible = iomem is not None and iomem.addresses_visible
    if iomem is None:
        f.prov["addresses_visible"] = "unknown: /proc/iomem is absent"
    elif visible:
        f.prov["addresses_visible"] = "/proc/iomem shows real addresses (read as root)"
    else:
        f.prov["addresses_visible"] = "/proc/iomem shows every address as 0 (read without root)"
    if (iomem is not None and not visible) or (iomem is None and info is not None and info.root is False):
        f.note("warning", "iomem-addresses-hidden", NON_ROOT_MESSAGE)

    mem_total = _mem_total(f, meminfo, info, source.is_live)
    cma_total = None if meminfo is None else meminfo.cma_total
    f.prov["cma_total"] = (
        "CmaTotal in /proc/meminfo (every CMA area, not only crashkernel=,cma)"
        if cma_total is not None
        else ("unknown: /proc/meminfo is absent" if meminfo is None else "no CmaTotal in /proc/meminfo (CONFIG_CMA off)")
    )

    ram, kernel_image, reserved, crash_regions, crash_lines = _layout(f, iomem)
    kexec_size = _kexec_crash_size(r, f)
    kexec_loaded = _kexec_crash_loaded(r, f)
    cma_ranges = _cma_ranges(r, f)
    total = _reservation_total(f, iomem, arch, crash_regions, crash_lines, kexec_size)
    system_ram, estimated = _system_ram(f, iomem, arch, ram, mem_total, kexec_size)

    zoneinfo_text = r.text("proc/zoneinfo")
    zoneinfo = None if zoneinfo_text is None else r.parse("proc/zoneinfo", "zoneinfo", lambda t, p: parse_zoneinfo(t, path=p, counters=False))
    buddy_text = r.text("proc/buddyinfo")
    buddyinfo = None if buddy_text is None else r.parse("proc/buddyinfo", "buddyinfo", lambda t, p: parse_buddyinfo(t, path=p))
    f.prov["buddyinfo"] = "/proc/buddyinfo" if buddyinfo is not None else "unknown: /proc/buddyinfo is absent"
    page_size = _page_size(f, info, source.is_live, arch, mem_total, zoneinfo)
    numa_nodes, zones = _zones(f, zoneinfo, page_size)
    online, possible = _cpus(r, f, info, source.is_live)

    decision = _decision(f, cmdline, system_ram, estimated, arch, version)
    _check_consistency(f, system_ram, estimated, mem_total, total, decision, cma_total, visible)
    if kexec_size is None and source.exists("sys/kernel") and not source.exists("sys/kernel/kexec_loaded"):
        f.note(
            "warning",
            "kexec-unsupported",
            "this kernel has no kexec support (/sys/kernel has no kexec_crash_size or kexec_loaded): "
            "no crash kernel can be loaded until it runs a kernel built with CONFIG_KEXEC and CONFIG_CRASH_DUMP",
        )
    distro = _distro(r, f)
    kdump, kdump_files = _kdump(r, f, distro)
    boot = _boot_files(f, source, stored, release)
    # Platform facts (crashplan.host.platform): their provenance, findings and absences join ours.
    platform = gather_platform(source, r.text, kdump=kdump, kdump_where=f.prov["kdump"], iomem=iomem)
    f.prov.update(platform.provenance)
    f.findings.extend(platform.findings)
    r.absent.extend(platform.absent)

    absent_core = [p for p in r.absent if p[1:] in _CORE_FILES]
    if not any(text is not None for text in r.cache.values()) and not source.is_live and stored is None:
        # An image's tree (no /proc) is fine; a directory with none of the files is a mistake.
        raise SourceError(
            "not a host tree: none of the /proc, /sys or /etc files crashplan reads is there",
            path=source.name,
            hint="pass a crashplan snapshot, an unpacked sosreport or an archive of one",
            code="not-a-host",
        )
    if absent_core:
        f.note("info", "absent-files", f"not in this source: {', '.join(absent_core)}")
    if stored is not None:
        for u in stored.unreadable:
            f.note("warning", "unreadable-at-capture", f"/{u.path} could not be captured: {u.reason}")
        for note in stored.notes:
            f.note("info", "snapshot-note", note)

    return HostFacts(
        arch=arch,
        kernel_release=release,
        kernel_version=version,
        page_size=page_size,
        system_ram=system_ram,
        system_ram_estimated=estimated,
        mem_total=mem_total,
        addresses_visible=visible,
        ram=ram,
        kernel_image=kernel_image,
        reserved=reserved,
        crash_regions=crash_regions,
        reservation_total=total,
        kexec_crash_size=kexec_size,
        kexec_crash_loaded=kexec_loaded,
        cma_total=cma_total,
        cma_ranges=cma_ranges,
        cpus_online=online,
        cpus_possible=possible,
        numa_nodes=numa_nodes,
        zones=zones,
        buddyinfo=buddyinfo,
        cmdline=None if cmdline is None else cmdline.raw,
        cmdline_crashkernel=decision,
        distro=distro,
        kdump=kdump,
        kdump_files=kdump_files,
        boot_files=boot,
        absent=tuple(r.absent),
        findings=tuple(r.findings + f.findings),
        provenance=MappingProxyType(f.prov),
        source=source.name,
        mem_encryption=platform.mem_encryption,
        pci_drivers=platform.pci_drivers,
        iommus=platform.iommus,
        luks_devices=platform.luks_devices,
        dump_protocol=platform.dump_protocol,
    )


def _host_info(source: Source, stored: SnapshotInfo | None) -> HostInfo | None:
    """uname, page size, root and psutil figures: the live host's, or the snapshot's stored ones."""
    if source.is_live:
        live_info = getattr(source, "live_info", None)
        return None if live_info is None else live_info()
    return None if stored is None else stored.host


def _where(source: Source) -> str:
    return "of the live host" if source.is_live else "stored in crashplan-snapshot.json"


def _given_arch(f: _Facts, arch: str) -> str:
    """The architecture given with ``--arch``, in crashplan's spelling."""
    name = features_for(arch).arch  # the one alias table; raises ValueError for unknown names
    f.prov["arch"] = f"given with --arch {arch}"
    return name


def _kernel_release(
    r: _Reader, f: _Facts, info: HostInfo | None, cmdline: Cmdline | None, given: str | None = None
) -> tuple[str | None, KernelVersion | None]:
    """The running kernel's release, from uname, osrelease, /proc/version or BOOT_IMAGE.

    ``given`` (``--kernel-version X.Y``) replaces the version, not the release.
    """
    release, version = _found_release(r, f, info, cmdline, quiet=given is not None)
    if given is None:
        return release, version
    f.prov["kernel_version"] = f"given with --kernel-version {given}"
    return release, parse_kernel_version(given)


def _found_release(
    r: _Reader, f: _Facts, info: HostInfo | None, cmdline: Cmdline | None, *, quiet: bool = False
) -> tuple[str | None, KernelVersion | None]:
    release = None
    if info is not None and info.uname is not None:
        release = info.uname.release
        f.prov["kernel_release"] = f"uname(2) release {_where(r.source)}"
    if release is None:
        text = r.text("proc/sys/kernel/osrelease")
        if text is not None:
            release = _parse_osrelease(text, r.path("proc/sys/kernel/osrelease"))
            f.prov["kernel_release"] = "/proc/sys/kernel/osrelease"
    if release is None:
        text = r.text("proc/version")
        if text is not None:
            release = _parse_proc_version(text, r.path("proc/version"))
            f.prov["kernel_release"] = "/proc/version"
    if release is None and cmdline is not None:
        release = _release_from_boot_image(cmdline)
        if release is not None:
            f.prov["kernel_release"] = "inferred from BOOT_IMAGE=.../vmlinuz-<release> in /proc/cmdline"
    if release is None:
        f.prov["kernel_release"] = "unknown: no uname, /proc/sys/kernel/osrelease, /proc/version or BOOT_IMAGE="
        f.prov["kernel_version"] = "unknown: the kernel release is unknown"
        if not quiet:
            f.note("info", "kernel-version-unknown", f"kernel release unknown: {UNKNOWN_VERSION_RULE}")
        return None, None
    try:
        version = parse_kernel_version(release)
    except ParseError:
        f.prov["kernel_version"] = f"unknown: release {release!r} does not start with MAJOR.MINOR"
        if not quiet:
            f.note("warning", "kernel-version-unknown", f"kernel release {release!r} has no MAJOR.MINOR version: {UNKNOWN_VERSION_RULE}")
        return release, None
    f.prov["kernel_version"] = "MAJOR.MINOR of the kernel release"
    return release, version


def _parse_osrelease(text: str, path: str) -> str:
    """The one word of ``/proc/sys/kernel/osrelease`` (``utsname()->release`` and ``"\\n"``).

    >>> _parse_osrelease("7.3.4+deb13-amd64\\n", "osrelease")
    '7.3.4+deb13-amd64'
    """
    body = text[:-1] if text.endswith("\n") else text
    if not body or body.split() != [body] or "\n" in body:
        raise SourceError(
            "expected one kernel release such as 6.17.0-1-amd64", path=path, line=1 if "\n" not in body else 2
        )
    return body


def _parse_proc_version(text: str, path: str) -> str:
    """The release in ``/proc/version``: ``"Linux version %s (%s@%s) (%s) %s\\n"`` (fs/proc/version.c).

    >>> _parse_proc_version("Linux version 7.3.4+deb13-amd64 (debian-kernel@lists) (gcc) #1 SMP\\n", "v")
    '7.3.4+deb13-amd64'
    """
    words = text.split(None, 3)
    if len(words) < 3 or words[0] != "Linux" or words[1] != "version" or not text.endswith("\n"):
        raise SourceError("expected 'Linux version <release> ...'", path=path, line=1)
    return words[2]


def _release_from_boot_image(cmdline: Cmdline) -> str | None:
    """The release in ``BOOT_IMAGE=(hd0)/vmlinuz-<release>``, if it reads as one.

    >>> _release_from_boot_image(parse_cmdline("BOOT_IMAGE=/vmlinuz-5.10.0-10-amd64 ro quiet"))
    '5.10.0-10-amd64'
    >>> _release_from_boot_image(parse_cmdline("BOOT_IMAGE=/boot/bzImage ro"))
    """
    images = get_param(cmdline.kernel_args, "BOOT_IMAGE")
    if not images:
        return None
    name = images[-1].rsplit("/", 1)[-1]
    for prefix in ("vmlinuz-", "vmlinux-", "Image-", "image-"):
        if name.startswith(prefix):
            release = name[len(prefix) :]
            try:
                parse_kernel_version(release)
            except ParseError:
                return None
            return release
    return None


def _arch(
    r: _Reader,
    f: _Facts,
    info: HostInfo | None,
    release: str | None,
    iomem: IomemMap | None,
    cmdline: Cmdline | None,
) -> str | None:
    """crashplan's name for the architecture: from uname, else inferred (and said so)."""
    if info is not None and info.uname is not None:
        machine = info.uname.machine
        arch = _MACHINES.get(machine)
        if arch is not None:
            f.prov["arch"] = f"uname(2) machine {machine!r} {_where(r.source)}"
            return arch
        f.prov["arch"] = f"unknown: uname(2) machine {machine!r} is not one crashplan models ({', '.join(ARCHES)})"
        f.note("warning", "arch-unsupported", f"architecture {machine!r} is not one crashplan models")
        return None
    release_from = f.prov.get("kernel_release", "").removeprefix("inferred from ")
    # Every piece of evidence is weighed, strongest first; disagreement is said, not hidden.
    guesses = (
        (lambda: _arch_from_release(release), f"the kernel release {release!r} ({release_from})"),
        (lambda: _arch_from_triplet(r.text("proc/version")), "the compiler triplet in /proc/version"),
        (lambda: _arch_from_cpuinfo(r.text("proc/cpuinfo")), None),
        (lambda: _arch_from_cmdline(cmdline) if "BOOT_IMAGE" not in release_from else _arch_from_cmdline(cmdline, boot_image=False),
         "the kernel BOOT_IMAGE= names, or architecture-only parameters, in /proc/cmdline"),
        (lambda: _arch_from_iomem(iomem), None),
    )
    evidence: list[tuple[str, str]] = []
    for guess, why in guesses:
        found = guess()
        if found is not None:
            evidence.append(found if isinstance(found, tuple) else (found, why or ""))
    if not evidence:
        f.prov["arch"] = "unknown: no uname, and neither the kernel release, /proc/cpuinfo nor /proc/iomem tells"
        f.note("warning", "arch-unknown", "architecture unknown: give --arch; the current crashkernel= is not evaluated")
        return None
    arch, reason = evidence[0]
    agree = [why for a, why in evidence[1:] if a == arch]
    f.prov["arch"] = f"inferred from {reason}" + (f"; also {'; '.join(agree)}" if agree else "")
    f.note("info", "arch-inferred", f"architecture {arch} inferred from {reason} (give --arch if it is wrong)")
    for other, why in evidence[1:]:
        if other != arch:
            f.note("warning", "arch-evidence-conflict", f"architecture {arch} inferred from {reason}, but {why} suggests {other}: give --arch if {arch} is wrong")
    return arch


# /proc/cpuinfo keys only one architecture prints (arch/*/kernel/cpuinfo.c, setup.c show_cpuinfo()).
# Compiled on first use: most sources tell the architecture by uname and never need them.
_CPUINFO_ARCH = (
    (r"^vendor_id\s*: IBM/S390", "s390x", "'vendor_id: IBM/S390'"),
    (r"^vendor_id\s*: (GenuineIntel|AuthenticAMD|HygonGenuine|CentaurHauls)", "x86_64", "an x86 'vendor_id'"),
    (r"^CPU implementer\s*:", "arm64", "'CPU implementer' (arm64 MIDR fields)"),
    (r"^(cpu\s*: POWER|platform\s*: (pSeries|PowerNV))", "ppc64le", "a POWER 'cpu' or 'platform'"),
    (r"^isa\s*: rv64", "riscv64", "'isa: rv64...'"),
    (r"Loongson|LoongArch", "loongarch64", "a Loongson CPU name"),
)


def _arch_from_cpuinfo(text: str | None) -> tuple[str, str] | None:
    """The architecture whose ``show_cpuinfo()`` printed ``/proc/cpuinfo``.

    >>> _arch_from_cpuinfo("processor\\t: 0\\nBogoMIPS\\t: 48.00\\nCPU implementer\\t: 0x41\\n")
    ('arm64', "/proc/cpuinfo: 'CPU implementer' (arm64 MIDR fields)")
    """
    if not text:
        return None
    for pattern, arch, why in _CPUINFO_ARCH:
        if re.search(pattern, text, re.M):
            return arch, f"/proc/cpuinfo: {why}"
    return None


def _arch_from_release(release: str | None) -> str | None:
    """The architecture a distribution kernel release ends with.

    >>> _arch_from_release("4.18.0-80.11.2.el8_0.x86_64"), _arch_from_release("6.1.0-18-arm64")
    ('x86_64', 'arm64')
    >>> _arch_from_release("3.2.0-58-generic")
    """
    if release is None:
        return None
    m = _RELEASE_ARCH.search(release)
    if m is None:
        return None
    word = m.group(1)
    return _SUFFIX_ARCHES.get(word) or _MACHINES.get(word)


def _arch_from_triplet(version_text: str | None) -> str | None:
    """The architecture of the compiler triplet ``/proc/version`` names (Debian builds).

    >>> _arch_from_triplet("Linux version 7.3.4 (x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0)")
    'x86_64'
    """
    if not version_text:
        return None
    m = _TRIPLET_ARCH.search(version_text)
    if m is None:
        return None
    word = m.group(1)
    return _SUFFIX_ARCHES.get(word) or _MACHINES.get(word)


def _arch_from_iomem(iomem: IomemMap | None) -> tuple[str, str] | None:
    """Guess the architecture from the shape of ``/proc/iomem``; returns it and the reason.

    * ppc64le: the kernel image at physical address 0 (powerpc runs its kernel there), or
      device-tree node paths as names (``/pci@800000020000000``);
    * s390x: a top-level "Crash kernel" (s390 carves it out of System RAM), or a map of nothing
      but "System RAM" (s390 has no memory-mapped I/O resources);
    * x86_64: PC firmware resources ("System ROM", "Video ROM", "Adapter ROM", "Local APIC",
      "IOAPIC").  A top-level "PCI Bus" is not evidence: arm64 servers (ThunderX2) have it too;
    * arm64 or riscv64: device-tree names of their peripherals (``pl011@9000000``, ``gic``;
      ``plic``, ``clint``), or (arm64) RAM starting at address 0 with nested "reserved" and none of
      the x86 resources.  loongarch64 maps are not guessed.
    """
    if iomem is None:
        return None
    top = iomem.resources
    names = {res.name for res in top}
    nested = {kid.name for res in top if res.name.lower() in ("reserved", "system ram") for kid in res.children}
    if iomem.addresses_visible and any(kid.name == "Kernel code" and kid.start == 0 for res in top for kid in res.children):
        return "ppc64le", "/proc/iomem: the kernel image at physical address 0 (powerpc runs its kernel there)"
    paths = sorted(n for n in names if n.startswith("/") and "@" in n)
    if paths:
        return "ppc64le", f"/proc/iomem: device-tree node paths as resource names ({paths[0]})"
    if "Crash kernel" in names:
        return "s390x", "a top-level 'Crash kernel' in /proc/iomem (s390 carves it out of System RAM)"
    if names == {"System RAM"}:
        return "s390x", "a /proc/iomem of nothing but System RAM (s390 has no memory-mapped I/O)"
    pc = sorted((names | nested) & _PC_RESOURCES)
    if pc:
        return "x86_64", f"PC resources in /proc/iomem ({', '.join(pc)})"
    for markers, arch in _DT_MARKERS:
        hit = next((n for n in sorted(names) if re.search(markers, n, re.I)), None)
        if hit is not None:
            return arch, f"/proc/iomem: the {arch} device-tree peripheral {hit!r}"
    rams = [res for res in top if res.name == "System RAM"]
    if (
        iomem.addresses_visible
        and rams
        and rams[0].start == 0
        and any(kid.name == "reserved" for res in rams for kid in res.children)
    ):
        return "arm64", "/proc/iomem: RAM at address 0 with nested 'reserved' (device tree), no PC resources"
    return None


# Device-tree compatible names of peripherals only one architecture has (Documentation/devicetree/bindings).
_DT_MARKERS = (
    (r"\b(pl011|pl031|pl061|pl022|sp805|gic|its@|smmu)|arm,|ARMH", "arm64"),
    (r"\b(plic|clint|aclint)|riscv", "riscv64"),
)


def _arch_from_cmdline(cmdline: Cmdline | None, *, boot_image: bool = True) -> str | None:
    """The architecture of the kernel ``BOOT_IMAGE`` names, or of an s390-only parameter.

    >>> _arch_from_cmdline(parse_cmdline("BOOT_IMAGE=/vmlinuz-5.10.0-10-amd64 ro"))
    'x86_64'
    >>> _arch_from_cmdline(parse_cmdline("root=/dev/dasda1 cio_ignore=all,!condev"))
    's390x'
    """
    if cmdline is None:
        return None
    arch = _arch_from_release(_release_from_boot_image(cmdline)) if boot_image else None
    if arch is not None:
        return arch
    for name, found in _CMDLINE_ARCH:
        if get_param(cmdline.kernel_args, name):
            return found
    return None


def _mem_total(f: _Facts, meminfo: Meminfo | None, info: HostInfo | None, live: bool) -> int | None:
    """MemTotal from /proc/meminfo, else psutil's; on a live host the two are cross-checked."""
    psutil_total = None if info is None else info.mem_total
    where = "psutil.virtual_memory().total" + ("" if live else " stored in crashplan-snapshot.json")
    if meminfo is not None and meminfo.mem_total is not None:
        f.prov["mem_total"] = "MemTotal in /proc/meminfo"
        if live and psutil_total is not None and abs(psutil_total - meminfo.mem_total) > _MEM_TOLERANCE * meminfo.mem_total:
            f.note(
                "warning",
                "mem-total-mismatch",
                f"MemTotal in /proc/meminfo ({format_human(meminfo.mem_total)}) and psutil "
                f"({format_human(psutil_total)}) differ by more than {_MEM_TOLERANCE:.0%}",
            )
        return meminfo.mem_total
    if psutil_total is not None:
        f.prov["mem_total"] = where
        return psutil_total
    f.prov["mem_total"] = (
        "unknown: /proc/meminfo is absent" if meminfo is None else "unknown: no MemTotal in /proc/meminfo"
    )
    return None


def _sorted_ranges(resources: Iterable[Resource]) -> tuple[MemRange, ...]:
    """The resources' ranges in address order."""
    return tuple(sorted(res.range for res in resources))


def _layout(
    f: _Facts, iomem: IomemMap | None
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
    image = [res for res in nested if res.name in _KERNEL_IMAGE_NAMES]
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


def _kexec_crash_size(r: _Reader, f: _Facts) -> int | None:
    text, relpath = r.first("sys/kernel/kexec_crash_size", "sys/kernel/kexec/crash_size")
    if text is None:
        f.prov["kexec_crash_size"] = "unknown: /sys/kernel/kexec_crash_size is absent (no CONFIG_KEXEC_CORE, or not captured)"
        return None
    f.prov["kexec_crash_size"] = f"/{relpath}"
    return parse_kexec_crash_size(text, path=r.path(relpath))


def _kexec_crash_loaded(r: _Reader, f: _Facts) -> bool | None:
    text, relpath = r.first("sys/kernel/kexec_crash_loaded", "sys/kernel/kexec/crash_loaded")
    if text is None:
        f.prov["kexec_crash_loaded"] = "unknown: /sys/kernel/kexec_crash_loaded is absent"
        return None
    f.prov["kexec_crash_loaded"] = f"/{relpath}"
    return parse_kexec_crash_loaded(text, path=r.path(relpath))


def _cma_ranges(r: _Reader, f: _Facts) -> tuple[MemRange, ...] | None:
    text, relpath = r.first("sys/kernel/kexec_crash_cma_ranges", "sys/kernel/kexec/crash_cma_ranges")
    if text is None:
        f.prov["cma_ranges"] = "unknown: /sys/kernel/kexec_crash_cma_ranges is absent (kernels before the CMA export)"
        return None
    f.prov["cma_ranges"] = f"/{relpath}"
    return parse_cma_ranges(text, path=r.path(relpath))


def _reservation_total(
    f: _Facts,
    iomem: IomemMap | None,
    arch: str | None,
    regions: tuple[MemRange, ...],
    crash_lines: int,
    kexec_size: int | None,
) -> int | None:
    """Bytes reserved for the crash kernel (main plus low area; CMA not included)."""
    if regions:
        total = sum(r.size for r in regions)
        f.prov["reservation_total"] = "sum of the 'Crash kernel' ranges in /proc/iomem"
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


def _system_ram(
    f: _Facts,
    iomem: IomemMap | None,
    arch: str | None,
    ram: tuple[MemRange, ...],
    mem_total: int | None,
    kexec_size: int | None,
) -> tuple[int | None, bool]:
    """System RAM as ``parse_crashkernel()`` counts it, and whether it is an estimate."""
    if ram:
        total = sum(r.size for r in ram)
        why = "sum of top-level System RAM in /proc/iomem"
        assert iomem is not None  # ram comes from it
        if arch == "arm64":
            # memblock_phys_mem_size() counts nomap memory, which iomem shows as a top-level
            # "reserved" between RAM ranges (arch/arm64/kernel/setup.c: request_standard_resources()).
            lo, hi = ram[0].start, ram[-1].end
            nomap = [res for res in iomem.resources if res.name.lower() == "reserved" and lo <= res.start and res.end <= hi]
            total += sum(res.size for res in nomap)
            why += " plus top-level 'reserved' (nomap) ranges between RAM ranges (arm64)"
        elif arch == "s390x":
            # ident_map_size includes the crash area s390 takes out of System RAM.
            total += sum(res.size for res in iomem.resources if res.name == "Crash kernel")
            why += " plus the top-level 'Crash kernel' carved out of it (s390 ident_map_size)"
        f.prov["system_ram"] = why
        return total, False
    if mem_total is not None:
        why = "estimate: MemTotal"
        total = mem_total
        if kexec_size:
            total += kexec_size
            why += " plus /sys/kernel/kexec_crash_size"
        if iomem is None:
            reason = "/proc/iomem is absent"
        elif not iomem.addresses_visible:
            reason = "/proc/iomem was read without root"
        else:
            reason = "/proc/iomem has no System RAM"
        f.prov["system_ram"] = f"{why}, because {reason}; the kernel counts more (MemTotal leaves out early reservations)"
        f.note(
            "warning",
            "system-ram-estimated",
            f"system RAM estimated from MemTotal because {reason}: the kernel counts a little more, "
            "which matters only at a crashkernel= range boundary",
        )
        return total, True
    f.prov["system_ram"] = "unknown: no /proc/iomem System RAM and no MemTotal"
    f.note("warning", "system-ram-unknown", "system RAM unknown: the current crashkernel= is not evaluated")
    return None, False


def _page_size(
    f: _Facts,
    info: HostInfo | None,
    live: bool,
    arch: str | None,
    mem_total: int | None,
    zoneinfo: ZoneInfo | None,
) -> int | None:
    """The page size: stored or live, else the arch's only size, else MemTotal / managed pages."""
    if info is not None and info.page_size is not None:
        f.prov["page_size"] = (
            "sysconf(_SC_PAGE_SIZE) of the live host" if live else "page_size in crashplan-snapshot.json"
        )
        return info.page_size
    if arch in _FIXED_PAGE_SIZE:
        f.prov["page_size"] = f"the only base page size of {arch}"
        return _FIXED_PAGE_SIZE[arch]
    if mem_total and zoneinfo is not None:
        managed = sum(z.managed_pages or 0 for z in zoneinfo.zones)
        if managed:
            ratio = mem_total / managed
            for size in _PAGE_SIZES:
                if abs(ratio - size) <= size * 0.02:
                    # MemTotal is totalram_pages(): the sum of every zone's managed pages.
                    f.prov["page_size"] = "MemTotal in /proc/meminfo divided by the managed pages in /proc/zoneinfo"
                    return size
    f.prov["page_size"] = "unknown: no uname page size, and the architecture allows several"
    return None


def _zones(
    f: _Facts, zoneinfo: ZoneInfo | None, page_size: int | None
) -> tuple[tuple[int, ...] | None, tuple[ZoneSpan, ...]]:
    if zoneinfo is None:
        f.prov["numa_nodes"] = f.prov["zones"] = "unknown: /proc/zoneinfo is absent"
        return None, ()
    nodes = tuple(sorted({z.node for z in zoneinfo.zones}))
    f.prov["numa_nodes"] = "nodes of /proc/zoneinfo"
    if page_size is None:
        f.prov["zones"] = "unknown: /proc/zoneinfo counts pages and the page size is unknown"
        return nodes, ()
    f.prov["zones"] = "start_pfn, spanned, present and managed in /proc/zoneinfo, times the page size"
    raw = zoneinfo.zones
    count = len(raw)
    zones = tuple(
        build_columns(
            ZoneSpan,
            count,
            {
                "node": [z.node for z in raw],
                "zone": [z.name for z in raw],
                "span": [z.span(page_size) if z.present_pages else None for z in raw],
                "present": [z.present_pages * page_size for z in raw],
                "managed": [None if z.managed_pages is None else z.managed_pages * page_size for z in raw],
            },
        )
    )
    return nodes, zones


def _cpus(r: _Reader, f: _Facts, info: HostInfo | None, live: bool) -> tuple[int | None, int | None]:
    """Online and possible CPU counts from sysfs; psutil fills and cross-checks the online count."""
    counts: list[int | None] = []
    for key, relpath in (("cpus_online", "sys/devices/system/cpu/online"), ("cpus_possible", "sys/devices/system/cpu/possible")):
        text = r.text(relpath)
        if text is None:
            f.prov[key] = f"unknown: /{relpath} is absent"
            counts.append(None)
        else:
            f.prov[key] = f"/{relpath}"
            counts.append(len(parse_cpulist(text, path=r.path(relpath))))
    online, possible = counts
    psutil_count = None if info is None else info.cpu_count
    if online is None and psutil_count is not None:
        online = psutil_count
        f.prov["cpus_online"] = "psutil.cpu_count()" + ("" if live else " stored in crashplan-snapshot.json")
    elif live and online is not None and psutil_count is not None and online != psutil_count:
        f.note(
            "warning",
            "cpu-count-mismatch",
            f"/sys/devices/system/cpu/online lists {online} CPUs but psutil counts {psutil_count}",
        )
    return online, possible


# MemTotal excludes what memblock keeps (kernel image, page tables, firmware, the crash
# kernel): across the real captures in tests/data/hosts it is 90-100% of system RAM once the
# crash kernel is added back; below 85% something does not add up.
_MEMTOTAL_MIN_SHARE = 0.85


def _check_consistency(
    f: _Facts,
    system_ram: int | None,
    estimated: bool,
    mem_total: int | None,
    reserved: int | None,
    decision: Decision | None,
    cma_total: int | None,
    visible: bool,
) -> None:
    """Turn figures that contradict each other into findings instead of silent nonsense."""
    if system_ram and mem_total and not estimated:
        crash = reserved or 0
        if mem_total + crash > system_ram:
            f.note(
                "warning",
                "ram-total-mismatch",
                f"MemTotal ({format_human(mem_total)}) plus the crash kernel ({format_human(crash)}) exceeds the "
                f"system RAM of /proc/iomem ({format_human(system_ram)}): the files are not from the same boot",
            )
        elif mem_total + crash < _MEMTOTAL_MIN_SHARE * system_ram:
            f.note(
                "warning",
                "ram-total-mismatch",
                f"MemTotal ({format_human(mem_total)}) is less than {_MEMTOTAL_MIN_SHARE:.0%} of the system RAM of "
                f"/proc/iomem ({format_human(system_ram)}), the crash kernel added back: memory is reserved that "
                "crashplan does not see, or the files are not from the same boot",
            )
    if decision is None or reserved is None or not visible:
        return
    expected = decision.crash_size + decision.low_size if decision.ok else 0
    if decision.ok and reserved == 0:
        f.note(
            "error",
            "crashkernel-not-reserved",
            f"the kernel accepts the current crashkernel= ({format_human(expected)}) but nothing is reserved: "
            "placing it failed at boot (the kernel log says 'cannot allocate crashkernel' or 'memory is in use')",
        )
    elif decision.ok and abs(reserved - expected) >= 1 << 20:
        f.note(
            "warning",
            "crashkernel-size-mismatch",
            f"the current crashkernel= gives {format_human(expected)} but {format_human(reserved)} is reserved: "
            "the command line changed since boot, or the reservation was shrunk (kexec_crash_size)",
        )
    elif not decision.ok and reserved > 0:
        f.note(
            "warning",
            "unexpected-reservation",
            f"{format_human(reserved)} is reserved although the current command line reserves nothing by "
            f"crashplan's reading of this kernel's rules ({decision.error})",
        )
    if decision.reserves_cma and cma_total is not None and cma_total < decision.cma_size:
        f.note(
            "warning",
            "cma-partial",
            f"crashkernel=,cma asks for {format_human(decision.cma_size)} but CmaTotal is {format_human(cma_total)}: "
            "the CMA reservation was partial or failed",
        )


def _decision(
    f: _Facts,
    cmdline: Cmdline | None,
    system_ram: int | None,
    estimated: bool,
    arch: str | None,
    version: KernelVersion | None,
) -> Decision | None:
    """What the running kernel made of its command line's ``crashkernel=`` (``syntax.decide``)."""
    missing = [
        what
        for what, value in (("/proc/cmdline", cmdline), ("system RAM", system_ram), ("the architecture", arch))
        if value is None
    ]
    if missing:
        f.prov["cmdline_crashkernel"] = f"unknown: {' and '.join(missing)} unknown"
        return None
    assert cmdline is not None and system_ram is not None and arch is not None
    features = features_for(arch, version)
    rules = f"{arch} rules of Linux {features.version}" + ("" if version else " (the newest mirrored: kernel version unknown)")
    ram = f"{format_human(system_ram)} of system RAM" + (" (estimated)" if estimated else "")
    f.prov["cmdline_crashkernel"] = f"syntax.decide() on /proc/cmdline with the {rules} and {ram}"
    if version is None and "crashkernel=" in cmdline.raw:
        from crashplan.kernel.versions import version_dependence

        found = version_dependence(cmdline.raw, system_ram, arch)
        if found is not None:
            f.findings.append(found)
    return decide(cmdline.raw, system_ram, features)


def _distro(r: _Reader, f: _Facts) -> OsRelease | None:
    text = r.text("etc/os-release")
    if text is None:
        f.prov["distro"] = "unknown: /etc/os-release is absent"
        return None
    f.prov["distro"] = "/etc/os-release"
    return parse_os_release(text, path=r.path("etc/os-release"))


def _kdump(r: _Reader, f: _Facts, distro: OsRelease | None) -> tuple[KdumpConfig | None, tuple[str, ...]]:
    """The kdump configuration, merged from whichever of the three families' files exist."""
    conf = r.text("etc/kdump.conf")
    sysconfig = r.text("etc/sysconfig/kdump")
    tools = r.text("etc/default/kdump-tools")
    if conf is None and sysconfig is None and tools is None:
        f.prov["kdump"] = "unknown: none of /etc/kdump.conf, /etc/sysconfig/kdump, /etc/default/kdump-tools"
        return None, ()
    # The parsers only for a host that has a kdump configuration.
    from crashplan.host.formats.kdumpconf import (
        merge_kdump_configs,
        parse_kdump_conf,
        parse_kdump_tools_default,
        parse_sysconfig_kdump,
    )

    configs: list[KdumpConfig] = []
    files: list[str] = []
    if conf is not None:
        configs.append(parse_kdump_conf(conf, path=r.path("etc/kdump.conf")))
        files.append("/etc/kdump.conf")
    if sysconfig is not None:
        family: Family | None = None
        if distro is not None and (distro.is_like("suse") or "suse" in (distro.id or "") or distro.id == "sles"):
            family = "suse"
        elif configs:
            family = "fedora"
        configs.append(parse_sysconfig_kdump(sysconfig, path=r.path("etc/sysconfig/kdump"), family=family))
        files.append("/etc/sysconfig/kdump")
    if tools is not None:
        configs.append(parse_kdump_tools_default(tools, path=r.path("etc/default/kdump-tools")))
        files.append("/etc/default/kdump-tools")
    f.prov["kdump"] = " merged with ".join(files)
    return merge_kdump_configs(configs[0], *configs[1:]), tuple(files)


def _boot_files(f: _Facts, source: Source, stored: SnapshotInfo | None, release: str | None) -> BootFiles:
    if stored is not None and "boot" in stored.files:
        boot = parse_stored_boot(stored.files["boot"], source.display("crashplan-snapshot.json"))
        f.prov["boot_files"] = "\"files\": {\"boot\"} in crashplan-snapshot.json (sizes at capture)"
    else:
        boot = find_boot_files(source, release)
        where = "of the running kernel's release under /boot"
        f.prov["boot_files"] = (
            "unknown: the kernel release is unknown" if release is None else f"stat() of the kernel and initrd {where}"
        )
    # Only a live host or a crashplan snapshot is expected to know them; a fixture or a
    # sosreport without /boot simply does not say.
    if (source.is_live or stored is not None) and (boot.kernel is None or boot.initrd is None):
        missing = [n for n, v in (("kernel", boot.kernel), ("initrd", boot.initrd)) if v is None]
        f.note("info", "boot-files-missing", f"kdump {' and '.join(missing)} not found: their sizes are not known")
    return boot


# --------------------------------------------------------------------------------------------
# Snapshots


def snapshot_extra_files(source: Source) -> dict[str, dict[str, Any]]:
    """The ``extra_files`` a capture of ``source`` stores: the kdump kernel and initrd it found.

    For a snapshot being re-captured, its stored ``"boot"`` facts are carried over.
    """
    stored = None if source.is_live else source.snapshot_info()
    if stored is not None and "boot" in stored.files:
        boot = parse_stored_boot(stored.files["boot"], source.display("crashplan-snapshot.json"))
    else:
        r = _Reader(source)
        release, _ = _kernel_release(r, _Facts(), _host_info(source, stored), None)
        boot = analyse_boot_files(source, find_boot_files(source, release))
        if not source.is_live:
            from crashplan.host.sosreport import sos_boot_files  # a sosreport's /boot listings

            boot = sos_boot_files(source, release, boot)
    return {"boot": boot_files_to_json(boot)}


def default_snapshot_name(source: Source, now: datetime | None = None) -> str:
    """``crashplan-snapshot-<hostname>-<UTC time>``, the directory ``crashplan snapshot`` writes.

    The host name is uname's nodename (of the live host, or stored in a snapshot), made safe for
    a file name; ``unknown`` when there is none.
    """
    info = _host_info(source, None if source.is_live else source.snapshot_info())
    host = info.uname.nodename if info is not None and info.uname is not None else ""
    host = re.sub(r"[^A-Za-z0-9._-]", "_", host).strip(".") or "unknown"
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return f"crashplan-snapshot-{host}-{when:%Y%m%dT%H%M%SZ}"


# --------------------------------------------------------------------------------------------
# JSON


def _range_json(r: MemRange) -> dict[str, int]:
    return {"start": r.start, "end": r.end, "size": r.size}


def _kdump_json(kdump: KdumpConfig | None, files: tuple[str, ...]) -> dict[str, object] | None:
    if kdump is None:
        return None
    return {
        "files": list(files),
        "family": kdump.family,
        "enabled": kdump.enabled,
        "core_collector": kdump.core_collector,
        "dump_level": kdump.dump_level,
        "dump_target": kdump.dump_target,
        "dump_device": kdump.dump_device,
        "save_path": kdump.save_path,
        "commandline_append": kdump.commandline_append,
        "commandline_remove": kdump.commandline_remove,
        "nr_cpus": kdump.nr_cpus,
        "crashkernel": kdump.crashkernel,
        "extra_modules": list(kdump.extra_modules),
        "dracut_args": kdump.dracut_args,
    }


_PROVENANCE_ORDER = tuple(
    name for name in HostFacts.__dataclass_fields__ if name not in ("provenance", "source")
)


def facts_to_json(facts: HostFacts) -> dict[str, object]:
    """The versioned JSON envelope of ``crashplan facts``."""
    distro = facts.distro
    from crashplan.envelope import envelope

    return envelope("facts", {
        "source": facts.source,
        "arch": facts.arch,
        "kernel_version": None if facts.kernel_version is None else str(facts.kernel_version),
        "kernel_release": facts.kernel_release,
        "page_size": facts.page_size,
        "system_ram": facts.system_ram,
        "system_ram_estimated": facts.system_ram_estimated,
        "mem_total": facts.mem_total,
        "addresses_visible": facts.addresses_visible,
        "reservation": {
            "regions": [{"name": name, **_range_json(r)} for name, r in facts.named_crash_regions],
            "total": facts.reservation_total,
            "kexec_crash_size": facts.kexec_crash_size,
            "kexec_crash_loaded": facts.kexec_crash_loaded,
            "cma_total": facts.cma_total,
            "cma_ranges": None if facts.cma_ranges is None else [_range_json(r) for r in facts.cma_ranges],
        },
        "cmdline": facts.cmdline,
        "cmdline_crashkernel": None if facts.cmdline_crashkernel is None else facts.cmdline_crashkernel.to_json(),
        "ram": [_range_json(r) for r in facts.ram],
        "kernel_image": None if facts.kernel_image is None else _range_json(facts.kernel_image),
        "reserved": [_range_json(r) for r in facts.reserved],
        "cpus": {"online": facts.cpus_online, "possible": facts.cpus_possible},
        "numa_nodes": None if facts.numa_nodes is None else list(facts.numa_nodes),
        "zones": [
            {
                "node": z.node,
                "zone": z.zone,
                "start": None if z.span is None else z.span.start,
                "end": None if z.span is None else z.span.end,
                "size": None if z.span is None else z.span.size,
                "present": z.present,
                "managed": z.managed,
            }
            for z in facts.zones
        ],
        "distro": None
        if distro is None
        else {
            "id": distro.id,
            "id_like": list(distro.id_like),
            "version_id": distro.version_id,
            "pretty_name": distro.pretty_name,
        },
        "kdump": _kdump_json(facts.kdump, facts.kdump_files),
        "boot_files": boot_files_to_json(facts.boot_files),
        "platform": platform_to_json(facts),
        "absent": list(facts.absent),
        "provenance": {key: facts.provenance[key] for key in _PROVENANCE_ORDER if key in facts.provenance},
        "findings": [finding.to_json() for finding in facts.findings],
    })


# Where a capture may hold the kernel log: the QEMU harness's trees, sosreports, distro logs.


def read_kernel_log(source: Source) -> Dmesg | None:
    """The kernel log of the captured boot, when the source holds one (else None).

    It tells where the initrd was when the crash kernel was placed (``RAMDISK:``), which
    ``/proc/iomem`` does not show.
    """
    for relpath in KERNEL_LOG_FILES:
        text = source.read_text(relpath)
        if text is not None:
            return parse_dmesg(text)
    return None
