"""End to end on a real Debian kdump-tools guest: crashplan's own recommendation dumps.

The guest of ``debian.py`` (trixie, kdump-tools' own kdump initrd, the newest 7.x kernel): a
wheel of this checkout is installed in it and ``crashplan snapshot`` runs there; ``crashplan
recommend`` reads that snapshot on the host (the guest's own kdump kernel and initrd were
measured inside it); the guest is booted with each recommended ``crashkernel=`` (standard, and
cma: the kernel honours ``,cma``), crashed, and Debian's kdump-tools must save a complete dump
(``/var/crash/<stamp>/dump.<stamp>``, which kdump-tools renames from ``dump-incomplete`` only
when makedumpfile succeeded).

The image build takes about 6 minutes on a fresh machine (cached in
``~/.cache/crashplan-kernel/debian/``), each boot 1-4 minutes under TCG.  Runs when
``CRASHPLAN_DEBIAN_TESTS=1`` (``.ci/run`` sets it); a missing tool then fails instead of skipping.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[2]
GIB = 1 << 30


@pytest.fixture(scope="module")
def debian_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``crashplan snapshot`` taken inside the booted 4 GiB Debian guest."""
    if os.environ.get("CRASHPLAN_DEBIAN_TESTS") != "1":
        pytest.skip("set CRASHPLAN_DEBIAN_TESTS=1 to build and boot the Debian kdump-tools guest")
    import debian
    import harness

    work = tmp_path_factory.mktemp("debian")
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work), str(ROOT)],
        capture_output=True, text=True, check=False,
    )
    assert wheel.returncode == 0, wheel.stderr
    (built,) = work.glob("crashplan-*.whl")
    try:
        path, _, _ = debian.snapshot(4 * GIB, built, work / "guest-snapshot.tar.gz")
    except harness.HarnessError as e:
        pytest.fail(f"the Debian guest could not take a snapshot: {e}")
    return path


def _recommend(snapshot: Path, strategy: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "crashplan", "recommend", "--source", str(snapshot), "--strategy", strategy, "--format", "cmdline"],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("strategy", ["standard", "cma"])
def test_recommendation_dumps_on_the_debian_guest(debian_snapshot: Path, strategy: str) -> None:
    """The guest booted with crashplan's recommendation saves a complete dump with kdump-tools."""
    import debian

    cmdline = _recommend(debian_snapshot, strategy)
    assert cmdline.startswith("crashkernel="), cmdline
    if strategy == "cma":
        assert ",cma" in cmdline, cmdline
    trial = debian.run_trial(4 * GIB, cmdline)
    assert trial.ok, (cmdline, trial.outcome, trial.log)
    dumps = [f for d in trial.facts.get("crash_dir") or [] for f in d["files"] if f["name"].startswith("dump.") and f["size"] > 0]
    assert dumps, trial.facts
