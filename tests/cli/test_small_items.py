"""The smaller defects of issue 15, point 10: each has its test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.planning.test_checked_answer import run

ROOT = Path(__file__).parents[2]
HOSTS = ROOT / "tests" / "data" / "hosts"
QEMU = HOSTS / "qemu-x86_64-4g-no-crashkernel"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_error_when_the_reader_of_stderr_is_gone(fmt: str) -> None:
    """crashplan explain BAD 2>&1 | head -1 exits 3 (bad input), not 1 (the bug code)."""
    p = subprocess.Popen(
        [sys.executable, "-m", "crashplan", "explain", "crashkernel=256MB", "--format", fmt],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    assert p.stdout is not None
    p.stdout.readline()
    p.stdout.close()
    assert p.wait() == 3


def test_zipl_is_refused_off_s390(tmp_path: Path) -> None:
    """--format zipl on an x86_64 host is a usage error; on s390x it is the artefact, the host's line with crashkernel= replaced."""
    import shutil

    r = run("recommend", "--source", str(QEMU), "--format", "zipl")
    assert r.exit_code == 2 and r.stdout == ""
    s390 = tmp_path / "s390"
    shutil.copytree(HOSTS / "lore-s390x-vm-2g-crash256m", s390)
    (s390 / "proc" / "cmdline").write_text("root=/dev/dasda1 crashkernel=256M\n")
    ok = run("recommend", "--source", str(s390), "--format", "zipl")
    assert ok.exit_code == 0 and ok.stdout.startswith('parameters="root=/dev/dasda1 crashkernel=')


def test_coreos_is_offered_ostree() -> None:
    """A CoreOS host is told to use --format ostree, and a grub drop-in is refused there."""
    env = dict(os.environ, COLUMNS="120")
    p = subprocess.run([sys.executable, "-m", "crashplan", "recommend", "--source", str(HOSTS / "coreos-ocp-master-vm")], capture_output=True, text=True, env=env, check=False)
    assert "--format ostree" in p.stdout and "--format grub" not in p.stdout
    r = run("recommend", "--source", str(HOSTS / "coreos-ocp-master-vm"), "--format", "grub")
    assert r.exit_code == 2 and "use --format ostree" in r.stderr


def test_cma_size_is_not_rounded_to_a_pageblock() -> None:
    """crashkernel=64M crashkernel=99M,cma on the 4 GiB guest: 99 MiB of CMA at 4 GiB, as Linux 7.2 reserves it."""
    import json

    out = json.loads(run("simulate", "crashkernel=64M crashkernel=99M,cma", "--source", str(QEMU), "--format", "json").stdout)
    cma = [r for r in out["reservations"] if r["name"] == "crashkernel-cma"]
    assert [(r["start"], r["end"]) for r in cma] == [(0x100000000, 0x106300000)]


