"""DirSource and LiveSource: reading a host tree on disk, safely."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crashplan.errors import SourceError
from crashplan.host.sources import DirSource, LiveSource, Source


def _tree(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "host"
    root.mkdir()
    for relpath, data in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_bytes(data)
    return root


def test_reads_every_file_of_a_real_host_tree(host_tree: Path) -> None:
    """Every file of a real capture reads back byte for byte, and as surrogate-escaped UTF-8 text."""
    source = DirSource(host_tree)
    for path in sorted(p for p in host_tree.rglob("*") if p.is_file()):
        relpath = path.relative_to(host_tree).as_posix()
        assert source.read_bytes(relpath) == path.read_bytes()
        assert source.read_text(relpath) == path.read_bytes().decode("utf-8", "surrogateescape")
        assert source.stat_size(relpath) == path.stat().st_size
        assert source.exists(relpath)


def test_dir_source_is_a_source(tmp_path: Path) -> None:
    """DirSource and LiveSource satisfy the Source protocol."""
    assert isinstance(DirSource(tmp_path), Source)
    assert isinstance(LiveSource(), Source)


def test_absent_files_are_none(tmp_path: Path) -> None:
    """A missing file, or a path through a file, is absent: None, not an error."""
    source = DirSource(_tree(tmp_path, {"proc/iomem": b"00000000-00000fff : Reserved\n"}))
    assert source.read_text("proc/meminfo") is None
    assert source.read_bytes("proc/iomem/child") is None
    assert source.listdir("sys") is None
    assert source.stat_size("sys/kernel/kexec_crash_size") is None
    assert not source.exists("proc/meminfo")
    assert source.exists("proc") and source.exists("")


def test_undecodable_bytes_survive_as_surrogates(tmp_path: Path) -> None:
    """read_text keeps bytes that are not UTF-8 as surrogates, so nothing is lost."""
    source = DirSource(_tree(tmp_path, {"proc/cmdline": b"root=/dev/sda \xff\xfe\n"}))
    text = source.read_text("proc/cmdline")
    assert text is not None
    assert text.encode("utf-8", "surrogateescape") == b"root=/dev/sda \xff\xfe\n"


def test_listdir_is_sorted(tmp_path: Path) -> None:
    """listdir gives the sorted names of a directory."""
    source = DirSource(
        _tree(
            tmp_path,
            {"proc/zoneinfo": b"", "proc/iomem": b"", "proc/sys/kernel/osrelease": b"6.8\n"},
        )
    )
    assert source.listdir("proc") == ("iomem", "sys", "zoneinfo")
    assert source.listdir("") == ("proc",)


def test_read_exactly_at_the_limit(tmp_path: Path) -> None:
    """A file of exactly ``limit`` bytes is read; the limit refuses only what lies beyond it."""
    source = DirSource(_tree(tmp_path, {"proc/iomem": b"x" * 10}))
    assert source.read_bytes("proc/iomem", limit=10) == b"x" * 10


def test_internal_symlinks_are_followed(tmp_path: Path) -> None:
    """A symlink that stays inside the tree is followed, as on the host."""
    root = _tree(tmp_path, {"proc/self/mounts": b"proc /proc proc rw 0 0\n"})
    (root / "proc" / "mounts").symlink_to("self/mounts")
    assert DirSource(root).read_text("proc/mounts") == "proc /proc proc rw 0 0\n"


def test_sosreport_top_folder_is_found(tmp_path: Path) -> None:
    """An unpacked sosreport's single sosreport-*/ folder holding proc/ becomes the base."""
    top = tmp_path / "sosreport-web01-2024-05-01-abcdef"
    (top / "proc").mkdir(parents=True)
    (top / "proc" / "iomem").write_bytes(b"00000000-00000fff : Reserved\n")
    (tmp_path / "sosreport-web01-2024-05-01-abcdef.tar.xz.sha256").write_text("0" * 64 + "\n")
    source = DirSource(tmp_path)
    assert source.base == str(top)
    assert source.name == str(tmp_path)
    assert source.read_text("proc/iomem") == "00000000-00000fff : Reserved\n"
    assert source.display("proc/iomem") == f"{top}/proc/iomem"


