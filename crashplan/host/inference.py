"""What a source does not state outright, inferred from all its evidence, each with its provenance.

The architecture (uname, else the kernel release suffix, the /proc/version compiler triplet,
/proc/cpuinfo keys, BOOT_IMAGE= and architecture-only parameters, the shape of /proc/iomem), the
kernel release and version, the base page size, MemTotal, and system RAM as
``parse_crashkernel()`` counts it: ``memblock_phys_mem_size()`` on x86, arm64, riscv,
loongarch and powerpc, ``ident_map_size`` on s390 (``arch/s390/kernel/setup.c``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from crashplan.errors import ParseError
from crashplan.host.formats.cmdline import Cmdline, get_param
from crashplan.host.formats.iomem import IomemMap
from crashplan.host.formats.meminfo import Meminfo
from crashplan.host.formats.osrelease import OsRelease
from crashplan.host.formats.zoneinfo import ZoneInfo
from crashplan.kernel.features import (
    ARCHES,
    KernelVersion,
    canonical_arch,
    features_for,
    parse_kernel_version,
)
from crashplan.units import format_human
from crashplan.values import MemRange

if TYPE_CHECKING:
    from crashplan.host.sources import HostInfo

from crashplan.host.formats.kernelrelease import parse_osrelease, parse_proc_version
from crashplan.host.gathering import FactLog, Reader, where_stored

__all__ = ["UNKNOWN_VERSION_RULE", "given_arch", "infer_arch", "infer_distro", "infer_kernel_release", "infer_mem_total", "infer_page_size", "infer_system_ram"]


#: What every command assumes about a kernel whose version the source does not tell.
UNKNOWN_VERSION_RULE = (
    "every rule that depends on the version (the 128M round-up of ranges, size >= RAM, ,cma) "
    "is evaluated for the oldest and the newest kernel crashplan mirrors and the worse result is reported; "
    "give --kernel-version X.Y if you know it"
)


# Resources only a PC (e820 firmware, legacy ROMs, the APIC) puts in /proc/iomem.
_PC_RESOURCES = frozenset({"System ROM", "Video ROM", "Adapter ROM", "Local APIC", "IOAPIC 0"})




# Distribution kernel release suffixes (Fedora/RHEL ".x86_64", Debian "-amd64") and
# toolchain triplets in /proc/version ("x86_64-linux-gnu-gcc-14").
_RELEASE_ARCH = re.compile(r"[.\-+_](x86_64|amd64|aarch64|arm64|s390x|ppc64le|ppc64el|riscv64|loong64|loongarch64)$")


_TRIPLET_ARCH = re.compile(r"\b(x86_64|aarch64|s390x|powerpc64le|riscv64|loongarch64)-(?:\w+-)?linux-gnu")



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


def given_arch(f: FactLog, arch: str) -> str:
    """The architecture given with ``--arch``, in crashplan's spelling."""
    name = features_for(arch).arch  # the one alias table; raises ValueError for unknown names
    f.prov["arch"] = f"given with --arch {arch}"
    return name


def infer_kernel_release(
    r: Reader, f: FactLog, info: HostInfo | None, cmdline: Cmdline | None, given: str | None = None
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
    r: Reader, f: FactLog, info: HostInfo | None, cmdline: Cmdline | None, *, quiet: bool = False
) -> tuple[str | None, KernelVersion | None]:
    release = None
    if info is not None and info.uname is not None:
        release = info.uname.release
        f.prov["kernel_release"] = f"uname(2) release {where_stored(r.source)}"
    if release is None:
        text = r.text("proc/sys/kernel/osrelease")
        if text is not None:
            release = parse_osrelease(text, path=r.path("proc/sys/kernel/osrelease"))
            f.prov["kernel_release"] = "/proc/sys/kernel/osrelease"
    if release is None:
        text = r.text("proc/version")
        if text is not None:
            release = parse_proc_version(text, path=r.path("proc/version"))
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


def _release_from_boot_image(cmdline: Cmdline) -> str | None:
    """The release in ``BOOT_IMAGE=(hd0)/vmlinuz-<release>``, if it reads as one.

    >>> from crashplan.host.formats.cmdline import parse_cmdline

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


def infer_arch(
    r: Reader,
    f: FactLog,
    info: HostInfo | None,
    release: str | None,
    iomem: IomemMap | None,
    cmdline: Cmdline | None,
) -> str | None:
    """crashplan's name for the architecture: from uname, else inferred (and said so)."""
    if info is not None and info.uname is not None:
        machine = info.uname.machine
        arch = canonical_arch(machine)
        if arch is not None:
            f.prov["arch"] = f"uname(2) machine {machine!r} {where_stored(r.source)}"
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
    return canonical_arch(word)


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
    return canonical_arch(word)


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

    >>> from crashplan.host.formats.cmdline import parse_cmdline

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


def infer_mem_total(f: FactLog, meminfo: Meminfo | None, info: HostInfo | None, live: bool) -> int | None:
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


