"""``/etc/os-release``: which distribution (and so which kdump tooling) a host runs.

Authoritative source: os-release(5) (freedesktop.org, systemd): newline-separated
``KEY=value`` shell-compatible assignments, values quoted when they contain anything but
``A-Za-z0-9``, comments starting with ``#``.  ``ID_LIKE`` is a space-separated list.  The
specification's defaults for absent keys (``ID=linux``, ``PRETTY_NAME="Linux"``) are *not*
applied: an absent key is ``None`` here, like every absent field in crashplan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from crashplan.host.formats._shell import parse_assignments

__all__ = ["OsRelease", "parse_os_release"]


@dataclass(frozen=True, slots=True)
class OsRelease:
    """The identifying fields of os-release; ``fields`` holds every key as written."""

    id: str | None = None
    id_like: tuple[str, ...] = ()
    version_id: str | None = None
    pretty_name: str | None = None
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), hash=False)

    def is_like(self, distro_id: str) -> bool:
        """True when ``distro_id`` is this distribution's ``ID`` or one of its ``ID_LIKE``.

        >>> parse_os_release('ID=rocky\\nID_LIKE="rhel centos fedora"\\n').is_like("fedora")
        True
        """
        return distro_id == self.id or distro_id in self.id_like


def parse_os_release(text: str, *, path: str = "/etc/os-release") -> OsRelease:
    """Parse os-release text (shell quoting is removed; nothing is expanded).

    Raises :class:`SourceError` naming the line for a line that is not an assignment, a
    comment or blank, or for an unterminated quote.

    >>> r = parse_os_release('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\\nID=debian\\nVERSION_ID="12"\\n')
    >>> r.id, r.version_id, r.pretty_name, r.id_like
    ('debian', '12', 'Debian GNU/Linux 12 (bookworm)', ())
    """
    values = {name: a.value for name, a in parse_assignments(text, path=path).items()}
    return OsRelease(
        id=values.get("ID"),
        id_like=tuple(values.get("ID_LIKE", "").split()),
        version_id=values.get("VERSION_ID"),
        pretty_name=values.get("PRETTY_NAME"),
        fields=MappingProxyType(values),
    )
