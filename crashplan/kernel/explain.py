"""``crashplan explain``: what the kernel does with a ``crashkernel=`` string, as one value.

Built only from :mod:`crashplan.kernel.grammar`, :mod:`~crashplan.kernel.crashkernel` (the port of
``parse_crashkernel()``) and :mod:`~crashplan.kernel.lint`;
no host is read.  Without a RAM size the explanation holds a table of decisions across RAM
sizes: every range boundary of the string, and 1G, 2G, 4G, 8G, 16G, 64G and 1T.
"""

from __future__ import annotations

from crashplan._frozen import frozen
from crashplan.envelope import envelope
from crashplan.errors import ExitCode, ParseError
from crashplan.kernel.crashkernel import Decision, decide, decide_table
from crashplan.kernel.features import Features
from crashplan.kernel.grammar import TokenScan, as_tokens, scan_crashkernel
from crashplan.kernel.lint import diagnose
from crashplan.units import GiB, TiB
from crashplan.values import Finding

__all__ = [
    "TABLE_RAM_SIZES",
    "Explanation",
    "decision_syntax_error",
    "explain",
    "explanation_to_json",
    "join_specs",
    "no_token_error",
]

TABLE_RAM_SIZES = (1 * GiB, 2 * GiB, 4 * GiB, 8 * GiB, 16 * GiB, 64 * GiB, 1 * TiB)

# Parse warnings the kernel prints for a range entry that is read but whose size is too large
# for this RAM: a verdict about this machine, not a syntax error in the string.
_RAM_DEPENDENT_ERRORS = ("crashkernel: invalid size",)


@frozen
class Explanation:
    """The kernel's reading of one command line, at one RAM size or across a table of them.

    ``error`` is set when the string has a syntax error that the kernel hits (at ``system_ram``,
    or, without it, in a token the kernel would read); the CLI exits 3 then.
    """

    cmdline: str
    features: Features
    system_ram: int | None
    scans: tuple[TokenScan, ...]
    decision: Decision | None
    table: tuple[Decision, ...]
    warnings: tuple[Finding, ...]
    error: ParseError | None


def join_specs(specs: tuple[str, ...] | list[str]) -> str:
    """Join command-line arguments into one command line; a bare ``256M`` means ``crashkernel=256M``.

    >>> join_specs(["256M", "1G,cma", "ro crashkernel=64M"])
    'crashkernel=256M crashkernel=1G,cma ro crashkernel=64M'
    """
    return " ".join(as_tokens(spec) for spec in specs)


def explain(cmdline: str, features: Features, system_ram: int | None = None) -> Explanation:
    """Explain ``cmdline`` for ``features``; at ``system_ram`` when given, else across a table."""
    scans = scan_crashkernel(cmdline, features)
    decision = decide(cmdline, system_ram, features) if system_ram is not None else None
    warnings = diagnose(cmdline, features, system_ram, scans=scans, decision=decision)
    if decision is not None:
        table: tuple[Decision, ...] = ()
        error = decision_syntax_error(cmdline, decision, scans)
    else:
        table = decide_table(cmdline, _table_sizes(scans), features)
        error = _read_token_error(scans, features)
    error = error or no_token_error(cmdline, scans)
    return Explanation(cmdline, features, system_ram, scans, decision, table, warnings, error)


def _table_sizes(scans: tuple[TokenScan, ...]) -> list[int]:
    sizes = set(TABLE_RAM_SIZES)
    for scan in scans:
        if scan.token is not None:
            for entry in scan.token.ranges:
                sizes.update(v for v in (entry.start, entry.end) if v)
    return sorted(sizes)


def no_token_error(cmdline: str, scans: tuple[TokenScan, ...]) -> ParseError | None:
    """The error of a line without any ``crashkernel=`` token (explain and simulate alike), else None."""
    if scans:
        return None
    return ParseError("crashkernel: no crashkernel= token found", source=cmdline, span=(0, max(1, len(cmdline))))


def decision_syntax_error(cmdline: str, decision: Decision, scans: tuple[TokenScan, ...]) -> ParseError | None:
    """The syntax error that made the kernel reserve nothing, if that is why (else None)."""
    if decision.ok or decision.error_span is None or decision.error in _RAM_DEPENDENT_ERRORS:
        return None
    start = decision.error_span[0]
    for scan in scans:
        if scan.start <= start <= scan.end and scan.error is not None:
            return scan.error
    assert decision.error is not None
    return ParseError(decision.error, source=cmdline, span=decision.error_span)


def _read_token_error(scans: tuple[TokenScan, ...], features: Features) -> ParseError | None:
    """The syntax error of a token the kernel reads: the last of each lookup, except ``,cma``."""
    last: dict[str, TokenScan] = {}
    for scan in scans:
        last[scan.lookup] = scan
    for lookup in ("plain", "high", "low"):
        found = last.get(lookup)
        if found is not None and found.error is not None:
            if lookup != "plain" and not features.has_high:
                continue
            return found.error
    return None


_TEXT_LIMIT = 4096


def _token_json(scan: TokenScan, used: bool) -> dict[str, object]:
    token = scan.token
    text = scan.text
    out: dict[str, object] = {
        "text": text[:_TEXT_LIMIT],
        "start": scan.start,
        "end": scan.end,
        "lookup": scan.lookup,
        "used": used,
        "form": token.form if token else None,
        "size": token.size if token else None,
        "offset": token.offset if token else None,
        "ranges": [{"start": e.start, "end": e.end, "size": e.size} for e in token.ranges] if token else [],
        "error": scan.error.to_json() if scan.error else None,
    }
    if len(text) > _TEXT_LIMIT:
        out["text_truncated"] = True
    return out


def explanation_to_json(x: Explanation) -> dict[str, object]:
    """The versioned JSON envelope of ``crashplan explain`` (one object; one line in batches)."""
    picked = set()
    if x.decision is not None:
        picked = {start for _, start in x.decision.picked}
    else:
        last: dict[str, int] = {}
        for scan in x.scans:
            last[scan.lookup] = scan.start
        picked = set(last.values())
    out: dict[str, object] = {
        "cmdline": x.cmdline[:_TEXT_LIMIT],
        "arch": x.features.arch,
        "kernel_version": str(x.features.version),
        "system_ram": x.system_ram,
    }
    if x.decision is not None:
        out["resolved"] = x.decision.to_json()
        out["reserves_cma"] = x.decision.reserves_cma
        out["kernel_messages"] = list(x.decision.messages)
    else:
        out["table"] = [
            {"system_ram": d.system_ram, "resolved": d.to_json(), "reserves_cma": d.reserves_cma}
            for d in x.table
        ]
    out["tokens"] = [_token_json(scan, scan.start in picked) for scan in x.scans]
    out["warnings"] = [w.to_json() for w in x.warnings]
    return envelope("explain", out, exit_code=ExitCode.BAD_INPUT if x.error else ExitCode.OK, errors=[x.error.to_json()] if x.error else [])
