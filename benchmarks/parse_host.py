"""Host-parsing benchmark: ``gather_facts(open_source(dir))`` on a big synthetic host.

Builds, in a temporary directory, the snapshot tree of a 64-node, multi-TiB x86 server by
replicating the structure of a real one (tests/data/hosts/lore-x86-hpe-xeon-32g-crash-low256m-
high512m: its below-4G layout verbatim, then per node a System RAM range with nested Kernel/
reserved/Crash kernel lines and a PCI root bus with nested devices), plus meminfo, a 64-node
zoneinfo (the zone blocks of tests/data/hosts/this-machine-*, per-CPU pagesets included),
buddyinfo, cmdline and the sysfs files.  Then it times, interleaved, over many runs:

* subject: ``gather_facts(open_source(tree))``;
* baseline: the same I/O without the parsing: ``open_source(tree)`` and every call gather_facts
  makes on its source (recorded once, then replayed): ``read_bytes()`` of every file it reads,
  and the ``stat``/``exists`` probes it makes for the kdump kernel and initrd and /sys/kernel.

It prints the medians in ms per host (target: < 10 ms) and the median ratio (for scale), and
for comparison with earlier runs the ratio to reading only :data:`crashplan.host.facts.FACT_FILES`.
For scale it also times two floors, as ratios to the I/O: the cheapest pass Python can make
over the parsed text, ``str.splitlines()`` of the five /proc files gather_facts parses
(iomem, zoneinfo, meminfo, buddyinfo, cmdline), already in memory, which no parser of those
files can go under; and gather_facts with the results of parse_iomem, parse_zoneinfo and
parse_buddyinfo replayed (:func:`tables_replayed`), which is everything it does but parse
those three files.  Their sum is the least the subject's ratio could be.

    python benchmarks/parse_host.py [--runs 200] [--nodes 64] [--cpus 2] [--json] [--keep DIR]

Times are CPU time of this process (time.process_time()): the 2-core machine is shared, and
wall time measures the other processes as much as crashplan.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import crashplan.host.facts
from crashplan.host.facts import FACT_FILES, gather_facts
from crashplan.host.sources import open_source
from crashplan.host.sources._common import SNAPSHOT_NAME

# Issue 14: a 64-node host's facts in under 10 ms; the parse-to-I/O ratio is printed for scale only
# (its target is retired: pure-Python readers measure 13-25 on this machine).
TARGET_MS = 10.0
HOSTS = Path(__file__).resolve().parents[1] / "tests" / "data" / "hosts"
HPE = HOSTS / "lore-x86-hpe-xeon-32g-crash-low256m-high512m"
ZONE_TEMPLATE = next(HOSTS.glob("this-machine-*"))

GiB = 1 << 30
NODE_RAM = 64 * GiB  # 64 nodes x 64 GiB = 4 TiB


def _line(depth: int, start: int, end: int, name: str) -> str:
    """One iomem line as r_show() prints it (inclusive end)."""
    return f"{'  ' * depth}{start:08x}-{end - 1:08x} : {name}\n"


def build_iomem(nodes: int) -> str:
    """The HPE server's layout below 4 GiB, then RAM and PCI windows for every node."""
    low = []
    for line in (HPE / "proc" / "iomem").read_text().splitlines(keepends=True):
        start = int(line.split("-", 1)[0], 16)
        if start >= 1 << 32:
            break
        low.append(line)
    out = ["".join(low)]
    ram_base = 4 * GiB
    pci_base = 0x38000000000 + nodes * NODE_RAM  # PCI windows above all RAM, as on the HPE
    for node in range(nodes):
        start, end = ram_base + node * NODE_RAM, ram_base + (node + 1) * NODE_RAM
        out.append(_line(0, start, end, "System RAM"))
        if node == 0:
            k = start + 0x1000000
            out.append(_line(1, k, k + 0xC00000, "Kernel code"))
            out.append(_line(1, k + 0xC00000, k + 0x1200000, "Kernel rodata"))
            out.append(_line(1, k + 0x1200000, k + 0x1600000, "Kernel data"))
            out.append(_line(1, k + 0x1800000, k + 0x1C00000, "Kernel bss"))
        for i in range(4):  # firmware/early reservations inside RAM (memmap=, EFI, ...)
            r = start + (i + 1) * 4 * GiB
            out.append(_line(1, r, r + 0x200000, "reserved"))
        if node == nodes - 1:
            c = end - 2 * GiB
            out.append(_line(1, c, c + 512 * (1 << 20), "Crash kernel"))
        # One PCI root bus per node: bridges, devices and driver claims nested under it.
        bus = node * 4
        window = pci_base + node * 0x2000000000
        out.append(_line(0, window, window + 0x2000000000, f"PCI Bus 0000:{bus:02x}"))
        for dev in range(12):
            d = window + 0x1F00000000 + dev * 0x1000000
            out.append(_line(1, d, d + 0x1000000, f"PCI Bus 0000:{bus + 1:02x}"))
            out.append(_line(2, d, d + 0x800000, f"0000:{bus + 1:02x}:{dev:02x}.0"))
            out.append(_line(3, d, d + 0x800000, "mlx5_core"))
            out.append(_line(2, d + 0x800000, d + 0x804000, f"0000:{bus + 1:02x}:{dev:02x}.1"))
    return "".join(out)


