"""The kdump kernel and initrd a host loads: where distributions keep them, and what they cost.

A :class:`BootFile` is a file's path and size and, once read, what it needs in memory: a kernel's
in-memory size from its header (bzImage ``init_size``, arm64 ``image_size``, ELF ``PT_LOAD``) and
an initrd's unpacked and tmpfs size from the initrd walk (:mod:`crashplan.host.formats.images`,
:mod:`crashplan.host.formats.initrd`).  Snapshots store these facts as JSON (``"boot"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crashplan.errors import SourceError
from crashplan.host.sources import Source

__all__ = ["BootFile", "BootFiles", "analyse_boot_file", "analyse_boot_files", "boot_candidates", "boot_file_json", "boot_files_to_json", "find_boot_files", "parse_stored_boot"]


@dataclass(frozen=True, slots=True)
class BootFile:
    """A file of the kdump kernel or initrd: its path on the host and its size in bytes.

    After :func:`analyse_boot_files` (or from a snapshot that stored it): for a kernel,
    ``memory_size`` (what the loaded kernel needs: bzImage ``init_size``, arm64
    ``image_size``) and ``format``; for an initrd, ``unpacked_bytes`` and ``tmpfs_bytes`` (the
    unpacked tree as tmpfs holds it) and ``format`` (its compressions).  ``problem`` says why
    a value could not be read.
    """

    path: str
    size: int
    memory_size: int | None = None
    unpacked_bytes: int | None = None
    tmpfs_bytes: int | None = None
    format: str | None = None
    problem: str | None = None
    # An initrd's squashfs/erofs root image once mounted (formats/initrd.py InitrdImage.cache_bytes).
    image_cache_bytes: int | None = None
    image: str | None = None


@dataclass(frozen=True, slots=True)
class BootFiles:
    """The kernel and initrd the kdump service loads (``None`` when not found)."""

    kernel: BootFile | None = None
    initrd: BootFile | None = None


def boot_candidates(release: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Where distributions keep the kernel and the (kdump) initrd of ``release``, best first.

    Fedora/RHEL's kdumpctl builds ``initramfs-<release>kdump.img``, SUSE's ``initrd-<release>-kdump``;
    Debian's kdump-tools use the normal ``initrd.img-<release>`` unless configured otherwise.
    """
    kernels = (f"boot/vmlinuz-{release}", f"boot/vmlinux-{release}", f"boot/Image-{release}", f"boot/image-{release}")
    initrds = (
        f"boot/initramfs-{release}kdump.img",
        f"boot/initrd-{release}-kdump",
        f"var/lib/kdump/initrd.img-{release}",
        f"boot/initrd.img-{release}",
        f"boot/initramfs-{release}.img",
        f"boot/initrd-{release}",
    )
    return kernels, initrds


def find_boot_files(source: Source, release: str | None) -> BootFiles:
    """The kdump kernel and initrd of ``release`` present in ``source`` (sizes from ``stat``)."""
    if release is None or "/" in release:
        return BootFiles()
    kernels, initrds = boot_candidates(release)
    found: list[BootFile | None] = []
    for candidates in (kernels, initrds):
        hit = None
        for relpath in candidates:
            try:
                size = source.stat_size(relpath)
            except SourceError:
                # /boot unreadable for this user (or a directory in the way): not found.
                size = None
            if size is not None:
                hit = BootFile("/" + relpath, size)
                break
        found.append(hit)
    return BootFiles(kernel=found[0], initrd=found[1])


def parse_stored_boot(value: Any, path: str) -> BootFiles:
    """The ``"boot"`` object a capture stored: ``{"kernel": {"path", "size"} | null, "initrd": ...}``."""
    if not isinstance(value, dict):
        raise SourceError('"files": {"boot"} is not a JSON object', path=path, code="bad-snapshot")
    out: dict[str, BootFile | None] = {}
    for key in ("kernel", "initrd"):
        item = value.get(key)
        if item is None:
            out[key] = None
            continue
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("path"), str)
            or not isinstance(item.get("size"), int)
            or isinstance(item.get("size"), bool)
            or any(not isinstance(item[k], int) or isinstance(item[k], bool) for k in ("memory_size", "unpacked_bytes", "tmpfs_bytes", "image_cache_bytes") if item.get(k) is not None)
            or any(not isinstance(item[k], str) for k in ("format", "problem", "image") if item.get(k) is not None)
        ):
            raise SourceError(
                f'"files": {{"boot": {{"{key}"}}}} should be {{"path": string, "size": integer}}',
                path=path,
                code="bad-snapshot",
            )
        out[key] = BootFile(item["path"], item["size"], **{k: item.get(k) for k in _BOOT_OPTIONAL})
    return BootFiles(kernel=out["kernel"], initrd=out["initrd"])


