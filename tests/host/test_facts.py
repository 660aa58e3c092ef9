"""``gather_facts``: one HostFacts per host tree, the same through a directory and an archive.

The host trees are the real captures under ``tests/data/hosts/*/`` (see each PROVENANCE.md);
the expected values below were read off their files by hand (iomem lines, meminfo counters,
sysfs values, and for the QEMU boots the kernel's own ``crashkernel reserved:`` line in dmesg).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from dataclasses import fields
from pathlib import Path
from types import MappingProxyType

import pytest

from crashplan.errors import SourceError
from crashplan.host.bootfiles import BootFile
from crashplan.host.facts import NON_ROOT_MESSAGE, HostFacts, gather_facts
from crashplan.host.snapshot import default_snapshot_name, snapshot_extra_files
from crashplan.host.sources import ArchiveSource, DirSource, HostInfo, Uname, open_source
from crashplan.render.facts_json import facts_to_json
from crashplan.values import MemRange

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
HOST_NAMES = sorted(p.name for p in HOSTS.iterdir() if (p / "proc").is_dir())
MiB, GiB = 1 << 20, 1 << 30

# Fields that are not facts about the host and so carry no provenance of their own.
NOT_FACTS = {"provenance", "source", "findings", "absent", "system_ram_estimated", "kdump_files"}


def make_archive(tree: Path, dest: Path) -> Path:
    """``tree`` as a .tar.zst under one top folder, written with tarfile itself (not crashplan)."""
    import zstandard

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(tree, arcname=tree.name)
    dest.write_bytes(zstandard.ZstdCompressor().compress(buffer.getvalue()))
    return dest


def copy_tree(name: str, tmp_path: Path) -> Path:
    tree = tmp_path / name
    shutil.copytree(HOSTS / name, tree)
    return tree


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("archives")
    return {name: make_archive(HOSTS / name, tmp / f"{name}.tar.zst") for name in HOST_NAMES}


@pytest.mark.parametrize("name", HOST_NAMES)
def test_directory_and_archive_give_the_same_facts(name: str, archives: dict[str, Path]) -> None:
    """A host tree read as a directory and as a .tar.zst gives equal HostFacts and provenance."""
    from_dir = gather_facts(DirSource(HOSTS / name))
    from_archive = gather_facts(open_source(archives[name]))
    assert isinstance(open_source(archives[name]), ArchiveSource)
    assert from_dir == from_archive
    assert dict(from_dir.provenance) == dict(from_archive.provenance)
    assert from_dir.source != from_archive.source


@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_fact_has_provenance(name: str) -> None:
    """Every fact field has a provenance entry, and every entry names a fact field."""
    facts = gather_facts(DirSource(HOSTS / name))
    fact_fields = {f.name for f in fields(HostFacts)} - NOT_FACTS
    assert set(facts.provenance) == fact_fields


@pytest.mark.parametrize("name", HOST_NAMES)
def test_ranges_are_sorted_half_open_and_inside_ram(name: str) -> None:
    """RAM, reserved and crash ranges are sorted; reserved and crash regions lie inside RAM (s390 aside)."""
    facts = gather_facts(DirSource(HOSTS / name))
    for ranges in (facts.ram, facts.reserved, facts.crash_regions):
        assert [r.start for r in ranges] == sorted(r.start for r in ranges)
        assert all(r.start < r.end for r in ranges)
    if facts.arch != "s390x" and facts.ram:  # a capture without iomem has no RAM map to be inside of
        for r in (*facts.reserved, *facts.crash_regions):
            assert any(ram.start <= r.start and r.end <= ram.end for ram in facts.ram), r
    if facts.kernel_image is not None:
        assert any(facts.kernel_image.start in ram for ram in facts.ram)


@pytest.mark.parametrize("name", HOST_NAMES)
def test_json_round_trips_through_json_text(name: str) -> None:
    """facts_to_json gives plain JSON types only (it survives dumps/loads unchanged)."""
    out = facts_to_json(gather_facts(DirSource(HOSTS / name)))
    assert json.loads(json.dumps(out)) == out


# name -> expected facts; ranges as (name, start, end-exclusive)
EXPECTED: dict[str, dict[str, object]] = {
    "arm64-rpi4-4g-cma512m": {
        "arch": "arm64",
        "arch_inferred": True,
        # 00000000-3b3fffff + 40000000-fbffffff, no top-level nomap "reserved".
        "system_ram": 0x3B400000 + 0xBC000000,
        "ram": (MemRange(0, 0x3B400000), MemRange(0x40000000, 0xFC000000)),
        "regions": (),
        "total": 0,
        "cma_total": 512 * MiB,
        "mem_total": 3882988 * 1024,
        "kernel_version": None,
        "page_size": None,
        "decision": (False, 0),
        "reserved": 15,
    },
    "coreos-ocp-master-vm": {
        "arch": "x86_64",
        "arch_inferred": True,
        "kernel_release": "4.18.0-80.11.2.el8_0.x86_64",  # from BOOT_IMAGE=
        "system_ram": 8588750848,
        "regions": (),
        "total": 0,
        "mem_total": 8164548 * 1024,
        "page_size": 4096,
        "numa_nodes": (0,),
        "decision": (False, 0),
    },
    "lore-s390x-vm-2g-crash256m": {
        "arch": "s390x",
        "arch_inferred": True,
        # 00000000-6fffffff System RAM + the carved-out 70000000-7fffffff Crash kernel.
        "system_ram": 2 * GiB,
        "regions": (("crashkernel", 0x70000000, 0x80000000),),
        "total": 256 * MiB,
        "kernel_image": MemRange(0x0F258000, 0x1068E000),
        "mem_total": None,
        "decision": None,
    },
    "lore-x86-hpe-xeon-32g-crash-low256m-high512m": {
        "arch": "x86_64",
        "arch_inferred": True,
        "regions": (
            ("crashkernel-low", 0x69000000, 0x79000000),
            ("crashkernel", 0x858000000, 0x878000000),
        ),
        "total": 768 * MiB,
        "system_ram": 29993988096,
        "kernel_image": MemRange(0x155E00000, 0x159800000),
        "decision": None,
    },
    "lore-x86-qemu-4g-crash256m": {
        "arch": "x86_64",
        "regions": (("crashkernel", 0xAF000000, 0xBF000000),),
        "total": 256 * MiB,
        "system_ram": 0x9EC00 + 0xBFEF0000 + 0x40000000,
    },
    "qemu-x86_64-4g-crashkernel-256m": {
        "arch": "x86_64",
        "kernel_release": "7.3.4+deb13-amd64",
        "kernel_version": "7.3",
        "regions": (("crashkernel", 0xAF000000, 0xBF000000),),
        "total": 256 * MiB,
        "kexec_crash_size": 268435456,
        "cma_total": 0,
        "cma_ranges": (),
        "system_ram": 0x9EC00 + 0xBFEE0000 + 0x40000000,
        "cpus": (1, 1),
        "decision": (True, 256 * MiB),
        "page_size": 4096,
    },
    "qemu-x86_64-4g-no-crashkernel": {
        "arch": "x86_64",
        "kernel_version": "7.3",
        "regions": (),
        "total": 0,
        "kexec_crash_size": 0,
        "system_ram": 0x9EC00 + 0xBFEE0000 + 0x40000000,
        "decision": (False, 0),
    },
    "this-machine-x86_64-6.18.44-fc-v657": {
        "arch": "x86_64",
        "regions": (),
        "total": 0,
        "kexec_crash_size": None,  # CONFIG_KEXEC off: the file is absent on purpose
        "system_ram": 0x9EC00 + 0xBFF00000 + 0x540000000,
        "cpus": (2, 2),
        "distro": "debian",
    },
    "twaite-desktop-8g": {
        "arch": "x86_64",
        "kernel_release": "3.2.0-58-generic",
        "kernel_version": "3.2",
        "regions": (),
        "total": 0,
        "system_ram": 8544802816,
        "mem_total": 8133452 * 1024,
    },
    "rhel7-demobuilder-4g-auto161m": {
        # Two kernel log lines: 'Reserving 161MB of memory at 704MB for crashkernel (System RAM: 4095MB)'.
        "arch": "x86_64",
        "addresses_visible": False,
        "system_ram": 4095 << 20,
        "estimated": True,
        "regions": (("crashkernel", 704 << 20, (704 + 161) << 20),),
        "total": 161 << 20,
        "ram": (),
        "kernel_version": "3.10",
    },
    "vivianchen-qemu-nonroot": {
        "arch": "x86_64",
        "addresses_visible": False,
        "system_ram": 2030236 * 1024,  # MemTotal: the estimate
        "estimated": True,
        "regions": (),
        "ram": (),
        "kernel_version": "5.10",
    },
}


def test_expected_table_covers_every_host() -> None:
    """Every host tree has concrete expected values (a new tree needs a row)."""
    assert set(EXPECTED) == set(HOST_NAMES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_host_facts(name: str) -> None:
    """Each real host yields the values read off its files by hand."""
    facts = gather_facts(DirSource(HOSTS / name))
    want = EXPECTED[name]
    assert facts.arch == want["arch"]
    assert facts.system_ram == want["system_ram"]
    assert facts.system_ram_estimated is want.get("estimated", False)
    assert facts.addresses_visible is want.get("addresses_visible", True)
    regions = tuple((n, r.start, r.end) for n, r in facts.named_crash_regions)
    assert regions == want["regions"]
    if "total" in want:
        assert facts.reservation_total == want["total"]
    checks = {
        "ram": facts.ram,
        "kernel_release": facts.kernel_release,
        "kexec_crash_size": facts.kexec_crash_size,
        "cma_total": facts.cma_total,
        "cma_ranges": facts.cma_ranges,
        "mem_total": facts.mem_total,
        "page_size": facts.page_size,
        "numa_nodes": facts.numa_nodes,
        "kernel_image": facts.kernel_image,
        "cpus": (facts.cpus_online, facts.cpus_possible),
        "distro": None if facts.distro is None else facts.distro.id,
        "reserved": len(facts.reserved),
        "kernel_version": None if facts.kernel_version is None else str(facts.kernel_version),
    }
    for key, value in checks.items():
        if key in want:
            assert value == want[key], key
    if "decision" in want:
        d = facts.cmdline_crashkernel
        assert (None if d is None else (d.ok, d.crash_size)) == want["decision"]
    if want.get("arch_inferred"):
        assert facts.provenance["arch"].startswith("inferred from")
        assert any(f.code == "arch-inferred" for f in facts.findings)


@pytest.mark.parametrize("name", ["qemu-x86_64-4g-crashkernel-256m"])
def test_crash_region_matches_the_kernel_log(name: str) -> None:
    """The region from iomem is the one the kernel logged at boot ("crashkernel reserved: a - b", b exclusive)."""
    log = (HOSTS / name / "dmesg.txt").read_text()
    m = re.search(r"crashkernel reserved: 0x([0-9a-f]+) - 0x([0-9a-f]+)", log)
    assert m is not None
    facts = gather_facts(DirSource(HOSTS / name))
    assert facts.crash_regions == (MemRange(int(m.group(1), 16), int(m.group(2), 16)),)
    assert facts.kexec_crash_size == facts.reservation_total


def test_kernel_log_is_a_fact_and_a_snapshot_keeps_it(tmp_path: Path) -> None:
    """The captured boot's log is in the facts with its path; a snapshot of the tree reads back the same log."""
    from crashplan.host.sources.capture import capture_snapshot

    name = "qemu-x86_64-4g-no-crashkernel"
    facts = gather_facts(DirSource(HOSTS / name))
    assert facts.dmesg is not None and facts.provenance["dmesg"] == "/dmesg.txt"
    assert facts.dmesg.initrd == MemRange(0xBFEE4000, 0xBFFE0000)  # "RAMDISK: [mem 0xbfee4000-0xbffdffff]"
    snapshot = gather_facts(open_source(capture_snapshot(DirSource(HOSTS / name), tmp_path / "snap.tar.zst").dest))
    assert snapshot.dmesg == facts.dmesg
    without = gather_facts(DirSource(HOSTS / "lore-x86-hpe-xeon-32g-crash-low256m-high512m"))
    assert without.dmesg is None and without.provenance["dmesg"].startswith("unknown: none of /dmesg.txt")


