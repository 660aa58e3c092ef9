"""Sources: the only code in crashplan that reads host files.

A :class:`Source` is a root laid out like a host's ``/``: files are named by relpaths such as
``proc/iomem`` or ``sys/kernel/kexec_crash_size``, so one parser reads the live host, a
snapshot, a sosreport or a test fixture (prometheus/procfs ``NewFS(mountPoint)``; sos
``archive.py: dest_path`` keeps the same relpaths).  The kinds:

- :class:`LiveSource` — the host crashplan runs on (``DirSource("/")`` plus psutil);
- :class:`DirSource` — a snapshot directory, an unpacked sosreport (its ``sosreport-*/`` top
  folder is found by itself) or a fixture;
- :class:`ArchiveSource` — a ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.xz`` or ``.tar.zst`` of one
  of those, read in memory and never extracted, refusing hostile members.

:func:`open_source` picks one from a ``--source`` argument.  Every failure is a
:class:`~crashplan.errors.SourceError` whose ``path`` is :meth:`Source.display` of the file.
``capture.capture_snapshot`` writes a snapshot that every kind reads back.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from crashplan.errors import SourceError
from crashplan.host.sources._common import DEFAULT_READ_LIMIT, archive_kind
from crashplan.host.sources.tree import DirSource

if TYPE_CHECKING:
    from crashplan.host.sources.archive import ArchiveSource
    from crashplan.host.sources.live import LiveSource
    from crashplan.host.sources.snapshot import HostInfo, SnapshotInfo, Uname, Unreadable

__all__ = [
    "DEFAULT_READ_LIMIT",
    "ArchiveSource",
    "DirSource",
    "HostInfo",
    "LiveSource",
    "SnapshotInfo",
    "Source",
    "Uname",
    "Unreadable",
    "open_local_file",
    "open_source",
]

_SOURCE_HINT = (
    "pass a snapshot or sosreport directory, or a .tar, .tar.gz, .tgz, .tar.xz or .tar.zst archive"
)


@runtime_checkable
class Source(Protocol):
    """A host root: read files by relpath (``proc/iomem``, no leading slash)."""

    @property
    def name(self) -> str:
        """The source for messages: ``"live host"``, a directory path, an archive path."""
        ...

    @property
    def is_live(self) -> bool:
        """Whether this is the running host (its files change between reads)."""
        ...

    def read_text(self, relpath: str, *, limit: int = DEFAULT_READ_LIMIT) -> str | None:
        """The file as UTF-8 text (``errors="surrogateescape"``), None when it is absent.

        Raises ``SourceError`` when the file is present but unreadable: permission, a
        directory, larger than ``limit``, an I/O error, or a path that leaves the root.
        """
        ...

    def read_bytes(self, relpath: str, *, limit: int = DEFAULT_READ_LIMIT) -> bytes | None:
        """The file's bytes, None when it is absent; errors as :meth:`read_text`."""
        ...

    def open_binary(self, relpath: str) -> BinaryIO | None:
        """A seekable binary file object for a large file (kernel, initrd), None when absent."""
        ...

    def exists(self, relpath: str) -> bool:
        """Whether the relpath names a file or a directory."""
        ...

    def listdir(self, relpath: str) -> tuple[str, ...] | None:
        """The sorted names in a directory, None when it is absent."""
        ...

    def stat_size(self, relpath: str) -> int | None:
        """A regular file's size without reading it, None when absent (0 for most of /proc, /sys)."""
        ...

    def display(self, relpath: str) -> str:
        """How to name the file in messages: ``/proc/iomem``, ``snap.tar.gz:proc/iomem``."""
        ...

    def snapshot_info(self) -> SnapshotInfo | None:
        """The stored ``crashplan-snapshot.json``, None when there is none (always for the live host)."""
        ...


def open_source(path: str | os.PathLike[str] | None) -> Source:
    """The source a ``--source`` argument names: None is the live host.

    A directory is a :class:`DirSource` (``/`` is the live host), a file named like a tar
    archive an :class:`ArchiveSource`; anything else is a ``SourceError`` with a hint.
    """
    if path is None:
        from crashplan.host.sources.live import LiveSource

        return LiveSource()
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except FileNotFoundError as e:
        raise SourceError(
            "no such file or directory", path=name, hint=_SOURCE_HINT, code="not-found"
        ) from e
    except OSError as e:
        raise SourceError(f"cannot open: {e.strerror or e}", path=name, code="unreadable") from e
    if stat.S_ISDIR(st.st_mode):
        root = os.stat("/")
        if (st.st_dev, st.st_ino) == (root.st_dev, root.st_ino):  # "/" by any name
            from crashplan.host.sources.live import LiveSource

            return LiveSource()
        return DirSource(name)
    if stat.S_ISREG(st.st_mode) and archive_kind(os.path.basename(name)) is not None:
        from crashplan.host.sources.archive import ArchiveSource

        return ArchiveSource(name)
    raise SourceError(
        "not a directory or a tar archive", path=name, hint=_SOURCE_HINT, code="unsupported-source"
    )


# Loaded when first used, not on every import: archive.py imports tarfile (~3 ms), and a
# snapshot directory needs neither the live host's reader nor (without crashplan-snapshot.json)
# the snapshot metadata types.
_LAZY = {
    "ArchiveSource": "crashplan.host.sources.archive",
    "LiveSource": "crashplan.host.sources.live",
    "HostInfo": "crashplan.host.sources.snapshot",
    "SnapshotInfo": "crashplan.host.sources.snapshot",
    "Uname": "crashplan.host.sources.snapshot",
    "Unreadable": "crashplan.host.sources.snapshot",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def open_local_file(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a file a user named on the command line (``--kernel``, ``--initrd``) for reading.

    Raises :class:`SourceError` when it is missing, not a regular file or unreadable.
    """
    name = os.fspath(path)
    try:
        fp = open(name, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError as e:
        raise SourceError("no such file", path=name, code="not-found") from e
    except OSError as e:
        raise SourceError(f"cannot read: {e.strerror or e}", path=name, code="unreadable") from e
    if not stat.S_ISREG(os.fstat(fp.fileno()).st_mode):
        fp.close()
        raise SourceError("not a regular file", path=name, code="unreadable")
    return fp
