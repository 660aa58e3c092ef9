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
    "per_cpu_dump": Leaf("size", "dump tool memory per kdump CPU (threads, buffers)"),
    "user_net": Leaf("size", "extra user space for a network dump target"),
    "makedumpfile_cyclic_buffer_max": Leaf("size", "cap of makedumpfile's cyclic bitmap buffer"),
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
    "dump_level",
    *(
        f"estimator.{k}"
        for k in (
            "initrd_unpack_factor",
            "kernel_runtime_base",
            "per_cpu_dump",
            "makedumpfile_cyclic_buffer_max",
            "luks_keyslots",
            "luks_overhead",
            "sme_sev_swiotlb",
            "crashplan_margin_percent",
            "crashplan_margin_fixed",
            # Read by every estimate (crashplan.planning.footprint), so a profile without them
            # is a load error naming the key, not a KeyError at estimate time.
            "kexec_segments",
            "kernel_size_fallback",
            "initrd_size_fallback",
            "kdump_userspace",
            "user_net",
            "struct_page_size",
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
