#!/usr/bin/env python3
"""A real Debian kdump-tools capture environment under QEMU: crash it, read what it saved.

Where ``kdump.py`` measures the kernel with a busybox capture initrd, this module boots the
capture path Debian users run, built from Debian's packages only and left unmodified:

* :func:`build_image` -- an ext4 root image made with ``mmdebstrap`` (trixie, plus the
  newest kernel with ``crashkernel=...,cma`` that ``harness.fetch_kernel`` found in
  ``sid``/``trixie-backports``), with systemd, udev, initramfs-tools, ``kdump-tools``,
  ``kexec-tools`` and ``makedumpfile``, ``USE_KDUMP=1`` in ``/etc/default/kdump-tools``
  (kdump-tools' documented switch), and one oneshot unit of ours,
  ``crashplan-guest.service``.  Its first boot lets kdump-tools build its own kdump initrd
  (``/var/lib/kdump/initrd.img-<release>``) and load the crash kernel; that booted image is
  the cached base every trial starts from.
* :func:`run_trial` -- one crash dump on a copy-on-write qcow2 overlay of the base:
  ``crashplan-guest.service`` waits until ``kdump-config status`` says "ready to kdump",
  prints kdump-tools' own view (``kdump-config show``, its "crashkernel suggested size",
  the reservation) on the serial console and writes ``c`` to ``/proc/sysrq-trigger``.
  Debian's capture kernel then boots kdump-tools' initrd, mounts the root file system and
  runs ``kdump-tools-dump.service`` under systemd, which runs ``makedumpfile`` into
  ``/var/crash/<stamp>/``.  The outcome is read from the console *and* from the overlay's
  ``/var/crash`` with ``debugfs`` (a complete dump is ``dump.<stamp>``; makedumpfile writes
  ``dump-incomplete`` and kdump-tools renames it only on success).
* :func:`bisect` -- the smallest working ``crashkernel=`` in 8 MiB steps (``kdump.bisect_min``,
  galloping from a guess), recorded by :func:`record_setup` in ``tests/data/debian-trials/``.
* :func:`snapshot` -- ``crashplan snapshot`` run inside the guest from a wheel of the
  checkout, extracted with ``debugfs`` (for the CI test, ``test_debian_kdump.py``).

One QEMU guest at a time (a lock file in the cache serialises processes).  Stdlib only
(Python 3.11); root, Linux x86_64 host; ``mmdebstrap``, ``qemu-utils`` and ``e2fsprogs`` are
installed with the host's apt when missing.  No archive host name is written anywhere: the
archive URI and keyring come from the harness' private apt (``harness._private_apt``), which
reads the URI from ``/etc/apt/sources.list.d`` at run time.

CLI::

    python tests/kernel/debian.py build
    python tests/kernel/debian.py trial --ram 4G --crashkernel 192M
    python tests/kernel/debian.py trial --ram 4G --crashkernel 'crashkernel=512M,cma crashkernel=80M'
    python tests/kernel/debian.py bisect --ram 4G [--cma 512M] [--guess 136M] [--write]
    python tests/kernel/debian.py grid [--only 4g-nocma,4g-cma512m]
    python tests/kernel/debian.py snapshot --ram 4G --wheel dist/crashplan-*.whl --out DIR
    python tests/kernel/debian.py table

Environment: ``CRASHPLAN_KERNEL_CACHE`` (default ``~/.cache/crashplan-kernel``); the image
lives in ``CACHE/debian/<key>/``, trials in ``CACHE/debian/trials/<sha256>.{json,log}``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import kdump
from harness import HarnessError, parse_size

__all__ = [
    "GRID",
    "DebianUnavailable",
    "Image",
    "Trial",
    "bisect",
    "build_image",
    "ensure_tools",
    "main",
    "record_setup",
    "run_trial",
    "setup_name",
    "snapshot",
]

#: Bump when the image layout, the guest script's protocol or the classification changes.
SCHEMA = 1

MIB = 1 << 20
GIB = 1 << 30

SUITE = "trixie"
#: What a user installs for kdump on Debian (plus systemd/udev, absent from ``minbase``, and
#: initramfs-tools-core's Recommends "zstd, busybox" that ``minbase`` leaves out and apt
#: installs: without zstd mkinitramfs falls back to gzip, "W: No zstd in ..., using gzip"),
#: and the Debian packages
#: crashplan's wheel needs in the guest (the guest has no network).
PACKAGES = (
    "systemd", "systemd-sysv", "udev", "initramfs-tools", "kdump-tools", "kexec-tools",
    "makedumpfile", "e2fsprogs", "procps", "zstd", "busybox",
    "python3", "python3-pip", "python3-click", "python3-rich", "python3-psutil",
    "python3-yaml", "python3-zstandard",
)
#: Packages whose versions every record carries.
RECORDED_PACKAGES = ("kdump-tools", "kexec-tools", "makedumpfile", "systemd", "udev",
                     "initramfs-tools", "busybox", "linux-base", "python3")
#: Units that make TCG boots slow and noisy, or would wait for input on the console.
MASKED_UNITS = (
    "apt-daily.timer", "apt-daily.service", "apt-daily-upgrade.timer",
    "apt-daily-upgrade.service", "man-db.timer", "man-db.service", "fstrim.timer",
    "fstrim.service", "e2scrub_all.timer", "e2scrub_all.service", "e2scrub_reap.service",
    "systemd-timesyncd.service", "systemd-firstboot.service",
    # A login prompt on the serial console: its vhangup() cuts our report off mid-way.
    "serial-getty@ttyS0.service",
)
HOST_PACKAGES = {"mmdebstrap": "mmdebstrap", "qemu-img": "qemu-utils", "debugfs": "e2fsprogs",
                 "mkfs.ext4": "e2fsprogs"}
IMAGE_SIZE = 4 * GIB
#: Debian's default (kdump-tools.grub.default, /etc/default/grub.d/kdump-tools.cfg).
DEBIAN_DEFAULT = "512M-:192M"
#: The first kernel's command line before ``crashplan.mode=`` and ``crashkernel=``.
BASE_CMDLINE = "console=ttyS0 panic=-1 nokaslr root=/dev/vda ro"

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "debian-trials"

_GUEST_SCRIPT = r"""#!/bin/sh
# crashplan: report kdump-tools' state on the serial console, then act on crashplan.mode=.
# Not part of Debian's capture path: it runs in the first kernel only (never under
# systemd.unit=kdump-tools-dump.service, and not when /proc/vmcore exists).
mode=$(sed -n 's/.*crashplan\.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
[ -n "$mode" ] || exit 0
exec >/dev/ttyS0 2>&1
dmesg -n 1
sec() { echo "==DEBIAN-BEGIN $1=="; shift; "$@" 2>&1; echo "==DEBIAN-END=="; }
echo "==DEBIAN-GUEST mode=$mode=="
# kdump-tools.service is ordered before us; give a slow first load some more time anyway.
i=0
while [ $i -lt 600 ] && [ "$(systemctl show -P ActiveState kdump-tools.service)" = activating ]; do
    sleep 2; i=$((i + 2))
done
sec status kdump-config status
sec show kdump-config show
sec cmdline cat /proc/cmdline
sec iomem grep -i crash /proc/iomem
sec crash-size cat /sys/kernel/kexec_crash_size
sec cma-ranges cat /sys/kernel/kexec_crash_cma_ranges
sec crash-loaded cat /sys/kernel/kexec_crash_loaded
sec meminfo grep -E '^(MemTotal|MemFree|CmaTotal):' /proc/meminfo
sec dmesg-crash sh -c "dmesg | grep -iE 'crashkernel|cma: Reserved|RAMDISK:' | head -20"
sec kdump-journal journalctl -b -u kdump-tools.service --no-pager -o cat
sec kdump-files ls -l /var/lib/kdump
case "$mode" in
prepare)
    f=$(readlink -f /var/lib/kdump/initrd.img)
    sec initrd-size stat -c %s "$f"
    rm -rf /tmp/crashplan-unpacked
    if unmkinitramfs "$f" /tmp/crashplan-unpacked >/dev/null 2>&1; then
        sec initrd-unpacked sh -c "find /tmp/crashplan-unpacked -type f -printf '%s\n' | awk '{s+=\$1} END {print s}'"
        sec initrd-files sh -c "find /tmp/crashplan-unpacked -type f | wc -l"
    fi
    rm -rf /tmp/crashplan-unpacked
    ;;
