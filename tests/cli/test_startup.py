"""The startup path stays light: no rich, yaml or psutil for --help, completion or explain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("rich", "yaml", "psutil")
QEMU = str(Path(__file__).parents[1] / "data" / "hosts" / "qemu-x86_64-4g-no-crashkernel")

PROBE = f"""
import sys, json
from crashplan.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr)
"""


def _loaded(*args: str) -> list[str]:
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False)
    return json.loads(p.stderr.strip().splitlines()[-1])


def test_help_does_not_import_heavy_modules():
    """`crashplan --help` imports none of rich, yaml, psutil."""
    assert _loaded("--help") == []


def test_explain_json_does_not_import_heavy_modules():
    """`crashplan explain ... --format json` imports none of rich, yaml, psutil."""
    assert _loaded("explain", "crashkernel=1G-4G:192M,4G-:256M", "--ram", "16G", "--format", "json") == []


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "--source", QEMU, "--format", "json"],
        ["footprint", "--source", QEMU, "--format", "json"],
        ["simulate", "crashkernel=256M", "--source", QEMU, "--format", "json"],
        ["profiles"],
        ["profiles", "show", "debian-amd64"],
        ["schema"],
    ],
    ids=["recommend-json", "footprint-json", "simulate-json", "profiles", "profiles-show", "schema"],
)
def test_rich_is_imported_only_to_draw(args: list[str]) -> None:
    """Commands whose output rich does not draw (JSON, the profile and schema text) do not import it."""
    assert "rich" not in _loaded(*args)


def test_text_output_imports_rich() -> None:
    """recommend's text is drawn by rich: the probe above sees an import when there is one."""
    assert "rich" in _loaded("recommend", "--source", QEMU)