def test_old_sos_top_folder_is_found(tmp_path: Path) -> None:
    """Older sos named the folder sos_*; it is found the same way."""
    (tmp_path / "sos_host" / "proc").mkdir(parents=True)
    (tmp_path / "sos_host" / "proc" / "cmdline").write_text("quiet\n")
    assert DirSource(tmp_path).read_text("proc/cmdline") == "quiet\n"


def test_sosreport_detection_needs_exactly_one_candidate(tmp_path: Path) -> None:
    """Two sosreport folders are ambiguous: the root stays the base and proc/ is absent."""
    for name in ("sosreport-a", "sosreport-b"):
        (tmp_path / name / "proc").mkdir(parents=True)
        (tmp_path / name / "proc" / "iomem").write_text("")
    source = DirSource(tmp_path)
    assert source.base == str(tmp_path)
    assert source.read_text("proc/iomem") is None


def test_a_tree_with_proc_is_used_as_is(tmp_path: Path) -> None:
    """A root that has proc/ itself is never redirected into a sosreport-* folder."""
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "cmdline").write_text("top\n")
    (tmp_path / "sosreport-x" / "proc").mkdir(parents=True)
    assert DirSource(tmp_path).read_text("proc/cmdline") == "top\n"


def test_live_source_reads_proc_despite_zero_st_size() -> None:
    """/proc files report size 0 in stat() (sysfs: a page), yet LiveSource reads all of them."""
    if not Path("/proc/self").exists():
        pytest.skip("no /proc on this system")
    live = LiveSource()
    assert live.stat_size("proc/iomem") == 0
    iomem = live.read_text("proc/iomem")
    assert iomem is not None and iomem.count("\n") > 1
    with open("/proc/cmdline", "rb") as f:
        assert live.read_bytes("proc/cmdline") == f.read()
    assert live.name == "live host"
    assert live.display("proc/iomem") == "/proc/iomem"
    assert live.is_live and not DirSource("/").is_live
    assert live.snapshot_info() is None


def test_live_info_reports_the_running_host() -> None:
    """live_info() carries uname, the page size, root-ness and psutil's figures."""
    info = LiveSource().live_info()
    assert info.uname is not None and info.uname.release == os.uname().release
    assert info.page_size == os.sysconf("SC_PAGE_SIZE")
    assert info.root is (os.geteuid() == 0)
    assert info.mem_total is not None and info.mem_total > 0
    assert info.cpu_count is not None and info.cpu_count >= 1


def test_importing_sources_loads_neither_psutil_nor_tarfile() -> None:
    """``import crashplan.host.sources`` stays light: psutil, tarfile and zstandard load on use."""
    code = "import sys, crashplan.host.sources; print(sorted(m for m in ('psutil', 'tarfile', 'zstandard') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )
    assert out.stdout.strip() == "[]"


# --- errors -----------------------------------------------------------------------------------


def test_error_dotdot_relpath(tmp_path: Path) -> None:
    """A relpath that climbs with '..' is refused, naming the source."""
    root = _tree(tmp_path, {})
    with pytest.raises(SourceError) as e:
        DirSource(root).read_text("proc/../../etc/passwd")
    assert (
        str(e.value)
        == f"{root}: refusing path 'proc/../../etc/passwd': '..' leaves the source root"
    )
    assert e.value.code == "unsafe-path"


def test_error_absolute_relpath(tmp_path: Path) -> None:
    """An absolute relpath is refused rather than read from the machine's own root."""
    root = _tree(tmp_path, {})
    with pytest.raises(SourceError) as e:
        DirSource(root).read_bytes("/etc/passwd")
    assert str(e.value) == f"{root}: refusing absolute path '/etc/passwd'"