def build_zoneinfo(nodes: int, cpus: int) -> str:
    """Every node's zones, from the template host's blocks, per-CPU pagesets included.

    As zoneinfo_show_print() does (mm/vmstat.c): the first populated zone of a node carries the
    node's "per-node stats"; a populated zone lists a pageset for every online CPU; an
    unpopulated zone stops after "protection".  Node 0 has DMA, DMA32 and Normal populated,
    the other nodes only Normal.
    """
    text = (ZONE_TEMPLATE / "proc" / "zoneinfo").read_text()
    blocks = {b.split("zone", 1)[1].split()[0]: b for b in re.split(r"(?m)^(?=Node \d+, zone)", text)[1:]}
    cpu = re.search(r"(?ms)^    cpu: 0\n.*?^  vm stats threshold: \d+\n", text)
    node_stats = re.search(r"(?ms)^  per-node stats\n.*?(?=^  pages free)", blocks["DMA"])
    assert cpu is not None and node_stats is not None
    pagesets = "  pagesets\n" + "".join(cpu.group(0).replace("cpu: 0", f"cpu: {c}") for c in range(cpus))
    empty = blocks["Movable"]
    pages = NODE_RAM // 4096

    def zone(node: int, name: str, block: str) -> str:
        block = re.sub(r"(?ms)^  pagesets\n.*?(?=^  node_unreclaimable)", pagesets, block)
        return block.replace("Node 0, zone", f"Node {node}, zone", 1).replace(
            "zone  Movable", f"zone {name:>8}", 1
        )

    out = []
    for node in range(nodes):
        for name in ("DMA", "DMA32", "Normal", "Movable", "Device"):
            if node == 0 or name in ("Movable", "Device"):
                block = blocks[name]
            elif name == "Normal":
                block = blocks["Normal"].replace("\n", "\n" + node_stats.group(0), 1)
            else:
                block = empty
            if node and name == "Normal":
                pfn = (4 * GiB + node * NODE_RAM) // 4096
                block = re.sub(r"(?m)^(\s+(spanned|present))\s+\d+$", rf"\1 {pages}", block)
                block = re.sub(r"(?m)^(\s+managed)\s+\d+$", rf"\1 {pages - 1024}", block)
                block = re.sub(r"(?m)^(  start_pfn:\s+)\d+$", rf"\g<1>{pfn}", block)
            out.append(zone(node, name, block))
    return "".join(out)


