"""The crashkernel= grammar and the port of parse_crashkernel(), against the kernel's rules.

The table of section 1.10 of shared/reference/kernel-crashkernel.md comes first (each row was
run through a transliteration of kernel/crash_reserve.c); then one case per rule of sections
1.1-1.9, exact-text error tests, and properties.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crashplan.errors import ParseError
from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import features_for
from crashplan.kernel.grammar import (
    MAX_SCANNED_TOKENS,
    CrashkernelSpec,
    CrashkernelToken,
    RangeEntry,
    format_crashkernel,
    parse_crashkernel,
    scan_crashkernel,
)
from crashplan.kernel.lint import diagnose
from crashplan.units import GiB, MiB

X86 = features_for("x86_64", "6.17")
PPC = features_for("ppc64le", "6.19")
OLD = features_for("x86_64", "6.16")

# (cmdline, RAM, features, ok, crash_size, crash_base, low_size, high, cma_size)
REFERENCE_TABLE = [
    ("crashkernel=512M-2G:64M,2G-:128M", 400 * MiB, X86, True, 64 * MiB, 0, 0, False, 0),
    ("crashkernel=512M-2G:64M,2G-:128M", 1948 * MiB, X86, True, 128 * MiB, 0, 0, False, 0),
    ("crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M@64M", 8 * GiB, X86, True, 256 * MiB, 64 * MiB, 0, False, 0),
    ("crashkernel=1G,high", 16 * GiB, X86, True, 1 * GiB, 0, 256 * MiB, True, 0),
    ("crashkernel=1G,high crashkernel=0,low", 16 * GiB, X86, True, 1 * GiB, 0, 0, True, 0),
    ("crashkernel=256M crashkernel=1G,high", 16 * GiB, X86, True, 256 * MiB, 0, 0, False, 0),
    ("crashkernel=256M crashkernel=512M", 16 * GiB, X86, True, 512 * MiB, 0, 0, False, 0),
    ("crashkernel=100M crashkernel=1G,cma", 16 * GiB, X86, True, 100 * MiB, 0, 0, False, 1 * GiB),
    ("crashkernel=1G,cma", 16 * GiB, X86, False, 0, 0, 0, False, 0),
    ("crashkernel=256MB", 16 * GiB, X86, False, 256 * MiB, 0, 0, False, 0),
    ("crashkernel=0x10000000", 16 * GiB, X86, True, 256 * MiB, 0, 0, False, 0),
    ("crashkernel=0256M", 16 * GiB, X86, True, 174 * MiB, 0, 0, False, 0),
    ("crashkernel=256M@", 16 * GiB, X86, True, 256 * MiB, 0, 0, False, 0),
    ("crashkernel=0-2G:128M,2G-:4G", 2 * GiB, X86, False, 0, 0, 0, False, 0),
    ("crashkernel=16G", 16 * GiB, X86, False, 16 * GiB, 0, 0, False, 0),
    ("crashkernel=512M,HIGH", 16 * GiB, X86, False, 512 * MiB, 0, 0, False, 0),
    ("crashkernel=256Mx,cma crashkernel=128M", 16 * GiB, X86, True, 128 * MiB, 0, 0, False, 256 * MiB),
    ("foo.crashkernel=64M", 16 * GiB, X86, True, 64 * MiB, 0, 0, False, 0),
    ("crashkernel=0-2G:128M,garbage", 1 * GiB, X86, True, 128 * MiB, 0, 0, False, 0),
    ("crashkernel=256M@16Mjunk", 16 * GiB, X86, True, 256 * MiB, 16 * MiB, 0, False, 0),
    ("crashkernel=1G,cma", 16 * GiB, PPC, False, 0, 0, 0, False, 1 * GiB),
    ("crashkernel=256M crashkernel=1G,cma", 16 * GiB, OLD, False, 1 * GiB, 0, 0, False, 0),
]


@pytest.mark.parametrize(
    ("cmdline", "ram", "features", "ok", "size", "base", "low", "high", "cma"), REFERENCE_TABLE
)
def test_reference_table(cmdline, ram, features, ok, size, base, low, high, cma):
    """Every row of the reference parser's result table is decided the same way."""
    d = decide(cmdline, ram, features)
    assert (d.ok, d.crash_size, d.crash_base, d.low_size, d.high, d.cma_size) == (ok, size, base, low, high, cma)


