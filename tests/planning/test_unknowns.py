"""Unknown is a value: an absent command line, kernel version, system RAM or arch stays unknown.

Derived from the real captures: the three lore.kernel.org pastes have no /proc/cmdline and no
kernel version, twaite's desktop has a buddyinfo that alone tells no RAM size.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.planning.test_checked_answer import run

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
NO_CMDLINE = ["lore-x86-qemu-4g-crash256m", "lore-x86-hpe-xeon-32g-crash-low256m-high512m", "lore-s390x-vm-2g-crash256m"]
QEMU_LORE = HOSTS / "lore-x86-qemu-4g-crash256m"


def _check(host: Path, *args: str) -> tuple[int, list[dict[str, str]]]:
    r = run("check", "--source", str(host), *args, "--format", "json")
    return r.exit_code, json.loads(r.stdout)["findings"]


@pytest.mark.parametrize("name", NO_CMDLINE)
def test_check_judges_the_visible_reservation(name: str) -> None:
    """Without /proc/cmdline, check judges the "Crash kernel" regions instead of calling the host unreserved."""
    _, findings = _check(HOSTS / name)
    codes = [f["code"] for f in findings]
    assert "no-crashkernel" not in codes and "cmdline-unknown" in codes
    assert not {"no-reservation", "reservation-unknown"} & set(codes)


def test_check_calls_a_large_visible_reservation_wasteful(tmp_path: Path) -> None:
    """A 1 GiB "Crash kernel" on the 4 GiB guest is more than twice the need: wasteful."""
    dest = tmp_path / "host"
    shutil.copytree(QEMU_LORE, dest)
    iomem = dest / "proc" / "iomem"
    iomem.write_text(iomem.read_text().replace("  af000000-beffffff : Crash kernel", "  7f000000-beffffff : Crash kernel"))
    status, findings = _check(dest)
    assert status == 0 and "wasteful" in [f["code"] for f in findings]


def test_check_without_any_reservation_shown(tmp_path: Path) -> None:
    """No command line and no "Crash kernel" in a root map: nothing is reserved, an error."""
    dest = tmp_path / "host"
    shutil.copytree(QEMU_LORE, dest)
    iomem = dest / "proc" / "iomem"
    iomem.write_text("".join(x for x in iomem.read_text().splitlines(keepends=True) if "Crash kernel" not in x))
    status, findings = _check(dest)
    assert status == 4 and "no-reservation" in [f["code"] for f in findings]


def test_check_unknown_version_reports_the_worse_kernel() -> None:
    """A range boundary at 4G on 4 GiB minus a hole: only kernels >= 6.2 round up; the older case is reported."""
    status, findings = _check(QEMU_LORE, "--cmdline", "crashkernel=4G-:512M")
    assert status == 4
    msgs = [f["message"] for f in findings if f["code"] == "not-reserved"]
    assert msgs and "as old as 3.10" in msgs[0]
    assert any("does not round it up" in f["message"] for f in findings if f["code"] == "no-range-match")


def test_simulate_unknown_version_warns() -> None:
    """simulate on an unknown kernel says the older kernels reserve something else, and shows the worse (the oldest's)."""
    r = run("simulate", "crashkernel=4G-:256M", "--source", str(QEMU_LORE), "--format", "json")
    out = json.loads(r.stdout)
    assert out["kernel_version"] is None and out["rules_version"] == "3.10"
    assert {"version-dependent", "version-dependent-placement"} <= {w["code"] for w in out["warnings"]}


@pytest.mark.parametrize("command", ["recommend", "footprint"])
def test_no_none_or_assumed_version_in_text(command: str) -> None:
    """The human output says 'unknown (why)', never 'Linux None' or the assumed newest version."""
    r = run(command, "--source", str(HOSTS / "lore-s390x-vm-2g-crash256m"))
    assert r.exit_code == 0, r.stderr
    assert "None" not in r.stdout and "Linux 7.3" not in r.stdout
    # The line wraps where the checkout's path puts it: any white space between the words.
    assert re.search(r"Linux\s+version\s+unknown\s+\(", r.stdout)


def test_unknown_ram_is_unknown_not_zero(tmp_path: Path) -> None:
    """A buddyinfo-only capture: facts JSON has system_ram null, footprint text says unknown (why), never 0 B."""
    dest = tmp_path / "buddy"
    (dest / "proc").mkdir(parents=True)
    shutil.copy(HOSTS / "twaite-desktop-8g" / "proc" / "buddyinfo", dest / "proc" / "buddyinfo")
    out = json.loads(run("facts", "--source", str(dest), "--format", "json").stdout)
    assert out["system_ram"] is None
    r = run("footprint", "--source", str(dest), "--arch", "x86_64")
    assert "system RAM unknown (" in r.stdout and "system RAM 0 B" not in r.stdout


def test_strategy_cma_on_unknown_version_names_the_unknown() -> None:
    """--strategy cma on an unknown kernel says the version is unknown (exit 2), not 'the host runs 7.3'."""
    r = run("recommend", "--source", str(QEMU_LORE), "--strategy", "cma")
    assert r.exit_code == 2 and "does not tell the kernel version" in r.stderr and "7.3" not in r.stderr
    ok = run("recommend", "--source", str(QEMU_LORE), "--strategy", "cma", "--kernel-version", "6.17", "--format", "cmdline")
    assert ok.exit_code == 0 and ",cma" in ok.stdout


def test_facts_warns_when_the_unknown_version_decides(tmp_path: Path) -> None:
    """facts on an unknown kernel says when a 3.10 kernel would reserve otherwise than the newest."""
    dest = tmp_path / "host"
    shutil.copytree(QEMU_LORE, dest)
    (dest / "proc" / "cmdline").write_text("ro quiet crashkernel=4G-:256M\n")
    out = json.loads(run("facts", "--source", str(dest), "--format", "json").stdout)
    found = [f for f in out["findings"] if f["code"] == "version-dependent"]
    assert found and "as old as 3.10 reserves nothing" in found[0]["message"]


def test_unknown_initrd_note_comes_first() -> None:
    """Without the kdump initrd, the note saying so (and how to measure it) precedes the comparison table."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    p = subprocess.run([sys.executable, "-m", "crashplan", "recommend", "--source", str(HOSTS / "twaite-desktop-8g")], capture_output=True, text=True, env=env, check=False)
    lines = p.stdout.splitlines()
    note = next(i for i, x in enumerate(lines) if "note: the kdump initrd is unknown" in x)
    table = next(i for i, x in enumerate(lines) if "memory each option takes from production" in x)
    assert note < table and "--initrd PATH" in lines[note] and "crashplan snapshot" in lines[note]


DEBIAN_HOST = HOSTS / "this-machine-x86_64-6.18.44-fc-v657"  # ID=debian, no kdump initrd, no kernel release


def test_debian_host_without_initrd_gets_the_debian_typical_initrd() -> None:
    """A Debian host whose kdump initrd is absent is estimated with Debian's measured kdump initrd, citing the trials."""
    out = json.loads(run("recommend", "--source", str(DEBIAN_HOST), "--format", "json").stdout)
    assert out["profile"] == {"name": "debian-amd64", "detected": True}
    items = {i["name"]: i for i in out["footprint"]["items"]}
    loaded, tmpfs = items["initrd as loaded (fallback)"], items["initramfs unpacked in tmpfs (fallback)"]
    assert (loaded["bytes"], tmpfs["bytes"]) == (11129961, 36093408)
    assert "tests/data/debian-trials/" in loaded["source"] and "tests/data/debian-trials/" in tmpfs["source"]
    low, high = out["footprint"]["total_range"]
    assert low <= out["footprint"]["total"] < high
    codes = [f["code"] for f in out["findings"]]
    assert "initrd-size-unknown" in codes and "cma-support-unknown" in codes


def test_unknown_initrd_note_gives_the_range_after_the_command() -> None:
    """The initrd-unknown note names --initrd first, then the range the need could fall in."""
    r = run("recommend", "--source", str(HOSTS / "twaite-desktop-8g"))
    note = next(x for x in r.stdout.split("\n  ") if x.startswith("note: the kdump initrd is unknown"))
    note = " ".join(note.split())
    assert note.index("--initrd PATH") < note.index("it would be")
    assert re.search(r"it would be [\d.]+ MiB to [\d.]+ MiB", note), note


def test_unknown_kernel_says_what_a_larger_cma_base_buys() -> None:
    """On an unknown kernel, recommend stays standard and says what the ,cma base would save and what a larger one buys."""
    out = json.loads(run("recommend", "--source", str(DEBIAN_HOST), "--format", "json").stdout)
    assert out["recommendation"]["strategy"] == "standard"
    msg = next(f["message"] for f in out["findings"] if f["code"] == "cma-support-unknown")
    base = out["footprint"]["cma"]["fixed_size"] >> 20
    std = out["footprint"]["recommended_size"] >> 20
    assert f"crashkernel={base}M takes {base}M from production instead of {std}M" in msg
    assert "a kernel without ,cma reserves" in msg and "--strategy cma --kernel-version X.Y" in msg
    known = json.loads(run("recommend", "--source", str(DEBIAN_HOST), "--kernel-version", "7.3", "--format", "json").stdout)
    assert "cma-support-unknown" not in [f["code"] for f in known["findings"]]


def _only(tmp_path: Path, *files: str, host: str = "qemu-x86_64-4g-crashkernel-256m") -> Path:
    """A capture holding only ``files`` (paths under the real 4 GiB QEMU guest ``host``)."""
    src = HOSTS / host
    dest = tmp_path / "partial"
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / rel, dest / rel)
    return dest


