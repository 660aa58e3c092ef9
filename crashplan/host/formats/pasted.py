"""Captures pasted from bug reports and mailing lists: what copying adds to a kernel table, and skipping it.

Authoritative source: the printers of each file, whose shape the line patterns here follow
loosely (``kernel/resource.c: r_show()`` for /proc/iomem, ``fs/proc/meminfo.c:
meminfo_proc_show()``, ``mm/vmstat.c: zoneinfo_show()`` and ``frag_show()``); each parser checks
that shape strictly.  A capture that went through a mail client or an editor picks up blank lines, loses
the trailing space of a nameless iomem resource (``7e810000-7e810fff : `` printed for a
resource whose name is empty), collects lines a person typed (``[ PCI stuff ]``), and may
end every line with CRLF.

:func:`parse_tolerant` first parses strictly; when the parser rejects a line that is blank or
has none of the file's line shape, that line is dropped (a nameless iomem resource gets its
space back) and the parse is retried, each repair a warning naming the file and line.  A line
in the file's shape that is still wrong (an end before its start, a cut last line) is the
parser's error, as before: only what copying adds is forgiven.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from crashplan.errors import SourceError
from crashplan.values import Finding

__all__ = ["LINE_SHAPES", "parse_tolerant"]

_T = TypeVar("_T")

# What a line of each file looks like, loosely: a line without this shape was not printed by
# the kernel.  Lines in the shape are left to the parser's own checks.
LINE_SHAPES: dict[str, re.Pattern[str]] = {
    "iomem": re.compile(r" *[0-9a-fA-F]+-[0-9a-fA-F]+ : .*"),
    "meminfo": re.compile(r"[A-Za-z][\w()]*:\s*\d.*"),
    "buddyinfo": re.compile(r"Node\s+\d+,\s+zone\s+.*"),
    "zoneinfo": re.compile(r"(Node\s+\d+,\s+zone\s+.*|\s+\S.*)"),
}
_NAMELESS = re.compile(r" *[0-9a-fA-F]+-[0-9a-fA-F]+ :")
_MAX_REPAIRS = 1000


def parse_tolerant(
    parse: Callable[[str], _T], text: str, *, path: str, kind: str, findings: list[Finding]
) -> _T:
    """``parse(text)``, skipping the lines copying added; each repair is appended to ``findings``.

    :raises SourceError: the parser's error for a line that is in the file's shape, or when
        nothing is left; its line number counts the lines of ``text`` as given.

    >>> from crashplan.host.formats.iomem import parse_iomem
    >>> notes = []
    >>> m = parse_tolerant(lambda t: parse_iomem(t, path="iomem"), "00000000-0fffffff : System RAM\\n\\n"
    ...                    "[ PCI stuff ]\\n10000000-1000ffff :\\n", path="iomem", kind="iomem", findings=notes)
    >>> [r.name for r in m.resources], [n.message for n in notes]
    (['System RAM', ''], ['iomem:2: blank line skipped', "iomem:3: skipped '[ PCI stuff ]': not a line of iomem", 'iomem:4: nameless resource: its trailing space restored'])
    """
    try:
        return parse(text)
    except SourceError as e:
        first = error = e
    shape = LINE_SHAPES[kind]
    notes: list[Finding] = []
    if "\r\n" in text:
        # A paste saved on Windows: the kernel never prints a carriage return.
        text = text.replace("\r\n", "\n")
        notes.append(Finding("warning", "pasted-line-repaired", f"{path}: CRLF line endings read as LF"))
        try:
            result = parse(text)
        except SourceError as e:
            error = e
        else:
            findings.extend(notes)
            return result
    lines = text.split("\n")
    numbers = list(range(1, len(lines) + 1))
    for _ in range(_MAX_REPAIRS):
        i = (error.line or 0) - 1
        # The last element is what follows the final newline; a cut last line is a real error.
        if not 0 <= i < len(lines) - 1 or "not terminated by a newline" in error.message:
            break
        line = lines[i]
        where = f"{path}:{numbers[i]}"
        if kind == "iomem" and _NAMELESS.fullmatch(line):
            lines[i] = line + " "
            notes.append(Finding("warning", "pasted-line-repaired", f"{where}: nameless resource: its trailing space restored"))
        elif not line.strip():
            del lines[i], numbers[i]
            notes.append(Finding("warning", "pasted-line-skipped", f"{where}: blank line skipped"))
        elif not shape.fullmatch(line):
            del lines[i], numbers[i]
            shown = line if len(line) <= 40 else line[:39] + "..."
            notes.append(Finding("warning", "pasted-line-skipped", f"{where}: skipped {shown!r}: not a line of {kind}"))
        else:
            break
        try:
            result = parse("\n".join(lines))
        except SourceError as e:
            error = e
            continue
        findings.extend(notes)
        return result
    if error is first:
        raise first
    at = numbers[error.line - 1] if error.line is not None and 0 < error.line <= len(numbers) else error.line
    raise SourceError(error.message, path=error.path, line=at, hint=error.hint, code=error.code) from error
