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
from typing import TYPE_CHECKING, Any, Literal

from crashplan.errors import CrashplanError
from crashplan.host.facts import HostFacts
from crashplan.host.formats.dmesg import Dmesg
from crashplan.host.platform import NETWORK_PROTOCOLS
from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import Features, features_for
from crashplan.kernel.lint import diagnose
from crashplan.kernel.versions import feature_cases
from crashplan.planning.footprint import Footprint, FootprintInputs, estimate_footprint, round_up
from crashplan.planning.simulate import Simulation, layout_from_facts, simulate
from crashplan.profiles import Profile
from crashplan.units import GiB, MiB, TiB, format_size
from crashplan.values import Finding

if TYPE_CHECKING:
    from collections.abc import Callable

    from crashplan.kernel.memblock import Layout

__all__ = [
    "FORMATS",
    "STRATEGIES",
    "NoPlanError",
    "Option",
    "Plan",
    "boot_format",
    "check_cmdline",
    "check_format",
    "check_reservation",
    "evaluate_option",
    "footprint_inputs",
    "make_plan",
    "plan_to_json",
    "platform_inputs",
    "ranged_string",
]

Strategy = Literal["auto", "standard", "cma", "ranged"]
STRATEGIES = ("auto", "standard", "cma", "ranged")

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


def footprint_inputs(facts: HostFacts, profile: Profile) -> FootprintInputs:
    """The footprint's inputs from the host facts (the boot files analysed) and the profile."""
    kernel = facts.boot_files.kernel
    initrd = facts.boot_files.initrd
    kernel_size: int | None = None
    kernel_source = ""
    if kernel is not None and kernel.memory_size is not None:
        kernel_size = kernel.memory_size
        kernel_source = f"{kernel.path}: {kernel.format} header ({'init_size' if kernel.format == 'bzImage' else 'image size'})"
    elif facts.kernel_image is not None:
        kernel_size = facts.kernel_image.size
        kernel_source = "span of the running kernel's Kernel code/rodata/data/bss in /proc/iomem (the kdump kernel's file was not read)"
    initrd_size = initrd.size if initrd is not None else None
    tmpfs = initrd.tmpfs_bytes if initrd is not None else None
    initrd_source = f"{initrd.path}: file size; unpacked tree walked (crashplan.host.formats.initrd)" if initrd is not None else ""
    nr_cpus = (facts.kdump.nr_cpus if facts.kdump is not None else None) or profile.nr_cpus or 1
    platform = platform_inputs(facts)
    if initrd is not None and initrd.image_cache_bytes:
        platform["initrd_image_cache"] = initrd.image_cache_bytes
        platform["initrd_image_source"] = (
            f"{initrd.path}: {initrd.image} (superblock and inode table read; crashplan.host.formats.fsimage): "
            "its bytes_used in the loop device's page cache + every file in pages + an inode and dentry each"
        )
    return FootprintInputs(
        arch=facts.arch or "x86_64",
        system_ram=facts.system_ram or 0,
        kernel_size=kernel_size,
        kernel_source=kernel_source,
        initrd_size=initrd_size,
        initrd_tmpfs=tmpfs,
        initrd_source=initrd_source,
        nr_cpus=nr_cpus,
        page_size=facts.page_size or 4096,
        **platform,
    )


