"""The running kernel's release as the kernel prints it: ``/proc/sys/kernel/osrelease`` and ``/proc/version``.

Authoritative sources: ``kernel/utsname_sysctl.c`` (``osrelease`` is ``utsname()->release`` and a newline)
and ``fs/proc/version.c`` (``"Linux version %s (%s@%s) (%s) %s\\n"``).
"""

from __future__ import annotations

from crashplan.errors import SourceError

__all__ = ["parse_osrelease", "parse_proc_version"]


def parse_osrelease(text: str, *, path: str = "/proc/sys/kernel/osrelease") -> str:
    """The one word of ``/proc/sys/kernel/osrelease`` (``utsname()->release`` and ``"\\n"``).

    >>> parse_osrelease("7.3.4+deb13-amd64\\n")
    '7.3.4+deb13-amd64'
    """
    body = text[:-1] if text.endswith("\n") else text
    if not body or body.split() != [body] or "\n" in body:
        raise SourceError(
            "expected one kernel release such as 6.17.0-1-amd64", path=path, line=1 if "\n" not in body else 2
        )
    return body


def parse_proc_version(text: str, *, path: str = "/proc/version") -> str:
    """The release in ``/proc/version``: ``"Linux version %s (%s@%s) (%s) %s\\n"`` (fs/proc/version.c).

    >>> parse_proc_version("Linux version 7.3.4+deb13-amd64 (debian-kernel@lists) (gcc) #1 SMP\\n")
    '7.3.4+deb13-amd64'
    """
    words = text.split(None, 3)
    if len(words) < 3 or words[0] != "Linux" or words[1] != "version" or not text.endswith("\n"):
        raise SourceError("expected 'Linux version <release> ...'", path=path, line=1)
    return words[2]