def test_non_root_capture_is_an_estimate_with_a_finding() -> None:
    """A map read without root: no addresses, system RAM from MemTotal marked estimate, the notice."""
    facts = gather_facts(DirSource(HOSTS / "vivianchen-qemu-nonroot"))
    assert not facts.addresses_visible and facts.ram == () and facts.kernel_image is None
    assert facts.system_ram == facts.mem_total and facts.system_ram_estimated
    assert facts.provenance["system_ram"].startswith("estimate: MemTotal")
    codes = {f.code: f for f in facts.findings}
    assert codes["iomem-addresses-hidden"].message == NON_ROOT_MESSAGE
    assert codes["iomem-addresses-hidden"].severity == "warning"
    assert "system-ram-estimated" in codes


def test_missing_files_are_absences_not_errors() -> None:
    """The s390 tree has only iomem: the rest is None/absent, with one finding naming what is missing."""
    facts = gather_facts(DirSource(HOSTS / "lore-s390x-vm-2g-crash256m"))
    assert facts.mem_total is None and facts.cmdline is None and facts.cmdline_crashkernel is None
    assert facts.cpus_online is None and facts.numa_nodes is None and facts.zones == ()
    assert "/proc/meminfo" in facts.absent and "/proc/cmdline" in facts.absent
    absent = next(f for f in facts.findings if f.code == "absent-files")
    assert "/proc/meminfo" in absent.message and absent.severity == "info"
    assert facts.provenance["mem_total"] == "unknown: /proc/meminfo is absent"


