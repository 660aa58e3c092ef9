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

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from crashplan.errors import SourceError
from crashplan.host.bootfiles import (
    BootFiles,
    find_boot_files,
    parse_stored_boot,
)
from crashplan.host.formats.buddyinfo import BuddyInfo, parse_buddyinfo
from crashplan.host.formats.cmdline import Cmdline, parse_cmdline
from crashplan.host.formats.cpulist import parse_cpulist
from crashplan.host.formats.dmesg import KERNEL_LOG_FILES, Dmesg, parse_dmesg
from crashplan.host.formats.iomem import parse_iomem
from crashplan.host.formats.meminfo import parse_meminfo
from crashplan.host.formats.osrelease import OsRelease, parse_os_release
from crashplan.host.formats.zoneinfo import ZoneInfo, parse_zoneinfo
from crashplan.host.platform import LuksDevice, gather_platform
from crashplan.kernel.crashkernel import Decision, decide
from crashplan.kernel.features import KernelVersion, features_for, vendor_auto_kernel
from crashplan.units import format_human
from crashplan.values import Finding, MemRange, build_columns

if TYPE_CHECKING:
    from crashplan.host.formats.iommu import Iommus
    from crashplan.host.formats.kdumpconf import Family, KdumpConfig
    from crashplan.host.formats.memencrypt import MemEncryption
    from crashplan.host.formats.pcidrivers import PciDrivers
    from crashplan.host.sources import HostInfo, SnapshotInfo, Source

from crashplan.host.gathering import FactLog, Reader, host_info
from crashplan.host.inference import (
    given_arch,
    infer_arch,
    infer_distro,
    infer_kernel_release,
    infer_mem_total,
    infer_page_size,
    infer_system_ram,
)
from crashplan.host.reservation import (
    crash_region_names,
    read_kexec_files,
    read_layout,
    reservation_total,
)

__all__ = [
    "FACT_FILES",
    "KERNEL_LOG_FILES",
    "NON_ROOT_MESSAGE",
    "HostFacts",
    "ZoneSpan",
    "crash_region_names",
    "gather_facts",
]


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


#: The finding a map read without root carries (its addresses are all 0).
NON_ROOT_MESSAGE = "placement needs a root capture: run as root or use a root snapshot"

# Absences worth a finding: without these, crashplan knows much less about the host.
_CORE_FILES = ("proc/iomem", "proc/meminfo", "proc/cmdline", "proc/zoneinfo")




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
    # The kernel log of the captured boot: where the initrd was when the crash kernel was placed
    # (``RAMDISK:``, which /proc/iomem does not show) and the kernel's own crashkernel lines.
    dmesg: Dmesg | None = None

    @property
    def named_crash_regions(self) -> tuple[tuple[str, MemRange], ...]:
        """``(name, range)`` for every crash region: ``crashkernel`` or ``crashkernel-low``."""
        return tuple(zip(crash_region_names(self.crash_regions), self.crash_regions, strict=True))


# --------------------------------------------------------------------------------------------
# Gathering


