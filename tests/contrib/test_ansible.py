"""contrib/ansible runs for real with ansible-core against localhost (``connection: local``):
the map runs crashplan per inventory host, the results land on the controller, the reduce
gives the same summary as ``crashplan fleet`` over the same snapshots, and the local-facts
script shows up as ``ansible_local.crashplan``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HOSTS = ROOT / "tests" / "data" / "hosts"
PLAYBOOK = ROOT / "contrib" / "ansible" / "crashplan.yml"
FACT = ROOT / "contrib" / "ansible" / "crashplan.fact"
SCRIPTS = Path(sysconfig.get_path("scripts"))
PLAYBOOK_BIN = SCRIPTS / "ansible-playbook"
CRASHPLAN_BIN = SCRIPTS / "crashplan"
MACHINES = {"db01": "qemu-x86_64-4g-crashkernel-256m", "web01": "twaite-desktop-8g", "web02": "coreos-ocp-master-vm"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PLAYBOOK_BIN.exists(), reason="ansible-core is not installed (pip install '.[test]')"),
]


def _environ(tmp_path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    return dict(
        os.environ,
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / "ansible-remote"),
        ANSIBLE_HOME=str(tmp_path / "ansible-home"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        PWD=str(tmp_path),
        LC_ALL="C.UTF-8",  # ansible-core refuses a non-UTF-8 locale; CI may start with none
        **(env or {}),
    )


def _ansible(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    inventory = tmp_path / "inventory"
    inventory.write_text(
        "[fleet]\n"
        + "".join(f"{name} ansible_connection=local crashplan_args='--source {HOSTS / capture}'\n" for name, capture in MACHINES.items())
        + f"\n[all:vars]\nansible_python_interpreter={sys.executable}\n"
    )
    environ = _environ(tmp_path, env)
    p = subprocess.run(
        [str(PLAYBOOK_BIN), "-i", str(inventory), str(PLAYBOOK), "-e", f"crashplan_bin={CRASHPLAN_BIN}", *extra],
        capture_output=True, text=True, check=False, cwd=tmp_path, env=environ, timeout=300,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def test_playbook_maps_fetches_and_reduces(tmp_path):
    """Three inventory hosts: three result files on the controller, reduced to fleet's own summary."""
    _ansible(tmp_path)
    results = tmp_path / "crashplan-results"
    assert sorted(p.name for p in results.iterdir()) == [f"{name}.json" for name in sorted(MACHINES)]
    reduced = json.loads((tmp_path / "crashplan-fleet.json").read_text())
    direct = subprocess.run(
        [str(CRASHPLAN_BIN), "fleet", *(str(HOSTS / c) for c in MACHINES.values()), "--format", "json"],
        capture_output=True, text=True, check=True,
    )
    assert reduced["summary"] == json.loads(direct.stdout)["summary"]
    assert sorted(h["source"] for h in reduced["hosts"]) == sorted(str(HOSTS / c) for c in MACHINES.values())


def test_local_facts_script_gives_ansible_local_crashplan(tmp_path):
    """With crashplan_install_fact, setup returns ansible_local.crashplan: the host's check result."""
    facts_dir = tmp_path / "facts.d"
    env = {"CRASHPLAN": str(CRASHPLAN_BIN), "CRASHPLAN_ARGS": f"--source {HOSTS / MACHINES['db01']}"}
    _ansible(tmp_path, "-e", "crashplan_install_fact=true", "-e", f"crashplan_facts_dir={facts_dir}", env=env)
    assert (facts_dir / "crashplan.fact").stat().st_mode & 0o111
    p = subprocess.run(
        [str(SCRIPTS / "ansible"), "db01", "-i", str(tmp_path / "inventory"), "-m", "ansible.builtin.setup", "-a", f"filter=ansible_local fact_path={facts_dir}"],
        capture_output=True, text=True, check=False, cwd=tmp_path, env=_environ(tmp_path, env), timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    local = json.loads(p.stdout.split("=>", 1)[1])["ansible_facts"]["ansible_local"]["crashplan"]
    assert local["command"] == "check" and local["host"]["reserved"] == 256 << 20


def test_fact_script_without_crashplan_prints_json(tmp_path):
    """The facts script prints a JSON error envelope, exit 0, when crashplan is not installed."""
    p = subprocess.run(["sh", str(FACT)], capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin", "CRASHPLAN": "no-such-crashplan"})
    assert p.returncode == 0 and json.loads(p.stdout)["errors"][0]["code"] == "not-installed"
