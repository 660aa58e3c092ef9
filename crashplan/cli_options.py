"""The command line's shared options and their checks: --format, --source, --arch/--kernel-version,
--profile, --kernel/--initrd, --output, --ram; what the commands write besides their artefact
(--output and --write files, the one-line error report); and what stdout and stderr become when
their reader goes away.

Only click and crashplan's light modules are imported here (TAB completion loads this module).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from crashplan.errors import CrashplanError, ExitCode, ParseError

__all__ = [
    "PATH_TYPE",
    "OnceCommand",
    "State",
    "emit",
    "emit_dropin",
    "format_option",
    "host_options",
    "image_options",
    "kernel_options",
    "output_option",
    "profile_option",
    "ram_option_value",
    "reader_gone",
    "report_error",
    "silence",
    "source_options",
]


# Paths are checked by crashplan itself (one-line errors naming the file); the type is for
# shell completion, which completes file names for it.
PATH_TYPE = click.Path(dir_okay=True, file_okay=True, path_type=str)


class State:
    """What main() needs to know about the running command to report an error."""

    json_errors = False
    command: str | None = None


class OnceCommand(click.Command):
    """A command whose options that take one value refuse to be given twice (exit 2).

    click keeps the last of a repeated option: ``check --cmdline A --cmdline B`` would judge B
    alone, silently, where the user may mean both tokens.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        options = {name: p for p in self.get_params(ctx) if isinstance(p, click.Option) for name in (*p.opts, *p.secondary_opts)}
        seen: dict[str, str] = {}
        words = iter(args)
        for word in words:
            if word == "--":
                break
            name = word.split("=", 1)[0] if word.startswith("--") else word[:2] if word.startswith("-") else word
            p = options.get(name)
            if p is None:
                continue
            attached = word != name
            if not p.is_flag and not p.count and not attached:
                next(words, None)  # its value, whatever it looks like
            if p.multiple or p.is_flag or p.count or p.name is None:
                continue
            if p.name in seen:
                again = f"{name} is given twice" if seen[p.name] == name else f"{seen[p.name]} and {name} are the same option"
                raise click.UsageError(f"{again}: give it once (only the last would count)", ctx)
            seen[p.name] = name
        return super().parse_args(ctx, args)


def _set_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    State.json_errors = value in ("json", "jsonl")
    State.command = ctx.info_name
    return value


def format_option(*choices: str) -> Any:
    """The shared ``--format`` option."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        callback=_set_format,
        is_eager=True,
        help="Output format.",
    )


def _arch_choices() -> list[str]:
    from crashplan.kernel.features import ARCHES

    return [*ARCHES, "aarch64"]


def _kernel_version(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from crashplan.kernel.features import parse_kernel_version

    try:
        parse_kernel_version(value)
    except ParseError as e:
        raise click.BadParameter(f"{value!r}: expected MAJOR.MINOR such as 6.17") from e
    return value


def kernel_options(f: Any) -> Any:
    """``--arch`` and ``--kernel-version``: which kernel's rules to apply."""
    return _arch_and_version(
        f,
        arch_default="x86_64",
        arch_help="Architecture whose rules apply.",
        version_help="Kernel version whose rules apply (default: the newest crashplan mirrors).",
    )


def host_options(f: Any) -> Any:
    """``--arch ARCH --kernel-version X.Y``: what to take as known about a host (or every host of a fleet)."""
    return _arch_and_version(
        f,
        arch_default=None,
        arch_help="The host's architecture, when the source does not tell it or crashplan infers it wrong.",
        version_help="The host's kernel version, when the source does not tell it or tells it wrong.",
    )


def _arch_and_version(f: Any, *, arch_default: str | None, arch_help: str, version_help: str) -> Any:
    """The one definition of ``--arch`` and ``--kernel-version``; the default and the help words are the caller's."""
    f = click.option("--kernel-version", metavar="X.Y", default=None, callback=_kernel_version, help=version_help)(f)
    return click.option(
        "--arch",
        type=click.Choice(_arch_choices()),
        default=arch_default,
        show_default=arch_default is not None,
        help=arch_help,
    )(f)


