"""Fixtures for the source layer: real host trees, archives built from them, a write watcher.

The host trees are the real captures under ``tests/data/hosts/*/``; when that folder is missing,
the published samples in ``/work/shared/samples/*`` are laid out as host trees in a tmp dir.
Archives are built here with ``tarfile`` itself (not with crashplan's capture), so the parity
tests compare crashplan's reader against an independent writer.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import lzma
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

HOSTS = Path(__file__).parents[2] / "data" / "hosts"
SAMPLES = Path("/work/shared/samples")
# Files of a published sample and where a host keeps them.
_SAMPLE_LAYOUT = {
    "iomem": "proc/iomem",
    "meminfo": "proc/meminfo",
    "cmdline": "proc/cmdline",
    "buddyinfo": "proc/buddyinfo",
    "zoneinfo": "proc/zoneinfo",
    "modules": "proc/modules",
}


def _host_names() -> list[str]:
    if HOSTS.is_dir():
        names = sorted(p.name for p in HOSTS.iterdir() if (p / "proc").is_dir())
        if names:
            return names
    if SAMPLES.is_dir():
        return sorted(p.name for p in SAMPLES.iterdir() if p.is_dir())
    return []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "host_name" in metafunc.fixturenames:
        metafunc.parametrize(
            "host_name",
            _host_names() or [pytest.param("none", marks=pytest.mark.skip(reason="no host trees"))],
        )


@pytest.fixture
def host_tree(host_name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real host tree (``proc/iomem``, ...), from tests/data/hosts or re-laid from the samples."""
    real = HOSTS / host_name
    if (real / "proc").is_dir():
        return real
    tree = tmp_path_factory.mktemp(host_name)
    for name, relpath in _SAMPLE_LAYOUT.items():
        src = SAMPLES / host_name / name
        if src.is_file():
            (tree / relpath).parent.mkdir(parents=True, exist_ok=True)
            (tree / relpath).write_bytes(src.read_bytes())
    return tree


def compress(data: bytes, kind: str) -> bytes:
    """``data`` compressed as an archive named ``*.{kind}`` is."""
    if kind in ("tar.gz", "tgz"):
        return gzip.compress(data, mtime=0)
    if kind == "tar.xz":
        return lzma.compress(data)
    if kind in ("tar.zst", "tar.zstd"):
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    assert kind == "tar", kind
    return data


def tar_of_tree(tree: Path, *, top: str | None) -> bytes:
    """An uncompressed tar of ``tree`` made by ``tarfile``, under ``top/`` or at the archive root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if top is not None:
            tar.add(tree, arcname=top)
        else:
            for child in sorted(tree.iterdir()):
                tar.add(child, arcname=child.name)
    return buffer.getvalue()


@pytest.fixture
def make_archive() -> Callable[..., Path]:
    """Build ``dest`` (compression from its suffix) from a directory tree."""

    def make(tree: Path, dest: Path, *, top: str | None = None) -> Path:
        kind = next(
            k
            for k in ("tar.zstd", "tar.zst", "tar.gz", "tar.xz", "tgz", "tar")
            if dest.name.endswith(k)
        )
        dest.write_bytes(compress(tar_of_tree(tree, top=top), kind))
        return dest

    return make


def tar_member(
    name: str,
    data: bytes = b"",
    *,
    type: bytes = tarfile.REGTYPE,
    linkname: str = "",
    size: int | None = None,
) -> tuple[tarfile.TarInfo, bytes]:
    """A crafted member: any name, type and claimed size, written verbatim by ``tar_bytes``."""
    info = tarfile.TarInfo(name)
    info.type = type
    info.linkname = linkname
    info.size = len(data) if size is None else size
    info.mode = 0o644
    return info, data


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes], end: bool = True) -> bytes:
    """A tar stream of crafted members, headers written as given (no checks, no name cleaning)."""
    out = bytearray()
    for info, data in members:
        out += info.tobuf(format=tarfile.GNU_FORMAT)
        if data:
            out += data + b"\0" * (-len(data) % 512)
    if end:
        out += b"\0" * 1024
    return bytes(out)


# --- a watcher for writes, built on PEP 578 audit hooks --------------------------------------

_WRITE_FLAGS = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000  # O_WRONLY O_RDWR O_CREAT O_TRUNC O_APPEND
_WRITE_EVENTS = frozenset(
    {
        "os.mkdir",
        "os.rename",
        "os.remove",
        "os.rmdir",
        "os.symlink",
        "os.link",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "os.mknod",
        "shutil.rmtree",
        "shutil.move",
        "tarfile.extractall",
    }
)
_watchers: list[list[tuple[str, tuple[object, ...]]]] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    if not _watchers:
        return
    writes = event in _WRITE_EVENTS
    if event == "open":
        mode, flags = args[1], args[2]
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        )
    if writes:
        _watchers[-1].append((event, args))


sys.addaudithook(_audit)


@contextlib.contextmanager
def _watch() -> Iterator[list[tuple[str, tuple[object, ...]]]]:
    events: list[tuple[str, tuple[object, ...]]] = []
    _watchers.append(events)
    try:
        yield events
    finally:
        _watchers.remove(events)


@pytest.fixture
def watch_writes() -> Callable[
    [], contextlib.AbstractContextManager[list[tuple[str, tuple[object, ...]]]]
]:
    """``with watch_writes() as events:`` records every file write, mkdir, rename... in the block."""
    return _watch


@pytest.fixture
def tarcraft() -> SimpleNamespace:
    """Helpers to craft archives: ``member(...)``, ``tar(*members, end=True)``, ``compress(data, kind)``."""
    return SimpleNamespace(member=tar_member, tar=tar_bytes, compress=compress)