# --------------------------------------------------------------------------------------------
# Broken variants of real files: the parser's SourceError, naming source.display(relpath)


def test_error_truncated_iomem_names_the_file_and_line(tmp_path: Path) -> None:
    """An iomem cut mid-line raises SourceError at the display path of the file, last line."""
    tree = copy_tree("qemu-x86_64-4g-crashkernel-256m", tmp_path)
    iomem = tree / "proc" / "iomem"
    text = iomem.read_text()
    iomem.write_text(text[: text.index("Crash kernel") + 5])
    with pytest.raises(SourceError) as e:
        gather_facts(DirSource(tree))
    assert e.value.path == str(iomem)
    assert e.value.line == text[: text.index("Crash kernel")].count("\n") + 1
    assert "truncated" in e.value.message


def test_error_garbled_meminfo_in_an_archive(tmp_path: Path) -> None:
    """A garbled meminfo inside an archive is named archive:proc/meminfo with its line."""
    tree = copy_tree("qemu-x86_64-4g-crashkernel-256m", tmp_path)
    meminfo = tree / "proc" / "meminfo"
    meminfo.write_text(meminfo.read_text().replace("MemFree:         3705580 kB", "MemFree:         37O5580 kB"))
    archive = make_archive(tree, tmp_path / "broken.tar.zst")
    with pytest.raises(SourceError) as e:
        gather_facts(open_source(archive))
    assert e.value.path == f"{archive}:proc/meminfo"
    assert e.value.line == 2
    assert e.value.one_line() == f"{archive}:proc/meminfo:2: value of MemFree is not a decimal number: '37O5580'"


