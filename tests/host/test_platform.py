"""Platform facts and their costs, each on an edited copy of a real capture (tests/data/hosts)."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.facts import gather_facts
from crashplan.host.formats.luksdump import parse_luks_dump
from crashplan.host.sources import DirSource, open_source
from crashplan.host.sources.capture import capture_snapshot
from crashplan.planning.footprint import estimate_footprint, footprint_inputs
from crashplan.profiles import load_profile
from crashplan.units import MiB

DATA = Path(__file__).parents[1] / "data"
HOSTS = DATA / "hosts"
X86 = "qemu-x86_64-4g-crashkernel-256m"  # a real Debian guest capture with its kernel log
ARM = "arm64-rpi4-4g-cma512m"  # a real Raspberry Pi 4 capture
LUKS2 = DATA / "luks" / "luks2-argon2id-64m-argon2i-32m.luksDump"
LUKS1 = DATA / "luks" / "luks1-pbkdf2.luksDump"


def _copy(name: str, tmp_path: Path) -> Path:
    tree = tmp_path / name
    shutil.copytree(HOSTS / name, tree)
    return tree


def _write(tree: Path, relpath: str, text: str = "") -> None:
    path = tree / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _items(tree: Path, profile: str, **replace: object) -> dict[str, tuple[int, str]]:
    facts = gather_facts(DirSource(tree))
    if replace:
        facts = dataclasses.replace(facts, **replace)
    p = load_profile(profile)
    fp = estimate_footprint(footprint_inputs(facts, p), p.estimator, p.source_texts)
    return {i.name: (i.bytes, i.source) for i in fp.items}


def _add_log_line(tree: Path, line: str) -> None:
    log = tree / "dmesg.txt"
    text = log.read_text().splitlines(keepends=True)
    text.insert(40, f"[    0.000000] {line}\n")
    log.write_text("".join(text))


@pytest.mark.parametrize(
    ("line", "features"),
    [
        ("Memory Encryption Features active: AMD SME", ("SME",)),
        ("Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP", ("SEV", "SEV-ES", "SEV-SNP")),
        ("Memory Encryption Features active: Intel TDX", ("TDX",)),
        ("AMD Memory Encryption Features active: SEV SEV-ES", ("SEV", "SEV-ES")),
        ("AMD Secure Memory Encryption (SME) active", ("SME",)),
    ],
)
def test_memory_encryption_from_the_kernel_log_costs_the_swiotlb(tmp_path: Path, line: str, features: tuple[str, ...]) -> None:
    """The kernel log's memory-encryption line adds the 64 MiB bounce buffer, citing the line and kdump-utils."""
    tree = _copy(X86, tmp_path)
    _add_log_line(tree, line)
    facts = gather_facts(DirSource(tree))
    assert facts.mem_encryption is not None and facts.mem_encryption.features == features
    size, source = _items(tree, "fedora-x86_64")["SME/SEV bounce buffers (swiotlb)"]
    assert size == 64 * MiB
    assert line in source and "/dmesg.txt" in source and "4841bc6" in source


def test_memory_encryption_from_sysfs_status(tmp_path: Path) -> None:
    """/sys/kernel/mm/mem_encrypt/sme/status 'active' counts when the log has no line."""
    tree = _copy(X86, tmp_path)
    _write(tree, "sys/kernel/mm/mem_encrypt/sme/status", "active\n")
    _write(tree, "sys/kernel/mm/mem_encrypt/sev/status", "unsupported\n")
    size, source = _items(tree, "debian-amd64")["SME/SEV bounce buffers (swiotlb)"]
    assert size == 64 * MiB and "/sys/kernel/mm/mem_encrypt" in source


def test_no_memory_encryption_line_is_not_costed_and_says_why(tmp_path: Path) -> None:
    """A log without the line costs nothing and its provenance says the ring buffer may have wrapped."""
    tree = _copy(X86, tmp_path)
    facts = gather_facts(DirSource(tree))
    assert facts.mem_encryption is None
    assert "ring buffer wrapped" in facts.provenance["mem_encryption"]
    assert not any("swiotlb" in name for name in _items(tree, "fedora-x86_64"))


