"""No stub constants: every number a profile can carry is read by code outside ``crashplan/profiles/``.

A constant that is defined but never read is a stub: it looks like part of the model while
changing it changes no answer.  The profile package itself (the loader, the compiled index,
``profiles show``) only carries values; they count as used when the planning code, the API or a
renderer reads them.  Text leaves (the distribution's dump command and command-line options,
quoted for people) are not numbers and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

from crashplan.profiles.schema import CMDLINE_LEAVES, ESTIMATOR_LEAVES, TOP_LEAVES, Leaf

PACKAGE = Path(__file__).resolve().parents[2] / "crashplan"

# The Profile field of each kdump_cmdline leaf whose field name differs from the key.
_CMDLINE_FIELDS = {"append": "cmdline_append", "remove": "cmdline_remove"}


def _reads(root: Path = PACKAGE) -> tuple[set[str], set[str]]:
    """The string literals, and the attributes read from a ``profile`` (``profile.x``, ``ctx.profile.x``), outside ``root/profiles``."""
    strings: set[str] = set()
    attributes: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        if path.is_relative_to(root / "profiles"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
            elif isinstance(node, ast.Attribute) and (
                (isinstance(node.value, ast.Name) and node.value.id == "profile")
                or (isinstance(node.value, ast.Attribute) and node.value.attr == "profile")
            ):
                attributes.add(node.attr)
    return strings, attributes


def _numbers(leaves: dict[str, Leaf]) -> list[str]:
    return [key for key, leaf in leaves.items() if leaf.kind != "text"]


def test_every_profile_number_is_read_outside_the_profiles_package() -> None:
    """Each estimator, top-level and kdump_cmdline key of the schema (text aside) is read by crashplan outside crashplan/profiles/."""
    strings, attributes = _reads()
    unread = [
        f"estimator.{key}"
        for key in _numbers(ESTIMATOR_LEAVES)
        # estimator["key"], const("key"), "key" in estimator, or its source "estimator.key"
        if key not in strings and f"estimator.{key}" not in strings
    ]
    # The other keys are Profile fields; their names are also host facts (page_size, nr_cpus,
    # dump_level), so only an attribute of a profile counts.
    unread += [key for key in _numbers(TOP_LEAVES) if key not in attributes]
    unread += [
        f"kdump_cmdline.{key}"
        for key in _numbers(CMDLINE_LEAVES)
        if _CMDLINE_FIELDS.get(key, key) not in attributes
    ]
    assert not unread, f"defined in crashplan/profiles/schema.py, read by nothing (remove or use them): {', '.join(unread)}"


def test_the_scan_counts_profile_reads_only(tmp_path: Path) -> None:
    """A profile attribute or an estimator key counts; the same name on a host fact, or inside the profile package, does not."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "show.py").write_text("profile.maxcpus\nconst('bitmap_max')\n")
    (tmp_path / "plan.py").write_text(
        "n = ctx.profile.nr_cpus or profile.dump_level\n"
        "p = facts.page_size\n"
        "k = const('kexec_segments') + estimator.get('luks_keyslots')\n"
        "s = sources.get(f'estimator.{key}', 'estimator.struct_page_size')\n"
    )
    strings, attributes = _reads(tmp_path)
    assert attributes == {"nr_cpus", "dump_level"}
    assert {"kexec_segments", "luks_keyslots", "estimator.struct_page_size"} <= strings
    assert "bitmap_max" not in strings
