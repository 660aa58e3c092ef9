"""The placement model: memblock's searches, the reservation paths, CMA halving, uncertainty.

The real kernel checks the same model in tests/kernel/ (42 booted scenarios); these tests pin
the rules on real captures and against brute force.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.host.facts import gather_facts
from crashplan.host.sources import open_source
from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import features_for
from crashplan.kernel.memblock import FreeMap, build_layout, memmap_holes
from crashplan.kernel.placement import assess, place
from crashplan.planning.simulate import layout_from_facts, simulate, simulation_to_json
from crashplan.units import GiB, MiB
from crashplan.values import MemRange

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
QEMU = HOSTS / "qemu-x86_64-4g-no-crashkernel"
HPE = HOSTS / "lore-x86-hpe-xeon-32g-crash-low256m-high512m"


def _sim(host: Path, spec: str):
    return simulate(gather_facts(open_source(host)), spec)


def _brute_top_down(ranges, size, align, start, end):
    best = 0
    start = max(start, 4096)
    for s, e in ranges:
        s, e = max(s, start), min(e, end)
        cand = (e - size) // align * align if e >= size else -1
        while cand >= s and cand >= 0:
            if cand + size <= e:
                best = max(best, cand)
                break
            cand -= align
    return best


@pytest.mark.property
@settings(max_examples=300)
@given(
    st.lists(st.tuples(st.integers(0, 200), st.integers(1, 50)), min_size=1, max_size=12),
    st.integers(1, 60),
    st.sampled_from([1, 2, 4, 16]),
    st.integers(0, 100),
    st.integers(0, 300),
)
def test_top_down_matches_brute_force(pieces, size, align, lo, hi):
    """The top-down search returns the highest aligned base that fits, as a brute force does."""
    unit = 1 << 20
    ranges = []
    cursor = 0
    for gap, length in pieces:
        start = cursor + gap
        ranges.append((start * unit, (start + length) * unit))
        cursor = start + length
    free = FreeMap(list(ranges))
    got = free.top_down(size * unit, align * unit, lo * unit, hi * unit)
    assert got == _brute_top_down(ranges, size * unit, align * unit, lo * unit, hi * unit)


def test_reserve_splits_ranges():
    """Reserving inside, across and around free ranges leaves exactly the rest."""
    free = FreeMap([(0, 100), (200, 300), (400, 500)])
    free.reserve(50, 250)
    free.reserve(450, 600)
    assert free.ranges == [(0, 50), (250, 300), (400, 450)]


def test_existing_reservation_is_free_again():
    """The HPE host's current Crash kernel regions do not block a new reservation there."""
    sim = _sim(HPE, "crashkernel=512M,high")
    high = sim.assessment.placement.area("crashkernel")[0]
    low = sim.assessment.placement.area("crashkernel-low")[0]
    old_low, old_high = sim.facts.crash_regions
    assert high.start < old_high.end and old_high.start < high.end  # overlaps the old area
    assert (low.start, low.end) == (old_low.start, old_low.end) == (0x69000000, 0x79000000)


def test_plain_falls_back_high_with_default_low():
    """A size that the low 4 GiB cannot hold goes above 4 GiB with a 256 MiB low area (x86)."""
    sim = _sim(HPE, "crashkernel=4G")
    names = [r.name for r in sim.assessment.placement.reservations]
    assert names == ["crashkernel", "crashkernel-low"]
    assert sim.assessment.placement.area("crashkernel")[0].start >= 4 * GiB


def test_fixed_offset_fails_on_kernel_image():
    """@16M collides with the nokaslr kernel image: 'memory is in use', no fall-back."""
    sim = _sim(QEMU, "crashkernel=256M@16M")
    assert sim.assessment.placement.kernel_log == ("crashkernel reservation failed - memory is in use.",)
    assert sim.assessment.verdicts[0].verdict == "never"


def test_cma_halving_and_cap():
    """CMA halves on failure, keeps partial results and stops at 4 ranges."""
    ram = (MemRange(1 << 20, 512 * MiB), *(MemRange(4 * GiB + i * GiB, 4 * GiB + i * GiB + 300 * MiB) for i in range(6)))
    layout = build_layout("x86_64", ram, kernel_image=MemRange(16 * MiB, 64 * MiB), kaslr=False)
    d = decide("crashkernel=2G,cma crashkernel=64M", sum(r.size for r in ram), features_for("x86_64"))
    p = place(d, layout)
    cma = p.area("crashkernel-cma")
    assert [r.size for r in cma] == [256 * MiB] * 4
    assert [r.start for r in cma] == [4 * GiB + i * GiB for i in range(4)]  # bottom-up from 4 GiB
    assert p.kernel_log[1:4] == ("cma: Failed to reserve 2048 MiB", "cma: Failed to reserve 1024 MiB", "cma: Failed to reserve 512 MiB")
    assert p.kernel_log[-1] == "crashkernel CMA reservation failed: 2048 MB requested, 1024 MB reserved in 4 ranges"
    assert p.cma_reserved == 1 * GiB