def test_error_garbled_mem_encrypt_status(tmp_path: Path) -> None:
    """A status word the kernel does not print is a one-line error naming the file."""
    tree = _copy(X86, tmp_path)
    _write(tree, "sys/kernel/mm/mem_encrypt/sme/status", "on\n")
    with pytest.raises(SourceError) as e:
        gather_facts(DirSource(tree))
    assert e.value.one_line().endswith("sys/kernel/mm/mem_encrypt/sme/status:1: expected one of active, disabled, enabled, inactive, unsupported, got 'on'")


def _mlx5(tree: Path) -> None:
    for name in ("0000:01:00.0", "bind", "unbind", "new_id", "remove_id", "uevent", "module"):
        _write(tree, f"sys/bus/pci/drivers/mlx5_core/{name}")
    _write(tree, "sys/bus/pci/drivers/nvme/bind")


def test_mlx5_driver_costs_on_aarch64(tmp_path: Path) -> None:
    """A registered mlx5_core driver adds kdump-utils' 150M on aarch64 4K, naming the bound device."""
    tree = _copy(ARM, tmp_path)
    _mlx5(tree)
    facts = gather_facts(DirSource(tree))
    assert facts.pci_drivers is not None and facts.pci_drivers.bound("mlx5_core") == ("0000:01:00.0",)
    size, source = _items(tree, "fedora-aarch64")["mlx5_core driver (Mellanox ConnectX)"]
    assert size == 150 * MiB
    assert "/sys/bus/pci/drivers/mlx5_core (0000:01:00.0)" in source and "7a2c4cb" in source


def test_mlx5_without_a_profile_cost_adds_nothing(tmp_path: Path) -> None:
    """On x86_64 no distribution costs mlx5, so no line appears."""
    tree = _copy(X86, tmp_path)
    _mlx5(tree)
    assert not any("mlx5" in name for name in _items(tree, "fedora-x86_64"))


@pytest.mark.parametrize("evidence", ["sys/class/iommu/smmu3.0x0000000009050000", "sys/devices/platform/arm-smmu-v3.0.auto"])
def test_smmu_costs_with_64k_pages(tmp_path: Path, evidence: str) -> None:
    """An SMMUv3 (class iommu or ACPI platform device) adds 384M on a 64K-page kernel only."""
    tree = _copy(ARM, tmp_path)
    _write(tree, evidence)
    items = _items(tree, "fedora-aarch64-64k", page_size=65536)
    size, source = items["arm64 SMMUv3 queues with 64K pages"]
    assert size == 384 * MiB and evidence.rsplit("/", 1)[1] in source and "7a2c4cb" in source
    assert not any("SMMU" in name for name in _items(tree, "fedora-aarch64-64k", page_size=4096))


def test_redacted_luks_dump_keeps_what_sizing_reads() -> None:
    """A redacted dump has no salt, digest or UUID left and parses to the same keyslot memory."""
    from crashplan.host.formats.luksdump import redact_luks_dump

    text = LUKS2.read_text()
    red = redact_luks_dump(text)
    assert "4f 71 a5" not in red and "b7500640" not in red and "Salt: (redacted)" in red
    assert parse_luks_dump(red) == parse_luks_dump(text)
    assert parse_luks_dump(redact_luks_dump(LUKS1.read_text())) == parse_luks_dump(LUKS1.read_text())


def test_luks_dump_parser_reads_real_output() -> None:
    """Real luksDump output: LUKS2 keyslot memories in bytes, LUKS1 none."""
    d = parse_luks_dump(LUKS2.read_text())
    assert (d.version, d.pbkdf, d.memory) == (2, ("argon2id", "argon2i"), (64 * MiB, 32 * MiB))
    assert (d.max_memory, d.total_memory) == (64 * MiB, 96 * MiB)
    one = parse_luks_dump(LUKS1.read_text())
    assert (one.version, one.memory) == (1, ())


