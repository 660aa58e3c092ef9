"""The ``crashkernel=`` grammar: every token read into a structured value with source spans.

:func:`scan_crashkernel` / :func:`parse_crashkernel` read the tokens independently of RAM, the
way ``kernel/crash_reserve.c`` tokenises them (see :mod:`crashplan.kernel.crashkernel`), and
:func:`format_crashkernel` writes a value back (``parse(format(spec)) == spec``).  Syntax
errors carry the position and draw a caret under the fault.
"""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from crashplan._frozen import frozen
from crashplan.errors import ParseError
from crashplan.kernel.crashkernel import NAME, Lookup, TokenIndex, classify_tokens, kernel_cmdline
from crashplan.kernel.features import Features, features_for
from crashplan.units import Number, format_size, memparse
from crashplan.values import Finding

__all__ = ["MAX_SCANNED_TOKENS", "CrashkernelSpec", "CrashkernelToken", "Form", "RangeEntry", "TokenScan", "as_tokens", "clip", "format_crashkernel", "parse_crashkernel", "scan_crashkernel"]

Form = Literal["simple", "ranges", "high", "low", "cma"]


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


def clip(s: str, start: int, end: int, width: int = 40) -> str:
    """``s[start:end]`` for a message, shortened with an ellipsis past ``width`` characters."""
    if end - start <= width:
        return s[start:end]
    return s[start : start + width - 1] + "\u2026"


class _Reader:
    """A cursor over one token body, collecting notes; positions are absolute in ``source``."""

    __slots__ = ("end", "index", "notes", "pos", "source")

    def __init__(self, source: str, index: TokenIndex, pos: int, end: int) -> None:
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
                f"{clip(r.source, r.pos, r.end)!r} after the offset is ignored by the kernel",
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
        junk = clip(r.source, junk_start, r.pos)
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
    s = kernel_cmdline(text)
    index = TokenIndex(s)
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
    tokens = classify_tokens(s, f)
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