@pytest.mark.parametrize("width", [80, 100])
def test_tables_wrap_whole_words_and_honour_columns(width: int) -> None:
    """Piped text honours COLUMNS; no line is wider, and words of the table are not split."""
    env = dict(os.environ, COLUMNS=str(width), NO_COLOR="1")
    p = subprocess.run([sys.executable, "-m", "crashplan", "recommend", "--source", str(HOSTS / "twaite-desktop-8g")], capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    lines = p.stdout.splitlines()
    assert lines and max(len(x) for x in lines) <= width
    table = [x for x in lines if "│" in x]
    for word in ("everything", "nothing", "unknown", "default"):
        assert not any(x.rstrip().endswith(word[:-2]) for x in table), word


def test_piped_default_width_is_100() -> None:
    """Without COLUMNS piped output is 100 columns wide at most."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"NO_COLOR": "1"}
    p = subprocess.run([sys.executable, "-m", "crashplan", "recommend", "--source", str(HOSTS / "twaite-desktop-8g")], capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    assert max(len(x) for x in p.stdout.splitlines()) <= 100


def _complete(words: str, cword: int) -> str:
    env = dict(os.environ, COMP_WORDS=words, COMP_CWORD=str(cword), _CRASHPLAN_COMPLETE="bash_complete")
    return subprocess.run([sys.executable, "-m", "crashplan"], capture_output=True, text=True, env=env, check=False, cwd=ROOT).stdout


@pytest.mark.parametrize(
    "words",
    ["crashplan recommend --source x", "crashplan recommend --kernel x", "crashplan check --initrd x", "crashplan recommend --write x", "crashplan snapshot -o x", "crashplan fleet x"],
)
def test_file_options_complete_paths(words: str) -> None:
    """Options and arguments that take a path complete file names."""
    assert _complete(words, len(words.split()) - 1).startswith("file,")


def test_profile_names_complete() -> None:
    """--profile completes the built-in profile names."""
    out = _complete("crashplan recommend --profile debian-a", 3)
    assert "plain,debian-amd64" in out.splitlines()


@pytest.mark.parametrize("width", [80, 100])
def test_ranged_strings_break_between_ranges_in_narrow_tables(width: int) -> None:
    """A distro's ranged default is shown whole, one range per line, never cut inside a range."""
    env = dict(os.environ, COLUMNS=str(width), NO_COLOR="1")
    p = subprocess.run([sys.executable, "-m", "crashplan", "recommend", "--source", str(HOSTS / "arm64-rpi4-4g-cma512m")], capture_output=True, text=True, env=env, check=False, cwd=ROOT)
    cells = [line.split("│")[1].strip() for line in p.stdout.splitlines() if line.count("│") >= 2]
    first = next(i for i, c in enumerate(cells) if c.startswith("2G-4G:320M,"))
    ubuntu = cells[first : first + 5]
    assert ubuntu == ["2G-4G:320M,", "4G-32G:512M,", "32G-64G:1024M,", "64G-128G:2048M,", "128G-:4096M"], cells


def test_check_text_says_unknown_for_a_command_line_the_source_lacks() -> None:
    """Without /proc/cmdline the host's crashkernel= is unknown, not '(none)'; with one lacking it, nothing is asked."""
    def host_lines(name: str) -> list[str]:
        p = subprocess.run([sys.executable, "-m", "crashplan", "check", "--source", str(HOSTS / name)], capture_output=True, text=True, check=False, cwd=ROOT)
        return [line for line in p.stdout.splitlines() if line.startswith(("  crashkernel= on", "  asked "))]

    assert host_lines("lore-x86-qemu-4g-crash256m") == [
        "  crashkernel= on the command line: unknown (no /proc/cmdline in the source)",
        "  asked unknown (no /proc/cmdline in the source), reserved 256 MiB",
    ]
    assert host_lines("qemu-x86_64-4g-no-crashkernel")[1].startswith("  asked nothing, reserved ")


@pytest.mark.parametrize(("args", "said"), [
    (("check", "--source", str(QEMU), "--cmdline", "crashkernel=1G,cma", "--cmdline", "crashkernel=256M"), "--cmdline is given twice"),
    (("explain", "256M", "--ram", "4G", "--ram=8G"), "--ram is given twice"),
    (("facts", "--source", str(QEMU), "--source", str(HOSTS / "twaite-desktop-8g")), "--source is given twice"),
    (("snapshot", "-o", "{tmp}/a", "--output", "{tmp}/b"), "-o and --output are the same option"),
])
def test_an_option_given_twice_is_a_usage_error(args: tuple[str, ...], said: str, tmp_path: Path) -> None:
    """An option that takes one value, given twice, is exit 2 naming it: click would keep the last one silently."""
    r = run(*(a.format(tmp=tmp_path) for a in args))
    assert r.exit_code == 2 and r.stdout == "" and said in r.stderr


def test_an_option_name_as_a_value_is_not_a_repeat() -> None:
    """A value that looks like an option (--cmdline=--cmdline, or after --) is a value, not a second option."""
    assert run("check", "--source", str(QEMU), "--cmdline=--cmdline").exit_code == 4
    assert run("explain", "--ram", "4G", "--", "--ram").exit_code == 3
    # The generic profile: 512M covers its need without being twice it (the test is about --strict twice).
    assert run("check", "--source", str(QEMU), "--profile", "base-x86_64", "--cmdline", "crashkernel=512M", "--strict", "--strict").exit_code == 0


def _wide(text: str) -> list[str]:
    """The lines wider than 80 columns that could have been wrapped (more than one word past the indent)."""
    return [line for line in text.splitlines() if len(line) > 80 and len(line.split()) > 1 and len(line.split()[-1]) < len(line) - 80]


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTS.iterdir()))
def test_plain_text_reports_fit_80_columns(name: str) -> None:
    """check, facts and explain wrap their plain text at 80 columns, as recommend's tables do at COLUMNS=80."""
    for args in (("check",), ("facts",)):
        out = run(*args, "--source", str(HOSTS / name)).stdout
        assert not _wide(out.split("\n", 1)[1]), (args, _wide(out))
    assert not _wide(run("explain", "crashkernel=256M", "crashkernel=1G,cma", "--kernel-version", "6.16").stdout)


