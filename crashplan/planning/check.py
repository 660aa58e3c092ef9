"""``crashplan check`` as the verifier of a host after the reboot: what the kernel did with the
``crashkernel=`` it was given, whether a crash kernel is loaded into it, and whether the
distribution's tools will undo it.

The host state is judged from the facts the kernel leaves (``/proc/iomem``'s "Crash kernel",
``/sys/kernel/kexec_crash_size``, ``/sys/kernel/kexec_crash_loaded``,
``/sys/kernel/kexec_crash_cma_ranges``, the kernel log) and the distro's kdump configuration
(shared/reference/distro-tools.md 1.3, 2.4).  Stable codes:

* ``not-reserved`` (error): the command line asks for a reservation and the kernel reserved
  nothing, or less (``reserve_crashkernel_generic()`` logs ``cannot allocate crashkernel``
  or ``crashkernel reservation failed - memory is in use.``; kernel/crash_reserve.c);
* ``not-loaded`` (error): memory is reserved and ``kexec_crash_loaded`` is 0: a crash now
  writes no dump;
* ``reserved-but-unused`` (warning): memory is reserved and the kdump service is disabled or
  not configured: production pays for nothing;
* ``distro-will-overwrite`` (warning): kdump-utils' ``auto_reset_crashkernel`` is not ``no``
  (``kdumpctl _reset-crashkernel-after-update`` and the ``92-crashkernel.install`` hook reset
  any value since kdump-utils 5b31b09), or SUSE's ``KDUMP_CRASHKERNEL`` differs from the
  value (``kdump-commandline.service`` rewrites it); the finding gives the line to set;
* ``cma-partial`` (warning): ``crashkernel=,cma`` got fewer bytes than asked
  (``reserve_crashkernel_cma()`` logs ``crashkernel CMA reservation failed``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from crashplan.envelope import RESULT_VERSION
from crashplan.errors import CrashplanError, ExitCode
from crashplan.host.formats.dmesg import crash_log_lines
from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import vendor_auto_kernel
from crashplan.kernel.lint import diagnose
from crashplan.kernel.versions import feature_cases
from crashplan.planning.options import evaluate_option, placement_unavailable, undecidable
from crashplan.units import MiB, format_human, format_size
from crashplan.values import Finding

if TYPE_CHECKING:
    from crashplan.host.facts import HostFacts
    from crashplan.host.services import KdumpService
    from crashplan.kernel.features import Features
    from crashplan.kernel.memblock import Layout
    from crashplan.planning.context import PlanContext
    from crashplan.planning.footprint import Footprint
    from crashplan.planning.simulate import Simulation

__all__ = ["CheckReport", "HostState", "check_cmdline", "check_host", "check_reservation", "compare_plan", "host_state_to_json", "judge_reservation", "overwrite_fix", "read_plan", "report_to_json", "validate_plan", "vendor_auto", "verify_host"]

# kexec_crash_size is page-granular and the low area is aligned: a MiB is not a shortfall.
_TOLERANCE = 1 * MiB


@dataclass(frozen=True, slots=True)
class HostState:
    """The reservation as the kernel left it at boot, and the findings about it.

    ``asked`` is what the command line's ``crashkernel=`` gives on this RAM (main plus low
    area; None when there is no ``crashkernel=`` or it cannot be judged), ``reserved`` what
    the kernel reserved (None: the source does not tell), ``loaded`` whether a crash kernel
    is loaded, ``cma_asked``/``cma_reserved`` the same for ``,cma`` (None: not asked, or not
    visible), ``kernel_log`` the kernel's own crashkernel lines when the source has its log.
    """

    cmdline: str | None
    crashkernel: str | None
    asked: int | None
    reserved: int | None
    kexec_crash_size: int | None
    loaded: bool | None
    cma_asked: int | None
    cma_reserved: int | None
    kdump_enabled: bool | None
    kernel_log: tuple[str, ...]
    findings: tuple[Finding, ...]


def _crashkernel_tokens(cmdline: str | None) -> str | None:
    if not cmdline:
        return None
    from crashplan.host.formats.cmdline import split_cmdline

    words = [w for w in split_cmdline(cmdline) if w.startswith("crashkernel=")]
    return " ".join(words) or None


def vendor_auto(facts: HostFacts, cmdline: str | None) -> str | None:
    """Why ``crashkernel=auto`` on this host is the vendor kernel's own size, or None.

    On a RHEL 6 to 8 kernel (:func:`~crashplan.kernel.features.vendor_auto_kernel`) the
    reservation the capture shows is what is judged.
    """
    if not vendor_auto_kernel(facts.kernel_release, (_crashkernel_tokens(cmdline) or "").split()):
        return None
    return f"crashkernel=auto is the RHEL kernel patch's own size on {facts.kernel_release} (not the mainline rules, which reject it)"


def _quote(lines: tuple[str, ...], *needles: str) -> str:
    hits = [line for line in lines if any(n in line for n in needles)]
    return "; the kernel log says: " + " / ".join(f'"{h}"' for h in hits[:3]) if hits else ""


def verify_host(
    facts: HostFacts,
    *,
    service: KdumpService | None = None,
    proposed: str | None = None,
) -> HostState:
    """Judge the host's reservation as the kernel made it (not what a proposal would do).

    ``proposed`` (the ``crashkernel=`` tokens of ``check --cmdline``) only changes the line
    that ``distro-will-overwrite`` tells to set.
    """
    findings: list[Finding] = []
    tokens = _crashkernel_tokens(facts.cmdline)
    decision = facts.cmdline_crashkernel
    log = crash_log_lines(facts.dmesg) if facts.dmesg is not None else ()
    asked = cma_asked = None
    if tokens is not None and decision is not None:
        asked = decision.crash_size + decision.low_size if decision.ok else 0
        cma_asked = decision.cma_size if decision.reserves_cma else None
    reserved = facts.reservation_total
    if tokens is not None and decision is not None and reserved is not None:
        if not decision.ok and reserved == 0:
            findings.append(Finding("error", "not-reserved", f"the command line asks for {tokens} but the kernel reserves nothing on {format_human(facts.system_ram or 0)} of RAM: {decision.error}{_quote(log, 'crashkernel')}"))
        elif asked and reserved == 0:
            findings.append(Finding("error", "not-reserved", f"the command line asks for {format_human(asked)} ({tokens}) but the kernel reserved nothing: placing it failed at boot{_quote(log, 'cannot allocate', 'reservation failed', 'can not overlap')}"))
        elif asked and reserved + _TOLERANCE < asked:
            findings.append(Finding("error", "not-reserved", f"the command line asks for {format_human(asked)} ({tokens}) but only {format_human(reserved)} is reserved: a part failed at boot, or the reservation was shrunk through /sys/kernel/kexec_crash_size{_quote(log, 'cannot allocate', 'low memory')}"))
    cma_reserved = None
    if cma_asked:
        if facts.cma_ranges is not None:
            cma_reserved = sum(r.size for r in facts.cma_ranges)
        elif facts.cma_total is not None and facts.cma_total < cma_asked:
            cma_reserved = facts.cma_total  # CmaTotal counts every CMA area: only a shortfall is evidence
        if cma_reserved is not None and cma_reserved + _TOLERANCE < cma_asked:
            findings.append(Finding("warning", "cma-partial", f"crashkernel=,cma asks for {format_human(cma_asked)} but {format_human(cma_reserved)} is reserved from CMA: the crash kernel gets less than planned{_quote(log, 'CMA')}"))
    kdump = facts.kdump
    enabled = service.enabled if service is not None else None
    if kdump is not None and kdump.enabled is False:
        enabled = False
    if reserved:
        if facts.kexec_crash_loaded is False:
            findings.append(Finding("error", "not-loaded", f"{format_human(reserved)} is reserved but no crash kernel is loaded (/sys/kernel/kexec_crash_loaded is 0): a crash now writes no dump; start the kdump service and read its log"))
        why = None
        if enabled is False:
            why = "the kdump service is disabled" + (" (USE_KDUMP=0 in /etc/default/kdump-tools)" if kdump is not None and kdump.enabled is False else f" ({service.evidence})" if service is not None else "")
        elif kdump is None and facts.distro is not None and "/etc/os-release" not in facts.absent:
            # Only a capture that has /etc shows that kdump is not configured.
            why = "kdump is not configured (none of /etc/kdump.conf, /etc/sysconfig/kdump, /etc/default/kdump-tools)"
        if why is not None:
            findings.append(Finding("warning", "reserved-but-unused", f"{format_human(reserved)} is reserved for the crash kernel but {why}: production loses it for nothing; enable kdump, or remove crashkernel="))
    fix = overwrite_fix(facts, proposed or tokens, service)
    if fix is not None:
        findings.append(fix)
    return HostState(facts.cmdline, tokens, asked, reserved, facts.kexec_crash_size, facts.kexec_crash_loaded, cma_asked, cma_reserved, enabled, log, tuple(findings))


def overwrite_fix(facts: HostFacts, tokens: str | None, service: KdumpService | None = None) -> Finding | None:
    """``distro-will-overwrite`` when the distro's kdump tool will replace ``tokens``, with the line to set."""
    kdump = facts.kdump
    if kdump is None:
        return None
    if "/etc/kdump.conf" in facts.kdump_files:
        value = kdump.raw.get("auto_reset_crashkernel")
        if value != "no":
            hook = " and the kernel-install hook 92-crashkernel.install" if service is not None and service.reset_hook else ""
            said = f"auto_reset_crashkernel is {value!r}" if value is not None else "auto_reset_crashkernel is not set (kdump-utils' default is yes)"
            return Finding("warning", "distro-will-overwrite", f"{said} in /etc/kdump.conf: kdumpctl's reset after a kdump-utils update{hook} will replace crashkernel= with the distribution default; set this line in /etc/kdump.conf: auto_reset_crashkernel no")
    if kdump.family == "suse":
        value = kdump.raw.get("KDUMP_CRASHKERNEL") or "auto"
        if tokens is not None and value.split() != tokens.split():
            return Finding("warning", "distro-will-overwrite", f"KDUMP_CRASHKERNEL is {value!r} in /etc/sysconfig/kdump: kdump-commandline.service (kdumptool commandline -c -U) will rewrite crashkernel= at the next boot; set this line in /etc/sysconfig/kdump: KDUMP_CRASHKERNEL=\"{tokens}\"")
    return None


