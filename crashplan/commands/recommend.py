"""``crashplan recommend``: recommend a crashkernel= boot parameter for a host, and show what it costs."""

from __future__ import annotations

import click

from crashplan.cli_options import (
    PATH_TYPE,
    format_option,
    image_options,
    profile_option,
    source_options,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["recommend"]


@click.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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
    from crashplan.render.bootloader import check_format, render_artefact
    from crashplan.render.json import dumps_json
    from crashplan.render.rich import render_plan_text

    if write_path is not None and fmt != "grub":
        raise click.UsageError("--write writes the grub drop-in: use it with --format grub")
    if force and write_path is None:
        raise click.UsageError("--force goes with --write")
    ctx = api.open_host(source, kernel=kernel, initrd=initrd, profile=profile_name, arch=arch, kernel_version=kernel_version)
    if fmt not in ("json", "yaml", "text"):
        check_format(ctx.facts, fmt)
    plan = api.recommend(ctx, strategy=strategy)  # type: ignore[arg-type]
    if fmt in ("json", "yaml"):
        out = ctx.envelope("recommend") | plan_to_json(plan)
        if fmt == "json":
            click.echo(dumps_json(out))
        else:
            import yaml

            from crashplan.render.json import utf8_safe

            click.echo(yaml.safe_dump(utf8_safe(out), sort_keys=False, width=1 << 30, allow_unicode=True), nl=False)
    elif fmt == "text":
        render_plan_text(ctx, plan)
    else:
        comment = f"{plan.strategy}: estimated need {plan.footprint.total >> 20} MiB on {ctx.source}"
        artefact = render_artefact(fmt, plan.tokens, ctx.facts.cmdline, comment=comment)
        if write_path is None:
            click.echo(artefact, nl=False)
        else:
            _write_dropin(write_path, artefact, force, ctx.profile.family)
    return ExitCode.OK


def _write_dropin(path: str, content: str, force: bool, family: str) -> None:
    """Write the grub drop-in and say how to activate it (stderr: stdout stays empty)."""
    import os

    from crashplan.host.sources.bootwrite import write_dropin
    from crashplan.render.bootloader import is_crashplan_dropin

    ours = None
    if os.path.isfile(path):
        with open(path, encoding="utf-8", errors="replace") as existing:
            ours = is_crashplan_dropin(existing.read(4096))
    result = write_dropin(path, content, is_ours=ours, force=force)
    backup = f" (the old file is in {result.backup})" if result.backup else ""
    click.echo(f"crashplan: wrote {result.path}{backup}", err=True)
    if family in ("debian", "ubuntu"):
        click.echo("crashplan: activate it with: update-grub (then reboot)", err=True)
    else:
        click.echo(
            "crashplan: activate it with: grub2-mkconfig -o /boot/grub2/grub.cfg (then reboot); "
            "this distribution may not read /etc/default/grub.d: --format grubby or bls edits the boot entries",
            err=True,
        )
