"""The rich renderers are functions from values to text: called directly on real hosts, they return
what the CLI writes, sized and styled by the :class:`Screen` they are given."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from rich.cells import cell_len

import crashplan
from crashplan.planning.fleet import HostResult, run_fleet, summarise
from crashplan.planning.reduce import FleetReducer
from crashplan.render.rich import (
    Screen,
    render_fleet_text,
    render_footprint_text,
    render_plan_text,
    render_reduced_fleet_text,
    render_simulation_text,
    screen_of,
)
from crashplan.units import format_human

ROOT = Path(__file__).parents[2]
HOSTS = ROOT / "tests" / "data" / "hosts"
HOST_NAMES = sorted(p.name for p in HOSTS.iterdir() if (p / "proc").is_dir())
QEMU = HOSTS / "qemu-x86_64-4g-no-crashkernel"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _texts(host: str, screen: Screen) -> dict[str, str]:
    """recommend's, footprint's and simulate's text of one host (the simulation of crashkernel=256M).

    A capture without physical addresses (taken without root) has a footprint only: placing a
    reservation needs the addresses, and the CLI says so in one line.
    """
    ctx = crashplan.open_host(str(HOSTS / host))
    out = {"footprint": render_footprint_text(ctx, crashplan.footprint(ctx), screen=screen)}
    if ctx.facts.addresses_visible:
        out["simulate"] = render_simulation_text(crashplan.simulate(ctx, "crashkernel=256M"), screen=screen)
    if ctx.facts.addresses_visible:
        out["recommend"] = render_plan_text(ctx, crashplan.recommend(ctx), screen=screen)
    return out


@pytest.mark.parametrize("host", HOST_NAMES)
def test_no_line_is_wider_than_80_columns(host: str) -> None:
    """At width 80 every line of every renderer fits in 80 columns, with no escape code."""
    texts = _texts(host, Screen(width=80))
    assert len(texts) == {"vivianchen-qemu-nonroot": 1, "rhel7-demobuilder-4g-auto161m": 1}.get(host, 3)
    for name, text in texts.items():
        assert text.endswith("\n") and "\x1b" not in text, name
        widest = max(cell_len(line) for line in text.splitlines())
        assert widest <= 80, (name, widest)


@pytest.fixture(scope="module")
def fleet_results() -> list[HostResult]:
    """The plan of every captured host, as ``crashplan fleet`` makes them."""
    return list(run_fleet([str(HOSTS / h) for h in HOST_NAMES], strategy="auto", jobs=1))


def test_fleet_text_fits_80_columns_with_a_row_per_host(fleet_results: list[HostResult]) -> None:
    """The fleet table has a row per host, each named apart, and the summary, within 80 columns."""
    results = fleet_results
    text = render_fleet_text(results, summarise(results), screen=Screen(width=80))
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    # Each host named apart, by its own name (wrapped within its column where it is long); a
    # host that could not be planned (no memory map) has its reason below the table.
    firsts = "".join(line.split()[0] for line in lines[1 : lines.index("")] if line.split())
    assert all(name in firsts for name in HOST_NAMES), firsts
    failed = [r for r in results if not r.ok]
    assert f"{len(HOST_NAMES)} hosts, {len(failed)} failed" in lines
    assert all(f"{Path(r.source).name}: {r.error}" in " ".join(text.split()) for r in failed)
    assert any(line.startswith("one string for the fleet: crashkernel=") for line in lines)


def test_reduced_fleet_text_says_what_the_snapshot_fleet_says(fleet_results: list[HostResult]) -> None:
    """The fleet reduced from the hosts' results prints the snapshot fleet's needs, memory and ranged string, and the results left out."""
    reducer = FleetReducer()
    for r in fleet_results:
        reducer.add(r)
    summary = reducer.summary()
    reduced = render_reduced_fleet_text(summary, 2).splitlines()
    table = render_fleet_text(fleet_results, summarise(fleet_results)).splitlines()
    failed = sum(not r.ok for r in fleet_results)
    assert reduced[0] == f"{len(HOST_NAMES)} hosts reduced from their results, {failed} failed, 2 results left out"
    assert reduced[1] == next(line for line in table if line.startswith("estimated need: min "))
    taken = next(line for line in table if line.startswith("taken from production now "))
    assert summary.costs_more and reduced[2] == taken.partition(";")[0] + f"; the recommendations cost {format_human(summary.costs_more)} more"
    assert reduced[3] == next(line for line in table if line.startswith("one string for the fleet: ")) and len(reduced) == 4


def test_reduced_fleet_text_returned_and_failed() -> None:
    """The HPE host's 768M (256M low + 512M high) is more than it needs: returned; a failed host counts and has no need."""
    (hpe,) = run_fleet([str(HOSTS / "lore-x86-hpe-xeon-32g-crash-low256m-high512m")], strategy="auto", jobs=1)
    assert hpe.taken_now == 768 << 20 and hpe.taken_recommended is not None and hpe.need is not None
    reducer = FleetReducer()
    reducer.add(hpe)
    reducer.add(HostResult("db9", False, "cannot read /proc/iomem"))
    lines = render_reduced_fleet_text(reducer.summary(), 0).splitlines()
    assert lines[0] == "2 hosts reduced from their results, 1 failed, 0 results left out"
    assert lines[1] == f"estimated need: min {format_human(hpe.need)}, median {format_human(hpe.need)}, p90 {format_human(hpe.need)}, max {format_human(hpe.need)}"
    returned = format_human((768 << 20) - hpe.taken_recommended)
    assert lines[2] == f"taken from production now 768 MiB, with the recommendations {format_human(hpe.taken_recommended)}; returned {returned}"
    failed = FleetReducer()
    failed.add(HostResult("db9", False, "cannot read /proc/iomem"))
    assert render_reduced_fleet_text(failed.summary(), 1) == (
        "1 hosts reduced from their results, 1 failed, 1 results left out\n"
        "taken from production now 0 B, with the recommendations 0 B; no change\n"
    )


