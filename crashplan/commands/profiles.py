"""``crashplan profiles``: list the built-in profiles, or show one with the source of every value."""

from __future__ import annotations

import click

from crashplan.cli_options import (
    OnceCommand,
    format_option,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["profiles"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.argument("action", type=click.Choice(["list", "show"]), default="list")
@click.argument("name", required=False)
@format_option("text", "json")
def profiles(action: str, name: str | None, fmt: str) -> int:
    """List the built-in profiles, or show one with the source of every value.

    A profile holds a distribution's default crashkernel= string, its kdump command-line
    conventions and the footprint estimator's constants.  NAME is a built-in name or the path
    of a YAML file (which may extend a built-in one).

    \b
    Example:
      crashplan profiles
      crashplan profiles show fedora-x86_64
      crashplan profiles show ./my-profile.yaml --format json
    """
    from crashplan.envelope import envelope
    from crashplan.profiles import (
        list_profiles,
        load_profile,
        profile_info_to_json,
        profile_to_json,
    )
    from crashplan.render.json import dumps_json
    from crashplan.render.profiles import render_profile_list_text, render_profile_text

    if action == "list":
        if name is not None:
            raise click.UsageError("'profiles list' takes no NAME")
        infos = list_profiles()
        rows = [profile_info_to_json(i) for i in infos]
        text = dumps_json(envelope("profiles", {"profiles": rows})) + "\n" if fmt == "json" else render_profile_list_text(infos)
    elif name is None:
        raise click.UsageError("'profiles show' needs a profile NAME or FILE")
    else:
        profile = load_profile(name)
        text = dumps_json(envelope("profiles", {"profile": profile_to_json(profile)})) + "\n" if fmt == "json" else render_profile_text(profile)
    click.echo(text, nl=False)
    return ExitCode.OK
