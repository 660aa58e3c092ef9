#!/usr/bin/env python3
"""The long fuzz run: every target under atheris for a fixed number of inputs, two at a time.

    python tests/fuzz/long_run.py --out /tmp/crashplan-fuzz [--jobs 2] [--runs N] [--grammar-runs N] [TARGET...]

Each target runs ``fuzz.py --target=NAME -runs=N`` in ``OUT/<target>/`` (its growing corpus in
``OUT/<target>/corpus``, crash files in ``OUT/<target>/``, the log in ``OUT/<target>/log``).
At the end (and after each target) ``OUT/summary.json`` lists, per target, the inputs run, the
seconds taken and whether it stopped on a crash.  A target that crashes stops there (libFuzzer
stops at the first crash): fix it, add the regression input, and run that target again.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzzlib as harness

FUZZ = Path(__file__).resolve().parent / "fuzz.py"


def run(target: str, runs: int, out: Path, max_time: int) -> dict[str, object]:
    work = out / target
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(FUZZ), f"--target={target}", f"-runs={runs}", "-print_final_stats=1",
           f"-artifact_prefix={work}/", str(corpus), str(harness.CORPUS_DIR / target)]
    if max_time:
        cmd.insert(3, f"-max_total_time={max_time}")
    start = time.monotonic()
    with open(work / "log", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=work).returncode
    seconds = time.monotonic() - start
    text = (work / "log").read_text(errors="replace")
    executed = re.findall(r"stat::number_of_executed_units:\s*(\d+)", text)
    crashes = sorted(p.name for p in work.glob("*-*") if p.name.split("-")[0] in ("crash", "timeout", "oom", "leak", "slow"))
    result = {"target": target, "runs": int(executed[-1]) if executed else None, "seconds": round(seconds, 1),
              "exit_code": rc, "artifacts": crashes, "command": " ".join(cmd)}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--grammar-runs", type=int, default=1_000_000)
    parser.add_argument("--max-time", type=int, default=0, help="seconds per target (0: no limit)")
    parser.add_argument("targets", nargs="*", default=list(harness.TARGETS))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / "summary.json"
    results: list[dict[str, object]] = []
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run, t, args.grammar_runs if t == "grammar" else args.runs, args.out, args.max_time)
                   for t in args.targets]
        for f in futures:
            results.append(f.result())
            summary_path.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
