"""One ``crashkernel=`` option evaluated on a host: what it takes, borrows, whether it places and covers.

The same evaluation serves ``recommend`` (each candidate, and the comparison with the current
setting and the distributions' defaults) and ``check`` (the judged parameter): the kernel's
decision (:func:`crashplan.kernel.crashkernel.decide`) placed on the host's layout
(:mod:`crashplan.planning.simulate`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from crashplan.host.facts import HostFacts
from crashplan.kernel.crashkernel import Decision, decide
from crashplan.kernel.features import Features, features_for
from crashplan.planning.footprint import Footprint
from crashplan.planning.simulate import Simulation, layout_from_facts, simulate
from crashplan.values import Finding

if TYPE_CHECKING:

    from crashplan.kernel.memblock import Layout


__all__ = ["CMA_LOSES", "USER_PAGES", "Option", "current_crashkernel", "current_option", "current_unknown", "evaluate_option", "features_of", "host_layout", "placement_of", "placement_unavailable", "undecidable"]


USER_PAGES = 8  # makedumpfile -d bit: exclude user process data pages


CMA_LOSES = "user and movable pages in CMA"


@dataclass(frozen=True, slots=True)
class Option:
    """One row of the comparison of what each choice takes from production.

    ``taken`` is memory production cannot use (the standard and low areas); ``borrowed`` is
    CMA memory production keeps using for movable allocations until a crash.  ``places`` is
    the placement verdict (None when the source has no addresses); ``covers`` whether the
    capture kernel gets at least the estimated need.
    """

    label: str
    kind: str
    cmdline: str | None
    reserved: int
    taken: int
    borrowed: int
    share: float
    places: str | None
    covers: bool | None
    dump_loses: str
    kernel_requirement: str

    def to_json(self) -> dict[str, object]:
        """The option as a JSON object."""
        return {
            "label": self.label,
            "kind": self.kind,
            "cmdline": self.cmdline,
            "reserved": self.reserved,
            "taken_from_production": self.taken,
            "borrowed": self.borrowed,
            "share_of_ram": round(self.share, 4),
            "places": self.places,
            "covers_need": self.covers,
            "dump_loses": self.dump_loses,
            "kernel_requirement": self.kernel_requirement,
        }


def _why(facts: HostFacts, key: str) -> str:
    return str(facts.provenance.get(key, "not in the source")).removeprefix("unknown: ")


def undecidable(facts: HostFacts) -> tuple[str, str] | None:
    """Why no ``crashkernel=`` can be judged on the host, as ``(code, reason)``; None when one can.

    The architecture decides the kernel's rules and its RAM count, system RAM what a
    ``crashkernel=`` reserves: recommend, check and fleet refuse alike when either is
    unknown, rather than judge under an assumed x86_64 or 0 bytes of RAM.
    """
    if facts.arch is None:
        return "arch-unknown", (
            f"the architecture is unknown ({_why(facts, 'arch')}), "
            "and it decides the profile, the kernel's rules, its RAM count and the placement; give --arch"
        )
    if facts.system_ram is None:
        return "ram-unknown", (
            f"system RAM is unknown ({_why(facts, 'system_ram')}), "
            "so the kernel's decision cannot be checked; use a capture with /proc/iomem (as root) or /proc/meminfo"
        )
    return None


def placement_unavailable(facts: HostFacts) -> Finding:
    """The finding of recommend and check alike when the source has no memory map to place in."""
    why = "the source has no /proc/iomem" if "/proc/iomem" in facts.absent else "the source shows no physical addresses (run as root or use a root snapshot)"
    return Finding("warning", "placement-unavailable", f"placement was not checked: {why}")


def features_of(facts: HostFacts) -> Features:
    return features_for(facts.arch or "x86_64", facts.kernel_version)


def placement_of(
    facts: HostFacts,
    cmdline: str,
    layout: Layout | None = None,
    features: Features | None = None,
    decision: Decision | None = None,
) -> Simulation | None:
    """The placement of ``cmdline``, None when the host shows no addresses to place it in."""
    if layout is None:
        layout = host_layout(facts)
        if layout is None:
            return None
    return simulate(facts, cmdline, features=features or features_of(facts), layout=layout, decision=decision)


def host_layout(facts: HostFacts) -> Layout | None:
    """The host's memory as placement sees it, built once for every parameter a plan places."""
    if not facts.addresses_visible or not facts.ram:
        return None
    return layout_from_facts(facts)