def test_error_garbled_osrelease(tmp_path: Path) -> None:
    """A two-word osrelease is an error naming the file, not a silently wrong kernel version."""
    tree = copy_tree("qemu-x86_64-4g-crashkernel-256m", tmp_path)
    (tree / "proc/sys/kernel/osrelease").write_text("7.3.4 garbage\n")
    with pytest.raises(SourceError) as e:
        gather_facts(DirSource(tree))
    assert e.value.path == str(tree / "proc/sys/kernel/osrelease") and e.value.line == 1


# --------------------------------------------------------------------------------------------
# Synthetic trees for what the real ones do not show


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for relpath, data in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


ARM64_NOMAP = (
    "40000000-4fffffff : System RAM\n"
    "  40210000-4136ffff : Kernel code\n"
    "  41830000-41b6ffff : Kernel data\n"
    "  48000000-48ffffff : reserved\n"
    "50000000-50ffffff : reserved\n"
    "51000000-bfffffff : System RAM\n"
    "  a0000000-afffffff : Crash kernel\n"
    "fe201000-fe2011ff : serial@7e201000\n"
)


def test_arm64_system_ram_counts_nomap_between_ram(tmp_path: Path) -> None:
    """On arm64 a top-level "reserved" between RAM ranges (nomap) counts as system RAM."""
    snapshot = {
        "format": "crashplan-snapshot",
        "format_version": 1,
        "captured_at": "2026-01-01T00:00:00Z",
        "uname": {"sysname": "Linux", "nodename": "pi", "release": "6.12.1-arm64", "version": "#1", "machine": "aarch64"},
        "page_size": 16384,
        "root": True,
    }
    tree = write_tree(tmp_path / "t", {"proc/iomem": ARM64_NOMAP, "crashplan-snapshot.json": json.dumps(snapshot)})
    facts = gather_facts(DirSource(tree))
    assert facts.arch == "arm64" and facts.page_size == 16384
    assert facts.system_ram == 0x10000000 + 0x1000000 + 0x6F000000
    assert "nomap" in facts.provenance["system_ram"]
    assert facts.reserved == (MemRange(0x48000000, 0x49000000),)
    assert facts.crash_regions == (MemRange(0xA0000000, 0xB0000000),)
    assert facts.provenance["arch"] == "uname(2) machine 'aarch64' stored in crashplan-snapshot.json"
    assert facts.provenance["page_size"] == "page_size in crashplan-snapshot.json"