@pytest.mark.parametrize(("profile", "memory", "overhead"), [("debian-amd64", 64 * MiB, 20 * MiB), ("suse-x86_64", 96 * MiB, None)])
def test_luks2_keyslot_memory_by_the_profiles_rule(tmp_path: Path, profile: str, memory: int, overhead: int | None) -> None:
    """kdump-utils' largest keyslot per device or SUSE's sum, plus cryptsetup's overhead, each sourced."""
    tree = _copy(X86, tmp_path)
    _write(tree, "crashplan/luksDump/vda3", LUKS2.read_text())
    _write(tree, "crashplan/luksDump/vdb1", LUKS1.read_text())
    items = _items(tree, profile)
    size, source = items["LUKS2 Argon2 keyslot memory (1 device)"]
    assert size == memory and "/crashplan/luksDump/vda3" in source
    assert items.get("cryptsetup overhead (LUKS2 in the dump path)", (None,))[0] == overhead


def test_luks_from_a_sosreport_and_key_persistence(tmp_path: Path) -> None:
    """sos' cryptsetup output is read; Fedora x86_64's key persistence runs no Argon2 in the capture kernel."""
    tree = _copy(X86, tmp_path)
    _write(tree, "sos_commands/cryptsetup/cryptsetup_luksDump_.dev.sda3", LUKS2.read_text())
    facts = gather_facts(DirSource(tree))
    assert facts.luks_devices is not None and facts.luks_devices[0].device == "/dev/sda3"
    assert not any("LUKS2" in name for name in _items(tree, "fedora-x86_64"))


def test_error_garbled_luks_dump(tmp_path: Path) -> None:
    """A luksDump file that is not luksDump output is a one-line error naming the file."""
    tree = _copy(X86, tmp_path)
    _write(tree, "crashplan/luksDump/vda3", "hello\n")
    with pytest.raises(SourceError) as e:
        gather_facts(DirSource(tree))
    assert e.value.one_line().endswith("crashplan/luksDump/vda3: not cryptsetup luksDump output: no 'Version:' line")


_SUSE_OS = 'NAME="SLES"\nID="sles"\nID_LIKE="suse"\nVERSION_ID="15.6"\n'


@pytest.mark.parametrize(
    ("savedir", "protocol"),
    [("ftp://user@dumps/crash", "ftp"), ("sftp://root@dumps/crash", "sftp"), ("scp://root@dumps/crash", "sftp"),
     ("cifs://dumps/share/crash", "cifs"), ("smb://dumps/share", "cifs"), ("nfs://dumps/export", "nfs")],
)
def test_suse_network_targets_cost_the_network(tmp_path: Path, savedir: str, protocol: str) -> None:
    """SUSE's ftp, sftp/scp, cifs/smb and nfs targets add the network cost, naming the protocol and the file."""
    tree = _copy(X86, tmp_path)
    _write(tree, "etc/os-release", _SUSE_OS)
    _write(tree, "etc/sysconfig/kdump", f'KDUMP_SAVEDIR="{savedir}"\nKDUMP_CPUS=1\n')
    assert gather_facts(DirSource(tree)).dump_protocol == protocol
    size, source = _items(tree, "suse-x86_64")[f"network dump over {protocol} (dhclient, {protocol} client)"]
    assert size == 10 * MiB and "/etc/sysconfig/kdump" in source and "USER_NET" in source


def test_suse_local_target_has_no_network_cost(tmp_path: Path) -> None:
    """file:// is a local dump: no network line."""
    tree = _copy(X86, tmp_path)
    _write(tree, "etc/os-release", _SUSE_OS)
    _write(tree, "etc/sysconfig/kdump", 'KDUMP_SAVEDIR="file:///var/crash"\n')
    assert not any(name.startswith("network dump") for name in _items(tree, "suse-x86_64"))


