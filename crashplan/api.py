"""The library's front door: open a host once, then ask for a plan.

Each call here is what one CLI command does, without click and without printing: ``cli.py``
maps options onto one of these calls and hands the result to a renderer.

>>> import crashplan
>>> host = crashplan.open_host("tests/data/hosts/qemu-x86_64-4g-no-crashkernel")
>>> host.facts.arch
'x86_64'
"""

from __future__ import annotations

# ``import crashplan`` loads this module for its list of names, and ``typing`` and
# ``collections.abc`` would cost it several milliseconds: the annotations are strings, mypy
# takes any name TYPE_CHECKING as true, and Python never runs the block.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from crashplan.kernel.explain import Explanation
    from crashplan.planning.check import CheckReport
    from crashplan.planning.context import PlanContext as Host
    from crashplan.planning.fleet import FleetSummary, HostResult
    from crashplan.planning.footprint import Footprint
    from crashplan.planning.recommend import NoPlanError, Plan, Strategy  # noqa: F401 (NoPlanError: typed for mypy)
    from crashplan.planning.simulate import Simulation

# The result types, each imported from its module on first use: a command imports only the
# modules its own call needs (recommend needs neither check's verifier nor the fleet).
_TYPES = {
    "CheckReport": "crashplan.planning.check",
    "Explanation": "crashplan.kernel.explain",
    "FleetSummary": "crashplan.planning.fleet",
    "Footprint": "crashplan.planning.footprint",
    "Host": "crashplan.planning.context",
    "HostResult": "crashplan.planning.fleet",
    "NoPlanError": "crashplan.planning.recommend",
    "Plan": "crashplan.planning.recommend",
    "Simulation": "crashplan.planning.simulate",
}

#: The front door, the one list of its names: the calls below and their result types.  The
#: package re-exports it as ``crashplan.__all__`` (with ``__version__``).
__all__ = [*_TYPES, "check", "explain", "footprint", "open_host", "plan_fleet", "recommend", "simulate"]


def __getattr__(name: str) -> object:
    module = _TYPES.get(name)
    if module is None:
        raise AttributeError(name)
    from importlib import import_module

    return getattr(import_module(module), "PlanContext" if name == "Host" else name)


def explain(
    spec: str | list[str] | tuple[str, ...],
    *,
    ram: int | None = None,
    arch: str = "x86_64",
    kernel_version: str | None = None,
) -> Explanation:
    """What the kernel does with a ``crashkernel=`` string: at ``ram`` bytes, or across a table of sizes.

    ``spec`` is a command line or its tokens (a bare ``256M`` means ``crashkernel=256M``);
    ``kernel_version`` of None applies the newest rules crashplan mirrors.  No host is read.

    >>> import crashplan
    >>> x = crashplan.explain("1G-4G:192M,4G-:256M", ram=8 << 30)
    >>> x.decision.crash_size >> 20
    256
    """
    from crashplan.kernel.explain import explain as run_explain
    from crashplan.kernel.explain import join_specs
    from crashplan.kernel.features import features_for

    specs = [spec] if isinstance(spec, str) else list(spec)
    return run_explain(join_specs(specs), features_for(arch, kernel_version), ram)


def simulate(host: Host, spec: str | list[str] | tuple[str, ...], *, kernel_version: str | None = None) -> Simulation:
    """Where the kernel would put ``spec``'s reservation at the host's next boot.

    The host's own kernel version's rules apply unless ``kernel_version`` names another; when
    neither is known, the worse of the oldest and the newest kernel crashplan mirrors is shown
    (``version-dependent-placement`` says so), as ``check`` judges it.  A syntax error is in
    ``Simulation.error``; a host without addresses (a non-root capture) or
    without an architecture raises :class:`~crashplan.errors.CrashplanError`.
    """
    from crashplan.kernel.explain import join_specs
    from crashplan.kernel.features import features_for
    from crashplan.planning.simulate import simulate as run_simulate

    facts = host.facts
    specs = [spec] if isinstance(spec, str) else list(spec)
    # No version known: None lets the simulation show the worse of the oldest and newest kernels.
    version = kernel_version or facts.kernel_version
    features = features_for(facts.arch, version) if facts.arch and version else None
    return run_simulate(facts, join_specs(specs), features=features)