def test_snapshot_boot_files_notes_and_unreadable(tmp_path: Path) -> None:
    """A snapshot's stored boot files, unreadable files and notes become facts and findings."""
    snapshot = {
        "format": "crashplan-snapshot",
        "format_version": 1,
        "captured_at": "2026-01-01T00:00:00Z",
        "uname": {"sysname": "Linux", "nodename": "h", "release": "6.17.0-1", "version": "#1", "machine": "x86_64"},
        "page_size": 4096,
        "root": False,
        "psutil": {"virtual_memory_total": 2 * GiB, "cpu_count_logical": 4},
        "unreadable": [{"path": "etc/kdump.conf", "reason": "permission denied"}],
        "notes": ["captured without root"],
        "files": {"boot": {"kernel": {"path": "/boot/vmlinuz-6.17.0-1", "size": 14000000}, "initrd": None}},
    }
    tree = write_tree(tmp_path / "t", {"crashplan-snapshot.json": json.dumps(snapshot)})
    facts = gather_facts(DirSource(tree))
    assert facts.boot_files.kernel == BootFile("/boot/vmlinuz-6.17.0-1", 14000000)
    assert facts.boot_files.initrd is None
    assert facts.mem_total == 2 * GiB and facts.cpus_online == 4
    assert facts.provenance["cpus_online"] == "psutil.cpu_count() stored in crashplan-snapshot.json"
    codes = [f.code for f in facts.findings]
    assert "unreadable-at-capture" in codes and "snapshot-note" in codes and "boot-files-missing" in codes
    # root false and no iomem: the placement notice still applies
    assert "iomem-addresses-hidden" in codes
    assert facts.system_ram == 2 * GiB and facts.system_ram_estimated
    assert snapshot_extra_files(DirSource(tree)) == {
        "boot": {"kernel": {"path": "/boot/vmlinuz-6.17.0-1", "size": 14000000}, "initrd": None}
    }


