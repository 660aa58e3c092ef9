"""The reading of a source while its facts are gathered: files read once, absences and provenance recorded.

:class:`Reader` reads a source's files once each, recording the absent and the unreadable
optional ones; :class:`FactLog` collects the provenance of every fact and the findings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from crashplan.errors import SourceError
from crashplan.values import Finding, Severity

if TYPE_CHECKING:
    from crashplan.host.sources import HostInfo, SnapshotInfo, Source



__all__ = ["FactLog", "Reader", "host_info", "where_stored"]


_P = TypeVar("_P")


class Reader:
    """Reads files of a source, recording absences and (for optional files) unreadable ones."""

    __slots__ = ("absent", "cache", "findings", "source")

    def __init__(self, source: Source) -> None:
        self.source = source
        self.cache: dict[str, str | None] = {}
        self.absent: list[str] = []
        self.findings: list[Finding] = []

    def text(self, relpath: str) -> str | None:
        """The file's text, None when absent; unreadable optional files count as absent."""
        if relpath in self.cache:
            return self.cache[relpath]
        self.cache[relpath] = text = self._read(relpath)
        return text

    def _read(self, relpath: str) -> str | None:
        try:
            text = self.source.read_text(relpath)
        except SourceError as e:
            # /proc is what crashplan is about: an unreadable file there is an error.  An
            # unreadable /etc or /sys file (a 0600 config) only costs that fact.
            if relpath.startswith("proc/") or e.code != "unreadable":
                raise
            self.findings.append(
                Finding("warning", "unreadable-file", f"/{relpath}: {e.one_line()}; treated as absent")
            )
            self.absent.append("/" + relpath)
            return None
        if text is None:
            self.absent.append("/" + relpath)
        return text

    def first(self, *relpaths: str) -> tuple[str | None, str]:
        """The text of the first of ``relpaths`` present, and its relpath.

        When none is present only the first (the usual name) is recorded as absent.
        """
        for relpath in relpaths:
            text = self.text(relpath)
            if text is not None:
                return text, relpath
        for relpath in relpaths[1:]:
            self.absent.remove("/" + relpath)
        return None, relpaths[0]

    def path(self, relpath: str) -> str:
        return self.source.display(relpath)

    def parse(self, relpath: str, kind: str, parse: Callable[[str, str], _P]) -> _P:
        """Parse a /proc table, skipping what pasting a capture adds (:mod:`crashplan.host.formats.pasted`)."""

        text = self.cache[relpath]
        assert text is not None
        path = self.path(relpath)
        try:
            return parse(text, path)
        except SourceError:
            pass  # the tolerant reading below parses again and raises the error if it stands
        from crashplan.host.formats.pasted import parse_tolerant

        return parse_tolerant(lambda t: parse(t, path), text, path=path, kind=kind, findings=self.findings)


class FactLog:
    """The facts and their provenance while they are being gathered."""

    __slots__ = ("findings", "prov")

    def __init__(self) -> None:
        self.prov: dict[str, str] = {}
        self.findings: list[Finding] = []

    def note(self, severity: Severity, code: str, message: str) -> None:
        self.findings.append(Finding(severity, code, message))


def host_info(source: Source, stored: SnapshotInfo | None) -> HostInfo | None:
    """uname, page size, root and psutil figures: the live host's, or the snapshot's stored ones."""
    if source.is_live:
        live_info = getattr(source, "live_info", None)
        return None if live_info is None else live_info()
    return None if stored is None else stored.host


def where_stored(source: Source) -> str:
    return "of the live host" if source.is_live else "stored in crashplan-snapshot.json"
