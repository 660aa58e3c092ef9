"""``crashplan explain``: explain what the kernel does with a crashkernel= string."""

from __future__ import annotations

from typing import Any

import click

from crashplan.cli_options import (
    OnceCommand,
    State,
    format_option,
    kernel_options,
    ram_option_value,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["explain"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.argument("spec", nargs=-1)
@click.option("--ram", callback=ram_option_value, metavar="SIZE", help="System RAM as the kernel counts it (e.g. 16G).")
@click.option(
    "--batch",
    type=click.File("r", encoding="utf-8", errors="surrogateescape"),
    help="Read one command line per line from FILE ('-' for stdin); write JSON lines.",
)
@kernel_options
@format_option("text", "json")
def explain(
    spec: tuple[str, ...], ram: int | None, batch: Any, arch: str, kernel_version: str | None, fmt: str
) -> int:
    """Explain what the kernel does with a crashkernel= string.

    SPEC is a whole kernel command line or one or more crashkernel= tokens; a bare size such
    as 256M means crashkernel=256M.  With --ram it shows what the kernel reserves on that
    machine; without it, a table across RAM sizes.

    \b
    Example:
      crashplan explain 'crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M' --ram 16G
      crashplan explain crashkernel=256M crashkernel=1G,cma --kernel-version 6.16
      crashplan explain --batch cmdlines.txt --ram 16G > decisions.jsonl
    """
    from crashplan.kernel.explain import explain as run_explain
    from crashplan.kernel.explain import explanation_to_json, join_specs
    from crashplan.kernel.features import features_for

    # Each renderer is imported for its own format only: this command is the start-up benchmark.
    features = features_for(arch, kernel_version)
    if batch is not None:
        from crashplan.render.json import dumps_json

        if spec:
            raise click.UsageError("give SPEC or --batch, not both")
        status = ExitCode.OK
        for line in batch:
            x = run_explain(line.rstrip("\n"), features, ram)
            click.echo(dumps_json(explanation_to_json(x), lines=True))
            status = max(status, ExitCode.BAD_INPUT if x.error else ExitCode.OK)
        return status
    if not spec:
        raise click.UsageError("give a crashkernel= SPEC or --batch FILE")
    x = run_explain(join_specs(spec), features, ram)
    if fmt == "json":
        from crashplan.render.json import dumps_json

        click.echo(dumps_json(explanation_to_json(x)))
        State.json_errors = False  # the envelope above already carries the error
    else:
        from crashplan.render.text import render_explanation_text

        click.echo(render_explanation_text(x), nl=False)
    if x.error is not None:
        raise x.error
    return ExitCode.OK
