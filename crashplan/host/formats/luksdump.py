"""``cryptsetup luksDump`` output: the LUKS version and the memory each keyslot's PBKDF needs.

Why crashplan wants it: to unlock a LUKS2 dump target the capture kernel's cryptsetup runs the
keyslot's Argon2, which allocates the keyslot's ``Memory:`` (KiB; up to 4 GiB, typically 1 GiB
capped by half of RAM at luksFormat time).  The distributions count it differently:

* rhkdump/kdump-utils ``kdumpctl: do_estimate()`` takes, per LUKS2 device in the dump path, the
  **largest** keyslot ``Memory:`` (``sed -n "s/^\\s*Memory:\\s*\\([0-9]*\\).*/\\1/p" | sort -n -r |
  head -1``), sums the devices, and adds a cryptsetup overhead (20M, 50M on aarch64; 6ce4b85);
* openSUSE/kdump ``kdumptool`` sums **every** ``Memory:`` value of ``luksDump`` into
  ``KDUMP_LUKS_MEMORY`` (``calibrate.cc: runtimeSize()`` adds it).

Authoritative source: cryptsetup ``lib/luks2/luks2_json_format.c``/``luks2_json_metadata.c``
(``LUKS2_hdr_dump()``): a ``Version:`` line, then under ``Keyslots:`` one ``  <n>: luks2`` block
per keyslot with tab-indented ``PBKDF:``, ``Time cost:``, ``Memory:`` (KiB, argon2i/argon2id
only) and ``Threads:``.  LUKS1 headers (``Version: 1``) use PBKDF2 and need no memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt, is_decimal

__all__ = ["LuksDump", "parse_luks_dump", "redact_luks_dump"]

_KEYSLOT = re.compile(r"^\s*(\d+): (\S+)\s*$")
_FIELD = re.compile(r"^\s+([A-Za-z][A-Za-z ]*?):\s*(.*)$")
# Header values a snapshot has no use for and should not spread: the salts, the volume key
# digest (a verifier for the volume key), the UUID and label.
_REDACTED = re.compile(r"^(\s*)(Salt|Digest|MK digest|MK salt|UUID|Label|Subsystem):.*$")
_CONTINUATION = re.compile(r"^\s+(?:[0-9a-f]{2} ?)+\s*$")


@dataclass(frozen=True, slots=True)
class LuksDump:
    """``version`` (1 or 2), and per keyslot its PBKDF and Argon2 memory in bytes (None for PBKDF2)."""

    version: int
    pbkdf: tuple[str, ...]
    memory: tuple[int | None, ...]

    @property
    def max_memory(self) -> int:
        """The largest keyslot memory (kdump-utils' rule), 0 when none uses Argon2."""
        return max((m for m in self.memory if m), default=0)

    @property
    def total_memory(self) -> int:
        """Every keyslot's memory added up (openSUSE kdump's rule)."""
        return sum(m for m in self.memory if m)


def redact_luks_dump(text: str) -> str:
    """``luksDump`` output without salts, digests, UUID and label: what a snapshot keeps.

    >>> redact_luks_dump("Version: 2\\nUUID: 1234\\n\\tSalt:       4f 71\\n\\t            ae 4e\\n\\tMemory:     65536\\n")
    'Version: 2\\nUUID: (redacted)\\n\\tSalt: (redacted)\\n\\tMemory:     65536\\n'
    """
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        m = _REDACTED.match(line)
        if m is not None:
            out.append(f"{m.group(1)}{m.group(2)}: (redacted)")
            skipping = True
            continue
        if skipping and _CONTINUATION.match(line):
            continue
        skipping = False
        out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def parse_luks_dump(text: str, *, path: str = "cryptsetup luksDump") -> LuksDump:
    """Read ``cryptsetup luksDump`` output.

    :raises SourceError: no ``Version:`` line (not luksDump output), or a ``Memory:`` that is
        not a number of KiB.

    >>> d = parse_luks_dump("LUKS header information\\nVersion:       \\t2\\n\\nKeyslots:\\n  0: luks2\\n"
    ...                     "\\tPBKDF:      argon2id\\n\\tMemory:     1048576\\n  1: luks2\\n\\tPBKDF:      pbkdf2\\n")
    >>> d.version, d.pbkdf, d.memory, d.max_memory
    (2, ('argon2id', 'pbkdf2'), (1073741824, None), 1073741824)
    """
    version = None
    pbkdf: list[str] = []
    memory: list[int | None] = []
    section = ""
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("Version:"):
            value = line.partition(":")[2].strip()
            if not is_decimal(value):
                raise SourceError(f"expected a LUKS version number, got {excerpt(value)}", path=path, line=lineno)
            version = int(value)
            continue
        if line and not line[0].isspace():
            section = line.rstrip(":").strip()
            continue
        if section != "Keyslots":
            continue
        m = _KEYSLOT.match(line)
        if m is not None:
            pbkdf.append("")
            memory.append(None)
            continue
        m = _FIELD.match(line)
        if m is None or not memory:
            continue
        key, value = m.group(1), m.group(2).strip()
        if key == "PBKDF":
            pbkdf[-1] = value
        elif key == "Memory":
            if not is_decimal(value):
                raise SourceError(f"expected the keyslot memory in KiB, got {excerpt(value)}", path=path, line=lineno)
            memory[-1] = int(value) * 1024
    if version is None:
        raise SourceError("not cryptsetup luksDump output: no 'Version:' line", path=path)
    return LuksDump(version, tuple(pbkdf), tuple(memory))
