"""LiveSource: the host crashplan runs on, ``DirSource("/")`` plus what /proc does not say.

``uname(2)``, the page size and the effective uid come from ``os``; the memory total and CPU
count from psutil, imported inside :meth:`LiveSource.live_info` so that importing crashplan (and
every TAB completion) does not pay for it.  Reading ``/proc/iomem`` without root works but shows
every address as 0 (``r_show()`` in kernel/resource.c prints ``start = end = 0`` for a reader
without CAP_SYS_ADMIN), which is why :class:`HostInfo` records ``root``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from crashplan.host.sources.snapshot import HostInfo, SnapshotInfo, Uname
from crashplan.host.sources.tree import DirSource

__all__ = ["LiveSource"]


@dataclass(frozen=True, slots=True, init=False)
class LiveSource(DirSource):
    """The live host: ``/proc``, ``/sys``, ``/etc`` and ``/boot`` of the machine crashplan runs on."""

    def __init__(self) -> None:
        # No zero-argument super() in a slots dataclass before Python 3.14 (gh-90562).
        DirSource.__init__(self, "/")

    @property
    def name(self) -> str:
        """``"live host"``."""
        return "live host"

    @property
    def is_live(self) -> bool:
        """True: reads change as the host runs (``proc/meminfo`` differs between two reads)."""
        return True

    def snapshot_info(self) -> SnapshotInfo | None:
        """None: the live host is not a snapshot (a stray ``/crashplan-snapshot.json`` is ignored)."""
        return None

    def live_info(self) -> HostInfo:
        """``uname``, page size, whether crashplan runs as root, and psutil's memory and CPU figures."""
        import psutil

        u = os.uname()
        return HostInfo(
            uname=Uname(
                sysname=u.sysname,
                nodename=u.nodename,
                release=u.release,
                version=u.version,
                machine=u.machine,
            ),
            page_size=os.sysconf("SC_PAGE_SIZE"),
            root=os.geteuid() == 0,
            mem_total=psutil.virtual_memory().total,
            cpu_count=psutil.cpu_count(logical=True),
        )
