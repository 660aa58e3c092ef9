"""crashplan: size, place and explain the kdump ``crashkernel=`` reservation.

The front door (``crashplan.api``): ``open_host(path=None)`` gathers a host's facts once (the live
host, a snapshot or a sosreport), ``recommend(host)`` returns the checked :class:`Plan`:

>>> import crashplan
>>> host = crashplan.open_host("tests/data/hosts/twaite-desktop-8g")
>>> crashplan.recommend(host).cmdline.startswith("crashkernel=")
True

The names are ``crashplan.api``'s, each loaded on first use, so that ``crashplan --help`` and
shell completion stay fast.
"""

from __future__ import annotations

from crashplan.api import __all__ as _API

__all__ = [*_API, "__version__"]


def __getattr__(name: str) -> object:
    if name == "__version__":
        from crashplan._version import package_version

        return package_version()
    if name in _API:
        from crashplan import api

        return getattr(api, name)
    raise AttributeError(name)
