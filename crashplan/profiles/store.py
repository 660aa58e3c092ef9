"""Where the built-in profiles are, and their names: package data, or the checkout's ``profiles/``.

Built-in profiles are ``crashplan/profiles/data/*.yaml`` in the wheel and the repo-root
``profiles/`` in a development checkout; these helpers find and read them with plain ``open()``
where there is a file system, and word the did-you-mean of an unknown name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pathlib and importlib.resources cost 13 ms at start-up: imported where used
    from importlib.resources.abc import Traversable

from crashplan.errors import ProfileError

__all__ = ["builtin_names", "builtin_profile_dir", "builtin_root", "is_path", "read_builtin", "suggest", "suggest_profile", "unknown_profile"]


@cache
def builtin_root() -> str | None:
    """The directory of the built-in profiles on disk: ``crashplan/profiles/data`` in the wheel,
    else the repo root's ``profiles/``; None when the package is not on a file system (a zip)."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "data"), os.path.join(os.path.dirname(os.path.dirname(here)), "profiles")):
        if os.path.isdir(candidate):
            return candidate
    return None


def builtin_profile_dir() -> Traversable:
    """Where the built-in profiles are: ``crashplan/profiles/data`` in the wheel, else the repo root's ``profiles/``."""
    root = builtin_root()
    if root is not None:
        from pathlib import Path

        return Path(root)
    from importlib import resources

    return resources.files("crashplan.profiles") / "data"


def read_builtin(filename: str) -> bytes:
    """The bytes of a file among the built-in profiles (plain ``open()`` on a file system)."""
    root = builtin_root()
    if root is None:
        return (builtin_profile_dir() / filename).read_bytes()
    with open(os.path.join(root, filename), "rb") as f:
        return f.read()


@cache
def builtin_names() -> tuple[str, ...]:
    root = builtin_root()
    if root is not None:
        names = os.listdir(root)
    else:
        folder = builtin_profile_dir()
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    return tuple(sorted(n[: -len(".yaml")] for n in names if n.endswith(".yaml")))


def is_path(ref: str) -> bool:
    return "/" in ref or os.sep in ref or ref.endswith((".yaml", ".yml"))


def suggest(word: str, choices: Iterable[str]) -> str:
    import difflib  # only for an error message

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# Profile names use each distribution's arch words; users type either.
_ARCH_WORDS = (("x86_64", "amd64"), ("aarch64", "arm64"), ("ppc64le", "ppc64el"))


def suggest_profile(name: str, names: Iterable[str]) -> str:
    """A did-you-mean for a profile name, trying the other spelling of its arch first.

    >>> suggest_profile("ubuntu-x86_64", ["ubuntu-amd64", "ubuntu-arm64"])
    " (did you mean 'ubuntu-amd64'?)"
    """
    known = list(names)
    for a, b in _ARCH_WORDS:
        for old, new in ((a, b), (b, a)):
            if old in name and name.replace(old, new) in known:
                return f" (did you mean {name.replace(old, new)!r}?)"
    return suggest(name, known)


def unknown_profile(name: str, names: tuple[str, ...]) -> ProfileError:
    return ProfileError(
        f"unknown profile {name!r}{suggest_profile(name, names)}; give a built-in profile name or a path to a .yaml file",
        file=name,
        code="profile-unknown",
    )
