"""Memory encryption as the kernel reports it: AMD SME/SEV and Intel TDX, from the kernel log.

Why crashplan wants it: under SME, SEV and TDX the kernel bounces DMA through SWIOTLB, so the
capture kernel allocates the default 64 MiB bounce buffer out of its small reservation, which a
kdump kernel below 4 GiB otherwise does not (rhkdump/kdump-utils ``kdump-lib.sh:
is_sme_or_sev_active()`` adds 64M for it, 4841bc6).

Authoritative sources:

* ``arch/x86/mm/mem_encrypt.c: print_mem_encrypt_feature_info()`` prints one line at boot.
  Since TDX guest support (2022; the LKML patches read by crashplan) it is
  ``Memory Encryption Features active: AMD SME`` (or ``AMD SEV SEV-ES SEV-SNP``, or ``Intel
  TDX``); from the SEV-ES series (2020) until then it was ``AMD Memory Encryption Features
  active: SME`` (or ``SEV SEV-ES``); before, ``mem_encrypt_init()`` printed ``AMD Secure Memory
  Encryption (SME) active`` or ``AMD Secure Encrypted Virtualization (SEV) active``.  The three
  forms are read.  SME excludes the SEV features (the function returns after " SME").
* ``sme_early_init()`` forces SWIOTLB for SEV guests (``swiotlb_force = SWIOTLB_FORCE``) and
  ``tdx_early_init()`` for TDX guests; under SME ``force_dma_unencrypted()`` bounces every
  device whose DMA mask cannot carry the encryption bit.
* ``/sys/kernel/mm/mem_encrypt/{sme,sev,sev_es}/status`` (``active`` / ``inactive`` /
  ``enabled`` / ``disabled`` / ``unsupported``) comes from a series posted to LKML in 2022
  (Alejandro Jimenez, Documentation/ABI/testing/sysfs-kernel-mm-mem-encrypt) that
  distribution kernels may carry; it is read where present, and only ``active`` counts.

kdump-utils' own test (``journalctl --dmesg --grep "^Memory Encryption Features active: AMD
(SME|SEV)$"``) matches only a line that ends after ``SME`` or ``SEV``, so an SEV-ES or SEV-SNP
guest (``AMD SEV SEV-ES``) gets no +64M there; crashplan counts every active feature, since
``sme_early_init()`` forces SWIOTLB for all SEV guests.

The kernel log is a ring buffer: on a host that has run for a while the boot line may have been
overwritten, so *no line* means *unknown*, never *inactive* (``None``, not ``False``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt

__all__ = ["MemEncryption", "parse_mem_encrypt_log", "parse_mem_encrypt_status"]

_STAMP = re.compile(r"^\[\s*\d+\.\d+\] ")
# v5.16+: "Memory Encryption Features active: AMD SME" (the space after ':' moved into the
# pr_info() in 6.x; either way one or more spaces separate the words).
_NEW = re.compile(r"^Memory Encryption Features active:\s*(AMD|Intel|Unknown)\b(.*)$")
_MID = re.compile(r"^AMD Memory Encryption Features active:(.*)$")
_OLD = re.compile(r"^AMD (Secure Memory Encryption \(SME\)|Secure Encrypted Virtualization \(SEV\)) active$")
_FEATURES = frozenset({"SME", "SEV", "SEV-ES", "SEV-SNP", "TDX"})
_STATUS_VALUES = frozenset({"active", "inactive", "enabled", "disabled", "unsupported"})


@dataclass(frozen=True, slots=True)
class MemEncryption:
    """The memory encryption the kernel says is active: ``vendor`` and ``features``.

    ``features`` uses the kernel's words (``SME``, ``SEV``, ``SEV-ES``, ``SEV-SNP``, ``TDX``);
    ``line`` is the text it was read from.
    """

    vendor: str
    features: tuple[str, ...]
    line: str

    @property
    def bounces_dma(self) -> bool:
        """Whether the capture kernel needs SWIOTLB bounce buffers (any SME, SEV or TDX)."""
        return bool(self.features)


def parse_mem_encrypt_log(lines: Iterable[str], *, path: str = "dmesg") -> MemEncryption | None:
    """The memory-encryption line of a kernel log, None when the log has none (never raises).

    :param path: the log's name (unused: any line that is not the one looked for is skipped).

    >>> parse_mem_encrypt_log(["[    0.000000] Memory Encryption Features active: AMD SEV SEV-ES"])
    MemEncryption(vendor='AMD', features=('SEV', 'SEV-ES'), line='Memory Encryption Features active: AMD SEV SEV-ES')
    >>> parse_mem_encrypt_log(["AMD Secure Memory Encryption (SME) active"]).features
    ('SME',)
    >>> parse_mem_encrypt_log(["Linux version 6.1"]) is None
    True
    """
    found = None
    for raw in lines:
        if "ncrypt" not in raw:
            continue
        line = _STAMP.sub("", raw.rstrip("\n"))
        m = _NEW.match(line)
        if m is not None:
            vendor, rest = m.group(1), m.group(2).split()
            features = ("TDX",) if vendor == "Intel" else tuple(w for w in rest if w in _FEATURES)
            found = MemEncryption(vendor, features, line)
            continue
        m = _MID.match(line)
        if m is not None:
            found = MemEncryption("AMD", tuple(w for w in m.group(1).split() if w in _FEATURES), line)
            continue
        m = _OLD.match(line)
        if m is not None:
            found = MemEncryption("AMD", ("SME",) if "SME" in m.group(1) else ("SEV",), line)
    return found


def parse_mem_encrypt_status(files: Mapping[str, str], *, path: str = "/sys/kernel/mm/mem_encrypt") -> MemEncryption | None:
    """The features whose ``/sys/kernel/mm/mem_encrypt/<feature>/status`` says ``active``.

    :param files: feature directory name (``sme``, ``sev``, ``sev_es``) -> its ``status`` text.
    :raises SourceError: a status that is none of the documented words.

    >>> parse_mem_encrypt_status({"sme": "active\\n", "sev": "unsupported\\n"}).features
    ('SME',)
    >>> parse_mem_encrypt_status({"sme": "inactive\\n"}) is None
    True
    """
    features: list[str] = []
    for name in sorted(files):
        value = files[name].strip()
        if value not in _STATUS_VALUES:
            raise SourceError(
                f"expected one of {', '.join(sorted(_STATUS_VALUES))}, got {excerpt(value)}",
                path=f"{path}/{name}/status",
                line=1,
            )
        if value == "active":
            features.append(name.upper().replace("_", "-"))
    if not features:
        return None
    return MemEncryption("AMD", tuple(features), ", ".join(f"{path}/{f.lower().replace('-', '_')}/status: active" for f in features))
