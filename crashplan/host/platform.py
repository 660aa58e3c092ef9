"""Platform facts that cost the capture kernel memory: memory encryption, PCI drivers, SMMUs, LUKS, the dump protocol.

:func:`gather_platform` reads them from a :class:`~crashplan.host.sources.Source` through the
pure parsers of :mod:`crashplan.host.formats` and says, for each, where it came from; the
footprint (:mod:`crashplan.planning.footprint`) turns each into a line with the profile's
``source:``.  What each fact is for, and the tool that costs it:

=====================  =========================================  ==================================
fact                   read from                                  cost (profile ``estimator.``)
=====================  =========================================  ==================================
``mem_encryption``     the kernel log line of                     ``sme_sev_swiotlb`` (kdump-utils
                       ``print_mem_encrypt_feature_info()``,      ``is_sme_or_sev_active()``)
                       else ``/sys/kernel/mm/mem_encrypt/*/status``
``pci_drivers``        ``/sys/bus/pci/drivers/*/``                ``mlx5`` (kdump-utils ``has_mlx5()``)
``iommus``             ``/sys/class/iommu``,                      ``arm64_smmu`` with 64K pages
                       ``/sys/devices/platform``, ``/proc/iomem``  (kdump-utils ``has_aarch64_smmu()``)
``luks_devices``       ``cryptsetup luksDump`` output in the       ``luks_keyslots`` rule +
                       source (sosreport, snapshot)               ``luks_overhead``
``dump_protocol``      the kdump configuration (KdumpConfig)      ``user_net`` for nfs, ssh, ftp,
                                                                  sftp, cifs
=====================  =========================================  ==================================

Absent is not zero: a fact the source cannot tell is ``None`` and its provenance says why
("unknown: ..."), so the footprint says it did not cost it rather than costing nothing silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from crashplan._frozen import frozen
from crashplan.errors import SourceError
from crashplan.host.formats.iommu import Iommus, parse_iommus
from crashplan.host.formats.luksdump import LuksDump, parse_luks_dump
from crashplan.host.formats.memencrypt import (
    MemEncryption,
    parse_mem_encrypt_log,
    parse_mem_encrypt_status,
)
from crashplan.host.formats.pcidrivers import PciDrivers, parse_pci_drivers
from crashplan.values import Finding

if TYPE_CHECKING:
    from crashplan.host.formats.iomem import IomemMap
    from crashplan.host.formats.kdumpconf import KdumpConfig
    from crashplan.host.sources import Source

__all__ = [
    "LUKS_DUMP_DIRS",
    "NETWORK_PROTOCOLS",
    "LuksDevice",
    "Platform",
    "gather_platform",
    "platform_to_json",
]

#: Dump protocols that bring up the network in the capture kernel: kdump-utils' nfs and ssh,
#: kdump-tools' NFS and SSH, and openSUSE kdump's KDUMP_PROTO other than file (calibrate.cc:
#: ``needsNetwork = strcmp(KDUMP_PROTO, "file")``; kdump-read-config maps ftp://, sftp:// and
#: scp://, ssh://, nfs://, cifs:// and smb:// onto it).
NETWORK_PROTOCOLS = frozenset({"nfs", "ssh", "ftp", "sftp", "cifs"})

#: Where a source may hold ``cryptsetup luksDump`` output, one file per device: a crashplan
#: snapshot's ``crashplan/luksDump/<device>``, sos' cryptsetup plugin
#: ``sos_commands/cryptsetup/cryptsetup_luksDump_.dev.<device>``.
LUKS_DUMP_DIRS = ("crashplan/luksDump", "sos_commands/cryptsetup")

_MEM_ENCRYPT = "sys/kernel/mm/mem_encrypt"
_PCI_DRIVERS = "sys/bus/pci/drivers"
_CLASS_IOMMU = "sys/class/iommu"
_PLATFORM = "sys/devices/platform"


@frozen
class LuksDevice:
    """A LUKS device whose header the source holds: its name and its ``luksDump``."""

    device: str
    dump: LuksDump


@frozen
class Platform:
    """The platform facts of a host (None where the source does not tell) and where each came from."""

    mem_encryption: MemEncryption | None = None
    pci_drivers: PciDrivers | None = None
    iommus: Iommus | None = None
    luks_devices: tuple[LuksDevice, ...] | None = None
    dump_protocol: str | None = None
    provenance: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False, hash=False, repr=False)
    findings: tuple[Finding, ...] = field(default=(), compare=False, hash=False, repr=False)
    absent: tuple[str, ...] = field(default=(), compare=False, hash=False, repr=False)


def gather_platform(
    source: Source,
    read_text: Callable[[str], str | None],
    *,
    kdump: KdumpConfig | None,
    kdump_where: str,
    iomem: IomemMap | None,
) -> Platform:
    """Read the platform facts of ``source``.

    :param read_text: the caller's cached reader (absent files are recorded there).
    :param kdump_where: where the kdump configuration came from, for the dump protocol's provenance.
    :raises SourceError: a luksDump or mem_encrypt status file that is there but garbled.
    """
    prov: dict[str, str] = {}
    findings: list[Finding] = []
    absent: list[str] = []

    def listdir(relpath: str) -> tuple[str, ...] | None:
        try:
            names = source.listdir(relpath)
        except SourceError as e:
            findings.append(Finding("warning", "unreadable-file", f"/{relpath}: {e.one_line()}; treated as absent"))
            return None
        if names is None:
            absent.append("/" + relpath)
        return names

    mem = _mem_encryption(source, read_text, listdir, prov)
    pci = _pci_drivers(source, listdir, prov)
    iommus = _iommus(listdir, iomem, prov)
    luks = _luks(source, listdir, read_text, prov)
    protocol = None
    if kdump is None:
        prov["dump_protocol"] = "unknown: no kdump configuration"
    elif kdump.dump_target is None:
        prov["dump_protocol"] = f"unknown: {kdump_where} names no dump target"
    else:
        protocol = kdump.dump_target
        prov["dump_protocol"] = f"the dump target of {kdump_where}"
    return Platform(mem, pci, iommus, luks, protocol, MappingProxyType(prov), tuple(findings), tuple(absent))


def _kernel_log(source: Source) -> tuple[tuple[str, ...] | None, str]:
    """The captured kernel log's lines and where they came from (a host path); the live host's ring buffer."""
    from crashplan.host.facts import KERNEL_LOG_FILES  # facts imports this module

    for relpath in KERNEL_LOG_FILES:
        text = source.read_text(relpath)
        if text is not None:
            return tuple(text.splitlines()), "/" + relpath
    kernel_log = getattr(source, "kernel_log", None)
    if source.is_live and kernel_log is not None:
        text = kernel_log()
        if text is not None:
            return tuple(text.splitlines()), "the kernel log (/dev/kmsg)"
    return None, ""


def _mem_encryption(
    source: Source,
    read_text: Callable[[str], str | None],
    listdir: Callable[[str], tuple[str, ...] | None],
    prov: dict[str, str],
) -> MemEncryption | None:
    lines, where = _kernel_log(source)
    if lines is not None:
        found = parse_mem_encrypt_log(lines)
        if found is not None:
            prov["mem_encryption"] = f"'{found.line}' in {where} (arch/x86/mm/mem_encrypt.c print_mem_encrypt_feature_info())"
            return found
    names = source.listdir(_MEM_ENCRYPT) if source.exists(_MEM_ENCRYPT) else None
    if names:
        files = {}
        for name in names:
            text = read_text(f"{_MEM_ENCRYPT}/{name}/status") if name in ("sme", "sev", "sev_es", "sev_snp") else None
            if text is not None:
                files[name] = text
        found = parse_mem_encrypt_status(files, path=source.display(_MEM_ENCRYPT))
        prov["mem_encryption"] = (
            f"{' '.join(found.features)} 'active' in /{_MEM_ENCRYPT}/*/status" if found is not None
            else f"no feature 'active' in /{_MEM_ENCRYPT}/*/status"
        )
        return found
    if lines is not None:
        prov["mem_encryption"] = (
            f"no 'Memory Encryption Features active' line in {where}: none active, or the ring "
            "buffer wrapped since boot"
        )
    else:
        prov["mem_encryption"] = "unknown: no kernel log in this source and no /sys/kernel/mm/mem_encrypt"
    return None


def _pci_drivers(
    source: Source, listdir: Callable[[str], tuple[str, ...] | None], prov: dict[str, str]
) -> PciDrivers | None:
    names = listdir(_PCI_DRIVERS)
    if names is None:
        prov["pci_drivers"] = f"unknown: /{_PCI_DRIVERS} is absent"
        return None
    listing: dict[str, tuple[str, ...]] = {}
    for name in names:
        try:
            entries = source.listdir(f"{_PCI_DRIVERS}/{name}")
        except SourceError:
            entries = None
        listing[name] = entries or ()
    prov["pci_drivers"] = f"/{_PCI_DRIVERS} (one directory per registered driver, one link per bound device)"
    return parse_pci_drivers(listing)


def _iommus(
    listdir: Callable[[str], tuple[str, ...] | None], iomem: IomemMap | None, prov: dict[str, str]
) -> Iommus | None:
    class_iommu = listdir(_CLASS_IOMMU)
    platform = listdir(_PLATFORM)
    names = [] if iomem is None else [res.name for res in iomem.resources]
    if class_iommu is None and platform is None and iomem is None:
        prov["iommus"] = f"unknown: no /{_CLASS_IOMMU}, /{_PLATFORM} or /proc/iomem"
        return None
    found = parse_iommus(class_iommu or (), platform or (), names)
    read = [p for p, v in ((f"/{_CLASS_IOMMU}", class_iommu), (f"/{_PLATFORM}", platform), ("/proc/iomem", iomem)) if v is not None]
    prov["iommus"] = ("SMMU " + ", ".join(found.smmu) + " in " if found.smmu else "no arm SMMU in ") + " and ".join(read)
    return found


def _luks(
    source: Source,
    listdir: Callable[[str], tuple[str, ...] | None],
    read_text: Callable[[str], str | None],
    prov: dict[str, str],
) -> tuple[LuksDevice, ...] | None:
    devices: list[LuksDevice] = []
    where: list[str] = []
    for directory in LUKS_DUMP_DIRS:
        if not source.exists(directory):
            continue
        for name in source.listdir(directory) or ():
            if directory.startswith("sos_") and not name.startswith("cryptsetup_luksDump_"):
                continue
            relpath = f"{directory}/{name}"
            text = read_text(relpath)
            if not text or not text.strip():
                continue
            device = name.removeprefix("cryptsetup_luksDump_").replace(".dev.", "/dev/", 1)
            devices.append(LuksDevice(device, parse_luks_dump(text, path=source.display(relpath))))
            where.append("/" + relpath)
    if not where:
        prov["luks_devices"] = "unknown: no cryptsetup luksDump output in this source (" + ", ".join(LUKS_DUMP_DIRS) + ")"
        return None
    prov["luks_devices"] = "cryptsetup luksDump output in " + ", ".join(where)
    return tuple(devices)


class _HasPlatform(Protocol):
    @property
    def mem_encryption(self) -> MemEncryption | None: ...
    @property
    def pci_drivers(self) -> PciDrivers | None: ...
    @property
    def iommus(self) -> Iommus | None: ...
    @property
    def luks_devices(self) -> tuple[LuksDevice, ...] | None: ...
    @property
    def dump_protocol(self) -> str | None: ...


def platform_to_json(p: _HasPlatform) -> dict[str, object]:
    """The ``"platform"`` object of ``crashplan facts --format json`` (of a Platform or HostFacts)."""
    return {
        "mem_encryption": None if p.mem_encryption is None else {
            "vendor": p.mem_encryption.vendor, "features": list(p.mem_encryption.features)},
        "pci_drivers": None if p.pci_drivers is None else {k: list(v) for k, v in p.pci_drivers.drivers.items()},
        "iommus": None if p.iommus is None else {"iommus": list(p.iommus.iommus), "smmu": list(p.iommus.smmu)},
        "luks_devices": None if p.luks_devices is None else [
            {"device": d.device, "version": d.dump.version, "keyslot_memory": list(d.dump.memory)} for d in p.luks_devices],
        "dump_protocol": p.dump_protocol,
    }
