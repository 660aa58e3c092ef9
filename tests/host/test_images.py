"""Tests of crashplan.host.formats.images on real kernel headers (tests/data/images/, see its PROVENANCE.md).

Oracles: the Debian 7.3.4 amd64 kernel's own numbers cross-checked three ways (bzImage
``init_size`` >= vmlinux ``PT_LOAD`` span >= the "Kernel code..bss" span that the same kernel
printed in /proc/iomem under QEMU, tests/data/hosts/qemu-x86_64-4g-crashkernel-256m), and
``readelf -l`` for a real ELF on this machine.
"""

from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.images import KernelImage, read_kernel_image
from crashplan.host.formats.iomem import kernel_image, parse_iomem

DATA = Path(__file__).parents[1] / "data"
IMAGES = DATA / "images"
BZIMAGE_HEAD = IMAGES / "debian-7.3.4-amd64.bzImage.head"
VMLINUX_HEAD = IMAGES / "debian-7.3.4-amd64.vmlinux.head"
ARM64_HEAD = IMAGES / "debian-7.2.13-arm64.Image.head"
FULL_VMLINUZ = Path.home() / ".cache/crashplan-kernel/kernels/7.3.4+deb13-amd64/usr/lib/modules/7.3.4+deb13-amd64/vmlinuz"
SAME_KERNEL_IOMEM = DATA / "hosts/qemu-x86_64-4g-crashkernel-256m/proc/iomem"

DEBIAN_VERSION = ("7.3.4+deb13-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC "
                  "Debian 7.3.4-1~bpo13+1 (2026-11-15)")


def read(path: Path) -> KernelImage:
    with open(path, "rb") as fp:
        return read_kernel_image(fp, name=str(path))


def tool(argv: list[str], data: bytes) -> bytes:
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} not installed")
    return subprocess.run(argv, input=data, capture_output=True, check=True).stdout


def test_debian_bzimage_header() -> None:
    """The setup header of the real Debian 7.3.4 bzImage reads as boot.rst describes it."""
    image = read(BZIMAGE_HEAD)
    assert image == KernelImage(
        format="bzImage",
        file_size=32768,
        memory_size=0x3E4E000,  # init_size, 62.3 MiB
        arch="x86_64",
        alignment=0x200000,
        relocatable=True,
        load_address=0x1000000,
        above_4g=True,
        protocol="2.15",
        version=DEBIAN_VERSION,
        compression="zstd",
        notes=("setup_sects=39, protected-mode code 14483968 bytes", "xloadflags=0x7f",
               "min_alignment=0x200000", "payload 14249734 bytes at 0x52cc, zstd"),
    )


def test_full_debian_vmlinuz_matches_its_excerpt() -> None:
    """The whole 14 MiB vmlinuz (when the QEMU harness cached it) gives the excerpt's facts."""
    if not FULL_VMLINUZ.is_file():
        pytest.skip("the harness has not downloaded the Debian kernel (tests/kernel/harness.py)")
    image = read(FULL_VMLINUZ)
    assert image.file_size == FULL_VMLINUZ.stat().st_size == 14505920
    assert image == KernelImage(**{**{f: getattr(read(BZIMAGE_HEAD), f) for f in KernelImage.__slots__},
                                   "file_size": image.file_size})


def test_debian_vmlinux_elf_load_span() -> None:
    """The vmlinux inside that bzImage spans its PT_LOAD segments by physical address."""
    image = read(VMLINUX_HEAD)
    assert (image.format, image.arch, image.memory_size) == ("elf", "x86_64", 0x3A00000)
    assert (image.load_address, image.alignment) == (0x1000000, 0x200000)
    assert image.notes == ("2 PT_LOAD segments, memsz sum 59099552 bytes, span 60817408 bytes",)


def test_three_views_of_one_kernel_agree() -> None:
    """init_size >= vmlinux span >= the iomem Kernel code..bss span of the same kernel booted."""
    bz, elf = read(BZIMAGE_HEAD), read(VMLINUX_HEAD)
    ranges = kernel_image(parse_iomem(SAME_KERNEL_IOMEM.read_text()))
    running = max(r.end for r in ranges) - min(r.start for r in ranges)  # Kernel code..bss span
    assert running == 0x4400000 - 0x1000000
    assert bz.memory_size >= elf.memory_size >= running
    # booted with nokaslr: "Kernel code" starts at pref_address, where vmlinux is linked
    assert ranges[0].start == bz.load_address == elf.load_address


def test_debian_arm64_image_header() -> None:
    """The real Debian arm64 Image header (booting.rst) gives image_size and a 4K page size."""
    image = read(ARM64_HEAD)
    assert image == KernelImage(
        format="arm64-Image",
        file_size=4096,
        memory_size=49283072,
        arch="arm64",
        alignment=0x200000,
        relocatable=True,
        load_address=0,
        page_size=4096,
        notes=("text_offset=0x0", "flags=0xa"),
    )


