"""Whether the kdump service is enabled, and what may reset ``crashkernel=`` behind the admin's back.

Read from the systemd unit links of a source (the live host's ``/etc/systemd/system``, a
snapshot's captured links, a sosreport's copy of ``/etc/systemd``):

* Fedora/RHEL (kdump-utils) and SUSE: ``kdump.service``, ``WantedBy=multi-user.target``;
* Debian/Ubuntu (kdump-tools): ``kdump-tools.service``, linked from ``basic.target.wants``
  (``debian/kdump-tools.service``) on current releases, ``multi-user.target.wants`` on older ones;
* kdump-utils' kernel-install hook ``/usr/lib/kernel/install.d/92-crashkernel.install``
  (``_reset-crashkernel-for-installed_kernel``), masked by a same-named link to ``/dev/null``
  in ``/etc/kernel/install.d`` (kernel-install(8)).

A source that does not show the links says nothing: ``enabled`` is then None, not False.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crashplan.host.sources import Source

__all__ = ["KDUMP_UNITS", "UNIT_LINKS", "KdumpService", "read_kdump_service"]

KDUMP_UNITS = ("kdump.service", "kdump-tools.service")
_WANTS = ("multi-user.target.wants", "basic.target.wants", "default.target.wants", "sysinit.target.wants")
#: The relpaths a snapshot captures so that the service state travels with it.
UNIT_LINKS = tuple(f"etc/systemd/system/{wants}/{unit}" for wants in _WANTS for unit in KDUMP_UNITS)
_HOOK = "usr/lib/kernel/install.d/92-crashkernel.install"
_HOOK_MASK = "etc/kernel/install.d/92-crashkernel.install"


@dataclass(frozen=True, slots=True)
class KdumpService:
    """The kdump service's systemd state as the source shows it.

    ``enabled`` is True when a unit link exists, False when the source shows the unit links
    (a live host, a sosreport, a snapshot that looked for them) and none is there, None when
    it cannot tell.  ``evidence`` says which.  ``reset_hook`` is True when kdump-utils'
    kernel-install hook is installed and not masked (None: the source does not show /usr).
    """

    enabled: bool | None
    unit: str | None
    evidence: str
    reset_hook: bool | None = None


def read_kdump_service(source: Source) -> KdumpService:
    """The kdump unit's enablement in ``source``."""
    for relpath in UNIT_LINKS:
        if source.exists(relpath):
            return KdumpService(True, relpath.rsplit("/", 1)[1], f"/{relpath} exists", _hook(source))
    stored = None if source.is_live else source.snapshot_info()
    looked = stored is not None and all(p in stored.absent or f"/{p}" in stored.absent for p in UNIT_LINKS)
    if source.is_live or looked or source.exists("etc/systemd/system/multi-user.target.wants"):
        return KdumpService(False, None, "no kdump.service or kdump-tools.service link in /etc/systemd/system/*.wants", _hook(source))
    return KdumpService(None, None, "unknown: the source holds no systemd unit links")


def _hook(source: Source) -> bool | None:
    if not source.exists("usr/lib/kernel/install.d"):
        return None
    return source.exists(_HOOK) and not source.exists(_HOOK_MASK)
