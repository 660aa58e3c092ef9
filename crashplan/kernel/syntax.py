"""The ``crashkernel=`` grammar, and the decision the kernel takes from a command line.

Authoritative source: ``kernel/crash_reserve.c`` (``parse_crashkernel()``,
``__parse_crashkernel()``, ``get_last_crashkernel()``, ``parse_crashkernel_mem()``,
``parse_crashkernel_simple()``, ``parse_crashkernel_suffix()``; in ``kernel/crash_core.c``
before the 6.9 split), summarised with every quirk in shared/reference/kernel-crashkernel.md
sections 1.1-1.10.

Two views of the same text live here:

* :func:`decide` is a literal port of ``parse_crashkernel()``: the C pointer walks become index
  walks, "past the end" reads as ``'\\0'``, and every quirk is kept (substring matching,
  space-only tokens, octal, one-letter units, lazy range validation, the unvalidated offset,
  a ``,cma`` size that survives its own parse error, an invalid plain token blocking ``,high``).
  It answers "what does the kernel do with this command line on a machine with this much RAM".
* :func:`scan_crashkernel` / :func:`parse_crashkernel` read every ``crashkernel=`` token into a
  structured value with source spans, independent of RAM, and :func:`format_crashkernel`
  writes the value back (``parse(format(spec)) == spec``).  Syntax errors carry the position
  and draw a caret under the fault.

:func:`diagnose` adds warnings with stable codes for what the kernel accepts silently but is
almost surely a mistake.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import field
from functools import lru_cache
from typing import Literal, NamedTuple

from crashplan._frozen import frozen
from crashplan.errors import ParseError
from crashplan.units import GiB, MiB, Number, format_size, memparse
from crashplan.values import Finding

__all__ = [
    "ARCHES",
    "DEFAULT_KERNEL_VERSION",
    "MAX_SCANNED_TOKENS",
    "CrashkernelSpec",
    "CrashkernelToken",
    "Decision",
    "Features",
    "KernelVersion",
    "RangeEntry",
    "TokenScan",
    "as_tokens",
    "decide",
    "decide_table",
    "diagnose",
    "features_for",
    "format_crashkernel",
    "parse_crashkernel",
    "parse_kernel_version",
    "scan_crashkernel",
]

NAME = "crashkernel="
ARCHES = ("x86_64", "arm64", "riscv64", "loongarch64", "ppc64le", "s390x")
_ARCH_ALIASES = {"aarch64": "arm64", "amd64": "x86_64", "ppc64el": "ppc64le", "loongarch": "loongarch64"}

Form = Literal["simple", "ranges", "high", "low", "cma"]
Lookup = Literal["plain", "high", "low", "cma"]


# --------------------------------------------------------------------------------------------
# Kernel versions and per-architecture switches


class KernelVersion(NamedTuple):
    """A kernel ``major.minor`` version; behaviour switches compare against it.

    A named tuple rather than a frozen dataclass: it orders like a version for free, and it
    is on the start-up path of every command (a dataclass costs a millisecond to define).
    """

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


# The newest kernel whose crashkernel= code crashplan mirrors: the Debian kernel that
# tests/kernel/ boots as the oracle (7.3.4 from trixie-backports when this was written).
DEFAULT_KERNEL_VERSION = KernelVersion(7, 3)


def parse_kernel_version(release: str) -> KernelVersion:
    """Read ``major.minor`` from a kernel release or a version given by a user.

    >>> parse_kernel_version("6.17"), parse_kernel_version("7.2.3+deb14-amd64")
    (KernelVersion(major=6, minor=17), KernelVersion(major=7, minor=2))
    >>> parse_kernel_version("4.18.0-80.11.2.el8_0.x86_64")
    KernelVersion(major=4, minor=18)
    """
    text = release.strip()
    parts = text.split(".", 2)
    if len(parts) >= 2 and parts[0].isdigit() and parts[0].isascii():
        digits = ""
        for c in parts[1]:
            if not ("0" <= c <= "9"):
                break
            digits += c
        if digits and len(parts[0]) < 6 and len(digits) < 6:
            return KernelVersion(int(parts[0]), int(digits))
    raise ParseError(
        "kernel version: expected MAJOR.MINOR such as 6.17", source=release, span=(0, max(1, len(release)))
    )


class Features(NamedTuple):
    """What one kernel build on one architecture does with ``crashkernel=``.

    (A named tuple for the same start-up reason as :class:`KernelVersion`.)

    :param suffixes: the ``suffix_tbl`` of ``get_last_crashkernel()``; ``,cma`` only from 6.17.
    :param generic: ``CONFIG_ARCH_HAS_GENERIC_CRASHKERNEL_RESERVATION`` (the ``,high``/``,cma``
        block of ``parse_crashkernel()`` is compiled in).
    :param has_high: the arch passes ``high``/``low_size`` (x86_64, arm64, riscv64, loongarch64).
    :param has_cma: the arch passes ``cma_size`` (x86_64 from 6.17, ppc64le from 6.19).
    :param cma_despite_error: the CMA area is reserved even when ``parse_crashkernel()`` fails
        (ppc64le: ``kdump_cma_reserve()`` ignores the return code, reference section 2.9).
    :param round_ram_128m: ranges match RAM rounded up to 128 MiB (since about 6.2).
    :param rejects_size_ge_ram: ``crash_size >= system_ram`` is -EINVAL (since 6.11).
    :param default_low_size: ``DEFAULT_CRASH_KERNEL_LOW_SIZE`` of the arch.
    """

    arch: str
    version: KernelVersion
    suffixes: tuple[str, ...]
    generic: bool
    has_high: bool
    has_cma: bool
    cma_despite_error: bool
    round_ram_128m: bool
    rejects_size_ge_ram: bool
    default_low_size: int

    @property
    def cma_in_suffix_table(self) -> bool:
        """True when ``,cma`` tokens are recognised (and so skipped by the plain lookup)."""
        return ",cma" in self.suffixes


_V = KernelVersion


@lru_cache(maxsize=128)
def features_for(arch: str = "x86_64", version: KernelVersion | str | None = None) -> Features:
    """The :class:`Features` of ``arch`` at kernel ``version`` (default: the newest mirrored).

    Cached: a fleet asks for the same few (arch, version) pairs for every host.

    >>> features_for("x86_64", "6.16").has_cma, features_for("x86_64", "6.17").has_cma
    (False, True)
    >>> features_for("aarch64").arch
    'arm64'
    """
    name = _ARCH_ALIASES.get(arch, arch)
    if name not in ARCHES:
        raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ARCHES)})")
    if version is None:
        v = DEFAULT_KERNEL_VERSION
    elif isinstance(version, str):
        v = parse_kernel_version(version)
    else:
        v = version
    # Since Linux kernel commit 35c18f2933c5 ("kdump: add crashkernel cma suffix") (in v6.17).
    suffixes = (",high", ",low", ",cma") if v >= _V(6, 17) else (",high", ",low")
    # x86_64 default low size: crash_low_size_default() = max(swiotlb_size_or_default() + 8M,
    # 256M), arch/x86/include/asm/crash_reserve.h; the default swiotlb is 64 MiB, so 256 MiB.
    low = {"x86_64": 256 * MiB, "arm64": 128 * MiB, "riscv64": 128 * MiB, "loongarch64": 128 * MiB}
    return Features(
        arch=name,
        version=v,
        suffixes=suffixes,
        generic=name != "s390x",
        has_high=name in ("x86_64", "arm64", "riscv64", "loongarch64"),
        # x86: commit bf8be1c36108 ("x86: implement crashkernel cma reservation") (in v6.17);
        # powerpc: "powerpc/kdump: Add support for crashkernel CMA reservation" (in v6.19).
        has_cma=(name == "x86_64" and v >= _V(6, 17)) or (name == "ppc64le" and v >= _V(6, 19)),
        cma_despite_error=name == "ppc64le",
        # "kdump: round up the total memory size to 128M for crashkernel reservation" (about v6.2).
        round_ram_128m=v >= _V(6, 2),
        # "crash: fix crash memory reserve exceed system memory bug" (in v6.11).
        rejects_size_ge_ram=v >= _V(6, 11),
        default_low_size=low.get(name, 0),
    )


# --------------------------------------------------------------------------------------------
# The kernel's decision: a literal port of parse_crashkernel()

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


class _Index:
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


def _index(s: str) -> _Index:
    return _Index(s)


def _kernel_cmdline(cmdline: str) -> str:
    """The C string the kernel sees: everything up to the first NUL."""
    nul = cmdline.find("\0")
    return cmdline if nul < 0 else cmdline[:nul]


def _classify(s: str, f: Features) -> list[tuple[int, int, Lookup]]:
    """Every token with its end and its lookup, in command-line order."""
    return [(p, end, _lookup_of(s, p, end, f.suffixes)) for p, end in _find_tokens(s)]


def _find_tokens(s: str) -> list[tuple[int, int]]:
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
    >>> decide("crashkernel=256M crashkernel=bogus", 16 * GiB).error
    'crashkernel: memory value expected'
    """
    f = features or features_for()
    s = _kernel_cmdline(cmdline)
    return _decide(s, _classify(s, f), system_ram, f)


