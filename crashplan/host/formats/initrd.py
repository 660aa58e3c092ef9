"""initrd analysis: the file size as loaded, and what its unpacked tree costs the crash kernel's tmpfs.

The crash kernel unpacks its initramfs into a tmpfs (``rootfs``) inside the reservation, so the
reservation must hold the compressed file *and* the unpacked tree.  This module walks an initrd the
way the kernel does, without unpacking it to disk and without holding it in memory:

* Authoritative source: ``init/initramfs.c: unpack_to_rootfs()`` for the layout: a sequence of segments,
  each either an uncompressed newc cpio archive starting with ``'0'`` at a 4-byte aligned offset,
  or a compressed stream recognised by ``lib/decompress.c: decompress_method()``; zero bytes
  between segments are skipped.  The usual layout is an uncompressed early-microcode archive
  followed by one compressed archive.  A decompressed stream may itself hold several archives
  (``flush_buffer()``); an archive need not end with ``TRAILER!!!``, but must not end mid-entry.
* ``usr/gen_init_cpio.c`` and ``Documentation/driver-api/early-userspace/buffer-format.rst`` are
  authoritative for newc: a 110-byte ASCII header (``070701``, or ``070702`` with a checksum),
  the NUL-terminated name, padding to 4 bytes, the file data, padding to 4 bytes.  Only headers
  are parsed; file data is skipped by arithmetic.
* RFC 8878 section 3.1 for the zstd frame: block headers are walked to find where a frame ends,
  because a stream decompressor cannot be told to stop there.
* ``lib/decompress_unlz4.c: unlz4()`` for lz4: only the legacy format (``lz4 -l``, magic
  ``02 21 4c 18``), read with the optional ``lz4`` package (``crashplan[lz4]``); without it, or
  for the lz4 frame format the kernel cannot unpack, a finding says so.

A file the kernel loop-mounts from the unpacked tree -- the squashfs or erofs root image of
dracut's squash modules (``/squash-root.img``, ``/squashfs-root.img``, ``/erofs-root.img``,
``/squash/root.img``) -- is kept while it streams past and read by
:mod:`crashplan.host.formats.fsimage` (:class:`InitrdImage`): the capture kernel also holds its
blocks and its unpacked files in the page cache.

tmpfs (``mm/shmem.c``) stores file data in whole pages, so the tmpfs cost of a regular file is its
size rounded up to ``PAGE_SIZE``.  Each inode also costs a ``shmem_inode_info`` and a ``dentry``
from the slab: :data:`TMPFS_INODE_BYTES` is their ``objsize`` in ``/proc/slabinfo``
(``shmem_inode_cache`` 752 + ``dentry`` 192 bytes, x86_64 Linux 6.18), an estimate that ignores
slab and page-table overhead.  Directories take no data pages; a symlink takes one page only when
its target is longer than ``SHORT_SYMLINK_LEN`` (128 bytes; ``shmem_symlink()`` keeps shorter
ones in the slab).

Bad input never raises: a truncated or corrupt file, an unknown or unsupported compression, a
decompression bomb (more than :attr:`Limits.max_unpacked_bytes` decompressed) or a walk slower than
:attr:`Limits.max_seconds` give a :class:`~crashplan.values.Finding` and ``unpacked_bytes=None``.
Only an unreadable file (``OSError``) raises :class:`~crashplan.errors.SourceError`.  Finding
codes (all ``warning``): ``initrd-truncated``, ``initrd-corrupt``, ``initrd-unknown-compression``,
``initrd-lz4-unsupported``, ``initrd-lzo-unsupported``, ``initrd-bomb``, ``initrd-timeout`` and
``initrd-empty``; ``initrd-image-unreadable`` when a root image cannot be read (the unpacked
size stays known, the image's page cache is not counted).
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, BinaryIO, cast

from crashplan.errors import SourceError
from crashplan.host.formats.fsimage import FsImage, parse_fs_image
from crashplan.host.formats.images import detect_compression
from crashplan.values import Finding

__all__ = [
    "TMPFS_INODE_BYTES",
    "InitrdFacts",
    "InitrdImage",
    "Limits",
    "Segment",
    "analyse_initrd",
    "round_up",
]

TMPFS_INODE_BYTES = 752 + 192  # shmem_inode_cache + dentry objsize, /proc/slabinfo, x86_64 6.18

_MiB = 1024 * 1024
_NEWC_HEADER = 110
_PATH_MAX = 4096
_S_IFMT, _S_IFREG, _S_IFDIR, _S_IFLNK = 0o170000, 0o100000, 0o040000, 0o120000
_SCAN = 64 * 1024  # bytes read at a time while skipping zero padding between segments
_NONZERO = re.compile(rb"[^\0]")
_HEADER_FIELDS = struct.Struct(">13I").unpack  # a newc header's fields once hex-decoded
_TRAILER = b"TRAILER!!!\0"
# The root file system images dracut's squash modules put in a kdump initrd, as cpio names:
# 99squash (squash-root.img; squash/root.img before RHEL 8.5), dracut-ng 95squash-squashfs
# and 95squash-erofs (squashfs-root.img, erofs-root.img).
_IMAGE_NAMES = frozenset(n + b"\0" for n in (b"squash-root.img", b"squash/root.img", b"squashfs-root.img",
                                            b"erofs-root.img"))
_WATCHED_SIZES = frozenset(len(n) for n in (_TRAILER, *_IMAGE_NAMES))
_MAX_IMAGE = 256 * _MiB  # images larger than this are not held in memory to be read (a finding says so)
_SHORT_SYMLINK_LEN = 128  # mm/shmem.c
_ZSTD_BLOCK_MAX = 128 * 1024  # RFC 8878 3.1.1.2.4: Block_Maximum_Size <= 128 KiB
_LZ4_MAGIC = 0x184C2102  # lib/decompress_unlz4.c ARCHIVE_MAGICNUMBER, the legacy format (lz4 -l)
_LZ4_CHUNK = 8 << 20  # LZ4_DEFAULT_UNCOMPRESSED_CHUNK_SIZE: each legacy block unpacks to at most this
_LZ4_MISSING = ("initrd-lz4-unsupported", "lz4 not supported: the optional lz4 package is not "
                "installed (pip install 'crashplan[lz4]')")
_UNSUPPORTED = {
    "lz4-frame": ("initrd-lz4-unsupported", "lz4 not supported here, and it is the lz4 frame format, "
                  "which the kernel cannot unpack either (it needs the legacy format, lz4 -l)"),
    "lzo": ("initrd-lzo-unsupported", "lzo not supported (Python has no lzo decompressor)"),
}


def round_up(n: int, page_size: int) -> int:
    """``n`` rounded up to a multiple of ``page_size`` (a power of two), like the kernel's ``round_up()``.

    >>> round_up(1, 4096), round_up(4096, 4096), round_up(0, 4096)
    (4096, 4096, 0)
    """
    return (n + page_size - 1) & ~(page_size - 1)


@dataclass(frozen=True, slots=True)
class Limits:
    """How much work :func:`analyse_initrd` may do before it gives up with a finding.

    ``max_unpacked_bytes`` caps the decompressed bytes examined (a decompression bomb stops
    there), ``max_seconds`` the wall-clock time, and ``chunk_size`` is the unit of reading and
    decompressing (memory use is a small multiple of it).
    """

    max_unpacked_bytes: int = 4 * 1024 * _MiB
    max_seconds: float = 30.0
    chunk_size: int = _MiB


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment of an initrd: an uncompressed cpio archive or one compressed stream.

    ``compressed_size`` is the bytes the segment occupies in the file; ``archive_bytes`` the
    decompressed cpio stream; ``unpacked_bytes`` the regular-file data in it.  ``None`` when the
    walk stopped inside the segment.
    """

    offset: int
    compression: str
    compressed_size: int | None
    archive_bytes: int | None
    unpacked_bytes: int | None
    entries: int


