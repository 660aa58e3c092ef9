"""Tests for crashplan.host.formats.cpulist (sysfs CPU lists, bitmap_parselist() grammar)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.cpulist import format_cpulist, parse_cpulist

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"

CASES = [
    ("0-3,8-11\n", set(range(4)) | set(range(8, 12))),
    ("0\n", {0}),
    ("\n", set()),
    ("", set()),
    ("0-1", {0, 1}),
    ("5,3,4", {3, 4, 5}),
    ("0-15:2/4\n", {0, 1, 4, 5, 8, 9, 12, 13}),
    ("2-2", {2}),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse(text: str, expected: set[int]) -> None:
    """Lists, ranges, groups and the empty line parse to the CPUs they name."""
    assert parse_cpulist(text) == frozenset(expected)


@pytest.mark.parametrize("name", ["online", "possible"])
def test_this_machine(name: str) -> None:
    """This machine's captured online and possible lists are CPUs 0 and 1."""
    path = HOSTS / "this-machine-x86_64-6.18.44-fc-v657" / "sys/devices/system/cpu" / name
    assert parse_cpulist(path.read_text(), path=str(path)) == frozenset({0, 1})


ERRORS = [
    ("0-3,x\n", "c:1: expected 'n' or 'a-b' in CPU list, got 'x'"),
    ("3-1\n", "c:1: range '3-1' ends before it starts"),
    ("0-3,,5\n", "c:1: expected 'n' or 'a-b' in CPU list, got ''"),
    ("0-4294967295\n", "c:1: CPU number 4294967295 is beyond any kernel's NR_CPUS (65536)"),
    ("0-7:5/4\n", "c:1: group '5/4' needs 0 < used <= group size"),
    ("0:1/2\n", "c:1: expected 'a-b:used/group' in CPU list, got '0:1/2'"),
    ("0-1\n2-3\n", "c:2: a CPU list is one line; found a second line"),
    ("0-\n", "c:1: expected 'n' or 'a-b' in CPU list, got '0-'"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_error_messages(text: str, message: str) -> None:
    """Malformed lists raise a SourceError naming the bad item."""
    with pytest.raises(SourceError) as info:
        parse_cpulist(text, path="c")
    assert str(info.value) == message


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.frozensets(st.integers(0, 4096), max_size=60))
def test_property_format_then_parse_is_identity(cpus: frozenset[int]) -> None:
    """parse_cpulist(format_cpulist(s)) == s for any set of CPU numbers."""
    assert parse_cpulist(format_cpulist(cpus) + "\n") == cpus


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=100))
def test_property_any_text_parses_or_raises_source_error(text: str) -> None:
    """For any text, parse_cpulist returns a frozenset or raises SourceError."""
    with contextlib.suppress(SourceError):
        assert isinstance(parse_cpulist(text), frozenset)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=100))
def test_property_any_bytes_parse_or_raise_source_error(data: bytes) -> None:
    """For any bytes decoded with surrogateescape, parse_cpulist returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        parse_cpulist(data.decode("utf-8", "surrogateescape"))