def test_ppc_cma_reserved_despite_error():
    """On ppc64le a CMA-only command line still reserves the CMA area (section 2.9)."""
    d = decide("crashkernel=1G,cma", 16 * GiB, PPC)
    assert not d.ok and d.reserves_cma
    assert not decide("crashkernel=1G,cma", 16 * GiB, X86).reserves_cma


# One case per rule of sections 1.1-1.9: (cmdline, RAM, expected crash_size or None for -EINVAL)
RULES = [
    # 1.1 memparse: base detection, one-letter units in either case, hex swallows letters
    ("crashkernel=0x100M", 16 * GiB, 256 * MiB),
    ("crashkernel=0x1E", 16 * GiB, 30),
    ("crashkernel=256m", 16 * GiB, 256 * MiB),
    ("crashkernel=1g", 16 * GiB, 1 * GiB),
    ("crashkernel=0", 16 * GiB, None),
    ("crashkernel=08M", 16 * GiB, None),  # octal stops at 8: value 0, then '8' is unexpected
    ("crashkernel=0x", 16 * GiB, None),  # '0x' without a hex digit: octal 0, stops at 'x'
    ("crashkernel=+256M", 16 * GiB, None),
    ("crashkernel= 256M", 16 * GiB, None),
    ("crashkernel=16E", 16 * GiB, None),  # 16 << 60 wraps to 0
    ("crashkernel=1KiB", 16 * GiB, None),
    # 1.2 tokens: last wins per lookup, substrings count, only a space separates
    ("crashkernel=64M\tquiet", 16 * GiB, None),
    ("xcrashkernel=64M", 16 * GiB, 64 * MiB),
    ("crashkernel=64M -- crashkernel=128M", 16 * GiB, 128 * MiB),
    ("crashkernel=256M crashkernel=bogus", 16 * GiB, None),
    ("crashkernel=crashkernel=96M", 16 * GiB, 96 * MiB),
    # 1.3 a ':' before the first space selects the range syntax
    ("crashkernel=256M ro:x", 16 * GiB, 256 * MiB),
    # 1.4 simple form: offset not validated
    ("crashkernel=256M@xyz", 16 * GiB, 256 * MiB),
    ("crashkernel=256M,foo", 16 * GiB, None),
    ("crashkernel=256M@0", 16 * GiB, 256 * MiB),
    # 1.5 ranges: start included, end excluded, rounded RAM, first match, lazy validation
    ("crashkernel=1G-2G:64M,2G-:128M", 2 * GiB, 128 * MiB),
    ("crashkernel=1G-2G:64M,2G-:128M", 2 * GiB - 100 * MiB, 128 * MiB),
    ("crashkernel=1G-2G:64M,2G-:128M", 2 * GiB - 128 * MiB, 64 * MiB),
    ("crashkernel=0-:64M,0-:128M", 4 * GiB, 64 * MiB),
    ("crashkernel=512M-2G:64M", 256 * MiB, None),
    ("crashkernel=2G-2G:64M", 4 * GiB, None),
    ("crashkernel=0-:0", 4 * GiB, None),
    ("crashkernel=0-:128MB", 4 * GiB, 128 * MiB),
    ("crashkernel=0-1G:64MB,1G-:128MB", 16 * GiB, None),
    ("crashkernel=0-1G:64MB,1G-:128MB", 512 * MiB, 64 * MiB),
    ("crashkernel=1G-:128M@", 4 * GiB, None),
    ("crashkernel=1G:128M", 4 * GiB, None),
    ("crashkernel=1G-4G128M", 2 * GiB, None),
    ("crashkernel=-1G:128M", 4 * GiB, None),
    # 1.6 suffixed forms: no ranges, no offset
    ("crashkernel=1G@4G,high", 16 * GiB, None),
    ("crashkernel=1G-:256M,high", 16 * GiB, None),
    ("crashkernel=0,high", 16 * GiB, None),
    # 1.7 combining: invalid plain blocks ,high; ,low alone is never read
    ("crashkernel=bogus crashkernel=1G,high", 16 * GiB, None),
    ("crashkernel=128M,low", 16 * GiB, None),
    ("crashkernel=1G,high crashkernel=1Gx,low", 16 * GiB, None),
    # 1.8/1.9 size >= RAM (unrounded)
    ("crashkernel=1G", 1 * GiB, None),
    ("crashkernel=1G", 1 * GiB + 1, 1 * GiB),
    ("crashkernel=2G,high", 2 * GiB, None),
]


