"""Every --format json envelope states the exit status the process ends with (one builder)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
GOOD = str(HOSTS / "qemu-x86_64-4g-no-crashkernel")
NONROOT = str(HOSTS / "vivianchen-qemu-nonroot")

RUNS = [
    ["explain", "crashkernel=256M", "--ram", "4G"],
    ["explain", "crashkernel=256Q", "--ram", "4G"],
    ["facts", "--source", GOOD],
    ["footprint", "--source", GOOD],
    ["recommend", "--source", GOOD],
    ["check", "--source", GOOD],
    ["check", "--source", GOOD, "--cmdline", "crashkernel=256M"],
    ["simulate", "crashkernel=256M", "--source", GOOD],
    ["simulate", "crashkernel=256M", "--source", NONROOT],
    ["profiles"],
    ["fleet", GOOD, str(HOSTS / "no-such-host")],
    ["fleet", GOOD],
]


@pytest.mark.parametrize("args", RUNS, ids=[" ".join(a[:2]) + f"-{i}" for i, a in enumerate(RUNS)])
def test_json_exit_code_is_the_process_exit_code(args: list[str], tmp_path: Path) -> None:
    """``exit_code`` and ``status`` in the envelope match how the process ends."""
    result = subprocess.run([sys.executable, "-m", "crashplan", *args, "--format", "json"], capture_output=True, text=True, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    code = result.returncode
    envelope = json.loads(result.stdout)
    assert envelope["exit_code"] == code, (envelope["exit_code"], code, result.stderr)
    assert envelope["status"] == {0: "ok", 4: "findings"}.get(code, "error")
    assert (envelope["errors"] == []) == (code in (0, 4))
