"""The decision the kernel takes from a command line: a literal port of ``parse_crashkernel()``.

Authoritative source: ``kernel/crash_reserve.c`` (``parse_crashkernel()``,
``__parse_crashkernel()``, ``get_last_crashkernel()``, ``parse_crashkernel_mem()``,
``parse_crashkernel_simple()``, ``parse_crashkernel_suffix()``; ``kernel/crash_core.c`` before
the 6.9 split).  The C pointer walks become index walks, "past the end" reads as ``'\\0'``, and
every quirk is kept (substring matching, space-only tokens, octal, one-letter units, lazy range
validation, the unvalidated offset, a ``,cma`` size that survives its own parse error, an
invalid plain token blocking ``,high``).  It answers "what does the kernel do with this command
line on a machine with this much RAM".  The token finding here is shared with the grammar.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import field
from typing import Literal

from crashplan._frozen import frozen
from crashplan.kernel.features import Features, features_for
from crashplan.units import MiB, format_size, memparse

__all__ = ["NAME", "Decision", "Lookup", "TokenIndex", "classify_tokens", "decide", "decide_table", "find_tokens", "kernel_cmdline"]

NAME = "crashkernel="
Lookup = Literal["plain", "high", "low", "cma"]


_EINVAL = -22
_ENOENT = -2


@frozen
class Decision:
    """What ``parse_crashkernel()`` leaves behind for one command line and one RAM size.

    ``ok`` is the return value being 0; the arch callers reserve nothing otherwise
    (``if (ret) return;``).  ``error`` is the kernel's own warning text when it printed one,
    else crashplan's description of the silent failure; ``error_span`` is the position in the
    command line the fault is at.  ``messages`` are the lines the kernel logs while parsing.
    ``picked`` maps each lookup to the start of the token it chose.
    """

    ok: bool
    crash_size: int
    crash_base: int
    low_size: int
    cma_size: int
    high: bool
    error: str | None
    error_span: tuple[int, int] | None = field(compare=False)
    messages: tuple[str, ...]
    picked: tuple[tuple[str, int], ...]
    system_ram: int
    features: Features = field(compare=False, repr=False)

    @property
    def reserves(self) -> bool:
        """True when the kernel reserves a standard (and possibly low) area."""
        return self.ok

    @property
    def reserves_cma(self) -> bool:
        """True when the kernel goes on to reserve a ``,cma`` area."""
        if not self.features.has_cma or not self.cma_size:
            return False
        return self.ok or self.features.cma_despite_error

    def to_json(self) -> dict[str, object]:
        """The ``"resolved"`` object of the JSON output."""
        return {
            "ok": self.ok,
            "crash_size": self.crash_size,
            "crash_base": self.crash_base,
            "low_size": self.low_size,
            "cma_size": self.cma_size,
            "high": self.high,
            "error": self.error,
        }


class _Out:
    """The kernel's output pointers and log, as one mutable scratch value for the port."""

    __slots__ = ("error", "error_span", "messages")

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.error: str | None = None
        self.error_span: tuple[int, int] | None = None

    def warn(self, text: str, at: int, end: int | None = None) -> int:
        self.messages.append(text)
        self.error = text
        self.error_span = (at, at + 1 if end is None else end)
        return _EINVAL


def _at(s: str, i: int) -> str:
    """``*cur`` in C: the character at ``i``, or NUL past the end."""
    return s[i] if i < len(s) else "\0"


