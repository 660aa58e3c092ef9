#!/usr/bin/env python3
"""Crash-dump trials: does a real kdump with ``crashkernel=X`` produce a dump?

Calibration oracle for crashplan's footprint estimator.  Under QEMU (TCG) it boots
the Debian kernel that ``harness.py`` fetches with ``nokaslr crashkernel=...``; the
first kernel's initramfs loads a capture kernel with ``kexec -s -p`` (kexec_file_load)
and crashes with ``echo c > /proc/sysrq-trigger``; the capture kernel's initrd runs
``makedumpfile -F -l -d 31 /proc/vmcore > /dev/null``.  The serial console decides
the outcome of a :class:`Trial`; :func:`bisect_min` finds the smallest ``crashkernel=``
that still dumps.

* :func:`build_kdump_tools` -- kexec-tools + makedumpfile from sid and their whole
  shared-library closure (sid's loader and libc included), via the harness' private apt.
* :func:`build_kdump_initrd` -- the capture kernel's initrd (busybox + makedumpfile),
  padded with seeded random data to a realistic compressed size (:data:`VARIANTS`).
* :func:`build_first_initramfs` -- the first kernel's initramfs (busybox + kexec +
  the capture kernel's vmlinuz + the kdump initrd).
* :func:`run_trial` -- one crash dump; results cached as JSON keyed by every input.
* :func:`bisect_min` -- smallest multiple of ``step`` giving ``dumped``.
* :func:`run_grid` -- the calibration grid, two guests at a time, written to
  ``tests/data/kdump-trials/``.

Stdlib only (Python 3.11).  No archive host name is written anywhere (the harness reads
the archive URI from ``/etc/apt/sources.list.d`` at run time).

CLI::

    python tests/kernel/kdump.py tools
    python tests/kernel/kdump.py trial --ram 4G --crashkernel 256M --variant 20m
    python tests/kernel/kdump.py bisect --ram 4G --variant 20m [--cma 512M]
    python tests/kernel/kdump.py grid [--jobs 2] [--only 4g-5m-nocma,...]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import gzip
import hashlib
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import HarnessError, parse_size

__all__ = [
    "GRID",
    "VARIANTS",
    "Tools",
    "Trial",
    "bisect_min",
    "build_first_initramfs",
    "build_kdump_initrd",
    "build_kdump_tools",
    "main",
    "run_grid",
    "run_trial",
    "setup_name",
]

#: Bump when the trial JSON layout, the init scripts' protocol or the classification changes.
SCHEMA = 1

MIB = 1 << 20
GIB = 1 << 30

#: Capture initrd variants: target compressed size in MiB (None: no padding, about 5 MiB).
VARIANTS: dict[str, int | None] = {"5m": None, "20m": 20, "40m": 40, "60m": 60}

#: Debian packages from sid whose binaries go into the images.
TOOL_PACKAGES = ("kexec-tools", "makedumpfile")
#: Dependencies that are not shared libraries (never followed).
_SKIP_DEPS = {"debconf", "debconf-2.0", "dpkg", "perl", "perl-base", "install-info"}

#: Fixed part of the capture kernel's command line (``<extra>`` is appended).
CAPTURE_CMDLINE = "console=ttyS0 root=/dev/null nr_cpus=1 reset_devices panic=-1"
DUMP_LEVEL = 31

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "kdump-trials"

_LIBDIR = "lib/x86_64-linux-gnu"
_LOADER = "lib64/ld-linux-x86-64.so.2"

# ---------------------------------------------------------------- init scripts

_FIRST_INIT = """#!/bin/busybox sh
# crashplan kdump trial, first kernel: load the capture kernel, then crash.
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
export LD_LIBRARY_PATH=/@LIBDIR@
echo "==KDUMP-BEGIN iomem=="; grep -i crash /proc/iomem; echo "==KDUMP-END iomem=="
echo "==KDUMP-BEGIN cma=="; grep -E 'CmaTotal|MemTotal' /proc/meminfo; echo "==KDUMP-END cma=="
echo "==KDUMP-BEGIN crash-size=="; cat /sys/kernel/kexec_crash_size; echo "==KDUMP-END crash-size=="
echo "==KDUMP-BEGIN cma-ranges=="; cat /sys/kernel/kexec_crash_cma_ranges 2>/dev/null; echo "==KDUMP-END cma-ranges=="
/opt/bin/kexec -s -p /vmlinuz --initrd=/kdump.img --append "@CMDLINE@" >/tmp/kexec.out 2>&1
rc=$?
echo "==KDUMP-BEGIN kexec=="; echo "rc=$rc"; cat /tmp/kexec.out; echo "==KDUMP-END kexec=="
echo "==KDUMP-BEGIN kexec-loaded=="; cat /sys/kernel/kexec_crash_loaded; echo "==KDUMP-END kexec-loaded=="
if [ "$rc" != 0 ]; then
    echo "==KDUMP-LOAD-FAILED=="
    poweroff -f
    sleep 5
fi
echo "==KDUMP-CRASHING=="
echo c > /proc/sysrq-trigger
sleep 5
poweroff -f
"""

_CAPTURE_INIT = """#!/bin/busybox sh
# crashplan kdump trial, capture kernel: dump /proc/vmcore to /dev/null, power off.
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "==KDUMP-CAPTURE-START=="
echo "==KDUMP-BEGIN capture-meminfo=="; grep -E 'MemTotal|MemFree|MemAvailable' /proc/meminfo; echo "==KDUMP-END capture-meminfo=="
export LD_LIBRARY_PATH=/@LIBDIR@
/opt/bin/makedumpfile -F -l -d @LEVEL@ /proc/vmcore > /dev/null 2>/tmp/mdf.err
rc=$?
if [ "$rc" = 0 ]; then
    echo "KDUMP-OK"
