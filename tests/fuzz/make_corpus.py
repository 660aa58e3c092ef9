#!/usr/bin/env python3
"""Rebuild the seed corpora in tests/fuzz/corpus/<target>/ from the real captures in tests/data/.

Run from the repository root: ``python tests/fuzz/make_corpus.py``.  Seeds are copies of (or
files derived from) ``tests/data/hosts/*/{proc,sys,etc}``, ``tests/data/images/*``,
``profiles/*.yaml`` and the ``crashkernel=`` strings the tests and README use; the initrd seeds
are tiny newc archives written here, raw and under each compression the kernel unpacks.
Each file is named by the first 12 hex digits of its SHA-1, so reruns are stable.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import re
import shutil
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
HOSTS = ROOT / "tests" / "data" / "hosts"
MAX_SEED = 48 << 10  # bytes; bigger captures are cut to this (the cut is itself a good seed)


def put(target: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()[:12]).write_bytes(data)


def host_files(relpath: str) -> list[bytes]:
    return [p.read_bytes()[:MAX_SEED] for p in sorted(HOSTS.glob(f"*/{relpath}")) if p.is_file()]


def grammar() -> None:
    pattern = re.compile(r"crashkernel=[^\s'\"\\)`]*")
    found: set[str] = set()
    for path in [*ROOT.glob("tests/*.py"), *ROOT.glob("tests/kernel/*.py"), ROOT / "README.md",
                 *ROOT.glob("crashplan/*.py")]:
        found.update(pattern.findall(path.read_text(errors="replace")))
    found.update(["256M", "1G,cma", "crashkernel=auto", "crashkernel=0x10000000@0x1000000",
                  "ro crashkernel=512M-2G:64M,2G-:128M quiet", "crashkernel=256MB",
                  "crashkernel=1G,high crashkernel=256M,low", "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M",
                  "crashkernel=256M\tcrashkernel=1G,cma", "crashkernel=1G\0crashkernel=2G"])
    for s in sorted(found):
        put("grammar", s.encode())
    for data in host_files("proc/cmdline"):
        put("grammar", data)
        put("cmdline", data)
    for s in ['BOOT_IMAGE=/vmlinuz root=UUID=1 ro "quoted arg=with space" -- init=/bin/sh x',
              'a="b c" "d=e f" -- --', 'crashkernel="256M"  \t\n  quiet']:
        put("cmdline", s.encode())


def parsers() -> None:
    for relpath, target in (
        ("proc/iomem", "iomem"),
        ("proc/meminfo", "meminfo"),
        ("proc/buddyinfo", "buddyinfo"),
        ("proc/zoneinfo", "zoneinfo"),
        ("etc/os-release", "osrelease"),
        ("dmesg.txt", "dmesg"),
    ):
        for data in host_files(relpath):
            put(target, data)
            if target == "iomem":
                put(target, data[: len(data) // 3])  # a truncated capture
    for data in host_files("sys/devices/system/cpu/*"):
        put("cpulist", data)
    for s in ["0-3\n", "0,2,4-7\n", "0-127:2/4\n", "\n", "0-4095\n"]:
        put("cpulist", s.encode())
    for data in host_files("sys/kernel/*"):
        put("sysfs", data)
    for s in ["268435456\n", "0\n", "1\n", "0x100000000-0x11fffffff\n", "100000000-11fffffff\n"]:
        put("sysfs", s.encode())
    for s in [
        "NAME=Fedora\nID=fedora\nVERSION_ID=43\nID_LIKE=\"rhel centos\"\n",
        "ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n",
        "ID='opensuse-tumbleweed'\nID_LIKE=\"suse opensuse\"\n",
    ]:
        put("osrelease", s.encode())
    kdump = [
        "path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\nfailure_action reboot\n",
        "# comment\nraw /dev/sdb1\nextra_modules e1000 nvme\nnfs server:/export\n",
        'KDUMP_COMMANDLINE_APPEND="irqpoll nr_cpus=1 reset_devices"\nKDUMP_COMMANDLINE_REMOVE="quiet"\n'
        'KEXEC_ARGS="-s"\nKDUMP_IMG="vmlinuz"\n',
        'USE_KDUMP=1\nKDUMP_KERNEL=/var/lib/kdump/vmlinuz\nKDUMP_INITRD=/var/lib/kdump/initrd.img\n'
        'MAKEDUMP_ARGS="-c -d 31"\nKDUMP_CMDLINE_APPEND="nr_cpus=1 systemd.unit=kdump-tools-dump.service"\n',
        "KDUMP_DUMPLEVEL=31\nKDUMP_DUMPFORMAT=\"compressed\"\nKDUMP_CPUS=1\nKDUMP_SAVEDIR=\"file:///var/crash\"\n",
    ]
    for s in kdump:
        put("kdumpconf", s.encode())
    for path in sorted(HOSTS.glob("*/etc/*kdump*")):
        put("kdumpconf", path.read_bytes())
    put("dmesg", b"[    0.000000] RAMDISK: [mem 0xbfee4000-0xbffdffff]\n"
                 b"[    0.000000] Memory: 3900000K/4193784K available\n"
                 b"[    0.000000] Move RAMDISK from [mem 0x1000-0x1fff] to [mem 0x2000-0x2fff]\n"
                 b"[    0.000000] crashkernel reserved: 0x00000000b3000000 - 0x00000000c3000000 (256 MB)\n")


def profiles() -> None:
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        put("profile", path.read_bytes())
    put("profile", b"extends: fedora-x86_64\nname: site\n")


def images() -> None:
    for path in sorted((ROOT / "tests" / "data" / "images").glob("*.head")):
        data = path.read_bytes()
        put("image", data[:16384])
        put("image", gzip.compress(data[:4096], mtime=0))


def newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], 1):
        raw = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0]
        out += b"070701" + b"".join(b"%08X" % v for v in fields) + raw
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def initrds() -> None:
    import zstandard

    early = newc([("kernel", 0o40755, b""), ("kernel/x86/microcode/GenuineIntel.bin", 0o100644, b"\x01" * 100)])
    main = newc([(".", 0o40755, b""), ("init", 0o100755, b"#!/bin/sh\nexec sh\n"),
                 ("bin/sh", 0o120777, b"busybox"), ("etc/fstab", 0o100644, b"x" * 5000)])
    put("initrd", main)
    put("initrd", early + b"\0" * 512 + gzip.compress(main, mtime=0))
    put("initrd", lzma.compress(main))
    put("initrd", lzma.compress(main, format=lzma.FORMAT_ALONE))
    put("initrd", bz2.compress(main))
    put("initrd", zstandard.ZstdCompressor().compress(main))
    put("initrd", early + zstandard.ZstdCompressor().compress(main + early))


def record_tree(root: Path) -> bytes:
    out = bytearray()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != "PROVENANCE.md" and path.name != "dmesg.txt":
            out += b"@@ " + path.relative_to(root).as_posix().encode() + b"\n" + path.read_bytes()[:16 << 10]
            if not out.endswith(b"\n"):
                out += b"\n"
    return bytes(out)


def snapshots() -> None:
    for host in sorted(HOSTS.iterdir()):
        if (host / "proc").is_dir():
            put("snapshot_tree", record_tree(host))
    # Hostile shapes the mutator can start from.
    put("snapshot_tree", b"@@ proc/iomem -> /etc/passwd\n@@ proc/meminfo |fifo\n@@ proc/cmdline -> ../proc/cmdline\n")
    put("snapshot_tree", b'@@ crashplan-snapshot.json\n{"format": "crashplan-snapshot", "version": 1}\n@@ proc/cmdline\nro\n')
    for host in ("qemu-x86_64-4g-crashkernel-256m", "coreos-ocp-master-vm", "arm64-rpi4-4g-cma512m"):
        tree = record_tree(HOSTS / host)
        put("snapshot_archive", tree)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for path in sorted((HOSTS / host).rglob("*")):
                if path.is_file() and path.suffix not in (".md", ".txt"):
                    data = path.read_bytes()[:8 << 10]
                    info = tarfile.TarInfo("host/" + path.relative_to(HOSTS / host).as_posix())
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        raw = buffer.getvalue()
        put("snapshot_archive", raw)
    put("snapshot_archive", gzip.compress(raw, mtime=0))
    put("snapshot_archive", b"@@ proc/iomem => etc/os-release\n@@ etc/os-release\nID=x\n@@ dev/null |fifo\n")


def main() -> None:
    if CORPUS.exists() and "--keep" not in sys.argv:
        shutil.rmtree(CORPUS)
    grammar()
    parsers()
    profiles()
    images()
    initrds()
    snapshots()
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    print(f"{sum(1 for p in CORPUS.rglob('*') if p.is_file())} seeds, {total} bytes in {CORPUS}")


if __name__ == "__main__":
    main()
