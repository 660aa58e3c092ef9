"""``crashplan explain`` through the CLI: outputs, the JSON contract, batches and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from clirun import run

from crashplan.cli import cli

ENVELOPE_KEYS = {
    "crashplan_result_version",
    "command",
    "status",
    "exit_code",
    "arch",
    "kernel_version",
    "system_ram",
    "tokens",
    "warnings",
    "errors",
}
RESOLVED_KEYS = {"ok", "crash_size", "crash_base", "low_size", "cma_size", "high", "error"}


def test_explain_json_contract():
    """The JSON envelope has the documented keys and exactly the kernel's resolved values."""
    r = run("explain", "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", "--ram", "16G", "--format", "json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out.keys() >= ENVELOPE_KEYS and out["command"] == "explain"
    assert out["crashplan_result_version"] == 1 and out["system_ram"] == 16 << 30
    assert set(out["resolved"]) == RESOLVED_KEYS
    assert out["resolved"] == {"ok": True, "crash_size": 256 << 20, "crash_base": 0, "low_size": 0, "cma_size": 0, "high": False, "error": None}
    assert out["tokens"][0]["ranges"][2] == {"start": 64 << 30, "end": None, "size": 512 << 20}


def test_explain_table_without_ram():
    """Without --ram the JSON holds a table over every range boundary and the standard sizes."""
    r = run("explain", "crashkernel=512M-3G:64M,3G-:128M", "--format", "json")
    out = json.loads(r.stdout)
    rams = [row["system_ram"] for row in out["table"]]
    assert 512 << 20 in rams and 3 << 30 in rams and 1 << 40 in rams
    assert out["system_ram"] is None and "resolved" not in out
    by_ram = {row["system_ram"]: row["resolved"]["crash_size"] for row in out["table"]}
    assert by_ram[2 << 30] == 64 << 20 and by_ram[3 << 30] == 128 << 20


def test_explain_text_shows_decision_and_warnings():
    """Text output names the reserved size and the warning codes."""
    r = run("explain", "crashkernel=256M", "crashkernel=1G,cma", "--ram", "16G")
    assert r.exit_code == 0
    assert "with 16G of system RAM: 256M + 1G CMA" in r.stdout
    assert "cma-after-plain" in r.stdout


def test_exit_3_on_syntax_error_with_caret():
    """A syntax error in the token the kernel reads exits 3 with a caret on stderr."""
    r = run("explain", "crashkernel=256MB", "--ram", "4G")
    assert r.exit_code == 3
    assert r.stderr.splitlines()[-2:] == ["    crashkernel=256MB", "                    ^"]
    assert "nothing reserved (crashkernel: unrecognized char: B)" in r.stdout


def test_ram_dependent_failure_is_a_verdict():
    """No range matching this RAM is a decision (exit 0), not bad input."""
    r = run("explain", "crashkernel=512M-2G:64M", "--ram", "256M", "--format", "json")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert out["resolved"]["ok"] is False and "no-range-match" in [w["code"] for w in out["warnings"]]


def test_json_error_envelope():
    """In JSON mode an error still yields one envelope on stdout with status error."""
    r = run("explain", "crashkernel=1G@4G,high", "--ram", "16G", "--format", "json")
    assert r.exit_code == 3
    out = json.loads(r.stdout)
    assert out["status"] == "error" and out["errors"][0]["code"] == "syntax"
    assert out["errors"][0]["start"] == 14


def test_batch_jsonl_goes_on_after_errors():
    """--batch writes one JSON object per line, in order, and goes on after a bad line."""
    lines = "ro crashkernel=256M\ncrashkernel=bogus\n\ncrashkernel=1G,high\n"
    r = run("explain", "--batch", "-", "--ram", "16G", stdin=lines)
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["resolved"]["ok"] for o in objects] == [True, False, False, True]
    assert [o["status"] for o in objects] == ["ok", "error", "error", "ok"]
    assert r.exit_code == 3


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["explain"], 2),
        (["explain", "256M", "--ram", "16GB"], 2),
        (["explain", "256M", "--arch", "mips"], 2),
        (["explain", "256M", "--kernel-version", "six"], 2),
        (["recommend", "--source", "tests/data/hosts/twaite-desktop-8g", "--kernel-version", "banana"], 2),
        (["check", "--source", "tests/data/hosts/twaite-desktop-8g", "--arch", "sparc"], 2),
        (["nosuchcommand"], 2),
    ],
)
def test_exit_codes(args, code):
    """Usage errors (options included: --ram, --arch, --kernel-version) exit 2, bad input exits 3, no traceback."""
    r = run(*args)
    assert r.exit_code == code
    assert "Traceback" not in r.stderr + r.stdout


def test_kernel_version_switch():
    """--kernel-version 6.16 makes a trailing ,cma token the plain token, which fails."""
    r = run("explain", "crashkernel=256M crashkernel=1G,cma", "--ram", "16G", "--kernel-version", "6.16", "--format", "json")
    assert json.loads(r.stdout)["resolved"]["error"] == "crashkernel: unrecognized char: ,"


@pytest.mark.parametrize("payload", [b"crashkernel=\xff\xfe256M", b"crashkernel=1G\x00,high", "crashkernel=٣M".encode()])
def test_odd_bytes_never_traceback(payload, tmp_path):
    """Odd bytes in a batch file give a decision or a syntax error, never a traceback."""
    f = tmp_path / "lines"
    f.write_bytes(payload + b"\n")
    r = run("explain", "--batch", str(f), "--ram", "4G")
    assert r.exit_code in (0, 3)
    assert json.loads(r.stdout)["command"] == "explain"


def test_python_m_crashplan():
    """`python -m crashplan` runs the same CLI."""
    p = subprocess.run([sys.executable, "-m", "crashplan", "explain", "256M", "--ram", "4G"], capture_output=True, text=True, check=False)
    assert p.returncode == 0 and "256M" in p.stdout


def test_help_lists_exit_codes():
    """--help documents the exit codes."""
    r = CliRunner().invoke(cli, ["--help"])
    assert "Exit codes: 0 ok, 1 bug, 2 usage error, 3 bad input" in r.stdout
