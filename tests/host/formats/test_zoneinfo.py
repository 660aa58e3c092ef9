"""Tests for crashplan.host.formats.zoneinfo against real /proc/zoneinfo captures (3.2 to 6.18 kernels)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.zoneinfo import ZoneInfo, parse_zoneinfo
from crashplan.values import MemRange

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"
PAGE = 4096


def read(host: str) -> str:
    """The host's /proc/zoneinfo, byte-exact."""
    return (HOSTS / host / "proc" / "zoneinfo").read_bytes().decode("utf-8", "surrogateescape")


# host, per zone: (name, spanned, present, managed, start_pfn) -- read off the files.
SAMPLES = [
    (
        "coreos-ocp-master-vm",
        [
            ("DMA", 4095, 3999, 3977, 1),
            ("DMA32", 1044480, 1011520, 995127, 4096),
            ("Normal", 1081344, 1081344, 1042033, 1048576),
            ("Movable", 0, 0, 0, None),
            ("Device", 0, 0, 0, None),
        ],
    ),
    (
        "twaite-desktop-8g",
        [
            ("DMA", 4080, 3900, None, 16),
            ("DMA32", 1044480, 828852, None, 4096),
            ("Normal", 1236992, 1217664, None, 1048576),
        ],
    ),
    (
        "vivianchen-qemu-nonroot",
        [
            ("DMA", 4095, 3998, 3977, 1),
            ("DMA32", 520157, 520157, 503582, 4096),
            ("Normal", 0, 0, 0, None),
            ("Movable", 0, 0, 0, None),
            ("Device", 0, 0, 0, None),
        ],
    ),
    (
        "this-machine-x86_64-6.18.44-fc-v657",
        [
            ("DMA", 4095, 3998, 3840, 1),
            ("DMA32", 1044480, 782336, 772917, 4096),
            ("Normal", 5505024, 5505024, 720896, 1048576),
            ("Movable", 0, 0, 0, None),
            ("Device", 0, 0, 0, None),
        ],
    ),
]


@pytest.mark.parametrize(("host", "zones"), SAMPLES)
def test_real_capture_zones(
    host: str, zones: list[tuple[str, int, int, int | None, int | None]]
) -> None:
    """Each capture yields its zones with spanned/present/managed pages and start_pfn as printed."""
    z = parse_zoneinfo(read(host), path=host)
    assert [
        (x.name, x.spanned_pages, x.present_pages, x.managed_pages, x.zone_start_pfn)
        for x in z.zones
    ] == zones
    assert {x.node for x in z.zones} == {0}


def test_old_kernel_has_no_managed_and_no_per_node_stats() -> None:
    """The 3.2 capture has no 'managed' or 'cma' line (None) and keeps its zone counters per zone."""
    z = parse_zoneinfo(read("twaite-desktop-8g"))
    dma = z.get(0, "DMA")
    assert dma is not None
    assert (dma.managed_pages, dma.cma_pages) == (None, None)
    assert dma.stats["scanned"] == 0
    assert dma.stats["nr_free_pages"] == 3960
    assert dma.protection == (0, 3237, 7994, 7994)
    assert dma.stats["inactive_ratio"] == 1
    assert dict(z.node_stats) == {}


def test_new_kernel_fields_and_node_stats() -> None:
    """The 6.18 capture has boost/promo watermarks, a cma line and per-node stats under node 0."""
    z = parse_zoneinfo(read("this-machine-x86_64-6.18.44-fc-v657"))
    dma32 = z.get(0, "DMA32")
    assert dma32 is not None
    assert dma32.cma_pages == 0
    assert (dma32.min_wmark_pages, dma32.low_wmark_pages, dma32.high_wmark_pages) == (
        8719,
        10898,
        13077,
    )
    assert dma32.stats["promo"] == 15256
    assert dma32.span(PAGE) == MemRange(0x1000000, 0x100000000)
    assert z.node_stats[0]["pgdemote_kswapd"] == 0
    assert "high_min" not in dma32.stats  # pageset lines are skipped
    movable = z.get(0, "Movable")
    assert movable is not None and not movable.populated and movable.span(PAGE) is None


