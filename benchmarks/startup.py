"""Startup benchmark: ``crashplan explain ... --format json``, ``crashplan --help`` or ``recommend``
against ``python -c "import click"``.

Both run with the same interpreter, interleaved; the median ratio is the figure (targets: 1.3
for explain and --help, i.e. no rich, yaml or psutil on these paths; 2.5 for recommend).  Run it from a virtual environment with
crashplan installed, as users run crashplan (``benchmarks/run`` makes one): an interpreter's own
site-packages may import modules at every start (a ``.pth`` file here imported certifi), which
adds the same time to both runs and pulls the ratio down.

    python benchmarks/startup.py [--command explain|help|recommend] [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import sys

from _timing import compare, compile_installed, crashplan_command

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
COMMANDS = {
    # issue target: explain within 1.3x of `import click` (no rich, yaml or psutil on this path)
    "explain": (["explain", "crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", "--ram", "16G", "--format", "json"], 1.3),
    # issue 15 target: the top-level help (what TAB completion loads too) within 1.3x
    "help": (["--help"], 1.3),
    # issue 14 target: recommend on a snapshot within 2.5x
    "recommend": (["recommend", "--source", str(ROOT / "tests/data/hosts/qemu-x86_64-4g-no-crashkernel"), "--format", "json"], 2.5),
}


def _shown(command: str) -> str:
    return "--help" if command == "help" else f"{command} --format json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--command", choices=sorted(COMMANDS), default="explain")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    options = parser.parse_args()
    if sys.prefix == sys.base_prefix:
        print(
            "startup: warning: not in a virtual environment; the interpreter's site-packages (.pth "
            "files) run in both processes and the ratio reads low (benchmarks/run makes a venv)",
            file=sys.stderr,
        )
    compile_installed()
    args, target = COMMANDS[options.command]
    result = compare(crashplan_command() + args, [sys.executable, "-c", "import click"], options.runs)
    result |= {"target": target, "runs": options.runs, "benchmark": f"startup: {_shown(options.command)} / import click"}
    if options.json:
        print(json.dumps(result))
    else:
        print(
            f"startup: crashplan {_shown(options.command)} {result['subject_median_s'] * 1000:.1f} ms, "
            f"import click {result['baseline_median_s'] * 1000:.1f} ms, "
            f"median ratio {result['median_ratio']:.2f} (target <= {target})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