def decide_table(cmdline: str, rams: list[int], features: Features | None = None) -> tuple[Decision, ...]:
    """:func:`decide` at each RAM size of ``rams``, finding the tokens once."""
    f = features or features_for()
    s = _kernel_cmdline(cmdline)
    tokens = _classify(s, f)
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


# --------------------------------------------------------------------------------------------
# The structured grammar: tokens with spans, parse and format


@frozen
class RangeEntry:
    """One ``start-[end]:size`` entry; ``end`` is None for an open range (``start-:size``)."""

    start: int
    end: int | None
    size: int
    span: tuple[int, int] = field(default=(0, 0), compare=False, repr=False)


@frozen
class CrashkernelToken:
    """One ``crashkernel=`` token as a value.

    ``form`` is ``simple`` (``size[@offset]``), ``ranges`` (``range:size,...[@offset]``) or the
    suffix (``high``, ``low``, ``cma``).  ``size`` is set for every form but ``ranges``;
    ``offset`` only for ``simple``/``ranges`` (None when absent).  ``span`` covers the token in
    the text it came from, ``crashkernel=`` included, and is not part of equality.
    """

    form: Form
    size: int | None = None
    offset: int | None = None
    ranges: tuple[RangeEntry, ...] = ()
    span: tuple[int, int] = field(default=(0, 0), compare=False, repr=False)

    @property
    def lookup(self) -> Lookup:
        """The ``get_last_crashkernel()`` lookup this token takes part in."""
        return "plain" if self.form in ("simple", "ranges") else self.form  # type: ignore[return-value]


