"""Small frozen values shared by every layer: findings and memory ranges.

Ranges are half-open ``[start, end)`` in bytes everywhere in crashplan; the inclusive ends of
``/proc/iomem`` are converted where that file is parsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field, fields
from typing import Any, Literal, NamedTuple, TypeVar

from crashplan._frozen import frozen

__all__ = ["REPORT_WIDTH", "Finding", "MemRange", "Severity", "build_columns", "wrap_report"]

# The plain-text reports (facts, check, explain) read the same in a terminal, a pipe and a bug
# report: they wrap at one width, a terminal's classic 80 columns, whatever the terminal is.
REPORT_WIDTH = 80

_T = TypeVar("_T")

Severity = Literal["info", "warning", "error"]


class MemRange(NamedTuple):
    """A half-open physical address range ``[start, end)`` in bytes.

    A named tuple rather than a frozen dataclass: ranges sort by address, and this type is on
    the start-up path of every command (even a ``@frozen`` class costs a third of a millisecond
    to define, a ``@dataclass`` one a millisecond).
    """

    start: int
    end: int

    @property
    def size(self) -> int:
        """Bytes covered by the range."""
        return self.end - self.start

    def __contains__(self, address: object) -> bool:
        """``address in r``: whether the address lies in the range (not tuple membership)."""
        return isinstance(address, int) and self.start <= address < self.end


@frozen
class Finding:
    """Something crashplan wants the user to know, with a stable ``code`` for scripts.

    ``span`` points into the text the finding is about (a command line), when there is one.
    """

    severity: Severity
    code: str
    message: str
    span: tuple[int, int] | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, object]:
        """The finding as a JSON-ready object."""
        out: dict[str, object] = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.span is not None:
            out["start"], out["end"] = self.span
        return out


def build_columns(cls: type[_T], count: int, columns: dict[str, Sequence[Any]]) -> list[_T]:
    """``count`` instances of the dataclass ``cls``, the field values given by column.

    Every field must have a column of exactly ``count`` values; no default applies.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if sorted(columns) != sorted(names):
        raise TypeError(f"{cls.__name__} columns {sorted(columns)} != fields {sorted(names)}")
    if any(len(column) != count for column in columns.values()):
        raise ValueError(f"every column of {cls.__name__} must hold {count} values")
    return [cls(*row) for row in zip(*(columns[name] for name in names), strict=True)]


def wrap_report(text: str, width: int = REPORT_WIDTH) -> str:
    """``text`` with each line longer than ``width`` wrapped at spaces, continued two columns right of its indent.

    A word longer than the line (a path, a command line token) is kept whole.

    >>> print(wrap_report("  warning w: " + "word " * 20, width=40))
      warning w: word word word word word
        word word word word word word word
        word word word word word word word
        word
    """
    import textwrap

    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
        out.extend(textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False, drop_whitespace=True) or [line])
    return "\n".join(out)
