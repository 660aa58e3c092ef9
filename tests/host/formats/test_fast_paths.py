"""The fast readings facts use give the same values as the full parsers, and never guess."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashplan.errors import SourceError
from crashplan.host.formats.iomem import parse_iomem
from crashplan.host.formats.zoneinfo import parse_zoneinfo

HOSTS = Path(__file__).parents[2] / "data" / "hosts"
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


def test_iomem_checks_every_line():
    """A garbled line inside a PCI subtree is an error naming its line (there is one reading)."""
    text = (HOSTS / "lore-x86-hpe-xeon-32g-crash-low256m-high512m/proc/iomem").read_text()
    broken = text.replace(" : PCI Bus 0000:00", " - PCI Bus 0000:00", 1)
    with pytest.raises(SourceError) as info:
        parse_iomem(broken)
    assert info.value.line == text[: text.index(" : PCI Bus 0000:00")].count("\n") + 1


def test_zoneinfo_fast_path_reads_real_captures_fast():
    """Every real capture is in the kernel's layout: the fast reading takes it, nothing falls back."""
    from crashplan.host.formats.zoneinfo import _parse_sizes

    for path in ZONEINFO:
        assert _parse_sizes(path.read_text()) is not None, path


def test_zoneinfo_counters_false_keeps_no_counters():
    """counters=False gives empty stats on both readings (fast, and line by line after a fallback)."""
    from crashplan.host.formats.zoneinfo import _parse_sizes

    text = (HOSTS / "qemu-x86_64-4g-no-crashkernel/proc/zoneinfo").read_text()
    edited = text.replace("Node 0, zone      DMA", "Node 0, zone  DMA ", 1)
    assert _parse_sizes(text) is not None and _parse_sizes(edited) is None
    fast = parse_zoneinfo(text, counters=False)
    slow = parse_zoneinfo(edited, counters=False)
    assert all(not z.stats for z in fast.zones) and all(not z.stats for z in slow.zones)
    assert not fast.node_stats and not slow.node_stats
    assert _sizes(fast) == _sizes(slow)


@pytest.mark.parametrize(
    ("target", "duplicate"),
    [
        ("        managed  3840\n", "        managed  3840\n        managed  3841\n"),
        ("  pages free     3712\n", "  pages free     3712\n  pages free     3712\n"),
        ("  start_pfn:           1\n", "  start_pfn:           1\n  start_pfn:           2\n"),
        ("        protection: (0, 2948, 3898, 3898, 3898)\n",
         "        protection: (0, 2948, 3898, 3898, 3898)\n        protection: (0, 1, 2, 3, 4)\n"),
    ],
    ids=["managed", "pages-free", "start_pfn", "protection"],
)
def test_zoneinfo_size_line_twice_is_an_error(target, duplicate):
    """The kernel prints each size line once per zone; a second one is an error naming its line."""
    text = (HOSTS / "qemu-x86_64-4g-no-crashkernel/proc/zoneinfo").read_text()
    assert target in text
    broken = text.replace(target, duplicate, 1)
    with pytest.raises(SourceError, match="second") as info:
        parse_zoneinfo(broken)
    assert info.value.line == text[: text.index(target)].count("\n") + 2


@pytest.mark.parametrize(
    "edit",
    [
        ("        managed  3840\n", "      managed 3840\n"),  # another indentation: read by the full parser
        ("        cma      0\n", "        cma:     0\n"),
        ("Node 0, zone    DMA32\n", "Node 0, zone    DMA32 \n"),
        ("Node 0, zone    DMA32\n", "Xode 0, zone    DMA32\n"),
    ],
    ids=["managed-indent", "cma-colon", "header-space", "header-garbled"],
)
def test_zoneinfo_fast_path_never_guesses(edit):
    """An edited line the fast reading cannot vouch for sends the text to the full reading."""
    from crashplan.host.formats.zoneinfo import _parse_sizes

    text = (HOSTS / "qemu-x86_64-4g-no-crashkernel/proc/zoneinfo").read_text()
    assert edit[0] in text
    edited = text.replace(edit[0], edit[1], 1)
    assert _parse_sizes(edited) is None
    try:
        full = parse_zoneinfo(edited)
    except SourceError:
        return
    assert _sizes(parse_zoneinfo(edited, counters=False)) == _sizes(full)



def _qemu_zoneinfo() -> str:
    return (HOSTS / "qemu-x86_64-4g-no-crashkernel/proc/zoneinfo").read_text()


@pytest.mark.parametrize(
    "edit",
    [
        ("  start_pfn:           1\n", "   start_pfn:          1\n"),
        ("  start_pfn:           1\n", "  start_pfn            1\n"),
        ("  start_pfn:           1\n", "  start_pfn:           1\n      start_pfn 7\n"),
    ],
    ids=["indent", "no-colon", "counter-form"],
)
def test_zoneinfo_start_pfn_in_another_form_is_read_line_by_line(edit):
    """Any start_pfn not in the kernel's exact form sends the text to the full reading."""
    from crashplan.host.formats.zoneinfo import _parse_sizes

    text = _qemu_zoneinfo()
    edited = text.replace(*edit, 1)
    assert _parse_sizes(text) is not None and _parse_sizes(edited) is None
    try:
        full = parse_zoneinfo(edited)
    except SourceError:
        return
    assert _sizes(parse_zoneinfo(edited, counters=False)) == _sizes(full)


