"""Reading profile YAML: the schema, one file into checked entries, ``extends:`` resolution.

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from crashplan.errors import ParseError, ProfileError
from crashplan.kernel.features import ARCHES, canonical_arch, features_for
from crashplan.kernel.grammar import parse_crashkernel
from crashplan.profiles.model import (
    MAX_PROFILE_BYTES,
    HistoryEntry,
    Match,
    Profile,
    ProfileProblems,
    SourcedValue,
)
from crashplan.profiles.store import (
    builtin_names,
    is_path,
    read_builtin,
    suggest,
    suggest_profile,
    unknown_profile,
)
from crashplan.units import format_human, parse_size

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ESTIMATOR_LEAVES", "UNITS", "Session", "builtin_from_yaml", "leaf_of", "merged_keys", "resolve"]

_MAX_DEPTH = 32
# Plain YAML only: the scalar, sequence and mapping tags the safe loader resolves by itself.
_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")
)
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.+-]*\Z")

# --------------------------------------------------------------------------------------------
# Schema


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A sourced value: ``{value: ..., source: "..."}``."""

    kind: str  # size | count | factor | percent | text | crashkernel | flag | choice
    doc: str
    arches: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    maximum: int | None = None


_KIND_WORDS = {
    "size": "a size such as 256M",
    "count": "a whole number",
    "factor": "a number",
    "percent": "a percentage (0-100]",
    "text": "text",
    "crashkernel": "a crashkernel= value such as 2G-64G:256M,64G-:512M",
    "flag": "true or false",
}

_TOP_LEAVES: dict[str, _Leaf] = {
    "page_size": _Leaf(
        "size", "base page size of the kernel flavour (64K kernels)", arches=("arm64",)
    ),
    "default_crashkernel": _Leaf("crashkernel", "the distribution's default crashkernel= value"),
    "fadump_crashkernel": _Leaf(
        "crashkernel", "the default for firmware-assisted dump", arches=("ppc64le",)
    ),
    "initramfs_tmpfs_percent": _Leaf(
        "percent", "tmpfs size limit the kdump initramfs unpacks into"
    ),
    "dump_level": _Leaf("count", "makedumpfile -d dump level", maximum=31),
    "core_collector": _Leaf("text", "the dump command of the kdump initramfs"),
}

_CMDLINE_LEAVES: dict[str, _Leaf] = {
    "nr_cpus": _Leaf("count", "nr_cpus= given to the kdump kernel"),
    "maxcpus": _Leaf("count", "maxcpus= given to the kdump kernel"),
    "append": _Leaf("text", "parameters appended to the kdump kernel command line"),
    "remove": _Leaf("text", "parameters removed from the first kernel's command line"),
}

