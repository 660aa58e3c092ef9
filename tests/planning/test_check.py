"""``crashplan check`` verifies what the kernel did: each host finding on a real capture, or on
one derived from a real capture by editing one file (named in each test)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from clirun import run
from hosttrees import derive

from crashplan.host.services import UNIT_LINKS
from crashplan.host.sources.capture import HOST_FILES

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
RESERVED = "qemu-x86_64-4g-crashkernel-256m"  # real boot: crashkernel=256M reserved at 0xaf000000
UNRESERVED = "qemu-x86_64-4g-no-crashkernel"  # real boot of the same VM without crashkernel=




def check(*args: str) -> tuple[int, dict]:
    code, out, _ = run("check", *args, "--format", "json")
    return code, json.loads(out)


def host_codes(doc: dict) -> list[str]:
    return [f["code"] for f in doc["host"]["findings"]]


def test_real_reserved_capture_has_a_clean_host_state():
    """The real crashkernel=256M boot: asked 256M, reserved 256M, no host finding."""
    _code, doc = check("--source", str(HOSTS / RESERVED))
    assert doc["host"]["asked"] == doc["host"]["reserved"] == 256 << 20
    assert host_codes(doc) == []
    assert doc["host"]["kernel_log"] == ["crashkernel reserved: 0x00000000af000000 - 0x00000000bf000000 (256 MB)"]


def test_not_reserved_when_the_kernel_reserved_nothing(tmp_path):
    """proc/cmdline edited to ask for 512M on the boot that reserved nothing: not-reserved, exit 4."""
    cmdline = (HOSTS / UNRESERVED / "proc/cmdline").read_text().rstrip("\n") + " crashkernel=512M\n"
    src = derive(tmp_path, UNRESERVED, {"proc/cmdline": cmdline})
    code, doc = check("--source", src)
    assert code == 4
    (f,) = [f for f in doc["host"]["findings"] if f["code"] == "not-reserved"]
    assert f["severity"] == "error" and "asks for 512 MiB" in f["message"] and "reserved nothing" in f["message"]


def test_not_reserved_quotes_the_kernel_log(tmp_path):
    """dmesg.txt edited to the kernel's failure line (kernel/crash_reserve.c): the finding quotes it."""
    log = (HOSTS / RESERVED / "dmesg.txt").read_text().replace(
        "crashkernel reserved: 0x00000000af000000 - 0x00000000bf000000 (256 MB)", "cannot allocate crashkernel (size:0x10000000)"
    )
    src = derive(tmp_path, RESERVED, {"dmesg.txt": log, "proc/iomem": (HOSTS / RESERVED / "proc/iomem").read_text().replace("Crash kernel", "System RAM"), "sys/kernel/kexec_crash_size": "0\n"})
    code, doc = check("--source", src)
    (f,) = [f for f in doc["host"]["findings"] if f["code"] == "not-reserved"]
    assert 'the kernel log says: "cannot allocate crashkernel (size:0x10000000)"' in f["message"]
    assert code == 4


def test_proposal_is_judged_and_the_failed_host_still_reported(tmp_path):
    """check --cmdline on a host whose reservation failed: the proposal passes, the host state fails (exit 4)."""
    cmdline = (HOSTS / UNRESERVED / "proc/cmdline").read_text().rstrip("\n") + " crashkernel=512M\n"
    src = derive(tmp_path, UNRESERVED, {"proc/cmdline": cmdline})
    code, doc = check("--source", src, "--cmdline", "crashkernel=512M")
    assert doc["proposed"] is True and doc["checked"] == "crashkernel=512M"
    assert [f for f in doc["findings"] if f["severity"] == "error"] == []
    assert "not-reserved" in host_codes(doc) and code == 4


def test_not_loaded(tmp_path):
    """sys/kernel/kexec_crash_loaded added as 0 to the reserved capture: not-loaded, exit 4."""
    src = derive(tmp_path, RESERVED, {"sys/kernel/kexec_crash_loaded": "0\n"})
    code, doc = check("--source", src)
    assert "not-loaded" in host_codes(doc) and code == 4 and doc["host"]["loaded"] is False
    src1 = derive(tmp_path / "1", RESERVED, {"sys/kernel/kexec_crash_loaded": "1\n"})
    assert "not-loaded" not in host_codes(check("--source", src1)[1])