snapshot)
    mkdir -p /tmp/crashplan-wheel
    sec wheel sh -c "tar -xf /dev/vdb -C /tmp/crashplan-wheel && pip install --no-deps --no-index --break-system-packages /tmp/crashplan-wheel/*.whl"
    sec snapshot sh -c "crashplan snapshot --force -o /var/tmp/crashplan-snapshot.tar.gz; echo rc=\$?"
    ;;
esac
if [ "$mode" = crash ]; then
    if kdump-config status 2>&1 | grep -q 'ready to kdump'; then
        echo "==DEBIAN-CRASH=="
        sync
        dmesg -n 7
        echo c > /proc/sysrq-trigger
        sleep 60
    fi
    echo "==DEBIAN-NOT-READY=="
fi
echo "==DEBIAN-DONE=="
sync
systemctl poweroff --force
"""

_GUEST_UNIT = """[Unit]
Description=crashplan: report kdump-tools' state, then crash or snapshot (crashplan.mode=)
After=kdump-tools.service
Wants=kdump-tools.service
ConditionPathExists=!/proc/vmcore
ConditionKernelCommandLine=crashplan.mode

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/crashplan-guest
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
"""


class DebianUnavailable(HarnessError):
    """The environment cannot be built here: a missing tool, no archive, a vanished kernel."""


@dataclass(frozen=True)
class Image:
    """The booted base image and what was read from it."""

    key: str
    #: raw ext4 image after its first boot (kdump initrd built); trials overlay it
    base: Path
    #: the first kernel's vmlinuz and initrd (the image's /boot), copied out for -kernel/-initrd
    vmlinuz: Path
    initrd: Path
    #: kdump-tools' kernel and initrd (/var/lib/kdump), extracted from the base image
    kdump_kernel: Path
    kdump_initrd: Path
    release: str
    #: build facts: kernel, packages, kdump initrd sizes, build wall times, ...
    facts: dict


@dataclass
class Trial:
    """One crash of the Debian guest.  ``outcome`` is ``dumped`` (success) or the failure kind."""

    ram: int
    crashkernel: str
    #: dumped | dump-incomplete | no-dump | oom | load-failed | reserve-failed | not-ready |
    #: timeout | no-capture
    outcome: str
    elapsed: float
    facts: dict = field(default_factory=dict)
    cmdline: str = ""
    image: str = ""
    date: str = ""
    log: str = ""
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "dumped"


# ---------------------------------------------------------------- utilities


@contextlib.contextmanager
def _one_guest(cache: Path) -> Iterator[None]:
    """Hold the cache-wide QEMU lock: one Debian guest at a time, across processes."""
    with harness._locked(cache, "debian-qemu"):
        yield


def ensure_tools() -> None:
    """The harness' tools plus mmdebstrap, qemu-img and debugfs/mkfs.ext4 (installed with apt)."""
    harness.ensure_tools()
    missing = sorted({pkg for tool, pkg in HOST_PACKAGES.items() if not shutil.which(tool)})
    if not missing:
        return
    if os.geteuid() != 0:
        raise DebianUnavailable(f"missing {', '.join(missing)} (run as root or apt-get install them)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        harness._run(["apt-get", "install", "-y", "--no-install-recommends", *missing],
                     what="apt-get install", env=env)
    except HarnessError:
        harness._run(["apt-get", "update"], what="apt-get update", env=env)
        harness._run(["apt-get", "install", "-y", "--no-install-recommends", *missing],
                     what="apt-get install", env=env)
    still = sorted({pkg for tool, pkg in HOST_PACKAGES.items() if not shutil.which(tool)})
    if still:
        raise DebianUnavailable(f"still missing after apt-get install: {', '.join(still)}")


def _debugfs(image: Path, request: str) -> str:
    return harness._run(["debugfs", "-R", request, str(image)], what=f"debugfs {request}").stdout


def _debugfs_ls(image: Path, directory: str) -> list[tuple[str, int, int]] | None:
    """(name, mode, size) of ``directory`` in an ext4 image, or None when it does not exist."""
    proc = subprocess.run(["debugfs", "-R", f"ls -p {directory}", str(image)], capture_output=True,
                          text=True)
    if "File not found" in proc.stderr or proc.returncode != 0:
        return None
    out = []
    # ``/ino/mode/uid/gid/name/size/``; a directory has no size (``/name//``), so split the
    # line as it is: stripping the slashes first would lose the empty field.
    for line in proc.stdout.splitlines():
        parts = line.strip().split("/")
        if len(parts) >= 7 and parts[0] == "" and parts[5] not in (".", ".."):
            out.append((parts[5], int(parts[2], 8), int(parts[6] or 0)))
    return out


