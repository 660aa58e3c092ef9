"""Without the kdump initrd, each distribution's typical one: cited sizes, the distribution read from the kernel release when /etc is not captured."""

from __future__ import annotations

from pathlib import Path

import pytest

import crashplan
from crashplan.profiles import load_profile
from crashplan.units import MiB

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
BASE_INITRD = load_profile("base-x86_64").estimator["initrd_size_fallback"]


@pytest.mark.parametrize(
    ("host", "profile", "release"),
    [
        ("coreos-ocp-master-vm", "rhel-x86_64", "4.18.0-80.11.2.el8_0.x86_64"),
        ("twaite-desktop-8g", "ubuntu-amd64", "3.2.0-58-generic"),
        ("vivianchen-qemu-nonroot", "debian-amd64", "5.10.0-10-amd64"),
        ("rhel7-demobuilder-4g-auto161m", "rhel7-x86_64", "3.10.0-229.11.1.el7.x86_64"),
    ],
)
def test_distribution_is_read_from_the_kernel_release_without_os_release(host: str, profile: str, release: str) -> None:
    """A capture without /etc/os-release gets the profile its kernel release names, with the evidence stated."""
    h = crashplan.open_host(str(HOSTS / host))
    assert h.profile.name == profile
    assert h.facts.provenance["distro"] == f"inferred from the kernel release '{release}' (/etc/os-release is absent)"
    assert "distro-inferred" in [f.code for f in h.facts.findings]


def test_os_release_wins_over_the_kernel_release(tmp_path: Path) -> None:
    """os-release, when the capture has it, decides; the kernel release is not consulted."""
    import shutil

    dest = tmp_path / "h"
    shutil.copytree(HOSTS / "coreos-ocp-master-vm", dest)
    (dest / "etc").mkdir(exist_ok=True)
    (dest / "etc" / "os-release").write_text('ID=debian\nVERSION_ID="13"\n')
    h = crashplan.open_host(str(dest))
    assert h.profile.name == "debian-amd64" and h.facts.provenance["distro"] == "/etc/os-release"
    assert "distro-inferred" not in [f.code for f in h.facts.findings]


@pytest.mark.parametrize(
    ("profile", "cited"),
    [
        ("fedora-x86_64", "fedora-coreos-config#3538"),
        ("rhel-x86_64", "kdump-utils#119"),
        ("rhel7-x86_64", "insights-core"),
        ("suse-x86_64", "INIT_KB"),
        ("suse-ppc64le", "INIT_KB for ppc64"),
        ("debian-amd64", "debian-trials"),
    ],
)
def test_each_family_assumes_its_own_typical_kdump_initrd(profile: str, cited: str) -> None:
    """The fallback initrd is the distribution's measured one (cited), smaller than the generic upper end, and unpacked by a measured size."""
    p = load_profile(profile)
    size = p.estimator["initrd_size_fallback"]
    assert 8 * MiB < size < BASE_INITRD
    assert cited in p.source_of("estimator.initrd_size_fallback") + p.source_of("estimator.initrd_tmpfs_fallback")
    assert size < p.estimator["initrd_tmpfs_fallback"] <= 4 * size


def test_rhel7_working_reservation_is_within_the_margin() -> None:
    """RHEL 7's 161M (crashkernel=auto on a 4 GiB host) falls short of the estimate by less than the margin the estimate adds."""
    host = crashplan.open_host(str(HOSTS / "rhel7-demobuilder-4g-auto161m"))
    fp = crashplan.footprint(host)
    margin = fp.recommended_size - fp.total
    assert fp.total - 161 * MiB <= margin
    # The estimate still says what it does not know: the kernel image and the initrd are fallbacks.
    assert {f.code for f in fp.findings} >= {"kernel-size-unknown", "initrd-size-unknown"}