@frozen
class CrashkernelSpec:
    """Every ``crashkernel=`` token of a command line, in order."""

    tokens: tuple[CrashkernelToken, ...]


@frozen
class TokenScan:
    """One token found in a command line: its value, or the syntax error that stops it.

    ``notes`` are findings about the token itself (octal, ignored units, junk after an offset).
    ``source`` is the command line as the kernel sees it (up to the first NUL).
    """

    start: int
    end: int
    lookup: Lookup
    token: CrashkernelToken | None
    error: ParseError | None
    notes: tuple[Finding, ...]
    source: str = field(compare=False, repr=False)

    @property
    def text(self) -> str:
        """The token as written, ``crashkernel=`` included."""
        return self.source[self.start : self.end]


def _clip(s: str, start: int, end: int, width: int = 40) -> str:
    """``s[start:end]`` for a message, shortened with an ellipsis past ``width`` characters."""
    if end - start <= width:
        return s[start:end]
    return s[start : start + width - 1] + "\u2026"


class _Reader:
    """A cursor over one token body, collecting notes; positions are absolute in ``source``."""

    __slots__ = ("end", "index", "notes", "pos", "source")

    def __init__(self, source: str, index: _Index, pos: int, end: int) -> None:
        self.source = source
        self.index = index
        self.pos = pos
        self.end = end
        self.notes: list[Finding] = []

    def peek(self) -> str:
        return self.source[self.pos] if self.pos < self.end else "\0"

    def fail(self, message: str, at: int | None = None, end: int | None = None) -> ParseError:
        start = self.pos if at is None else at
        return ParseError(f"crashkernel: {message}", source=self.source, span=(start, end or start + 1))

    def number(self, what: str) -> Number:
        """number = dec | "0x" hex | "0" oct , [ unit ] ;  unit = "K"|"M"|"G"|"T"|"P"|"E" (any case)"""
        num = memparse(self.source, self.pos, self.end)
        if num is None:
            found = self.peek()
            shown = "end of token" if found == "\0" else _show_char(found)
            raise self.fail(f"expected a number for the {what}, found {shown}")
        self._note_number(num, what)
        self.pos = num.end
        return num

    def _note_number(self, num: Number, what: str) -> None:
        text = self.source[num.start : num.end]
        span = (num.start, num.end)
        if num.radix == 8 and num.digits_end - num.start > 1:
            self.notes.append(
                Finding(
                    "warning",
                    "octal-number",
                    f"{what} {text!r} has a leading zero, so the kernel reads it as octal: "
                    f"{format_size(num.value)} ({num.value} bytes)",
                    span,
                )
            )
        if num.radix == 16 and num.unit is None and self.source[num.digits_end - 1] in "eE":
            self.notes.append(
                Finding(
                    "warning",
                    "hex-digit-suffix",
                    f"in {text!r} the final 'E' is a hex digit, not the exbibyte unit",
                    span,
                )
            )
        if num.overflow:
            self.notes.append(
                Finding(
                    "warning",
                    "overflow",
                    f"{what} {text!r} does not fit in 64 bits; the kernel silently wraps it to {num.value}",
                    span,
                )
            )


