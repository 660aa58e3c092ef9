"""The rich renderers: tables and bars for recommend, footprint, simulate and fleet, as text.

Each renderer is a function from values to the text to write: rich draws into a buffer sized
and styled by a :class:`Screen`, and the caller writes the string.  :func:`screen_of` asks rich
what a stream takes (escape codes on a terminal, plain text on a pipe, ``NO_COLOR``,
``FORCE_COLOR`` and ``TERM=dumb`` as rich reads them; the width of the terminal, or ``COLUMNS``
or 100 on a pipe).  :func:`fleet_progress` is the one exception: a live progress display on
stderr, not a renderer.  :func:`render_reduced_fleet_text` sits beside :func:`render_fleet_text`
without a table: the fleet reduced from per-host results keeps no hosts to list.

rich is imported inside each function; the plain-text fast paths are :mod:`crashplan.render.text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from crashplan.units import format_size

if TYPE_CHECKING:
    import io
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from typing import IO, Any

    from rich.console import Console

    from crashplan.planning.fleet import FleetSummary, HostResult

__all__ = [
    "Screen",
    "fleet_progress",
    "render_fleet_text",
    "render_footprint_text",
    "render_plan_text",
    "render_reduced_fleet_text",
    "render_simulation_text",
    "screen_of",
]


@dataclass(frozen=True, slots=True)
class Screen:
    """What the text is drawn for: its width and the escape codes it may carry.

    The default is what a pipe without ``COLUMNS`` gets: 100 columns of plain text.
    """

    width: int = 100
    #: rich's colour system (``"standard"``, ``"256"``, ``"truecolor"``); None: no escape codes at all.
    color_system: str | None = None
    #: With a colour system: bold and dim stay, colours go (``NO_COLOR``, or styles forced onto a pipe).
    no_color: bool = True
    #: Whether rich takes the stream for a terminal (``FORCE_COLOR``, ``TTY_COMPATIBLE``).
    terminal: bool = False
    #: The stream's encoding: one that is not UTF-8 gets ASCII table borders.
    encoding: str = "utf-8"


def _console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """A rich console on ``file`` (stdout by default): no colour when it is not a terminal or NO_COLOR is set.

    :func:`screen_of` reads its decisions; :func:`fleet_progress` draws on it.
    """
    import os
    import sys

    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich would exit 1, crashplan's "bug" code; the CLI treats a reader that went away
            # (`crashplan ... | head`) as success.
            raise BrokenPipeError

    stream = file or sys.stdout
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    if width is None and not is_tty:
        # Piped: COLUMNS when it is set (as shells export it), else 100.
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) >= 40 else 100
    return _Console(
        file=stream,
        width=width,
        no_color=bool(os.environ.get("NO_COLOR")) or not is_tty,
        highlight=False,
        soft_wrap=False,
    )


def screen_of(stream: IO[str]) -> Screen:
    """The :class:`Screen` rich would draw on for ``stream`` (nothing is written to it)."""
    console = _console(stream)
    return Screen(
        width=console.width,
        color_system=console.color_system,
        no_color=console.no_color,
        terminal=console.is_terminal,
        encoding=console.encoding,
    )


def _recorder(screen: Screen | None) -> tuple[Console, io.StringIO]:
    """A rich console that draws for ``screen`` into a string buffer, and the buffer."""
    import io

    from rich.console import Console

    screen = screen or Screen()
    encoding = screen.encoding

    class _Buffer(io.StringIO):
        # rich draws ASCII borders for a stream whose encoding is not UTF-8.
        @property
        def encoding(self) -> str:  # type: ignore[override]
            return encoding

    buffer = _Buffer()
    console = Console(
        file=buffer,
        width=screen.width,
        force_terminal=screen.terminal,
        force_jupyter=False,
        color_system=cast("Any", screen.color_system),
        no_color=screen.no_color,
        highlight=False,
        soft_wrap=False,
    )
    return console, buffer


_STYLES = {"crash": "bold red", "cma": "bold yellow", "occupant": "cyan", "free": "green", "hole": "dim"}
_GLYPHS = {"crash": "#", "cma": "c", "occupant": "k", "free": ".", "hole": " "}


def _memory_segments(sim: object) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, label) for every piece of the map, sorted by address."""
    from crashplan.planning.simulate import Simulation

    assert isinstance(sim, Simulation)
    out: list[tuple[int, int, str, str]] = []
    previous = 0
    for r in sim.layout.ram:
        if r.start > previous:
            out.append((previous, r.start, "hole", "not RAM (firmware, PCI, memmap= holes)"))
        out.append((r.start, r.end, "free", "System RAM"))
        previous = r.end
    image = sim.layout.kernel_image
    if image is not None:
        where = "this boot's position; KASLR moves it" if sim.layout.kaslr else "fixed (nokaslr)"
        out.append((image.start, image.end, "occupant", f"kernel image ({where})"))
    for o in sim.layout.occupants:
        out.append((o.range.start, o.range.end, "occupant", o.name))
    for region in sim.facts.crash_regions:
        out.append((region.start, region.end, "occupant", "existing Crash kernel (free again at the next boot)"))
    for res in sim.assessment.placement.reservations:
        kind = "cma" if res.name == "crashkernel-cma" else "crash"
        out.append((res.start, res.end, kind, f"{res.name} (simulated)"))
    return sorted(out, key=lambda s: (s[0], s[2] == "free"))