def test_zoneinfo_start_pfn_belongs_to_the_zone_it_is_in():
    """A start_pfn moved from a populated zone into an unpopulated one is that zone's, as line by line.

    The kernel prints start_pfn only for populated zones, but the fast reading does not count on
    it: it places each start_pfn by its position, never by the zones' order.
    """
    from crashplan.host.formats.zoneinfo import _parse_sizes

    text = _qemu_zoneinfo()
    moved = text.replace("  start_pfn:           1048576\n", "", 1).replace(
        "        protection: (0, 0, 0, 0, 0)\nNode 0, zone   Device",
        "        protection: (0, 0, 0, 0, 0)\n  start_pfn:           1048576\nNode 0, zone   Device",
        1,
    )
    assert moved.count("start_pfn") == text.count("start_pfn") and moved != text
    fast = _parse_sizes(moved)
    assert fast is not None
    assert _sizes(fast) == _sizes(parse_zoneinfo(moved))
    starts = {z.name: z.zone_start_pfn for z in fast.zones}
    assert starts["Normal"] is None and starts["Movable"] == 1048576


def test_zoneinfo_size_block_moved_to_the_next_zone_is_an_error():
    """A zone without its size lines and the next with two: both readings reject it, none guesses."""
    from crashplan.host.formats.zoneinfo import _parse_sizes

    text = _qemu_zoneinfo()
    dma = text.index("Node 0, zone      DMA\n")
    dma32 = text.index("Node 0, zone    DMA32\n")
    block_start = text.index("  pages free", dma)
    block_end = text.index("\n", text.index("        protection:", block_start)) + 1
    block = text[block_start:block_end]
    edited = text[:block_start] + text[block_end:dma32] + text[dma32:].replace("\n", "\n" + block, 1)
    assert edited.count("  pages free ") == text.count("  pages free ")
    assert _parse_sizes(edited) is None
    with pytest.raises(SourceError, match=r"second|no 'pages free'"):
        parse_zoneinfo(edited, counters=False)


BUDDYINFO = sorted(HOSTS.glob("*/proc/buddyinfo"))


@pytest.mark.parametrize("path", BUDDYINFO, ids=[p.parent.parent.name for p in BUDDYINFO])
def test_buddyinfo_fast_equals_line_by_line(path):
    """The column-wise reading gives what the line-by-line one gives, on every real capture."""
    from crashplan.host.formats.buddyinfo import _parse_lines, parse_buddyinfo

    text = path.read_text()
    assert parse_buddyinfo(text) == _parse_lines(text.splitlines(), "x")


def test_buddyinfo_fast_path_still_names_the_bad_line():
    from crashplan.host.formats.buddyinfo import parse_buddyinfo

    text = BUDDYINFO[0].read_text()
    lines = text.splitlines(keepends=True)
    lines[-1] = lines[-1].replace(" 0 ", " x ", 1) if " 0 " in lines[-1] else lines[-1].rstrip("\n") + " x\n"
    with pytest.raises(SourceError) as info:
        parse_buddyinfo("".join(lines))
    assert info.value.line == len(lines)


def test_build_columns_equals_the_constructor():
    """build_columns() makes objects equal (and hashing equal) to the dataclass constructor's."""
    from crashplan.host.formats.zoneinfo import Zone
    from crashplan.values import build_columns

    zones = parse_zoneinfo((HOSTS / "qemu-x86_64-4g-no-crashkernel/proc/zoneinfo").read_text()).zones
    names = Zone.__slots__
    built = build_columns(Zone, len(zones), {n: [getattr(z, n) for z in zones] for n in names})
    assert built == list(zones)
    assert [hash(z) for z in built] == [hash(z) for z in zones]
    with pytest.raises(TypeError):
        build_columns(Zone, 1, {"node": [0]})
    with pytest.raises(ValueError):
        build_columns(Zone, 2, {n: [getattr(zones[0], n)] for n in names})


MEMINFO = sorted(HOSTS.glob("*/proc/meminfo"))


@pytest.mark.parametrize("path", MEMINFO, ids=[p.parent.parent.name for p in MEMINFO])
def test_meminfo_fast_equals_line_by_line(path):
    """Every real capture is read in two regular-expression passes, to what the line-by-line reading gives."""
    from crashplan.host.formats.meminfo import _read_fast, _read_lines

    text = path.read_text()
    fast = _read_fast(text)
    assert fast is not None
    assert fast == _read_lines(text, "x")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("MemTotal:", "MemTotal:       1 kB\nMemTotal:"), "appears twice"),
        ((" kB\nMemFree:", "\nMemFree:"), "has no 'kB' unit"),
        (("MemFree:", "Mem Free:"), "expected 'Name: value"),
    ],
    ids=["twice", "cut-short", "space-in-name"],
)
def test_meminfo_fast_path_falls_back_to_the_named_line(edit, message):
    from crashplan.host.formats.meminfo import parse_meminfo

    text = (HOSTS / "qemu-x86_64-4g-no-crashkernel/proc/meminfo").read_text()
    broken = text.replace(*edit, 1)
    assert broken != text
    with pytest.raises(SourceError, match=message) as info:
        parse_meminfo(broken)
    assert info.value.line is not None
