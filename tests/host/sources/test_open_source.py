"""open_source: a ``--source`` argument picks the live host, a directory or an archive."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from crashplan.errors import SourceError
from crashplan.host.sources import DirSource, LiveSource, open_source
from crashplan.host.sources.archive import ArchiveSource

_HINT = (
    "pass a snapshot or sosreport directory, or a .tar, .tar.gz, .tgz, .tar.xz or .tar.zst archive"
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "snap"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cmdline").write_text("quiet\n")
    return root


def test_none_is_the_live_host() -> None:
    """No --source means the live host."""
    assert isinstance(open_source(None), LiveSource)


def test_root_directory_is_the_live_host() -> None:
    """--source / is the live host too."""
    assert isinstance(open_source("/"), LiveSource)


def test_directory(tree: Path) -> None:
    """A directory, as str or Path, is a DirSource."""
    for arg in (tree, str(tree)):
        source = open_source(arg)
        assert type(source) is DirSource
        assert source.read_text("proc/cmdline") == "quiet\n"


def test_sosreport_directory(tmp_path: Path, tree: Path) -> None:
    """The folder a sosreport was unpacked into opens at its sosreport-*/ folder."""
    tree.rename(tmp_path / "sosreport-h-1")
    source = open_source(tmp_path)
    assert isinstance(source, DirSource)
    assert source.read_text("proc/cmdline") == "quiet\n"


@pytest.mark.parametrize(
    "suffix", ["tar", "tar.gz", "tgz", "tar.xz", "tar.zst", "tar.zstd", "TAR.GZ"]
)
def test_archive(
    tree: Path, tmp_path: Path, make_archive: Callable[..., Path], suffix: str
) -> None:
    """A file with a tar suffix (any case) is an ArchiveSource."""
    path = make_archive(tree, tmp_path / f"snap.{suffix.lower()}", top="snap")
    path = path.rename(tmp_path / f"snap.{suffix}")
    source = open_source(path)
    assert isinstance(source, ArchiveSource)
    assert source.read_text("proc/cmdline") == "quiet\n"


def test_error_missing(tmp_path: Path) -> None:
    """A path that does not exist is an error with the list of what works."""
    with pytest.raises(SourceError) as e:
        open_source(tmp_path / "nope")
    assert str(e.value) == f"{tmp_path / 'nope'}: no such file or directory ({_HINT})"
    assert e.value.code == "not-found"


@pytest.mark.parametrize("name", ["notes.txt", "snap.zip", "snap.tar.bz2", ".tar"])
def test_error_not_an_archive(tmp_path: Path, name: str) -> None:
    """A file without a supported tar suffix is refused with a hint."""
    (tmp_path / name).write_bytes(b"PK\x03\x04")
    with pytest.raises(SourceError) as e:
        open_source(tmp_path / name)
    assert str(e.value) == f"{tmp_path / name}: not a directory or a tar archive ({_HINT})"
    assert e.value.code == "unsupported-source"


def test_error_fifo_named_like_an_archive(tmp_path: Path) -> None:
    """A FIFO named snap.tar is refused without being opened (which would block)."""
    os.mkfifo(tmp_path / "snap.tar")
    with pytest.raises(SourceError) as e:
        open_source(tmp_path / "snap.tar")
    assert e.value.message == "not a directory or a tar archive"
