"""Hostile snapshots through the CLI: each is refused or handled, with one clear line and exit 3.

Complements ``tests/host/sources/test_hostile.py``, which crafts hostile *archives* and checks the
exact ``SourceError`` of ``open_source``.  Here the input is mostly a hostile *directory tree*
(FIFOs, device nodes, symlink and hard-link escapes, sparse giants, deep nesting, a million
entries, files that change while they are read), plus the archive shapes that file does not
build (an xz bomb, a kept member that inflates to 15 MiB of NULs, a base-256 size claim, 2,000
levels of names), and every case goes through the real program: ``python -m crashplan facts
--source X`` in a subprocess, which must end with exit 0 or 3, print no traceback, and (for 3)
say what is wrong in one line.  The last part checks that ``crashplan snapshot`` writes nothing
but its output and the temporary sibling it renames, whatever the output name.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import lzma
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ROOT / "tests" / "data" / "hosts"
GOOD = HOSTS / "qemu-x86_64-4g-crashkernel-256m"
TIMEOUT = 60


def crashplan(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m crashplan ARGS`` as a user would, bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "crashplan", *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=TIMEOUT,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **(env or {})},
    )


def refused(source: Path, *words: str) -> str:
    """``crashplan facts --source`` exits 3 with one line naming the problem; returns the line."""
    started = time.monotonic()
    result = crashplan("facts", "--source", str(source))
    elapsed = time.monotonic() - started
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 3, (result.returncode, result.stdout[-500:], result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("crashplan: error: "), line
    for word in words:
        assert word in line, (word, line)
    assert elapsed < 30, f"took {elapsed:.1f} s"
    return line


def handled(source: Path) -> subprocess.CompletedProcess[str]:
    """``crashplan facts --source`` ends cleanly: facts (0) or one error line (3), no traceback."""
    result = crashplan("facts", "--source", str(source))
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 3), (result.returncode, result.stderr)
    if result.returncode == 3:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result


def copy_host(dest: Path, host: Path = GOOD) -> Path:
    """A copy of a real captured host tree."""
    for path in sorted(host.rglob("*")):
        target = dest / path.relative_to(host)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return dest


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return copy_host(tmp_path / "snap")


# --- special files in a directory tree ------------------------------------------------------


def test_error_fifo_instead_of_iomem(tree: Path) -> None:
    """A FIFO with no writer as proc/iomem is refused at once instead of blocking forever."""
    (tree / "proc" / "iomem").unlink()
    os.mkfifo(tree / "proc" / "iomem")
    assert refused(tree, "proc/iomem", "not a regular file")


def test_error_fifo_as_snapshot_metadata(tree: Path) -> None:
    """A FIFO as crashplan-snapshot.json is refused too (it is read before any /proc file)."""
    os.mkfifo(tree / "crashplan-snapshot.json")
    refused(tree, "crashplan-snapshot.json", "not a regular file")


def test_error_device_node_instead_of_meminfo(tree: Path) -> None:
    """A character device (a copy of /dev/zero) as proc/meminfo is refused before it is opened."""
    (tree / "proc" / "meminfo").unlink()
    try:
        os.mknod(tree / "proc" / "meminfo", 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    refused(tree, "proc/meminfo", "not a regular file")


def test_error_socket_instead_of_cmdline(tree: Path) -> None:
    """A UNIX socket as proc/cmdline is refused."""
    import socket

    (tree / "proc" / "cmdline").unlink()
    path = tree / "proc" / "cmdline"
    if len(os.fsencode(path)) > 100:
        pytest.skip("tmp path too long for a socket name")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        refused(tree, "proc/cmdline", "not a regular file")


# --- links ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../../../../../../etc/passwd", "/dev/zero", "/proc/self/mem"])
def test_error_symlink_leaves_the_tree(tree: Path, target: str) -> None:
    """proc/iomem as a symlink out of the tree (absolute, climbing, to a device) is refused."""
    (tree / "proc" / "iomem").unlink()
    (tree / "proc" / "iomem").symlink_to(target)
    refused(tree, "proc/iomem", "a symlink leads out of the source root")


def test_error_directory_symlink_leaves_the_tree(tmp_path: Path) -> None:
    """A tree whose proc/ is a link to the live /proc is refused, not read as this host."""
    tree = tmp_path / "snap"
    tree.mkdir()
    (tree / "proc").symlink_to("/proc")
    refused(tree, "a symlink leads out of the source root")


def test_error_symlink_loop(tree: Path) -> None:
    """A symlink loop is an unreadable file, not a hang or a RecursionError."""
    (tree / "proc" / "iomem").unlink()
    (tree / "proc" / "iomem").symlink_to("iomem2")
    (tree / "proc" / "iomem2").symlink_to("iomem")
    refused(tree, "proc/iomem")


def test_symlink_inside_the_tree_is_followed(tree: Path) -> None:
    """A symlink that stays in the tree (sos makes absolute links relative) is read."""
    data = (tree / "proc" / "iomem").read_bytes()
    (tree / "proc" / "iomem").unlink()
    (tree / "saved").mkdir()
    (tree / "saved" / "iomem").write_bytes(data)
    (tree / "proc" / "iomem").symlink_to("../saved/iomem")
    assert handled(tree).returncode == 0


def test_hard_link_is_read_as_what_it_is(tree: Path) -> None:
    """A hard link inside a tree is a regular file: meminfo linked to os-release is garbled meminfo."""
    (tree / "proc" / "meminfo").unlink()
    (tree / "etc").mkdir(exist_ok=True)
    (tree / "etc" / "os-release").write_text('ID=x\nNAME="X"\n')
    os.link(tree / "etc" / "os-release", tree / "proc" / "meminfo")
    refused(tree, "proc/meminfo")


# --- sizes ----------------------------------------------------------------------------------


def test_error_sparse_terabyte_iomem(tree: Path) -> None:
    """A sparse 1 TiB proc/iomem is refused after 16 MiB + 1 byte, never read whole."""
    with open(tree / "proc" / "iomem", "r+b") as f:
        f.truncate(1 << 40)
    refused(tree, "proc/iomem", "refusing to read more than 16777216 bytes")


def test_error_15_mib_of_nul_bytes(tree: Path) -> None:
    """A 15 MiB proc/zoneinfo of NUL bytes (under the read limit) is garbled, and fast."""
    with open(tree / "proc" / "zoneinfo", "wb") as f:
        f.truncate(15 << 20)
    refused(tree, "proc/zoneinfo")


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    out = bytearray()
    for info, data in members:
        out += info.tobuf(format=tarfile.GNU_FORMAT)
        out += data + b"\0" * (-len(data) % 512)
    return bytes(out + b"\0" * 1024)


def _member(name: str, data: bytes = b"", *, size: int | None = None) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data) if size is None else size
    return info, data


def test_error_base256_size_claim(tmp_path: Path) -> None:
    """A member outside the kept folders claiming 2**62 bytes (base-256 size field) ends as truncated."""
    path = tmp_path / "claim.tar"
    path.write_bytes(_tar(_member("proc/cmdline", b"ro\n"), _member("junk/big", size=1 << 62)))
    refused(path, "truncated archive")


def test_error_xz_bomb(tmp_path: Path) -> None:
    """A small .tar.xz that inflates past 256 MiB stops at the cap."""
    header = _member("junk/zeros", size=300 << 20)[0].tobuf(format=tarfile.GNU_FORMAT)
    # xz files may hold several streams back to back: one 1 MiB stream of zeros, 300 times.
    zeros = lzma.compress(b"\0" * (1 << 20), preset=9)
    data = lzma.compress(header) + zeros * 300
    assert len(data) < 1 << 20
    path = tmp_path / "bomb.tar.xz"
    path.write_bytes(data)
    refused(path, "more than 256 MiB of decompressed data")


def test_error_kept_member_inflating_to_nul_bytes(tmp_path: Path) -> None:
    """A gzip whose proc/iomem honestly inflates to 15 MiB of NULs is refused as garbled, quickly."""
    data = _tar(_member("proc/iomem", b"\0" * (15 << 20)))
    path = tmp_path / "nul.tar.gz"
    path.write_bytes(gzip.compress(data, compresslevel=1, mtime=0))
    refused(path, "proc/iomem")


# --- shape ----------------------------------------------------------------------------------


def _deep_dirs(top: Path, depth: int, name: str = "d") -> str:
    """Create ``top/d/d/.../d`` ``depth`` levels deep (past PATH_MAX, with dir fds); return the relpath."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            new = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = new
    finally:
        os.close(fd)
    return "/".join([name] * depth)


