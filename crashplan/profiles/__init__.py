"""Profiles: what a distribution's kdump tooling does, as checked YAML data.

A profile holds one distribution family's default ``crashkernel=`` string for one architecture,
its kdump command-line conventions (``nr_cpus=``, what it appends and removes, the initramfs
tmpfs limit), its dump collector, and the constants a footprint model needs.  Every value
carries a ``source:`` so reviewers can check it; the authority for the built-in values is
shared/reference/distro-tools.md (which cites the kdump-utils, openSUSE kdump, kdump-tools and
makedumpfile repositories at named commits).  The schema is documented in ``profiles/README.md``.

Built-in profiles are package data (``crashplan/profiles/data/*.yaml`` in the wheel, the repo-root
``profiles/`` in a development checkout).  A profile may ``extends:`` one or more others;
parents are ordered by C3 linearisation (as Python orders base classes), so a family file wins
over a generic arch file and both win over ``base``.  Sections (``match``, ``kdump_cmdline``,
``estimator``) merge key by key; every other value is replaced whole.

Built-in profiles are read from ``compiled.json``, every profile resolved and checked when it
was compiled (``python -m crashplan.profiles compile``); its CRC of the YAML files must match.
Reading YAML (a user's file, compiling, a stale index) is :mod:`crashplan.profiles.load`, the
only module that opens YAML; it is imported when needed, and ``yaml`` inside it only to parse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import field
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pathlib and importlib.resources cost 13 ms at start-up: imported where used
    from importlib.resources.abc import Traversable

from crashplan._frozen import frozen
from crashplan.errors import ProfileError
from crashplan.kernel.features import ARCHES
from crashplan.units import format_human, format_size

__all__ = [
    "MAX_PROFILE_BYTES",
    "HistoryEntry",
    "Match",
    "Profile",
    "ProfileInfo",
    "ProfileProblems",
    "SourcedValue",
    "builtin_profile_dir",
    "detect_profile",
    "list_profiles",
    "load_profile",
    "profile_to_json",
    "render_profile_text",
]

MAX_PROFILE_BYTES = 1 << 20
"""Profiles are small; a larger file is refused before YAML sees it."""

_MAX_DEPTH = 32
# Plain YAML only: the scalar, sequence and mapping tags the safe loader resolves by itself.
_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}"
    for t in ("str", "int", "float", "bool", "null", "timestamp", "seq", "map")
)
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.+-]*\Z")
_ARCH_ALIASES = {
    "aarch64": "arm64",
    "amd64": "x86_64",
    "ppc64el": "ppc64le",
    "loongarch": "loongarch64",
}

Value = int | float | str | bool


# --------------------------------------------------------------------------------------------
# Results


@frozen
class SourcedValue:
    """One value of a profile and the ``source:`` that justifies it.

    Sizes are ``int`` bytes; ``file``/``line``/``column`` say where the value was written
    (the profile file that won the ``extends:`` merge) and take no part in equality.
    """

    value: Value
    source: str
    file: str = field(default="", compare=False, repr=False)
    line: int | None = field(default=None, compare=False, repr=False)
    column: int | None = field(default=None, compare=False, repr=False)


@frozen
class Match:
    """How :func:`detect_profile` recognises a host from ``/etc/os-release``.

    ``ids`` are values of ``ID``; ``id_like`` are values looked for in ``ID_LIKE``.
    ``version_min`` (inclusive) and ``version_below`` (exclusive) bound ``VERSION_ID``;
    ``kernel_release_contains`` must occur in the kernel release (``uname -r``).
    """

    ids: tuple[str, ...] = ()
    id_like: tuple[str, ...] = ()
    version_min: str | None = None
    version_below: str | None = None
    kernel_release_contains: str | None = None


@frozen
class HistoryEntry:
    """An older default ``crashkernel=`` string and the change that replaced it."""

    crashkernel: str
    until: str
    source: str


@frozen
class Profile:
    """A resolved profile: every ``extends:`` merged, every value checked.

    Plain values are in the fields (sizes in bytes); :attr:`sources` maps the dotted key of
    each sourced value (``"default_crashkernel"``, ``"kdump_cmdline.nr_cpus"``,
    ``"estimator.kernel_base"``) to its :class:`SourcedValue`.  ``lineage`` is the profile
    followed by its ancestors in merge order (first wins).
    """

    name: str
    description: str
    family: str
    arch: str
    match: Match
    default_crashkernel: str | None
    fadump_crashkernel: str | None
    history: tuple[HistoryEntry, ...]
    page_size: int | None
    nr_cpus: int | None
    maxcpus: int | None
    cmdline_append: str | None
    cmdline_remove: str | None
    initramfs_tmpfs_percent: int | float
    dump_level: int
    core_collector: str | None
    estimator: Mapping[str, Value] = field(hash=False)
    sources: Mapping[str, SourcedValue] = field(compare=False, hash=False, repr=False)
    lineage: tuple[str, ...]
    file: str = field(compare=False)
    builtin: bool = field(compare=False)

    @property
    def source_texts(self) -> Mapping[str, str]:
        """The ``source:`` text of every sourced value by dotted key (what renderers cite)."""
        return MappingProxyType({k: v.source for k, v in self.sources.items()})

    def source_of(self, key: str) -> str:
        """The ``source:`` text of the dotted ``key`` (``KeyError`` when the profile lacks it)."""
        return self.sources[key].source


@frozen
class ProfileInfo:
    """One line of :func:`list_profiles`."""

    name: str
    description: str
    family: str
    arch: str | None
    default_crashkernel: str | None
    abstract: bool


class ProfileProblems(ProfileError):
    """Every problem found while loading one profile (and its parents), raised together.

    ``problems`` holds one :class:`ProfileError` per problem, in file order; ``file``,
    ``line`` and ``column`` are those of the first.  ``str()`` gives one line per problem::

        mine.yaml:4:3: unknown key 'kernel_bse' in estimator (did you mean 'kernel_base'?)
    """

    def __init__(self, problems: Iterable[ProfileError]) -> None:
        items = tuple(problems)
        if not items:
            raise ValueError("ProfileProblems needs at least one problem")
        first = items[0]
        message = (
            first.message
            if len(items) == 1
            else f"{len(items)} problems, the first: {first.message}"
        )
        super().__init__(
            message, file=first.file, line=first.line, column=first.column, code=first.code
        )
        self.problems = items

    def one_line(self) -> str:
        return "\n".join(p.one_line() for p in self.problems)

    __str__ = one_line

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "problems": [
                {
                    "code": p.code,
                    "message": p.message,
                    "file": p.file,
                    "line": p.line,
                    "column": p.column,
                }
                for p in self.problems
            ],
        }


# --------------------------------------------------------------------------------------------
# Finding files


@cache
def _builtin_root() -> str | None:
    """The directory of the built-in profiles on disk: ``crashplan/profiles/data`` in the wheel,
    else the repo root's ``profiles/``; None when the package is not on a file system (a zip)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "data"), os.path.join(os.path.dirname(os.path.dirname(here)), "profiles")):
        if os.path.isdir(candidate):
            return candidate
    return None


