"""ArchiveSource: a tarball reads exactly like the directory it was made from."""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from crashplan.errors import SourceError
from crashplan.host.sources import DirSource, Source
from crashplan.host.sources.archive import ArchiveSource

_KINDS = ("tar", "tar.gz", "tar.xz", "tar.zst")
_KEPT = ("proc", "sys", "etc", "boot")


def _kept(relpath: str) -> bool:
    # The kernel log is kept too: it says whether memory encryption is active (host/platform.py).
    return relpath.split("/", 1)[0] in _KEPT or relpath in ("crashplan-snapshot.json", "dmesg.txt")


@pytest.mark.parametrize("kind", _KINDS)
@pytest.mark.parametrize("top", [None, "myhost"], ids=["flat", "top-folder"])
def test_archive_reads_like_the_directory(
    host_tree: Path, kind: str, top: str | None, tmp_path: Path, make_archive: Callable[..., Path]
) -> None:
    """For every compression, each file of a real tree reads byte-identically from dir and archive."""
    archive = ArchiveSource(make_archive(host_tree, tmp_path / f"host.{kind}", top=top))
    directory = DirSource(host_tree)
    assert archive.prefix == top
    compared = 0
    for path in sorted(host_tree.rglob("*")):
        relpath = path.relative_to(host_tree).as_posix()
        if not _kept(relpath):
            # Only the host tree and the kernel log are kept: PROVENANCE.md is not part of it.
            assert archive.read_text(relpath) is None
            continue
        if path.is_dir():
            assert archive.listdir(relpath) == directory.listdir(relpath)
        else:
            assert archive.read_text(relpath) == directory.read_text(relpath)
            assert archive.read_bytes(relpath) == directory.read_bytes(relpath)
            assert archive.stat_size(relpath) == directory.stat_size(relpath)
            compared += 1
        assert archive.exists(relpath)
    assert compared >= 1


@pytest.mark.parametrize("suffix", ["tgz", "tar.zstd"])
def test_other_suffixes(tmp_path: Path, make_archive: Callable[..., Path], suffix: str) -> None:
    """.tgz and .tar.zstd name gzip and zstd archives."""
    (tmp_path / "t" / "proc").mkdir(parents=True)
    (tmp_path / "t" / "proc" / "cmdline").write_text("quiet\n")
    archive = ArchiveSource(make_archive(tmp_path / "t", tmp_path / f"a.{suffix}"))
    assert archive.read_text("proc/cmdline") == "quiet\n"


def test_archive_is_a_source(tmp_path: Path, make_archive: Callable[..., Path]) -> None:
    """ArchiveSource satisfies the Source protocol, names files archive:relpath, and is not live."""
    (tmp_path / "t" / "proc").mkdir(parents=True)
    archive = ArchiveSource(make_archive(tmp_path / "t", tmp_path / "snap.tar.gz"))
    assert isinstance(archive, Source)
    assert archive.display("proc/iomem") == f"{tmp_path}/snap.tar.gz:proc/iomem"
    assert archive.name == str(tmp_path / "snap.tar.gz")
    assert not archive.is_live
    assert archive.snapshot_info() is None


def test_sosreport_archive(tmp_path: Path, tarcraft: SimpleNamespace) -> None:
    """A sosreport tarball: its top folder is stripped, inner symlinks followed, big logs skipped."""
    top = "sosreport-web01-2024-05-01-abcdef"
    m = tarcraft.member
    data = tarcraft.tar(
        m(f"{top}/", type=tarfile.DIRTYPE),
        m(f"{top}/proc/", type=tarfile.DIRTYPE),
        m(f"{top}/proc/self/mounts", b"proc /proc proc rw 0 0\n"),
        m(f"{top}/proc/mounts", type=tarfile.SYMTYPE, linkname="self/mounts"),
        m(f"{top}/etc/localtime", type=tarfile.SYMTYPE, linkname="../usr/share/zoneinfo/UTC"),
        m(f"{top}/etc/os-release", b'NAME="Fedora Linux"\n'),
        m(f"{top}/sys/kernel/kexec_crash_size", b"268435456\n"),
        # Not part of the host tree: streamed past, never held, no per-member limit.
        m(f"{top}/sos_commands/logs/journalctl_--no-pager", b"\0" * (17 << 20)),
        m(f"{top}/free", type=tarfile.SYMTYPE, linkname="sos_commands/memory/free_-m"),
        m(f"{top}/version.txt", b"sosreport: 4.7.0\n"),
    )
    path = tmp_path / f"{top}.tar.xz"
    path.write_bytes(tarcraft.compress(data, "tar.xz"))
    source = ArchiveSource(path)
    assert source.prefix == top
    assert source.read_text("proc/mounts") == "proc /proc proc rw 0 0\n"
    assert source.read_text("sys/kernel/kexec_crash_size") == "268435456\n"
    assert source.read_text("etc/localtime") is None  # its target is not part of the tree
    assert source.read_text("sos_commands/logs/journalctl_--no-pager") is None
    assert source.listdir("") == ("etc", "proc", "sys")
    assert source.listdir("proc") == ("mounts", "self")


