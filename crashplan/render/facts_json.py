"""The JSON view of a host's facts: ``crashplan facts --format json`` (schema ``crashplan/schemas/facts.json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashplan.host.bootfiles import (
    boot_file_json,
)
from crashplan.host.platform import platform_to_json
from crashplan.values import MemRange

if TYPE_CHECKING:
    from crashplan.host.formats.kdumpconf import KdumpConfig

from crashplan.host.facts import HostFacts

__all__ = ["facts_to_json"]


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
        "boot_files": {
            "kernel": boot_file_json(facts.boot_files.kernel, "kernel"),
            "initrd": boot_file_json(facts.boot_files.initrd, "initrd"),
        },
        "platform": platform_to_json(facts),
        "absent": list(facts.absent),
        "provenance": {key: facts.provenance[key] for key in _PROVENANCE_ORDER if key in facts.provenance},
        "findings": [finding.to_json() for finding in facts.findings],
    })
