"""``crashplan profiles``: list the built-in profiles, or show one with the source of every value."""

from __future__ import annotations

import click

from crashplan.cli_options import format_option
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["profiles"]


@click.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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
    from crashplan.profiles import list_profiles, load_profile, profile_to_json, render_profile_text
    from crashplan.render.json import dumps_json

    if action == "list":
        if name is not None:
            raise click.UsageError("'profiles list' takes no NAME")
        infos = list_profiles()
        if fmt == "json":
            rows = [{"name": i.name, "family": i.family, "arch": i.arch, "default_crashkernel": i.default_crashkernel, "description": i.description} for i in infos]
            click.echo(dumps_json(envelope("profiles", {"profiles": rows})))
        else:
            width = max(len(i.name) for i in infos)
            for i in infos:
                click.echo(f"{i.name:<{width}}  {i.arch or '-':<11}  {i.default_crashkernel or '(computed per host)'}")
        return ExitCode.OK
    if name is None:
        raise click.UsageError("'profiles show' needs a profile NAME or FILE")
    profile = load_profile(name)
    if fmt == "json":
        click.echo(dumps_json(envelope("profiles", {"profile": profile_to_json(profile)})))
    else:
        click.echo(render_profile_text(profile), nl=False)
    return ExitCode.OK
