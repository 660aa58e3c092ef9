"""The library's front door: open a host once, then ask for a plan.

Each call here is what one CLI command does, without click and without printing: ``cli.py``
maps options onto one of these calls and hands the result to a renderer.

>>> import crashplan
>>> host = crashplan.open_host("tests/data/hosts/qemu-x86_64-4g-no-crashkernel")
>>> host.facts.arch
'x86_64'
"""

from __future__ import annotations

from crashplan.planning.context import PlanContext as Host
from crashplan.planning.recommend import NoPlanError, Plan, Strategy

__all__ = ["Host", "NoPlanError", "Plan", "open_host", "recommend"]


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