@pytest.mark.parametrize(("cmdline", "ram", "size"), RULES)
def test_rules(cmdline, ram, size):
    """Each rule of the kernel's parser gives the size it gives in the kernel, or -EINVAL."""
    d = decide(cmdline, ram, X86)
    if size is None:
        assert not d.ok
    else:
        assert d.ok, d.error
        assert d.crash_size == size


def test_offset_parsed_after_matching_range_with_junk():
    """After the matching entry the kernel skips to '@' and reads the offset there."""
    d = decide("crashkernel=0-1G:64MB,1G-:128M@16M", 512 * MiB, X86)
    assert (d.ok, d.crash_size, d.crash_base) == (True, 64 * MiB, 16 * MiB)


def test_low_default_and_zero():
    """Without ,low the arch default low size applies; ,low of 0 means no low area."""
    assert decide("crashkernel=512M,high", 8 * GiB, features_for("arm64")).low_size == 128 * MiB
    assert decide("crashkernel=512M,high crashkernel=0,low", 8 * GiB, X86).low_size == 0


def test_s390_reads_only_plain():
    """s390x has no generic reservation: ,high is never looked at."""
    s390 = features_for("s390x")
    assert not decide("crashkernel=1G,high", 16 * GiB, s390).ok
    assert decide("crashkernel=256M crashkernel=1G,high", 16 * GiB, s390).crash_size == 256 * MiB


def test_version_switches():
    """The 128M round-up (6.2) and the size >= RAM check (6.11) follow the kernel version."""
    cmd = "crashkernel=1G-2G:64M,2G-:128M"
    assert decide(cmd, 1948 * MiB, features_for("x86_64", "6.1")).crash_size == 64 * MiB
    assert decide(cmd, 1948 * MiB, features_for("x86_64", "6.2")).crash_size == 128 * MiB
    assert decide("crashkernel=16G", 16 * GiB, features_for("x86_64", "6.10")).ok
    assert not decide("crashkernel=16G", 16 * GiB, features_for("x86_64", "6.11")).ok


def test_cma_is_plain_before_6_17():
    """Before 6.17 a ,cma token is a plain token; placed last, it disables the reservation."""
    assert decide("crashkernel=1G,cma crashkernel=256M", 16 * GiB, OLD).crash_size == 256 * MiB
    assert decide("crashkernel=256M crashkernel=1G,cma", 16 * GiB, OLD).error == "crashkernel: unrecognized char: ,"


def test_kernel_messages():
    """The decision carries the lines the kernel logs while parsing, in the kernel's words."""
    assert decide("crashkernel=512M-2G:64M", 256 * MiB, X86).messages == ("crashkernel size resulted in zero bytes",)
    assert decide("crashkernel=1G-:128M@", 4 * GiB, X86).messages == ("crashkernel: Memory value expected after '@'",)
    assert decide("crashkernel=2G-1G:64M", 4 * GiB, X86).messages == ("crashkernel: end <= start",)
    assert decide("crashkernel=x", 4 * GiB, X86).messages == ("crashkernel: memory value expected",)
    assert decide("crashkernel=1G:64M", 4 * GiB, X86).messages == ("crashkernel: '-' expected",)
    assert decide("crashkernel=100M crashkernel=2Gq,cma", 4 * GiB, X86).messages == ("crashkernel: unrecognized char: q",)


