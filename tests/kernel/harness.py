#!/usr/bin/env python3
"""Real-kernel harness: boot a Debian kernel under QEMU and capture what it did.

This is the oracle for crashplan's tests.  It

* installs the host tools it needs (:func:`ensure_tools`),
* fetches a current Debian kernel (>= 6.17, with ``crashkernel=...,cma``) from
  ``sid`` / ``trixie-backports`` with a *private* apt configuration, so the host's
  apt state is never touched (:func:`fetch_kernel`),
* builds a tiny busybox initramfs whose ``/init`` dumps ``/proc/iomem``,
  ``/proc/meminfo``, ``/sys/kernel/kexec_crash_size``, ... and the kernel log on the
  serial console between markers, then powers off (:func:`build_initramfs`),
* boots it under ``qemu-system-x86_64 -accel tcg -cpu max`` with a given RAM size
  and kernel command line and parses the result into a :class:`Boot`
  (:func:`boot`), caching the result as JSON so repeated test runs do not re-boot,
* writes a boot as a host tree (``dest/proc/iomem``, ...) for fixtures
  (:func:`write_tree`).

Stdlib only (Python 3.11).  No archive host name is written anywhere: the archive
URI is read at run time from the machine's ``/etc/apt/sources.list.d/*.sources``.

CLI::

    python tests/kernel/harness.py fetch
    python tests/kernel/harness.py boot --ram 4G --append "nokaslr crashkernel=256M" [--out DIR]

Environment:

* ``CRASHPLAN_KERNEL_CACHE``   cache directory (default ``~/.cache/crashplan-kernel``)
* ``CRASHPLAN_KERNEL_VMLINUZ`` use this vmlinuz instead of fetching one
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import fcntl
import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FILES",
    "Boot",
    "HarnessError",
    "Kernel",
    "boot",
    "build_initramfs",
    "default_cache",
    "ensure_tools",
    "fetch_kernel",
    "main",
    "parse_size",
    "write_tree",
]

#: Bump when the boot JSON layout or the parsing changes (invalidates cached boots).
SCHEMA = 1

#: Host-relative paths the guest dumps, in order.  ``sys/kernel/kexec_crash_cma_ranges``
#: only exists on kernels carrying the "export crashkernel CMA reservation" patch.
FILES: tuple[str, ...] = (
    "proc/iomem",
    "proc/meminfo",
    "proc/cmdline",
    "proc/version",
    "sys/kernel/kexec_crash_size",
    "sys/kernel/kexec_crash_cma_ranges",
    "proc/buddyinfo",
    "proc/zoneinfo",
    "sys/devices/system/cpu/online",
    "sys/devices/system/cpu/possible",
)

#: Suites searched for the kernel (the newest ``linux-image-amd64`` across them wins).
KERNEL_SUITES: tuple[str, ...] = ("sid", "trixie-backports")

BEGIN = "==CRASHPLAN-BEGIN {}=="
END = "==CRASHPLAN-END {}=="
MISSING = "==CRASHPLAN-MISSING {}=="
DONE = "==CRASHPLAN-DONE=="

HOST_TOOLS_PACKAGES = ("qemu-system-x86", "busybox-static", "cpio")
HOST_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

_TIMESTAMP_RE = re.compile(r"^\[\s*\d+\.\d+\]\s?")
_CRASH_WORDS = ("crashkernel", "Crash kernel", "crahskernel")

_INIT_SCRIPT = """#!/bin/busybox sh
# crashplan real-kernel harness /init: dump kernel state on the serial console, power off.
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# keep late kernel messages from interleaving with the dump (the full log is dumped below)
dmesg -n 1
dump() {
    echo "==CRASHPLAN-BEGIN $1=="
    if [ -e "/$1" ]; then cat "/$1"; else echo "==CRASHPLAN-MISSING $1=="; fi
    echo "==CRASHPLAN-END $1=="
}
for f in @FILES@; do dump "$f"; done
echo "==CRASHPLAN-BEGIN uname-r=="; uname -r; echo "==CRASHPLAN-END uname-r=="
echo "==CRASHPLAN-BEGIN uname-m=="; uname -m; echo "==CRASHPLAN-END uname-m=="
echo "==CRASHPLAN-BEGIN dmesg=="; dmesg; echo "==CRASHPLAN-END dmesg=="
echo "==CRASHPLAN-DONE=="
sync
poweroff -f
sleep 5
""".replace("@FILES@", " ".join(FILES))

_apt_updated = False  # ensure_tools runs the host's `apt-get update` at most once per process


class HarnessError(RuntimeError):
    """Anything the harness could not do (missing tool, download, boot, parse)."""


@dataclass(frozen=True)
class Kernel:
    """A kernel image ready to boot."""

    vmlinuz: Path
    #: kernel release, as ``uname -r`` prints it, e.g. ``"7.2.3+deb14-amd64"``
    version: str
    #: Debian binary package holding the image (``"override"`` for CRASHPLAN_KERNEL_VMLINUZ)
    package: str
    #: Debian version of ``package`` (empty for an override)
    package_version: str


@dataclass(frozen=True)
class Boot:
    """What one QEMU boot showed.  ``files`` is keyed by host-relative path (see :data:`FILES`)."""

    ram: int
    append: str
    files: dict[str, str]
    dmesg: str
    kernel_release: str
    machine: str
    elapsed: float
    crash_lines: list[str]
    numa_nodes: int = 1
    cpus: int = 1
    kernel_package: str = ""
    kernel_package_version: str = ""
    qemu_version: str = ""
    #: the kernel command line as given to QEMU (``console=ttyS0 panic=-1 <append>``)
    cmdline: str = ""
    date: str = ""
    qemu_argv: list[str] = field(default_factory=list)
    #: True when this object was read from the boot cache instead of booting
    cached: bool = False

    def iomem_lines(self, name: str = "Crash kernel") -> list[str]:
        """The ``/proc/iomem`` lines whose resource name is ``name`` (indentation kept)."""
        out = []
        for line in self.files.get("proc/iomem", "").splitlines():
            if line.split(" : ", 1)[-1].strip() == name:
                out.append(line)
        return out

    def meminfo(self, key: str) -> int | None:
        """A ``/proc/meminfo`` value in bytes (``kB`` converted), or None."""
        for line in self.files.get("proc/meminfo", "").splitlines():
            k, _, v = line.partition(":")
            if k.strip() == key:
                parts = v.split()
                n = int(parts[0])
                return n * 1024 if len(parts) > 1 and parts[1] == "kB" else n
        return None

    def dmesg_lines(self, needle: str) -> list[str]:
        """dmesg lines (timestamp removed) containing ``needle``."""
        return [_TIMESTAMP_RE.sub("", ln_) for ln_ in self.dmesg.splitlines() if needle in ln_]


# --------------------------------------------------------------------------- utilities


def default_cache() -> Path:
    """``$CRASHPLAN_KERNEL_CACHE`` or ``~/.cache/crashplan-kernel``."""
    env = os.environ.get("CRASHPLAN_KERNEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "crashplan-kernel"


def parse_size(text: str) -> int:
    """``"4G"``, ``"512M"``, ``"65536K"``, ``"1073741824"`` -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(i?B)?\s*", text, re.I)
    if not m:
        raise ValueError(f"bad size {text!r}")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2).upper()]


