"""The facts a snapshot stores beside the host files: ``crashplan-snapshot.json``.

A snapshot is a host tree (``proc/iomem``, ``sys/kernel/kexec_crash_size``, ``etc/os-release``
…) plus this one JSON file, written by ``crashplan snapshot save`` (``capture.py``).  It keeps
what the tree cannot: ``uname``, the page size, whether the capture ran as root (a non-root
``/proc/iomem`` shows every address as 0), psutil's figures, the files that were absent or
unreadable, and facts about the kdump kernel and initrd (sizes only; the files are not copied).

Document, version 1::

    {"format": "crashplan-snapshot", "format_version": 1,
     "captured_at": "2024-05-01T12:00:00Z", "crashplan_version": "0.1.0",
     "uname": {"sysname", "nodename", "release", "version", "machine"},
     "page_size": 4096, "root": true,
     "psutil": {"virtual_memory_total": 8589934592, "cpu_count_logical": 8},
     "captured": ["proc/iomem", ...], "unreadable": [{"path", "reason"}], "absent": [...],
     "notes": [...], "files": {"boot": {...}}}

Absent isn't zero: a fact the capture could not get is ``null`` and parses to ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from crashplan.errors import SourceError

__all__ = [
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_FORMAT_VERSION",
    "HostInfo",
    "SnapshotInfo",
    "Uname",
    "Unreadable",
    "format_captured_at",
    "parse_snapshot_info",
]

SNAPSHOT_FORMAT = "crashplan-snapshot"
SNAPSHOT_FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Uname:
    """``uname(2)`` of the host, as ``os.uname()`` returns it."""

    sysname: str
    nodename: str
    release: str
    version: str
    machine: str

    def to_json(self) -> dict[str, str]:
        """The five fields as a JSON object."""
        return {
            "sysname": self.sysname,
            "nodename": self.nodename,
            "release": self.release,
            "version": self.version,
            "machine": self.machine,
        }


@dataclass(frozen=True, slots=True)
class HostInfo:
    """Host facts that are not in a file: from the live host, or as stored in a snapshot.

    ``mem_total`` is psutil's ``virtual_memory().total`` in bytes (MemTotal, what the kernel
    manages, not the installed RAM); ``cpu_count`` is ``cpu_count(logical=True)``.
    """

    uname: Uname | None
    page_size: int | None
    root: bool | None
    mem_total: int | None
    cpu_count: int | None

    def to_json(self) -> dict[str, object]:
        """The facts laid out as in ``crashplan-snapshot.json``."""
        return {
            "uname": None if self.uname is None else self.uname.to_json(),
            "page_size": self.page_size,
            "root": self.root,
            "psutil": {
                "virtual_memory_total": self.mem_total,
                "cpu_count_logical": self.cpu_count,
            },
        }


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A host file that exists but could not be captured, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """The parsed ``crashplan-snapshot.json`` of a snapshot directory or archive."""

    format_version: int
    captured_at: datetime
    crashplan_version: str | None
    host: HostInfo
    captured: tuple[str, ...]
    unreadable: tuple[Unreadable, ...]
    absent: tuple[str, ...]
    notes: tuple[str, ...]
    files: Mapping[str, Any]


def format_captured_at(when: datetime) -> str:
    """An aware time as UTC ISO 8601 with a ``Z``, to the second.

    >>> from datetime import timezone, timedelta
    >>> format_captured_at(datetime(2024, 5, 1, 14, 0, 7, 999, tzinfo=timezone(timedelta(hours=2))))
    '2024-05-01T12:00:07Z'
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("captured_at must be an aware datetime")
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_snapshot_info(data: bytes, *, path: str) -> SnapshotInfo:
    """Parse and validate a ``crashplan-snapshot.json`` document; ``path`` names it in errors.

    >>> info = parse_snapshot_info(
    ...     b'{"format": "crashplan-snapshot", "format_version": 1,'
    ...     b' "captured_at": "2024-05-01T12:00:00Z", "page_size": 4096}', path="s.json")
    >>> info.host.page_size, info.host.root, info.captured_at.year
    (4096, None, 2024)
    """
    import json  # ~3 ms: only snapshots need it, not every import of crashplan.host.sources

    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SourceError("not valid UTF-8", path=path, code="bad-snapshot") from e
    except json.JSONDecodeError as e:
        raise SourceError(
            f"not valid JSON: {e.msg}", path=path, line=e.lineno, code="bad-snapshot"
        ) from e
    reader = _Reader(path)
    obj = reader.obj(doc, "the document")
    if obj.get("format") != SNAPSHOT_FORMAT:
        raise SourceError(
            f'not a crashplan snapshot: "format" is {obj.get("format")!r}, not {SNAPSHOT_FORMAT!r}',
            path=path,
            code="bad-snapshot",
        )
    version = reader.field(obj, "format_version", int, required=True)
    if version != SNAPSHOT_FORMAT_VERSION:
        raise SourceError(
            f"unsupported snapshot format_version {version}; this crashplan reads version "
            f"{SNAPSHOT_FORMAT_VERSION}",
            path=path,
            hint="use a newer crashplan",
            code="bad-snapshot",
        )
    stamp = reader.field(obj, "captured_at", str, required=True)
    try:
        captured_at = datetime.fromisoformat(stamp)
    except ValueError as e:
        raise SourceError(
            f'"captured_at" is not an ISO 8601 time: {stamp!r}', path=path, code="bad-snapshot"
        ) from e
    if captured_at.tzinfo is None:
        raise SourceError(
            f'"captured_at" has no time zone: {stamp!r}', path=path, code="bad-snapshot"
        )

    uname_obj = reader.field(obj, "uname", dict)
    uname = None
    if uname_obj is not None:
        uname = Uname(
            **{f.name: reader.field(uname_obj, f.name, str, required=True) for f in fields(Uname)}
        )
    psutil_obj = reader.field(obj, "psutil", dict) or {}
    host = HostInfo(
        uname=uname,
        page_size=reader.field(obj, "page_size", int),
        root=reader.field(obj, "root", bool),
        mem_total=reader.field(psutil_obj, "virtual_memory_total", int),
        cpu_count=reader.field(psutil_obj, "cpu_count_logical", int),
    )
    unreadable = tuple(
        Unreadable(
            path=reader.field(reader.obj(item, '"unreadable" item'), "path", str, required=True),
            reason=reader.field(item, "reason", str, required=True),
        )
        for item in reader.field(obj, "unreadable", list) or []
    )
    return SnapshotInfo(
        format_version=version,
        captured_at=captured_at,
        crashplan_version=reader.field(obj, "crashplan_version", str),
        host=host,
        captured=reader.strings(obj, "captured"),
        unreadable=unreadable,
        absent=reader.strings(obj, "absent"),
        notes=reader.strings(obj, "notes"),
        files=reader.field(obj, "files", dict) or {},
    )


class _Reader:
    """Typed access to a JSON document that raises ``SourceError`` naming the bad key."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def obj(self, value: object, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SourceError(f"{what} is not a JSON object", path=self.path, code="bad-snapshot")
        return value

    def field(self, obj: Mapping[str, Any], key: str, kind: type, *, required: bool = False) -> Any:
        value = obj.get(key)
        if value is None:
            if required:
                raise SourceError(f"missing {key!r}", path=self.path, code="bad-snapshot")
            return None
        # bool is an int subclass: a JSON true is not a page size.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SourceError(
                f"{key!r} should be {_JSON_NAMES[kind]}, not {type(value).__name__}",
                path=self.path,
                code="bad-snapshot",
            )
        return value

    def strings(self, obj: Mapping[str, Any], key: str) -> tuple[str, ...]:
        items = self.field(obj, key, list) or []
        if not all(isinstance(item, str) for item in items):
            raise SourceError(
                f"{key!r} should be a list of strings", path=self.path, code="bad-snapshot"
            )
        return tuple(items)


_JSON_NAMES: dict[type, str] = {
    int: "an integer",
    str: "a string",
    bool: "true or false",
    dict: "an object",
    list: "a list",
}
