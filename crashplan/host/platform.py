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
                       source (sosreport, snapshot); the dump     ``luks_overhead``
                       path from ``/proc/self/mountinfo`` and
                       ``/sys/block`` (kdump-lib.sh
                       ``get_all_kdump_crypt_dev()``)
``dump_protocol``      the kdump configuration (KdumpConfig)      ``user_net`` for nfs, ssh, ftp,
                                                                  sftp, cifs
=====================  =========================================  ==================================

Absent is not zero: a fact the source cannot tell is ``None`` and its provenance says why
("unknown: ..."), so the footprint says it did not cost it rather than costing nothing silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from crashplan.errors import SourceError
from crashplan.host.formats.blockdevs import BlockDevices, parse_block_devices
from crashplan.host.formats.iommu import Iommus, parse_iommus
from crashplan.host.formats.luksdump import LuksDump, parse_luks_dump
from crashplan.host.formats.memencrypt import (
    MemEncryption,
    parse_mem_encrypt_log,
    parse_mem_encrypt_status,
)
from crashplan.host.formats.mountinfo import find_mount, parse_mountinfo
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
_MOUNTINFO = "proc/self/mountinfo"


@dataclass(frozen=True, slots=True)
class LuksDevice:
    """A LUKS device whose header the source holds: its name, its ``luksDump``, and whether it
    lies under the dump target (None when the source cannot tell: no mountinfo or /sys/block)."""

    device: str
    dump: LuksDump
    in_dump_path: bool | None = None


@dataclass(frozen=True, slots=True)
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
    kernel_log: tuple[tuple[str, ...], str] | None = None,
) -> Platform:
    """Read the platform facts of ``source``.

    :param read_text: the caller's cached reader (absent files are recorded there).
    :param kdump_where: where the kdump configuration came from, for the dump protocol's provenance.
    :param kernel_log: the lines of the kernel log the caller read from the source and its host
        path; without one, the live host's ring buffer is read.
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

    mem = _mem_encryption(source, read_text, listdir, prov, kernel_log or _ring_buffer(source))
    pci = _pci_drivers(source, listdir, prov)
    iommus = _iommus(listdir, iomem, prov)
    luks = _luks(source, listdir, read_text, prov, kdump)
    protocol = None
    if kdump is None:
        prov["dump_protocol"] = "unknown: no kdump configuration"
    elif kdump.dump_target is None:
        prov["dump_protocol"] = f"unknown: {kdump_where} names no dump target"
    else:
        protocol = kdump.dump_target
        prov["dump_protocol"] = f"the dump target of {kdump_where}"
    return Platform(mem, pci, iommus, luks, protocol, MappingProxyType(prov), tuple(findings), tuple(absent))


def _ring_buffer(source: Source) -> tuple[tuple[str, ...], str] | None:
    """The live host's kernel log (/dev/kmsg) as lines, None for any other source or when unreadable."""
    kernel_log = getattr(source, "kernel_log", None)
    if source.is_live and kernel_log is not None:
        text = kernel_log()
        if text is not None:
            return tuple(text.splitlines()), "the kernel log (/dev/kmsg)"
    return None


def _mem_encryption(
    source: Source,
    read_text: Callable[[str], str | None],
    listdir: Callable[[str], tuple[str, ...] | None],
    prov: dict[str, str],
    kernel_log: tuple[tuple[str, ...], str] | None,
) -> MemEncryption | None:
    lines, where = kernel_log or (None, "")
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


def _quiet_text(source: Source, relpath: str) -> str | None:
    try:
        return source.read_text(relpath)
    except SourceError:
        return None


def _quiet_listdir(source: Source, relpath: str) -> tuple[str, ...] | None:
    try:
        return source.listdir(relpath)
    except SourceError:
        return None


def _block_devices(source: Source) -> BlockDevices | None:
    """The block devices of ``/sys/block`` (disks, their partitions, dm mappings), None without it."""
    names = _quiet_listdir(source, "sys/block")
    if names is None:
        return None
    devs: dict[str, str] = {}
    uuids: dict[str, str] = {}
    slaves: dict[str, tuple[str, ...]] = {}
    for name in names:
        base = f"sys/block/{name}"
        text = _quiet_text(source, f"{base}/dev")
        if text is not None:
            devs[name] = text
        for child in _quiet_listdir(source, base) or ():
            if child.startswith(name) and child != name:  # a partition: sda1, nvme0n1p2
                text = _quiet_text(source, f"{base}/{child}/dev")
                if text is not None:
                    devs[child] = text
        uuid = _quiet_text(source, f"{base}/dm/uuid")
        if uuid is not None:
            uuids[name] = uuid
        below = _quiet_listdir(source, f"{base}/slaves")
        if below:
            slaves[name] = below
    return parse_block_devices(devs, dm_uuids=uuids, slaves=slaves, path=source.display("sys/block"))


def _dump_path_luks(
    source: Source, kdump: KdumpConfig | None, read_text: Callable[[str], str | None]
) -> tuple[tuple[str, ...] | None, str]:
    """The LUKS devices under the dump target (kdump-lib.sh get_all_kdump_crypt_dev()), and how it was found.

    None when the source cannot tell (no mountinfo, no /sys/block, the target not mounted).
    """
    if kdump is not None and kdump.dump_target in NETWORK_PROTOCOLS:
        return (), f"the dump target is {kdump.dump_target}: no local device"
    text = read_text(_MOUNTINFO)
    blocks = _block_devices(source)
    if text is None or blocks is None:
        return None, f"no /{_MOUNTINFO} or /sys/block to follow the dump target to its devices"
    mounts = parse_mountinfo(text, path=source.display(_MOUNTINFO))
    device = kdump.dump_device if kdump is not None else None
    if device is not None and device.startswith("/dev/"):
        mount = next((m for m in mounts if m.source == device), None)
        where = device
    else:
        where = (kdump.save_path if kdump is not None else None) or "/var/crash"
        mount = find_mount(mounts, where)
    if mount is None or mount.device not in blocks.numbers:
        return None, f"{where} is on no block device /sys/block lists"
    name = blocks.numbers[mount.device]
    found = blocks.luks_below(name)
    return found, f"{where} is on {mount.mount_point} ({mount.source}, {name} {mount.device}) in /{_MOUNTINFO}; " + (
        f"LUKS below it in /sys/block: {', '.join(found)}" if found else "no dm-crypt LUKS mapping below it in /sys/block"
    )


def _luks(
    source: Source,
    listdir: Callable[[str], tuple[str, ...] | None],
    read_text: Callable[[str], str | None],
    prov: dict[str, str],
    kdump: KdumpConfig | None,
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
    in_path, how = _dump_path_luks(source, kdump, read_text)
    if in_path is not None:
        names = {d.removeprefix("/dev/") for d in in_path}
        devices = [LuksDevice(d.device, d.dump, d.device.removeprefix("/dev/") in names) for d in devices]
    prov["luks_devices"] = "cryptsetup luksDump output in " + ", ".join(where) + f"; dump path: {how}"
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
            {"device": d.device, "version": d.dump.version, "keyslot_memory": list(d.dump.memory),
             "in_dump_path": d.in_dump_path} for d in p.luks_devices],
        "dump_protocol": p.dump_protocol,
    }
