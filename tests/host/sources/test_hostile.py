"""Hostile archives: every one is refused with a SourceError, and opening one writes nothing.

Each archive is crafted here, byte by byte where ``tarfile``'s writer would clean it up.  The
check that nothing is written is twofold: a PEP 578 audit hook records every open-for-writing,
mkdir, rename, link, chmod... while the archive is opened, and the tmp dir's listing is compared
before and after.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from crashplan.errors import SourceError
from crashplan.host.sources import open_source

_HINT = "crashplan reads archives without extracting them and refuses unsafe members"


def _listing(root: Path) -> list[tuple[str, int]]:
    return sorted((p.relative_to(root).as_posix(), p.lstat().st_size) for p in root.rglob("*"))


@pytest.fixture
def refuse(
    tmp_path: Path, watch_writes: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> Callable[[str, bytes], SourceError]:
    """Write ``data`` as ``name`` in tmp_path, open it, and return the SourceError it must raise."""
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    # Anything written relative to the working directory would land here and show up.
    monkeypatch.chdir(workdir)

    def run(name: str, data: bytes) -> SourceError:
        path = tmp_path / name
        path.write_bytes(data)
        before = _listing(tmp_path)
        with watch_writes() as events, pytest.raises(SourceError) as e:  # type: ignore[attr-defined]
            open_source(path)
        assert events == [], "opening an archive must write nothing"
        assert _listing(tmp_path) == before
        assert e.value.path == str(path)
        return e.value

    return run


def _hostile(error: SourceError, message: str) -> None:
    assert error.code == "hostile-archive"
    assert error.message == message
    assert str(error) == f"{error.path}: {message} ({_HINT})"


def _bad(error: SourceError, message: str) -> None:
    assert error.code == "bad-archive"
    assert error.message == message


# --- names ------------------------------------------------------------------------------------


def test_error_absolute_member_name(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A member named /etc/passwd is refused."""
    error = refuse("a.tar", tarcraft.tar(tarcraft.member("/etc/passwd", b"root::0:0::/:/bin/sh\n")))
    _hostile(error, "refusing member '/etc/passwd': absolute path")