def test_a_snapshot_keeps_every_platform_fact(tmp_path: Path) -> None:
    """Capturing an edited capture and reading the archive back gives the same platform facts."""
    tree = _copy(ARM, tmp_path)
    _mlx5(tree)
    _write(tree, "sys/class/iommu/smmu3.0x0000000009050000")
    _write(tree, "sys/devices/platform/arm-smmu-v3.0.auto/driver_override")
    _write(tree, "sys/kernel/mm/mem_encrypt/sme/status", "inactive\n")
    _write(tree, "dmesg.txt", "[    0.000000] Memory Encryption Features active: AMD SME\n")
    _write(tree, "crashplan/luksDump/vda3", LUKS2.read_text())
    report = capture_snapshot(DirSource(tree), tmp_path / "snap.tar.zst")
    assert "sys/bus/pci/drivers/mlx5_core/0000:01:00.0" in report.files_written
    assert "sys/devices/platform/arm-smmu-v3.0.auto" in report.files_written  # a name, not its tree
    before, after = gather_facts(DirSource(tree)), gather_facts(open_source(report.dest))
    for name in ("mem_encryption", "pci_drivers", "iommus", "luks_devices", "dump_protocol"):
        assert getattr(after, name) == getattr(before, name), name


_MOUNTINFO = (
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n"
    "27 1 253:1 / / rw,relatime shared:1 - xfs /dev/mapper/rhel-root rw,attr2\n"
    "31 27 8:1 / /boot rw,relatime shared:2 - ext4 /dev/sda1 rw\n"
    "33 27 253:2 / /srv\\040data rw,relatime shared:3 - xfs /dev/mapper/luks-data rw\n"
)


def _luks_stack(tree: Path) -> None:
    """sda1 /boot; sda2 -> dm-0 (LUKS2) -> dm-1 (LVM root); sdb1 -> dm-2 (LUKS2) at /srv data."""
    _write(tree, "proc/self/mountinfo", _MOUNTINFO)
    for name, dev in (("sda", "8:0"), ("sdb", "8:16"), ("dm-0", "253:0"), ("dm-1", "253:1"), ("dm-2", "253:2")):
        _write(tree, f"sys/block/{name}/dev", dev + "\n")
    _write(tree, "sys/block/sda/sda1/dev", "8:1\n")
    _write(tree, "sys/block/sda/sda2/dev", "8:2\n")
    _write(tree, "sys/block/sdb/sdb1/dev", "8:17\n")
    _write(tree, "sys/block/dm-0/dm/uuid", "CRYPT-LUKS2-b7500640809041d0894e3395b80b3799-luks-b750\n")
    _write(tree, "sys/block/dm-0/slaves/sda2")
    _write(tree, "sys/block/dm-1/dm/uuid", "LVM-Jq2WnJ8b3\n")
    _write(tree, "sys/block/dm-1/slaves/dm-0")
    _write(tree, "sys/block/dm-2/dm/uuid", "CRYPT-LUKS2-0000-luks-data\n")
    _write(tree, "sys/block/dm-2/slaves/sdb1")
    _write(tree, "crashplan/luksDump/sda2", LUKS2.read_text())
    _write(tree, "crashplan/luksDump/sdb1", LUKS2.read_text())


def test_only_luks_under_the_dump_target_is_costed(tmp_path: Path) -> None:
    """/var/crash on the LVM root over LUKS sda2 costs sda2's keyslots, not sdb1's under /srv."""
    tree = _copy(X86, tmp_path)
    _luks_stack(tree)
    facts = gather_facts(DirSource(tree))
    assert facts.luks_devices is not None
    assert {d.device: d.in_dump_path for d in facts.luks_devices} == {"sda2": True, "sdb1": False}
    size, source = _items(tree, "debian-amd64")["LUKS2 Argon2 keyslot memory (1 device)"]
    assert size == 64 * MiB
    assert "/var/crash is on / (/dev/mapper/rhel-root, dm-1 253:1) in /proc/self/mountinfo; LUKS below it in /sys/block: sda2" in source
    assert "assumed" not in source


