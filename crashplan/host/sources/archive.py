"""ArchiveSource: a snapshot or sosreport tarball, read in memory and never extracted.

Reads ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.xz`` and ``.tar.zst``/``.tar.zstd`` in one streamed
pass (``tarfile`` mode ``r|`` over a decompressor), and keeps in memory only the members a host
tree is read from: ``proc/``, ``sys/``, ``etc/``, ``boot/`` and ``crashplan-snapshot.json``, and
the sosreport files a directory source would show too (``sos_commands/kdump``,
``sos_commands/boot``, ``sos_commands/kernel``, ``dmesg.txt``, ``var/log/dmesg``;
``_common.EXTRA_PREFIXES``).
One top-level folder (``myhost/proc/iomem``, ``sosreport-host-2024/proc/...``) is stripped.

An archive is hostile until proven otherwise (compare the CVE-2007-4559 family that Python's
``tarfile`` extraction filters address, PEP 706).  It is refused, with ``SourceError`` code
``hostile-archive`` naming the member, when:

- a member name is absolute or has a ``..`` component;
- a member is a device node or a FIFO;
- a member crashplan keeps is a hard link, or a symlink whose target leaves the tree;
- a host-tree member crashplan keeps claims more than 16 MiB (its header is enough to refuse
  it; a sosreport extra that large is skipped instead);
- the members crashplan keeps add up to more than 256 MiB;
- the decompressed stream passes 256 MiB at more than 100 times the compressed bytes read (a
  compression bomb: real sosreports, journals included, stay far below that ratio), or passes
  16 GiB whatever the ratio, or the archive has more than 100,000 members.

The caps count what crashplan keeps, not what it streams past: a 2 GiB sosreport of journals
and logs is read as long as its kept files are small.  Symlinks that stay inside the tree (sos
makes absolute links relative) are followed on read.  Members outside the kept prefixes
(``sos_commands/logs``, ``var/log/journal``) are streamed past and never held.

Corrupt or truncated data is a ``SourceError`` with code ``bad-archive``, never a ``tarfile``,
``zlib``, ``lzma`` or ``zstd`` exception.  ``tarfile`` takes a stream that stops at a member
boundary, or a header with a bad checksum, for the end of the archive; here both are errors.
"""

from __future__ import annotations

import io
import lzma
import os
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO, Literal, Protocol, Self

from crashplan.errors import SourceError
from crashplan.host.sources._common import (
    DEFAULT_READ_LIMIT,
    SNAPSHOT_NAME,
    archive_kind,
    is_extra,
    is_tree_root_name,
    relpath_parts,
    too_large,
    wanted,
)
from crashplan.host.sources.snapshot import SnapshotInfo, parse_snapshot_info

__all__ = ["MAX_KEPT_SIZE", "MAX_MEMBERS", "MAX_MEMBER_SIZE", "MAX_RATIO", "MAX_STREAM_SIZE", "MAX_TOTAL_SIZE", "ArchiveSource"]

#: Largest member kept in memory.
MAX_MEMBER_SIZE = 16 << 20
#: Most bytes of kept members held from one archive.
MAX_KEPT_SIZE = 256 << 20
#: Decompressed bytes past which the compression ratio is watched (tar headers included).
MAX_TOTAL_SIZE = 256 << 20
#: Past MAX_TOTAL_SIZE, the most decompressed bytes per compressed byte read: a bomb's ratio.
MAX_RATIO = 100
#: Most decompressed bytes read from one archive, whatever the ratio.
MAX_STREAM_SIZE = 16 << 30
#: Most members in one archive.
MAX_MEMBERS = 100_000

# zstd frames may ask for a window this large; the library's own default limit (windowLog 27).
_ZSTD_MAX_WINDOW = 1 << 27
_MAX_SYMLINK_HOPS = 40  # Linux's MAXSYMLINKS
_LABELS = {"tar": "tar", "gz": "gzip", "xz": "xz", "zst": "zstd"}
# Refused anywhere in an archive: nothing crashplan reads is one, and opening one can act.
_SPECIAL_FILES = {
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "FIFO",
}


@dataclass(frozen=True, slots=True)
class _Entry:
    """One kept member: a file with its bytes, a directory, or a symlink to a tree path."""

    kind: Literal["file", "dir", "symlink"]
    data: bytes = b""
    target: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, init=False)
