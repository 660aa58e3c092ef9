"""The startup path stays light: no rich, yaml or psutil for --help, completion or explain."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("rich", "yaml", "psutil")

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