def test_error_dotdot_member_name(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A member climbing out with ../ is refused."""
    error = refuse(
        "a.tar.gz",
        tarcraft.compress(tarcraft.tar(tarcraft.member("../../etc/cron.d/evil", b"x")), "tar.gz"),
    )
    _hostile(error, "refusing member '../../etc/cron.d/evil': '..' component")


def test_error_dotdot_inside_member_name(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A '..' in the middle of a name is refused too, even outside the kept folders."""
    error = refuse("a.tar", tarcraft.tar(tarcraft.member("var/../../x", b"x")))
    _hostile(error, "refusing member 'var/../../x': '..' component")


def test_error_pax_path_override(
    refuse: Callable[[str, bytes], SourceError], tmp_path: Path
) -> None:
    """A harmless header name replaced by an absolute pax ``path`` record is refused."""
    info = tarfile.TarInfo("proc/iomem")
    info.pax_headers = {"path": "/etc/shadow"}
    data = info.tobuf(format=tarfile.PAX_FORMAT) + b"\0" * 1024
    _hostile(refuse("a.tar", data), "refusing member '/etc/shadow': absolute path")


def test_error_gnu_long_name_traversal(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A GNU long name (over 100 bytes) with '..' is refused like a short one."""
    name = "proc/" + "a" * 120 + "/../../../x"
    _hostile(
        refuse("a.tar", tarcraft.tar(tarcraft.member(name, b"x"))),
        f"refusing member {name!r}: '..' component",
    )


# --- links ------------------------------------------------------------------------------------


def test_error_absolute_symlink(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A kept member that is a symlink to an absolute path is refused."""
    m = tarcraft.member("proc/iomem", type=tarfile.SYMTYPE, linkname="/etc/shadow")
    _hostile(
        refuse("a.tar", tarcraft.tar(m)),
        "refusing member 'proc/iomem': symlink to '/etc/shadow' leaves the archive",
    )


def test_error_relative_symlink_escape(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A kept symlink climbing above the archive root is refused."""
    m = tarcraft.member("proc/iomem", type=tarfile.SYMTYPE, linkname="../../etc/shadow")
    _hostile(
        refuse("a.tar.xz", tarcraft.compress(tarcraft.tar(m), "tar.xz")),
        "refusing member 'proc/iomem': symlink to '../../etc/shadow' leaves the archive",
    )


def test_error_symlink_escapes_the_top_folder(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """Under a top folder, a symlink that stays in the archive but leaves the folder is refused."""
    m = tarcraft.member
    data = tarcraft.tar(
        m("host/proc/cmdline", b"q\n"),
        m("host/proc/iomem", type=tarfile.SYMTYPE, linkname="../../other"),
    )
    _hostile(
        refuse("a.tar", data),
        "refusing member 'host/proc/iomem': symlink leaves the archive's top folder",
    )


def test_error_hard_link(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A kept member that is a hard link is refused, wherever it points."""
    m = tarcraft.member
    data = tarcraft.tar(
        m("etc/os-release", b"ID=x\n"),
        m("proc/iomem", type=tarfile.LNKTYPE, linkname="etc/os-release"),
    )
    _hostile(
        refuse("a.tar.zst", tarcraft.compress(data, "tar.zst")),
        "refusing member 'proc/iomem': hard link to 'etc/os-release'",
    )


# --- special files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        (tarfile.CHRTYPE, "character device"),
        (tarfile.BLKTYPE, "block device"),
        (tarfile.FIFOTYPE, "FIFO"),
    ],
)
def test_error_special_files(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace, kind: bytes, what: str
) -> None:
    """Device nodes and FIFOs are refused anywhere in the archive."""
    data = tarcraft.tar(
        tarcraft.member("proc/cmdline", b"q\n"), tarcraft.member("dev/mem", type=kind)
    )
    _hostile(refuse("a.tar", data), f"refusing member 'dev/mem': {what}")


def test_error_file_and_directory(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A name that is both a file and a directory is refused."""
    m = tarcraft.member
    data = tarcraft.tar(m("proc/iomem", b"x"), m("proc/iomem/child", b"y"))
    _hostile(
        refuse("a.tar", data), "refusing member 'proc/iomem': it is both a file and a directory"
    )


# --- sizes ------------------------------------------------------------------------------------


def test_error_member_claiming_17_mib(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A kept member whose header claims 17 MiB is refused on the claim, before any data is read."""
    header = tarcraft.member("proc/iomem", size=17 << 20)[0].tobuf(format=tarfile.GNU_FORMAT)
    _hostile(
        refuse("a.tar.gz", tarcraft.compress(header + b"\0" * 512, "tar.gz")),
        "refusing member 'proc/iomem': 17825792 bytes, over the 16 MiB limit per member",
    )


def _zero_members(count: int, size: int) -> bytes:
    """Gzip members that decompress to ``count`` * ``size`` zero bytes, built in O(size) time."""
    return gzip.compress(b"\0" * size, compresslevel=9, mtime=0) * count


def test_error_gzip_bomb(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A ~300 KiB gzip that inflates past 256 MiB stops at the cap, whatever the header claims."""
    header = tarcraft.member("junk/zeros", size=300 << 20)[0].tobuf(format=tarfile.GNU_FORMAT)
    bomb = gzip.compress(header, mtime=0) + _zero_members(300, 1 << 20)
    assert len(bomb) < 1 << 20
    _hostile(
        refuse("bomb.tar.gz", bomb),
        "refusing archive: more than 256 MiB of decompressed data, over 100 times the compressed size (a compression bomb)",
    )


def test_error_zstd_bomb_of_honest_members(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """Members that each tell the truth still stop at 256 MiB in all when they inflate over 100 times."""
    import zstandard

    compressor = zstandard.ZstdCompressor(level=1)
    chunk = compressor.compress(b"\0" * (4 << 20))
    frames = []
    for i in range(70):
        header = tarcraft.member(f"junk/{i:03d}", size=4 << 20)[0].tobuf(format=tarfile.GNU_FORMAT)
        frames += [compressor.compress(header), chunk]
    _hostile(
        refuse("bomb.tar.zst", b"".join(frames)),
        "refusing archive: more than 256 MiB of decompressed data, over 100 times the compressed size (a compression bomb)",
    )


def _many_members(count: int) -> bytes:
    """A tar of ``count`` empty files junk/000000..., headers patched from one template (fast)."""
    template = tarfile.TarInfo("junk/000000").tobuf(format=tarfile.USTAR_FORMAT)
    name_len = len("junk/000000")
    base = sum(template) - sum(template[148:156]) + 8 * ord(" ") - sum(template[:name_len])
    blocks = []
    for i in range(count):
        name = b"junk/%06d" % i
        chksum = b"%06o\0 " % (base + sum(name))
        blocks.append(name + template[name_len:148] + chksum + template[156:])
    blocks.append(b"\0" * 1024)
    return b"".join(blocks)


def test_many_members_template_is_a_valid_tar() -> None:
    """The fast member builder makes headers tarfile accepts (so the next test tests the cap)."""
    import io

    with tarfile.open(fileobj=io.BytesIO(_many_members(3))) as tar:
        assert tar.getnames() == ["junk/000000", "junk/000001", "junk/000002"]


@pytest.mark.slow
def test_error_too_many_members(refuse: Callable[[str, bytes], SourceError]) -> None:
    """An archive of 100,001 (empty) members is refused (~3 s: tarfile parses 100,000 headers)."""
    data = gzip.compress(_many_members(100_001), compresslevel=1, mtime=0)
    _hostile(refuse("many.tar.gz", data), "refusing archive: more than 100000 members")


# --- corrupt and truncated --------------------------------------------------------------------


_TRUNCATED = "truncated archive: the data stops before the end of the archive"


def _valid_tar(tarcraft: SimpleNamespace) -> bytes:
    m = tarcraft.member
    return tarcraft.tar(
        m("proc/iomem", os.urandom(3000)),
        m("proc/cmdline", b"quiet\n"),
        m("proc/meminfo", os.urandom(5000)),
    )


def test_error_truncated_inside_a_member(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A tar cut in the middle of a member's data is truncated."""
    error = refuse("a.tar", _valid_tar(tarcraft)[:2000])
    _bad(error, _TRUNCATED)
    assert error.hint == f"check it with: tar -tvf {error.path}"


def test_error_truncated_at_a_member_boundary(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A tar cut exactly between members (which tarfile would accept) is truncated."""
    data = tarcraft.tar(
        tarcraft.member("proc/iomem", b"x" * 512),
        tarcraft.member("proc/cmdline", b"q\n"),
        end=False,
    )
    _bad(refuse("a.tar", data[:1024]), _TRUNCATED)


@pytest.mark.parametrize("kind", ["tar.gz", "tar.xz", "tar.zst"])
def test_error_truncated_compressed(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace, kind: str
) -> None:
    """A compressed archive cut in half is truncated."""
    data = tarcraft.compress(_valid_tar(tarcraft), kind)
    _bad(refuse(f"a.{kind}", data[: len(data) // 2]), _TRUNCATED)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("tar.gz", "not valid gzip data"),
        ("tar.xz", "not valid xz data"),
        ("tar.zst", "not valid zstd data"),
        ("tar", "not a valid tar archive"),
    ],
)
def test_error_garbage(
    refuse: Callable[[str, bytes], SourceError], kind: str, message: str
) -> None:
    """Random bytes under an archive name are refused with what they failed to be."""
    _bad(refuse(f"garbage.{kind}", b"This is not an archive at all.\n" * 64), message)


def test_error_wrong_compression(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A zstd archive named .tar.gz is not valid gzip data."""
    _bad(
        refuse("a.tar.gz", tarcraft.compress(_valid_tar(tarcraft), "tar.zst")),
        "not valid gzip data",
    )


def test_error_corrupt_deflate_stream(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A gzip whose deflate data is damaged mid-way is not valid gzip data."""
    data = bytearray(tarcraft.compress(_valid_tar(tarcraft), "tar.gz"))
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    _bad(refuse("a.tar.gz", bytes(data)), "not valid gzip data")


def test_error_bad_checksum_after_the_first_member(
    refuse: Callable[[str, bytes], SourceError], tarcraft: SimpleNamespace
) -> None:
    """A damaged header after the first member (tarfile's end of archive) is refused."""
    data = bytearray(_valid_tar(tarcraft))
    second = 512 + 3072  # first header + 3000 bytes of data padded to 3072
    data[second + 10] ^= 0xFF
    _bad(refuse("a.tar", bytes(data)), "not a valid tar archive")


def test_error_empty_file(refuse: Callable[[str, bytes], SourceError]) -> None:
    """A zero-byte archive is refused as empty."""
    error = refuse("a.tar.zst", b"")
    assert (error.code, error.message) == ("bad-archive", "empty file")