def _parse_body(r: _Reader, lookup: Lookup) -> CrashkernelToken:
    """token = simple | range_list | suffixed ;  chosen like ``__parse_crashkernel()`` does."""
    if lookup != "plain":
        return _parse_suffixed(r, lookup)
    if r.index.next(":", r.pos, r.end) >= 0:
        return _parse_range_list(r)
    return _parse_simple_form(r)


def _parse_suffixed(r: _Reader, lookup: Lookup) -> CrashkernelToken:
    """suffixed = number ( ",high" | ",low" | ",cma" ) ;  no ranges, no offset"""
    size = r.number("size").value
    suffix = "," + lookup
    if r.pos != r.end - len(suffix):
        found = r.peek()
        raise r.fail(f"unexpected {_show_char(found)} after the size; crashkernel=SIZE{suffix} takes no offset or range")
    r.pos = r.end
    return CrashkernelToken(form=lookup, size=size)  # type: ignore[arg-type]


def _parse_simple_form(r: _Reader) -> CrashkernelToken:
    """simple = number [ "@" [ number ] junk ] ;  the offset is not validated by the kernel"""
    size = r.number("size").value
    offset = None
    c = r.peek()
    if c == "@":
        offset = _parse_offset(r, strict=False)
    elif c != "\0":
        raise r.fail(_unrecognized(c, r))
    return CrashkernelToken(form="simple", size=size, offset=offset)


def _show_char(c: str) -> str:
    """A character for a message; a byte that is not UTF-8 (a surrogate escape) as its value.

    >>> _show_char("x"), _show_char(b"\\xff".decode("utf-8", "surrogateescape"))
    ("'x'", 'byte 0xff')
    """
    if "\udc80" <= c <= "\udcff":
        return f"byte 0x{ord(c) - 0xDC00:02x}"
    return repr(c)