@pytest.mark.parametrize(
    ("relpath", "text", "why"),
    [
        ("etc/default/kdump-tools", "USE_KDUMP=0\n", "USE_KDUMP=0"),
        ("etc/os-release", 'ID=debian\nVERSION_ID="13"\n', "not configured"),
    ],
)
def test_reserved_but_unused(tmp_path, relpath, text, why):
    """A kdump-tools file with USE_KDUMP=0, or an /etc without any kdump configuration: reserved-but-unused."""
    src = derive(tmp_path, RESERVED, {relpath: text})
    _, doc = check("--source", src)
    (f,) = [f for f in doc["host"]["findings"] if f["code"] == "reserved-but-unused"]
    assert why in f["message"] and f["severity"] == "warning"


def test_reserved_but_unused_from_systemd_links(tmp_path):
    """A snapshot whose capture looked for the kdump unit links and found none: the service is disabled."""
    meta = {"format": "crashplan-snapshot", "format_version": 1, "captured_at": "2026-11-27T09:09:57Z", "absent": list(UNIT_LINKS)}
    src = derive(tmp_path, RESERVED, {"crashplan-snapshot.json": json.dumps(meta), "etc/kdump.conf": "auto_reset_crashkernel no\n"})
    _, doc = check("--source", src)
    assert doc["host"]["kdump_enabled"] is False and "reserved-but-unused" in host_codes(doc)
    copy = tmp_path / "copy"  # a snapshot of that snapshot still knows the links are absent
    assert run("snapshot", "--source", str(src), "-o", str(copy)).exit_code == 0
    assert check("--source", str(copy))[1]["host"]["kdump_enabled"] is False
    enabled = derive(tmp_path / "1", RESERVED, {"etc/kdump.conf": "auto_reset_crashkernel no\n", UNIT_LINKS[0]: "[Unit]\n"})
    _, doc = check("--source", enabled)
    assert doc["host"]["kdump_enabled"] is True and host_codes(doc) == []


def test_snapshots_capture_the_unit_links():
    """A snapshot looks for every kdump unit link, so a later check can tell disabled from unknown."""
    assert set(UNIT_LINKS) <= set(HOST_FILES)


@pytest.mark.parametrize(
    ("relpath", "text", "line"),
    [
        ("etc/kdump.conf", "path /var/crash\ncore_collector makedumpfile -l -d 31\n", "auto_reset_crashkernel no"),
        ("etc/kdump.conf", "auto_reset_crashkernel yes\n", "auto_reset_crashkernel no"),
        ("etc/sysconfig/kdump", 'KDUMP_CPUS=1\nKDUMP_CRASHKERNEL="auto"\n', 'KDUMP_CRASHKERNEL="crashkernel=256M"'),
    ],
)
def test_distro_will_overwrite_gives_the_line_to_set(tmp_path, relpath, text, line):
    """kdump-utils without auto_reset_crashkernel no, SUSE with KDUMP_CRASHKERNEL=auto: distro-will-overwrite with the fix."""
    src = derive(tmp_path, RESERVED, {relpath: text})
    _, doc = check("--source", src)
    (f,) = [f for f in doc["host"]["findings"] if f["code"] == "distro-will-overwrite"]
    assert f["message"].endswith(line)


def test_distro_will_overwrite_fix_names_the_proposal(tmp_path):
    """With --cmdline the SUSE line to set carries the proposed value; auto_reset_crashkernel no is quiet."""
    src = derive(tmp_path, RESERVED, {"etc/sysconfig/kdump": 'KDUMP_CPUS=1\nKDUMP_CRASHKERNEL="auto"\n'})
    _, doc = check("--source", src, "--cmdline", "crashkernel=512M")
    (f,) = [f for f in doc["host"]["findings"] if f["code"] == "distro-will-overwrite"]
    assert f["message"].endswith('KDUMP_CRASHKERNEL="crashkernel=512M"')
    quiet = derive(tmp_path / "1", RESERVED, {"etc/kdump.conf": "auto_reset_crashkernel no\n"})
    assert "distro-will-overwrite" not in host_codes(check("--source", quiet)[1])


def test_cma_partial(tmp_path):
    """proc/cmdline edited to add crashkernel=1G,cma on the 7.3 boot whose kexec_crash_cma_ranges is empty: cma-partial."""
    cmdline = (HOSTS / RESERVED / "proc/cmdline").read_text().rstrip("\n") + " crashkernel=1G,cma\n"
    src = derive(tmp_path, RESERVED, {"proc/cmdline": cmdline})
    _, doc = check("--source", src)
    (f,) = [f for f in doc["host"]["findings"] if f["code"] == "cma-partial"]
    assert "asks for 1 GiB but 0 B is reserved" in f["message"]
    assert doc["host"]["cma_asked"] == 1 << 30 and doc["host"]["cma_reserved"] == 0


