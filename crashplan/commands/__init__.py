"""The commands of the ``crashplan`` command line, one module each.

Each module defines one click command named like the module; :mod:`crashplan.cli` imports it
only when the command runs, completes or shows its own help (click's lazy loading, docs
"Complex Applications"), so that a command loads no other command's options and modules.
"""

from __future__ import annotations

__all__ = ["CONTEXT_SETTINGS", "EXIT_CODES_HELP"]


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

EXIT_CODES_HELP = """\b
Exit codes: 0 ok, 1 bug, 2 usage error, 3 bad input
(unreadable source, bad profile, unparsable crashkernel=),
4 check found error-level findings."""