def _debugfs_dump(image: Path, src: str, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _debugfs(image, f"dump -p {src} {dest}")
    if not dest.is_file():
        raise HarnessError(f"debugfs could not extract {src} from {image}")


def _dpkg_versions(status: str, names: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for stanza in status.split("\n\n"):
        fields = dict(re.findall(r"^(Package|Version|Status): (.*)$", stanza, re.M))
        if fields.get("Package") in names and "installed" in fields.get("Status", ""):
            out[fields["Package"]] = fields["Version"]
    return out


def _init_size(vmlinuz: Path) -> int:
    with open(vmlinuz, "rb") as f:
        head = f.read(0x270)
    return struct.unpack_from("<I", head, 0x260)[0]


# ---------------------------------------------------------------- 1. the image


def _image_key(kernel: harness.Kernel) -> str:
    src = json.dumps({"schema": SCHEMA, "suite": SUITE, "packages": PACKAGES,
                      "masked": MASKED_UNITS, "kernel": kernel.version,
                      "kernel_package_version": kernel.package_version,
                      "script": _GUEST_SCRIPT, "unit": _GUEST_UNIT, "size": IMAGE_SIZE},
                     sort_keys=True)
    return hashlib.sha256(src.encode()).hexdigest()[:16]


def _configure(tree: Path) -> None:
    """Configure the tree as kdump-tools' documentation says, plus our one oneshot unit."""
    default = tree / "etc/default/kdump-tools"
    text = default.read_text()
    text, n = re.subn(r"(?m)^#?\s*USE_KDUMP=.*$", "USE_KDUMP=1", text)
    if not n:
        text += "USE_KDUMP=1\n"
    default.write_text(text)
    (tree / "etc/fstab").write_text("/dev/vda / ext4 errors=remount-ro 0 1\n")
    (tree / "etc/hostname").write_text("crashplan-debian\n")
    (tree / "etc/hosts").write_text("127.0.0.1 localhost\n127.0.1.1 crashplan-debian\n")
    system = tree / "etc/systemd/system"
    for unit in MASKED_UNITS:
        link = system / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    script = tree / "usr/local/sbin/crashplan-guest"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(_GUEST_SCRIPT)
    script.chmod(0o755)
    (system / "crashplan-guest.service").write_text(_GUEST_UNIT)
    wants = system / "multi-user.target.wants"
    wants.mkdir(parents=True, exist_ok=True)
    (wants / "crashplan-guest.service").unlink(missing_ok=True)
    (wants / "crashplan-guest.service").symlink_to("/etc/systemd/system/crashplan-guest.service")
    # kdump-tools.service is WantedBy=basic.target; its postinst links it there.  The link is
    # absolute (/usr/lib/...), so test the link itself, not what it points to on this host.
    wanted = (d / "kdump-tools.service" for d in system.iterdir() if d.name.endswith(".wants"))
    if not any(w.is_symlink() for w in wanted):
        raise HarnessError("kdump-tools.service is not enabled in the image")


def _mmdebstrap(kernel: harness.Kernel, cache: Path, tree: Path, log: Path) -> None:
    try:
        apt = harness._private_apt(cache)
    except HarnessError as e:
        raise DebianUnavailable(f"no route to the Debian archive: {e}") from e
    suite = apt.suite_of(kernel.package, kernel.package_version)
    if suite is None:
        raise DebianUnavailable(
            f"the kernel {kernel.package} {kernel.package_version} is no longer in the archive "
            f"({'/'.join(harness.KERNEL_SUITES)}); run `python tests/kernel/harness.py fetch --refresh`")
    signed = f"[signed-by={apt.keyring}] " if apt.keyring else "[trusted=yes] "
    sources = [f"deb {signed}{apt.uri} {s} main" for s in dict.fromkeys((SUITE, suite))]
    # linux-image-X/<suite> lets apt take the kernel's own dependencies (a newer linux-base)
    # from its suite while everything else stays trixie (APT::Default-Release).
    include = [*PACKAGES, f"{kernel.package}/{suite}"]
    argv = ["mmdebstrap", "--variant=minbase", f"--aptopt=APT::Default-Release \"{SUITE}\"",
            "--aptopt=Acquire::Languages \"none\"", "--aptopt=Acquire::Check-Valid-Until \"false\"",
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*", f"--include={','.join(include)}",
            SUITE, str(tree), *sources]
    with open(log, "w") as out:
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=3600)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        if "Unable to locate package" in tail or "has no installation candidate" in tail:
            raise DebianUnavailable(f"mmdebstrap: a package is no longer in the archive:\n{tail}")
        raise HarnessError(f"mmdebstrap failed (exit {proc.returncode}), log {log}:\n{tail}")


def build_image(cache: Path | None = None, *, kernel: harness.Kernel | None = None,
                log=print) -> Image:
    """Build (or reuse) the booted base image in ``CACHE/debian/<key>/``.

    Fresh: mmdebstrap the tree (:data:`PACKAGES`), configure it (:func:`_configure`),
    ``mkfs.ext4 -d`` it into ``root.raw``, then boot it once with ``crashplan.mode=prepare``
    so that kdump-tools builds its kdump initrd and loads the crash kernel, and extract
    kdump-tools' kernel and initrd with debugfs.  Cached: ``image.json`` is read back.
    """
    cache = (cache or harness.default_cache()).resolve()
    ensure_tools()
    kernel = kernel or harness.fetch_kernel(cache)
    key = _image_key(kernel)
    d = cache / "debian" / key
    record = d / "image.json"
    with harness._locked(cache, f"debian-image-{key}"):
        if record.is_file():
            return _image_from_json(json.loads(record.read_text()))
        if shutil.which("mmdebstrap") is None:
            raise DebianUnavailable("mmdebstrap is missing")
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        tree = d / "tree"
        t0 = time.monotonic()
        log(f"debian: mmdebstrap {SUITE} + {kernel.package} {kernel.package_version} -> {tree}")
        _mmdebstrap(kernel, cache, tree, d / "mmdebstrap.log")
        t_strap = time.monotonic() - t0
        _configure(tree)
        boot = tree / "boot"
        vmlinuz = d / f"vmlinuz-{kernel.version}"
        initrd = d / f"initrd.img-{kernel.version}"
        shutil.copyfile(boot / f"vmlinuz-{kernel.version}", vmlinuz)
        shutil.copyfile(boot / f"initrd.img-{kernel.version}", initrd)
        status = (tree / "var/lib/dpkg/status").read_text()
        packages = _dpkg_versions(status, (*RECORDED_PACKAGES, kernel.package))
        if packages.get(kernel.package) != kernel.package_version:
            raise DebianUnavailable(
                f"the archive now has {kernel.package} {packages.get(kernel.package)}, not "
                f"{kernel.package_version}; run `python tests/kernel/harness.py fetch --refresh`")
        raw = d / "root.raw.tmp"
        harness._run(["mkfs.ext4", "-q", "-F", "-L", "debian-root", "-d", str(tree), str(raw),
                      f"{IMAGE_SIZE >> 20}M"], what="mkfs.ext4 -d")
        shutil.rmtree(tree)
        t_image = time.monotonic() - t0
        log(f"debian: image ready after {t_image:.0f}s; first boot (kdump-tools builds its initrd)")
        prep_kernel = harness.Kernel(vmlinuz=vmlinuz, version=kernel.version, package=kernel.package,
                                     package_version=kernel.package_version)
        cmdline = f"{BASE_CMDLINE} crashplan.mode=prepare crashkernel=256M"
        argv = [*harness._qemu_argv(prep_kernel, initrd, 4 * GIB, cmdline, 1, 1), "-drive", f"file={raw},if=virtio,format=raw", "-nic", "none"]
        with _one_guest(cache):
            serial, elapsed, timed_out = _run_qemu(argv, 1200)
        (d / "prepare.log").write_text(serial.replace("\r", ""))
        sec = _sections(serial)
        if timed_out or "ready to kdump" not in sec.get("status", ""):
            raise HarnessError(f"the first boot did not reach 'ready to kdump' ({elapsed:.0f}s, "
                               f"log {d / 'prepare.log'}):\n" + _tail(serial))
        kdump_kernel = d / "kdump-vmlinuz"
        kdump_initrd = d / "kdump-initrd.img"
        _debugfs_dump(raw, f"/boot/vmlinuz-{kernel.version}", kdump_kernel)
        _debugfs_dump(raw, f"/var/lib/kdump/initrd.img-{kernel.version}", kdump_initrd)
        raw.rename(d / "root.raw")
        facts = {
            "kernel": {"release": kernel.version, "package": kernel.package,
                       "package_version": kernel.package_version,
                       "vmlinuz_size": vmlinuz.stat().st_size, "init_size": _init_size(vmlinuz)},
            "suite": SUITE, "packages": packages,
            "kdump_initrd": {"path": f"/var/lib/kdump/initrd.img-{kernel.version}",
                             "size": kdump_initrd.stat().st_size,
                             "unpacked_size": _int(sec.get("initrd-unpacked")),
                             "files": _int(sec.get("initrd-files")),
                             "sha256": harness._sha256_file(kdump_initrd)},
            "kdump_config_show": [ln for ln in sec.get("show", "").splitlines() if ln.strip()],
            "wall_time": {"mmdebstrap": round(t_strap, 1), "image": round(t_image, 1),
                          "first_boot": round(elapsed, 1),
                          "total": round(time.monotonic() - t0, 1)},
            "qemu": harness.qemu_version(),
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        img = Image(key=key, base=d / "root.raw", vmlinuz=vmlinuz, initrd=initrd,
                    kdump_kernel=kdump_kernel, kdump_initrd=kdump_initrd, release=kernel.version,
                    facts=facts)
        harness._atomic_write(record, json.dumps(dataclasses.asdict(img), default=str, indent=1) + "\n")
        log(f"debian: base image {img.base} built in {facts['wall_time']['total']:.0f}s "
            f"(first boot {elapsed:.0f}s)")
        return img


def _image_from_json(d: dict) -> Image:
    for k in ("base", "vmlinuz", "initrd", "kdump_kernel", "kdump_initrd"):
        d[k] = Path(d[k])
    return Image(**d)


def _int(text: str | None) -> int | None:
    m = re.search(r"\d+", text or "")
    return int(m.group()) if m else None


# ---------------------------------------------------------------- 2. trials

_TS = re.compile(r"^\[\s*\d+\.\d+\]\s?")
_CAPTURE_FAIL = (*kdump._FAIL_WORDS, "deadlocked on memory", "Kernel panic")


#: systemd's "Job crashplan-guest.service/start running (1min 53s / no limit)" status
#: lines, drawn with escape sequences on the same console while the report is printed.
_STATUS_LINE = re.compile(r"\x1b|\] Job \S+ running \(")


def _sections(serial: str) -> dict[str, str]:
    text = serial.replace("\r", "")
    out: dict[str, str] = {}
    for m in re.finditer(r"==DEBIAN-BEGIN (\S+)==\n(.*?)==DEBIAN-END==", text, re.S):
        body = "".join(ln for ln in m.group(2).splitlines(keepends=True) if not _STATUS_LINE.search(ln))
        out.setdefault(m.group(1), body)
    return out


def _tail(serial: str, n: int = 40) -> str:
    return "\n".join([ln for ln in serial.replace("\r", "").split("\n") if ln.strip()][-n:])


def suggested_size(show: str) -> int | None:
    """kdump-tools' "crashkernel suggested size" (``kdump-config show``), in bytes."""
    m = re.search(r"crashkernel suggested size:\s*(\d+)\s*M", show)
    return int(m.group(1)) * MIB if m else None


def classify(serial: str, crash_dir: list[dict] | None, timed_out: bool) -> tuple[str, dict]:
    """(outcome, facts) from the serial console and the ``/var/crash`` listing afterwards."""
    text = serial.replace("\r", "")
    lines = text.split("\n")
    cut = next((i for i, ln in enumerate(lines) if "==DEBIAN-CRASH==" in ln), None)
    first = "\n".join(lines[: cut if cut is not None else len(lines)])
    capture_lines = lines[cut:] if cut is not None else []
    versions = [i for i, ln in enumerate(capture_lines) if "Linux version" in ln]
    capture = "\n".join(capture_lines[versions[0]:]) if versions else ""
    sec = _sections(first)
    facts: dict = {
        "kdump_status": [ln.strip() for ln in sec.get("status", "").splitlines() if ln.strip()],
        "suggested_size": suggested_size(sec.get("show", "")),
        "kdump_config_show": [ln.rstrip() for ln in sec.get("show", "").splitlines() if ln.strip()],
        "iomem": [ln.strip() for ln in sec.get("iomem", "").splitlines() if ln.strip()],
        "meminfo": [ln.strip() for ln in sec.get("meminfo", "").splitlines() if ln.strip()],
        "kexec_crash_size": _int(sec.get("crash-size")),
        "cma_ranges": sec.get("cma-ranges", "").strip(),
        "crash_lines": [ln.strip() for ln in sec.get("dmesg-crash", "").splitlines() if ln.strip()],
        "kdump_journal": [ln.strip() for ln in sec.get("kdump-journal", "").splitlines()
                          if ln.strip()][-12:],
        "crashed": cut is not None,
        "capture_started": bool(capture),
        "capture_memory": next((_TS.sub("", ln).strip() for ln in capture.split("\n")
                                if re.search(r"\] Memory: \d+K/\d+K available", ln)), ""),
        "capture_command_line": next((_TS.sub("", ln).strip() for ln in capture.split("\n")
                                      if "Kernel command line:" in ln), ""),
        "capture_e820_usable": [_TS.sub("", ln).strip() for ln in capture.split("\n")
                                if re.search(r"BIOS-e820: .*usable|user: \[mem .*usable", ln)][:8],
        "failure_lines": [_TS.sub("", ln).strip() for ln in capture.split("\n")
                          if any(w in ln for w in _CAPTURE_FAIL)][:12],
        "kdump_lines": [_TS.sub("", ln).strip() for ln in capture.split("\n")
                        if re.search(r"kdump-tools|makedumpfile|vmcore|Copying data|dump-incomplete",
                                     ln)][-12:],
        "crash_dir": crash_dir,
        "timed_out": timed_out,
    }
    if capture:
        facts["capture_tail"] = [ln for ln in capture.split("\n") if ln.strip()][-25:]
    else:
        facts["console_tail"] = [ln for ln in text.split("\n") if ln.strip()][-25:]
    files = [f["name"] for f in crash_dir or [] for f in f["files"]]
    dumped = [f for s in crash_dir or [] for f in s["files"]
              if f["name"].startswith("dump.") and f["size"] > 0]
    if dumped:
        return "dumped", facts
    if "dump-incomplete" in files:
        return "dump-incomplete", facts
    if facts["kexec_crash_size"] == 0 or "crashkernel reservation failed" in first:
        return "reserve-failed", facts
    # Before the crash: the guest script's readiness test also matches "Not ready to kdump"
    # and crashes anyway, which then panics without a capture kernel.
    journal = " ".join(facts["kdump_journal"])
    if any("Not ready" in ln for ln in facts["kdump_status"]) or "failed to load kdump kernel" in journal:
        return "load-failed", facts
    if not facts["crashed"]:
        if timed_out:
            return "timeout", facts
        journal = " ".join(facts["kdump_journal"])
        if "kexec" in journal and ("failed" in journal or "Cannot" in journal):
            return "load-failed", facts
        return "not-ready", facts
    if facts["capture_started"] and facts["failure_lines"]:
        return "oom", facts
    if timed_out:
        return "timeout", facts
    return ("no-dump" if facts["capture_started"] else "no-capture"), facts


def _crash_dir(image: Path) -> list[dict]:
    """``/var/crash/<stamp>/`` directories of an ext4 image with their files and sizes."""
    out = []
    for name, mode, _ in _debugfs_ls(image, "/var/crash") or []:
        if mode & 0o170000 != 0o040000:
            continue
        files = [{"name": n, "size": s} for n, m, s in _debugfs_ls(image, f"/var/crash/{name}") or []]
        out.append({"dir": name, "files": sorted(files, key=lambda f: f["name"])})
    return out


def _crashkernel(text: str) -> str:
    text = text.strip()
    return text if text.startswith("crashkernel=") else f"crashkernel={text}"


def _trial_key(img: Image, ram: int, crashkernel: str, mode: str, extra: str) -> str:
    src = json.dumps({"schema": SCHEMA, "image": img.key, "kdump_initrd": img.facts["kdump_initrd"]["sha256"],
                      "ram": ram, "crashkernel": crashkernel, "mode": mode, "extra": extra},
                     sort_keys=True)
    return hashlib.sha256(src.encode()).hexdigest()


def _boot_overlay(img: Image, cache: Path, ram: int, cmdline: str, overlay: Path, timeout: float,
                  extra_drives: list[str] = ()) -> tuple[str, float, bool]:
    overlay.unlink(missing_ok=True)
    harness._run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(img.base), "-F", "raw",
                  str(overlay)], what="qemu-img create")
    kern = harness.Kernel(vmlinuz=img.vmlinuz, version=img.release, package="", package_version="")
    argv = [*harness._qemu_argv(kern, img.initrd, ram, cmdline, 1, 1), "-drive", f"file={overlay},if=virtio,format=qcow2", *extra_drives, "-nic", "none"]
    with _one_guest(cache):
        return _run_qemu(argv, timeout)


