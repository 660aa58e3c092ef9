"""Every ``--format json`` output of every command validates against its shipped JSON Schema.

The outputs are real: each command run through ``main()`` on the captured hosts of
``tests/data/hosts`` (and on this host), errors included.  ``jsonschema`` is a test dependency
only; a test checks that crashplan itself never imports it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from clirun import run
from jsonschema import Draft202012Validator

from crashplan.cli import cli
from crashplan.schemas import COMMAND_SCHEMAS, load_schema, schema_names

HOSTS = Path(__file__).parents[1] / "data" / "hosts"
HOST_NAMES = sorted(p.name for p in HOSTS.iterdir() if (p / "proc").is_dir())
REPO = Path(__file__).parents[2]


def validate(name: str, text: str) -> dict:
    """Parse one JSON document (strict UTF-8 round trip) and validate it against schema ``name``."""
    text.encode("utf-8")
    doc = json.loads(text)
    errors = sorted(Draft202012Validator(load_schema(name)).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    return doc


def test_every_schema_is_a_valid_draft_2020_12_schema():
    """Each shipped schema passes the 2020-12 meta-schema and names its draft."""
    for name in schema_names():
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_every_json_command_has_a_schema():
    """Each command with a json format (and snapshot, for its metadata) maps onto a shipped schema."""
    with_json = {
        name
        for name, command in cli.commands.items()
        if any(o.name == "fmt" and "json" in getattr(o.type, "choices", ()) for o in command.params)
    }
    assert with_json | {"snapshot"} == set(COMMAND_SCHEMAS)
    assert set(COMMAND_SCHEMAS.values()) <= set(schema_names())


@pytest.mark.parametrize("host", HOST_NAMES)
@pytest.mark.parametrize(
    "command",
    [
        ("facts",),
        ("footprint",),
        ("recommend",),
        ("check",),
        ("check", "--cmdline", "crashkernel=1G,cma crashkernel=256M"),
        ("simulate", "crashkernel=512M,high"),
    ],
    ids=lambda c: "-".join(c).replace("=", "").replace(" ", "")[:30],
)
def test_command_output_on_real_captures_validates(host, command):
    """The JSON of each host command on each captured host follows the command's schema."""
    code, out, _ = run(*command, "--source", str(HOSTS / host), "--format", "json")
    doc = validate(COMMAND_SCHEMAS[command[0]], out)
    assert doc["exit_code"] == code


@pytest.mark.parametrize(
    "args",
    [
        ("explain", "crashkernel=256M"),
        ("explain", "crashkernel=1G-4G:192M,4G-:256M", "--ram", "16G"),
        ("explain", "crashkernel=256MB", "--ram", "4G"),
        ("explain", "crashkernel=1G,cma crashkernel=256M", "--ram", "16G", "--kernel-version", "6.16"),
        ("profiles",),
        ("profiles", "show", "fedora-x86_64"),
        ("profiles", "show", "ubuntu-amd64"),
        ("fleet", *(str(HOSTS / h) for h in HOST_NAMES)),
    ],
    ids=lambda a: "-".join(a)[:30],
)
def test_other_commands_validate(args):
    """explain (table, resolved, syntax error), profiles (list, show) and fleet follow their schemas."""
    code, out, _ = run(*args, "--format", "json")
    doc = validate(COMMAND_SCHEMAS[args[0]], out)
    assert doc["exit_code"] == code


def test_fleet_jsonl_lines_validate():
    """Every line of fleet --format jsonl is a host result or the summary."""
    _, out, _ = run("fleet", *(str(HOSTS / h) for h in HOST_NAMES), "--format", "jsonl")
    lines = out.splitlines()
    assert len(lines) == len(HOST_NAMES) + 1
    for line in lines:
        validate("fleet-line", line)
    assert "summary" in json.loads(lines[-1])


def test_explain_batch_lines_validate():
    """Each line of explain --batch is an explain envelope, good or bad."""
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("crashkernel=256M\ncrashkernel=1G-:\nro quiet crashkernel=512M,high\n")
    _, out, _ = run("explain", "--batch", f.name, "--ram", "8G")
    for line in out.splitlines():
        validate("explain", line)


@pytest.mark.parametrize(
    "args",
    [
        ("facts", "--source", "/nonexistent/crashplan"),
        ("recommend", "--source", "/nonexistent/crashplan"),
        ("check", "--source", "/nonexistent/crashplan"),
        ("simulate", "crashkernel=256M", "--source", str(HOSTS / "vivianchen-qemu-nonroot")),
    ],
    ids=lambda a: "-".join(a)[:30],
)
def test_error_envelopes_validate(args):
    """A failed command's envelope follows both the generic error schema and its command's."""
    code, out, _ = run(*args, "--format", "json")
    assert code == 3
    doc = validate("error", out)
    validate(COMMAND_SCHEMAS[args[0]], json.dumps(doc))


