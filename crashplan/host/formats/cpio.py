"""newc cpio archives, walked as the kernel's initramfs unpacker reads them: headers parsed, data skipped.

Authoritative source: ``usr/gen_init_cpio.c`` and
``Documentation/driver-api/early-userspace/buffer-format.rst`` for newc: a 110-byte ASCII header
(``070701``, or ``070702`` with a checksum), the NUL-terminated name, padding to 4 bytes, the file
data, padding to 4 bytes; ``init/initramfs.c`` for what the kernel makes of each entry in its
tmpfs (``mm/shmem.c``: whole pages per regular file, a page for a symlink longer than
``SHORT_SYMLINK_LEN``, an inode and a dentry per entry).  The walk over the segments of an initrd
is :mod:`crashplan.host.formats.initrd`.
"""

from __future__ import annotations

import re
import struct

__all__ = ["IMAGE_NAMES", "MAX_IMAGE", "TMPFS_INODE_BYTES", "CpioWalk", "WalkStop", "round_up"]

_MiB = 1024 * 1024
_NONZERO = re.compile(rb"[^\0]")
# The file types of a newc mode (include/uapi/linux/stat.h).
_S_IFMT, _S_IFREG, _S_IFDIR, _S_IFLNK = 0o170000, 0o100000, 0o040000, 0o120000


TMPFS_INODE_BYTES = 752 + 192  # shmem_inode_cache + dentry objsize, /proc/slabinfo, x86_64 6.18


_NEWC_HEADER = 110


_PATH_MAX = 4096


_HEADER_FIELDS = struct.Struct(">13I").unpack  # a newc header's fields once hex-decoded


_TRAILER = b"TRAILER!!!\0"


# The root file system images dracut's squash modules put in a kdump initrd, as cpio names:
# 99squash (squash-root.img; squash/root.img before RHEL 8.5), dracut-ng 95squash-squashfs
# and 95squash-erofs (squashfs-root.img, erofs-root.img).
IMAGE_NAMES = frozenset(n + b"\0" for n in (b"squash-root.img", b"squash/root.img", b"squashfs-root.img",
                                            b"erofs-root.img"))


_WATCHED_SIZES = frozenset(len(n) for n in (_TRAILER, *IMAGE_NAMES))


MAX_IMAGE = 256 * _MiB  # images larger than this are not held in memory to be read (a finding says so)


_SHORT_SYMLINK_LEN = 128  # mm/shmem.c


def round_up(n: int, page_size: int) -> int:
    """``n`` rounded up to a multiple of ``page_size`` (a power of two), like the kernel's ``round_up()``.

    >>> round_up(1, 4096), round_up(4096, 4096), round_up(0, 4096)
    (4096, 4096, 0)
    """
    return (n + page_size - 1) & ~(page_size - 1)


class WalkStop(Exception):
    """Ends the walk; carries the finding that says why."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class CpioWalk:
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
                # The data of a root file system image (IMAGE_NAMES): kept to be read.
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
                raise WalkStop("initrd-corrupt", f"{what} at offset {base + i} of the cpio stream")
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
                raise WalkStop("initrd-corrupt", "old odc cpio archive (the kernel needs newc, cpio -H newc)")
            raise WalkStop("initrd-corrupt", f"no cpio magic at offset {end - _NEWC_HEADER} of the "
                        f"cpio stream (found {magic!r})")
        # Thirteen 8-digit hex fields.  parse_header()'s simple_strtoul() would stop at the first
        # non-hex digit; a real archive has none, and fromhex() rejects them (and spaces, which
        # shorten the result) where int() would accept signs and underscores.
        try:
            (ino, mode, _uid, _gid, nlink, _mtime, filesize, major, minor, _rmajor, _rminor,
             namesize, _check) = _HEADER_FIELDS(bytes.fromhex(str(hdr[6:], "ascii")))
        except (ValueError, struct.error):
            raise WalkStop("initrd-corrupt", f"cpio header with non-hex fields at offset "
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
        if name in IMAGE_NAMES and mode & _S_IFMT == _S_IFREG and filesize > MAX_IMAGE:
            self.images.append((name[:-1].decode(), None))
        elif name in IMAGE_NAMES and mode & _S_IFMT == _S_IFREG and filesize > 0:
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
