"""Boot every scenario once (two QEMU guests at a time) so that the test run reads the cache.

    python tests/kernel/warm.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness
from scenarios import boots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    options = parser.parse_args()
    harness.ensure_tools()
    kernel = harness.fetch_kernel()
    harness.build_initramfs()
    started = time.monotonic()
    todo = boots()

    def one(item: tuple[int, str, int]) -> str:
        ram, append, numa = item
        b = harness.boot(ram, append, kernel=kernel, numa_nodes=numa, cpus=min(numa, 2), timeout=300)
        return f"{'cached' if b.cached else f'{b.elapsed:5.1f}s'}  {ram >> 20}M numa={numa} {append}"

    with ThreadPoolExecutor(options.jobs) as pool:
        for line in pool.map(one, todo):
            print(line, flush=True)
    print(f"{len(todo)} boots in {time.monotonic() - started:.0f} s with kernel {kernel.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