def platform_inputs(facts: HostFacts) -> dict[str, Any]:
    """The footprint inputs of the platform facts (crashplan.host.platform), each with its source."""
    prov = facts.provenance
    out: dict[str, Any] = {}
    protocol = facts.dump_protocol
    out["network_dump"] = protocol in NETWORK_PROTOCOLS
    out["dump_protocol"] = protocol
    out["dump_protocol_source"] = f"dump protocol {protocol}: {prov.get('dump_protocol', 'kdump configuration')}"
    mem = facts.mem_encryption
    out["sme_sev"] = mem is not None and mem.bounces_dma
    out["sme_sev_source"] = prov.get("mem_encryption", "")
    pci = facts.pci_drivers
    if pci is not None and "mlx5_core" in pci:
        # kdump-lib.sh has_mlx5(): the driver directory exists (registered), bound or not.
        bound = pci.bound("mlx5_core")
        out["mlx5_devices"] = max(1, len(bound))
        out["mlx5_source"] = f"/sys/bus/pci/drivers/mlx5_core ({', '.join(bound) or 'no device bound'})"
    if facts.iommus is not None and facts.iommus.smmu:
        out["smmu"] = True
        out["smmu_source"] = prov.get("iommus", "")
    luks = facts.luks_devices
    if luks and (protocol is None or protocol not in NETWORK_PROTOCOLS):
        # In the dump path as host/platform.py traced it (kdump-lib.sh get_all_kdump_crypt_dev());
        # when the source cannot tell (in_dump_path None), every LUKS2 device is assumed to be.
        v2 = [d for d in luks if d.dump.version == 2 and d.in_dump_path is not False]
        assumed = any(d.in_dump_path is None for d in v2)
        out["luks_keyslots"] = tuple(tuple(m or 0 for m in d.dump.memory) for d in v2)
        out["luks_source"] = (
            f"LUKS2 {', '.join(d.device for d in v2)} ({prov.get('luks_devices', '')})"
            + ("; assumed in the dump path" if assumed else "")
        )
    return out


def _features(facts: HostFacts) -> Features:
    return features_for(facts.arch or "x86_64", facts.kernel_version)


def _placement(
    facts: HostFacts, cmdline: str, dmesg: Dmesg | None, layout: Layout | None = None, features: Features | None = None
) -> Simulation | None:
    """The placement of ``cmdline``, None when the host shows no addresses to place it in."""
    if layout is None:
        layout = _host_layout(facts, dmesg)
        if layout is None:
            return None
    return simulate(facts, cmdline, features=features or _features(facts), dmesg=dmesg, layout=layout)


def _host_layout(facts: HostFacts, dmesg: Dmesg | None) -> Layout | None:
    """The host's memory as placement sees it, built once for every parameter a plan places."""
    if not facts.addresses_visible or not facts.ram:
        return None
    return layout_from_facts(facts, dmesg=dmesg)


def evaluate_option(
    label: str,
    kind: str,
    cmdline: str | None,
    facts: HostFacts,
    footprint: Footprint,
    dmesg: Dmesg | None = None,
    *,
    simulation: Simulation | None = None,
    layout: Layout | None = None,
    features: Features | None = None,
) -> Option:
    """What ``cmdline`` reserves on the host, takes from production and covers.

    ``simulation`` is the placement of ``cmdline`` when the caller already has it, ``layout``
    the host's layout (:func:`crashplan.planning.simulate.layout_from_facts`), ``features``
    the kernel's rules (default: the host's kernel, the newest mirrored when unknown).
    """
    ram = facts.system_ram or 0
    f = features or _features(facts)
    if not cmdline or not ram:
        return Option(label, kind, cmdline, 0, 0, 0, 0.0, None, False if cmdline is None else None, "everything (no dump)", "-")
    d = decide(cmdline, ram, f)
    standard = (d.crash_size + d.low_size) if d.ok else 0
    borrowed = d.cma_size if d.reserves_cma else 0
    reuse = simulation is not None and simulation.cmdline == cmdline and simulation.features == f
    sim = simulation if reuse else _placement(facts, cmdline, dmesg, layout, f)
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