def _run(argv: list[str], *, what: str, cwd: Path | None = None, timeout: float = 1800,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              env=env)
    except FileNotFoundError as e:
        raise HarnessError(f"{what}: {argv[0]} not found") from e
    except subprocess.TimeoutExpired as e:
        raise HarnessError(f"{what}: timed out after {timeout}s: {' '.join(argv)}") from e
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise HarnessError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n{tail}")
    return proc


def _atomic_write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(cache: Path, name: str) -> Iterator[None]:
    """Serialise cache-filling work between concurrent harness processes."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _elf_is_static(path: Path) -> bool:
    """True if ``path`` is an ELF executable without a PT_INTERP (dynamic loader) header."""
    try:
        with open(path, "rb") as f:
            ident = f.read(64)
            if ident[:4] != b"\x7fELF" or ident[4] != 2:  # 64-bit only (amd64 host)
                return False
            e_phoff, = struct.unpack_from("<Q", ident, 0x20)
            e_phentsize, e_phnum = struct.unpack_from("<HH", ident, 0x36)
            f.seek(e_phoff)
            table = f.read(e_phentsize * e_phnum)
    except OSError:
        return False
    for i in range(e_phnum):
        p_type, = struct.unpack_from("<I", table, i * e_phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def _static_busybox() -> Path | None:
    for cand in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if cand and Path(cand).is_file() and _elf_is_static(Path(cand)):
            return Path(cand).resolve()
    return None


def _missing_tools() -> list[str]:
    missing = []
    if not shutil.which("qemu-system-x86_64"):
        missing.append("qemu-system-x86")
    if _static_busybox() is None:
        missing.append("busybox-static")
    if not shutil.which("cpio"):
        missing.append("cpio")
    return missing


@functools.cache
def qemu_version() -> str:
    """First line of ``qemu-system-x86_64 --version``."""
    out = _run(["qemu-system-x86_64", "--version"], what="qemu version").stdout
    return out.splitlines()[0].strip() if out else "unknown"


# --------------------------------------------------------------------------- 1. tools


def ensure_tools() -> None:
    """Install ``qemu-system-x86``, ``busybox-static`` and ``cpio`` with the host apt if missing.

    Runs ``apt-get update`` (at most once per process) and
    ``apt-get install -y qemu-system-x86 busybox-static cpio`` only when a tool is missing.
    Raises :class:`HarnessError` if a tool is still missing afterwards.
    """
    global _apt_updated
    if not _missing_tools():
        return
    if os.geteuid() != 0:
        raise HarnessError(f"missing {', '.join(_missing_tools())}; run as root or install "
                           f"{' '.join(HOST_TOOLS_PACKAGES)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        _run(["apt-get", "update"], what="apt-get update", env=env)
        _apt_updated = True
    _run(["apt-get", "install", "-y", "--no-install-recommends", *HOST_TOOLS_PACKAGES],
         what="apt-get install", env=env)
    still = _missing_tools()
    if still:
        raise HarnessError(f"still missing after apt-get install: {', '.join(still)}")


# --------------------------------------------------------------------------- 2. kernel


def _archive_uri() -> str:
    """The main (non-security) archive URI from the host's deb822 sources."""
    files = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    candidates: list[str] = []
    for path in files:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields: dict[str, str] = {}
            key = None
            for line in stanza.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if line[0].isspace() and key:
                    fields[key] += " " + line.strip()
                    continue
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            suites = fields.get("suites", "").split()
            uris = fields.get("uris", "").split()
            if not uris or any("security" in s for s in suites):
                continue
            if any("security" in u for u in uris):
                continue
            candidates.extend(uris)
    if not candidates:
        raise HarnessError("no non-security deb archive URI found in /etc/apt/sources.list.d/*.sources")
    return candidates[0].rstrip("/")


