"""Tests for crashplan.host.formats.sysfs: kexec_crash_size, kexec_crash_loaded, kexec_crash_cma_ranges."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.sysfs import (
    parse_cma_ranges,
    parse_kexec_crash_loaded,
    parse_kexec_crash_size,
)
from crashplan.values import MemRange

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("268435456\n", 256 << 20), ("0\n", 0), ("805306368", 768 << 20)],
)
def test_kexec_crash_size(text: str, expected: int) -> None:
    """kexec_crash_size is a decimal byte count ('%zd\\n'), 0 when nothing is reserved."""
    assert parse_kexec_crash_size(text) == expected


@pytest.mark.parametrize(("text", "expected"), [("1\n", True), ("0\n", False), ("0", False)])
def test_kexec_crash_loaded(text: str, expected: bool) -> None:
    """kexec_crash_loaded is 1 when a crash kernel is loaded, else 0."""
    assert parse_kexec_crash_loaded(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The example printed in the patch ("crash: export crashkernel CMA reservation").
        ("100000000-10c7fffff\n", (MemRange(0x100000000, 0x10C800000),)),
        ("", ()),
        ("\n", ()),
        (
            "00000000-0fffffff\n140000000-17fffffff\n",
            (MemRange(0, 0x10000000), MemRange(0x140000000, 0x180000000)),
        ),
    ],
)
def test_cma_ranges(text: str, expected: tuple[MemRange, ...]) -> None:
    """CMA range lines are inclusive hex ranges, converted to half-open MemRanges."""
    assert parse_cma_ranges(text) == expected


@pytest.mark.parametrize(
    "host", sorted(p.parents[2].name for p in HOSTS.glob("*/sys/kernel/kexec_crash_size"))
)
def test_captured_crash_size_matches_iomem(host: str) -> None:
    """A captured kexec_crash_size equals the sum of that host's 'Crash kernel' ranges in iomem."""
    from crashplan.host.formats.iomem import crash_kernel, parse_iomem

    size = parse_kexec_crash_size((HOSTS / host / "sys/kernel/kexec_crash_size").read_text())
    iomem = parse_iomem((HOSTS / host / "proc/iomem").read_text())
    assert size == sum(r.size for r in crash_kernel(iomem))


ERRORS = [
    (parse_kexec_crash_size, "", "s:1: empty file: expected a size in bytes"),
    (parse_kexec_crash_size, "256M\n", "s:1: expected a decimal number of bytes, got '256M'"),
    (parse_kexec_crash_size, "-16\n", "s:1: expected a decimal number of bytes, got '-16'"),
    (parse_kexec_crash_size, "1\n2\n", "s:2: expected one line holding a size in bytes"),
    (parse_kexec_crash_size, "18446744073709551616\n", "s:1: 18446744073709551616 bytes does not fit in 64 bits"),
    (parse_kexec_crash_loaded, "2\n", "s:1: expected 0 or 1, got '2'"),
    (parse_kexec_crash_loaded, "\x00\n", "s:1: expected 0 or 1, got '\\x00'"),
    (
        parse_cma_ranges,
        "100000000-10c7fffff",
        "s:1: last line is not terminated by a newline (file truncated?)",
    ),
    (
        parse_cma_ranges,
        "10000000g-10c7fffff\n",
        "s:1: expected '<start>-<end>' in hex, got '10000000g-10c7fffff'",
    ),
    (
        parse_cma_ranges,
        "10c7fffff-100000000\n",
        "s:1: inclusive end 0x100000000 is before start 0x10c7fffff",
    ),
    (parse_cma_ranges, "0-1\n0x10-0x20\n", "s:2: expected '<start>-<end>' in hex, got '0x10-0x20'"),
]


@pytest.mark.parametrize(("parser", "text", "message"), ERRORS)
def test_error_messages(parser: object, text: str, message: str) -> None:
    """Garbled sysfs values raise a SourceError with the exact message."""
    with pytest.raises(SourceError) as info:
        parser(text, path="s")  # type: ignore[operator]
    assert str(info.value) == message


@pytest.mark.property
@pytest.mark.parametrize(
    "parser", [parse_kexec_crash_size, parse_kexec_crash_loaded, parse_cma_ranges]
)
@settings(max_examples=200, deadline=None)
@given(
    data=st.one_of(
        st.text(max_size=80),
        st.binary(max_size=80).map(lambda b: b.decode("utf-8", "surrogateescape")),
    )
)
def test_property_any_input_parses_or_raises_source_error(parser: object, data: str) -> None:
    """For any text or surrogate-escaped bytes, each sysfs parser returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        parser(data)  # type: ignore[operator]


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, (1 << 64) - 1), st.integers(0, (1 << 64) - 1)), max_size=4)
)
def test_property_printed_ranges_read_back(pairs: list[tuple[int, int]]) -> None:
    """Ranges printed as '%08llx-%08llx\\n' (inclusive end) read back as [start, end + 1)."""
    ranges = [(min(a, b), max(a, b)) for a, b in pairs]
    text = "".join(f"{s:08x}-{e:08x}\n" for s, e in ranges)
    assert parse_cma_ranges(text) == tuple(MemRange(s, e + 1) for s, e in ranges)