def ranged_string(
    footprint_at: Callable[[int], int], sizes: tuple[int, ...] = (1 * GiB, 64 * GiB, 1 * TiB)
) -> str:
    """One ``start-[end]:size`` list from the sizes the footprint asks for at each boundary.

    ``footprint_at(ram)`` is the recommended size at a RAM size; each range takes the size
    needed at its top (the need grows with RAM), the last range the largest.
    """
    parts = []
    bounds = [*sizes, None]
    for lo, hi in itertools.pairwise(bounds):
        assert lo is not None
        top = hi if hi is not None else 64 * TiB
        size = footprint_at(top)
        parts.append(f"{format_size(lo)}-{format_size(hi) if hi else ''}:{format_size(size)}")
    merged: list[str] = []
    for part in parts:
        if merged and merged[-1].rsplit(":", 1)[1] == part.rsplit(":", 1)[1]:
            start = merged[-1].split("-", 1)[0]
            merged[-1] = f"{start}-{part.split('-', 1)[1]}"
        else:
            merged.append(part)
    return "crashkernel=" + ",".join(merged)


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
    dmesg: Dmesg | None = None,
    compare: bool = True,
) -> Plan:
    """Recommend a parameter for the host with ``strategy`` and compare it with the alternatives.

    ``compare=False`` (fleets) evaluates only the current setting besides the recommendation.
    """
    estimator = profile.estimator
    sources = profile.source_texts
    footprint = estimate_footprint(inputs, estimator, sources)
    f = _features(facts)
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
    layout = _host_layout(facts, dmesg)
    sim = _placement(facts, cmdline, dmesg, layout)
    # Every parameter printed is judged by check's own code on the same facts (check_cmdline);
    # the first candidate without an error-level finding is the answer.
    candidates: list[_Candidate] = [(chosen, tokens, cmdline, sim, "")]
    candidates += _high_candidates(chosen, tokens, sim, facts, footprint, f, dmesg, layout, first=candidates)
    if strategy == "auto" and chosen == "cma":
        # auto promises an answer: when the ,cma setup does not pass check here, the standard one may.
        plain = (f"crashkernel={format_size(footprint.recommended_size)}",)
        plain_sim = _placement(facts, plain[0], dmesg, layout)
        why = "; the ,cma setup does not pass check on this host, so the standard reservation"
        candidates.append(("standard", plain, plain[0], plain_sim, why))
        candidates += _high_candidates("standard", plain, plain_sim, facts, footprint, f, dmesg, layout, first=candidates, why=why)
    judged = []
    for c_kind, c_tokens, c_line, c_sim, c_reason in candidates:
        errors = [x for x in check_cmdline(c_line, facts, footprint, dmesg=dmesg, simulation=c_sim, layout=layout) if x.severity == "error"]
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
        findings.append(Finding("warning", "placement-unavailable", "placement was not checked: the source shows no physical addresses (run as root or use a root snapshot)"))
    else:
        for v in sim.assessment.verdicts:
            if v.verdict != "fits":
                findings.append(Finding("error" if v.verdict == "never" else "warning", f"area-{v.verdict}", f"{v.name} of {format_size(v.size)}: {v.verdict} on this host"))
    warnings = sim.warnings if sim is not None and sim.cmdline == cmdline else diagnose(cmdline, f, facts.system_ram)
    findings.extend(w for w in warnings if w.severity != "info")
    recommendation = evaluate_option(f"crashplan {chosen}", chosen, cmdline, facts, footprint, dmesg, simulation=sim)
    if compare:
        options = _comparison(facts, footprint, profile, others, chosen, recommendation, dmesg, layout)
    else:
        options = (_current_option(facts, footprint), recommendation)
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
        f"reserves {base} alone, which does not cover the estimated need of {format_size(round_up(footprint.total, MiB))}; "
        f"a base as large as {std} buys a dump on any kernel and then ,cma saves nothing. "
        "Choose: --strategy cma --kernel-version X.Y for the small base, --strategy standard (this answer) for any kernel"
    ))


class NoPlanError(CrashplanError):
    """No candidate parameter both places and covers the need on the host (exit 3)."""

    code = "no-plan"


def _why(facts: HostFacts, key: str) -> str:
    return str(facts.provenance.get(key, "not in the source")).removeprefix("unknown: ")


