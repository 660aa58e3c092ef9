"""The front door (crashplan.open_host, crashplan.recommend) gives what the CLI prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import crashplan
from crashplan.cli import cli

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
ROOT_CAPTURES = ["qemu-x86_64-4g-no-crashkernel", "qemu-x86_64-4g-crashkernel-256m", "twaite-desktop-8g"]


@pytest.mark.parametrize("host", ROOT_CAPTURES)
@pytest.mark.parametrize("strategy", ["standard", "auto"])
def test_library_recommendation_is_the_cli_artefact(host: str, strategy: str) -> None:
    """crashplan.recommend(crashplan.open_host(path)).cmdline is what `recommend --format cmdline` prints."""
    plan = crashplan.recommend(crashplan.open_host(str(HOSTS / host)), strategy=strategy)
    out = CliRunner().invoke(cli, ["recommend", "--source", str(HOSTS / host), "--strategy", strategy, "--format", "cmdline"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == plan.cmdline
    assert plan.cmdline.startswith("crashkernel=")


def test_front_door_names_are_lazy() -> None:
    """The API names resolve on first use and unknown names still raise AttributeError."""
    assert crashplan.open_host is crashplan.api.open_host
    assert isinstance(crashplan.Plan, type)
    with pytest.raises(AttributeError):
        _ = crashplan.no_such_name  # type: ignore[attr-defined]


@pytest.mark.parametrize("host", ROOT_CAPTURES)
def test_library_simulation_is_the_cli_json(host: str) -> None:
    """crashplan.simulate(host, spec) places what `simulate --format json` reports, byte for byte."""
    from crashplan.planning.simulate import simulation_to_json
    from crashplan.render.json import dumps_json

    spec = "crashkernel=1G,cma crashkernel=192M"
    sim = crashplan.simulate(crashplan.open_host(str(HOSTS / host)), spec)
    out = CliRunner().invoke(cli, ["simulate", spec, "--source", str(HOSTS / host), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert out.output == dumps_json(simulation_to_json(sim)) + "\n"
    assert sim.decision.ok and sim.decision.crash_size == 192 << 20


def test_library_explain_follows_the_kernel_version() -> None:
    """crashplan.explain applies the rules of the version asked for: ,cma exists from 6.17."""
    new = crashplan.explain("crashkernel=1G,cma crashkernel=256M", ram=16 << 30, kernel_version="6.17")
    old = crashplan.explain("crashkernel=1G,cma crashkernel=256M", ram=16 << 30, kernel_version="6.16")
    assert new.decision is not None and new.decision.cma_size == 1 << 30
    assert old.decision is not None and old.decision.cma_size == 0 and old.decision.crash_size == 256 << 20


@pytest.mark.parametrize("host", ROOT_CAPTURES)
def test_library_footprint_is_the_plans(host: str) -> None:
    """crashplan.footprint(host) is the footprint crashplan.recommend sized the plan from."""
    h = crashplan.open_host(str(HOSTS / host))
    assert crashplan.footprint(h) == crashplan.recommend(h, strategy="standard").footprint


def test_library_check_is_the_cli_verdict() -> None:
    """crashplan.check judges a proposed parameter as `check --cmdline` does, exit code included."""
    host = crashplan.open_host(str(HOSTS / "qemu-x86_64-4g-no-crashkernel"))
    small = crashplan.check(host, cmdline="crashkernel=16M")
    assert small.failing(strict=False) and "does-not-cover" in [f.code for f in small.findings]
    out = CliRunner().invoke(cli, ["check", "--source", str(HOSTS / "qemu-x86_64-4g-no-crashkernel"), "--cmdline", "crashkernel=16M"], standalone_mode=False)
    assert out.return_value == 4, out.output
    good = crashplan.check(host, cmdline=crashplan.recommend(host, strategy="standard").cmdline)
    assert not good.failing(strict=False), [f.code for f in good.findings if f.severity == "error"]


def test_library_plan_fleet_summarises_per_host_results() -> None:
    """crashplan.plan_fleet gives the covering string that serves every host it was given."""
    from crashplan.kernel.crashkernel import decide
    from crashplan.kernel.features import features_for
    from crashplan.planning.fleet import run_fleet

    results = list(run_fleet([str(HOSTS / h) for h in ROOT_CAPTURES], strategy="standard", jobs=1))
    summary = crashplan.plan_fleet(results)
    assert summary.hosts == 3 and summary.failed == 0 and summary.ranged
    for r in results:
        assert r.system_ram and r.recommended_size
        assert decide(summary.ranged, r.system_ram, features_for("x86_64", r.kernel_version)).crash_size >= r.recommended_size


def test_front_door_names_resolve_to_their_definitions() -> None:
    """Every name of crashplan.__all__ (api's one list) is the call api defines or the result type its module defines."""
    import inspect
    from importlib import import_module

    import crashplan.api

    assert crashplan.__all__ == [*crashplan.api.__all__, "__version__"]
    calls = {n for n, v in vars(crashplan.api).items() if inspect.isfunction(v) and v.__module__ == "crashplan.api" and not n.startswith("_")}
    assert calls == set(crashplan.api.__all__) - set(crashplan.api._TYPES)  # no call left out, none listed twice
    for name in calls:
        assert getattr(crashplan, name) is getattr(crashplan.api, name)
    for name, module in crashplan.api._TYPES.items():
        defined = getattr(import_module(module), "PlanContext" if name == "Host" else name)
        assert isinstance(defined, type) and defined.__module__ == module
        assert getattr(crashplan, name) is getattr(crashplan.api, name) is defined
    star: dict[str, object] = {}
    exec("from crashplan import *", star)
    assert set(crashplan.__all__) <= star.keys() and star["__version__"] == crashplan.__version__


def test_front_door_help_names_every_call() -> None:
    """help() on the front door shows each call with its summary line."""
    import pydoc

    import crashplan.api

    text = pydoc.render_doc(crashplan.api, renderer=pydoc.plaintext)
    for name in set(crashplan.api.__all__) - set(crashplan.api._TYPES):
        summary = (getattr(crashplan.api, name).__doc__ or "").splitlines()[0]
        assert f"{name}(" in text and summary and summary in text, name
    assert "The front door" in pydoc.render_doc(crashplan, renderer=pydoc.plaintext)


def test_importing_the_package_loads_only_its_list() -> None:
    """import crashplan loads crashplan.api for the names and no other module (not even typing)."""
    import json
    import subprocess
    import sys

    probe = "import sys, json; before = set(sys.modules); import crashplan; print(json.dumps(sorted(set(sys.modules) - before - {'__future__'})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["crashplan", "crashplan.api"]
