"""Profiles: the built-in YAML data, detection from os-release, and the validator's messages.

The expected default sizes come from shared/reference/distro-tools.md (sections 1.2, 3.1, 4.4);
the kernel's own lookup (``crashplan.kernel.crashkernel.decide``) is the oracle, so the 128M round-up of
RAM before range matching applies as it does at boot.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from crashplan.errors import ProfileError
from crashplan.host.formats.osrelease import parse_os_release
from crashplan.kernel.crashkernel import decide
from crashplan.kernel.features import ARCHES, features_for
from crashplan.kernel.grammar import as_tokens, parse_crashkernel
from crashplan.profiles import (
    Match,
    Profile,
    ProfileProblems,
    _score,
    builtin_profile_dir,
    detect_profile,
    list_profiles,
    load_profile,
    profile_to_json,
)
from crashplan.profiles.schema import ESTIMATOR_LEAVES
from crashplan.units import GiB, MiB

REPO = Path(__file__).resolve().parents[2]
HOSTS = Path(__file__).parents[1] / "data" / "hosts"
PROFILE_FILES = sorted((REPO / "profiles").glob("*.yaml"))
CONCRETE = [info.name for info in list_profiles()]


def _load_error(path: Path) -> str:
    with pytest.raises(ProfileError) as excinfo:
        load_profile(path)
    return str(excinfo.value)


# --------------------------------------------------------------------------------------------
# The built-in data


@pytest.mark.parametrize("name", CONCRETE)
def test_every_builtin_profile_loads(name: str) -> None:
    """Every built-in profile with an arch resolves and validates."""
    profile = load_profile(name)
    assert profile.name == name
    assert profile.builtin
    assert profile.arch in ARCHES
    assert profile.lineage[0] == name and profile.lineage[-1] == "base"


def test_builtin_list_covers_every_family_and_arch() -> None:
    """The built-ins hold the distro families and arches the issue asks for, plus base-<arch> for each arch."""
    names = set(CONCRETE)
    expected = {
        "fedora-x86_64",
        "fedora-aarch64",
        "fedora-aarch64-64k",
        "fedora-ppc64le",
        "fedora-s390x",
        "rhel-x86_64",
        "rhel-aarch64",
        "rhel-aarch64-64k",
        "rhel-ppc64le",
        "rhel-s390x",
        "ubuntu-amd64",
        "ubuntu-arm64",
        "ubuntu-ppc64el",
        "ubuntu-s390x",
        "debian-amd64",
        "debian-arm64",
        "debian-ppc64el",
        "debian-s390x",
        "suse-x86_64",
        "suse-aarch64",
        "suse-ppc64le",
        "suse-s390x",
        *(f"base-{arch}" for arch in ARCHES),
    }
    assert expected <= names
    abstract = {i.name for i in list_profiles(include_abstract=True) if i.abstract}
    assert abstract == {"base", "fedora", "rhel", "debian", "ubuntu", "suse"}


def test_every_profile_file_is_named_after_its_name_key() -> None:
    """Each built-in file's `name:` is its file name, so `extends: <name>` finds it."""
    assert PROFILE_FILES
    for path in PROFILE_FILES:
        assert yaml.safe_load(path.read_text())["name"] == path.stem