def gather_facts(source: Source, *, arch: str | None = None, kernel_version: str | None = None) -> HostFacts:
    """Read everything crashplan uses from ``source`` into one :class:`HostFacts`.

    ``arch`` and ``kernel_version`` (``--arch``, ``--kernel-version``) replace what the source
    tells or what crashplan would infer; they are applied before anything depends on them (the
    kernel's RAM count differs per architecture).

    :raises SourceError: a file is present but garbled or truncated (naming
        ``source.display(relpath)`` and the line), or a /proc file cannot be read.
    """
    r = Reader(source)
    f = FactLog()
    stored = None if source.is_live else source.snapshot_info()
    info = host_info(source, stored)

    iomem_text = r.text("proc/iomem")
    iomem = None if iomem_text is None else r.parse("proc/iomem", "iomem", lambda t, p: parse_iomem(t, path=p))
    meminfo_text = r.text("proc/meminfo")
    meminfo = None if meminfo_text is None else r.parse("proc/meminfo", "meminfo", lambda t, p: parse_meminfo(t, path=p))
    cmdline_text = r.text("proc/cmdline")
    cmdline = None if cmdline_text is None else parse_cmdline(cmdline_text, path=r.path("proc/cmdline"))
    f.prov["cmdline"] = "/proc/cmdline" if cmdline is not None else "unknown: /proc/cmdline is absent"

    release, version = infer_kernel_release(r, f, info, cmdline, kernel_version)
    arch = given_arch(f, arch) if arch is not None else infer_arch(r, f, info, release, iomem, cmdline)
    visible = iomem is not None and iomem.addresses_visible
    if iomem is None:
        f.prov["addresses_visible"] = "unknown: /proc/iomem is absent"
    elif visible:
        f.prov["addresses_visible"] = "/proc/iomem shows real addresses (read as root)"
    else:
        f.prov["addresses_visible"] = "/proc/iomem shows every address as 0 (read without root)"
    if (iomem is not None and not visible) or (iomem is None and info is not None and info.root is False):
        f.note("warning", "iomem-addresses-hidden", NON_ROOT_MESSAGE)

    mem_total = infer_mem_total(f, meminfo, info, source.is_live)
    cma_total = None if meminfo is None else meminfo.cma_total
    f.prov["cma_total"] = (
        "CmaTotal in /proc/meminfo (every CMA area, not only crashkernel=,cma)"
        if cma_total is not None
        else ("unknown: /proc/meminfo is absent" if meminfo is None else "no CmaTotal in /proc/meminfo (CONFIG_CMA off)")
    )

    log_text, log_where = _kernel_log(source, f)
    dmesg = None if log_text is None else parse_dmesg(log_text)
    ram, kernel_image, reserved, crash_regions, crash_lines = read_layout(f, iomem)
    if not crash_regions and not visible and dmesg is not None and dmesg.crash_regions:
        # No address map to read them from (no /proc/iomem, or read without root): the log has them.
        crash_regions = dmesg.crash_regions
        f.prov["crash_regions"] = f"the kernel log's crashkernel reservation lines ({log_where})"
    kexec_size, kexec_loaded, cma_ranges = read_kexec_files(r, f)
    total = reservation_total(f, iomem, arch, crash_regions, crash_lines, kexec_size)
    logged_ram = None if dmesg is None or dmesg.system_ram is None else (dmesg.system_ram, log_where)
    system_ram, estimated = infer_system_ram(f, iomem, arch, ram, mem_total, kexec_size, logged_ram)

    zoneinfo_text = r.text("proc/zoneinfo")
    zoneinfo = None if zoneinfo_text is None else r.parse("proc/zoneinfo", "zoneinfo", lambda t, p: parse_zoneinfo(t, path=p, counters=False))
    buddy_text = r.text("proc/buddyinfo")
    buddyinfo = None if buddy_text is None else r.parse("proc/buddyinfo", "buddyinfo", lambda t, p: parse_buddyinfo(t, path=p))
    f.prov["buddyinfo"] = "/proc/buddyinfo" if buddyinfo is not None else "unknown: /proc/buddyinfo is absent"
    page_size = infer_page_size(f, info, source.is_live, arch, mem_total, zoneinfo)
    numa_nodes, zones = _zones(f, zoneinfo, page_size)
    online, possible = _cpus(r, f, info, source.is_live)

    decision = _decision(f, cmdline, system_ram, estimated, arch, version, release)
    _check_consistency(f, system_ram, estimated, mem_total, total, decision, cma_total, visible)
    if kexec_size is None and source.exists("sys/kernel") and not source.exists("sys/kernel/kexec_loaded"):
        f.note(
            "warning",
            "kexec-unsupported",
            "this kernel has no kexec support (/sys/kernel has no kexec_crash_size or kexec_loaded): "
            "no crash kernel can be loaded until it runs a kernel built with CONFIG_KEXEC and CONFIG_CRASH_DUMP",
        )
    distro = _distro(r, f, release)
    kdump, kdump_files = _kdump(r, f, distro)
    boot = _boot_files(f, source, stored, release)
    # Platform facts (crashplan.host.platform): their provenance, findings and absences join ours.
    platform = gather_platform(
        source, r.text, kdump=kdump, kdump_where=f.prov["kdump"], iomem=iomem,
        kernel_log=None if log_text is None else (tuple(log_text.splitlines()), log_where),
    )
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
        dmesg=dmesg,
    )


def _zones(
    f: FactLog, zoneinfo: ZoneInfo | None, page_size: int | None
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


def _cpus(r: Reader, f: FactLog, info: HostInfo | None, live: bool) -> tuple[int | None, int | None]:
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
    f: FactLog,
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
    f: FactLog,
    cmdline: Cmdline | None,
    system_ram: int | None,
    estimated: bool,
    arch: str | None,
    version: KernelVersion | None,
    release: str | None,
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
    if vendor_auto_kernel(release, (w for w in cmdline.kernel_args if w.startswith("crashkernel="))):
        f.prov["cmdline_crashkernel"] = f"unknown: crashkernel=auto is the RHEL kernel patch's own size on {release}, not modelled (the reservation shows what it gave)"
        return None
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


def _distro(r: Reader, f: FactLog, release: str | None) -> OsRelease | None:
    text = r.text("etc/os-release")
    if text is None:
        return infer_distro(f, release)
    f.prov["distro"] = "/etc/os-release"
    return parse_os_release(text, path=r.path("etc/os-release"))


def _kdump(r: Reader, f: FactLog, distro: OsRelease | None) -> tuple[KdumpConfig | None, tuple[str, ...]]:
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


def _boot_files(f: FactLog, source: Source, stored: SnapshotInfo | None, release: str | None) -> BootFiles:
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
    if (source.is_live or (stored is not None and "boot" in stored.files)) and (boot.kernel is None or boot.initrd is None):
        missing = [n for n, v in (("kernel", boot.kernel), ("initrd", boot.initrd)) if v is None]
        f.note("info", "boot-files-missing", f"kdump {' and '.join(missing)} not found: their sizes are not known")
    return boot


def _kernel_log(source: Source, f: FactLog) -> tuple[str | None, str]:
    """The text of the captured boot's kernel log, when the source holds one, and its host path.

    Read with the source itself rather than the fact reader: a source without a log is usual,
    not an absence worth listing.
    """
    for relpath in KERNEL_LOG_FILES:
        text = source.read_text(relpath)
        if text is not None:
            f.prov["dmesg"] = "/" + relpath
            return text, "/" + relpath
    f.prov["dmesg"] = f"unknown: none of {', '.join('/' + p for p in KERNEL_LOG_FILES)} in this source"
    return None, ""
