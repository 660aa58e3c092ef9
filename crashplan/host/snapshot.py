"""What a snapshot stores beside the host files, and what it is called.

``crashplan snapshot`` writes the kdump kernel's and initrd's facts into ``crashplan-snapshot.json``
(``"boot"``: the files themselves are not copied) and names the directory after the host and the time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from crashplan.host.bootfiles import (
    analyse_boot_files,
    boot_files_to_json,
    find_boot_files,
    parse_stored_boot,
)

if TYPE_CHECKING:
    from crashplan.host.sources import Source

from crashplan.host.gathering import FactLog, Reader, host_info
from crashplan.host.inference import infer_kernel_release

__all__ = ["default_snapshot_name", "snapshot_extra_files"]


def snapshot_extra_files(source: Source) -> dict[str, dict[str, Any]]:
    """The ``extra_files`` a capture of ``source`` stores: the kdump kernel and initrd it found.

    For a snapshot being re-captured, its stored ``"boot"`` facts are carried over.
    """
    stored = None if source.is_live else source.snapshot_info()
    if stored is not None and "boot" in stored.files:
        boot = parse_stored_boot(stored.files["boot"], source.display("crashplan-snapshot.json"))
    else:
        r = Reader(source)
        release, _ = infer_kernel_release(r, FactLog(), host_info(source, stored), None)
        boot = analyse_boot_files(source, find_boot_files(source, release))
        if not source.is_live:
            from crashplan.host.sosreport import sos_boot_files  # a sosreport's /boot listings

            boot = sos_boot_files(source, release, boot)
            if boot.kernel is None and boot.initrd is None and not source.exists("boot"):
                return {}  # the source shows no /boot: its copy cannot say the files are missing
    return {"boot": boot_files_to_json(boot)}


def default_snapshot_name(source: Source, now: datetime | None = None) -> str:
    """``crashplan-snapshot-<hostname>-<UTC time>``, the directory ``crashplan snapshot`` writes.

    The host name is uname's nodename (of the live host, or stored in a snapshot), made safe for
    a file name; ``unknown`` when there is none.
    """
    info = host_info(source, None if source.is_live else source.snapshot_info())
    host = info.uname.nodename if info is not None and info.uname is not None else ""
    host = re.sub(r"[^A-Za-z0-9._-]", "_", host).strip(".") or "unknown"
    when = (now or datetime.now(UTC)).astimezone(UTC)
    return f"crashplan-snapshot-{host}-{when:%Y%m%dT%H%M%SZ}"
