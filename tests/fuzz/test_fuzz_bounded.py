"""The bounded fuzz run of CI: every target, a fixed budget of inputs, under the fuzz oracle.

Three drivers of the same targets (``harness.TARGETS``):

- ``test_atheris``: each target under atheris in a subprocess (``fuzz.py --target=NAME
  -runs=N -max_total_time=T`` over a scratch corpus plus the committed seeds), two at a time;
  skipped with a reason when atheris is not installed;
- ``test_mutated_seeds``: in-process, a deterministic stream of seeds mutated by a seeded
  pseudo-random generator, with the ``SIGALRM`` hang guard and the ``tracemalloc`` memory cap
  (which atheris runs leave to ``-rss_limit_mb``);
- ``test_regression``: every minimised crash input under ``tests/fuzz/regressions/<target>/``.

The long run is not here: see tests/fuzz/README.md.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzzlib as harness

#: Inputs per target in the atheris run, and the wall-clock cap of each run (seconds).
ATHERIS_RUNS = int(os.environ.get("CRASHPLAN_FUZZ_RUNS", "4000"))
ATHERIS_SECONDS = int(os.environ.get("CRASHPLAN_FUZZ_SECONDS", "4"))
#: Inputs per target in the in-process mutated-seed run.
MUTATED_INPUTS = int(os.environ.get("CRASHPLAN_FUZZ_MUTATIONS", "150"))

FUZZ = Path(__file__).resolve().parent / "fuzz.py"
ROOT = Path(__file__).resolve().parents[2]


def _seeds(name: str) -> list[bytes]:
    d = harness.CORPUS_DIR / name
    return [p.read_bytes() for p in sorted(d.iterdir())] if d.is_dir() else []


# --- atheris, two subprocesses at a time ------------------------------------------------------

_results: dict[str, subprocess.CompletedProcess[str]] = {}
_lock = threading.Lock()


def _atheris_run(name: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    corpus = workdir / name / "corpus"
    corpus.mkdir(parents=True)
    cmd = [
        sys.executable, str(FUZZ), f"--target={name}", f"-runs={ATHERIS_RUNS}",
        f"-max_total_time={ATHERIS_SECONDS}", "-seed=1", "-print_final_stats=1",
        f"-artifact_prefix={workdir / name}/", str(corpus), str(harness.CORPUS_DIR / name),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir / name, env=env, timeout=300)


@pytest.fixture(scope="module")
def atheris_results(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run atheris on every target this session selected, two at a time (the machine has 2 cores)."""
    pytest.importorskip("atheris", reason="pip install atheris to run the coverage-guided fuzzers")
    with _lock:
        if not _results:
            wanted = [
                item.callspec.params["name"]
                for item in request.session.items
                if getattr(item, "originalname", None) == "test_atheris" and hasattr(item, "callspec")
            ]
            workdir = tmp_path_factory.mktemp("atheris")
            with ThreadPoolExecutor(2) as pool:
                for name, result in zip(wanted, pool.map(lambda n: _atheris_run(n, workdir), wanted), strict=False):
                    _results[name] = result
    return _results


