"""Reading one profile YAML file into checked entries, with a file, line and column for every problem.

The half of :mod:`crashplan.profiles` that only runs when YAML is read: a user's profile file,
``python -m crashplan.profiles compile``, or a checkout whose compiled index is stale.  Built-in
profiles normally come from the compiled index, so ``crashplan recommend`` never loads this
module (nor ``yaml``).  The rules are documented in ``profiles/README.md``; each value names
its own authority in ``source:``.

YAML is composed with ``yaml.SafeLoader`` into nodes (so every problem has a file, line and
column), aliases are refused, and files over :data:`~crashplan.profiles.MAX_PROFILE_BYTES` are
refused before parsing.  Validation collects every problem of every file involved and raises
them together as one :class:`~crashplan.profiles.ProfileProblems`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crashplan.errors import ParseError, ProfileError
from crashplan.kernel.features import ARCHES, canonical_arch
from crashplan.profiles.model import (
    MAX_PROFILE_BYTES,
    HistoryEntry,
)
from crashplan.profiles.schema import MATCH_KEYS, SECTIONS, TOP_KEYS, TOP_LEAVES, Leaf, expected
from crashplan.profiles.store import (
    suggest,
)
from crashplan.units import format_human, parse_size

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Entry", "Raw", "decode", "read_bounded", "read_file"]

_MAX_DEPTH = 32
# Plain YAML only: the scalar, sequence and mapping tags the safe loader resolves by itself.
_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")
)
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.+-]*\Z")


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any
    source: str | None
    file: str
    line: int | None
    column: int | None
    # Column of the first character of a one-line scalar's text, for errors inside the value.
    text_column: int | None = None


@dataclass(eq=False)
class Raw:
    """One profile file after key-by-key checking, before ``extends:`` merging."""

    key: str
    label: str
    file: str
    path: Path | None
    builtin: bool
    entries: dict[str, Entry]
    extends: list[tuple[str, Entry]]
    problems: list[ProfileError]


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[ProfileError] = []

    def add(self, node: Any, message: str, code: str) -> None:
        line, column = _where(node)
        self.items.append(
            ProfileError(message, file=self.file, line=line, column=column, code=code)
        )

    def unknown_key(self, node: Any, key: str, known: Iterable[str], where: str = "") -> None:
        """Report ``key`` (at ``node``) as not one of ``known``, in ``where`` when given."""
        place = f" in {where}" if where else ""
        self.add(node, f"unknown key {key!r}{place}{suggest(key, known)}", "profile-unknown-key")


def _where(node: Any) -> tuple[int | None, int | None]:
    mark = getattr(node, "start_mark", node)
    if mark is None or not hasattr(mark, "line"):
        return None, None
    return mark.line + 1, mark.column + 1


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"the text {value!r}"
    return f"a {type(value).__name__}"


def _compose(text: str, file: str) -> Any:
    """YAML text -> one node tree, or a ProfileError with the position of the fault."""
    import yaml

    class _Loader(yaml.SafeLoader):
        _depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"aliases (*{event.anchor}) are not allowed in profiles",
                    event.start_mark,
                )
            self._depth += 1
            try:
                if self._depth > _MAX_DEPTH:
                    event = self.peek_event()
                    raise yaml.composer.ComposerError(
                        None, None, f"nested deeper than {_MAX_DEPTH} levels", event.start_mark
                    )
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            if node.tag not in _TAGS:
                raise yaml.composer.ComposerError(
                    None, None, f"the tag {node.tag} is not allowed in profiles", node.start_mark
                )
            return node

    loader = None
    try:
        loader = _Loader(text)
        return loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        line, column = _where(e.problem_mark or e.context_mark)
        message = f"invalid YAML: {e.problem or e.context}"
        if e.context and e.problem:
            at = _where(e.context_mark) if e.context_mark is not None else (None, None)
            message += f" ({e.context}" + (f" that starts at {at[0]}:{at[1]})" if at[0] else ")")
        raise ProfileError(message, file=file, line=line, column=column, code="profile-yaml") from e
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        raise ProfileError(
            f"invalid YAML: character #x{e.character:04x} is not allowed",
            file=file,
            line=line,
            column=column,
            code="profile-yaml",
        ) from e
    finally:
        if loader is not None:
            loader.dispose()


def decode(data: bytes, file: str) -> str:
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"file is larger than {MAX_PROFILE_BYTES} bytes ({format_human(MAX_PROFILE_BYTES)}); a profile is a small text file",
            file=file,
            code="profile-too-large",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ProfileError(
            f"not UTF-8 text (byte 0x{data[e.start]:02x})",
            file=file,
            line=line,
            column=column,
            code="profile-encoding",
        ) from e


def _scalar(node: Any) -> Any:
    """The Python value of a scalar node under YAML 1.1 safe rules."""
    import yaml

    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _mapping_items(node: Any, what: str, out: _Collector) -> list[tuple[str, Any, Any]] | None:
    """``(key, key_node, value_node)`` of a mapping node; duplicates and non-text keys are problems."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        out.add(node, f"{what} must be a mapping, not {_node_kind(node)}", "profile-type")
        return None
    items: list[tuple[str, Any, Any]] = []
    seen: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, str):
            out.add(
                key_node, f"keys in {what} must be text, not {_node_kind(key_node)}", "profile-type"
            )
            continue
        if key in seen:
            out.add(
                key_node,
                f"duplicate key {key!r} in {what} (first at line {seen[key].start_mark.line + 1})",
                "profile-duplicate-key",
            )
            continue
        seen[key] = key_node
        items.append((key, key_node, value_node))
    return items