@pytest.mark.parametrize("args", [("--cmdline", "crashkernel=256M"), ()])
def test_check_on_unknown_ram_says_so_like_recommend(tmp_path: Path, args: tuple[str, ...]) -> None:
    """check on a capture that tells no system RAM refuses as recommend does (exit 3), never 'system RAM 0'."""
    dest = _only(tmp_path, "proc/buddyinfo", "proc/cmdline", "proc/sys/kernel/osrelease")
    r = run("check", "--source", str(dest), *args)
    assert r.exit_code == 3 and r.stdout == "", r.stdout
    assert "system RAM is unknown (" in r.stderr and "RAM 0" not in r.stderr and "(0)" not in r.stderr
    rec = run("recommend", "--source", str(dest))
    assert rec.exit_code == 3 and "system RAM is unknown (" in rec.stderr
    out = json.loads(run("check", "--source", str(dest), *args, "--format", "json").stdout)
    assert out["status"] == "error" and out["errors"][0]["code"] == "ram-unknown"


def test_check_on_unknown_arch_says_so_like_recommend(tmp_path: Path) -> None:
    """check on a meminfo-only capture does not judge under an assumed x86_64: it names --arch, as recommend does."""
    dest = _only(tmp_path, "proc/meminfo")
    r = run("check", "--source", str(dest), "--cmdline", "crashkernel=256M")
    assert r.exit_code == 3 and r.stdout == "" and "the architecture is unknown (" in r.stderr and "give --arch" in r.stderr
    ok = run("check", "--source", str(dest), "--cmdline", "crashkernel=512M", "--arch", "x86_64")
    assert ok.exit_code == 0, ok.stdout