else
    echo "KDUMP-FAIL rc=$rc"
fi
echo "==KDUMP-BEGIN makedumpfile-stderr=="; tr '\\r' '\\n' < /tmp/mdf.err | grep -v '^ *$' | tail -n 8; echo "==KDUMP-END makedumpfile-stderr=="
echo "==KDUMP-CAPTURE-DONE=="
poweroff -f
sleep 5
"""


class KdumpError(HarnessError):
    """Anything the kdump trials could not do."""


# ---------------------------------------------------------------- 1. tools


@dataclass(frozen=True)
class Tools:
    """kexec and makedumpfile with their library closure, extracted from sid."""

    root: Path
    kexec_tools_version: str
    makedumpfile_version: str
    #: guest path -> host file (binaries under ``opt/bin``, libraries, the loader)
    files: dict[str, str]


def _readelf(path: Path) -> tuple[list[str], str | None]:
    """(NEEDED sonames, PT_INTERP) of an ELF file."""
    out = harness._run(["readelf", "-d", "-l", "-W", str(path)], what=f"readelf {path.name}").stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    interp = re.search(r"Requesting program interpreter: ([^\]]+)\]", out)
    return needed, interp.group(1) if interp else None


def _in_root(root: Path, rel: str) -> Path:
    """Resolve ``rel`` inside ``root``, following symlinks (absolute ones re-rooted)."""
    parts = [p for p in rel.strip("/").split("/") if p]
    cur = root
    for _ in range(40):
        done = True
        path = root
        for i, part in enumerate(parts):
            path = path / part
            if path.is_symlink():
                target = os.readlink(path)
                base = [] if target.startswith("/") else [p for p in path.parent.relative_to(root).parts]
                new = base + [p for p in target.split("/") if p] + parts[i + 1:]
                norm: list[str] = []
                for p in new:
                    if p == "..":
                        if norm:
                            norm.pop()
                    elif p != ".":
                        norm.append(p)
                parts = norm
                done = False
                break
        if done:
            cur = path
            break
    return cur


def _dep_names(fields: dict[str, str]) -> list[str]:
    names = []
    for key in ("Pre-Depends", "Depends"):
        for group in fields.get(key, "").split(","):
            first = group.split("|")[0].strip()
            if not first:
                continue
            name = re.split(r"[\s(:]", first, maxsplit=1)[0]
            names.append(name)
    return names


def build_kdump_tools(cache: Path | None = None, *, refresh: bool = False) -> Path:
    """Download kexec-tools, makedumpfile and their library closure from sid; return the root.

    The packages and, recursively, their ``lib*`` dependencies are fetched with
    ``apt-get download`` through the harness' private apt and extracted with
    ``dpkg-deb -x`` into ``cache/kdump/tools/<kexec>_<makedumpfile>/root``; the
    ``NEEDED`` closure of both binaries (``readelf -d``) is then checked against that
    root and recorded in ``tools.json`` next to it (see :func:`load_tools`).  Later calls
    need no network unless ``refresh``.
    """
    cache = (cache or harness.default_cache()).resolve()
    record = cache / "kdump" / "tools.json"
    with harness._locked(cache, "kdump-tools"):
        if record.is_file() and not refresh:
            t = _tools_from_json(record)
            if all(Path(p).is_file() for p in t.files.values()):
                return t.root
        apt = harness._private_apt(cache)
        wanted: dict[str, str] = {}
        todo = list(TOOL_PACKAGES)
        while todo:
            pkg = todo.pop()
            if pkg in wanted or pkg in _SKIP_DEPS:
                continue
            versions = apt.versions(pkg)
            if not versions:  # virtual or missing: the NEEDED check below decides
                continue
            ver, fields = versions[0]
            wanted[pkg] = ver
            todo += [d for d in _dep_names(fields) if d.startswith(("lib", "zlib")) and d not in wanted]
        tag = f"{wanted['kexec-tools']}_{wanted['makedumpfile']}".replace(":", "%3a")
        base = cache / "kdump" / "tools" / tag
        debs = base / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        for pkg, ver in sorted(wanted.items()):
            if not any(d.name.startswith(f"{pkg}_") for d in debs.glob("*.deb")):
                apt.get("download", f"{pkg}={ver}", cwd=debs, what=f"apt-get download {pkg}={ver}")
        root = base / "root"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        for deb in sorted(debs.glob("*.deb")):
            harness._run(["dpkg-deb", "-x", str(deb), str(root)], what=f"dpkg-deb -x {deb.name}")
        files: dict[str, str] = {}
        libdirs = ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib", "lib",
                   "usr/lib/x86_64-linux-gnu/xen/lib", "usr/lib64"]
        seen: set[str] = set()
        queue: list[Path] = []
        for name in ("kexec", "makedumpfile"):
            binary = next((_in_root(root, f"{d}/{name}") for d in ("usr/sbin", "sbin", "usr/bin")
                           if _in_root(root, f"{d}/{name}").is_file()), None)
            if binary is None:
                raise KdumpError(f"{name} not found in the extracted packages under {root}")
            files[f"opt/bin/{name}"] = str(binary)
            queue.append(binary)
        interp_seen = None
        while queue:
            elf = queue.pop()
            needed, interp = _readelf(elf)
            if interp and interp_seen is None:
                interp_seen = interp
                loader = _in_root(root, interp)
                if not loader.is_file():  # merged /usr: the packages ship usr/lib64/...
                    loader = _in_root(root, "usr/" + interp.lstrip("/"))
                if not loader.is_file():
                    raise KdumpError(f"sid's loader {interp} missing under {root}")
                files[_LOADER] = str(loader)
            for so in needed:
                if so in seen:
                    continue
                seen.add(so)
                hit = next((_in_root(root, f"{d}/{so}") for d in libdirs
                            if _in_root(root, f"{d}/{so}").is_file()), None)
                if hit is None:
                    found = sorted(root.glob(f"**/{so}"))
                    hit = _in_root(root, str(found[0].relative_to(root))) if found else None
                if hit is None:
                    raise KdumpError(f"NEEDED {so} (of {elf.name}) not found in the packages "
                                     f"{', '.join(sorted(wanted))}")
                files[f"{_LIBDIR}/{so}"] = str(hit)
                queue.append(hit)
        t = Tools(root=root, kexec_tools_version=wanted["kexec-tools"],
                  makedumpfile_version=wanted["makedumpfile"], files=files)
        harness._atomic_write(record, json.dumps(dataclasses.asdict(t), default=str, indent=1) + "\n")
        return root


def _tools_from_json(path: Path) -> Tools:
    d = json.loads(path.read_text())
    return Tools(root=Path(d["root"]), kexec_tools_version=d["kexec_tools_version"],
                 makedumpfile_version=d["makedumpfile_version"], files=d["files"])


def load_tools(cache: Path | None = None) -> Tools:
    """The :class:`Tools` recorded by :func:`build_kdump_tools` (building them if needed)."""
    cache = (cache or harness.default_cache()).resolve()
    build_kdump_tools(cache)
    return _tools_from_json(cache / "kdump" / "tools.json")


# ---------------------------------------------------------------- 2. images

_D, _F, _C, _L = 0o040755, 0o100755, 0o020600, 0o120777


def _base_entries(bb: bytes) -> list[tuple[str, int, bytes, int]]:
    dirs = ["bin", "sbin", "dev", "proc", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "opt",
            "opt/bin", "lib", _LIBDIR, "lib64", "var"]
    return ([(d, _D, b"", 0) for d in dirs]
            + [("dev/console", _C, b"", (5 << 8) | 1), ("dev/null", 0o020666, b"", (1 << 8) | 3),
               ("bin/busybox", _F, bb, 0), ("bin/sh", _L, b"busybox", 0)])


def _tool_entries(tools: Tools, names: tuple[str, ...]) -> list[tuple[str, int, bytes, int]]:
    """The binaries ``names`` (guest ``opt/bin/<name>``) plus the loader and every library."""
    out = []
    for guest, host in sorted(tools.files.items()):
        if guest.startswith("opt/bin/") and guest.removeprefix("opt/bin/") not in names:
            continue
        out.append((guest, _F, Path(host).read_bytes(), 0))
    return out


def _busybox() -> bytes:
    bb = harness._static_busybox()
    if bb is None:
        raise KdumpError("no static busybox (install busybox-static or call harness.ensure_tools())")
    return bb.read_bytes()


def _unpacked(entries: list[tuple[str, int, bytes, int]]) -> int:
    return sum(len(data) for _, mode, data, _ in entries if mode & 0o170000 == 0o100000)


def _pad(variant: str, base_compressed: int) -> bytes:
    target = VARIANTS[variant]
    if target is None:
        return b""
    n = max(0, target * MIB - base_compressed)
    # seeded, reproducible, incompressible
    return hashlib.shake_256(f"crashplan-kdump-pad-{variant}".encode()).digest(n)


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def build_kdump_initrd(variant: str, cache: Path | None = None, *, tools: Tools | None = None
                       ) -> tuple[Path, dict]:
    """The capture kernel's initrd for ``variant``; returns (path, info).

    info: ``variant``, ``size`` (compressed bytes), ``unpacked_size`` (sum of the file
    sizes in the cpio), ``sha256`` (first 16 hex digits).  gzip'd newc, reproducible;
    named by a hash of its inputs and cached.
    """
    if variant not in VARIANTS:
        raise KdumpError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    cache = (cache or harness.default_cache()).resolve()
    tools = tools or load_tools(cache)
    bb = _busybox()
    init = _CAPTURE_INIT.replace("@LIBDIR@", _LIBDIR).replace("@LEVEL@", str(DUMP_LEVEL))
    h = hashlib.sha256(b"kdump-initrd-1\0" + variant.encode() + init.encode() + bb)
    for guest, host in sorted(tools.files.items()):
        h.update(guest.encode() + b"\0" + harness._sha256_file(Path(host)).encode())
    digest = h.hexdigest()[:16]
    out = cache / "kdump" / "initrd" / f"kdump-{variant}-{digest}.cpio.gz"
    meta = out.with_suffix(".json")
    if out.is_file() and meta.is_file():
        return out, json.loads(meta.read_text())
    entries = (_base_entries(bb) + _tool_entries(tools, ("makedumpfile",))
               + [("init", _F, init.encode(), 0)])
    base = _gz(harness._newc(entries))
    pad = _pad(variant, len(base))
    if pad:
        entries.append(("var/padding.bin", 0o100644, pad, 0))
        data = _gz(harness._newc(entries))
    else:
        data = base
    info = {"variant": variant, "size": len(data), "unpacked_size": _unpacked(entries),
            "sha256": hashlib.sha256(data).hexdigest()[:16]}
    harness._atomic_write(out, data)
    harness._atomic_write(meta, json.dumps(info, indent=1) + "\n")
    return out, info


def capture_cmdline(extra: str = "") -> str:
    return f"{CAPTURE_CMDLINE} {extra}".strip()


def build_first_initramfs(variant: str, cache: Path | None = None, *,
                          kernel: harness.Kernel | None = None, tools: Tools | None = None,
                          extra: str = "") -> tuple[Path, dict]:
    """The first kernel's initramfs: busybox + kexec + ``/vmlinuz`` + ``/kdump.img`` + ``/init``.

    Returns (path, info of the kdump initrd).  ``extra`` is appended to the capture
    kernel's command line (:data:`CAPTURE_CMDLINE`).
    """
    cache = (cache or harness.default_cache()).resolve()
    kernel = kernel or harness.fetch_kernel(cache)
    tools = tools or load_tools(cache)
    kdump_img, info = build_kdump_initrd(variant, cache, tools=tools)
    bb = _busybox()
    init = _FIRST_INIT.replace("@LIBDIR@", _LIBDIR).replace("@CMDLINE@", capture_cmdline(extra))
    h = hashlib.sha256(b"kdump-first-1\0" + init.encode() + bb + info["sha256"].encode()
                       + harness._sha256_file(kernel.vmlinuz).encode())
    for guest, host in sorted(tools.files.items()):
        h.update(guest.encode() + b"\0" + harness._sha256_file(Path(host)).encode())
    digest = h.hexdigest()[:16]
    out = cache / "kdump" / "first" / f"first-{variant}-{digest}.cpio.gz"
    if out.is_file():
        return out, info
    entries = (_base_entries(bb) + _tool_entries(tools, ("kexec",))
               + [("vmlinuz", 0o100644, kernel.vmlinuz.read_bytes(), 0),
                  ("kdump.img", 0o100644, kdump_img.read_bytes(), 0),
                  ("init", _F, init.encode(), 0)])
    harness._atomic_write(out, _gz(harness._newc(entries)))
    return out, info


def kernel_facts(kernel: harness.Kernel) -> dict:
    """release, package, package_version, vmlinuz_size, init_size (bzImage header 0x260)."""
    with open(kernel.vmlinuz, "rb") as f:
        head = f.read(0x270)
    init_size, = struct.unpack_from("<I", head, 0x260)
    return {"release": kernel.version, "package": kernel.package,
            "package_version": kernel.package_version,
            "vmlinuz_size": kernel.vmlinuz.stat().st_size, "init_size": init_size}


# ---------------------------------------------------------------- 3. trials


@dataclass
class Trial:
    """One crash-dump trial.  ``outcome`` is ``dumped`` (success) or the failure kind."""

    ram: int
    crashkernel: str
    variant: str
    #: dumped | booted | loaded | reserve-failed | load-failed | oom | dump-failed | timeout |
    #: no-capture
    outcome: str
    elapsed: float
    #: the evidence: crash lines, kexec rc/output, capture meminfo, failure lines, ...
    facts: dict = field(default_factory=dict)
    cmdline: str = ""
    capture_cmdline: str = ""
    kernel_release: str = ""
    kernel_package_version: str = ""
    kexec_tools_version: str = ""
    makedumpfile_version: str = ""
    initrd: dict = field(default_factory=dict)
    qemu_argv: list[str] = field(default_factory=list)
    date: str = ""
    #: path of the full serial log in the cache
    log: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "dumped"


_TS = re.compile(r"^\[\s*\d+\.\d+\]\s?")
_FAIL_WORDS = ("Out of memory", "Kernel panic", "not syncing", "oom-kill", "Initramfs unpacking failed",
               "ENOSPC", "No space left", "Unable to mount root", "Killed process",
               "Memory allocation failed", "out of memory", "Cannot allocate memory")


def _sections(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in re.finditer(r"==KDUMP-BEGIN (\S+)==\n(.*?)==KDUMP-END \1==", text, re.S):
        out.setdefault(m.group(1), m.group(2))
    return out


def classify(serial: str, timed_out: bool) -> tuple[str, dict]:
    """(outcome, facts) from the whole serial console of one trial."""
    text = serial.replace("\r", "")
    lines = text.split("\n")
    facts: dict = {}
    # split the console into the first kernel's and the capture kernel's parts
    cut = None
    for i, ln in enumerate(lines):
        if "Starting crashdump kernel" in ln:
            cut = i
            break
    if cut is None:
        versions = [i for i, ln in enumerate(lines) if "Linux version" in ln]
        cut = versions[1] if len(versions) > 1 else len(lines)
    first, capture = "\n".join(lines[:cut]), "\n".join(lines[cut:])
    sec = _sections(first)
    facts["crash_lines"] = [_TS.sub("", ln).strip() for ln in first.split("\n")
                            if ("crashkernel" in ln or "Crash kernel" in ln or "cma: Reserved" in ln
                                or "RAMDISK:" in ln) and "command line" not in ln.lower()
                            and "==KDUMP" not in ln][:20]
    facts["iomem"] = [ln.strip() for ln in sec.get("iomem", "").splitlines() if ln.strip()]
    facts["meminfo"] = [ln.strip() for ln in sec.get("cma", "").splitlines() if ln.strip()]
    cs = sec.get("crash-size", "").strip()
    facts["kexec_crash_size"] = int(cs) if cs.isdigit() else None
    facts["cma_ranges"] = sec.get("cma-ranges", "").strip()
    kx = sec.get("kexec")
    if kx is not None:
        m = re.search(r"rc=(\d+)", kx)
        facts["kexec_rc"] = int(m.group(1)) if m else None
        facts["kexec_output"] = [ln for ln in kx.splitlines()[1:] if ln.strip()][-10:]
    cap_sec = _sections(capture)
    facts["capture_started"] = cut < len(lines)
    facts["capture_meminfo"] = [ln.strip() for ln in cap_sec.get("capture-meminfo", "").splitlines()
                                if ln.strip()]
    facts["makedumpfile_stderr"] = [ln for ln in cap_sec.get("makedumpfile-stderr", "").splitlines()
                                    if ln.strip()]
    facts["failure_lines"] = [_TS.sub("", ln).strip() for ln in capture.split("\n")
                              if any(w in ln for w in _FAIL_WORDS)][:12]
    facts["capture_memory"] = next((_TS.sub("", ln).strip() for ln in capture.split("\n")
                                    if re.search(r"\] Memory: \d+K/\d+K available", ln)), "")
    if facts["capture_started"]:
        facts["capture_tail"] = [ln for ln in capture.split("\n") if ln.strip()][-25:]
    m = re.search(r"KDUMP-FAIL rc=(\d+)", capture)
    # ------------------------------------------------------------ decision
    if re.search(r"^KDUMP-OK\s*$", capture, re.M):
        return "dumped", facts
    if facts["kexec_crash_size"] == 0 or any("crashkernel reservation failed" in ln
                                             for ln in facts["crash_lines"]):
        return "reserve-failed", facts
    if facts.get("kexec_rc") not in (None, 0) or "==KDUMP-LOAD-FAILED==" in first:
        return "load-failed", facts
    if m:
        facts["kdump_rc"] = int(m.group(1))
        if int(m.group(1)) == 137 or facts["failure_lines"]:
            return "oom", facts
        return "dump-failed", facts
    if facts["capture_started"] and facts["failure_lines"]:
        return "oom", facts
    if timed_out:
        return "timeout", facts
    if "==KDUMP-CAPTURE-START==" in capture:
        return "booted", facts
    if facts.get("kexec_rc") == 0:
        return ("loaded" if facts["capture_started"] else "no-capture"), facts
    return "timeout" if timed_out else "no-capture", facts


def _run_qemu(argv: list[str], timeout: float) -> tuple[str, float, bool]:
    """Run QEMU, following the serial console; stop early once the outcome is settled."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = bytearray()
    settle_deadline = None
    timed_out = False
    try:
        while True:
            now = time.monotonic()
            if now - start > timeout:
                timed_out = True
                break
            if settle_deadline is not None and now > settle_deadline:
                break
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
                if settle_deadline is None:
                    tail = bytes(buf[-200000:])
                    crashed = b"Starting crashdump kernel" in buf
                    if b"==KDUMP-CAPTURE-DONE==" in tail:
                        settle_deadline = time.monotonic() + 5
                    elif crashed and (b"Out of memory" in tail.split(b"Starting crashdump kernel")[-1]):
                        settle_deadline = time.monotonic() + 20  # let the panic lines come
            elif proc.poll() is not None:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        with contextlib.suppress(OSError, ValueError):
            rest = proc.stdout.read()
            if rest:
                buf += rest
        proc.stdout.close()
    return buf.decode(errors="replace"), time.monotonic() - start, timed_out


