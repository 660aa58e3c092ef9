"""Tests for crashplan.host.formats.buddyinfo against real /proc/buddyinfo captures."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.buddyinfo import BuddyInfo, BuddyZone, parse_buddyinfo

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"
PAGE = 4096


def read(host: str) -> str:
    """The host's /proc/buddyinfo, byte-exact."""
    return (HOSTS / host / "proc" / "buddyinfo").read_bytes().decode("utf-8", "surrogateescape")


# host, zone names, DMA32 counts per order (read off the files).
SAMPLES = [
    (
        "coreos-ocp-master-vm",
        ("DMA", "DMA32", "Normal"),
        (170, 66, 58, 60, 26, 17, 10, 12, 7, 7, 111),
    ),
    (
        "twaite-desktop-8g",
        ("DMA", "DMA32", "Normal"),
        (7, 6, 4, 8, 5, 4, 5, 9, 7, 2, 800),
    ),
    (
        "vivianchen-qemu-nonroot",
        ("DMA", "DMA32"),
        (33, 11, 4, 1, 3, 3, 1, 2, 3, 7, 351),
    ),
    (
        "this-machine-x86_64-6.18.44-fc-v657",
        ("DMA", "DMA32", "Normal"),
        None,
    ),
]


@pytest.mark.parametrize(("host", "zones", "dma32"), SAMPLES)
def test_real_capture_zones(
    host: str, zones: tuple[str, ...], dma32: tuple[int, ...] | None
) -> None:
    """Each capture lists its zones of node 0 with 11 orders, and the known DMA32 counts."""
    b = parse_buddyinfo(read(host), path=host)
    assert tuple(z.zone for z in b.zones) == zones
    assert {z.node for z in b.zones} == {0}
    assert {len(z.free) for z in b.zones} == {11}
    if dma32 is not None:
        zone = b.get(0, "DMA32")
        assert zone is not None and zone.free == dma32


def test_free_bytes_and_largest_block() -> None:
    """The twaite DMA32 zone has 800 free 4 MiB blocks, its largest contiguous free size."""
    zone = parse_buddyinfo(read("twaite-desktop-8g")).get(0, "DMA32")
    assert zone is not None
    assert zone.largest_order == 10
    assert zone.largest_block_bytes(PAGE) == 4 << 20
    assert zone.free_pages == sum(c << o for o, c in enumerate((7, 6, 4, 8, 5, 4, 5, 9, 7, 2, 800)))
    assert zone.free_bytes(PAGE) == zone.free_pages * PAGE
    assert BuddyZone(0, "DMA", (0, 0)).largest_order is None
    assert parse_buddyinfo(read("twaite-desktop-8g")).get(1, "DMA32") is None


def test_error_truncated_mid_line() -> None:
    """A capture cut inside its last line is reported as truncated."""
    text = read("coreos-ocp-master-vm")
    with pytest.raises(SourceError) as info:
        parse_buddyinfo(text[:-20], path="b")
    assert str(info.value) == "b:3: last line is not terminated by a newline (file truncated?)"


def test_error_count_not_a_number() -> None:
    """A garbled count is quoted."""
    text = read("coreos-ocp-master-vm").replace("    111 ", "    1x1 ")
    with pytest.raises(SourceError) as info:
        parse_buddyinfo(text, path="b")
    assert str(info.value) == "b:2: free-block count '1x1' is not a decimal number"


def test_error_orders_differ() -> None:
    """A line with fewer orders than the first one is rejected."""
    lines = read("vivianchen-qemu-nonroot").split("\n")
    lines[1] = lines[1].rsplit("  ", 1)[0]
    with pytest.raises(SourceError) as info:
        parse_buddyinfo("\n".join(lines), path="b")
    assert str(info.value) == "b:2: 10 orders where line 1 has 11"


def test_error_bad_header() -> None:
    """A line that does not start with 'Node N, zone NAME' is quoted."""
    with pytest.raises(SourceError) as info:
        parse_buddyinfo("Node x, zone DMA 1 2\n", path="b")
    assert (
        str(info.value) == "b:1: expected 'Node N, zone NAME count...', got 'Node x, zone DMA 1 2'"
    )


def test_error_empty_file() -> None:
    """An empty capture is an error."""
    with pytest.raises(SourceError) as info:
        parse_buddyinfo("\n", path="b")
    assert str(info.value) == "b:1: empty file: expected 'Node N, zone NAME ...' lines"


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_any_text_parses_or_raises_source_error(text: str) -> None:
    """For any text, parse_buddyinfo returns a BuddyInfo or raises SourceError."""
    with contextlib.suppress(SourceError):
        assert isinstance(parse_buddyinfo(text), BuddyInfo)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_property_any_bytes_parse_or_raise_source_error(data: bytes) -> None:
    """For any bytes decoded with surrogateescape, parse_buddyinfo returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        parse_buddyinfo(data.decode("utf-8", "surrogateescape"))


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 1 << 40), min_size=1, max_size=14), st.integers(0, 1024))
def test_property_frag_show_print_output_reads_back(counts: list[int], node: int) -> None:
    """Any line printed like frag_show_print() ("Node %d, zone %8s " + "%6lu " each) reads back."""
    line = f"Node {node}, zone {'Normal':>8s} " + "".join(f"{c:6d} " for c in counts) + "\n"
    assert parse_buddyinfo(line).zones == (BuddyZone(node, "Normal", tuple(counts)),)
