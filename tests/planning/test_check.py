"""``crashplan check`` verifies what the kernel did: each host finding on a real capture, or on
one derived from a real capture by editing one file (named in each test)."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from crashplan.cli import main
from crashplan.host.services import UNIT_LINKS
from crashplan.host.sources.capture import HOST_FILES

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
RESERVED = "qemu-x86_64-4g-crashkernel-256m"  # real boot: crashkernel=256M reserved at 0xaf000000
UNRESERVED = "qemu-x86_64-4g-no-crashkernel"  # real boot of the same VM without crashkernel=


def derive(tmp_path: Path, host: str, edits: dict[str, str | None]) -> str:
    """A copy of the real capture ``host`` with ``edits`` (relpath -> new text, None removes)."""
    dest = tmp_path / f"{host}-derived"
    shutil.copytree(HOSTS / host, dest)
    for relpath, text in edits.items():
        path = dest / relpath
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return str(dest)


def check(*args: str) -> tuple[int, dict]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["check", *args, "--format", "json"])
        except SystemExit as e:
            code = int(e.code or 0)
    return code, json.loads(out.getvalue())


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


def test_text_output_separates_host_and_proposal(tmp_path):
    """The text report shows the host state first, then the proposed parameter, each with its findings."""
    src = derive(tmp_path, RESERVED, {"sys/kernel/kexec_crash_loaded": "0\n"})
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()), contextlib.suppress(SystemExit):
        main(["check", "--source", src, "--cmdline", "crashkernel=512M"])
    text = out.getvalue()
    assert text.index("as the kernel left it at boot") < text.index("error not-loaded") < text.index("checked (proposed): crashkernel=512M")
