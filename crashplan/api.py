"""The library's front door: open a host once, then ask for a plan.

Each call here is what one CLI command does, without click and without printing: ``cli.py``
maps options onto one of these calls and hands the result to a renderer.

>>> import crashplan
>>> host = crashplan.open_host("tests/data/hosts/qemu-x86_64-4g-no-crashkernel")
>>> host.facts.arch
'x86_64'
"""

from __future__ import annotations

from collections.abc import Mapping

from crashplan.planning.check import CheckReport
from crashplan.planning.context import PlanContext as Host
from crashplan.planning.recommend import Plan, Strategy

__all__ = ["CheckReport", "Host", "Plan", "check", "open_host", "recommend"]


def open_host(
    path: str | None = None,
    *,
    kernel: str | None = None,
    initrd: str | None = None,
    profile: str | None = None,
) -> Host:
    """Gather a host's facts once: the live host when ``path`` is None, else a snapshot or sosreport.

    The kdump kernel and initrd are measured (found in the source, or given as ``kernel``/``initrd``
    paths), the kernel log is read, and the profile is detected from ``/etc/os-release`` unless
    ``profile`` names one.
    """
    from crashplan.planning.context import gather_for_plan

    return gather_for_plan(path, kernel=kernel, initrd=initrd, profile=profile)


def recommend(host: Host, *, strategy: Strategy = "auto") -> Plan:
    """The recommended ``crashkernel=`` for ``host``, placed by the placement model, with the comparison.

    ``strategy`` is ``auto``, ``standard``, ``cma`` or ``ranged`` (see the README).
    """
    from crashplan.planning.recommend import footprint_inputs, make_plan
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
        dmesg=host.dmesg,
    )


def check(host: Host, *, cmdline: str | None = None, plan: str | Mapping[str, object] | None = None) -> CheckReport:
    """Verify ``host``: the state the kernel left at boot, a proposed ``cmdline`` or the host's own, and a saved ``plan``.

    ``plan`` is the path of a ``recommend --format json`` file, or that JSON already loaded.
    ``report.failing()`` is what makes ``crashplan check`` exit 4.

    >>> import crashplan
    >>> report = crashplan.check(crashplan.open_host("tests/data/hosts/qemu-x86_64-4g-crashkernel-256m"))
    >>> report.host.reserved >> 20, [f.code for f in report.host.findings]
    (256, [])

    :raises CrashplanError: the plan is not a crashplan plan, or is for another host (exit 3).
    """
    from crashplan.planning.check import check_host, compare_plan, read_plan, validate_plan

    report = check_host(host, proposed=cmdline)
    if plan is None:
        return report
    if isinstance(plan, str):
        return compare_plan(host, report, read_plan(plan), plan)
    return compare_plan(host, report, validate_plan(dict(plan)), "<plan>")
