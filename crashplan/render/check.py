"""``crashplan check`` as text: the host as the kernel left it, the judged parameter, the plan.

Also :func:`kdumpctl_side_by_side`, the two lines that put a sosreport's ``kdumpctl estimate``
beside crashplan's own estimate (``check`` and ``footprint`` show them).  The findings are
values made in :mod:`crashplan.planning.check`; this module only lays them out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashplan.units import format_human
from crashplan.values import REPORT_WIDTH, wrap_report

if TYPE_CHECKING:
    from crashplan.host.formats.sosreport import KdumpctlEstimate
    from crashplan.planning.check import CheckReport, HostState
    from crashplan.planning.context import PlanContext
    from crashplan.planning.footprint import Footprint

__all__ = ["kdumpctl_side_by_side", "render_check_text"]


def _asked(h: HostState) -> str:
    """What the command line asks: nothing without ``crashkernel=``, unknown when it is not known."""
    if h.asked is not None:
        return format_human(h.asked)
    if h.cmdline is None:
        return "unknown (no /proc/cmdline in the source)"
    if h.crashkernel is not None and h.crashkernel.lower() == "crashkernel=auto":
        return "unknown (crashkernel=auto: the kernel's own size)"
    return "nothing" if h.crashkernel is None else "unknown (the kernel reserves nothing from it)"


def _size(value: int | None) -> str:
    return "unknown" if value is None else format_human(value)


def render_check_text(ctx: PlanContext, report: CheckReport, *, strict: bool = False, width: int | None = REPORT_WIDTH) -> str:
    """The text report: the host as the kernel left it at boot, then the judged parameter, then the plan.

    Lines longer than ``width`` columns are wrapped at spaces (``None``: one line per item).
    """
    h = report.host
    loaded = {None: "unknown", True: "yes", False: "no"}[h.loaded]
    enabled = {None: "unknown", True: "enabled", False: "disabled"}[h.kdump_enabled]
    lines = [
        f"host ({ctx.source}, as the kernel left it at boot):",
        f"  crashkernel= on the command line: {h.crashkernel or ('(none)' if h.cmdline is not None else 'unknown (no /proc/cmdline in the source)')}",
        f"  asked {_asked(h)}, reserved {_size(h.reserved)}" + (f"; CMA asked {_size(h.cma_asked)}, reserved {_size(h.cma_reserved)}" if h.cma_asked else ""),
        f"  crash kernel loaded: {loaded}; kdump service: {enabled}",
        *(f"  kernel log: {line}" for line in h.kernel_log),
        *(f"  {f.severity} {f.code}: {f.message}" for f in h.findings),
        f"checked{' (proposed)' if report.proposed else ''}: {report.checked if report.checked is not None else 'the reservation the capture shows (command line unknown)'}",
        f"  estimated need {format_human(report.footprint.total)}; profile {ctx.profile.name}",
        *(f"  {f.severity} {f.code}: {f.message}" for f in report.findings),
    ]
    if ctx.kdumpctl is not None:
        lines.extend("  " + line for line in kdumpctl_side_by_side(ctx.kdumpctl, report.footprint).splitlines())
    if report.plan_findings is not None:
        lines.append(f"plan ({report.plan_file}): {report.plan_cmdline}")
        lines.extend(f"  {f.severity} {f.code}: {f.message}" for f in report.plan_findings)
        if not report.plan_findings:
            lines.append("  the host matches the plan")
    lines.append("result: " + ("findings (exit 4)" if report.failing(strict=strict) else "ok"))
    text = "\n".join(lines)
    return (text if width is None else wrap_report(text, width)) + "\n"


def kdumpctl_side_by_side(estimate: KdumpctlEstimate, fp: Footprint) -> str:
    """``kdumpctl estimate`` (as a sosreport kept it) beside crashplan's own estimate, one line each.

    A size ``kdumpctl estimate`` did not print is ``-``.
    """

    def mib(value: int | None) -> str:
        return "-" if value is None else f"{value >> 20}M"

    e = estimate
    return (
        f"kdumpctl estimate (the host's own, from the sosreport): recommended {mib(e.recommended)}, reserved {mib(e.reserved)}; "
        f"kernel {mib(e.kernel_image)}, modules {mib(e.kernel_modules)}, initramfs {mib(e.initramfs)} (x3 in its sum), runtime {mib(e.runtime)}\n"
        f"crashplan: estimated need {mib(fp.total)}, crashkernel=X needs X >= {mib(fp.recommended_size)}"
    )