class _PrivateApt:
    """apt-get / apt-cache with all state (lists, cache, status, sources) under ``root``."""

    def __init__(self, root: Path, uri: str, suites: tuple[str, ...], keyring: Path | None,
                 insecure: bool = False):
        self.root = root
        self.uri = uri
        self.suites = suites
        #: the keyring the signatures are checked with (None: unauthenticated)
        self.keyring = keyring
        self.insecure = insecure
        for d in ("lists/partial", "cache/archives/partial", "etc/preferences.d", "state"):
            (root / d).mkdir(parents=True, exist_ok=True)
        status = root / "state/status"
        if not status.exists():
            status.write_text("")
        opt = "[trusted=yes]" if insecure else (f"[signed-by={keyring}]" if keyring else "")
        lines = [f"deb {opt} {uri} {s} main".replace("  ", " ") for s in suites]
        _atomic_write(root / "sources.list", "\n".join(lines) + "\n")

    def opts(self) -> list[str]:
        r = self.root
        o = {
            "Dir::Etc::SourceList": r / "sources.list",
            "Dir::Etc::SourceParts": "/dev/null",
            "Dir::Etc::Preferences": "/dev/null",
            "Dir::Etc::PreferencesParts": r / "etc/preferences.d",
            "Dir::State": r / "state",
            "Dir::State::Lists": r / "lists",
            "Dir::State::status": r / "state/status",
            "Dir::Cache": r / "cache",
            "Dir::Cache::archives": r / "cache/archives",
            "Dir::Cache::pkgcache": "",
            "Dir::Cache::srcpkgcache": "",
            "APT::Architecture": "amd64",
            "APT::Architectures": "amd64",
            "APT::Sandbox::User": "root",
            "Acquire::Languages": "none",
            "Acquire::Check-Valid-Until": "false",
            "Debug::NoLocking": "true",
        }
        if self.insecure:
            o["Acquire::AllowInsecureRepositories"] = "true"
            o["APT::Get::AllowUnauthenticated"] = "true"
        out: list[str] = []
        for k, v in o.items():
            out += ["-o", f"{k}={v}"]
        return out

    def get(self, *args: str, cwd: Path | None = None, what: str = "apt-get") -> str:
        return _run(["apt-get", "-q", *self.opts(), *args], what=what, cwd=cwd).stdout

    def cache(self, *args: str) -> str:
        return _run(["apt-cache", *self.opts(), *args], what="apt-cache").stdout

    def update(self) -> str:
        # apt-get update exits 0 even on some signature problems; treat warnings as errors.
        proc = subprocess.run(["apt-get", "-q", *self.opts(), "update"], capture_output=True,
                              text=True, timeout=1800)
        text = proc.stdout + proc.stderr
        bad = re.search(r"NO_PUBKEY|EXPKEYSIG|not signed|BADSIG|is not valid yet|"
                        r"^E:|^W: GPG error|^W: Failed to fetch", text, re.M)
        if proc.returncode != 0 or bad:
            raise HarnessError(f"private apt-get update failed:\n{text.strip()[-2000:]}")
        return text

    def versions(self, package: str) -> list[tuple[str, dict[str, str]]]:
        """(version, fields) for every available version of ``package``, newest first."""
        try:
            text = self.cache("show", package)
        except HarnessError:
            return []
        out = []
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            key = None
            for line in stanza.splitlines():
                if line[:1].isspace() and key:
                    fields[key] += " " + line.strip()
                elif ":" in line:
                    key, _, v = line.partition(":")
                    fields[key] = v.strip()
            if "Version" in fields:
                out.append((fields["Version"], fields))
        def newest_first(a: tuple[str, dict[str, str]], b: tuple[str, dict[str, str]]) -> int:
            return _cmp_deb(b[0], a[0])

        return sorted(out, key=functools.cmp_to_key(newest_first))


    def suite_of(self, package: str, version: str) -> str | None:
        """The suite (e.g. ``"trixie-backports"``) that offers ``package`` at ``version``."""
        try:
            text = self.cache("policy", package)
        except HarnessError:
            return None
        current = None
        for line in text.splitlines():
            m = re.match(r"\s*(?:\*\*\*\s+)?(\S+)\s+-?\d+\s*$", line)
            if m:
                current = m.group(1)
                continue
            m = re.match(r"\s+-?\d+\s+\S+\s+(\S+?)/\S+\s", line)
            if m and current == version:
                return m.group(1)
        return None