def _require_checkable(facts: HostFacts, strategy: str) -> None:
    """Refuse to plan what cannot be checked: the architecture and system RAM decide the answer."""
    if facts.arch is None:
        raise NoPlanError(
            f"no {strategy} recommendation: the architecture is unknown ({_why(facts, 'arch')}), "
            "and it decides the placement rules and the kernel's RAM count; give --arch",
            code="arch-unknown",
        )
    if facts.system_ram is None:
        raise NoPlanError(
            f"no {strategy} recommendation: system RAM is unknown ({_why(facts, 'system_ram')}), "
            "so the kernel's decision cannot be checked; use a capture with /proc/iomem (as root) or /proc/meminfo",
            code="ram-unknown",
        )


def _no_plan_message(judged: list[tuple[str, list[Finding]]], facts: HostFacts, footprint: Footprint, sim: Simulation | None) -> str:
    """Why nothing is recommended, and what would help."""
    need = round_up(footprint.total, MiB) >> 20
    why = "; ".join(f"{line}: " + ", ".join(f"{x.code} ({x.message})" for x in errors) for line, errors in judged)
    helps = []
    if sim is not None:
        a = sim.assessment
        helps.append(f"the largest area that always fits is {format_size(max(a.max_low, a.max_high))}")
    codes = {x.code for x in footprint.findings}
    if "initrd-size-unknown" in codes:
        helps.append("--initrd PATH (the need assumes the profile's fallback kdump initrd)")
    if "kernel-size-unknown" in codes:
        helps.append("--kernel PATH")
    if str(facts.provenance.get("arch", "")).startswith("inferred"):
        helps.append(f"--arch (the architecture {facts.arch} is {facts.provenance['arch']})")
    if not facts.addresses_visible:
        helps.append("a root capture (this one shows no physical addresses)")
    return f"no crashkernel= both places and covers the estimated need of {need}M on this host: {why}" + (
        f"; what would help: {'; '.join(helps)}" if helps else ""
    )


_Candidate = tuple[str, tuple[str, ...], str, "Simulation | None", str]


def _high_candidates(
    kind: str,
    tokens: tuple[str, ...],
    sim: Simulation | None,
    facts: HostFacts,
    footprint: Footprint,
    f: Features,
    dmesg: Dmesg | None,
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
    high_sim = _placement(facts, line, dmesg, layout)
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
    dmesg: Dmesg | None,
    layout: Layout | None,
) -> tuple[Option, ...]:
    rows = []
    current = _current_crashkernel(facts)
    if current is None and facts.crash_regions and facts.system_ram:
        # The capture shows a reservation but not the command line that made it.
        taken = sum(r.size for r in facts.crash_regions)
        rows.append(
            Option("current (command line unknown)", "current", None, taken, taken, 0, taken / facts.system_ram,
                   "fits", taken >= footprint.total, "nothing", "-")
        )
    else:
        rows.append(evaluate_option("current", "current", current, facts, footprint, dmesg, layout=layout))
    if profile.default_crashkernel:
        rows.append(evaluate_option(f"{profile.name} default", "distro", f"crashkernel={profile.default_crashkernel}", facts, footprint, dmesg, layout=layout))
    for other in others:
        if other.default_crashkernel and other.name != profile.name:
            rows.append(evaluate_option(f"{other.name} default", "other-distro", f"crashkernel={other.default_crashkernel}", facts, footprint, dmesg, layout=layout))
    for kind in ("standard", "cma"):
        if kind == chosen:
            rows.append(recommendation)
        elif kind == "standard":
            rows.append(evaluate_option("crashplan standard", "standard", f"crashkernel={format_size(footprint.recommended_size)}", facts, footprint, dmesg, layout=layout))
        elif _features(facts).has_cma:
            cma = f"crashkernel={format_size(footprint.cma_size)},cma crashkernel={format_size(footprint.cma_fixed_size)}"
            rows.append(evaluate_option("crashplan cma", "cma", cma, facts, footprint, dmesg, layout=layout))
    if chosen == "ranged":
        rows.append(recommendation)
    return tuple(rows)


