"""Every captured host tree parses with every parser, and the files of one host agree with each other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from crashplan.host.formats.buddyinfo import parse_buddyinfo
from crashplan.host.formats.cmdline import parse_cmdline
from crashplan.host.formats.cpulist import parse_cpulist
from crashplan.host.formats.iomem import crash_kernel, parse_iomem, system_ram
from crashplan.host.formats.meminfo import parse_meminfo
from crashplan.host.formats.osrelease import parse_os_release
from crashplan.host.formats.sysfs import (
    parse_cma_ranges,
    parse_kexec_crash_loaded,
    parse_kexec_crash_size,
)
from crashplan.host.formats.zoneinfo import parse_zoneinfo

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"
PAGE = 4096

PARSERS: dict[str, Callable[..., object]] = {
    "proc/iomem": parse_iomem,
    "proc/meminfo": parse_meminfo,
    "proc/cmdline": parse_cmdline,
    "proc/buddyinfo": parse_buddyinfo,
    "proc/zoneinfo": parse_zoneinfo,
    "sys/devices/system/cpu/online": parse_cpulist,
    "sys/devices/system/cpu/possible": parse_cpulist,
    "sys/kernel/kexec_crash_size": parse_kexec_crash_size,
    "sys/kernel/kexec_crash_loaded": parse_kexec_crash_loaded,
    "sys/kernel/kexec_crash_cma_ranges": parse_cma_ranges,
    "etc/os-release": parse_os_release,
}

CAPTURED = sorted(
    (host.name, rel)
    for host in HOSTS.iterdir()
    if host.is_dir()
    for rel in PARSERS
    if (host / rel).is_file()
)


def read(host: str, rel: str) -> str:
    """A captured file, byte-exact."""
    return (HOSTS / host / rel).read_bytes().decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(("host", "rel"), CAPTURED)
def test_every_captured_file_parses(host: str, rel: str) -> None:
    """Every file of every captured host tree (other engineers' QEMU captures included) parses."""
    PARSERS[rel](read(host, rel), path=f"{host}/{rel}")


def _root_iomem_and_meminfo(host: Path) -> bool:
    """True for hosts with a meminfo and an iomem captured as root (addresses visible)."""
    if not ((host / "proc/iomem").is_file() and (host / "proc/meminfo").is_file()):
        return False
    return parse_iomem(read(host.name, "proc/iomem")).addresses_visible


@pytest.mark.parametrize(
    "host", sorted(h.name for h in HOSTS.iterdir() if h.is_dir() and _root_iomem_and_meminfo(h))
)
def test_memtotal_is_below_system_ram(host: str) -> None:
    """MemTotal plus the Crash kernel areas (not in MemTotal) stays within 10% below System RAM."""
    iomem = parse_iomem(read(host, "proc/iomem"))
    mem_total = parse_meminfo(read(host, "proc/meminfo")).mem_total
    assert mem_total is not None
    ram = sum(r.size for r in system_ram(iomem))
    crash = sum(r.size for r in crash_kernel(iomem))
    assert 0.9 * ram < mem_total + crash < ram


def test_coreos_present_pages_equal_system_ram() -> None:
    """On the RHCOS node the zones' present pages add up to exactly the iomem System RAM total."""
    zones = parse_zoneinfo(read("coreos-ocp-master-vm", "proc/zoneinfo")).zones
    iomem = parse_iomem(read("coreos-ocp-master-vm", "proc/iomem"))
    assert sum(z.present_pages for z in zones) * PAGE == sum(r.size for r in system_ram(iomem))


@pytest.mark.parametrize(
    "host",
    sorted(
        h.name
        for h in HOSTS.iterdir()
        if (h / "proc/zoneinfo").is_file() and (h / "proc/buddyinfo").is_file()
    ),
)
def test_buddyinfo_zones_are_the_populated_zoneinfo_zones(host: str) -> None:
    """buddyinfo lists exactly the populated zones that zoneinfo shows for the same host."""
    zones = parse_zoneinfo(read(host, "proc/zoneinfo")).zones
    buddy = parse_buddyinfo(read(host, "proc/buddyinfo")).zones
    assert [(z.node, z.name) for z in zones if z.populated] == [(b.node, b.zone) for b in buddy]
