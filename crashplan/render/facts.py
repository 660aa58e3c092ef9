"""The text view of ``crashplan facts``: every fact crashplan sees on a host, and where it came from.

Pure: a :class:`~crashplan.host.facts.HostFacts` in, plain text out (no rich, no colour, so it reads the
same in a terminal, a pipe and a bug report).  The JSON view is :func:`crashplan.host.facts.facts_to_json`.
The facts themselves are defined by :mod:`crashplan.host.facts` (kernel sources named there).
"""

from __future__ import annotations

from crashplan.host.facts import HostFacts
from crashplan.kernel.crashkernel import Decision
from crashplan.units import format_human
from crashplan.values import MemRange, wrap_report

__all__ = ["describe_host", "render_facts_text"]

_LABEL = 21  # width of the label column, the longest label and two spaces
_MAX_RANGES = 12  # ranges listed before "... and N more"


def _unknown(facts: HostFacts, key: str) -> str:
    """``unknown (why)``, the why from the fact's provenance."""
    why = str(facts.provenance.get(key, "")).removeprefix("unknown: ")
    return f"unknown ({why})" if why else "unknown"


def describe_host(facts: HostFacts, rules: object | None = None) -> str:
    """``arch, Linux X.Y, system RAM N``, each unknown shown as ``unknown (why)``.

    ``rules`` is the kernel version whose rules were applied when the host's is unknown.
    """
    arch = facts.arch or f"architecture {_unknown(facts, 'arch')}"
    if facts.kernel_version is not None:
        version = f"Linux {facts.kernel_version}"
    else:
        version = f"Linux version {_unknown(facts, 'kernel_version')}" + (f", rules of Linux {rules} applied" if rules else "")
    if facts.system_ram is None:
        ram = f"system RAM {_unknown(facts, 'system_ram')}"
    else:
        ram = f"system RAM {format_human(facts.system_ram)}" + (" (estimated)" if facts.system_ram_estimated else "")
    return f"{arch}, {version}, {ram}"


def render_facts_text(facts: HostFacts) -> str:
    """A readable list of the facts, each followed by the line ``from: <where it came from>``."""
    out = _Out(facts)
    out.line(f"crashplan facts: {facts.source}")
    out.line("")
    out.fact("arch", facts.arch or "unknown", "arch")
    out.fact("kernel release", facts.kernel_release or "unknown", "kernel_release")
    version = "unknown" if facts.kernel_version is None else f"Linux {facts.kernel_version}"
    out.fact("kernel version", version, "kernel_version")
    out.fact("page size", _bytes(facts.page_size), "page_size")
    ram = _bytes(facts.system_ram)
    if facts.system_ram is not None and facts.system_ram_estimated:
        ram += " (estimated)"
    out.fact("system RAM", ram, "system_ram")
    out.fact("MemTotal", _bytes(facts.mem_total), "mem_total")
    out.fact("addresses", "visible" if facts.addresses_visible else "hidden or absent", "addresses_visible")
    out.ranges("RAM map", facts.ram, "ram")
    out.fact("kernel image", "unknown" if facts.kernel_image is None else _range(facts.kernel_image), "kernel_image")
    hidden = "unknown (addresses hidden)" if not facts.addresses_visible else None
    reserved = f"{len(facts.reserved)} ranges, {format_human(sum(r.size for r in facts.reserved))}"
    out.fact("reserved", hidden or (reserved if facts.reserved else "none"), "reserved")

    out.line("")
    regions = [f"{name} {_range(r)}" for name, r in facts.named_crash_regions]
    # Regions the kernel log gave stand even when the address map is hidden or absent.
    first = regions[0] if regions else hidden or "none"
    out.fact("crash kernel", first, "crash_regions", more=regions[1:])
    out.fact("reserved total", _bytes(facts.reservation_total), "reservation_total")
    out.fact("kexec_crash_size", _bytes(facts.kexec_crash_size), "kexec_crash_size")
    loaded = {None: "unknown", True: "yes", False: "no"}[facts.kexec_crash_loaded]
    out.fact("crash kernel loaded", loaded, "kexec_crash_loaded")
    out.fact("CmaTotal", _bytes(facts.cma_total), "cma_total")
    if facts.cma_ranges is None:
        cma = "unknown"
    else:
        cma = ", ".join(_range(r) for r in facts.cma_ranges) or "none"
    out.fact("crashkernel CMA", cma, "cma_ranges")

    out.line("")
    out.fact("cmdline", "unknown" if facts.cmdline is None else _clip(facts.cmdline), "cmdline")
    out.fact("crashkernel=", _decision(facts.cmdline_crashkernel), "cmdline_crashkernel")

    out.line("")
    out.fact("CPUs online", _count(facts.cpus_online), "cpus_online")
    out.fact("CPUs possible", _count(facts.cpus_possible), "cpus_possible")
    nodes = "unknown" if facts.numa_nodes is None else f"{len(facts.numa_nodes)} ({_list(facts.numa_nodes)})"
    out.fact("NUMA nodes", nodes, "numa_nodes")
    zones = [
        f"node {z.node} {z.zone:<7} {_range(z.span)}" for z in facts.zones if z.span is not None
    ]
    out.fact("zones", zones[0] if zones else "unknown", "zones", more=zones[1:])

    out.line("")
    distro = facts.distro
    name = None if distro is None else (distro.pretty_name or distro.id)
    out.fact("distro", name or "unknown", "distro")
    kdump = facts.kdump
    if kdump is None:
        out.fact("kdump", "no configuration found", "kdump")
    else:
        target = kdump.dump_target or "default"
        if kdump.dump_device:
            target += f" {kdump.dump_device}"
        details = [f"collector: {kdump.core_collector}"] if kdump.core_collector else []
        if kdump.nr_cpus is not None:
            details.append(f"nr_cpus: {kdump.nr_cpus}")
        out.fact("kdump", f"{kdump.family}, target {target}", "kdump", more=details)
    boot = facts.boot_files
    kernel = "unknown" if boot.kernel is None else f"{boot.kernel.path} ({format_human(boot.kernel.size)})"
    initrd = "unknown" if boot.initrd is None else f"{boot.initrd.path} ({format_human(boot.initrd.size)})"
    out.fact("kdump kernel", kernel, "boot_files", more=[f"initrd: {initrd}"])
    _platform(out, facts)

    if facts.absent:
        out.line("")
        out.line(f"absent: {', '.join(facts.absent)}")
    if facts.findings:
        out.line("")
        out.line("findings:")
        for finding in facts.findings:
            out.line(f"  {finding.severity} {finding.code}: {finding.message}")
    return out.text()