def _current_option(facts: HostFacts, footprint: Footprint) -> Option:
    """The current reservation as the capture shows it (no placement: it is already placed)."""
    taken = facts.reservation_total or sum(r.size for r in facts.crash_regions)
    ram = facts.system_ram or 0
    cma = facts.cma_total if facts.cmdline and ",cma" in facts.cmdline and facts.cma_total else 0
    return Option("current", "current", _current_crashkernel(facts), taken + cma, taken, cma, taken / ram if ram else 0.0,
                  "fits" if taken else None, (taken + cma) >= footprint.total, "nothing" if taken else "everything (no dump)", "-")


def _current_crashkernel(facts: HostFacts) -> str | None:
    """The ``crashkernel=`` tokens of the host's command line, or None."""
    if not facts.cmdline:
        return None
    words = [w for w in facts.cmdline.split(" ") if "crashkernel=" in w]
    return " ".join(words) or None


def check_cmdline(
    cmdline: str,
    facts: HostFacts,
    footprint: Footprint,
    *,
    dmesg: Dmesg | None = None,
    simulation: Simulation | None = None,
    layout: Layout | None = None,
) -> tuple[Finding, ...]:
    """Judge a parameter: it parses, places, covers the footprint, is not wasteful, is safe.

    Stable codes: ``not-reserved`` and ``does-not-place`` and ``does-not-cover`` (errors),
    ``may-not-place``, ``wasteful`` and the grammar's warning codes (warnings).
    ``simulation`` and ``layout`` save the placement work when the caller already has them
    (``recommend`` judges its own answer with this function).
    """
    cases = feature_cases(facts.arch or "x86_64", facts.kernel_version)
    results = [_check_with(cmdline, facts, footprint, f, dmesg, simulation, layout) for f in cases]
    if len(results) == 1 or results[0] == results[1]:
        return results[-1]
    # The kernel version is unknown and the two ends of the history disagree: report both,
    # each finding that holds only for one of them says for which.
    old, new = results
    merged = [x for x in new if x in old]
    merged += [replace(x, message=f"{x.message} (if the kernel is as old as {cases[0].version}; its version is unknown)") for x in old if x not in new]
    merged += [replace(x, message=f"{x.message} (if the kernel is as new as {cases[1].version}; its version is unknown)") for x in new if x not in old]
    order = {"error": 0, "warning": 1, "info": 2}
    return tuple(sorted(merged, key=lambda x: order.get(x.severity, 3)))


def _check_with(
    cmdline: str,
    facts: HostFacts,
    footprint: Footprint,
    f: Features,
    dmesg: Dmesg | None,
    simulation: Simulation | None,
    layout: Layout | None,
) -> tuple[Finding, ...]:
    ram = facts.system_ram or 0
    findings: list[Finding] = []
    option = evaluate_option("checked", "check", cmdline, facts, footprint, dmesg, simulation=simulation, layout=layout, features=f)
    d = decide(cmdline, ram, f)
    if not d.ok and not (d.reserves_cma and f.cma_despite_error):
        findings.append(Finding("error", "not-reserved", f"the kernel reserves nothing: {d.error}"))
    if option.places == "never":
        findings.append(Finding("error", "does-not-place", "the reservation cannot be placed on this host"))
    elif option.places == "fits-some":
        findings.append(Finding("warning", "may-not-place", "the reservation places only for some kernel image positions (KASLR)"))
    elif option.places is None and facts.addresses_visible is False:
        findings.append(Finding("info", "placement-unavailable", "placement was not checked: the source shows no physical addresses"))
    if d.ok and option.covers is False:
        findings.append(Finding("error", "does-not-cover", f"{format_size(option.taken + option.borrowed)} does not cover the estimated need of {round_up(footprint.total, MiB) >> 20}M"))
    if d.ok and option.taken > 2 * footprint.total:
        findings.append(Finding("warning", "wasteful", f"{format_size(option.taken)} is more than twice the estimated need ({round_up(footprint.total, MiB) >> 20}M)"))
    findings.extend(w for w in diagnose(cmdline, f, ram) if w.severity != "info")
    return tuple(findings)