def _cmp_deb(a: str, b: str) -> int:
    if a == b:
        return 0
    lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0
    return -1 if lt else 1


def _kernel_version_from_bzimage(path: Path) -> str:
    """The release string from a bzImage setup header (``kernel_version`` field)."""
    with open(path, "rb") as f:
        head = f.read(0x1000)
        if head[0x202:0x206] != b"HdrS":
            raise HarnessError(f"{path}: not a bzImage")
        off, = struct.unpack_from("<H", head, 0x20E)
        f.seek(off + 0x200)
        raw = f.read(256)
    return raw.split(b"\0", 1)[0].decode(errors="replace").split()[0]


def _find_vmlinuz(root: Path, version: str) -> Path:
    for rel in (f"usr/lib/modules/{version}/vmlinuz", f"lib/modules/{version}/vmlinuz",
                f"boot/vmlinuz-{version}"):
        if (root / rel).is_file():
            return root / rel
    found = sorted(root.glob("**/vmlinuz*"))
    if found:
        return found[0]
    raise HarnessError(f"no vmlinuz found under {root}")


def fetch_kernel(cache: Path | None = None, *, refresh: bool = False) -> Kernel:
    """Return a bootable Debian kernel, downloading it into ``cache`` the first time.

    Resolves the newest ``linux-image-amd64`` in ``sid`` / ``trixie-backports`` to
    ``linux-image-<ver>-amd64``, downloads it and its ``linux-binary-<ver>-amd64``
    dependency with ``apt-get download`` (private apt state under ``cache/apt``; nothing
    is installed, the host's apt is untouched) and extracts them with ``dpkg-deb -x``.
    The result is recorded in ``cache/kernel.json``; later calls return it without
    network access unless ``refresh`` is true.  ``$CRASHPLAN_KERNEL_VMLINUZ`` overrides
    everything (the release is read from the bzImage header).
    """
    override = os.environ.get("CRASHPLAN_KERNEL_VMLINUZ")
    if override:
        p = Path(override).expanduser().resolve()
        if not p.is_file():
            raise HarnessError(f"CRASHPLAN_KERNEL_VMLINUZ={override}: no such file")
        return Kernel(vmlinuz=p, version=_kernel_version_from_bzimage(p), package="override",
                      package_version="")
    cache = (cache or default_cache()).resolve()
    record = cache / "kernel.json"
    with _locked(cache, "kernel"):
        if record.exists() and not refresh:
            d = json.loads(record.read_text())
            k = Kernel(vmlinuz=Path(d["vmlinuz"]), version=d["version"], package=d["package"],
                       package_version=d["package_version"])
            if k.vmlinuz.is_file():
                return k
        kernel = _download_kernel(cache)
        _atomic_write(record, json.dumps(dataclasses.asdict(kernel), default=str, indent=1) + "\n")
        return kernel


def _private_apt(cache: Path) -> _PrivateApt:
    """A private apt whose lists are updated and whose signatures were verified if possible."""
    uri = _archive_uri()
    root = cache / "apt"
    host_keyring = HOST_KEYRING
    errors: list[str] = []
    # 1. the host's keyring
    for keyring in (host_keyring, *sorted((cache / "keyring").glob("**/debian-archive-keyring.*"))):
        if not keyring.is_file():
            continue
        apt = _PrivateApt(root, uri, KERNEL_SUITES, keyring)
        try:
            apt.update()
            return apt
        except HarnessError as e:
            errors.append(f"{keyring}: {e}")
    # 2. bootstrap a newer debian-archive-keyring from the archive itself, then verify with it
    boot_apt = _PrivateApt(cache / "apt-bootstrap", uri, ("sid",), None, insecure=True)
    boot_apt.update()
    debs = cache / "keyring"
    shutil.rmtree(debs, ignore_errors=True)
    debs.mkdir(parents=True)
    boot_apt.get("download", "debian-archive-keyring", cwd=debs, what="download keyring")
    for deb in debs.glob("*.deb"):
        _run(["dpkg-deb", "-x", str(deb), str(debs / "root")], what="extract keyring")
    for keyring in sorted((debs / "root").glob("usr/share/keyrings/debian-archive-keyring.*")):
        apt = _PrivateApt(root, uri, KERNEL_SUITES, keyring.resolve())
        try:
            apt.update()
            print(f"harness: verified archive signatures with {keyring.resolve().name} from sid's "
                  "debian-archive-keyring (the host keyring is too old)", file=sys.stderr)
            return apt
        except HarnessError as e:
            errors.append(f"{keyring}: {e}")
    # 3. last resort: unauthenticated
    print("harness: WARNING: could not verify the archive signatures; using an "
          "unauthenticated private apt:\n  " + "\n  ".join(e.splitlines()[0] for e in errors),
          file=sys.stderr)
    apt = _PrivateApt(root, uri, KERNEL_SUITES, None, insecure=True)
    apt.update()
    return apt