@dataclass(frozen=True, slots=True)
class InitrdImage:
    """A root file system image in the initrd (dracut's squash modules) and what mounting it costs.

    ``image`` is its superblock and files (None when it could not be read: ``problem`` says
    why).  ``cache_bytes`` is what the capture kernel holds for it beyond the image file in
    tmpfs: the image's blocks in the loop device's page cache (``bytes_used``, in pages), every
    file it unpacks in the page cache of the mount (``file_pages_bytes``: an upper bound, as a
    file costs only once read) and an inode and dentry per inode (:data:`TMPFS_INODE_BYTES`,
    the tmpfs figure as an estimate).
    """

    name: str
    size: int
    image: FsImage | None
    problem: str | None = None

    @property
    def cache_bytes(self) -> int | None:
        """Page cache and inodes of the mounted image, None when it could not be read."""
        if self.image is None:
            return None
        i = self.image
        return round_up(i.bytes_used, i.page_size) + i.file_pages_bytes + i.inodes * TMPFS_INODE_BYTES


@dataclass(frozen=True, slots=True)
class InitrdFacts:
    """What an initrd costs: ``size`` as loaded, and the unpacked tree as tmpfs holds it, in bytes.

    ``unpacked_bytes`` is the sum of regular-file sizes; ``unpacked_pages_bytes`` the same with
    each file rounded up to ``page_size`` (plus a page per symlink longer than 128 bytes);
    ``tmpfs_bytes`` adds :data:`TMPFS_INODE_BYTES` per inode.  They are ``None`` when ``findings`` say why the size is unknown; the counts then cover
    what was read before the walk stopped.  ``compression`` lists the distinct segment
    compressions in file order (``"none"`` for an uncompressed archive).
    """

    size: int
    unpacked_bytes: int | None
    unpacked_pages_bytes: int | None
    tmpfs_bytes: int | None
    files: int
    dirs: int
    symlinks: int
    others: int
    inodes: int
    segments: tuple[Segment, ...]
    compression: tuple[str, ...]
    findings: tuple[Finding, ...]
    page_size: int = 4096
    name: str = field(default="", compare=False, repr=False)
    images: tuple[InitrdImage, ...] = ()

    @property
    def image_cache_bytes(self) -> int | None:
        """What the root file system images cost once mounted (0 without one, None if one is unreadable)."""
        costs = [i.cache_bytes for i in self.images]
        return None if None in costs else sum(c for c in costs if c is not None)


