"""capture_snapshot: a snapshot reads back like its host, and is written atomically."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crashplan.errors import SourceError
from crashplan.host.sources import DirSource, LiveSource, Unreadable, open_source
from crashplan.host.sources import capture as capture_module
from crashplan.host.sources.capture import HOST_FILES, NON_ROOT_NOTE, capture_snapshot
from crashplan.host.sources.snapshot import HostInfo

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
_KINDS = ("", ".tar", ".tar.gz", ".tar.xz", ".tar.zst")
# Files that do not change while the host runs (meminfo, buddyinfo, zoneinfo do).
_STABLE = (
    "proc/cmdline",
    "proc/version",
    "proc/sys/kernel/osrelease",
    "sys/devices/system/cpu/possible",
    "etc/os-release",
)


def _listing(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def fixture_host(tmp_path: Path) -> DirSource:
    """A small host tree: a few HOST_FILES present, the rest absent."""
    root = tmp_path / "host"
    files = {
        "proc/iomem": "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n",
        "proc/cmdline": "BOOT_IMAGE=/vmlinuz root=/dev/vda1 crashkernel=256M\n",
        "sys/kernel/kexec_crash_size": "268435456\n",
        "etc/os-release": 'NAME="Fedora Linux"\nID=fedora\n',
    }
    for relpath, text in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(text)
    return DirSource(root)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty directory that holds the snapshot and nothing else."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.mark.live
@pytest.mark.parametrize("suffix", ["", ".tar.zst"], ids=["dir", "tar.zst"])
def test_live_round_trip(out: Path, suffix: str) -> None:
    """A capture of this machine reopens with the same stable files and host facts."""
    if not Path("/proc/self").exists():
        pytest.skip("needs a Linux /proc")
    live = LiveSource()
    report = capture_snapshot(live, out / f"snap{suffix}")
    snap = open_source(report.dest)
    assert (
        "proc/cmdline" in report.files_written and "crashplan-snapshot.json" in report.files_written
    )
    for relpath in _STABLE:
        assert snap.read_text(relpath) == live.read_text(relpath), relpath
    iomem_live, iomem_snap = live.read_text("proc/iomem"), snap.read_text("proc/iomem")
    assert iomem_live is not None and iomem_snap is not None
    assert iomem_snap.count("\n") == iomem_live.count("\n")
    info = snap.snapshot_info()
    assert info is not None
    facts = live.live_info()
    assert info.host.uname == facts.uname
    assert (info.host.page_size, info.host.root) == (facts.page_size, facts.root)
    assert info.host.mem_total == facts.mem_total
    assert set(info.captured) | set(info.absent) | {u.path for u in info.unreadable} == set(
        HOST_FILES
    )
    assert info.absent == report.absent == tuple(f for f in HOST_FILES if not live.exists(f))
    assert report.root is facts.root
    assert _listing(out) == (
        ["snap"] + [f"snap/{f}" for f in _dirs_and_files(report.files_written)]
        if not suffix
        else [f"snap{suffix}"]
    )


def _dirs_and_files(relpaths: tuple[str, ...]) -> list[str]:
    names = set(relpaths)
    for relpath in relpaths:
        parts = relpath.split("/")
        names.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return sorted(names)


@pytest.mark.parametrize("suffix", _KINDS[1:])
def test_directory_and_archive_snapshots_read_the_same(
    fixture_host: DirSource, out: Path, suffix: str
) -> None:
    """A directory snapshot and an archive snapshot of one host give identical bytes for every file."""
    as_dir = capture_snapshot(fixture_host, out / "snap", now=NOW)
    as_archive = capture_snapshot(fixture_host, out / f"snap{suffix}", now=NOW)
    assert as_dir.files_written == as_archive.files_written
    a, b = open_source(as_dir.dest), open_source(as_archive.dest)
    for relpath in as_dir.files_written:
        assert a.read_bytes(relpath) == b.read_bytes(relpath), relpath
    assert a.read_text("proc/cmdline") == fixture_host.read_text("proc/cmdline")


def test_report_and_metadata(fixture_host: DirSource, out: Path) -> None:
    """The report and crashplan-snapshot.json list what was captured and what was absent."""
    boot = {"boot": {"kernel": {"path": "/boot/vmlinuz-6.8.9", "size": 14_000_000}}}
    report = capture_snapshot(fixture_host, out / "snap", now=NOW, extra_files=boot)
    captured = ("etc/os-release", "proc/cmdline", "proc/iomem", "sys/kernel/kexec_crash_size")
    assert report.files_written == ("crashplan-snapshot.json", *captured)
    # The fixture holds no /etc/systemd/system: it cannot tell the kdump unit links are absent.
    assert report.absent == tuple(f for f in HOST_FILES if f not in captured and not f.startswith("etc/systemd/system/"))
    assert report.unreadable == () and report.root is None and report.notes == ()
    doc = json.loads((out / "snap" / "crashplan-snapshot.json").read_text())
    assert doc["format"] == "crashplan-snapshot" and doc["format_version"] == 1
    assert doc["captured_at"] == "2024-05-01T12:00:00Z"
    assert doc["files"] == boot
    assert doc["captured"] == list(captured)
    info = open_source(report.dest).snapshot_info()
    assert info is not None and info.files == boot and info.captured_at == NOW


def test_unreadable_files_are_recorded(fixture_host: DirSource, out: Path) -> None:
    """A host file that cannot be read is listed with the reason, and the capture succeeds."""
    (Path(fixture_host.base) / "proc" / "zoneinfo").mkdir()
    report = capture_snapshot(fixture_host, out / "snap", now=NOW)
    assert report.unreadable == (Unreadable(path="proc/zoneinfo", reason="is a directory"),)
    info = open_source(report.dest).snapshot_info()
    assert info is not None and info.unreadable == report.unreadable


def test_non_root_capture_is_noted(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A capture without root succeeds, records root false and notes the zeroed iomem."""
    facts = HostInfo(uname=None, page_size=4096, root=False, mem_total=1 << 30, cpu_count=1)
    monkeypatch.setattr(LiveSource, "live_info", lambda self: facts)
    report = capture_snapshot(LiveSource(), out / "snap.tar.gz", now=NOW)
    assert report.root is False
    assert report.notes == (NON_ROOT_NOTE,)
    info = open_source(report.dest).snapshot_info()
    assert info is not None and info.host.root is False and info.notes == (NON_ROOT_NOTE,)


