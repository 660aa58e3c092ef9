"""sosreport fidelity: a sosreport laid out the way sos ``report`` writes it (plugins kdump, boot,
kernel, pci, block, logs) reads the same as a directory and as a ``.tar.xz``, and the archive
cap counts the bytes crashplan keeps, not the journals it streams past."""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

import pytest
from clirun import run
from hosttrees import KDUMPCTL_ESTIMATE

from crashplan.errors import SourceError
from crashplan.host.facts import gather_facts
from crashplan.host.sources import archive as archive_module
from crashplan.host.sources import open_source

HOSTS = Path(__file__).parents[2] / "data" / "hosts"
REAL = HOSTS / "qemu-x86_64-4g-crashkernel-256m"
TOP = "sosreport-db01-2026-12-04-abcdef"
RELEASE = "7.3.4+deb13-amd64"

# What sos's plugins write (sos_commands/<plugin>/<command with spaces as _ and / as .>).
ESTIMATE = KDUMPCTL_ESTIMATE
LS_BOOT = f"""/boot:
total 98765
dr-xr-xr-x.  6 0 0     4096 Dec  4 09:00 .
dr-xr-xr-x. 18 0 0      235 Dec  4 09:00 ..
-rw-------.  1 0 0 33554432 Dec  4 09:01 initramfs-{RELEASE}kdump.img
-rw-------.  1 0 0 41943040 Dec  4 09:00 initramfs-{RELEASE}.img
-rwxr-xr-x.  1 0 0 14680064 Dec  4 09:00 vmlinuz-{RELEASE}
"""
LSINITRD = f"""Image: /boot/initramfs-{RELEASE}kdump.img: 32M
========================================================================
Early CPIO image
========================================================================
drwxr-xr-x   3 root     root            0 Dec  4 09:01 .
-rw-r--r--   1 root     root            2 Dec  4 09:01 early_cpio
========================================================================
Version: dracut-103-1.fc43

Arguments: --quiet --hostonly --add kdumpbase

dracut modules:
kdumpbase
========================================================================
drwxr-xr-x  12 root     root            0 Dec  4 09:01 .
-rwxr-xr-x   1 root     root        65536 Dec  4 09:01 init
-rw-r--r--   1 root     root     52428800 Dec  4 09:01 usr/lib/modules/{RELEASE}/kernel/big.ko
lrwxrwxrwx   1 root     root            7 Dec  4 09:01 bin -> usr/bin
========================================================================
"""


def sosreport(root: Path, *, journal: int = 4096) -> Path:
    """A sosreport tree of the real QEMU capture, with the sos plugins' outputs beside it."""
    top = root / TOP
    shutil.copytree(REAL, top, ignore=shutil.ignore_patterns("PROVENANCE.md", "dmesg.txt"))
    files = {
        "sos_commands/kernel/dmesg": (REAL / "dmesg.txt").read_text(),
        "sos_commands/kdump/kdumpctl_estimate": ESTIMATE,
        "sos_commands/kdump/kdumpctl_showmem": "Reserved 256MB memory for crash kernel\n",
        "sos_commands/boot/ls_-lanR_.boot": LS_BOOT,
        f"sos_commands/boot/lsinitrd_.boot.initramfs-{RELEASE}kdump.img": LSINITRD,
        "sos_commands/pci/lspci_-nnvv": "00:00.0 Host bridge [0600]: Intel Corporation 440FX [8086:1237]\n",
        "sos_commands/block/lsblk": "NAME MAJ:MIN RM SIZE RO TYPE MOUNTPOINTS\nvda 252:0 0 20G 0 disk\n",
        "etc/os-release": 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=43\n',
        "etc/kdump.conf": "path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n",
        "version.txt": "sosreport: 4.8.0\n",
    }
    for relpath, text in files.items():
        (top / relpath).parent.mkdir(parents=True, exist_ok=True)
        (top / relpath).write_text(text)
    logs = top / "sos_commands" / "logs"
    logs.mkdir(parents=True)
    with open(logs / "journalctl_--no-pager", "wb") as f:
        f.write(os.urandom(journal))
    return top


def tar_xz(top: Path, dest: Path) -> Path:
    with tarfile.open(dest, "w:xz", preset=0) as tar:
        tar.add(top, arcname=top.name)
    return dest