def test_plan_text_matches_the_golden_file(tmp_path: Path) -> None:
    """Called directly, render_plan_text returns the text of tests/golden/recommend-qemu-4g.txt (150 columns)."""
    from tests.planning.test_recommend import _initrd

    initrd = _initrd(tmp_path)
    kernel = ROOT / "tests/data/images/debian-7.3.4-amd64.bzImage.head"
    ctx = crashplan.open_host(os.path.relpath(QEMU, ROOT), kernel=str(kernel), initrd=str(initrd))
    text = render_plan_text(ctx, crashplan.recommend(ctx), screen=Screen(width=150))
    assert text.replace(str(tmp_path), "TMP") == (ROOT / "tests/golden/recommend-qemu-4g.txt").read_text()


def test_default_screen_is_a_pipe_of_100_columns() -> None:
    """Without a screen the text is plain and at most 100 columns wide, as piped output without COLUMNS."""
    ctx = crashplan.open_host(str(HOSTS / "twaite-desktop-8g"))
    text = render_plan_text(ctx, crashplan.recommend(ctx))
    assert text == render_plan_text(ctx, crashplan.recommend(ctx), screen=Screen(width=100))
    assert "\x1b" not in text and max(len(line) for line in text.splitlines()) <= 100


@pytest.mark.parametrize("host", ["qemu-x86_64-4g-no-crashkernel", "arm64-rpi4-4g-cma512m", "lore-s390x-vm-2g-crash256m"])
def test_styles_are_escape_codes_around_the_same_text(host: str) -> None:
    """On a colour terminal the text gains escape codes and nothing else: stripped, it is the plain text."""
    colour = Screen(width=100, color_system="standard", no_color=False, terminal=True)
    plain, styled = _texts(host, Screen(width=100)), _texts(host, colour)
    for name in plain:
        assert "\x1b[" in styled[name], name
        assert ANSI.sub("", styled[name]) == plain[name], name
    assert styled["simulate"].count("\x1b[1m") >= 3  # the bold headings
    assert styled["recommend"].startswith("\x1b[1;32mrecommended: ")


def test_no_color_keeps_bold_and_drops_colours() -> None:
    """NO_COLOR on a terminal: bold stays, no colour code is written (rich's no_color)."""
    ctx = crashplan.open_host(str(QEMU))
    text = render_plan_text(ctx, crashplan.recommend(ctx), screen=Screen(color_system="standard", no_color=True, terminal=True))
    assert text.startswith("\x1b[1mrecommended: ")
    # Only reset, bold, dim and italic (the table's title): no foreground or background colour.
    codes = {int(c) for params in re.findall(r"\x1b\[([0-9;]*)m", text) for c in params.split(";")}
    assert 1 in codes and codes <= {0, 1, 2, 3}, codes


def test_a_stream_that_is_not_utf8_gets_ascii_borders() -> None:
    """An ASCII stdout gets rich's ASCII table borders instead of box-drawing characters."""
    ctx = crashplan.open_host(str(QEMU))
    plan = crashplan.recommend(ctx)
    assert "│" in render_plan_text(ctx, plan)
    text = render_plan_text(ctx, plan, screen=Screen(encoding="ascii"))
    assert "│" not in text and "|" in text


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "env", "expected"),
    [
        (io.StringIO, {}, Screen(width=100)),
        (io.StringIO, {"COLUMNS": "80"}, Screen(width=80)),
        (io.StringIO, {"COLUMNS": "20"}, Screen(width=100)),  # too narrow to be meant: the default
        (io.StringIO, {"NO_COLOR": "1"}, Screen(width=100)),
        # FORCE_COLOR makes rich draw styles onto a pipe, colours stripped as on every pipe.
        (io.StringIO, {"FORCE_COLOR": "1"}, Screen(width=100, color_system="standard", no_color=True, terminal=True)),
        (_Tty, {"COLUMNS": "120"}, Screen(width=120, color_system="standard", no_color=False, terminal=True)),
        (_Tty, {"COLUMNS": "120", "TERM": "xterm-256color"}, Screen(width=120, color_system="256", no_color=False, terminal=True)),
        (_Tty, {"COLUMNS": "120", "COLORTERM": "truecolor"}, Screen(width=120, color_system="truecolor", no_color=False, terminal=True)),
        (_Tty, {"COLUMNS": "120", "NO_COLOR": "1"}, Screen(width=120, color_system="standard", no_color=True, terminal=True)),
        (_Tty, {"COLUMNS": "120", "TERM": "dumb"}, Screen(width=80, color_system=None, no_color=False, terminal=True)),
        (_Tty, {"COLUMNS": "120", "FORCE_COLOR": ""}, Screen(width=120, color_system=None, no_color=False, terminal=False)),
    ],
)
def test_screen_of_a_stream_is_what_rich_decides(stream: type[io.StringIO], env: dict[str, str], expected: Screen, monkeypatch: pytest.MonkeyPatch) -> None:
    """screen_of: styles on a terminal, plain on a pipe; COLUMNS or 100 piped; NO_COLOR, FORCE_COLOR, TERM as rich reads them."""
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "COLORTERM", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert screen_of(stream()) == expected
