"""The profile schema: every key a profile may hold, its kind, and what a concrete profile needs.

Documented for authors in ``profiles/README.md``; :mod:`crashplan.profiles.load` reads files
against it and :mod:`crashplan.profiles.extends` checks the merged result.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CMDLINE_LEAVES", "ESTIMATOR_LEAVES", "MATCH_KEYS", "PLAIN_KEYS", "REQUIRED", "SECTIONS", "TOP_KEYS", "TOP_LEAVES", "UNITS", "Leaf", "expected", "leaf_of"]


@dataclass(frozen=True, slots=True)
class Leaf:
    """A sourced value: ``{value: ..., source: "..."}``."""

    kind: str  # size | count | factor | percent | text | crashkernel | flag | choice
    doc: str
    arches: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    maximum: int | None = None


_KIND_WORDS = {
    "size": "a size such as 256M",
    "count": "a whole number",
    "factor": "a number",
    "percent": "a percentage (0-100]",
    "text": "text",
    "crashkernel": "a crashkernel= value such as 2G-64G:256M,64G-:512M",
    "flag": "true or false",
}

TOP_LEAVES: dict[str, Leaf] = {
    "page_size": Leaf(
        "size", "base page size of the kernel flavour (64K kernels)", arches=("arm64",)
    ),
    "default_crashkernel": Leaf("crashkernel", "the distribution's default crashkernel= value"),
    "fadump_crashkernel": Leaf(
        "crashkernel", "the default for firmware-assisted dump", arches=("ppc64le",)
    ),
    "initramfs_tmpfs_percent": Leaf(
        "percent", "tmpfs size limit the kdump initramfs unpacks into"
    ),
    "dump_level": Leaf("count", "makedumpfile -d dump level", maximum=31),
    "core_collector": Leaf("text", "the dump command of the kdump initramfs"),
}

CMDLINE_LEAVES: dict[str, Leaf] = {
    "nr_cpus": Leaf("count", "nr_cpus= given to the kdump kernel"),
    "maxcpus": Leaf("count", "maxcpus= given to the kdump kernel"),
    "append": Leaf("text", "parameters appended to the kdump kernel command line"),
    "remove": Leaf("text", "parameters removed from the first kernel's command line"),
}

ESTIMATOR_LEAVES: dict[str, Leaf] = {
    "runtime_reservation": Leaf(
        "size", "user space and kernel runtime allowance (kdumpctl estimate)"
    ),
    "initrd_unpack_factor": Leaf("factor", "compressed initramfs size multiplier"),
    "kernel_runtime_base": Leaf("size", "kernel and user space at run time with nr_cpus=1"),
    "kexec_segments": Leaf("size", "kexec's own segments in the reservation (purgatory, boot parameters, ELF headers)"),
    "kernel_size_fallback": Leaf("size", "in-memory kernel size assumed when no kernel file or iomem line tells"),
    "initrd_size_fallback": Leaf("size", "kdump initrd size assumed when the initrd is not found"),
    "initrd_tmpfs_fallback": Leaf("size", "the kdump initrd's unpacked tree in tmpfs assumed when the initrd is not found (else the unpack factor)"),
    "initrd_size_low": Leaf("size", "the low end of the kdump initrd sizes an unknown initrd could have"),
    "initrd_tmpfs_low": Leaf("size", "what the initrd_size_low initrd takes unpacked in tmpfs"),
    "initrd_size_high": Leaf("size", "the high end of the kdump initrd sizes an unknown initrd could have (unpacked by the unpack factor)"),
    "kdump_userspace": Leaf("size", "the kdump environment's user space beyond busybox and makedumpfile (systemd, udev, journald)"),
    "kernel_base": Leaf("size", "kdump kernel runtime memory, image excluded"),
    "kernel_init": Leaf("size", "init memory the kdump kernel frees after boot"),
    "kernel_dynamic": Leaf("size", "kernel dynamic allocations"),
    "per_cpu": Leaf("size", "kernel memory per kdump CPU"),
    "per_cpu_dump": Leaf("size", "dump tool memory per kdump CPU (threads, buffers)"),
    "user_base": Leaf("size", "kdump initramfs user space (init, udev, makedumpfile ...)"),
    "user_net": Leaf("size", "extra user space for a network dump target"),
    "makedumpfile_cyclic_buffer_max": Leaf("size", "cap of makedumpfile's cyclic bitmap buffer"),
    "makedumpfile_free_fraction": Leaf("factor", "share of MemFree makedumpfile may use"),
    "makedumpfile_thread_region": Leaf(
        "size", "makedumpfile THREAD_REGION per --num-threads thread"
    ),
    "makedumpfile_per_thread": Leaf("size", "measured makedumpfile RSS per thread"),
    "bitmap_bits_per_page": Leaf("count", "dump bitmap bits per page of RAM"),
    "bitmap_max": Leaf("size", "cap of the dump bitmap"),
    "struct_page_size": Leaf("size", "sizeof(struct page)"),
    "luks_keyslots": Leaf(
        "choice", "how LUKS2 Argon2 memory is counted", choices=("max-per-device", "sum")
    ),
    "luks_overhead": Leaf("size", "cryptsetup overhead when a LUKS2 device is in the dump path"),
    "luks_key_persistence": Leaf("flag", "the kdump kernel reuses the first kernel's LUKS keys"),
    "sme_sev_swiotlb": Leaf("size", "SWIOTLB bounce buffer under AMD SME/SEV"),
    "arm64_64k": Leaf("size", "extra for arm64 kernels with 64K pages", arches=("arm64",)),
    "arm64_smmu": Leaf("size", "extra for an arm64 SMMU with 64K pages", arches=("arm64",)),
    "mlx5": Leaf("size", "extra when the mlx5_core driver is bound"),
    "per_cpu_default_delta": Leaf(
        "size", "default string delta per kdump CPU (kdumpctl, ppc64le)"
    ),
    "margin_percent": Leaf("percent", "margin added on top of the estimate, in percent"),
    "margin_fixed": Leaf("size", "fixed margin added on top of the estimate"),
    "crashplan_margin_percent": Leaf(
        "percent", "crashplan's own margin on its estimate, in percent"
    ),
    "crashplan_margin_fixed": Leaf("size", "crashplan's own fixed margin on its estimate"),
    "cma_fixed_margin_percent": Leaf(
        "percent", "margin on the fixed part when it is the standard part of a ,cma setup, in percent"
    ),
    "cma_fixed_margin_fixed": Leaf("size", "fixed margin on the fixed part of a ,cma setup"),
    "cma_runtime_factor": Leaf("factor", "the ,cma area as a multiple of the runtime part"),
    "cma_runtime_extra": Leaf("size", "the least the ,cma area exceeds the runtime part by"),
    "dirty_pagecache_factor": Leaf("factor", "dirty page cache and in-flight I/O multiplier"),
    "fallback_reserve": Leaf(
        "size", "reservation the distribution falls back to when its estimate fails"
    ),
    "x86_min_low": Leaf(
        "size", "low (below 4G) part kept when the reservation goes high", arches=("x86_64",)
    ),
}

SECTIONS: dict[str, dict[str, Leaf]] = {
    "kdump_cmdline": CMDLINE_LEAVES,
    "estimator": ESTIMATOR_LEAVES,
}
MATCH_KEYS = ("ids", "id_like", "version_min", "version_below", "kernel_release_contains")
PLAIN_KEYS = ("name", "extends", "description", "family", "arch", "match", "history")
TOP_KEYS = (*PLAIN_KEYS, *TOP_LEAVES, *SECTIONS)

# What a concrete profile (one with an arch) must end up with after merging.
REQUIRED = (
    "description",
    "family",
    "initramfs_tmpfs_percent",
    "dump_level",
    *(
        f"estimator.{k}"
        for k in (
            "runtime_reservation",
            "initrd_unpack_factor",
            "kernel_runtime_base",
            "kernel_base",
            "kernel_init",
            "per_cpu",
            "per_cpu_dump",
            "user_base",
            "makedumpfile_cyclic_buffer_max",
            "makedumpfile_per_thread",
            "bitmap_bits_per_page",
            "bitmap_max",
            "luks_keyslots",
            "luks_overhead",
            "sme_sev_swiotlb",
            "margin_percent",
            "margin_fixed",
            "crashplan_margin_percent",
            "crashplan_margin_fixed",
            # Read by every estimate (crashplan.planning.footprint), so a profile without them
            # is a load error naming the key, not a KeyError at estimate time.
            "kexec_segments",
            "kernel_size_fallback",
            "initrd_size_fallback",
            "kdump_userspace",
            "user_net",
            "cma_fixed_margin_percent",
            "cma_fixed_margin_fixed",
            "cma_runtime_factor",
            "cma_runtime_extra",
        )
    ),
)

UNITS = {
    "size": "bytes",
    "count": "count",
    "factor": "factor",
    "percent": "percent",
    "text": "text",
    "crashkernel": "crashkernel",
    "flag": "flag",
    "choice": "text",
}


def expected(leaf: Leaf) -> str:
    if leaf.kind == "choice":
        return "one of " + ", ".join(leaf.choices)
    return _KIND_WORDS[leaf.kind]


def leaf_of(key: str) -> Leaf | None:
    if "." in key:
        section, _, name = key.partition(".")
        return SECTIONS.get(section, {}).get(name)
    return TOP_LEAVES.get(key)
