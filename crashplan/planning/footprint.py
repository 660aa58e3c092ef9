"""What the crash kernel needs: a fixed part that kexec loads and a runtime part it lives on.

The fixed part is what ``kexec -s -p`` places in the standard reservation: the kernel as the
bzImage header asks for it (``init_size``: the decompressed image plus its boot-time heap),
the initrd as loaded, and kexec's own small segments (purgatory, boot parameters, ELF core
headers).  With ``crashkernel=X,cma`` only this part has to be a standard reservation.

The runtime part is what the capture kernel then uses: the initramfs unpacked into tmpfs (the
compressed image is still in memory while it unpacks), the kernel's own run-time allocations,
the struct page array for its memory, makedumpfile's bitmap buffer and per-CPU costs, and the
extras a dump target or platform brings (network, SME/SEV bounce buffers, 64K pages).

Every line carries its value, where the value came from (a measured file, a host fact or a
profile constant) and the citation.  The profile constants that crashplan measured itself are
derived from real crash dumps under QEMU (tests/data/kdump-trials/, tests/kernel/KDUMP.md) by
:func:`crashplan.planning.calibration.calibrate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from crashplan.units import MiB, format_human
from crashplan.values import Finding

if TYPE_CHECKING:
    from crashplan.host.facts import HostFacts
    from crashplan.profiles import Profile

__all__ = [
    "Footprint",
    "FootprintInputs",
    "Item",
    "estimate_footprint",
    "footprint_inputs",
    "footprint_to_json",
    "platform_inputs",
    "round_up",
]

Part = Literal["fixed", "runtime"]
PAGE = 4096
STRUCT_PAGE = 64
"""sizeof(struct page) on 64-bit arches, as the trials ran: what calibration inverts with
(estimates read the profile's ``estimator.struct_page_size``, this value in every built-in)."""


def round_up(value: int, step: int) -> int:
    """``value`` rounded up to a multiple of ``step``.

    >>> round_up(100 * MiB + 1, 8 * MiB) == 104 * MiB
    True
    """
    return -(-value // step) * step


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the estimate."""

    name: str
    part: Part
    bytes: int
    source: str

    def to_json(self) -> dict[str, object]:
        """``{"name", "part", "bytes", "source"}``."""
        return {"name": self.name, "part": self.part, "bytes": self.bytes, "source": self.source}


@dataclass(frozen=True, slots=True)
class FootprintInputs:
    """The facts an estimate is made from; None where the source does not tell.

    ``kernel_size`` is the in-memory size of the capture kernel (bzImage ``init_size``, arm64
    ``image_size``, ELF load span), ``initrd_size`` the kdump initrd as loaded and
    ``initrd_tmpfs`` what its unpacked tree takes in tmpfs.
    """

    arch: str
    system_ram: int | None
    kernel_size: int | None
    kernel_source: str
    initrd_size: int | None
    initrd_tmpfs: int | None
    initrd_source: str
    nr_cpus: int = 1
    page_size: int = PAGE
    network_dump: bool = False
    sme_sev: bool = False
    # Platform costs (crashplan.host.platform); each ``*_source`` says where the fact came from.
    sme_sev_source: str = ""
    dump_protocol: str | None = None
    dump_protocol_source: str = ""
    mlx5_devices: int = 0
    mlx5_source: str = ""
    smmu: bool = False
    smmu_source: str = ""
    luks_keyslots: tuple[tuple[int, ...], ...] = ()
    luks_source: str = ""
    # The initrd's squashfs/erofs root image once mounted: page cache of the image and its files.
    initrd_image_cache: int | None = None
    initrd_image_source: str = ""


@dataclass(frozen=True, slots=True)
class Footprint:
    """The itemised estimate and the standard and ``,cma`` sizes that cover it.

    ``recommended_size`` is what ``crashkernel=X`` needs (total plus the margin, rounded up to
    the kernel's 16 MiB x86 alignment step of 8 MiB granularity); ``cma_fixed_size`` is the
    standard part of a ``,cma`` setup (the fixed part plus the profile's own ``,cma`` margin,
    ``cma_fixed_margin_percent`` and ``cma_fixed_margin_fixed``) and ``cma_size`` the
    CMA part (the runtime part with a generous margin).
    """

    items: tuple[Item, ...]
    fixed: int
    runtime: int
    total: int
    recommended_size: int
    cma_fixed_size: int
    cma_size: int
    findings: tuple[Finding, ...]
    # When the initrd is unknown: the totals with the smallest and largest kdump initrd of the
    # profile's range (initrd_size_low, initrd_size_high), else None.
    total_range: tuple[int, int] | None = None

    def item(self, name: str) -> Item:
        """The item called ``name``."""
        return next(i for i in self.items if i.name == name)


def _constant(estimator: Mapping[str, object], sources: Mapping[str, str], key: str) -> tuple[int, str]:
    value = estimator[key]
    assert isinstance(value, int | float), key
    return int(value), sources.get(f"estimator.{key}", "profile")


def estimate_footprint(
    inputs: FootprintInputs,
    estimator: Mapping[str, object],
    sources: Mapping[str, str],
) -> Footprint:
    """Estimate what the capture kernel needs on a host.

    :param estimator: the profile's ``estimator`` constants (bytes or factors).
    :param sources: the profile's ``source:`` texts by dotted key.
    """
    items: list[Item] = []
    findings: list[Finding] = []

    def const(key: str) -> tuple[int, str]:
        return _constant(estimator, sources, key)

    # Fixed part: what kexec loads into the reservation.
    if inputs.kernel_size is not None:
        items.append(Item("kernel image in memory", "fixed", inputs.kernel_size, inputs.kernel_source))
    else:
        size, src = const("kernel_size_fallback")
        items.append(Item("kernel image in memory (fallback)", "fixed", size, src))
        findings.append(Finding("warning", "kernel-size-unknown", f"the capture kernel's size is unknown: assuming {size >> 20} MiB ({src})"))
    if inputs.initrd_size is not None:
        items.append(Item("initrd as loaded", "fixed", inputs.initrd_size, inputs.initrd_source))
    else:
        size, src = const("initrd_size_fallback")
        items.append(Item("initrd as loaded (fallback)", "fixed", size, src))
        findings.append(Finding("warning", "initrd-size-unknown", f"the kdump initrd is unknown: assuming {format_human(size)} as loaded ({src})"))
    size, src = const("kexec_segments")
    items.append(Item("kexec segments (purgatory, boot parameters, ELF core headers)", "fixed", size, src))

    # Runtime part: what the capture kernel uses while it runs.
    if inputs.initrd_tmpfs is not None:
        items.append(Item("initramfs unpacked in tmpfs", "runtime", inputs.initrd_tmpfs, inputs.initrd_source))
    elif inputs.initrd_size is None and "initrd_tmpfs_fallback" in estimator:
        # The profile's typical kdump initrd was measured unpacked too: no factor needed.
        size, src = const("initrd_tmpfs_fallback")
        items.append(Item("initramfs unpacked in tmpfs (fallback)", "runtime", size, src))
        findings.append(Finding("warning", "initrd-unpacked-unknown", f"the initrd's unpacked size is unknown: assuming {format_human(size)} in tmpfs ({src})"))
    else:
        loaded = next(i.bytes for i in items if i.name.startswith("initrd as loaded"))
        factor, src = const("initrd_unpack_factor")
        items.append(Item("initramfs unpacked in tmpfs (fallback)", "runtime", loaded * factor, src))
        findings.append(Finding("warning", "initrd-unpacked-unknown", f"the initrd's unpacked size is unknown: assuming {factor} x its size ({src})"))
    if inputs.initrd_image_cache:
        items.append(Item("initrd's root image mounted (page cache of the image and of its files)", "runtime", inputs.initrd_image_cache, inputs.initrd_image_source))
    size, src = const("kernel_runtime_base")
    items.append(Item("kernel, busybox and makedumpfile at run time (nr_cpus=1)", "runtime", size, src))
    size, src = const("kdump_userspace")
    if size or src.startswith("measured"):
        # A measured 0 is shown: the line says why the capture path adds nothing.
        items.append(Item("kdump user space beyond busybox (systemd, udev, journald)", "runtime", size, src))
    cap, cap_src = const("makedumpfile_cyclic_buffer_max")
    why = f"min(4 MiB, 2 bits per page of the first kernel's RAM): {cap_src}"
    if inputs.system_ram is None:
        bitmap, why = cap, f"{why}; system RAM is unknown, so the cap"
    else:
        bitmap = min(cap, inputs.system_ram // inputs.page_size * 2 // 8)
    items.append(Item("makedumpfile cyclic bitmap buffer", "runtime", bitmap, why))
    if inputs.nr_cpus > 1:
        per, src = const("per_cpu_dump")
        items.append(Item(f"per-CPU cost x {inputs.nr_cpus - 1} more CPUs", "runtime", per * (inputs.nr_cpus - 1), src))
    if inputs.network_dump:
        size, src = const("user_net")
        proto = inputs.dump_protocol or "ssh/nfs"
        items.append(Item(f"network dump over {proto} (dhclient, {proto} client)", "runtime", size, _both(inputs.dump_protocol_source, src)))
    if inputs.sme_sev:
        size, src = const("sme_sev_swiotlb")
        items.append(Item("SME/SEV bounce buffers (swiotlb)", "runtime", size, _both(inputs.sme_sev_source, src)))
    if inputs.mlx5_devices and "mlx5" in estimator:
        size, src = const("mlx5")
        items.append(Item("mlx5_core driver (Mellanox ConnectX)", "runtime", size, _both(inputs.mlx5_source, src)))
    if inputs.smmu and inputs.arch == "arm64" and inputs.page_size == 64 * 1024 and "arm64_smmu" in estimator:
        size, src = const("arm64_smmu")
        items.append(Item("arm64 SMMUv3 queues with 64K pages", "runtime", size, _both(inputs.smmu_source, src)))
    _luks_items(inputs, estimator, sources, items, findings)
    if inputs.arch == "arm64" and inputs.page_size == 64 * 1024 and "arm64_64k" in estimator:
        size, src = const("arm64_64k")
        items.append(Item("arm64 64K pages", "runtime", size, src))
    subtotal = sum(i.bytes for i in items)
    # The struct page array of the capture kernel's own memory: sizeof(struct page) per page of
    # the reservation, which includes the array itself.
    struct_page, src = const("struct_page_size")
    total = -(-subtotal * inputs.page_size // (inputs.page_size - struct_page))
    items.append(Item("struct page array for the crash kernel's memory", "runtime", total - subtotal, f"{struct_page} bytes per {inputs.page_size // 1024} KiB page: {src}"))
    fixed = sum(i.bytes for i in items if i.part == "fixed")
    runtime = total - fixed
    pct, _ = const("crashplan_margin_percent")
    add, _ = const("crashplan_margin_fixed")
    recommended = round_up(total + total * pct // 100 + add, 8 * MiB)
    # With ,cma the standard part holds only what kexec loads (read from the host's files), so it
    # gets its own, smaller margin; the runtime part's uncertainty goes to the generous CMA area.
    cma_pct, _ = const("cma_fixed_margin_percent")
    cma_add, _ = const("cma_fixed_margin_fixed")
    cma_fixed = round_up(fixed + fixed * cma_pct // 100 + cma_add, 8 * MiB)
    factor, _ = const("cma_runtime_factor")
    extra, _ = const("cma_runtime_extra")
    cma_size = round_up(max(runtime * factor, runtime + extra), 64 * MiB)
    total_range = _initrd_range(inputs, estimator, sources) if inputs.initrd_size is None else None
    return Footprint(tuple(items), fixed, runtime, total, recommended, cma_fixed, cma_size, tuple(findings), total_range)


def _initrd_range(inputs: FootprintInputs, estimator: Mapping[str, object], sources: Mapping[str, str]) -> tuple[int, int] | None:
    """The totals with the smallest and the largest kdump initrd the profile's range names."""
    if not {"initrd_size_low", "initrd_tmpfs_low", "initrd_size_high"} <= estimator.keys():
        return None
    low, _ = _constant(estimator, sources, "initrd_size_low")
    low_tmpfs, _ = _constant(estimator, sources, "initrd_tmpfs_low")
    high, _ = _constant(estimator, sources, "initrd_size_high")
    factor = estimator["initrd_unpack_factor"]
    assert isinstance(factor, int | float)
    ends = []
    for size, tmpfs in ((low, low_tmpfs), (high, int(high * factor))):
        ends.append(estimate_footprint(replace(inputs, initrd_size=size, initrd_tmpfs=tmpfs, initrd_source="range"), estimator, sources).total)
    return min(ends), max(ends)


def _both(fact: str, constant: str) -> str:
    """An item's source: the host fact that triggers it, then the profile constant's ``source:``."""
    return f"{fact}; cost: {constant}" if fact else constant


def _luks_items(
    inputs: FootprintInputs,
    estimator: Mapping[str, object],
    sources: Mapping[str, str],
    items: list[Item],
    findings: list[Finding],
) -> None:
    """The Argon2 memory of the LUKS2 keyslots of the dump target, by the profile's rule, and cryptsetup's overhead."""
    devices = [d for d in inputs.luks_keyslots if any(d)]
    if not devices:
        return
    persistence = bool(estimator.get("luks_key_persistence")) and inputs.arch == "x86_64"
    if persistence:
        # kdump-utils d9677e1, 85eb8a7: the capture kernel reuses the first kernel's keys
        # (/sys/kernel/config/crash_dm_crypt_keys) and runs no Argon2.
        src = sources.get("estimator.luks_key_persistence", "profile")
        findings.append(Finding("info", "luks-key-persistence", f"LUKS2 in the dump path, but the capture kernel reuses the first kernel's keys: no Argon2 memory counted ({src})"))
        return
    rule = estimator.get("luks_keyslots", "max-per-device")
    rule_src = sources.get("estimator.luks_keyslots", "profile")
    if rule == "sum":
        memory = sum(sum(d) for d in devices)
        how = "every keyslot's Memory: added up"
    else:
        memory = sum(max(d) for d in devices)
        how = "the largest keyslot Memory: per device, summed"
    items.append(Item(f"LUKS2 Argon2 keyslot memory ({len(devices)} device{'s' if len(devices) > 1 else ''})", "runtime", memory, f"{inputs.luks_source}; {how}: {rule_src}"))
    size, src = _constant(estimator, sources, "luks_overhead")
    if size:
        items.append(Item("cryptsetup overhead (LUKS2 in the dump path)", "runtime", size, src))


def footprint_to_json(fp: Footprint) -> dict[str, object]:
    """The ``"footprint"`` object of the JSON output."""
    return {
        "fixed": fp.fixed,
        "runtime": fp.runtime,
        "total": fp.total,
        "recommended_size": fp.recommended_size,
        "cma": {"fixed_size": fp.cma_fixed_size, "cma_size": fp.cma_size},
        "total_range": list(fp.total_range) if fp.total_range else None,
        "items": [i.to_json() for i in fp.items],
        "findings": [f.to_json() for f in fp.findings],
    }


def footprint_inputs(facts: HostFacts, profile: Profile) -> FootprintInputs:
    """The footprint's inputs from the host facts (the boot files analysed) and the profile."""
    kernel = facts.boot_files.kernel
    initrd = facts.boot_files.initrd
    kernel_size: int | None = None
    kernel_source = ""
    if kernel is not None and kernel.memory_size is not None:
        kernel_size = kernel.memory_size
        kernel_source = f"{kernel.path}: {kernel.format} header ({'init_size' if kernel.format == 'bzImage' else 'image size'})"
    elif facts.kernel_image is not None:
        kernel_size = facts.kernel_image.size
        kernel_source = "span of the running kernel's Kernel code/rodata/data/bss in /proc/iomem (the kdump kernel's file was not read)"
    initrd_size = initrd.size if initrd is not None else None
    tmpfs = initrd.tmpfs_bytes if initrd is not None else None
    initrd_source = f"{initrd.path}: file size; unpacked tree walked (crashplan.host.formats.initrd)" if initrd is not None else ""
    # The host's kdump configuration wins, then the profile's convention; like the host's append
    # line (crashplan.host.formats.kdumpconf), nr_cpus= first, else maxcpus= (Debian ppc64el).
    nr_cpus = (facts.kdump.nr_cpus if facts.kdump is not None else None) or profile.nr_cpus or profile.maxcpus or 1
    platform = platform_inputs(facts)
    if initrd is not None and initrd.image_cache_bytes:
        platform["initrd_image_cache"] = initrd.image_cache_bytes
        platform["initrd_image_source"] = (
            f"{initrd.path}: {initrd.image} (superblock and inode table read; crashplan.host.formats.fsimage): "
            "its bytes_used in the loop device's page cache + every file in pages + an inode and dentry each"
        )
    return FootprintInputs(
        arch=facts.arch or "x86_64",
        system_ram=facts.system_ram,
        kernel_size=kernel_size,
        kernel_source=kernel_source,
        initrd_size=initrd_size,
        initrd_tmpfs=tmpfs,
        initrd_source=initrd_source,
        nr_cpus=nr_cpus,
        # A page size the host does not tell is the profile's kernel flavour's (64K for the arm64
        # kernels whose release says 64k), else 4 KiB.
        page_size=facts.page_size or profile.page_size or 4096,
        **platform,
    )


def platform_inputs(facts: HostFacts) -> dict[str, Any]:
    """The footprint inputs of the platform facts (crashplan.host.platform), each with its source."""
    from crashplan.host.platform import NETWORK_PROTOCOLS

    prov = facts.provenance
    out: dict[str, Any] = {}
    protocol = facts.dump_protocol
    out["network_dump"] = protocol in NETWORK_PROTOCOLS
    out["dump_protocol"] = protocol
    out["dump_protocol_source"] = f"dump protocol {protocol}: {prov.get('dump_protocol', 'kdump configuration')}"
    mem = facts.mem_encryption
    out["sme_sev"] = mem is not None and mem.bounces_dma
    out["sme_sev_source"] = prov.get("mem_encryption", "")
    pci = facts.pci_drivers
    if pci is not None and "mlx5_core" in pci:
        # kdump-lib.sh has_mlx5(): the driver directory exists (registered), bound or not.
        bound = pci.bound("mlx5_core")
        out["mlx5_devices"] = max(1, len(bound))
        out["mlx5_source"] = f"/sys/bus/pci/drivers/mlx5_core ({', '.join(bound) or 'no device bound'})"
    if facts.iommus is not None and facts.iommus.smmu:
        out["smmu"] = True
        out["smmu_source"] = prov.get("iommus", "")
    luks = facts.luks_devices
    if luks and (protocol is None or protocol not in NETWORK_PROTOCOLS):
        # In the dump path as host/platform.py traced it (kdump-lib.sh get_all_kdump_crypt_dev());
        # when the source cannot tell (in_dump_path None), every LUKS2 device is assumed to be.
        v2 = [d for d in luks if d.dump.version == 2 and d.in_dump_path is not False]
        assumed = any(d.in_dump_path is None for d in v2)
        out["luks_keyslots"] = tuple(tuple(m or 0 for m in d.dump.memory) for d in v2)
        out["luks_source"] = (
            f"LUKS2 {', '.join(d.device for d in v2)} ({prov.get('luks_devices', '')})"
            + ("; assumed in the dump path" if assumed else "")
        )
    return out
