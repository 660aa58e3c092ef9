"""``crashplan facts`` and ``crashplan snapshot`` through the CLI: outputs, the JSON contract,
exit codes for broken sources, the snapshot round trip on this machine, and a light --help."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import run

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
HOST_NAMES = sorted(p.name for p in HOSTS.iterdir() if (p / "proc").is_dir())
README = Path(__file__).parents[2] / "README.md"

# key -> allowed JSON types of the value
CONTRACT: dict[str, tuple[type, ...]] = {
    "crashplan_result_version": (int,),
    "command": (str,),
    "status": (str,),
    "exit_code": (int,),
    "source": (str,),
    "arch": (str, type(None)),
    "kernel_version": (str, type(None)),
    "kernel_release": (str, type(None)),
    "page_size": (int, type(None)),
    "system_ram": (int, type(None)),
    "system_ram_estimated": (bool,),
    "mem_total": (int, type(None)),
    "addresses_visible": (bool,),
    "reservation": (dict,),
    "cmdline": (str, type(None)),
    "cmdline_crashkernel": (dict, type(None)),
    "ram": (list,),
    "kernel_image": (dict, type(None)),
    "reserved": (list,),
    "cpus": (dict,),
    "numa_nodes": (list, type(None)),
    "zones": (list,),
    "distro": (dict, type(None)),
    "kdump": (dict, type(None)),
    "boot_files": (dict,),
    "platform": (dict,),
    "absent": (list,),
    "provenance": (dict,),
    "findings": (list,),
    "errors": (list,),
}
RESERVATION: dict[str, tuple[type, ...]] = {
    "regions": (list,),
    "total": (int, type(None)),
    "kexec_crash_size": (int, type(None)),
    "kexec_crash_loaded": (bool, type(None)),
    "cma_total": (int, type(None)),
    "cma_ranges": (list, type(None)),
}
DECISION_KEYS = {"ok", "crash_size", "crash_base", "low_size", "cma_size", "high", "error"}


def _is_range(item: object) -> bool:
    return (
        isinstance(item, dict)
        and {"start", "end", "size"} <= item.keys()
        and item["end"] - item["start"] == item["size"] > 0
    )


@pytest.mark.parametrize("name", HOST_NAMES)
def test_facts_json_contract(name: str) -> None:
    """Every host's JSON has the documented keys with the documented types."""
    r = run("facts", "--source", str(HOSTS / name), "--format", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out.keys() == CONTRACT.keys()
    for key, types in CONTRACT.items():
        assert isinstance(out[key], types), key
    assert (out["crashplan_result_version"], out["command"], out["status"], out["exit_code"]) == (1, "facts", "ok", 0)
    assert out["kernel_version"] is None or re.fullmatch(r"\d+\.\d+", out["kernel_version"])
    res = out["reservation"]
    assert res.keys() == RESERVATION.keys()
    for key, types in RESERVATION.items():
        assert isinstance(res[key], types), key
    for region in res["regions"]:
        assert region["name"] in ("crashkernel", "crashkernel-low") and _is_range(region)
    if res["regions"]:
        assert res["total"] == sum(region["size"] for region in res["regions"])
    assert all(_is_range(item) for item in out["ram"] + out["reserved"] + (res["cma_ranges"] or []))
    assert out["kernel_image"] is None or _is_range(out["kernel_image"])
    assert out["cmdline_crashkernel"] is None or out["cmdline_crashkernel"].keys() == DECISION_KEYS
    assert out["cpus"].keys() == {"online", "possible"}
    assert out["boot_files"].keys() == {"kernel", "initrd"}
    assert all(isinstance(v, str) for v in out["provenance"].values())
    assert all({"severity", "code", "message"} <= f.keys() for f in out["findings"])
    assert r.stderr == ""


@pytest.mark.parametrize("name", HOST_NAMES)
def test_facts_text_names_the_source_of_every_fact(name: str) -> None:
    """The text output lists every fact with a 'from:' line carrying its provenance."""
    r = run("facts", "--source", str(HOSTS / name))
    assert r.exit_code == 0, r.stderr
    provenance = json.loads(run("facts", "--source", str(HOSTS / name), "--format", "json").stdout)["provenance"]
    for key, where in provenance.items():
        if key in ("buddyinfo", "dmesg"):
            continue  # not shown in text: they are for placement
        assert f"from: {where}" in " ".join(r.stdout.split()), key
    assert max(len(line) for line in r.stdout.splitlines()[1:] if " " in line.strip()) <= 80
    assert r.stdout.startswith(f"crashplan facts: {HOSTS / name}\n")


def test_facts_text_of_the_hpe_server() -> None:
    """The two crash regions appear by name with their half-open hex ranges."""
    r = run("facts", "--source", str(HOSTS / "lore-x86-hpe-xeon-32g-crash-low256m-high512m"))
    assert "crashkernel-low [0x69000000, 0x79000000) 256 MiB" in r.stdout
    assert "crashkernel [0x858000000, 0x878000000) 512 MiB" in r.stdout
    assert "768 MiB (805306368 bytes)" in r.stdout


def test_facts_non_root_finding_in_text() -> None:
    """The non-root capture's notice is in the text output's findings."""
    r = run("facts", "--source", str(HOSTS / "vivianchen-qemu-nonroot"))
    assert "warning iomem-addresses-hidden: placement needs a root capture: run as root or use a root snapshot" in " ".join(r.stdout.split())
    assert "(estimated)" in r.stdout


# --------------------------------------------------------------------------------------------
# Broken sources: exit 3 and one clear line naming the file


def _broken(tmp_path: Path, relpath: str, edit: object) -> Path:
    tree = tmp_path / "host"
    shutil.copytree(HOSTS / "qemu-x86_64-4g-crashkernel-256m", tree)
    path = tree / relpath
    path.write_text(edit(path.read_text()))  # type: ignore[operator]
    return tree


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_error_truncated_iomem_exit_3_one_line(tmp_path: Path, fmt: str) -> None:
    """An iomem cut mid-line: exit 3, one stderr line naming the file and line, no traceback."""
    tree = _broken(tmp_path, "proc/iomem", lambda t: t[: t.index("Crash kernel") + 5])
    r = run("facts", "--source", str(tree), "--format", fmt)
    assert r.exit_code == 3
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"crashplan: error: {tree / 'proc/iomem'}:15: last line is not terminated")
    if fmt == "json":
        envelope = json.loads(r.stdout)
        assert envelope["status"] == "error" and envelope["exit_code"] == 3
        assert envelope["errors"][0]["path"] == str(tree / "proc/iomem") and envelope["errors"][0]["line"] == 15


