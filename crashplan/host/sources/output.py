"""Writing an output file atomically, as node_exporter's textfile collector requires.

The collector reads every ``*.prom`` file of its directory at each scrape; a file written in
place can be read half-written.  So the text goes to a temporary sibling (a dot file, which
the collector ignores, in the same directory so that the rename stays on one file system),
is synced, and is renamed over the target (``rename(2)`` is atomic).  A missing directory is
bad input: nothing is written.
"""

from __future__ import annotations

import os

from crashplan.errors import SourceError

__all__ = ["write_atomic"]


def write_atomic(path: str, content: str) -> None:
    """Replace ``path`` with ``content`` (UTF-8, mode 0644) in one rename.

    :raises SourceError: the directory does not exist, ``path`` is a directory, or the write
        fails; the target is then left as it was.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise SourceError("the directory does not exist; nothing written", path=path, code="write-refused")
    if os.path.isdir(path):
        raise SourceError("is a directory; nothing written", path=path, code="write-refused")
    tmp = os.path.join(parent, f".{os.path.basename(path)}.crashplan-tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise SourceError(f"cannot write: {e.strerror or e}; nothing written", path=path, code="write-failed") from e
