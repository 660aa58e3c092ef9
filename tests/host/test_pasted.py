"""Pasted captures: blank lines, nameless resources and typed lines are skipped with a warning naming file and line.

Every variant is derived from the real twaite-desktop-8g capture, the way mail clients and
editors change a paste; the facts that come out equal the original's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crashplan.errors import SourceError
from crashplan.host.facts import gather_facts
from crashplan.host.sources import open_source

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
TWAITE = HOSTS / "twaite-desktop-8g"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    dest = tmp_path / "host"
    shutil.copytree(TWAITE, dest)
    return dest


def _edit(path: Path, edit) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(edit(lines)))


def _skips(facts) -> list[str]:
    return [f.message for f in facts.findings if f.code.startswith("pasted-line")]


def test_iomem_blank_typed_and_nameless_lines(tree: Path) -> None:
    """A blank line, an editor's '[ PCI stuff ]' and a nameless resource whose space a mail client trimmed."""
    original = gather_facts(open_source(TWAITE))
    _edit(tree / "proc" / "iomem", lambda x: [*x[:3], "\n", "[ PCI stuff ]\n", *x[3:8], "  000f0000-000f0fff :\n", *x[8:]])
    facts = gather_facts(open_source(tree))
    assert facts.system_ram == original.system_ram and facts.ram == original.ram
    iomem = f"{tree}/proc/iomem"
    assert _skips(facts) == [
        f"{iomem}:4: blank line skipped",
        f"{iomem}:5: skipped '[ PCI stuff ]': not a line of iomem",
        f"{iomem}:11: nameless resource: its trailing space restored",
    ]
    assert all(f.severity == "warning" for f in facts.findings if f.code.startswith("pasted-line"))


def test_meminfo_zoneinfo_buddyinfo_blank_and_typed_lines(tree: Path) -> None:
    """The same tolerance for meminfo, zoneinfo and buddyinfo."""
    original = gather_facts(open_source(TWAITE))
    _edit(tree / "proc" / "meminfo", lambda x: [*x[:2], "\n", "--- meminfo ---\n", *x[2:]])
    _edit(tree / "proc" / "zoneinfo", lambda x: [*x[:3], "\n", "[ zones ]\n", *x[3:]])
    _edit(tree / "proc" / "buddyinfo", lambda x: ["$ cat /proc/buddyinfo\n", *x[:1], "\n", *x[1:]])
    facts = gather_facts(open_source(tree))
    assert (facts.mem_total, facts.zones, facts.buddyinfo) == (original.mem_total, original.zones, original.buddyinfo)
    skipped = _skips(facts)
    assert f"{tree}/proc/meminfo:3: blank line skipped" in skipped
    assert f"{tree}/proc/meminfo:4: skipped '--- meminfo ---': not a line of meminfo" in skipped
    assert f"{tree}/proc/zoneinfo:5: skipped '[ zones ]': not a line of zoneinfo" in skipped
    assert f"{tree}/proc/buddyinfo:1: skipped '$ cat /proc/buddyinfo': not a line of buddyinfo" in skipped


def test_error_a_wrong_line_in_shape_is_still_an_error(tree: Path) -> None:
    """A line in iomem's shape whose end is before its start is refused, with its line in the file as given."""
    _edit(tree / "proc" / "iomem", lambda x: ["\n", *x[:5], "000c0000-000b0000 : Video ROM\n", *x[5:]])
    with pytest.raises(SourceError) as info:
        gather_facts(open_source(tree))
    assert info.value.line == 7 and "before start" in info.value.message


def test_error_a_cut_last_line_is_still_truncation(tree: Path) -> None:
    """A file cut mid-line is a truncated file, not a junk line to skip."""
    iomem = tree / "proc" / "iomem"
    iomem.write_text(iomem.read_text()[:300])
    with pytest.raises(SourceError) as info:
        gather_facts(open_source(tree))
    assert "not terminated by a newline" in info.value.message


def test_crlf_paste(tree: Path) -> None:
    """A capture saved with CRLF line endings reads as the original, with one warning."""
    original = gather_facts(open_source(TWAITE))
    for name in ("iomem", "meminfo"):
        path = tree / "proc" / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    facts = gather_facts(open_source(tree))
    assert (facts.ram, facts.mem_total) == (original.ram, original.mem_total)
    assert f"{tree}/proc/iomem: CRLF line endings read as LF" in _skips(facts)
