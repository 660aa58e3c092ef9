"""crashplan's parser and placement model against a real booted Debian kernel.

For each scenario the capture boot (no crashkernel=) becomes the source and the boot with the
parameter is the truth.  The prediction takes the production path: the capture's files are
written as a snapshot tree, read with ``crashplan.open_host()`` and placed with
``crashplan.simulate()``, so the way from host files to layout is checked too.  Under nokaslr the predicted kernel log lines, reservations,
``kexec_crash_size`` and CMA ranges must equal the kernel's exactly; with KASLR, the sizes and
the verdicts.
"""

from __future__ import annotations

import re
from pathlib import Path

import harness
import pytest
import scenarios

import crashplan
from crashplan.host.formats.dmesg import crash_log_lines, parse_dmesg
from crashplan.host.formats.iomem import crash_kernel, parse_iomem
from crashplan.host.formats.sysfs import parse_cma_ranges, parse_kexec_crash_size
from crashplan.kernel.features import features_for
from crashplan.kernel.placement import Assessment

pytestmark = pytest.mark.kernel


def _as_snapshot(boot: harness.Boot, root: Path) -> Path:
    """The capture boot's files as a host tree, laid out as ``crashplan snapshot`` writes them."""
    for relpath, text in boot.files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (root / "dmesg.txt").write_text(boot.dmesg)
    return root


def predict(s: scenarios.Scenario, base: harness.Boot, truth_cmdline: str, tmp_path: Path) -> tuple[Assessment, int]:
    """crashplan's prediction for the truth command line, from the capture boot alone."""
    host = crashplan.open_host(str(_as_snapshot(base, tmp_path / "capture")))
    assert host.facts.arch == "x86_64" and host.facts.dmesg is not None and host.facts.dmesg.initrd is not None
    sim = crashplan.simulate(host, truth_cmdline)
    return sim.assessment, sim.decision.system_ram


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
def test_scenario(s: scenarios.Scenario, booted: dict, kernel: harness.Kernel, tmp_path: Path) -> None:
    """crashplan predicts the kernel's outcome, sizes, windows, CMA ranges and log lines."""
    base = booted[(s.ram, s.base_append(), s.numa)]
    truth_boot = booted[(s.ram, s.truth_append(), s.numa)]
    assessment, _ = predict(s, base, truth_boot.files["proc/cmdline"].strip(), tmp_path)
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
