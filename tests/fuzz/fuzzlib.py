"""Fuzz targets of crashplan: one function per input format, and the oracle they share.

Every target takes the raw fuzz bytes and feeds them to crashplan's own entry point for that
format.  The oracle (:func:`run_one`) accepts two outcomes only: a value, or a
:class:`crashplan.errors.CrashplanError` (or a subclass).  Anything else fails:

- any other exception (``ValueError``, ``IndexError``, ``RecursionError``, a ``tarfile`` or
  ``zlib`` error...) is re-raised as it is, so atheris reports the crash with its traceback;
- an input that takes longer than :data:`TIME_CAP` seconds raises :class:`Hang`;
- for the targets that decompress or unpack (``initrd``, ``image``, ``snapshot_tree``,
  ``snapshot_archive``, ``profile``) a ``tracemalloc`` peak above :data:`MEMORY_CAP` bytes
  raises :class:`MemoryBlowup`.

The same functions are driven three ways: by atheris (``fuzz.py``, coverage-guided), by pytest
over a deterministic stream of mutated seeds (``test_fuzz_bounded.py``) and by hypothesis
(``test_properties.py``).  Text targets decode bytes as UTF-8 with ``surrogateescape``, the way
every crashplan source decodes a file.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import tarfile
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

FUZZ_DIR = Path(__file__).resolve().parent
CORPUS_DIR = FUZZ_DIR / "corpus"
REGRESSIONS_DIR = FUZZ_DIR / "regressions"

#: Seconds one input may take (the budget of ``crashplan`` on one host file is far below this).
TIME_CAP = 2.0
#: Bytes of Python allocations one input may hold at its peak (``tracemalloc``), where tracked.
MEMORY_CAP = 128 << 20


#: Whether :func:`run_one` measures memory with ``tracemalloc`` (it halves the speed; under
#: atheris the memory cap is libFuzzer's ``-rss_limit_mb`` instead).
TRACK_MEMORY = os.environ.get("CRASHPLAN_FUZZ_TRACEMALLOC", "1") == "1"


class Hang(AssertionError):
    """An input took longer than :data:`TIME_CAP`."""


class MemoryBlowup(AssertionError):
    """An input made crashplan hold more than :data:`MEMORY_CAP` bytes at once."""


def text(data: bytes) -> str:
    """Fuzz bytes as a source reads a file: UTF-8, undecodable bytes kept as surrogates."""
    return data.decode("utf-8", "surrogateescape")


# --- crashkernel= grammar and /proc/cmdline --------------------------------------------------

_FEATURES: list[object] = []
_RAMS = (0, 1, 512 << 20, 1948 << 20, 2 << 30, 4 << 30, 16 << 30, 1 << 40, (1 << 64) - 1)


def _features() -> list[object]:
    if not _FEATURES:
        from crashplan.kernel.features import features_for

        for arch, version in (
            ("x86_64", None),
            ("x86_64", "6.1"),
            ("x86_64", "6.16"),
            ("arm64", "6.19"),
            ("ppc64le", "6.19"),
            ("ppc64le", "6.10"),
            ("s390x", "6.12"),
            ("riscv64", "6.12"),
            ("loongarch64", "5.15"),
        ):
            _FEATURES.append(features_for(arch, version))
    return _FEATURES


def fuzz_grammar(data: bytes) -> None:
    """``parse_crashkernel``, ``scan_crashkernel``, ``decide``, ``diagnose`` and ``explain`` on one string.

    The features (arch and kernel version) and the RAM size are picked from the input's length
    so that one corpus file exercises one deterministic combination.
    """
    from crashplan.errors import ParseError
    from crashplan.kernel.crashkernel import decide
    from crashplan.kernel.explain import explain, explanation_to_json
    from crashplan.kernel.grammar import format_crashkernel, parse_crashkernel, scan_crashkernel
    from crashplan.kernel.lint import diagnose

    s = text(data)
    features = _features()
    f = features[len(data) % len(features)]
    ram = _RAMS[len(data) % len(_RAMS)]
    # explain() runs scan_crashkernel(), decide() and diagnose() itself.
    explanation_to_json(explain(s, f, ram))  # type: ignore[arg-type]
    if len(data) % 3 == 0:  # the table across RAM sizes costs ~20 decide() calls
        explanation_to_json(explain(s, f, None))  # type: ignore[arg-type]
    else:
        decide(s, ram // 3, f)  # type: ignore[arg-type]
        diagnose(s, f, None, scans=scan_crashkernel(s, f))  # type: ignore[arg-type]
    try:
        spec = parse_crashkernel(s, f)  # type: ignore[arg-type]
    except ParseError as e:
        str(e)  # the caret rendering must not fail either
        e.one_line()
        return
    # parse(format(spec)) == spec: the law the formatter promises.
    canonical = format_crashkernel(spec)
    again = parse_crashkernel(canonical, f)  # type: ignore[arg-type]
    assert again == spec, (s, canonical, spec, again)


def fuzz_cmdline(data: bytes) -> None:
    """``split_cmdline`` and ``parse_cmdline`` of ``/proc/cmdline`` text; differential on the split."""
    from crashplan.host.formats.cmdline import (
        _encode,
        _split_next_arg,
        get_param,
        has_param,
        parse_cmdline,
        split_cmdline,
    )

    s = text(data)
    args = split_cmdline(s)
    # Differential: the one-pass split of a quote-free line equals next_arg() itself.
    assert args == _split_next_arg(_encode(s.split("\0", 1)[0])), "split_cmdline differs from next_arg()"
    get_param(args, "crashkernel")
    has_param(args, "nokaslr")
    c = parse_cmdline(s)
    c.kernel_args  # noqa: B018 - properties run code
    c.init_args  # noqa: B018


# --- /proc and /sys parsers ------------------------------------------------------------------


def fuzz_iomem(data: bytes) -> None:
    """``parse_iomem``, then every helper host facts use on the map it returns."""
    from crashplan.host.formats import iomem

    m = iomem.parse_iomem(text(data))
    if m.addresses_visible:  # without addresses these helpers refuse, by design
        iomem.system_ram(m)
        iomem.crash_kernel(m)
        iomem.kernel_image(m)
        iomem.reserved(m)
    for _ in iomem.walk(m):
        pass
    iomem.format_iomem(m)


def fuzz_meminfo(data: bytes) -> None:
    """Differential: wherever the line-by-line reading succeeds, parse_meminfo agrees with it."""
    from crashplan.errors import CrashplanError
    from crashplan.host.formats.meminfo import _read_lines, parse_meminfo

    s = text(data)
    try:
        slow = _read_lines(s, "/proc/meminfo")
    except CrashplanError:
        slow = None
    m = parse_meminfo(s)
    if slow is not None:
        assert dict(m.fields) == slow, "meminfo fast reading differs"


def fuzz_buddyinfo(data: bytes) -> None:
    """The helpers on every zone; differential against the line-by-line reading."""
    from crashplan.errors import CrashplanError
    from crashplan.host.formats._text import table_lines
    from crashplan.host.formats.buddyinfo import _parse_lines, parse_buddyinfo

    s = text(data)
    try:
        slow = _parse_lines(table_lines(s, path="b", expected="x"), "b")
    except CrashplanError:
        slow = None
    info = parse_buddyinfo(s)
    if slow is not None:
        assert info == slow, "buddyinfo fast reading differs"
    for zone in info.zones:
        zone.free_pages  # noqa: B018 - properties run code
        zone.free_bytes(4096)
        zone.largest_order  # noqa: B018
        zone.largest_block_bytes(4096)


def fuzz_zoneinfo(data: bytes) -> None:
    """Both readings; differential: wherever the line-by-line one succeeds, the fast one agrees."""
    from crashplan.errors import CrashplanError
    from crashplan.host.formats.zoneinfo import parse_zoneinfo

    s = text(data)
    try:
        full = parse_zoneinfo(s)
    except CrashplanError:
        full = None
    light = parse_zoneinfo(s, counters=False)
    for info in (light,) if full is None else (light, full):
        for zone in info.zones:
            zone.span(4096)
            zone.free_bytes(4096)
            zone.spanned_bytes(4096)
            zone.present_bytes(4096)
            zone.managed_bytes(4096)
            zone.cma_bytes(4096)
    if full is not None:
        assert [_zone_sizes(z) for z in light.zones] == [_zone_sizes(z) for z in full.zones], (
            "counters=False differs from the line-by-line reading"
        )


def _zone_sizes(z: object) -> tuple[object, ...]:
    names = ("node", "name", "free_pages", "spanned_pages", "present_pages", "managed_pages", "cma_pages",
             "min_wmark_pages", "low_wmark_pages", "high_wmark_pages", "zone_start_pfn", "protection")
    return tuple(getattr(z, n) for n in names)


def fuzz_cpulist(data: bytes) -> None:
    from crashplan.host.formats.cpulist import format_cpulist, parse_cpulist

    cpus = parse_cpulist(text(data))
    if len(cpus) < 100_000:
        assert parse_cpulist(format_cpulist(cpus) + "\n") == cpus


def fuzz_sysfs(data: bytes) -> None:
    """The three ``/sys/kernel`` parsers, each on the same text (each may refuse it)."""
    from crashplan.errors import CrashplanError
    from crashplan.host.formats import sysfs

    s = text(data)
    for parse in (sysfs.parse_kexec_crash_size, sysfs.parse_kexec_crash_loaded, sysfs.parse_cma_ranges):
        with suppress(CrashplanError):
            parse(s)


def fuzz_osrelease(data: bytes) -> None:
    from crashplan.host.formats.osrelease import parse_os_release

    r = parse_os_release(text(data))
    r.is_like("rhel")


def fuzz_kdumpconf(data: bytes) -> None:
    """``/etc/kdump.conf``, ``/etc/sysconfig/kdump`` and ``/etc/default/kdump-tools``, merged."""
    from crashplan.errors import CrashplanError
    from crashplan.host.formats import kdumpconf

    s = text(data)
    configs = []
    for parse in (
        kdumpconf.parse_kdump_conf,
        kdumpconf.parse_sysconfig_kdump,
        kdumpconf.parse_kdump_tools_default,
    ):
        with suppress(CrashplanError):
            configs.append(parse(s))
    if configs:
        kdumpconf.merge_kdump_configs(*configs)


def fuzz_dmesg(data: bytes) -> None:
    from crashplan.host.formats.dmesg import crash_log_lines, parse_dmesg

    crash_log_lines(parse_dmesg(text(data)))


# --- files: profiles, kernel images, initrds, snapshots --------------------------------------

_SCRATCH: list[Path] = []


def scratch() -> Path:
    """A per-process scratch directory (removed at exit by the caller's tmp cleanup or atexit)."""
    if not _SCRATCH:
        import atexit

        path = Path(tempfile.mkdtemp(prefix="crashplan-fuzz-"))
        atexit.register(shutil.rmtree, path, True)
        _SCRATCH.append(path)
    return _SCRATCH[0]


@contextmanager
def fresh_dir() -> Iterator[Path]:
    """An empty directory inside :func:`scratch`, removed afterwards."""
    path = Path(tempfile.mkdtemp(dir=scratch()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fuzz_profile(data: bytes) -> None:
    """``load_profile(path)`` on the bytes written as a user profile."""
    from crashplan.profiles import load_profile, profile_to_json

    with fresh_dir() as d:
        path = d / "site.yaml"
        path.write_bytes(data)
        profile_to_json(load_profile(path))


def fuzz_image(data: bytes) -> None:
    from crashplan.host.formats.images import read_kernel_image

    read_kernel_image(io.BytesIO(data), name="vmlinuz")


def fuzz_initrd(data: bytes) -> None:
    from crashplan.host.formats.initrd import Limits, analyse_initrd

    facts = analyse_initrd(
        io.BytesIO(data), name="initrd.img", limits=Limits(max_unpacked_bytes=64 << 20, max_seconds=1.0)
    )
    if facts.unpacked_bytes is not None:
        assert facts.unpacked_bytes >= 0


@dataclass(frozen=True)
class Record:
    """One entry of a fuzzed tree: a file, a directory, a symlink, a hard link or a FIFO."""

    path: str
    kind: str  # "file", "dir", "symlink", "hardlink", "fifo"
    data: bytes = b""
    target: str = ""


_MARK = b"@@ "


def records(data: bytes) -> list[Record]:
    """Split fuzz bytes into tree entries.

    The format (easy to seed from real trees, easy for a mutator to keep) is::

        @@ proc/iomem
        <file bytes>
        @@ proc/self -> ../somewhere        (a symlink)
        @@ proc/meminfo => etc/os-release   (a hard link)
        @@ proc/zoneinfo |fifo              (a FIFO)
        @@ sys/kernel/                      (a directory)

    Bytes before the first ``@@ `` line are ``proc/iomem``.  Names are kept inside the tree
    (``..``, absolute and empty parts dropped, depth and length bounded) because this writer
    must not write outside its scratch directory; link *targets* are kept verbatim.
    """
    chunks = (b"\n" + data).split(b"\n" + _MARK)
    out = []
    if chunks[0][1:]:
        out.append(Record("proc/iomem", "file", chunks[0][1:]))
    for chunk in chunks[1:]:
        header, _, body = chunk.partition(b"\n")
        line = text(header).replace("\0", "")
        kind, target = "file", ""
        if " -> " in line:
            line, _, target = line.partition(" -> ")
            kind = "symlink"
        elif " => " in line:
            line, _, target = line.partition(" => ")
            kind = "hardlink"
        elif line.endswith(" |fifo"):
            line, kind = line[: -len(" |fifo")], "fifo"
        elif line.endswith("/"):
            kind = "dir"
        parts = [p[:64] for p in line.split("/") if p not in ("", ".", "..")][:8]
        if not parts:
            continue
        out.append(Record("/".join(parts), kind, body, target))
    return out[:64]


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NOFOLLOW: never write through a symlink the tree itself holds; O_NONBLOCK: opening a FIFO
# the tree holds fails (ENXIO) instead of waiting for a reader.
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _open_parent(root_fd: int, parts: list[str], *, create: bool) -> int:
    """A descriptor of the directory ``parts`` below ``root_fd``, walked without following links.

    Every component is opened with ``O_NOFOLLOW`` relative to the one before, so a symlink the
    fuzzed tree holds (``proc -> /``) can never lead a write out of the scratch directory: the
    harness runs as whatever user runs the tests, root included.
    """
    fd = os.dup(root_fd)
    try:
        for part in parts:
            if create:
                with suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            new = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = new
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_tree(root: Path, entries: list[Record]) -> None:
    """Create the entries below ``root`` (a fresh directory), and nothing anywhere else."""
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        for r in entries:
            *parents, name = r.path.split("/")
            try:
                fd = _open_parent(root_fd, parents, create=True)
            except (OSError, ValueError):
                continue  # a file or a link in the way: the tree is what it is
            try:
                if r.kind == "dir":
                    os.mkdir(name, 0o755, dir_fd=fd)
                elif r.kind == "symlink":
                    os.symlink(r.target.replace("\0", "") or ".", name, dir_fd=fd)
                elif r.kind == "hardlink":
                    *src_parents, src_name = [p for p in r.target.split("/") if p not in ("", ".", "..")] or ["."]
                    src_fd = _open_parent(root_fd, src_parents, create=False)
                    try:
                        os.link(src_name, name, src_dir_fd=src_fd, dst_dir_fd=fd, follow_symlinks=False)
                    finally:
                        os.close(src_fd)
                elif r.kind == "fifo":
                    os.mkfifo(name, dir_fd=fd)
                else:
                    out = os.open(name, _FILE_FLAGS, 0o644, dir_fd=fd)
                    try:
                        os.write(out, r.data)
                    finally:
                        os.close(out)
            except (OSError, ValueError):
                pass  # a name clash the writer cannot make: the tree is what it is
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)


def _gather(source_path: Path) -> None:
    from crashplan.host.facts import gather_facts
    from crashplan.host.sources import open_source
    from crashplan.render.facts_json import facts_to_json

    source = open_source(source_path)
    facts_to_json(gather_facts(source))


def fuzz_snapshot_tree(data: bytes) -> None:
    """``open_source`` on a directory tree written from the fuzz bytes, then ``gather_facts``."""
    with fresh_dir() as d:
        root = d / "snap"
        root.mkdir()
        _write_tree(root, records(data))
        _gather(root)


_ARCHIVE_MAGIC = (
    (b"\x1f\x8b", "tar.gz"),
    (b"\xfd7zXZ\x00", "tar.xz"),
    (b"\x28\xb5\x2f\xfd", "tar.zst"),
)


def _archive_from_records(entries: list[Record], kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for r in entries:
            info = tarfile.TarInfo(r.path)
            if r.kind == "dir":
                info.type = tarfile.DIRTYPE
            elif r.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, r.target
            elif r.kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, r.target
            elif r.kind == "fifo":
                info.type = tarfile.FIFOTYPE
            else:
                info.size = len(r.data)
            try:
                tar.addfile(info, io.BytesIO(r.data) if info.isreg() else None)
            except (ValueError, UnicodeEncodeError):
                continue
    raw = buffer.getvalue()
    if kind == "tar.gz":
        import gzip

        return gzip.compress(raw, compresslevel=1, mtime=0)
    if kind == "tar.xz":
        import lzma

        return lzma.compress(raw, preset=0)
    if kind == "tar.zst":
        import zstandard

        return zstandard.ZstdCompressor(level=1).compress(raw)
    return raw


def fuzz_snapshot_archive(data: bytes) -> None:
    """``open_source`` on an archive, then ``gather_facts``.

    Input that starts with ``@@ `` is a tree (see :func:`records`) packed by ``tarfile`` and
    compressed by the input's length; any other input is the archive file itself, named after
    its magic (``.tar.gz``, ``.tar.xz``, ``.tar.zst``, else ``.tar``).
    """
    if data.startswith(_MARK):
        kind = ("tar", "tar.gz", "tar.zst", "tar.xz")[len(data) % 4]
        blob = _archive_from_records(records(data), kind)
    else:
        kind = next((k for magic, k in _ARCHIVE_MAGIC if data.startswith(magic)), "tar")
        blob = data
    with fresh_dir() as d:
        path = d / f"snap.{kind}"
        path.write_bytes(blob)
        _gather(path)


# --- the oracle -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A fuzz target: its function, and whether its memory peak is tracked."""

    name: str
    function: Callable[[bytes], None]
    track_memory: bool = False
    max_len: int = 4096


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("grammar", fuzz_grammar, max_len=1024),
        Target("cmdline", fuzz_cmdline, max_len=2048),
        Target("iomem", fuzz_iomem),
        Target("meminfo", fuzz_meminfo),
        Target("buddyinfo", fuzz_buddyinfo),
        Target("zoneinfo", fuzz_zoneinfo, max_len=16384),
        Target("cpulist", fuzz_cpulist, max_len=512),
        Target("sysfs", fuzz_sysfs, max_len=512),
        Target("osrelease", fuzz_osrelease),
        Target("kdumpconf", fuzz_kdumpconf),
        Target("dmesg", fuzz_dmesg),
        Target("profile", fuzz_profile, track_memory=True, max_len=8192),
        Target("image", fuzz_image, track_memory=True, max_len=16384),
        Target("initrd", fuzz_initrd, track_memory=True, max_len=16384),
        Target("snapshot_tree", fuzz_snapshot_tree, track_memory=True, max_len=32768),
        Target("snapshot_archive", fuzz_snapshot_archive, track_memory=True, max_len=65536),
    )
}


def run_one(target: Target, data: bytes, *, alarm: bool = False) -> None:
    """Run one input under the oracle: a value or a ``CrashplanError``, in time, in memory.

    :param alarm: also interrupt a real hang with ``SIGALRM`` (pytest; under atheris
        libFuzzer's own ``-timeout`` does that and owns the signal).
    """
    from crashplan.errors import CrashplanError

    _warm_up()
    tracking = target.track_memory and TRACK_MEMORY
    if tracking:
        if not tracemalloc.is_tracing():
            tracemalloc.start()
        tracemalloc.reset_peak()
    if alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, TIME_CAP * 5)
    start = time.perf_counter()
    try:
        target.function(data)
    except CrashplanError as e:
        # The error must render: the CLI prints exactly this.
        e.one_line()
        e.to_json()
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    elapsed = time.perf_counter() - start
    if elapsed > TIME_CAP:
        raise Hang(f"{target.name}: one input took {elapsed:.2f} s (cap {TIME_CAP} s)")
    if tracking:
        peak = tracemalloc.get_traced_memory()[1]
        if peak > MEMORY_CAP:
            raise MemoryBlowup(f"{target.name}: peak {peak >> 20} MiB (cap {MEMORY_CAP >> 20} MiB)")


_WARM: list[bool] = []


def _warm_up() -> None:
    """Import what crashplan imports lazily, so the first input's time is not import time."""
    if _WARM:
        return
    import bz2  # noqa: F401
    import gzip  # noqa: F401
    import lzma  # noqa: F401

    import yaml  # noqa: F401
    import zstandard  # noqa: F401


    _WARM.append(True)


def _on_alarm(signum: int, frame: object) -> None:
    raise Hang(f"no answer within {TIME_CAP * 5} s")
