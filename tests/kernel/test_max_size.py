"""simulate's "largest size that always fits" comes from the same search as the placement, per arch.

For every real capture with addresses (and variants derived from them: a 1 GiB s390x guest, the
x86 map read as ppc64le), the reported largest size is reserved by place() and one alignment
step more is not: the two answers can never disagree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crashplan.host.facts import gather_facts
from crashplan.host.sources import open_source
from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import features_for
from crashplan.kernel.placement import assess, place
from crashplan.planning.simulate import layout_from_facts
from crashplan.units import MiB

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
S390 = HOSTS / "lore-s390x-vm-2g-crash256m"


def _layout(host: Path, arch: str | None = None):
    facts = gather_facts(open_source(host), arch=arch)
    return facts, layout_from_facts(facts)


def _lands_low(facts, layout, size: int) -> bool:
    """crashkernel=SIZE is reserved in the low window with the image where it was."""
    d = decide(f"crashkernel={size}", facts.system_ram, features_for(layout.arch, facts.kernel_version))
    p = place(d, layout)
    return p.ok and p.reservations[0].start < layout.limits.low_max


def _with_addresses() -> list[str]:
    out = []
    for p in sorted(HOSTS.iterdir()):
        if (p / "proc").is_dir() and gather_facts(open_source(p)).addresses_visible:
            out.append(p.name)
    return out


@pytest.mark.parametrize("name", _with_addresses())
def test_largest_nominal_size_is_what_place_reserves(name: str) -> None:
    """With the image where the capture saw it, the largest low-window size places low and one step more does not."""
    facts, layout = _layout(HOSTS / name)
    a = assess(decide("crashkernel=64M", facts.system_ram, features_for(layout.arch)), layout)
    step = max(layout.rules.crash_align, MiB)
    best = a.max_low_nominal // step * step
    if best and best < facts.system_ram:
        assert _lands_low(facts, layout, best), (best >> 20)
    if best + step < facts.system_ram:
        assert not _lands_low(facts, layout, best + step), (best + step) >> 20


def _s390(tmp_path: Path, ram_end: int) -> Path:
    dest = tmp_path / "s390x"
    shutil.copytree(S390, dest)
    lines = (S390 / "proc" / "iomem").read_text().splitlines(keepends=True)
    (dest / "proc" / "iomem").write_text("".join([f"00000000-{ram_end - 1:08x} : System RAM\n", *(x for x in lines[1:] if x.startswith(" "))]))
    return dest


@pytest.mark.parametrize("ram_end", [1 << 30, 2 << 30, 3 << 30])
def test_s390_largest_size_agrees_with_verdicts(tmp_path: Path, ram_end: int) -> None:
    """s390 puts the area at or above its own size: the largest size fits, one MiB more is never."""
    facts, layout = _layout(_s390(tmp_path, ram_end))
    f = features_for("s390x")
    a = assess(decide("crashkernel=64M", facts.system_ram, f), layout)
    assert a.max_low == a.max_low_nominal and a.max_high == 0
    assert a.max_low <= ram_end // 2
    ok = assess(decide(f"crashkernel={a.max_low}", facts.system_ram, f), layout)
    assert [v.verdict for v in ok.verdicts] == ["fits"]
    over = assess(decide(f"crashkernel={a.max_low + MiB}", facts.system_ram, f), layout)
    assert [v.verdict for v in over.verdicts] == ["never"]


def test_s390_1g_guest_reports_512m(tmp_path: Path) -> None:
    """The 1 GiB s390x guest of issue 15: 512 MiB is the largest area, not 743 MiB."""
    facts, layout = _layout(_s390(tmp_path, 1 << 30))
    a = assess(decide("crashkernel=64M", facts.system_ram, features_for("s390x")), layout)
    assert a.max_low == 512 * MiB


def test_ppc_largest_size_is_the_extent_at_the_fixed_base() -> None:
    """powerpc reserves at get_crash_base() only: the largest size is the free extent there, and it fits."""
    host = HOSTS / "qemu-x86_64-4g-no-crashkernel"
    facts, layout = _layout(host, arch="ppc64le")
    f = features_for("ppc64le")
    a = assess(decide("crashkernel=64M", facts.system_ram, f), layout)
    assert a.max_high == 0 and a.max_low > 0
    ok = assess(decide(f"crashkernel={a.max_low}", facts.system_ram, f), layout)
    assert [v.verdict for v in ok.verdicts] == ["fits"]
    over = assess(decide(f"crashkernel={a.max_low + 4096}", facts.system_ram, f), layout)
    assert [v.verdict for v in over.verdicts] == ["never"]


@pytest.mark.parametrize("name", _with_addresses())
def test_largest_guaranteed_size_fits_wherever_the_image_lands(name: str) -> None:
    """The "always fits" figure is never contradicted by a verdict: that size fits for every image position tried."""
    facts, layout = _layout(HOSTS / name)
    f = features_for(layout.arch, facts.kernel_version)
    a = assess(decide("crashkernel=64M", facts.system_ram, f), layout)
    step = max(layout.rules.crash_align, MiB)
    for size, suffix in ((a.max_low, ""), (a.max_high, ",high")):
        size = size // step * step
        if not size or size >= facts.system_ram or (suffix and not f.has_high):
            continue
        got = assess(decide(f"crashkernel={size}{suffix}", facts.system_ram, f), layout)
        main = next(v for v in got.verdicts if v.name == "crashkernel")
        assert main.verdict == "fits", (name, size >> 20, suffix)