def _download_kernel(cache: Path) -> Kernel:
    apt = _private_apt(cache)
    metas = apt.versions("linux-image-amd64")
    if not metas:
        raise HarnessError("linux-image-amd64 not found in " + "/".join(KERNEL_SUITES))
    meta_version, meta = metas[0]
    m = re.search(r"\blinux-image-(\S+?-amd64)(?:-unsigned)?\b", meta.get("Depends", ""))
    if not m:
        raise HarnessError(f"cannot parse linux-image-amd64 {meta_version} Depends: {meta.get('Depends')}")
    release = m.group(1)
    image_pkg = f"linux-image-{release}"
    images = apt.versions(image_pkg)
    if not images:
        raise HarnessError(f"{image_pkg} (from linux-image-amd64 {meta_version}) not found")
    image_version, image = images[0]
    wanted = [(image_pkg, image_version)]
    dep = re.search(r"\b(linux-binary-\S+)\s*(?:\(\s*=\s*([^)\s]+)\s*\))?", image.get("Depends", ""))
    if dep:
        versions = apt.versions(dep.group(1))
        wanted.append((dep.group(1), dep.group(2) or (versions[0][0] if versions else "")))
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    root = cache / "kernels" / release
    tmp_root = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp_root, ignore_errors=True)
    tmp_root.mkdir(parents=True)
    for pkg, ver in wanted:
        spec = f"{pkg}={ver}" if ver else pkg
        before = set(debs.glob("*.deb"))
        existing = [d for d in before if d.name.startswith(f"{pkg}_")
                    and d.name.split("_")[1].replace("%3a", ":") == ver]
        if existing:
            deb = existing[0]
        else:
            apt.get("download", spec, cwd=debs, what=f"apt-get download {spec}")
            new = [d for d in set(debs.glob("*.deb")) - before if d.name.startswith(f"{pkg}_")]
            if not new:
                raise HarnessError(f"apt-get download {spec} produced no .deb")
            deb = new[0]
        _run(["dpkg-deb", "-x", str(deb), str(tmp_root)], what=f"dpkg-deb -x {deb.name}")
    shutil.rmtree(root, ignore_errors=True)
    tmp_root.rename(root)
    vmlinuz = _find_vmlinuz(root, release)
    header_release = _kernel_version_from_bzimage(vmlinuz)
    if header_release != release:
        print(f"harness: note: bzImage says {header_release}, package says {release}",
              file=sys.stderr)
    return Kernel(vmlinuz=vmlinuz, version=header_release, package=image_pkg,
                  package_version=image_version)


# --------------------------------------------------------------------------- 3. initramfs


def _newc(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """A newc cpio archive from (name, mode, data, rdev) entries, deterministic (mtime 0)."""
    out = io.BytesIO()

    def pad(n: int) -> None:
        out.write(b"\0" * ((4 - n % 4) % 4))

    for ino, (name, mode, data, rdev) in enumerate([*entries, ("TRAILER!!!", 0, b"", 0)], 1):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08X}" for v in (
            ino if name != "TRAILER!!!" else 0, mode, 0, 0, 1 if mode & 0o170000 != 0o040000 else 2,
            0, len(data), 0, 0, rdev >> 8, rdev & 0xFF, len(nb), 0))
        out.write(hdr.encode())
        out.write(nb)
        pad(110 + len(nb))
        out.write(data)
        pad(len(data))
    return out.getvalue()


