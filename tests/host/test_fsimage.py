"""squashfs and erofs root images, alone and inside a dracut-style kdump initrd (tests/data/images)."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.bootfiles import BootFiles, analyse_boot_file
from crashplan.host.facts import gather_facts
from crashplan.host.formats.fsimage import parse_erofs, parse_fs_image, parse_squashfs
from crashplan.host.formats.initrd import TMPFS_INODE_BYTES, Limits, analyse_initrd, round_up
from crashplan.host.sources import DirSource
from crashplan.planning.footprint import estimate_footprint, footprint_inputs
from crashplan.profiles import load_profile

IMAGES = Path(__file__).parents[1] / "data" / "images"
QEMU = Path(__file__).parents[1] / "data" / "hosts" / "qemu-x86_64-4g-crashkernel-256m"
# The tree make-fsimages.sh builds: 13 inodes, 5 regular files of 89929 bytes (PROVENANCE.md).
INODES, FILES, FILE_BYTES = 13, 5, 89929
SQUASHFS_USED = {"gzip": 48594, "lz4": 78023, "xz": 26238, "zstd": 26255}


def _file_pages() -> int:
    # busybox 20000, etc/numbers 59893, mod.ko 9004, init 32, etc/empty 0.
    return sum(round_up(n, 4096) for n in (20000, 59893, 9004, 32, 0))


@pytest.mark.parametrize("comp", sorted(SQUASHFS_USED))
def test_squashfs_superblock_and_files(comp: str) -> None:
    """bytes_used and the inode count as unsquashfs -s reports them, files from the inode table."""
    path = IMAGES / f"root-{comp}.squashfs"
    img = parse_squashfs(path.read_bytes(), path=str(path))
    assert (img.kind, img.compression, img.block_size) == ("squashfs", comp, 131072)
    assert (img.bytes_used, img.inodes) == (SQUASHFS_USED[comp], INODES)
    assert (img.files, img.file_bytes, img.file_pages_bytes) == (FILES, FILE_BYTES, _file_pages())


@pytest.mark.parametrize(("name", "compression"), [("plain", "none"), ("lz4hc", "compressed")])
def test_erofs_superblock_and_files(name: str, compression: str) -> None:
    """The erofs superblock (inos, blocks) and the files found from the root directory."""
    path = IMAGES / f"root-{name}.erofs"
    data = path.read_bytes()
    img = parse_erofs(data, path=str(path))
    assert (img.kind, img.compression, img.block_size, img.bytes_used) == ("erofs", compression, 4096, len(data))
    assert (img.inodes, img.files, img.file_bytes, img.file_pages_bytes) == (INODES, FILES, FILE_BYTES, _file_pages())


def test_file_bytes_match_the_extracted_tree(tmp_path: Path) -> None:
    """unsquashfs's extraction is the oracle (it keeps hard links; fsck.erofs 1.5 copies them) for every image."""
    if shutil.which("unsquashfs") is None:
        pytest.skip("unsquashfs missing (apt-get install squashfs-tools)")
    out = tmp_path / "x"
    subprocess.run(["unsquashfs", "-q", "-d", str(out), str(IMAGES / "root-zstd.squashfs")], check=True, capture_output=True)
    seen = {p.stat().st_ino: p.stat().st_size for p in out.rglob("*") if p.is_file() and not p.is_symlink()}
    for image in sorted(IMAGES.glob("root-*")):
        img = parse_fs_image(image.read_bytes(), path=image.name)
        assert img is not None and (img.files, img.file_bytes) == (len(seen), sum(seen.values())), image.name


def _newc(files: list[tuple[str, int, bytes]]) -> bytes:
    """A newc cpio archive (mode, data per name), as dracut's cpio writes it."""
    out = io.BytesIO()
    for ino, (name, mode, data) in enumerate([*files, ("TRAILER!!!", 0, b"")], 1):
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        out.write(b"070701" + b"".join(f"{v:08x}".encode() for v in fields) + name.encode() + b"\0")
        out.write(b"\0" * (-out.tell() % 4))
        out.write(data)
        out.write(b"\0" * (-out.tell() % 4))
    return out.getvalue()


def _dracut(image_name: str, image: bytes, compress: str = "zstd") -> bytes:
    """A kdump initrd shaped like dracut's squash module's: /init, the loader, and the root image."""
    archive = _newc([(".", 0o40755, b""), ("init", 0o100755, b"#!/bin/sh\nmount squash\n"),
                     ("usr", 0o40755, b""), (image_name, 0o100644, image), ("usr/bin", 0o40755, b"")])
    early = _newc([("kernel/x86/microcode/GenuineIntel.bin", 0o100644, b"\x01" * 1000)])
    body = zstandard.ZstdCompressor().compress(archive) if compress == "zstd" else gzip.compress(archive, mtime=0)
    return early + body


@pytest.mark.parametrize("image_name", ["squash-root.img", "squashfs-root.img", "squash/root.img", "erofs-root.img"])
@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 1 << 20])
def test_root_image_in_a_dracut_initrd_is_counted(image_name: str, chunk_size: int) -> None:
    """The image in the initrd is found by dracut's names and its mounted cost counted, whatever the read size."""
    source = "root-plain.erofs" if image_name == "erofs-root.img" else "root-zstd.squashfs"
    image = (IMAGES / source).read_bytes()
    facts = analyse_initrd(_dracut(image_name, image), name="initramfs-kdump.img", limits=Limits(chunk_size=chunk_size))
    assert facts.findings == ()
    [found] = facts.images
    assert (found.name, found.size) == (image_name, len(image))
    assert found.image is not None and found.image.files == FILES
    used = found.image.bytes_used
    assert found.cache_bytes == round_up(used, 4096) + _file_pages() + INODES * TMPFS_INODE_BYTES
    assert facts.image_cache_bytes == found.cache_bytes
    # The image file itself is still a file of the unpacked tree (tmpfs holds it once).
    assert facts.unpacked_bytes == len(image) + len(b"#!/bin/sh\nmount squash\n") + 1000


