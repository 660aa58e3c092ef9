"""Fleet reduce benchmark: 1,000,000 per-host results (JSON lines) reduced to the fleet summary.

The results are generated from the real captures' own outputs: ``crashplan fleet
tests/data/hosts/* --format jsonl`` gives one line per captured host, and each generated host
is one of those lines with its own name and a need that differs by a few pages (so that the
median and p90 are computed over a million distinct values, not ten).  The file is written
under benchmarks/.work/, then ``crashplan fleet FILE.jsonl`` reduces it in a child process,
whose wall time and peak RSS (``ru_maxrss`` of the children) are reported.  Targets: under
60 s and under 512 MiB on this 2-core machine; the reduce streams (crashplan/planning/reduce.py).

    python benchmarks/reduce.py [--hosts 1000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import compile_installed, crashplan_command, root_captures

ROOT = Path(__file__).resolve().parent.parent
HOSTS = ROOT / "tests" / "data" / "hosts"
TARGET_SECONDS = 60.0
TARGET_MIB = 512.0


def real_lines() -> list[dict]:
    """The per-host results of the real captures, from crashplan fleet itself."""
    hosts = [str(p) for p in root_captures(HOSTS)]
    p = subprocess.run([*crashplan_command(), "fleet", *hosts, "--format", "jsonl"], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in p.stdout.splitlines()[:-1]]


def generate(path: Path, count: int, samples: list[dict]) -> int:
    """Write ``count`` results to ``path``; returns the bytes written."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            doc = dict(samples[i % len(samples)])
            doc["source"] = f"host{i:07d}.example"
            doc["need"] = doc["need"] + (i % 4099) * 4096
            out.write(json.dumps(doc, separators=(",", ":")) + "\n")
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    compile_installed()
    work = ROOT / "benchmarks" / ".work"
    work.mkdir(exist_ok=True)
    samples = real_lines()
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        path = Path(tmp) / "results.jsonl"
        size = generate(path, options.hosts, samples)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        p = subprocess.run([*crashplan_command(), "fleet", str(path), "--format", "text"], capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mib = after.ru_maxrss / 1024
    if p.returncode != 0:
        print(p.stderr, file=sys.stderr)
        return 1
    rate = options.hosts / elapsed
    result = {"benchmark": "reduce", "hosts": options.hosts, "input_bytes": size, "seconds": elapsed, "results_per_second": rate,
              "cpu_seconds": cpu, "load": os.getloadavg()[0], "peak_rss_mib": peak_mib, "target_seconds": TARGET_SECONDS, "target_mib": TARGET_MIB, "cpus": os.cpu_count(),
              "summary": p.stdout.splitlines()}
    if options.json:
        print(json.dumps(result))
    else:
        print(f"reduce: {options.hosts} results ({size >> 20} MiB of JSON lines) in {elapsed:.1f} s = {rate:,.0f} results/s "
              f"(target < {TARGET_SECONDS:.0f} s; {cpu:.1f} s of CPU, load {os.getloadavg()[0]:.1f}), peak RSS {peak_mib:.0f} MiB (target < {TARGET_MIB:.0f} MiB)")
        print("  " + "\n  ".join(p.stdout.splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
