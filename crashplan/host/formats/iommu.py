"""The host's IOMMUs, to tell whether an arm64 SMMU is there: ``/sys/class/iommu`` and platform devices.

Why crashplan wants it: with 64K pages an SMMUv3's queues cost the capture kernel about 384M
(rhkdump/kdump-utils ``kdump-lib.sh``: "cmdq_num * 16 bytes + evtq_num * 32B + priq_num * 16B",
added when ``has_aarch64_smmu()``, i.e. ``ls /sys/devices/platform/arm-smmu-*``, finds one; 7a2c4cb).

Authoritative sources:

* ``drivers/iommu/iommu-sysfs.c: iommu_device_sysfs_add()`` makes ``/sys/class/iommu/<name>``;
  ``drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c: arm_smmu_device_probe()`` names an SMMUv3
  ``"smmu3.%pa"`` (its MMIO base, ``smmu3.0x0000000009050000``); the SMMUv1/v2 driver
  (arm-smmu.c) ``"smmu.%pa"``; Intel VT-d uses ``dmar<N>``, AMD-Vi ``ivhd<N>``.
* Platform devices are named by firmware: ``arm-smmu-v3.<N>.auto`` from ACPI IORT
  (drivers/acpi/arm64/iort.c), ``<addr>.smmu`` from a device tree (``<addr>.iommu`` nodes are other IOMMUs too, so not counted).  The
  ``/proc/iomem`` lines of the SMMU's registers carry the same names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Iommus", "parse_iommus"]


@dataclass(frozen=True, slots=True)
class Iommus:
    """``iommus``: the ``/sys/class/iommu`` names; ``smmu``: the evidence of an arm SMMU (names)."""

    iommus: tuple[str, ...]
    smmu: tuple[str, ...]


def _is_smmu_name(name: str) -> bool:
    return name.startswith(("smmu3.", "smmu.", "arm-smmu")) or name.endswith(".smmu")


def parse_iommus(
    class_iommu: Iterable[str] = (), platform: Iterable[str] = (), iomem_names: Iterable[str] = (), *, path: str = "/sys/class/iommu"
) -> Iommus:
    """The IOMMUs and the SMMU evidence from ``/sys/class/iommu``, platform devices and iomem names.

    :param path: the listing's name (unused: names are only matched).

    >>> parse_iommus(["smmu3.0x0000000009050000"], ["arm-smmu-v3.0.auto", "serial8250"])
    Iommus(iommus=('smmu3.0x0000000009050000',), smmu=('smmu3.0x0000000009050000', 'arm-smmu-v3.0.auto'))
    >>> parse_iommus(["dmar0"]).smmu
    ()
    """
    iommus = tuple(sorted(class_iommu))
    seen: dict[str, None] = {}
    for name in (*iommus, *sorted(platform), *iomem_names):
        if _is_smmu_name(name):
            seen.setdefault(name)
    return Iommus(iommus, tuple(seen))
