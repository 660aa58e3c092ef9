"""Every command has help with an example and a README section; completions match click's output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from crashplan.cli import COMMANDS as SUMMARIES
from crashplan.cli import cli

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help_with_example(name):
    """Each command documents itself and shows an example."""
    command = cli.commands[name]
    assert command.help and len(command.help.strip()) > 40
    assert "Example:" in command.help


@pytest.mark.parametrize("name", COMMANDS)
def test_listing_shows_the_command_s_own_summary(name):
    """`crashplan --help` lists each command with the summary its own help starts with."""
    command = cli.commands[name]
    assert command.name == name
    assert " ".join(command.help.split("\n\n")[0].split()) == SUMMARIES[name]
    listed = click.Command(name, help=SUMMARIES[name])
    for limit in (20, 45, 84):
        assert listed.get_short_help_str(limit) == command.get_short_help_str(limit)


def test_unknown_command_is_a_usage_error():
    """A name that is no command is click's usage error (with click's suggestion, if it makes one)."""
    p = subprocess.run([sys.executable, "-m", "crashplan", "explian"], capture_output=True, text=True, check=False)
    assert p.returncode == 2 and "No such command 'explian'" in p.stderr and "Traceback" not in p.stderr
    assert "Did you mean" not in p.stderr or "Did you mean 'explain'?" in p.stderr


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_readme_section(name):
    """Each command has its own README section."""
    assert re.search(rf"^### `crashplan {name}`$", README, re.M), f"README lacks a section for {name}"


def test_readme_starts_with_the_two_commands():
    """The README's first two commands install-and-run recommend and run the whole suite."""
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert "crashplan recommend" in blocks[0] and "pip install ." in blocks[0]
    assert "python -m pytest" in blocks[1] and "[test]" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in ci and "'.[test]'" in ci


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completions_match_fresh_generation(shell):
    """completions/ holds exactly what click generates for the current commands."""
    env = dict(os.environ, _CRASHPLAN_COMPLETE=f"{shell}_source")
    p = subprocess.run(
        [sys.executable, "-c", "from crashplan.cli import main; main()"],
        env=env, capture_output=True, text=True, check=False,
    )
    # click versions differ in trailing blank lines only; the script itself must be the same.
    fresh = p.stdout.rstrip("\n") + "\n"
    committed = (ROOT / "completions" / f"crashplan.{shell}").read_text().rstrip("\n") + "\n"
    assert committed == fresh, f"regenerate: _CRASHPLAN_COMPLETE={shell}_source crashplan > completions/crashplan.{shell}"


def test_readme_python_examples_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's Python blocks run in order as one session, and print what their comments say."""
    blocks = re.findall(r"^```python\n(.*?)^```$", README, re.M | re.S)
    assert blocks, "the README shows the library"
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
        printed = capsys.readouterr().out.splitlines()
        said = [m.group(1) for m in re.finditer(r"^print\(.*?\)\s+# (\S+)$", block, re.M)]
        for shown in said:
            assert shown in printed, (shown, printed)
