"""Plain-text renderers for the fast paths: no rich, so that ``crashplan explain`` starts like ``import click``.

Also the short texts of ``crashplan schema`` (the list) and ``crashplan snapshot`` (its notes on stderr).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashplan.units import format_size
from crashplan.values import wrap_report

if TYPE_CHECKING:
    from collections.abc import Mapping

    from crashplan.host.sources.capture import CaptureReport
    from crashplan.kernel.crashkernel import Decision
    from crashplan.kernel.explain import Explanation

__all__ = ["render_capture_notes", "render_explanation_text", "render_schema_list"]


def _size(value: int) -> str:
    return format_size(value) if value < (1 << 64) else str(value)


def _outcome(d: Decision) -> str:
    """One phrase: what the kernel reserves."""
    if not d.ok:
        cma = f"; CMA {_size(d.cma_size)} is still reserved" if d.reserves_cma else ""
        return f"nothing reserved ({d.error}){cma}"
    parts = [f"{_size(d.crash_size)}"]
    if d.crash_base:
        parts.append(f"at fixed {_size(d.crash_base)}")
    if d.high:
        parts.append("high (above 4G first)")
        parts.append(f"+ {_size(d.low_size)} low" if d.low_size else "+ no low area")
    if d.reserves_cma:
        parts.append(f"+ {_size(d.cma_size)} CMA")
    return " ".join(parts)


def render_explanation_text(x: Explanation) -> str:
    """The human explanation: tokens, the kernel's decision (or a table of them), warnings."""
    lines = [f"{_clip(x.cmdline)}", f"  on {x.features.arch}, Linux {x.features.version}"]
    lines.append("")
    lines.append("tokens:")
    if not x.scans:
        lines.append("  (none)")
    picked = {start for _, start in x.decision.picked} if x.decision else None
    for scan in x.scans:
        mark = ""
        if picked is not None and scan.start in picked:
            mark = "  <- read by the kernel"
        what = scan.token.form if scan.token else f"invalid: {scan.error.message if scan.error else ''}"
        lines.append(f"  {_clip(scan.text)}  [{scan.lookup}; {what}]{mark}")
        if scan.token and scan.token.ranges:
            for e in scan.token.ranges:
                end = _size(e.end) if e.end is not None else "..."
                lines.append(f"      RAM {_size(e.start)} <= r < {end}: {_size(e.size)}")
    lines.append("")
    if x.decision is not None:
        lines.append(f"with {format_size(x.system_ram or 0)} of system RAM: {_outcome(x.decision)}")
        for message in x.decision.messages:
            lines.append(f"  kernel log: {message}")
    else:
        lines.append("what the kernel reserves by system RAM:")
        for d in x.table:
            lines.append(f"  {_size(d.system_ram):>6}  {_outcome(d)}")
    if x.warnings:
        lines.append("")
        lines.append("warnings:")
        for w in x.warnings:
            lines.append(f"  {w.severity} {w.code}: {w.message}")
    return wrap_report("\n".join(lines)) + "\n"


def _clip(text: str, width: int = 200) -> str:
    shown = "".join(c if c.isprintable() else "\ufffd" for c in text[: width + 1])
    return shown if len(text) <= width else shown[: width - 1] + "\u2026"


def render_schema_list(titles: Mapping[str, str]) -> str:
    """One line per schema: its name, then its title.

    >>> print(render_schema_list({"check": "crashplan check --format json", "error": "a failed command"}), end="")
    check        crashplan check --format json
    error        a failed command
    """
    return "".join(f"{name:<11}  {title}\n" for name, title in titles.items())


def render_capture_notes(report: CaptureReport) -> str:
    """What a snapshot capture says on stderr: its notes, then each host file it could not read and why."""
    lines = [f"crashplan: note: {note}" for note in report.notes]
    lines += [f"crashplan: unreadable: /{item.path}: {item.reason}" for item in report.unreadable]
    return "".join(line + "\n" for line in lines)