def test_riscv_plain_fallback_hangs():
    """On riscv64 with all RAM below 4 GiB, a plain size that does not fit makes the kernel retry forever."""
    ram = (MemRange(0x80000000, 0x80000000 + 1 * GiB),)
    layout = build_layout("riscv64", ram, kernel_image=MemRange(0x80200000, 0x81800000), kaslr=False)
    d = decide("crashkernel=2000M", 4 * GiB, features_for("riscv64"))
    p = place(d, layout)
    assert p.hang and not p.ok


def test_kaslr_verdict_fits_some():
    """Under KASLR a size that needs the whole largest range only fits for some image positions."""
    ram = (MemRange(1 << 20, 2 * GiB),)
    image = MemRange(16 * MiB, 80 * MiB)
    layout = build_layout("x86_64", ram, kernel_image=image, kaslr=True)
    d = decide("crashkernel=1900M", 4 * GiB, features_for("x86_64"))
    a = assess(d, layout)
    assert a.verdicts[0].verdict == "fits-some"
    assert a.max_low < 1900 * MiB <= a.max_low_nominal
    assert not a.addresses_exact


def test_memmap_holes():
    """memmap=SIZE$ADDR (and ! and #) cut holes; other memmap forms are ignored."""
    assert memmap_holes(("memmap=512M$0x40000000,1G!0x100000000", "memmap=exactmap", "ro")) == (
        MemRange(0x40000000, 0x60000000),
        MemRange(0x100000000, 0x140000000),
    )


def test_layout_needs_root_capture():
    """A non-root capture has no addresses: placement refuses with a clear error."""
    facts = gather_facts(open_source(HOSTS / "vivianchen-qemu-nonroot"))
    with pytest.raises(Exception, match="placement needs a root capture"):
        layout_from_facts(facts)


def test_simulate_json_contract():
    """The simulate envelope carries reservations, the kernel log, verdicts and maximum sizes."""
    out = simulation_to_json(_sim(QEMU, "crashkernel=256M"))
    assert out["command"] == "simulate" and out["crashplan_result_version"] == 1
    assert out["reservations"] == [{"name": "crashkernel", "start": 0xAF000000, "end": 0xBF000000, "size": 256 * MiB}]
    assert out["kernel_log"] == ["crashkernel reserved: 0x00000000af000000 - 0x00000000bf000000 (256 MB)"]
    assert out["addresses"] == "exact" and out["verdicts"][0]["verdict"] == "fits"
    assert set(out["max_size"]) == {"low", "high"}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crashplan", *args], capture_output=True, text=True, check=False)


def test_cli_simulate_text_and_exit_codes():
    """simulate draws the map; a non-root source and a syntax error exit 3 with one clear line."""
    p = _cli("simulate", "crashkernel=1G,cma", "crashkernel=128M", "--source", str(QEMU))
    assert p.returncode == 0 and "physical memory map:" in p.stdout and "crashkernel CMA reserved" in p.stdout
    p = _cli("simulate", "512M", "--source", str(HOSTS / "vivianchen-qemu-nonroot"))
    assert p.returncode == 3 and p.stderr.startswith("crashplan: error: placement needs a root capture")
    p = _cli("simulate", "512MB", "--source", str(QEMU), "--format", "json")
    assert p.returncode == 3 and json.loads(p.stdout)["status"] == "error"
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("host", sorted(p.name for p in HOSTS.iterdir() if p.is_dir()))
def test_simulate_every_root_host(host):
    """Every root capture simulates the distro-style default without error, and predicted areas lie in RAM."""
    facts = gather_facts(open_source(HOSTS / host))
    if not facts.addresses_visible:
        pytest.skip("non-root capture")
    sim = simulate(facts, "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M")
    for r in sim.assessment.placement.reservations:
        assert any(m.start <= r.start and r.end <= m.end for m in sim.layout.ram)
