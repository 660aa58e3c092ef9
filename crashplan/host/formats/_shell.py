"""A small reader for shell-variable files: ``/etc/os-release``, ``/etc/sysconfig/*``, ``/etc/default/*``.

Authoritative sources: POSIX ``sh`` quoting (XCU 2.2 "Quoting": backslash, single quotes,
double quotes) and os-release(5), which restricts these files to ``KEY=value`` assignments,
comments and blank lines.  distro tools ``source`` them with ``sh``; crashplan does not run
them, so this reader accepts exactly the subset such files are written in and reports
anything else (a command, an unterminated quote) as an error naming the line:

* ``KEY=value``, ``KEY="double quoted"``, ``KEY='single quoted'``, and concatenations such as
  ``KEY="a"'b'c``; an optional ``export`` in front; ``export KEY`` alone is ignored;
* ``#`` starts a comment at the beginning of a word; blank lines are ignored;
* a backslash escapes the next character outside quotes; inside double quotes it escapes only
  ``$ ` " \\`` and a newline; a backslash-newline continues the line; quoted values may span lines;
* ``$VAR`` and `` `cmd` `` are **not** expanded: the text is kept as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from crashplan.errors import SourceError

__all__ = ["Assignment", "parse_assignments"]

_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
# Characters that end an unquoted word or make the line more than an assignment.
_BLANKS = " \t"
_META = frozenset(";&|<>()`")
_DQ_ESCAPABLE = frozenset('$`"\\\n')


@dataclass(frozen=True, slots=True)
class Assignment:
    """One ``KEY=value`` assignment: the value after quote removal and its 1-based line."""

    name: str
    value: str
    line: int


def parse_assignments(text: str, *, path: str) -> dict[str, Assignment]:
    """Read every assignment of a shell-variable file; a later assignment of a name wins.

    >>> a = parse_assignments('A=1\\nexport B="x y" # note\\nC=\\'q\\'"r"\\n', path="f")
    >>> [(k, v.value) for k, v in a.items()]
    [('A', '1'), ('B', 'x y'), ('C', 'qr')]
    """
    out: dict[str, Assignment] = {}
    lines = text.split("\n")
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        stripped = line.strip(_BLANKS)
        if not stripped or stripped[0] == "#":
            i += 1
            continue
        if "\\" not in line and '"' not in line and "'" not in line:
            # Fast path for the common "KEY=value" line without any quoting.
            assignment = _simple_line(stripped, i + 1, path)
            if assignment is not None:
                out[assignment.name] = assignment
            i += 1
            continue
        assignment, i = _scan_line(lines, i, path)
        if assignment is not None:
            out[assignment.name] = assignment
    return out


def _simple_line(stripped: str, lineno: int, path: str) -> Assignment | None:
    """Parse a line that has no quotes and no backslashes."""
    words = stripped.split()
    for k, word in enumerate(words):
        if word[0] == "#":  # a comment starts at the beginning of a word
            del words[k:]
            break
    for word in words:
        bad = next((c for c in word if c in _META), None)
        if bad is not None:
            raise SourceError(
                f"unquoted {bad!r} (shell syntax crashplan does not run)", path=path, line=lineno
            )
    return _assignment(words, lineno, path)


def _scan_line(lines: list[str], i: int, path: str) -> tuple[Assignment | None, int]:
    """Character-level scan of one logical line starting at ``lines[i]`` (quotes, escapes).

    Returns the assignment (or None for ``export KEY`` alone) and the index of the next line.
    """
    start_line = i + 1
    text = lines[i]
    pos = 0
    words: list[str] = []
    while True:
        while pos < len(text) and text[pos] in _BLANKS:
            pos += 1
        if pos >= len(text) or text[pos] == "#":
            break
        word, pos, i, text = _scan_word(lines, i, text, pos, path)
        words.append(word)
    return _assignment(words, start_line, path), i + 1


def _assignment(words: list[str], lineno: int, path: str) -> Assignment | None:
    """Turn the words of one line into an assignment (None for ``export KEY`` alone)."""
    if not words:
        return None
    exported = words[0] == "export" and len(words) > 1
    if exported:
        words = words[1:]
    if len(words) > 1:
        raise SourceError(
            f"unexpected {_short(words[1])} after the value (quote values that contain spaces)",
            path=path,
            line=lineno,
        )
    name, eq, value = words[0].partition("=")
    if not eq:
        if exported:
            _check_name(name, lineno, path)
            return None  # "export KEY" marks a variable for export and assigns nothing
        raise SourceError(f"expected KEY=value, got {_short(words[0])}", path=path, line=lineno)
    _check_name(name, lineno, path)
    return Assignment(name, value, lineno)


def _scan_word(
    lines: list[str], i: int, text: str, pos: int, path: str
) -> tuple[str, int, int, str]:
    """Read one shell word from ``text[pos:]``, removing quotes; may continue onto later lines.

    Returns the word, the position after it, and the (possibly advanced) line index and text.
    The ``=`` of an assignment stays in the word; ``NAME=`` is split off by the caller.
    """
    out: list[str] = []
    n = len(text)
    while pos < n:
        c = text[pos]
        if c in _BLANKS:
            break
        if c == "\\":
            if pos + 1 < n:
                out.append(text[pos + 1])
                pos += 2
            else:  # backslash-newline: continue on the next line
                i, text, pos, n = _next_line(lines, i, path, "a line continuation '\\'")
            continue
        if c == "'":
            opened = i + 1
            close = text.find("'", pos + 1)
            chunk_start = pos + 1
            while close < 0:
                out.append(text[chunk_start:])
                out.append("\n")
                i, text, pos, n = _next_line(lines, i, path, 'a quote "\'"', opened)
                chunk_start = 0
                close = text.find("'")
            out.append(text[chunk_start:close])
            pos = close + 1
            continue
        if c == '"':
            opened = i + 1
            pos += 1
            while True:
                if pos >= n:
                    out.append("\n")
                    i, text, pos, n = _next_line(lines, i, path, "a quote '\"'", opened)
                    continue
                c = text[pos]
                if c == '"':
                    pos += 1
                    break
                if c == "\\":
                    if pos + 1 >= n:  # backslash-newline inside double quotes: removed
                        i, text, pos, n = _next_line(lines, i, path, "a quote '\"'", opened)
                        continue
                    nxt = text[pos + 1]
                    if nxt in _DQ_ESCAPABLE:
                        out.append(nxt)
                    else:
                        out.append("\\" + nxt)
                    pos += 2
                    continue
                out.append(c)
                pos += 1
            continue
        if c in _META:
            raise SourceError(
                f"unquoted {c!r} (shell syntax crashplan does not run)", path=path, line=i + 1
            )
        out.append(c)
        pos += 1
    return "".join(out), pos, i, text


def _next_line(
    lines: list[str], i: int, path: str, what: str, opened: int | None = None
) -> tuple[int, str, int, int]:
    """Advance to the next physical line, or raise if the file ends inside ``what``."""
    if i + 1 >= len(lines):
        raise SourceError(
            f"end of file inside {what} opened here",
            path=path,
            line=opened if opened is not None else i + 1,
        )
    text = lines[i + 1]
    return i + 1, text, 0, len(text)


def _check_name(name: str, lineno: int, path: str) -> None:
    """Raise unless ``name`` is a shell variable name."""
    if not name or name[0] not in _NAME_START or any(c not in _NAME_CHARS for c in name):
        raise SourceError(f"{_short(name)} is not a shell variable name", path=path, line=lineno)


def _short(text: str, limit: int = 40) -> str:
    """``repr()`` of ``text``, shortened to about ``limit`` characters."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "...")