def _run_qemu(argv: list[str], timeout: float) -> tuple[str, float, bool]:
    """Run QEMU until it exits (poweroff, or a reboot under ``-no-reboot``) or ``timeout``.

    Unlike ``kdump._run_qemu`` it never stops early on an "Out of memory" line: under
    systemd an OOM kill in the capture kernel need not end the dump.
    """
    start = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            proc.wait()
        out.seek(0)
        serial = out.read().decode(errors="replace")
    return serial, time.monotonic() - start, timed_out


@contextlib.contextmanager
def _flat(overlay: Path) -> Iterator[Path]:
    """A raw copy of a qcow2 overlay (sparse) that debugfs can read; removed afterwards."""
    raw = overlay.with_suffix(".raw")
    harness._run(["qemu-img", "convert", "-O", "raw", str(overlay), str(raw)], what="qemu-img convert")
    try:
        yield raw
    finally:
        raw.unlink(missing_ok=True)


def run_trial(ram: int, crashkernel: str, *, cache: Path | None = None, image: Image | None = None,
              timeout: float = 600, use_cache: bool = True, extra: str = "") -> Trial:
    """Boot the Debian guest with ``crashkernel`` and ``ram`` bytes, crash it, read /var/crash.

    ``crashkernel`` is the crashkernel part of the command line (``"192M"``,
    ``"crashkernel=512M-:192M"`` or ``"crashkernel=512M,cma crashkernel=80M"``).  Each trial
    boots a fresh qcow2 overlay of the base image, so earlier dumps never leak in.  Cached in
    ``CACHE/debian/trials/<sha256>.json`` (+ ``.log``, the whole serial console); a timeout
    is not cached.
    """
    cache = (cache or harness.default_cache()).resolve()
    img = image or build_image(cache)
    crashkernel = " ".join(_crashkernel(t) for t in crashkernel.split()) if "crashkernel=" in crashkernel \
        else _crashkernel(crashkernel)
    key = _trial_key(img, ram, crashkernel, "crash", extra)
    record = cache / "debian" / "trials" / f"{key}.json"
    if use_cache and record.is_file():
        d = json.loads(record.read_text())
        d["cached"] = True
        log = Path(d["log"])
        if log.is_file():  # classified again, so a record follows the current classify()
            d["outcome"], d["facts"] = classify(log.read_text(), d["facts"].get("crash_dir"),
                                                d["facts"].get("timed_out", False))
        return Trial(**d)
    cmdline = f"{BASE_CMDLINE} crashplan.mode=crash {extra} {crashkernel}".replace("  ", " ")
    overlay = record.with_suffix(".qcow2")
    overlay.parent.mkdir(parents=True, exist_ok=True)
    serial, elapsed, timed_out = _boot_overlay(img, cache, ram, cmdline, overlay, timeout)
    try:
        with _flat(overlay) as raw:
            crash = _crash_dir(raw)
    finally:
        overlay.unlink(missing_ok=True)
    outcome, facts = classify(serial, crash, timed_out)
    log = record.with_suffix(".log")
    harness._atomic_write(log, serial.replace("\r", ""))
    t = Trial(ram=ram, crashkernel=crashkernel, outcome=outcome, elapsed=round(elapsed, 1),
              facts=facts, cmdline=cmdline, image=img.key,
              date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), log=str(log))
    if outcome != "timeout":
        harness._atomic_write(record, json.dumps(dataclasses.asdict(t), indent=1) + "\n")
    return t