def _node_kind(node: Any) -> str:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _describe(_scalar(node))


def _text_column(node: Any) -> int | None:
    if node.start_mark.line != node.end_mark.line or getattr(node, "style", None) not in (
        None,
        "'",
        '"',
    ):
        return None
    return node.start_mark.column + 1 + (1 if node.style in ("'", '"') else 0)


def _plain_text(node: Any, what: str, out: _Collector, *, ident: bool = False) -> str | None:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        out.add(node, f"{what} must be text, not {_node_kind(node)}", "profile-type")
        return None
    value = _scalar(node)
    if not isinstance(value, str):
        out.add(node, f"{what} must be text, not {_describe(value)} (quote it)", "profile-type")
        return None
    if ident and not _NAME_RE.match(value):
        out.add(
            node, f"{what} {value!r} must be lower-case letters, digits and . _ + -", "profile-type"
        )
        return None
    if not value.strip():
        out.add(node, f"{what} must not be empty", "profile-type")
        return None
    return value


def _text_list(node: Any, what: str, out: _Collector) -> tuple[str, ...] | None:
    import yaml

    if isinstance(node, yaml.ScalarNode):
        one = _plain_text(node, what, out)
        return None if one is None else (one,)
    if not isinstance(node, yaml.SequenceNode):
        out.add(node, f"{what} must be a list of text, not {_node_kind(node)}", "profile-type")
        return None
    values = [_plain_text(item, f"each item of {what}", out) for item in node.value]
    return None if any(v is None for v in values) else tuple(v for v in values if v is not None)


