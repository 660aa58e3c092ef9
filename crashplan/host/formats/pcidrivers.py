"""The PCI drivers a host has registered, and the devices bound to each: ``/sys/bus/pci/drivers``.

Why crashplan wants it: some drivers cost the capture kernel far more than their module size.
rhkdump/kdump-utils ``kdump-lib.sh: has_mlx5()`` tests ``[[ -d /sys/bus/pci/drivers/mlx5_core ]]``
and adds 150M (aarch64, 4K pages; 124M measured) or 200M (64K pages; 188M measured) to its
default (7a2c4cb).

Authoritative source: ``drivers/base/bus.c``, ``driver.c``: every registered driver of a bus has
a directory ``/sys/bus/<bus>/drivers/<name>/`` holding the attributes ``bind``, ``unbind``,
``uevent``, ``new_id``, ``remove_id``, a ``module`` link, and one link per bound device named
after the device (``driver_sysfs_add()``): for PCI ``DDDD:BB:DD.F`` (``pci_name()``,
drivers/pci/probe.c ``"%04x:%02x:%02x.%d"``).  A snapshot keeps the same names as empty files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["PciDrivers", "parse_pci_drivers"]

_BDF = re.compile(r"^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")


@dataclass(frozen=True, slots=True)
class PciDrivers:
    """``drivers``: each registered PCI driver -> the PCI addresses bound to it (maybe none)."""

    drivers: Mapping[str, tuple[str, ...]]

    def bound(self, name: str) -> tuple[str, ...]:
        """The devices bound to driver ``name`` (empty when it is not registered)."""
        return self.drivers.get(name, ())

    def __contains__(self, name: object) -> bool:
        return name in self.drivers


def parse_pci_drivers(listing: Mapping[str, Sequence[str]], *, path: str = "/sys/bus/pci/drivers") -> PciDrivers:
    """The drivers and their bound devices from a listing of ``/sys/bus/pci/drivers``.

    :param listing: each driver directory's name -> the names inside it.
    :param path: the directory's name (unused: names that are not PCI addresses are attributes).

    >>> d = parse_pci_drivers({"mlx5_core": ["0000:03:00.0", "bind", "module", "new_id", "uevent", "unbind"], "nvme": ["bind"]})
    >>> d.bound("mlx5_core"), "nvme" in d, d.bound("nvme")
    (('0000:03:00.0',), True, ())
    """
    return PciDrivers(MappingProxyType({
        name: tuple(sorted(e for e in entries if _BDF.match(e)))
        for name, entries in sorted(listing.items())
    }))