def _remove_deep(parent: Path, name: str) -> None:
    """Remove ``parent/name/name/...`` without recursion (shutil.rmtree recurses per level).

    Pytest removes old temporary directories at exit; a 2,000-level tree left behind would make
    that clean-up overflow the recursion limit.
    """
    top = parent / name
    pulled = parent / f"{name}.pulled"
    while (top / name).is_dir() and not (top / name).is_symlink():
        os.rename(top / name, pulled)
        os.rmdir(top)
        os.rename(pulled, top)
    shutil.rmtree(top)


def test_error_proc_is_2000_levels_deep(tmp_path: Path) -> None:
    """proc/ as a symlink 2,000 directories down (past PATH_MAX once resolved) is a clear error."""
    tree = tmp_path / "snap"
    tree.mkdir()
    rel = _deep_dirs(tree, 2000)
    (tree / "proc").symlink_to(rel)
    try:
        result = handled(tree)
        # The files behind the link are out of reach: the tree holds none of the host files.
        assert result.returncode == 3 and "not a host tree" in result.stderr, result.stderr
    finally:
        _remove_deep(tree, "d")


def test_deep_tree_beside_the_host_files(tree: Path) -> None:
    """2,000 nested directories beside the host files, and as etc/kdump.conf, are harmless."""
    _deep_dirs(tree / "proc", 2000, name="x")
    (tree / "etc").mkdir(exist_ok=True)
    _deep_dirs(tree / "etc", 2000, name="kdump.conf")
    try:
        started = time.monotonic()
        handled(tree)
        assert time.monotonic() - started < 30
    finally:
        _remove_deep(tree / "proc", "x")
        _remove_deep(tree / "etc", "kdump.conf")


