"""An answer is either checked or not printed: recommend, check and simulate agree on real captures.

Every host under tests/data/hosts, every strategy the host supports: what ``recommend`` prints,
fed back to ``check --cmdline`` on the same source, gives no error-level finding.  Hosts where
nothing places are variants derived from the real captures (STYLE 26).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from clirun import run
from hosttrees import has_memory_map

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
HOST_NAMES = sorted(p.name for p in HOSTS.iterdir() if (p / "proc").is_dir())
S390 = HOSTS / "lore-s390x-vm-2g-crash256m"


def _supports_cma(host: Path) -> bool:
    facts = json.loads(run("facts", "--source", str(host), "--format", "json").stdout)
    if facts["kernel_version"] is None or facts["arch"] not in ("x86_64", "ppc64le"):
        return False
    major, minor = map(int, facts["kernel_version"].split("."))
    return (major, minor) >= ((6, 17) if facts["arch"] == "x86_64" else (6, 19))


@pytest.mark.parametrize("strategy", ["standard", "cma", "ranged"])
@pytest.mark.parametrize("name", HOST_NAMES)
def test_recommendation_passes_check(name: str, strategy: str) -> None:
    """What recommend prints, check --cmdline on the same source accepts without an error-level finding."""
    host = HOSTS / name
    if strategy == "cma" and not _supports_cma(host):
        r = run("recommend", "--source", str(host), "--strategy", "cma", "--format", "cmdline")
        assert r.exit_code == 2 and "cma" in r.stderr and r.stdout == ""
        return
    r = run("recommend", "--source", str(host), "--strategy", strategy, "--format", "cmdline")
    if not has_memory_map(host):
        # Placement cannot be checked without the addresses: no number, and what would help.
        assert r.exit_code == 3 and r.stdout == "" and "root" in r.stderr, r.stderr
        return
    assert r.exit_code == 0, r.stderr
    cmdline = r.stdout.strip()
    c = run("check", "--source", str(host), "--cmdline", cmdline, "--format", "json")
    out = json.loads(c.stdout)
    errors = [f for f in out["findings"] if f["severity"] == "error"]
    assert errors == [] and c.exit_code == 0, (cmdline, errors)


def _s390_with_ram(tmp_path: Path, ram_end: int) -> Path:
    """The real s390x guest's map with its RAM cut to ``ram_end`` bytes and no reservation."""
    dest = tmp_path / "s390x"
    shutil.copytree(S390, dest)
    lines = (S390 / "proc" / "iomem").read_text().splitlines(keepends=True)
    kept = [f"00000000-{ram_end - 1:08x} : System RAM\n", *(x for x in lines[1:] if x.startswith(" "))]
    (dest / "proc" / "iomem").write_text("".join(kept))
    return dest


def test_nothing_places_is_exit_3(tmp_path: Path) -> None:
    """On a 1 GiB s390x guest the need cannot be placed (s390 puts the area at or above its own size): exit 3, no number."""
    host = _s390_with_ram(tmp_path, 1 << 30)
    r = run("recommend", "--source", str(host), "--format", "cmdline")
    assert r.exit_code == 3 and r.stdout == ""
    assert "no crashkernel= both places and covers" in r.stderr
    assert "does-not-place" in r.stderr and "--initrd" in r.stderr and "--arch" in r.stderr


def test_nothing_places_json_envelope(tmp_path: Path) -> None:
    """The refusal is a JSON error envelope with the stable code no-plan."""
    host = _s390_with_ram(tmp_path, 1 << 30)
    r = run("recommend", "--source", str(host), "--format", "json")
    assert r.exit_code == 3
    out = json.loads(r.stdout)
    assert out["status"] == "error" and out["errors"][0]["code"] == "no-plan"


@pytest.mark.parametrize("strategy", ["standard", "ranged", "auto"])
def test_unknown_system_ram_is_exit_3(tmp_path: Path, strategy: str) -> None:
    """A capture without iomem or meminfo (buddyinfo only) gets no number: system RAM is unknown."""
    dest = tmp_path / "buddy"
    (dest / "proc").mkdir(parents=True)
    shutil.copy(HOSTS / "twaite-desktop-8g" / "proc" / "buddyinfo", dest / "proc" / "buddyinfo")
    r = run("recommend", "--source", str(dest), "--strategy", strategy, "--format", "cmdline")
    assert r.exit_code == 3 and r.stdout == ""
    assert "system RAM is unknown" in r.stderr or "architecture is unknown" in r.stderr