def snapshot(ram: int, wheel: Path, out: Path, *, cache: Path | None = None,
             image: Image | None = None, crashkernel: str = f"crashkernel={DEBIAN_DEFAULT}",
             timeout: float = 600) -> tuple[Path, float, str]:
    """Run ``crashplan snapshot`` in the guest (``wheel`` installed with pip, no network).

    The wheel reaches the guest as a tar archive on a second virtio disk; the snapshot
    (``/var/tmp/crashplan-snapshot.tar.gz``) is read back with debugfs into ``out``.
    Returns (snapshot path, wall time, serial console).
    """
    cache = (cache or harness.default_cache()).resolve()
    img = image or build_image(cache)
    work = cache / "debian" / "snapshots"
    work.mkdir(parents=True, exist_ok=True)
    disk = work / "wheel.tar"
    with tarfile.open(disk, "w") as tf:
        tf.add(wheel, arcname=wheel.name)
    overlay = work / "snapshot.qcow2"
    cmdline = f"{BASE_CMDLINE} crashplan.mode=snapshot {_crashkernel(crashkernel)}"
    serial, elapsed, timed_out = _boot_overlay(
        img, cache, ram, cmdline, overlay, timeout,
        ["-drive", f"file={disk},if=virtio,format=raw,readonly=on"])
    (work / "snapshot.log").write_text(serial.replace("\r", ""))
    try:
        with _flat(overlay) as raw:
            if timed_out or _debugfs_ls(raw, "/var/tmp") is None:
                raise HarnessError(f"snapshot boot failed ({elapsed:.0f}s):\n{_tail(serial)}")
            out.parent.mkdir(parents=True, exist_ok=True)
            out.unlink(missing_ok=True)
            try:
                _debugfs_dump(raw, "/var/tmp/crashplan-snapshot.tar.gz", out)
            except HarnessError as e:
                sec = _sections(serial)
                raise HarnessError(f"{e}\nwheel: {sec.get('wheel', '')[-1500:]}\n"
                                   f"snapshot: {sec.get('snapshot', '')[-1500:]}\n{_tail(serial)}") from e
    finally:
        overlay.unlink(missing_ok=True)
    return out, elapsed, serial


