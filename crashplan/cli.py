"""The ``crashplan`` command line: options in, one core call, one renderer, one exit code.

Commands map their options onto a library call and pick a renderer; :func:`main` is the one
place that turns errors into messages and exit codes (see :mod:`crashplan.errors`).  Only
click and crashplan's light modules are imported here: rich, yaml and psutil are imported
inside the functions that need them, so that TAB completion stays fast.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from crashplan.cli_options import (
    PATH_TYPE,
    OnceCommand,
    State,
    emit,
    format_option,
    host_options,
    image_options,
    kernel_options,
    output_option,
    profile_option,
    ram_option_value,
    source_options,
)
from crashplan.errors import CrashplanError, ExitCode, ParseError

__all__ = ["cli", "main"]


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

EXIT_CODES_HELP = """\b
Exit codes: 0 ok, 1 bug, 2 usage error, 3 bad input
(unreadable source, bad profile, unparsable crashkernel=),
4 check found error-level findings."""


class _Cli(click.Group):
    """The command group; a reader that goes away (``crashplan ... | head``) is not an error.

    Caught here because click turns a broken pipe that reaches ``main()`` into exit 1.  Both
    places that write: ``make_context()`` prints ``crashplan --help`` and ``--version``,
    ``invoke()`` runs a command (whose own ``--help`` included).
    """

    command_class = OnceCommand

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            _reader_gone()

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _reader_gone()


def _reader_gone() -> NoReturn:
    """Exit 0 after a broken pipe on stdout.

    Stdout is pointed at /dev/null first: what is still buffered goes nowhere, so the exit does
    not fail on it.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    raise click.exceptions.Exit(ExitCode.OK) from None


