"""Helpers shared by the parsers in :mod:`crashplan.host.formats` (private).

Kernel-generated tables (``seq_file`` output) end every line, the last one included, with
``"\\n"``; a last line without it means the text was cut short, which is the one truncation a
parser can always detect.
"""

from __future__ import annotations

from crashplan.errors import SourceError

__all__ = ["excerpt", "is_decimal", "table_lines"]


def table_lines(text: str, *, path: str, expected: str, allow_empty: bool = False) -> list[str]:
    """Split kernel table output into lines, checking that it is neither empty nor truncated.

    Trailing blank lines are dropped.  ``expected`` describes a line, for the empty-file
    message.  With ``allow_empty`` an empty text gives ``[]`` (``/proc/modules`` with no module).

    >>> table_lines("a\\nb\\n\\n", path="f", expected="x")
    ['a', 'b']
    """
    body = text.rstrip("\n")
    if not body:
        if allow_empty and not text.strip("\n"):
            return []
        raise SourceError(f"empty file: expected {expected}", path=path, line=1)
    if not text.endswith("\n"):
        raise SourceError(
            "last line is not terminated by a newline (file truncated?)",
            path=path,
            line=body.count("\n") + 1,
        )
    return body.split("\n")


def is_decimal(text: str) -> bool:
    """True for one or more ASCII digits (``str.isdigit`` alone accepts '²' and '٣').

    >>> is_decimal("42"), is_decimal("²"), is_decimal(""), is_decimal("-1")
    (True, False, False, False)
    """
    return text.isascii() and text.isdigit()


def excerpt(text: str, limit: int = 40) -> str:
    """``repr()`` of ``text``, shortened to about ``limit`` characters, for error messages.

    >>> excerpt("abc"), excerpt("x" * 50, limit=8)
    ("'abc'", "'xxxxxxx...'")
    """
    return repr(text if len(text) <= limit else text[: limit - 1] + "...")
