"""Tests for crashplan.host.formats.meminfo against real /proc/meminfo captures."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.meminfo import Meminfo, parse_meminfo

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"
KiB = 1024
MiB = 1 << 20


def read(host: str) -> str:
    """The host's /proc/meminfo, byte-exact."""
    return (HOSTS / host / "proc" / "meminfo").read_bytes().decode("utf-8", "surrogateescape")


# host, MemTotal kB, MemAvailable kB (None: not printed), CmaTotal kB, HugePages_Total,
# Hugepagesize kB, DirectMap1G kB, number of lines -- read off the files.
SAMPLES = [
    ("arm64-rpi4-4g-cma512m", 3882988, 3412232, 524288, None, None, None, 41),
    ("coreos-ocp-master-vm", 8164548, 1950080, None, 0, 2048, 5242880, 47),
    ("twaite-desktop-8g", 8133452, None, None, 0, 2048, None, 42),
    ("vivianchen-qemu-nonroot", 2030236, 1621752, None, 0, 2048, None, 50),
    ("this-machine-x86_64-6.18.44-fc-v657", 24684092, 24341788, None, 0, 2048, 25165824, 54),
]


@pytest.mark.parametrize(
    ("host", "total", "available", "cma", "huge_total", "huge_size", "direct_1g", "lines"), SAMPLES
)
def test_real_capture_values(
    host: str,
    total: int,
    available: int | None,
    cma: int | None,
    huge_total: int | None,
    huge_size: int | None,
    direct_1g: int | None,
    lines: int,
) -> None:
    """Each capture's counters come out in bytes (kB x 1024), counts as counts, absent ones None."""
    m = parse_meminfo(read(host), path=host)
    assert m.mem_total == total * KiB
    assert m.mem_available == (None if available is None else available * KiB)
    assert m.cma_total == (None if cma is None else cma * KiB)
    assert m.hugepages_total == huge_total
    assert m.hugepagesize == (None if huge_size is None else huge_size * KiB)
    assert m.direct_map_1g == (None if direct_1g is None else direct_1g * KiB)
    assert len(m.fields) == lines


def test_rpi4_cma_is_512m() -> None:
    """The RPi 4 capture (leading space on its first line) has 512 MiB of CMA, 492256 kB free."""
    m = parse_meminfo(read("arm64-rpi4-4g-cma512m"))
    assert m.cma_total == 512 * MiB
    assert m.cma_free == 492256 * KiB
    assert m.fields["MemTotal"] == 3882988 * KiB


def test_old_kernel_lacks_mem_available() -> None:
    """The 3.2 kernel capture has no MemAvailable line, so mem_available is None, not 0."""
    m = parse_meminfo(read("twaite-desktop-8g"))
    assert m.mem_available is None
    assert "MemAvailable" not in m.fields
    assert m.fields["Active(anon)"] == 75684 * KiB


def test_unknown_fields_are_kept() -> None:
    """Counters without an attribute stay available under their kernel name."""
    m = parse_meminfo(read("this-machine-x86_64-6.18.44-fc-v657"))
    assert m.fields["Balloon"] == 0
    assert "SecPageTables" in m.fields
    assert m.fields["HugePages_Surp"] == 0


def _replace_line(text: str, lineno: int, new: str) -> str:
    lines = text.split("\n")
    lines[lineno - 1] = new
    return "\n".join(lines)


COREOS = "coreos-ocp-master-vm"


def test_error_truncated_mid_line() -> None:
    """A capture cut inside its last value is reported as truncated at that line."""
    text = read(COREOS)
    with pytest.raises(SourceError) as info:
        parse_meminfo(text[: text.index("DirectMap1G:") + 16], path="m")
    assert str(info.value) == "m:47: last line is not terminated by a newline (file truncated?)"