def test_archive_with_2000_levels_of_names(tmp_path: Path) -> None:
    """An archive holding a 2,000-level path under proc/ is read (or refused) in bounded time."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in sorted(GOOD.rglob("*")):
            if path.is_file() and path.suffix not in (".md", ".txt"):
                data = path.read_bytes()
                info = tarfile.TarInfo(path.relative_to(GOOD).as_posix())
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("proc/" + "/".join(["a"] * 2000) + "/x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    path = tmp_path / "deep.tar.gz"
    path.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    started = time.monotonic()
    handled(path)
    assert time.monotonic() - started < 30


def _create_empty_files(directory: Path, names: Iterator[str]) -> None:
    """Create the empty files ``names`` in ``directory``, through one directory descriptor (fast)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in names:
            os.close(os.open(name, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


@pytest.mark.slow
def test_million_entries_at_the_top_of_a_tree(tmp_path: Path) -> None:
    """A directory of 1,000,000 entries and no proc/ (sosreport detection scans it) ends cleanly (~20 s)."""
    tree = tmp_path / "snap"
    tree.mkdir()
    _create_empty_files(tree, (f"{i:07d}" for i in range(1_000_000)))
    started = time.monotonic()
    handled(tree)
    assert time.monotonic() - started < TIMEOUT


def test_fifty_thousand_entries_under_proc(tree: Path) -> None:
    """50,000 unrelated files under proc/ do not change what is read (nothing lists them)."""
    _create_empty_files(tree / "proc", (f"pid{i}" for i in range(50_000)))
    started = time.monotonic()
    assert handled(tree).returncode == 0
    assert time.monotonic() - started < 30


# --- files that change while they are read --------------------------------------------------


@contextlib.contextmanager
def _meanwhile(change: Callable[[threading.Event], None]) -> Iterator[None]:
    """Run ``change(stop)`` in a thread for the duration of the block; it loops until ``stop``."""
    stop = threading.Event()
    writer = threading.Thread(target=change, args=(stop,), daemon=True)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join()


def test_file_growing_while_read(tree: Path) -> None:
    """proc/iomem growing without end while facts reads it: a value or a clear error, never a hang."""

    def grow(stop: threading.Event) -> None:
        with open(tree / "proc" / "iomem", "ab") as f:
            while not stop.is_set():
                f.write(b"100000000-1ffffffff : System RAM\n" * 4096)
                f.flush()

    with _meanwhile(grow):
        handled(tree)


def test_file_rewritten_while_read(tree: Path) -> None:
    """proc/zoneinfo truncated and rewritten in a loop while facts reads it: a value or a clear error."""
    path = tree / "proc" / "zoneinfo"
    original = path.read_bytes()

    def churn(stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            with open(path, "r+b") as f:
                f.truncate(0 if i % 2 else len(original) // 2)
                f.write(original)
            i += 1

    with _meanwhile(churn):
        for _ in range(3):
            handled(tree)


def test_file_replaced_by_fifo_while_read(tree: Path) -> None:
    """proc/meminfo swapped between a file and a FIFO in a loop: never a hang (O_NONBLOCK, fstat check)."""
    path = tree / "proc" / "meminfo"
    data = path.read_bytes()
    spare = tree / "meminfo.file"
    fifo = tree / "meminfo.fifo"

    def swap(stop: threading.Event) -> None:
        while not stop.is_set():
            spare.write_bytes(data)
            os.replace(spare, path)
            os.mkfifo(fifo)
            os.replace(fifo, path)

    with _meanwhile(swap):
        for _ in range(3):
            handled(tree)


# --- crashplan snapshot writes only where it was told -----------------------------------------

_WATCH = textwrap.dedent(
    """
    import os, sys
    _log = open(os.environ["CRASHPLAN_WRITE_LOG"], "a", buffering=1, encoding="utf-8", errors="surrogateescape")
    _EVENTS = {"os.mkdir", "os.rename", "os.replace", "os.remove", "os.rmdir", "os.symlink", "os.link",
               "os.chmod", "os.chown", "os.truncate", "os.utime", "os.mknod", "shutil.rmtree", "shutil.move"}
    def _hook(event, args):
        if event == "open":
            mode, flags = args[1], args[2]
            if not ((isinstance(mode, str) and any(c in mode for c in "wax+"))
                    or (isinstance(flags, int) and flags & 0o3103)):
                return
        elif event not in _EVENTS:
            return
        candidates = args[:1] if event == "open" else args[:2]
        for p in [a for a in candidates if isinstance(a, (str, bytes, os.PathLike))]:
            p = os.fsdecode(p)
            _log.write(os.path.abspath(p) + "\\n")
    sys.addaudithook(_hook)
    """
)


@pytest.fixture
def watched(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A working directory inside tmp_path, and an environment that logs every write of the child."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_WATCH)
    log = tmp_path / "writes.log"
    log.touch()
    cwd = tmp_path / "work" / "cwd"
    cwd.mkdir(parents=True)
    env = {"PYTHONPATH": f"{site}{os.pathsep}{ROOT}", "CRASHPLAN_WRITE_LOG": str(log)}
    return cwd, log, env


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def _written(log: Path) -> list[str]:
    return [line for line in log.read_text("utf-8", "surrogateescape").splitlines() if line]


@pytest.mark.parametrize(
    "output",
    ["../escape", "../escape.tar.gz", "sub/../../escape2.tar.zst", "./plain", "-dash.tar", "sp ace\tname.tar.xz",
     "\u00e9t\u00e9-\udcff.tar"],
)
def test_snapshot_writes_only_the_output(watched: tuple[Path, Path, dict[str, str]], output: str) -> None:
    """``crashplan snapshot -o PATH --source TREE`` writes PATH and its temp sibling, nothing else."""
    cwd, log, env = watched
    root = cwd.parent.parent  # tmp_path
    before = _listing(root)
    result = crashplan("snapshot", "--source", str(GOOD), "-o", output, cwd=cwd, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    dest = Path(os.path.abspath(cwd / output))
    if output.startswith("sub/"):
        # sub/ does not exist: the kernel's path walk fails before '..' is applied.
        assert result.returncode == 3 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert dest.exists()
    allowed = (str(dest), str(dest.parent / f".{dest.name}."))
    outside = [p for p in _written(log) if not p.startswith(allowed) and p != str(log)]
    assert outside == [], outside
    created = _listing(root) - before - {"writes.log"}
    rel = os.path.relpath(dest, root)
    assert all(p == rel or p.startswith(rel + "/") for p in created), created


def test_snapshot_of_a_hostile_tree_writes_only_the_output(watched: tuple[Path, Path, dict[str, str]], tree: Path) -> None:
    """Snapshotting a tree whose files are FIFOs and escaping symlinks copies nothing through them."""
    cwd, log, env = watched
    (tree / "proc" / "iomem").unlink()
    os.mkfifo(tree / "proc" / "iomem")
    (tree / "proc" / "meminfo").unlink()
    (tree / "proc" / "meminfo").symlink_to("/proc/meminfo")
    result = crashplan("snapshot", "--source", str(tree), "-o", "out.tar", cwd=cwd, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    with tarfile.open(cwd / "out.tar") as tar:
        names = tar.getnames()
    assert not any(n.endswith(("proc/iomem", "proc/meminfo")) for n in names), names
    dest = str(cwd / "out.tar")
    outside = [p for p in _written(log) if not p.startswith((dest, str(cwd / ".out.tar."))) and p != str(log)]
    assert outside == [], outside


def test_error_snapshot_output_through_a_symlink(watched: tuple[Path, Path, dict[str, str]]) -> None:
    """An existing -o PATH that is a symlink elsewhere is refused without --force; nothing is written."""
    cwd, log, env = watched
    elsewhere = cwd.parent / "elsewhere"
    elsewhere.mkdir()
    (cwd / "snap").symlink_to(elsewhere)
    result = crashplan("snapshot", "--source", str(GOOD), "-o", "snap", cwd=cwd, env=env)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(elsewhere.iterdir()) == []
    assert [p for p in _written(log) if p != str(log)] == []
