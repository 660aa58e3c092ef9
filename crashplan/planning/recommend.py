"""The recommendation: a ``crashkernel=`` parameter that covers the footprint and places, and
what each option takes from production.

Joins the models: the host facts, the footprint (:mod:`crashplan.planning.footprint`), the kernel's
decision (:mod:`crashplan.kernel.crashkernel`) and the placement (:mod:`crashplan.kernel.placement`).  Every
parameter crashplan prints is parsed and placed before it is printed.

Strategies:

* ``standard``: ``crashkernel=X`` with X the footprint plus margin, if it fits wherever the
  kernel image lands; else ``crashkernel=X,high`` (plus the arch's default low area);
* ``cma`` (x86_64 from 6.17, ppc64le from 6.19): ``crashkernel=C,cma crashkernel=B``, B the
  fixed part plus margin and C the runtime part with a generous margin; the ``,cma`` token
  first, so that kernels older than 6.17 still read B as the plain token
  (``get_last_crashkernel()`` in kernel/crash_reserve.c takes the last token of each kind);
* ``ranged``: one ``start-[end]:size,...`` string right for every RAM size a golden image
  boots on;
* ``auto``: ``cma`` where the kernel and arch support it and the dump level already excludes
  user pages (makedumpfile ``-d`` bit 8), else ``standard``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from crashplan.errors import CrashplanError
from crashplan.host.facts import HostFacts
from crashplan.kernel.features import DEFAULT_KERNEL_VERSION, Features, features_for
from crashplan.kernel.lint import diagnose
from crashplan.planning.footprint import Footprint, FootprintInputs, estimate_footprint
from crashplan.planning.options import (
    USER_PAGES,
    Option,
    current_crashkernel,
    current_option,
    current_unknown,
    evaluate_option,
    features_of,
    host_layout,
    placement_of,
    placement_unavailable,
    undecidable,
)
from crashplan.planning.simulate import Simulation
from crashplan.profiles import Profile
from crashplan.units import GiB, TiB, format_human, format_size
from crashplan.values import Finding

if TYPE_CHECKING:
    from collections.abc import Callable

    from crashplan.kernel.memblock import Layout

__all__ = [
    "STRATEGIES",
    "NoPlanError",
    "Plan",
    "make_plan",
    "plan_to_json",
    "ranged_string",
]

Strategy = Literal["auto", "standard", "cma", "ranged"]
STRATEGIES = ("auto", "standard", "cma", "ranged")


@dataclass(frozen=True, slots=True)
class Plan:
    """The recommendation, the comparison, and what was checked."""

    strategy: str
    reason: str
    cmdline: str
    tokens: tuple[str, ...]
    recommendation: Option
    options: tuple[Option, ...]
    footprint: Footprint
    simulation: Simulation | None
    findings: tuple[Finding, ...]


def ranged_string(
    footprint_at: Callable[[int], int], sizes: tuple[int, ...] = (1 * GiB, 64 * GiB, 1 * TiB)
) -> str:
    """One ``start-[end]:size`` list from the sizes the footprint asks for at each boundary.

    ``footprint_at(ram)`` is the recommended size at a RAM size; each range takes the size
    needed at its top (the need grows with RAM), the last range the largest.
    """
    from crashplan.kernel.grammar import (
        CrashkernelSpec,
        CrashkernelToken,
        RangeEntry,
        format_crashkernel,
    )

    entries: list[RangeEntry] = []
    bounds = [*sizes, None]
    for lo, hi in itertools.pairwise(bounds):
        assert lo is not None
        size = footprint_at(hi if hi is not None else 64 * TiB)
        if entries and entries[-1].size == size:
            entries[-1] = RangeEntry(entries[-1].start, hi, size)
        else:
            entries.append(RangeEntry(lo, hi, size))
    return format_crashkernel(CrashkernelSpec((CrashkernelToken("ranges", ranges=tuple(entries)),)))


def _dump_excludes_user_pages(facts: HostFacts, profile: Profile) -> bool:
    level = facts.kdump.dump_level if facts.kdump is not None and facts.kdump.dump_level is not None else profile.dump_level
    return bool(level & USER_PAGES)


def make_plan(
    facts: HostFacts,
    inputs: FootprintInputs,
    profile: Profile,
    *,
    strategy: Strategy = "auto",
    others: tuple[Profile, ...] = (),
    compare: bool = True,
) -> Plan:
    """Recommend a parameter for the host with ``strategy`` and compare it with the alternatives.

    ``compare=False`` (fleets) evaluates only the current setting besides the recommendation.
    """
    estimator = profile.estimator
    sources = profile.source_texts
    footprint = estimate_footprint(inputs, estimator, sources)
    f = features_of(facts)
    findings: list[Finding] = list(footprint.findings)
    # What the host facts found that makes any parameter moot, or shows one failed at boot.
    findings.extend(x for x in facts.findings if x.code in ("kexec-unsupported", "crashkernel-not-reserved"))
    chosen = strategy
    reason = ""
    if strategy == "auto":
        if facts.kernel_version is None:
            chosen, reason = "standard", "the source does not tell the kernel version, so crashkernel=,cma (Linux >= 6.17) is not assumed"
        elif f.has_cma and _dump_excludes_user_pages(facts, profile):
            chosen, reason = "cma", (
                f"Linux {f.version} on {f.arch} supports crashkernel=,cma and the dump level already "
                "excludes user pages, so the runtime part can be borrowed from production"
            )
        elif not f.has_cma:
            chosen, reason = "standard", f"crashkernel=,cma needs Linux 6.17 on x86_64 (6.19 on ppc64le); this is {f.arch} {f.version}"
        else:
            chosen, reason = "standard", "the dump level keeps user pages, which a ,cma reservation would lose"
    elif strategy == "cma" and (facts.kernel_version is None or not f.has_cma):
        from crashplan.errors import UsageError

        needs = "--strategy cma needs Linux >= 6.17 on x86_64 or >= 6.19 on ppc64le"
        if facts.arch is not None and not features_for(facts.arch, DEFAULT_KERNEL_VERSION).has_cma:
            raise UsageError(f"{needs}; the host is {facts.arch}, and no kernel crashplan mirrors has crashkernel=,cma there")
        if facts.kernel_version is None:
            raise UsageError(f"{needs}, and the source does not tell the kernel version (give --kernel-version X.Y)")
        raise UsageError(f"{needs}; the host runs {facts.arch or 'an unknown architecture'} Linux {facts.kernel_version}")
    tokens: tuple[str, ...]
    if chosen == "cma":
        tokens = (f"crashkernel={format_size(footprint.cma_size)},cma", f"crashkernel={format_size(footprint.cma_fixed_size)}")
        reason = reason or "the fixed part as a standard reservation, the runtime part borrowed from CMA"
    elif chosen == "ranged":

        def at(ram: int) -> int:
            return estimate_footprint(replace(inputs, system_ram=ram), estimator, sources).recommended_size

        tokens = (ranged_string(at),)
        reason = "one string for every RAM size: each range gets the size the footprint needs at its top"
    else:
        tokens = (f"crashkernel={format_size(footprint.recommended_size)}",)
        reason = reason or "the smallest crashkernel=X that covers the estimated need with the margin"
    _require_checkable(facts, chosen)
    cmdline = " ".join(tokens)
    layout = host_layout(facts)
    if layout is None:
        # An answer is checked or not printed: without the memory map simulate cannot place it.
        raise NoPlanError(_unplaceable_message(facts, footprint), code="no-plan")
    sim = placement_of(facts, cmdline, layout)
    # Every parameter printed is judged by check's own code on the same facts (check_cmdline);
    # the first candidate without an error-level finding is the answer.
    candidates: list[_Candidate] = [(chosen, tokens, cmdline, sim, "")]
    candidates += _high_candidates(chosen, tokens, sim, facts, footprint, f, layout, first=candidates)
    if strategy == "auto" and chosen == "cma":
        # auto promises an answer: when the ,cma setup does not pass check here, the standard one may.
        plain = (f"crashkernel={format_size(footprint.recommended_size)}",)
        plain_sim = placement_of(facts, plain[0], layout)
        why = "; the ,cma setup does not pass check on this host, so the standard reservation"
        candidates.append(("standard", plain, plain[0], plain_sim, why))
        candidates += _high_candidates("standard", plain, plain_sim, facts, footprint, f, layout, first=candidates, why=why)
    from crashplan.planning import check  # check's own code judges every candidate

    judged = []
    for c_kind, c_tokens, c_line, c_sim, c_reason in candidates:
        errors = [x for x in check.check_cmdline(c_line, facts, footprint, simulation=c_sim, layout=layout) if x.severity == "error"]
        if not errors:
            chosen, tokens, cmdline, sim = c_kind, c_tokens, c_line, c_sim  # type: ignore[assignment]
            reason += c_reason
            break
        judged.append((c_line, errors))
    else:
        raise NoPlanError(_no_plan_message(judged, facts, footprint, sim), code="no-plan")
    if facts.kernel_version is None and chosen == "standard" and f.has_cma:
        findings.append(_cma_base_trade(footprint, f))
    if sim is None:
        findings.append(placement_unavailable(facts))
    else:
        for v in sim.assessment.verdicts:
            if v.verdict != "fits":
                findings.append(Finding("error" if v.verdict == "never" else "warning", f"area-{v.verdict}", f"{v.name} of {format_size(v.size)}: {v.verdict} on this host"))
    warnings = sim.warnings if sim is not None and sim.cmdline == cmdline else diagnose(cmdline, f, facts.system_ram)
    findings.extend(w for w in warnings if w.severity != "info")
    recommendation = evaluate_option(f"crashplan {chosen}", chosen, cmdline, facts, footprint, simulation=sim)
    unknown = current_unknown(facts)
    if unknown is not None:
        findings.append(unknown)
    if compare:
        options = _comparison(facts, footprint, profile, others, chosen, recommendation, layout)
    else:
        options = (recommendation,) if unknown is not None else (current_option(facts, footprint), recommendation)
    return Plan(chosen, reason, cmdline, tokens, recommendation, options, footprint, sim, tuple(findings))


def _cma_base_trade(footprint: Footprint, f: Features) -> Finding:
    """What the ``,cma`` base would save, and what a larger one buys, when ``,cma`` support is unknown.

    A kernel without ``,cma`` ignores that token and reserves the plain one alone
    (``get_last_crashkernel()``, kernel/crash_reserve.c), so the small base dumps only where the
    kernel honours ``,cma``; a base as large as the standard size dumps everywhere and saves nothing.
    """
    since = "6.17" if f.arch == "x86_64" else "6.19"
    base, std = format_size(footprint.cma_fixed_size), format_size(footprint.recommended_size)
    cma = format_size(footprint.cma_size)
    return Finding("info", "cma-support-unknown", (
        f"the kernel version is unknown, so crashkernel=,cma (Linux >= {since}) is not assumed: where it is honoured, "
        f"crashkernel={cma},cma crashkernel={base} takes {base} from production instead of {std}; a kernel without ,cma "
        f"reserves {base} alone, which does not cover the estimated need of {format_human(footprint.total)}; "
        f"a base as large as {std} buys a dump on any kernel and then ,cma saves nothing. "
        "Choose: --strategy cma --kernel-version X.Y for the small base, --strategy standard (this answer) for any kernel"
    ))


class NoPlanError(CrashplanError):
    """No candidate parameter both places and covers the need on the host (exit 3)."""

    code = "no-plan"


def _require_checkable(facts: HostFacts, strategy: str) -> None:
    """Refuse to plan what cannot be checked: the architecture and system RAM decide the answer."""
    why = undecidable(facts)
    if why is not None:
        raise NoPlanError(f"no {strategy} recommendation: {why[1]}", code=why[0])


def _no_plan_message(judged: list[tuple[str, list[Finding]]], facts: HostFacts, footprint: Footprint, sim: Simulation | None) -> str:
    """Why nothing is recommended, and what would help."""
    why = "; ".join(f"{line}: " + ", ".join(f"{x.code} ({x.message})" for x in errors) for line, errors in judged)
    helps = []
    if sim is not None:
        a = sim.assessment
        helps.append(f"the largest area that always fits is {format_human(max(a.max_low, a.max_high))}")
    codes = {x.code for x in footprint.findings}
    if "initrd-size-unknown" in codes:
        helps.append("--initrd PATH (the need assumes the profile's fallback kdump initrd)")
    if "kernel-size-unknown" in codes:
        helps.append("--kernel PATH")
    if str(facts.provenance.get("arch", "")).startswith("inferred"):
        helps.append(f"--arch (the architecture {facts.arch} is {facts.provenance['arch']})")
    if not facts.addresses_visible:
        helps.append("a root capture (this one shows no physical addresses)")
    return f"no crashkernel= both places and covers the estimated need of {format_human(footprint.total)} on this host: {why}" + (
        f"; what would help: {'; '.join(helps)}" if helps else ""
    )


def _unplaceable_message(facts: HostFacts, footprint: Footprint) -> str:
    """Why nothing is recommended on a source without a memory map, and what would help."""
    why = placement_unavailable(facts).message.removeprefix("placement was not checked: ")
    return (
        f"no crashkernel= is recommended: whether it places cannot be checked, because {why}; "
        f"the estimated need is {format_human(footprint.total)} ('crashplan footprint' itemises it); "
        "what would help: run crashplan as root on the host, or a root snapshot (crashplan snapshot)"
    )


_Candidate = tuple[str, tuple[str, ...], str, "Simulation | None", str]


def _high_candidates(
    kind: str,
    tokens: tuple[str, ...],
    sim: Simulation | None,
    facts: HostFacts,
    footprint: Footprint,
    f: Features,
    layout: Layout | None,
    *,
    first: list[_Candidate],
    why: str = "",
) -> list[_Candidate]:
    """The ``,high`` form of a standard or ``,cma`` candidate whose plain area does not always fit.

    A ``,high`` that always fits is inserted into ``first`` just before the plain form (its last
    candidate); one that fits only sometimes is returned, to be tried after it.
    """
    if sim is None or not f.has_high or kind not in ("standard", "cma"):
        return []
    if {v.name: v.verdict for v in sim.assessment.verdicts}.get("crashkernel") == "fits":
        return []
    size = footprint.recommended_size if kind == "standard" else footprint.cma_fixed_size
    high = (*tokens[:-1], f"crashkernel={format_size(size)},high")
    line = " ".join(high)
    high_sim = placement_of(facts, line, layout)
    if high_sim is None:
        return []
    entry = (kind, high, line, high_sim, why + "; the low 4 GiB cannot always hold it, so it goes high with the default low area")
    if all(v.verdict == "fits" for v in high_sim.assessment.verdicts):
        # Before the plain form it replaces: the last candidate in ``first``.
        first.insert(len(first) - 1, entry)
        return []
    return [entry]


def _comparison(
    facts: HostFacts,
    footprint: Footprint,
    profile: Profile,
    others: tuple[Profile, ...],
    chosen: str,
    recommendation: Option,
    layout: Layout | None,
) -> tuple[Option, ...]:
    rows = []
    from crashplan.planning.check import vendor_auto

    current = current_crashkernel(facts)
    auto = vendor_auto(facts, current)
    if current_unknown(facts) is not None:
        pass  # neither the command line nor a reservation is known: nothing to compare
    elif (current is None or auto) and facts.reservation_total and facts.system_ram:
        # The capture shows a reservation but not the command line that made it, or the
        # command line is RHEL's crashkernel=auto, whose size is the kernel's own.
        taken = facts.reservation_total
        label = "current (RHEL crashkernel=auto)" if auto else "current (command line unknown)"
        rows.append(
            Option(label, "current", current, taken, taken, 0, taken / facts.system_ram,
                   "fits", taken >= footprint.total, "nothing", "-")
        )
    else:
        rows.append(evaluate_option("current", "current", current, facts, footprint, layout=layout))
    if profile.default_crashkernel:
        rows.append(evaluate_option(f"{profile.name} default", "distro", f"crashkernel={profile.default_crashkernel}", facts, footprint, layout=layout))
    for other in others:
        if other.default_crashkernel and other.name != profile.name:
            rows.append(evaluate_option(f"{other.name} default", "other-distro", f"crashkernel={other.default_crashkernel}", facts, footprint, layout=layout))
    for kind in ("standard", "cma"):
        if kind == chosen:
            rows.append(recommendation)
        elif kind == "standard":
            rows.append(evaluate_option("crashplan standard", "standard", f"crashkernel={format_size(footprint.recommended_size)}", facts, footprint, layout=layout))
        elif features_of(facts).has_cma:
            cma = f"crashkernel={format_size(footprint.cma_size)},cma crashkernel={format_size(footprint.cma_fixed_size)}"
            rows.append(evaluate_option("crashplan cma", "cma", cma, facts, footprint, layout=layout))
    if chosen == "ranged":
        rows.append(recommendation)
    return tuple(rows)


def plan_to_json(plan: Plan) -> dict[str, object]:
    """The ``recommendation``, ``options``, ``footprint``, ``placement`` and ``findings`` objects."""
    from crashplan.planning.footprint import footprint_to_json
    from crashplan.planning.simulate import simulation_to_json

    placement = None
    if plan.simulation is not None:
        sim = simulation_to_json(plan.simulation)
        placement = {k: sim[k] for k in ("reservations", "kernel_log", "verdicts", "max_size", "addresses", "assumptions")}
    return {
        "recommendation": {
            "cmdline": plan.cmdline,
            "tokens": list(plan.tokens),
            "strategy": plan.strategy,
            "reason": plan.reason,
            **{k: v for k, v in plan.recommendation.to_json().items() if k not in ("label", "kind", "cmdline")},
        },
        "options": [o.to_json() for o in plan.options],
        "footprint": footprint_to_json(plan.footprint),
        "placement": placement,
        "findings": [f.to_json() for f in plan.findings],
    }
