#!/usr/bin/env python3
"""Coverage-guided fuzzing of crashplan with atheris (libFuzzer for Python).

Usage (see tests/fuzz/README.md)::

    python tests/fuzz/fuzz.py --target=grammar [libFuzzer flags] [corpus dirs or crash files]

``--target=NAME`` picks one of ``harness.TARGETS``; libFuzzer ignores flags that start with
``--``, so the same command line works when libFuzzer re-runs this script itself
(``-minimize_crash=1``, ``-fork=N``).  With no corpus directory the seed corpus
``tests/fuzz/corpus/<target>/`` is used read-only.  Crashes are written to ``-artifact_prefix``
(default: the current directory) as ``crash-<sha1>``, ``timeout-<sha1>`` or ``oom-<sha1>``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import atheris

# The memory cap under atheris is -rss_limit_mb (set below), not tracemalloc: it is 2x faster.
os.environ.setdefault("CRASHPLAN_FUZZ_TRACEMALLOC", "0")

sys.path.insert(0, str(Path(__file__).resolve().parent))

with atheris.instrument_imports(include=["crashplan"]):
    import crashplan.errors
    import crashplan.host.facts
    import crashplan.host.formats.buddyinfo
    import crashplan.host.formats.cmdline
    import crashplan.host.formats.cpulist
    import crashplan.host.formats.dmesg
    import crashplan.host.formats.images
    import crashplan.host.formats.initrd
    import crashplan.host.formats.iomem
    import crashplan.host.formats.kdumpconf
    import crashplan.host.formats.meminfo
    import crashplan.host.formats.osrelease
    import crashplan.host.formats.sysfs
    import crashplan.host.formats.zoneinfo
    import crashplan.host.sources
    import crashplan.host.sources.archive
    import crashplan.kernel.crashkernel
    import crashplan.kernel.explain
    import crashplan.kernel.grammar
    import crashplan.kernel.lint
    import crashplan.profiles
    import crashplan.units  # noqa: F401

import contextlib

import fuzzlib as harness


def main() -> None:
    names = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--target=")]
    if len(names) != 1 or names[0] not in harness.TARGETS:
        sys.exit(f"usage: {sys.argv[0]} --target=NAME [libFuzzer flags] [corpus...]; "
                 f"NAME is one of: {', '.join(harness.TARGETS)}")
    target = harness.TARGETS[names[0]]
    argv = list(sys.argv)
    if not any(a.startswith("-max_len=") for a in argv):
        argv.append(f"-max_len={target.max_len}")
    if not any(a.startswith("-timeout=") for a in argv):
        argv.append("-timeout=10")
    if not any(a.startswith("-rss_limit_mb=") for a in argv):
        # About 100 MiB for Python and crashplan, plus the 128 MiB cap of harness.MEMORY_CAP.
        argv.append("-rss_limit_mb=384")
    if not any(not a.startswith("-") for a in argv[1:]):
        # New inputs go to the first directory: a scratch one, so the seeds stay as committed.
        import tempfile

        argv += [tempfile.mkdtemp(prefix=f"crashplan-fuzz-{target.name}-"), str(harness.CORPUS_DIR / target.name)]
    # Imports crashplan loads lazily (yaml, tarfile, zstandard...) happen on the first input.
    if os.environ.get("CRASHPLAN_FUZZ_WARM", "1") == "1":
        with contextlib.suppress(AssertionError):
            harness.run_one(target, b"")

    def one(data: bytes) -> None:
        harness.run_one(target, data)

    atheris.Setup(argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
