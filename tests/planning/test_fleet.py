"""crashplan fleet: per-host plans in worker processes, the fleet summary, failures isolated."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import features_for
from crashplan.kernel.grammar import parse_crashkernel
from crashplan.kernel.versions import feature_cases
from crashplan.planning.fleet import HostResult, expand_sources, summarise
from crashplan.units import GiB, MiB

HOSTS = Path(__file__).parents[1] / "data" / "hosts"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crashplan", *args], capture_output=True, text=True, check=False)


def test_fleet_json_over_every_test_host():
    """Every test host with a memory map gets a plan, the others fail saying why (exit 3), and the fleet string covers each plan."""
    p = _cli("fleet", str(HOSTS), "--format", "json", "--jobs", "2")
    assert p.returncode == 3, p.stderr
    out = json.loads(p.stdout)
    failed = {Path(h["source"]).name: h["error"] for h in out["hosts"] if not h["ok"]}
    # The non-root capture and the kernel-log-only RHEL 7 host: no addresses to place in.
    assert sorted(failed) == ["rhel7-demobuilder-4g-auto161m", "vivianchen-qemu-nonroot"], failed
    assert all("whether it places cannot be checked" in e for e in failed.values())
    hosts = [h for h in out["hosts"] if h["ok"]]
    assert len(out["hosts"]) == len([h for h in HOSTS.iterdir() if h.is_dir()])
    summary = out["summary"]
    assert summary["ranged_covers"] is True
    for h in hosts:
        version = features_for(h["arch"], h["kernel_version"]).version if h["kernel_version"] else None
        for f in feature_cases(h["arch"], version):
            d = decide(summary["ranged"], h["system_ram"], f)
            assert d.ok and d.crash_size >= h["recommended_size"], (h["source"], str(f.version))
    assert summary["returned"] - summary["costs_more"] == summary["taken_now"] - summary["taken_recommended"]
    assert summary["returned"] >= 0 and summary["costs_more"] >= 0
    assert summary["need_min"] <= summary["need_median"] <= summary["need_max"]


def test_fleet_jsonl_and_a_broken_host(tmp_path):
    """A garbled snapshot is reported with its error, the others go on, and the exit code is 3."""
    good = tmp_path / "good"
    shutil.copytree(HOSTS / "qemu-x86_64-4g-no-crashkernel", good)
    bad = tmp_path / "bad"
    shutil.copytree(HOSTS / "qemu-x86_64-4g-no-crashkernel", bad)
    iomem = bad / "proc" / "iomem"
    iomem.write_text(iomem.read_text()[:500])  # cut mid-line
    p = _cli("fleet", str(tmp_path), "--format", "jsonl")
    assert p.returncode == 3
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    by_name = {Path(x["source"]).name: x for x in lines[:-1]}
    assert by_name["good"]["ok"] is True and by_name["bad"]["ok"] is False
    assert "iomem" in by_name["bad"]["error"]
    assert lines[-1]["summary"]["failed"] == 1
    assert "Traceback" not in p.stderr


def test_summary_ranged_string_takes_the_largest_need_per_range():
    """Hosts in the same RAM range share the largest recommendation; the list is contiguous and never shrinks."""
    results = [
        HostResult("a", True, system_ram=3 * GiB, arch="x86_64", need=200 * MiB, recommended_size=256 * MiB, taken_now=512 * MiB, taken_recommended=256 * MiB),
        HostResult("b", True, system_ram=3 * GiB + 512 * MiB, arch="x86_64", need=250 * MiB, recommended_size=320 * MiB, taken_now=512 * MiB, taken_recommended=320 * MiB),
        HostResult("c", True, system_ram=200 * GiB, arch="x86_64", need=300 * MiB, recommended_size=384 * MiB, taken_now=1 * GiB, taken_recommended=384 * MiB),
        HostResult("d", False, error="broken"),
    ]
    s = summarise(results)
    assert s.ranged == "crashkernel=2G-128G:320M,128G-:384M"
    assert s.ranged_covers and s.failed == 1 and s.returned == (2 * GiB) - (960 * MiB) and s.costs_more == 0


def test_fleet_string_covers_a_host_below_a_boundary_on_an_old_kernel():
    """twaite's 3.2 desktop (7.96 GiB, no 128M round-up on 3.2) reserves from the fleet string (issue 15: 8G-16G:472M reserved nothing)."""
    p = _cli("fleet", str(HOSTS / "twaite-desktop-8g"), "--format", "json")
    out = json.loads(p.stdout)
    host, summary = out["hosts"][0], out["summary"]
    assert host["kernel_version"] == "3.2" and host["system_ram"] < 8 * GiB
    d = decide(summary["ranged"], host["system_ram"], features_for("x86_64", "3.2"))
    assert d.ok and d.crash_size >= host["recommended_size"] and summary["ranged_covers"]
    assert parse_crashkernel(summary["ranged"]).tokens[0].ranges[-1].end is None


def test_unknown_version_host_is_covered_under_both_readings():
    """A host 1 MiB under 8G whose version is unknown falls in the range below 8G or at 8G: both get its size."""
    results = [HostResult("a", True, system_ram=8 * GiB - MiB, arch="x86_64", need=1, recommended_size=400 * MiB)]
    s = summarise(results)
    assert s.ranged == "crashkernel=4G-:400M" and s.ranged_covers


