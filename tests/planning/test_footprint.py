"""The footprint estimate: itemised, sourced, from real kernel headers and real initrds."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from crashplan.host.bootfiles import analyse_boot_file
from crashplan.host.facts import gather_facts
from crashplan.host.sources import DirSource
from crashplan.planning.footprint import (
    STRUCT_PAGE,
    FootprintInputs,
    estimate_footprint,
    footprint_inputs,
)
from crashplan.profiles import list_profiles, load_profile
from crashplan.units import MiB

DATA = Path(__file__).parents[1] / "data"
BZIMAGE_HEAD = DATA / "images" / "debian-7.3.4-amd64.bzImage.head"
QEMU = DATA / "hosts" / "qemu-x86_64-4g-no-crashkernel"


def _newc(files: dict[str, bytes]) -> bytes:
    """A newc cpio archive of regular files, as gen_init_cpio writes it."""
    out = io.BytesIO()
    ino = 1
    for name, data in [*files.items(), ("TRAILER!!!", b"")]:
        fields = [ino, 0o100644 if data or name != "TRAILER!!!" else 0, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0]
        header = b"070701" + b"".join(f"{v:08x}".encode() for v in fields)
        out.write(header + name.encode() + b"\0")
        out.write(b"\0" * (-out.tell() % 4))
        out.write(data)
        out.write(b"\0" * (-out.tell() % 4))
        ino += 1
    return out.getvalue()


def _inputs(**kw: object) -> FootprintInputs:
    base = dict(
        arch="x86_64", system_ram=4 << 30, kernel_size=65331200, kernel_source="bzImage init_size",
        initrd_size=20 * MiB, initrd_tmpfs=24 * MiB, initrd_source="test initrd",
    )
    base.update(kw)
    return FootprintInputs(**base)  # type: ignore[arg-type]


def test_kernel_size_from_real_bzimage_header():
    """The Debian 7.3.4 bzImage's setup header gives its in-memory size, init_size (62.3 MiB)."""
    item = analyse_boot_file(io.BytesIO(BZIMAGE_HEAD.read_bytes()), "kernel", "/boot/vmlinuz-7.3.4", 14505920)
    assert (item.memory_size, item.format, item.problem) == (65331200, "bzImage", None)


def test_initrd_unpacked_size_from_a_real_archive():
    """An initrd's tmpfs size counts whole pages per file plus the inode cost."""
    payload = {"init": b"#!/bin/sh\n" * 100, "bin/busybox": bytes(range(256)) * 4000}
    blob = gzip.compress(_newc(payload))
    item = analyse_boot_file(io.BytesIO(blob), "initrd", "/boot/initrd.img", len(blob))
    assert item.unpacked_bytes == sum(len(v) for v in payload.values())
    assert item.tmpfs_bytes is not None and item.tmpfs_bytes >= 4096 + 1024000
    assert item.format == "gzip"


def test_estimate_is_itemised_and_sourced():
    """Every line has a size and a source; fixed + runtime = total; the margin is on top."""
    profile = load_profile("debian-amd64")
    fp = estimate_footprint(_inputs(), profile.estimator, profile.source_texts)
    assert all(i.source and i.bytes >= 0 for i in fp.items)
    assert fp.fixed + fp.runtime == fp.total == sum(i.bytes for i in fp.items)
    assert fp.fixed == 65331200 + 20 * MiB + profile.estimator["kexec_segments"]
    assert fp.recommended_size >= fp.total * 1.2 + 32 * MiB - 8 * MiB
    assert fp.recommended_size % (8 * MiB) == 0
    assert fp.cma_fixed_size < fp.recommended_size and fp.cma_size >= fp.runtime


def test_systemd_kdump_user_space_is_counted_for_fedora():
    """Fedora's systemd kdump user space is costed; Debian's, measured by its real trials, is a sourced 0."""
    deb, fed = load_profile("debian-amd64"), load_profile("fedora-x86_64")
    a = estimate_footprint(_inputs(), deb.estimator, deb.source_texts)
    b = estimate_footprint(_inputs(), fed.estimator, fed.source_texts)
    name = "kdump user space beyond busybox (systemd, udev, journald)"
    assert b.total - a.total >= b.item(name).bytes == 34 * MiB
    assert "udev.children-max=2" in b.item(name).source
    assert a.item(name).bytes == 0 and "tests/data/debian-trials/" in a.item(name).source