def builtin_profile_dir() -> Traversable:
    """Where the built-in profiles are: ``crashplan/profiles/data`` in the wheel, else the repo root's ``profiles/``."""
    root = _builtin_root()
    if root is not None:
        from pathlib import Path

        return Path(root)
    from importlib import resources

    return resources.files("crashplan.profiles") / "data"


def _read_builtin(filename: str) -> bytes:
    """The bytes of a file among the built-in profiles (plain ``open()`` on a file system)."""
    root = _builtin_root()
    if root is None:
        return (builtin_profile_dir() / filename).read_bytes()
    with open(os.path.join(root, filename), "rb") as f:
        return f.read()


@cache
def _builtin_names() -> tuple[str, ...]:
    root = _builtin_root()
    if root is not None:
        names = os.listdir(root)
    else:
        folder = builtin_profile_dir()
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return tuple(sorted(n[: -len(".yaml")] for n in names if n.endswith(".yaml")))


def _is_path(ref: str) -> bool:
    return "/" in ref or os.sep in ref or ref.endswith((".yaml", ".yml"))


def _suggest(word: str, choices: Iterable[str]) -> str:
    import difflib  # only for an error message

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --------------------------------------------------------------------------------------------
# Public API


@cache
def _builtin(name: str) -> Profile:
    compiled = _compiled()
    if compiled is not None and name in compiled[0]:
        import json

        return _profile_from_plain(json.loads(compiled[0][name]))
    from crashplan.profiles.load import _builtin_from_yaml

    return _builtin_from_yaml(name)


# --------------------------------------------------------------------------------------------
# The compiled index: every built-in profile resolved, as JSON (no YAML parsing at run time)

COMPILED_NAME = "compiled.json"


def _yaml_digest() -> str:
    """A checksum of every built-in YAML file: the compiled index is used only when it matches.

    It guards against a stale index (an edited YAML file), not against an attacker: the
    package's own files are trusted.
    """
    import zlib  # a C module, unlike hashlib (3 ms at start-up)

    crc = 0
    for name in _builtin_names():
        data = _read_builtin(f"{name}.yaml")
        crc = zlib.crc32(name.encode() + b"\0" + data + b"\0", crc)
    return f"crc32:{crc:08x}"


