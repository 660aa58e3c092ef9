"""Warnings with stable codes for what the kernel accepts silently but is almost surely a mistake.

:func:`diagnose` reads the tokens with :mod:`crashplan.kernel.grammar` and, when system RAM is
known, the decision of :mod:`crashplan.kernel.crashkernel` (``kernel/crash_reserve.c``).
"""

from __future__ import annotations

from crashplan.kernel.crashkernel import (
    NAME,
    Decision,
    TokenIndex,
    decide,
    find_tokens,
    kernel_cmdline,
)
from crashplan.kernel.features import Features, features_for
from crashplan.kernel.grammar import MAX_SCANNED_TOKENS, TokenScan, clip, scan_crashkernel
from crashplan.units import GiB, MiB, format_size, memparse
from crashplan.values import Finding

__all__ = ["diagnose"]


def diagnose(
    text: str,
    features: Features | None = None,
    system_ram: int | None = None,
    *,
    scans: tuple[TokenScan, ...] | None = None,
    decision: Decision | None = None,
) -> tuple[Finding, ...]:
    """Findings with stable codes about a command line, at ``system_ram`` when it is known.

    >>> [w.code for w in diagnose("crashkernel=0256M")]
    ['octal-number']
    >>> [w.code for w in diagnose("crashkernel=256M crashkernel=1G,cma", features_for("x86_64", "6.17"))]
    ['cma-after-plain']
    """
    f = features or features_for()
    s = kernel_cmdline(text)
    findings: list[Finding] = []
    count = s.count(NAME) if len(s) // len(NAME) > MAX_SCANNED_TOKENS else len(find_tokens(s))
    if count > MAX_SCANNED_TOKENS:
        findings.append(
            Finding("warning", "too-many-tokens", f"{count} crashkernel= tokens: only the first {MAX_SCANNED_TOKENS} and the last of each kind are analysed", None)
        )
    if len(s) != len(text):
        findings.append(
            Finding("warning", "nul-byte", "the command line ends at the first NUL byte; the rest is invisible to the kernel", (len(s), len(text)))
        )
    if scans is None:
        scans = scan_crashkernel(text, f)
    index = TokenIndex(s)
    last: dict[str, TokenScan] = {}
    for scan in scans:
        findings.extend(scan.notes)
        findings.extend(_token_findings(s, index, scan))
        last[scan.lookup] = scan
    plain, high, low, cma = (last.get(k) for k in ("plain", "high", "low", "cma"))
    findings.extend(_lookup_findings(scans, last, f))
    if f.has_high:
        if low is not None and high is None:
            findings.append(Finding("warning", "low-without-high", "crashkernel=Y,low is only read together with crashkernel=X,high; here it is ignored", (low.start, low.end)))
        if plain is not None and (high is not None or low is not None):
            ignored = high or low
            assert ignored is not None
            findings.append(Finding("warning", "suffix-ignored", "crashkernel=X,high and crashkernel=Y,low are ignored because a plain crashkernel=X is present", (ignored.start, ignored.end)))
    elif high is not None or low is not None:
        ignored = high or low
        assert ignored is not None
        findings.append(Finding("warning", "suffix-unsupported", f"{f.arch} does not read crashkernel=X,high or crashkernel=Y,low", (ignored.start, ignored.end)))
    if cma is not None:
        findings.extend(_cma_findings(scans, plain, high, cma, f))
    if system_ram is not None:
        d = decision if decision is not None else decide(s, system_ram, f)
        findings.extend(_ram_findings(scans, plain, f, system_ram, d))
    return tuple(_dedupe(findings))


def _token_findings(s: str, index: TokenIndex, scan: TokenScan) -> list[Finding]:
    out = []
    if scan.start > 0 and s[scan.start - 1] != " ":
        word_start = index.prev_space(scan.start) + 1
        word = clip(s, word_start, scan.end)
        out.append(Finding("warning", "substring-match", f"the kernel finds crashkernel= anywhere, also inside {word!r}", (scan.start, scan.end)))
    at = index.next("\t\n\r\v\f", scan.start, scan.end)
    if at >= 0:
        out.append(Finding("warning", "tab-separator", f"{s[at]!r} inside the token: the kernel separates crashkernel= tokens only by a space", (at, at + 1)))
    body = scan.start + len(NAME)
    if s[body : body + 4].lower() == "auto":
        out.append(Finding("warning", "auto-not-mainline", "crashkernel=auto is a RHEL/Fedora kernel patch; mainline kernels reject it and reserve nothing", (scan.start, scan.end)))
    for suffix in (",high", ",low", ",cma"):
        tail = s[max(body, scan.end - len(suffix)) : scan.end]
        if tail.lower() == suffix and tail != suffix:
            out.append(Finding("warning", "suffix-case", f"the kernel matches {suffix!r} case-sensitively; {tail!r} makes this a plain token", (scan.end - len(suffix), scan.end)))
    if scan.token is not None and scan.token.form in ("simple", "high") and scan.token.size == 0:
        out.append(Finding("warning", "zero-size", "a size of 0 reserves nothing", (scan.start, scan.end)))
    return out