@click.group(cls=_Cli, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.version_option(package_name="crashplan", prog_name="crashplan")
def cli() -> None:
    """Size, place and explain the kdump crashkernel= reservation.

    crashplan reads the kernel's own rules (kernel/crash_reserve.c) to tell how much memory to
    reserve for the crash kernel, where the kernel will put it, and what it costs production.
    """


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.argument("spec", nargs=-1)
@click.option("--ram", callback=ram_option_value, metavar="SIZE", help="System RAM as the kernel counts it (e.g. 16G).")
@click.option(
    "--batch",
    type=click.File("r", encoding="utf-8", errors="surrogateescape"),
    help="Read one command line per line from FILE ('-' for stdin); write JSON lines.",
)
@kernel_options
@format_option("text", "json")
def explain(
    spec: tuple[str, ...], ram: int | None, batch: Any, arch: str, kernel_version: str | None, fmt: str
) -> int:
    """Explain what the kernel does with a crashkernel= string.

    SPEC is a whole kernel command line or one or more crashkernel= tokens; a bare size such
    as 256M means crashkernel=256M.  With --ram it shows what the kernel reserves on that
    machine; without it, a table across RAM sizes.

    \b
    Example:
      crashplan explain 'crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M' --ram 16G
      crashplan explain crashkernel=256M crashkernel=1G,cma --kernel-version 6.16
      crashplan explain --batch cmdlines.txt --ram 16G > decisions.jsonl
    """
    from crashplan.kernel.explain import explain as run_explain
    from crashplan.kernel.explain import explanation_to_json, join_specs
    from crashplan.kernel.features import features_for
    from crashplan.render.json import dumps_json
    from crashplan.render.text import render_explanation_text

    features = features_for(arch, kernel_version)
    if batch is not None:
        if spec:
            raise click.UsageError("give SPEC or --batch, not both")
        status = ExitCode.OK
        for line in batch:
            x = run_explain(line.rstrip("\n"), features, ram)
            click.echo(dumps_json(explanation_to_json(x), lines=True))
            status = max(status, ExitCode.BAD_INPUT if x.error else ExitCode.OK)
        return status
    if not spec:
        raise click.UsageError("give a crashkernel= SPEC or --batch FILE")
    x = run_explain(join_specs(spec), features, ram)
    if fmt == "json":
        click.echo(dumps_json(explanation_to_json(x)))
        State.json_errors = False  # the envelope above already carries the error
    else:
        click.echo(render_explanation_text(x), nl=False)
    if x.error is not None:
        raise x.error
    return ExitCode.OK


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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
        from crashplan.units import format_human

        comment = f"{plan.strategy}: estimated need {format_human(plan.footprint.total)} on {ctx.source}"
        artefact = render_artefact(fmt, plan.tokens, ctx.facts.cmdline, comment=comment)
        if write_path is None:
            click.echo(artefact, nl=False)
        else:
            _write_dropin(write_path, artefact, force, ctx.profile.family)
    return ExitCode.OK


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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
    from crashplan.planning.check import render_check_text, report_to_json
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


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, required=True, type=PATH_TYPE, metavar="PATH...")
@click.option("--strategy", type=click.Choice(["auto", "standard", "cma", "ranged"]), default="auto", show_default=True, help="How each host reserves.")
@click.option("--jobs", type=click.IntRange(1, 256), help="Worker processes (default: the CPU count).")
@host_options
@format_option("text", "json", "jsonl")
def fleet(paths: tuple[str, ...], strategy: str, jobs: int | None, arch: str | None, kernel_version: str | None, fmt: str) -> int:
    """Plan many snapshots at once: per host and for the whole fleet.

    PATH is a snapshot (directory or archive) or a directory of snapshots; or per-host JSON
    results of recommend or check (.json/.jsonl files, a directory of them, '-' for JSON lines
    on stdin), reduced without reading any snapshot.  Per host: the
    recommendation and the memory taken now against recommended.  For the fleet: the
    distribution of the estimated needs, the one ranged crashkernel= string that covers every
    host, and the memory returned to production.  A host that cannot be read is reported and
    the others go on; the exit code is 3 when any host failed.

    \b
    Example:
      crashplan fleet snapshots/
      crashplan fleet a.tar.zst b.tar.zst --format jsonl > plans.jsonl
      crashplan fleet results/                 # recommend/check --format json of each host
      cat results/*.jsonl | crashplan fleet - --format json
    """
    from crashplan.envelope import envelope
    from crashplan.planning.fleet import expand_sources, run_fleet, summarise
    from crashplan.planning.reduce import is_result_path
    from crashplan.render.json import dumps_json
    from crashplan.render.rich import fleet_progress, render_fleet_text

    results_given = [is_result_path(p) for p in paths]
    if any(results_given):
        if not all(results_given):
            raise click.UsageError("give snapshots or per-host JSON results, not both")
        return _fleet_reduce(paths, fmt)
    sources = expand_sources(paths)
    results = []
    with fleet_progress(len(sources)) as advance:
        for result in run_fleet(sources, strategy=strategy, jobs=jobs, progress=advance, arch=arch, kernel_version=kernel_version):
            results.append(result)
            if fmt == "jsonl":
                click.echo(dumps_json(result.to_json(), lines=True))
    summary = summarise(results)
    status = ExitCode.BAD_INPUT if summary.failed else ExitCode.OK
    if fmt == "json":
        failed = [{"code": "host-failed", "message": r.error or "the host could not be planned", "path": r.source, "line": None} for r in results if not r.ok]
        click.echo(dumps_json(envelope("fleet", {"summary": summary.to_json(), "hosts": [r.to_json() for r in results]}, exit_code=status, errors=failed)))
    elif fmt == "jsonl":
        click.echo(dumps_json({"summary": summary.to_json()}, lines=True))
    else:
        render_fleet_text(results, summary)
    return status


