"""Tests for crashplan.host.formats.osrelease and the shell-assignment reader it shares with kdumpconf."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats._shell import parse_assignments
from crashplan.host.formats.osrelease import OsRelease, parse_os_release

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"


def test_this_machine_is_debian_12() -> None:
    """The captured /etc/os-release of this machine is Debian 12 (bookworm)."""
    path = HOSTS / "this-machine-x86_64-6.18.44-fc-v657" / "etc" / "os-release"
    r = parse_os_release(path.read_text(), path=str(path))
    assert (r.id, r.version_id, r.pretty_name, r.id_like) == (
        "debian",
        "12",
        "Debian GNU/Linux 12 (bookworm)",
        (),
    )
    assert r.fields["VERSION_CODENAME"] == "bookworm"


def test_id_like_is_a_list() -> None:
    """ID_LIKE is split on whitespace and is_like() checks ID and ID_LIKE."""
    r = parse_os_release(
        'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'
    )
    assert r.id_like == ("rhel", "centos", "fedora")
    assert r.is_like("rhel") and r.is_like("rocky") and not r.is_like("suse")


def test_absent_fields_are_none() -> None:
    """An empty os-release gives None fields (the spec's ID=linux default is not applied)."""
    assert parse_os_release("") == OsRelease()


# Shell quoting (POSIX XCU 2.2) as used by os-release(5) and sysconfig files.
SHELL_CASES = [
    ("unquoted", "A=b\n", {"A": "b"}),
    ("double quotes keep spaces", 'A="b c"\n', {"A": "b c"}),
    ("single quotes are literal", "A='$x \\n'\n", {"A": "$x \\n"}),
    ("concatenation", "A=\"b\"'c'd\n", {"A": "bcd"}),
    ("escapes inside double quotes", 'A="\\"\\$\\\\\\x"\n', {"A": '"$\\\\x'}),
    ("backslash outside quotes", "A=b\\ c\n", {"A": "b c"}),
    ("line continuation", "A=b\\\nc\n", {"A": "bc"}),
    ("multi-line double quotes", 'A="b\nc"\n', {"A": "b\nc"}),
    ("export prefix", "export A=1\n", {"A": "1"}),
    ("export alone assigns nothing", "export A\n", {}),
    ("comments and blank lines", "# c\n\n  # d\nA=1 # e\n", {"A": "1"}),
    ("hash inside a word is not a comment", "A=b#c\n", {"A": "b#c"}),
    ("dollar is kept, not expanded", 'A="$HOME/x"\n', {"A": "$HOME/x"}),
    ("last assignment wins", "A=1\nA=2\n", {"A": "2"}),
    ("empty value", 'A=\nB=""\n', {"A": "", "B": ""}),
    ("tab indentation", "\tA=1\n", {"A": "1"}),
]


@pytest.mark.parametrize(("case", "text", "expected"), SHELL_CASES, ids=[c[0] for c in SHELL_CASES])
def test_shell_assignments(case: str, text: str, expected: dict[str, str]) -> None:
    """The shell-variable reader removes quotes the way sh does and expands nothing."""
    got = {k: a.value for k, a in parse_assignments(text, path="f").items()}
    assert got == expected


SHELL_ERRORS = [
    ('A="unterminated\nB=1\n', "f:1: end of file inside a quote '\"' opened here"),
    ("A='x\n", 'f:1: end of file inside a quote "\'" opened here'),
    ("A=b c\n", "f:1: unexpected 'c' after the value (quote values that contain spaces)"),
    ("B=1\nif true; then\n", "f:2: unquoted ';' (shell syntax crashplan does not run)"),
    ("1A=2\n", "f:1: '1A' is not a shell variable name"),
    ("just words\n", "f:1: unexpected 'words' after the value (quote values that contain spaces)"),
    ("word\n", "f:1: expected KEY=value, got 'word'"),
    ("A=`date`\n", "f:1: unquoted '`' (shell syntax crashplan does not run)"),
    ("A=x\\", "f:1: end of file inside a line continuation '\\' opened here"),
]


@pytest.mark.parametrize(("text", "message"), SHELL_ERRORS)
def test_error_shell_syntax(text: str, message: str) -> None:
    """Lines a KEY=value file cannot contain raise a SourceError naming the line."""
    with pytest.raises(SourceError) as info:
        parse_assignments(text, path="f")
    assert str(info.value) == message


def test_error_os_release_line_is_named() -> None:
    """parse_os_release reports a broken line with its number."""
    with pytest.raises(SourceError) as info:
        parse_os_release('ID=debian\nPRETTY_NAME="Debian GNU/Linux 12\n', path="/etc/os-release")
    assert str(info.value) == "/etc/os-release:2: end of file inside a quote '\"' opened here"


_values = st.text(st.characters(codec="utf-8", exclude_characters="\0"), max_size=30)


def _sh_double_quote(value: str) -> str:
    return '"' + "".join("\\" + c if c in '$`"\\' else c for c in value) + '"'


def _sh_single_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), _values, max_size=6
    ),
    st.booleans(),
)
def test_property_quoted_values_read_back(values: dict[str, str], single: bool) -> None:
    """Any value written with sh double or single quoting reads back unchanged."""
    quote = _sh_single_quote if single else _sh_double_quote
    text = "".join(f"{k}={quote(v)}\n" for k, v in values.items())
    assert {k: a.value for k, a in parse_assignments(text, path="f").items()} == values


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape")),
    )
)
def test_property_any_input_parses_or_raises_source_error(text: str) -> None:
    """For any text or surrogate-escaped bytes, parse_os_release returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        parse_os_release(text)
