"""``--format prometheus`` parses with prometheus_client's own parser, and ``--output`` writes
atomically (temp file + rename in the same directory) or not at all."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from clirun import run
from prometheus_client.parser import text_string_to_metric_families

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
HOST_NAMES = sorted(p.name for p in HOSTS.iterdir() if (p / "proc").is_dir())
RESERVED = HOSTS / "qemu-x86_64-4g-crashkernel-256m"


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample by metric name, through prometheus_client's parser (which raises on bad text)."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.documentation
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


@pytest.mark.parametrize("host", HOST_NAMES)
@pytest.mark.parametrize("command", ["check", "facts"])
def test_output_parses_on_every_capture(host, command):
    """check and facts --format prometheus of every captured host parse, with the info and RAM metrics."""
    code, out, _ = run(command, "--source", str(HOSTS / host), "--format", "prometheus")
    assert code in (0, 4)
    got = samples(out)
    assert got["crashplan_info"][0][0]["source"] == str(HOSTS / host)
    if command == "check":
        assert got["crashplan_check_ok"] == [({}, 1.0 if code == 0 else 0.0)]


def test_check_metrics_of_the_reserved_boot():
    """The real crashkernel=256M boot: reserved, asked, needed bytes and the does-not-cover finding."""
    _, out, _ = run("check", "--source", str(RESERVED), "--format", "prometheus", "--profile", "base-x86_64")
    got = samples(out)
    assert got["crashplan_crashkernel_reserved_bytes"] == [({}, 256 << 20)]
    assert got["crashplan_crashkernel_asked_bytes"] == [({}, 256 << 20)]
    assert got["crashplan_crashkernel_needed_bytes"][0][1] > 256 << 20
    assert ({"scope": "checked", "code": "does-not-cover", "severity": "error"}, 1.0) in got["crashplan_check_findings"]
    assert "crashplan_crash_kernel_loaded" not in got  # the capture has no kexec_crash_loaded: absent, not 0


def test_not_loaded_is_a_zero_and_a_host_finding(tmp_path):
    """With kexec_crash_loaded 0 the metric is 0 and the not-loaded finding is counted under scope host."""
    src = tmp_path / "host"
    shutil.copytree(RESERVED, src)
    (src / "sys/kernel/kexec_crash_loaded").write_text("0\n")
    _, out, _ = run("check", "--source", str(src), "--format", "prometheus")
    got = samples(out)
    assert got["crashplan_crash_kernel_loaded"] == [({}, 0.0)]
    assert ({"scope": "host", "code": "not-loaded", "severity": "error"}, 1.0) in got["crashplan_check_findings"]


def test_label_values_are_escaped(tmp_path):
    """A source path with a quote, a backslash and a newline still parses and round-trips in the label."""
    odd = tmp_path / 'we"ird\\dir\nx'
    shutil.copytree(RESERVED, odd)
    _, out, _ = run("facts", "--source", str(odd), "--format", "prometheus")
    assert samples(out)["crashplan_info"][0][0]["source"] == str(odd)


def test_output_is_written_atomically(tmp_path, monkeypatch):
    """--output writes the file through a temporary sibling renamed over it; stdout stays empty."""
    target = tmp_path / "crashplan.prom"
    target.write_text("old\n")
    renames: list[tuple[str, str]] = []
    real = os.replace

    def spy(a, b):
        renames.append((str(a), str(b)))
        assert Path(a).parent == tmp_path and Path(a).name.startswith(".")  # a dot file: the collector skips it
        return real(a, b)

    monkeypatch.setattr(os, "replace", spy)
    code, out, _ = run("check", "--source", str(RESERVED), "--format", "prometheus", "--output", str(target), "--profile", "base-x86_64")
    assert code == 4 and out == ""
    assert renames and renames[-1][1] == str(target)
    assert "crashplan_check_ok 0" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crashplan.prom"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_output_in_a_missing_directory_is_bad_input(tmp_path):
    """--output in a directory that does not exist: exit 3, one line on stderr, nothing written."""
    target = tmp_path / "missing" / "crashplan.prom"
    code, out, err = run("facts", "--source", str(RESERVED), "--format", "prometheus", "--output", str(target))
    assert code == 3 and out == ""
    assert err == f"crashplan: error: {target}: the directory does not exist; nothing written\n"
    assert not (tmp_path / "missing").exists()