def host_state_to_json(state: HostState) -> dict[str, object]:
    """The ``"host"`` object of ``check --format json``."""
    return {
        "cmdline": state.cmdline,
        "crashkernel": state.crashkernel,
        "asked": state.asked,
        "reserved": state.reserved,
        "kexec_crash_size": state.kexec_crash_size,
        "loaded": state.loaded,
        "cma_asked": state.cma_asked,
        "cma_reserved": state.cma_reserved,
        "kdump_enabled": state.kdump_enabled,
        "kernel_log": list(state.kernel_log),
        "findings": [f.to_json() for f in state.findings],
    }


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything ``crashplan check`` says: the judged parameter, the host state, the plan comparison.

    ``checked`` is the parameter judged (the proposal of ``--cmdline``, else the host's own
    command line); ``findings`` are about it, ``host.findings`` about what the kernel did at
    boot, ``plan_findings`` about the differences from a saved plan (None: no plan given).
    """

    checked: str | None
    proposed: bool
    footprint: Footprint
    findings: tuple[Finding, ...]
    host: HostState
    plan_file: str | None = None
    plan_cmdline: str | None = None
    plan_source: str | None = None
    plan_findings: tuple[Finding, ...] | None = None

    def failing(self, *, strict: bool = False) -> tuple[Finding, ...]:
        """The findings that make ``check`` exit 4: errors, and with ``strict`` warnings too."""
        every = (*self.findings, *self.host.findings, *(self.plan_findings or ()))
        return tuple(f for f in every if f.severity == "error" or (strict and f.severity == "warning"))


def check_host(ctx: PlanContext, *, proposed: str | None = None) -> CheckReport:
    """Judge ``proposed`` (or the host's own ``crashkernel=``) against the host, and the host's state."""
    from crashplan.planning.footprint import estimate_footprint, footprint_inputs

    facts = ctx.facts
    fp = estimate_footprint(footprint_inputs(facts, ctx.profile), ctx.profile.estimator, ctx.profile.source_texts)
    cmdline = proposed if proposed is not None else facts.cmdline
    if cmdline is None:
        # The command line is unknown, not empty: judge the reservation the capture shows.
        findings: tuple[Finding, ...] = check_reservation(facts, fp)
    elif "crashkernel=" not in cmdline:
        findings = (Finding("error", "no-crashkernel", "no crashkernel= parameter: the kernel reserves nothing and no dump is written"),)
    elif (why := vendor_auto(facts, cmdline)) is not None:
        findings = (Finding("info", "vendor-auto", f"{why}: the reservation the capture shows is judged"), *judge_reservation(facts, fp, why))
    else:
        findings = check_cmdline(cmdline, facts, fp)
    host = verify_host(facts, service=ctx.service, proposed=_crashkernel_tokens(proposed) if proposed else None)
    return CheckReport(cmdline, proposed is not None, fp, findings, host)


def report_to_json(ctx: PlanContext, report: CheckReport, *, strict: bool = False) -> dict[str, object]:
    """The ``check --format json`` envelope."""
    failing = report.failing(strict=strict)
    plan = None
    if report.plan_findings is not None:
        plan = {"file": report.plan_file, "cmdline": report.plan_cmdline, "source": report.plan_source, "findings": [f.to_json() for f in report.plan_findings]}
    return ctx.envelope("check", ExitCode.FINDINGS if failing else ExitCode.OK) | {
        "checked": report.checked,
        "proposed": report.proposed,
        "need": report.footprint.total,
        "recommended_size": report.footprint.recommended_size,
        "findings": [f.to_json() for f in report.findings],
        "host": host_state_to_json(report.host),
        "plan": plan,
    }


# A plan file larger than this is not a plan (recommend's JSON is about 10 KiB).
_PLAN_LIMIT = 4 << 20
# The kernel matches crashkernel= ranges on system RAM rounded up to 128 MiB
# (parse_crashkernel_mem(), kernel/crash_reserve.c): within that step it is the same host.
_RAM_STEP = 128 * MiB


def read_plan(path: str) -> dict[str, object]:
    """The JSON object of a plan file saved by ``recommend --format json``.

    :raises CrashplanError: the file cannot be read, is not JSON, or is not a crashplan plan
        (exit 3, saying why).
    """
    import json

    from crashplan.errors import SourceError
    from crashplan.host.sources import open_local_file

    with open_local_file(path) as fp:
        data = fp.read(_PLAN_LIMIT + 1)
    if len(data) > _PLAN_LIMIT:
        raise SourceError(f"larger than {_PLAN_LIMIT >> 20} MiB: not a plan saved by crashplan recommend --format json", path=path, code="bad-plan")
    try:
        doc = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise SourceError("not valid UTF-8: not a plan saved by crashplan recommend --format json", path=path, code="bad-plan") from e
    except json.JSONDecodeError as e:
        raise SourceError(f"not JSON ({e.msg}): not a plan saved by crashplan recommend --format json", path=path, line=e.lineno, code="bad-plan") from e
    return validate_plan(doc, path)


def validate_plan(doc: object, path: str = "<plan>") -> dict[str, object]:
    """``doc`` if it is a plan saved by ``recommend --format json`` (the fields ``check --plan`` reads).

    :raises CrashplanError: it is not (exit 3, saying why); ``path`` names it.
    """
    from crashplan.errors import SourceError

    if not isinstance(doc, dict) or doc.get("command") != "recommend" or "crashplan_result_version" not in doc:
        what = f"a crashplan {doc['command']} result" if isinstance(doc, dict) and isinstance(doc.get("command"), str) else "not a crashplan result"
        raise SourceError(f"{what}, not a plan: save one with crashplan recommend --format json", path=path, code="bad-plan")
    if doc["crashplan_result_version"] != RESULT_VERSION:
        raise SourceError(f"crashplan_result_version {doc['crashplan_result_version']!r}; this crashplan reads version {RESULT_VERSION}", path=path, code="bad-plan")
    rec = doc.get("recommendation")
    fp_doc = doc.get("footprint")
    if doc.get("status") == "error" or not isinstance(rec, dict) or not isinstance(rec.get("cmdline"), str) or not isinstance(fp_doc, dict):
        raise SourceError("a plan without a recommendation (the recommend run failed?)", path=path, code="bad-plan")
    for key, kind in (("reserved", int), ("taken_from_production", int), ("borrowed", int)):
        if not isinstance(rec.get(key), kind) or isinstance(rec.get(key), bool):
            raise SourceError(f'"recommendation.{key}" should be an integer', path=path, code="bad-plan")
    if not isinstance(fp_doc.get("total"), int):
        raise SourceError('"footprint.total" should be an integer', path=path, code="bad-plan")
    if doc.get("arch") is not None and not isinstance(doc["arch"], str):
        raise SourceError('"arch" should be a string or null', path=path, code="bad-plan")
    ram = doc.get("system_ram")
    if ram is not None and (not isinstance(ram, int) or isinstance(ram, bool)):
        raise SourceError('"system_ram" should be an integer or null', path=path, code="bad-plan")
    return doc


def _file_size(doc: object, key: str) -> int | None:
    value = doc.get(key) if isinstance(doc, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def compare_plan(ctx: PlanContext, report: CheckReport, plan: dict[str, object], path: str) -> CheckReport:
    """``report`` with the differences between the host and the saved ``plan`` (``plan_findings``).

    :raises CrashplanError: the plan is for another host (another architecture, or system RAM
        that the kernel's 128 MiB matching tells apart), exit 3.
    """
    from dataclasses import replace

    from crashplan.errors import SourceError

    facts = ctx.facts
    plan_arch, plan_ram = plan.get("arch"), plan.get("system_ram")
    if plan_arch is not None and facts.arch is not None and plan_arch != facts.arch:
        raise SourceError(f"the plan is for another host: {plan_arch}, and this host is {facts.arch}", path=path, code="plan-other-host")
    if isinstance(plan_ram, int) and facts.system_ram and -(-plan_ram // _RAM_STEP) != -(-facts.system_ram // _RAM_STEP):
        raise SourceError(
            f"the plan is for another host: {format_human(plan_ram)} of system RAM, and this host has {format_human(facts.system_ram)}",
            path=path, code="plan-other-host",
        )
    rec = plan["recommendation"]
    assert isinstance(rec, dict)
    cmdline: str = rec["cmdline"]
    findings: list[Finding] = []
    h = report.host
    wanted = sorted(cmdline.split())
    have = sorted((h.crashkernel or "").split())
    if wanted != have:
        findings.append(Finding("error", "plan-not-applied", f"the command line has {h.crashkernel or 'no crashkernel='}, the plan says {cmdline}: the plan was not written to the boot entry that booted, or not rebooted since"))
    taken, borrowed = rec["taken_from_production"], rec["borrowed"]
    if h.reserved is not None and taken and h.reserved + _TOLERANCE < taken:
        findings.append(Finding("error", "plan-reservation-short", f"the plan reserves {format_human(taken)}, the kernel reserved {format_human(h.reserved)}"))
    if borrowed and h.cma_reserved is not None and h.cma_reserved + _TOLERANCE < borrowed:
        findings.append(Finding("warning", "plan-cma-short", f"the plan borrows {format_human(borrowed)} from CMA, the kernel reserved {format_human(h.cma_reserved)}"))
    boot = facts.boot_files
    for kind, now, key in (("initrd", boot.initrd, "size"), ("kernel", boot.kernel, "memory_size")):
        before = _file_size(plan.get(kind), key)
        current = None if now is None else (now.size if key == "size" else now.memory_size)
        if before is not None and current is not None and current > before:
            path_now = now.path if now is not None else kind
            findings.append(Finding("warning", f"{kind}-grew", f"the kdump {kind} {path_now} is {format_human(current)}, {format_human(current - before)} more than the {format_human(before)} the plan measured"))
    fp_total = plan["footprint"]["total"]  # type: ignore[index]
    if report.footprint.total > fp_total and report.footprint.total > taken + borrowed:
        findings.append(Finding("error", "plan-no-longer-covers", f"the estimated need is now {format_human(report.footprint.total)} (the plan assumed {format_human(fp_total)}), more than the {format_human(taken + borrowed)} the plan reserves: recommend again"))
    source = plan.get("source")
    return replace(report, plan_file=path, plan_cmdline=cmdline, plan_source=source if isinstance(source, str) else None, plan_findings=tuple(findings))


def check_cmdline(
    cmdline: str,
    facts: HostFacts,
    footprint: Footprint,
    *,
    simulation: Simulation | None = None,
    layout: Layout | None = None,
) -> tuple[Finding, ...]:
    """Judge a parameter: it parses, places, covers the footprint, is not wasteful, is safe.

    Stable codes: ``not-reserved`` and ``does-not-place`` and ``does-not-cover`` (errors),
    ``may-not-place``, ``wasteful`` and the grammar's warning codes (warnings).
    ``simulation`` and ``layout`` save the placement work when the caller already has them
    (``recommend`` judges its own answer with this function).
    """
    why = undecidable(facts)
    if why is not None:
        raise CrashplanError(f"{cmdline} cannot be checked: {why[1]}", code=why[0])
    assert facts.arch is not None
    cases = feature_cases(facts.arch, facts.kernel_version)
    results = [_check_with(cmdline, facts, footprint, f, simulation, layout) for f in cases]
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
    simulation: Simulation | None,
    layout: Layout | None,
) -> tuple[Finding, ...]:
    ram = facts.system_ram
    assert ram is not None  # check_cmdline refused an unknown one
    findings: list[Finding] = []
    d = decide(cmdline, ram, f)  # once: the option, its placement and the lint all read it
    option = evaluate_option("checked", "check", cmdline, facts, footprint, simulation=simulation, layout=layout, features=f, decision=d)
    if not d.ok and not (d.reserves_cma and f.cma_despite_error):
        findings.append(Finding("error", "not-reserved", f"the kernel reserves nothing: {d.error}"))
    if option.places == "never":
        findings.append(Finding("error", "does-not-place", "the reservation cannot be placed on this host"))
    elif option.places == "fits-some":
        findings.append(Finding("warning", "may-not-place", "the reservation places only for some kernel image positions (KASLR)"))
    elif option.places is None:
        findings.append(placement_unavailable(facts))
    if d.ok and option.covers is False:
        findings.append(Finding("error", "does-not-cover", f"{format_size(option.taken + option.borrowed)} does not cover the estimated need of {format_human(footprint.total)}"))
    if d.ok and option.taken > 2 * footprint.total:
        findings.append(Finding("warning", "wasteful", f"{format_size(option.taken)} is more than twice the estimated need ({format_human(footprint.total)})"))
    findings.extend(w for w in diagnose(cmdline, f, ram, decision=d) if w.severity != "info")
    return tuple(findings)


def check_reservation(facts: HostFacts, footprint: Footprint) -> tuple[Finding, ...]:
    """Judge the reservation the capture shows when the command line that made it is unknown.

    The "Crash kernel" regions of /proc/iomem (or ``kexec_crash_size``) are what the kernel
    reserved at boot: that area is judged (covers the need, not wasteful), placement is moot.
    Codes: ``cmdline-unknown`` (info), ``no-reservation`` and ``does-not-cover`` (errors),
    ``wasteful`` (warning).

    :raises CrashplanError: the reservation is unknown too (``nothing-to-check``, exit 3): no
        verdict is printed for what was not judged.
    """
    why = str(facts.provenance.get("cmdline", "")).removeprefix("unknown: ") or "not in the source"
    unknown = f"the kernel command line is unknown ({why})"
    return (Finding("info", "cmdline-unknown", f"{unknown}: the reservation the capture shows is judged"), *judge_reservation(facts, footprint, unknown))


def judge_reservation(facts: HostFacts, footprint: Footprint, unjudged: str) -> tuple[Finding, ...]:
    """The reservation the capture shows (iomem, ``kexec_crash_size`` or the kernel log) against the need.

    ``unjudged`` says why the command line is not judged itself.  Codes: ``no-reservation`` and
    ``does-not-cover`` (errors), ``wasteful`` (warning).

    :raises CrashplanError: the reservation is unknown (``nothing-to-check``, exit 3).
    """
    findings: list[Finding] = []
    reserved = facts.reservation_total
    where = str(facts.provenance.get("reservation_total", ""))
    if reserved is None:
        raise CrashplanError(
            f"nothing to check: {unjudged} and the reservation is unknown "
            f"({where.removeprefix('unknown: ')}); give --cmdline to judge a parameter, or use a capture with /proc/cmdline and /proc/iomem (as root)",
            code="nothing-to-check",
        )
    cma = sum(r.size for r in facts.cma_ranges) if facts.cma_ranges else 0
    if reserved == 0:
        findings.append(Finding("error", "no-reservation", f"no crash kernel memory is reserved ({where}): no dump is written"))
    elif reserved + cma < footprint.total:
        findings.append(Finding("error", "does-not-cover", f"the {format_size(reserved + cma)} reserved ({where}) does not cover the estimated need of {format_human(footprint.total)}"))
    elif reserved > 2 * footprint.total:
        findings.append(Finding("warning", "wasteful", f"the {format_size(reserved)} reserved ({where}) is more than twice the estimated need ({format_human(footprint.total)})"))
    return tuple(findings)
