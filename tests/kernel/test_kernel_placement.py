"""crashplan's parser and placement model against a real booted Debian kernel.

For each scenario the capture boot (no crashkernel=) becomes the source and the boot with the
parameter is the truth.  Under nokaslr the predicted kernel log lines, reservations,
``kexec_crash_size`` and CMA ranges must equal the kernel's exactly; with KASLR, the sizes and
the verdicts.
"""

from __future__ import annotations

import re

import harness
import pytest
import scenarios

from crashplan.host.formats.cmdline import parse_cmdline
from crashplan.host.formats.dmesg import crash_log_lines, parse_dmesg
from crashplan.host.formats.iomem import crash_kernel, kernel_image, parse_iomem, system_ram
from crashplan.host.formats.sysfs import parse_cma_ranges, parse_kexec_crash_size
from crashplan.host.formats.zoneinfo import parse_zoneinfo
from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import features_for
from crashplan.kernel.placement import Assessment, assess, build_layout
from crashplan.values import MemRange

pytestmark = pytest.mark.kernel


def _nodes(boot: harness.Boot) -> tuple[MemRange, ...]:
    zones = parse_zoneinfo(boot.files["proc/zoneinfo"])
    spans: dict[int, list[int]] = {}
    for z in zones.zones:
        if z.spanned_pages and z.zone_start_pfn is not None:
            lo, hi = z.zone_start_pfn * 4096, (z.zone_start_pfn + z.spanned_pages) * 4096
            cur = spans.setdefault(z.node, [lo, hi])
            cur[0], cur[1] = min(cur[0], lo), max(cur[1], hi)
    return tuple(MemRange(a, b) for _, (a, b) in sorted(spans.items())) if len(spans) > 1 else ()


def predict(s: scenarios.Scenario, base: harness.Boot, truth_cmdline: str) -> tuple[Assessment, int]:
    """crashplan's prediction for the truth command line, from the capture boot alone."""
    iomem = parse_iomem(base.files["proc/iomem"])
    ram = system_ram(iomem)
    pieces = kernel_image(iomem)
    image = MemRange(min(r.start for r in pieces), max(r.end for r in pieces))
    args = parse_cmdline(base.files["proc/cmdline"]).args
    initrd = parse_dmesg(base.dmesg).initrd
    assert initrd is not None
    layout = build_layout(
        "x86_64",
        ram,
        kernel_image=image,
        kaslr="nokaslr" not in args,
        initrd=initrd,
        nodes=_nodes(base),
    )
    system = sum(r.size for r in ram)
    decision = decide(truth_cmdline, system, features_for("x86_64", base.kernel_release))
    return assess(decision, layout), system


def truth_of(boot: harness.Boot) -> dict[str, object]:
    """What the kernel really did in the truth boot."""
    iomem = parse_iomem(boot.files["proc/iomem"])
    regions = sorted((r.start, r.end) for r in crash_kernel(iomem))
    cma = sorted((r.start, r.end) for r in parse_cma_ranges(boot.files.get("sys/kernel/kexec_crash_cma_ranges", "")))
    return {
        "log": crash_log_lines(parse_dmesg(boot.dmesg)),
        "regions": regions,
        "cma": cma,
        "kexec_crash_size": parse_kexec_crash_size(boot.files["sys/kernel/kexec_crash_size"]),
    }


def _mask(line: str) -> str:
    return re.sub(r"0x[0-9a-f]+ - 0x[0-9a-f]+|at 0x[0-9a-f]+", "ADDR", line)


@pytest.mark.parametrize("s", scenarios.SCENARIOS, ids=[s.name for s in scenarios.SCENARIOS])
def test_scenario(s: scenarios.Scenario, booted: dict, kernel: harness.Kernel) -> None:
    """crashplan predicts the kernel's outcome, sizes, windows, CMA ranges and log lines."""
    base = booted[(s.ram, s.base_append(), s.numa)]
    truth_boot = booted[(s.ram, s.truth_append(), s.numa)]
    assessment, _ = predict(s, base, truth_boot.files["proc/cmdline"].strip())
    p = assessment.placement
    truth = truth_of(truth_boot)
    predicted_regions = sorted((r.start, r.end) for r in p.reservations if r.name != "crashkernel-cma")
    predicted_cma = sorted((r.start, r.end) for r in p.reservations if r.name == "crashkernel-cma")
    predicted_size = sum(e - st for st, e in predicted_regions)
    if s.kaslr:
        # The image lands elsewhere at every boot: the verdicts must hold for this boot.
        reserved = truth["kexec_crash_size"] > 0
        for v in assessment.verdicts:
            if v.name != "crashkernel-cma" and v.verdict == "fits":
                assert reserved
            if v.name != "crashkernel-cma" and v.verdict == "never":
                assert not reserved
        if reserved:
            # The model may place nothing only where it says the outcome depends on KASLR.
            depends = any(v.verdict == "fits-some" for v in assessment.verdicts)
            assert predicted_size == truth["kexec_crash_size"] or (depends and predicted_size == 0)
        assert [_mask(x) for x in p.kernel_log] == [_mask(x) for x in truth["log"]] or any(
            v.verdict == "fits-some" for v in assessment.verdicts
        )
        return
    assert predicted_size == truth["kexec_crash_size"], (p.kernel_log, truth["log"])
    assert list(p.kernel_log) == list(truth["log"])
    assert predicted_regions == truth["regions"]
    assert predicted_cma == truth["cma"]
    assert assessment.addresses_exact


def test_kernel_version_recorded(booted: dict, kernel: harness.Kernel) -> None:
    """The suite records the kernel it checked against, and it is one with ,cma support."""
    release = next(iter(booted.values())).kernel_release
    assert release == kernel.version
    v = features_for("x86_64", release).version
    assert (v.major, v.minor) >= (6, 17)
    print(f"real-kernel suite: {kernel.package} {kernel.package_version} ({release})")
