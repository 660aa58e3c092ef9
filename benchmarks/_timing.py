"""Shared timing helpers for the benchmarks: interleaved runs and medians of ratios.

This machine is shared and noisy, so every benchmark reports a ratio against a baseline run
in the same loop, interleaved, and takes the median over many runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sysconfig
import time
from pathlib import Path


def root_captures(hosts: Path) -> list[Path]:
    """The real captures under ``hosts`` that crashplan can plan: /proc/iomem read as root.

    A capture without addresses (non-root) or without /proc/iomem gets no recommendation
    (nothing to place it in), so it would only measure how fast a host fails.
    """
    out = []
    for p in sorted(hosts.iterdir()):
        iomem = p / "proc" / "iomem"
        if iomem.is_file() and any(not line.strip().startswith("00000000-00000000") for line in iomem.read_text(errors="replace").splitlines() if line.strip()):
            out.append(p)
    return out


def crashplan_command() -> list[str]:
    """The installed ``crashplan`` console script of this interpreter (no pyenv shim)."""
    script = Path(sysconfig.get_path("scripts")) / "crashplan"
    if not script.exists():
        raise SystemExit(f"crashplan is not installed for this interpreter ({script} missing): pip install .")
    return [str(script)]


def compile_installed() -> None:
    """Write the bytecode of the installed crashplan, as ``pip install`` does.

    An editable install (or PYTHONDONTWRITEBYTECODE) leaves none, and compiling the sources
    on every start would be measured instead of crashplan itself.
    """
    import compileall

    import crashplan

    compileall.compile_dir(str(Path(crashplan.__file__).parent), quiet=1)


def time_command(argv: list[str]) -> float:
    """Wall time of one run of ``argv``, output discarded; the run must succeed."""
    started = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def compare(subject: list[str], baseline: list[str], runs: int) -> dict[str, float]:
    """Run subject and baseline alternately ``runs`` times; medians and the median ratio."""
    time_command(subject)
    time_command(baseline)  # warm the page cache for both
    subject_times, baseline_times, ratios = [], [], []
    for _ in range(runs):
        b = time_command(baseline)
        s = time_command(subject)
        subject_times.append(s)
        baseline_times.append(b)
        ratios.append(s / b)
    return {
        "subject_median_s": statistics.median(subject_times),
        "baseline_median_s": statistics.median(baseline_times),
        "median_ratio": statistics.median(ratios),
    }
