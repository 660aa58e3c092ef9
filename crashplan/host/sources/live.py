"""LiveSource: the host crashplan runs on, ``DirSource("/")`` plus what /proc does not say.

``uname(2)``, the page size and the effective uid come from ``os``; the memory total and CPU
count from psutil, imported inside :meth:`LiveSource.live_info` so that importing crashplan (and
every TAB completion) does not pay for it.  Reading ``/proc/iomem`` without root works but shows
every address as 0 (``r_show()`` in kernel/resource.c prints ``start = end = 0`` for a reader
without CAP_SYS_ADMIN), which is why :class:`HostInfo` records ``root``.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
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

    def kernel_log(self) -> str | None:
        """The kernel's ring buffer as ``dmesg`` text, None when it cannot be read.

        Reads ``/dev/kmsg`` without blocking until no record is left (``EAGAIN``); a reader
        without ``CAP_SYSLOG`` under ``kernel.dmesg_restrict=1`` gets ``EPERM``, and records
        overwritten while reading give ``EPIPE`` (skipped).
        """
        from crashplan.host.formats.kmsg import parse_kmsg_records

        try:
            fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        records: list[bytes] = []
        try:
            while len(records) < 1_000_000:
                try:
                    record = os.read(fd, 16384)
                except BlockingIOError:
                    break
                except OSError as e:
                    if e.errno == errno.EPIPE:
                        continue
                    return None
                if not record:
                    break
                records.append(record)
        finally:
            os.close(fd)
        return parse_kmsg_records(records)

    def luks_dumps(self) -> dict[str, str]:
        """``cryptsetup luksDump`` of every LUKS device under an open dm-crypt mapping, by device name.

        The devices are the ``slaves/`` of ``/sys/block/dm-*`` whose ``dm/uuid`` starts with
        ``CRYPT-LUKS`` (cryptsetup ``lib/utils_dm``: ``CRYPT-<type>-<uuid>-<name>``).  Needs root
        and ``cryptsetup``; nothing when either is missing.  Salts, digests, UUID and label
        are removed (:func:`~crashplan.host.formats.luksdump.redact_luks_dump`): sizing needs
        only the version and each keyslot's PBKDF and memory.
        """
        from crashplan.host.formats.luksdump import redact_luks_dump

        cryptsetup = shutil.which("cryptsetup")
        if cryptsetup is None or os.geteuid() != 0:
            return {}
        out: dict[str, str] = {}
        for dm in sorted(self.listdir("sys/block") or ()):
            if not dm.startswith("dm-"):
                continue
            uuid = self.read_text(f"sys/block/{dm}/dm/uuid") or ""
            if not uuid.startswith("CRYPT-LUKS"):
                continue
            for slave in self.listdir(f"sys/block/{dm}/slaves") or ():
                if not re.fullmatch(r"[\w.:-]+", slave) or slave in out:
                    continue
                try:
                    done = subprocess.run(
                        [cryptsetup, "luksDump", f"/dev/{slave}"],
                        capture_output=True, text=True, timeout=20, check=False,
                    )
                except (OSError, subprocess.SubprocessError):
                    continue
                if done.returncode == 0:
                    out[slave] = redact_luks_dump(done.stdout)
        return out

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
