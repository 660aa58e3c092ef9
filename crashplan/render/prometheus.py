"""``--format prometheus``: the Prometheus text exposition format (version 0.0.4) for
node_exporter's textfile collector.

Authoritative: the Prometheus "Exposition formats" document (``# HELP``/``# TYPE`` lines, label
values escaped ``\\\\``, ``\\"`` and ``\\n``, one sample per line, a final newline) and
node_exporter's textfile collector (``--collector.textfile.directory``, ``*.prom`` files,
written atomically: ``crashplan check --format prometheus --output DIR/crashplan.prom``).

Every metric is a gauge.  A value the source does not tell is left out rather than written as
0 (absent isn't zero): ``crashplan_crash_kernel_loaded`` is missing when the source has no
``/sys/kernel/kexec_crash_loaded``, so an alert on ``== 0`` never fires on a guess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crashplan.host.facts import HostFacts
    from crashplan.planning.check import CheckReport
    from crashplan.planning.context import PlanContext
    from crashplan.values import Finding

__all__ = ["render_check_prometheus", "render_facts_prometheus"]

_SEVERITIES = ("info", "warning", "error")


def _escape(value: str) -> str:
    """A label value as the exposition format writes it.

    >>> _escape('say "hi"\\\\n')
    'say \\\\"hi\\\\"\\\\\\\\n'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Exposition:
    """Collects metric families in order, each with its HELP and TYPE lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def gauge(self, name: str, help_text: str, samples: list[tuple[dict[str, str], int | float | None]]) -> None:
        kept = [(labels, value) for labels, value in samples if value is not None]
        if not kept:
            return
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} gauge")
        for labels, value in kept:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            shown = int(value) if isinstance(value, bool) else value
            self.lines.append(f"{name}{{{text}}} {shown}" if text else f"{name} {shown}")

    def text(self) -> str:
        from crashplan.render.json import escape_undecodable

        return escape_undecodable("\n".join(self.lines) + "\n")


def _host_metrics(out: _Exposition, facts: HostFacts, source: str) -> None:
    info = {"source": source, "arch": facts.arch or "", "kernel_release": facts.kernel_release or ""}
    from importlib.metadata import PackageNotFoundError, version

    try:
        info["version"] = version("crashplan")
    except PackageNotFoundError:
        info["version"] = "0+unknown"
    out.gauge("crashplan_info", "crashplan and the host it read (value 1).", [(info, 1)])
    out.gauge("crashplan_system_ram_bytes", "System RAM as the kernel counts it for crashkernel=.", [({}, facts.system_ram)])
    out.gauge("crashplan_crashkernel_reserved_bytes", 'Bytes the kernel reserved for the crash kernel ("Crash kernel" main plus low area).', [({}, facts.reservation_total)])
    out.gauge("crashplan_kexec_crash_size_bytes", "/sys/kernel/kexec_crash_size.", [({}, facts.kexec_crash_size)])
    cma = None if facts.cma_ranges is None else sum(r.size for r in facts.cma_ranges)
    out.gauge("crashplan_crashkernel_cma_reserved_bytes", "Bytes reserved by crashkernel=,cma (/sys/kernel/kexec_crash_cma_ranges).", [({}, cma)])
    out.gauge("crashplan_crash_kernel_loaded", "1 when a crash kernel is loaded (/sys/kernel/kexec_crash_loaded).", [({}, facts.kexec_crash_loaded)])


def _findings(out: _Exposition, name: str, help_text: str, groups: dict[str, tuple[Finding, ...]]) -> None:
    counts: dict[tuple[str, str, str], int] = {}
    for scope, findings in groups.items():
        for f in findings:
            key = (scope, f.code, f.severity)
            counts[key] = counts.get(key, 0) + 1
    out.gauge(name, help_text, [({"scope": s, "code": c, "severity": v}, n) for (s, c, v), n in sorted(counts.items())])
    by_severity = {s: sum(n for (_, _, v), n in counts.items() if v == s) for s in _SEVERITIES}
    out.gauge(f"{name}_by_severity", "Findings per severity.", [({"severity": s}, by_severity[s]) for s in _SEVERITIES])


def render_check_prometheus(ctx: PlanContext, report: CheckReport, *, strict: bool = False) -> str:
    """The metrics of ``crashplan check``: the reservation, the need, loaded, the findings."""
    out = _Exposition()
    _host_metrics(out, ctx.facts, ctx.source)
    h = report.host
    out.gauge("crashplan_crashkernel_asked_bytes", "What the command line's crashkernel= gives on this RAM (main plus low area).", [({}, h.asked)])
    out.gauge("crashplan_crashkernel_needed_bytes", "The estimated need of the crash kernel (footprint, no margin).", [({}, report.footprint.total)])
    out.gauge("crashplan_crashkernel_recommended_bytes", "The footprint with the profile's margin: what crashkernel=X should be.", [({}, report.footprint.recommended_size)])
    out.gauge("crashplan_kdump_service_enabled", "1 when the kdump service is enabled (kdump.service or kdump-tools.service).", [({}, h.kdump_enabled)])
    groups = {"checked": report.findings, "host": h.findings}
    if report.plan_findings is not None:
        groups["plan"] = report.plan_findings
    _findings(out, "crashplan_check_findings", "Findings of crashplan check by scope (checked parameter, host state, plan), code and severity.", groups)
    out.gauge("crashplan_check_ok", "1 when crashplan check exits 0.", [({}, 0 if report.failing(strict=strict) else 1)])
    return out.text()


def render_facts_prometheus(facts: HostFacts) -> str:
    """The metrics of ``crashplan facts``: the reservation as the kernel made it, and the facts' findings."""
    out = _Exposition()
    _host_metrics(out, facts, facts.source)
    _findings(out, "crashplan_facts_findings", "Findings of crashplan facts by code and severity.", {"facts": facts.findings})
    return out.text()