@pytest.fixture(scope="module")
def both(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sos")
    top = sosreport(root)
    return top, tar_xz(top, root / f"{TOP}.tar.xz")


KEPT = [
    "sos_commands/kernel/dmesg",
    "sos_commands/kdump/kdumpctl_estimate",
    "sos_commands/kdump/kdumpctl_showmem",
    "sos_commands/boot/ls_-lanR_.boot",
    f"sos_commands/boot/lsinitrd_.boot.initramfs-{RELEASE}kdump.img",
]


@pytest.mark.parametrize("relpath", KEPT)
def test_archive_keeps_what_the_directory_shows(both, relpath):
    """sos_commands/kdump, boot and kernel read byte-identically from the directory and the .tar.xz."""
    directory, archive = (open_source(str(p)) for p in both)
    assert archive.read_bytes(relpath) == directory.read_bytes(relpath) is not None


def test_archive_skips_what_crashplan_does_not_read(both):
    """pci, block and logs output are streamed past, in the archive only."""
    archive = open_source(str(both[1]))
    assert archive.read_text("sos_commands/pci/lspci_-nnvv") is None
    assert archive.read_text("sos_commands/logs/journalctl_--no-pager") is None


def test_facts_and_kernel_log_agree(both):
    """gather_facts, the kernel log among them, from the archive equal those from the directory."""
    directory, archive = (gather_facts(open_source(str(p))) for p in both)
    assert archive == directory
    log = archive.dmesg
    assert log is not None and log == directory.dmesg
    assert archive.provenance["dmesg"] == directory.provenance["dmesg"] == "/sos_commands/kernel/dmesg"
    assert any(line.startswith("crashkernel reserved:") for line in log.lines)


def test_big_sosreport_with_small_kept_files_is_read(tmp_path, monkeypatch):
    """An archive past the stream cap (scaled down here: 4 MiB) whose kept files are small is accepted."""
    monkeypatch.setattr(archive_module, "MAX_TOTAL_SIZE", 4 << 20)
    top = sosreport(tmp_path, journal=12 << 20)  # random bytes: an honest ratio of about 1
    path = tar_xz(top, tmp_path / f"{TOP}.tar.xz")
    source = open_source(str(path))
    assert source.read_text("proc/cmdline") == (REAL / "proc/cmdline").read_text()


def test_error_kept_bytes_over_the_cap(tmp_path, monkeypatch):
    """Kept members adding up past the kept cap (scaled down: 16 KiB) are refused as hostile."""
    monkeypatch.setattr(archive_module, "MAX_KEPT_SIZE", 16 << 10)
    top = sosreport(tmp_path)
    path = tar_xz(top, tmp_path / f"{TOP}.tar.xz")
    with pytest.raises(SourceError) as e:
        open_source(str(path))
    assert e.value.code == "hostile-archive" and "the members crashplan keeps add up to more than" in e.value.message


def test_oversized_sos_extra_is_skipped_not_refused(tmp_path, monkeypatch):
    """A sos_commands/kdump file over the per-member limit is left out; the host tree still reads."""
    monkeypatch.setattr(archive_module, "MAX_MEMBER_SIZE", 64 << 10)
    top = sosreport(tmp_path)
    (top / "sos_commands/kdump/huge").write_bytes(b"x" * (128 << 10))
    source = open_source(str(tar_xz(top, tmp_path / f"{TOP}.tar.xz")))
    assert source.read_text("sos_commands/kdump/huge") is None
    assert source.read_text("sos_commands/kdump/kdumpctl_estimate") == ESTIMATE


def _json(*args: str) -> dict:
    import json

    return json.loads(run(*args, "--format", "json").stdout)


@pytest.mark.parametrize("command", ["footprint", "recommend", "check"])
def test_sosreport_directory_and_archive_give_the_same_answer(both, command):
    """footprint, recommend and check of the sosreport directory and of its .tar.xz are equal (but for the source name)."""
    from jsonschema import Draft202012Validator

    from crashplan.schemas import load_schema

    directory, archive = (_json(command, "--source", str(p)) for p in both)
    for doc in (directory, archive):
        Draft202012Validator(load_schema(command)).validate(doc)
        doc.pop("source")
        if command == "check":
            doc.pop("host")  # names the source in its findings' text
    assert directory == archive


def test_boot_listings_measure_the_kdump_initrd(both):
    """ls -lanR /boot gives the kdump initrd's size as loaded, lsinitrd its unpacked size."""
    doc = _json("footprint", "--source", str(both[1]))
    assert doc["initrd"]["path"] == f"/boot/initramfs-{RELEASE}kdump.img"
    assert doc["initrd"]["size"] == 33554432
    assert doc["initrd"]["unpacked_size"] == 65536 + 52428800 + 2
    assert doc["kernel"]["size"] == 14680064


def test_kdumpctl_estimate_is_shown_beside_crashplans(both):
    """kdumpctl estimate from sos_commands/kdump is in the JSON (bytes) and in the text, beside crashplan's need."""
    doc = _json("footprint", "--source", str(both[1]))
    assert doc["kdumpctl_estimate"]["recommended"] == 400 << 20 and doc["kdumpctl_estimate"]["reserved"] == 256 << 20


    text = " ".join(run("check", "--source", str(both[0])).stdout.split())
    assert "kdumpctl estimate (the host's own, from the sosreport): recommended 400M, reserved 256M" in text
    assert "crashplan: estimated need" in text


def test_no_estimate_key_without_a_sosreport():
    """A source without kdumpctl output has no kdumpctl_estimate key (the goldens stay as they are)."""
    assert "kdumpctl_estimate" not in _json("footprint", "--source", str(REAL))


def test_snapshot_of_a_sosreport_keeps_the_listed_boot_files(both, tmp_path):
    """crashplan snapshot --source SOSREPORT stores the kdump initrd measured from the listings."""
    import json


    dest = tmp_path / "snap"

    run("snapshot", "--source", str(both[1]), "-o", str(dest))
    stored = json.loads((dest / "crashplan-snapshot.json").read_text())["files"]["boot"]["initrd"]
    assert stored["path"] == f"/boot/initramfs-{RELEASE}kdump.img" and stored["unpacked_bytes"] == 65536 + 52428800 + 2
    assert _json("footprint", "--source", str(dest))["initrd"] == _json("footprint", "--source", str(both[1]))["initrd"]


@pytest.mark.slow
def test_sosreport_past_256_mib_unscaled(tmp_path):
    """A real 300 MiB sosreport .tar (a journal of 300 MiB, small kept files) reads at the shipped caps."""
    top = sosreport(tmp_path, journal=0)
    with open(top / "sos_commands/logs/journalctl_--no-pager", "wb") as f:
        for _ in range(300):
            f.write(os.urandom(1 << 20))
    path = tmp_path / f"{TOP}.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(top, arcname=top.name)
    assert path.stat().st_size > archive_module.MAX_TOTAL_SIZE
    source = open_source(str(path))
    assert source.read_text("sos_commands/kdump/kdumpctl_estimate") == ESTIMATE
