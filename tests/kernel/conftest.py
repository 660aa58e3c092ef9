"""Fixtures of the real-kernel suite: the harness, booted scenarios, and the skip rule.

The suite skips with a reason when QEMU or the kernel cannot be had; with
CRASHPLAN_KERNEL_TESTS=1 (as in CI) a skip is a failure.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import harness
import scenarios

REQUIRED = os.environ.get("CRASHPLAN_KERNEL_TESTS") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"real-kernel suite required (CRASHPLAN_KERNEL_TESTS=1) but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def kernel() -> harness.Kernel:
    """The Debian kernel under test (downloaded once, cached)."""
    if sys.platform != "linux":
        _unavailable("the real-kernel suite runs on Linux only")
    try:
        harness.ensure_tools()
        k = harness.fetch_kernel()
        harness.build_initramfs()
    except harness.HarnessError as e:
        _unavailable(f"no kernel or QEMU: {e}")
    return k


@pytest.fixture(scope="session")
def booted(kernel: harness.Kernel) -> dict[tuple[int, str, int], harness.Boot]:
    """Every scenario boot, two guests at a time (cached across runs)."""

    def one(item: tuple[int, str, int]) -> harness.Boot:
        ram, append, numa = item
        return harness.boot(ram, append, kernel=kernel, numa_nodes=numa, cpus=min(numa, 2), timeout=300)

    items = scenarios.boots()
    with ThreadPoolExecutor(2) as pool:
        return dict(zip(items, pool.map(one, items), strict=True))
