"""crashplan-snapshot.json: parsed into SnapshotInfo, and refused with the key at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from crashplan.errors import SourceError
from crashplan.host.sources.snapshot import (
    HostInfo,
    SnapshotInfo,
    Uname,
    Unreadable,
    format_captured_at,
    parse_snapshot_info,
)

_BASE = {"format": "crashplan-snapshot", "format_version": 1, "captured_at": "2024-05-01T12:00:00Z"}


def _parse(**changes: object) -> SnapshotInfo:
    doc = {**_BASE, **changes}
    return parse_snapshot_info(
        json.dumps({k: v for k, v in doc.items() if v is not ...}).encode(), path="s.json"
    )


def test_host_info_round_trip() -> None:
    """HostInfo.to_json() parses back to the same HostInfo."""
    host = HostInfo(
        uname=Uname("Linux", "web01", "6.8.9-300.fc40.x86_64", "#1 SMP PREEMPT_DYNAMIC", "x86_64"),
        page_size=4096,
        root=True,
        mem_total=8 << 30,
        cpu_count=8,
    )
    info = _parse(
        **host.to_json(), unreadable=[{"path": "proc/iomem", "reason": "permission denied"}]
    )
    assert info.host == host
    assert info.unreadable == (Unreadable("proc/iomem", "permission denied"),)


def test_absent_facts_are_none() -> None:
    """A minimal document gives None for every fact it lacks, not 0 or False."""
    info = _parse()
    assert info.host == HostInfo(
        uname=None, page_size=None, root=None, mem_total=None, cpu_count=None
    )
    assert info.captured_at == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert info.files == {} and info.absent == ()


def test_format_captured_at_is_utc() -> None:
    """Capture times are written in UTC with a Z."""
    assert (
        format_captured_at(datetime(2024, 5, 1, 12, 0, 0, 123, tzinfo=UTC))
        == "2024-05-01T12:00:00Z"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"format": "something-else"},
            "not a crashplan snapshot: \"format\" is 'something-else', not 'crashplan-snapshot'",
        ),
        (
            {"format_version": 2},
            "unsupported snapshot format_version 2; this crashplan reads version 1",
        ),
        ({"format_version": "1"}, "'format_version' should be an integer, not str"),
        ({"captured_at": ...}, "missing 'captured_at'"),
        ({"captured_at": "yesterday"}, "\"captured_at\" is not an ISO 8601 time: 'yesterday'"),
        (
            {"captured_at": "2024-05-01T12:00:00"},
            "\"captured_at\" has no time zone: '2024-05-01T12:00:00'",
        ),
        ({"page_size": True}, "'page_size' should be an integer, not bool"),
        ({"root": 1}, "'root' should be true or false, not int"),
        ({"uname": {"sysname": "Linux"}}, "missing 'nodename'"),
        ({"absent": ["proc/iomem", 3]}, "'absent' should be a list of strings"),
        ({"unreadable": ["proc/iomem"]}, '"unreadable" item is not a JSON object'),
    ],
)
def test_error_bad_document(changes: dict[str, object], message: str) -> None:
    """Each malformed field is refused with a message naming it."""
    with pytest.raises(SourceError) as e:
        _parse(**changes)
    assert e.value.message == message
    assert e.value.code == "bad-snapshot"
    assert e.value.path == "s.json"


def test_error_not_json() -> None:
    """Invalid JSON is refused with the line of the fault."""
    with pytest.raises(SourceError) as e:
        parse_snapshot_info(b'{\n  "format": "crashplan-snapshot",\n  oops\n}', path="s.json")
    assert (
        str(e.value)
        == "s.json:3: not valid JSON: Expecting property name enclosed in double quotes"
    )


def test_error_not_an_object() -> None:
    """A JSON list is not a snapshot."""
    with pytest.raises(SourceError) as e:
        parse_snapshot_info(b"[]", path="s.json")
    assert str(e.value) == "s.json: the document is not a JSON object"
