"""Block devices and their device-mapper stacking, from ``/sys/block``: which LUKS devices lie under a mount.

Why crashplan wants it: only the LUKS devices in the dump path cost the capture kernel Argon2
memory.  rhkdump/kdump-utils ``kdump-lib.sh: get_luks_crypt_dev()`` walks from the dump target's
``major:minor`` down ``/sys/dev/block/<maj:min>/slaves/`` and keeps each device whose type is
``crypto_LUKS``; crashplan does the same walk with sysfs names.

Authoritative sources: ``block/genhd.c`` (``/sys/block/<disk>/dev`` and ``<disk>/<partition>/dev``
hold ``"%u:%u\\n"``), ``drivers/md/dm-sysfs.c`` (``dm/uuid``), ``block/holder.c``
(``slaves/`` links to the devices a mapping sits on), and cryptsetup's device-mapper UUIDs
``CRYPT-LUKS1-<uuid>-<name>`` / ``CRYPT-LUKS2-<uuid>-<name>`` (lib/libdevmapper.c).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt, is_decimal

__all__ = ["BlockDevices", "parse_block_devices"]


@dataclass(frozen=True, slots=True)
class BlockDevices:
    """``numbers``: ``major:minor`` -> device name; ``dm_uuids`` and ``slaves`` per device-mapper device."""

    numbers: Mapping[str, str]
    dm_uuids: Mapping[str, str]
    slaves: Mapping[str, tuple[str, ...]]

    def luks_below(self, name: str) -> tuple[str, ...]:
        """The devices holding a LUKS header under ``name`` (a dm-crypt mapping's slaves), depth first.

        >>> b = parse_block_devices({"dm-0": "253:0\\n", "dm-1": "253:1\\n", "sda2": "8:2\\n"},
        ...     dm_uuids={"dm-0": "CRYPT-LUKS2-abc-luks\\n", "dm-1": "LVM-xyz\\n"}, slaves={"dm-0": ["sda2"], "dm-1": ["dm-0"]})
        >>> b.luks_below("dm-1"), b.numbers["253:1"]
        (('sda2',), 'dm-1')
        """
        out: list[str] = []
        seen: set[str] = set()

        def walk(dev: str) -> None:
            if dev in seen:
                return
            seen.add(dev)
            below = self.slaves.get(dev, ())
            if self.dm_uuids.get(dev, "").startswith("CRYPT-LUKS"):
                out.extend(s for s in below if s not in out)
            for s in below:
                walk(s)

        walk(name)
        return tuple(out)


def parse_block_devices(
    devs: Mapping[str, str],
    *,
    dm_uuids: Mapping[str, str] | None = None,
    slaves: Mapping[str, Sequence[str]] | None = None,
    path: str = "/sys/block",
) -> BlockDevices:
    """Block devices by number from their ``dev`` files, with the device-mapper UUIDs and slaves.

    :raises SourceError: a ``dev`` file that is not ``major:minor``.
    """
    numbers: dict[str, str] = {}
    for name, text in sorted(devs.items()):
        value = text.strip()
        major, sep, minor = value.partition(":")
        if not (sep and is_decimal(major) and is_decimal(minor)):
            raise SourceError(f"expected major:minor, got {excerpt(value)}", path=f"{path}/{name}/dev", line=1)
        numbers[value] = name
    return BlockDevices(
        MappingProxyType(numbers),
        MappingProxyType({k: v.strip() for k, v in (dm_uuids or {}).items()}),
        MappingProxyType({k: tuple(v) for k, v in (slaves or {}).items()}),
    )
