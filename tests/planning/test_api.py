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