def _bar(segments: list[tuple[int, int, str, str]], start: int, end: int, width: int) -> list[tuple[str, str]]:
    """One character per cell of [start, end), the most important kind in each cell wins."""
    order = ["hole", "free", "occupant", "cma", "crash"]
    cells = []
    step = max(1, (end - start) // width)
    for i in range(width):
        lo, hi = start + i * step, start + (i + 1) * step
        best = "hole"
        for s, e, kind, _ in segments:
            if s < hi and e > lo and order.index(kind) > order.index(best):
                best = kind
        cells.append((_GLYPHS[best], _STYLES[best]))
    return cells


def render_simulation_text(sim: object, *, screen: Screen | None = None) -> str:
    """The simulated boot: decision, kernel log, verdicts and the physical memory map."""
    from rich.table import Table
    from rich.text import Text

    from crashplan.planning.simulate import Simulation
    from crashplan.units import format_human

    assert isinstance(sim, Simulation)
    console, out = _recorder(screen)
    a = sim.assessment
    kind = "exact" if a.addresses_exact else "predicted"
    console.print(Text(f"{sim.cmdline}  on {sim.facts.source or 'this host'}", style="bold"))
    from crashplan.render.facts import describe_host

    console.print(f"  {describe_host(sim.facts, sim.features.version)}; addresses are {kind}")
    console.print()
    console.print("kernel log of this boot:", style="bold")
    for line in a.placement.kernel_log or ("(nothing: no crashkernel= reservation)",):
        console.print(f"  {line}")
    if a.verdicts:
        console.print()
        console.print("verdicts (wherever the kernel image lands):", style="bold")
        for v in a.verdicts:
            console.print(f"  {v.name} {format_size(v.size)}: {v.verdict}")
    if sim.layout.arch in ("s390x", "ppc64le"):
        # One search (s390) or one fixed base (powerpc): no low and high windows.
        console.print(f"\nlargest size that always fits: {format_human(a.max_low)}")
    else:
        console.print(
            f"\nlargest size that always fits: low window {format_human(a.max_low)}, high window {format_human(a.max_high)}"
            f" (with the image where it was: {format_human(a.max_low_nominal)} / {format_human(a.max_high_nominal)})"
        )
    segments = _memory_segments(sim)
    console.print()
    console.print("physical memory map:", style="bold")
    for title, lo, hi in (("below 4 GiB", 0, min(sim.layout.limits.low_max, sim.layout.end_of_dram)), ("all RAM", 0, sim.layout.end_of_dram)):
        if hi <= lo:
            continue
        bar = Text(f"  {title:<12} |")
        for glyph, style in _bar(segments, lo, hi, 63):  # 2 + 12 + 2 + 63 + 1: 80 columns
            bar.append(glyph, style=style)
        bar.append("|")
        console.print(bar)
    console.print("  legend: # crashkernel  c CMA  k kernel/initrd/firmware  . free RAM  (blank) not RAM")
    table = Table(show_edge=False, pad_edge=False, box=None)
    for column in ("start", "end", "size", "what"):
        table.add_column(column, justify="right" if column != "what" else "left")
    for s, e, k, label in segments:
        table.add_row(f"{s:#014x}", f"{e:#014x}", format_human(e - s), Text(label, style=_STYLES[k]))
    console.print(table)
    for assumption in a.assumptions:
        console.print(f"  assumption: {assumption}", style="dim")
    if sim.warnings:
        console.print()
        for w in sim.warnings:
            console.print(f"  {w.severity} {w.code}: {w.message}")
    return out.getvalue()


def render_footprint_text(ctx: object, fp: object, *, screen: Screen | None = None) -> str:
    """The itemised footprint with the source of every line."""
    from rich.table import Table
    from rich.text import Text

    from crashplan.planning.context import PlanContext
    from crashplan.planning.footprint import Footprint
    from crashplan.units import format_human

    assert isinstance(ctx, PlanContext) and isinstance(fp, Footprint)
    console, out = _recorder(screen)
    f = ctx.facts
    how = "detected" if ctx.profile_detected else "given"
    console.print(Text(f"crash kernel footprint on {ctx.source}", style="bold"))
    from crashplan.render.facts import describe_host

    console.print(f"  {describe_host(f)}; profile {ctx.profile.name} ({how})")
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("part")
    table.add_column("item")
    table.add_column("size", justify="right")
    table.add_column("source", overflow="fold")
    for item in fp.items:
        table.add_row(item.part, item.name, format_human(item.bytes), Text(item.source, style="dim"))
    console.print(table)
    console.print(
        f"\nfixed {format_human(fp.fixed)} + runtime {format_human(fp.runtime)} = total {format_human(fp.total)}"
        + (f" (the initrd is unknown: {format_human(fp.total_range[0])} to {format_human(fp.total_range[1])} with any kdump initrd of the profile's range)"
           if fp.total_range else "")
    )
    console.print(f"crashkernel=X needs X >= {format_size(fp.recommended_size)} (total plus the profile's margin)")
    console.print(
        f"with ,cma: crashkernel={format_size(fp.cma_size)},cma crashkernel={format_size(fp.cma_fixed_size)}"
        f" (the fixed part plus its ,cma margin stays a standard reservation; a kernel without ,cma reserves only"
        f" the {format_size(fp.cma_fixed_size)}, where crashkernel=X needs {format_size(fp.recommended_size)})"
    )
    for finding in fp.findings:
        console.print(f"  {finding.severity} {finding.code}: {finding.message}")
    if ctx.kdumpctl is not None:
        from crashplan.render.check import kdumpctl_side_by_side

        console.print(kdumpctl_side_by_side(ctx.kdumpctl, fp))
    return out.getvalue()


def render_plan_text(ctx: object, plan: object, *, screen: Screen | None = None) -> str:
    """The recommendation, why, and the comparison of what each option costs production."""
    from rich.table import Table
    from rich.text import Text

    from crashplan.planning.context import PlanContext
    from crashplan.planning.recommend import Plan
    from crashplan.units import format_human

    assert isinstance(ctx, PlanContext) and isinstance(plan, Plan)
    console, out = _recorder(screen)
    f = ctx.facts
    console.print(Text(f"recommended: {plan.cmdline}", style="bold green"))
    console.print(f"  strategy {plan.strategy}: {plan.reason}")
    from crashplan.render.facts import describe_host

    console.print(
        f"  on {ctx.source}: {describe_host(f)}; "
        f"profile {ctx.profile.name}; estimated need {format_human(plan.footprint.total)} "
        f"(fixed {format_human(plan.footprint.fixed)}, runtime {format_human(plan.footprint.runtime)})"
    )
    # What the estimate had to assume comes first, with what removes the doubt (issue 15 point 7).
    assumed = {x.code for x in plan.footprint.findings}
    if assumed & {"initrd-size-unknown", "initrd-unpacked-unknown", "kernel-size-unknown"}:
        what = " and ".join(
            name for code, name in (("kernel-size-unknown", "kernel"), ("initrd-size-unknown", "initrd")) if code in assumed
        ) or "initrd's unpacked size"
        span = plan.footprint.total_range
        could = (
            f"; with any kdump initrd of the profile's range it would be {format_human(span[0])} to {format_human(span[1])}"
            if span else ""
        )
        console.print(
            f"  note: the kdump {what} {'are' if ' and ' in what else 'is'} unknown: measure it with --initrd PATH / --kernel PATH, "
            "or take a snapshot on the host (crashplan snapshot); until then the need above rests on the profile's "
            f"assumed {'files' if ' and ' in what else what} (see the warnings){could}",
            style="yellow",
        )
    table = Table(title="memory each option takes from production", show_edge=False, pad_edge=False)
    columns = ["option", "crashkernel=", "taken", "borrowed", "of RAM", "places", "covers need", "dump loses", "needs"]
    # Narrow terminals drop the columns that matter least first; words wrap whole, on them a
    # ranged crashkernel= string breaks after the comma between two ranges, and only a string
    # longer than its column even then is folded.
    if console.width < 130:
        columns.remove("needs")
    if console.width < 110:
        columns.remove("dump loses")
        if not any(o.borrowed for o in plan.options):
            columns.remove("borrowed")
    if console.width < 90:
        columns.remove("of RAM")
    breakable = _ranges_on_lines if console.width < 120 else str
    # The crashkernel= column is at least as wide as its longest unbreakable piece.
    pieces = [p for o in plan.options for line in breakable((o.cmdline or "").replace("crashkernel=", "")).split("\n") for p in line.split()]
    widest = max([len(p) for p in pieces] + [len("crashkernel=")])
    for column in columns:
        if column == "crashkernel=":
            table.add_column(column, overflow="fold", min_width=min(widest, console.width // 3) if breakable is not str else None)
        else:
            table.add_column(column, overflow="ellipsis")
    for o in plan.options:
        style = "bold" if o.cmdline == plan.cmdline and o.kind == plan.strategy else ""
        cells: dict[str, str | Text] = {
            "option": Text(o.label, style=style),
            # No crashkernel= shown although memory is reserved: the command line is unknown.
            "crashkernel=": breakable((o.cmdline or ("unknown" if o.taken else "(none)")).replace("crashkernel=", "")),
            "taken": format_human(o.taken),
            "borrowed": format_human(o.borrowed) if o.borrowed else "-",
            "of RAM": f"{o.share * 100:.1f}%",
            "places": o.places or "unknown",
            "covers need": "-" if o.covers is None else ("yes" if o.covers else "no"),
            "dump loses": o.dump_loses,
            "needs": o.kernel_requirement,
        }
        table.add_row(*(cells[c] for c in columns))
    console.print(table)
    for finding in plan.findings:
        console.print(f"  {finding.severity} {finding.code}: {finding.message}")
    from crashplan.render.bootloader import boot_format

    fmt = boot_format(f, ctx.profile.family)
    if fmt != "cmdline":
        console.print(f"  apply it with: crashplan recommend --strategy {plan.strategy} --format {fmt}")
    return out.getvalue()


def fleet_progress(total: int) -> AbstractContextManager[Callable[[int], None]]:
    """A context manager giving ``advance(n)``: a rich progress bar on stderr when it is a terminal.

    Not a renderer: a live display drawn (and, being transient, erased) while the hosts are
    planned; it writes to stderr itself and returns no text.
    """
    import contextlib
    import sys

    @contextlib.contextmanager
    def manager():  # type: ignore[no-untyped-def]
        if not sys.stderr.isatty():
            yield lambda n: None
            return
        from rich.progress import Progress

        with Progress(console=_console(sys.stderr), transient=True) as progress:
            task = progress.add_task("planning hosts", total=total)
            yield lambda n: progress.advance(task, n)

    return manager()


def render_fleet_text(results: list[HostResult], summary: FleetSummary, *, screen: Screen | None = None) -> str:
    """One line per host and the fleet summary."""
    from rich.table import Table

    from crashplan.planning.fleet import short_sources
    from crashplan.units import format_human

    console, out = _recorder(screen)
    table = Table(show_edge=False, pad_edge=False, box=None)
    for column in ("host", "RAM", "crashkernel=", "need", "taken now", "taken then", "places"):
        table.add_column(column, overflow="fold")  # a host name or a size cut short would be lost
    names = short_sources([r.source for r in results])
    failed: list[tuple[str, str]] = []
    for r, host in zip(results, names, strict=True):
        if not r.ok:
            # The reason is a sentence: it goes below the table, where it has the whole width.
            table.add_row(host, "-", "error", "-", "-", "-", "-")
            failed.append((host, r.error or "unknown error"))
            continue
        table.add_row(
            host,
            format_human(r.system_ram) if r.system_ram is not None else "unknown",
            (r.cmdline or "-").replace("crashkernel=", ""),
            format_human(r.need) if r.need is not None else "unknown",
            format_human(r.taken_now) if r.taken_now is not None else "unknown",
            format_human(r.taken_recommended) if r.taken_recommended is not None else "unknown",
            r.places or "unknown",
        )
    console.print(table)
    for host, error in failed:
        console.print(f"{host}: {error}", highlight=False)
    s = summary
    console.print(f"\n{s.hosts} hosts, {s.failed} failed")
    needs = (s.need_min, s.need_median, s.need_p90, s.need_max)
    if None not in needs:
        low, median, p90, high = cast("tuple[int, int, int, int]", needs)
        console.print(
            f"estimated need: min {format_human(low)}, median {format_human(median)}, "
            f"p90 {format_human(p90)}, max {format_human(high)}"
        )
    console.print(_taken_line(s))
    if s.ranged:
        console.print(_fleet_string_line(s))
    return out.getvalue()


def _fleet_string_line(s: FleetSummary) -> str:
    """The fleet's covering string and whom it covers: one wording for both fleet views."""
    covers = "covers every host" if s.ranged_covers else "does NOT cover every host"
    if s.failed:
        covers += f" planned; {s.failed} could not be planned"
    return f"one string for the fleet: {s.ranged} ({covers})"


def _taken_line(s: FleetSummary) -> str:
    """What the fleet takes from production now and with the recommendations, and the balance: one wording for both fleet views.

    The balance is "returned X" or "the recommendations cost X more", never a negative return.
    """
    from crashplan.units import format_human

    if s.returned:
        balance = f"returned {format_human(s.returned)}"
    elif s.costs_more:
        balance = f"the recommendations cost {format_human(s.costs_more)} more"
    else:
        balance = "no change"
    unknown = f" ({s.current_unknown} host{'s' if s.current_unknown != 1 else ''} whose current reservation is unknown left out of 'now' and of the balance)" if s.current_unknown else ""
    return f"taken from production now {format_human(s.taken_now)}, with the recommendations {format_human(s.taken_recommended)}; {balance}{unknown}"


def render_reduced_fleet_text(summary: FleetSummary, problems: int) -> str:
    """The fleet reduced from per-host results (``fleet RESULTS...``) in a few lines of plain text.

    No table and no rich: the hosts were streamed past, not kept (per host: ``--format jsonl``).
    ``problems`` is the number of results left out.
    """
    from crashplan.units import format_human

    s = summary
    lines = [f"{s.hosts} hosts reduced from their results, {s.failed} failed, {problems} results left out"]
    if s.need_min is not None and s.need_median is not None and s.need_p90 is not None and s.need_max is not None:
        lines.append(f"estimated need: min {format_human(s.need_min)}, median {format_human(s.need_median)}, p90 {format_human(s.need_p90)}, max {format_human(s.need_max)}")
    lines.append(_taken_line(s))
    if s.ranged:
        lines.append(_fleet_string_line(s))
    return "\n".join(lines) + "\n"


def _ranges_on_lines(value: str) -> str:
    """A ranged ``crashkernel=`` value with each ``start-[end]:size`` entry on its own line.

    Only the commas between entries break (a comma followed by a digit), never the one of a
    ``,high``/``,low``/``,cma`` suffix.

    >>> print(_ranges_on_lines("2G-4G:320M,4G-:512M crashkernel=1G,cma"))
    2G-4G:320M,
    4G-:512M crashkernel=1G,cma
    """
    import re

    return re.sub(r",(?=\d)", ",\n", value)
