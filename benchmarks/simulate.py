"""Placement benchmark: simulate on a synthetic host with 10,000 iomem lines (64 TiB, 64 nodes).

The host is generated in a temporary directory from the layout of a real x86 server capture
(tests/data/hosts/lore-x86-hpe-xeon-32g-crash-low256m-high512m): its low 4 GiB as captured,
then 64 NUMA nodes of 1 TiB each, every node's RAM split by firmware and PCI windows into
many System RAM lines with nested reservations.  Reported: the median time of
``simulate()`` alone (target < 50 ms) and of reading + parsing + simulating.

    python benchmarks/simulate.py [--runs 30]

Times are CPU time of this process (time.process_time()): the 2-core machine is shared, and
wall time measures the other processes as much as crashplan.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests/data/hosts/lore-x86-hpe-xeon-32g-crash-low256m-high512m"
TARGET_MS = 50.0
GiB = 1 << 30
TiB = 1 << 40


def write_host(dest: Path, lines_wanted: int = 10_000, nodes: int = 64) -> int:
    """Write a synthetic 64 TiB host tree; returns the number of iomem lines."""
    low = [line for line in (SAMPLE / "proc/iomem").read_text().splitlines() if int(line.split("-")[0].strip(), 16) < 4 * GiB]
    lines = list(low)
    per_node = max(1, (lines_wanted - len(lines)) // nodes // 3)
    chunk = TiB // per_node
    zoneinfo = []
    for n in range(nodes):
        base = 4 * GiB + n * TiB
        for k in range(per_node):
            start = base + k * chunk
            ram_end = start + chunk - 64 * (1 << 20)
            lines.append(f"{start:08x}-{ram_end - 1:08x} : System RAM")
            lines.append(f"  {start:08x}-{start + 0xfff:08x} : reserved")
            lines.append(f"{ram_end:08x}-{start + chunk - 1:08x} : PCI Bus 0000:{n:02x}")
        pages = TiB // 4096
        zoneinfo.append(
            f"Node {n}, zone   Normal\n  pages free     {pages // 2}\n        min      1\n        low      2\n"
            f"        high     3\n        spanned  {pages}\n        present  {pages}\n        managed  {pages}\n"
            f"  start_pfn:           {base // 4096}\n"
        )
    (dest / "proc").mkdir(parents=True)
    (dest / "proc/iomem").write_text("\n".join(lines) + "\n")
    (dest / "proc/zoneinfo").write_text("".join(zoneinfo))
    (dest / "proc/meminfo").write_text(f"MemTotal:       {64 * TiB // 1024} kB\nMemFree:        {32 * TiB // 1024} kB\n")
    (dest / "proc/cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro\n")
    (dest / "proc/sys/kernel").mkdir(parents=True)
    (dest / "proc/sys/kernel/osrelease").write_text("6.17.0-generic\n")
    return len(lines)


def main() -> int:
    from crashplan.host.facts import gather_facts
    from crashplan.host.sources import open_source
    from crashplan.planning.simulate import simulate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    spec = "crashkernel=1G,high crashkernel=2G,cma"
    with tempfile.TemporaryDirectory() as tmp:
        count = write_host(Path(tmp))
        facts = gather_facts(open_source(tmp))
        simulate(facts, spec)  # warm up
        alone, full = [], []
        for _ in range(options.runs):
            started = time.process_time()
            simulate(facts, spec)
            alone.append(time.process_time() - started)
            started = time.process_time()
            simulate(gather_facts(open_source(tmp)), spec)
            full.append(time.process_time() - started)
    result = {
        "benchmark": "simulate on a 64 TiB, 64-node host",
        "iomem_lines": count,
        "simulate_median_ms": statistics.median(alone) * 1000,
        "read_parse_simulate_median_ms": statistics.median(full) * 1000,
        "target_ms": TARGET_MS,
    }
    if options.json:
        print(json.dumps(result))
    else:
        print(
            f"simulate: {count} iomem lines, simulate {result['simulate_median_ms']:.1f} ms "
            f"(target < {TARGET_MS:.0f} ms); with reading and parsing the host "
            f"{result['read_parse_simulate_median_ms']:.1f} ms (no target)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