def test_unknown_ram_bitmap_is_its_cap_not_zero(tmp_path: Path) -> None:
    """makedumpfile's bitmap is min(4 MiB, 2 bits a page of RAM): with RAM unknown the estimate takes the cap, not 0 B."""
    dest = _only(tmp_path, "proc/buddyinfo")
    out = json.loads(run("footprint", "--source", str(dest), "--arch", "x86_64", "--format", "json").stdout)
    item = next(i for i in out["footprint"]["items"] if i["name"] == "makedumpfile cyclic bitmap buffer")
    assert item["bytes"] == 4 << 20 and "system RAM is unknown" in item["source"]


@pytest.mark.parametrize("name", ["lore-x86-hpe-xeon-32g-crash-low256m-high512m", "this-machine-x86_64-6.18.44-fc-v657", "qemu-x86_64-4g-no-crashkernel"])
def test_comparison_rows_agree_with_check(name: str) -> None:
    """Each row of recommend's comparison says 'covers' and 'places' as check judges that string, unknown kernel version included."""
    out = json.loads(run("recommend", "--source", str(HOSTS / name), "--format", "json").stdout)
    for row in out["options"]:
        if not row["cmdline"]:
            continue
        codes = {f["code"] for f in _check(HOSTS / name, "--cmdline", row["cmdline"])[1] if f["severity"] == "error"}
        assert ("does-not-cover" in codes) == (row["covers_need"] is False), (row, codes)
        assert ("does-not-place" in codes) == (row["places"] == "never"), (row, codes)