def test_tiny_x86_guest_gets_no_number(tmp_path: Path) -> None:
    """The real 4 GiB QEMU guest cut to 384 MiB: the need does not fit (every row 'never'), so exit 3, no number."""
    src = HOSTS / "qemu-x86_64-4g-no-crashkernel"
    dest = tmp_path / "tiny"
    shutil.copytree(src, dest)
    iomem = dest / "proc" / "iomem"
    text = iomem.read_text().replace("00100000-bffdffff : System RAM", "00100000-17ffffff : System RAM")
    iomem.write_text("".join(x for x in text.splitlines(keepends=True) if not x.startswith("100000000-13fffffff")))
    for strategy in ("standard", "ranged", "auto"):
        # The generic profile's need (its kdump initrd unknown, at the upper end) cannot fit in 384 MiB.
        r = run("recommend", "--source", str(dest), "--strategy", strategy, "--format", "cmdline", "--profile", "base-x86_64")
        assert r.exit_code == 3 and r.stdout == "", (strategy, r.stdout)
        assert "no crashkernel= both places and covers" in r.stderr
        assert re.search(r"the largest area that always fits is [\d.]+ [KMG]?i?B;", r.stderr), r.stderr


def test_meminfo_only_capture_needs_arch(tmp_path: Path) -> None:
    """A meminfo-only paste: no architecture, so exit 3 naming --arch; with --arch no number either (nothing to place it in), but the need and what would help."""
    dest = tmp_path / "meminfo-only"
    (dest / "proc").mkdir(parents=True)
    shutil.copy(HOSTS / "twaite-desktop-8g" / "proc" / "meminfo", dest / "proc" / "meminfo")
    r = run("recommend", "--source", str(dest), "--format", "cmdline")
    assert r.exit_code == 3 and r.stdout == "" and "give --arch" in r.stderr and "(unknown:" not in r.stderr
    no = run("recommend", "--source", str(dest), "--arch", "x86_64", "--format", "json")
    out = json.loads(no.stdout)
    assert no.exit_code == 3 and out["errors"][0]["code"] == "no-plan"
    assert "the source has no /proc/iomem" in no.stderr and "estimated need is" in no.stderr and "as root" in no.stderr
    fp = json.loads(run("footprint", "--source", str(dest), "--arch", "x86_64", "--format", "json").stdout)
    assert fp["system_ram"] > 0 and fp["footprint"]["total"] > 0  # the need itself is still there


@pytest.mark.parametrize("name", HOST_NAMES)
def test_recommendation_passes_check_under_every_arch_and_kernel(name: str) -> None:
    """The loop of point 1 under --arch and --kernel-version overrides: never an answer check rejects, never a traceback."""
    for arch in (None, "arm64", "ppc64le", "s390x", "riscv64", "loongarch64"):
        for version in ("3.10", "6.1", "6.17", "7.3"):
            extra = ["--kernel-version", version] + (["--arch", arch] if arch else [])
            for strategy in ("standard", "cma", "ranged"):
                r = run("recommend", "--source", str(HOSTS / name), "--strategy", strategy, "--format", "cmdline", *extra)
                if r.exit_code != 0:
                    assert r.exit_code in (2, 3) and r.stdout == "" and "Traceback" not in r.stderr
                    continue
                c = run("check", "--source", str(HOSTS / name), "--cmdline", r.stdout.strip(), "--format", "json", *extra)
                errors = [f for f in json.loads(c.stdout)["findings"] if f["severity"] == "error"]
                assert errors == [], (arch, version, strategy, r.stdout, errors)


def test_auto_falls_back_to_standard_when_cma_does_not_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto picks ,cma on the 7.3 guest; if check rejected that setup, auto answers with the standard one instead of refusing."""
    import crashplan
    from crashplan.planning import check as rec
    from crashplan.values import Finding

    real = rec.check_cmdline

    def rejecting_cma(cmdline: str, *args: object, **kwargs: object) -> tuple[Finding, ...]:
        found = real(cmdline, *args, **kwargs)  # type: ignore[arg-type]
        return (*found, Finding("error", "does-not-cover", "test")) if ",cma" in cmdline else found

    host = crashplan.open_host(str(HOSTS / "qemu-x86_64-4g-no-crashkernel"))
    assert crashplan.recommend(host, strategy="auto").strategy == "cma"
    monkeypatch.setattr(rec, "check_cmdline", rejecting_cma)
    plan = crashplan.recommend(host, strategy="auto")
    assert plan.strategy == "standard" and ",cma" not in plan.cmdline
    assert "the ,cma setup does not pass check on this host" in plan.reason
    with pytest.raises(crashplan.NoPlanError):
        crashplan.recommend(host, strategy="cma")