def evaluate_option(
    label: str,
    kind: str,
    cmdline: str | None,
    facts: HostFacts,
    footprint: Footprint,
    *,
    simulation: Simulation | None = None,
    layout: Layout | None = None,
    features: Features | None = None,
    decision: Decision | None = None,
) -> Option:
    """What ``cmdline`` reserves on the host, takes from production and covers.

    ``simulation`` is the placement of ``cmdline`` when the caller already has it, ``layout``
    the host's layout (:func:`crashplan.planning.simulate.layout_from_facts`), ``features``
    the kernel's rules (default: the host's kernel).  When the host's kernel version is
    unknown, the option is judged as check judges it (:func:`crashplan.kernel.versions.feature_cases`):
    under the oldest and the newest kernel mirrored, and it covers and places only if it does
    under both; the amounts are the newest kernel's.
    """
    if features is None and decision is None and facts.kernel_version is None and facts.arch is not None:
        from crashplan.kernel.versions import feature_cases

        old, new = feature_cases(facts.arch, None)
        now = evaluate_option(label, kind, cmdline, facts, footprint, simulation=simulation, layout=layout, features=new)
        then = evaluate_option(label, kind, cmdline, facts, footprint, layout=layout, features=old)
        return _worse(now, then)
    ram = facts.system_ram or 0
    f = features or features_of(facts)
    if not cmdline or not ram:
        return Option(label, kind, cmdline, 0, 0, 0, 0.0, None, False if cmdline is None else None, "everything (no dump)", "-")
    d = decision if decision is not None else decide(cmdline, ram, f)
    standard = (d.crash_size + d.low_size) if d.ok else 0
    borrowed = d.cma_size if d.reserves_cma else 0
    reuse = simulation is not None and simulation.cmdline == cmdline and simulation.features == f
    sim = simulation if reuse else placement_of(facts, cmdline, layout, f, d)
    places = None
    if sim is not None:
        verdicts = [v.verdict for v in sim.assessment.verdicts if v.name != "crashkernel-cma"]
        places = "never" if not verdicts or "never" in verdicts else "fits-some" if "fits-some" in verdicts else "fits"
        if sim.assessment.placement.hang:
            places = "never"
        if borrowed and sim.assessment.placement.cma_reserved < borrowed:
            borrowed = sim.assessment.placement.cma_reserved
    if borrowed:
        covers = standard >= footprint.fixed and standard + borrowed >= footprint.total
        loses = CMA_LOSES
        requirement = f"Linux >= {'6.17' if f.arch == 'x86_64' else '6.19'}, kexec -s, 10 s wait at crash"
    else:
        covers = standard >= footprint.total
        loses = "nothing" if d.ok else "everything (no dump)"
        requirement = "any kernel" if d.ok else "-"
    share = standard / ram if ram else 0.0
    return Option(label, kind, cmdline, standard + borrowed, standard, borrowed, share, places, covers, loses, requirement)


_PLACES = {"never": 0, "fits-some": 1, "fits": 2}


def _worse(now: Option, then: Option) -> Option:
    """``now`` with the verdicts of the worse of the two (a verdict unknown in either is unknown)."""
    if now == then:
        return now
    places = None if now.places is None or then.places is None else min(now.places, then.places, key=_PLACES.__getitem__)
    covers = False if False in (now.covers, then.covers) else None if None in (now.covers, then.covers) else True
    return replace(now, places=places, covers=covers)


def current_option(facts: HostFacts, footprint: Footprint) -> Option:
    """The current reservation as the capture shows it (no placement: it is already placed)."""
    taken = facts.reservation_total or sum(r.size for r in facts.crash_regions)
    ram = facts.system_ram or 0
    cma = facts.cma_total if facts.cmdline and ",cma" in facts.cmdline and facts.cma_total else 0
    return Option("current", "current", current_crashkernel(facts), taken + cma, taken, cma, taken / ram if ram else 0.0,
                  "fits" if taken else None, (taken + cma) >= footprint.total, "nothing" if taken else "everything (no dump)", "-")


def current_unknown(facts: HostFacts) -> Finding | None:
    """``current-unknown`` when the source tells neither the command line nor a reservation.

    Then the host's current setting is not compared: it is unknown, not "nothing reserved".
    """
    if facts.cmdline is not None or facts.reservation_total is not None or facts.crash_regions:
        return None
    return Finding("info", "current-unknown", (
        f"the current setting is unknown ({_why(facts, 'cmdline')}; {_why(facts, 'reservation_total')}): "
        "it is not compared"
    ))


def current_crashkernel(facts: HostFacts) -> str | None:
    """The ``crashkernel=`` tokens of the host's command line, or None."""
    if not facts.cmdline:
        return None
    words = [w for w in facts.cmdline.split(" ") if "crashkernel=" in w]
    return " ".join(words) or None
