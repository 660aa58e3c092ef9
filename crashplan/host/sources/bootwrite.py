"""Writing a boot-loader drop-in: only to the path the user gave, atomically, with a backup.

crashplan changes boot configuration only when asked (``recommend --write PATH``), and then
writes exactly one file: a temporary sibling is written and synced, the file it replaces (if
any) is copied to ``PATH.crashplan-backup``, and the temporary file is renamed over ``PATH``.
A file crashplan did not write is replaced only with ``force``.  Activating the drop-in
(``update-grub``) is left to the user.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass

from crashplan.errors import SourceError

__all__ = ["WriteResult", "write_dropin"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The file written and the backup of what it replaced (None when it was new)."""

    path: str
    backup: str | None


def write_dropin(path: str, content: str, *, is_ours: Callable[[str], bool], force: bool) -> WriteResult:
    """Write ``content`` to ``path`` atomically.

    :param is_ours: whether the start of an existing file (its first 4096 characters) is a
        crashplan drop-in; another file is refused unless ``force``.
    """
    parent = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(parent):
        raise SourceError("the directory does not exist; nothing written", path=path, code="write-refused")
    if os.path.lexists(path):
        if os.path.isdir(path) or os.path.islink(path):
            raise SourceError("is a directory or a link; nothing written", path=path, code="write-refused")
        if not force and not _written_by_crashplan(path, is_ours):
            raise SourceError(
                "exists and was not written by crashplan; nothing written",
                path=path,
                hint="use --force to replace it (a backup is kept)",
                code="write-refused",
            )
    tmp = os.path.join(parent, f".{os.path.basename(path)}.crashplan-tmp-{os.getpid()}")
    backup = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        if os.path.lexists(path):
            backup = path + ".crashplan-backup"
            shutil.copy2(path, backup)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise SourceError(f"cannot write: {e.strerror or e}; nothing changed", path=path, code="write-failed") from e
    return WriteResult(path, backup)


def _written_by_crashplan(path: str, is_ours: Callable[[str], bool]) -> bool:
    """Whether the existing ``path`` is a crashplan drop-in; a device or a FIFO is not read (nor ours)."""
    if not os.path.isfile(path):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as existing:
            return is_ours(existing.read(4096))
    except OSError as e:
        raise SourceError(f"cannot read the file it would replace: {e.strerror or e}; nothing written", path=path, code="write-refused") from e