def test_simulate_memory_map_fits_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory-map bars of simulate are drawn within 80 columns (a bar one column wider wrapped its closing '|' alone)."""
    monkeypatch.setenv("COLUMNS", "80")
    out = run("simulate", "crashkernel=256M", "--source", str(QEMU)).stdout
    bars = [line for line in out.splitlines() if line.startswith(("  below 4 GiB", "  all RAM"))]
    assert bars and all(len(line) <= 80 and line.endswith("|") for line in bars), bars


def test_fleet_table_at_80_columns_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """fleet's table at COLUMNS=80 names each host apart (not '/work/…' on every row) and shows each parameter whole."""
    monkeypatch.setenv("COLUMNS", "80")
    names = sorted(p.name for p in HOSTS.iterdir())
    out = run("fleet", *(str(HOSTS / n) for n in names), "--jobs", "1").stdout
    table = out.split("\n\n")[0].splitlines()[1:]
    assert "\u2026" not in out and all(len(line) <= 80 for line in table)
    firsts = "".join(line.split()[0] for line in table if line.split())
    assert all(n in firsts for n in names), firsts
    cma = run("recommend", "--source", str(QEMU), "--format", "cmdline").stdout.split()[0].removeprefix("crashkernel=")
    assert cma.endswith(",cma") and cma in out  # a ,cma token whole
    # The non-root guest cannot be planned: its row says error and its reason follows the table.
    assert "vivianchen-qemu-nonroot: no crashkernel= is recommended" in " ".join(out.split())


def test_recommend_table_says_unknown_for_a_command_line_the_source_lacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The current row of a capture without /proc/cmdline shows crashkernel= unknown, not '(none)', as check does."""
    monkeypatch.setenv("COLUMNS", "200")
    row = next(x for x in run("recommend", "--source", str(HOSTS / "lore-x86-qemu-4g-crash256m")).stdout.splitlines() if x.startswith("current"))
    assert row.split("│")[1].strip() == "unknown", row
    row = next(x for x in run("recommend", "--source", str(QEMU)).stdout.splitlines() if x.startswith("current"))
    assert row.split("│")[1].strip() == "(none)", row


@pytest.mark.parametrize(("name", "fmt"), [("lore-x86-qemu-4g-crash256m", "bls"), ("lore-x86-qemu-4g-crash256m", "kernel-install"), ("lore-s390x-vm-2g-crash256m", "zipl")])
def test_whole_line_formats_refuse_an_unknown_command_line(name: str, fmt: str) -> None:
    """bls, kernel-install and zipl print the whole kernel command line: without /proc/cmdline they refuse (exit 3) instead of a line without root=."""
    r = run("recommend", "--source", str(HOSTS / name), "--format", fmt)
    assert r.exit_code == 3 and r.stdout == "", r.stdout
    assert "command line is unknown" in r.stderr and "--format cmdline" in r.stderr
    assert run("recommend", "--source", str(HOSTS / name), "--format", "cmdline").exit_code == 0


def test_s390x_without_command_line_is_told_a_format_that_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """recommend's 'apply it with' names no format that would fail on the host: not zipl when the command line is unknown."""
    monkeypatch.setenv("COLUMNS", "200")
    out = run("recommend", "--source", str(HOSTS / "lore-s390x-vm-2g-crash256m")).stdout
    assert "recommended: crashkernel=" in out and "--format zipl" not in out


def test_an_unknown_distribution_is_not_told_to_use_grubby(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host whose distribution is unknown (no os-release, no kernel release) is not told to apply with grubby, a Fedora/RHEL tool."""
    monkeypatch.setenv("COLUMNS", "200")
    out = run("recommend", "--source", str(HOSTS / "lore-x86-qemu-4g-crash256m")).stdout
    assert "recommended: crashkernel=" in out and "--format grubby" not in out
    fedora = run("recommend", "--source", str(QEMU), "--profile", "fedora-x86_64").stdout
    assert "apply it with: crashplan recommend --strategy cma --format grubby" in fedora


@pytest.mark.parametrize("command", [("explain",), ("simulate", "--source", str(QEMU))])
def test_a_line_without_crashkernel_is_bad_input_for_explain_and_simulate(command: tuple[str, ...]) -> None:
    """explain and simulate say the same of a line without crashkernel=: no token found, exit 3 (simulate said 'ok')."""
    r = run(command[0], "quiet", *command[1:])
    assert r.exit_code == 3 and "no crashkernel= token found" in r.stderr


def test_ram_of_zero_is_a_usage_error() -> None:
    """explain --ram 0 is refused (exit 2), not 'with 0 of system RAM: nothing reserved'."""
    r = run("explain", "crashkernel=256M", "--ram", "0")
    assert r.exit_code == 2 and "more than 0" in r.stderr and r.stdout == ""


def test_grub_comment_says_the_need_as_recommend_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """The grub drop-in's comment gives the need in recommend's words (441.2 MiB), not rounded down to 441 MiB."""
    monkeypatch.setenv("COLUMNS", "200")
    host = str(HOSTS / "arm64-rpi4-4g-cma512m")
    said = " ".join(run("recommend", "--source", host).stdout.split())
    grub = run("recommend", "--source", host, "--format", "grub").stdout
    need = grub.split("estimated need ")[1].split(" on ")[0]
    assert f"estimated need {need} (" in said and "." in need