ESTIMATOR_LEAVES: dict[str, _Leaf] = {
    "runtime_reservation": _Leaf(
        "size", "user space and kernel runtime allowance (kdumpctl estimate)"
    ),
    "initrd_unpack_factor": _Leaf("factor", "compressed initramfs size multiplier"),
    "kernel_runtime_base": _Leaf("size", "kernel and user space at run time with nr_cpus=1"),
    "kexec_segments": _Leaf("size", "kexec's own segments in the reservation (purgatory, boot parameters, ELF headers)"),
    "kernel_size_fallback": _Leaf("size", "in-memory kernel size assumed when no kernel file or iomem line tells"),
    "initrd_size_fallback": _Leaf("size", "kdump initrd size assumed when the initrd is not found"),
    "kdump_userspace": _Leaf("size", "the kdump environment's user space beyond busybox and makedumpfile (systemd, udev, journald)"),
    "kernel_base": _Leaf("size", "kdump kernel runtime memory, image excluded"),
    "kernel_init": _Leaf("size", "init memory the kdump kernel frees after boot"),
    "kernel_dynamic": _Leaf("size", "kernel dynamic allocations"),
    "per_cpu": _Leaf("size", "kernel memory per kdump CPU"),
    "per_cpu_dump": _Leaf("size", "dump tool memory per kdump CPU (threads, buffers)"),
    "user_base": _Leaf("size", "kdump initramfs user space (init, udev, makedumpfile ...)"),
    "user_net": _Leaf("size", "extra user space for a network dump target"),
    "makedumpfile_cyclic_buffer_max": _Leaf("size", "cap of makedumpfile's cyclic bitmap buffer"),
    "makedumpfile_free_fraction": _Leaf("factor", "share of MemFree makedumpfile may use"),
    "makedumpfile_thread_region": _Leaf(
        "size", "makedumpfile THREAD_REGION per --num-threads thread"
    ),
    "makedumpfile_per_thread": _Leaf("size", "measured makedumpfile RSS per thread"),
    "bitmap_bits_per_page": _Leaf("count", "dump bitmap bits per page of RAM"),
    "bitmap_max": _Leaf("size", "cap of the dump bitmap"),
    "struct_page_size": _Leaf("size", "sizeof(struct page)"),
    "luks_keyslots": _Leaf(
        "choice", "how LUKS2 Argon2 memory is counted", choices=("max-per-device", "sum")
    ),
    "luks_overhead": _Leaf("size", "cryptsetup overhead when a LUKS2 device is in the dump path"),
    "luks_key_persistence": _Leaf("flag", "the kdump kernel reuses the first kernel's LUKS keys"),
    "sme_sev_swiotlb": _Leaf("size", "SWIOTLB bounce buffer under AMD SME/SEV"),
    "arm64_64k": _Leaf("size", "extra for arm64 kernels with 64K pages", arches=("arm64",)),
    "arm64_smmu": _Leaf("size", "extra for an arm64 SMMU with 64K pages", arches=("arm64",)),
    "mlx5": _Leaf("size", "extra when the mlx5_core driver is bound"),
    "per_cpu_default_delta": _Leaf(
        "size", "default string delta per kdump CPU (kdumpctl, ppc64le)"
    ),
    "margin_percent": _Leaf("percent", "margin added on top of the estimate, in percent"),
    "margin_fixed": _Leaf("size", "fixed margin added on top of the estimate"),
    "crashplan_margin_percent": _Leaf(
        "percent", "crashplan's own margin on its estimate, in percent"
    ),
    "crashplan_margin_fixed": _Leaf("size", "crashplan's own fixed margin on its estimate"),
    "cma_runtime_factor": _Leaf("factor", "the ,cma area as a multiple of the runtime part"),
    "cma_runtime_extra": _Leaf("size", "the least the ,cma area exceeds the runtime part by"),
    "dirty_pagecache_factor": _Leaf("factor", "dirty page cache and in-flight I/O multiplier"),
    "fallback_reserve": _Leaf(
        "size", "reservation the distribution falls back to when its estimate fails"
    ),
    "x86_min_low": _Leaf(
        "size", "low (below 4G) part kept when the reservation goes high", arches=("x86_64",)
    ),
}

_SECTIONS: dict[str, dict[str, _Leaf]] = {
    "kdump_cmdline": _CMDLINE_LEAVES,
    "estimator": ESTIMATOR_LEAVES,
}
_MATCH_KEYS = ("ids", "id_like", "version_min", "version_below", "kernel_release_contains")
_PLAIN_KEYS = ("name", "extends", "description", "family", "arch", "match", "history")
_TOP_KEYS = (*_PLAIN_KEYS, *_TOP_LEAVES, *_SECTIONS)

