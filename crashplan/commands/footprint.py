"""``crashplan footprint``: estimate what the crash kernel needs on a host, item by item."""

from __future__ import annotations

import sys

import click

from crashplan.cli_options import (
    OnceCommand,
    format_option,
    image_options,
    profile_option,
    source_options,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["footprint"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@source_options
@image_options
@profile_option
@format_option("text", "json")
def footprint(
    source: str | None, arch: str | None, kernel_version: str | None, kernel: str | None, initrd: str | None, profile_name: str | None, fmt: str
) -> int:
    """Estimate what the crash kernel needs on a host, item by item.

    The fixed part is what kexec loads into the reservation (the kernel as its header asks,
    the initrd, kexec's own segments); the runtime part is what the capture kernel then uses
    (the initramfs unpacked in tmpfs, the kernel and user space, makedumpfile's buffers, the
    struct page array).  Every line says where its value comes from.

    \b
    Example:
      sudo crashplan footprint
      crashplan footprint --kernel /boot/vmlinuz-6.17.0 --initrd /boot/initrd.img-6.17.0 --format json
    """
    from crashplan import api
    from crashplan.planning.footprint import footprint_to_json
    from crashplan.render.json import dumps_json
    from crashplan.render.rich import render_footprint_text, screen_of

    ctx = api.open_host(source, kernel=kernel, initrd=initrd, profile=profile_name, arch=arch, kernel_version=kernel_version)
    fp = api.footprint(ctx)
    if fmt == "json":
        out = ctx.envelope("footprint")
        out["footprint"] = footprint_to_json(fp)
        click.echo(dumps_json(out))
    else:
        click.echo(render_footprint_text(ctx, fp, screen=screen_of(sys.stdout)), nl=False, color=True)
    return ExitCode.OK
