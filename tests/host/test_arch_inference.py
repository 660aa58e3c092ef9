"""Architecture inference weighs all the evidence, and --arch overrides it; variants of real captures.

Issue 15: an arm64 ThunderX2 read as x86_64 because of a top-level "PCI Bus", a ppc64le LPAR read
as s390x, arm64 boards (``pl011@9000000``) left unknown with no way out.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from crashplan.host.facts import gather_facts
from crashplan.host.sources import open_source
from tests.planning.test_checked_answer import run

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
RPI4 = HOSTS / "arm64-rpi4-4g-cma512m"
S390 = HOSTS / "lore-s390x-vm-2g-crash256m"


def _copy(src: Path, tmp_path: Path) -> Path:
    dest = tmp_path / src.name
    shutil.copytree(src, dest)
    return dest


def _facts(tree: Path):
    return gather_facts(open_source(tree))


def test_arm64_server_with_pci_bus_is_not_x86(tmp_path: Path) -> None:
    """The Raspberry Pi 4 map with a top-level 'PCI Bus' (as on a ThunderX2) stays arm64."""
    tree = _copy(RPI4, tmp_path)
    iomem = tree / "proc" / "iomem"
    iomem.write_text(iomem.read_text() + "600000000-6ffffffff : PCI Bus 0000:00\n")
    facts = _facts(tree)
    assert facts.arch == "arm64"


def test_non_root_arm64_board_by_its_pl011(tmp_path: Path) -> None:
    """A non-root arm64 map (every address 0) is known by its device-tree peripheral pl011@9000000."""
    tree = _copy(RPI4, tmp_path)
    iomem = tree / "proc" / "iomem"
    text = iomem.read_text() + "09000000-09000fff : 9000000.pl011 pl011@9000000\n"
    iomem.write_text(re.sub(r"[0-9a-f]+-[0-9a-f]+ :", "00000000-00000000 :", text))
    facts = _facts(tree)
    assert facts.arch == "arm64" and "pl011" in facts.provenance["arch"]


def test_kernel_at_zero_is_powerpc(tmp_path: Path) -> None:
    """A map with a top-level 'Crash kernel' (powerpc 6.15-6.17 exported one) and the kernel at 0 is ppc64le, not s390x."""
    tree = _copy(S390, tmp_path)
    iomem = tree / "proc" / "iomem"
    iomem.write_text(iomem.read_text().replace("  0f258000-0fcfffff : Kernel code", "  00000000-0fcfffff : Kernel code"))
    facts = _facts(tree)
    assert facts.arch == "ppc64le"
    assert facts.system_ram == 0x70000000  # s390's ident_map_size rule (plus the Crash kernel) does not apply


def test_cpuinfo_is_evidence_and_conflicts_are_said(tmp_path: Path) -> None:
    """/proc/cpuinfo adds evidence; when it disagrees with the iomem shape, a warning says so."""
    tree = _copy(S390, tmp_path)
    (tree / "proc" / "cpuinfo").write_text("vendor_id       : IBM/S390\n# processors    : 2\n")
    facts = _facts(tree)
    assert facts.arch == "s390x" and "also a top-level 'Crash kernel'" in facts.provenance["arch"]
    (tree / "proc" / "cpuinfo").write_text("processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\nplatform\t: pSeries\n")
    facts = _facts(tree)
    assert facts.arch == "ppc64le"
    assert "arch-evidence-conflict" in [f.code for f in facts.findings]


@pytest.mark.parametrize("command", [("facts",), ("footprint",), ("check",), ("simulate", "crashkernel=256M"), ("recommend",)])
def test_arch_option_on_every_command_reading_a_source(command: tuple[str, ...]) -> None:
    """--arch overrides the inference on every command that reads a source."""
    r = run(*command, "--source", str(S390), "--arch", "s390x", "--format", "json")
    assert r.exit_code in (0, 4), r.stderr
    assert '"arch": "s390x"' in r.stdout