def test_snapshot_of_a_snapshot_keeps_host_facts(
    fixture_host: DirSource, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Capturing from a snapshot carries its stored host facts forward."""
    facts = HostInfo(uname=None, page_size=65536, root=True, mem_total=8 << 30, cpu_count=4)
    monkeypatch.setattr(LiveSource, "live_info", lambda self: facts)
    first = capture_snapshot(LiveSource(), out / "first.tar.xz", now=NOW)
    second = capture_snapshot(open_source(first.dest), out / "second", now=NOW)
    info = open_source(second.dest).snapshot_info()
    assert info is not None and info.host == facts


@pytest.mark.parametrize("suffix", _KINDS[1:])
def test_archives_are_reproducible_and_normalised(
    fixture_host: DirSource, tmp_path: Path, suffix: str
) -> None:
    """Two captures at the same time are byte-identical; members are 0644/0755, root-owned, dated ``now``."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = capture_snapshot(fixture_host, tmp_path / "a" / f"snap{suffix}", now=NOW)
    second = capture_snapshot(fixture_host, tmp_path / "b" / f"snap{suffix}", now=NOW)
    assert first.dest.read_bytes() == second.dest.read_bytes()
    assert oct(first.dest.stat().st_mode & 0o777) == "0o644"
    data = first.dest.read_bytes()
    if suffix == ".tar.zst":
        import zstandard

        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    assert members[0].name == "snap" and members[0].isdir()
    assert all(m.name.startswith("snap/") for m in members[1:])
    for m in members:
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", int(NOW.timestamp()))
        assert m.mode == (0o755 if m.isdir() else 0o644)
        assert m.isdir() or m.isreg()


def test_writes_stay_inside_dest(
    fixture_host: DirSource, out: Path, watch_writes: Callable[..., object]
) -> None:
    """Every write of a capture (the forced replacement included) is to dest or a temporary sibling."""
    capture_snapshot(fixture_host, out / "snap", now=NOW)
    with watch_writes() as events:  # type: ignore[attr-defined]
        capture_snapshot(fixture_host, out / "snap", now=NOW, force=True)
        capture_snapshot(fixture_host, out / "snap.tar.zst", now=NOW)
    assert events
    for _event, args in events:
        for arg in args:
            if isinstance(arg, str | bytes | os.PathLike) and os.path.isabs(os.fsdecode(arg)):
                name = Path(os.fsdecode(arg)).relative_to(out).parts[0]
                assert name in ("snap", "snap.tar.zst") or name.startswith(
                    (".snap.", ".snap.tar.zst.")
                ), args
    assert _listing(out)[0:1] == ["snap"] and "snap.tar.zst" in _listing(out)
    assert not [n for n in os.listdir(out) if n.startswith(".")]


# --- overwrite and atomicity ------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".tar.gz"])
def test_error_refuses_to_overwrite(fixture_host: DirSource, out: Path, suffix: str) -> None:
    """An existing dest is refused without force, and left as it was."""
    dest = out / f"snap{suffix}"
    if suffix:
        dest.write_bytes(b"precious")
    else:
        dest.mkdir()
        (dest / "precious").write_text("x")
    before = _listing(out)
    with pytest.raises(SourceError) as e:
        capture_snapshot(fixture_host, dest, now=NOW)
    assert (
        str(e.value) == f"{dest}: already exists (choose another name, or replace it with --force)"
    )
    assert e.value.code == "exists"
    assert _listing(out) == before


@pytest.mark.parametrize(
    ("old", "suffix"), [("dir", ""), ("file", ".tar.gz"), ("dir", ".tar.gz"), ("file", "")]
)
def test_force_replaces(fixture_host: DirSource, out: Path, old: str, suffix: str) -> None:
    """With force, dest is replaced (a file by a directory and back too) and nothing else is left."""
    dest = out / f"snap{suffix}"
    if old == "dir":
        dest.mkdir()
        (dest / "old-file").write_text("x")
    else:
        dest.write_bytes(b"old")
    capture_snapshot(fixture_host, dest, now=NOW, force=True)
    assert os.listdir(out) == [dest.name]
    assert open_source(dest).read_text("proc/cmdline") == fixture_host.read_text("proc/cmdline")


def test_force_replaces_a_symlink_not_its_target(
    fixture_host: DirSource, out: Path, tmp_path: Path
) -> None:
    """A dest that is a symlink is replaced itself; what it pointed to is untouched."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep").write_text("x")
    (out / "snap").symlink_to(target)
    capture_snapshot(fixture_host, out / "snap", now=NOW, force=True)
    assert not (out / "snap").is_symlink()
    assert _listing(target) == ["keep"]


def test_no_temporary_left_after_success(fixture_host: DirSource, out: Path) -> None:
    """After a capture, dest's parent holds dest and nothing else."""
    for suffix in _KINDS:
        capture_snapshot(fixture_host, out / f"snap{suffix}", now=NOW)
    assert sorted(os.listdir(out)) == sorted(f"snap{s}" for s in _KINDS)


@pytest.mark.parametrize("suffix", ["", ".tar.xz"])
def test_failure_leaves_nothing(
    fixture_host: DirSource, out: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """A write failing midway leaves no dest and no temporary behind."""

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if suffix:
        monkeypatch.setattr(
            os, "fsync", full_disk
        )  # the archive's temporary file is written, then this
    else:
        monkeypatch.setattr(capture_module, "_write_file", full_disk)  # the first file of the tree
    with pytest.raises(SourceError) as e:
        capture_snapshot(fixture_host, out / f"snap{suffix}", now=NOW)
    assert str(e.value) == f"{out / f'snap{suffix}'}: cannot write: No space left on device"
    assert os.listdir(out) == []


def _fail_renames_to(monkeypatch: pytest.MonkeyPatch, dest: Path, *, only_new: bool) -> None:
    """Make rename()/replace() onto ``dest`` fail: only for the new snapshot, or always."""
    real_rename = os.rename

    def failing(src: object, dst: object) -> None:
        new = Path(os.fspath(src)).name.endswith(".tmp")  # type: ignore[call-overload]
        if os.fspath(dst) == str(dest) and (new or not only_new):  # type: ignore[call-overload]
            raise OSError(5, "Input/output error")
        real_rename(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", failing)
    monkeypatch.setattr(os, "replace", failing)


def _content(dest: Path) -> bytes:
    return dest.read_bytes() if dest.is_file() else (dest / "proc" / "cmdline").read_bytes()


@pytest.mark.parametrize("suffix", ["", ".tar.gz"])
def test_failed_forced_capture_keeps_the_old_dest(
    fixture_host: DirSource, out: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """If the final rename fails, the old dest is back in place and no temporary is left."""
    dest = out / f"snap{suffix}"
    capture_snapshot(fixture_host, dest, now=NOW)
    before = _content(dest)
    _fail_renames_to(monkeypatch, dest, only_new=True)
    with pytest.raises(SourceError) as e:
        capture_snapshot(fixture_host, dest, now=NOW, force=True)
    monkeypatch.undo()
    assert str(e.value) == f"{dest}: cannot write: Input/output error"
    assert os.listdir(out) == [dest.name]
    assert _content(dest) == before


def test_error_old_snapshot_is_never_deleted(
    fixture_host: DirSource, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the old directory cannot even be put back, it is kept aside and the error says where."""
    dest = out / "snap"
    capture_snapshot(fixture_host, dest, now=NOW)
    before = _content(dest)
    _fail_renames_to(monkeypatch, dest, only_new=False)
    with pytest.raises(SourceError) as e:
        capture_snapshot(fixture_host, dest, now=NOW, force=True)
    monkeypatch.undo()
    (aside,) = os.listdir(out)
    assert aside.startswith(".snap.") and aside.endswith(".old")
    assert (
        str(e.value)
        == f"{dest}: cannot write: Input/output error (the previous snap is kept at {out / aside / 'old'})"
    )
    assert _content(out / aside / "old") == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_error_read_only_parent(fixture_host: DirSource, out: Path) -> None:
    """A parent without write permission is a clear error, and nothing is created."""
    out.chmod(0o555)
    try:
        with pytest.raises(SourceError) as e:
            capture_snapshot(fixture_host, out / "snap", now=NOW)
    finally:
        out.chmod(0o755)
    assert str(e.value) == f"{out / 'snap'}: cannot write: Permission denied"
    assert os.listdir(out) == []


def test_error_unsupported_archive_name(fixture_host: DirSource, out: Path) -> None:
    """An archive name crashplan cannot write is refused, not made a directory."""
    with pytest.raises(SourceError) as e:
        capture_snapshot(fixture_host, out / "snap.zip", now=NOW)
    assert str(e.value) == (
        f"{out / 'snap.zip'}: cannot write this kind of archive "
        "(name it .tar, .tar.gz, .tgz, .tar.xz or .tar.zst, or without a suffix for a directory)"
    )
    assert os.listdir(out) == []


def test_error_missing_parent(fixture_host: DirSource, out: Path) -> None:
    """dest's parent must exist: a capture creates one thing only."""
    with pytest.raises(SourceError) as e:
        capture_snapshot(fixture_host, out / "no" / "snap", now=NOW)
    assert str(e.value) == f"{out / 'no' / 'snap'}: the parent directory does not exist"


def test_error_naive_time(fixture_host: DirSource, out: Path) -> None:
    """``now`` must carry a time zone: captured_at is UTC."""
    with pytest.raises(ValueError, match="captured_at must be an aware datetime"):
        capture_snapshot(fixture_host, out / "snap", now=datetime(2024, 5, 1))