# --------------------------------------------------------------------------------------------
# check --plan: the after-reboot step of "recommend, write, reboot, verify"


def save_plan(tmp_path: Path, *args: str) -> str:
    code, out, err = run("recommend", *args, "--format", "json")
    assert code == 0, err
    path = tmp_path / "plan.json"
    path.write_text(out)
    return str(path)


def applied_512m(tmp_path: Path) -> str:
    """The 256M boot as a 512M plan leaves it: proc/cmdline, the "Crash kernel" line of proc/iomem and kexec_crash_size edited together."""
    iomem = (HOSTS / RESERVED / "proc/iomem").read_text().replace("af000000-beffffff : Crash kernel", "9f000000-beffffff : Crash kernel")
    cmdline = (HOSTS / RESERVED / "proc/cmdline").read_text().replace("crashkernel=256M", "crashkernel=512M")
    return derive(tmp_path, RESERVED, {"proc/iomem": iomem, "proc/cmdline": cmdline, "sys/kernel/kexec_crash_size": f"{512 << 20}\n", "dmesg.txt": None})


def test_plan_round_trip_on_a_snapshot_matches(tmp_path):
    """recommend --strategy standard saved, then check --plan on the host booted with it: no plan finding, exit 0."""
    host = applied_512m(tmp_path)
    # The generic profile (the guest's Debian kernel boots a busybox capture, not kdump-tools): 512M.
    plan = save_plan(tmp_path, "--source", host, "--strategy", "standard", "--profile", "base-x86_64")
    assert json.loads(Path(plan).read_text())["recommendation"]["cmdline"] == "crashkernel=512M"
    code, doc = check("--source", host, "--plan", plan)
    assert doc["plan"] == {"file": plan, "cmdline": "crashkernel=512M", "source": host, "findings": []}
    assert code == 0, doc


def test_plan_not_applied_and_short(tmp_path):
    """The same plan against the boot that still has crashkernel=256M: plan-not-applied and plan-reservation-short."""
    plan = save_plan(tmp_path, "--source", applied_512m(tmp_path), "--strategy", "standard", "--profile", "base-x86_64")
    code, doc = check("--source", str(HOSTS / RESERVED), "--plan", plan)
    assert [f["code"] for f in doc["plan"]["findings"]] == ["plan-not-applied", "plan-reservation-short"]
    assert code == 4
    from jsonschema import Draft202012Validator

    from crashplan.schemas import load_schema

    Draft202012Validator(load_schema("check")).validate(doc)


def _initrd(tmp_path: Path, name: str, size: int) -> str:
    import gzip
    import subprocess

    if not shutil.which("cpio"):
        pytest.skip("needs GNU cpio")
    root = tmp_path / f"{name}-tree"
    root.mkdir()
    (root / "init").write_bytes(b"#!/bin/sh\n" + b"x" * size)
    names = "\n".join([".", "init"]).encode()
    cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=names, capture_output=True, check=True).stdout
    path = tmp_path / name
    path.write_bytes(gzip.compress(cpio, mtime=0))
    return str(path)


def test_plan_initrd_grew(tmp_path):
    """A kdump initrd that grew since the plan (both given with --initrd) is an initrd-grew finding."""
    host = applied_512m(tmp_path)
    small = _initrd(tmp_path, "small.img", 1 << 20)
    big = _initrd(tmp_path, "big.img", 24 << 20)
    plan = save_plan(tmp_path, "--source", host, "--strategy", "standard", "--initrd", small)
    _, doc = check("--source", host, "--plan", plan, "--initrd", big)
    codes = [f["code"] for f in doc["plan"]["findings"]]
    assert "initrd-grew" in codes
    _, same = check("--source", host, "--plan", plan, "--initrd", small)
    assert "initrd-grew" not in [f["code"] for f in same["plan"]["findings"]]


