"""Fleet benchmark: plan 10,000 snapshot trees made from the real captures, report hosts/s.

The trees are hard links to the files of tests/data/hosts (root captures with a kernel
release), laid out in a temporary directory; ``crashplan fleet DIR --format jsonl`` plans them
all with the CPU count of worker processes.  Target: at least 1,500 hosts per second on the
2-core machine.

Ten real captures make ten host shapes, and a fleet plans each shape once (crashplan/fleet.py
reuses the plan of a host whose facts are the same).  ``--distinct`` gives every tree its own
``/proc/meminfo`` with a different MemTotal, so that no two hosts share a plan: the figure for a
fleet in which every host differs (every host is still read and its facts gathered in both).

    python benchmarks/fleet.py [--hosts 10000] [--distinct]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import compile_installed, crashplan_command, root_captures

ROOT = Path(__file__).resolve().parent.parent
HOSTS = ROOT / "tests" / "data" / "hosts"
TARGET = 1500.0  # issue 14: at least 1,500 hosts/s on 2 cores


def build(dest: Path, count: int, distinct: bool = False) -> None:
    """``count`` snapshot trees, hard-linked from the real captures in turn.

    ``distinct``: each tree's /proc/meminfo is a copy with MemTotal lowered by ``i`` kB.
    """
    samples = root_captures(HOSTS)
    files = {s: [f for f in s.rglob("*") if f.is_file() and {"proc", "sys", "etc"} & set(f.relative_to(s).parts[:1])] for s in samples}
    for i in range(count):
        sample = samples[i % len(samples)]
        host = dest / f"host{i:05d}"
        for f in files[sample]:
            target = host / f.relative_to(sample)
            target.parent.mkdir(parents=True, exist_ok=True)
            if distinct and target.name == "meminfo":
                text = f.read_text()
                target.write_text(re.sub(r"(?m)^(\s*MemTotal:\s+)(\d+)", lambda m, i=i: f"{m[1]}{int(m[2]) - i}", text, count=1))
            else:
                os.link(f, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--distinct", action="store_true", help="no two hosts with the same facts")
    options = parser.parse_args()
    compile_installed()
    # Hard links need the same file system as tests/data: the trees go under benchmarks/.work/.
    work = ROOT / "benchmarks" / ".work"
    work.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        build(Path(tmp), options.hosts, options.distinct)
        started = time.perf_counter()
        p = subprocess.run([*crashplan_command(), "fleet", tmp, "--format", "jsonl"], capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
    lines = p.stdout.splitlines()
    summary = json.loads(lines[-1])["summary"] if lines else {}
    rate = options.hosts / elapsed
    result = {"benchmark": "fleet", "hosts": options.hosts, "seconds": elapsed, "hosts_per_second": rate, "target": TARGET, "failed": summary.get("failed"), "cpus": os.cpu_count(), "distinct": options.distinct}
    if options.json:
        print(json.dumps(result))
    else:
        kind = "distinct " if options.distinct else ""
        print(f"fleet: {options.hosts} {kind}hosts in {elapsed:.1f} s = {rate:.0f} hosts/s on {os.cpu_count()} CPUs (target >= {TARGET:.0f}); failed {summary.get('failed')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