def test_nul_ends_the_command_line():
    """The kernel reads a C string: nothing after a NUL byte counts."""
    assert decide("crashkernel=64M\0crashkernel=128M", 4 * GiB, X86).crash_size == 64 * MiB
    assert "nul-byte" in [w.code for w in diagnose("crashkernel=64M\0x")]


# Warnings with stable codes: (cmdline, RAM or None, features, expected code)
WARNINGS = [
    ("crashkernel=0256M", None, X86, "octal-number"),
    ("crashkernel=0-:128MB", 4 * GiB, X86, "unit-ignored"),
    ("crashkernel=256M@16Mjunk", None, X86, "junk-after-offset"),
    ("crashkernel=256M@", None, X86, "offset-ignored"),
    ("ro crashkernel=256M\tquiet", None, X86, "tab-separator"),
    ("crashkernel=128M,low", None, X86, "low-without-high"),
    ("crashkernel=256M crashkernel=1G,high", None, X86, "suffix-ignored"),
    ("crashkernel=256M crashkernel=1G,cma", None, X86, "cma-after-plain"),
    ("crashkernel=256M crashkernel=1G,cma", None, features_for("arm64"), "cma-unsupported"),
    ("crashkernel=512M-2G:64M", 256 * MiB, X86, "no-range-match"),
    ("crashkernel=16G", 16 * GiB, X86, "size-ge-ram"),
    ("crashkernel=512M", 2 * GiB, features_for("riscv64"), "endless-retry"),
    ("crashkernel=256M crashkernel=bogus", None, X86, "invalid-last-token"),
    ("crashkernel=1G,cma", None, X86, "cma-alone"),
    ("crashkernel=100M crashkernel=2Gq,cma", None, X86, "cma-malformed-used"),
    ("crashkernel=512M,HIGH", None, X86, "suffix-case"),
    ("foo.crashkernel=64M", None, X86, "substring-match"),
    ("crashkernel=auto", None, X86, "auto-not-mainline"),
    ("crashkernel=0x1E", None, X86, "hex-digit-suffix"),
    ("crashkernel=99999999999999999999", None, X86, "overflow"),
    ("crashkernel=0-2G:128M,garbage", 1 * GiB, X86, "unvalidated-entries"),
]


@pytest.mark.parametrize(("cmdline", "ram", "features", "code"), WARNINGS)
def test_warning_codes(cmdline, ram, features, code):
    """Each silent trap is reported under its stable code."""
    assert code in [w.code for w in diagnose(cmdline, features, ram)]


def test_no_warnings_for_clean_strings():
    """A clean distro string gives no warning."""
    assert diagnose("ro quiet crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M", X86, 16 * GiB) == ()


# Exact-text syntax errors, with the caret under the fault.
def _error(text: str) -> str:
    with pytest.raises(ParseError) as info:
        parse_crashkernel(text, X86)
    return str(info.value)


def test_error_missing_colon_after_range():
    """A missing ':' is reported after the range, as packaging reports its faults."""
    assert _error("crashkernel=1G-4G:256M,4G-,512M") == (
        "crashkernel: expected ':' after range '4G-'\n"
        "    crashkernel=1G-4G:256M,4G-,512M\n"
        "                              ^"
    )


def test_error_two_letter_unit():
    """'256MB' points at the B and says units are one letter."""
    assert _error("crashkernel=256MB") == (
        "crashkernel: unrecognized char 'B': units are one letter (K, M, G, T, P, E), without 'B'\n"
        "    crashkernel=256MB\n"
        "                    ^"
    )


def test_error_end_before_start():
    """An empty or reversed range spans both numbers."""
    assert _error("crashkernel=2G-1G:64M") == (
        "crashkernel: range end <= start\n"
        "    crashkernel=2G-1G:64M\n"
        "                ^^^^^"
    )


def test_error_offset_with_suffix():
    """A suffixed token takes no offset."""
    assert _error("ro crashkernel=1G@4G,high") == (
        "crashkernel: unexpected '@' after the size; crashkernel=SIZE,high takes no offset or range\n"
        "    ro crashkernel=1G@4G,high\n"
        "                     ^"
    )