def test_a_save_directory_on_another_luks_device(tmp_path: Path) -> None:
    """A Debian KDUMP_COREDIR on the /srv data mount (escaped space) costs that device instead."""
    tree = _copy(X86, tmp_path)
    _luks_stack(tree)
    _write(tree, "etc/default/kdump-tools", 'USE_KDUMP=1\nKDUMP_COREDIR="/srv data/crash"\n')
    facts = gather_facts(DirSource(tree))
    assert facts.luks_devices is not None
    assert {d.device: d.in_dump_path for d in facts.luks_devices} == {"sda2": False, "sdb1": True}


def test_a_network_dump_needs_no_luks(tmp_path: Path) -> None:
    """An ssh dump target unlocks nothing: no LUKS line."""
    tree = _copy(X86, tmp_path)
    _luks_stack(tree)
    _write(tree, "etc/default/kdump-tools", 'USE_KDUMP=1\nSSH="root@dumphost"\n')
    assert not any("LUKS2" in name for name in _items(tree, "debian-amd64"))


def test_the_block_stack_survives_a_snapshot(tmp_path: Path) -> None:
    """A capture keeps mountinfo and the /sys/block names the dump-path walk reads."""
    tree = _copy(X86, tmp_path)
    _luks_stack(tree)
    report = capture_snapshot(DirSource(tree), tmp_path / "snap")
    assert {"proc/self/mountinfo", "sys/block/dm-0/dm/uuid", "sys/block/dm-0/slaves/sda2", "sys/block/sda/sda2/dev"} <= set(report.files_written)
    assert gather_facts(open_source(report.dest)).luks_devices == gather_facts(DirSource(tree)).luks_devices


def test_error_garbled_mountinfo(tmp_path: Path) -> None:
    """A mountinfo line without the separator is a one-line error naming the file and line."""
    tree = _copy(X86, tmp_path)
    _luks_stack(tree)
    _write(tree, "proc/self/mountinfo", "27 1 253:1 / / rw,relatime xfs /dev/sda1 rw\n")
    with pytest.raises(SourceError) as e:
        gather_facts(DirSource(tree))
    assert e.value.one_line().endswith("proc/self/mountinfo:1: expected a ' - ' before the file system type")


@pytest.mark.live
def test_live_kernel_log_and_platform_facts() -> None:
    """The live host's /dev/kmsg reads as dmesg text, and every platform fact has a provenance."""
    from crashplan.host.formats.dmesg import parse_dmesg
    from crashplan.host.sources import LiveSource

    live = LiveSource()
    log = live.kernel_log()
    if log is None:
        pytest.skip("/dev/kmsg is not readable here (kernel.dmesg_restrict, or no CAP_SYSLOG)")
    assert log.startswith("[") and parse_dmesg(log).lines
    assert isinstance(live.luks_dumps(), dict)
    facts = gather_facts(live)
    for name in ("mem_encryption", "pci_drivers", "iommus", "luks_devices", "dump_protocol"):
        assert facts.provenance[name], name


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_text_parsers_raise_only_source_errors(text: str) -> None:
    """Any text given to the platform parsers is a value or a SourceError, never another exception."""
    from crashplan.host.formats.blockdevs import parse_block_devices
    from crashplan.host.formats.kmsg import parse_kmsg_records
    from crashplan.host.formats.memencrypt import parse_mem_encrypt_log, parse_mem_encrypt_status
    from crashplan.host.formats.mountinfo import find_mount, parse_mountinfo

    parse_mem_encrypt_log(text.splitlines())
    calls = [
        lambda: parse_luks_dump(text),
        lambda: parse_luks_dump("Version: 2\nKeyslots:\n  0: luks2\n" + text),
        lambda: find_mount(parse_mountinfo(text), "/var/crash"),
        lambda: parse_mem_encrypt_status({"sme": text}),
        lambda: parse_block_devices({"sda": text}),
        lambda: parse_kmsg_records(text.encode("utf-8", "surrogatepass").split(b"\n")),
    ]
    for call in calls:
        with contextlib.suppress(SourceError):
            call()