class TokenIndex:
    """Sorted positions of the characters the walks search for, so that every search is a
    bisection: a 10 MB command line made of nested ``crashkernel=`` stays linear."""

    __slots__ = ("_pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._pos: dict[str, list[int]] = {}
        for c in " :@\t\n\r\v\f":
            positions = []
            i = text.find(c)
            while i >= 0:
                positions.append(i)
                i = text.find(c, i + 1)
            self._pos[c] = positions

    def next(self, chars: str, start: int, end: int) -> int:
        """The first position of any of ``chars`` in ``[start, end)``, or -1."""
        best = -1
        for c in chars:
            positions = self._pos[c]
            k = bisect_left(positions, start)
            if k < len(positions) and positions[k] < end and (best < 0 or positions[k] < best):
                best = positions[k]
        return best

    def prev_space(self, before: int) -> int:
        """The last space before ``before``, or -1."""
        positions = self._pos[" "]
        k = bisect_left(positions, before)
        return positions[k - 1] if k else -1


def kernel_cmdline(cmdline: str) -> str:
    """The C string the kernel sees: everything up to the first NUL."""
    nul = cmdline.find("\0")
    return cmdline if nul < 0 else cmdline[:nul]


def classify_tokens(s: str, f: Features) -> list[tuple[int, int, Lookup]]:
    """Every token with its end and its lookup, in command-line order."""
    return [(p, end, _lookup_of(s, p, end, f.suffixes)) for p, end in find_tokens(s)]


def find_tokens(s: str) -> list[tuple[int, int]]:
    """Every ``crashkernel=`` occurrence and its end.

    Occurrences are found like ``strstr(p + 1, name)`` finds them (substrings, overlapping);
    a token ends at the next ASCII space (``strchr(p, ' ')``) or at the end: tabs and
    newlines do not separate.
    """
    tokens = []
    p = s.find(NAME)
    end = -1
    while p >= 0:
        if end < p:
            end = s.find(" ", p)
            if end < 0:
                end = len(s)
        tokens.append((p, end))
        p = s.find(NAME, p + 1)
    return tokens


def _lookup_of(s: str, start: int, end: int, suffixes: tuple[str, ...]) -> Lookup:
    """Which of the four lookups a token belongs to: a case-sensitive test of its end."""
    for suffix in suffixes:
        if s.endswith(suffix, start, end):
            return suffix[1:]  # type: ignore[return-value]
    return "plain"


def _get_last(tokens: list[tuple[int, int, Lookup]], suffix: str | None) -> tuple[int, int] | None:
    """Mirrors ``get_last_crashkernel()``: the last token (start, end) of one lookup."""
    want = suffix[1:] if suffix else "plain"
    for p, end, lookup in reversed(tokens):
        if lookup == want:
            return p, end
    return None


def _parse_simple(s: str, cur: int, out: _Out) -> tuple[int, int, int]:
    """Mirrors ``parse_crashkernel_simple()``; returns (ret, crash_size, crash_base)."""
    num = memparse(s, cur)
    if num is None:
        return out.warn("crashkernel: memory value expected", cur), 0, 0
    size, cur = num.value, num.end
    base = 0
    c = _at(s, cur)
    if c == "@":
        offset = memparse(s, cur + 1)
        base = offset.value if offset is not None else 0
    elif c not in (" ", "\0"):
        return out.warn(f"crashkernel: unrecognized char: {c}", cur), size, 0
    return 0, size, base


def _parse_mem(s: str, cur: int, system_ram: int, f: Features, out: _Out) -> tuple[int, int, int]:
    """Mirrors ``parse_crashkernel_mem()``; returns (ret, crash_size, crash_base)."""
    total_mem = system_ram
    # parse_crashkernel_mem() rounds system RAM up to 128M before matching ranges: firmware
    # reserves some, so memblock RAM is a little less than the installed size.
    if f.round_ram_128m:
        total_mem = -(-system_ram // (128 * MiB)) * (128 * MiB)
    crash_size = 0
    while True:
        start = memparse(s, cur)
        if start is None:
            return out.warn("crashkernel: Memory value expected", cur), crash_size, 0
        cur = start.end
        if _at(s, cur) != "-":
            return out.warn("crashkernel: '-' expected", cur), crash_size, 0
        cur += 1
        end_value = (1 << 64) - 1
        if _at(s, cur) != ":":
            end = memparse(s, cur)
            if end is None:
                return out.warn("crashkernel: Memory value expected", cur), crash_size, 0
            if end.value <= start.value:
                return out.warn("crashkernel: end <= start", start.start, end.end), crash_size, 0
            cur, end_value = end.end, end.value
        if _at(s, cur) != ":":
            return out.warn("crashkernel: ':' expected", cur), crash_size, 0
        cur += 1
        size = memparse(s, cur)
        if size is None:
            return out.warn("crashkernel: Memory value expected", cur), crash_size, 0
        cur = size.end
        if size.value >= total_mem:
            return out.warn("crashkernel: invalid size", size.start, size.end), crash_size, 0
        if start.value <= total_mem < end_value:
            crash_size = size.value
            break
        c = _at(s, cur)
        cur += 1
        if c != ",":
            break
    base = 0
    if crash_size > 0:
        while _at(s, cur) not in ("\0", " ", "@"):
            cur += 1
        if _at(s, cur) == "@":
            cur += 1
            offset = memparse(s, cur)
            if offset is None:
                return out.warn("crashkernel: Memory value expected after '@'", cur), crash_size, 0
            base = offset.value
    else:
        out.messages.append("crashkernel size resulted in zero bytes")
    return 0, crash_size, base


def _parse_suffix(s: str, cur: int, suffix: str, out: _Out) -> tuple[int, int]:
    """Mirrors ``parse_crashkernel_suffix()``; returns (ret, size). The size is set before checks."""
    num = memparse(s, cur)
    if num is None:
        return out.warn("crashkernel: memory value expected", cur), 0
    size, cur = num.value, num.end
    if not s.startswith(suffix, cur):
        return out.warn(f"crashkernel: unrecognized char: {_at(s, cur)}", cur), size
    cur += len(suffix)
    if _at(s, cur) not in (" ", "\0"):
        return out.warn(f"crashkernel: unrecognized char: {_at(s, cur)}", cur), size
    return 0, size


def _parse_one(
    s: str,
    tokens: list[tuple[int, int, Lookup]],
    system_ram: int,
    suffix: str | None,
    f: Features,
    out: _Out,
    picked: dict[str, int],
) -> tuple[int, int, int]:
    """Mirrors ``__parse_crashkernel()``; returns (ret, size, base)."""
    found = _get_last(tokens, suffix)
    if found is None:
        return _ENOENT, 0, 0
    p, end = found
    picked[suffix[1:] if suffix else "plain"] = p
    cur = p + len(NAME)
    if suffix:
        ret, size = _parse_suffix(s, cur, suffix, out)
        return ret, size, 0
    if s.find(":", cur, end) >= 0:  # the first ':' comes before the first space
        return _parse_mem(s, cur, system_ram, f, out)
    return _parse_simple(s, cur, out)


def decide(cmdline: str, system_ram: int, features: Features | None = None) -> Decision:
    """What ``parse_crashkernel()`` decides for ``cmdline`` on a machine with ``system_ram`` bytes.

    ``system_ram`` is the arch's value (``memblock_phys_mem_size()`` on x86/arm64/riscv/
    loongarch), not rounded.  Mirrors ``parse_crashkernel()``, kernel/crash_reserve.c.

    >>> d = decide("ro crashkernel=512M-2G:64M,2G-:128M quiet", 1948 * MiB)
    >>> d.ok, d.crash_size >> 20       # 1948M rounds up to 2G, so the second range matches
    (True, 128)
    >>> from crashplan.units import GiB
    >>> decide("crashkernel=256M crashkernel=bogus", 16 * GiB).error
    'crashkernel: memory value expected'
    """
    f = features or features_for()
    s = kernel_cmdline(cmdline)
    return _decide(s, classify_tokens(s, f), system_ram, f)


def decide_table(cmdline: str, rams: list[int], features: Features | None = None) -> tuple[Decision, ...]:
    """:func:`decide` at each RAM size of ``rams``, finding the tokens once."""
    f = features or features_for()
    s = kernel_cmdline(cmdline)
    tokens = classify_tokens(s, f)
    return tuple(_decide(s, tokens, ram, f) for ram in rams)


def _decide(s: str, tokens: list[tuple[int, int, Lookup]], system_ram: int, f: Features) -> Decision:
    out = _Out()
    picked: dict[str, int] = {}
    low_size = cma_size = 0
    high = False

    ret, crash_size, crash_base = _parse_one(s, tokens, system_ram, None, f, out, picked)
    if f.generic:
        if f.has_high and ret == _ENOENT:
            ret, crash_size, crash_base = _parse_one(s, tokens, 0, ",high", f, out, picked)
            if ret or not crash_size:
                why = out.error if ret != _ENOENT else None
                if ret == _ENOENT:
                    why = _no_plain(f) if tokens else "no crashkernel= token"
                elif not crash_size and ret == 0:
                    why = "crashkernel=0,high reserves nothing"
                return _decision(False, crash_size, crash_base, low_size, cma_size, high, why, out, picked, system_ram, f)
            ret, low_size, _ = _parse_one(s, tokens, 0, ",low", f, out, picked)
            if ret == _ENOENT:
                low_size, ret = f.default_low_size, 0
            elif ret:
                return _decision(False, crash_size, crash_base, low_size, cma_size, high, out.error, out, picked, system_ram, f)
            high = True
        if f.has_cma:
            # The return value is ignored: a malformed ",cma" token still leaves its number
            # (the kernel still logs its warning).
            cma_out = _Out()
            _, cma_size, _ = _parse_one(s, tokens, 0, ",cma", f, cma_out, picked)
            out.messages.extend(cma_out.messages)
    error = out.error if ret else None
    if ret == _ENOENT:
        error = _no_plain(f) if tokens else "no crashkernel= token"
        ret = _EINVAL
    if not crash_size:
        if ret == 0:
            error = (
                "crashkernel size resulted in zero bytes"
                if "crashkernel size resulted in zero bytes" in out.messages
                else "crashkernel size is zero"
            )
        ret = _EINVAL
    if crash_size >= system_ram and f.rejects_size_ge_ram:
        if ret == 0:
            error = f"crash_size {format_size(crash_size)} >= system RAM {format_size(system_ram)}"
        ret = _EINVAL
    return _decision(ret == 0, crash_size, crash_base, low_size, cma_size, high, error, out, picked, system_ram, f)


def _no_plain(f: Features) -> str:
    """Explain a command line whose tokens are all suffixed (so the plain lookup found nothing)."""
    if not f.has_high:
        return f"no plain crashkernel= token (,high/,low are not read on {f.arch})"
    return "no plain crashkernel= token and no crashkernel=X,high"


def _decision(
    ok: bool,
    crash_size: int,
    crash_base: int,
    low_size: int,
    cma_size: int,
    high: bool,
    error: str | None,
    out: _Out,
    picked: dict[str, int],
    system_ram: int,
    f: Features,
) -> Decision:
    return Decision(
        ok=ok,
        crash_size=crash_size,
        crash_base=crash_base,
        low_size=low_size,
        cma_size=cma_size,
        high=high,
        error=None if ok else error,
        error_span=None if ok else out.error_span,
        messages=tuple(out.messages),
        picked=tuple(sorted(picked.items())),
        system_ram=system_ram,
        features=f,
    )