_BOOT_OPTIONAL = ("memory_size", "unpacked_bytes", "tmpfs_bytes", "format", "problem", "image_cache_bytes", "image")


def boot_files_to_json(boot: BootFiles) -> dict[str, dict[str, object] | None]:
    """``{"kernel": {"path", "size", ...} | null, "initrd": ...}``, as stored in a snapshot."""
    out: dict[str, dict[str, object] | None] = {}
    for key, value in (("kernel", boot.kernel), ("initrd", boot.initrd)):
        if value is None:
            out[key] = None
            continue
        item: dict[str, object] = {"path": value.path, "size": value.size}
        for name in _BOOT_OPTIONAL:
            if getattr(value, name) is not None:
                item[name] = getattr(value, name)
        out[key] = item
    return out


def analyse_boot_file(fp: Any, kind: str, path: str, size: int) -> BootFile:
    """Read a kernel's in-memory size or an initrd's unpacked size from an open file."""
    if kind == "kernel":
        from crashplan.host.formats.images import read_kernel_image

        try:
            image = read_kernel_image(fp, name=path)
        except SourceError as e:
            return BootFile(path, size, problem=e.one_line())
        if image.interpreter:
            return BootFile(path, size, format=image.format, problem=f"{path}: an ELF program with a PT_INTERP program interpreter, not a kernel")
        return BootFile(path, size, memory_size=image.memory_size, format=image.format)
    from crashplan.host.formats.initrd import analyse_initrd

    facts = analyse_initrd(fp, name=path)
    problem = "; ".join(f.message for f in facts.findings) or None
    images = "; ".join(
        f"/{i.name}: {i.image.kind} {i.image.compression}, {i.image.bytes_used} bytes used, {i.image.inodes} inodes, "
        f"{i.image.files} files of {i.image.file_bytes} bytes" if i.image is not None else f"/{i.name}: {i.problem}"
        for i in facts.images
    ) or None
    return BootFile(
        path,
        size,
        unpacked_bytes=facts.unpacked_bytes,
        tmpfs_bytes=facts.tmpfs_bytes,
        format="+".join(facts.compression) or None,
        problem=problem,
        image_cache_bytes=facts.image_cache_bytes if facts.images else None,
        image=images,
    )


def analyse_boot_files(source: Source, boot: BootFiles) -> BootFiles:
    """Fill the kernel's memory size and the initrd's unpacked size by reading the files.

    Files a snapshot already analysed, or that the source does not hold (a snapshot keeps
    only their facts), are left as they are.
    """
    out: dict[str, BootFile | None] = {}
    for kind, item in (("kernel", boot.kernel), ("initrd", boot.initrd)):
        done = item is not None and (item.memory_size if kind == "kernel" else item.tmpfs_bytes) is not None
        if item is None or done:
            out[kind] = item
            continue
        try:
            fp = source.open_binary(item.path.lstrip("/"))
        except SourceError as e:
            out[kind] = BootFile(item.path, item.size, problem=e.one_line())
            continue
        if fp is None:
            out[kind] = item
            continue
        with fp:
            out[kind] = analyse_boot_file(fp, kind, item.path, item.size)
    return BootFiles(kernel=out["kernel"], initrd=out["initrd"])


def boot_file_json(item: BootFile | None, kind: str) -> dict[str, object] | None:
    """The ``"kernel"`` / ``"initrd"`` record of every JSON output (facts, recommend, check, footprint).

    :func:`boot_files_to_json` is the other form, the one a snapshot stores and reads back.
    """
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
        "image": item.image,
        "image_cache_size": item.image_cache_bytes,
        "problem": item.problem,
    }