def test_check_and_recommend_say_the_same_need_and_placement_gap() -> None:
    """On the non-root capture recommend prints no number (it cannot check the placement) and names the same need and the same reason check does."""
    host = HOSTS / "vivianchen-qemu-nonroot"
    rec = run("recommend", "--source", str(host))
    assert rec.exit_code == 3 and rec.stdout == ""
    chk = json.loads(run("check", "--source", str(host), "--cmdline", "crashkernel=256M", "--format", "json").stdout)
    gap = next(f for f in chk["findings"] if f["code"] == "placement-unavailable")
    assert gap["severity"] == "warning" and "run as root" in gap["message"]
    assert gap["message"].removeprefix("placement was not checked: ") in rec.stderr
    said = re.search(r"estimated need is ([\d.]+ MiB)", rec.stderr)
    assert said is not None
    assert f"estimated need {said.group(1)};" in run("check", "--source", str(host)).stdout


@pytest.mark.parametrize("name", ["arm64-rpi4-4g-cma512m", "lore-s390x-vm-2g-crash256m"])
def test_strategy_cma_where_no_kernel_has_it_does_not_ask_for_a_version(name: str) -> None:
    """--strategy cma on an arch no kernel gives ,cma (arm64, s390x) says so, rather than 'give --kernel-version' that cannot help."""
    r = run("recommend", "--source", str(HOSTS / name), "--strategy", "cma")
    assert r.exit_code == 2 and "--kernel-version" not in r.stderr
    assert re.search(r"(arm64|s390x), and no kernel crashplan mirrors has crashkernel=,cma there", r.stderr), r.stderr


def test_an_unknown_current_setting_is_not_compared_as_nothing(tmp_path: Path) -> None:
    """No /proc/cmdline and no reservation shown: recommend does not list 'current: 0 B, no dump'; it says the current setting is unknown."""
    # powerpc never shows its reservation in /proc/iomem: without kexec_crash_size it is unknown.
    dest = _only(tmp_path, "proc/iomem", "proc/meminfo", host="qemu-x86_64-4g-no-crashkernel")
    out = json.loads(run("recommend", "--source", str(dest), "--arch", "ppc64le", "--format", "json").stdout)
    assert [o for o in out["options"] if o["kind"] == "current"] == []
    found = next(f for f in out["findings"] if f["code"] == "current-unknown")
    assert "/proc/cmdline is absent" in found["message"] and "kexec_crash_size" in found["message"]
    text = run("recommend", "--source", str(dest), "--arch", "ppc64le").stdout
    assert "everything (no dump)" not in text and "current-unknown" in text
    known = json.loads(run("recommend", "--source", str(QEMU_LORE), "--format", "json").stdout)
    assert [o["label"] for o in known["options"] if o["kind"] == "current"] == ["current (command line unknown)"]


def test_fleet_keeps_an_unknown_current_setting_unknown(tmp_path: Path) -> None:
    """A fleet host whose current setting is unknown has taken_now null in JSON, not 0."""
    dest = _only(tmp_path, "proc/iomem", "proc/meminfo", host="qemu-x86_64-4g-no-crashkernel")
    out = json.loads(run("fleet", str(dest), "--arch", "ppc64le", "--format", "json").stdout)
    assert out["hosts"][0]["ok"] and out["hosts"][0]["taken_now"] is None


def test_check_with_nothing_to_judge_is_exit_3(tmp_path: Path) -> None:
    """No command line and no reservation in the capture: check prints no 'result: ok' for what it could not judge (exit 3, what would help)."""
    dest = _only(tmp_path, "proc/meminfo")
    r = run("check", "--source", str(dest), "--arch", "x86_64")
    assert r.exit_code == 3 and r.stdout == "" and "nothing to check" in r.stderr and "give --cmdline" in r.stderr
    assert run("check", "--source", str(dest), "--arch", "x86_64", "--cmdline", "crashkernel=512M").exit_code == 0