def test_plan_round_trip_on_the_live_host(tmp_path):
    """On this host: recommend saved, check --plan reads it back and compares (whatever this host has)."""
    code, out, err = run("recommend", "--format", "json")
    if code == 3:
        pytest.skip(f"this host cannot be read: {err.strip()}")
    (tmp_path / "plan.json").write_text(out)
    code, doc = check("--plan", str(tmp_path / "plan.json"))
    assert code in (0, 4)
    applied = sorted((doc["host"]["crashkernel"] or "").split()) == sorted(json.loads(out)["recommendation"]["cmdline"].split())
    assert ("plan-not-applied" in [f["code"] for f in doc["plan"]["findings"]]) is not applied


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON (Expecting property name enclosed in double quotes): not a plan saved by crashplan recommend --format json"),
        ('{"crashplan_result_version": 1, "command": "facts"}', "a crashplan facts result, not a plan: save one with crashplan recommend --format json"),
        ("[1, 2]", "not a crashplan result, not a plan: save one with crashplan recommend --format json"),
        ('{"crashplan_result_version": 2, "command": "recommend"}', "crashplan_result_version 2; this crashplan reads version 1"),
        ('{"crashplan_result_version": 1, "command": "recommend", "status": "error", "errors": []}', "a plan without a recommendation (the recommend run failed?)"),
        (b"\xff\xfe", "not valid UTF-8: not a plan saved by crashplan recommend --format json"),
        (
            '{"crashplan_result_version": 1, "command": "recommend", "arch": 5, "recommendation": {"cmdline": "crashkernel=1G", "reserved": 1, '
            '"taken_from_production": 1, "borrowed": 0}, "footprint": {"total": 1}}',
            '"arch" should be a string or null',
        ),
        (
            '{"crashplan_result_version": 1, "command": "recommend", "system_ram": "big", "recommendation": {"cmdline": "crashkernel=1G", "reserved": 1, '
            '"taken_from_production": 1, "borrowed": 0}, "footprint": {"total": 1}}',
            '"system_ram" should be an integer or null',
        ),
    ],
    ids=["garbled", "facts", "list", "version", "failed", "binary", "arch", "ram"],
)
def test_error_bad_plan_file(tmp_path, content, message):
    """A plan file that is not a crashplan plan: exit 3 with one line saying why."""
    path = tmp_path / "plan.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = run("check", "--source", str(HOSTS / RESERVED), "--plan", str(path))
    assert code == 3 and out == ""
    assert err.startswith(f"crashplan: error: {path}") and err.rstrip("\n").endswith(message) and err.count("\n") == 1


def test_error_plan_of_another_host(tmp_path):
    """A plan made on the 8 GiB desktop, checked on the 4 GiB VM or on s390x: exit 3, 'the plan is for another host'."""
    plan = save_plan(tmp_path, "--source", str(HOSTS / "twaite-desktop-8g"))
    code, _, err = run("check", "--source", str(HOSTS / RESERVED), "--plan", plan)
    assert code == 3 and err.endswith(": the plan is for another host: 8 GiB of system RAM, and this host has 4 GiB\n")
    code, _, err = run("check", "--source", str(HOSTS / "lore-s390x-vm-2g-crash256m"), "--plan", plan)
    assert code == 3 and err.endswith(": the plan is for another host: x86_64, and this host is s390x\n")


def test_error_plan_and_cmdline_together():
    """--plan and --cmdline are two different questions: usage error, exit 2."""
    code, _, err = run("check", "--source", str(HOSTS / RESERVED), "--plan", "x.json", "--cmdline", "crashkernel=1G")
    assert code == 2 and "give --plan or --cmdline, not both" in err


@pytest.mark.parametrize("name", ["twaite-desktop-8g", "lore-x86-qemu-4g-crash256m"])
def test_a_snapshot_of_a_capture_keeps_an_unknown_service_unknown(tmp_path, name):
    """snapshot --source of a capture without systemd links does not turn 'kdump service unknown' into 'disabled'."""
    src = Path(__file__).parents[1] / "data" / "hosts" / name
    snap = tmp_path / "snap"
    assert run("snapshot", "--source", str(src), "-o", str(snap)).exit_code == 0
    again = tmp_path / "again"
    assert run("snapshot", "--source", str(snap), "-o", str(again)).exit_code == 0
    docs = [check("--source", str(s))[1] for s in (src, snap, again)]
    assert [d["host"]["kdump_enabled"] for d in docs] == [None, None, None]
    assert docs[0]["findings"] == docs[1]["findings"] == docs[2]["findings"]


@pytest.mark.parametrize("name", ["twaite-desktop-8g", "this-machine-x86_64-6.18.44-fc-v657"])
def test_a_snapshot_of_a_capture_says_the_same_facts(tmp_path, name):
    """snapshot --source of a capture without /boot: facts of the copy equal the original's (no 'kdump kernel and initrd not found')."""
    src = Path(__file__).parents[1] / "data" / "hosts" / name
    snap = tmp_path / "snap"
    assert run("snapshot", "--source", str(src), "-o", str(snap)).exit_code == 0
    docs = [json.loads(run("facts", "--source", str(s), "--format", "json").stdout) for s in (src, snap)]
    for d in docs:
        d.pop("source")
        d["absent"] = None  # a snapshot lists what it looked for, the paste what it lacks
    assert docs[0] == docs[1]
