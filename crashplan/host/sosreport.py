"""What a sosreport adds to its host files: the kdump kernel and initrd as sos listed them, and
``kdumpctl estimate`` as the host's own tool computed it.

A sosreport copies ``/proc``, ``/sys`` and ``/etc`` but not ``/boot``'s images; its ``boot``
plugin keeps ``ls -lanR /boot`` (the size each file is loaded at) and ``lsinitrd`` /
``lsinitramfs -l`` of each initrd (its unpacked files), and its ``kdump`` plugin keeps
``kdumpctl estimate``.  These fill the boot files a source does not hold, so that a sosreport's
footprint is measured, not guessed (parsers: :mod:`crashplan.host.formats.sosreport`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from crashplan.host.formats.sosreport import (
    KdumpctlEstimate,
    parse_initrd_listing,
    parse_kdumpctl_estimate,
    parse_ls_lanR,
)

if TYPE_CHECKING:
    from crashplan.host.bootfiles import BootFile, BootFiles
    from crashplan.host.sources import Source

__all__ = ["ESTIMATE_FILE", "LS_BOOT_FILE", "read_kdumpctl_estimate", "sos_boot_files"]

ESTIMATE_FILE = "sos_commands/kdump/kdumpctl_estimate"
LS_BOOT_FILE = "sos_commands/boot/ls_-lanR_.boot"
_LISTERS = ("lsinitrd_", "lsinitramfs_-l_")


def read_kdumpctl_estimate(source: Source) -> KdumpctlEstimate | None:
    """``kdumpctl estimate`` as the sosreport kept it, or None."""
    text = source.read_text(ESTIMATE_FILE)
    return None if text is None else parse_kdumpctl_estimate(text, path=source.display(ESTIMATE_FILE))


def sos_boot_files(source: Source, release: str | None, boot: BootFiles, *, page_size: int = 4096) -> BootFiles:
    """``boot`` with the kernel and initrd the source lacks filled from the sosreport's listings."""
    if release is None or (boot.kernel is not None and boot.initrd is not None):
        return boot
    text = source.read_text(LS_BOOT_FILE)
    if text is None:
        return boot
    from crashplan.host.bootfiles import BootFile, BootFiles, boot_candidates
    from crashplan.host.formats.cpio import TMPFS_INODE_BYTES

    sizes = parse_ls_lanR(text, path=source.display(LS_BOOT_FILE))
    kernels, initrds = boot_candidates(release)
    out: dict[str, BootFile | None] = {"kernel": boot.kernel, "initrd": boot.initrd}
    for kind, candidates in (("kernel", kernels), ("initrd", initrds)):
        if out[kind] is not None:
            continue
        path = next((f"/{c}" for c in candidates if f"/{c}" in sizes), None)
        if path is None:
            continue
        item = BootFile(path, sizes[path], problem=f"measured from {LS_BOOT_FILE} (the sosreport holds no /boot images)")
        if kind == "initrd":
            item = _with_listing(source, item, page_size, TMPFS_INODE_BYTES)
        out[kind] = item
    return BootFiles(kernel=out["kernel"], initrd=out["initrd"])


def _with_listing(source: Source, item: BootFile, page_size: int, inode_bytes: int) -> BootFile:
    for lister in _LISTERS:
        relpath = f"sos_commands/boot/{lister}{item.path.replace('/', '.')}"
        text = source.read_text(relpath)
        listing = None if text is None else parse_initrd_listing(text, path=source.display(relpath), page_size=page_size)
        if listing is not None:
            return replace(
                item,
                unpacked_bytes=listing.unpacked_bytes,
                tmpfs_bytes=listing.pages_bytes + listing.inodes * inode_bytes,
                problem=f"size from {LS_BOOT_FILE}, unpacked size from {relpath}",
            )
    return item