def _unrecognized(c: str, r: _Reader) -> str:
    if c == "\t" or c == "\n":
        return f"unrecognized char {c!r}: only a space separates kernel parameters"
    if c.isalpha() and r.source[r.pos - 1 : r.pos].isalpha():
        return f"unrecognized char {c!r}: units are one letter (K, M, G, T, P, E), without 'B'"
    return f"unrecognized char {_show_char(c)}"


def _parse_offset(r: _Reader, *, strict: bool) -> int | None:
    """offset = "@" number junk? ;  in the simple form an empty or bad offset means automatic"""
    at = r.pos
    r.pos += 1
    num = memparse(r.source, r.pos, r.end)
    if num is None:
        if strict:
            raise r.fail("expected a number after '@'")
        r.notes.append(
            Finding(
                "warning",
                "offset-ignored",
                "no number after '@': the kernel ignores the offset and places the area itself",
                (at, r.end),
            )
        )
        r.pos = r.end
        return None
    r.number("offset")
    if r.pos < r.end:
        r.notes.append(
            Finding(
                "warning",
                "junk-after-offset",
                f"{_clip(r.source, r.pos, r.end)!r} after the offset is ignored by the kernel",
                (r.pos, r.end),
            )
        )
        r.pos = r.end
    return num.value


def _parse_range_list(r: _Reader) -> CrashkernelToken:
    """range_list = range ":" number { "," range ":" number } [ junk ] [ "@" number ] ;
    range = number "-" [ number ]"""
    entries = []
    while True:
        first = r.pos
        start = r.number("range start")
        if r.peek() != "-":
            raise r.fail(f"expected '-' after the range start {r.source[start.start:start.end]!r}")
        r.pos += 1
        end_value = None
        if r.peek() != ":":
            if not r.peek().isdigit() or not r.peek().isascii():
                raise r.fail(f"expected ':' after range {r.source[first:r.pos]!r}")
            end = r.number("range end")
            if end.value <= start.value:
                raise r.fail("range end <= start", at=start.start, end=end.end)
            end_value = end.value
        if r.peek() != ":":
            raise r.fail(f"expected ':' after range {r.source[first:r.pos]!r}")
        r.pos += 1
        size = r.number("size")
        entries.append(RangeEntry(start.value, end_value, size.value, (first, r.pos)))
        if r.peek() != ",":
            break
        r.pos += 1
    offset = None
    if r.pos < r.end and r.peek() != "@":
        junk_start = r.pos
        at = r.index.next("@", r.pos, r.end)
        r.pos = r.end if at < 0 else at
        junk = _clip(r.source, junk_start, r.pos)
        kind = "unit-ignored" if junk[:1].isalpha() else "junk-after-range"
        r.notes.append(
            Finding(
                "warning",
                kind,
                f"{junk!r} after the last size read is skipped when that range matches; when it "
                "does not, the kernel stops reading the list here and reserves nothing",
                (junk_start, r.pos),
            )
        )
    if r.peek() == "@":
        offset = _parse_offset(r, strict=True)
    return CrashkernelToken(form="ranges", ranges=tuple(entries), offset=offset)


def scan_crashkernel(text: str, features: Features | None = None) -> tuple[TokenScan, ...]:
    """Every ``crashkernel=`` token of a command line, each parsed or with its syntax error.

    Tokens are found the way the kernel finds them (substrings, ended by a space only); the
    token values do not depend on RAM.
    """
    f = features or features_for()
    s = _kernel_cmdline(text)
    index = _index(s)
    scans = []
    for p, end, lookup in _scanned_tokens(s, f):
        r = _Reader(s, index, p + len(NAME), end)
        value = error = None
        try:
            value = _parse_body(r, lookup)
        except ParseError as e:
            error = e
        if value is not None:
            value = CrashkernelToken(value.form, value.size, value.offset, value.ranges, (p, end))
        scans.append(TokenScan(p, end, lookup, value, error, tuple(r.notes), s))
    return tuple(scans)


# A real command line holds a handful of tokens; past this many only the last token of each
# lookup (what the kernel reads) is analysed as well, so hostile input stays cheap.
MAX_SCANNED_TOKENS = 1000


