"""``crashplan fleet``: many snapshots at once, in parallel processes.

Each host gets its own recommendation (the same model as ``crashplan recommend``, with the
placement of the recommended parameter checked); the fleet gets the distribution of the
estimated needs, the one ranged ``crashkernel=`` string that covers every host, and the
memory the recommendations return to production compared with the current reservations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from crashplan.errors import CrashplanError, ExitCode
from crashplan.host.facts import HostFacts
from crashplan.units import GiB, TiB

if TYPE_CHECKING:
    from crashplan.kernel.features import Features
    from crashplan.planning.context import PlanContext

__all__ = [
    "FleetSummary",
    "HostResult",
    "expand_sources",
    "fleet_to_json",
    "run_fleet",
    "short_sources",
    "summarise",
    "summary_of",
]


@dataclass(frozen=True, slots=True)
class HostResult:
    """One host of the fleet: its recommendation and what it takes now and would take."""

    source: str
    ok: bool
    error: str | None = None
    arch: str | None = None
    system_ram: int | None = None
    profile: str | None = None
    strategy: str | None = None
    cmdline: str | None = None
    need: int | None = None
    recommended_size: int | None = None
    taken_now: int | None = None
    taken_recommended: int | None = None
    borrowed_recommended: int | None = None
    places: str | None = None
    kernel_version: str | None = None

    def to_json(self) -> dict[str, object]:
        """The host as a JSON object (one line of ``--format jsonl``)."""
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class FleetSummary:
    """The fleet at a glance.

    ``taken_now`` adds the hosts whose current reservation is known; ``current_unknown`` counts
    the planned hosts whose source tells neither it nor the command line.  ``returned`` and
    ``costs_more`` compare the known hosts with what the recommendations take on those hosts.
    """

    hosts: int
    failed: int
    need_min: int | None
    need_median: int | None
    need_p90: int | None
    need_max: int | None
    taken_now: int
    taken_recommended: int
    returned: int
    costs_more: int
    ranged: str | None
    ranged_covers: bool | None
    current_unknown: int = 0

    def to_json(self) -> dict[str, object]:
        """The summary as a JSON object."""
        return {k: getattr(self, k) for k in self.__slots__}  # type: ignore[attr-defined]


def fleet_to_json(results: list[HostResult], summary: FleetSummary, *, exit_code: ExitCode) -> dict[str, object]:
    """The ``fleet --format json`` envelope: the summary, every host, and an error per host that failed."""
    from crashplan.envelope import envelope

    failed = [
        {"code": "host-failed", "message": r.error or "the host could not be planned", "path": r.source, "line": None}
        for r in results
        if not r.ok
    ]
    data = {"summary": summary.to_json(), "hosts": [r.to_json() for r in results]}
    return envelope("fleet", data, exit_code=exit_code, errors=failed)


def expand_sources(paths: Iterable[str]) -> list[str]:
    """Every snapshot named by ``paths``: a snapshot itself, or a directory of snapshots."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path) and not (
            os.path.isdir(os.path.join(path, "proc")) or os.path.isfile(os.path.join(path, "crashplan-snapshot.json"))
        ):
            out.extend(sorted(os.path.join(path, name) for name in os.listdir(path)))
        else:
            out.append(path)
    return out


def short_sources(sources: list[str]) -> list[str]:
    """The sources without the directory they all share, to tell the hosts apart in a narrow table.

    >>> short_sources(["/srv/snaps/a", "/srv/snaps/b.tar.zst"])
    ['a', 'b.tar.zst']
    >>> short_sources(["/srv/snaps/a"])
    ['a']
    >>> short_sources(["a.json", "-"])
    ['a.json', '-']
    """
    dirs = {os.path.dirname(s) for s in sources}
    if len(dirs) != 1 or not next(iter(dirs)):
        return list(sources)
    return [os.path.basename(s) or s for s in sources]


