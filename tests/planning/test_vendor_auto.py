"""crashkernel=auto on a RHEL 6-8 kernel is the kernel's own size: judged by the reservation the capture shows, not as mainline's 'reserves nothing'."""

from __future__ import annotations

import shutil
from pathlib import Path

import crashplan
from crashplan.units import MiB

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
RHEL7 = HOSTS / "rhel7-demobuilder-4g-auto161m"


def codes(findings) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.code for f in findings]


def test_rhel7_auto_is_judged_by_what_the_kernel_reserved() -> None:
    """The RHEL 7.1 host's crashkernel=auto: asked unknown, 161M reserved (its kernel log), judged against the need."""
    host = crashplan.open_host(str(RHEL7))
    report = crashplan.check(host)
    assert report.host.asked is None and report.host.reserved == 161 * MiB
    assert report.host.findings == ()
    got = codes(report.findings)
    assert got[0] == "vendor-auto" and "not-reserved" not in got and "auto-not-mainline" not in got
    # 161M against an estimate of about 200M with the kernel image and initrd unknown.
    assert ("does-not-cover" in got) is (report.footprint.total > 161 * MiB)
    assert host.facts.cmdline_crashkernel is None
    assert "RHEL kernel patch" in host.facts.provenance["cmdline_crashkernel"]


def test_auto_on_a_mainline_kernel_reserves_nothing() -> None:
    """The same crashkernel=auto proposed on a mainline (Debian) kernel: the kernel rejects it."""
    report = crashplan.check(crashplan.open_host(str(HOSTS / "qemu-x86_64-4g-no-crashkernel")), cmdline="crashkernel=auto")
    got = codes(report.findings)
    assert "not-reserved" in got and "auto-not-mainline" in got and "vendor-auto" not in got


def test_auto_on_rhel9_is_mainline(tmp_path: Path) -> None:
    """RHEL 9 dropped the patch: on an el9 kernel crashkernel=auto reserves nothing."""
    dest = tmp_path / "el9"
    shutil.copytree(RHEL7, dest)
    for name in ("proc/cmdline", "dmesg.txt"):
        path = dest / name
        path.write_text(path.read_text().replace("3.10.0-229.11.1.el7", "5.14.0-427.13.1.el9_4"))
    report = crashplan.check(crashplan.open_host(str(dest)))
    assert "not-reserved" in codes(report.findings) and "vendor-auto" not in codes(report.findings)


def test_recommend_shows_what_auto_reserved(tmp_path: Path) -> None:
    """recommend's comparison row for a current crashkernel=auto is what the kernel reserved (here a 4 GiB guest's 256M, its command line made RHEL 7's)."""
    from hosttrees import derive

    cmdline = (RHEL7 / "proc" / "cmdline").read_text()
    source = derive(tmp_path, "lore-x86-qemu-4g-crash256m", {"proc/cmdline": cmdline})
    plan = crashplan.recommend(crashplan.open_host(source))
    current = plan.options[0]
    assert current.label == "current (RHEL crashkernel=auto)" and current.taken == 256 * MiB
    assert plan.cmdline.startswith("crashkernel=")


def test_no_recommendation_without_a_memory_map() -> None:
    """The RHEL 7 host's capture is two kernel log lines: no memory map, so no number, but the need and what would help."""
    import pytest

    from crashplan.planning.recommend import NoPlanError

    with pytest.raises(NoPlanError, match=r"the source has no /proc/iomem; the estimated need is 199.2 MiB"):
        crashplan.recommend(crashplan.open_host(str(RHEL7)))


def test_the_need_is_said_alike_in_the_header_and_the_finding() -> None:
    """check's does-not-cover finding names the estimated need as its report's header does (199.2 MiB, not a rounded 200M)."""
    from crashplan.render.check import render_check_text
    from crashplan.units import format_human

    host = crashplan.open_host(str(RHEL7))
    report = crashplan.check(host)
    need = format_human(report.footprint.total)
    finding = next(f for f in report.findings if f.code == "does-not-cover")
    assert finding.message.endswith(f"does not cover the estimated need of {need}")
    assert f"estimated need {need};" in render_check_text(host, report, width=None)