def test_costs_more_is_never_a_negative_return():
    """When the recommendations take more than today, the summary says costs_more, and returned is 0."""
    s = summarise([HostResult("a", True, system_ram=4 * GiB, arch="x86_64", need=1, recommended_size=512 * MiB, taken_now=0, taken_recommended=512 * MiB, kernel_version="6.8")])
    assert s.returned == 0 and s.costs_more == 512 * MiB


def test_expand_sources(tmp_path):
    """A directory of snapshots expands to its children; a snapshot stays itself."""
    (tmp_path / "h1" / "proc").mkdir(parents=True)
    (tmp_path / "h2" / "proc").mkdir(parents=True)
    assert expand_sources([str(tmp_path)]) == [str(tmp_path / "h1"), str(tmp_path / "h2")]
    assert expand_sources([str(tmp_path / "h1")]) == [str(tmp_path / "h1")]


def test_a_host_shape_is_planned_once_and_reused_exactly(tmp_path, monkeypatch):
    """Copies of one host share a plan (with their own names); other facts get their own plan.

    The reused result equals a fresh plan of the copy, the free-block counts of buddyinfo do
    not split a shape, and a different MemTotal does, and so does a kernel log that puts the
    initrd elsewhere.
    """
    import re

    from crashplan.planning import fleet

    sample = HOSTS / "qemu-x86_64-4g-no-crashkernel"
    copies = []
    for i in range(4):
        dest = tmp_path / f"copy{i}"
        shutil.copytree(sample, dest)
        copies.append(dest)
    buddy = copies[1] / "proc" / "buddyinfo"
    buddy.write_text(re.sub(r"\b(\d+)\b", lambda m: str(int(m[1]) + 1) if len(m[1]) > 1 else m[1], buddy.read_text()))
    meminfo = copies[2] / "proc" / "meminfo"
    meminfo.write_text(re.sub(r"(?m)^(MemTotal:\s+)(\d+)", lambda m: f"{m[1]}{int(m[2]) - 4096}", meminfo.read_text(), count=1))
    log = copies[3] / "dmesg.txt"
    log.write_text(log.read_text().replace("RAMDISK: [mem 0xbfee4000-0xbffdffff]", "RAMDISK: [mem 0x7fee4000-0x7ffdffff]"))

    from crashplan.planning.recommend import make_plan as real_make_plan

    planned = []

    def counting(*args, **kwargs):
        planned.append(1)
        return real_make_plan(*args, **kwargs)

    monkeypatch.setattr("crashplan.planning.recommend.make_plan", counting)
    monkeypatch.setattr(fleet, "_PLANS", {})
    results = [fleet._one(str(c), "auto") for c in copies]
    assert len(planned) == 3  # copy1 reused copy0's plan; copy2's MemTotal differs, copy3's initrd
    assert [r.source for r in results] == [str(c) for c in copies]
    monkeypatch.setattr(fleet, "_PLANS", {})
    fresh = fleet._one(str(copies[1]), "auto")
    assert fresh == results[1]
    assert results[2].system_ram == results[0].system_ram  # iomem, not MemTotal, counts RAM


def test_fleet_kernel_version_and_arch_options_apply_to_every_host() -> None:
    """A capture without a kernel version cannot take ,cma; fleet --kernel-version gives it one, and --arch is accepted."""
    host = str(Path(__file__).parents[1] / "data" / "hosts" / "this-machine-x86_64-6.18.44-fc-v657")

    def run(*extra: str) -> tuple[int, dict]:
        out = subprocess.run([sys.executable, "-m", "crashplan", "fleet", host, "--strategy", "cma", "--format", "json", *extra], capture_output=True, text=True, check=False)
        return out.returncode, json.loads(out.stdout)

    code, doc = run()
    assert code == 3 and not doc["hosts"][0]["ok"] and "--kernel-version" in doc["errors"][0]["message"]
    code, doc = run("--kernel-version", "6.18", "--arch", "x86_64")
    assert code == 0, doc["errors"]
    h = doc["hosts"][0]
    assert h["ok"] and h["kernel_version"] == "6.18" and ",cma" in h["cmdline"]


def test_hosts_whose_current_reservation_is_unknown_stay_out_of_the_balance() -> None:
    """A host whose current reservation is unknown adds to neither 'taken now' nor the balance, and is counted; snapshots and results agree."""
    from crashplan.planning.fleet import HostResult, summarise
    from crashplan.planning.reduce import FleetReducer

    gib = 1 << 30
    known = HostResult("a", True, arch="x86_64", system_ram=8 * gib, need=200 << 20, recommended_size=256 << 20, taken_now=512 << 20, taken_recommended=256 << 20, kernel_version="6.18")
    unknown = HostResult("b", True, arch="x86_64", system_ram=8 * gib, need=200 << 20, recommended_size=256 << 20, taken_now=None, taken_recommended=256 << 20, kernel_version="6.18")
    s = summarise([known, unknown])
    assert (s.taken_now, s.taken_recommended, s.returned, s.costs_more, s.current_unknown) == (512 << 20, 512 << 20, 256 << 20, 0, 1)
    reducer = FleetReducer()
    for r in (known, unknown):
        reducer.add(r)
    assert reducer.summary() == s