def _profile_to_plain(p: Profile) -> dict[str, Any]:
    return {
        "name": p.name,
        "description": p.description,
        "family": p.family,
        "arch": p.arch,
        "match": [list(p.match.ids), list(p.match.id_like), p.match.version_min, p.match.version_below, p.match.kernel_release_contains],
        "default_crashkernel": p.default_crashkernel,
        "fadump_crashkernel": p.fadump_crashkernel,
        "history": [[h.crashkernel, h.until, h.source] for h in p.history],
        "page_size": p.page_size,
        "nr_cpus": p.nr_cpus,
        "maxcpus": p.maxcpus,
        "cmdline_append": p.cmdline_append,
        "cmdline_remove": p.cmdline_remove,
        "initramfs_tmpfs_percent": p.initramfs_tmpfs_percent,
        "dump_level": p.dump_level,
        "core_collector": p.core_collector,
        "estimator": dict(p.estimator),
        "sources": {k: [v.value, v.source, v.file, v.line, v.column] for k, v in p.sources.items()},
        "lineage": list(p.lineage),
        "file": p.file,
    }


def _profile_from_plain(d: dict[str, Any]) -> Profile:
    ids, id_like, vmin, vbelow, krc = d["match"]
    return Profile(
        name=d["name"],
        description=d["description"],
        family=d["family"],
        arch=d["arch"],
        match=Match(tuple(ids), tuple(id_like), vmin, vbelow, krc),
        default_crashkernel=d["default_crashkernel"],
        fadump_crashkernel=d["fadump_crashkernel"],
        history=tuple(HistoryEntry(*h) for h in d["history"]),
        page_size=d["page_size"],
        nr_cpus=d["nr_cpus"],
        maxcpus=d["maxcpus"],
        cmdline_append=d["cmdline_append"],
        cmdline_remove=d["cmdline_remove"],
        initramfs_tmpfs_percent=d["initramfs_tmpfs_percent"],
        dump_level=d["dump_level"],
        core_collector=d["core_collector"],
        estimator=MappingProxyType(dict(d["estimator"])),
        sources=MappingProxyType({k: SourcedValue(*v) for k, v in d["sources"].items()}),
        lineage=tuple(d["lineage"]),
        file=d["file"],
        builtin=True,
    )


def compile_builtins() -> str:
    """The compiled index of every built-in profile, as JSON text (``profiles/compiled.json``).

    Regenerate it with ``python -m crashplan.profiles compile > profiles/compiled.json``; a test
    checks that the committed file matches.
    """
    import json

    from crashplan.profiles.load import _builtin_from_yaml

    profiles = {}
    infos = []
    for info in list_profiles(include_abstract=True, _use_compiled=False):
        infos.append([info.name, info.description, info.family, info.arch, info.default_crashkernel, info.abstract])
        if not info.abstract:
            # Each profile as a JSON string inside the index: loading the index then only
            # scans these strings, and a profile is decoded when it is used (_builtin()).
            plain = _profile_to_plain(_builtin_from_yaml(info.name))
            profiles[info.name] = json.dumps(plain, sort_keys=True, separators=(",", ":"))
    return json.dumps({"yaml_checksum": _yaml_digest(), "infos": infos, "profiles": profiles}, indent=1, sort_keys=True) + "\n"


@cache
def _compiled() -> tuple[dict[str, str], tuple[ProfileInfo, ...]] | None:
    """The compiled index when it is present and matches the YAML files, else None.

    Each profile stays JSON text until it is asked for (:func:`_builtin` decodes and builds it
    once): a command uses one or two of the 34 profiles, and decoding them all would cost more
    than the rest of the start-up of ``crashplan recommend``.
    """
    import json

    try:
        data = json.loads(_read_builtin(COMPILED_NAME))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("yaml_checksum") != _yaml_digest():
        return None
    infos = tuple(ProfileInfo(*i) for i in data["infos"])
    return data["profiles"], infos


# Profile names use each distribution's arch words; users type either.
_ARCH_WORDS = (("x86_64", "amd64"), ("aarch64", "arm64"), ("ppc64le", "ppc64el"))


