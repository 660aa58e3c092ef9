"""JSON Schemas (draft 2020-12) of every ``--format json`` output and of ``crashplan-snapshot.json``.

The schemas are package data (``crashplan/schemas/*.json``, shipped in the wheel) and are read
with :mod:`importlib.resources`.  ``_common.json`` holds the definitions every schema shares
(a finding, an error, an address range, the ``resolved`` object of ``parse_crashkernel()`` ...);
:func:`load_schema` bundles them into the schema's own ``$defs``, so that what it returns (and
what ``crashplan schema COMMAND`` prints) validates alone, without fetching anything.

Version 1 of the envelope (``crashplan_result_version``) is a contract: fields may be added, none
is removed or changes type without a new version.  The test suite validates real outputs of
every command against these schemas with ``jsonschema`` (a test dependency only).

>>> schema_names()[:3]
('check', 'error', 'explain')
>>> load_schema("facts")["properties"]["command"]
{'const': 'facts'}
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from crashplan.errors import CrashplanError

__all__ = ["COMMAND_SCHEMAS", "load_schema", "schema_names", "schema_titles"]

# Which schema each command's --format json output follows (fleet's jsonl lines: "fleet-line").
COMMAND_SCHEMAS = {
    "check": "check",
    "explain": "explain",
    "facts": "facts",
    "fleet": "fleet",
    "footprint": "footprint",
    "profiles": "profiles",
    "recommend": "recommend",
    "simulate": "simulate",
    "snapshot": "snapshot",
}


def schema_names() -> tuple[str, ...]:
    """The names of the shipped schemas, sorted."""
    return tuple(
        sorted(p.name[: -len(".json")] for p in files(__name__).iterdir() if p.name.endswith(".json") and not p.name.startswith("_"))
    )


def schema_titles() -> dict[str, str]:
    """The title of every shipped schema, by name, sorted by name."""
    return {name: _read(name)["title"] for name in schema_names()}


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8"))
    return data


def load_schema(name: str) -> dict[str, Any]:
    """The schema ``name`` (a command or ``error``, ``fleet-line``, ``snapshot``), self-contained.

    :raises CrashplanError: no schema has that name (exit 3).
    """
    if name not in schema_names():
        raise CrashplanError(f"no schema {name!r}; known: {', '.join(schema_names())}", code="unknown-schema")
    schema = _read(name)
    return schema | {"$defs": _read("_common")["$defs"] | schema.get("$defs", {})}
