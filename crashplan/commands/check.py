"""``crashplan check``: judge the current or a proposed crashkernel= parameter, for CI and hosts."""

from __future__ import annotations

import click

from crashplan.cli_options import (
    OnceCommand,
    emit,
    format_option,
    image_options,
    output_option,
    profile_option,
    source_options,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["check"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@source_options
@image_options
@profile_option
@click.option("--cmdline", "proposed", metavar="'crashkernel=...'", help="Judge this parameter instead of the host's current one.")
@click.option("--plan", "plan_path", metavar="PLAN.json", help="Compare the host with a plan saved by recommend --format json.")
@click.option("--strict", is_flag=True, help="Exit 4 on warnings too.")
@format_option("text", "json", "prometheus")
@output_option
def check(
    source: str | None,
    arch: str | None,
    kernel_version: str | None,
    kernel: str | None,
    initrd: str | None,
    profile_name: str | None,
    proposed: str | None,
    plan_path: str | None,
    strict: bool,
    fmt: str,
    output: str | None,
) -> int:
    """Judge the current or a proposed crashkernel= parameter, for CI and hosts.

    Checks that it parses, that the kernel reserves it, that it places on the host, that it
    covers the estimated need, that it is not wasteful (more than twice the need) and that it
    has no compatibility hazard (such as a ,cma token after the plain one).  Findings carry
    stable codes.  Exit 0, or 4 when an error-level finding exists (with --strict: any warning).

    \b
    Example:
      sudo crashplan check
      crashplan check --source host.tar.zst --cmdline 'crashkernel=1G,cma crashkernel=256M' --strict
      sudo crashplan check --plan plan.json    # after: recommend --format json > plan.json, write, reboot
      sudo crashplan check --format prometheus --output /var/lib/node_exporter/textfile/crashplan.prom
    """
    from crashplan import api
    from crashplan.planning.check import report_to_json
    from crashplan.render.check import render_check_text
    from crashplan.render.json import dumps_json

    if plan_path is not None and proposed is not None:
        raise click.UsageError("--plan checks the host against a saved plan: give --plan or --cmdline, not both")
    ctx = api.open_host(source, kernel=kernel, initrd=initrd, profile=profile_name, arch=arch, kernel_version=kernel_version)
    report = api.check(ctx, cmdline=proposed, plan=plan_path)
    if fmt == "json":
        text = dumps_json(report_to_json(ctx, report, strict=strict)) + "\n"
    elif fmt == "prometheus":
        from crashplan.render.prometheus import render_check_prometheus

        text = render_check_prometheus(ctx, report, strict=strict)
    else:
        text = render_check_text(ctx, report, strict=strict)
    emit(text, output)
    return ExitCode.FINDINGS if report.failing(strict=strict) else ExitCode.OK
