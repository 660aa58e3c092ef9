"""The real captured host trees of tests/data/hosts, and copies of them with files edited, for tests."""

from __future__ import annotations

import shutil
from pathlib import Path

HOSTS = Path(__file__).parent / "data" / "hosts"

# kdumpctl estimate as sos's kdump plugin keeps it (sos_commands/kdump/kdumpctl_estimate).
KDUMPCTL_ESTIMATE = """Reserved crashkernel:    256M
Recommended crashkernel: 400M

Kernel image size:   47M
Kernel modules size: 9M
Initramfs size:      32M
Runtime reservation: 16M
Large modules: <none>
WARNING: Current crashkernel size is lower than recommended size 400M.
"""


def derive(tmp_path: Path, host: str, edits: dict[str, str | None]) -> str:
    """A copy of the real capture ``host`` with ``edits`` (relpath -> new text, None removes)."""
    dest = tmp_path / f"{host}-derived"
    shutil.copytree(HOSTS / host, dest)
    for relpath, text in edits.items():
        path = dest / relpath
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return str(dest)


def has_memory_map(host: Path) -> bool:
    """The capture shows /proc/iomem with real addresses (read as root): placement can be checked there."""
    import crashplan

    facts = crashplan.open_host(str(host)).facts
    return bool(facts.addresses_visible and facts.ram)