def test_dot_slash_member_names(tmp_path: Path, tarcraft: SimpleNamespace) -> None:
    """Members named ./proc/iomem (tar -C dir .) are at the root."""
    m = tarcraft.member
    path = tmp_path / "a.tar"
    path.write_bytes(tarcraft.tar(m("./", type=tarfile.DIRTYPE), m("./proc/iomem", b"x\n")))
    source = ArchiveSource(path)
    assert source.prefix is None
    assert source.read_text("proc/iomem") == "x\n"


def test_a_lone_proc_folder_is_not_a_top_folder(tmp_path: Path, tarcraft: SimpleNamespace) -> None:
    """An archive holding only proc/ keeps proc/ rather than stripping it as a wrapper."""
    path = tmp_path / "a.tar"
    path.write_bytes(
        tarcraft.tar(tarcraft.member("proc/iomem", b"x\n"), tarcraft.member("proc/meminfo", b"y\n"))
    )
    source = ArchiveSource(path)
    assert source.prefix is None
    assert source.read_text("proc/iomem") == "x\n"


def test_later_member_wins(tmp_path: Path, tarcraft: SimpleNamespace) -> None:
    """A name stored twice reads as its last copy, as tar extraction would leave it."""
    path = tmp_path / "a.tar"
    path.write_bytes(
        tarcraft.tar(
            tarcraft.member("proc/cmdline", b"old\n"), tarcraft.member("proc/cmdline", b"new\n")
        )
    )
    assert ArchiveSource(path).read_text("proc/cmdline") == "new\n"


def test_empty_tar_is_an_empty_tree(tmp_path: Path) -> None:
    """A tar with only its end-of-archive marker is a valid, empty tree."""
    path = tmp_path / "a.tar"
    path.write_bytes(b"\0" * 10240)
    source = ArchiveSource(path)
    assert source.read_text("proc/iomem") is None
    assert source.listdir("") == ()


# --- errors -----------------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path: Path, tarcraft: SimpleNamespace) -> ArchiveSource:
    path = tmp_path / "snap.tar.gz"
    path.write_bytes(
        tarcraft.compress(tarcraft.tar(tarcraft.member("proc/iomem", b"x" * 11)), "tar.gz")
    )
    return ArchiveSource(path)


def test_error_archive_read_directory(small: ArchiveSource) -> None:
    """Reading a directory of an archive is an error, as for a DirSource."""
    with pytest.raises(SourceError) as e:
        small.read_text("proc")
    assert str(e.value) == f"{small.path}:proc: is a directory"


def test_error_archive_listdir_of_a_file(small: ArchiveSource) -> None:
    """listdir on an archive member is an error."""
    with pytest.raises(SourceError) as e:
        small.listdir("proc/iomem")
    assert str(e.value) == f"{small.path}:proc/iomem: not a directory"


def test_error_archive_member_over_the_read_limit(small: ArchiveSource) -> None:
    """The read limit applies to members too, with the same text as for files."""
    with pytest.raises(SourceError) as e:
        small.read_bytes("proc/iomem", limit=10)
    assert e.value.message == "refusing to read more than 10 bytes"
    assert e.value.path == f"{small.path}:proc/iomem"


def test_error_archive_dotdot_relpath(small: ArchiveSource) -> None:
    """Relpaths are checked the same way as for a directory."""
    with pytest.raises(SourceError) as e:
        small.read_text("../x")
    assert str(e.value) == f"{small.path}: refusing path '../x': '..' leaves the source root"


def test_error_symlink_loop(tmp_path: Path, tarcraft: SimpleNamespace) -> None:
    """A symlink loop inside an archive is an error, not a hang."""
    m = tarcraft.member
    path = tmp_path / "a.tar"
    path.write_bytes(
        tarcraft.tar(
            m("proc/a", type=tarfile.SYMTYPE, linkname="b"),
            m("proc/b", type=tarfile.SYMTYPE, linkname="a"),
        )
    )
    with pytest.raises(SourceError) as e:
        ArchiveSource(path).read_text("proc/a")
    assert str(e.value) == f"{path}:proc/a: too many levels of symbolic links"