def test_error_bad_stored_boot_files(tmp_path: Path) -> None:
    """A malformed "files": {"boot"} in crashplan-snapshot.json is a bad-snapshot SourceError."""
    snapshot = {
        "format": "crashplan-snapshot",
        "format_version": 1,
        "captured_at": "2026-01-01T00:00:00Z",
        "files": {"boot": {"kernel": {"path": "/boot/vmlinuz", "size": "big"}}},
    }
    tree = write_tree(tmp_path / "t", {"crashplan-snapshot.json": json.dumps(snapshot)})
    with pytest.raises(SourceError) as e:
        gather_facts(DirSource(tree))
    assert e.value.code == "bad-snapshot" and e.value.path.endswith("crashplan-snapshot.json")


def test_boot_files_kdump_config_and_distro_from_a_tree(tmp_path: Path) -> None:
    """/boot files of the running release are found by stat; Fedora kdump files are merged."""
    release = "6.12.0-55.el10.x86_64"
    tree = write_tree(
        tmp_path / "t",
        {
            "proc/sys/kernel/osrelease": f"{release}\n",
            f"boot/vmlinuz-{release}": b"k" * 1000,
            f"boot/initramfs-{release}.img": b"i" * 3000,
            f"boot/initramfs-{release}kdump.img": b"d" * 2000,
            "etc/os-release": 'ID="rhel"\nID_LIKE="centos fedora"\nVERSION_ID="10.0"\n',
            "etc/kdump.conf": "nfs srv:/export\ncore_collector makedumpfile -l -d 31\n",
            "etc/sysconfig/kdump": 'KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1 reset_devices"\n',
        },
    )
    facts = gather_facts(DirSource(tree))
    assert facts.arch == "x86_64"  # from the ".x86_64" release suffix
    assert facts.boot_files.kernel == BootFile(f"/boot/vmlinuz-{release}", 1000)
    assert facts.boot_files.initrd == BootFile(f"/boot/initramfs-{release}kdump.img", 2000)
    assert facts.kdump is not None and facts.kdump.family == "fedora"
    assert (facts.kdump.dump_target, facts.kdump.dump_level, facts.kdump.nr_cpus) == ("nfs", 31, 1)
    assert facts.kdump_files == ("/etc/kdump.conf", "/etc/sysconfig/kdump")
    assert facts.distro is not None and facts.distro.id == "rhel"
    stored = snapshot_extra_files(DirSource(tree))["boot"]["initrd"]
    assert (stored["path"], stored["size"]) == (f"/boot/initramfs-{release}kdump.img", 2000)
    # The capture measures the initrd it stores; this one is 2000 junk bytes, which it says.
    assert stored["problem"].startswith("initrd unpacked size unknown: unknown data at offset 0")
    assert "tmpfs_bytes" not in stored


class FakeLive:
    """A host tree that says it is live, with chosen uname/psutil figures and one unreadable file."""

    def __init__(self, tree: Path, info: HostInfo, unreadable: str | None = None) -> None:
        self._tree = DirSource(tree)
        self._info = info
        self._unreadable = unreadable
        self.name = "live host"
        self.is_live = True

    def read_text(self, relpath: str, **kw: int) -> str | None:
        if relpath == self._unreadable:
            raise SourceError("permission denied", path="/" + relpath, code="unreadable")
        return self._tree.read_text(relpath)

    def read_bytes(self, relpath: str, **kw: int) -> bytes | None:
        return self._tree.read_bytes(relpath)

    def stat_size(self, relpath: str) -> int | None:
        return self._tree.stat_size(relpath)

    def exists(self, relpath: str) -> bool:
        return self._tree.exists(relpath)

    def listdir(self, relpath: str) -> tuple[str, ...] | None:
        return self._tree.listdir(relpath)

    def display(self, relpath: str) -> str:
        return "/" + relpath

    def snapshot_info(self) -> None:
        return None

    def live_info(self) -> HostInfo:
        return self._info


