"""initrd-analysis benchmark: ``analyse_initrd()`` on a ~60 MiB zstd initrd against ``zstd -dc``.

Builds, in a temporary directory, a tree that looks like a distribution initrd: real files (busybox
or the Python interpreter, and Python's standard library as a stand-in for the many small text and
binary files of /usr) plus incompressible files named like the already-compressed kernel modules
(``*.ko.zst``) that make up most of a real initrd's bytes.  It is archived with ``cpio -H newc`` and
compressed with ``zstd -15 -T0`` (dracut's defaults), then, interleaved over several runs:

* subject: ``analyse_initrd(open(file), ...)`` in this process;
* baseline: ``zstd -dc FILE > /dev/null`` as a subprocess (the tool that only decompresses).

It prints the medians, the median of the per-run ratios (target < 1.5) and the peak memory of the
analysis: the tracemalloc peak of one run and the peak-RSS growth (VmHWM) of a child process that
runs it (target < 64 MiB).

    python benchmarks/initrd.py [--runs 7] [--size-mib 60] [--level 15] [--json] [--keep DIR]

Times are CPU time (time.process_time() here, the children's user + system time of os.times() for
zstd): the 2-core machine is shared, and wall time measures the other processes as much as crashplan.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import tracemalloc
from pathlib import Path

from crashplan.host.formats.initrd import analyse_initrd

TARGET_RATIO = 1.5
TARGET_PEAK_MIB = 64
MiB = 1 << 20

# Run in a child: its resident set before the analysis and its peak during it, in KiB.  The peak
# (VmHWM) is reset first through /proc/self/clear_refs ("5", Documentation/filesystems/proc.rst),
# because ru_maxrss would also count the parent's pages the child had between fork and exec.
_CHILD = """
import re, sys
from crashplan.host.formats.initrd import analyse_initrd
def status(key):
    return int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1))
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
with open(sys.argv[1], "rb") as fp:
    facts = analyse_initrd(fp, name=sys.argv[1])
print(before, status("VmHWM"), facts.unpacked_bytes)
"""


def build_tree(root: Path, size_mib: int) -> int:
    """Fill ``root``; return the regular-file bytes it holds (hard links have none here)."""
    (root / "bin").mkdir(parents=True)
    shutil.copy(shutil.which("busybox") or sys.executable, root / "bin" / "busybox")
    for name in ("sh", "mount", "switch_root"):
        (root / "bin" / name).symlink_to("busybox")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(stdlib, root / "usr/lib/python3", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "site-packages", "test", "idlelib", "ensurepip"))
    modules = root / "lib/modules/6.0.0/kernel/drivers"
    modules.mkdir(parents=True)
    # Incompressible data for about 2/3 of the target (the stdlib compresses to roughly the rest):
    # a real initrd's bulk is already-compressed modules and firmware.
    left, n = int(size_mib * MiB * 0.65), 0
    while left > 0:
        size = min(left, 64 * 1024 + (n * 7919 % 900) * 1024)
        (modules / f"mod{n:04d}.ko.zst").write_bytes(os.urandom(size))
        left -= size
        n += 1
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def build_initrd(root: Path, out: Path, level: int) -> None:
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    listing = "\n".join([".", *names]).encode()
    with open(out, "wb") as f:
        cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        zstd = subprocess.Popen(["zstd", f"-{level}", "-T0", "-q", "-c"], stdin=cpio.stdout, stdout=f)
        assert cpio.stdin is not None and cpio.stdout is not None
        cpio.stdin.write(listing)
        cpio.stdin.close()
        cpio.stdout.close()
        if cpio.wait() or zstd.wait():
            raise SystemExit("cpio | zstd failed")


def time_subject(path: Path) -> float:
    """CPU seconds of one analysis in this process."""
    start = time.process_time()
    with open(path, "rb") as fp:
        facts = analyse_initrd(fp, name=str(path))
    elapsed = time.process_time() - start
    assert facts.unpacked_bytes is not None, facts.findings
    return elapsed


def time_baseline(path: Path) -> float:
    """CPU seconds (user + system) of one ``zstd -dc FILE > /dev/null`` child."""
    before = os.times()
    subprocess.run(["zstd", "-dc", str(path)], stdout=subprocess.DEVNULL, check=True)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--size-mib", type=int, default=60, help="approximate compressed size")
    parser.add_argument("--level", type=int, default=15, help="zstd level (dracut uses -15)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, help="build in DIR and keep it")
    args = parser.parse_args(argv)
    for tool in ("cpio", "zstd"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not installed (apt-get install cpio zstd)")

    work = args.keep or Path(tempfile.mkdtemp(prefix="crashplan-initrd-bench-"))
    try:
        initrd = work / "initrd.img"
        if not initrd.exists():
            tree_bytes = build_tree(work / "root", args.size_mib)
            build_initrd(work / "root", initrd, args.level)
            (work / "tree-bytes").write_text(str(tree_bytes))
        tree_bytes = int((work / "tree-bytes").read_text())

        with open(initrd, "rb") as fp:
            facts = analyse_initrd(fp, name=str(initrd))
        if facts.unpacked_bytes != tree_bytes:
            raise SystemExit(f"wrong answer: {facts.unpacked_bytes} != {tree_bytes} bytes in the tree")

        subject: list[float] = []
        baseline: list[float] = []
        for _ in range(args.runs):  # interleaved, so drift hits both alike
            baseline.append(time_baseline(initrd))
            subject.append(time_subject(initrd))
        ratios = [s / b for s, b in zip(subject, baseline, strict=True)]

        tracemalloc.start()
        time_subject(initrd)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        child = subprocess.run([sys.executable, "-c", _CHILD, str(initrd)], capture_output=True,
                               text=True, check=True)
        rss_before, rss_after = (int(x) for x in child.stdout.split()[:2])

        result = {
            "file_bytes": facts.size,
            "archive_bytes": sum(s.archive_bytes or 0 for s in facts.segments),
            "unpacked_bytes": facts.unpacked_bytes,
            "files": facts.files,
            "runs": args.runs,
            "subject_median_ms": statistics.median(subject) * 1000,
            "baseline_median_ms": statistics.median(baseline) * 1000,
            "median_ratio": statistics.median(ratios),
            "tracemalloc_peak_mib": traced_peak / MiB,
            "child_peak_rss_mib": rss_after / 1024,
            "child_peak_rss_growth_mib": (rss_after - rss_before) / 1024,
        }
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            print(f"initrd: {result['file_bytes'] / MiB:.1f} MiB zstd, {result['archive_bytes'] / MiB:.1f} MiB "
                  f"cpio, {facts.files} files, {result['unpacked_bytes'] / MiB:.1f} MiB of file data")
            print(f"analyse_initrd:        median {result['subject_median_ms']:.1f} ms CPU over {args.runs} runs")
            print(f"zstd -dc > /dev/null:  median {result['baseline_median_ms']:.1f} ms CPU")
            print(f"median ratio:          {result['median_ratio']:.2f} (target < {TARGET_RATIO})")
            print(f"peak memory:           tracemalloc {result['tracemalloc_peak_mib']:.1f} MiB; child process "
                  f"peak RSS {result['child_peak_rss_mib']:.1f} MiB, "
                  f"{result['child_peak_rss_growth_mib']:.1f} MiB above its RSS before the analysis (target < {TARGET_PEAK_MIB} MiB)")
        ok = result["median_ratio"] < TARGET_RATIO and max(
            result["tracemalloc_peak_mib"], result["child_peak_rss_growth_mib"]) < TARGET_PEAK_MIB
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