def _trial_key(kernel: harness.Kernel, tools: Tools, first: Path, ram: int, crashkernel: str) -> str:
    src = json.dumps({"schema": SCHEMA, "kernel": kernel.version,
                      "package_version": kernel.package_version,
                      "kexec": tools.kexec_tools_version, "makedumpfile": tools.makedumpfile_version,
                      "first": first.name, "ram": ram, "crashkernel": crashkernel}, sort_keys=True)
    return hashlib.sha256(src.encode()).hexdigest()


def run_trial(ram: int, crashkernel: str, variant: str, *, cache: Path | None = None,
              timeout: float = 300, kernel: harness.Kernel | None = None, extra: str = "",
              use_cache: bool = True) -> Trial:
    """One crash dump: boot with ``nokaslr <crashkernel>`` and ``ram`` bytes, crash, dump.

    ``crashkernel`` is the whole crashkernel part of the command line, e.g.
    ``"crashkernel=256M"`` or ``"crashkernel=512M,cma crashkernel=96M"`` (a bare size such
    as ``"256M"`` is accepted too).  Cached in ``cache/kdump/trials/<sha256>.json`` keyed by
    kernel, tool versions, the images (variant + init scripts) , ram and crashkernel.
    """
    cache = (cache or harness.default_cache()).resolve()
    if not crashkernel.strip().startswith("crashkernel="):
        crashkernel = f"crashkernel={crashkernel.strip()}"
    kernel = kernel or harness.fetch_kernel(cache)
    tools = load_tools(cache)
    first, info = build_first_initramfs(variant, cache, kernel=kernel, tools=tools, extra=extra)
    key = _trial_key(kernel, tools, first, ram, crashkernel)
    record = cache / "kdump" / "trials" / f"{key}.json"
    if use_cache and record.is_file():
        d = json.loads(record.read_text())
        d["cached"] = True
        if d.get("log") and Path(d["log"]).is_file():  # re-derive the facts with the current parser
            timed_out = d["facts"].get("timed_out", False)
            d["outcome"], d["facts"] = classify(Path(d["log"]).read_text(), timed_out)
            d["facts"]["timed_out"] = timed_out
        return Trial(**d)
    cmdline = f"console=ttyS0 panic=-1 nokaslr {crashkernel}"
    argv = harness._qemu_argv(kernel, first, ram, cmdline, 1, 1)
    serial, elapsed, timed_out = _run_qemu(argv, timeout)
    outcome, facts = classify(serial, timed_out)
    facts["timed_out"] = timed_out
    log = record.with_suffix(".log")
    harness._atomic_write(log, serial.replace("\r", ""))
    t = Trial(ram=ram, crashkernel=crashkernel, variant=variant, outcome=outcome,
              elapsed=round(elapsed, 1), facts=facts, cmdline=cmdline,
              capture_cmdline=capture_cmdline(extra), kernel_release=kernel.version,
              kernel_package_version=kernel.package_version,
              kexec_tools_version=tools.kexec_tools_version,
              makedumpfile_version=tools.makedumpfile_version, initrd=info, qemu_argv=argv,
              date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), log=str(log))
    if not timed_out or outcome != "timeout":
        harness._atomic_write(record, json.dumps(dataclasses.asdict(t), indent=1) + "\n")
    return t