def source_options(f: Any) -> Any:
    """``--source PATH --arch ARCH --kernel-version X.Y``: the host, and what to take as known about it."""
    f = host_options(f)
    return click.option("--source", type=PATH_TYPE, metavar="PATH", help="A snapshot directory or archive (default: this host).")(f)


def profile_option(f: Any) -> Any:
    """``--profile NAME|FILE``: the distro profile (default: detected from /etc/os-release)."""
    return click.option(
        "--profile",
        "profile_name",
        metavar="NAME|FILE",
        shell_complete=_complete_profile,
        help="Profile to use (default: detected from the source's /etc/os-release).",
    )(f)


def _complete_profile(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Built-in profile names, and files for a path."""
    from click.shell_completion import CompletionItem

    if "/" in incomplete or incomplete.startswith("."):
        return [CompletionItem(incomplete, type="file")]
    from crashplan.profiles import list_profiles

    return [CompletionItem(i.name) for i in list_profiles() if i.name.startswith(incomplete)]


def image_options(f: Any) -> Any:
    """``--kernel FILE --initrd FILE``: the kdump kernel and initrd to measure."""
    f = click.option("--initrd", type=PATH_TYPE, metavar="FILE", help="The kdump initrd to measure (default: found under /boot of the source).")(f)
    return click.option("--kernel", type=PATH_TYPE, metavar="FILE", help="The kdump kernel to measure (default: found under /boot of the source).")(f)


def output_option(f: Any) -> Any:
    """``--output FILE``: write the artefact to FILE atomically instead of stdout."""
    return click.option(
        "--output",
        "output",
        metavar="FILE",
        help="Write to FILE atomically (a temporary file in its directory, then a rename), e.g. node_exporter's textfile directory.",
    )(f)


def emit(text: str, output: str | None) -> None:
    """Print ``text``, or write it to ``output`` atomically (a missing directory: exit 3, nothing written).

    Either way it is UTF-8: a byte of a host file that is not (a lone surrogate here) is written
    as the text ``\\xNN``, as the JSON outputs and the error messages show it.
    """
    from crashplan.render.json import escape_undecodable

    text = escape_undecodable(text)
    if output is None:
        click.echo(text, nl=False)
        return
    from crashplan.host.sources.output import write_atomic

    write_atomic(output, text)


def emit_dropin(path: str, content: str, force: bool, family: str) -> None:
    """Write the grub drop-in (``--write``) and say how to activate it (stderr: stdout stays empty)."""
    from crashplan.host.sources.bootwrite import write_dropin
    from crashplan.render.bootloader import is_crashplan_dropin

    result = write_dropin(path, content, is_ours=is_crashplan_dropin, force=force)
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


def report_error(error: CrashplanError) -> None:
    """Write an error as one line on stderr (plus the caret for syntax errors), and as JSON on stdout for ``--format json``."""
    click.echo(f"crashplan: error: {error.one_line()}", err=True)
    if isinstance(error, ParseError):
        click.echo(error.caret(), err=True)
    if State.json_errors:
        from crashplan.envelope import envelope
        from crashplan.render.json import dumps_json

        click.echo(dumps_json(envelope(State.command, exit_code=error.exit_code, errors=[error.to_json()])))


def reader_gone() -> NoReturn:
    """Exit 0 after a broken pipe on stdout.

    Stdout is pointed at /dev/null first: what is still buffered goes nowhere, so the exit does
    not fail on it.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    raise click.exceptions.Exit(ExitCode.OK) from None


def silence() -> None:
    """Point stdout and stderr at /dev/null, so that flushing them at exit cannot fail."""
    import os
    from contextlib import suppress

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # not a real file (a test's StringIO): nothing to flush
            os.dup2(devnull, stream.fileno())
    os.close(devnull)


def ram_option_value(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    from crashplan.units import parse_size

    try:
        size = parse_size(value, what="--ram")
    except CrashplanError as e:
        raise click.BadParameter(e.one_line()) from e
    if size == 0:
        raise click.BadParameter("--ram: system RAM is more than 0")
    return size
