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

__all__ = [
    "CheckReport",
    "Explanation",
    "FleetSummary",
    "Footprint",
    "Host",
    "HostResult",
    "NoPlanError",
    "Plan",
    "Simulation",
    "__version__",
    "check",
    "explain",
    "footprint",
    "open_host",
    "plan_fleet",
    "recommend",
    "simulate",
]

_API = frozenset(__all__) - {"__version__"}


def __getattr__(name: str) -> object:
    if name == "__version__":
        from crashplan._version import package_version

        return package_version()
    if name in _API:
        from crashplan import api

        return getattr(api, name)
    raise AttributeError(name)
