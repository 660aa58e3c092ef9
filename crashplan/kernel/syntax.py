"""Compatibility names for the ``crashkernel=`` modules split out of ``syntax``.

Kept only while branches written against the old module are merged; new code imports from
:mod:`crashplan.kernel.features`, :mod:`~crashplan.kernel.crashkernel`,
:mod:`~crashplan.kernel.grammar` and :mod:`~crashplan.kernel.lint`.
"""

from __future__ import annotations

from crashplan.kernel.crashkernel import NAME, Decision, Lookup, decide, decide_table
from crashplan.kernel.features import (
    ARCHES,
    DEFAULT_KERNEL_VERSION,
    Features,
    KernelVersion,
    features_for,
    parse_kernel_version,
)
from crashplan.kernel.grammar import (
    MAX_SCANNED_TOKENS,
    CrashkernelSpec,
    CrashkernelToken,
    Form,
    RangeEntry,
    TokenScan,
    as_tokens,
    format_crashkernel,
    parse_crashkernel,
    scan_crashkernel,
)
from crashplan.kernel.lint import diagnose

__all__ = [
    "ARCHES",
    "DEFAULT_KERNEL_VERSION",
    "MAX_SCANNED_TOKENS",
    "NAME",
    "CrashkernelSpec",
    "CrashkernelToken",
    "Decision",
    "Features",
    "Form",
    "KernelVersion",
    "Lookup",
    "RangeEntry",
    "TokenScan",
    "as_tokens",
    "decide",
    "decide_table",
    "diagnose",
    "features_for",
    "format_crashkernel",
    "parse_crashkernel",
    "parse_kernel_version",
    "scan_crashkernel",
]