# What a concrete profile (one with an arch) must end up with after merging.
_REQUIRED = (
    "description",
    "family",
    "initramfs_tmpfs_percent",
    "dump_level",
    *(
        f"estimator.{k}"
        for k in (
            "runtime_reservation",
            "initrd_unpack_factor",
            "kernel_runtime_base",
            "kernel_base",
            "kernel_init",
            "per_cpu",
            "per_cpu_dump",
            "user_base",
            "makedumpfile_cyclic_buffer_max",
            "makedumpfile_per_thread",
            "bitmap_bits_per_page",
            "bitmap_max",
            "luks_keyslots",
            "luks_overhead",
            "sme_sev_swiotlb",
            "margin_percent",
            "margin_fixed",
            "crashplan_margin_percent",
            "crashplan_margin_fixed",
        )
    ),
)

UNITS = {
    "size": "bytes",
    "count": "count",
    "factor": "factor",
    "percent": "percent",
    "text": "text",
    "crashkernel": "crashkernel",
    "flag": "flag",
    "choice": "text",
}


def _expected(leaf: _Leaf) -> str:
    if leaf.kind == "choice":
        return "one of " + ", ".join(leaf.choices)
    return _KIND_WORDS[leaf.kind]


def leaf_of(key: str) -> _Leaf | None:
    if "." in key:
        section, _, name = key.partition(".")
        return _SECTIONS.get(section, {}).get(name)
    return _TOP_LEAVES.get(key)


# --------------------------------------------------------------------------------------------
# Reading one file into entries


@dataclass(frozen=True, slots=True)
class _Entry:
    value: Any
    source: str | None
    file: str
    line: int | None
    column: int | None
    # Column of the first character of a one-line scalar's text, for errors inside the value.
    text_column: int | None = None


@dataclass(eq=False)
class _Raw:
    """One profile file after key-by-key checking, before ``extends:`` merging."""

    key: str
    label: str
    file: str
    path: Path | None
    builtin: bool
    entries: dict[str, _Entry]
    extends: list[tuple[str, _Entry]]
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


def _decode(data: bytes, file: str) -> str:
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


def _convert(leaf: _Leaf, value: Any, key: str) -> tuple[Any, ProfileError | None, int]:
    """Check and convert one value: ``(value, problem, offset of the fault in the text)``.

    The problem is a ProfileError without a position; the caller adds it.
    """

    def bad(
        message: str, code: str = "profile-type", offset: int = 0
    ) -> tuple[None, ProfileError, int]:
        return None, ProfileError(message, file="", code=code), offset

    kind = leaf.kind
    wrong = f"{key}: expected {_expected(leaf)}, not {_describe(value)}"
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
    key: str, leaf: _Leaf, node: Any, out: _Collector, entries: dict[str, _Entry]
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
            f"{key}: expected {_expected(leaf)}, not {_node_kind(value_node)}",
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
    entries[key] = _Entry(value, source, out.file, line, column, _text_column(value_node))