def footprint(host: Host) -> Footprint:
    """What the crash kernel needs on ``host``, item by item, each with its source."""
    from crashplan.planning.footprint import estimate_footprint, footprint_inputs

    return estimate_footprint(footprint_inputs(host.facts, host.profile), host.profile.estimator, host.profile.source_texts)


def open_host(
    path: str | None = None,
    *,
    kernel: str | None = None,
    initrd: str | None = None,
    profile: str | None = None,
    arch: str | None = None,
    kernel_version: str | None = None,
) -> Host:
    """Gather a host's facts once: the live host when ``path`` is None, else a snapshot or sosreport.

    The kdump kernel and initrd are measured (found in the source, or given as ``kernel``/``initrd``
    paths), the kernel log is read, and the profile is detected from ``/etc/os-release`` unless
    ``profile`` names one.  ``arch`` and ``kernel_version`` replace what the source tells (or
    what crashplan would infer).
    """
    from crashplan.planning.context import gather_for_plan

    return gather_for_plan(path, kernel=kernel, initrd=initrd, profile=profile, arch=arch, kernel_version=kernel_version)


def recommend(host: Host, *, strategy: Strategy = "auto") -> Plan:
    """The recommended ``crashkernel=`` for ``host``, placed by the placement model, with the comparison.

    ``strategy`` is ``auto``, ``standard``, ``cma`` or ``ranged`` (see the README).  The plan's
    parameter has passed :func:`crashplan.planning.recommend.check_cmdline` on the same facts.

    :raises NoPlanError: no candidate both places and covers the need, or the architecture or
        system RAM is unknown (the message says why and what would help; exit 3 in the CLI).
    :raises UsageError: ``cma`` where the kernel has no ``,cma`` or its version is unknown.
    """
    from crashplan.planning.footprint import footprint_inputs
    from crashplan.planning.recommend import make_plan
    from crashplan.profiles import list_profiles, load_profile

    arch = host.facts.arch or "x86_64"
    others = tuple(
        load_profile(i.name)
        for i in list_profiles()
        if i.arch == arch and i.default_crashkernel and i.name != host.profile.name
    )
    return make_plan(
        host.facts,
        footprint_inputs(host.facts, host.profile),
        host.profile,
        strategy=strategy,
        others=others,
    )


def check(host: Host, *, cmdline: str | None = None, plan: str | Mapping[str, object] | None = None) -> CheckReport:
    """Verify ``host``: the state the kernel left at boot, a proposed ``cmdline`` or the host's own, and a saved ``plan``.

    ``cmdline`` is a command line or its ``crashkernel=`` tokens (a bare ``256M`` means
    ``crashkernel=256M``).  ``plan`` is the path of a ``recommend --format json`` file, or that
    JSON already loaded; with a plan, ``cmdline`` must be None.  ``report.findings`` judge the
    parameter, ``report.host.findings`` what the kernel did at boot, ``report.plan_findings``
    the differences from the plan; ``report.failing()`` is what makes ``crashplan check`` exit 4.

    >>> import crashplan
    >>> report = crashplan.check(crashplan.open_host("tests/data/hosts/qemu-x86_64-4g-crashkernel-256m"))
    >>> report.host.reserved >> 20, [f.code for f in report.host.findings]
    (256, [])

    :raises CrashplanError: the plan is not a crashplan plan, or is for another host (exit 3).
    """
    from crashplan.kernel.explain import join_specs
    from crashplan.planning.check import check_host, compare_plan, read_plan, validate_plan

    if plan is not None and cmdline is not None:
        raise ValueError("check against a saved plan, or judge a command line: not both")
    report = check_host(host, proposed=join_specs([cmdline]) if cmdline is not None else None)
    if plan is None:
        return report
    if isinstance(plan, str):
        return compare_plan(host, report, read_plan(plan), plan)
    return compare_plan(host, report, validate_plan(dict(plan)), "<plan>")


def plan_fleet(results: Iterable[HostResult]) -> FleetSummary:
    """The fleet at a glance from per-host results: the needs, the memory returned, one covering string.

    ``results`` come from :func:`crashplan.planning.fleet.run_fleet` over snapshots, or from
    saved ``recommend``/``check`` results read with :mod:`crashplan.planning.reduce`.
    """
    from crashplan.planning.fleet import summarise

    return summarise(list(results))