def test_error_missing_number():
    """A token with no number says what was found instead."""
    assert _error("crashkernel=auto") == (
        "crashkernel: expected a number for the size, found 'a'\n"
        "    crashkernel=auto\n"
        "                ^"
    )


def test_error_tab():
    """A tab inside a token is explained as a separator mistake."""
    assert _error("crashkernel=256M\tro") == (
        "crashkernel: unrecognized char '\\t': only a space separates kernel parameters\n"
        "    crashkernel=256M\tro\n"
        "                    ^"
    )


def test_error_no_token():
    """A command line without crashkernel= is an error for the parser."""
    assert _error("ro quiet").startswith("crashkernel: no crashkernel= token found")


def test_bare_values_are_tokens():
    """A bare '256M 1G,cma' is read as crashkernel= tokens."""
    spec = parse_crashkernel("256M 1G,cma", X86)
    assert spec == CrashkernelSpec((CrashkernelToken("simple", 256 * MiB), CrashkernelToken("cma", 1 * GiB)))


def test_spans():
    """Tokens and range entries carry their source spans."""
    scans = scan_crashkernel("ro crashkernel=1G-2G:64M,2G-:128M quiet", X86)
    assert (scans[0].start, scans[0].end) == (3, 33)
    assert [e.span for e in scans[0].token.ranges] == [(15, 24), (25, 33)]


def test_huge_input_is_linear():
    """A 10 MB command line of nested tokens is explained in seconds, not hours."""
    big = "crashkernel=" * (10_000_000 // 12)
    started = time.perf_counter()
    d = decide(big, 16 * GiB, X86)
    scans = scan_crashkernel(big, X86)
    warnings = diagnose(big, X86, 16 * GiB, scans=scans, decision=d)
    assert not d.ok and d.error == "crashkernel: memory value expected"
    assert len(scans) == MAX_SCANNED_TOKENS + 1 and scans[-1].end == len(big)
    assert "too-many-tokens" in [w.code for w in warnings]
    assert time.perf_counter() - started < 60


# Properties ------------------------------------------------------------------------------------

sizes = st.integers(min_value=0, max_value=(1 << 64) - 1)


@st.composite
def tokens(draw):
    form = draw(st.sampled_from(["simple", "ranges", "high", "low", "cma"]))
    if form == "ranges":
        n = draw(st.integers(1, 4))
        bounds = sorted(draw(st.sets(st.integers(0, (1 << 62)), min_size=n + 1, max_size=n + 1)))
        entries = []
        for i in range(n):
            end = None if (i == n - 1 and draw(st.booleans())) else bounds[i + 1]
            entries.append(RangeEntry(bounds[i], end, draw(sizes)))
        offset = draw(st.none() | sizes)
        return CrashkernelToken("ranges", ranges=tuple(entries), offset=offset)
    if form == "simple":
        return CrashkernelToken("simple", draw(sizes), draw(st.none() | sizes))
    return CrashkernelToken(form, draw(sizes))


@pytest.mark.property
@settings(max_examples=400)
@given(st.lists(tokens(), min_size=1, max_size=4))
def test_format_parse_round_trip(token_list):
    """parse(format(spec)) == spec for every spec."""
    spec = CrashkernelSpec(tuple(token_list))
    assert parse_crashkernel(format_crashkernel(spec), X86) == spec


ALPHABET = st.sampled_from(list("crashkernel=0123456789xXabcdefKMGTPEkmgtpe,@-: \t\nhiglowcmaHIGB\0é"))


@pytest.mark.property
@settings(max_examples=600)
@given(st.text(ALPHABET, max_size=60) | st.text(max_size=60), st.integers(0, 1 << 45))
def test_any_string_parses_or_raises_parse_error(text, ram):
    """Any string either parses or raises ParseError; the decision never raises."""
    for cmdline in (text, "crashkernel=" + text, "crashkernel=" + text + ",cma crashkernel=" + text):
        with contextlib.suppress(ParseError):
            parse_crashkernel(cmdline, X86)
        decide(cmdline, ram, X86)
        diagnose(cmdline, X86, ram)