# Fleets are mostly hosts of a few shapes (one image on one hardware model): each worker plans a
# shape once and reuses the result for every host whose facts are the same.  The key is every
# fact the plan reads (the kernel log among them: it says where the initrd was); the free-block
# counts of /proc/buddyinfo change from host to host and from second to second, and no plan
# reads them.
_PLAN_CACHE_SIZE = 1024
_PLANS: dict[object, HostResult] = {}
_KEY_FIELDS = tuple(f.name for f in fields(HostFacts) if f.name not in ("buddyinfo", "provenance", "source"))


def _plan_key(ctx: PlanContext, strategy: str) -> tuple[object, ...]:
    facts = ctx.facts
    return (strategy, ctx.profile.name, *(getattr(facts, name) for name in _KEY_FIELDS))


def _one(source: str, strategy: str, arch: str | None = None, kernel_version: str | None = None) -> HostResult:
    """Plan one host; an error becomes a failed result, not an exception."""
    from crashplan.planning.context import gather_for_plan
    from crashplan.planning.footprint import footprint_inputs
    from crashplan.planning.recommend import make_plan

    try:
        ctx = gather_for_plan(source, arch=arch, kernel_version=kernel_version)
        key = _plan_key(ctx, strategy)
        known = _PLANS.get(key)
        if known is not None:
            return replace(known, source=source)
        plan = make_plan(ctx.facts, footprint_inputs(ctx.facts, ctx.profile), ctx.profile, strategy=strategy, compare=False)  # type: ignore[arg-type]
    except CrashplanError as e:
        return HostResult(source, False, e.one_line())
    current = next((o for o in plan.options if o.kind == "current"), None)
    rec = plan.recommendation
    result = HostResult(
        source,
        True,
        None,
        ctx.facts.arch,
        ctx.facts.system_ram,
        ctx.profile.name,
        plan.strategy,
        plan.cmdline,
        plan.footprint.total,
        plan.footprint.recommended_size,
        current.taken if current is not None else None,  # None: the current setting is unknown
        rec.taken,
        rec.borrowed,
        rec.places,
        str(ctx.facts.kernel_version) if ctx.facts.kernel_version is not None else None,
    )
    if len(_PLANS) >= _PLAN_CACHE_SIZE:
        _PLANS.clear()
    _PLANS[key] = result
    return result


def _chunk(args: tuple[list[str], str, str | None, str | None]) -> list[HostResult]:
    sources, strategy, arch, kernel_version = args
    return [_one(s, strategy, arch, kernel_version) for s in sources]