def _convert(leaf: Leaf, value: Any, key: str) -> tuple[Any, ProfileError | None, int]:
    """Check and convert one value: ``(value, problem, offset of the fault in the text)``.

    The problem is a ProfileError without a position; the caller adds it.
    """

    def bad(
        message: str, code: str = "profile-type", offset: int = 0
    ) -> tuple[None, ProfileError, int]:
        return None, ProfileError(message, file="", code=code), offset

    kind = leaf.kind
    wrong = f"{key}: expected {expected(leaf)}, not {_describe(value)}"
    if kind == "size":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            return bad(wrong)
        if isinstance(value, int):
            return (value, None, 0) if value >= 0 else bad(f"{key}: a size cannot be negative")
        try:
            return parse_size(value, what=key), None, 0
        except ParseError as e:
            return bad(
                f"{key}: bad size {value!r}: {e.message.removeprefix(key + ': ')}",
                "profile-size",
                e.span[0],
            )
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int):
            return bad(wrong)
        if value < 0 or (leaf.maximum is not None and value > leaf.maximum):
            top = f"0-{leaf.maximum}" if leaf.maximum is not None else "0 or more"
            return bad(f"{key}: {value} is out of range ({top})")
        return value, None, 0
    if kind in ("factor", "percent"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad(wrong)
        finite = value == value and value not in (float("inf"), float("-inf"))
        if not finite or value <= 0 or (kind == "percent" and value > 100):
            return bad(
                f"{key}: {value} is out of range ({'0 < p <= 100' if kind == 'percent' else 'must be > 0'})"
            )
        return value, None, 0
    if kind == "flag":
        return (value, None, 0) if isinstance(value, bool) else bad(wrong)
    if not isinstance(value, str):
        return bad(wrong + " (quote it)")
    if not value.strip():
        return bad(f"{key}: must not be empty")
    if kind == "choice" and value not in leaf.choices:
        return bad(
            f"{key}: {value!r} is not one of {', '.join(leaf.choices)}{suggest(value, leaf.choices)}"
        )
    return value, None, 0


def _read_leaf(
    key: str, leaf: Leaf, node: Any, out: _Collector, entries: dict[str, Entry]
) -> None:
    """``key: {value: ..., source: "..."}`` -> one entry."""
    import yaml

    if not isinstance(node, yaml.MappingNode):
        if isinstance(node, yaml.ScalarNode):
            out.add(
                node,
                f'{key}: {node.value} has no source; write {{value: {node.value}, source: "..."}}',
                "profile-no-source",
            )
        else:
            out.add(
                node,
                f'{key} must be a mapping {{value: ..., source: "..."}}, not {_node_kind(node)}',
                "profile-type",
            )
        return
    items = _mapping_items(node, key, out)
    if items is None:
        return
    found = {k: (kn, vn) for k, kn, vn in items}
    for k, key_node, _ in items:
        if k not in ("value", "source", "note"):
            out.unknown_key(key_node, k, ("value", "source", "note"), key)
    if "value" not in found:
        out.add(node, f"{key}: missing 'value'", "profile-missing-key")
        return
    value_node = found["value"][1]
    source: str | None = None
    if "source" not in found:
        out.add(
            node,
            f'{key}: the value has no source; add source: "..." (a URL, commit or document)',
            "profile-no-source",
        )
    else:
        source = _plain_text(found["source"][1], f"{key}.source", out)
    if "note" in found:
        _plain_text(found["note"][1], f"{key}.note", out)
    if not isinstance(value_node, yaml.ScalarNode):
        out.add(
            value_node,
            f"{key}: expected {expected(leaf)}, not {_node_kind(value_node)}",
            "profile-type",
        )
        return
    value, problem, offset = _convert(leaf, _scalar(value_node), key)
    if problem is not None:
        line, column = _where(value_node)
        start = _text_column(value_node)
        if start is not None:
            column = start + offset
        out.items.append(
            ProfileError(
                problem.message, file=out.file, line=line, column=column, code=problem.code
            )
        )
        return
    if source is None:
        return
    line, column = _where(value_node)
    entries[key] = Entry(value, source, out.file, line, column, _text_column(value_node))


def _read_history(node: Any, out: _Collector, entries: dict[str, Entry]) -> None:
    import yaml

    if not isinstance(node, yaml.SequenceNode):
        out.add(node, f"history must be a list, not {_node_kind(node)}", "profile-type")
        return
    result: list[tuple[HistoryEntry, Entry]] = []
    ok = True
    for item in node.value:
        items = _mapping_items(item, "each history entry", out)
        if items is None:
            ok = False
            continue
        got: dict[str, str] = {}
        for k, key_node, value_node in items:
            if k not in ("value", "until", "source"):
                out.unknown_key(key_node, k, ("value", "until", "source"), "history")
                ok = False
                continue
            text = _plain_text(value_node, f"history {k}", out)
            if text is None:
                ok = False
            else:
                got[k] = text
        for k in ("value", "until", "source"):
            if k not in got and not any(k == name for name, _, _ in items):
                code = "profile-no-source" if k == "source" else "profile-missing-key"
                out.add(item, f"history entry: missing {k!r}", code)
                ok = False
        if ok and len(got) == 3:
            value_node = next(vn for k, _, vn in items if k == "value")
            line, column = _where(value_node)
            result.append(
                (
                    HistoryEntry(got["value"], got["until"], got["source"]),
                    Entry(
                        got["value"],
                        got["source"],
                        out.file,
                        line,
                        column,
                        _text_column(value_node),
                    ),
                )
            )
    if ok:
        line, column = _where(node)
        entries["history"] = Entry(tuple(result), None, out.file, line, column)


def _read_match(node: Any, out: _Collector, entries: dict[str, Entry]) -> None:
    items = _mapping_items(node, "match", out)
    for k, key_node, value_node in items or ():
        if k not in MATCH_KEYS:
            out.unknown_key(key_node, k, MATCH_KEYS, "match")
            continue
        value: Any = (
            _text_list(value_node, f"match.{k}", out)
            if k in ("ids", "id_like")
            else _plain_text(value_node, f"match.{k}", out)
        )
        if value is not None:
            line, column = _where(value_node)
            entries[f"match.{k}"] = Entry(value, None, out.file, line, column)


def read_file(
    text: str, *, key: str, file: str, path: Path | None, builtin: bool, stem: str
) -> Raw:
    """Check one profile file key by key (all problems collected) into a :class:`Raw`."""
    import yaml

    out = _Collector(file)
    entries: dict[str, Entry] = {}
    extends: list[tuple[str, Entry]] = []
    raw = Raw(key, stem, file, path, builtin, entries, extends, out.items)
    try:
        root = _compose(text, file)
    except ProfileError as e:
        out.items.append(e)
        return raw
    if root is None:
        out.items.append(ProfileError("the profile is empty", file=file, code="profile-empty"))
        return raw
    items = _mapping_items(root, "a profile", out)
    for k, key_node, value_node in items or ():
        line, column = _where(value_node)
        if k in TOP_LEAVES:
            _read_leaf(k, TOP_LEAVES[k], value_node, out, entries)
        elif k in SECTIONS:
            leaves = SECTIONS[k]
            for sk, skey_node, svalue_node in _mapping_items(value_node, k, out) or ():
                if sk not in leaves:
                    out.unknown_key(skey_node, sk, leaves, k)
                else:
                    _read_leaf(f"{k}.{sk}", leaves[sk], svalue_node, out, entries)
        elif k == "match":
            _read_match(value_node, out, entries)
        elif k == "history":
            _read_history(value_node, out, entries)
        elif k == "extends":
            ref_nodes = (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            )
            if not ref_nodes:
                out.add(value_node, "extends must name at least one profile", "profile-type")
            for ref_node in ref_nodes:
                ref = _plain_text(ref_node, "extends", out)
                if ref is not None:
                    extends.append((ref, Entry(ref, None, file, *_where(ref_node))))
        elif k in ("name", "family"):
            value = _plain_text(value_node, k, out, ident=True)
            if value is not None:
                entries[k] = Entry(value, None, file, line, column)
        elif k == "description":
            value = _plain_text(value_node, k, out)
            if value is not None:
                entries[k] = Entry(value, None, file, line, column)
        elif k == "arch":
            value = _plain_text(value_node, k, out)
            if value is None:
                continue
            if value in ARCHES:
                entries[k] = Entry(value, None, file, line, column)
            elif canonical_arch(value) is not None:
                out.add(
                    value_node,
                    f"arch {value!r}: write {canonical_arch(value)!r}, crashplan's (the kernel's) name for it",
                    "profile-arch",
                )
            else:
                out.add(
                    value_node,
                    f"unknown arch {value!r} (known: {', '.join(ARCHES)}){suggest(value, ARCHES)}",
                    "profile-arch",
                )
        else:
            out.unknown_key(key_node, k, TOP_KEYS)
    if "name" in entries:
        raw.label = entries["name"].value
        if builtin and entries["name"].value != stem:
            named = entries["name"]
            out.items.append(
                ProfileError(
                    f"name {named.value!r} must match the file name {stem!r}",
                    file=file,
                    line=named.line,
                    column=named.column,
                    code="profile-name",
                )
            )
    elif builtin:
        out.items.append(
            ProfileError(
                "missing key 'name'", file=file, line=1, column=1, code="profile-missing-key"
            )
        )
    return raw





def read_bounded(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(MAX_PROFILE_BYTES + 1)
    except OSError as e:
        raise ProfileError(
            f"cannot read the profile: {e.strerror or e}", file=str(path), code="profile-unreadable"
        ) from e