def _scanned_tokens(s: str, f: Features) -> list[tuple[int, int, Lookup]]:
    tokens = _classify(s, f)
    if len(tokens) <= MAX_SCANNED_TOKENS:
        return tokens
    last = {lookup: (p, end, lookup) for p, end, lookup in tokens}
    head = tokens[:MAX_SCANNED_TOKENS]
    return head + sorted(t for t in last.values() if t not in head)


def parse_crashkernel(text: str, features: Features | None = None) -> CrashkernelSpec:
    """Parse a command line (or one or more ``crashkernel=`` tokens) into a spec.

    A bare value such as ``256M`` or ``1G,high`` is read as ``crashkernel=256M``.  Raises
    :class:`ParseError` for the first token with a syntax error, or when there is no token.

    >>> spec = parse_crashkernel("crashkernel=1G-4G:192M,4G-:256M crashkernel=1G,cma")
    >>> [t.form for t in spec.tokens]
    ['ranges', 'cma']
    """
    source = as_tokens(text)
    scans = scan_crashkernel(source, features)
    if not scans:
        raise ParseError("crashkernel: no crashkernel= token found", source=source, span=(0, max(1, len(source))))
    for scan in scans:
        if scan.error is not None:
            raise scan.error
    return CrashkernelSpec(tuple(scan.token for scan in scans if scan.token is not None))


def as_tokens(text: str) -> str:
    """Prefix ``crashkernel=`` to bare values: ``256M ro 1G,cma`` -> ``crashkernel=256M ro crashkernel=1G,cma``.

    Only a word that starts with a digit is a bare value; text that already holds a
    ``crashkernel=`` token is returned as it is.
    """
    if NAME in text:
        return text
    return " ".join(NAME + w if w[:1].isdigit() and w[:1].isascii() else w for w in text.split(" "))


def format_crashkernel(value: CrashkernelSpec | CrashkernelToken) -> str:
    """Write a spec or a token back as kernel command-line text, canonical units.

    >>> format_crashkernel(parse_crashkernel("crashkernel=0x10000000@0x1000000"))
    'crashkernel=256M@16M'
    >>> format_crashkernel(parse_crashkernel("crashkernel=1024M-:512M,high"))
    Traceback (most recent call last):
    ...
    crashplan.errors.ParseError: crashkernel: unexpected '-' after the size; crashkernel=SIZE,high takes no offset or range
        crashkernel=1024M-:512M,high
                         ^
    """
    if isinstance(value, CrashkernelSpec):
        return " ".join(format_crashkernel(t) for t in value.tokens)
    t = value
    if t.form == "ranges":
        parts = []
        for e in t.ranges:
            end = "" if e.end is None else format_size(e.end)
            parts.append(f"{format_size(e.start)}-{end}:{format_size(e.size)}")
        body = ",".join(parts)
    else:
        assert t.size is not None
        body = format_size(t.size)
    if t.form in ("simple", "ranges"):
        if t.offset is not None:
            body += "@" + format_size(t.offset)
    else:
        body += "," + t.form
    return NAME + body


# --------------------------------------------------------------------------------------------
# Warnings: what the kernel accepts silently but is almost surely a mistake


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
    s = _kernel_cmdline(text)
    findings: list[Finding] = []
    count = s.count(NAME) if len(s) // len(NAME) > MAX_SCANNED_TOKENS else len(_find_tokens(s))
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
    index = _index(s)
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


def _token_findings(s: str, index: _Index, scan: TokenScan) -> list[Finding]:
    out = []
    if scan.start > 0 and s[scan.start - 1] != " ":
        word_start = index.prev_space(scan.start) + 1
        word = _clip(s, word_start, scan.end)
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
        out.append(Finding("warning", "endless-retry", "on riscv64 with all RAM below 4 GiB the low and high windows coincide: if this size cannot be placed, the kernel retries forever and the boot hangs (kernel-crashkernel reference 2.2 item 4)", (plain.start, plain.end) if plain else None))
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