def build_tree(root: Path, nodes: int, cpus: int) -> None:
    """Write the synthetic snapshot tree under ``root``."""
    files = {
        "proc/iomem": build_iomem(nodes),
        "proc/zoneinfo": build_zoneinfo(nodes, cpus),
        "proc/meminfo": re.sub(
            r"(?m)^MemTotal:\s+\d+ kB$",
            f"MemTotal:       {nodes * (NODE_RAM - 4 * (1 << 20)) // 1024} kB",
            (ZONE_TEMPLATE / "proc" / "meminfo").read_text(),
        ),
        "proc/buddyinfo": "".join(
            f"Node {n}, zone {z:>8} " + " ".join(f"{(n * 7 + o * 13) % 900:6d}" for o in range(11)) + " \n"
            for n in range(nodes)
            for z in (("DMA", "DMA32", "Normal") if n == 0 else ("Normal",))
        ),
        "proc/cmdline": "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-6.12.0-55.el10.x86_64 root=/dev/mapper/rhel-root ro "
        "crashkernel=2G-64G:256M,64G-:512M rd.lvm.lv=rhel/root console=ttyS0,115200n8\n",
        "proc/sys/kernel/osrelease": "6.12.0-55.el10.x86_64\n",
        "sys/devices/system/cpu/online": f"0-{cpus - 1}\n",
        "sys/devices/system/cpu/possible": f"0-{cpus - 1}\n",
        "sys/kernel/kexec_crash_size": f"{768 << 20}\n",  # the HPE low 256M + 512M
        "sys/kernel/kexec_crash_loaded": "1\n",
        "etc/os-release": 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="centos fedora"\nVERSION_ID="10.0"\n',
        "etc/kdump.conf": "path /var/crash\ncore_collector makedumpfile -l --message-level 7 -d 31\n",
    }
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# The source calls that do I/O, and how the baseline replays each without parsing anything.
_IO_CALLS = ("read_bytes", "read_text", "snapshot_info", "exists", "listdir", "stat_size", "open_binary")


class _Recorder:
    """A source that records the I/O calls made on it (method, relpath) and passes them on."""

    def __init__(self, source: object) -> None:
        self._source = source
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._source, name)
        if name not in _IO_CALLS:
            return attr

        def record(*args: object, **kwargs: object) -> object:
            self.calls.append((name, str(args[0]) if args else SNAPSHOT_NAME))
            return attr(*args, **kwargs)

        return record


def record_io(tree: str) -> list[tuple[str, str]]:
    """The I/O calls gather_facts makes on the tree's source, in order."""
    recorder = _Recorder(open_source(tree))
    gather_facts(recorder)  # type: ignore[arg-type]
    return recorder.calls


def replay_io(tree: str, calls: list[tuple[str, str]]) -> None:
    """The baseline: the same source and the same I/O, nothing parsed (files read as bytes)."""
    source = open_source(tree)
    for method, relpath in calls:
        if method in ("read_bytes", "read_text", "snapshot_info"):
            source.read_bytes(relpath)
        elif method == "open_binary":
            handle = source.open_binary(relpath)
            if handle is not None:
                handle.close()
        else:
            getattr(source, method)(relpath)


def read_only(tree: str) -> None:
    """The earlier baseline: the source and the files of FACT_FILES, read but not parsed."""
    source = open_source(tree)
    for relpath in FACT_FILES:
        source.read_bytes(relpath)


PARSED = ("proc/iomem", "proc/zoneinfo", "proc/meminfo", "proc/buddyinfo", "proc/cmdline")
# The parsers of the big line tables, replaced by their stored results for the "rest" figure.
TABLES = ("parse_iomem", "parse_zoneinfo", "parse_buddyinfo")


@contextlib.contextmanager
def tables_replayed(tree: str) -> Iterator[None]:
    """Within the block, gather_facts gets iomem, zoneinfo and buddyinfo already parsed.

    What gather_facts then costs is everything but the parsing of those three files (the
    I/O, the small files, the facts it derives): a floor that no parser of them can change.
    """
    results: dict[str, object] = {}
    originals = {name: getattr(crashplan.host.facts, name) for name in TABLES}

    def recording(name: str) -> Callable[..., object]:
        def parse(*args: object, **kwargs: object) -> object:
            results[name] = originals[name](*args, **kwargs)
            return results[name]

        return parse

    try:
        for name in TABLES:
            setattr(crashplan.host.facts, name, recording(name))
        gather_facts(open_source(tree))
        for name in TABLES:
            setattr(crashplan.host.facts, name, lambda *args, _name=name, **kwargs: results[_name])
        yield
    finally:
        for name, function in originals.items():
            setattr(crashplan.host.facts, name, function)


