"""``extends:``: parents ordered by C3 linearisation, merged key by key, and the result checked.

A profile may extend one or more others; parents are ordered as Python orders base classes, so
a family file wins over a generic arch file and both win over ``base``.  Sections merge key by
key, every other value is replaced whole.  A concrete profile (one with an arch) must end up
with every key of :data:`crashplan.profiles.schema.REQUIRED`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from crashplan.errors import ParseError, ProfileError
from crashplan.kernel.features import features_for
from crashplan.kernel.grammar import parse_crashkernel
from crashplan.profiles.load import Entry, Raw, decode, read_bounded, read_file
from crashplan.profiles.model import Match, Profile, ProfileProblems, SourcedValue
from crashplan.profiles.schema import REQUIRED, leaf_of
from crashplan.profiles.store import (
    builtin_names,
    is_path,
    read_builtin,
    suggest_profile,
    unknown_profile,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Session", "builtin_from_yaml", "merged_keys", "resolve"]

_RAW_BUILTINS: dict[str, Raw] = {}


class Session:
    """One load: files read once each (diamonds); ``touched`` lists the files one resolve used."""

    def __init__(self) -> None:
        self.raws: dict[str, Raw] = {}
        self.touched: list[Raw] = []
        self.names = builtin_names()

    def builtin(self, name: str) -> Raw | None:
        if name not in self.names:
            return None
        # Built-in files do not change while crashplan runs: parse each once per process.
        raw = _RAW_BUILTINS.get(name)
        if raw is None:
            file = f"{name}.yaml (built-in)"
            try:
                text = decode(read_builtin(f"{name}.yaml"), file)
            except ProfileError as e:
                raw = Raw(f"builtin:{name}", name, file, None, True, {}, [], [e])
            else:
                raw = read_file(
                    text, key=f"builtin:{name}", file=file, path=None, builtin=True, stem=name
                )
            _RAW_BUILTINS[name] = raw
        self.touched.append(raw)
        return raw

    def user(self, path: Path) -> Raw:
        resolved = path.resolve()
        key = f"file:{resolved}"
        raw = self.raws.get(key)
        if raw is None:
            file = str(path)
            try:
                text = decode(read_bounded(path), file)
            except ProfileError as e:
                raw = Raw(key, path.stem, file, resolved, False, {}, [], [e])
            else:
                raw = read_file(
                    text, key=key, file=file, path=resolved, builtin=False, stem=path.stem
                )
            self.raws[key] = raw
        self.touched.append(raw)
        return raw

    def parent(self, ref: str, child: Raw) -> Raw | None:
        if is_path(ref):
            from pathlib import Path

            base = child.path.parent if child.path is not None else Path.cwd()
            target = base / ref
            if not target.is_file():
                return None
            return self.user(target)
        return self.builtin(ref)


def _linearize(
    raw: Raw, session: Session, stack: tuple[Raw, ...], problems: list[ProfileError]
) -> list[Raw] | None:
    """``raw`` followed by its ancestors, nearest first (C3, like Python's MRO)."""
    chains: list[list[Raw]] = []
    direct: list[Raw] = []
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


def _extends_error(raw: Raw, where: Entry, message: str, code: str) -> ProfileError:
    """A problem of ``raw``'s ``extends:`` entry at ``where`` (its line and column)."""
    return ProfileError(message, file=raw.file, line=where.line, column=where.column, code=code)


def _c3_merge(seqs: list[list[Raw]]) -> list[Raw] | None:
    seqs = [list(s) for s in seqs if s]
    result: list[Raw] = []
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


def resolve(raw: Raw, session: Session, *, check_concrete: bool = True) -> Profile:
    """Merge ``raw`` with its ancestors and check the result; raise every problem at once."""
    session.touched.clear()
    problems: list[ProfileError] = []
    lineage = _linearize(raw, session, (), problems)
    files = [raw, *(r for r in dict.fromkeys(session.touched) if r is not raw)]
    file_problems = [p for r in files for p in sorted(r.problems, key=_position)]
    if lineage is not None:
        entries: dict[str, Entry] = {}
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
    raw: Raw,
    lineage: list[Raw],
    entries: dict[str, Entry],
    problems: list[ProfileError],
    *,
    check_concrete: bool,
    complete: bool,
) -> None:
    def add(entry: Entry | None, message: str, code: str, column: int | None = None) -> None:
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
    for key in REQUIRED if complete else ():
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


def _check_crashkernel(key: str, entry: Entry, features: Any, add: Callable[..., None]) -> None:
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


def _build(raw: Raw, lineage: list[Raw], entries: dict[str, Entry]) -> Profile:
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
        history=history,
        page_size=plain("page_size"),
        nr_cpus=plain("kdump_cmdline.nr_cpus"),
        maxcpus=plain("kdump_cmdline.maxcpus"),
        cmdline_append=plain("kdump_cmdline.append"),
        cmdline_remove=plain("kdump_cmdline.remove"),
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


def merged_keys(raw: Raw, session: Session) -> set[str]:
    problems: list[ProfileError] = []
    lineage = _linearize(raw, session, (), problems) or [raw]
    return {k for r in lineage for k in r.entries}