# ---------------------------------------------------------------- 4. bisection


def crashkernel_arg(x: int, cma: int | None) -> str:
    """``crashkernel=XM`` or ``crashkernel=<cma>M,cma crashkernel=XM`` (the ``,cma`` token first)."""
    fixed = f"crashkernel={x >> 20}M"
    return f"crashkernel={cma >> 20}M,cma {fixed}" if cma else fixed


def bisect_min(ram: int, variant: str, *, cma: int | None = None, lo: int = 32 * MIB,
               hi: int = 768 * MIB, step: int = 8 * MIB, guess: int | None = None,
               cache: Path | None = None, timeout: float = 300,
               log=None, run=None, name: str | None = None) -> tuple[int | None, list[Trial]]:
    """Smallest multiple of ``step`` in [lo, hi] for which the trial gives ``dumped``.

    Assumes monotonicity (fails below the boundary, dumps at and above it).  With a
    ``guess`` it gallops from there (probes guess, then doubles the distance in the
    needed direction) before bisecting, which keeps the number of probes small when the
    guess is good; without one it first checks ``hi``.  Returns (minimum or None if even
    ``hi`` fails, every probe in order).  ``run(ram, crashkernel)`` replaces the busybox
    trial (``tests/kernel/debian.py`` bisects its Debian guest with it; the result needs
    ``ok``, ``outcome``, ``crashkernel``, ``elapsed`` and ``cached``), ``name`` the setup
    name in the log lines.
    """
    lo = -(-lo // step) * step
    hi = hi // step * step
    probes: list[Trial] = []
    known: dict[int, bool] = {}

    def probe(x: int) -> bool:
        if x in known:
            return known[x]
        if run is None:
            t = run_trial(ram, crashkernel_arg(x, cma), variant, cache=cache, timeout=timeout)
        else:
            t = run(ram, crashkernel_arg(x, cma))
        probes.append(t)
        known[x] = t.ok
        if log:
            log(f"  {name or setup_name(ram, variant, cma)}: {t.crashkernel:40s} -> {t.outcome:14s} "
                f"{t.elapsed:6.1f}s{' (cached)' if t.cached else ''}")
        return t.ok

    good: int | None = None
    bad: int | None = None
    if guess is not None:
        g = min(max(-(-guess // step) * step, lo), hi)
        d = step
        if probe(g):
            good = g
            while True:
                x = good - d
                if x < lo:
                    if lo < good and not probe(lo):
                        bad = lo
                    elif lo < good:
                        good = lo
                        bad = lo - step
                    else:
                        bad = lo - step
                    break
                if probe(x):
                    good, d = x, d * 2
                else:
                    bad = x
                    break
        else:
            bad = g
            while True:
                x = bad + d
                if x > hi:
                    if hi > bad and probe(hi):
                        good = hi
                    else:
                        return None, probes
                    break
                if probe(x):
                    good = x
                    break
                bad, d = x, d * 2
    else:
        if not probe(hi):
            return None, probes
        good, bad = hi, lo - step
    while good - bad > step:
        mid = (good + bad) // 2 // step * step
        if mid <= bad:
            mid = bad + step
        if probe(mid):
            good = mid
        else:
            bad = mid
    return good, probes


# ---------------------------------------------------------------- 5. grid


def setup_name(ram: int, variant: str, cma: int | None) -> str:
    r = f"{ram >> 30}g" if ram % GIB == 0 else f"{ram >> 20}m"
    c = f"cma{cma >> 20}m" if cma else "nocma"
    return f"{r}-{variant}-{c}"


def grid_setups(variants: tuple[str, ...] = ("5m", "20m", "60m")) -> list[tuple[int, str, int | None]]:
    """The calibration grid, no-CMA setups first: RAM x variant x {no CMA, CMA}.

    RAM in {1, 4, 16} GiB; CMA of 512 MiB (256 MiB with 1 GiB of RAM).
    """
    out = []
    for with_cma in (False, True):
        for variant in variants:
            for ram in (4 * GIB, 1 * GIB, 16 * GIB):
                cma = (256 * MIB if ram <= GIB else 512 * MIB) if with_cma else None
                out.append((ram, variant, cma))
    return out


GRID = grid_setups()


def _previous_min(ram: int, variant: str, cma: int | None, out_dir: Path) -> int | None:
    """A starting guess from already written setups (same variant and CMA-ness)."""
    f = out_dir / f"{setup_name(ram, variant, cma)}.json"
    if f.is_file():
        return json.loads(f.read_text()).get("min_crashkernel")
    cands = []
    for p in out_dir.glob("*.json"):
        d = json.loads(p.read_text())
        if d.get("initrd", {}).get("variant") == variant and bool(d.get("cma")) == bool(cma):
            cands.append((abs(d["ram"] - ram), d["min_crashkernel"]))
    if cands:
        return min(cands)[1]
    return None


def default_guess(ram: int, variant: str, cma: int | None, initrd_size: int, init_size: int) -> int:
    """A first guess of the boundary (from the recorded grid, kernel 7.3).

    Without CMA the capture kernel needs its image (``init_size``), the initrd twice (packed
    and unpacked in ramfs) and ~16 MiB of runtime; with CMA it runs in the CMA area and the
    fixed part only has to hold what kexec_file_load places there (image + initrd + a few MiB).
    """
    if cma:
        return init_size + initrd_size + 4 * MIB
    return init_size + 2 * initrd_size + 16 * MIB


def record_setup(ram: int, variant: str, cma: int | None, minimum: int | None,
                 probes: list[Trial], kernel: harness.Kernel, out_dir: Path) -> Path:
    first = probes[0] if probes else None
    info = first.initrd if first else {}
    d = {
        "kernel": kernel_facts(kernel),
        "tools": {"kexec_tools_version": first.kexec_tools_version if first else "",
                  "makedumpfile_version": first.makedumpfile_version if first else ""},
        "initrd": {"variant": variant, "size": info.get("size"),
                   "unpacked_size": info.get("unpacked_size"), "sha256": info.get("sha256")},
        "ram": ram, "cma": cma,
        "capture_cmdline": first.capture_cmdline if first else capture_cmdline(),
        "first_cmdline": "console=ttyS0 panic=-1 nokaslr " + crashkernel_arg(minimum or 0, cma),
        "nr_cpus": 1, "dump_level": DUMP_LEVEL,
        "min_crashkernel": minimum,
        "probes": [{"crashkernel": x, "outcome": t.outcome, "elapsed": t.elapsed,
                    "detail": _detail(t)}
                   for x, t in sorted(((_fixed_size(t.crashkernel), t) for t in probes),
                                      key=lambda xt: xt[0])],
        "qemu": harness.qemu_version(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    path = out_dir / f"{setup_name(ram, variant, cma)}.json"
    harness._atomic_write(path, json.dumps(d, indent=1) + "\n")
    return path


def _fixed_size(crashkernel: str) -> int:
    """The size of the (last) plain ``crashkernel=<n>M`` token, in bytes."""
    return int(re.findall(r"crashkernel=(\d+)M(?:\s|$)", crashkernel + " ")[-1]) * MIB


def _detail(t: Trial) -> list[str]:
    """The console lines that explain a probe's outcome (short)."""
    f = t.facts
    if t.outcome == "dumped":
        return [ln for ln in f.get("capture_meminfo", []) if ln.startswith(("MemTotal", "MemFree"))]
    if t.outcome == "reserve-failed":
        return [ln for ln in f.get("crash_lines", []) if "crashkernel" in ln][:3]
    if t.outcome == "load-failed":
        return f.get("kexec_output", [])[-3:]
    out = f.get("failure_lines", [])[:4] + f.get("makedumpfile_stderr", [])[-2:]
    return out or f.get("capture_tail", [])[-4:]


def run_grid(setups: list[tuple[int, str, int | None]] | None = None, *, jobs: int = 2,
             cache: Path | None = None, out_dir: Path = DATA_DIR, timeout: float = 300,
             redo: bool = False) -> list[Path]:
    """Bisect every setup (``jobs`` at a time) and write ``out_dir/<setup>.json``.

    Resumable: setups already recorded for the same kernel and tools are skipped (unless
    ``redo``), and every trial is cached, so a rerun replays finished probes instantly.
    """
    cache = (cache or harness.default_cache()).resolve()
    harness.ensure_tools()
    kernel = harness.fetch_kernel(cache)
    kf = kernel_facts(kernel)
    tools = load_tools(cache)
    setups = setups if setups is not None else GRID
    for variant in sorted({v for _, v, _ in setups}):
        build_first_initramfs(variant, cache, kernel=kernel, tools=tools)
    out_dir.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"{_dt.datetime.now(_dt.UTC):%H:%M:%S} {msg}", flush=True)

    def one(setup: tuple[int, str, int | None]) -> Path:
        ram, variant, cma = setup
        done = out_dir / f"{setup_name(ram, variant, cma)}.json"
        if done.is_file() and not redo:
            d = json.loads(done.read_text())
            if (d["kernel"]["release"] == kf["release"]
                    and d["kernel"]["package_version"] == kf["package_version"]
                    and d["tools"]["kexec_tools_version"] == tools.kexec_tools_version
                    and d["tools"]["makedumpfile_version"] == tools.makedumpfile_version):
                log(f"{done.name}: already recorded (--redo to bisect again)")
                return done
        _, info = build_kdump_initrd(variant, cache, tools=tools)
        guess = _previous_min(ram, variant, cma, out_dir)
        if guess is None:
            guess = default_guess(ram, variant, cma, info["size"], kf["init_size"])
        lo = 16 * MIB if cma else 32 * MIB
        log(f"{setup_name(ram, variant, cma)}: start, guess {guess >> 20} MiB")
        t0 = time.monotonic()
        minimum, probes = bisect_min(ram, variant, cma=cma, lo=lo, hi=768 * MIB, guess=guess,
                                     cache=cache, timeout=timeout, log=log)
        path = record_setup(ram, variant, cma, minimum, probes, kernel, out_dir)
        log(f"{setup_name(ram, variant, cma)}: min {None if minimum is None else minimum >> 20} MiB, "
            f"{len(probes)} probes, {time.monotonic() - t0:.0f}s -> {path.name}")
        return path

    with ThreadPoolExecutor(max(1, min(jobs, 2))) as pool:
        return list(pool.map(one, setups))


def table(out_dir: Path = DATA_DIR) -> str:
    """A Markdown table of the recorded setups (``out_dir/*.json``)."""
    rows = ["| RAM | variant | initrd size | unpacked | CMA | min crashkernel= | first failure below | probes (s) |",
            "|---|---|---|---|---|---|---|---|"]
    recs = [json.loads(p.read_text()) for p in out_dir.glob("*.json")]
    order = {v: i for i, v in enumerate(VARIANTS)}
    recs.sort(key=lambda d: (bool(d["cma"]), order.get(d["initrd"]["variant"], 9), d["ram"]))
    for d in recs:
        m = d["min_crashkernel"]
        below = next((p for p in d["probes"] if m and p["crashkernel"] == m - 8 * MIB), None)
        times = ", ".join(f"{p['elapsed']:.0f}" for p in d["probes"])
        rows.append(f"| {d['ram'] >> 30} GiB | {d['initrd']['variant']} | {d['initrd']['size']:,} | "
                    f"{d['initrd']['unpacked_size']:,} | {_fmt(d['cma'])} | **{_fmt(m)}** | "
                    f"{below['outcome'] if below else '-'} | {times} |")
    return "\n".join(rows)


# ---------------------------------------------------------------- CLI


def _fmt(n: int | None) -> str:
    return "-" if n is None else f"{n >> 20}M"


def _print_trial(t: Trial) -> None:
    f = t.facts
    print(f"# {t.crashkernel} ram={_fmt(t.ram)} variant={t.variant} initrd={t.initrd.get('size')} B: "
          f"{t.outcome.upper()} in {t.elapsed:.1f}s{' (cached)' if t.cached else ''}")
    for k in ("crash_lines", "iomem", "meminfo"):
        for ln in f.get(k, []):
            print(f"  {k}: {ln}")
    print(f"  kexec_crash_size: {f.get('kexec_crash_size')}  kexec rc: {f.get('kexec_rc')}")
    for ln in f.get("kexec_output", []):
        print(f"  kexec: {ln}")
    for ln in f.get("capture_meminfo", []):
        print(f"  capture: {ln}")
    for ln in f.get("failure_lines", []):
        print(f"  failure: {ln}")
    for ln in f.get("makedumpfile_stderr", []):
        print(f"  makedumpfile: {ln}")
    print(f"  log: {t.log}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="kdump.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=None)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("tools", help="fetch kexec-tools/makedumpfile + closure, build the images")
    t = sub.add_parser("trial", help="one crash dump")
    t.add_argument("--ram", required=True, type=parse_size)
    t.add_argument("--crashkernel", required=True,
                   help="size (256M) or the whole crashkernel part ('crashkernel=512M,cma crashkernel=96M')")
    t.add_argument("--variant", default="5m", choices=list(VARIANTS))
    t.add_argument("--timeout", type=float, default=300)
    t.add_argument("--no-cache", action="store_true")
    t.add_argument("--json", action="store_true")
    b = sub.add_parser("bisect", help="smallest crashkernel= that dumps")
    b.add_argument("--ram", required=True, type=parse_size)
    b.add_argument("--variant", default="5m", choices=list(VARIANTS))
    b.add_argument("--cma", type=parse_size, default=None)
    b.add_argument("--lo", type=parse_size, default=32 * MIB)
    b.add_argument("--hi", type=parse_size, default=768 * MIB)
    b.add_argument("--guess", type=parse_size, default=None)
    b.add_argument("--timeout", type=float, default=300)
    b.add_argument("--write", action="store_true", help=f"write the setup JSON into {DATA_DIR}")
    sub.add_parser("table", help="Markdown table of the recorded setups")
    g = sub.add_parser("grid", help="bisect the whole grid (resumable)")
    g.add_argument("--jobs", type=int, default=2)
    g.add_argument("--only", default="", help="comma-separated setup names, e.g. 4g-5m-nocma")
    g.add_argument("--variants", default="5m,20m,60m", help="initrd variants (default 5m,20m,60m)")
    g.add_argument("--timeout", type=float, default=300)
    g.add_argument("--out", type=Path, default=DATA_DIR)
    g.add_argument("--redo", action="store_true", help="bisect recorded setups again")
    args = ap.parse_args(argv)
    cache = (args.cache or harness.default_cache()).resolve()
    if args.cmd == "table":
        print(table())
        return 0
    try:
        harness.ensure_tools()
        if args.cmd == "tools":
            tools = load_tools(cache)
            kernel = harness.fetch_kernel(cache)
            print(f"kexec-tools {tools.kexec_tools_version}, makedumpfile {tools.makedumpfile_version}")
            for guest in sorted(tools.files):
                print(f"  /{guest}")
            print(json.dumps(kernel_facts(kernel)))
            for v in VARIANTS:
                p, info = build_first_initramfs(v, cache, kernel=kernel, tools=tools)
                print(f"  {v}: {info} first={p.stat().st_size}")
            return 0
        if args.cmd == "trial":
            tr = run_trial(args.ram, args.crashkernel, args.variant, cache=cache,
                           timeout=args.timeout, use_cache=not args.no_cache)
            if args.json:
                print(json.dumps(dataclasses.asdict(tr), indent=1))
            else:
                _print_trial(tr)
            return 0 if tr.ok else 3
        if args.cmd == "bisect":
            minimum, probes = bisect_min(args.ram, args.variant, cma=args.cma, lo=args.lo, hi=args.hi,
                                         guess=args.guess, cache=cache, timeout=args.timeout,
                                         log=lambda m: print(m, flush=True))
            print(f"min crashkernel: {_fmt(minimum)} ({len(probes)} probes)")
            if args.write:
                print(record_setup(args.ram, args.variant, args.cma, minimum, probes,
                                   harness.fetch_kernel(cache), DATA_DIR))
            return 0 if minimum is not None else 3
        if args.cmd == "grid":
            setups = grid_setups(tuple(args.variants.split(",")))
            if args.only:
                names = set(args.only.split(","))
                setups = [s for s in setups if setup_name(*s) in names]
            for p in run_grid(setups, jobs=args.jobs, cache=cache, out_dir=args.out,
                              timeout=args.timeout, redo=args.redo):
                print(p)
            return 0
    except HarnessError as e:
        print(f"kdump: error: {e}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
