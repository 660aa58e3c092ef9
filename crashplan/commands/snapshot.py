"""``crashplan snapshot``: capture this host's files into a snapshot that --source reads back."""

from __future__ import annotations

import click

from crashplan.cli_options import (
    PATH_TYPE,
    OnceCommand,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["snapshot"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.option(
    "-o",
    "--output",
    type=PATH_TYPE,
    metavar="PATH",
    help="Directory to write, or an archive by its suffix (.tar, .tar.gz, .tgz, .tar.xz, .tar.zst)."
    "  [default: crashplan-snapshot-HOST-TIME in the current directory]",
)
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@click.option("--source", type=PATH_TYPE, metavar="PATH", help="Copy another snapshot or sosreport instead of this host.")
def snapshot(output: str | None, force: bool, source: str | None) -> int:
    """Capture this host's files into a snapshot that --source reads back.

    Copies the /proc, /sys and /etc files crashplan reads, plus crashplan-snapshot.json
    (uname, page size, root or not, and the kdump kernel and initrd sizes).  Run it as root:
    without root /proc/iomem hides every address.  Prints the path written.

    \b
    Example:
      sudo crashplan snapshot
      sudo crashplan snapshot -o host.tar.zst && crashplan facts --source host.tar.zst
    """
    from crashplan.host.snapshot import default_snapshot_name, snapshot_extra_files
    from crashplan.host.sources import open_source
    from crashplan.host.sources.capture import capture_snapshot
    from crashplan.render.text import render_capture_notes

    host = open_source(source)
    dest = output or default_snapshot_name(host)
    report = capture_snapshot(host, dest, force=force, extra_files=snapshot_extra_files(host))
    click.echo(render_capture_notes(report), err=True, nl=False)
    click.echo(str(report.dest))
    return ExitCode.OK