def test_footprint_itemises_the_mounted_image() -> None:
    """analyse_boot_file keeps the image's cost, and the footprint shows it as its own sourced line."""
    data = _dracut("squash-root.img", (IMAGES / "root-zstd.squashfs").read_bytes(), compress="gzip")
    item = analyse_boot_file(io.BytesIO(data), "initrd", "/boot/initramfs-6.12.0kdump.img", len(data))
    assert item.image_cache_bytes is not None and item.image is not None
    assert item.image == "/squash-root.img: squashfs zstd, 26255 bytes used, 13 inodes, 5 files of 89929 bytes"
    facts = gather_facts(DirSource(QEMU))
    facts = dataclasses.replace(facts, boot_files=BootFiles(initrd=item))
    profile = load_profile("fedora-x86_64")
    fp = estimate_footprint(footprint_inputs(facts, profile), profile.estimator, profile.source_texts)
    line = fp.item("initrd's root image mounted (page cache of the image and of its files)")
    assert line.bytes == item.image_cache_bytes and line.part == "runtime"
    assert "/boot/initramfs-6.12.0kdump.img: /squash-root.img: squashfs zstd" in line.source


def test_error_truncated_image_is_a_finding_not_a_traceback() -> None:
    """A root image cut short inside the initrd is a finding; the initrd's own size stays known."""
    image = (IMAGES / "root-zstd.squashfs").read_bytes()[:20000]
    facts = analyse_initrd(_dracut("squash-root.img", image), name="initrd.img")
    assert facts.unpacked_bytes is not None
    [finding] = facts.findings
    assert finding.code == "initrd-image-unreadable"
    assert finding.message.startswith("initrd.img:squash-root.img: squashfs tables out of order or past the image's 20000 bytes")
    assert facts.image_cache_bytes is None


@pytest.mark.parametrize(("data", "message"), [
    (b"hsqs" + bytes(92), "squashfs 0.0: only 4.0 is read"),
    (b"hsqs", "not a squashfs image"),
])
def test_error_squashfs(data: bytes, message: str) -> None:
    """Garbled squashfs superblocks are one-line errors naming the image."""
    with pytest.raises(SourceError) as e:
        parse_squashfs(data, path="img")
    assert e.value.one_line().startswith(f"img: {message}")


def test_error_erofs_truncated() -> None:
    """An erofs image cut after its superblock is an error naming the image."""
    data = (IMAGES / "root-plain.erofs").read_bytes()[:1200]
    with pytest.raises(SourceError) as e:
        parse_erofs(data, path="img")
    assert e.value.one_line().startswith("img: erofs")


def test_lz4_squashfs_without_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """An lz4 squashfs without the optional lz4 package says which extra to install."""
    monkeypatch.setitem(sys.modules, "lz4.block", None)
    with pytest.raises(SourceError, match=r"pip install 'crashplan\[lz4\]'"):
        parse_squashfs((IMAGES / "root-lz4.squashfs").read_bytes(), path="img")


def test_a_file_named_like_an_image_that_is_not_one_is_just_a_file() -> None:
    """A squash-root.img that holds no file system costs tmpfs only, silently."""
    facts = analyse_initrd(_dracut("squash-root.img", b"not an image" * 100), name="initrd.img")
    assert (facts.findings, facts.images, facts.image_cache_bytes) == ((), (), 0)


_FIXTURES = {p.name: p.read_bytes() for p in sorted(IMAGES.glob("root-*"))}


@pytest.mark.property
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(_FIXTURES)),
    flips=st.lists(st.tuples(st.one_of(st.integers(0, 2047), st.integers(0, 1 << 17)), st.integers(1, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 1 << 17)),
)
def test_damaged_images_raise_only_source_errors(name: str, flips: list[tuple[int, int]], cut: int | None) -> None:
    """Flipped bytes or a cut image give an FsImage, None or a SourceError: never another exception."""
    data = bytearray(_FIXTURES[name])
    for at, mask in flips:
        if at < len(data):
            data[at] ^= mask
    blob = bytes(data if cut is None else data[:cut])
    with contextlib.suppress(SourceError):
        parse_fs_image(blob, path=name)


def test_error_an_image_too_large_to_hold_is_a_finding() -> None:
    """A root image over 256 MiB is not held in memory: a finding says its page cache is not counted."""
    name = b"squash-root.img\0"
    fields = [1, 0o100644, 0, 0, 1, 0, 300 << 20, 0, 0, 0, 0, len(name), 0]
    header = b"070701" + b"".join(f"{v:08x}".encode() for v in fields) + name
    facts = analyse_initrd(header + b"\0" * (-len(header) % 4) + b"hsqs" + bytes(4096), name="initrd.img")
    codes = [f.code for f in facts.findings]
    assert "initrd-image-unreadable" in codes and "initrd-truncated" in codes
    assert "initrd.img:squash-root.img: larger than 256 MiB, not read" in " ".join(f.message for f in facts.findings)