def _suggest_profile(name: str, names: Iterable[str]) -> str:
    """A did-you-mean for a profile name, trying the other spelling of its arch first.

    >>> _suggest_profile("ubuntu-x86_64", ["ubuntu-amd64", "ubuntu-arm64"])
    " (did you mean 'ubuntu-amd64'?)"
    """
    known = list(names)
    for a, b in _ARCH_WORDS:
        for old, new in ((a, b), (b, a)):
            if old in name and name.replace(old, new) in known:
                return f" (did you mean {name.replace(old, new)!r}?)"
    return _suggest(name, known)


def _unknown_profile(name: str, names: tuple[str, ...]) -> ProfileError:
    return ProfileError(
        f"unknown profile {name!r}{_suggest_profile(name, names)}; give a built-in profile name or a path to a .yaml file",
        file=name,
        code="profile-unknown",
    )


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """Load a built-in profile by name, or a user profile from a YAML file (which may ``extends:`` built-ins).

    Raises :class:`ProfileProblems` (a :class:`ProfileError`) listing every problem found.

    >>> load_profile("fedora-x86_64").default_crashkernel
    '2G-64G:256M,64G-:512M'
    """
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or _is_path(text):
        from pathlib import Path

        from crashplan.profiles.load import _resolve, _Session

        session = _Session()
        return _resolve(session.user(Path(text)), session)
    return _builtin(text)


def list_profiles(*, include_abstract: bool = False, _use_compiled: bool = True) -> tuple[ProfileInfo, ...]:
    """The built-in profiles, sorted by name; family files (no arch) only with ``include_abstract``."""
    compiled = _compiled() if _use_compiled else None
    if compiled is not None:
        return tuple(i for i in compiled[1] if include_abstract or not i.abstract)
    from crashplan.profiles.load import _builtin_from_yaml, _merged_keys, _resolve, _Session

    infos = []
    for name in _builtin_names():
        session = _Session()
        raw = session.builtin(name)
        assert raw is not None
        if "arch" not in _merged_keys(raw, session):
            if include_abstract:
                profile = _resolve(raw, session, check_concrete=False)
                infos.append(
                    ProfileInfo(name, profile.description, profile.family, None, None, True)
                )
            continue
        profile = _builtin_from_yaml(name)
        infos.append(
            ProfileInfo(
                name,
                profile.description,
                profile.family,
                profile.arch,
                profile.default_crashkernel,
                False,
            )
        )
    return tuple(infos)


def _version_key(version: str) -> tuple[int, ...]:
    """``"9.8"`` -> ``(9, 8)``; non-digits separate the parts.

    >>> _version_key("15-SP5"), _version_key("24.04")
    ((15, 5), (24, 4))
    """
    return tuple(int(p) for p in re.findall(r"\d+", version))


def detect_profile(
    os_release_id: str | None,
    id_like: tuple[str, ...],
    version_id: str | None,
    arch: str,
    *,
    kernel_release: str | None = None,
) -> Profile:
    """The built-in profile for a host, from its ``/etc/os-release`` ``ID``, ``ID_LIKE``, ``VERSION_ID``.

    A profile whose ``match.ids`` holds ``ID`` wins over one matched through ``ID_LIKE`` (whose
    values os-release(5) orders closest first).  ``kernel_release`` selects flavours such as
    the 64K-page arm64 kernels.  When nothing matches, the generic ``base-<arch>`` profile is
    returned; only an unknown ``arch`` raises (``ValueError``).

    >>> detect_profile("rocky", ("rhel", "centos", "fedora"), "9.4", "x86_64").name
    'rhel-x86_64'
    >>> detect_profile("gentoo", (), None, "aarch64").name
    'base-arm64'
    """
    name = _ARCH_ALIASES.get(arch, arch)
    if name not in ARCHES:
        raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ARCHES)})")
    best: tuple[tuple[int, ...], str] | None = None
    for info in list_profiles():
        if info.arch != name:
            continue
        profile = _builtin(info.name)
        score = _score(profile.match, os_release_id, id_like, version_id, kernel_release)
        if score is not None and (best is None or score > best[0]):
            best = (score, info.name)
    return _builtin(best[1] if best else f"base-{name}")


def _score(
    m: Match,
    os_id: str | None,
    id_like: tuple[str, ...],
    version_id: str | None,
    kernel_release: str | None,
) -> tuple[int, ...] | None:
    if os_id is not None and os_id in m.ids:
        how = (2, 0)
    else:
        ranks = [i for i, like in enumerate(id_like) if like in m.id_like]
        if not ranks:
            return None
        how = (1, -ranks[0])
    if m.kernel_release_contains is not None and (
        kernel_release is None or m.kernel_release_contains not in kernel_release
    ):
        return None
    if m.version_min is not None or m.version_below is not None:
        if version_id is None:
            return None
        v = _version_key(version_id)
        if m.version_min is not None and v < _version_key(m.version_min):
            return None
        if m.version_below is not None and v >= _version_key(m.version_below):
            return None
    specific = int(m.kernel_release_contains is not None) + int(
        m.version_min is not None or m.version_below is not None
    )
    return (*how, specific)


