"""Capture a snapshot: copy the host files crashplan reads, plus ``crashplan-snapshot.json``.

The snapshot keeps the host's relpaths (``proc/iomem``, ``sys/kernel/kexec_crash_size``…), so
``DirSource``/``ArchiveSource`` read it back exactly as ``LiveSource`` read the host, and a
sosreport carrying the same files works the same way.  The kdump kernel and initrd are not
copied (tens of MiB); the caller records their paths and sizes in ``extra_files``.

The output is a directory, or an archive when the name ends in ``.tar``, ``.tar.gz``/``.tgz``,
``.tar.xz`` or ``.tar.zst``/``.tar.zstd``.  Archives are built in memory with normalised
members (files 0644, directories 0755, uid/gid 0, no owner names, mtime = capture time) under
one top folder named after the archive, so two captures of the same files are byte-identical.

Writes are atomic: everything goes to a temporary sibling of ``dest`` (``.<name>.<random>.tmp``)
that is renamed into place once complete.  An existing ``dest`` is refused unless ``force``; then
it is replaced by a rename too (a directory is first renamed aside, and removed once the new one
is in place).  Nothing is written anywhere but ``dest`` and those siblings.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from crashplan._version import package_version
from crashplan.errors import SourceError
from crashplan.host.sources._common import SNAPSHOT_NAME, archive_kind, relpath_parts
from crashplan.host.sources.live import LiveSource
from crashplan.host.sources.snapshot import (
    SNAPSHOT_FORMAT,
    SNAPSHOT_FORMAT_VERSION,
    HostInfo,
    Unreadable,
    format_captured_at,
)

if TYPE_CHECKING:
    from crashplan.host.sources import Source

__all__ = ["HOST_FILES", "HOST_LISTINGS", "HOST_TREES", "NON_ROOT_NOTE", "CaptureReport", "capture_snapshot"]

#: Host files a snapshot copies when they exist, by relpath.
HOST_FILES: tuple[str, ...] = (
    "proc/iomem",
    "proc/meminfo",
    "proc/cmdline",
    "proc/buddyinfo",
    "proc/zoneinfo",
    "proc/cpuinfo",
    "proc/modules",
    "proc/version",
    "proc/sys/kernel/osrelease",
    "sys/kernel/kexec_crash_size",
    "sys/kernel/kexec_crash_loaded",
    "sys/kernel/kexec_loaded",
    "sys/kernel/kexec_crash_cma_ranges",
    "sys/kernel/kexec/crash_size",
    "sys/kernel/kexec/crash_cma_ranges",
    "sys/devices/system/cpu/online",
    "sys/devices/system/cpu/possible",
    "sys/kernel/mm/transparent_hugepage/enabled",
    "etc/os-release",
    "etc/kdump.conf",
    "etc/sysconfig/kdump",
    "etc/default/kdump-tools",
    "etc/default/grub",
    "proc/sys/kernel/kexec_load_disabled",
    # The kdump unit's links (crashplan.host.services.UNIT_LINKS): whether the service is enabled.
    *(f"etc/systemd/system/{wants}/{unit}" for wants in ("multi-user.target.wants", "basic.target.wants", "default.target.wants", "sysinit.target.wants") for unit in ("kdump.service", "kdump-tools.service")),
    "etc/kernel/install.d/92-crashkernel.install",
    "proc/self/mountinfo",
)

#: Directories a snapshot keeps as names only, ``(relpath, depth)``: down to ``depth`` levels,
#: a directory stays a directory and anything else (the device links of a driver, attribute
#: files) becomes an empty file of the same name; host/platform.py reads only the names.
HOST_LISTINGS: tuple[tuple[str, int], ...] = (
    ("sys/bus/pci/drivers", 2),
    ("sys/class/iommu", 1),
    ("sys/devices/platform", 1),
)

#: Small sysfs trees a snapshot copies file by file, ``(relpath, depth)``.
HOST_TREES: tuple[tuple[str, int], ...] = (("sys/kernel/mm/mem_encrypt", 2),)

#: Where a snapshot keeps the kernel log, and ``cryptsetup luksDump`` output per device.
KERNEL_LOG_NAME = "dmesg.txt"
LUKS_DUMP_DIR = "crashplan/luksDump"

#: The note a capture without root carries.
NON_ROOT_NOTE = (
    "captured without root: proc/iomem shows every address as 0, so the snapshot cannot place "
    "a reservation; capture again as root"
)

_UNSUPPORTED_SUFFIXES = (
    ".zip",
    ".tar.bz2",
    ".tbz2",
    ".tbz",
    ".bz2",
    ".gz",
    ".xz",
    ".zst",
    ".zstd",
    ".lz4",
    ".7z",
)


@dataclass(frozen=True, slots=True)
class CaptureReport:
    """What a capture wrote: ``files_written`` are relpaths inside ``dest``, metadata included."""

    dest: Path
    files_written: tuple[str, ...]
    unreadable: tuple[Unreadable, ...]
    absent: tuple[str, ...]
    root: bool | None
    notes: tuple[str, ...] = ()


def capture_snapshot(
    source: Source,
    dest: str | os.PathLike[str],
    *,
    force: bool = False,
    extra_files: Mapping[str, Mapping[str, Any]] = MappingProxyType({}),
    now: datetime | None = None,
) -> CaptureReport:
    """Copy the :data:`HOST_FILES` ``source`` has into a snapshot at ``dest``.

    :param source: normally :class:`LiveSource`; any source works (a sosreport makes a small
        snapshot), and then its stored host facts, if any, are carried over.
    :param dest: a directory to create, or an archive named ``.tar``/``.tar.gz``/``.tgz``/
        ``.tar.xz``/``.tar.zst``.
    :param force: replace an existing ``dest``.
    :param extra_files: JSON-ready facts stored under ``"files"``, e.g. the kdump kernel and
        initrd: ``{"boot": {"kernel": {"path": ..., "size": ...}}}``.
    :param now: the capture time (aware); the archive members' mtime.  Defaults to now.
    :raises SourceError: ``dest`` exists (without ``force``), cannot be written, or names an
        archive kind crashplan cannot write.  Unreadable host files are reported, not raised.
    """
    dest = Path(dest)
    when = datetime.now(UTC) if now is None else now
    captured_at = format_captured_at(when)
    kind = _output_kind(dest)
    _check_dest(dest, force=force)

    files: dict[str, bytes] = {}
    unreadable: list[Unreadable] = []
    absent: list[str] = []
    for relpath in HOST_FILES:
        try:
            data = source.read_bytes(relpath)
        except SourceError as e:
            unreadable.append(Unreadable(path=relpath, reason=e.message))
            continue
        if data is None:
            absent.append(relpath)
        else:
            files[relpath] = data

    if not source.is_live and not source.exists("etc/systemd/system"):
        # A capture without systemd's unit links (a paste, a partial copy) cannot tell that
        # they are absent: the kdump service stays unknown, not disabled, in the snapshot.
        # What a snapshot source had itself found absent is carried over.
        stored = source.snapshot_info()
        known = {p.lstrip("/") for p in stored.absent} if stored is not None else set()
        absent = [p for p in absent if not p.startswith("etc/systemd/system/") or p in known]
    host_files = sorted(files)
    _capture_trees(source, files, unreadable)
    _capture_block_devices(source, files)
    _capture_kernel_log(source, files)
    _capture_luks_dumps(source, files)

    host = _host_info(source)
    notes = (NON_ROOT_NOTE,) if host.root is False else ()
    document = {
        "format": SNAPSHOT_FORMAT,
        "format_version": SNAPSHOT_FORMAT_VERSION,
        "captured_at": captured_at,
        "crashplan_version": package_version(),
        "source": source.name,
        **host.to_json(),
        "captured": host_files,
        # Listings (names only), small sysfs trees, the kernel log and luksDump output
        # (crashplan.host.platform): every other file of the snapshot.
        "captured_extra": sorted(set(files) - set(host_files)),
        "unreadable": [{"path": u.path, "reason": u.reason} for u in unreadable],
        "absent": absent,
        "notes": list(notes),
        "files": json.loads(json.dumps(dict(extra_files))),
    }
    files[SNAPSHOT_NAME] = (json.dumps(document, indent=2) + "\n").encode()

    if kind == "dir":
        _install_dir(files, dest, force=force)
    else:
        mtime = int(when.timestamp())
        _install_file(
            _archive_bytes(files, kind, top=_archive_top(dest), mtime=mtime), dest, force=force
        )
    return CaptureReport(
        dest=dest,
        files_written=tuple(sorted(files)),
        unreadable=tuple(unreadable),
        absent=tuple(absent),
        root=host.root,
        notes=notes,
    )


def _capture_trees(source: Source, files: dict[str, bytes], unreadable: list[Unreadable]) -> None:
    """Add :data:`HOST_LISTINGS` (names as empty files) and :data:`HOST_TREES` (files) to ``files``."""

    def names(relpath: str) -> tuple[str, ...] | None:
        try:
            return source.listdir(relpath)
        except SourceError:  # a file (or unreadable): not a directory to list
            return None

    def leaf(relpath: str, copy: bool) -> None:
        if not copy:
            files.setdefault(relpath, b"")
            return
        if relpath in files or names(relpath) is not None:
            return  # a directory below the depth copied
        try:
            data = source.read_bytes(relpath)
        except SourceError as e:
            unreadable.append(Unreadable(path=relpath, reason=e.message))
            return
        if data is not None:
            files[relpath] = data

    def walk(relpath: str, depth: int, copy: bool) -> None:
        entries = names(relpath)
        if entries is None:
            leaf(relpath, copy)
            return
        for name in entries:
            child = f"{relpath}/{name}"
            if depth > 1:
                walk(child, depth - 1, copy)
            else:
                leaf(child, copy)

    for relpath, depth in HOST_LISTINGS:
        if source.exists(relpath):
            walk(relpath, depth, copy=False)
    for relpath, depth in HOST_TREES:
        if source.exists(relpath):
            walk(relpath, depth, copy=True)


def _capture_block_devices(source: Source, files: dict[str, bytes]) -> None:
    """Of ``/sys/block``: each disk's, partition's and mapping's ``dev``, ``dm/uuid``, ``dm/name``
    and the names in ``slaves/`` (as empty files): what tracing the dump target to its LUKS
    devices reads (host/platform.py), not the rest of those trees."""

    def copy(relpath: str) -> None:
        try:
            data = source.read_bytes(relpath)
        except SourceError:
            return
        if data is not None:
            files[relpath] = data

    def names(relpath: str) -> tuple[str, ...]:
        try:
            return source.listdir(relpath) or ()
        except SourceError:
            return ()

    for name in names("sys/block"):
        base = f"sys/block/{name}"
        for leaf in ("dev", "dm/uuid", "dm/name"):
            copy(f"{base}/{leaf}")
        for child in names(base):
            if child.startswith(name) and child != name:
                copy(f"{base}/{child}/dev")
        for slave in names(f"{base}/slaves"):
            files.setdefault(f"{base}/slaves/{slave}", b"")


def _capture_kernel_log(source: Source, files: dict[str, bytes]) -> None:
    """The kernel log as ``dmesg.txt``: the live ring buffer, or the log a source already holds."""
    from crashplan.host.formats.dmesg import KERNEL_LOG_FILES

    kernel_log = getattr(source, "kernel_log", None)
    text = kernel_log() if source.is_live and kernel_log is not None else None
    if text is None and not source.is_live:
        for relpath in KERNEL_LOG_FILES:
            text = source.read_text(relpath)
            if text is not None:
                break
    if text is not None:
        files[KERNEL_LOG_NAME] = text.encode("utf-8", "surrogateescape")


def _capture_luks_dumps(source: Source, files: dict[str, bytes]) -> None:
    """``cryptsetup luksDump`` of the host's LUKS devices (live), or the dumps a source holds."""
    luks_dumps = getattr(source, "luks_dumps", None)
    if source.is_live and luks_dumps is not None:
        for device, text in luks_dumps().items():
            files[f"{LUKS_DUMP_DIR}/{device}"] = text.encode()
        return
    names = source.listdir(LUKS_DUMP_DIR) if source.exists(LUKS_DUMP_DIR) else None
    for name in names or ():
        data = source.read_bytes(f"{LUKS_DUMP_DIR}/{name}")
        if data is not None:
            files[f"{LUKS_DUMP_DIR}/{name}"] = data


