"""DirSource: a host tree on disk, read the way the host reads ``/``.

One class serves the live host (``LiveSource`` is ``DirSource("/")``), a crashplan snapshot
directory, an unpacked sosreport and a test fixture, like prometheus/procfs ``NewFS(mountPoint)``.
sosreports keep the host's relpaths (``proc/iomem``, ``sys/kernel/kexec_crash_size``,
``etc/os-release``; sos ``archive.py: dest_path``) and are often unpacked into one top folder
``sosreport-<host>-<date>/`` (or ``sos_*`` with older sos), which is found by itself.

A tree that is not the live root is not trusted: relpaths may not climb out of it, and symlinks
in it may not lead out of it (``/proc/self``-style absolute links in a copy are the host's, not
this machine's).  The check resolves the path once before opening it; it defends against a
hostile tree, not against someone swapping links while crashplan reads.  Only regular files are
opened: a FIFO would block and a device node might act, so both are refused before ``open()``.

``/proc`` and ``/sys`` files report ``st_size`` 0 (or a page), so sizes are never trusted:
files are read up to ``limit + 1`` bytes and refused past ``limit``.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from crashplan.errors import SourceError
from crashplan.host.sources._common import (
    DEFAULT_READ_LIMIT,
    SNAPSHOT_NAME,
    relpath_parts,
    too_large,
)

if TYPE_CHECKING:
    from crashplan.host.sources.snapshot import SnapshotInfo

__all__ = ["SOSREPORT_PATTERNS", "DirSource"]

#: Top-level folder names of an unpacked sosreport (``sos report``; older sos used ``sos_*``).
SOSREPORT_PATTERNS = ("sosreport-*", "sos_*")

_CHUNK = 1 << 20
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
# "absent" means the path does not name anything: a missing file, or a file where a directory
# was expected on the way (proc/iomem/x).
_ABSENT = (errno.ENOENT, errno.ENOTDIR)
# _locate(): a listing shows that nothing has the name; _listing(): a directory not listed yet.
_GONE: Any = object()
_UNLISTED: Any = object()


@dataclass(frozen=True, slots=True, init=False)
class DirSource:
    """A host tree rooted at ``root``: a snapshot directory, an unpacked sosreport, a fixture.

    ``base`` is the directory relpaths resolve against: ``root`` itself, or the single
    ``sosreport-*/`` folder inside it that holds ``proc/``.
    """

    root: str
    base: str = field(compare=False)
    _real: str = field(repr=False, compare=False)
    _entries: dict[str, dict[str, os.DirEntry[str]] | None] = field(repr=False, compare=False)
    _dirs: dict[tuple[str, ...], tuple[Any, dict[str, os.DirEntry[str]] | None]] = field(repr=False, compare=False)

    def __init__(self, root: str | os.PathLike[str]) -> None:
        path = os.fspath(root)
        if not os.path.isdir(path):
            raise SourceError("not a directory", path=path, code="not-found")
        base = path if path == "/" else _find_sosreport_base(path)
        object.__setattr__(self, "root", path)
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "_real", os.path.realpath(base))
        # A copy does not change while it is read: each directory is listed once (scandir(),
        # whose entries tell links, directories and regular files apart without a stat), so
        # that a missing file costs no system call and a present one no lstat per component
        # (fleets read thousands of trees).
        object.__setattr__(self, "_entries", {})
        object.__setattr__(self, "_dirs", {})

    @property
    def name(self) -> str:
        """The tree, as the user named it."""
        return self.root

    @property
    def is_live(self) -> bool:
        """False: a tree on disk is a copy, whatever it holds."""
        return False

    def display(self, relpath: str) -> str:
        """The on-disk path of ``relpath``, for messages (``/proc/iomem``, ``snap/proc/iomem``)."""
        return os.path.join(self.base, relpath)

    def read_bytes(self, relpath: str, *, limit: int = DEFAULT_READ_LIMIT) -> bytes | None:
        """The bytes of a regular file, None when it is absent; at most ``limit`` bytes."""
        fd = self._open_file(relpath)
        if fd is None:
            return None
        try:
            chunks: list[bytes] = []
            size = 0
            while size <= limit:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except OSError as e:
            raise self._error(relpath, e) from e
        finally:
            os.close(fd)
        if size > limit:
            raise too_large(limit, path=self.display(relpath))
        return b"".join(chunks)

    def open_binary(self, relpath: str) -> BinaryIO | None:
        """An open, seekable file object for a large regular file (a kernel, an initrd), or None.

        The caller closes it; reading it streams from disk (nothing is loaded whole).
        """
        fd = self._open_file(relpath)
        return None if fd is None else os.fdopen(fd, "rb")

    def _open_file(self, relpath: str) -> int | None:
        """A descriptor of the regular file ``relpath`` (checked after opening), None when absent."""
        path, entry = self._locate(relpath)
        if entry is _GONE:
            return None
        if entry is None or not entry.is_file(follow_symlinks=False):
            # Not known from a listing to be a regular file: a FIFO would block and a device
            # might act, so look before opening.
            st = self._stat(relpath, path)
            if st is None:
                return None
            self._require_file(relpath, st)
        # The live root may hold symlinks (/proc/mounts -> self/mounts); a copy's were resolved
        # by _resolve(), so a link found now was put there since.
        flags = _OPEN_FLAGS if self._real == "/" else _OPEN_FLAGS | os.O_NOFOLLOW
        try:
            fd = os.open(path, flags)
        except OSError as e:
            if e.errno in _ABSENT:
                return None
            raise self._error(relpath, e) from e
        try:
            # The file may have been swapped since it was listed: check what was opened.
            self._require_file(relpath, os.fstat(fd))
        except OSError as e:
            os.close(fd)
            raise self._error(relpath, e) from e
        except BaseException:
            os.close(fd)
            raise
        return fd

    def read_text(self, relpath: str, *, limit: int = DEFAULT_READ_LIMIT) -> str | None:
        """The file decoded as UTF-8 (undecodable bytes kept as surrogates), None when absent."""
        data = self.read_bytes(relpath, limit=limit)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def exists(self, relpath: str) -> bool:
        """Whether ``relpath`` names anything (a dangling symlink names nothing)."""
        return self._stat(relpath, self._resolve(relpath)) is not None

    def listdir(self, relpath: str) -> tuple[str, ...] | None:
        """The sorted names in a directory, None when it is absent."""
        path = self._resolve(relpath)
        st = self._stat(relpath, path)
        if st is None:
            return None
        if not stat.S_ISDIR(st.st_mode):
            raise SourceError("not a directory", path=self.display(relpath), code="unreadable")
        try:
            return tuple(sorted(os.listdir(path)))
        except OSError as e:
            raise self._error(relpath, e) from e

    def stat_size(self, relpath: str) -> int | None:
        """The size ``stat()`` reports for a regular file (0 for most of /proc and /sys), None when absent."""
        st = self._stat(relpath, self._resolve(relpath))
        if st is None:
            return None
        self._require_file(relpath, st)
        return st.st_size

    def snapshot_info(self) -> SnapshotInfo | None:
        """The tree's ``crashplan-snapshot.json``, None when it has none (a sosreport, a fixture)."""
        data = self.read_bytes(SNAPSHOT_NAME, limit=1 << 20)
        if data is None:
            return None
        from crashplan.host.sources.snapshot import parse_snapshot_info  # only trees that have one

        return parse_snapshot_info(data, path=self.display(SNAPSHOT_NAME))

    def _resolve(self, relpath: str) -> str:
        """The real path of ``relpath``, refusing one that leaves the tree."""
        return self._locate(relpath)[0]

    def _locate(self, relpath: str) -> tuple[str, os.DirEntry[str] | None]:
        """The real path of ``relpath`` and, when the listings show it, its directory entry.

        The entry is ``_GONE`` when a listing shows that nothing has that name, and None when
        the listings cannot tell (the live root, an unlistable directory, a symlink on the way).
        Refuses a path that a symlink leads out of the tree.
        """
        parts = relpath_parts(relpath, where=self.name)
        if self._real == "/":
            # The live root: every path is on the host, links to anywhere included.
            return os.path.join(self.base, *parts), None
        joined = self._real + "/" + "/".join(parts) if parts else self._real
        if not parts:
            return joined, None
        # The directory part, resolved once per source: most files share a few directories.
        where = self._dirs.get(parts[:-1])
        if where is None:
            where = self._dirs[parts[:-1]] = self._walk(parts[:-1])
        directory, entries = where
        if entries is None:
            return (joined, _GONE) if directory is _GONE else (self._follow(relpath, joined), None)
        entry = entries.get(parts[-1])
        if entry is None:
            return joined, _GONE
        if entry.is_symlink():
            return self._follow(relpath, joined), None
        return directory + "/" + parts[-1], entry

    def _walk(self, parts: tuple[str, ...]) -> tuple[Any, dict[str, os.DirEntry[str]] | None]:
        """The real path of the directory ``parts`` and its listing.

        ``(_GONE, None)`` when a listing shows that it is not there, ``(path, None)`` when the
        listings cannot tell (an unlistable directory, a symlink on the way).
        """
        current = self._real
        for part in parts:
            entries = self._listing(current)
            if entries is None:
                return current, None
            entry = entries.get(part)
            if entry is None:
                return _GONE, None
            if entry.is_symlink():
                return current, None
            current = current + "/" + part
        return current, self._listing(current)

    def _listing(self, directory: str) -> dict[str, os.DirEntry[str]] | None:
        """The entries of ``directory`` by name, listed once per source; None when unlistable."""
        entries = self._entries.get(directory, _UNLISTED)
        if entries is _UNLISTED:
            try:
                with os.scandir(directory) as it:
                    entries = {e.name: e for e in it}
            except OSError:
                entries = None
            self._entries[directory] = entries
        return entries  # type: ignore[return-value]

    def _follow(self, relpath: str, joined: str) -> str:
        """The real path of ``joined`` through its symlinks, refused when it leaves the tree."""
        real = os.path.realpath(joined)
        if real != self._real and not real.startswith(self._real.rstrip("/") + "/"):
            raise SourceError(
                f"refusing {relpath!r}: a symlink leads out of the source root",
                path=self.display(relpath),
                code="unsafe-path",
            )
        return real

    def _stat(self, relpath: str, path: str) -> os.stat_result | None:
        try:
            return os.stat(path)
        except OSError as e:
            if e.errno in _ABSENT:
                return None
            raise self._error(relpath, e) from e

    def _require_file(self, relpath: str, st: os.stat_result) -> None:
        if stat.S_ISREG(st.st_mode):
            return
        what = "is a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise SourceError(what, path=self.display(relpath), code="unreadable")

    def _error(self, relpath: str, e: OSError) -> SourceError:
        where = self.display(relpath)
        if e.errno in (errno.EACCES, errno.EPERM):
            hint = "run as root or use a snapshot" if self.is_live else None
            return SourceError("permission denied", path=where, hint=hint, code="unreadable")
        if e.errno == errno.EISDIR:
            return SourceError("is a directory", path=where, code="unreadable")
        return SourceError(f"cannot read: {e.strerror or e}", path=where, code="unreadable")


def _find_sosreport_base(root: str) -> str:
    """``root``, or its single ``sosreport-*``/``sos_*`` folder holding ``proc/`` when root has no ``proc/``."""
    if os.path.isdir(os.path.join(root, "proc")):
        return root
    try:
        entries = list(os.scandir(root))
    except OSError as e:
        raise SourceError(f"cannot list: {e.strerror or e}", path=root, code="unreadable") from e
    found = [
        entry.path
        for entry in entries
        if any(fnmatch.fnmatchcase(entry.name, pattern) for pattern in SOSREPORT_PATTERNS)
        and entry.is_dir(follow_symlinks=False)
        and os.path.isdir(os.path.join(entry.path, "proc"))
    ]
    return found[0] if len(found) == 1 else root