def _numbers_without_source(node: object, where: str = "") -> list[str]:
    """Paths of numbers in the raw YAML that are not the `value:` of a mapping with a `source:`."""
    found: list[str] = []
    if isinstance(node, dict):
        sourced = "source" in node and "value" in node
        for key, value in node.items():
            if key == "value" and sourced:
                continue
            found += _numbers_without_source(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _numbers_without_source(item, f"{where}[{i}]")
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        found.append(where)
    return found


@pytest.mark.parametrize("path", PROFILE_FILES, ids=lambda p: p.name)
def test_every_number_in_the_files_has_a_source(path: Path) -> None:
    """No number appears in a built-in file outside a {value, source} mapping."""
    assert _numbers_without_source(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("name", CONCRETE)
def test_every_resolved_value_has_a_source(name: str) -> None:
    """Every value of a resolved profile keeps a non-empty source, and every estimator value is sourced."""
    profile = load_profile(name)
    assert profile.sources
    for key, sourced in profile.sources.items():
        assert sourced.source.strip(), key
        assert sourced.file.endswith("(built-in)")
    assert set(profile.estimator) == {
        k.removeprefix("estimator.") for k in profile.sources if k.startswith("estimator.")
    }
    for entry in profile.history:
        assert entry.source.strip()


def test_trial_derived_constants_say_where_they_come_from() -> None:
    """Constants crashplan measures itself name the trials, or the cited value they start from, or the policy."""
    for name in CONCRETE:
        profile = load_profile(name)
        for key in (
            "kernel_runtime_base",
            "kexec_segments",
            "crashplan_margin_percent",
            "crashplan_margin_fixed",
        ):
            source = profile.source_of(f"estimator.{key}")
            assert (
                (source.startswith(("initial value from ", "measured: ")) and "tests/data/kdump-trials" in source)
                or source.startswith("crashplan policy")
            ), (name, key)
    x86 = load_profile("base-x86_64")
    assert x86.source_of("estimator.kernel_runtime_base").startswith("measured: ")


def test_readme_documents_every_estimator_key() -> None:
    """profiles/README.md names every estimator key the schema accepts."""
    readme = (REPO / "profiles" / "README.md").read_text()
    missing = [k for k in ESTIMATOR_LEAVES if f"`{k}`" not in readme]
    assert missing == []


@pytest.mark.parametrize("name", [n for n in CONCRETE if load_profile(n).default_crashkernel])
def test_default_strings_parse_for_their_arch(name: str) -> None:
    """Every default (and older) crashkernel= string is valid syntax for the profile's arch."""
    profile = load_profile(name)
    features = features_for(profile.arch)
    texts = [
        profile.default_crashkernel,
        *(h.crashkernel for h in profile.history),
    ]
    for text in filter(None, texts):
        assert parse_crashkernel(text, features).tokens
        assert decide(as_tokens(text), 8 * GiB, features).error is None


# (profile, RAM, crash_size) from distro-tools.md 1.2 / 3.1 / 4.4.
DEFAULT_SIZES = [
    ("fedora-x86_64", 8 * GiB, 256 * MiB),
    ("fedora-x86_64", 64 * GiB, 512 * MiB),
    ("rhel-x86_64", 8 * GiB, 256 * MiB),
    ("fedora-s390x", 8 * GiB, 256 * MiB),
    ("fedora-aarch64", 8 * GiB, 320 * MiB),
    ("fedora-aarch64", 3 * GiB, 256 * MiB),
    ("rhel-aarch64", 128 * GiB, 576 * MiB),
    ("fedora-ppc64le", 8 * GiB, 512 * MiB),
    ("fedora-ppc64le", 3 * GiB, 384 * MiB),
    ("debian-amd64", 8 * GiB, 192 * MiB),
    ("debian-arm64", 8 * GiB, 512 * MiB),
    ("debian-ppc64el", 8 * GiB, 512 * MiB),
    ("debian-s390x", 8 * GiB, 128 * MiB),
    ("ubuntu-amd64", 8 * GiB, 512 * MiB),
    # Ubuntu Server docs: QEMU Q35 with 3 GB reserves 320 MB.
    ("ubuntu-amd64", 3 * GiB, 320 * MiB),
    # 3996M rounds up to 4G before the lookup (parse_crashkernel_mem()), so 4G-32G matches.
    ("ubuntu-amd64", 3996 * MiB, 512 * MiB),
    ("ubuntu-arm64", 40 * GiB, 1024 * MiB),
    ("ubuntu-s390x", 8 * GiB, 128 * MiB),
]


@pytest.mark.parametrize(("name", "ram", "size"), DEFAULT_SIZES)
def test_default_string_reserves_what_the_distro_documents(name: str, ram: int, size: int) -> None:
    """The kernel's range lookup on the profile's default gives the size distro-tools.md states."""
    profile = load_profile(name)
    d = decide(as_tokens(profile.default_crashkernel or ""), ram, features_for(profile.arch))
    assert (d.ok, d.crash_size) == (True, size)


def test_fedora_default_reserves_nothing_below_2g() -> None:
    """Below 2G the Fedora default matches no range: the low-RAM cliff of distro-tools.md 5.14."""
    profile = load_profile("fedora-x86_64")
    d = decide(as_tokens(profile.default_crashkernel or ""), 1 * GiB, features_for("x86_64"))
    assert not d.ok and d.crash_size == 0


def test_kdumpctl_deltas_reproduce_the_rhel_64k_and_ppc_tables() -> None:
    """Base string + the 64K delta gives RHEL 10's 420M at 8G; ppc64le adds 1M per nr_cpus (16)."""
    arm = load_profile("rhel-aarch64-64k")
    d = decide(as_tokens(arm.default_crashkernel or ""), 8 * GiB, features_for(arm.arch))
    assert d.crash_size + int(arm.estimator["arm64_64k"]) == 420 * MiB
    assert arm.page_size == 64 * 1024
    ppc = load_profile("fedora-ppc64le")
    d = decide(as_tokens(ppc.default_crashkernel or ""), 8 * GiB, features_for(ppc.arch))
    assert ppc.nr_cpus == 16
    assert "1 MiB per nr_cpus= CPU" in ppc.source_of("default_crashkernel")
    assert d.crash_size + ppc.nr_cpus * MiB == 528 * MiB


def test_kdump_command_line_conventions() -> None:
    """nr_cpus (else maxcpus), appended and removed options and dump level follow each distro's tooling."""
    fedora = load_profile("fedora-x86_64")
    assert fedora.nr_cpus == 1
    assert fedora.cmdline_append is not None
    assert "cma=0 hugetlb_cma=0 novmcoredd kfence.sample_interval=0" in fedora.cmdline_append
    assert fedora.cmdline_remove is not None and "hugepages" in fedora.cmdline_remove.split()
    assert fedora.dump_level == 31
    assert load_profile("rhel-s390x").nr_cpus == 1
    assert load_profile("suse-x86_64").nr_cpus == 32
    assert load_profile("suse-ppc64le").nr_cpus is None
    assert load_profile("debian-ppc64el").maxcpus == 1
    assert load_profile("suse-x86_64").default_crashkernel is None
    assert load_profile("suse-x86_64").estimator["luks_keyslots"] == "sum"


def test_estimator_sizes_are_bytes() -> None:
    """Sizes are converted to int bytes at load time; factors stay plain numbers."""
    profile = load_profile("fedora-aarch64-64k")
    assert profile.estimator["makedumpfile_cyclic_buffer_max"] == 4 * MiB
    assert profile.estimator["arm64_smmu"] == 384 * MiB
    assert profile.estimator["mlx5"] == 200 * MiB
    assert load_profile("fedora-aarch64").estimator["mlx5"] == 150 * MiB
    assert profile.estimator["initrd_unpack_factor"] == 3
    assert load_profile("fedora-x86_64").estimator["sme_sev_swiotlb"] == 64 * MiB
    assert load_profile("debian-amd64").estimator["kernel_runtime_base"] == 18 * MiB
    assert (
        load_profile("debian-amd64")
        .source_texts["estimator.kernel_runtime_base"]
        .startswith("measured: ")
    )


# --------------------------------------------------------------------------------------------
# Detection from /etc/os-release

OS_RELEASE = {
    "rhel9": 'NAME="Red Hat Enterprise Linux"\nVERSION="9.4 (Plow)"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n',
    "fedora42": 'NAME="Fedora Linux"\nVERSION="42 (Server Edition)"\nID=fedora\nVERSION_ID=42\n',
    "ubuntu2404": 'NAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n',
    "debian12": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    "sles15": 'NAME="SLES"\nVERSION="15-SP6"\nVERSION_ID="15.6"\nID="sles"\nID_LIKE="suse"\n',
    "rocky9": 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
    "oracle9": 'NAME="Oracle Linux Server"\nID="ol"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n',
    "tumbleweed": 'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\nVERSION_ID="20250101"\n',
    "mint22": 'NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID="22"\n',
    "derivative": 'NAME="Some EL"\nID=someel\nID_LIKE="rhel fedora"\nVERSION_ID="9"\n',
    "gentoo": "NAME=Gentoo\nID=gentoo\n",
}

DETECT = [
    ("rhel9", "x86_64", None, "rhel-x86_64"),
    ("rhel9", "aarch64", "5.14.0-427.el9.aarch64+64k", "rhel-aarch64-64k"),
    ("rhel9", "arm64", "5.14.0-427.el9.aarch64", "rhel-aarch64"),
    ("rhel9", "ppc64le", None, "rhel-ppc64le"),
    ("rhel9", "s390x", None, "rhel-s390x"),
    ("fedora42", "x86_64", None, "fedora-x86_64"),
    ("fedora42", "arm64", "6.14.0-63.fc42.aarch64+64k", "fedora-aarch64-64k"),
    ("ubuntu2404", "x86_64", None, "ubuntu-amd64"),
    ("ubuntu2404", "arm64", None, "ubuntu-arm64"),
    ("ubuntu2404", "ppc64el", None, "ubuntu-ppc64el"),
    ("ubuntu2404", "s390x", None, "ubuntu-s390x"),
    ("debian12", "amd64", None, "debian-amd64"),
    ("debian12", "s390x", None, "debian-s390x"),
    ("sles15", "x86_64", None, "suse-x86_64"),
    ("sles15", "ppc64le", None, "suse-ppc64le"),
    ("rocky9", "x86_64", None, "rhel-x86_64"),
    ("oracle9", "x86_64", None, "rhel-x86_64"),
    ("tumbleweed", "aarch64", None, "suse-aarch64"),
    ("mint22", "x86_64", None, "ubuntu-amd64"),
    ("derivative", "x86_64", None, "rhel-x86_64"),
    ("gentoo", "x86_64", None, "base-x86_64"),
    ("gentoo", "riscv64", None, "base-riscv64"),
    ("fedora42", "loongarch64", None, "base-loongarch64"),
    ("debian12", "riscv64", None, "base-riscv64"),
]


@pytest.mark.parametrize(("release", "arch", "kernel", "expected"), DETECT)
def test_detect_profile_from_os_release(
    release: str, arch: str, kernel: str | None, expected: str
) -> None:
    """ID beats ID_LIKE, ID_LIKE is read closest first, and nothing matching falls back to base-<arch>."""
    r = parse_os_release(OS_RELEASE[release])
    assert (
        detect_profile(r.id, r.id_like, r.version_id, arch, kernel_release=kernel).name == expected
    )


def test_detect_profile_without_os_release_falls_back() -> None:
    """A host without os-release (ID None) gets the generic profile of its arch, for every arch."""
    for arch in ARCHES:
        assert detect_profile(None, (), None, arch).name == f"base-{arch}"


def test_detect_profile_rejects_an_unknown_arch() -> None:
    """Only an arch crashplan does not know is an error."""
    with pytest.raises(ValueError, match="unknown architecture 'sparc64'"):
        detect_profile("fedora", (), "42", "sparc64")


REAL_OS_RELEASE = sorted(HOSTS.glob("*/etc/os-release"))
REAL_EXPECTED = {"this-machine-x86_64-6.18.44-fc-v657": "debian-amd64"}


@pytest.mark.skipif(not REAL_OS_RELEASE, reason="no tests/data/hosts/*/etc/os-release captured")
@pytest.mark.parametrize("path", REAL_OS_RELEASE, ids=lambda p: p.parent.parent.name)
def test_detect_profile_on_captured_hosts(path: Path) -> None:
    """The os-release of each captured host selects its distribution's profile."""
    host = path.parent.parent.name
    arch = next((a for a in ("s390x", "ppc64le", "arm64", "aarch64") if a in host), "x86_64")
    r = parse_os_release(path.read_text(), path=str(path))
    profile = detect_profile(r.id, r.id_like, r.version_id, arch)
    if host in REAL_EXPECTED:
        assert profile.name == REAL_EXPECTED[host]
    else:
        assert profile.family in (r.id, *r.id_like, "generic")


def test_version_bounds_restrict_a_match() -> None:
    """match.version_min / version_below bound VERSION_ID numerically, and a bounded match is more specific."""
    m = Match(ids=("rhel",), version_min="9.8", version_below="10")
    assert _score(m, "rhel", (), "9.10", None) is not None
    assert _score(m, "rhel", (), "9.4", None) is None
    assert _score(m, "rhel", (), "10.0", None) is None
    assert _score(m, "rhel", (), None, None) is None
    unbounded = _score(Match(ids=("rhel",)), "rhel", (), "9.10", None)
    assert unbounded is not None and _score(m, "rhel", (), "9.10", None) > unbounded  # type: ignore[operator]


# --------------------------------------------------------------------------------------------
# Output


def test_profile_to_json_is_json_with_bytes_and_sources() -> None:
    """The JSON form survives json.dumps and carries each value's unit and source."""
    data = profile_to_json(load_profile("fedora-aarch64-64k"))
    text = json.dumps(data)
    assert json.loads(text) == data
    assert data["default_crashkernel"]["value"] == "2G-4G:256M,4G-64G:320M,64G-:576M"  # type: ignore[index]
    smmu = data["estimator"]["arm64_smmu"]  # type: ignore[index]
    assert smmu["value"] == 384 * MiB and smmu["unit"] == "bytes" and "7a2c4cb" in smmu["source"]
    assert data["lineage"] == [
        "fedora-aarch64-64k",
        "fedora-aarch64",
        "fedora",
        "base-arm64",
        "base",
    ]


# --------------------------------------------------------------------------------------------
# User profiles


def test_user_profile_extends_a_builtin(tmp_path: Path) -> None:
    """A user file overrides one value (with its source) and inherits the rest."""
    path = tmp_path / "lab.yaml"
    path.write_text(
        "name: lab-x86_64\n"
        "extends: fedora-x86_64\n"
        "description: Our lab hosts.\n"
        "estimator:\n"
        "  kernel_runtime_base:\n"
        "    value: 72M\n"
        '    source: "tests/data/kdump-trials run 7"\n'
    )
    profile = load_profile(str(path))
    assert profile.name == "lab-x86_64" and not profile.builtin
    assert profile.estimator["kernel_runtime_base"] == 72 * MiB
    assert profile.sources["estimator.kernel_runtime_base"].line == 6
    assert load_profile("fedora-x86_64").estimator["kernel_runtime_base"] == 18 * MiB
    assert profile.default_crashkernel == "2G-64G:256M,64G-:512M"
    assert profile.lineage[:2] == ("lab-x86_64", "fedora-x86_64")


def test_user_profile_extends_a_sibling_file(tmp_path: Path) -> None:
    """A relative path in extends: is read next to the file that names it."""
    (tmp_path / "site.yaml").write_text(
        'name: site\nextends: ubuntu-amd64\nkdump_cmdline:\n  nr_cpus: {value: 4, source: "site policy"}\n'
    )
    (tmp_path / "host.yaml").write_text(
        "name: host\nextends: ./site.yaml\ndescription: One host.\n"
    )
    profile = load_profile(tmp_path / "host.yaml")
    assert profile.nr_cpus == 4
    assert profile.lineage[:3] == ("host", "site", "ubuntu-amd64")


# --------------------------------------------------------------------------------------------
# Errors: exact text


def test_error_unknown_key_with_suggestion(tmp_path: Path) -> None:
    """An unknown key is reported at its position with the closest known key."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\nextends: fedora-x86_64\nestimator:\n  kexec_segment: {value: 40M, source: trial}\ndescripton: x\n"
    )
    assert _load_error(path) == (
        f"{path}:4:3: unknown key 'kexec_segment' in estimator (did you mean 'kexec_segments'?)\n"
        f"{path}:5:1: unknown key 'descripton' (did you mean 'description'?)"
    )


def test_error_number_without_source(tmp_path: Path) -> None:
    """A bare number, and a mapping lacking source:, are both refused."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\nextends: fedora-x86_64\nkdump_cmdline:\n  nr_cpus: 4\n  maxcpus: {value: 2}\n"
    )
    assert _load_error(path) == (
        f'{path}:4:12: kdump_cmdline.nr_cpus: 4 has no source; write {{value: 4, source: "..."}}\n'
        f'{path}:5:12: kdump_cmdline.maxcpus: the value has no source; add source: "..." (a URL, commit or document)'
    )


def test_error_extends_cycle(tmp_path: Path) -> None:
    """Two files that extend each other are a cycle, reported where it closes."""
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("name: a\nextends: ./b.yaml\n")
    b.write_text("name: b\nextends: [fedora-x86_64, ./a.yaml]\n")
    assert _load_error(a) == f"{b}:2:26: extends cycle: a -> b -> a"


def test_error_extends_unknown_parent(tmp_path: Path) -> None:
    """An unknown built-in parent gets a suggestion."""
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nextends: fedora-x86\n")
    assert (
        _load_error(path)
        == f"{path}:2:10: extends: unknown profile 'fedora-x86' (did you mean 'fedora-x86_64'?)"
    )


def test_error_bad_size(tmp_path: Path) -> None:
    """`256MB` is not a kernel size: the caret column points at the 'B'."""
    path = tmp_path / "p.yaml"
    path.write_text(
        'name: p\nextends: fedora-x86_64\nestimator:\n  crashplan_margin_fixed: {value: 256MB, source: "guess"}\n'
    )
    assert _load_error(path) == (
        f"{path}:4:39: estimator.crashplan_margin_fixed: bad size '256MB': unexpected 'B' (units are one letter: K, M, G, T, P, E)"
    )


def test_error_yaml_syntax_with_line_and_column(tmp_path: Path) -> None:
    """A YAML syntax error becomes a ProfileError at file:line:col, never a traceback."""
    path = tmp_path / "p.yaml"
    path.write_text("name: p\ndescription: a: b\n")
    assert _load_error(path) == f"{path}:2:15: invalid YAML: mapping values are not allowed here"


def test_error_unclosed_flow_names_its_start(tmp_path: Path) -> None:
    """An unclosed [ is reported where the file ends, naming where the list began."""
    path = tmp_path / "p.yaml"
    path.write_text("name: p\nextends: [fedora-x86_64\n")
    assert _load_error(path) == (
        f"{path}:3:1: invalid YAML: expected ',' or ']', but got '<stream end>' (while parsing a flow sequence that starts at 2:10)"
    )


def test_error_wrong_type_and_arch_that_does_not_fit(tmp_path: Path) -> None:
    """Type errors, an arch that contradicts the parent, an arch-only key and a bad default are all listed."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\n"
        "extends: fedora-aarch64\n"
        "arch: x86_64\n"
        "estimator:\n"
        "  arm64_smmu: {value: 1G, source: s}\n"
        "  crashplan_margin_percent: {value: ten, source: s}\n"
        'default_crashkernel: {value: "2G-64G;256M", source: s}\n'
    )
    assert _load_error(path) == (
        f"{path}:3:7: arch 'x86_64' does not fit 'fedora-aarch64', which is for 'arm64'\n"
        f"{path}:5:23: estimator.arm64_smmu applies to arm64 only, not to x86_64\n"
        f"{path}:6:37: estimator.crashplan_margin_percent: expected a percentage (0-100], not the text 'ten'\n"
        f"{path}:7:33: default_crashkernel: crashkernel: unrecognized char '-' (for x86_64)"
    )


def test_error_aliases_are_refused(tmp_path: Path) -> None:
    """A billion-laughs alias bomb is refused at the first alias, before anything expands."""
    path = tmp_path / "p.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)
    ]
    path.write_text("\n".join(lines) + "\n")
    assert (
        _load_error(path) == f"{path}:2:8: invalid YAML: aliases (*a) are not allowed in profiles"
    )


def test_error_python_tags_are_refused(tmp_path: Path) -> None:
    """Explicit tags such as !!python/object and merge keys are refused, never constructed."""
    path = tmp_path / "p.yaml"
    path.write_text('name: p\ndescription: !!python/object/apply:os.system ["true"]\n')
    assert _load_error(path) == (
        f"{path}:2:14: invalid YAML: the tag tag:yaml.org,2002:python/object/apply:os.system is not allowed in profiles"
    )
    merge = tmp_path / "m.yaml"
    merge.write_text("name: p\n<<: {a: 1}\n")
    assert (
        _load_error(merge)
        == f"{merge}:2:1: invalid YAML: the tag tag:yaml.org,2002:merge is not allowed in profiles"
    )


def test_error_huge_file(tmp_path: Path) -> None:
    """A 10 MB file is refused without being parsed."""
    path = tmp_path / "p.yaml"
    path.write_text("# " + "x" * (10 << 20) + "\n")
    assert (
        _load_error(path)
        == f"{path}: file is larger than 1048576 bytes (1 MiB); a profile is a small text file"
    )


def test_error_binary_junk(tmp_path: Path) -> None:
    """Bytes that are not UTF-8, and control characters, are reported at their position."""
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"name: p\n\x7fELF\x02\x01\x01\x00\xff\xfe")
    assert _load_error(junk) == f"{junk}:2:9: not UTF-8 text (byte 0xff)"
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"name: p\ndescription: a\x00b\n")
    assert _load_error(nul) == f"{nul}:2:15: invalid YAML: character #x0000 is not allowed"


def test_error_deep_nesting(tmp_path: Path) -> None:
    """Deep nesting is refused with a position, not a RecursionError."""
    path = tmp_path / "p.yaml"
    path.write_text("name: p\ndescription: " + "[" * 100_000 + "\n")
    assert _load_error(path) == f"{path}:2:45: invalid YAML: nested deeper than 32 levels"


def test_error_family_file_has_no_arch() -> None:
    """Loading a family file by name says which concrete profiles exist."""
    with pytest.raises(ProfileError) as excinfo:
        load_profile("rhel")
    assert str(excinfo.value) == (
        "rhel.yaml (built-in): profile 'rhel' has no arch (a family file, meant for extends:); "
        "use one of rhel-aarch64, rhel-aarch64-64k, rhel-ppc64le, rhel-s390x, rhel-x86_64"
    )


def test_error_unknown_builtin_name() -> None:
    """An unknown built-in name suggests the closest one."""
    with pytest.raises(ProfileError) as excinfo:
        load_profile("ubuntu-x86_64")
    assert str(excinfo.value) == (
        "ubuntu-x86_64: unknown profile 'ubuntu-x86_64' (did you mean 'ubuntu-amd64'?); "
        "give a built-in profile name or a path to a .yaml file"
    )


def test_error_missing_keys_without_parent(tmp_path: Path) -> None:
    """A profile that extends nothing must give every required value itself."""
    path = tmp_path / "p.yaml"
    path.write_text("name: p\narch: x86_64\n")
    message = _load_error(path)
    assert message.startswith(
        f"{path}: missing description (write it here or extends a profile that has it, such as base-x86_64)\n"
    )
    assert f"{path}: missing estimator.kernel_runtime_base" in message


def test_error_missing_estimate_keys_are_load_errors(tmp_path: Path) -> None:
    """Every key an estimate reads (the ,cma base margin among them) is required at load time, not a KeyError later."""
    path = tmp_path / "p.yaml"
    path.write_text("name: p\narch: x86_64\n")
    message = _load_error(path)
    for key in ("cma_fixed_margin_percent", "cma_fixed_margin_fixed", "kexec_segments", "kdump_userspace", "cma_runtime_extra"):
        assert f"{path}: missing estimator.{key} (write it here" in message, key


def test_problems_are_structured(tmp_path: Path) -> None:
    """The raised error is one ProfileError that holds each problem with its own code and position."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\nextends: fedora-x86_64\nestimator:\n  kernel_bse: 1\n  kexec_segments: {value: 1Q, source: s}\n"
    )
    with pytest.raises(ProfileProblems) as excinfo:
        load_profile(path)
    err = excinfo.value
    assert [(p.code, p.line, p.column) for p in err.problems] == [
        ("profile-unknown-key", 4, 3),
        ("profile-size", 5, 28),
    ]
    assert (err.line, err.column, err.file) == (4, 3, str(path))
    assert err.to_json()["problems"][1]["code"] == "profile-size"  # type: ignore[index]