def build_initramfs(cache: Path | None = None) -> Path:
    """Build (or reuse) ``cache/initramfs/initramfs-<hash>.cpio.gz``: busybox-static + ``/init``.

    The archive is a gzip'd newc cpio (written by this module, byte-for-byte reproducible)
    holding the host's static busybox, ``/dev/console`` and the ``/init`` script that dumps
    :data:`FILES`, ``uname -r``/``-m`` and ``dmesg`` between ``==CRASHPLAN-BEGIN x==`` /
    ``==CRASHPLAN-END x==`` markers, then ``poweroff -f``.  The hash covers the init script,
    the busybox binary and the archive layout, so it is rebuilt only when one of them changes.
    """
    cache = (cache or default_cache()).resolve()
    busybox = _static_busybox()
    if busybox is None:
        raise HarnessError("no static busybox found (install busybox-static, or call ensure_tools())")
    bb = busybox.read_bytes()
    digest = hashlib.sha256(b"layout-1\0" + _INIT_SCRIPT.encode() + b"\0" + bb).hexdigest()[:16]
    out = cache / "initramfs" / f"initramfs-{digest}.cpio.gz"
    if out.is_file():
        return out
    d, f, c, ln = 0o040755, 0o100755, 0o020600, 0o120777
    entries = [
        ("bin", d, b"", 0), ("sbin", d, b"", 0), ("dev", d, b"", 0), ("proc", d, b"", 0),
        ("sys", d, b"", 0), ("tmp", d, b"", 0), ("usr", d, b"", 0), ("usr/bin", d, b"", 0),
        ("usr/sbin", d, b"", 0),
        ("dev/console", c, b"", (5 << 8) | 1), ("dev/null", 0o020666, b"", (1 << 8) | 3),
        ("bin/busybox", f, bb, 0), ("bin/sh", ln, b"busybox", 0),
        ("init", f, _INIT_SCRIPT.encode(), 0),
    ]
    data = gzip.compress(_newc(entries), compresslevel=9, mtime=0)
    _atomic_write(out, data)
    return out


def _initramfs_hash(path: Path) -> str:
    return path.name.removeprefix("initramfs-").removesuffix(".cpio.gz")


# --------------------------------------------------------------------------- 4. boot


def _parse_serial(text: str) -> dict[str, str]:
    """Sections between the markers.  Raises HarnessError if the dump is incomplete."""
    text = text.replace("\r", "")
    sections: dict[str, str] = {}
    current: str | None = None
    buf: list[str] = []
    for line in text.split("\n"):
        m = re.search(r"==CRASHPLAN-(BEGIN|END) (\S+)==", line)
        if m and m.group(1) == "BEGIN" and current is None:
            current, buf = m.group(2), []
            continue
        if m and m.group(1) == "END" and current is not None and current == m.group(2):
            # a file without a trailing newline leaves its last line in front of the marker
            tail = line[: m.start()]
            body = "\n".join([*buf, tail]) if tail else ("\n".join(buf) + "\n" if buf else "")
            if body.strip() != MISSING.format(current):
                sections[current] = body
            current = None
            continue
        if current is not None:
            buf.append(line)
    if DONE not in text:
        raise HarnessError("the guest never printed " + DONE)
    for required in ("proc/iomem", "proc/cmdline", "uname-r", "dmesg"):
        if required not in sections:
            raise HarnessError(f"section {required!r} missing from the serial output")
    return sections


def _crash_lines(dmesg: str) -> list[str]:
    return [_TIMESTAMP_RE.sub("", line) for line in dmesg.splitlines()
            if any(w in line for w in _CRASH_WORDS)]


# Under TCG on a loaded host the x86 kernel's IO-APIC timer check can miss its ticks and panic
# (check_timer(), arch/x86/kernel/apic/io_apic.c); it says nothing about the memory layout, so
# such a boot is run again, at most this many times.
_STARVED = "IO-APIC + timer doesn't work"
_STARVED_RETRIES = 2