def test_error_absolute_symlink_escape(tmp_path: Path) -> None:
    """A symlink in the tree pointing at the machine's own files is refused."""
    root = _tree(tmp_path, {"proc/cmdline": b""})
    (root / "proc" / "iomem").symlink_to("/etc/hostname")
    with pytest.raises(SourceError) as e:
        DirSource(root).read_text("proc/iomem")
    assert (
        str(e.value)
        == f"{root}/proc/iomem: refusing 'proc/iomem': a symlink leads out of the source root"
    )
    assert e.value.code == "unsafe-path"


def test_error_relative_symlink_escape_through_a_directory(tmp_path: Path) -> None:
    """A directory symlink climbing out of the tree is refused for every file below it."""
    root = _tree(tmp_path, {})
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("x")
    (root / "sys").symlink_to("../outside")
    source = DirSource(root)
    for call in (source.read_text, source.exists, source.listdir, source.stat_size):
        with pytest.raises(SourceError) as e:
            call("sys/secret")
        assert e.value.message == "refusing 'sys/secret': a symlink leads out of the source root"


def test_error_fifo_is_not_opened(tmp_path: Path) -> None:
    """A FIFO in the tree is refused before open(), which would block."""
    root = _tree(tmp_path, {})
    (root / "proc").mkdir()
    os.mkfifo(root / "proc" / "iomem")
    with pytest.raises(SourceError) as e:
        DirSource(root).read_text("proc/iomem")
    assert str(e.value) == f"{root}/proc/iomem: not a regular file"


def test_error_reading_a_directory(tmp_path: Path) -> None:
    """Reading a directory is an error, not absence."""
    root = _tree(tmp_path, {"proc/iomem": b""})
    with pytest.raises(SourceError) as e:
        DirSource(root).read_text("proc")
    assert str(e.value) == f"{root}/proc: is a directory"
    with pytest.raises(SourceError) as e:
        DirSource(root).stat_size("proc")
    assert str(e.value) == f"{root}/proc: is a directory"


def test_error_listdir_of_a_file(tmp_path: Path) -> None:
    """listdir on a file is an error."""
    root = _tree(tmp_path, {"proc/iomem": b""})
    with pytest.raises(SourceError) as e:
        DirSource(root).listdir("proc/iomem")
    assert str(e.value) == f"{root}/proc/iomem: not a directory"


def test_error_file_over_the_limit(tmp_path: Path) -> None:
    """A file longer than the limit is refused after reading limit+1 bytes."""
    root = _tree(tmp_path, {"proc/iomem": b"x" * 11})
    with pytest.raises(SourceError) as e:
        DirSource(root).read_text("proc/iomem", limit=10)
    assert str(e.value) == (
        f"{root}/proc/iomem: refusing to read more than 10 bytes "
        "(the file is far larger than any kernel file crashplan reads)"
    )
    assert e.value.code == "too-large"


def _deny(monkeypatch: pytest.MonkeyPatch, denied: str) -> None:
    real_open = os.open

    def fake_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if os.fspath(path) == denied:  # type: ignore[call-overload]
            raise PermissionError(errno.EACCES, "Permission denied", denied)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", fake_open)


def test_error_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable file in a tree is an error without the live host's hint."""
    root = _tree(tmp_path, {"proc/iomem": b""})
    _deny(monkeypatch, str(root / "proc" / "iomem"))
    with pytest.raises(SourceError) as e:
        DirSource(root).read_text("proc/iomem")
    assert str(e.value) == f"{root}/proc/iomem: permission denied"


def test_error_permission_denied_live_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the live host, permission denied suggests root or a snapshot."""
    if not Path("/proc/cmdline").exists():
        pytest.skip("no /proc on this system")
    _deny(monkeypatch, "/proc/cmdline")
    with pytest.raises(SourceError) as e:
        LiveSource().read_text("proc/cmdline")
    assert str(e.value) == "/proc/cmdline: permission denied (run as root or use a snapshot)"


def test_error_root_is_not_a_directory(tmp_path: Path) -> None:
    """A DirSource needs a directory."""
    (tmp_path / "file").write_text("")
    with pytest.raises(SourceError) as e:
        DirSource(tmp_path / "file")
    assert str(e.value) == f"{tmp_path / 'file'}: not a directory"
