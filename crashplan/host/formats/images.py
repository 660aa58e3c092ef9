"""Kernel image facts: how much memory a kernel file needs once loaded, read from its header.

The crash kernel's reservation must hold the loaded kernel, so crashplan reads the size the kernel
declares about itself rather than the file size (a compressed bzImage is ~4x smaller than what it
decompresses into).  Authoritative source, one per format:

* x86 ``bzImage``: the real-mode setup header, ``Documentation/arch/x86/boot.rst`` ("The Real-Mode
  Kernel Header"; ``arch/x86/boot/header.S``).  ``init_size`` (protocol 2.10+) is "the amount of
  linear contiguous memory starting at the kernel runtime start address that the kernel needs
  before it is capable of examining its memory map" -- the memory size used here.
* arm64 ``Image``: the 64-byte header of ``Documentation/arch/arm64/booting.rst`` (magic
  ``ARM\\x64`` at 0x38, ``text_offset`` 0x08, ``image_size`` 0x10, ``flags`` 0x18).
* riscv ``Image``: ``Documentation/arch/riscv/boot-image-header.rst`` (same layout, magic2
  ``RSC\\x05`` at 0x38).
* EFI zboot (``MZ`` + ``zimg``): ``drivers/firmware/efi/libstub/zboot-header.S`` (payload offset
  at 8, payload size at 12, NUL-terminated compression name at 0x18); the payload is decompressed
  just far enough to read the inner ``Image`` header.
* ELF ``vmlinux``: the ELF program headers (``include/uapi/linux/elf.h``); the memory size is the
  span of the ``PT_LOAD`` segments by *physical* address (``p_paddr``), because x86_64 links the
  per-CPU segment at virtual address 0.
* A raw gzip/zstd/xz/lzma/bzip2-compressed ``Image`` or ``vmlinux`` (Debian's arm64 ``vmlinuz``
  used to be a gzipped ``Image``): the first 64 KiB are decompressed to read the inner header.

Every size is ``int`` bytes.  A size that cannot be read is never reported as 0: the readers
raise :class:`~crashplan.errors.SourceError`, and the caller falls back to the running kernel's
"Kernel code/rodata/data/bss" ranges of ``/proc/iomem`` (:func:`crashplan.host.formats.iomem.kernel_image`).
Like the rest of crashplan, this module opens no files: callers pass an open binary file (or
bytes) and a display name.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import zlib
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from crashplan.errors import SourceError

__all__ = [
    "KernelImage",
    "detect_compression",
    "read_kernel_image",
]

_HEAD = 64 * 1024  # bytes read from the start of the file (setup header + kernel_version string)
_INNER = 64 * 1024  # decompressed bytes wanted from a compressed payload (an inner header)
_INNER_INPUT = 1024 * 1024  # compressed bytes read at most to get them (a zstd block <= 128 KiB)
# xz -9 needs 65 MiB to decompress; a garbage lzma-alone header may ask for a 4 GiB dictionary.
_LZMA_MEMLIMIT = 256 * 1024 * 1024
_FALLBACK_HINT = 'fall back to the running kernel\'s "Kernel code/rodata/data/bss" in /proc/iomem'

# Magic numbers of lib/decompress.c: compressed_formats[] (the kernel's own detection table), plus
# the lz4 frame format the kernel does not accept but lz4(1) writes by default.
_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"\x1f\x9e", "gzip"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x89LZO", "lzo"),
    (b"\x02\x21\x4c\x18", "lz4"),
    (b"\x04\x22\x4d\x18", "lz4-frame"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)

# ELF e_machine values (include/uapi/linux/elf-em.h) -> crashplan arch names (uname -m style).
_ELF_MACHINES = {
    3: "i386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "x86_64",
    183: "arm64",
    243: "riscv64",
    258: "loongarch64",
}

# xloadflags bits, Documentation/arch/x86/boot.rst (protocol 2.12+).
_XLF_KERNEL_64 = 1 << 0
_XLF_CAN_BE_LOADED_ABOVE_4G = 1 << 1

# arm64 Image flags bits 1-2: "Kernel page size", Documentation/arch/arm64/booting.rst.
_ARM64_PAGE_SIZES = {0: None, 1: 4096, 2: 16384, 3: 65536}


@dataclass(frozen=True, slots=True)
class KernelImage:
    """What a kernel file declares about itself, in bytes.

    ``format`` is the container recognised: ``"bzImage"``, ``"arm64-Image"``, ``"riscv-Image"``,
    ``"elf"`` or ``"zboot"``.  ``memory_size`` is the memory the loaded kernel needs (bzImage
    ``init_size``, arm64/riscv ``image_size``, ELF ``PT_LOAD`` span), always > 0.
    ``compression`` names how the kernel proper is compressed inside the file (bzImage payload,
    zboot payload, or a compressor wrapping the whole file), ``None`` if it is not.  Fields the
    format does not carry are ``None``.
    """

    format: str
    file_size: int
    memory_size: int
    arch: str | None = None
    alignment: int | None = None
    relocatable: bool | None = None
    load_address: int | None = None
    above_4g: bool | None = None
    page_size: int | None = None
    protocol: str | None = None
    version: str | None = None
    compression: str | None = None
    notes: tuple[str, ...] = ()
    name: str = field(default="", compare=False, repr=False)
    #: An ELF with a ``PT_INTERP`` program interpreter: a user-space program, never a kernel.
    interpreter: bool = False


def detect_compression(head: bytes) -> str | None:
    """The compression whose magic starts ``head`` (lib/decompress.c), or ``None``.

    >>> detect_compression(bytes.fromhex("28b52ffd0458"))
    'zstd'
    >>> detect_compression(b"\\x02\\x21\\x4c\\x18")
    'lz4'
    >>> detect_compression(b"070701") is None
    True
    """
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    return None


def read_kernel_image(fp: BinaryIO | bytes, *, name: str) -> KernelImage:
    """Read the facts of a kernel file (bzImage, arm64/riscv Image, ELF, zboot, or compressed).

    :param fp: an open, seekable binary file (or the file's bytes); only its head is read.
    :param name: the path shown in errors and kept in ``KernelImage.name``.
    :raises SourceError: the format is not recognised or it does not declare its memory size.
    """
    if isinstance(fp, bytes | bytearray | memoryview):
        fp = io.BytesIO(bytes(fp))
    try:
        file_size = fp.seek(0, io.SEEK_END)
        fp.seek(0)
        return _read(fp.read(_HEAD), file_size, fp, name)
    except OSError as e:
        raise SourceError(f"cannot read kernel image: {e}", path=name, code="kernel-image-unreadable") from e


def _read(head: bytes, file_size: int, fp: BinaryIO, name: str) -> KernelImage:
    if len(head) >= 0x206 and head[0x202:0x206] == b"HdrS":
        return _bzimage(head, file_size, fp, name)
    if head[:2] == b"MZ" and head[4:8] == b"zimg":
        return _zboot(head, file_size, fp, name)
    if len(head) >= 0x40 and head[0x38:0x3C] == b"ARM\x64":
        return _arm64(head, file_size, name)
    if len(head) >= 0x40 and head[0x38:0x3C] == b"RSC\x05":
        return _riscv(head, file_size, name)
    if head[:4] == b"\x7fELF":
        return _elf(head, file_size, fp, name)
    compression = detect_compression(head)
    if compression is not None:
        inner = _decompress_head(head + fp.read(_INNER_INPUT - len(head)), compression, name)
        image = _read_inner(inner, name, f"{compression}-compressed file")
        return replace(image, file_size=file_size, compression=compression,
                        notes=(f"whole file is {compression}-compressed", *image.notes))
    raise SourceError(
        f"kernel image format not recognised: no bzImage 'HdrS', arm64/riscv Image magic, ELF, "
        f"EFI zboot or compression magic at the start (first bytes {head[:8].hex(' ') or 'none: empty file'})",
        path=name,
        hint=_FALLBACK_HINT,
        code="kernel-image-unknown",
    )


def _read_inner(inner: bytes, name: str, what: str) -> KernelImage:
    """Read the header of a decompressed kernel (an Image or a vmlinux) found inside ``what``."""
    stream = io.BytesIO(inner)
    if len(inner) >= 0x40 and inner[0x38:0x3C] == b"ARM\x64":
        return _arm64(inner, len(inner), name)
    if len(inner) >= 0x40 and inner[0x38:0x3C] == b"RSC\x05":
        return _riscv(inner, len(inner), name)
    if inner[:4] == b"\x7fELF":
        return _elf(inner, len(inner), stream, name)
    raise SourceError(
        f"kernel image format not recognised: the {what} does not decompress to an arm64/riscv "
        f"Image or an ELF vmlinux (first bytes {inner[:8].hex(' ') or 'none'})",
        path=name,
        hint=_FALLBACK_HINT,
        code="kernel-image-unknown",
    )


def _u16(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 2], "little")


def _u32(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 4], "little")


def _u64(b: bytes, off: int) -> int:
    return int.from_bytes(b[off : off + 8], "little")


def _bzimage(head: bytes, file_size: int, fp: BinaryIO, name: str) -> KernelImage:
    """x86 boot protocol header, Documentation/arch/x86/boot.rst."""
    if len(head) < 0x268:
        raise SourceError(f"truncated bzImage setup header ({len(head)} bytes, 0x268 needed)",
                          path=name, hint=_FALLBACK_HINT, code="kernel-image-corrupt")
    version = _u16(head, 0x206)
    protocol = f"{version >> 8}.{version & 0xFF:02d}"
    notes: list[str] = []
    if version < 0x20A:
        raise SourceError(
            f"bzImage boot protocol {protocol} has no init_size (needs 2.10, Linux 2.6.31+)",
            path=name,
            hint=_FALLBACK_HINT,
            code="kernel-size-unknown",
        )
    init_size = _u32(head, 0x260)
    if init_size == 0:
        raise SourceError("bzImage init_size is 0", path=name, hint=_FALLBACK_HINT,
                          code="kernel-size-unknown")
    setup_sects = head[0x1F1] or 4  # boot.rst: "If this field is 0, the real value is 4."
    syssize = _u32(head, 0x1F4) * 16  # protected-mode code size, in 16-byte paragraphs
    notes.append(f"setup_sects={setup_sects}, protected-mode code {syssize} bytes")
    xloadflags = _u16(head, 0x236) if version >= 0x20C else None
    arch: str | None = None
    above_4g: bool | None = None
    if xloadflags is not None:
        arch = "x86_64" if xloadflags & _XLF_KERNEL_64 else "i386"
        above_4g = bool(xloadflags & _XLF_CAN_BE_LOADED_ABOVE_4G)
        notes.append(f"xloadflags={xloadflags:#x}")
    min_alignment = head[0x235]
    if min_alignment:
        notes.append(f"min_alignment={1 << min_alignment:#x}")
    compression = None
    # payload_offset is relative to the protected-mode code, which starts after the setup sectors.
    payload_offset = (setup_sects + 1) * 512 + _u32(head, 0x248)
    payload_length = _u32(head, 0x24C)
    if version >= 0x208 and payload_length:
        fp.seek(payload_offset)
        compression = detect_compression(fp.read(8))
        notes.append(f"payload {payload_length} bytes at {payload_offset:#x}"
                     + (f", {compression}" if compression else ", unknown compression"))
    return KernelImage(
        format="bzImage",
        file_size=file_size,
        memory_size=init_size,
        arch=arch,
        alignment=_u32(head, 0x230),
        relocatable=bool(head[0x234]),
        load_address=_u64(head, 0x258),
        above_4g=above_4g,
        protocol=protocol,
        version=_bzimage_version(head, fp),
        compression=compression,
        notes=tuple(notes),
        name=name,
    )


def _bzimage_version(head: bytes, fp: BinaryIO) -> str | None:
    """The ``kernel_version`` string: boot.rst says it is at the field's value plus 0x200."""
    pointer = _u16(head, 0x20E)
    if not pointer:
        return None
    offset = pointer + 0x200
    raw = head[offset : offset + 256] if offset + 256 <= len(head) else None
    if raw is None:
        fp.seek(offset)
        raw = fp.read(256)
    text = raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()
    return text or None


def _arm64(head: bytes, file_size: int, name: str) -> KernelImage:
    """arm64 Image header, Documentation/arch/arm64/booting.rst section 4."""
    text_offset, image_size, flags = _u64(head, 0x08), _u64(head, 0x10), _u64(head, 0x18)
    if image_size == 0:
        # booting.rst: "Prior to v3.17, the endianness of text_offset was not specified.  In
        # these cases image_size is zero and text_offset is 0x80000 in the endianness of the kernel."
        raise SourceError("arm64 Image header has image_size 0 (a kernel older than 3.17)",
                          path=name, hint=_FALLBACK_HINT, code="kernel-size-unknown")
    notes = [f"text_offset={text_offset:#x}", f"flags={flags:#x}"]
    if flags & 1:
        notes.append("big-endian kernel")
    return KernelImage(
        format="arm64-Image",
        file_size=file_size,
        memory_size=image_size,
        arch="arm64",
        # booting.rst: "The Image must be placed text_offset bytes from a 2MB aligned base address"
        alignment=2 * 1024 * 1024,
        # Flags bit 3, "Kernel physical placement": 1 = "2MB aligned base may be anywhere in
        # physical memory", 0 = as close as possible to the base of DRAM.
        relocatable=bool(flags & 8),
        load_address=text_offset,
        page_size=_ARM64_PAGE_SIZES[(flags >> 1) & 3],
        version=_banner(head),
        notes=tuple(notes),
        name=name,
    )


def _riscv(head: bytes, file_size: int, name: str) -> KernelImage:
    """riscv Image header, Documentation/arch/riscv/boot-image-header.rst."""
    text_offset, image_size = _u64(head, 0x08), _u64(head, 0x10)
    if image_size == 0:
        raise SourceError("riscv Image header has image_size 0", path=name, hint=_FALLBACK_HINT,
                          code="kernel-size-unknown")
    header_version = _u32(head, 0x20)
    return KernelImage(
        format="riscv-Image",
        file_size=file_size,
        memory_size=image_size,
        arch="riscv64",
        load_address=text_offset,
        protocol=f"{header_version >> 16}.{header_version & 0xFFFF}",
        version=_banner(head),
        notes=(f"text_offset={text_offset:#x}",),
        name=name,
    )


def _banner(head: bytes) -> str | None:
    """The ``linux_banner`` ("Linux version ...") if it happens to lie in the bytes read."""
    at = head.find(b"Linux version ")
    if at < 0:
        return None
    text = head[at + 14 : at + 270].split(b"\0", 1)[0].split(b"\n", 1)[0]
    return text.decode("ascii", "replace").strip() or None


def _elf(head: bytes, file_size: int, fp: BinaryIO, name: str) -> KernelImage:
    """ELF ``vmlinux``: the span of the PT_LOAD segments, include/uapi/linux/elf.h."""
    if len(head) < 0x34 or head[4] not in (1, 2) or head[5] not in (1, 2):
        raise SourceError("truncated or invalid ELF header", path=name, hint=_FALLBACK_HINT,
                          code="kernel-image-corrupt")
    is64, order = head[4] == 2, "<" if head[5] == 1 else ">"
    if is64:
        if len(head) < 0x40:
            raise SourceError("truncated ELF header", path=name, hint=_FALLBACK_HINT,
                              code="kernel-image-corrupt")
        e_type, e_machine = struct.unpack_from(order + "HH", head, 0x10)
        e_phoff, = struct.unpack_from(order + "Q", head, 0x20)
        e_phentsize, e_phnum = struct.unpack_from(order + "HH", head, 0x36)
        ph_format, need = order + "IIQQQQQQ", 56
    else:
        e_type, e_machine = struct.unpack_from(order + "HH", head, 0x10)
        e_phoff, = struct.unpack_from(order + "I", head, 0x1C)
        e_phentsize, e_phnum = struct.unpack_from(order + "HH", head, 0x2A)
        ph_format, need = order + "IIIIIIII", 32
    if e_phnum == 0 or e_phentsize < need:
        raise SourceError("ELF file has no program headers", path=name, hint=_FALLBACK_HINT,
                          code="kernel-size-unknown")
    table_size = e_phentsize * e_phnum
    if e_phoff + table_size > file_size:
        raise SourceError("ELF program header table is truncated", path=name, hint=_FALLBACK_HINT,
                          code="kernel-image-corrupt")
    if e_phoff + table_size <= len(head):
        table = head[e_phoff : e_phoff + table_size]
    else:
        fp.seek(e_phoff)
        table = fp.read(table_size)
    if len(table) < table_size:
        raise SourceError("ELF program header table is truncated", path=name, hint=_FALLBACK_HINT,
                          code="kernel-image-corrupt")
    loads: list[tuple[int, int, int]] = []  # (p_paddr, p_memsz, p_align)
    interpreter = False
    for i in range(e_phnum):
        fields = struct.unpack_from(ph_format, table, i * e_phentsize)
        if is64:
            p_type, _flags, _off, _vaddr, p_paddr, _filesz, p_memsz, p_align = fields
        else:
            p_type, _off, _vaddr, p_paddr, _filesz, p_memsz, _flags, p_align = fields
        interpreter = interpreter or p_type == 3  # PT_INTERP
        if p_type == 1 and p_memsz:  # PT_LOAD
            loads.append((p_paddr, p_memsz, p_align))
    if not loads:
        raise SourceError("ELF file has no PT_LOAD segments", path=name, hint=_FALLBACK_HINT,
                          code="kernel-size-unknown")
    start = min(p for p, _, _ in loads)
    span = max(p + m for p, m, _ in loads) - start
    total = sum(m for _, m, _ in loads)
    return KernelImage(
        format="elf",
        file_size=file_size,
        memory_size=span,
        arch=_ELF_MACHINES.get(e_machine, f"elf-machine-{e_machine}"),
        alignment=max(a for _, _, a in loads) or None,
        relocatable=True if e_type == 3 else None,  # ET_DYN
        load_address=start,
        notes=(f"{len(loads)} PT_LOAD segments, memsz sum {total} bytes, span {span} bytes",),
        name=name,
        interpreter=interpreter,
    )


def _zboot(head: bytes, file_size: int, fp: BinaryIO, name: str) -> KernelImage:
    """EFI zboot image, drivers/firmware/efi/libstub/zboot-header.S."""
    payload_offset, payload_size = _u32(head, 8), _u32(head, 12)
    comp_type = head[0x18:0x38].split(b"\0", 1)[0].decode("ascii", "replace")
    if payload_offset >= file_size or payload_size == 0:
        raise SourceError(f"EFI zboot payload offset {payload_offset:#x} / size {payload_size} "
                          f"outside the {file_size}-byte file", path=name, hint=_FALLBACK_HINT,
                          code="kernel-image-corrupt")
    fp.seek(payload_offset)
    payload = fp.read(min(payload_size, _INNER_INPUT))
    compression = detect_compression(payload)
    if compression is None:
        raise SourceError(f"EFI zboot payload ({comp_type!r}) has no known compression magic",
                          path=name, hint=_FALLBACK_HINT, code="kernel-image-unknown")
    inner = _read_inner(_decompress_head(payload, compression, name), name, "EFI zboot payload")
    return replace(
        inner,
        format="zboot",
        file_size=file_size,
        compression=compression,
        notes=(f"payload: {inner.format}, {payload_size} bytes at {payload_offset:#x}, "
               f"compression {comp_type!r}", *inner.notes),
    )


def _zstd_head(data: bytes) -> bytes:
    """Up to ``_INNER`` bytes of a zstd frame; bounded output whatever the ratio."""
    import zstandard  # a C extension: imported only when a zstd image is met

    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data))
    out = bytearray()
    try:
        while len(out) < _INNER:
            piece = reader.read(_INNER - len(out))
            if not piece:
                break
            out += piece
    except zstandard.ZstdError as e:
        if not out:
            raise ValueError(str(e)) from e
    return bytes(out)


def _decompress_head(data: bytes, compression: str, name: str) -> bytes:
    """Up to ``_INNER`` bytes decompressed from the start of ``data`` (possibly truncated)."""
    try:
        if compression == "gzip":
            return zlib.decompressobj(wbits=31).decompress(data, _INNER)
        if compression in ("xz", "lzma"):
            fmt = lzma.FORMAT_XZ if compression == "xz" else lzma.FORMAT_ALONE
            return lzma.LZMADecompressor(format=fmt, memlimit=_LZMA_MEMLIMIT).decompress(data, _INNER)
        if compression == "bzip2":
            return bz2.BZ2Decompressor().decompress(data, _INNER)
        if compression == "zstd":
            return _zstd_head(data)
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as e:
        raise SourceError(f"cannot decompress the start of the {compression} kernel payload: {e}",
                          path=name, hint=_FALLBACK_HINT, code="kernel-image-corrupt") from e
    raise SourceError(f"kernel payload is {compression}-compressed, which crashplan cannot "
                      f"decompress", path=name, hint=_FALLBACK_HINT,
                      code="kernel-image-unsupported-compression")
