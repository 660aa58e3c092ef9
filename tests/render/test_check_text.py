"""``crashplan check`` as text is a function of the report: called directly on real captures (or
on one derived from a real capture by editing the files named in each case), it lays out the
host as the kernel left it, the judged parameter and the plan, in that order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hosttrees import KDUMPCTL_ESTIMATE, derive

import crashplan
from crashplan.host.formats.sosreport import parse_kdumpctl_estimate
from crashplan.host.services import UNIT_LINKS
from crashplan.planning.recommend import plan_to_json
from crashplan.render.check import kdumpctl_side_by_side, render_check_text
from crashplan.units import format_human

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
RESERVED = "qemu-x86_64-4g-crashkernel-256m"  # real boot: crashkernel=256M reserved at 0xaf000000
UNRESERVED = "qemu-x86_64-4g-no-crashkernel"  # real boot of the same VM without crashkernel=
RHEL7 = "rhel7-demobuilder-4g-auto161m"  # RHEL 7.1, crashkernel=auto: 161M from its kernel log

ESTIMATE = KDUMPCTL_ESTIMATE




def text_of(source: str, *, cmdline: str | None = None, plan: str | None = None, strict: bool = False) -> str:
    host = crashplan.open_host(source)
    return render_check_text(host, crashplan.check(host, cmdline=cmdline, plan=plan), strict=strict, width=None)


def _cmdline(host: str, add: str) -> str:
    return (HOSTS / host / "proc/cmdline").read_text().rstrip("\n") + f" {add}\n"


# The second and third lines of the host section: what was asked and reserved, and whether
# anything will write a dump.
HOST_LINES = [
    pytest.param(RESERVED, {}, ["  asked 256 MiB, reserved 256 MiB", "  crash kernel loaded: unknown; kdump service: unknown"], id="reserved"),
    pytest.param(UNRESERVED, {}, ["  asked nothing, reserved 0 B", "  crash kernel loaded: unknown; kdump service: unknown"], id="no-crashkernel"),
    pytest.param("lore-x86-qemu-4g-crash256m", {}, ["  asked unknown (no /proc/cmdline in the source), reserved 256 MiB", "  crash kernel loaded: unknown; kdump service: unknown"], id="no-cmdline"),
    pytest.param(RHEL7, {}, ["  asked unknown (crashkernel=auto: the kernel's own size), reserved 161 MiB", "  crash kernel loaded: unknown; kdump service: unknown"], id="rhel-auto"),
    pytest.param(RESERVED, {"proc/cmdline": _cmdline(RESERVED, "crashkernel=1G,cma")}, ["  asked 256 MiB, reserved 256 MiB; CMA asked 1 GiB, reserved 0 B", "  crash kernel loaded: unknown; kdump service: unknown"], id="cma"),
    pytest.param(RESERVED, {"sys/kernel/kexec_crash_loaded": "0\n", "etc/default/kdump-tools": "USE_KDUMP=0\n"}, ["  asked 256 MiB, reserved 256 MiB", "  crash kernel loaded: no; kdump service: disabled"], id="not-loaded-disabled"),
    pytest.param(RESERVED, {"sys/kernel/kexec_crash_loaded": "1\n", "etc/kdump.conf": "auto_reset_crashkernel no\n", UNIT_LINKS[0]: "[Unit]\n"}, ["  asked 256 MiB, reserved 256 MiB", "  crash kernel loaded: yes; kdump service: enabled"], id="loaded-enabled"),
]


@pytest.mark.parametrize(("host", "edits", "lines"), HOST_LINES)
def test_host_section_says_what_was_asked_and_reserved(tmp_path: Path, host: str, edits: dict[str, str | None], lines: list[str]) -> None:
    """The host section gives what the command line asks (or why it is unknown), what is reserved, loaded and enabled."""
    source = derive(tmp_path, host, edits) if edits else str(HOSTS / host)
    text = text_of(source).splitlines()
    assert text[0] == f"host ({source}, as the kernel left it at boot):"
    assert text[2:4] == lines


def test_text_output_separates_host_and_proposal(tmp_path: Path) -> None:
    """The text report shows the host state first, then the proposed parameter, each with its findings."""
    src = derive(tmp_path, RESERVED, {"sys/kernel/kexec_crash_loaded": "0\n"})
    text = text_of(src, cmdline="crashkernel=512M")
    assert text.index("as the kernel left it at boot") < text.index("error not-loaded") < text.index("checked (proposed): crashkernel=512M")


def test_every_finding_is_a_line_under_its_section() -> None:
    """Each finding of the host and of the checked parameter is one indented line in its section, and the last line is the result."""
    host = crashplan.open_host(str(HOSTS / RHEL7))
    report = crashplan.check(host)
    lines = render_check_text(host, report, width=None).splitlines()
    checked = next(i for i, line in enumerate(lines) if line.startswith("checked: "))
    assert lines[checked] == f"checked: {host.facts.cmdline}"
    assert lines[checked + 1] == f"  estimated need {format_human(report.footprint.total)}; profile rhel7-x86_64"
    assert lines[checked + 2 : -1] == [f"  {f.severity} {f.code}: {f.message}" for f in report.findings]
    assert lines[checked + 2].startswith("  info vendor-auto: crashkernel=auto is the RHEL kernel patch's own size on 3.10.0-229.11.1.el7.x86_64")
    assert lines[1] == "  crashkernel= on the command line: crashkernel=auto"
    assert lines[4] == "  kernel log: Reserving 161MB of memory at 704MB for crashkernel (System RAM: 4095MB)"
    assert lines[-1] == "result: " + ("findings (exit 4)" if report.failing() else "ok")


def test_command_line_unknown_judges_the_reservation_shown() -> None:
    """Without /proc/cmdline the host's crashkernel= is unknown and the reservation the capture shows is what is checked."""
    lines = text_of(str(HOSTS / "lore-x86-qemu-4g-crash256m")).splitlines()
    assert lines[1] == "  crashkernel= on the command line: unknown (no /proc/cmdline in the source)"
    assert "checked: the reservation the capture shows (command line unknown)" in lines
    assert any(line.startswith("  info cmdline-unknown: ") for line in lines)


