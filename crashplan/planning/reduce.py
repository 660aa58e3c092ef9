"""The fleet's reduce step: per-host JSON results gathered from the hosts, reduced centrally.

Map on the hosts (``crashplan recommend --format json`` or ``crashplan check --format json`` run
by Ansible, cron or any engine), reduce here to the same :class:`~crashplan.planning.fleet.FleetSummary`
that ``crashplan fleet`` computes from snapshots, with the same covering ranged string, without
re-reading any snapshot.

Inputs, each line of a JSON-lines file or stdin, or a whole ``.json`` file:

* a ``recommend`` envelope (the plan of one host);
* a ``check`` envelope (the need and the current reservation; the recommendation is then the
  footprint's ``recommended_size`` as a standard reservation);
* a host line of ``fleet --format jsonl`` (:class:`~crashplan.planning.fleet.HostResult`); the
  final ``{"summary": ...}`` line of such a file is skipped;
* a ``fleet --format json`` envelope: its hosts are reduced again (a reduce of reduces).

The reduce streams: it keeps the estimated needs (one ``int`` per host, for the median and
p90), the sums, the host names (duplicates are refused) and the distinct ``(arch, RAM,
recommended size)`` shapes the ranged string is built from; never the results themselves.
A garbled result, one of another ``crashplan_result_version`` or a duplicate host is
reported with its file and line, and the others go on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from crashplan.envelope import RESULT_VERSION
from crashplan.planning.fleet import FleetSummary, HostResult, summary_of
from crashplan.units import format_size

__all__ = ["FleetReducer", "ResultProblem", "is_result_path", "iter_results", "result_from_json"]

_SUFFIXES = (".json", ".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class ResultProblem:
    """A result that could not be reduced: where it is and why (``code`` is stable)."""

    path: str
    line: int | None
    code: str
    message: str

    def one_line(self) -> str:
        """``path:line: message``."""
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    def to_json(self) -> dict[str, object]:
        """The problem as an ``errors`` item of the JSON envelope."""
        return {"code": self.code, "message": self.message, "path": self.path, "line": self.line}


class _Bad(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_result_path(path: str) -> bool:
    """Whether ``path`` names results rather than snapshots: ``-``, a ``.json``/``.jsonl`` file,
    or a directory that holds such files and no host tree."""
    if path == "-":
        return True
    if os.path.isfile(path):
        return path.endswith(_SUFFIXES)
    if os.path.isdir(path) and not os.path.isdir(os.path.join(path, "proc")) and not os.path.exists(os.path.join(path, "crashplan-snapshot.json")):
        names = os.listdir(path)
        return bool(names) and all(n.endswith(_SUFFIXES) for n in names if not n.startswith("."))
    return False


def _int(doc: dict[str, Any], key: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _Bad("bad-result", f'"{key}" should be a byte count, not {json.dumps(value)[:40]}')
    return value


def _str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise _Bad("bad-result", f'"{key}" should be a string')
    return value


def _obj(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise _Bad("bad-result", f'"{key}" should be an object')
    return value


def result_from_json(doc: object, name: str) -> HostResult | None:
    """The :class:`HostResult` of one result document; None for a fleet summary line.

    ``name`` is the host when the document does not name one (a live host's result says
    ``"source": "live host"``: then the file it came from names the host).

    :raises ValueError: (``_Bad``) the document is not a crashplan result this version reads.
    """
    if not isinstance(doc, dict):
        raise _Bad("bad-result", "not a JSON object")
    if "summary" in doc and len(doc) == 1:
        return None
    if "crashplan_result_version" not in doc and "ok" in doc and "source" in doc:
        return _from_host_line(doc)
    version = doc.get("crashplan_result_version")
    if version != RESULT_VERSION:
        raise _Bad("other-version", f"crashplan_result_version {json.dumps(version)}; this crashplan reduces version {RESULT_VERSION}")
    command = doc.get("command")
    source = _str(doc, "hostname") or _str(doc, "source")
    host = source if source and source != "live host" else name
    if doc.get("status") == "error":
        errors = doc.get("errors")
        message = errors[0].get("message") if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
        return HostResult(host, False, str(message or "the host's run failed"))
    if command == "recommend":
        rec = _obj(doc, "recommendation")
        fp = _obj(doc, "footprint")
        options = doc.get("options")
        current = next((o for o in options if isinstance(o, dict) and o.get("kind") == "current"), None) if isinstance(options, list) else None
        profile = doc.get("profile")
        return HostResult(
            host, True, None, _str(doc, "arch"), _int(doc, "system_ram"),
            _str(profile, "name") if isinstance(profile, dict) else None,
            _str(rec, "strategy"), _str(rec, "cmdline"), _int(fp, "total"), _int(fp, "recommended_size"),
            _int(current, "taken_from_production") if current is not None else None,  # None: unknown
            _int(rec, "taken_from_production"), _int(rec, "borrowed"), _str(rec, "places"),
            _str(doc, "kernel_version"),
        )
    if command == "check":
        state = _obj(doc, "host")
        profile = doc.get("profile")
        size = _int(doc, "recommended_size")
        return HostResult(
            host, True, None, _str(doc, "arch"), _int(doc, "system_ram"),
            _str(profile, "name") if isinstance(profile, dict) else None,
            "standard", None if size is None else f"crashkernel={format_size(size)}", _int(doc, "need"), size,
            _int(state, "reserved"), size, 0, None, _str(doc, "kernel_version"),
        )
    raise _Bad("bad-result", f"a crashplan {json.dumps(command)[:40]} result: fleet reduces recommend and check results")


_HOST_FIELDS = tuple(HostResult.__dataclass_fields__)


def _from_host_line(doc: dict[str, Any]) -> HostResult:
    source = _str(doc, "source")
    if not source or not isinstance(doc.get("ok"), bool):
        raise _Bad("bad-result", 'a fleet host line needs "source" and "ok"')
    values: dict[str, Any] = {}
    for key in _HOST_FIELDS:
        if key in ("source", "ok"):
            values[key] = doc[key]
        elif key in ("system_ram", "need", "recommended_size", "taken_now", "taken_recommended", "borrowed_recommended"):
            values[key] = _int(doc, key)
        else:
            values[key] = _str(doc, key)
    return HostResult(**values)


def iter_results(paths: Iterable[str], stdin: IO[str] | None = None) -> Iterator[tuple[str, int | None, object]]:
    """``(path, line, document or ResultProblem)`` for every result in ``paths``, streaming.

    A directory is read in name order; ``-`` is ``stdin`` (JSON lines).  A file holding one
    JSON document (``.json``, indented) yields it with line None; otherwise each non-blank
    line is one document.
    """
    for path in paths:
        if path == "-":
            assert stdin is not None
            yield from _lines("<stdin>", stdin)
        elif os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                if name.endswith(_SUFFIXES) and not name.startswith("."):
                    yield from _file(os.path.join(path, name))
        else:
            yield from _file(path)


_WHOLE_LIMIT = 64 << 20  # a .json file is one result (about 10 KiB); bigger ones are JSON lines


def _file(path: str) -> Iterator[tuple[str, int | None, object]]:
    try:
        fp = open(path, encoding="utf-8", errors="strict")  # noqa: SIM115 - closed below
    except OSError as e:
        yield path, None, ResultProblem(path, None, "unreadable", f"cannot read: {e.strerror or e}")
        return
    with fp:
        try:
            if path.endswith((".jsonl", ".ndjson")) or os.fstat(fp.fileno()).st_size > _WHOLE_LIMIT:
                yield from _lines(path, fp)
                return
            text = fp.read()
        except UnicodeDecodeError:
            yield path, None, ResultProblem(path, None, "bad-result", "not valid UTF-8")
            return
    try:
        yield path, None, json.loads(text)
    except json.JSONDecodeError as e:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) > 1 and all(line.lstrip().startswith("{") and line.rstrip().endswith("}") for line in lines):
            import io

            yield from _lines(path, io.StringIO(text))  # JSON lines in a .json file
        else:
            yield path, e.lineno, ResultProblem(path, e.lineno, "bad-result", f"not JSON: {e.msg}")


def _lines(path: str, fp: IO[str]) -> Iterator[tuple[str, int | None, object]]:
    number = 0
    try:
        for number, line in enumerate(fp, 1):
            if not line.strip():
                continue
            try:
                yield path, number, json.loads(line)
            except json.JSONDecodeError as e:
                yield path, number, ResultProblem(path, number, "bad-result", f"not JSON: {e.msg}")
    except UnicodeDecodeError:
        yield path, number + 1, ResultProblem(path, number + 1, "bad-result", "not valid UTF-8")


class FleetReducer:
    """Streams host results into the fleet summary, keeping only what the summary needs."""

    def __init__(self) -> None:
        self.hosts = 0
        self.needs: list[int] = []
        self.taken_now = 0
        self.taken_recommended = 0
        self.compared = 0  # what the recommendations take on hosts whose current reservation is known
        self.current_unknown = 0
        self.shapes: set[tuple[str | None, int, int, str | None]] = set()
        self.seen: set[str] = set()
        self.problems: list[ResultProblem] = []

    def add_document(self, path: str, line: int | None, doc: object) -> HostResult | None:
        """Reduce one document; a problem is recorded (and None returned), the reduce goes on."""
        if isinstance(doc, ResultProblem):
            self.problems.append(doc)
            return None
        if isinstance(doc, dict) and doc.get("command") == "fleet" and isinstance(doc.get("hosts"), list):
            if doc.get("crashplan_result_version") != RESULT_VERSION:
                self.problems.append(ResultProblem(path, line, "other-version", f"crashplan_result_version {json.dumps(doc.get('crashplan_result_version'))}; this crashplan reduces version {RESULT_VERSION}"))
                return None
            last = None
            for host in doc["hosts"]:  # a fleet's own JSON: reduce its hosts again (a reduce of reduces)
                last = self.add_document(path, line, host) or last
            return last
        name = path if line is None else f"{path}:{line}"
        if line is None and path != "<stdin>":
            name = os.path.splitext(os.path.basename(path))[0]
        try:
            result = result_from_json(doc, name)
        except _Bad as e:
            self.problems.append(ResultProblem(path, line, e.code, e.message))
            return None
        if result is None:
            return None
        if result.source in self.seen:
            self.problems.append(ResultProblem(path, line, "duplicate-host", f"host {result.source!r} was already reduced; this result is left out"))
            return None
        self.seen.add(result.source)
        self.add(result)
        return result

    def add(self, r: HostResult) -> None:
        """Count one host result."""
        self.hosts += 1
        if not r.ok or r.need is None:
            return
        self.needs.append(r.need)
        self.taken_recommended += r.taken_recommended or 0
        if r.taken_now is None:
            self.current_unknown += 1
        else:
            self.taken_now += r.taken_now
            self.compared += r.taken_recommended or 0
        if r.system_ram and r.recommended_size:
            self.shapes.add((r.arch, r.system_ram, r.recommended_size, r.kernel_version))

    def summary(self) -> FleetSummary:
        """The same summary as :func:`crashplan.planning.fleet.summarise` of every result added."""
        shapes = [
            HostResult("", True, arch=a, system_ram=ram, recommended_size=size, kernel_version=kv)
            for a, ram, size, kv in sorted(self.shapes, key=lambda s: (s[0] or "", s[1], s[2], s[3] or ""))
        ]
        return summary_of(self.hosts, sorted(self.needs), self.taken_now, self.taken_recommended, shapes, compared=self.compared, current_unknown=self.current_unknown)

