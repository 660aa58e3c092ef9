"""Small frozen values shared by every layer: findings and memory ranges.

Ranges are half-open ``[start, end)`` in bytes everywhere in crashplan; the inclusive ends of
``/proc/iomem`` are converted where that file is parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

__all__ = ["Finding", "MemRange", "Severity"]

Severity = Literal["info", "warning", "error"]


class MemRange(NamedTuple):
    """A half-open physical address range ``[start, end)`` in bytes.

    A named tuple rather than a frozen dataclass: ranges sort by address, and this type is on
    the start-up path of every command (a dataclass costs a millisecond to define).
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


@dataclass(frozen=True, slots=True)
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
