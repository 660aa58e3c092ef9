"""Tests for crashplan.host.formats.cmdline: the kernel's next_arg() quoting and real /proc/cmdline captures."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.cmdline import (
    Cmdline,
    get_param,
    has_param,
    parse_cmdline,
    split_cmdline,
)

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"


def read(host: str) -> str:
    """The host's /proc/cmdline, byte-exact."""
    return (HOSTS / host / "proc" / "cmdline").read_bytes().decode("utf-8", "surrogateescape")


# Each case is worked through lib/cmdline.c: next_arg() by hand (see the module docstring).
SPLIT_CASES = [
    ("plain words", "ro quiet", ("ro", "quiet")),
    ("runs of whitespace and tabs", " ro \t\n quiet\n", ("ro", "quiet")),
    ("vertical tab and form feed are kernel whitespace", "a\vb\fc\rd", ("a", "b", "c", "d")),
    ("byte 0xA0 is kernel whitespace (Latin-1 NBSP)", "a\udca0b", ("a", "b")),
    ("quoted argument: both quotes removed", '"a b" c', ("a b", "c")),
    ("quoted value: both quotes removed", 'dyndbg="file x.c +p"', ("dyndbg=file x.c +p",)),
    ("quoted whole param=value", '"a=b c"', ("a=b c",)),
    ("quotes in the middle are kept", 'i"j k"l', ('i"j k"l',)),
    ("quote after value start is kept", 'm=x"y"', ('m=x"y"',)),
    ("value quote removed, inner quote kept", 'x="a"b"', ('x=a"b',)),
    ("value quote whose close is not last: only opening removed", 'x="a"b', ('x=a"b',)),
    ("unterminated quote runs to the end", 'a="b c d', ("a=b c d",)),
    ("leading '=' is part of the name", "=a=b", ("=a=b",)),
    ("empty value", "a= b", ("a=", "b")),
    ("empty quoted value", 'a="" b', ("a=", "b")),
    ("lone quote", '"', ("",)),
    ("a NUL ends the string", "a b\0c d", ("a", "b")),
    ("dashes are kept as written", "-- init-arg", ("--", "init-arg")),
    (
        "crashkernel ranges stay one argument",
        "crashkernel=1G-4G:192M,4G-:256M",
        ("crashkernel=1G-4G:192M,4G-:256M",),
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), SPLIT_CASES, ids=[c[0] for c in SPLIT_CASES])
def test_split_follows_next_arg(case: str, text: str, expected: tuple[str, ...]) -> None:
    """split_cmdline removes exactly the quotes next_arg() removes and splits on kernel isspace()."""
    assert split_cmdline(text) == expected


def test_utf8_is_split_on_its_bytes_like_the_kernel() -> None:
    """A UTF-8 character containing byte 0xA0 ('à' is C3 A0) is split there, as the kernel would."""
    assert split_cmdline("xà y") == ("x\udcc3", "y")


def test_rpi4_cmdline_keeps_raw_and_splits_double_spaces() -> None:
    """The RPi 4 line (leading space, firmware double spaces) keeps raw exact and splits into 19 args."""
    text = read("arm64-rpi4-4g-cma512m")
    c = parse_cmdline(text)
    assert c.raw == text[:-1]
    assert c.raw.startswith(" coherent_pool=1M 8250.nr_uarts=0")
    assert len(c.args) == 19
    assert get_param(c.args, "console") == ("ttyS0,115200", "tty1")
    assert get_param(c.args, "snd_bcm2835.enable_headphones") == ("0", "1")
    assert get_param(c.args, "crashkernel") == ()
    assert has_param(c.args, "rootwait") and not has_param(c.args, "crashkernel")


@pytest.mark.parametrize(
    ("host", "count", "root"),
    [
        ("coreos-ocp-master-vm", 9, "UUID=9213770d-ddd3-40f9-aeba-d6e8c6fec4c8"),
        ("twaite-desktop-8g", 6, "UUID=7ea82319-b4da-4857-8119-b3c86f07a15b"),
        ("vivianchen-qemu-nonroot", 5, "/dev/mapper/cse127--vg-root"),
    ],
)
def test_real_capture_args(host: str, count: int, root: str) -> None:
    """Each captured command line splits into its known number of arguments and root=."""
    c = parse_cmdline(read(host))
    assert len(c.args) == count
    assert get_param(c.args, "root") == (root,)
    assert c.init_args == ()


def test_this_machine_init_args_after_double_dash() -> None:
    """Arguments after a bare '--' are init's: kernel_args stops before it, raw keeps everything."""
    c = parse_cmdline(read("this-machine-x86_64-6.18.44-fc-v657"))
    assert c.kernel_args[-1] == "rdinit=/process_api"
    assert c.init_args[:2] == ("--firecracker-init", "--addr")
    assert "--" in c.args
    assert get_param(c.kernel_args, "mitigations") == ("auto,no_guest_host,no_guest_guest",)
    assert c.raw.endswith("--auth-required")


def test_get_param_dashes_and_underscores_are_equal() -> None:
    """get_param matches names like the kernel's parameq(): '-' and '_' are the same."""
    args = split_cmdline("page_reporting.page-reporting-order=11 nr-cpus=1 nr_cpus=2")
    assert get_param(args, "page_reporting.page_reporting_order") == ("11",)
    assert get_param(args, "nr_cpus") == ("1", "2")


def test_raw_keeps_everything_but_one_trailing_newline() -> None:
    """parse_cmdline strips exactly one trailing newline and nothing else."""
    assert parse_cmdline("a  b \n\n").raw == "a  b \n"
    assert parse_cmdline("a").raw == "a"


def test_error_nul_character() -> None:
    """A NUL character in /proc/cmdline text is a garbled source."""
    with pytest.raises(SourceError) as info:
        parse_cmdline("root=/dev/sda1\0garbage\n", path="c")
    assert str(info.value) == "c:1: NUL character at offset 14: not a kernel command line"


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_property_any_text_parses_or_raises_source_error(text: str) -> None:
    """For any text, parse_cmdline returns a Cmdline or raises SourceError."""
    with contextlib.suppress(SourceError):
        assert isinstance(parse_cmdline(text), Cmdline)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_property_any_bytes_parse_or_raise_source_error(data: bytes) -> None:
    """For any bytes decoded with surrogateescape, parse_cmdline returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        parse_cmdline(data.decode("utf-8", "surrogateescape"))


_plain = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'), min_size=1
)


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.lists(_plain, max_size=10), st.sampled_from([" ", "  ", "\t", "\n"]))
def test_property_unquoted_words_round_trip(words: list[str], sep: str) -> None:
    """Words without quotes or whitespace come back unchanged, whatever kernel whitespace joins them."""
    assert split_cmdline(sep.join(words)) == tuple(words)


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters='"'), max_size=20
    )
)
def test_property_quoted_value_is_recovered(value: str) -> None:
    """Any value without quotes survives being written as name="value"."""
    assert split_cmdline(f'name="{value}"') == (f"name={value}",)
