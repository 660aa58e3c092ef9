"""``crashplan schema``: print the JSON Schema (draft 2020-12) of a command's --format json output."""

from __future__ import annotations

import click

from crashplan.cli_options import OnceCommand
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["schema"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.argument("name", required=False, metavar="[COMMAND]")
def schema(name: str | None) -> int:
    """Print the JSON Schema (draft 2020-12) of a command's --format json output.

    COMMAND is a command name, or error (the envelope of any failed command), fleet-line (one
    line of fleet --format jsonl) or snapshot (crashplan-snapshot.json).  The schema printed is
    self-contained.  Without COMMAND, lists the schemas.

    \b
    Example:
      crashplan schema check > check.schema.json
      crashplan check --format json | check-jsonschema --schemafile check.schema.json -
    """
    from crashplan.render.json import dumps_json
    from crashplan.render.text import render_schema_list
    from crashplan.schemas import load_schema, schema_names, schema_titles

    if name is not None and name not in schema_names():
        raise click.UsageError(f"no schema {name!r}; known: {', '.join(schema_names())}")
    if name is None:
        click.echo(render_schema_list(schema_titles()), nl=False)
    else:
        click.echo(dumps_json(load_schema(name)))
    return ExitCode.OK
