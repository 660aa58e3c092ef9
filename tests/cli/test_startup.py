"""The startup path stays light: no rich, yaml or psutil for --help, completion or explain,
and no command's module but the one that runs."""

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
print(json.dumps(sorted(m for m in sys.modules if m.startswith("crashplan.commands."))), file=sys.stderr)
"""


def _run(*args: str) -> tuple[list[str], list[str]]:
    """The heavy modules and the command modules that ``crashplan ARGS`` imported."""
    p = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=False)
    heavy, commands = p.stderr.strip().splitlines()[-2:]
    return json.loads(heavy), json.loads(commands)


def _loaded(*args: str) -> list[str]:
    return _run(*args)[0]


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


def test_help_imports_no_command_module():
    """`crashplan --help` lists the commands without importing any of them."""
    assert _run("--help")[1] == []


def test_a_command_imports_only_its_own_module():
    """`crashplan explain` and `crashplan recommend --help` import their own command module only."""
    assert _run("explain", "256M", "--ram", "4G")[1] == ["crashplan.commands.explain"]
    assert _run("recommend", "--help")[1] == ["crashplan.commands.recommend"]
