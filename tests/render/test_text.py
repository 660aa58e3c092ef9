"""The short plain-text renderers of the CLI: the schema list, a snapshot's notes, a plan's boot-loader
artefact, and YAML; each called directly, then through the command that writes it."""

from __future__ import annotations

from pathlib import Path

import yaml
from clirun import run

import crashplan
from crashplan.host.sources.capture import CaptureReport
from crashplan.host.sources.snapshot import Unreadable
from crashplan.render.bootloader import render_plan_artefact
from crashplan.render.json import dumps_yaml
from crashplan.render.text import render_capture_notes, render_schema_list
from crashplan.schemas import schema_names, schema_titles
from crashplan.units import format_human

ROOT = Path(__file__).parents[2]
HOSTS = ROOT / "tests" / "data" / "hosts"


def test_schema_list_has_every_schema_and_its_title() -> None:
    """``crashplan schema`` lists every shipped schema with its title, names padded to one column."""
    text = render_schema_list(schema_titles())
    lines = text.splitlines()
    assert [line.split()[0] for line in lines] == list(schema_names())
    assert "recommend    crashplan recommend --format json" in lines
    assert run("schema").stdout == text


def test_capture_notes_come_first_then_the_unreadable_files() -> None:
    """Each note and each unreadable file is one line on stderr, the path absolute as on the host."""
    report = CaptureReport(
        dest=Path("snap"),
        files_written=("proc/iomem",),
        unreadable=(Unreadable("sys/kernel/kexec_crash_size", "Permission denied"),),
        absent=(),
        root=False,
        notes=("not root: /proc/iomem shows no addresses",),
    )
    assert render_capture_notes(report) == (
        "crashplan: note: not root: /proc/iomem shows no addresses\n"
        "crashplan: unreadable: /sys/kernel/kexec_crash_size: Permission denied\n"
    )
    assert render_capture_notes(CaptureReport(Path("snap"), (), (), (), True)) == ""


def test_snapshot_writes_its_path_on_stdout_and_nothing_else(tmp_path: Path) -> None:
    """Copying a captured host: the destination on stdout; stderr holds only the notes of the capture."""
    code, out, err = run("snapshot", "--source", str(HOSTS / "twaite-desktop-8g"), "-o", str(tmp_path / "snap"))
    assert (code, out) == (0, f"{tmp_path / 'snap'}\n")
    assert all(line.startswith(("crashplan: note: ", "crashplan: unreadable: ")) for line in err.splitlines())


def test_plan_artefact_names_the_strategy_the_need_and_the_host() -> None:
    """The grub drop-in's comment says the strategy, the estimated need as recommend prints it and the host; the line sets the plan's tokens."""
    source = str(HOSTS / "twaite-desktop-8g")
    ctx = crashplan.open_host(source)
    plan = crashplan.recommend(ctx, strategy="standard")
    text = render_plan_artefact("grub", plan, ctx.facts.cmdline, ctx.source)
    assert f"# standard: estimated need {format_human(plan.footprint.total)} on {source}\n" in text
    assert text.endswith(f'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT {" ".join(plan.tokens)}"\n')
    assert run("recommend", "--source", source, "--strategy", "standard", "--format", "grub").stdout == text


def test_yaml_keeps_key_order_and_escapes_undecodable_bytes() -> None:
    """YAML output keeps the envelope's key order, never folds a long line, and writes a non-UTF-8 byte as \\xNN."""
    value = {"z": 1, "a": "x" * 300, "path": b"host\xff".decode("utf-8", "surrogateescape")}
    text = dumps_yaml(value)
    assert text.splitlines()[0] == "z: 1" and len(text.splitlines()) == 3
    assert yaml.safe_load(text) == {"z": 1, "a": "x" * 300, "path": "host\\xff"}
    text.encode("utf-8")


def test_every_renderer_returns_text() -> None:
    """Every public ``render_*`` function of :mod:`crashplan.render` returns the text (``str``); none prints."""
    import importlib
    import inspect
    import pkgutil

    import crashplan.render

    renderers = []
    for info in pkgutil.iter_modules(crashplan.render.__path__):
        module = importlib.import_module(f"crashplan.render.{info.name}")
        renderers += [getattr(module, name) for name in module.__all__ if name.startswith("render_")]
    assert len(renderers) >= 20
    for f in renderers:
        assert inspect.signature(f).return_annotation == "str", f.__qualname__
