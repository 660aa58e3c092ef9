"""The ``crashplan`` command line: options in, one core call, one renderer, one exit code.

Commands map their options onto a library call and pick a renderer; :func:`main` is the one
place that turns errors into messages and exit codes (see :mod:`crashplan.errors`).  Only
click and crashplan's light modules are imported here: rich, yaml and psutil are imported
inside the functions that need them, so that TAB completion stays fast.  Each command lives in
its own module of :mod:`crashplan.commands`, imported when that command is used.

The rich renderers return text drawn for ``screen_of(sys.stdout)`` (the width, and the escape
codes rich decides stdout takes); it is written with ``click.echo(..., color=True)`` so that
click does not strip codes rich chose to write (``FORCE_COLOR`` on a pipe).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from gettext import gettext as _
from importlib import import_module
from typing import Any

import click

from crashplan.cli_options import State, reader_gone, report_error, silence
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import CrashplanError, ExitCode

__all__ = ["cli", "main"]

# Every command, with the first line of its help as `crashplan --help` lists it (a test keeps
# the two the same): the listing imports no command module.
COMMANDS = {
    "check": "Judge the current or a proposed crashkernel= parameter, for CI and hosts.",
    "explain": "Explain what the kernel does with a crashkernel= string.",
    "facts": "Show what crashplan sees on a host, and where each fact comes from.",
    "fleet": "Plan many snapshots at once: per host and for the whole fleet.",
    "footprint": "Estimate what the crash kernel needs on a host, item by item.",
    "profiles": "List the built-in profiles, or show one with the source of every value.",
    "recommend": "Recommend a crashkernel= boot parameter for a host, and show what it costs.",
    "schema": "Print the JSON Schema (draft 2020-12) of a command's --format json output.",
    "simulate": "Simulate where the kernel puts a crashkernel= reservation on a host.",
    "snapshot": "Capture this host's files into a snapshot that --source reads back.",
}


class _Commands(Mapping[str, click.Command]):
    """The commands by name, each imported from its module when it is looked up."""

    def __getitem__(self, name: str) -> click.Command:
        if name not in COMMANDS:
            raise KeyError(name)
        command: click.Command = getattr(import_module(f"crashplan.commands.{name}"), name)
        return command

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class _Cli(click.Group):
    """The command group: its commands are imported when used, and listed from :data:`COMMANDS`.

    A reader that goes away (``crashplan ... | head``) is not an error.  Caught here because
    click turns a broken pipe that reaches ``main()`` into exit 1.  Both places that write:
    ``make_context()`` prints ``crashplan --help`` and ``--version``, ``invoke()`` runs a
    command (whose own ``--help`` included).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Commands()  # type: ignore[assignment]  # read-only: nothing adds a command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands" section as click writes it, without importing the commands."""
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        rows = [(name, click.Command(name, help=COMMANDS[name]).get_short_help_str(limit)) for name in self.list_commands(ctx)]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            reader_gone()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            reader_gone()



@click.group(cls=_Cli, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.version_option(package_name="crashplan", prog_name="crashplan")
def cli() -> None:
    """Size, place and explain the kdump crashkernel= reservation.

    crashplan reads the kernel's own rules (kernel/crash_reserve.c) to tell how much memory to
    reserve for the crash kernel, where the kernel will put it, and what it costs production.
    """



def main(argv: list[str] | None = None) -> None:
    """Run the CLI; the one place where errors become exit codes."""
    State.json_errors = False
    try:
        status = cli.main(args=argv, prog_name="crashplan", standalone_mode=False)
    except click.exceptions.Exit as e:
        status = e.exit_code
    except click.Abort:
        click.echo("crashplan: aborted", err=True)
        status = 130
    except click.ClickException as e:
        e.show()
        status = ExitCode.USAGE if isinstance(e, click.UsageError) else ExitCode.BAD_INPUT
    except CrashplanError as e:
        status = e.exit_code
        try:
            report_error(e)
        except BrokenPipeError:
            # The reader of stderr went away too (crashplan ... 2>&1 | head): the exit code
            # still tells what happened; nothing is left to write to.
            silence()
    sys.exit(int(status or 0))