def test_unknown_files_fall_back_with_findings_not_zero():
    """Without a kernel or initrd the estimate falls back to sourced sizes and says so; never 0."""
    profile = load_profile("base-x86_64")
    fp = estimate_footprint(_inputs(kernel_size=None, initrd_size=None, initrd_tmpfs=None), profile.estimator, profile.source_texts)
    codes = {f.code for f in fp.findings}
    assert {"kernel-size-unknown", "initrd-size-unknown", "initrd-unpacked-unknown"} <= codes
    assert all(i.bytes > 0 for i in fp.items if i.part == "fixed")


def test_more_cpus_and_network_dump_cost_more():
    """nr_cpus above 1 and a network dump target add their sourced costs."""
    profile = load_profile("fedora-x86_64")
    base = estimate_footprint(_inputs(), profile.estimator, profile.source_texts).total
    more = estimate_footprint(_inputs(nr_cpus=4, network_dump=True), profile.estimator, profile.source_texts).total
    assert more - base >= 3 * profile.estimator["per_cpu_dump"] + profile.estimator["user_net"]


def test_profile_maxcpus_sets_the_kdump_cpus_when_nr_cpus_is_absent(tmp_path: Path) -> None:
    """Without a kdump config on the host, the profile's nr_cpus= counts, else its maxcpus= (Debian ppc64el's convention)."""
    facts = dataclasses.replace(gather_facts(DirSource(DATA / "hosts" / "qemu-x86_64-4g-crashkernel-256m")), kdump=None)

    def cpus(cmdline: str) -> int:
        path = tmp_path / "p.yaml"
        path.write_text(f"name: p\nextends: base-x86_64\n{cmdline and 'kdump_cmdline:'}\n{cmdline}")
        return footprint_inputs(facts, load_profile(path)).nr_cpus

    assert cpus("") == 1
    assert cpus("  maxcpus: {value: 4, source: s}\n") == 4
    assert cpus("  nr_cpus: {value: 2, source: s}\n  maxcpus: {value: 4, source: s}\n") == 2
    assert load_profile("debian-ppc64el").maxcpus == 1


def test_profile_page_size_stands_in_for_an_unknown_host_page_size() -> None:
    """A page size the host does not tell is the 64K profile's, so its 64K cost is counted; a known one wins."""
    unknown = gather_facts(DirSource(DATA / "hosts" / "arm64-rpi4-4g-cma512m"))  # a capture with no uname page size
    assert unknown.page_size is None
    k64 = load_profile("rhel-aarch64-64k")
    assert k64.page_size == 64 * 1024
    assert footprint_inputs(unknown, load_profile("fedora-aarch64")).page_size == 4096
    assert footprint_inputs(dataclasses.replace(unknown, page_size=4096), k64).page_size == 4096
    inputs = footprint_inputs(unknown, k64)
    assert inputs.page_size == 64 * 1024
    fp = estimate_footprint(inputs, k64.estimator, k64.source_texts)
    assert fp.item("arm64 64K pages").bytes == 100 * MiB


def test_struct_page_array_takes_the_profile_sizeof_struct_page() -> None:
    """The struct page item is sized by the profile's struct_page_size, which every built-in sets to what calibration inverts with."""
    assert {load_profile(i.name).estimator["struct_page_size"] for i in list_profiles()} == {STRUCT_PAGE}
    profile = load_profile("base-x86_64")
    name = "struct page array for the crash kernel's memory"
    a = estimate_footprint(_inputs(), profile.estimator, profile.source_texts).item(name)
    b = estimate_footprint(_inputs(), {**profile.estimator, "struct_page_size": 128}, profile.source_texts).item(name)
    assert b.bytes > 2 * a.bytes > 0
    assert a.source.startswith("64 bytes per 4 KiB page: openSUSE/kdump calibrate.cc sizeof(page)")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crashplan", *args], capture_output=True, text=True, check=False)