def test_live_host_outputs_validate():
    """facts and check of this host (whatever it is) follow their schemas."""
    for command in ("facts", "check"):
        code, out, _ = run(command, "--format", "json")
        if code == 3:
            pytest.skip(f"this host cannot be read: {out[:200]}")
        validate(command, out)


def test_snapshot_metadata_validates(tmp_path):
    """crashplan-snapshot.json written by crashplan snapshot (of a capture and of this host) follows the snapshot schema."""
    for i, source in enumerate((str(HOSTS / "qemu-x86_64-4g-crashkernel-256m"), None)):
        dest = tmp_path / f"snap{i}"
        code, _, err = run("snapshot", "-o", str(dest), *(("--source", source) if source else ()))
        assert code == 0, err
        validate("snapshot", (dest / "crashplan-snapshot.json").read_text(encoding="utf-8"))


def test_schema_command_prints_self_contained_schemas():
    """crashplan schema NAME prints a schema whose every $ref resolves inside it; no NAME lists them."""
    code, out, _ = run("schema")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == list(schema_names())
    for name in schema_names():
        code, out, _ = run("schema", name)
        schema = json.loads(out)
        refs = {r.split("/")[-1] for r in _refs(schema)}
        assert refs <= set(schema.get("$defs", {})), name
    code, _, err = run("schema", "nope")
    assert code == 2 and "no schema 'nope'" in err


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [*([node["$ref"]] if "$ref" in node else []), *(r for v in node.values() for r in _refs(v))]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_crashplan_never_imports_jsonschema():
    """Running commands (schema included) does not import jsonschema: it is a test dependency only."""
    probe = "import sys\nfrom crashplan.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\nprint('jsonschema' in sys.modules, file=sys.stderr)"
    for args in (["schema", "check"], ["check", "--source", str(HOSTS / "twaite-desktop-8g"), "--format", "json"]):
        p = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=False)
        assert p.stderr.strip().splitlines()[-1] == "False"


@pytest.mark.slow
def test_wheel_ships_the_schemas(tmp_path):
    """The wheel holds crashplan/schemas/*.json and the unpacked wheel loads them."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = tmp_path.glob("crashplan-*.whl")
    with zipfile.ZipFile(wheel) as z:
        shipped = {n for n in z.namelist() if n.startswith("crashplan/schemas/")}
        z.extractall(tmp_path / "site")
    assert {f"crashplan/schemas/{n}.json" for n in schema_names()} | {"crashplan/schemas/_common.json"} <= shipped
    site = str(tmp_path / "site")
    probe = f"import sys; sys.path.insert(0, {site!r}); import crashplan.schemas as s; assert s.__file__.startswith({site!r}); print(len(s.load_schema('check')['$defs']))"
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=False, cwd=tmp_path)
    assert out.returncode == 0 and int(out.stdout) > 5, out.stderr


def _strings(value: object) -> str:
    """Every string inside a JSON value, joined (to look for a text anywhere in it)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_strings(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_strings(v) for v in value)
    return ""


def test_output_is_valid_utf8_for_undecodable_host_bytes(tmp_path):
    """A /proc/cmdline with bytes that are not UTF-8: the JSON and the metrics are valid UTF-8
    (each such byte written as the text \\xNN, as messages show it), and valid."""
    import shutil

    src = tmp_path / "host"
    shutil.copytree(HOSTS / "qemu-x86_64-4g-crashkernel-256m", src)
    (src / "proc" / "cmdline").write_bytes(b"console=ttyS0 x=\xff\xfe crashkernel=256M\n")
    for command in ("facts", "check", "recommend"):
        _, out, _ = run(command, "--source", str(src), "--format", "json")
        doc = validate(command, out)
        if command != "recommend":
            assert r"x=\xff\xfe" in _strings(doc)
    _, out, _ = run("facts", "--source", str(src), "--format", "prometheus")
    out.encode("utf-8")


def test_fleet_with_a_failed_host_says_so_in_its_envelope():
    """fleet over a good and a missing snapshot: exit 3, and the envelope says 3 with the host's error."""
    code, out, _ = run("fleet", str(HOSTS / "twaite-desktop-8g"), "/nonexistent/crashplan-host", "--format", "json")
    doc = validate("fleet", out)
    assert code == 3 and doc["exit_code"] == 3 and doc["status"] == "error"
    assert [e["code"] for e in doc["errors"]] == ["host-failed"]
