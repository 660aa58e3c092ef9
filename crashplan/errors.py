"""The one error hierarchy of crashplan, and the exit codes the CLI maps it to.

Every error the core raises is a :class:`CrashplanError`.  The CLI (``cli.main``) is the one
place that turns an error into a message on stderr and an exit code; the core never prints
and never exits.

Exit codes (documented in README and ``crashplan --help``):

====  =====================================================================
0     success
1     an unexpected bug (Python's own traceback status, left alone)
2     usage error (bad option, contradictory options; click's default)
3     bad input: an unreadable or garbled source, a bad profile, an unparsable ``crashkernel=``
4     ``crashplan check`` found error-level findings (with ``--strict``: warnings too)
====  =====================================================================
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "CrashplanError",
    "ExitCode",
    "ParseError",
    "ProfileError",
    "SourceError",
    "UsageError",
]


class ExitCode(IntEnum):
    """Process exit status of the ``crashplan`` command."""

    OK = 0
    BUG = 1
    USAGE = 2
    BAD_INPUT = 3
    FINDINGS = 4


class CrashplanError(Exception):
    """Base class of every error crashplan raises on purpose.

    ``code`` is a stable machine-readable identifier used in JSON output.
    """

    exit_code: ExitCode = ExitCode.BAD_INPUT
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def one_line(self) -> str:
        """The error as one line, for stderr and JSON."""
        return self.message

    def to_json(self) -> dict[str, object]:
        """The error as a JSON-ready object with a stable ``code``."""
        return {"code": self.code, "message": self.one_line()}


class UsageError(CrashplanError):
    """Options that contradict each other or cannot apply (exit 2)."""

    exit_code = ExitCode.USAGE
    code = "usage"


class ParseError(CrashplanError):
    """A syntax error in a ``crashkernel=`` string or a size, with the source and the span at fault.

    ``str()`` draws the source with a caret under the fault, like pypa/packaging's
    ``ParserSyntaxError``:

    >>> print(ParseError("expected ':' after range", source="1G-4G,2G", span=(5, 6)))
    expected ':' after range
        1G-4G,2G
             ^
    """

    code = "syntax"

    def __init__(
        self,
        message: str,
        *,
        source: str,
        span: tuple[int, int],
        code: str | None = None,
        origin: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.source = source
        self.span = span
        self.origin = origin

    def caret(self) -> str:
        """The source line and a caret line marking the span (tabs kept so columns line up)."""
        start, end = self.span
        shown = _printable(self.source)
        marker = "".join("\t" if c == "\t" else " " for c in shown[:start])
        width = max(1, min(end, len(shown)) - start)
        return f"    {shown}\n    {marker}{'^' * width}"

    def one_line(self) -> str:
        where = f"{self.origin}: " if self.origin else ""
        return f"{where}{self.message} (at column {self.span[0] + 1})"

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "source": self.source,
            "start": self.span[0],
            "end": self.span[1],
        }

    def __str__(self) -> str:
        return f"{self.message}\n{self.caret()}"


class SourceError(CrashplanError):
    """A host source (live host, snapshot, archive) that cannot be read or is garbled."""

    code = "source"

    def __init__(
        self,
        message: str,
        *,
        path: str,
        line: int | None = None,
        hint: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.path = path
        self.line = line
        self.hint = hint

    def one_line(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}: {self.message}{hint}"

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "hint": self.hint,
        }

    __str__ = one_line


class ProfileError(CrashplanError):
    """A profile file that does not validate; ``problems`` holds every problem found."""

    code = "profile"

    def __init__(
        self,
        message: str,
        *,
        file: str,
        line: int | None = None,
        column: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.file = file
        self.line = line
        self.column = column

    def one_line(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"

    __str__ = one_line


def _printable(text: str) -> str:
    """Replace control characters (except tab) so a caret line stays one line."""
    return "".join(c if c == "\t" or c.isprintable() else "\ufffd" for c in text)
