"""``crashplan fleet``: plan many snapshots at once: per host and for the whole fleet."""

from __future__ import annotations

import sys

import click

from crashplan.cli_options import (
    PATH_TYPE,
    OnceCommand,
    format_option,
    host_options,
)
from crashplan.commands import CONTEXT_SETTINGS, EXIT_CODES_HELP
from crashplan.errors import ExitCode

__all__ = ["fleet"]


@click.command(cls=OnceCommand, context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)
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
    from crashplan.planning.fleet import expand_sources, fleet_to_json, run_fleet, summarise
    from crashplan.planning.reduce import is_result_path
    from crashplan.render.json import dumps_json
    from crashplan.render.rich import fleet_progress, render_fleet_text, screen_of

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
        click.echo(dumps_json(fleet_to_json(results, summary, exit_code=status)))
    elif fmt == "jsonl":
        click.echo(dumps_json({"summary": summary.to_json()}, lines=True))
    else:
        click.echo(render_fleet_text(results, summary, screen=screen_of(sys.stdout)), nl=False, color=True)
    return status


def _fleet_reduce(paths: tuple[str, ...], fmt: str) -> int:
    """``fleet`` over per-host JSON results: stream them through the reducer, print as they come."""
    from crashplan.envelope import RESULT_VERSION, status_of
    from crashplan.planning.reduce import FleetReducer, iter_results
    from crashplan.render.json import dumps_json
    from crashplan.render.rich import render_reduced_fleet_text

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
        click.echo(render_reduced_fleet_text(summary, len(reducer.problems)), nl=False)
    return status
