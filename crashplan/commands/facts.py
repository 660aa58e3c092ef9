"""``crashplan facts``: show what crashplan sees on a host, and where each fact comes from."""

from __future__ import annotations

import click

from crashplan.cli_options import (
    OnceCommand,
    emit,
    format_option,
    output_option,
    source_options,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["facts"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@source_options
@format_option("text", "json", "prometheus")
@output_option
def facts(source: str | None, arch: str | None, kernel_version: str | None, fmt: str, output: str | None) -> int:
    """Show what crashplan sees on a host, and where each fact comes from.

    Architecture, kernel, system RAM as the kernel counts it, the RAM map, the current
    crash kernel reservation, CPUs, NUMA zones, the current crashkernel= decision, distro,
    kdump configuration and boot files.  Missing files are reported as absent, not errors.

    \b
    Example:
      crashplan facts
      crashplan facts --source host.tar.zst --format json
      crashplan facts --format prometheus --output /var/lib/node_exporter/textfile/crashplan-facts.prom
    """
    from crashplan.host.facts import gather_facts
    from crashplan.host.sources import open_source
    from crashplan.render.facts import render_facts_text
    from crashplan.render.facts_json import facts_to_json
    from crashplan.render.json import dumps_json

    host = gather_facts(open_source(source), arch=arch, kernel_version=kernel_version)
    if fmt == "json":
        emit(dumps_json(facts_to_json(host)) + "\n", output)
    elif fmt == "prometheus":
        from crashplan.render.prometheus import render_facts_prometheus

        emit(render_facts_prometheus(host), output)
    else:
        emit(render_facts_text(host), output)
    return ExitCode.OK
