"""``crashplan simulate``: simulate where the kernel puts a crashkernel= reservation on a host."""

from __future__ import annotations

import sys

import click

from crashplan.cli_options import (
    OnceCommand,
    State,
    format_option,
    source_options,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["simulate"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.argument("spec", nargs=-1, required=True)
@source_options
@format_option("text", "json")
def simulate(spec: tuple[str, ...], source: str | None, arch: str | None, kernel_version: str | None, fmt: str) -> int:
    """Simulate where the kernel puts a crashkernel= reservation on a host.

    Mirrors reserve_crashkernel_generic(), the low area and the ,cma halving on the host's
    memory map; existing "Crash kernel" regions count as free (they will not exist at the
    next boot).  Prints the kernel's own log lines for that boot, whether each area fits
    wherever the kernel image lands (KASLR), and the largest sizes that always fit.  Needs a
    root capture: without root /proc/iomem shows no addresses.

    \b
    Example:
      sudo crashplan simulate crashkernel=512M,high
      crashplan simulate 'crashkernel=1G,cma crashkernel=256M' --source host.tar.zst --format json
    """
    from crashplan import api
    from crashplan.planning.simulate import simulation_to_json

    sim = api.simulate(api.open_host(source, arch=arch, kernel_version=kernel_version), spec)
    if fmt == "json":
        from crashplan.render.json import dumps_json

        click.echo(dumps_json(simulation_to_json(sim)))
        State.json_errors = False  # the envelope above carries the error
    else:
        from crashplan.render.rich import render_simulation_text, screen_of

        click.echo(render_simulation_text(sim, screen=screen_of(sys.stdout)), nl=False, color=True)
    if sim.error is not None:
        raise sim.error
    return ExitCode.OK
