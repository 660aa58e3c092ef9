"""Pieces shared by every source: read limits, the relpath rules and the archive suffixes.

A relpath names a file below a source root the way the host names it below ``/``
(``proc/iomem``, ``sys/kernel/kexec_crash_size``).  Relpaths come from crashplan's own code,
but snapshots, sosreports and archives come from elsewhere, so both sides are checked: a
relpath may not be absolute or climb with ``..``, and what a tree or an archive holds may not
lead outside its root (see ``tree.py`` and ``archive.py``).
"""

from __future__ import annotations

from crashplan.errors import SourceError

__all__ = [
    "ARCHIVE_SUFFIXES",
    "DEFAULT_READ_LIMIT",
    "EXTRA_PREFIXES",
    "SNAPSHOT_NAME",
    "archive_kind",
    "is_extra",
    "is_tree_root_name",
    "relpath_parts",
    "too_large",
    "wanted",
]

#: Largest file a source reads by default: /proc/iomem of a big NUMA host is ~100 KiB.
DEFAULT_READ_LIMIT = 16 << 20

#: The metadata file ``crashplan snapshot save`` writes at the top of a snapshot.
SNAPSHOT_NAME = "crashplan-snapshot.json"

#: Archive suffixes crashplan reads and writes, longest first, mapped to the compression.
ARCHIVE_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".tar.zstd", "zst"),
    (".tar.zst", "zst"),
    (".tar.gz", "gz"),
    (".tar.xz", "xz"),
    (".tgz", "gz"),
    (".tar", "tar"),
)

# The top-level names a host tree is read from.  An archive keeps only these in memory; they
# are also never mistaken for the single top-level folder an archive may wrap its tree in.
_WANTED_DIRS = frozenset({"proc", "sys", "etc", "boot"})
# What a sosreport holds beside the host files that crashplan reads, kept so that an archive
# gives the same facts as the same tree unpacked: the kdump and boot plugins' command output
# (``kdumpctl estimate``, ``lsinitrd``, ``ls -lanR /boot``), the kernel log
# (``sos_commands/kernel/dmesg``, sos ``report`` plugin ``kernel``), a capture's ``dmesg.txt``
# and the distro's ``var/log/dmesg``, sos' cryptsetup plugin and crashplan's own captured
# command output (``crashplan/luksDump/``, crashplan.host.platform).  Sizes of these are not
# trusted either (archive.py).
EXTRA_PREFIXES: tuple[tuple[str, ...], ...] = (
    ("sos_commands", "kdump"),
    ("sos_commands", "boot"),
    ("sos_commands", "kernel"),
    ("sos_commands", "cryptsetup"),
    ("var", "log", "dmesg"),
    ("dmesg.txt",),
    ("crashplan",),
)
_ROOT_NAMES = _WANTED_DIRS | {SNAPSHOT_NAME, "sos_commands", "var", "dmesg.txt", "crashplan"}


def archive_kind(name: str) -> str | None:
    """The compression an archive name announces (``"tar"``, ``"gz"``, ``"xz"``, ``"zst"``), or None.

    >>> archive_kind("sosreport-host-2024.tar.xz"), archive_kind("snap.TGZ"), archive_kind("snap")
    ('xz', 'gz', None)
    """
    lowered = name.lower()
    for suffix, kind in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return kind
    return None


def relpath_parts(relpath: str, *, where: str) -> tuple[str, ...]:
    """Split a relpath into its components, refusing any that could leave the source root.

    ``.`` and empty components are dropped; ``""`` names the root itself.  ``where`` names the
    path in the error.

    >>> relpath_parts("proc/./iomem", where="/")
    ('proc', 'iomem')
    >>> relpath_parts("sys/kernel/", where="/")
    ('sys', 'kernel')
    >>> relpath_parts("", where="/")
    ()
    """
    parts = _SAFE_PARTS.get(relpath)
    if parts is not None:
        return parts
    if "\0" in relpath:
        raise SourceError(f"refusing path {relpath!r}: NUL byte", path=where, code="unsafe-path")
    if relpath.startswith("/"):
        raise SourceError(f"refusing absolute path {relpath!r}", path=where, code="unsafe-path")
    parts = tuple(part for part in relpath.split("/") if part not in ("", "."))
    if ".." in parts:
        raise SourceError(
            f"refusing path {relpath!r}: '..' leaves the source root",
            path=where,
            code="unsafe-path",
        )
    if len(_SAFE_PARTS) < 4096:  # the same few dozen relpaths are asked of every host
        _SAFE_PARTS[relpath] = parts
    return parts


_SAFE_PARTS: dict[str, tuple[str, ...]] = {}


def wanted(parts: tuple[str, ...]) -> bool:
    """Whether an archive member at ``parts`` belongs to the host tree crashplan reads.

    >>> wanted(("proc", "iomem")), wanted(("crashplan-snapshot.json",)), wanted(("var", "log"))
    (True, True, False)
    >>> wanted(("dmesg.txt",)), wanted(("sos_commands", "cryptsetup", "x")), wanted(("sos_commands", "block"))
    (True, True, False)
    """
    if not parts:
        return False
    return parts[0] in _WANTED_DIRS or parts == (SNAPSHOT_NAME,) or is_extra(parts)


def is_extra(parts: tuple[str, ...]) -> bool:
    """Whether ``parts`` is one of the sosreport files kept beside the host tree (EXTRA_PREFIXES).

    >>> is_extra(("sos_commands", "kdump", "kdumpctl_estimate")), is_extra(("sos_commands", "logs", "journalctl"))
    (True, False)
    """
    return any(parts[: len(prefix)] == prefix for prefix in EXTRA_PREFIXES)


def is_tree_root_name(name: str) -> bool:
    """Whether a top-level name is part of a host tree (so it is not a wrapping folder)."""
    return name in _ROOT_NAMES


def too_large(limit: int, *, path: str) -> SourceError:
    """The error for a file over the read limit; the same text for every kind of source."""
    return SourceError(
        f"refusing to read more than {limit} bytes",
        path=path,
        hint="the file is far larger than any kernel file crashplan reads",
        code="too-large",
    )
