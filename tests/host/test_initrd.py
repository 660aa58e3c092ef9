"""Tests of crashplan.host.formats.initrd on initrds built by the real tools (cpio, gzip, xz, bzip2, zstd, lz4).

The oracle is the tree the archive was made from (``os.lstat`` sizes, like ``du -b --apparent-size``
over regular files, hard links counted once) and ``cpio -t -v`` over the real QEMU-harness initramfs.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.initrd import (
    TMPFS_INODE_BYTES,
    InitrdFacts,
    Limits,
    analyse_initrd,
    round_up,
)

HARNESS_INITRAMFS = sorted((Path.home() / ".cache/crashplan-kernel/initramfs").glob("*.cpio.gz"))

# compression -> command line that compresses stdin to stdout, as initramfs tools call them.
COMPRESSORS: dict[str, list[str]] = {
    "gzip": ["gzip", "-9", "-n", "-c"],
    "gzip-fast": ["gzip", "-1", "-n", "-c"],
    "xz": ["xz", "--check=crc32", "-1", "-c"],  # the kernel's xz decoder wants CRC32 (dracut, mkinitramfs)
    "lzma": ["xz", "--format=lzma", "-1", "-c"],
    "bzip2": ["bzip2", "-c"],
    "zstd": ["zstd", "-q", "-c"],
    "lz4": ["lz4", "-l", "-q", "-c"],  # legacy format, the only one the kernel unpacks
    "lz4-frame": ["lz4", "-q", "-c"],
}


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)} (apt-get install cpio xz-utils bzip2 zstd lz4)")


def newc(root: Path, fmt: str = "newc") -> bytes:
    """A cpio archive of ``root`` made by GNU cpio, entries in sorted order like dracut does."""
    need("cpio")
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    proc = subprocess.run(["cpio", "-o", "-H", fmt, "--quiet"], cwd=root, input="\n".join([".", *names]).encode(),
                          capture_output=True, check=True)
    return proc.stdout


def compress(kind: str, data: bytes) -> bytes:
    """``data`` compressed by the real tool (memoised: the same archives are compressed often)."""
    key = (kind, data)
    if key not in _COMPRESSED:
        argv = COMPRESSORS[kind]
        need(argv[0])
        _COMPRESSED[key] = subprocess.run(argv, input=data, capture_output=True, check=True).stdout
    return _COMPRESSED[key]


_COMPRESSED: dict[tuple[str, bytes], bytes] = {}


def expected(root: Path, page_size: int = 4096) -> dict[str, int]:
    """What tmpfs will hold, computed from the source tree itself (``.`` included, as cpio stores it)."""
    seen: set[int] = set()
    out = {"data": 0, "pages": 0, "files": 0, "dirs": 1, "symlinks": 0, "inodes": 1}
    for p in root.rglob("*"):
        st_ = p.lstat()
        if stat.S_ISREG(st_.st_mode):
            out["files"] += 1
            if st_.st_ino in seen:
                continue  # a hard link: no new inode, no data of its own
            seen.add(st_.st_ino)
            out["data"] += st_.st_size
            out["pages"] += round_up(st_.st_size, page_size)
        elif stat.S_ISDIR(st_.st_mode):
            out["dirs"] += 1
        elif stat.S_ISLNK(st_.st_mode):
            out["symlinks"] += 1
            if st_.st_size > 128:  # shmem_symlink(): longer targets take a page
                out["pages"] += page_size
        out["inodes"] += 1
    return out


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real root: busybox (or python), some of Python's stdlib, a symlink, a hard link."""
    root = tmp_path_factory.mktemp("initrd-tree")
    (root / "bin").mkdir()
    binary = shutil.which("busybox") or sys.executable
    shutil.copy(binary, root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    (root / "bin/long").symlink_to("../" * 50 + "bin/busybox")  # > 128 bytes: a page in tmpfs
    os.link(root / "bin/busybox", root / "bin/busybox.hardlink")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for sub in ("json", "email"):
        shutil.copytree(stdlib / sub, root / "lib" / sub, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "etc").mkdir()
    (root / "etc/empty").write_bytes(b"")
    (root / "init").write_text("#!/bin/sh\nexec /bin/sh\n")
    return root


@pytest.fixture(scope="module")
def archive(tree: Path) -> bytes:
    return newc(tree)


@pytest.fixture(scope="module")
def early(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """An early-microcode style uncompressed archive (kernel/x86/microcode/GenuineIntel.bin)."""
    root = tmp_path_factory.mktemp("early")
    ucode = root / "kernel/x86/microcode"
    ucode.mkdir(parents=True)
    shutil.copy(shutil.which("true") or sys.executable, ucode / "GenuineIntel.bin")
    return root, newc(root)


def analyse(data: bytes, **kwargs: object) -> InitrdFacts:
    return analyse_initrd(io.BytesIO(data), name="initrd.img", **kwargs)  # type: ignore[arg-type]


def assert_unknown(facts: InitrdFacts, *codes: str) -> None:
    """The size is unknown, and a finding says so with a fallback: never a silent zero."""
    assert facts.unpacked_bytes is None
    assert facts.unpacked_pages_bytes is None
    assert facts.tmpfs_bytes is None
    assert facts.findings and facts.findings[0].code in codes, facts.findings
    message = facts.findings[0].message
    assert message.startswith("initrd unpacked size unknown: ")
    assert "fall back to an estimate" in message


@pytest.mark.parametrize("kind", ["none", "gzip", "xz", "lzma", "bzip2", "zstd", "lz4"])
def test_unpacked_size_matches_the_source_tree(kind: str, tree: Path, archive: bytes) -> None:
    """Each compression the kernel and Python both know unpacks to exactly the tree's file bytes."""
    data = archive if kind == "none" else compress(kind, archive)
    facts = analyse(data)
    want = expected(tree)
    assert facts.findings == ()
    assert facts.size == len(data)
    assert facts.unpacked_bytes == want["data"]
    assert facts.unpacked_pages_bytes == want["pages"]
    assert (facts.files, facts.dirs, facts.symlinks, facts.others) == (want["files"], want["dirs"], want["symlinks"], 0)
    assert facts.inodes == want["inodes"]
    assert facts.tmpfs_bytes == want["pages"] + want["inodes"] * TMPFS_INODE_BYTES
    assert facts.compression == (kind,)
    [segment] = facts.segments
    assert (segment.offset, segment.compression, segment.archive_bytes) == (0, kind, len(archive))
    assert segment.compressed_size == len(data)
    assert segment.unpacked_bytes == want["data"]


def test_harness_initramfs_matches_cpio_listing() -> None:
    """The QEMU harness's real busybox initramfs agrees with `cpio -t -v` entry by entry."""
    if not HARNESS_INITRAMFS:
        pytest.skip("no ~/.cache/crashplan-kernel/initramfs/*.cpio.gz (run tests/kernel/harness.py once)")
    need("cpio", "gzip")
    path = HARNESS_INITRAMFS[0]
    listing = subprocess.run(f"gzip -dc {path} | cpio -t -v --quiet", shell=True, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    regular = [line.split() for line in listing if line.startswith("-")]
    with open(path, "rb") as fp:
        facts = analyse_initrd(fp, name=str(path))
    assert facts.findings == ()
    assert facts.size == path.stat().st_size
    assert facts.unpacked_bytes == sum(int(f[4]) for f in regular)
    assert facts.files == len(regular)
    assert facts.dirs == sum(line.startswith("d") for line in listing)
    assert facts.symlinks == sum(line.startswith("l") for line in listing)
    assert facts.files + facts.dirs + facts.symlinks + facts.others == len(listing)
    assert facts.compression == ("gzip",)


def test_early_microcode_then_compressed(tree: Path, archive: bytes, early: tuple[Path, bytes]) -> None:
    """An uncompressed early archive followed by a zstd one gives two segments and their sum."""
    early_root, early_cpio = early
    main = compress("zstd", archive)
    facts = analyse(early_cpio + main)
    want, want_early = expected(tree), expected(early_root)
    assert facts.findings == ()
    assert facts.compression == ("none", "zstd")
    first, second = facts.segments
    assert (first.offset, first.compression, first.compressed_size) == (0, "none", len(early_cpio))
    assert (second.offset, second.compressed_size) == (len(early_cpio), len(main))
    assert first.unpacked_bytes == want_early["data"]
    assert second.unpacked_bytes == want["data"]
    assert facts.unpacked_bytes == want["data"] + want_early["data"]
    assert facts.files == want["files"] + want_early["files"]


def test_several_compressed_segments_with_zero_padding(tree: Path, archive: bytes, early: tuple[Path, bytes]) -> None:
    """gzip, xz and zstd segments separated by zero padding are all walked."""
    early_cpio = early[1]
    parts = [compress("gzip", early_cpio), compress("xz", archive), compress("zstd", early_cpio)]
    data = parts[0] + b"\0" * 4096 + parts[1] + b"\0" * 3 + parts[2] + b"\0" * 100
    facts = analyse(data)
    assert facts.findings == ()
    assert [s.compression for s in facts.segments] == ["gzip", "xz", "zstd"]
    assert [s.compressed_size for s in facts.segments] == [len(p) for p in parts]
    assert [s.offset for s in facts.segments] == [0, len(parts[0]) + 4096, len(parts[0]) + 4096 + len(parts[1]) + 3]
    assert facts.unpacked_bytes == expected(tree)["data"] + 2 * expected(early[0])["data"]


def test_several_archives_in_one_compressed_stream(tree: Path, archive: bytes, early: tuple[Path, bytes]) -> None:
    """Archives concatenated before compression are one segment, as flush_buffer() reads them."""
    facts = analyse(compress("zstd", early[1] + archive))
    assert facts.findings == ()
    [segment] = facts.segments
    assert segment.archive_bytes == len(early[1]) + len(archive)
    assert facts.unpacked_bytes == expected(tree)["data"] + expected(early[0])["data"]


@pytest.mark.parametrize("chunk_size", [1, 7, 110, 4096, 1 << 20])
def test_chunk_size_does_not_change_the_result(chunk_size: int, archive: bytes, early: tuple[Path, bytes]) -> None:
    """Headers split across chunk boundaries parse the same as whole ones."""
    data = early[1] + compress("gzip", archive) + b"\0" * 5 + compress("zstd", early[1])
    small = analyse(data[: 200_000] if chunk_size == 1 else data, limits=Limits(chunk_size=chunk_size))
    whole = analyse(data[: 200_000] if chunk_size == 1 else data)
    assert small == whole


def test_page_size_is_a_parameter(tree: Path, archive: bytes) -> None:
    """Files are rounded up to the crash kernel's page size, e.g. 64K on some arm64 kernels."""
    facts = analyse(archive, page_size=65536)
    assert facts.unpacked_pages_bytes == expected(tree, 65536)["pages"]
    assert facts.page_size == 65536


def test_file_object_and_bytes_agree(tmp_path: Path, archive: bytes) -> None:
    """A real file opened by the caller and the same bytes give equal facts."""
    path = tmp_path / "initrd.img"
    path.write_bytes(compress("xz", archive))
    with open(path, "rb") as fp:
        assert analyse_initrd(fp, name=str(path)) == analyse(path.read_bytes())


def test_lz4_legacy_after_microcode_and_padding(tree: Path, archive: bytes, early: tuple[Path, bytes]) -> None:
    """An lz4 -l stream after the early cpio, with grub's zero padding and a second lz4 stream, unpacks like the kernel's unlz4()."""
    lz4 = compress("lz4", archive)
    data = early[1] + lz4 + bytes(4) + lz4
    facts = analyse(data)
    assert facts.findings == ()
    assert [s.compression for s in facts.segments] == ["none", "lz4", "lz4"]
    assert facts.segments[1].compressed_size == len(lz4)
    assert facts.segments[1].unpacked_bytes == facts.segments[2].unpacked_bytes == expected(tree)["data"]


def test_lz4_without_the_optional_package_is_a_finding(archive: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the lz4 package the size is unknown, and the finding says which extra to install."""
    data = compress("lz4", archive)
    monkeypatch.setitem(sys.modules, "lz4.block", None)
    facts = analyse(data)
    assert_unknown(facts, "initrd-lz4-unsupported")
    assert "pip install 'crashplan[lz4]'" in facts.findings[0].message
    assert facts.segments[0].compression == "lz4" and facts.segments[0].compressed_size is None


@pytest.mark.parametrize(("kind", "code", "words"), [
    ("lz4-frame", "initrd-lz4-unsupported", "the kernel cannot unpack either"),
])
def test_lz4_is_detected_and_reported(kind: str, code: str, words: str, archive: bytes, early: tuple[Path, bytes]) -> None:
    """lz4 frame segments are named, and the unknown size is a finding, not a zero."""
    data = early[1] + compress(kind, archive)
    facts = analyse(data)
    assert_unknown(facts, code)
    assert words in facts.findings[0].message
    assert [s.compression for s in facts.segments] == ["none", kind]
    assert facts.segments[1].compressed_size is None
    assert facts.segments[0].unpacked_bytes is not None


def test_error_lzo_is_reported() -> None:
    """An lzo segment (magic 89 4c 5a 4f) is recognised but cannot be measured."""
    assert_unknown(analyse(b"\x89LZO\x00\x0d\x0a\x1a\x0a" + bytes(100)), "initrd-lzo-unsupported")


@pytest.mark.parametrize("kind", ["none", "gzip", "xz", "lzma", "bzip2", "zstd", "lz4"])
def test_error_truncated(kind: str, archive: bytes, early: tuple[Path, bytes]) -> None:
    """A file cut short, at several points, says truncated (or corrupt) and gives no size."""
    data = early[1] + (archive if kind == "none" else compress(kind, archive))
    cuts = [len(early[1]) + 300, len(data) // 2] + ([len(data) - 5] if kind != "none" else [])
    for cut in cuts:
        facts = analyse(data[:cut])
        assert_unknown(facts, "initrd-truncated", "initrd-corrupt")
        if kind != "none":  # two uncompressed archives back to back are one segment
            assert facts.segments[0].compression == "none" and facts.segments[0].unpacked_bytes is not None


def test_error_truncated_uncompressed_names_truncation(archive: bytes) -> None:
    """An uncompressed archive cut inside an entry is reported as truncated."""
    facts = analyse(archive[: len(archive) // 2])
    assert_unknown(facts, "initrd-truncated")
    assert "ends in the middle of an entry" in facts.findings[0].message


@pytest.mark.parametrize("kind", ["gzip", "xz", "bzip2", "zstd", "lz4"])
def test_error_corrupt(kind: str, archive: bytes) -> None:
    """Flipped bytes inside a compressed stream give a corrupt finding."""
    data = bytearray(compress(kind, archive))
    for at in range(len(data) // 2, len(data) // 2 + 64):
        data[at] ^= 0x55
    assert_unknown(analyse(bytes(data)), "initrd-corrupt", "initrd-truncated")


def test_error_junk_after_segments(archive: bytes) -> None:
    """Bytes that are neither cpio nor a known magic stop the walk, as they stop the kernel."""
    gz = compress("gzip", archive)
    data = gz + b"\0\0\0\0PK\x03\x04 not an archive"
    facts = analyse(data)
    assert_unknown(facts, "initrd-unknown-compression")
    assert facts.findings[0].message == (
        f"initrd unpacked size unknown: unknown data at offset {len(gz) + 4} (first bytes 50 4b 03 04 20 6e 6f 74): "
        "neither a cpio archive nor a compression the kernel knows; the kernel stops unpacking there too "
        '("invalid magic at start of compressed archive") (initrd.img); fall back to an estimate from the '
        f"{len(data)}-byte file size (compressed initrds usually unpack to a few times their size), or unpack "
        "it with lsinitrd/unmkinitramfs and measure the tree")
    assert facts.findings[0].severity == "warning"
    assert facts.segments[0].unpacked_bytes is not None


def test_error_junk_inside_compressed_stream() -> None:
    """Data that decompresses to something other than cpio is corrupt."""
    facts = analyse(compress("gzip", b"this is not a cpio archive" * 10))
    assert_unknown(facts, "initrd-corrupt")
    assert "junk within compressed archive" in facts.findings[0].message


def test_error_odc_format(tree: Path) -> None:
    """An old-format (odc) cpio archive is named: the kernel only reads newc."""
    facts = analyse(newc(tree, fmt="odc"))
    assert_unknown(facts, "initrd-unknown-compression", "initrd-corrupt")


@pytest.mark.parametrize("data", [b"", bytes(70000)])
def test_error_empty(data: bytes) -> None:
    """An empty or all-zero file has no entries, and says so."""
    assert_unknown(analyse(data), "initrd-empty")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, int]:
    """A zstd initrd holding one 64 MiB file of zeros: a few KiB that unpack to 64 MiB."""
    root = tmp_path_factory.mktemp("bomb")
    with open(root / "zeros", "wb") as f:
        f.truncate(64 * 1024 * 1024)
    need("cpio", "zstd")
    proc = subprocess.run("printf 'zeros\\n' | cpio -o -H newc --quiet | zstd -q -19 -c", shell=True, cwd=root,
                          capture_output=True, check=True)
    return proc.stdout, 64 * 1024 * 1024


def test_bomb_within_limits_is_measured(bomb: tuple[bytes, int]) -> None:
    """With the default 4 GiB cap a highly compressed file is simply measured."""
    data, size = bomb
    assert len(data) < 64 * 1024
    assert analyse(data).unpacked_bytes == size


@pytest.mark.parametrize("kind", ["zstd", "gzip"])
def test_error_bomb(kind: str, bomb: tuple[bytes, int]) -> None:
    """Decompressing past Limits.max_unpacked_bytes stops with a bomb finding."""
    data = bomb[0] if kind == "zstd" else compress("gzip-fast", compress_undo_zstd(bomb[0]))
    facts = analyse(data, limits=Limits(max_unpacked_bytes=16 * 1024 * 1024))
    assert_unknown(facts, "initrd-bomb")
    assert "decompression bomb" in facts.findings[0].message


def compress_undo_zstd(data: bytes) -> bytes:
    need("zstd")
    return subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout


def test_error_timeout(archive: bytes) -> None:
    """Running out of Limits.max_seconds stops with a timeout finding."""
    assert_unknown(analyse(compress("zstd", archive), limits=Limits(max_seconds=-1)), "initrd-timeout")


def test_error_unreadable_file_raises_source_error() -> None:
    """An I/O error is the one failure that raises, as a SourceError naming the file."""

    class Broken(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            raise OSError(5, "Input/output error")

    with pytest.raises(SourceError) as info:
        analyse_initrd(Broken(b"070701"), name="/boot/initrd.img")
    assert str(info.value) == "/boot/initrd.img: cannot read initrd: [Errno 5] Input/output error"
    assert info.value.code == "initrd-unreadable"


def check_invariants(facts: InitrdFacts, size: int) -> None:
    assert facts.size == size
    if facts.unpacked_bytes is None:
        assert facts.findings, "an unknown size always comes with a finding"
        assert facts.findings[0].message.startswith("initrd unpacked size unknown: ")
    else:
        assert facts.findings == ()
        assert facts.unpacked_pages_bytes is not None and facts.unpacked_pages_bytes >= facts.unpacked_bytes


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_property_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any bytes give InitrdFacts (maybe with findings), never an exception."""
    check_invariants(analyse(data, limits=Limits(max_unpacked_bytes=1 << 24)), len(data))


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64).map(lambda b: b"070701" + b))
def test_property_arbitrary_cpio_headers_never_raise(data: bytes) -> None:
    """Garbage after a newc magic gives findings, never an exception."""
    check_invariants(analyse(data), len(data))


_FIELD = st.text(alphabet="0123456789abcdefABCDEF", min_size=8, max_size=8) | st.text(
    alphabet="0123456789abcdef-+_ xZ", min_size=8, max_size=8)


@pytest.mark.property
@settings(max_examples=500, deadline=None)
@given(entries=st.lists(st.tuples(st.sampled_from(["070701", "070702", "070707"]),
                                  st.lists(_FIELD, min_size=13, max_size=13), st.binary(max_size=80)),
                        min_size=1, max_size=4),
       trailer=st.booleans())
def test_property_hexlike_cpio_headers_never_raise(entries: list[tuple[str, list[str], bytes]], trailer: bool) -> None:
    """Headers with plausible, signed or non-hex fields give facts or findings, never exceptions."""
    data = b"".join(magic.encode() + "".join(fields).encode() + body for magic, fields, body in entries)
    if trailer:
        data += b"07070100000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000B00000000TRAILER!!!\0"
    check_invariants(analyse(data), len(data))
    packed = gzip.compress(data, mtime=0)
    check_invariants(analyse(packed), len(packed))


class Samples(dict[str, bytes]):
    """Real archives by compression, with a short repr for hypothesis' failure reports."""

    def __repr__(self) -> str:
        return f"Samples({sorted(self)})"


@pytest.fixture(scope="module")
def samples(early: tuple[Path, bytes]) -> Samples:
    cpio = early[1]
    return Samples({kind: cpio + (cpio if kind == "none" else compress(kind, cpio))
                    for kind in ("none", "gzip", "xz", "bzip2", "zstd")})


@pytest.mark.property
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["none", "gzip", "xz", "bzip2", "zstd"]), cut=st.floats(0, 1),
       flip=st.one_of(st.none(), st.tuples(st.floats(0, 1), st.integers(1, 255))))
def test_property_damaged_real_initrds(kind: str, cut: float, flip: tuple[float, int] | None,
                                       samples: Samples) -> None:
    """Truncated and bit-flipped variants of real archives give facts or findings, never exceptions."""
    data = bytearray(samples[kind])
    data = data[: max(0, int(len(data) * cut))] if cut < 1 else data
    if flip is not None and data:
        data[min(len(data) - 1, int(len(data) * flip[0]))] ^= flip[1]
    check_invariants(analyse(bytes(data)), len(data))