def split_lines(texts: list[str]) -> None:
    """The floor: the cheapest pass over the parsed text, cutting it into lines."""
    for text in texts:
        text.splitlines()


def measure(tree: str, runs: int) -> dict[str, float]:
    """Interleaved medians of gather_facts, both baselines and the floor, in ms, and the ratios."""
    calls = record_io(tree)
    texts = [(Path(tree) / relpath).read_text() for relpath in PARSED]
    gather_facts(open_source(tree))
    replay_io(tree, calls)
    read_only(tree)
    subject, baseline, files, ratios, file_ratios, floor_ratios, rest_ratios = [], [], [], [], [], [], []
    for _ in range(runs):
        t0 = time.process_time()
        replay_io(tree, calls)
        t1 = time.process_time()
        gather_facts(open_source(tree))
        t2 = time.process_time()
        read_only(tree)
        t3 = time.process_time()
        split_lines(texts)
        t4 = time.process_time()
        with tables_replayed(tree):
            t5 = time.process_time()
            gather_facts(open_source(tree))
            t6 = time.process_time()
        baseline.append((t1 - t0) * 1000)
        subject.append((t2 - t1) * 1000)
        files.append((t3 - t2) * 1000)
        ratios.append((t2 - t1) / (t1 - t0))
        file_ratios.append((t2 - t1) / (t3 - t2))
        floor_ratios.append((t4 - t3) / (t1 - t0))
        rest_ratios.append((t6 - t5) / (t1 - t0))
    return {
        "gather_ms": statistics.median(subject),
        "io_ms": statistics.median(baseline),
        "io_calls": len(calls),
        "median_ratio": statistics.median(ratios),
        "read_ms": statistics.median(files),
        "median_ratio_fact_files": statistics.median(file_ratios),
        "median_ratio_split_lines": statistics.median(floor_ratios),
        "median_ratio_tables_replayed": statistics.median(rest_ratios),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=64)
    parser.add_argument(
        "--cpus", type=int, default=2, help="online CPUs (each adds a pageset to every populated zone)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", metavar="DIR", help="build the tree in DIR and keep it")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crashplan-bench-") as tmp:
        tree = Path(options.keep or tmp)
        build_tree(tree, options.nodes, options.cpus)
        sizes = {rel: (tree / rel).stat().st_size for rel in ("proc/iomem", "proc/zoneinfo")}
        lines = {rel: (tree / rel).read_text().count("\n") for rel in sizes}
        facts = gather_facts(open_source(tree))
        result: dict[str, object] = {**measure(str(tree), options.runs)}
    system_ram = facts.system_ram or 0
    result |= {
        "benchmark": "parse_host: gather_facts / the same I/O without parsing",
        "runs": options.runs,
        "nodes": options.nodes,
        "cpus": options.cpus,
        "iomem_lines": lines["proc/iomem"],
        "zoneinfo_lines": lines["proc/zoneinfo"],
        "bytes": sum(sizes.values()),
        "system_ram": facts.system_ram,
        "target_ms": TARGET_MS,
    }
    if options.json:
        print(json.dumps(result))
    else:
        print(
            f"parse_host: {options.nodes} nodes, {result['cpus']} CPUs, {result['iomem_lines']} iomem lines, "
            f"{result['zoneinfo_lines']} zoneinfo lines, system RAM {system_ram / (1 << 40):.2f} TiB\n"
            f"  gather_facts {result['gather_ms']:.2f} ms/host (target < {TARGET_MS}), "
            f"its I/O alone ({result['io_calls']} calls) {result['io_ms']:.3f} ms, "
            f"median ratio {result['median_ratio']:.1f} (for scale); "
            f"ratio to reading FACT_FILES only {result['median_ratio_fact_files']:.1f}\n"
            f"  for scale: splitting the parsed files into lines alone is {result['median_ratio_split_lines']:.1f}x the I/O; "
            f"gather_facts with iomem, zoneinfo and buddyinfo already parsed is "
            f"{result['median_ratio_tables_replayed']:.1f}x"
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
