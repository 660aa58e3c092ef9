"""Profiles as plain text for people: the built-in list, and one profile with the source of every value.

The values are :class:`~crashplan.profiles.Profile` and :class:`~crashplan.profiles.ProfileInfo`
(``crashplan/profiles/``, which has no text output of its own); the JSON forms are
:func:`~crashplan.profiles.profile_to_json` and :func:`~crashplan.profiles.profile_info_to_json`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crashplan.units import format_human, format_size

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crashplan.profiles import Profile, ProfileInfo
    from crashplan.profiles.model import Value

__all__ = ["render_profile_list_text", "render_profile_text"]


def render_profile_list_text(infos: Sequence[ProfileInfo]) -> str:
    """One line per profile: name, architecture, default ``crashkernel=`` string."""
    width = max((len(i.name) for i in infos), default=0)
    return "".join(f"{i.name:<{width}}  {i.arch or '-':<11}  {i.default_crashkernel or '(computed per host)'}\n" for i in infos)


def _shown(key: str, value: Value) -> str:
    """A profile value as people read it: sizes in both notations, percents, yes/no.

    >>> _shown("estimator.crashplan_margin_fixed", 32 << 20), _shown("estimator.crashplan_margin_percent", 20)
    ('32M (32 MiB)', '20%')
    """
    from crashplan.profiles.schema import leaf_of

    leaf = leaf_of(key)
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
    item("dump_level", "dump level")
    item("core_collector", "core collector")
    lines.append("")
    lines.append("  estimator:")
    for key in sorted(k for k in profile.sources if k.startswith("estimator.")):
        item(key, "  " + key.removeprefix("estimator."))
    return "\n".join(lines) + "\n"