@pytest.mark.parametrize("name", list(harness.TARGETS))
def test_atheris(name: str, atheris_results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    """A bounded coverage-guided run of one target finds no crash, hang or memory blow-up."""
    result = atheris_results[name]
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
    assert result.returncode == 0, f"atheris found a failure in {name!r}; see tests/fuzz/README.md\n{tail}"
    assert "stat::number_of_executed_units" in result.stderr + result.stdout, tail


# --- in-process: mutated seeds under the full oracle -------------------------------------------

_INTERESTING = [
    b"\0", b"\xff", b"\n", b" ", b"-", b":", b",", b"@", b"0x", b"18446744073709551616",
    b"99999999999999999999999999", b"-1", b"\xc3\x28", b"\t", b"\r\n", b"%", b"'", b'"', b"\\",
    b"crashkernel=", b",cma", b",high", b",low", b"\x1f\x8b", b"070701", b"@@ ", b" -> ", b" |fifo",
    b"\n@@ proc/iomem\n", b"\n@@ proc/meminfo -> /proc/meminfo\n", b"../", b"[", b"{", b"&a", b"*a",
]


def mutate(rng: random.Random, data: bytes, max_len: int) -> bytes:
    """A few byte-level mutations of ``data`` (flip, insert, delete, splice a token, duplicate)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        at = rng.randint(0, len(buf))
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            buf[at:at] = rng.choice(_INTERESTING)
        elif op == 2 and buf:
            del buf[at : at + rng.randint(1, 64)]
        elif op == 3:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 4 and buf:
            start = rng.randrange(len(buf))
            buf[at:at] = buf[start : start + rng.randint(1, 256)]
        elif op == 5:
            del buf[at:]
    return bytes(buf[:max_len])


@pytest.mark.parametrize("name", list(harness.TARGETS))
def test_mutated_seeds(name: str) -> None:
    """Seeds and a deterministic stream of their mutations: a value or a CrashplanError, in time and memory."""
    target = harness.TARGETS[name]
    seeds = _seeds(name) or [b""]
    rng = random.Random(f"crashplan-fuzz-{name}")
    for data in seeds:
        harness.run_one(target, data[: target.max_len], alarm=True)
    for _ in range(MUTATED_INPUTS):
        harness.run_one(target, mutate(rng, rng.choice(seeds), target.max_len), alarm=True)


# --- regressions --------------------------------------------------------------------------------


def _regressions() -> list[object]:
    cases = []
    for path in sorted(harness.REGRESSIONS_DIR.glob("*/*")):
        if path.is_file() and path.name != "README.md":
            cases.append(pytest.param(path.parent.name, path, id=f"{path.parent.name}/{path.name}"))
    return cases


@pytest.mark.parametrize(("name", "path"), _regressions())
def test_regression(name: str, path: Path) -> None:
    """A minimised input that once crashed a target now gives a value or a CrashplanError."""
    harness.run_one(harness.TARGETS[name], path.read_bytes(), alarm=True)


# --- the tree writer itself ---------------------------------------------------------------------


def test_tree_writer_never_writes_outside_its_directory(tmp_path: Path) -> None:
    """Fuzzed trees full of links out of the tree write nothing through them (the harness may run as root)."""
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    victim = outside / "victim"
    victim.write_bytes(b"keep me\n")
    fifo = outside / "fifo"
    os.mkfifo(fifo)
    before = {p: (p.lstat().st_mtime_ns, p.lstat().st_size) for p in outside.rglob("*")}
    data = b"".join(
        [
            b"@@ proc -> " + bytes(outside) + b"\n",
            b"@@ proc/victim\nOVERWRITTEN\n",
            b"@@ proc/new\nCREATED\n",
            b"@@ proc/sub/deeper/new\nCREATED\n",
            b"@@ etc/os-release -> " + bytes(victim) + b"\n",
            b"@@ etc/os-release\nOVERWRITTEN\n",
            b"@@ sys/fifo -> " + bytes(fifo) + b"\n",
            b"@@ sys/fifo\nBLOCKED?\n",
            b"@@ boot/hard => proc/victim\n",
            b"@@ boot/hard\nOVERWRITTEN\n",
            b"@@ rel -> ../../../../../../../../../../../../" + bytes(outside).lstrip(b"/") + b"\n",
            b"@@ rel/victim\nOVERWRITTEN\n",
            b"@@ proc/meminfo |fifo\n@@ proc/meminfo\nBLOCKED?\n",
        ]
    )
    started = time.monotonic()
    root = tmp_path / "tree"
    root.mkdir()
    harness._write_tree(root, harness.records(data))
    assert time.monotonic() - started < 5
    assert victim.read_bytes() == b"keep me\n"
    after = {p: (p.lstat().st_mtime_ns, p.lstat().st_size) for p in outside.rglob("*")}
    assert after == before
    # And the whole target, under the oracle, on the same input.
    harness.run_one(harness.TARGETS["snapshot_tree"], data, alarm=True)
    assert victim.read_bytes() == b"keep me\n"