def profile_to_json(profile: Profile) -> dict[str, object]:
    """The profile as a JSON-ready object: sizes in bytes, every value with its source and unit."""

    def sourced(key: str) -> dict[str, object] | None:
        v = profile.sources.get(key)
        if v is None:
            return None
        from crashplan.profiles.load import _UNITS, _leaf_of

        leaf = _leaf_of(key)
        return {"value": v.value, "unit": _UNITS[leaf.kind] if leaf else "text", "source": v.source}

    def section(prefix: str) -> dict[str, object]:
        return {k.removeprefix(prefix): sourced(k) for k in profile.sources if k.startswith(prefix)}

    m = profile.match
    return {
        "name": profile.name,
        "description": profile.description,
        "family": profile.family,
        "arch": profile.arch,
        "builtin": profile.builtin,
        "lineage": list(profile.lineage),
        "match": {
            "ids": list(m.ids),
            "id_like": list(m.id_like),
            "version_min": m.version_min,
            "version_below": m.version_below,
            "kernel_release_contains": m.kernel_release_contains,
        },
        "default_crashkernel": sourced("default_crashkernel"),
        "fadump_crashkernel": sourced("fadump_crashkernel"),
        "history": [
            {"value": h.crashkernel, "until": h.until, "source": h.source} for h in profile.history
        ],
        "page_size": sourced("page_size"),
        "kdump_cmdline": section("kdump_cmdline."),
        "initramfs_tmpfs_percent": sourced("initramfs_tmpfs_percent"),
        "dump_level": sourced("dump_level"),
        "core_collector": sourced("core_collector"),
        "estimator": section("estimator."),
    }


def _shown(key: str, value: Value) -> str:
    from crashplan.profiles.load import _leaf_of

    leaf = _leaf_of(key)
    if leaf is not None and leaf.kind == "size" and isinstance(value, int):
        return f"{format_size(value)} ({format_human(value)})" if value else "0"
    if leaf is not None and leaf.kind == "percent":
        return f"{value}%"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_profile_text(profile: Profile) -> str:
    """The profile as plain text for people: every value followed by its source."""
    lines = [f"{profile.name}: {profile.description}"]
    lines.append(
        f"  family {profile.family}, arch {profile.arch}"
        + (" (built-in)" if profile.builtin else f" ({profile.file})")
    )
    lines.append(f"  extends: {' <- '.join(profile.lineage)}")
    m = profile.match
    detect = []
    if m.ids:
        detect.append(f"ID in {', '.join(m.ids)}")
    if m.id_like:
        detect.append(f"ID_LIKE has {', '.join(m.id_like)}")
    if m.version_min or m.version_below:
        detect.append(f"VERSION_ID in [{m.version_min or ''}, {m.version_below or ''})")
    if m.kernel_release_contains:
        detect.append(f"kernel release contains {m.kernel_release_contains!r}")
    lines.append(
        f"  detected when: {'; '.join(detect) if detect else 'nothing else matches (fallback)'}"
    )
    lines.append("")

    def item(key: str, label: str) -> None:
        v = profile.sources.get(key)
        if v is not None:
            lines.append(f"  {label} = {_shown(key, v.value)}")
            lines.append(f"      source: {v.source}")

    item("default_crashkernel", "default crashkernel")
    if profile.default_crashkernel is None:
        lines.append("  default crashkernel: none (the distribution computes it per host)")
    item("fadump_crashkernel", "fadump crashkernel")
    for h in profile.history:
        lines.append(f"  was {h.crashkernel}, until {h.until}")
        lines.append(f"      source: {h.source}")
    item("page_size", "page size")
    for key in (
        "kdump_cmdline.nr_cpus",
        "kdump_cmdline.maxcpus",
        "kdump_cmdline.append",
        "kdump_cmdline.remove",
    ):
        item(key, "kdump " + key.removeprefix("kdump_cmdline."))
    item("initramfs_tmpfs_percent", "initramfs tmpfs limit")
    item("dump_level", "dump level")
    item("core_collector", "core collector")
    lines.append("")
    lines.append("  estimator:")
    for key in sorted(k for k in profile.sources if k.startswith("estimator.")):
        item(key, "  " + key.removeprefix("estimator."))
    return "\n".join(lines) + "\n"
