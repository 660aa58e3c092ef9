"""``crashplan simulate``: a ``crashkernel=`` string placed on a captured host.

Joins the three models: the host facts (:mod:`crashplan.host.facts`), the kernel's decision
(:func:`crashplan.kernel.crashkernel.decide`) and the memblock model (:mod:`crashplan.kernel.memblock`,
:mod:`crashplan.kernel.placement`).  When
the host already has a reservation, its "Crash kernel" regions are free again: they will not
exist at the next boot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from crashplan.envelope import envelope
from crashplan.errors import CrashplanError, ExitCode, ParseError
from crashplan.host.facts import HostFacts
from crashplan.host.formats.cmdline import split_cmdline
from crashplan.kernel.crashkernel import Decision, decide
from crashplan.kernel.features import DEFAULT_KERNEL_VERSION, Features, features_for
from crashplan.kernel.grammar import scan_crashkernel
from crashplan.kernel.lint import diagnose
from crashplan.kernel.memblock import Layout, build_layout, memmap_holes
from crashplan.kernel.placement import Assessment, assess
from crashplan.kernel.versions import feature_cases, version_dependence
from crashplan.values import Finding, MemRange

__all__ = ["Simulation", "layout_from_facts", "simulate", "simulation_to_json"]

# Architectures whose kernel image moves at every boot unless "nokaslr" is given.
_KASLR_ARCHES = ("x86_64", "arm64", "riscv64", "loongarch64")


@dataclass(frozen=True, slots=True)
class Simulation:
    """One simulated boot of ``cmdline`` on a host, with its uncertainty."""

    cmdline: str
    facts: HostFacts
    features: Features
    decision: Decision
    layout: Layout
    assessment: Assessment
    warnings: tuple[Finding, ...]
    error: ParseError | None = None


def layout_from_facts(facts: HostFacts) -> Layout:
    """The memblock layout of the host's next boot, from what its capture shows.

    The initrd is where the host's kernel log (``facts.dmesg``) says it was, when the capture has one.

    Raises :class:`CrashplanError` (exit 3) when the capture has no addresses (non-root).
    """
    if "/proc/iomem" in facts.absent:
        raise CrashplanError("placement needs /proc/iomem, and the source has none", code="placement-needs-iomem")
    if not facts.addresses_visible or not facts.ram:
        raise CrashplanError(
            "placement needs a root capture: this source shows no physical addresses "
            "(run as root, or take the snapshot as root)",
            code="placement-needs-root",
        )
    if facts.arch is None:
        raise CrashplanError("placement needs the architecture, and the source does not tell it (give --arch)", code="arch-unknown")
    args = split_cmdline(facts.cmdline or "")
    nodes: dict[int, list[int]] = {}
    for zone in facts.zones:
        if zone.span is not None and zone.span.size:
            span = nodes.setdefault(zone.node, [zone.span.start, zone.span.end])
            span[0], span[1] = min(span[0], zone.span.start), max(span[1], zone.span.end)
    node_ranges = tuple(MemRange(a, b) for _, (a, b) in sorted(nodes.items())) if len(nodes) > 1 else ()
    initrd = facts.dmesg.initrd if facts.dmesg is not None else None
    initrd_size = facts.boot_files.initrd.size if facts.boot_files.initrd is not None else None
    return build_layout(
        facts.arch,
        facts.ram,
        kernel_image=facts.kernel_image,
        kaslr=facts.arch in _KASLR_ARCHES and "nokaslr" not in args,
        initrd=initrd,
        initrd_size=initrd_size,
        firmware_reserved=facts.reserved,
        existing_crash=facts.crash_regions,
        nodes=node_ranges,
        boot_holes=memmap_holes(args),
    )


def simulate(
    facts: HostFacts,
    cmdline: str,
    *,
    features: Features | None = None,
    layout: Layout | None = None,
    decision: Decision | None = None,
) -> Simulation:
    """Place the ``crashkernel=`` tokens of ``cmdline`` on the host ``facts`` describe.

    ``layout`` is ``layout_from_facts(facts)`` and ``decision`` the kernel's
    decision for ``cmdline`` on this host when the caller already has them (a plan places
    several parameters on one host; check judges one it has decided).
    """
    if layout is None:
        layout = layout_from_facts(facts)
    if features is None and facts.kernel_version is None and decision is None:
        # The kernel version is unknown: both ends of the history, and the worse is shown, as
        # check judges a parameter (crashplan.kernel.versions.feature_cases).
        old, new = (simulate(facts, cmdline, features=f, layout=layout) for f in feature_cases(layout.arch, None))
        if _rank(old) >= _rank(new):
            return new
        why = Finding("warning", "version-dependent-placement", f"the kernel version is unknown: shown as a kernel as old as {old.features.version} places it, worse than Linux {new.features.version} (give --kernel-version X.Y)")
        said = [w for w in new.warnings if w.code == "version-dependent"]  # what each kernel reserves
        return replace(old, warnings=(*old.warnings, *said, why))
    f = features or features_for(layout.arch, facts.kernel_version)
    if facts.system_ram is None:
        raise CrashplanError("placement needs the system RAM size, and the source does not tell it", code="ram-unknown")
    if decision is None:
        decision = decide(cmdline, facts.system_ram, f)
    scans = scan_crashkernel(cmdline, f)
    warnings = diagnose(cmdline, f, facts.system_ram, scans=scans, decision=decision)
    if facts.kernel_version is None and f.version == DEFAULT_KERNEL_VERSION:
        found = version_dependence(cmdline, facts.system_ram, f.arch)
        warnings = (*warnings, found) if found is not None else warnings
    error = None
    if not decision.ok:  # explain (and its types) only when there is an error to explain
        from crashplan.kernel.explain import decision_syntax_error, no_token_error

        error = decision_syntax_error(cmdline, decision, scans) or no_token_error(cmdline, scans)
    return Simulation(cmdline, facts, f, decision, layout, assess(decision, layout), warnings, error)


def _rank(sim: Simulation) -> int:
    """How well a simulated boot goes: 0 reserves nothing or hangs, 1 never places, 2 places for some kernel positions, 3 fits."""
    a = sim.assessment
    if not sim.decision.ok or a.placement.hang:
        return 0
    verdicts = [v.verdict for v in a.verdicts]
    return 1 if "never" in verdicts else 2 if "fits-some" in verdicts else 3


def simulation_to_json(sim: Simulation) -> dict[str, object]:
    """The versioned JSON envelope of ``crashplan simulate``."""
    a = sim.assessment
    low, high = sim.layout.limits.low_max, sim.layout.limits.high_max
    return envelope("simulate", {
        "source": sim.facts.source,
        "arch": sim.layout.arch,
        "kernel_version": str(sim.facts.kernel_version) if sim.facts.kernel_version else None,
        "rules_version": str(sim.features.version),
        "system_ram": sim.facts.system_ram,
        "cmdline": sim.cmdline,
        "resolved": sim.decision.to_json(),
        "reservations": [r.to_json() for r in a.placement.reservations],
        "kernel_log": list(a.placement.kernel_log),
        "reserved": a.placement.ok,
        "boot_hangs": a.placement.hang,
        "cma": {"requested": a.placement.cma_requested, "reserved": a.placement.cma_reserved},
        "verdicts": [v.to_json() for v in a.verdicts],
        "max_size": {
            "low": {"guaranteed": a.max_low, "nominal": a.max_low_nominal},
            "high": {"guaranteed": a.max_high, "nominal": a.max_high_nominal},
        },
        "windows": {"low": {"start": 0, "end": low}, "high": {"start": low, "end": high}},
        "addresses": "exact" if a.addresses_exact else "predicted",
        "kaslr": sim.layout.kaslr,
        "occupants": [
            {"name": o.name, "start": o.range.start, "end": o.range.end, "exact": o.exact}
            for o in sim.layout.occupants
        ],
        "assumptions": list(a.assumptions),
        "warnings": [w.to_json() for w in sim.warnings],
    }, exit_code=ExitCode.BAD_INPUT if sim.error else ExitCode.OK, errors=[sim.error.to_json()] if sim.error else [])
