"""The profile as a value: what one distribution's kdump tooling does, each value with its source.

The schema is documented in ``profiles/README.md``; reading YAML into these values is
:mod:`crashplan.profiles.load`, finding the built-in files :mod:`crashplan.profiles.store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from crashplan.errors import ProfileError

__all__ = ["MAX_PROFILE_BYTES", "HistoryEntry", "Match", "Profile", "ProfileInfo", "ProfileProblems", "SourcedValue", "Value"]

MAX_PROFILE_BYTES = 1 << 20
"""Profiles are small; a larger file is refused before YAML sees it."""

Value = int | float | str | bool


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An older default ``crashkernel=`` string and the change that replaced it."""

    crashkernel: str
    until: str
    source: str


@dataclass(frozen=True, slots=True)
class Profile:
    """A resolved profile: every ``extends:`` merged, every value checked.

    Plain values are in the fields (sizes in bytes); :attr:`sources` maps the dotted key of
    each sourced value (``"default_crashkernel"``, ``"kdump_cmdline.nr_cpus"``,
    ``"estimator.kexec_segments"``) to its :class:`SourcedValue`.  ``lineage`` is the profile
    followed by its ancestors in merge order (first wins).
    """

    name: str
    description: str
    family: str
    arch: str
    match: Match
    default_crashkernel: str | None
    history: tuple[HistoryEntry, ...]
    page_size: int | None
    nr_cpus: int | None
    maxcpus: int | None
    cmdline_append: str | None
    cmdline_remove: str | None
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


@dataclass(frozen=True, slots=True)
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

        mine.yaml:4:3: unknown key 'kexec_segment' in estimator (did you mean 'kexec_segments'?)
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
