"""Figures that contradict each other become findings, derived from real captures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crashplan.host.facts import gather_facts
from crashplan.host.sources import open_source

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
RESERVED = HOSTS / "qemu-x86_64-4g-crashkernel-256m"


def _codes(tree: Path) -> list[str]:
    return [f.code for f in gather_facts(open_source(tree)).findings]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    dest = tmp_path / "host"
    shutil.copytree(RESERVED, dest)
    return dest


@pytest.mark.parametrize("host", sorted(p.name for p in HOSTS.iterdir() if p.is_dir()))
def test_real_captures_are_consistent(host):
    """No real capture triggers a consistency finding."""
    codes = _codes(HOSTS / host)
    assert not {"ram-total-mismatch", "crashkernel-not-reserved", "crashkernel-size-mismatch", "unexpected-reservation", "crash-size-mismatch", "cma-partial"} & set(codes)


def test_command_line_changed_since_boot(tree):
    """A crashkernel= that does not give what iomem shows reserved is reported."""
    cmdline = tree / "proc" / "cmdline"
    cmdline.write_text(cmdline.read_text().replace("crashkernel=256M", "crashkernel=512M"))
    assert "crashkernel-size-mismatch" in _codes(tree)


def test_reservation_failed_at_boot(tree):
    """Accepted by the parser but absent from iomem: placing it failed at boot (an error)."""
    iomem = tree / "proc" / "iomem"
    iomem.write_text("".join(line for line in iomem.read_text().splitlines(keepends=True) if "Crash kernel" not in line))
    (tree / "sys" / "kernel" / "kexec_crash_size").write_text("0\n")
    facts = gather_facts(open_source(tree))
    finding = next(f for f in facts.findings if f.code == "crashkernel-not-reserved")
    assert finding.severity == "error"


def test_reserved_without_a_valid_parameter(tree):
    """A reservation that the command line should not give is reported."""
    cmdline = tree / "proc" / "cmdline"
    cmdline.write_text(cmdline.read_text().replace("crashkernel=256M", "crashkernel=256MB"))
    assert "unexpected-reservation" in _codes(tree)


def test_meminfo_from_another_boot(tree):
    """A MemTotal larger than the RAM of iomem is reported, and so is one far too small."""
    meminfo = tree / "proc" / "meminfo"
    text = meminfo.read_text()
    line = next(x for x in text.splitlines() if x.startswith("MemTotal:"))
    meminfo.write_text(text.replace(line, "MemTotal:       16000000 kB"))
    assert "ram-total-mismatch" in _codes(tree)
    meminfo.write_text(text.replace(line, "MemTotal:        1000000 kB"))
    assert "ram-total-mismatch" in _codes(tree)


def test_kexec_crash_size_disagrees_with_iomem(tree):
    """kexec_crash_size and the Crash kernel lines of iomem must agree."""
    (tree / "sys" / "kernel" / "kexec_crash_size").write_text(f"{128 << 20}\n")
    assert "crash-size-mismatch" in _codes(tree)
