"""Profiles as text: the list of built-in profiles and one profile with its sources, from
:mod:`crashplan.render.profiles` (``crashplan/profiles/`` itself writes no text)."""

from __future__ import annotations

from pathlib import Path

import pytest
from clirun import run

from crashplan.profiles import list_profiles, load_profile, profile_info_to_json
from crashplan.render.profiles import render_profile_list_text, render_profile_text

ROOT = Path(__file__).parents[2]


def test_the_profiles_package_writes_no_text() -> None:
    """Profile text lives in crashplan.render: crashplan.profiles exports no renderer."""
    import crashplan.profiles

    assert not [name for name in crashplan.profiles.__all__ if name.startswith("render_")]
    assert not hasattr(crashplan.profiles, "render_profile_text")


def test_render_profile_text_shows_values_and_sources() -> None:
    """The text form names the default string, its source, and sizes in both notations."""
    text = render_profile_text(load_profile("debian-amd64"))
    assert text.startswith("debian-amd64: Debian amd64 with kdump-tools")
    assert "  default crashkernel = 512M-:192M\n      source: Debian kdump-tools 1:1.10.3" in text
    assert "  was 384M-:128M, until Debian kdump-tools 1:1.9" in text
    assert "crashplan_margin_fixed = 32M (32 MiB)" in text
    suse = render_profile_text(load_profile("suse-s390x"))
    assert "default crashkernel: none (the distribution computes it per host)" in suse


@pytest.mark.parametrize("name", [i.name for i in list_profiles()])
def test_every_value_of_a_builtin_profile_is_followed_by_its_source(name: str) -> None:
    """Each ``key = value`` line of a built-in profile is followed by its ``source:`` line, and the text ends the estimator."""
    profile = load_profile(name)
    lines = render_profile_text(profile).splitlines()
    assert lines[0] == f"{name}: {profile.description}"
    assert lines[2] == f"  extends: {' <- '.join(profile.lineage)}"
    values = [i for i, line in enumerate(lines) if " = " in line and not line.startswith("      source: ")]
    assert len(values) == len(profile.sources)
    for i in values:
        assert lines[i + 1].startswith("      source: ") and len(lines[i + 1]) > len("      source: ")
    assert "  estimator:" in lines


def test_a_user_profile_names_its_file(tmp_path: Path) -> None:
    """A profile read from a file says so where a built-in one says (built-in)."""
    path = tmp_path / "lab.yaml"
    path.write_text('name: lab-x86_64\nextends: fedora-x86_64\ndescription: Our lab hosts.\n')
    text = render_profile_text(load_profile(str(path)))
    assert text.splitlines()[:3] == [
        "lab-x86_64: Our lab hosts.",
        f"  family fedora, arch x86_64 ({path})",
        "  extends: lab-x86_64 <- fedora-x86_64 <- fedora <- base-x86_64 <- base",
    ]


def test_profile_list_has_a_line_per_profile_in_aligned_columns() -> None:
    """One line per built-in profile: name and architecture padded to columns, then the default string."""
    infos = list_profiles()
    lines = render_profile_list_text(infos).splitlines()
    assert len(lines) == len(infos)
    width = max(len(i.name) for i in infos)
    for info, line in zip(infos, lines, strict=True):
        assert line[: width + 2].rstrip() == info.name
        assert line[width + 2 : width + 15].rstrip() == (info.arch or "-")
        assert line[width + 15 :] == (info.default_crashkernel or "(computed per host)")
    assert "debian-amd64        x86_64       512M-:192M" in lines
    assert render_profile_list_text(()) == ""


def test_profiles_command_writes_the_renderers_text() -> None:
    """``crashplan profiles`` and ``profiles show NAME`` write exactly what the renderers return."""
    assert run("profiles").stdout == render_profile_list_text(list_profiles())
    assert run("profiles", "show", "rhel-x86_64").stdout == render_profile_text(load_profile("rhel-x86_64"))


def test_profile_list_json_rows() -> None:
    """A row of ``profiles --format json`` has the name, family, architecture, default string and description."""
    info = next(i for i in list_profiles() if i.name == "fedora-x86_64")
    assert profile_info_to_json(info) == {
        "name": "fedora-x86_64",
        "family": "fedora",
        "arch": "x86_64",
        "default_crashkernel": "2G-64G:256M,64G-:512M",
        "description": info.description,
    }
