"""write_dropin: the existing file is read only to tell whether crashplan wrote it, and a failure to read it is one error."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from crashplan.errors import SourceError
from crashplan.host.sources import bootwrite
from crashplan.host.sources.bootwrite import write_dropin
from crashplan.render.bootloader import DROPIN_MARKER, is_crashplan_dropin


def test_own_file_is_replaced_with_a_backup(tmp_path: Path) -> None:
    """A file whose start says crashplan wrote it is replaced, and the old one kept beside it."""
    target = tmp_path / "99-crashplan.cfg"
    old, new = f"{DROPIN_MARKER} old\n", f"{DROPIN_MARKER} new\n"
    target.write_text(old)
    result = write_dropin(str(target), new, is_ours=is_crashplan_dropin, force=False)
    assert target.read_text() == new
    assert result.backup is not None and Path(result.backup).read_text() == old


def test_error_a_fifo_is_not_read_and_not_replaced(tmp_path: Path) -> None:
    """A FIFO at the path is refused without reading it (reading would wait for a writer)."""
    fifo = tmp_path / "x.cfg"
    os.mkfifo(fifo)
    seen: list[str] = []
    with pytest.raises(SourceError, match="was not written by crashplan"):
        write_dropin(str(fifo), "# crashplan\n", is_ours=lambda head: seen.append(head) or True, force=False)
    assert seen == [] and fifo.is_fifo()


def test_error_an_unreadable_file_is_one_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An existing file that cannot be read is a one-line error (exit 3) and nothing is written."""
    target = tmp_path / "x.cfg"
    target.write_text("secret\n")

    def refuse(path: str, *args: object, **kwargs: object) -> object:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(bootwrite, "open", refuse, raising=False)
    with pytest.raises(SourceError) as e:
        write_dropin(str(target), "# crashplan\n", is_ours=is_crashplan_dropin, force=False)
    assert e.value.one_line() == f"{target}: cannot read the file it would replace: Permission denied; nothing written"
    assert e.value.exit_code == 3 and e.value.code == "write-refused"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.cfg"] and target.read_text() == "secret\n"