def run_fleet(
    sources: list[str],
    *,
    strategy: str = "auto",
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    arch: str | None = None,
    kernel_version: str | None = None,
) -> Iterator[HostResult]:
    """Plan every host in ``jobs`` processes (default: the CPU count), yielding results in order.

    ``arch`` and ``kernel_version`` replace what every source tells (``--arch``, ``--kernel-version``).
    """
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or len(sources) < 8:
        for s in sources:
            result = _one(s, strategy, arch, kernel_version)
            if progress:
                progress(1)
            yield result
        return
    from concurrent.futures import ProcessPoolExecutor

    size = max(1, min(64, len(sources) // (jobs * 4) or 1))
    chunks = [(sources[i : i + size], strategy, arch, kernel_version) for i in range(0, len(sources), size)]
    with ProcessPoolExecutor(jobs) as pool:
        for results in pool.map(_chunk, chunks):
            if progress:
                progress(len(results))
            yield from results


_BOUNDS = (1 * GiB, 2 * GiB, 4 * GiB, 8 * GiB, 16 * GiB, 32 * GiB, 64 * GiB, 128 * GiB, 256 * GiB, 512 * GiB, 1 * TiB, 4 * TiB)


def _percentile(values: list[int], fraction: float) -> int:
    return values[min(len(values) - 1, int(fraction * (len(values) - 1) + 0.5))]


def summarise(results: list[HostResult]) -> FleetSummary:
    """The distribution of needs, the covering ranged string and the memory returned."""
    ok = [r for r in results if r.ok and r.need is not None]
    known = [r for r in ok if r.taken_now is not None]
    return summary_of(
        len(results),
        sorted(r.need for r in ok if r.need is not None),
        sum(r.taken_now or 0 for r in known),
        sum(r.taken_recommended or 0 for r in ok),
        ok,
        compared=sum(r.taken_recommended or 0 for r in known),
        current_unknown=len(ok) - len(known),
    )


def summary_of(
    hosts: int,
    needs: list[int],
    taken_now: int,
    taken_recommended: int,
    shapes: list[HostResult],
    *,
    compared: int,
    current_unknown: int,
) -> FleetSummary:
    """The summary of ``hosts`` results from what it is made of: the sorted needs of the hosts that
    were planned, the memory they take now and would take, and the hosts (or one host per distinct
    arch, RAM, kernel and recommended size) the covering string must serve.  ``compared`` is what
    the recommendations take on the hosts whose current reservation is known."""
    return FleetSummary(
        hosts=hosts,
        failed=hosts - len(needs),
        need_min=needs[0] if needs else None,
        need_median=_percentile(needs, 0.5) if needs else None,
        need_p90=_percentile(needs, 0.9) if needs else None,
        need_max=needs[-1] if needs else None,
        taken_now=taken_now,
        taken_recommended=taken_recommended,
        returned=max(0, taken_now - compared),
        costs_more=max(0, compared - taken_now),
        ranged=(ranged := _covering_ranged(shapes)),
        ranged_covers=_covers(ranged, shapes) if ranged else None,
        current_unknown=current_unknown,
    )


def _kernels(r: HostResult) -> tuple[Features, ...]:
    """The kernel rules a host's string is checked under: its own, or the oldest and newest when unknown."""
    from crashplan.kernel.features import parse_kernel_version
    from crashplan.kernel.versions import feature_cases

    version = parse_kernel_version(r.kernel_version) if r.kernel_version else None
    return feature_cases(r.arch or "x86_64", version)


def _matched_ram(ram: int, f: Features) -> int:
    """The RAM ``parse_crashkernel_mem()`` compares: rounded up to 128 MiB since about v6.2."""
    step = 128 << 20
    return -(-ram // step) * step if f.round_ram_128m else ram


def _covers(ranged: str, results: list[HostResult]) -> bool:
    """Whether the kernel gives every host at least its recommended size from ``ranged``.

    Checked with ``decide()`` under each host's own kernel rules (both ends of the history when
    its version is unknown, kernel/versions.py).
    """
    from crashplan.kernel.crashkernel import decide

    for r in results:
        if r.system_ram and r.recommended_size:
            for f in _kernels(r):
                d = decide(ranged, r.system_ram, f)
                if not d.ok or d.crash_size < r.recommended_size:
                    return False
    return True


def _covering_ranged(results: list[HostResult]) -> str | None:
    """One ``crashkernel=`` range list that gives every host at least its recommended size.

    Ranges follow the kernel's matching (start included, end excluded, RAM rounded up to 128 MiB
    on the kernels that do it, both readings for a host whose version is unknown).  The list is
    contiguous from the smallest host's range to an open end, so RAM sizes between the hosts are
    covered too, and sizes never shrink as RAM grows: each range takes the largest
    recommendation of the hosts in it or below it.  Written by the grammar's own formatter.
    """
    from bisect import bisect_right

    from crashplan.kernel.grammar import (
        CrashkernelSpec,
        CrashkernelToken,
        RangeEntry,
        format_crashkernel,
    )

    wanted: dict[int, int] = {}
    for r in results:
        if not (r.system_ram and r.recommended_size):
            continue
        for f in _kernels(r):
            i = bisect_right(_BOUNDS, _matched_ram(r.system_ram, f))
            wanted[i] = max(wanted.get(i, 0), r.recommended_size)
    if not wanted:
        return None
    starts = (0, *_BOUNDS)
    first, last = min(wanted), max(wanted)
    entries: list[RangeEntry] = []
    size = 0
    for i in range(first, last + 1):
        size = max(size, wanted.get(i, 0))
        end = starts[i + 1] if i < last else None
        if entries and entries[-1].size == size:
            entries[-1] = RangeEntry(entries[-1].start, end, size)
        else:
            entries.append(RangeEntry(starts[i], end, size))
    return format_crashkernel(CrashkernelSpec((CrashkernelToken("ranges", ranges=tuple(entries)),)))
