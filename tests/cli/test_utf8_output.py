"""Every JSON, JSON-lines and YAML output is valid UTF-8, even when the capture holds bytes that are not.

The captures are the real QEMU guest with bytes 0xff 0xfe put into its /proc/cmdline (issue 15:
17 of 200 mutated captures gave facts JSON no parser accepts).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HOSTS = Path(__file__).parents[1] / "data" / "hosts"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    dest = tmp_path / "host"
    shutil.copytree(HOSTS / "qemu-x86_64-4g-no-crashkernel", dest)
    cmdline = dest / "proc" / "cmdline"
    cmdline.write_bytes(cmdline.read_bytes().rstrip(b"\n") + b" \xff\xfe\n")
    return dest


def _out(*args: str) -> bytes:
    p = subprocess.run([sys.executable, "-m", "crashplan", *args], capture_output=True, check=False, env=dict(os.environ, NO_COLOR="1"))
    assert b"Traceback" not in p.stderr
    return p.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("facts", "--format", "json"),
        ("recommend", "--format", "json"),
        ("check", "--format", "json"),
        ("footprint", "--format", "json"),
        ("simulate", "crashkernel=256M", "--format", "json"),
    ],
)
def test_json_is_utf8(host: Path, args: tuple[str, ...]) -> None:
    """The bytes come out as the text \\xff\\xfe in a JSON that decodes as UTF-8."""
    raw = _out(*args, "--source", str(host))
    out = json.loads(raw.decode("utf-8"))
    if args[0] == "facts":
        assert "\\xff\\xfe" in out["cmdline"]


def test_yaml_is_utf8(host: Path) -> None:
    """recommend --format yaml decodes as UTF-8 and loads."""
    raw = _out("recommend", "--format", "yaml", "--source", str(host))
    assert yaml.safe_load(raw.decode("utf-8"))["source"] == str(host)


def test_jsonl_is_utf8(host: Path) -> None:
    """fleet --format jsonl lines each decode and load."""
    raw = _out("fleet", str(host), "--format", "jsonl")
    assert [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def test_explain_json_of_a_bad_byte(tmp_path: Path) -> None:
    """explain --batch with a 0xff byte writes the error object as UTF-8."""
    f = tmp_path / "lines"
    f.write_bytes(b"crashkernel=256M\xff\n")
    raw = _out("explain", "--batch", str(f), "--ram", "4G")
    assert json.loads(raw.decode("utf-8"))["tokens"][0]["error"]["source"] == "crashkernel=256M\\xff"


@pytest.mark.parametrize(
    "args",
    [("check",), ("check", "--format", "prometheus"), ("facts",), ("facts", "--format", "prometheus"), ("facts", "--format", "json")],
)
def test_reports_written_or_printed_are_utf8(host: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    """check and facts, printed or written with --output, are UTF-8 with the bytes as \\xff\\xfe (--output crashed on them)."""
    p = subprocess.run([sys.executable, "-m", "crashplan", *args, "--source", str(host), "--output", str(tmp_path / "out")], capture_output=True, check=False)
    assert b"Traceback" not in p.stderr and p.returncode in (0, 4), p.stderr
    written = (tmp_path / "out").read_bytes().decode("utf-8")
    printed = _out(*args, "--source", str(host)).decode("utf-8")
    assert written == printed
    if "json" in args:
        assert json.loads(written)["cmdline"].endswith("\\xff\\xfe")
    elif "prometheus" not in args:
        assert "\\xff\\xfe" in written