def _lookup_findings(scans: tuple[TokenScan, ...], last: dict[str, TokenScan], f: Features) -> list[Finding]:
    out = []
    for lookup, chosen in last.items():
        earlier_ok = [sc for sc in scans if sc.lookup == lookup and sc is not chosen and sc.error is None]
        if chosen.error is not None and earlier_ok and lookup != "cma":
            out.append(Finding("warning", "invalid-last-token", "the last crashkernel= token is invalid and the kernel does not fall back to the earlier valid one: nothing is reserved", (chosen.start, chosen.end)))
        if len([sc for sc in scans if sc.lookup == lookup]) > 1 and chosen.error is None:
            out.append(Finding("info", "overridden-token", f"several {lookup} crashkernel= tokens: the last one wins", (chosen.start, chosen.end)))
    return out


def _cma_findings(scans: tuple[TokenScan, ...], plain: TokenScan | None, high: TokenScan | None, cma: TokenScan, f: Features) -> list[Finding]:
    out = []
    cma_tokens = [sc for sc in scans if sc.lookup == "cma"]
    if plain is not None and any(sc.start > plain.start for sc in cma_tokens):
        out.append(Finding("warning", "cma-after-plain", "a crashkernel=X,cma token after the plain token is read as the plain token by kernels older than 6.17, which then reserve nothing; put the ,cma token first", (cma.start, cma.end)))
    if not f.has_cma:
        out.append(Finding("warning", "cma-unsupported", f"crashkernel=X,cma is not supported on {f.arch} {f.version}: no CMA area is reserved", (cma.start, cma.end)))
    elif cma.error is not None and memparse(cma.source, cma.start + len(NAME), cma.end) is not None:
        out.append(Finding("warning", "cma-malformed-used", "this crashkernel=X,cma token is malformed, yet the kernel uses its number anyway", (cma.start, cma.end)))
    if f.has_cma and plain is None and high is None and not f.cma_despite_error:
        out.append(Finding("warning", "cma-alone", "crashkernel=X,cma needs a standard crashkernel=Y as well; alone, nothing is reserved", (cma.start, cma.end)))
    return out


def _ram_findings(scans: tuple[TokenScan, ...], plain: TokenScan | None, f: Features, system_ram: int, d: Decision) -> list[Finding]:
    out = []
    ram = format_size(system_ram) if system_ram % MiB == 0 else f"{system_ram} bytes"
    if (
        plain is not None
        and plain.token is not None
        and plain.token.form == "ranges"
        and "crashkernel size resulted in zero bytes" in d.messages
    ):
        rounded = " (rounded up to 128M)" if f.round_ram_128m else f" (Linux {f.version} does not round it up to 128M)"
        out.append(Finding("warning", "no-range-match", f"no range of this list matches {ram} of RAM{rounded}: nothing is reserved", (plain.start, plain.end)))
    if d.crash_size and d.crash_size >= system_ram:
        span = (plain.start, plain.end) if plain is not None else None
        out.append(Finding("warning", "size-ge-ram", f"the size {format_size(d.crash_size)} is not smaller than system RAM ({ram}): nothing is reserved", span))
    if plain is not None and plain.error is not None and d.ok and plain.token is None:
        out.append(Finding("info", "unvalidated-entries", f"the list is broken past the entry that matches {ram} ({plain.error.message}); the kernel never reads that far here, but it will on other RAM sizes", plain.error.span))
    if f.arch == "riscv64" and d.ok and not d.high and not d.crash_base and system_ram <= 2 * GiB:
        out.append(Finding("warning", "endless-retry", "on riscv64 with all RAM below 4 GiB the low and high windows coincide: if this size cannot be placed, the kernel retries forever and the boot hangs (reserve_crashkernel_generic(), kernel/crash_reserve.c)", (plain.start, plain.end) if plain else None))
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen = set()
    out = []
    for finding in findings:
        key = (finding.code, finding.span)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out
