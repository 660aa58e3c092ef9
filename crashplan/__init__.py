"""crashplan: size, place and explain the kdump ``crashkernel=`` reservation.

The front door (``crashplan.api``): ``open_host(path=None)`` gathers a host's facts once (the live
host, a snapshot or a sosreport), ``recommend(host)`` returns the checked :class:`Plan`:

>>> import crashplan
>>> host = crashplan.open_host("tests/data/hosts/twaite-desktop-8g")
>>> crashplan.recommend(host).cmdline.startswith("crashkernel=")
True

The names are loaded on first use, so that ``crashplan --help`` and shell completion stay fast.
"""

from __future__ import annotations

__all__ = ["Host", "NoPlanError", "Plan", "__version__", "open_host", "recommend"]

_API = frozenset({"Host", "NoPlanError", "Plan", "open_host", "recommend"})


def __getattr__(name: str) -> object:
    # importlib.metadata costs several milliseconds: read the version only when asked.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("crashplan")
        except PackageNotFoundError:
            return "0+unknown"
    if name in _API:
        from crashplan import api

        return getattr(api, name)
    raise AttributeError(name)
