"""Command outputs a sosreport keeps that tell crashplan what its host files do not.

Authoritative sources: sos ``report`` plugins ``kdump`` and ``boot`` (which commands they run
and where the output lands: the command with spaces as ``_`` and ``/`` as ``.`` under
``sos_commands/<plugin>/``), kdump-utils ``kdumpctl: do_estimate()``, coreutils ``ls -l`` and
dracut ``lsinitrd``.  One pure parser per output:

* ``sos_commands/kdump/kdumpctl_estimate`` -- ``kdumpctl estimate`` (kdump-utils ``kdumpctl:
  do_estimate()``; shared/reference/distro-tools.md 1.1): ``Key: <n>M`` lines, sizes in MiB;
* ``sos_commands/boot/ls_-lanR_.boot`` -- ``ls -lanR /boot``: the size of each boot file as
  the kdump service loads it;
* ``sos_commands/boot/lsinitrd_.boot.<initrd>`` (Fedora/RHEL, dracut ``lsinitrd``) and
  ``lsinitramfs_-l_.boot.<initrd>`` (Debian, initramfs-tools): the ``ls -l``-style listing of
  the initrd's files, which gives its unpacked size.

Absent isn't zero: a key the output does not have is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["InitrdListing", "KdumpctlEstimate", "parse_initrd_listing", "parse_kdumpctl_estimate", "parse_ls_lanR"]

_MIB = 1 << 20
_ESTIMATE_KEYS = {
    "Reserved crashkernel": "reserved",
    "Recommended crashkernel": "recommended",
    "Kernel image size": "kernel_image",
    "Kernel modules size": "kernel_modules",
    "Initramfs size": "initramfs",
    "Runtime reservation": "runtime",
    "LUKS required size": "luks",
}
_SIZE = re.compile(r"^(\d+)([KMG]?)$")
_UNITS = {"": _MIB, "K": 1 << 10, "M": _MIB, "G": 1 << 30}
# An ls -l line: mode, links, owner, group, size, three date fields, name.
_LS = re.compile(r"^([-dlcbps])[-rwxsStT.+@]{9}\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+\S+\s(.+)$")


@dataclass(frozen=True, slots=True)
class KdumpctlEstimate:
    """What ``kdumpctl estimate`` printed, in bytes (``large_modules`` by name)."""

    reserved: int | None
    recommended: int | None
    kernel_image: int | None
    kernel_modules: int | None
    initramfs: int | None
    runtime: int | None
    luks: int | None
    large_modules: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The estimate as a JSON object (bytes)."""
        return {
            "reserved": self.reserved,
            "recommended": self.recommended,
            "kernel_image": self.kernel_image,
            "kernel_modules": self.kernel_modules,
            "initramfs": self.initramfs,
            "runtime": self.runtime,
            "luks": self.luks,
            "large_modules": list(self.large_modules),
        }


def parse_kdumpctl_estimate(text: str, *, path: str = "sos_commands/kdump/kdumpctl_estimate") -> KdumpctlEstimate | None:
    """Read ``kdumpctl estimate`` output; None when it has none of its keys (a failed run).

    Never raises: lines that are not ``Key: <n>M`` are other output (warnings) and skipped;
    ``path`` is accepted for the package's convention.

    >>> e = parse_kdumpctl_estimate("Reserved crashkernel:    256M\\nRecommended crashkernel: 192M\\n")
    >>> e.reserved >> 20, e.recommended >> 20, e.kernel_image
    (256, 192, None)
    """
    values: dict[str, int] = {}
    large: list[str] = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key == "Large modules":
            large = [] if value in ("", "<none>") else value.split()
        elif key in _ESTIMATE_KEYS:
            m = _SIZE.match(value)
            if m:
                values[_ESTIMATE_KEYS[key]] = int(m.group(1)) * _UNITS[m.group(2)]
    if not values:
        return None
    return KdumpctlEstimate(**{name: values.get(name) for name in _ESTIMATE_KEYS.values()}, large_modules=tuple(large))


def parse_ls_lanR(text: str, *, path: str = "sos_commands/boot/ls_-lanR_.boot") -> dict[str, int]:
    """The regular files of an ``ls -lanR`` listing, by absolute path, with their sizes (never raises).

    >>> parse_ls_lanR("/boot:\\n-rw-------. 1 0 0 33554432 Dec  4 09:01 initramfs-6.8kdump.img\\n")
    {'/boot/initramfs-6.8kdump.img': 33554432}
    """
    out: dict[str, int] = {}
    directory = ""
    for line in text.splitlines():
        if line.endswith(":") and line.startswith("/"):
            directory = line[:-1].rstrip("/")
            continue
        m = _LS.match(line)
        if m and m.group(1) == "-":
            out[f"{directory}/{m.group(3)}"] = int(m.group(2))
    return out


@dataclass(frozen=True, slots=True)
class InitrdListing:
    """What an initrd listing says about its unpacked tree: regular files and their bytes.

    ``pages_bytes`` rounds each regular file up to ``page_size``, as tmpfs stores it
    (``mm/shmem.c``); ``inodes`` counts every entry listed.
    """

    files: int
    inodes: int
    unpacked_bytes: int
    pages_bytes: int


def parse_initrd_listing(text: str, *, path: str = "sos_commands/boot/lsinitrd", page_size: int = 4096) -> InitrdListing | None:
    """Read ``lsinitrd IMAGE`` or ``lsinitramfs -l IMAGE`` output; None when it lists no file (never raises).

    >>> parse_initrd_listing("-rwxr-xr-x   1 root     root        65536 Dec  4 09:01 init\\n")
    InitrdListing(files=1, inodes=1, unpacked_bytes=65536, pages_bytes=65536)
    """
    files = inodes = data = pages = 0
    for line in text.splitlines():
        m = _LS.match(line)
        if not m:
            continue
        inodes += 1
        if m.group(1) == "-":
            size = int(m.group(2))
            files += 1
            data += size
            pages += -(-size // page_size) * page_size
    if not files:
        return None
    return InitrdListing(files, inodes, data, pages)