def infer_system_ram(
    f: FactLog,
    iomem: IomemMap | None,
    arch: str | None,
    ram: tuple[MemRange, ...],
    mem_total: int | None,
    kexec_size: int | None,
    logged: tuple[int, str] | None = None,
) -> tuple[int | None, bool]:
    """System RAM as ``parse_crashkernel()`` counts it, and whether it is an estimate.

    ``logged`` is the RAM the kernel log's ``Reserving ... (System RAM: NMB)`` line gives (the
    same ``memblock_phys_mem_size()``, to the MiB) and the log's path: the next best after iomem.
    """
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
    if iomem is None:
        reason = "/proc/iomem is absent"
    elif not iomem.addresses_visible:
        reason = "/proc/iomem was read without root"
    else:
        reason = "/proc/iomem has no System RAM"
    if logged is not None:
        f.prov["system_ram"] = f"estimate: 'System RAM' of the crashkernel line in the kernel log ({logged[1]}), memblock_phys_mem_size() rounded down to the MiB"
        f.note(
            "warning",
            "system-ram-estimated",
            f"system RAM taken from the kernel log's crashkernel line, to the MiB, because {reason}",
        )
        return logged[0], True
    if mem_total:  # a MemTotal of 0 is no kernel's: it tells nothing
        why = "estimate: MemTotal"
        total = mem_total
        if kexec_size:
            total += kexec_size
            why += " plus /sys/kernel/kexec_crash_size"
        f.prov["system_ram"] = f"{why}, because {reason}; the kernel counts more (MemTotal leaves out early reservations)"
        f.note(
            "warning",
            "system-ram-estimated",
            f"system RAM estimated from MemTotal because {reason}: the kernel counts a little more, "
            "which matters only at a crashkernel= range boundary",
        )
        return total, True
    f.prov["system_ram"] = f"unknown: {reason} and {'there is no MemTotal' if mem_total is None else 'MemTotal is 0'}"
    f.note("warning", "system-ram-unknown", "system RAM unknown: the current crashkernel= is not evaluated")
    return None, False


def infer_page_size(
    f: FactLog,
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


# Distribution kernel release suffixes, each unambiguous about the distribution that built it:
# RPM dist tags (".el8_0", ".fc40"; Fedora's and RHEL's packaging guidelines), Debian's "+debN"
# ABI suffix (since trixie) and its older "-N-amd64" style flavours, Ubuntu's
# "-N-generic" style flavours and SUSE's "-default"/"-64kb" flavours.
_RELEASE_DISTRO = (
    (re.compile(r"\.el(\d+)(?:_\d+)?(?:\.|$)"), "rhel"),
    (re.compile(r"\.fc(\d+)(?:\.|$)"), "fedora"),
    (re.compile(r"\+deb(\d+)"), "debian"),
    # Debian's flavours before trixie's "+debN" ("5.10.0-10-amd64", "6.1.0-18-cloud-arm64"):
    # Ubuntu names its flavours otherwise (-generic, -aws ...).
    (re.compile(r"^\d+\.\d+\.\d+-\d+-(?:cloud-|rt-)?(?:amd64|arm64|armmp|ppc64el|s390x|686|686-pae)()$"), "debian"),
    (re.compile(r"^\d+\.\d+\.\d+-\d+-(?:generic|lowlatency|aws|azure|gcp|gke|oracle|kvm|raspi)(?:-64k)?()$"), "ubuntu"),
    (re.compile(r"^\d+\.\d+\.\d+-\d+(?:\.\d+)*-(?:default|64kb)()$"), "suse"),
)


def infer_distro(f: FactLog, release: str | None) -> OsRelease | None:
    """The distribution a kernel release names when ``/etc/os-release`` is absent, or None.

    Only unambiguous build suffixes count; the result carries ``ID`` and, where the suffix has
    it, the major ``VERSION_ID``.

    >>> f = FactLog()
    >>> d = infer_distro(f, "3.10.0-229.11.1.el7.x86_64")
    >>> d.id, d.version_id, f.prov["distro"]
    ('rhel', '7', "inferred from the kernel release '3.10.0-229.11.1.el7.x86_64' (/etc/os-release is absent)")
    >>> infer_distro(f, "4.18.0-80.11.2.el8_0.x86_64").version_id, infer_distro(f, "3.2.0-58-generic").id
    ('8', 'ubuntu')
    >>> infer_distro(FactLog(), "5.10.0-10-amd64").id, infer_distro(FactLog(), "6.8.0-1-custom") is None
    ('debian', True)
    """
    if release is not None:
        for pattern, distro_id in _RELEASE_DISTRO:
            m = pattern.search(release)
            if m is not None:
                f.prov["distro"] = f"inferred from the kernel release '{release}' (/etc/os-release is absent)"
                f.note("info", "distro-inferred", f"distribution {distro_id} inferred from the kernel release '{release}': /etc/os-release is absent (give --profile if it is wrong)")
                return OsRelease(id=distro_id, version_id=m.group(1) or None)
    f.prov["distro"] = "unknown: /etc/os-release is absent"
    return None