def test_error_garbled_meminfo_exit_3_one_line(tmp_path: Path) -> None:
    """A garbled meminfo counter: exit 3 and one line naming meminfo and the line."""
    tree = _broken(tmp_path, "proc/meminfo", lambda t: t.replace("MemTotal:        3745732 kB", "MemTotal:        3745732 KB"))
    r = run("facts", "--source", str(tree))
    assert r.exit_code == 3 and r.stdout == ""
    assert r.stderr == f"crashplan: error: {tree / 'proc/meminfo'}:1: unsupported unit 'KB' for MemTotal (expected 'kB')\n"


def test_error_missing_source_exit_3(tmp_path: Path) -> None:
    """A --source that does not exist is bad input (exit 3), not a traceback."""
    r = run("facts", "--source", str(tmp_path / "nope"))
    assert r.exit_code == 3 and "no such file or directory" in r.stderr


# --------------------------------------------------------------------------------------------
# Snapshots of this machine


def _summary(out: dict[str, object]) -> dict[str, object]:
    return {"arch": out["arch"], "reservation": out["reservation"], "kernel_release": out["kernel_release"]}


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.exists("/proc/iomem"), reason="needs a live Linux /proc")
def test_snapshot_round_trip_on_this_machine(tmp_path: Path) -> None:
    """Captured as a directory and as .tar.zst, the snapshot gives the live facts back."""
    live = json.loads(run("facts", "--format", "json").stdout)
    for dest in (tmp_path / "snap", tmp_path / "snap.tar.zst"):
        r = run("snapshot", "-o", str(dest))
        assert r.exit_code == 0, r.stderr
        assert r.stdout == f"{dest}\n"
        back = json.loads(run("facts", "--source", str(dest), "--format", "json").stdout)
        assert _summary(back) == _summary(live)
        assert back["boot_files"] == live["boot_files"]
        assert back["page_size"] == live["page_size"]
        if live["addresses_visible"]:
            assert back["system_ram"] == live["system_ram"] and back["ram"] == live["ram"]
        else:  # MemTotal moves a little between two reads
            assert abs(back["system_ram"] - live["system_ram"]) <= live["system_ram"] // 100
            assert "captured without root" in r.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux") or not os.path.exists("/proc/iomem"), reason="needs a live Linux /proc")