def _output_kind(dest: Path) -> str:
    """``"dir"`` or the archive compression the name asks for; other archive names are refused."""
    kind = archive_kind(dest.name)
    if kind is not None:
        return kind
    lowered = dest.name.lower()
    if lowered.endswith(_UNSUPPORTED_SUFFIXES):
        raise SourceError(
            "cannot write this kind of archive",
            path=str(dest),
            hint="name it .tar, .tar.gz, .tgz, .tar.xz or .tar.zst, or without a suffix for a directory",
            code="unsupported-output",
        )
    return "dir"


def _check_dest(dest: Path, *, force: bool) -> None:
    parent = dest.parent
    if not parent.is_dir():
        raise SourceError(
            "the parent directory does not exist", path=str(dest), code="write-failed"
        )
    if os.path.lexists(dest) and not force:
        raise _exists_error(dest)


def _host_info(source: Source) -> HostInfo:
    if isinstance(source, LiveSource):
        return source.live_info()
    info = source.snapshot_info()
    if info is not None:
        return info.host
    return HostInfo(uname=None, page_size=None, root=None, mem_total=None, cpu_count=None)


def _archive_top(dest: Path) -> str:
    """The archive's top folder: its name without the archive suffix (``snap.tar.zst`` → ``snap``)."""
    name = dest.name
    lowered = name.lower()
    for suffix in (".tar.zstd", ".tar.zst", ".tar.gz", ".tar.xz", ".tgz", ".tar"):
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _archive_bytes(files: Mapping[str, bytes], kind: str, *, top: str, mtime: int) -> bytes:
    """A compressed tar of ``files`` under ``top/``, with normalised, sorted members."""
    paths: set[tuple[str, ...]] = {(top,)}
    for relpath in files:
        parts = relpath_parts(relpath, where=relpath)
        paths.update((top, *parts[:i]) for i in range(1, len(parts)))
        paths.add((top, *parts))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for parts in sorted(paths):
            info = tarfile.TarInfo("/".join(parts))
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            data = files.get("/".join(parts[1:])) if len(parts) > 1 else None
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    if kind == "gz":
        import gzip

        return gzip.compress(raw, compresslevel=9, mtime=mtime)
    if kind == "xz":
        import lzma

        return lzma.compress(raw, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64)
    if kind == "zst":
        import zstandard

        return zstandard.ZstdCompressor(level=19, write_checksum=True).compress(raw)
    return raw