# --------------------------------------------------------------------------------------------
# Packaging and startup


def test_import_does_not_import_yaml() -> None:
    """`import crashplan.profiles` leaves yaml unimported (it is loaded when a profile is read)."""
    probe = "import sys, crashplan.profiles; print('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_builtin_dir_in_a_checkout_is_the_repo_profiles() -> None:
    """Without packaged data (editable install) the repo-root profiles/ is used."""
    assert Path(str(builtin_profile_dir())).resolve() == (REPO / "profiles").resolve()


@pytest.mark.slow
def test_wheel_ships_the_profiles_and_loads_them(tmp_path: Path) -> None:
    """The wheel holds crashplan/profiles/data/*.yaml, and the unpacked wheel loads them through importlib.resources."""
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(wheels),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"pip wheel failed:\n{build.stdout}\n{build.stderr}")
    (wheel,) = wheels.glob("crashplan-*.whl")
    with zipfile.ZipFile(wheel) as z:
        shipped = {
            n.removeprefix("crashplan/profiles/data/")
            for n in z.namelist()
            if n.startswith("crashplan/profiles/data/")
        }
        z.extractall(tmp_path / "site")
    assert {p.name for p in PROFILE_FILES} <= shipped
    probe = (
        "import sys, crashplan.profiles as p\n"
        "assert p.__file__.startswith(sys.argv[1]), p.__file__\n"
        "assert str(p.builtin_profile_dir()).startswith(sys.argv[1])\n"
        "print(p.load_profile('ubuntu-amd64').default_crashkernel, len(p.list_profiles()))\n"
    )
    site = str(tmp_path / "site")
    out = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {site!r}); exec({probe!r})",
            site,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        load_profile("ubuntu-amd64").default_crashkernel,
        str(len(CONCRETE)),
    ]


def test_profile_is_frozen() -> None:
    """Profiles are immutable values."""
    profile = load_profile("fedora-x86_64")
    with pytest.raises(AttributeError):
        profile.arch = "arm64"  # type: ignore[misc]
    assert isinstance(profile, Profile)


def test_compiled_index_matches_the_yaml_files() -> None:
    """profiles/compiled.json is exactly what compiling the YAML files gives (regenerate: python -m crashplan.profiles compile)."""
    from crashplan.profiles import COMPILED_NAME, compile_builtins

    committed = (REPO / "profiles" / COMPILED_NAME).read_text()
    assert committed == compile_builtins()


def test_compiled_profiles_equal_yaml_profiles() -> None:
    """A profile read from the compiled index equals the one resolved from YAML, sources included."""
    from crashplan.profiles.extends import builtin_from_yaml

    for info in list_profiles():
        a, b = load_profile(info.name), builtin_from_yaml(info.name)
        assert a == b and dict(a.sources) == dict(b.sources)
