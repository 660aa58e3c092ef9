"""``crashplan recommend``: recommend a crashkernel= boot parameter for a host, and show what it costs."""

from __future__ import annotations

import sys

import click

from crashplan.cli_options import (
    PATH_TYPE,
    OnceCommand,
    emit_dropin,
    format_option,
    image_options,
    profile_option,
    source_options,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["recommend"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@source_options
@image_options
@profile_option
@click.option("--strategy", type=click.Choice(["auto", "standard", "cma", "ranged"]), default="auto", show_default=True, help="How to reserve.")
@format_option("text", "json", "yaml", "cmdline", "grub", "grubby", "bls", "kernel-install", "zipl", "ostree")
@click.option("--write", "write_path", type=PATH_TYPE, metavar="PATH", help="Write the grub drop-in to PATH (atomically, with a backup); only with --format grub.")
@click.option("--force", is_flag=True, help="With --write: replace a file crashplan did not write.")
def recommend(
    source: str | None,
    arch: str | None,
    kernel_version: str | None,
    kernel: str | None,
    initrd: str | None,
    profile_name: str | None,
    strategy: str,
    fmt: str,
    write_path: str | None,
    force: bool,
) -> int:
    """Recommend a crashkernel= boot parameter for a host, and show what it costs.

    The parameter covers the estimated footprint with the profile's margin and is placed by
    the placement model before it is printed.  The comparison shows, for the current setting,
    the distribution defaults and crashplan's options, the memory taken from production, the
    memory borrowed through CMA, whether each places and covers the need, and what the dump
    loses.  The boot-config formats print one artefact alone on stdout; crashplan changes no
    boot configuration unless --write is given, and never runs update-grub itself.

    \b
    Example:
      sudo crashplan recommend
      crashplan recommend --source host.tar.zst --format json
      crashplan recommend --strategy standard --format grubby
      sudo crashplan recommend --format grub --write /etc/default/grub.d/99-crashplan.cfg
    """
    from crashplan import api
    from crashplan.planning.recommend import plan_to_json
    from crashplan.render.bootloader import check_format, render_plan_artefact
    from crashplan.render.json import dumps_json, dumps_yaml
    from crashplan.render.rich import render_plan_text, screen_of

    if write_path is not None and fmt != "grub":
        raise click.UsageError("--write writes the grub drop-in: use it with --format grub")
    if force and write_path is None:
        raise click.UsageError("--force goes with --write")
    ctx = api.open_host(source, kernel=kernel, initrd=initrd, profile=profile_name, arch=arch, kernel_version=kernel_version)
    if fmt not in ("json", "yaml", "text"):
        check_format(ctx.facts, fmt)
    plan = api.recommend(ctx, strategy=strategy)  # type: ignore[arg-type]
    if fmt == "json":
        click.echo(dumps_json(ctx.envelope("recommend") | plan_to_json(plan)))
    elif fmt == "yaml":
        click.echo(dumps_yaml(ctx.envelope("recommend") | plan_to_json(plan)), nl=False)
    elif fmt == "text":
        click.echo(render_plan_text(ctx, plan, screen=screen_of(sys.stdout)), nl=False, color=True)
    else:
        artefact = render_plan_artefact(fmt, plan, ctx.facts.cmdline, ctx.source)
        if write_path is None:
            click.echo(artefact, nl=False)
        else:
            emit_dropin(write_path, artefact, force, ctx.profile.family)
    return ExitCode.OK