class _Stop(Exception):
    """Ends the walk; carries the finding that says why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Cpio:
    """Incremental newc parser: headers are parsed, names and data skipped by arithmetic.

    ``pos`` is the offset in the current segment's cpio stream, which alignment is relative to.
    The hot path parses a header that lies whole in the current chunk with one ``bytes.fromhex``
    and one ``struct`` unpack; only headers split across chunks go through ``buf``.
    """

    __slots__ = (
        "buf",
        "capture",
        "capture_left",
        "capture_rest",
        "data",
        "dirs",
        "entries",
        "files",
        "images",
        "linked",
        "links",
        "name_size",
        "others",
        "page_mask",
        "pages",
        "pending",
        "pos",
        "skip",
        "state",
        "symlinks",
        "total",
    )

    _BOUNDARY, _HEADER, _NAME = 0, 1, 2

    def __init__(self, page_size: int) -> None:
        self.page_mask = page_size - 1
        self.files = self.dirs = self.symlinks = self.others = self.entries = self.linked = 0
        self.data = self.pages = self.total = 0
        self.links: set[tuple[int, int, int]] = set()
        self.buf = bytearray()
        self.pending: tuple[int, int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0, 0)
        self.name_size = 0
        self.capture = bytearray()
        self.capture_left = self.capture_rest = 0
        self.images: list[tuple[str, bytes | None]] = []
        self.reset()

    def reset(self) -> None:
        """Start a new segment (a new stream: offsets and alignment restart at 0)."""
        self.pos = self.skip = 0
        self.state = self._BOUNDARY
        self.buf.clear()
        self.capture_left = self.capture_rest = 0
        self.capture = bytearray()

    @property
    def mid_entry(self) -> bool:
        """Whether the stream so far ends inside an entry (the kernel's ``state != Reset``)."""
        return bool(self.state != self._BOUNDARY or self.skip or self.buf or self.capture_left)

    def feed(self, data: bytes | memoryview, *, raw: bool) -> int | None:
        """Consume ``data``; return ``None``, or in ``raw`` mode the index where the archive ended.

        Mirrors the state machine of init/initramfs.c (``do_header()``, ``do_name()``,
        ``do_reset()``); ``raw`` is the uncompressed case, where bytes that are neither zero nor
        ``'0'`` between entries end the segment instead of being "junk within compressed archive".
        """
        n = len(data)
        base = self.pos
        self.total += n
        i = 0
        skip = self.skip
        while True:
            if skip:
                if skip >= n - i:
                    skip -= n - i
                    break
                i += skip
                skip = 0
            if self.capture_left:
                # The data of a root file system image (_IMAGE_NAMES): kept to be read.
                take = min(self.capture_left, n - i)
                self.capture += data[i : i + take]
                i += take
                self.capture_left -= take
                if self.capture_left:
                    break
                skip = self._captured()
                continue
            if i >= n:
                break
            if self.state != self._BOUNDARY:
                i, skip = self._partial(data, i, n, base)
                continue
            c = data[i]
            if c == 0:
                m = _NONZERO.search(data, i)
                if m is None:
                    break
                i = m.start()
                continue
            if c != 0x30 or (base + i) & 3:
                if raw:
                    self.total -= n - i
                    self.pos = base + i
                    self.skip = 0
                    return i
                what = "broken padding" if c == 0x30 else "junk within compressed archive"
                raise _Stop("initrd-corrupt", f"{what} at offset {base + i} of the cpio stream")
            if n - i < _NEWC_HEADER:
                self.state = self._HEADER
                continue
            i += _NEWC_HEADER
            skip = self._entry(data[i - _NEWC_HEADER : i], base + i)
        self.skip = skip
        self.pos = base + n
        return None

    def _partial(self, data: bytes | memoryview, i: int, n: int, base: int) -> tuple[int, int]:
        """Collect a header or name split across chunks into ``buf``; process it when complete."""
        need = (_NEWC_HEADER if self.state == self._HEADER else self.name_size) - len(self.buf)
        take = min(need, n - i)
        self.buf += data[i : i + take]
        i += take
        if take < need:
            return i, 0
        piece = bytes(self.buf)
        self.buf.clear()
        if self.state == self._HEADER:
            self.state = self._BOUNDARY
            return i, self._entry(piece, base + i)
        return i, self._name(piece)

    def _entry(self, hdr: bytes | memoryview, end: int) -> int:
        """Parse one 110-byte header ending at stream offset ``end``; return the bytes to skip."""
        if hdr[:6] != b"070701" and hdr[:6] != b"070702":
            magic = bytes(hdr[:6])
            if magic == b"070707":
                raise _Stop("initrd-corrupt", "old odc cpio archive (the kernel needs newc, cpio -H newc)")
            raise _Stop("initrd-corrupt", f"no cpio magic at offset {end - _NEWC_HEADER} of the "
                        f"cpio stream (found {magic!r})")
        # Thirteen 8-digit hex fields.  parse_header()'s simple_strtoul() would stop at the first
        # non-hex digit; a real archive has none, and fromhex() rejects them (and spaces, which
        # shorten the result) where int() would accept signs and underscores.
        try:
            (ino, mode, _uid, _gid, nlink, _mtime, filesize, major, minor, _rmajor, _rminor,
             namesize, _check) = _HEADER_FIELDS(bytes.fromhex(str(hdr[6:], "ascii")))
        except (ValueError, struct.error):
            raise _Stop("initrd-corrupt", f"cpio header with non-hex fields at offset "
                        f"{end - _NEWC_HEADER} of the cpio stream") from None
        # N_ALIGN(): the name ends padded to 4 bytes, then the data, padded to 4 bytes.
        next_header = (((end + namesize + 3) & ~3) + filesize + 3) & ~3
        if namesize in _WATCHED_SIZES:
            # A possible "TRAILER!!!" or root image: read the name; _name() then skips (or
            # keeps) the rest of the entry.
            self.state = self._NAME
            self.name_size = namesize
            self.pending = (mode, filesize, nlink, ino, major, minor, next_header - end - namesize)
            return 0
        if 0 < namesize <= _PATH_MAX:  # do_header() ignores other names
            self._count(mode, filesize, nlink, ino, major, minor)
        return next_header - end

    def _name(self, name: bytes) -> int:
        mode, filesize, nlink, ino, major, minor, rest = self.pending
        self.state = self._BOUNDARY
        if name == _TRAILER:
            self.links.clear()  # do_name(): free_hash() at the trailer
            return rest
        self._count(mode, filesize, nlink, ino, major, minor)
        if name in _IMAGE_NAMES and mode & _S_IFMT == _S_IFREG and filesize > _MAX_IMAGE:
            self.images.append((name[:-1].decode(), None))
        elif name in _IMAGE_NAMES and mode & _S_IFMT == _S_IFREG and filesize > 0:
            # The name ends at a known offset: the data starts at the next multiple of 4.
            pad = rest - filesize - (-filesize % 4)
            self.capture = bytearray()
            self.capture_left = filesize
            self.capture_rest = -filesize % 4
            self.pending = (mode, filesize, nlink, ino, major, minor, 0)
            self.images.append((name[:-1].decode(), b""))
            return pad
        return rest

    def _captured(self) -> int:
        """An image's data is complete: keep it, and skip its padding."""
        name, _ = self.images[-1]
        self.images[-1] = (name, bytes(self.capture))
        self.capture = bytearray()
        return self.capture_rest

    def _count(self, mode: int, filesize: int, nlink: int, ino: int, major: int, minor: int) -> None:
        self.entries += 1
        kind = mode & _S_IFMT
        if kind == _S_IFREG:
            self.files += 1
            self.data += filesize
            self.pages += (filesize + self.page_mask) & ~self.page_mask
            # maybe_link(): a regular file with nlink >= 2 whose (ino, major, minor) was seen is a
            # hard link (newc stores the data once), not a new inode.
            if nlink >= 2:
                key = (ino, major, minor)
                if key in self.links:
                    self.linked += 1
                else:
                    self.links.add(key)
        elif kind == _S_IFDIR:
            self.dirs += 1
        elif kind == _S_IFLNK:
            self.symlinks += 1
            if filesize > _SHORT_SYMLINK_LEN:
                self.pages += self.page_mask + 1
        else:
            self.others += 1


class _Walk:
    """One pass over an initrd file, segment by segment (init/initramfs.c: unpack_to_rootfs())."""

    def __init__(self, fp: BinaryIO, size: int, page_size: int, limits: Limits) -> None:
        self.fp = fp
        self.size = size
        self.limits = limits
        self.chunk = max(1, limits.chunk_size)
        self.deadline = time.monotonic() + limits.max_seconds
        self.cpio = _Cpio(page_size)
        self.segments: list[Segment] = []
        self.current: tuple[int, str, int, int, int] | None = None

    def run(self) -> None:
        offset = 0
        while offset < self.size:
            self.fp.seek(offset)
            head = self.fp.read(_SCAN)
            m = _NONZERO.search(head)
            if m is None:  # zero padding between segments
                offset += len(head) if head else self.size
                self._check_time()
                continue
            offset += m.start()
            head = head[m.start() : m.start() + 8]
            if len(head) < 8:
                self.fp.seek(offset)
                head = self.fp.read(8)
            if head[:1] == b"0" and not offset & 3:
                offset = self._segment(offset, "none", self._raw)
                continue
            compression = detect_compression(head)
            if compression is None:
                raise _Stop("initrd-unknown-compression",
                            f"unknown data at offset {offset} (first bytes {head.hex(' ')}): neither "
                            "a cpio archive nor a compression the kernel knows; the kernel stops "
                            "unpacking there too (\"invalid magic at start of compressed archive\")")
            if compression in _UNSUPPORTED:
                code, reason = _UNSUPPORTED[compression]
                self._begin_stream(offset, compression)
                raise _Stop(code, f"{reason}, segment at offset {offset}")
            reader = {"zstd": self._zstd, "lz4": self._lz4}.get(compression, self._stream)
            offset = self._segment(offset, compression, reader)

    def _begin_stream(self, offset: int, compression: str) -> None:
        c = self.cpio
        c.reset()
        self.current = (offset, compression, c.entries, c.data, c.total)

    def _segment(self, offset: int, compression: str, reader: Callable[[int, str], int]) -> int:
        self._begin_stream(offset, compression)
        end = reader(offset, compression)
        c = self.cpio
        if c.mid_entry:
            raise _Stop("initrd-truncated" if end >= self.size else "initrd-corrupt",
                        f"the cpio archive in the {compression} segment at offset {offset} "
                        f"ends in the middle of an entry")
        start, _, entries, data, total = self.current  # type: ignore[misc]
        self.segments.append(Segment(start, compression, end - start, c.total - total,
                                     c.data - data, c.entries - entries))
        self.current = None
        return end

    def _check(self, more: int = 0) -> None:
        if self.cpio.total + more > self.limits.max_unpacked_bytes:
            raise _Stop("initrd-bomb", f"more than {self.limits.max_unpacked_bytes} bytes "
                        "decompressed (Limits.max_unpacked_bytes): a decompression bomb, or an "
                        "initrd larger than any crash kernel can hold")
        if time.monotonic() > self.deadline:
            raise _Stop("initrd-timeout", f"gave up after {self.limits.max_seconds:g} s "
                        "(Limits.max_seconds)")

    def _raw(self, offset: int, compression: str) -> int:
        """An uncompressed cpio segment, read straight from the file."""
        self.fp.seek(offset)
        pos = offset
        while True:
            data = self.fp.read(self.chunk)
            if not data:
                return pos
            ended = self.cpio.feed(data, raw=True)
            self._check()
            if ended is not None:
                return pos + ended
            pos += len(data)

    def _stream(self, offset: int, compression: str) -> int:
        """A gzip, xz, lzma or bzip2 stream: decompress with bounded output, feed the parser."""
        self.fp.seek(offset)
        fed = 0
        d: _Decompressor = _Decompressor(compression)
        while not d.eof:
            data = b""
            if d.needs_input:
                data = self.fp.read(self.chunk)
                fed += len(data)
                if not data:
                    self._feed(d.flush(offset))
                    if d.eof:
                        break
                    raise _Stop("initrd-truncated", f"{compression} segment at offset {offset} "
                                "is truncated (end of file inside the stream)")
            self._feed(d.decompress(data, self.chunk, offset))
        return offset + fed - d.unused

    def _feed(self, out: bytes | memoryview) -> None:
        if out:
            self.cpio.feed(out, raw=False)
        self._check()

    def _zstd(self, offset: int, compression: str) -> int:
        """One zstd frame: find its end from the block headers, then decompress exactly that."""
        import zstandard  # a runtime dependency, but a C extension only this path needs

        end = self._zstd_frame_end(offset)
        window = _Window(self.fp, offset, end)
        reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], window), read_size=self.chunk, read_across_frames=False)
        buf = bytearray(4 * self.chunk)
        view = memoryview(buf)
        try:
            while True:
                n = reader.readinto(buf)
                if not n:
                    break
                self._feed(view[:n])
        except zstandard.ZstdError as e:
            raise _Stop("initrd-corrupt", f"zstd segment at offset {offset} is corrupt: {e}") from None
        finally:
            view.release()
        return end

    def _lz4(self, offset: int, compression: str) -> int:
        """An lz4 legacy stream, read as ``lib/decompress_unlz4.c: unlz4()`` reads it.

        After the magic come blocks of a little-endian u32 compressed size and that many bytes
        of an LZ4 block that unpacks to at most 8 MiB; a repeated magic starts a concatenated
        stream and is skipped.  The format has no end marker: the stream ends at the end of
        the file, or (since Linux kernel commit 2c484419efc0 ("lib/decompress_unlz4.c: correctly
        handle zero-padding around initrds.") (in v5.14)) at a zero size or fewer than 4 bytes
        left, which is where the next segment's zero padding starts.
        """
        try:
            import lz4.block  # the optional dependency crashplan[lz4]
        except ImportError:
            raise _Stop(*_LZ4_MISSING) from None
        pos = offset + 4
        while True:
            self._check()
            self.fp.seek(pos)
            head = self.fp.read(4)
            if len(head) < 4:
                return pos
            size = int.from_bytes(head, "little")
            if size == _LZ4_MAGIC:
                pos += 4
                continue
            if size == 0:
                return pos
            if size > _LZ4_CHUNK + _LZ4_CHUNK // 255 + 16:  # LZ4_compressBound(8 MiB)
                raise _Stop("initrd-corrupt", f"lz4 segment at offset {offset}: block at offset "
                            f"{pos} claims {size} bytes, more than an 8 MiB block can take")
            block = self.fp.read(size)
            if len(block) < size:
                raise _Stop("initrd-truncated", f"lz4 segment at offset {offset} is truncated "
                            "(end of file inside a block)")
            try:
                out = lz4.block.decompress(block, uncompressed_size=_LZ4_CHUNK)
            except lz4.block.LZ4BlockError as e:
                raise _Stop("initrd-corrupt", f"lz4 segment at offset {offset} is corrupt: block at "
                            f"offset {pos}: {e}") from None
            self._feed(out)
            pos += 4 + size

    def _zstd_frame_end(self, offset: int) -> int:
        """The file offset just past the zstd frame at ``offset`` (RFC 8878 section 3.1.1)."""
        fp = self.fp

        def read(at: int, n: int) -> bytes:
            fp.seek(at)
            got = fp.read(n)
            if len(got) < n:
                raise _Stop("initrd-truncated", f"zstd segment at offset {offset} is truncated "
                            "(end of file inside the frame)")
            return got

        fhd = read(offset + 4, 1)[0]
        if fhd & 0x08:
            raise _Stop("initrd-corrupt", f"zstd segment at offset {offset}: reserved frame header bit set")
        fcs_flag, single_segment, checksum = fhd >> 6, (fhd >> 5) & 1, (fhd >> 2) & 1
        fcs_size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
        pos = offset + 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 3] + fcs_size
        blocks = exact = 0
        while True:
            header = int.from_bytes(read(pos, 3), "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            if kind == 3 or size > _ZSTD_BLOCK_MAX:
                raise _Stop("initrd-corrupt", f"zstd segment at offset {offset}: invalid block "
                            f"header at offset {pos}")
            pos += 3 + (1 if kind == 1 else size)
            blocks += 1
            if kind != 2:  # raw and RLE blocks decompress to exactly Block_Size bytes
                exact += size
            if blocks & 0xFFF == 0:
                self._check_time()
                if self.cpio.total + exact > self.limits.max_unpacked_bytes:
                    self._check(exact)
            if last:
                break
        end = pos + 4 * checksum
        if end > self.size:
            read(end - 1, 1)  # raises the truncation finding
        return end

    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _Stop("initrd-timeout", f"gave up after {self.limits.max_seconds:g} s "
                        "(Limits.max_seconds)")


class _Decompressor:
    """zlib (gzip), lzma (xz, lzma-alone) and bz2 behind one bounded-output interface."""

    __slots__ = ("compression", "d", "z")

    def __init__(self, compression: str) -> None:
        self.compression = compression
        self.z = zlib.decompressobj(wbits=31) if compression == "gzip" else None
        self.d: lzma.LZMADecompressor | bz2.BZ2Decompressor | None = None
        if compression == "bzip2":
            self.d = bz2.BZ2Decompressor()
        elif compression in ("xz", "lzma"):
            fmt = lzma.FORMAT_XZ if compression == "xz" else lzma.FORMAT_ALONE
            # xz -9 needs 65 MiB; a garbage lzma-alone header may ask for a 4 GiB dictionary.
            self.d = lzma.LZMADecompressor(fmt, memlimit=256 * _MiB)

    @property
    def eof(self) -> bool:
        return self.z.eof if self.z is not None else self.d.eof  # type: ignore[union-attr]

    @property
    def needs_input(self) -> bool:
        if self.z is not None:
            return not self.z.unconsumed_tail
        return self.d.needs_input  # type: ignore[union-attr]

    @property
    def unused(self) -> int:
        return len(self.z.unused_data if self.z is not None else self.d.unused_data)  # type: ignore[union-attr]

    def decompress(self, data: bytes, max_length: int, offset: int) -> bytes:
        try:
            if self.z is not None:
                return self.z.decompress(data or self.z.unconsumed_tail, max_length)
            return self.d.decompress(data, max_length)  # type: ignore[union-attr]
        except (zlib.error, lzma.LZMAError, OSError, EOFError) as e:
            # bz2 reports corrupt data as OSError("Invalid data stream").
            raise _Stop("initrd-corrupt", f"{self.compression} segment at offset {offset} is "
                        f"corrupt: {e}") from None

    def flush(self, offset: int) -> bytes:
        if self.z is None:
            return b""
        try:
            return self.z.flush()
        except zlib.error as e:
            raise _Stop("initrd-corrupt", f"gzip segment at offset {offset} is corrupt: {e}") from None


class _Window(io.RawIOBase):
    """A read-only view of ``fp[start:end]``, so a decompressor cannot read past its frame."""

    def __init__(self, fp: BinaryIO, start: int, end: int) -> None:
        super().__init__()
        self.fp, self.pos, self.end = fp, start, end

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        left = self.end - self.pos
        if n < 0 or n > left:
            n = left
        if n <= 0:
            return b""
        self.fp.seek(self.pos)
        data = self.fp.read(n)
        self.pos += len(data)
        return data


def analyse_initrd(
    fp: BinaryIO | bytes,
    *,
    name: str,
    page_size: int = 4096,
    limits: Limits = Limits(),
) -> InitrdFacts:
    """Walk an initrd and report its size as loaded and as unpacked into tmpfs.

    Streams the file ``limits.chunk_size`` bytes at a time; never raises for bad content
    (see the module docstring), only :class:`SourceError` when the file cannot be read.

    :param fp: an open, seekable binary file (or the file's bytes).
    :param name: the path shown in findings and errors.
    :param page_size: the crash kernel's ``PAGE_SIZE`` (a host fact: 4096 on x86_64, 4/16/64 KiB on arm64).
    """
    if isinstance(fp, bytes | bytearray | memoryview):
        fp = io.BytesIO(bytes(fp))
    if page_size <= 0 or page_size & (page_size - 1):
        raise ValueError(f"page_size must be a power of two, not {page_size}")
    try:
        size = fp.seek(0, io.SEEK_END)
        walk = _Walk(fp, size, page_size, limits)
        findings: list[Finding] = []
        try:
            walk.run()
            if size == 0:
                raise _Stop("initrd-empty", "the file is empty")
        except _Stop as stop:
            if walk.current is not None:
                start, compression, _, _, _ = walk.current
                walk.segments.append(Segment(start, compression, None, None, None, 0))
            findings.append(Finding("warning", stop.code, _unknown_message(name, size, stop.reason)))
    except OSError as e:
        raise SourceError(f"cannot read initrd: {e}", path=name, code="initrd-unreadable") from e
    c = walk.cpio
    known = not findings
    if known and not c.entries:
        known = False
        findings.append(Finding("warning", "initrd-empty", _unknown_message(
            name, size, "no cpio entries found")))
    inodes = c.entries - c.linked
    compressions = tuple(dict.fromkeys(s.compression for s in walk.segments))
    images = []
    for image_name, data in c.images:
        if data is None:
            problem = f"{name}:{image_name}: larger than {_MAX_IMAGE >> 20} MiB, not read"
            images.append(InitrdImage(image_name, 0, None, problem))
            findings.append(Finding("warning", "initrd-image-unreadable", f"{problem}: its page cache is not counted"))
            continue
        if not data:
            continue  # the walk stopped inside it: the finding above says why
        try:
            fs = parse_fs_image(data, path=f"{name}:{image_name}", page_size=page_size)
        except SourceError as e:
            images.append(InitrdImage(image_name, len(data), None, e.one_line()))
            findings.append(Finding("warning", "initrd-image-unreadable", f"{e.one_line()}: its page "
                                    "cache is not counted"))
            continue
        if fs is None:
            continue  # a file of that name that is no image: tmpfs holds it, nothing mounts it
        images.append(InitrdImage(image_name, len(data), fs))
    return InitrdFacts(
        size=size,
        unpacked_bytes=c.data if known else None,
        unpacked_pages_bytes=c.pages if known else None,
        tmpfs_bytes=c.pages + inodes * TMPFS_INODE_BYTES if known else None,
        files=c.files,
        dirs=c.dirs,
        symlinks=c.symlinks,
        others=c.others,
        inodes=inodes,
        segments=tuple(walk.segments),
        compression=compressions,
        findings=tuple(findings),
        page_size=page_size,
        name=name,
        images=tuple(images),
    )


def _unknown_message(name: str, size: int, reason: str) -> str:
    return (f"initrd unpacked size unknown: {reason} ({name}); fall back to an estimate from the "
            f"{size}-byte file size (compressed initrds usually unpack to a few times their size), "
            "or unpack it with lsinitrd/unmkinitramfs and measure the tree")

