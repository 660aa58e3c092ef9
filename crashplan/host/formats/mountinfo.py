"""``/proc/<pid>/mountinfo``: where each mount point's file system comes from (its device number).

Authoritative source: ``fs/proc_namespace.c: show_mountinfo()`` and
``Documentation/filesystems/proc.rst`` section 3.5: one line per mount, ``mount ID``, ``parent
ID``, ``major:minor``, ``root``, ``mount point``, ``mount options``, optional fields, a ``-``
separator, ``fstype``, ``source``, ``super options``.  Paths escape space, tab, newline and
backslash as ``\\040``, ``\\011``, ``\\012``, ``\\134`` (``seq_path_root()`` with ``" \\t\\n\\\\"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crashplan.errors import SourceError

__all__ = ["Mount", "find_mount", "parse_mountinfo"]

_OCTAL = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount: its mount point, device number (``major:minor``), type and source."""

    mount_point: str
    device: str
    fstype: str
    source: str


def _unescape(text: str) -> str:
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)


def parse_mountinfo(text: str, *, path: str = "/proc/self/mountinfo") -> tuple[Mount, ...]:
    """The mounts of a mountinfo file, in file order.

    :raises SourceError: a line without the ``-`` separator or a ``major:minor`` field.

    >>> parse_mountinfo("29 1 253:1 / / rw,relatime shared:1 - xfs /dev/mapper/rhel-root rw\\n")[0]
    Mount(mount_point='/', device='253:1', fstype='xfs', source='/dev/mapper/rhel-root')
    """
    mounts = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split(" ")
        try:
            sep = fields.index("-", 6)
        except ValueError:
            raise SourceError("expected a ' - ' before the file system type", path=path, line=lineno) from None
        if len(fields) < sep + 3 or not re.fullmatch(r"[0-9]+:[0-9]+", fields[2]):
            raise SourceError("expected 'ID PARENT MAJOR:MINOR ROOT MOUNTPOINT ... - TYPE SOURCE'", path=path, line=lineno)
        mounts.append(Mount(_unescape(fields[4]), fields[2], fields[sep + 1], _unescape(fields[sep + 2])))
    return tuple(mounts)


def find_mount(mounts: tuple[Mount, ...], path: str) -> Mount | None:
    """The mount that holds ``path``: the last-mounted longest mount point above it.

    >>> ms = parse_mountinfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\\n2 1 253:0 / /var rw - xfs /dev/dm-0 rw\\n")
    >>> find_mount(ms, "/var/crash").device, find_mount(ms, "/srv").device
    ('253:0', '8:1')
    """
    best = None
    best_len = -1
    for m in mounts:
        point = m.mount_point.rstrip("/") or "/"
        above = point == "/" or path == point or path.startswith(point + "/")
        # ">=": of two mounts on one point the later one is on top.
        if above and len(point) >= best_len:
            best, best_len = m, len(point)
    return best