# ---------------------------------------------------------------- 3. bisection and records


def setup_name(ram: int, cma: int | None) -> str:
    r = f"{ram >> 30}g" if ram % GIB == 0 else f"{ram >> 20}m"
    return f"{r}-cma{cma >> 20}m" if cma else f"{r}-nocma"


#: (ram, cma) of the recorded setups, in the order the grid bisects them.
GRID: tuple[tuple[int, int | None], ...] = (
    (4 * GIB, None), (4 * GIB, 512 * MIB), (1 * GIB, None), (1 * GIB, 256 * MIB),
    (16 * GIB, None), (16 * GIB, 512 * MIB),
)


def bisect(ram: int, *, cma: int | None = None, guess: int | None = None, cache: Path | None = None,
           image: Image | None = None, timeout: float = 600, log=print) -> tuple[int | None, list[Trial]]:
    """Smallest ``crashkernel=`` (8 MiB steps) that dumps, with ``crashkernel=<cma>M,cma`` first."""
    cache = (cache or harness.default_cache()).resolve()
    img = image or build_image(cache)

    def run(r: int, arg: str) -> Trial:
        return run_trial(r, arg, cache=cache, image=img, timeout=timeout)

    return kdump.bisect_min(ram, "debian", cma=cma, lo=(16 if cma else 32) * MIB, hi=768 * MIB,
                            guess=guess, run=run, log=log, name=setup_name(ram, cma))


def _detail(t: Trial) -> list[str]:
    """The console lines that explain a probe's outcome."""
    f = t.facts
    if t.outcome == "dumped":
        return [f.get("capture_memory", ""), *f.get("kdump_lines", [])[-3:]]
    if t.outcome in ("load-failed", "not-ready"):
        return f.get("kdump_status", [])[-2:] + f.get("kdump_journal", [])[-4:]
    if t.outcome == "reserve-failed":
        return f.get("crash_lines", [])[:3]
    return [f.get("capture_memory", ""), *f.get("failure_lines", [])[:5], *f.get("kdump_lines", [])[-3:]]


