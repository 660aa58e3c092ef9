"""The fast readings facts use give the same values as the full parsers, and never guess."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashplan.errors import SourceError
from crashplan.formats.iomem import parse_iomem
from crashplan.formats.zoneinfo import parse_zoneinfo

HOSTS = Path(__file__).parent.parent / "data" / "hosts"
ZONEINFO = sorted(HOSTS.glob("*/proc/zoneinfo"))
IOMEM = sorted(HOSTS.glob("*/proc/iomem"))


def _sizes(info):
    return [
        (z.node, z.name, z.free_pages, z.spanned_pages, z.present_pages, z.managed_pages, z.cma_pages,
         z.min_wmark_pages, z.low_wmark_pages, z.high_wmark_pages, z.zone_start_pfn, z.protection)
        for z in info.zones
    ]


@pytest.mark.parametrize("path", ZONEINFO, ids=[p.parent.parent.name for p in ZONEINFO])
def test_zoneinfo_sizes_fast_equals_full(path):
    """counters=False reads every zone's size lines exactly as the line-by-line parser does."""
    text = path.read_text()
    assert _sizes(parse_zoneinfo(text, counters=False)) == _sizes(parse_zoneinfo(text))


@pytest.mark.parametrize("garble", ["        spanned  40x95", "        spanned  ", "Nod 0, zone DMA"])
def test_zoneinfo_fast_path_falls_back_on_garbled_lines(garble):
    """A garbled size line or header is not guessed: the full parser names the line."""
    text = (HOSTS / "qemu-x86_64-4g-no-crashkernel/proc/zoneinfo").read_text()
    target = "        spanned  4095" if "spanned" in garble else "Node 0, zone      DMA"
    broken = text.replace(target, garble, 1)
    with pytest.raises(SourceError) as info:
        parse_zoneinfo(broken, counters=False)
    assert info.value.line is not None


@pytest.mark.parametrize("path", IOMEM, ids=[p.parent.parent.name for p in IOMEM])
def test_iomem_selected_subtrees(path):
    """subtrees= builds the named subtrees exactly and leaves the others childless."""
    text = path.read_text()
    full = parse_iomem(text)
    light = parse_iomem(text, subtrees=frozenset({"System RAM"}))
    assert [(r.start, r.end, r.name) for r in full.resources] == [(r.start, r.end, r.name) for r in light.resources]
    for a, b in zip(full.resources, light.resources, strict=True):
        assert b.children == (a.children if a.name == "System RAM" else ())


def test_iomem_selected_still_checks_every_line():
    """A garbled line inside a subtree that is not built is still an error."""
    text = (HOSTS / "lore-x86-hpe-xeon-32g-crash-low256m-high512m/proc/iomem").read_text()
    broken = text.replace(" : PCI Bus 0000:00", " - PCI Bus 0000:00", 1)
    with pytest.raises(SourceError):
        parse_iomem(broken, subtrees=frozenset({"System RAM"}))