def test_strict_turns_a_warning_into_findings() -> None:
    """A report with warnings and no error ends 'result: ok', and with strict 'result: findings (exit 4)'."""
    host = crashplan.open_host(str(HOSTS / RESERVED))
    report = crashplan.check(host, cmdline="crashkernel=2G")  # more than twice the need: wasteful
    assert [f.severity for f in report.failing(strict=True)] and not report.failing()
    assert render_check_text(host, report).endswith("\nresult: ok\n")
    assert render_check_text(host, report, strict=True).endswith("\nresult: findings (exit 4)\n")


def test_plan_section(tmp_path: Path) -> None:
    """A saved plan the host was booted with: 'the host matches the plan'; the same plan on the 256M boot: its findings instead."""
    iomem = (HOSTS / RESERVED / "proc/iomem").read_text().replace("af000000-beffffff : Crash kernel", "9f000000-beffffff : Crash kernel")
    cmdline = (HOSTS / RESERVED / "proc/cmdline").read_text().replace("crashkernel=256M", "crashkernel=512M")
    applied = derive(tmp_path, RESERVED, {"proc/iomem": iomem, "proc/cmdline": cmdline, "sys/kernel/kexec_crash_size": f"{512 << 20}\n", "dmesg.txt": None})
    # The generic profile (the guest's Debian kernel boots a busybox capture, not kdump-tools): 512M.
    host = crashplan.open_host(applied, profile="base-x86_64")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(host.envelope("recommend") | plan_to_json(crashplan.recommend(host, strategy="standard"))))
    text = text_of(applied, plan=str(path))
    assert text.endswith(f"plan ({path}): crashkernel=512M\n  the host matches the plan\nresult: ok\n")
    lines = text_of(str(HOSTS / RESERVED), plan=str(path)).splitlines()
    start = lines.index(f"plan ({path}): crashkernel=512M")
    assert [line.split(":")[0] for line in lines[start + 1 : -1]] == ["  error plan-not-applied", "  error plan-reservation-short"]
    assert lines[-1] == "result: findings (exit 4)"


def test_kdumpctl_estimate_beside_crashplans() -> None:
    """kdumpctl estimate's sizes and crashplan's need, one line each, in MiB; a size kdumpctl did not print is '-'."""
    fp = crashplan.check(crashplan.open_host(str(HOSTS / RESERVED))).footprint
    estimate = parse_kdumpctl_estimate(ESTIMATE)
    assert estimate is not None
    assert kdumpctl_side_by_side(estimate, fp).split("\n") == [
        "kdumpctl estimate (the host's own, from the sosreport): recommended 400M, reserved 256M; kernel 47M, modules 9M, initramfs 32M (x3 in its sum), runtime 16M",
        f"crashplan: estimated need {fp.total >> 20}M, crashkernel=X needs X >= {fp.recommended_size >> 20}M",
    ]
    partial = parse_kdumpctl_estimate("Reserved crashkernel:    256M\nRecommended crashkernel: 192M\n")
    assert partial is not None
    assert kdumpctl_side_by_side(partial, fp).split("\n")[0].endswith("recommended 192M, reserved 256M; kernel -, modules -, initramfs - (x3 in its sum), runtime -")


def test_without_system_ram_nothing_is_judged(tmp_path: Path) -> None:
    """Without system RAM the kernel's matching cannot be followed: check refuses (exit 3) rather than print a verdict."""
    from crashplan.errors import CrashplanError

    source = derive(tmp_path, RESERVED, {"proc/iomem": None, "proc/meminfo": None})
    with pytest.raises(CrashplanError, match="system RAM is unknown"):
        crashplan.check(crashplan.open_host(source))