def test_snapshot_refuses_to_overwrite_without_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default name is crashplan-snapshot-HOST-TIME in the cwd; a second capture needs --force."""
    monkeypatch.chdir(tmp_path)
    r = run("snapshot")
    assert r.exit_code == 0, r.stderr
    written = r.stdout.strip()
    assert re.fullmatch(r"crashplan-snapshot-[A-Za-z0-9._-]+-\d{8}T\d{6}Z", written)
    assert (tmp_path / written / "crashplan-snapshot.json").is_file()
    again = run("snapshot", "-o", written)
    assert again.exit_code == 3 and again.stdout == ""
    assert again.stderr == f"crashplan: error: {written}: already exists (choose another name, or replace it with --force)\n"
    assert run("snapshot", "-o", written, "--force").exit_code == 0


def test_snapshot_of_a_snapshot_source(tmp_path: Path) -> None:
    """--source copies another tree; its facts survive the copy unchanged."""
    source = HOSTS / "qemu-x86_64-4g-crashkernel-256m"
    r = run("snapshot", "--source", str(source), "-o", str(tmp_path / "copy.tar.gz"))
    assert r.exit_code == 0, r.stderr
    original = json.loads(run("facts", "--source", str(source), "--format", "json").stdout)
    copy = json.loads(run("facts", "--source", str(tmp_path / "copy.tar.gz"), "--format", "json").stdout)
    for key in ("arch", "system_ram", "reservation", "ram", "zones", "cmdline_crashkernel", "kernel_release"):
        assert copy[key] == original[key], key


# --------------------------------------------------------------------------------------------
# Help, docs and startup cost

HEAVY = ("rich", "yaml", "psutil")
PROBE = """
import sys, json
from crashplan.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.flush()
print(json.dumps([m for m in HEAVY if m in sys.modules]), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


@pytest.mark.parametrize("command", ["facts", "snapshot"])
def test_help_does_not_import_heavy_modules(command: str) -> None:
    """`crashplan facts --help` and `crashplan snapshot --help` import none of rich, yaml, psutil."""
    p = subprocess.run([sys.executable, "-c", PROBE, command, "--help"], capture_output=True, text=True, check=False)
    assert "Example:" in p.stdout
    assert json.loads(p.stderr.strip().splitlines()[-1]) == []


def test_facts_on_a_tree_does_not_import_heavy_modules() -> None:
    """Reading a snapshot needs no psutil, rich or yaml (psutil is for the live host only)."""
    tree = str(HOSTS / "qemu-x86_64-4g-crashkernel-256m")
    p = subprocess.run([sys.executable, "-c", PROBE, "facts", "--source", tree, "--format", "json"], capture_output=True, text=True, check=False)
    assert json.loads(p.stderr.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("command", ["facts", "snapshot"])
def test_command_is_documented_in_readme(command: str) -> None:
    """Each command has a README section under "## Commands"."""
    text = README.read_text()
    assert f"### `crashplan {command}`" in text


def test_error_not_a_host_tree(tmp_path):
    """A directory with none of the core /proc files is not a host: exit 3 and one line."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "hostname").write_text("x\n")
    p = subprocess.run([sys.executable, "-m", "crashplan", "facts", "--source", str(tmp_path)], capture_output=True, text=True, check=False)
    assert p.returncode == 3
    assert p.stderr.startswith(f"crashplan: error: {tmp_path}: not a host tree: none of the /proc, /sys or /etc files")
