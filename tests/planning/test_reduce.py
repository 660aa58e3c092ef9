"""``crashplan fleet`` over per-host JSON results: the same summary as from the snapshots,
streamed, with every bad result reported per file while the others go on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run
from hosttrees import has_memory_map
from jsonschema import Draft202012Validator

from crashplan.planning.reduce import FleetReducer, iter_results
from crashplan.schemas import load_schema

HOSTS = Path(__file__).parents[1] / "data" / "hosts"


# The captures recommend answers for: those with a memory map to place in (root, /proc/iomem).
HOST_PATHS = sorted(str(p) for p in HOSTS.iterdir() if (p / "proc").is_dir() and has_memory_map(p))


@pytest.fixture(scope="module")
def snapshot_fleet() -> dict:
    code, out, err = run("fleet", *HOST_PATHS, "--format", "json")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def recommend_dir(tmp_path_factory) -> Path:
    """One recommend --format json file per captured host, as Ansible's fetch leaves them."""
    d = tmp_path_factory.mktemp("results")
    for path in HOST_PATHS:
        code, out, err = run("recommend", "--source", path, "--format", "json")
        assert code == 0, err
        (d / f"{Path(path).name}.json").write_text(out)
    return d


def test_recommend_results_reduce_to_the_snapshot_summary(snapshot_fleet, recommend_dir):
    """A directory of recommend results gives exactly the summary fleet computes from the snapshots."""
    code, out, err = run("fleet", str(recommend_dir), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    Draft202012Validator(load_schema("fleet")).validate(doc)
    assert doc["summary"] == snapshot_fleet["summary"]
    assert sorted(h["cmdline"] for h in doc["hosts"]) == sorted(h["cmdline"] for h in snapshot_fleet["hosts"])


def test_jsonl_on_stdin_reduces_to_the_same_summary(snapshot_fleet):
    """fleet --format jsonl piped into fleet - gives the same summary (its summary line is skipped)."""
    _, lines, _ = run("fleet", *HOST_PATHS, "--format", "jsonl")
    code, out, err = run("fleet", "-", "--format", "jsonl", stdin=lines)
    assert code == 0, err
    assert json.loads(out.splitlines()[-1])["summary"] == snapshot_fleet["summary"]
    assert len(out.splitlines()) == len(HOST_PATHS) + 1


def test_check_results_reduce(tmp_path):
    """check --format json results reduce too: the need and the current reservation of each host."""
    for path in HOST_PATHS:
        _, out, _ = run("check", "--source", path, "--format", "json")
        (tmp_path / f"{Path(path).name}.json").write_text(out)
    code, out, err = run("fleet", str(tmp_path), "--format", "json")
    assert code == 0, err
    summary = json.loads(out)["summary"]
    assert summary["hosts"] == len(HOST_PATHS) and summary["failed"] == 0 and summary["ranged_covers"] is True


def test_bad_results_are_reported_per_file_and_the_others_go_on(recommend_dir, tmp_path, snapshot_fleet):
    """Garbled, other-version and duplicate results: one line each on stderr, exit 3, the rest reduced."""
    d = tmp_path / "mixed"
    d.mkdir()
    for f in recommend_dir.iterdir():
        (d / f.name).write_text(f.read_text())
    (d / "zz-dup.json").write_text((recommend_dir / "twaite-desktop-8g.json").read_text())
    (d / "garbled.json").write_text('{"crashplan_result_version": 1, "comm')
    (d / "v2.json").write_text('{"crashplan_result_version": 2, "command": "recommend"}')
    (d / "facts.json").write_text('{"crashplan_result_version": 1, "command": "facts", "status": "ok"}')
    (d / "binary.json").write_bytes(b"\xff\xfe{}")
    code, out, err = run("fleet", str(d), "--format", "json")
    assert code == 3
    doc = json.loads(out)
    Draft202012Validator(load_schema("fleet")).validate(doc)
    assert doc["summary"] == snapshot_fleet["summary"]
    assert sorted((e["path"].rsplit("/", 1)[1], e["code"]) for e in doc["errors"]) == [
        ("binary.json", "bad-result"),
        ("facts.json", "bad-result"),
        ("garbled.json", "bad-result"),
        ("v2.json", "other-version"),
        ("zz-dup.json", "duplicate-host"),
    ]
    assert err.count("\n") == 5 and all(line.startswith("crashplan: error: ") for line in err.splitlines())


def test_a_failed_host_result_counts_as_failed(tmp_path):
    """A host whose own run failed (its error envelope) counts in hosts and failed, exit 3."""
    _, out, _ = run("recommend", "--source", "/nonexistent/host", "--format", "json")
    (tmp_path / "db01.json").write_text(out)
    code, out, _ = run("fleet", str(tmp_path), "--format", "json")
    doc = json.loads(out)
    Draft202012Validator(load_schema("fleet")).validate(doc)
    assert doc["errors"][0]["code"] == "host-failed"
    assert code == 3 and doc["summary"]["hosts"] == 1 and doc["summary"]["failed"] == 1
    assert doc["hosts"][0]["source"] == "db01" and doc["hosts"][0]["ok"] is False


def test_live_host_results_are_named_by_their_file(tmp_path):
    """Results of 'live host' runs are told apart by their file names, not reported as duplicates."""
    code, out, _ = run("recommend", "--format", "json")
    if code != 0:
        pytest.skip("this host cannot be planned")
    for name in ("web01", "web02"):
        (tmp_path / f"{name}.json").write_text(out)
    code, out, err = run("fleet", str(tmp_path), "--format", "jsonl")
    assert code == 0, err
    assert [json.loads(line)["source"] for line in out.splitlines()[:-1]] == ["web01", "web02"]


def test_reducer_streams(tmp_path):
    """iter_results yields the first result of a JSON-lines file before the file is read to the end."""
    path = tmp_path / "big.jsonl"
    line = json.dumps({"source": "h", "ok": True, "need": 1}) + "\n"
    path.write_text(line * 3)
    it = iter_results([str(path)])
    assert next(it)[1] == 1
    reducer = FleetReducer()
    for p, n, doc in iter_results([str(path)]):
        reducer.add_document(p, n, doc)
    assert reducer.hosts == 1 and [x.code for x in reducer.problems] == ["duplicate-host", "duplicate-host"]


def test_error_mixing_snapshots_and_results(recommend_dir):
    """Snapshots and results in one call: usage error, exit 2."""
    code, _, err = run("fleet", HOST_PATHS[0], str(recommend_dir))
    assert code == 2 and "not both" in err


def test_fleet_json_outputs_reduce_again(recommend_dir, tmp_path, snapshot_fleet):
    """Two fleet --format json outputs (a reduce per site) reduce to the summary of all their hosts."""
    files = sorted(recommend_dir.iterdir())
    for site, part in (("a", files[:5]), ("b", files[5:])):
        d = tmp_path / site
        d.mkdir()
        for f in part:
            (d / f.name).write_text(f.read_text())
        _, out, _ = run("fleet", str(d), "--format", "json")
        (tmp_path / f"site-{site}.json").write_text(out)
    code, out, err = run("fleet", str(tmp_path / "site-a.json"), str(tmp_path / "site-b.json"), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["summary"] == snapshot_fleet["summary"]