def _install_file(data: bytes, dest: Path, *, force: bool) -> None:
    """Write ``data`` to a temporary sibling of ``dest``, then rename it into place."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as e:
        raise _write_error(dest, e) from e
    tmp = Path(name)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), 0o644)
            os.fsync(f.fileno())
        _rename_into_place(tmp, dest, force=force)
    except OSError as e:
        _remove(tmp)
        raise _write_error(dest, e) from e
    except BaseException:
        _remove(tmp)
        raise


def _install_dir(files: Mapping[str, bytes], dest: Path, *, force: bool) -> None:
    """Write ``files`` into a temporary sibling directory of ``dest``, then rename it into place."""
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    except OSError as e:
        raise _write_error(dest, e) from e
    try:
        os.chmod(tmp, 0o755)
        for relpath, data in sorted(files.items()):
            _write_file(tmp, relpath, data)
        _rename_into_place(tmp, dest, force=force)
    except OSError as e:
        _remove(tmp)
        raise _write_error(dest, e) from e
    except BaseException:
        _remove(tmp)
        raise


def _exists_error(dest: Path) -> SourceError:
    return SourceError(
        "already exists",
        path=str(dest),
        hint="choose another name, or replace it with --force",
        code="exists",
    )


def _write_error(dest: Path, e: OSError) -> SourceError:
    return SourceError(f"cannot write: {e.strerror or e}", path=str(dest), code="write-failed")


def _write_file(root: Path, relpath: str, data: bytes) -> None:
    parts = relpath_parts(relpath, where=str(root))
    directory = root
    for part in parts[:-1]:
        directory = directory / part
        if not directory.is_dir():
            directory.mkdir(mode=0o755)
            os.chmod(directory, 0o755)
    # O_EXCL|O_NOFOLLOW: the temporary tree is ours, so anything already there is an error.
    fd = os.open(
        directory / parts[-1],
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o644,
    )
    with open(fd, "wb") as f:
        f.write(data)
        os.fchmod(f.fileno(), 0o644)
        os.fsync(f.fileno())


def _rename_into_place(tmp: Path, dest: Path, *, force: bool) -> None:
    """Rename the finished ``tmp`` to ``dest``; with ``force``, the old ``dest`` goes only once ``tmp`` is in."""
    if not os.path.lexists(dest):
        # No renameat2(RENAME_NOREPLACE) in Python: checked again here, a race stays possible.
        os.rename(tmp, dest)
    elif not force:
        raise _exists_error(dest)
    elif tmp.is_file() and not dest.is_dir():
        os.replace(tmp, dest)
    else:
        # rename() cannot put a directory over a non-empty one: move the old one aside first.
        aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
        old = aside / "old"
        try:
            os.rename(dest, old)
        except BaseException:
            _remove(aside)
            raise
        try:
            os.rename(tmp, dest)
        except OSError as e:
            try:
                os.rename(old, dest)
            except OSError:
                # Never delete the only copy of the old snapshot: say where it is.
                raise SourceError(
                    f"cannot write: {e.strerror or e}",
                    path=str(dest),
                    hint=f"the previous {dest.name} is kept at {old}",
                    code="write-failed",
                ) from e
            _remove(aside)
            raise
        _remove(aside)
    _fsync_dir(dest.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
