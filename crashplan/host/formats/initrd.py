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
* each newc archive is walked by :mod:`crashplan.host.formats.cpio` (``usr/gen_init_cpio.c``):
  only headers are parsed; file data is skipped by arithmetic.
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
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, BinaryIO, cast

from crashplan.errors import SourceError
from crashplan.host.formats.cpio import (
    MAX_IMAGE,
    TMPFS_INODE_BYTES,
    CpioWalk,
    WalkStop,
    round_up,
)
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


_MiB = 1024 * 1024
_SCAN = 64 * 1024  # bytes read at a time while skipping zero padding between segments
_NONZERO = re.compile(rb"[^\0]")
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


class _Walk:
    """One pass over an initrd file, segment by segment (init/initramfs.c: unpack_to_rootfs())."""

    def __init__(self, fp: BinaryIO, size: int, page_size: int, limits: Limits) -> None:
        self.fp = fp
        self.size = size
        self.limits = limits
        self.chunk = max(1, limits.chunk_size)
        self.deadline = time.monotonic() + limits.max_seconds
        self.cpio = CpioWalk(page_size)
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
                raise WalkStop("initrd-unknown-compression",
                            f"unknown data at offset {offset} (first bytes {head.hex(' ')}): neither "
                            "a cpio archive nor a compression the kernel knows; the kernel stops "
                            "unpacking there too (\"invalid magic at start of compressed archive\")")
            if compression in _UNSUPPORTED:
                code, reason = _UNSUPPORTED[compression]
                self._begin_stream(offset, compression)
                raise WalkStop(code, f"{reason}, segment at offset {offset}")
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
            raise WalkStop("initrd-truncated" if end >= self.size else "initrd-corrupt",
                        f"the cpio archive in the {compression} segment at offset {offset} "
                        f"ends in the middle of an entry")
        start, _, entries, data, total = self.current  # type: ignore[misc]
        self.segments.append(Segment(start, compression, end - start, c.total - total,
                                     c.data - data, c.entries - entries))
        self.current = None
        return end

    def _check(self, more: int = 0) -> None:
        if self.cpio.total + more > self.limits.max_unpacked_bytes:
            raise WalkStop("initrd-bomb", f"more than {self.limits.max_unpacked_bytes} bytes "
                        "decompressed (Limits.max_unpacked_bytes): a decompression bomb, or an "
                        "initrd larger than any crash kernel can hold")
        if time.monotonic() > self.deadline:
            raise WalkStop("initrd-timeout", f"gave up after {self.limits.max_seconds:g} s "
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
                    raise WalkStop("initrd-truncated", f"{compression} segment at offset {offset} "
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
            raise WalkStop("initrd-corrupt", f"zstd segment at offset {offset} is corrupt: {e}") from None
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
            raise WalkStop(*_LZ4_MISSING) from None
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
                raise WalkStop("initrd-corrupt", f"lz4 segment at offset {offset}: block at offset "
                            f"{pos} claims {size} bytes, more than an 8 MiB block can take")
            block = self.fp.read(size)
            if len(block) < size:
                raise WalkStop("initrd-truncated", f"lz4 segment at offset {offset} is truncated "
                            "(end of file inside a block)")
            try:
                out = lz4.block.decompress(block, uncompressed_size=_LZ4_CHUNK)
            except lz4.block.LZ4BlockError as e:
                raise WalkStop("initrd-corrupt", f"lz4 segment at offset {offset} is corrupt: block at "
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
                raise WalkStop("initrd-truncated", f"zstd segment at offset {offset} is truncated "
                            "(end of file inside the frame)")
            return got

        fhd = read(offset + 4, 1)[0]
        if fhd & 0x08:
            raise WalkStop("initrd-corrupt", f"zstd segment at offset {offset}: reserved frame header bit set")
        fcs_flag, single_segment, checksum = fhd >> 6, (fhd >> 5) & 1, (fhd >> 2) & 1
        fcs_size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
        pos = offset + 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 3] + fcs_size
        blocks = exact = 0
        while True:
            header = int.from_bytes(read(pos, 3), "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            if kind == 3 or size > _ZSTD_BLOCK_MAX:
                raise WalkStop("initrd-corrupt", f"zstd segment at offset {offset}: invalid block "
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
            raise WalkStop("initrd-timeout", f"gave up after {self.limits.max_seconds:g} s "
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
            raise WalkStop("initrd-corrupt", f"{self.compression} segment at offset {offset} is "
                        f"corrupt: {e}") from None

    def flush(self, offset: int) -> bytes:
        if self.z is None:
            return b""
        try:
            return self.z.flush()
        except zlib.error as e:
            raise WalkStop("initrd-corrupt", f"gzip segment at offset {offset} is corrupt: {e}") from None


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
                raise WalkStop("initrd-empty", "the file is empty")
        except WalkStop as stop:
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
            problem = f"{name}:{image_name}: larger than {MAX_IMAGE >> 20} MiB, not read"
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