def _short(line: str, n: int = 240) -> str:
    """A console line cut to its last ``n`` characters (makedumpfile's progress bar is one line)."""
    line = _ESC.sub("", line)
    return line if len(line) <= n else "..." + line[-n:]


_ESC = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _probe(t: Trial) -> dict:
    files = [f"{s['dir']}/{x['name']} {x['size']}" for s in t.facts.get("crash_dir") or []
             for x in s["files"]]
    return {"crashkernel": kdump._fixed_size(t.crashkernel) if re.search(r"=\d+M(\s|$)", t.crashkernel + " ")
            else None, "arg": t.crashkernel, "outcome": t.outcome, "elapsed": t.elapsed,
            "capture_memory": t.facts.get("capture_memory", ""), "crash_dir": files,
            "suggested_size": t.facts.get("suggested_size"),
            "detail": [_short(ln) for ln in _detail(t) if ln]}


def record_setup(ram: int, cma: int | None, minimum: int | None, probes: list[Trial], img: Image,
                 out_dir: Path = DATA_DIR, *, default: Trial | None = None,
                 suggested: Trial | None = None, wall: float | None = None) -> Path:
    """Write ``out_dir/<setup>.json``: the environment, every probe, the two reference sizes."""
    first = probes[0] if probes else None
    kdump_cmd = next((ln.strip() for ln in (first.facts.get("kdump_config_show", []) if first else [])
                      if "kexec -p" in ln or ("kexec" in ln and "--command-line" in ln)), "")
    d = {
        "environment": "Debian trixie kdump-tools (mmdebstrap, tests/kernel/debian.py)",
        "kernel": img.facts["kernel"], "packages": img.facts["packages"],
        "kdump_initrd": _kdump_initrd_facts(img),
        "image_wall_time": img.facts["wall_time"],
        "ram": ram, "cma": cma,
        "first_cmdline": f"{BASE_CMDLINE} crashplan.mode=crash "
                         + kdump.crashkernel_arg(minimum or 0, cma),
        "kdump_config_kexec": kdump_cmd,
        "capture_command_line": first.facts.get("capture_command_line", "") if first else "",
        "nr_cpus": 1,
        "min_crashkernel": minimum,
        "suggested_size": first.facts.get("suggested_size") if first else None,
        "probes": sorted((_probe(t) for t in probes), key=lambda p: p["crashkernel"] or 0),
        "debian_default": ({"crashkernel": DEBIAN_DEFAULT, **_probe(default)} if default else None),
        "kdump_tools_suggested": (_probe(suggested) if suggested else None),
        "bisect_wall_time": None if wall is None else round(wall, 1),
        "qemu": harness.qemu_version(),
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{setup_name(ram, cma)}.json"
    harness._atomic_write(path, json.dumps(d, indent=1) + "\n")
    return path


def _kdump_initrd_facts(img: Image) -> dict:
    """kdump-tools' initrd as crashplan's initrd walk sees it (the estimator's own input).

    ``unpacked_size`` and ``tmpfs_bytes`` come from ``crashplan.host.formats.initrd.analyse_initrd``
    (tmpfs: whole pages per file plus the inode cost, as in the busybox trials' records), not from
    the guest's ``unmkinitramfs`` + ``find``, which counts each hard link of a file again.
    ``kdump_tools_size_initrd_mib`` is kdump-tools' own ``du -sm`` of its mkinitramfs tree
    (``/var/lib/kdump/size_initrd.img-<release>``), one input of its suggested size.
    """
    root = str(Path(__file__).resolve().parents[2])  # the checkout, when run as a script
    if root not in sys.path:
        sys.path.append(root)
    from crashplan.host.formats.initrd import analyse_initrd

    with open(img.kdump_initrd, "rb") as fp:
        f = analyse_initrd(fp, name=str(img.kdump_initrd))
    d = {k: v for k, v in img.facts["kdump_initrd"].items() if k not in ("unpacked_size", "files")}
    size_file = _debugfs(img.base, f"cat /var/lib/kdump/size_initrd.img-{img.release}")
    return {**d, "unpacked_size": f.unpacked_bytes, "tmpfs_bytes": f.tmpfs_bytes,
            "inodes": f.inodes, "compression": list(f.compression),
            "kdump_tools_size_initrd_mib": _int(size_file)}


def _guess(ram: int, cma: int | None, img: Image, out_dir: Path) -> int:
    """The nearest recorded setup's minimum with the same CMA-ness, else a first estimate.

    With nothing recorded, 4 GiB starts at issue 17's measurement (two probes if it still
    holds); other sizes at an estimate from the image: without CMA the kernel image, the
    kdump initrd packed and unpacked, and ~40 MiB of kernel, systemd and makedumpfile; with
    CMA only what kexec_file_load places in the fixed part (kernel image + initrd + a few MiB).
    """
    cands = []
    for p in out_dir.glob("*.json"):
        d = json.loads(p.read_text())
        if bool(d.get("cma")) == bool(cma) and d.get("min_crashkernel"):
            cands.append((abs(d["ram"] - ram), d["min_crashkernel"]))
    if cands:
        return min(cands)[1]
    if ram == 4 * GIB:  # issue 17: 128M failed and 136M dumped; with CMA 72M failed, 80M dumped
        return (80 if cma else 136) * MIB
    k, i = img.facts["kernel"]["init_size"], img.facts["kdump_initrd"]
    if cma:
        return k + i["size"] + 4 * MIB
    return k + i["size"] + (i["unpacked_size"] or 3 * i["size"]) + 40 * MIB


def run_setup(ram: int, cma: int | None, *, cache: Path | None = None, out_dir: Path = DATA_DIR,
              guess: int | None = None, log=print) -> Path:
    """Bisect one setup, try Debian's default and kdump-tools' suggestion, record it."""
    cache = (cache or harness.default_cache()).resolve()
    img = build_image(cache, log=log)
    g = guess or _guess(ram, cma, img, out_dir)
    log(f"{setup_name(ram, cma)}: start, guess {g >> 20} MiB")
    minimum, probes = bisect(ram, cma=cma, guess=g, cache=cache, image=img, log=log)
    wall = sum(t.elapsed for t in probes)  # the guests' wall times, also when replayed from the cache
    default = run_trial(ram, f"crashkernel={DEBIAN_DEFAULT}", cache=cache, image=img)
    log(f"  {setup_name(ram, cma)}: Debian default {DEBIAN_DEFAULT} -> {default.outcome} {default.elapsed}s")
    sug = next((t.facts.get("suggested_size") for t in probes if t.facts.get("suggested_size")), None)
    suggested = None
    if sug:
        suggested = run_trial(ram, f"crashkernel={sug >> 20}M", cache=cache, image=img)
        log(f"  {setup_name(ram, cma)}: kdump-tools suggestion {sug >> 20}M -> {suggested.outcome} "
            f"{suggested.elapsed}s")
    path = record_setup(ram, cma, minimum, probes, img, out_dir, default=default, suggested=suggested,
                        wall=wall)
    log(f"{setup_name(ram, cma)}: min {None if minimum is None else minimum >> 20} MiB, {len(probes)} "
        f"probes, {wall:.0f}s -> {path}")
    return path


def table(out_dir: Path = DATA_DIR) -> str:
    """A Markdown table of ``out_dir/*.json``."""
    rows = ["| RAM | CMA | min crashkernel= | below min | Debian 512M-:192M | kdump-tools suggests | probes (s) |",
            "|---|---|---|---|---|---|---|"]
    recs = sorted((json.loads(p.read_text()) for p in out_dir.glob("*.json")),
                  key=lambda d: (bool(d["cma"]), d["ram"]))
    for d in recs:
        m = d["min_crashkernel"]
        below = next((p for p in d["probes"] if m and p["crashkernel"] == m - 8 * MIB), None)
        de, su = d.get("debian_default") or {}, d.get("kdump_tools_suggested") or {}
        rows.append(
            f"| {d['ram'] >> 30} GiB | {_fmt(d['cma'])} | **{_fmt(m)}** | "
            f"{below['outcome'] if below else '-'} | {de.get('outcome', '-')} | "
            f"{_fmt(d.get('suggested_size'))} {su.get('outcome', '-')} | "
            + ", ".join(f"{p['crashkernel'] >> 20}M {p['outcome']} {p['elapsed']:.0f}" for p in d["probes"])
            + " |")
    return "\n".join(rows)


def _fmt(n: int | None) -> str:
    return "-" if n is None else f"{n >> 20}M"


# ---------------------------------------------------------------- CLI


def _print_trial(t: Trial) -> None:
    f = t.facts
    print(f"# {t.crashkernel} ram={_fmt(t.ram)}: {t.outcome.upper()} in {t.elapsed:.1f}s"
          f"{' (cached)' if t.cached else ''}")
    for k in ("kdump_status", "iomem", "meminfo", "crash_lines", "kdump_journal", "capture_e820_usable",
              "failure_lines", "kdump_lines"):
        for ln in f.get(k) or []:
            print(f"  {k}: {ln}")
    for k in ("suggested_size", "kexec_crash_size", "cma_ranges", "capture_memory", "capture_command_line"):
        print(f"  {k}: {f.get(k)}")
    for s in f.get("crash_dir") or []:
        print(f"  /var/crash/{s['dir']}: " + ", ".join(f"{x['name']} {x['size']}" for x in s["files"]))
    for ln in f.get("capture_tail", f.get("console_tail", []))[-8:]:
        print(f"  tail: {ln}")
    print(f"  log: {t.log}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="debian.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=None)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build (or show) the booted base image")
    t = sub.add_parser("trial", help="one crash of the Debian guest")
    t.add_argument("--ram", required=True, type=parse_size)
    t.add_argument("--crashkernel", required=True, help="192M, or 'crashkernel=512M,cma crashkernel=80M'")
    t.add_argument("--timeout", type=float, default=600)
    t.add_argument("--no-cache", action="store_true")
    b = sub.add_parser("bisect", help="smallest crashkernel= that dumps (8 MiB steps)")
    b.add_argument("--ram", required=True, type=parse_size)
    b.add_argument("--cma", type=parse_size, default=None)
    b.add_argument("--guess", type=parse_size, default=None)
    b.add_argument("--write", action="store_true",
                   help=f"also try Debian's default and kdump-tools' suggestion; write {DATA_DIR}/<setup>.json")
    g = sub.add_parser("grid", help="bisect and record every setup of GRID (resumable: cached trials)")
    g.add_argument("--only", default="", help="comma-separated setup names, e.g. 4g-nocma,4g-cma512m")
    s = sub.add_parser("snapshot", help="crashplan snapshot inside the guest")
    s.add_argument("--ram", type=parse_size, default=4 * GIB)
    s.add_argument("--wheel", required=True, type=Path)
    s.add_argument("--out", required=True, type=Path)
    sub.add_parser("table", help="Markdown table of the recorded setups")
    args = ap.parse_args(argv)
    cache = (args.cache or harness.default_cache()).resolve()

    def log(msg: str) -> None:
        print(f"{_dt.datetime.now():%H:%M:%S} {msg}", flush=True)

    try:
        if args.cmd == "table":
            print(table())
        elif args.cmd == "build":
            img = build_image(cache, log=log)
            print(json.dumps(dataclasses.asdict(img), default=str, indent=1))
        elif args.cmd == "trial":
            tr = run_trial(args.ram, args.crashkernel, cache=cache, timeout=args.timeout,
                           use_cache=not args.no_cache)
            _print_trial(tr)
            return 0 if tr.ok else 3
        elif args.cmd == "bisect":
            if args.write:
                print(run_setup(args.ram, args.cma, cache=cache, guess=args.guess, log=log))
            else:
                m, probes = bisect(args.ram, cma=args.cma, guess=args.guess, cache=cache, log=log)
                print(f"min crashkernel: {_fmt(m)} ({len(probes)} probes)")
        elif args.cmd == "grid":
            names = set(filter(None, args.only.split(",")))
            for ram, cma in GRID:
                if not names or setup_name(ram, cma) in names:
                    run_setup(ram, cma, cache=cache, log=log)
        elif args.cmd == "snapshot":
            path, elapsed, _ = snapshot(args.ram, args.wheel.resolve(), args.out.resolve(), cache=cache)
            print(f"{path} ({elapsed:.0f}s)")
    except HarnessError as e:
        print(f"debian: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
