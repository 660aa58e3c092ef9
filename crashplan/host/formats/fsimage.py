"""squashfs and erofs images, as a dracut kdump initrd carries its root file system.

Fedora/RHEL's kdump initrd (dracut ``99squash``; ``95squash-squashfs`` / ``95squash-erofs``
in dracut-ng) is a small cpio whose ``/init`` loop-mounts ``/squash-root.img`` (or
``/squashfs-root.img``, ``/erofs-root.img``; ``/squash/root.img`` before RHEL 8.5) read-only
under an overlay.  The capture kernel then holds the image file in the rootfs tmpfs (the cpio
walk counts it), the image's blocks again in the loop device's page cache as they are read,
and the files it unpacks in the page cache of the mounted file system.  This module reads what
that costs from the image itself: its superblock, and its inode table for the files' sizes.

Authoritative sources:

* squashfs: ``fs/squashfs/squashfs_fs.h`` (``struct squashfs_super_block``: magic ``hsqs``,
  ``inodes``, ``block_size``, ``compression``, ``bytes_used``, ``inode_table_start``,
  ``directory_table_start``; the inode layouts ``squashfs_{dir,reg,symlink,dev,ipc}_inode``
  and their ``l``-prefixed extended forms), ``fs/squashfs/block.c`` (metadata blocks: a
  little-endian u16 header, bit 15 set when stored uncompressed, at most 8 KiB of data).
* erofs: ``fs/erofs/erofs_fs.h`` (``struct erofs_super_block`` at byte 1024: magic
  ``0xE0F5E1E2``, ``blkszbits``, ``root_nid``, ``inos``, ``blocks``, ``meta_blkaddr``;
  ``erofs_inode_compact`` (32 bytes) and ``erofs_inode_extended`` (64 bytes) at
  ``meta_blkaddr * block_size + nid * 32``; ``struct erofs_dirent`` of 12 bytes, the first
  ``nameoff`` giving the number of entries in a directory block).

Bad input raises :class:`~crashplan.errors.SourceError` naming the image; the caller (the initrd
walk) turns it into a finding.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from crashplan.errors import SourceError

__all__ = ["FsImage", "parse_erofs", "parse_fs_image", "parse_squashfs"]

_SQUASHFS_MAGIC = b"hsqs"
_EROFS_MAGIC = 0xE0F5E1E2
_EROFS_SUPER_OFFSET = 1024
_METADATA_SIZE = 8192  # SQUASHFS_METADATA_SIZE
_SQUASHFS_COMPRESSORS = {1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"}
_S_IFMT, _S_IFREG, _S_IFDIR = 0o170000, 0o100000, 0o040000
_SUPER = struct.Struct("<4sIIIIHHHHHHQQQQQQQQ")


@dataclass(frozen=True, slots=True)
class FsImage:
    """What a squashfs or erofs image holds, in bytes.

    ``bytes_used`` is the image's own size (squashfs ``bytes_used``; erofs ``blocks`` times the
    block size); ``inodes`` the superblock's count; ``files`` and ``file_bytes`` the regular
    files (hard links once) and their sizes; ``file_pages_bytes`` the same with each file
    rounded up to ``page_size``, as the page cache holds them.
    """

    kind: str
    compression: str
    block_size: int
    bytes_used: int
    inodes: int
    files: int
    file_bytes: int
    file_pages_bytes: int
    page_size: int = 4096


def parse_fs_image(data: bytes, *, path: str, page_size: int = 4096) -> FsImage | None:
    """A squashfs or erofs image by its magic, None when ``data`` is neither."""
    if data[:4] == _SQUASHFS_MAGIC:
        return parse_squashfs(data, path=path, page_size=page_size)
    if len(data) >= _EROFS_SUPER_OFFSET + 4 and int.from_bytes(data[1024:1028], "little") == _EROFS_MAGIC:
        return parse_erofs(data, path=path, page_size=page_size)
    return None


def _pages(size: int, page_size: int) -> int:
    return -(-size // page_size) * page_size


def _bad(path: str, message: str) -> SourceError:
    return SourceError(message, path=path, code="bad-image")


def _squashfs_decompressor(compression: str, path: str) -> Callable[[bytes], bytes]:
    # A metadata block unpacks to at most 8 KiB: the output is bounded, so damage cannot inflate it.
    if compression == "gzip":
        return lambda b: zlib.decompressobj().decompress(b, _METADATA_SIZE)
    if compression == "xz":
        return lambda b: lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=64 << 20).decompress(b, _METADATA_SIZE)
    if compression == "zstd":
        import zstandard

        d = zstandard.ZstdDecompressor()
        return lambda b: d.decompress(b, max_output_size=_METADATA_SIZE)
    if compression == "lz4":
        try:
            import lz4.block  # the optional dependency crashplan[lz4]
        except ImportError:
            raise _bad(path, "squashfs with lz4 metadata: the optional lz4 package is not installed "
                       "(pip install 'crashplan[lz4]')") from None
        return lambda b: lz4.block.decompress(b, uncompressed_size=_METADATA_SIZE)
    raise _bad(path, f"squashfs compressed with {compression}: crashplan cannot read its inode table")


def parse_squashfs(data: bytes, *, path: str, page_size: int = 4096) -> FsImage:
    """The superblock and the regular files' sizes of a squashfs 4.0 image.

    :raises SourceError: not squashfs 4.0, truncated, or an inode table crashplan cannot read.
    """
    if len(data) < _SUPER.size or data[:4] != _SQUASHFS_MAGIC:
        raise _bad(path, "not a squashfs image (no 'hsqs' superblock)")
    (_, inodes, _mtime, block_size, _frags, comp_id, block_log, _flags, _ids, major, minor,
     _root, bytes_used, _id_table, _xattr, inode_table, dir_table, _frag_table, _export) = _SUPER.unpack_from(data)
    if (major, minor) != (4, 0):
        raise _bad(path, f"squashfs {major}.{minor}: only 4.0 is read (the kernel reads no other)")
    if block_size != 1 << block_log or not 4096 <= block_size <= 1 << 20:
        raise _bad(path, f"squashfs block size {block_size} does not match block_log {block_log}")
    compression = _SQUASHFS_COMPRESSORS.get(comp_id, f"unknown ({comp_id})")
    if not inode_table < dir_table <= bytes_used <= len(data):
        raise _bad(path, f"squashfs tables out of order or past the image's {len(data)} bytes "
                   f"(inode table {inode_table}, directory table {dir_table}, bytes_used {bytes_used})")
    decompress = _squashfs_decompressor(compression, path)
    table = bytearray()
    pos = inode_table
    while pos < dir_table:
        if pos + 2 > dir_table:
            raise _bad(path, f"squashfs metadata block header cut at {pos}")
        header = int.from_bytes(data[pos:pos + 2], "little")
        size = header & 0x7FFF
        block = data[pos + 2:pos + 2 + size]
        if size == 0 or len(block) < size:
            raise _bad(path, f"squashfs metadata block at {pos} is truncated")
        if header & 0x8000:
            table += block
        else:
            try:
                table += decompress(block)
            except Exception as e:  # each library has its own error type
                raise _bad(path, f"squashfs metadata block at {pos} does not decompress ({compression}): {e}") from None
        pos += 2 + size
    files, file_bytes, pages = _squashfs_inodes(bytes(table), inodes, block_size, page_size, path)
    return FsImage("squashfs", compression, block_size, bytes_used, inodes, files, file_bytes, pages, page_size)


def _squashfs_inodes(table: bytes, count: int, block_size: int, page_size: int, path: str) -> tuple[int, int, int]:
    """Walk ``count`` inodes of the decompressed inode table: regular files and their sizes."""
    files = file_bytes = pages = 0
    pos = 0
    u32 = struct.Struct("<I").unpack_from
    try:
        for _ in range(count):
            kind = int.from_bytes(table[pos:pos + 2], "little")
            body = pos + 16
            if kind == 1:  # squashfs_dir_inode
                pos = body + 16
            elif kind in (2, 9):  # squashfs_reg_inode, squashfs_lreg_inode
                if kind == 2:
                    frag, size = u32(table, body + 4)[0], u32(table, body + 12)[0]
                    head = 16
                else:
                    size = struct.unpack_from("<Q", table, body + 8)[0]
                    frag = u32(table, body + 28)[0]
                    head = 40
                blocks = size // block_size if frag != 0xFFFFFFFF else -(-size // block_size)
                files += 1
                file_bytes += size
                pages += _pages(size, page_size)
                pos = body + head + 4 * blocks
            elif kind in (3, 10):  # squashfs_symlink_inode (+ xattr in the extended form)
                pos = body + 8 + u32(table, body + 4)[0] + (4 if kind == 10 else 0)
            elif kind in (4, 5):
                pos = body + 8
            elif kind in (6, 7):
                pos = body + 4
            elif kind == 8:  # squashfs_ldir_inode and its directory index
                index_count = int.from_bytes(table[body + 16:body + 18], "little")
                pos = body + 24
                for _ in range(index_count):
                    pos += 12 + u32(table, pos + 8)[0] + 1
            elif kind in (11, 12):
                pos = body + 12
            elif kind in (13, 14):
                pos = body + 8
            else:
                raise _bad(path, f"squashfs inode of unknown type {kind} at {pos} of the inode table")
            if pos > len(table):
                raise struct.error("past the end")
            if kind in (2, 9) and size > 1 << 48:
                raise _bad(path, f"squashfs file of {size} bytes: not a real image")
    except (struct.error, OverflowError):
        raise _bad(path, f"squashfs inode table ends inside an inode at {pos}") from None
    return files, file_bytes, pages


def parse_erofs(data: bytes, *, path: str, page_size: int = 4096) -> FsImage:
    """The superblock and the regular files' sizes of an erofs image, walked from the root directory.

    :raises SourceError: no erofs superblock, truncated, or a directory crashplan cannot read
        (compressed directories).
    """
    sb = _EROFS_SUPER_OFFSET
    if len(data) < sb + 128 or int.from_bytes(data[sb:sb + 4], "little") != _EROFS_MAGIC:
        raise _bad(path, "not an erofs image (no superblock magic at byte 1024)")
    blkszbits = data[sb + 12]
    if not 9 <= blkszbits <= 16:
        raise _bad(path, f"erofs block size 2^{blkszbits} is not one the kernel mounts")
    block = 1 << blkszbits
    root_nid = int.from_bytes(data[sb + 14:sb + 16], "little")
    inos = int.from_bytes(data[sb + 16:sb + 24], "little")
    blocks = int.from_bytes(data[sb + 36:sb + 40], "little")
    meta = int.from_bytes(data[sb + 40:sb + 44], "little") * block
    compressed = bool(int.from_bytes(data[sb + 80:sb + 84], "little") & 0x3)  # LZ4_0PADDING | COMPR_CFGS
    files = file_bytes = pages = 0
    seen: set[int] = set()
    todo = [root_nid]
    # Every inode takes at least 32 bytes of the image: no walk visits more than that allows.
    most = min(inos, len(data) // 32) + 1
    dirents = 0
    compression = "none"
    try:
        while todo:
            nid = todo.pop()
            if nid in seen:
                continue
            seen.add(nid)
            if len(seen) > most:
                raise _bad(path, f"erofs directories reach more inodes than the superblock's {inos}")
            at = meta + nid * 32
            fmt, xattr_count, mode = struct.unpack_from("<HHH", data, at)
            extended = fmt & 1
            layout = (fmt >> 1) & 0x7
            size = struct.unpack_from("<Q" if extended else "<I", data, at + 8)[0]
            raw_blkaddr = struct.unpack_from("<I", data, at + 16)[0]
            if layout in (1, 3):
                compression = "compressed"
            kind = mode & _S_IFMT
            if kind == _S_IFREG:
                files += 1
                file_bytes += size
                pages += _pages(size, page_size)
            elif kind == _S_IFDIR:
                if layout not in (0, 2):
                    raise _bad(path, f"erofs directory nid {nid} has data layout {layout}: not read")
                if size > len(data):
                    raise _bad(path, f"erofs directory nid {nid} claims {size} bytes, more than the image")
                inline = at + (64 if extended else 32) + (12 + (xattr_count - 1) * 4 if xattr_count else 0)
                entries = [n for n in _erofs_dirents(data, size, raw_blkaddr, block, layout, inline, path) if n not in seen]
                dirents += len(entries)
                # A real tree names each inode once, plus "." and ".." per directory.
                if dirents > 3 * most + 64:
                    raise _bad(path, f"erofs directories name more entries than {inos} inodes can have")
                todo.extend(entries)
    except (struct.error, OverflowError):  # an offset past the image (or past any index)
        raise _bad(path, "erofs image ends inside an inode or a directory") from None
    if compressed and compression == "none":
        compression = "compressed"
    return FsImage("erofs", compression, block, blocks * block, inos, files, file_bytes, pages, page_size)


def _erofs_dirents(data: bytes, size: int, blkaddr: int, block: int, layout: int, inline: int, path: str) -> list[int]:
    """The nids a directory's blocks name ("." and ".." included; the caller skips what it saw)."""
    nids: list[int] = []
    full = size // block if layout == 2 else -(-size // block)
    chunks = [(blkaddr * block + i * block, block) for i in range(full)]
    if layout == 2 and size % block:
        chunks.append((inline, size % block))  # EROFS_INODE_FLAT_INLINE: the tail after the inode
    for start, length in chunks:
        chunk = data[start:start + length]
        if len(chunk) < length or length < 12:
            raise _bad(path, f"erofs directory block at {start} is truncated")
        count = int.from_bytes(chunk[8:10], "little") // 12
        if not 1 <= count <= length // 12:
            raise _bad(path, f"erofs directory block at {start} has a bad first name offset")
        nids.extend(struct.unpack_from("<Q", chunk, 12 * i)[0] for i in range(count))
    return nids