def _qemu_argv(kernel: Kernel, initrd: Path, ram: int, cmdline: str, numa_nodes: int,
               cpus: int) -> list[str]:
    mib = ram >> 20
    if mib << 20 != ram:
        raise HarnessError(f"ram must be a whole number of MiB, got {ram}")
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-nographic", "-no-reboot"]
    if numa_nodes <= 1:
        argv += ["-machine", "pc,memory-backend=ram0",
                 "-object", f"memory-backend-ram,id=ram0,size={mib}M,reserve=off"]
    else:
        if mib % numa_nodes or (mib // numa_nodes) % 2:
            raise HarnessError(f"{mib} MiB does not split into {numa_nodes} equal 2 MiB-aligned nodes")
        per = mib // numa_nodes
        argv += ["-machine", "pc", "-m", f"{mib}M"]
        for n in range(numa_nodes):
            argv += ["-object", f"memory-backend-ram,id=ram{n},size={per}M,reserve=off"]
            node = f"node,nodeid={n},memdev=ram{n}"
            # vCPUs round-robin over the nodes; nodes without one are memory-only
            node += "".join(f",cpus={c}" for c in range(n, cpus, numa_nodes))
            argv += ["-numa", node]
    argv += ["-smp", str(cpus), "-kernel", str(kernel.vmlinuz), "-initrd", str(initrd),
             "-append", cmdline]
    return argv


def boot(ram: int, append: str, *, cache: Path | None = None, kernel: Kernel | None = None,
         numa_nodes: int = 1, cpus: int = 1, timeout: float = 120, use_cache: bool = True) -> Boot:
    """Boot ``kernel`` (default: :func:`fetch_kernel`) with ``ram`` bytes and ``append``.

    The kernel command line is ``console=ttyS0 panic=-1 <append>``.  Memory comes from
    a ``memory-backend-ram`` with ``reserve=off`` (lazily touched, so 64 GiB guests work
    on a smaller host); with ``numa_nodes > 1`` the RAM is split evenly over one backend
    per node.  The serial console is read from QEMU's stdout; QEMU is killed after
    ``timeout`` seconds.  Raises :class:`HarnessError` if QEMU fails or the dump markers
    are missing.  Results are cached in ``cache/boots/<sha256>.json`` keyed by kernel
    version, initramfs hash, ram, append, numa_nodes and cpus (``use_cache=False``
    forces a new boot, which still refreshes the cache).
    """
    cache = (cache or default_cache()).resolve()
    kernel = kernel or fetch_kernel(cache)
    initrd = build_initramfs(cache)
    key_src = json.dumps({"schema": SCHEMA, "kernel": kernel.version,
                          "package_version": kernel.package_version,
                          # an override vmlinuz is identified by its content
                          "image": _sha256_file(kernel.vmlinuz) if kernel.package == "override" else "",
                          "initramfs": _initramfs_hash(initrd), "ram": ram, "append": append,
                          "numa": numa_nodes, "cpus": cpus}, sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()
    record = cache / "boots" / f"{key}.json"
    if use_cache and record.is_file():
        d = json.loads(record.read_text())
        d["cached"] = True
        return Boot(**d)
    cmdline = f"console=ttyS0 panic=-1 {append}".strip()
    argv = _qemu_argv(kernel, initrd, ram, cmdline, numa_nodes, cpus)
    for attempt in range(1 + _STARVED_RETRIES):
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            elapsed = time.monotonic() - start
            tail = out.decode(errors="replace").replace("\r", "")[-3000:]
            raise HarnessError(f"QEMU timed out after {elapsed:.1f}s: {' '.join(argv)}\n"
                               f"--- last serial output ---\n{tail}") from None
        elapsed = time.monotonic() - start
        serial = out.decode(errors="replace")
        if _STARVED not in serial:
            break
        print(f"harness: the guest's timer check failed under a loaded host (attempt {attempt + 1}); booting again",
              file=sys.stderr)
    try:
        sections = _parse_serial(serial)
    except HarnessError as e:
        raise HarnessError(
            f"{e}\nQEMU exit {proc.returncode}: {' '.join(argv)}\n--- stderr ---\n"
            f"{err.decode(errors='replace')[-2000:]}\n--- last serial output ---\n"
            f"{serial.replace(chr(13), '')[-3000:]}") from None
    dmesg = sections["dmesg"]
    result = Boot(
        ram=ram, append=append,
        files={k: v for k, v in sections.items() if k in FILES},
        dmesg=dmesg,
        kernel_release=sections["uname-r"].strip(),
        machine=sections.get("uname-m", "").strip(),
        elapsed=round(elapsed, 2),
        crash_lines=_crash_lines(dmesg),
        numa_nodes=numa_nodes, cpus=cpus,
        kernel_package=kernel.package, kernel_package_version=kernel.package_version,
        qemu_version=qemu_version(), cmdline=cmdline,
        date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        qemu_argv=argv,
    )
    _atomic_write(record, json.dumps(dataclasses.asdict(result), indent=1) + "\n")
    return result


# --------------------------------------------------------------------------- 5. host tree


def _fmt_size(n: int) -> str:
    for shift, unit in ((40, "T"), (30, "G"), (20, "M"), (10, "K")):
        if n and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


def write_tree(boot: Boot, dest: Path) -> None:
    """Write ``boot`` as a host tree: ``dest/proc/iomem``, ..., ``dest/dmesg.txt``, ``dest/PROVENANCE.md``.

    Also writes ``dest/proc/sys/kernel/osrelease`` (and ``dest/proc/version`` when the
    guest dumped it).  Files the guest did not have (e.g. ``kexec_crash_cma_ranges`` on
    kernels without it) are not written.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for rel, text in boot.files.items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (dest / "proc/sys/kernel").mkdir(parents=True, exist_ok=True)
    (dest / "proc/sys/kernel/osrelease").write_text(boot.kernel_release + "\n")
    (dest / "dmesg.txt").write_text(boot.dmesg)
    pkg = f"{boot.kernel_package} {boot.kernel_package_version}".strip()
    numa = f", {boot.numa_nodes} NUMA nodes" if boot.numa_nodes > 1 else ""
    (dest / "PROVENANCE.md").write_text(
        "# Provenance\n\n"
        "Captured from a real kernel boot by `tests/kernel/harness.py` "
        "(busybox initramfs dumping the files below on the serial console). Do not edit by hand.\n\n"
        f"- Kernel: `{boot.kernel_release}` ({boot.machine}), Debian package `{pkg}`\n"
        f"- QEMU: {boot.qemu_version}, `-accel tcg -cpu max`, machine `pc` (SeaBIOS)\n"
        f"- RAM: {_fmt_size(boot.ram)} ({boot.ram} bytes), {boot.cpus} vCPU{numa}\n"
        f"- Kernel command line: `{boot.cmdline or boot.append}`\n"
        f"- Appended by the test: `{boot.append}`\n"
        f"- Date: {boot.date}\n"
        f"- Boot time (wall, TCG): {boot.elapsed:.1f} s\n"
        f"- Files: {', '.join('`' + k + '`' for k in sorted(boot.files))}, "
        "`proc/sys/kernel/osrelease`, `dmesg.txt` (full kernel log)\n"
        "\nReproduce:\n\n```\n"
        f"python tests/kernel/harness.py boot --ram {_fmt_size(boot.ram)} "
        f"--append '{boot.append}'" + (f" --numa {boot.numa_nodes}" if boot.numa_nodes > 1 else "")
        + (f" --cpus {boot.cpus}" if boot.cpus != 1 else "") + " --out DIR\n```\n")


# --------------------------------------------------------------------------- 6. CLI


def _report(b: Boot) -> str:
    lines = [f"# kernel {b.kernel_release} ({b.machine}), RAM {_fmt_size(b.ram)}, "
             f"append {b.append!r}, {b.elapsed:.1f}s{' (cached)' if b.cached else ''}"]
    lines += ["## dmesg crash lines"] + [f"  {ln_}" for ln_ in b.crash_lines]
    lines += ["## iomem Crash kernel"] + [f"  {ln_}" for ln_ in b.iomem_lines()]
    lines += [f"## kexec_crash_size: {b.files.get('sys/kernel/kexec_crash_size', 'n/a').strip()}"]
    cma = b.files.get("sys/kernel/kexec_crash_cma_ranges")
    lines += ["## kexec_crash_cma_ranges: " + ("(file absent)" if cma is None else
                                               (cma.strip().replace("\n", " ") or "(empty)"))]
    cma_total = b.meminfo("CmaTotal")
    lines += [f"## CmaTotal: {cma_total // 1024 if cma_total is not None else 'n/a'} kB, "
              f"MemTotal: {(b.meminfo('MemTotal') or 0) // 1024} kB"]
    lines += ["## placement"] + [f"  {ln_}" for ln_ in b.dmesg_lines("RAMDISK:")]
    lines += [f"  {ln_}" for n in ("Kernel code", "Kernel rodata", "Kernel data", "Kernel bss")
              for ln_ in b.iomem_lines(n)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``fetch`` | ``boot --ram SIZE --append STR [--out DIR] [--numa N] [--cpus N]``."""
    ap = argparse.ArgumentParser(prog="harness.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=None, help="cache dir (default $CRASHPLAN_KERNEL_CACHE "
                    "or ~/.cache/crashplan-kernel)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="install tools, fetch the kernel, build the initramfs")
    f.add_argument("--refresh", action="store_true", help="re-resolve the newest kernel")
    b = sub.add_parser("boot", help="boot once and print the crashkernel evidence")
    b.add_argument("--ram", required=True, type=parse_size, help="e.g. 4G, 512M")
    b.add_argument("--append", default="", help="extra kernel command line")
    b.add_argument("--numa", type=int, default=1)
    b.add_argument("--cpus", type=int, default=1)
    b.add_argument("--timeout", type=float, default=120)
    b.add_argument("--out", type=Path, help="write the host tree here")
    b.add_argument("--no-cache", action="store_true", help="boot even if a cached result exists")
    b.add_argument("--json", action="store_true", help="print the whole Boot as JSON")
    args = ap.parse_args(argv)
    cache = (args.cache or default_cache()).resolve()
    try:
        ensure_tools()
        kernel = fetch_kernel(cache, refresh=getattr(args, "refresh", False))
        initrd = build_initramfs(cache)
        if args.cmd == "fetch":
            print(kernel.version)
            print(f"  package: {kernel.package} {kernel.package_version}\n  vmlinuz: {kernel.vmlinuz}\n"
                  f"  initramfs: {initrd}\n  qemu: {qemu_version()}", file=sys.stderr)
            return 0
        result = boot(args.ram, args.append, cache=cache, kernel=kernel, numa_nodes=args.numa,
                      cpus=args.cpus, timeout=args.timeout, use_cache=not args.no_cache)
        if args.json:
            print(json.dumps(dataclasses.asdict(result), indent=1))
        else:
            print(_report(result))
        if args.out:
            write_tree(result, args.out)
            print(f"# wrote {args.out}", file=sys.stderr)
        return 0
    except HarnessError as e:
        print(f"harness: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
