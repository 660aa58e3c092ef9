"""Tests for crashplan.host.formats.modules against real /proc/modules captures (root and non-root)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import SourceError
from crashplan.host.formats.modules import Module, parse_modules

HOSTS = Path(__file__).resolve().parents[2] / "data" / "hosts"


def read(host: str) -> str:
    """The host's /proc/modules, byte-exact."""
    return (HOSTS / host / "proc" / "modules").read_bytes().decode("utf-8", "surrogateescape")


# host, module count, addresses visible (values read off the files).
SAMPLES = [
    ("coreos-ocp-master-vm", 81, True),
    ("vivianchen-qemu-nonroot", 69, False),
]


@pytest.mark.parametrize(("host", "count", "visible"), SAMPLES)
def test_real_capture_modules(host: str, count: int, visible: bool) -> None:
    """Each capture lists its modules, all Live, with addresses only when read as root."""
    mods = parse_modules(read(host), path=host)
    assert len(mods) == count
    assert {m.state for m in mods} == {"Live"}
    assert all((m.address is not None) == visible for m in mods)


def test_coreos_module_fields() -> None:
    """A module line gives name, size, refcount, users and address; [permanent] is a flag."""
    mods = {m.name: m for m in parse_modules(read("coreos-ocp-master-vm"))}
    xfs = mods["xfs"]
    assert (xfs.size, xfs.refcount, xfs.used_by, xfs.address) == (
        1474560,
        1,
        (),
        0xFFFFFFFFC041D000,
    )
    assert mods["ib_core"].used_by[:3] == ("rpcrdma", "ib_isert", "ib_iser")
    assert len(mods["ib_core"].used_by) == 13
    balloon = mods["hv_balloon"]
    assert (balloon.used_by, balloon.flags) == ((), ("[permanent]",))
    assert sum(m.size for m in mods.values()) == 8425472


def test_non_root_module_sizes_still_visible() -> None:
    """Without root the addresses are hidden but sizes and users are still there."""
    mods = {m.name: m for m in parse_modules(read("vivianchen-qemu-nonroot"))}
    assert mods["ext4"] == Module("ext4", 921600, 2, (), "Live", None)
    assert mods["drm"].used_by == ("qxl", "drm_ttm_helper", "ttm", "drm_kms_helper")


def test_taints_and_no_unload_support() -> None:
    """A taint group after the address is kept, and '- -' (no CONFIG_MODULE_UNLOAD) gives refcount None."""
    (m1, m2) = parse_modules(
        "zfs 3874816 6 - Live 0xffffffffc0a00000 (POE)\nfoo 16384 - - Loading 0x0000000000000000 (+)\n"
    )
    assert (m1.taints, m1.refcount) == ("(POE)", 6)
    assert (m2.refcount, m2.used_by, m2.state, m2.address, m2.taints) == (
        None,
        (),
        "Loading",
        None,
        "(+)",
    )


def test_empty_file_means_no_modules() -> None:
    """An empty /proc/modules (nothing loaded) is an empty tuple, not an error."""
    assert parse_modules("") == ()


def test_error_truncated_mid_line() -> None:
    """A capture cut inside its last line is reported as truncated."""
    text = read("coreos-ocp-master-vm")
    with pytest.raises(SourceError) as info:
        parse_modules(text[:-10], path="m")
    assert str(info.value) == "m:81: last line is not terminated by a newline (file truncated?)"


def test_error_too_few_fields() -> None:
    """A line missing fields is quoted."""
    text = read("vivianchen-qemu-nonroot").replace(
        "ccp 106496 1 kvm_amd, Live 0x0000000000000000", "ccp 106496 1 kvm_amd,"
    )
    with pytest.raises(SourceError) as info:
        parse_modules(text, path="m")
    assert str(info.value) == (
        "m:2: expected 'name size refcount used_by state address [taints]', got 'ccp 106496 1 kvm_amd,'"
    )


def test_error_bad_size() -> None:
    """A size that is not a number is quoted."""
    text = read("vivianchen-qemu-nonroot").replace("kvm 921600", "kvm 92l600")
    with pytest.raises(SourceError) as info:
        parse_modules(text, path="m")
    assert str(info.value) == "m:3: size '92l600' is not a decimal number"


def test_error_bad_address() -> None:
    """An address without 0x and hex digits is quoted."""
    text = read("coreos-ocp-master-vm").replace("0xffffffffc0aae000", "ffffffffc0aae000")
    with pytest.raises(SourceError) as info:
        parse_modules(text, path="m")
    assert str(info.value) == "m:2: address 'ffffffffc0aae000' is not 0x followed by hex digits"


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_property_any_text_parses_or_raises_source_error(text: str) -> None:
    """For any text, parse_modules returns a tuple or raises SourceError."""
    with contextlib.suppress(SourceError):
        assert isinstance(parse_modules(text), tuple)


@pytest.mark.property
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_property_any_bytes_parse_or_raise_source_error(data: bytes) -> None:
    """For any bytes decoded with surrogateescape, parse_modules returns or raises SourceError."""
    with contextlib.suppress(SourceError):
        parse_modules(data.decode("utf-8", "surrogateescape"))