def _read_history(node: Any, out: _Collector, entries: dict[str, _Entry]) -> None:
    import yaml

    if not isinstance(node, yaml.SequenceNode):
        out.add(node, f"history must be a list, not {_node_kind(node)}", "profile-type")
        return
    result: list[tuple[HistoryEntry, _Entry]] = []
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
                    _Entry(
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
        entries["history"] = _Entry(tuple(result), None, out.file, line, column)


def _read_match(node: Any, out: _Collector, entries: dict[str, _Entry]) -> None:
    items = _mapping_items(node, "match", out)
    for k, key_node, value_node in items or ():
        if k not in _MATCH_KEYS:
            out.unknown_key(key_node, k, _MATCH_KEYS, "match")
            continue
        value: Any = (
            _text_list(value_node, f"match.{k}", out)
            if k in ("ids", "id_like")
            else _plain_text(value_node, f"match.{k}", out)
        )
        if value is not None:
            line, column = _where(value_node)
            entries[f"match.{k}"] = _Entry(value, None, out.file, line, column)


def _read_file(
    text: str, *, key: str, file: str, path: Path | None, builtin: bool, stem: str
) -> _Raw:
    """Check one profile file key by key (all problems collected) into a :class:`_Raw`."""
    import yaml

    out = _Collector(file)
    entries: dict[str, _Entry] = {}
    extends: list[tuple[str, _Entry]] = []
    raw = _Raw(key, stem, file, path, builtin, entries, extends, out.items)
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
        if k in _TOP_LEAVES:
            _read_leaf(k, _TOP_LEAVES[k], value_node, out, entries)
        elif k in _SECTIONS:
            leaves = _SECTIONS[k]
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
                    extends.append((ref, _Entry(ref, None, file, *_where(ref_node))))
        elif k in ("name", "family"):
            value = _plain_text(value_node, k, out, ident=True)
            if value is not None:
                entries[k] = _Entry(value, None, file, line, column)
        elif k == "description":
            value = _plain_text(value_node, k, out)
            if value is not None:
                entries[k] = _Entry(value, None, file, line, column)
        elif k == "arch":
            value = _plain_text(value_node, k, out)
            if value is None:
                continue
            if value in ARCHES:
                entries[k] = _Entry(value, None, file, line, column)
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
            out.unknown_key(key_node, k, _TOP_KEYS)
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


_RAW_BUILTINS: dict[str, _Raw] = {}


class Session:
    """One load: files read once each (diamonds); ``touched`` lists the files one resolve used."""

    def __init__(self) -> None:
        self.raws: dict[str, _Raw] = {}
        self.touched: list[_Raw] = []
        self.names = builtin_names()

    def builtin(self, name: str) -> _Raw | None:
        if name not in self.names:
            return None
        # Built-in files do not change while crashplan runs: parse each once per process.
        raw = _RAW_BUILTINS.get(name)
        if raw is None:
            file = f"{name}.yaml (built-in)"
            try:
                text = _decode(read_builtin(f"{name}.yaml"), file)
            except ProfileError as e:
                raw = _Raw(f"builtin:{name}", name, file, None, True, {}, [], [e])
            else:
                raw = _read_file(
                    text, key=f"builtin:{name}", file=file, path=None, builtin=True, stem=name
                )
            _RAW_BUILTINS[name] = raw
        self.touched.append(raw)
        return raw

    def user(self, path: Path) -> _Raw:
        resolved = path.resolve()
        key = f"file:{resolved}"
        raw = self.raws.get(key)
        if raw is None:
            file = str(path)
            try:
                text = _decode(_read_bounded(path), file)
            except ProfileError as e:
                raw = _Raw(key, path.stem, file, resolved, False, {}, [], [e])
            else:
                raw = _read_file(
                    text, key=key, file=file, path=resolved, builtin=False, stem=path.stem
                )
            self.raws[key] = raw
        self.touched.append(raw)
        return raw

    def parent(self, ref: str, child: _Raw) -> _Raw | None:
        if is_path(ref):
            from pathlib import Path

            base = child.path.parent if child.path is not None else Path.cwd()
            target = base / ref
            if not target.is_file():
                return None
            return self.user(target)
        return self.builtin(ref)


def _read_bounded(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(MAX_PROFILE_BYTES + 1)
    except OSError as e:
        raise ProfileError(
            f"cannot read the profile: {e.strerror or e}", file=str(path), code="profile-unreadable"
        ) from e


# --------------------------------------------------------------------------------------------
# extends: C3 linearisation and merging


def _linearize(
    raw: _Raw, session: Session, stack: tuple[_Raw, ...], problems: list[ProfileError]
) -> list[_Raw] | None:
    """``raw`` followed by its ancestors, nearest first (C3, like Python's MRO)."""
    chains: list[list[_Raw]] = []
    direct: list[_Raw] = []
    for ref, where in raw.extends:
        parent = session.parent(ref, raw)
        if parent is None:
            hint = "" if is_path(ref) else suggest_profile(ref, session.names)
            what = "file" if is_path(ref) else "profile"
            problems.append(_extends_error(raw, where, f"extends: unknown {what} {ref!r}{hint}", "profile-extends-unknown"))
            return None
        if any(parent.key == s.key for s in (*stack, raw)):
            path = (*stack, raw)
            start = [s.key for s in path].index(parent.key)
            cycle = [*(s.label for s in path[start:]), parent.label]
            problems.append(_extends_error(raw, where, f"extends cycle: {' -> '.join(cycle)}", "profile-extends-cycle"))
            return None
        chain = _linearize(parent, session, (*stack, raw), problems)
        if chain is None:
            return None
        chains.append(chain)
        direct.append(parent)
    merged = _c3_merge([*chains, direct])
    if merged is None:
        problems.append(
            _extends_error(
                raw,
                raw.extends[0][1],
                "extends: the parents cannot be ordered consistently (C3); list the more specific parent first",
                "profile-extends-order",
            )
        )
        return None
    return [raw, *merged]


def _extends_error(raw: _Raw, where: _Entry, message: str, code: str) -> ProfileError:
    """A problem of ``raw``'s ``extends:`` entry at ``where`` (its line and column)."""
    return ProfileError(message, file=raw.file, line=where.line, column=where.column, code=code)


def _c3_merge(seqs: list[list[_Raw]]) -> list[_Raw] | None:
    seqs = [list(s) for s in seqs if s]
    result: list[_Raw] = []
    while seqs:
        for seq in seqs:
            head = seq[0]
            if not any(head.key in (r.key for r in other[1:]) for other in seqs):
                break
        else:
            return None
        result.append(head)
        seqs = [s[1:] if s[0].key == head.key else s for s in seqs]
        seqs = [s for s in seqs if s]
    return result


def resolve(raw: _Raw, session: Session, *, check_concrete: bool = True) -> Profile:
    """Merge ``raw`` with its ancestors and check the result; raise every problem at once."""
    session.touched.clear()
    problems: list[ProfileError] = []
    lineage = _linearize(raw, session, (), problems)
    files = [raw, *(r for r in dict.fromkeys(session.touched) if r is not raw)]
    file_problems = [p for r in files for p in sorted(r.problems, key=_position)]
    if lineage is not None:
        entries: dict[str, _Entry] = {}
        for r in reversed(lineage):
            entries.update(r.entries)
        # A value that failed its own check is missing here; don't report it twice.
        _check_resolved(
            raw,
            lineage,
            entries,
            problems,
            check_concrete=check_concrete,
            complete=not file_problems,
        )
    if file_problems or problems:
        every = file_problems + problems
        order = {f: i for i, f in reversed(list(enumerate(p.file for p in every)))}
        raise ProfileProblems(sorted(every, key=lambda p: (order[p.file], *_position(p))))
    assert lineage is not None
    return _build(raw, lineage, entries)


def _position(p: ProfileError) -> tuple[int, int]:
    return (p.line or 0, p.column or 0)


def _check_resolved(
    raw: _Raw,
    lineage: list[_Raw],
    entries: dict[str, _Entry],
    problems: list[ProfileError],
    *,
    check_concrete: bool,
    complete: bool,
) -> None:
    def add(entry: _Entry | None, message: str, code: str, column: int | None = None) -> None:
        if entry is None:
            problems.append(ProfileError(message, file=raw.file, code=code))
        else:
            problems.append(
                ProfileError(
                    message,
                    file=entry.file,
                    line=entry.line,
                    column=column or entry.column,
                    code=code,
                )
            )

    arch_entry = entries.get("arch")
    if arch_entry is None:
        if check_concrete and complete:
            concrete = [n for n in builtin_names() if n.startswith(f"{raw.label}-")]
            hint = (
                f"; use one of {', '.join(concrete)}"
                if concrete
                else "; add arch: or extends a profile that has one"
            )
            add(
                None,
                f"profile {raw.label!r} has no arch (a family file, meant for extends:){hint}",
                "profile-abstract",
            )
        return
    arch = arch_entry.value
    for ancestor in lineage[1:]:
        theirs = ancestor.entries.get("arch")
        if theirs is not None and theirs.value != arch:
            add(
                arch_entry,
                f"arch {arch!r} does not fit {ancestor.label!r}, which is for {theirs.value!r}",
                "profile-arch",
            )
            break
    for key in _REQUIRED if complete else ():
        if key not in entries:
            add(
                None,
                f"missing {key} (write it here or extends a profile that has it, such as base-{arch})",
                "profile-missing-key",
            )
    features = features_for(arch)
    for key, entry in sorted(entries.items()):
        leaf = leaf_of(key)
        if leaf is not None and leaf.arches and arch not in leaf.arches:
            add(
                entry,
                f"{key} applies to {', '.join(leaf.arches)} only, not to {arch}",
                "profile-arch",
            )
        if leaf is not None and leaf.kind == "crashkernel":
            _check_crashkernel(key, entry, features, add)
    for _, entry in entries["history"].value if "history" in entries else ():
        _check_crashkernel("history value", entry, features, add)


def _check_crashkernel(key: str, entry: _Entry, features: Any, add: Callable[..., None]) -> None:
    text = entry.value
    try:
        parse_crashkernel(text, features)
    except ParseError as e:
        column = None
        if entry.text_column is not None:
            shift = (
                0
                if "crashkernel=" in text
                else (len("crashkernel=") if " " not in text.strip() else None)
            )
            if shift is not None:
                column = entry.text_column + max(0, e.span[0] - shift)
        add(entry, f"{key}: {e.message} (for {features.arch})", "profile-crashkernel", column)


def _build(raw: _Raw, lineage: list[_Raw], entries: dict[str, _Entry]) -> Profile:
    def plain(key: str) -> Any:
        entry = entries.get(key)
        return None if entry is None else entry.value

    sources = {
        key: SourcedValue(e.value, e.source, e.file, e.line, e.column)
        for key, e in sorted(entries.items())
        if e.source is not None and key != "history"
    }
    estimator = {
        k.removeprefix("estimator."): v.value
        for k, v in sources.items()
        if k.startswith("estimator.")
    }
    history = tuple(h for h, _ in plain("history") or ())
    return Profile(
        name=raw.label,
        description=plain("description"),
        family=plain("family"),
        arch=plain("arch"),
        match=Match(
            ids=plain("match.ids") or (),
            id_like=plain("match.id_like") or (),
            version_min=plain("match.version_min"),
            version_below=plain("match.version_below"),
            kernel_release_contains=plain("match.kernel_release_contains"),
        ),
        default_crashkernel=plain("default_crashkernel"),
        fadump_crashkernel=plain("fadump_crashkernel"),
        history=history,
        page_size=plain("page_size"),
        nr_cpus=plain("kdump_cmdline.nr_cpus"),
        maxcpus=plain("kdump_cmdline.maxcpus"),
        cmdline_append=plain("kdump_cmdline.append"),
        cmdline_remove=plain("kdump_cmdline.remove"),
        initramfs_tmpfs_percent=plain("initramfs_tmpfs_percent"),
        dump_level=plain("dump_level"),
        core_collector=plain("core_collector"),
        estimator=MappingProxyType(estimator),
        sources=MappingProxyType(sources),
        lineage=tuple(r.label for r in lineage),
        file=raw.file,
        builtin=raw.builtin,
    )



def builtin_from_yaml(name: str) -> Profile:
    session = Session()
    raw = session.builtin(name)
    if raw is None:
        raise ProfileProblems([unknown_profile(name, session.names)])
    return resolve(raw, session)


def merged_keys(raw: _Raw, session: Session) -> set[str]:
    problems: list[ProfileError] = []
    lineage = _linearize(raw, session, (), problems) or [raw]
    return {k for r in lineage for k in r.entries}


