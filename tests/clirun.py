"""Run the crashplan command line in-process, through ``main()``, for tests."""

from __future__ import annotations

import contextlib
import io
import sys
from typing import NamedTuple

from crashplan.cli import main


class Result(NamedTuple):
    """How one run ended: unpacks as ``code, out, err`` too."""

    exit_code: int
    stdout: str
    stderr: str


def run(*args: str, stdin: str = "") -> Result:
    """Run crashplan through main(), the one place that maps errors to exit codes, with ``stdin`` as its standard input."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as e:
                code = int(e.code or 0)
    finally:
        sys.stdin = old
    return Result(code, out.getvalue(), err.getvalue())