@pytest.mark.parametrize("command", [("footprint",), ("recommend",), ("check",), ("check", "--cmdline", "crashkernel=512M"), ("simulate", "crashkernel=512M")])
def test_every_planning_command_refuses_an_unknown_arch_alike(tmp_path: Path, command: tuple[str, ...]) -> None:
    """A capture that tells no architecture: footprint, recommend, check and simulate all say so (exit 3, --arch), none assumes x86_64."""
    dest = _only(tmp_path, "proc/meminfo", "proc/cmdline")
    r = run(*command, "--source", str(dest))
    assert r.exit_code == 3 and r.stdout == "", r.stdout
    assert "the architecture is unknown (" in r.stderr and "give --arch" in r.stderr and "x86_64" not in r.stderr


def test_fleet_reduced_from_results_keeps_an_unknown_current_setting_unknown(tmp_path: Path) -> None:
    """Reduced from recommend's JSON, a host whose current setting is unknown keeps taken_now null, as a planned one does."""
    dest = _only(tmp_path, "proc/iomem", "proc/meminfo", host="qemu-x86_64-4g-no-crashkernel")
    result = tmp_path / "r.json"
    result.write_text(run("recommend", "--source", str(dest), "--arch", "ppc64le", "--format", "json").stdout)
    out = json.loads(run("fleet", str(result), "--format", "json").stdout)
    assert out["hosts"][0]["ok"] and out["hosts"][0]["taken_now"] is None


@pytest.mark.parametrize(("meminfo", "why"), [("MemTotal:              0 kB\n", "/proc/iomem is absent and MemTotal is 0"), (None, "/proc/iomem was read without root and there is no MemTotal")])
def test_unknown_ram_says_why(tmp_path: Path, meminfo: str | None, why: str) -> None:
    """A MemTotal of 0 is no RAM size (unknown, not 0 B), and a zeroed /proc/iomem is named as the reason, not 'no System RAM'."""
    dest = tmp_path / "host"
    (dest / "proc").mkdir(parents=True)
    if meminfo is not None:
        (dest / "proc" / "meminfo").write_text(meminfo)
    else:
        zeroed = (HOSTS / "vivianchen-qemu-nonroot" / "proc" / "iomem").read_text()
        (dest / "proc" / "iomem").write_text(zeroed)
    out = json.loads(run("facts", "--source", str(dest), "--format", "json").stdout)
    assert out["system_ram"] is None and out["provenance"]["system_ram"] == f"unknown: {why}"
    r = run("recommend", "--source", str(dest), "--arch", "x86_64")
    assert r.exit_code == 3 and f"system RAM is unknown ({why})" in r.stderr


def test_simulate_with_an_unknown_kernel_shows_the_worse_kernel_as_check_judges() -> None:
    """Without a kernel version, simulate places a parameter as the worse of the oldest and newest kernels, and says so; check agrees."""
    import crashplan

    host = crashplan.open_host(str(HOSTS / "lore-x86-qemu-4g-crash256m"))
    assert host.facts.kernel_version is None
    # 4G-:256M on a guest just under 4 GiB: Linux 6.2+ rounds RAM up to 128M and matches, 3.10 does not.
    sim = crashplan.simulate(host, "crashkernel=4G-:256M")
    assert str(sim.features.version) == "3.10" and not sim.decision.ok
    assert "version-dependent-placement" in [w.code for w in sim.warnings]
    assert "not-reserved" in [f.code for f in crashplan.check(host, cmdline="crashkernel=4G-:256M").findings]
    # Where both kernels agree, the newest rules are shown and nothing is said.
    plain = crashplan.simulate(host, "crashkernel=256M")
    assert plain.decision.ok and "version-dependent-placement" not in [w.code for w in plain.warnings]
    assert crashplan.simulate(host, "crashkernel=4G-:256M", kernel_version="6.18").decision.ok
