"""The common start of ``footprint``, ``recommend`` and ``check``: a source, its facts with the
kdump kernel and initrd measured, and the profile that applies.

The profile is detected from the source's ``/etc/os-release`` (or given with ``--profile``);
one written for another architecture than the source's is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crashplan.errors import CrashplanError, ExitCode
from crashplan.host.bootfiles import (
    BootFile,
    BootFiles,
    analyse_boot_file,
    analyse_boot_files,
    boot_file_json,
)
from crashplan.host.facts import HostFacts, gather_facts
from crashplan.host.formats.sosreport import KdumpctlEstimate
from crashplan.host.services import KdumpService, read_kdump_service
from crashplan.host.sosreport import read_kdumpctl_estimate, sos_boot_files
from crashplan.profiles import Profile, detect_profile, load_profile

__all__ = ["PlanContext", "gather_for_plan"]


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What the planning commands start from."""

    source: str
    facts: HostFacts
    profile: Profile
    profile_detected: bool
    service: KdumpService | None = None
    kdumpctl: KdumpctlEstimate | None = None

    def envelope(self, command: str, exit_code: ExitCode = ExitCode.OK) -> dict[str, object]:
        """The common JSON envelope with the host and its measured boot files."""
        from crashplan.envelope import envelope

        f = self.facts
        return envelope(command, {
            "source": self.source,
            "arch": f.arch,
            "kernel_version": str(f.kernel_version) if f.kernel_version else None,
            "system_ram": f.system_ram,
            "profile": {"name": self.profile.name, "detected": self.profile_detected},
            "kernel": boot_file_json(f.boot_files.kernel, "kernel"),
            "initrd": boot_file_json(f.boot_files.initrd, "initrd"),
            **({"kdumpctl_estimate": self.kdumpctl.to_json()} if self.kdumpctl is not None else {}),
        }, exit_code=exit_code)


def _explicit(path: str, kind: str) -> BootFile:
    """Measure a ``--kernel``/``--initrd`` file; one that is empty or is not what it should be is exit 3.

    A file found on the host may be odd and the estimate falls back with a finding; a file the
    user named is what they want measured, so reading ``/etc/passwd`` as a tiny initrd would be
    a wrong answer, not a fallback.
    """
    import os

    from crashplan.errors import SourceError
    from crashplan.host.sources import open_local_file

    with open_local_file(path) as fp:
        size = os.fstat(fp.fileno()).st_size
        head = fp.read(64)
        fp.seek(0)
        item = analyse_boot_file(fp, kind, path, size)
    option = f"--{kind}"
    if size == 0:
        raise SourceError(f"{option}: the file is empty", path=path, code=f"{kind}-empty")
    unusable = item.memory_size is None if kind == "kernel" else item.tmpfs_bytes is None and not item.format
    if unusable:
        what = "a kernel image (bzImage, arm64/riscv Image, ELF vmlinux, EFI zboot)" if kind == "kernel" else "an initrd (cpio, or a compressed cpio)"
        looks = _looks_like(head)
        if looks == "an ELF file" and item.problem and "PT_INTERP" in item.problem:
            looks = "a user-space program (an ELF file with a program interpreter)"
        raise SourceError(f"{option}: not {what}; it looks like {looks}", path=path, code="not-a-kernel" if kind == "kernel" else "not-an-initrd")
    return item


def _looks_like(head: bytes) -> str:
    """A few words on what a file's first bytes look like.

    >>> _looks_like(b"root:x:0:0:root:/root:/bin/bash\\n")
    'text (root:x:0:0:root:/ro...)'
    >>> _looks_like(b"\\x7fELF\\x02\\x01\\x01")
    'an ELF file'
    """
    if head.startswith(b"\x7fELF"):
        return "an ELF file"
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return f"binary data (first bytes {head[:8].hex(' ')})"
    if all(c.isprintable() or c in "\t\r\n" for c in text):
        first = text.splitlines()[0] if text.splitlines() else text
        return f"text ({first[:20]}...)"
    return f"binary data (first bytes {head[:8].hex(' ')})"


def gather_for_plan(
    source_path: str | None,
    *,
    kernel: str | None = None,
    initrd: str | None = None,
    profile: str | None = None,
    arch: str | None = None,
    kernel_version: str | None = None,
) -> PlanContext:
    """Open the source, gather its facts, measure the kdump kernel and initrd, pick the profile.

    ``arch`` and ``kernel_version`` replace what the source tells (``--arch``, ``--kernel-version``).
    """
    from crashplan.host.sources import open_source

    source = open_source(source_path)
    facts = gather_facts(source, arch=arch, kernel_version=kernel_version)
    boot = sos_boot_files(source, facts.kernel_release, analyse_boot_files(source, facts.boot_files), page_size=facts.page_size or 4096)
    if kernel is not None:
        boot = BootFiles(kernel=_explicit(kernel, "kernel"), initrd=boot.initrd)
    if initrd is not None:
        boot = BootFiles(kernel=boot.kernel, initrd=_explicit(initrd, "initrd"))
    if boot != facts.boot_files:
        facts = replace(facts, boot_files=boot)
    if facts.arch is None:
        # Every command that plans refuses alike: the arch picks the profile, the kernel's rules
        # and the placement, and an assumed x86_64 would be an answer about another host.
        from crashplan.planning.options import undecidable

        code, why = undecidable(facts) or ("arch-unknown", "")
        raise CrashplanError(why, code=code)
    arch = facts.arch
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
    return PlanContext(source.name, facts, chosen, detected, read_kdump_service(source), read_kdumpctl_estimate(source))
