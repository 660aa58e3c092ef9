"""The versioned JSON envelope of every ``--format json`` output, built in one place.

``{"crashplan_result_version": 1, "command", "status", "exit_code", ...the command's data...,
"errors": [{"code", "message", ...}]}``: ``status`` and ``exit_code`` both follow from the
:class:`~crashplan.errors.ExitCode` the command ends with, so the two can never disagree with
each other or with the process's exit status.  The schemas are in ``crashplan/schemas/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crashplan.errors import ExitCode

__all__ = ["RESULT_VERSION", "envelope", "status_of"]

RESULT_VERSION = 1
"""The version of the envelope; readers of saved results (``check --plan``, ``fleet``) check it."""

_STATUS = {ExitCode.OK: "ok", ExitCode.FINDINGS: "findings"}


def status_of(exit_code: ExitCode) -> str:
    """The envelope's ``status`` word for an exit code.

    >>> status_of(ExitCode.OK), status_of(ExitCode.FINDINGS), status_of(ExitCode.BAD_INPUT)
    ('ok', 'findings', 'error')
    """
    return _STATUS.get(exit_code, "error")


def envelope(
    command: str | None,
    data: Mapping[str, object] | None = None,
    *,
    exit_code: ExitCode = ExitCode.OK,
    errors: Sequence[Mapping[str, object]] = (),
) -> dict[str, object]:
    """The envelope of ``command``'s result: the header, ``data`` in its own order, then ``errors``.

    >>> envelope("explain", {"cmdline": "crashkernel=256M"})
    {'crashplan_result_version': 1, 'command': 'explain', 'status': 'ok', 'exit_code': 0, 'cmdline': 'crashkernel=256M', 'errors': []}
    """
    out: dict[str, object] = {
        "crashplan_result_version": RESULT_VERSION,
        "command": command,
        "status": status_of(exit_code),
        "exit_code": int(exit_code),
    }
    out.update(data or {})
    out["errors"] = [dict(e) for e in errors]
    return out