def test_error_kb_counter_without_unit() -> None:
    """A kB counter that lost its unit is reported as cut short."""
    text = _replace_line(read(COREOS), 2, "MemFree:          851960")
    with pytest.raises(SourceError) as info:
        parse_meminfo(text, path="m")
    assert str(info.value) == "m:2: MemFree has no 'kB' unit (line cut short?)"


def test_error_not_a_number() -> None:
    """A value that is not a decimal number is quoted."""
    text = _replace_line(read(COREOS), 3, "MemAvailable:    19x0080 kB")
    with pytest.raises(SourceError) as info:
        parse_meminfo(text, path="m")
    assert str(info.value) == "m:3: value of MemAvailable is not a decimal number: '19x0080'"


@pytest.mark.parametrize("line", ["MemTotal:       99999999999999999999 kB", "MemTotal:       18014398509481984 kB"])
def test_error_value_past_64_bits(line: str) -> None:
    """A counter whose bytes do not fit in 64 bits is an error naming its line, not 88817.8 EiB of RAM."""
    text = _replace_line(read(COREOS), 1, line)
    with pytest.raises(SourceError) as info:
        parse_meminfo(text, path="m")
    assert str(info.value) == "m:1: MemTotal does not fit in 64 bits (in bytes)"


def test_error_unknown_unit() -> None:
    """A unit other than kB is an error, not a guess."""
    text = _replace_line(read(COREOS), 1, "MemTotal:        8164548 MB")
    with pytest.raises(SourceError) as info:
        parse_meminfo(text, path="m")
    assert str(info.value) == "m:1: unsupported unit 'MB' for MemTotal (expected 'kB')"


def test_error_line_without_colon() -> None:
    """A line without 'Name:' is quoted."""
    text = _replace_line(read(COREOS), 4, "Buffers            4304 kB")
    with pytest.raises(SourceError) as info:
        parse_meminfo(text, path="m")
    assert str(info.value) == "m:4: expected 'Name: value [kB]', got 'Buffers            4304 kB'"


def test_error_duplicate_counter() -> None:
    """Two concatenated captures are caught by the first repeated counter."""
    text = read(COREOS)
    with pytest.raises(SourceError) as info:
        parse_meminfo(text + text, path="m")
    assert str(info.value) == "m:48: MemTotal appears twice"


def test_error_zeroed_bytes() -> None:
    """A real capture whose first line was overwritten with NUL bytes is rejected at line 1."""
    text = read(COREOS)
    first = text.index("\n")
    zeroed = "\0" * first + text[first:]
    with pytest.raises(SourceError) as info:
        parse_meminfo(zeroed, path="m")
    assert str(info.value) == "m:1: expected 'Name: value [kB]', got " + repr("\0" * first)


def test_error_empty_file() -> None:
    """An empty capture is an error."""
    with pytest.raises(SourceError) as info:
        parse_meminfo("", path="m")
    assert str(info.value) == "m:1: empty file: expected 'Name: value kB' lines"


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_any_text_parses_or_raises_source_error(text: str) -> None:
    """For any text, parse_meminfo returns a Meminfo or raises SourceError."""
    with contextlib.suppress(SourceError):
        assert isinstance(parse_meminfo(text), Meminfo)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_property_any_bytes_parse_or_raise_source_error(data: bytes) -> None:
    """For any bytes decoded with surrogateescape, parse_meminfo returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        parse_meminfo(data.decode("utf-8", "surrogateescape"))


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z][A-Za-z0-9_()]{0,15}", fullmatch=True).filter(
            lambda k: not k.startswith("HugePages_")
        ),
        st.integers(0, 1 << 50),
        min_size=1,
        max_size=20,
    )
)
def test_property_kb_lines_convert_to_bytes(values: dict[str, int]) -> None:
    """Any set of 'Name: N kB' lines reads back as N * 1024 under each name."""
    text = "".join(f"{k}: {v:>8} kB\n" for k, v in values.items())
    assert dict(parse_meminfo(text).fields) == {k: v * 1024 for k, v in values.items()}