def _platform(out: _Out, facts: HostFacts) -> None:
    """The platform facts that cost the capture kernel memory (crashplan.host.platform)."""
    mem = facts.mem_encryption
    out.fact("mem encryption", "unknown or none" if mem is None else f"{mem.vendor} {' '.join(mem.features)}", "mem_encryption")
    pci = facts.pci_drivers
    if pci is None:
        out.fact("pci drivers", "unknown", "pci_drivers")
    else:
        bound = [f"{name}: {', '.join(devs)}" for name, devs in pci.drivers.items() if devs]
        out.fact("pci drivers", f"{len(pci.drivers)} registered, {len(bound)} with bound devices", "pci_drivers", more=bound)
    iommus = facts.iommus
    out.fact("iommus", "unknown" if iommus is None else (", ".join(iommus.smmu) or "no arm SMMU"), "iommus")
    luks = facts.luks_devices
    out.fact(
        "luks devices",
        "unknown" if luks is None else f"{len(luks)}",
        "luks_devices",
        more=[] if luks is None else [
            f"{d.device}: LUKS{d.dump.version}, keyslot memory {', '.join(_bytes(m) for m in d.dump.memory if m) or 'none'}"
            for d in luks
        ],
    )
    out.fact("dump protocol", facts.dump_protocol or "unknown", "dump_protocol")


class _Out:
    __slots__ = ("facts", "lines")

    def __init__(self, facts: HostFacts) -> None:
        self.facts = facts
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)

    def fact(self, label: str, value: str, key: str, *, more: list[str] | tuple[str, ...] = ()) -> None:
        pad = " " * (_LABEL + 2)
        self.lines.append(f"  {label:<{_LABEL}}{value}")
        shown = list(more[:_MAX_RANGES])
        if len(more) > _MAX_RANGES:
            shown.append(f"... and {len(more) - _MAX_RANGES} more")
        self.lines.extend(f"{pad}{item}" for item in shown)
        source = self.facts.provenance.get(key)
        if source:
            self.lines.append(f"{pad}from: {source}")

    def ranges(self, label: str, ranges: tuple[MemRange, ...], key: str) -> None:
        if not ranges:
            self.fact(label, "unknown", key)
            return
        total = format_human(sum(r.size for r in ranges))
        self.fact(label, f"{len(ranges)} ranges, {total}", key, more=[_range(r) for r in ranges])

    def text(self) -> str:
        head, *rest = self.lines  # the header names the source whole, for a reader that greps it
        return "\n".join([head, wrap_report("\n".join(rest))]) + "\n"


def _bytes(value: int | None) -> str:
    """Bytes for people, with the exact figure.

    >>> _bytes(268435456), _bytes(None)
    ('256 MiB (268435456 bytes)', 'unknown')
    """
    if value is None:
        return "unknown"
    return f"{format_human(value)} ({value} bytes)"


def _range(r: MemRange | None) -> str:
    """A half-open range in hex with its size.

    >>> _range(MemRange(0xaf000000, 0xbf000000))
    '[0xaf000000, 0xbf000000) 256 MiB'
    """
    if r is None:
        return "unknown"
    return f"[{r.start:#x}, {r.end:#x}) {format_human(r.size)}"


def _count(value: int | None) -> str:
    return "unknown" if value is None else str(value)


def _list(values: tuple[int, ...]) -> str:
    shown = ", ".join(map(str, values[:16]))
    return shown + (", ..." if len(values) > 16 else "")


def _decision(d: Decision | None) -> str:
    """What the kernel reserves for the current command line, in one phrase."""
    if d is None:
        return "not evaluated"
    if not d.ok:
        return f"nothing reserved ({d.error})"
    parts = [format_human(d.crash_size)]
    if d.crash_base:
        parts.append(f"at {d.crash_base:#x}")
    if d.high:
        parts.append(f"high, + {format_human(d.low_size)} low")
    if d.reserves_cma:
        parts.append(f"+ {format_human(d.cma_size)} CMA")
    return " ".join(parts)


def _clip(text: str, width: int = 200) -> str:
    # A byte that is not UTF-8 (a lone surrogate) is shown as \xNN, as the JSON shows it; any
    # other control character as U+FFFD.
    shown = "".join(c if c.isprintable() else f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else "\ufffd" for c in text[: width + 1])
    return shown if len(text) <= width else shown[: width - 1] + "\u2026"