def test_cli_footprint_json_contract(tmp_path):
    """footprint --format json carries the documented footprint, kernel and initrd objects."""
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(gzip.compress(_newc({"init": b"x" * 5000})))
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(BZIMAGE_HEAD.read_bytes())
    p = _cli("footprint", "--source", str(QEMU), "--kernel", str(kernel), "--initrd", str(initrd), "--format", "json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["command"] == "footprint" and out["crashplan_result_version"] == 1
    fp = out["footprint"]
    assert {"fixed", "runtime", "total", "recommended_size", "items"} <= fp.keys()
    assert all({"name", "part", "bytes", "source"} == set(i) for i in fp["items"])
    assert out["kernel"]["memory_size"] == 65331200
    assert out["initrd"]["size"] == initrd.stat().st_size and out["initrd"]["compression"] == ["gzip"]
    assert out["initrd"]["unpacked_size"] == 5000


def test_cli_footprint_corrupt_initrd_is_a_finding(tmp_path):
    """A truncated initrd gives a finding and a stated fallback, not a traceback or a zero."""
    blob = gzip.compress(_newc({"init": bytes(range(256)) * 400}))
    bad = tmp_path / "initrd.img"
    bad.write_bytes(blob[: len(blob) // 2])
    p = _cli("footprint", "--source", str(QEMU), "--initrd", str(bad), "--format", "json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["initrd"]["unpacked_size"] is None and "initrd unpacked size unknown" in out["initrd"]["problem"]
    codes = [f["code"] for f in out["footprint"]["findings"]]
    assert "initrd-unpacked-unknown" in codes


def test_cli_footprint_profile_arch_mismatch():
    """A profile for another architecture is refused with exit 3."""
    p = _cli("footprint", "--source", str(QEMU), "--profile", "fedora-aarch64")
    assert p.returncode == 3 and "is for arm64, but the source is x86_64" in p.stderr


@pytest.mark.parametrize("missing", ["--kernel", "--initrd"])
def test_cli_footprint_missing_file(missing):
    """A --kernel or --initrd that does not exist is bad input (exit 3), named in one line."""
    p = _cli("footprint", "--source", str(QEMU), missing, "/nonexistent/file")
    assert p.returncode == 3 and p.stderr.strip() == "crashplan: error: /nonexistent/file: no such file"


# Calibration by real crash dumps (tests/data/kdump-trials, tests/kernel/KDUMP.md) -----------------

TRIALS = sorted((DATA / "kdump-trials").glob("*.json"))


def _points():
    from crashplan.planning.calibration import TrialPoint

    for path in TRIALS:
        d = json.loads(path.read_text())
        yield TrialPoint(path.name, d["ram"], d["kernel"]["init_size"], d["initrd"]["size"], d["initrd"]["tmpfs_bytes"], d["cma"], d["min_crashkernel"], 8 * MiB)


def test_enough_bisected_trials():
    """At least 12 setups were bisected with real crash dumps, with and without CMA."""
    points = list(_points())
    assert len(points) >= 12 and any(p.cma for p in points) and any(not p.cma for p in points)
    assert len({p.ram for p in points}) >= 3 and len({p.initrd_size for p in points}) >= 3


def test_profile_constants_are_what_the_trials_give():
    """kernel_runtime_base and kexec_segments in the x86_64 profile equal calibrate() over the trials."""
    from crashplan.planning.calibration import calibrate

    c = calibrate(_points())
    profile = load_profile("base-x86_64")
    assert profile.estimator["kernel_runtime_base"] == c.kernel_runtime_base
    assert profile.estimator["kexec_segments"] == c.kexec_segments
    assert f"{c.trials} bisected real crash dumps" in profile.source_of("estimator.kernel_runtime_base")


@pytest.mark.parametrize("point", list(_points()), ids=[p.name for p in _points()])
def test_estimate_brackets_every_trial(point):
    """For every recorded trial the estimate is at least the measured minimum and at most min x 1.25 + 32 MiB.

    The trials' capture environment is busybox + makedumpfile, as Debian's initramfs-tools
    kdump is: the debian-amd64 profile's estimate is the one to compare.  With CMA the
    estimate is the fixed part, which is what the standard reservation must hold.
    """
    profile = load_profile("debian-amd64")
    fp = estimate_footprint(
        _inputs(system_ram=point.ram, kernel_size=point.kernel_size, initrd_size=point.initrd_size, initrd_tmpfs=point.initrd_tmpfs),
        profile.estimator,
        profile.source_texts,
    )
    estimate = fp.fixed if point.cma else fp.total
    assert point.min_crashkernel <= estimate <= point.min_crashkernel * 1.25 + 32 * MiB
    if point.cma:
        # What crashplan prints as the ,cma base (the fixed part plus its margin) holds the same bracket.
        assert point.min_crashkernel <= fp.cma_fixed_size <= point.min_crashkernel * 1.25 + 32 * MiB


# Calibration by the real Debian kdump-tools path (tests/data/debian-trials, issue 17) ----------

DEBIAN_TRIALS = sorted((DATA / "debian-trials").glob("*.json"))


def _debian_points():
    from crashplan.planning.calibration import TrialPoint

    for path in DEBIAN_TRIALS:
        d = json.loads(path.read_text())
        ini = d["kdump_initrd"]
        yield TrialPoint(path.name, d["ram"], d["kernel"]["init_size"], ini["size"], ini["tmpfs_bytes"], d["cma"], d["min_crashkernel"], 8 * MiB)


@pytest.mark.parametrize("name", ["debian-amd64", "ubuntu-amd64"])
def test_debian_profile_constants_are_what_the_real_trials_give(name: str) -> None:
    """kdump_userspace and the typical-initrd fallbacks of Debian and Ubuntu equal the real trials' values, citing them."""
    from crashplan.planning.calibration import calibrate_userspace

    profile = load_profile(name)
    est = profile.estimator
    real = calibrate_userspace(_debian_points(), est["kernel_runtime_base"], est["kexec_segments"])
    assert real.trials == 3 and real.room_min < real.room_max <= est["kernel_runtime_base"]
    assert est["kdump_userspace"] == real.kdump_userspace == 0
    initrds = {json.dumps(json.loads(p.read_text())["kdump_initrd"], sort_keys=True) for p in DEBIAN_TRIALS}
    assert len(initrds) == 1, "every Debian trial booted the same kdump initrd"
    ini = json.loads(initrds.pop())
    assert (est["initrd_size_fallback"], est["initrd_tmpfs_fallback"]) == (ini["size"], ini["tmpfs_bytes"])
    for key in ("kdump_userspace", "initrd_size_fallback", "initrd_tmpfs_fallback"):
        assert "tests/data/debian-trials/" in profile.source_of(f"estimator.{key}"), key


def test_debian_fallback_brackets_the_trials_without_the_initrd() -> None:
    """With the initrd unknown, Debian's typical fallback still gives at least every trial's minimum."""
    profile = load_profile("debian-amd64")
    for p in _debian_points():
        fp = estimate_footprint(_inputs(system_ram=p.ram, kernel_size=p.kernel_size, initrd_size=None, initrd_tmpfs=None),
                                profile.estimator, profile.source_texts)
        size = fp.cma_fixed_size if p.cma else fp.recommended_size
        assert p.min_crashkernel <= size <= p.min_crashkernel * 1.25 + 32 * MiB, p.name
        assert fp.total_range is not None and fp.total_range[0] <= fp.total <= fp.total_range[1]


def test_cma_base_is_the_fixed_part_with_its_own_margin() -> None:
    """The ,cma standard part is the fixed part plus cma_fixed_margin_percent and _fixed, rounded to 8 MiB."""
    from crashplan.planning.footprint import round_up

    profile = load_profile("debian-amd64")
    est = profile.estimator
    fp = estimate_footprint(_inputs(), est, profile.source_texts)
    want = round_up(fp.fixed + fp.fixed * est["cma_fixed_margin_percent"] // 100 + est["cma_fixed_margin_fixed"], 8 * MiB)
    assert fp.cma_fixed_size == want < fp.recommended_size
    assert "debian-trials" in profile.source_of("estimator.cma_fixed_margin_percent")


def test_unknown_initrd_range_spans_the_profile_low_and_high_ends() -> None:
    """Without the initrd the estimate carries the totals with the smallest and largest kdump initrd of the range."""
    profile = load_profile("fedora-x86_64")
    est = profile.estimator
    fp = estimate_footprint(_inputs(initrd_size=None, initrd_tmpfs=None), est, profile.source_texts)
    low = estimate_footprint(_inputs(initrd_size=est["initrd_size_low"], initrd_tmpfs=est["initrd_tmpfs_low"]), est, profile.source_texts)
    high = estimate_footprint(_inputs(initrd_size=est["initrd_size_high"], initrd_tmpfs=est["initrd_size_high"] * est["initrd_unpack_factor"]), est, profile.source_texts)
    assert fp.total_range == (low.total, high.total)
    # Fedora's fallback is its measured typical kdump initrd (39M, 99M unpacked), inside the range.
    assert low.total < fp.total < high.total
    known = estimate_footprint(_inputs(), est, profile.source_texts)
    assert known.total_range is None