def check_reservation(facts: HostFacts, footprint: Footprint) -> tuple[Finding, ...]:
    """Judge the reservation the capture shows when the command line that made it is unknown.

    The "Crash kernel" regions of /proc/iomem (or ``kexec_crash_size``) are what the kernel
    reserved at boot: that area is judged (covers the need, not wasteful), placement is moot.
    Codes: ``cmdline-unknown`` (info), ``no-reservation`` and ``does-not-cover`` (errors),
    ``wasteful`` and ``reservation-unknown`` (warnings).
    """
    why = str(facts.provenance.get("cmdline", "")).removeprefix("unknown: ") or "not in the source"
    findings = [Finding("info", "cmdline-unknown", f"the kernel command line is unknown ({why}): the reservation the capture shows is judged")]
    reserved = facts.reservation_total
    where = str(facts.provenance.get("reservation_total", ""))
    if reserved is None:
        findings.append(Finding("warning", "reservation-unknown", f"the reservation is unknown too ({where.removeprefix('unknown: ')}): nothing to judge"))
        return tuple(findings)
    need = round_up(footprint.total, MiB) >> 20
    cma = sum(r.size for r in facts.cma_ranges) if facts.cma_ranges else 0
    if reserved == 0:
        findings.append(Finding("error", "no-reservation", f"no crash kernel memory is reserved ({where}): no dump is written"))
    elif reserved + cma < footprint.total:
        findings.append(Finding("error", "does-not-cover", f"the {format_size(reserved + cma)} reserved ({where}) does not cover the estimated need of {need}M"))
    elif reserved > 2 * footprint.total:
        findings.append(Finding("warning", "wasteful", f"the {format_size(reserved)} reserved ({where}) is more than twice the estimated need ({need}M)"))
    return tuple(findings)


FORMATS = ("text", "json", "yaml", "cmdline", "grub", "grubby", "bls", "kernel-install", "zipl", "ostree")


def boot_format(facts: HostFacts, family: str = "") -> str:
    """The boot-config format that applies the parameter on this host.

    rpm-ostree hosts (Fedora CoreOS, RHCOS: ``ostree=`` on the command line) keep their kernel
    arguments in the deployment, s390 boots through zipl, the Fedora/RHEL family edits BLS
    entries with grubby, and Debian/Ubuntu regenerate grub.cfg from /etc/default/grub.d.
    """
    from crashplan.host.formats.cmdline import split_cmdline

    if any(a.startswith("ostree=") for a in split_cmdline(facts.cmdline or "")):
        return "ostree"
    if facts.arch == "s390x":
        return "zipl"
    if family in ("debian", "ubuntu"):
        return "grub"
    return "grubby" if family else "cmdline"


def check_format(facts: HostFacts, fmt: str) -> None:
    """Refuse a boot-config format that does not apply to the host.

    :raises UsageError: ``zipl`` off s390, a grub drop-in, grubby, BLS or kernel-install edit
        on an rpm-ostree host (its kernel arguments live in the deployment).
    """
    from crashplan.errors import UsageError

    if fmt == "zipl" and facts.arch != "s390x":
        raise UsageError(f"--format zipl is for s390x (zipl.conf), and this host is {facts.arch or 'of an unknown architecture'}")
    if fmt in ("grub", "grubby", "bls", "kernel-install") and boot_format(facts) == "ostree":
        raise UsageError(f"this host boots an rpm-ostree deployment (ostree= on its command line): use --format ostree, not {fmt}")


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
