"""Profiles: what a distribution's kdump tooling does, as checked YAML data.

A profile holds one distribution family's default ``crashkernel=`` string for one architecture,
its kdump command-line conventions (``nr_cpus=``, what it appends and removes), its dump
level and collector, and the constants a footprint model needs.  Every value
carries a ``source:`` so reviewers can check it: the kdump-utils, openSUSE kdump, kdump-tools
and makedumpfile sources, or a crash-dump trial recorded under ``tests/data/``.  The schema is documented in ``profiles/README.md``.

Built-in profiles are package data (``crashplan/profiles/data/*.yaml`` in the wheel, the repo-root
``profiles/`` in a development checkout).  A profile may ``extends:`` one or more others;
parents are ordered by C3 linearisation (as Python orders base classes), so a family file wins
over a generic arch file and both win over ``base``.  Sections (``match``, ``kdump_cmdline``,
``estimator``) merge key by key; every other value is replaced whole.

Built-in profiles are read from ``compiled.json``, every profile resolved and checked when it
was compiled (``python -m crashplan.profiles compile``); its CRC of the YAML files must match.
Reading YAML (a user's file, compiling, a stale index) is :mod:`crashplan.profiles.load`, the
only module that opens YAML; it is imported when needed, and ``yaml`` inside it only to parse.
The imports point one way: this index uses :mod:`~crashplan.profiles.extends`, which uses
``load`` (one file), which uses :mod:`~crashplan.profiles.schema`, :mod:`~crashplan.profiles.model`
(the values) and :mod:`~crashplan.profiles.store` (the files); none of them imports back.
"""

from __future__ import annotations

import os
import re
from functools import cache
from types import MappingProxyType
from typing import Any

from crashplan.kernel.features import ARCHES, canonical_arch
from crashplan.profiles.model import (
    MAX_PROFILE_BYTES,
    HistoryEntry,
    Match,
    Profile,
    ProfileInfo,
    ProfileProblems,
    SourcedValue,
)
from crashplan.profiles.store import (
    builtin_names,
    builtin_profile_dir,
    is_path,
    read_builtin,
)

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
    "profile_info_to_json",
    "profile_to_json",
]

# --------------------------------------------------------------------------------------------
# Public API


@cache
def _builtin(name: str) -> Profile:
    compiled = _compiled()
    if compiled is not None and name in compiled[0]:
        import json

        return _profile_from_plain(json.loads(compiled[0][name]))
    from crashplan.profiles.extends import builtin_from_yaml

    return builtin_from_yaml(name)


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
    for name in builtin_names():
        data = read_builtin(f"{name}.yaml")
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
        "history": [[h.crashkernel, h.until, h.source] for h in p.history],
        "page_size": p.page_size,
        "nr_cpus": p.nr_cpus,
        "maxcpus": p.maxcpus,
        "cmdline_append": p.cmdline_append,
        "cmdline_remove": p.cmdline_remove,
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
        history=tuple(HistoryEntry(*h) for h in d["history"]),
        page_size=d["page_size"],
        nr_cpus=d["nr_cpus"],
        maxcpus=d["maxcpus"],
        cmdline_append=d["cmdline_append"],
        cmdline_remove=d["cmdline_remove"],
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

    from crashplan.profiles.extends import builtin_from_yaml

    profiles = {}
    infos = []
    for info in list_profiles(include_abstract=True, _use_compiled=False):
        infos.append([info.name, info.description, info.family, info.arch, info.default_crashkernel, info.abstract])
        if not info.abstract:
            # Each profile as a JSON string inside the index: loading the index then only
            # scans these strings, and a profile is decoded when it is used (_builtin()).
            plain = _profile_to_plain(builtin_from_yaml(info.name))
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
        data = json.loads(read_builtin(COMPILED_NAME))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("yaml_checksum") != _yaml_digest():
        return None
    infos = tuple(ProfileInfo(*i) for i in data["infos"])
    return data["profiles"], infos


def load_profile(name_or_path: str | os.PathLike[str]) -> Profile:
    """Load a built-in profile by name, or a user profile from a YAML file (which may ``extends:`` built-ins).

    Raises :class:`ProfileProblems` (a :class:`ProfileError`) listing every problem found.

    >>> load_profile("fedora-x86_64").default_crashkernel
    '2G-64G:256M,64G-:512M'
    """
    text = os.fspath(name_or_path)
    if isinstance(name_or_path, os.PathLike) or is_path(text):
        from pathlib import Path

        from crashplan.profiles.extends import Session, resolve

        session = Session()
        return resolve(session.user(Path(text)), session)
    return _builtin(text)


def list_profiles(*, include_abstract: bool = False, _use_compiled: bool = True) -> tuple[ProfileInfo, ...]:
    """The built-in profiles, sorted by name; family files (no arch) only with ``include_abstract``."""
    compiled = _compiled() if _use_compiled else None
    if compiled is not None:
        return tuple(i for i in compiled[1] if include_abstract or not i.abstract)
    from crashplan.profiles.extends import Session, builtin_from_yaml, merged_keys, resolve

    infos = []
    for name in builtin_names():
        session = Session()
        raw = session.builtin(name)
        assert raw is not None
        if "arch" not in merged_keys(raw, session):
            if include_abstract:
                profile = resolve(raw, session, check_concrete=False)
                infos.append(
                    ProfileInfo(name, profile.description, profile.family, None, None, True)
                )
            continue
        profile = builtin_from_yaml(name)
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
    name = canonical_arch(arch)
    if name is None:
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


def profile_info_to_json(info: ProfileInfo) -> dict[str, object]:
    """One line of :func:`list_profiles` as a JSON-ready object."""
    return {
        "name": info.name,
        "family": info.family,
        "arch": info.arch,
        "default_crashkernel": info.default_crashkernel,
        "description": info.description,
    }


def profile_to_json(profile: Profile) -> dict[str, object]:
    """The profile as a JSON-ready object: sizes in bytes, every value with its source and unit."""

    def sourced(key: str) -> dict[str, object] | None:
        v = profile.sources.get(key)
        if v is None:
            return None
        from crashplan.profiles.schema import UNITS, leaf_of

        leaf = leaf_of(key)
        return {"value": v.value, "unit": UNITS[leaf.kind] if leaf else "text", "source": v.source}

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
        "history": [
            {"value": h.crashkernel, "until": h.until, "source": h.source} for h in profile.history
        ],
        "page_size": sourced("page_size"),
        "kdump_cmdline": section("kdump_cmdline."),
        "dump_level": sourced("dump_level"),
        "core_collector": sourced("core_collector"),
        "estimator": section("estimator."),
    }