class ArchiveSource:
    """A host tree inside a tar archive, loaded once at construction.

    ``prefix`` is the top folder that was stripped (``sosreport-host-2024``), or None.
    """

    path: str
    prefix: str | None = field(compare=False)
    _entries: dict[str, _Entry] = field(repr=False, compare=False)
    _dirs: dict[str, tuple[str, ...]] = field(repr=False, compare=False)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        name = os.fspath(path)
        prefix, entries = _load(name)
        object.__setattr__(self, "path", name)
        object.__setattr__(self, "prefix", prefix)
        object.__setattr__(self, "_entries", entries)
        object.__setattr__(self, "_dirs", _directories(entries, name))

    @property
    def name(self) -> str:
        """The archive, as the user named it."""
        return self.path

    @property
    def is_live(self) -> bool:
        """False."""
        return False

    def display(self, relpath: str) -> str:
        """``archive:relpath``, e.g. ``snap.tar.gz:proc/iomem``."""
        return f"{self.path}:{relpath}"

    def read_bytes(self, relpath: str, *, limit: int = DEFAULT_READ_LIMIT) -> bytes | None:
        """The bytes of a member, None when the tree has no such file."""
        key = self._resolve(relpath)
        entry = self._entries.get(key)
        if key in self._dirs:
            raise SourceError("is a directory", path=self.display(relpath), code="unreadable")
        if entry is None:
            return None
        if len(entry.data) > limit:
            raise too_large(limit, path=self.display(relpath))
        return entry.data

    def open_binary(self, relpath: str) -> BinaryIO | None:
        """The member as a seekable in-memory file (archives are read in memory), or None."""
        data = self.read_bytes(relpath)
        return None if data is None else io.BytesIO(data)

    def read_text(self, relpath: str, *, limit: int = DEFAULT_READ_LIMIT) -> str | None:
        """The member decoded as UTF-8 (undecodable bytes kept as surrogates), None when absent."""
        data = self.read_bytes(relpath, limit=limit)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def exists(self, relpath: str) -> bool:
        """Whether the tree has a file or directory at ``relpath``."""
        key = self._resolve(relpath)
        return key in self._entries or key in self._dirs

    def listdir(self, relpath: str) -> tuple[str, ...] | None:
        """The sorted names in a directory of the tree, None when absent.

        Only the kept prefixes exist: ``listdir("")`` shows ``proc``, ``sys``, ``etc``, ``boot``
        and ``crashplan-snapshot.json`` at most.
        """
        key = self._resolve(relpath)
        if key in self._dirs:
            return self._dirs[key]
        if key in self._entries:
            raise SourceError("not a directory", path=self.display(relpath), code="unreadable")
        return None

    def stat_size(self, relpath: str) -> int | None:
        """The member's size, None when absent."""
        data = self.read_bytes(relpath, limit=MAX_MEMBER_SIZE)
        return None if data is None else len(data)

    def snapshot_info(self) -> SnapshotInfo | None:
        """The archive's ``crashplan-snapshot.json``, None when it has none (a sosreport)."""
        data = self.read_bytes(SNAPSHOT_NAME, limit=1 << 20)
        if data is None:
            return None
        return parse_snapshot_info(data, path=self.display(SNAPSHOT_NAME))

    def _resolve(self, relpath: str) -> str:
        """The tree path ``relpath`` names once symlinks on the way are followed."""
        parts = relpath_parts(relpath, where=self.name)
        hops = 0
        i = 0
        while i < len(parts):
            entry = self._entries.get("/".join(parts[: i + 1]))
            if entry is not None and entry.kind == "symlink":
                hops += 1
                if hops > _MAX_SYMLINK_HOPS:
                    raise SourceError(
                        "too many levels of symbolic links",
                        path=self.display(relpath),
                        code="unreadable",
                    )
                parts = entry.target + parts[i + 1 :]
                i = 0
                continue
            i += 1
        return "/".join(parts)


