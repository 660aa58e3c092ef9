"""The installed distribution's version, read from its metadata only when asked."""

from __future__ import annotations

__all__ = ["package_version"]


def package_version() -> str:
    """The version of the installed ``crashplan`` distribution, ``0+unknown`` in a bare checkout."""
    # importlib.metadata costs several milliseconds: imported here, when a version is asked for.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crashplan")
    except PackageNotFoundError:
        return "0+unknown"
