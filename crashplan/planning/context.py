"""The common start of ``footprint``, ``recommend`` and ``check``: a source, its facts with the
kdump kernel and initrd measured, and the profile that applies.

The profile is detected from the source's ``/etc/os-release`` (or given with ``--profile``);
one written for another architecture than the source's is refused.
"""

from __future__ import annotations

from dataclasses import replace

from crashplan._frozen import frozen
from crashplan.errors import CrashplanError
from crashplan.host.facts import (
    BootFile,
    BootFiles,
    HostFacts,
    analyse_boot_file,
    analyse_boot_files,
    gather_facts,
    read_kernel_log,
)
from crashplan.host.formats.dmesg import Dmesg
from crashplan.host.formats.sosreport import KdumpctlEstimate
from crashplan.host.services import KdumpService, read_kdump_service
from crashplan.host.sosreport import read_kdumpctl_estimate, sos_boot_files
from crashplan.profiles import Profile, detect_profile, load_profile

__all__ = ["PlanContext", "boot_file_json", "gather_for_plan"]


@frozen
class PlanContext:
    """What the planning commands start from."""

    source: str
    facts: HostFacts
    profile: Profile
    profile_detected: bool
    dmesg: Dmesg | None
    service: KdumpService | None = None
    kdumpctl: KdumpctlEstimate | None = None

    def envelope(self, command: str) -> dict[str, object]:
        """The common JSON envelope with the host and its measured boot files."""
        f = self.facts
        return {
            "crashplan_result_version": 1,
            "command": command,
            "status": "ok",
            "exit_code": 0,
            "source": self.source,
            "arch": f.arch,
            "kernel_version": str(f.kernel_version) if f.kernel_version else None,
            "system_ram": f.system_ram,
            "profile": {"name": self.profile.name, "detected": self.profile_detected},
            "kernel": boot_file_json(f.boot_files.kernel, "kernel"),
            "initrd": boot_file_json(f.boot_files.initrd, "initrd"),
            **({"kdumpctl_estimate": self.kdumpctl.to_json()} if self.kdumpctl is not None else {}),
            "errors": [],
        }


def boot_file_json(item: BootFile | None, kind: str) -> dict[str, object] | None:
    """The ``"kernel"`` / ``"initrd"`` facts of the JSON output."""
    if item is None:
        return None
    if kind == "kernel":
        return {"path": item.path, "size": item.size, "memory_size": item.memory_size, "format": item.format, "problem": item.problem}
    return {
        "path": item.path,
        "size": item.size,
        "unpacked_size": item.unpacked_bytes,
        "tmpfs_size": item.tmpfs_bytes,
        "compression": item.format.split("+") if item.format else [],
        "problem": item.problem,
    }


def _explicit(path: str, kind: str) -> BootFile:
    import os

    from crashplan.host.sources import open_local_file

    with open_local_file(path) as fp:
        size = os.fstat(fp.fileno()).st_size
        return analyse_boot_file(fp, kind, path, size)


def gather_for_plan(
    source_path: str | None,
    *,
    kernel: str | None = None,
    initrd: str | None = None,
    profile: str | None = None,
) -> PlanContext:
    """Open the source, gather its facts, measure the kdump kernel and initrd, pick the profile."""
    from crashplan.host.sources import open_source

    source = open_source(source_path)
    facts = gather_facts(source)
    boot = sos_boot_files(source, facts.kernel_release, analyse_boot_files(source, facts.boot_files), page_size=facts.page_size or 4096)
    if kernel is not None:
        boot = BootFiles(kernel=_explicit(kernel, "kernel"), initrd=boot.initrd)
    if initrd is not None:
        boot = BootFiles(kernel=boot.kernel, initrd=_explicit(initrd, "initrd"))
    if boot != facts.boot_files:
        facts = replace(facts, boot_files=boot)
    arch = facts.arch or "x86_64"
    if profile is not None:
        chosen = load_profile(profile)
        if chosen.arch != arch:
            raise CrashplanError(
                f"profile {chosen.name} is for {chosen.arch}, but the source is {arch}",
                code="profile-arch-mismatch",
            )
        detected = False
    else:
        distro = facts.distro
        chosen = detect_profile(
            distro.id if distro else None,
            distro.id_like if distro else (),
            distro.version_id if distro else None,
            arch,
            kernel_release=facts.kernel_release,
        )
        detected = True
    return PlanContext(source.name, facts, chosen, detected, read_kernel_log(source), read_kdump_service(source), read_kdumpctl_estimate(source))