@pytest.mark.parametrize(("argv", "compression"), [
    (["gzip", "-9", "-n", "-c"], "gzip"),
    (["xz", "-c"], "xz"),
    (["xz", "--format=lzma", "-c"], "lzma"),
    (["bzip2", "-c"], "bzip2"),
    (["zstd", "-q", "-c"], "zstd"),
])
@pytest.mark.parametrize("head", [ARM64_HEAD, VMLINUX_HEAD], ids=["arm64-Image", "vmlinux"])
def test_compressed_whole_file(argv: list[str], compression: str, head: Path) -> None:
    """A raw compressed Image or vmlinux is read through its decompressed head."""
    data = tool(argv, head.read_bytes())
    image = read_kernel_image(data, name="vmlinuz")
    plain = read(head)
    assert (image.format, image.memory_size, image.arch) == (plain.format, plain.memory_size, plain.arch)
    assert (image.file_size, image.compression) == (len(data), compression)
    assert image.notes[0] == f"whole file is {compression}-compressed"


def zboot(payload: bytes, comp_type: bytes, offset: int = 0x1000) -> bytes:
    """An EFI zboot image laid out as drivers/firmware/efi/libstub/zboot-header.S builds it."""
    header = bytearray(offset)
    header[0:2] = b"MZ"
    header[4:8] = b"zimg"
    header[8:12] = offset.to_bytes(4, "little")
    header[12:16] = len(payload).to_bytes(4, "little")
    header[0x18 : 0x18 + len(comp_type)] = comp_type
    header[0x38:0x3C] = b"PE\0\0"  # LINUX_PE_MAGIC
    return bytes(header) + payload


def test_zboot_image() -> None:
    """An EFI zboot image is read through its payload's inner arm64 Image header."""
    payload = gzip.compress(ARM64_HEAD.read_bytes(), mtime=0)
    data = zboot(payload, b"gzip")
    image = read_kernel_image(data, name="vmlinuz.efi")
    assert (image.format, image.arch, image.memory_size, image.page_size) == ("zboot", "arm64", 49283072, 4096)
    assert (image.file_size, image.compression) == (len(data), "gzip")
    assert image.notes[0] == f"payload: arm64-Image, {len(payload)} bytes at 0x1000, compression 'gzip'"


def test_zboot_zstd_payload() -> None:
    """zboot's "zstd22" payloads are recognised by their magic."""
    payload = tool(["zstd", "-q", "-c"], ARM64_HEAD.read_bytes())
    image = read_kernel_image(zboot(payload, b"zstd22"), name="vmlinuz.efi")
    assert (image.format, image.compression, image.memory_size) == ("zboot", "zstd", 49283072)


def test_real_elf_matches_readelf() -> None:
    """A real ELF executable's PT_LOAD span agrees with `readelf -l`."""
    path = Path(shutil.which("true") or sys.executable)
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) not installed")
    out = subprocess.run(["readelf", "-lW", str(path)], capture_output=True, text=True, check=True).stdout
    loads = [[int(x, 16) for x in m.groups()] for m in re.finditer(
        r"^\s*LOAD\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s.*?(0x[0-9a-f]+)$",
        out, re.M)]
    image = read(path)
    assert image.format == "elf"
    assert image.memory_size == max(p + m for p, m, _ in loads) - min(p for p, _, _ in loads)
    assert image.alignment == max(a for _, _, a in loads)
    assert image.file_size == path.stat().st_size


def test_error_old_boot_protocol() -> None:
    """A bzImage older than boot protocol 2.10 has no init_size, which is an error, not 0."""
    data = bytearray(BZIMAGE_HEAD.read_bytes())
    data[0x206:0x208] = (0x209).to_bytes(2, "little")
    with pytest.raises(SourceError, match=r"protocol 2\.09 has no init_size"):
        read_kernel_image(bytes(data), name="bzImage")


def test_error_unreadable_file() -> None:
    """An I/O error while reading raises SourceError naming the file."""

    class Broken(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise OSError(5, "Input/output error")

    with pytest.raises(SourceError) as info:
        read_kernel_image(Broken(b"MZ"), name="/boot/vmlinuz")
    assert str(info.value) == "/boot/vmlinuz: cannot read kernel image: [Errno 5] Input/output error"
    assert info.value.code == "kernel-image-unreadable"


def check(data: bytes) -> None:
    try:
        image = read_kernel_image(io.BytesIO(data), name="x")
    except SourceError:
        return
    assert image.memory_size > 0
    assert image.file_size == len(data)


@pytest.mark.property
@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=4096))
def test_property_arbitrary_bytes(data: bytes) -> None:
    """Any bytes give a KernelImage with a positive size or a SourceError, nothing else."""
    check(data)


@pytest.mark.property
@settings(max_examples=400, deadline=None)
@given(head=st.sampled_from([BZIMAGE_HEAD, VMLINUX_HEAD, ARM64_HEAD]), cut=st.integers(0, 32768),
       flips=st.lists(st.tuples(st.integers(0, 32767), st.integers(1, 255)), max_size=4))
def test_property_damaged_real_heads(head: Path, cut: int, flips: list[tuple[int, int]]) -> None:
    """Truncated and bit-flipped real headers give facts or SourceError, never another exception."""
    data = bytearray(head.read_bytes()[:cut])
    for at, bits in flips:
        if at < len(data):
            data[at] ^= bits
    check(bytes(data))
