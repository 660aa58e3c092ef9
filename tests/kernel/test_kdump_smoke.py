"""Real crash dumps: the recorded calibration trials, and one live dump.

``test_recorded_trials_are_consistent`` only reads ``tests/data/kdump-trials/*.json`` (no QEMU).
``test_one_real_crash_dump`` boots the kernel, crashes it and runs makedumpfile in the capture
kernel (about 30-40 s under TCG); it skips with a reason when QEMU, the kernel or the sid
tools cannot be had, unless CRASHPLAN_KERNEL_TESTS=1 (as in CI), where that is a failure.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import harness
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import kdump

pytestmark = pytest.mark.kernel

TRIALS = Path(__file__).resolve().parents[1] / "data" / "kdump-trials"
REQUIRED = os.environ.get("CRASHPLAN_KERNEL_TESTS") == "1"
OUTCOMES = {"dumped", "booted", "loaded", "reserve-failed", "load-failed", "oom", "dump-failed",
            "timeout", "no-capture"}
MIB = 1 << 20


def _records() -> list[tuple[str, dict]]:
    return [(p.name, json.loads(p.read_text())) for p in sorted(TRIALS.glob("*.json"))]


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"real-kernel suite required (CRASHPLAN_KERNEL_TESTS=1) but {reason}")
    pytest.skip(reason)


def dump_at(ram: int, crashkernel: int | str, variant: str = "5m", *,
            timeout: float = 300) -> kdump.Trial:
    """One real crash dump with ``ram`` bytes of RAM and ``crashkernel`` (bytes or text).

    ``crashkernel`` may be a size in bytes (``crashkernel=<n>M``, rounded up to MiB), a size
    string (``"256M"``) or the whole crashkernel part of the command line
    (``"crashkernel=512M,cma crashkernel=96M"``).  Skips (or fails under
    CRASHPLAN_KERNEL_TESTS=1) when the kdump tools cannot be fetched.  Cached like every
    trial: delete ``~/.cache/crashplan-kernel/kdump/trials/`` to dump again.
    """
    if isinstance(crashkernel, int):
        crashkernel = f"crashkernel={-(-crashkernel // MIB)}M"
    try:
        kdump.load_tools()
    except harness.HarnessError as e:
        _unavailable(f"no kexec-tools/makedumpfile from sid: {e}")
    return kdump.run_trial(ram, crashkernel, variant, timeout=timeout)


def test_recorded_trials_are_consistent() -> None:
    records = _records()
    if not records:
        pytest.skip(f"no recorded trials in {TRIALS}")
    for name, d in records:
        where = f"{name}: "
        k = d["kernel"]
        assert {"release", "package", "package_version", "vmlinuz_size", "init_size"} <= k.keys(), where
        assert k["init_size"] > k["vmlinuz_size"] > 0, where
        assert d["tools"]["kexec_tools_version"] and d["tools"]["makedumpfile_version"], where
        ini = d["initrd"]
        assert ini["variant"] in kdump.VARIANTS, where
        assert 0 < ini["size"] <= ini["unpacked_size"] + (1 << 16), where
        assert isinstance(d["ram"], int) and d["ram"] > 0, where
        assert d["cma"] is None or (isinstance(d["cma"], int) and d["cma"] > 0), where
        assert "root=" in d["capture_cmdline"] and "nr_cpus=1" in d["capture_cmdline"], where
        assert d["nr_cpus"] == 1 and d["dump_level"] == 31, where
        assert name == f"{kdump.setup_name(d['ram'], ini['variant'], d['cma'])}.json", where
        probes = d["probes"]
        assert probes, where
        by_size: dict[int, str] = {}
        for p in probes:
            assert p["outcome"] in OUTCOMES, where + str(p)
            assert p["crashkernel"] % (8 * MIB) == 0 and p["elapsed"] > 0, where + str(p)
            by_size[p["crashkernel"]] = p["outcome"]
        m = d["min_crashkernel"]
        if m is None:  # nothing dumped within the bounds: every probe failed
            assert all(o != "dumped" for o in by_size.values()), where
            continue
        assert m % (8 * MIB) == 0, where
        assert by_size.get(m) == "dumped", where + "the minimum itself must have dumped"
        below = m - 8 * MIB
        if below in by_size:
            assert by_size[below] != "dumped", where + "the probe just below the minimum dumped"
        # monotonicity of what was probed: nothing below the minimum dumped
        assert all(o != "dumped" for x, o in by_size.items() if x < m), where + str(by_size)


def test_one_real_crash_dump(kernel: harness.Kernel) -> None:
    rec = TRIALS / "4g-5m-nocma.json"
    if not rec.is_file():
        pytest.skip(f"{rec} not recorded yet (python tests/kernel/kdump.py grid)")
    minimum = json.loads(rec.read_text())["min_crashkernel"]
    t = dump_at(4 << 30, minimum + 64 * MIB, "5m")
    assert t.outcome == "dumped", (t.outcome, t.facts.get("failure_lines"), t.log)
    assert t.facts["kexec_crash_size"] == minimum + 64 * MIB


def _recommendation(kernel: harness.Kernel, ram: int, variant: str):  # type: ignore[no-untyped-def]
    """crashplan's footprint for the trial setup, from the real kernel and initrd files."""
    from crashplan.host.formats.images import read_kernel_image
    from crashplan.host.formats.initrd import analyse_initrd
    from crashplan.planning.footprint import FootprintInputs, estimate_footprint
    from crashplan.profiles import load_profile

    try:
        initrd, _ = kdump.build_kdump_initrd(variant)
    except harness.HarnessError as e:
        _unavailable(f"no kdump initrd: {e}")
    with open(kernel.vmlinuz, "rb") as fp:
        image = read_kernel_image(fp, name=str(kernel.vmlinuz))
    with open(initrd, "rb") as fp:
        facts = analyse_initrd(fp, name=str(initrd))
    # The capture environment is busybox + makedumpfile, like initramfs-tools' kdump: debian.
    profile = load_profile("debian-amd64")
    inputs = FootprintInputs(
        arch="x86_64", system_ram=ram, kernel_size=image.memory_size, kernel_source=str(kernel.vmlinuz),
        initrd_size=facts.size, initrd_tmpfs=facts.tmpfs_bytes, initrd_source=str(initrd),
    )
    return estimate_footprint(inputs, profile.estimator, profile.source_texts)


@pytest.mark.parametrize("strategy", ["standard", "cma"])
def test_real_crash_dump_at_crashplans_recommended_size(kernel: harness.Kernel, strategy: str) -> None:
    """A fresh real crash dump (never a cached result) at the size crashplan recommends completes."""
    ram = 4 << 30
    fp = _recommendation(kernel, ram, "20m")
    if strategy == "standard":
        crashkernel = f"crashkernel={fp.recommended_size >> 20}M"
    else:
        crashkernel = f"crashkernel={fp.cma_size >> 20}M,cma crashkernel={fp.cma_fixed_size >> 20}M"
    try:
        kdump.load_tools()
    except harness.HarnessError as e:
        _unavailable(f"no kexec-tools/makedumpfile from sid: {e}")
    t = kdump.run_trial(ram, crashkernel, "20m", use_cache=False)
    assert t.outcome == "dumped", (crashkernel, t.outcome, t.facts.get("failure_lines"), t.log)
    print(f"real crash dump at crashplan's {strategy} recommendation {crashkernel}: {t.outcome} in {t.elapsed} s")