def _load(path: str) -> tuple[str | None, dict[str, _Entry]]:
    """Stream the archive once; return the stripped top folder and the kept entries by tree path."""
    kind = archive_kind(os.path.basename(path))
    if kind is None:
        raise SourceError(
            "not a tar archive name",
            path=path,
            hint="name it .tar, .tar.gz, .tgz, .tar.xz or .tar.zst",
            code="unsupported-source",
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError as e:
        raise SourceError("no such file", path=path, code="not-found") from e
    except OSError as e:
        raise SourceError(f"cannot read: {e.strerror or e}", path=path, code="unreadable") from e
    with open(fd, "rb") as raw:
        st = os.fstat(raw.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise SourceError("not a regular file", path=path, code="unreadable")
        if st.st_size == 0:
            raise SourceError("empty file", path=path, code="bad-archive")
        decompressed, corrupt = _decompressor(kind, raw)
        try:
            members = list(_scan(_CappedReader(decompressed, path, raw), path))
        except (_Truncated, EOFError) as e:
            raise _truncated(path) from e
        except corrupt as e:
            raise _corrupt(path, kind) from e
        except tarfile.TarError as e:
            if "unexpected end of data" in str(e):
                raise _truncated(path) from e
            if str(e).startswith("zlib error"):
                # TarFile.next() rewraps zlib.error as ReadError("zlib error: ...").
                raise _corrupt(path, kind) from e
            raise SourceError(
                "not a valid tar archive", path=path, hint=_check_hint(path), code="bad-archive"
            ) from e
        except OSError as e:
            raise SourceError(
                f"cannot read: {e.strerror or e}", path=path, code="unreadable"
            ) from e
        finally:
            decompressed.close()
    return _index(members, path)


# A scanned member: its name split into parts, and what _index() needs to keep it.
_Scanned = tuple[tuple[str, ...], _Entry]


def _scan(stream: _CappedReader, path: str) -> Iterator[_Scanned]:
    """Yield every member worth keeping, refusing hostile ones on the way."""
    # typeshed wants a full file object; stream mode only calls read().
    with tarfile.open(fileobj=stream, mode="r|", tarinfo=_StrictTarInfo) as tar:  # type: ignore[call-overload]
        count = 0
        kept = 0
        while (member := tar.next()) is not None:
            # Stream mode never looks back: drop the TarInfo list tarfile keeps for extraction.
            tar.members.clear()
            count += 1
            if count > MAX_MEMBERS:
                raise _hostile(f"refusing archive: more than {MAX_MEMBERS} members", path)
            parts = _member_parts(member, path)
            special = _SPECIAL_FILES.get(member.type)
            if special is not None:
                raise _hostile(f"refusing member {member.name!r}: {special}", path)
            if not parts:
                continue
            if not (wanted(parts) or wanted(parts[1:])):
                # Not part of a host tree: only its name counts, for the top folder.
                yield parts, _Entry("dir" if member.isdir() else "file")
                continue
            if member.islnk():
                raise _hostile(
                    f"refusing member {member.name!r}: hard link to {member.linkname!r}", path
                )
            if member.issym():
                yield parts, _Entry("symlink", target=_link_target(member, parts, path))
            elif member.isdir():
                yield parts, _Entry("dir")
            elif member.isreg():
                extra = is_extra(parts) or is_extra(parts[1:])
                if extra and member.size > MAX_MEMBER_SIZE:
                    continue  # a sosreport extra too large to be what crashplan reads: not kept
                if member.size > MAX_MEMBER_SIZE:
                    raise _hostile(
                        f"refusing member {member.name!r}: {member.size} bytes, over the "
                        f"{MAX_MEMBER_SIZE >> 20} MiB limit per member",
                        path,
                    )
                reader = tar.extractfile(member)
                assert reader is not None  # a regular file always has a reader
                data = reader.read()
                if len(data) != member.size:
                    raise _Truncated(member.name)
                kept += len(data)
                if kept > MAX_KEPT_SIZE:
                    raise _hostile(f"refusing archive: the members crashplan keeps add up to more than {MAX_KEPT_SIZE >> 20} MiB", path)
                yield parts, _Entry("file", data=data)
            else:
                raise _hostile(
                    f"refusing member {member.name!r}: unsupported type {member.type!r}", path
                )


def _member_parts(member: tarfile.TarInfo, path: str) -> tuple[str, ...]:
    name = member.name
    if name.startswith("/"):
        raise _hostile(f"refusing member {name!r}: absolute path", path)
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise _hostile(f"refusing member {name!r}: '..' component", path)
    return parts


def _link_target(member: tarfile.TarInfo, parts: tuple[str, ...], path: str) -> tuple[str, ...]:
    """The archive path a symlink points to, resolved lexically; refused when it leaves the archive."""
    target = member.linkname
    escapes = _hostile(
        f"refusing member {member.name!r}: symlink to {target!r} leaves the archive", path
    )
    if target.startswith("/"):
        raise escapes
    resolved = list(parts[:-1])
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise escapes
            resolved.pop()
        else:
            resolved.append(part)
    return tuple(resolved)


def _index(members: list[_Scanned], path: str) -> tuple[str | None, dict[str, _Entry]]:
    """Strip the one top folder, if there is one, and key the kept members by tree path."""
    tops = {parts[0] for parts, _ in members}
    top_files = any(len(parts) == 1 and entry.kind != "dir" for parts, entry in members)
    prefix = None
    if len(tops) == 1 and not top_files:
        (top,) = tops
        if not is_tree_root_name(top):
            prefix = top
    entries: dict[str, _Entry] = {}
    for parts, entry in members:
        key_parts = parts[1:] if prefix is not None else parts
        if not wanted(key_parts):
            continue
        if entry.kind == "symlink":
            target = entry.target
            if prefix is not None:
                if target[:1] != (prefix,):
                    name = "/".join(parts)
                    raise _hostile(
                        f"refusing member {name!r}: symlink leaves the archive's top folder", path
                    )
                target = target[1:]
            entry = _Entry("symlink", target=target)
        # Later members replace earlier ones, as when tar extracts.
        entries["/".join(key_parts)] = entry
    return prefix, entries


def _directories(entries: dict[str, _Entry], path: str) -> dict[str, tuple[str, ...]]:
    """Every directory of the tree, explicit or implied by a member below it, with its sorted names."""
    children: dict[str, set[str]] = {"": set()}
    for key, entry in entries.items():
        parts = key.split("/")
        if entry.kind == "dir":
            children.setdefault(key, set())
        for i in range(len(parts)):
            children.setdefault("/".join(parts[:i]), set()).add(parts[i])
    for key, entry in entries.items():
        if entry.kind != "dir" and key in children:
            raise _hostile(f"refusing member {key!r}: it is both a file and a directory", path)
    return {key: tuple(sorted(names)) for key, names in children.items()}


class _Truncated(Exception):
    """The tar stream ended before its end-of-archive marker."""


class _StrictTarInfo(tarfile.TarInfo):
    """A ``TarInfo`` whose header errors are not mistaken for the end of the archive.

    ``TarFile.next()`` treats an empty, short or bad-checksum header after the first member as
    the end; only a zero block (``EOFHeaderError``) really is.
    """

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        # The header errors are undocumented (and not in typeshed), but stable since Python 3.2.
        try:
            return super().fromtarfile(tarfile_)
        except (tarfile.EmptyHeaderError, tarfile.TruncatedHeaderError) as e:  # type: ignore[attr-defined]
            raise _Truncated(str(e)) from e
        except tarfile.InvalidHeaderError as e:  # type: ignore[attr-defined]
            raise tarfile.ReadError(str(e)) from e


class _CappedReader:
    """A read-only stream that counts decompressed bytes and stops the archive past the cap."""

    __slots__ = ("_empty", "_inner", "_path", "_raw", "_total")

    def __init__(self, inner: _Readable, path: str, raw: IO[bytes] | None = None) -> None:
        self._inner = inner
        self._path = path
        self._raw = raw
        self._total = 0
        self._empty = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = MAX_TOTAL_SIZE + 1
        data = self._inner.read(min(size, MAX_STREAM_SIZE + 1 - self._total))
        # tarfile skips a member in stream mode by reading its claimed size block by block, and
        # goes on reading after the end of the data: a header claiming 2**62 bytes (base-256)
        # would loop for ever.  A second read at the end of the data is that loop.
        self._empty = self._empty + 1 if not data and size > 0 else 0
        if self._empty > 1:
            raise _Truncated(self._path)
        self._total += len(data)
        if self._total > MAX_TOTAL_SIZE:
            compressed = self._raw.tell() if self._raw is not None else 0
            if self._total > MAX_STREAM_SIZE:
                raise _hostile(f"refusing archive: more than {MAX_STREAM_SIZE >> 30} GiB of decompressed data", self._path)
            if self._raw is None or self._total > MAX_RATIO * max(compressed, 1):
                raise _hostile(
                    f"refusing archive: more than {MAX_TOTAL_SIZE >> 20} MiB of decompressed data, "
                    f"over {MAX_RATIO} times the compressed size (a compression bomb)",
                    self._path,
                )
        return data


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def close(self) -> None: ...


def _decompressor(kind: str, raw: IO[bytes]) -> tuple[_Readable, tuple[type[Exception], ...]]:
    """A stream of the decompressed tar data, and the exceptions that mean corrupt compressed data."""
    if kind == "gz":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb"), (gzip.BadGzipFile, zlib.error)
    if kind == "xz":
        return lzma.LZMAFile(raw, mode="rb"), (lzma.LZMAError,)
    if kind == "zst":
        import zstandard

        decompressor = zstandard.ZstdDecompressor(max_window_size=_ZSTD_MAX_WINDOW)
        reader = decompressor.stream_reader(raw, read_across_frames=True, closefd=False)
        return reader, (zstandard.ZstdError,)
    return raw, ()


def _hostile(message: str, path: str) -> SourceError:
    return SourceError(
        message,
        path=path,
        hint="crashplan reads archives without extracting them and refuses unsafe members",
        code="hostile-archive",
    )


def _truncated(path: str) -> SourceError:
    return SourceError(
        "truncated archive: the data stops before the end of the archive",
        path=path,
        hint=_check_hint(path),
        code="bad-archive",
    )


def _corrupt(path: str, kind: str) -> SourceError:
    return SourceError(
        f"not valid {_LABELS[kind]} data",
        path=path,
        hint=_check_hint(path),
        code="bad-archive",
    )


def _check_hint(path: str) -> str:
    return f"check it with: tar -tvf {path}"