def test_live_psutil_cross_check_and_unreadable_optional_file(tmp_path: Path) -> None:
    """On a live host psutil disagreeing with /proc is a warning; an unreadable /etc file is an absence."""
    tree = copy_tree("qemu-x86_64-4g-crashkernel-256m", tmp_path)
    info = HostInfo(
        uname=Uname("Linux", "h", "7.3.4+deb13-amd64", "#1", "x86_64"),
        page_size=4096,
        root=True,
        mem_total=3 * GiB,
        cpu_count=8,
    )
    facts = gather_facts(FakeLive(tree, info, unreadable="etc/kdump.conf"))  # type: ignore[arg-type]
    codes = {f.code for f in facts.findings}
    assert {"mem-total-mismatch", "cpu-count-mismatch", "unreadable-file", "boot-files-missing"} <= codes
    assert "/etc/kdump.conf" in facts.absent
    assert facts.provenance["arch"] == "uname(2) machine 'x86_64' of the live host"
    assert facts.provenance["page_size"] == "sysconf(_SC_PAGE_SIZE) of the live host"
    agreeing = HostInfo(uname=info.uname, page_size=4096, root=True, mem_total=facts.mem_total, cpu_count=1)
    quiet = gather_facts(FakeLive(tree, agreeing))  # type: ignore[arg-type]
    assert not {"mem-total-mismatch", "cpu-count-mismatch"} & {f.code for f in quiet.findings}


def test_error_unreadable_proc_file_is_raised(tmp_path: Path) -> None:
    """An unreadable /proc file is not silently an absence: it raises."""
    tree = copy_tree("qemu-x86_64-4g-crashkernel-256m", tmp_path)
    info = HostInfo(uname=None, page_size=None, root=False, mem_total=None, cpu_count=None)
    with pytest.raises(SourceError, match="permission denied"):
        gather_facts(FakeLive(tree, info, unreadable="proc/meminfo"))  # type: ignore[arg-type]


def test_default_snapshot_name() -> None:
    """The default snapshot name carries the host name (made file-safe) and the UTC time."""
    from datetime import UTC, datetime

    class Stored:
        is_live = False

        def snapshot_info(self) -> object:
            from types import SimpleNamespace

            return SimpleNamespace(host=HostInfo(Uname("Linux", "db/01 x", "r", "v", "x86_64"), None, None, None, None))

    name = default_snapshot_name(Stored(), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))  # type: ignore[arg-type]
    assert name == "crashplan-snapshot-db_01_x-20260102T030405Z"


def test_host_facts_is_frozen_and_hashable() -> None:
    """HostFacts is a frozen value; provenance stays out of equality and hashing."""
    facts = gather_facts(DirSource(HOSTS / "qemu-x86_64-4g-crashkernel-256m"))
    with pytest.raises(AttributeError):
        facts.arch = "arm64"  # type: ignore[misc]
    assert isinstance(facts.provenance, MappingProxyType)
    assert hash(facts) == hash(gather_facts(DirSource(HOSTS / "qemu-x86_64-4g-crashkernel-256m")))


def test_snapshots_capture_the_files_facts_read() -> None:
    """A snapshot copies every file gather_facts reads, so facts survive a capture."""
    from crashplan.host.facts import FACT_FILES
    from crashplan.host.sources.capture import HOST_FILES

    # sources/capture.py does not list the linux-next name of kexec_crash_loaded yet.
    assert set(FACT_FILES) - set(HOST_FILES) <= {"sys/kernel/kexec/crash_loaded"}