def _fleet_reduce(paths: tuple[str, ...], fmt: str) -> int:
    """``fleet`` over per-host JSON results: stream them through the reducer, print as they come."""
    from crashplan.envelope import RESULT_VERSION, status_of
    from crashplan.planning.reduce import FleetReducer, iter_results, summary_text
    from crashplan.render.json import dumps_json

    reducer = FleetReducer()
    if fmt == "json":
        click.echo(f'{{"crashplan_result_version": {RESULT_VERSION}, "command": "fleet", "hosts": [', nl=False)
    first = True
    failed: list[dict[str, object]] = []
    for path, line, doc in iter_results(paths, stdin=sys.stdin):
        result = reducer.add_document(path, line, doc)
        if result is not None and not result.ok:
            failed.append({"code": "host-failed", "message": f"{result.source}: {result.error}", "path": path, "line": line})
        if result is not None and fmt in ("json", "jsonl"):
            click.echo(("" if first or fmt == "jsonl" else ",\n") + dumps_json(result.to_json(), lines=True), nl=fmt == "jsonl")
            first = False
    for problem in reducer.problems:
        click.echo(f"crashplan: error: {problem.one_line()}", err=True)
    summary = reducer.summary()
    status = ExitCode.BAD_INPUT if reducer.problems or summary.failed else ExitCode.OK
    if fmt == "json":
        # Streamed: the hosts go out as they are read, so the envelope's status comes last.
        tail = {"summary": summary.to_json(), "status": status_of(status), "exit_code": int(status), "errors": [p.to_json() for p in reducer.problems] + failed}
        click.echo("],\n" + dumps_json(tail, lines=True)[1:])
    elif fmt == "jsonl":
        click.echo(dumps_json({"summary": summary.to_json()}, lines=True))
    else:
        click.echo(summary_text(summary, len(reducer.problems)), nl=False)
    return status


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


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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

    host = open_source(source)
    dest = output or default_snapshot_name(host)
    report = capture_snapshot(host, dest, force=force, extra_files=snapshot_extra_files(host))
    for note in report.notes:
        click.echo(f"crashplan: note: {note}", err=True)
    for item in report.unreadable:
        click.echo(f"crashplan: unreadable: /{item.path}: {item.reason}", err=True)
    click.echo(str(report.dest))
    return ExitCode.OK


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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
    from crashplan.render.rich import render_footprint_text

    ctx = api.open_host(source, kernel=kernel, initrd=initrd, profile=profile_name, arch=arch, kernel_version=kernel_version)
    fp = api.footprint(ctx)
    if fmt == "json":
        out = ctx.envelope("footprint")
        out["footprint"] = footprint_to_json(fp)
        click.echo(dumps_json(out))
    else:
        render_footprint_text(ctx, fp)
    return ExitCode.OK


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
@click.argument("spec", nargs=-1, required=True)
@source_options
@format_option("text", "json")
def simulate(spec: tuple[str, ...], source: str | None, arch: str | None, kernel_version: str | None, fmt: str) -> int:
    """Simulate where the kernel puts a crashkernel= reservation on a host.

    Mirrors reserve_crashkernel_generic(), the low area and the ,cma halving on the host's
    memory map; existing "Crash kernel" regions count as free (they will not exist at the
    next boot).  Prints the kernel's own log lines for that boot, whether each area fits
    wherever the kernel image lands (KASLR), and the largest sizes that always fit.  Needs a
    root capture: without root /proc/iomem shows no addresses.

    \b
    Example:
      sudo crashplan simulate crashkernel=512M,high
      crashplan simulate 'crashkernel=1G,cma crashkernel=256M' --source host.tar.zst --format json
    """
    from crashplan import api
    from crashplan.planning.simulate import simulation_to_json

    sim = api.simulate(api.open_host(source, arch=arch, kernel_version=kernel_version), spec)
    if fmt == "json":
        from crashplan.render.json import dumps_json

        click.echo(dumps_json(simulation_to_json(sim)))
        State.json_errors = False  # the envelope above carries the error
    else:
        from crashplan.render.rich import render_simulation_text

        render_simulation_text(sim)
    if sim.error is not None:
        raise sim.error
    return ExitCode.OK


@cli.command(context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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
    from crashplan.schemas import load_schema, schema_names

    if name is not None and name not in schema_names():
        raise click.UsageError(f"no schema {name!r}; known: {', '.join(schema_names())}")
    if name is None:
        for known in schema_names():
            click.echo(f"{known:<11}  {load_schema(known)['title']}")
    else:
        click.echo(dumps_json(load_schema(name)))
    return ExitCode.OK


def _report(error: CrashplanError) -> None:
    """Write an error as one line on stderr (plus the caret for syntax errors)."""
    click.echo(f"crashplan: error: {error.one_line()}", err=True)
    if isinstance(error, ParseError):
        click.echo(error.caret(), err=True)
    if State.json_errors:
        from crashplan.envelope import envelope
        from crashplan.render.json import dumps_json

        click.echo(dumps_json(envelope(State.command, exit_code=error.exit_code, errors=[error.to_json()])))


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
            _report(e)
        except BrokenPipeError:
            # The reader of stderr went away too (crashplan ... 2>&1 | head): the exit code
            # still tells what happened; nothing is left to write to.
            _silence()
    sys.exit(int(status or 0))


def _silence() -> None:
    """Point stdout and stderr at /dev/null, so that flushing them at exit cannot fail."""
    import os
    from contextlib import suppress

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # not a real file (a test's StringIO): nothing to flush
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