def test_rhel8_counter_with_empty_name_is_skipped() -> None:
    """The RHEL 8.0 capture's bare-number counter line is skipped and its neighbours kept."""
    z = parse_zoneinfo(read("coreos-ocp-master-vm"))
    assert z.node_stats[0]["nr_written"] == 260861
    assert "" not in z.node_stats[0]
    assert len(z.node_stats[0]) == 27


def test_byte_helpers_use_the_given_page_size() -> None:
    """Byte helpers multiply pages by the page size passed in."""
    normal = parse_zoneinfo(read("coreos-ocp-master-vm")).get(0, "Normal")
    assert normal is not None
    assert normal.present_bytes(PAGE) == 1081344 * PAGE
    assert normal.managed_bytes(PAGE) == 1042033 * PAGE
    assert normal.spanned_bytes(65536) == 1081344 * 65536
    assert normal.free_bytes(PAGE) == 10852 * PAGE
    assert normal.cma_bytes(PAGE) is None
    assert normal.span(PAGE) == MemRange(4 << 30, (4 << 30) + 1081344 * PAGE)


def test_error_truncated_mid_line() -> None:
    """A capture cut inside its last line is reported as truncated."""
    text = read("vivianchen-qemu-nonroot")
    with pytest.raises(SourceError) as info:
        parse_zoneinfo(text[:-3], path="z")
    assert str(info.value) == "z:145: last line is not terminated by a newline (file truncated?)"


def test_error_zone_cut_short() -> None:
    """A capture cut after a zone header (at a line boundary) misses the zone's required lines."""
    text = read("vivianchen-qemu-nonroot")
    cut = text[: text.index("Node 0, zone    DMA32") + len("Node 0, zone    DMA32\n")]
    with pytest.raises(SourceError) as info:
        parse_zoneinfo(cut, path="z")
    assert (
        str(info.value) == "z:79: zone DMA32 of node 0 has no 'pages free' line (file cut short?)"
    )


def test_error_bad_number() -> None:
    """A garbled counter value is quoted with its name."""
    text = read("twaite-desktop-8g").replace("spanned  4080", "spanned  40#0")
    with pytest.raises(SourceError) as info:
        parse_zoneinfo(text, path="z")
    assert str(info.value) == "z:7: value of 'spanned' is not a decimal number: '40#0'"


def test_error_bad_header() -> None:
    """A malformed zone header is quoted."""
    text = read("twaite-desktop-8g").replace("Node 0, zone    DMA32", "Node 0 zone DMA32")
    with pytest.raises(SourceError) as info:
        parse_zoneinfo(text, path="z")
    assert str(info.value) == "z:87: expected 'Node N, zone NAME', got 'Node 0 zone DMA32'"


def test_error_text_before_first_header() -> None:
    """Counter lines before any 'Node N, zone NAME' header have no zone."""
    with pytest.raises(SourceError) as info:
        parse_zoneinfo("  pages free     3960\n", path="z")
    assert (
        str(info.value) == "z:1: expected a 'Node N, zone NAME' header, got '  pages free     3960'"
    )


def test_error_bad_protection() -> None:
    """A garbled protection tuple is rejected."""
    text = read("twaite-desktop-8g").replace("(0, 3237, 7994, 7994)", "(0, 3237, 7x94, 7994)")
    with pytest.raises(SourceError) as info:
        parse_zoneinfo(text, path="z")
    assert str(info.value) == "z:42: protection value '7x94' is not a number"


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_any_text_parses_or_raises_source_error(text: str) -> None:
    """For any text, parse_zoneinfo returns a ZoneInfo or raises SourceError."""
    with contextlib.suppress(SourceError):
        assert isinstance(parse_zoneinfo(text), ZoneInfo)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_property_any_bytes_parse_or_raise_source_error(data: bytes) -> None:
    """For any bytes decoded with surrogateescape, parse_zoneinfo returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        parse_zoneinfo(data.decode("utf-8", "surrogateescape"))


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(read("coreos-ocp-master-vm").split("\n")[:-1]), min_size=1, max_size=60
    )
)
def test_property_shuffled_real_lines_parse_or_raise_source_error(lines: list[str]) -> None:
    """Real zoneinfo lines in any order give a ZoneInfo or a SourceError."""
    with contextlib.suppress(SourceError):
        parse_zoneinfo("\n".join(lines) + "\n")
