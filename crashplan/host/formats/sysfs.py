"""The kexec files under ``/sys/kernel``: crash area size, load state and CMA ranges.

Authoritative sources:

* ``kexec_crash_size`` -- ``kernel/ksysfs.c: kexec_crash_size_show()`` prints
  ``crash_get_memory_size()`` as ``"%zd\\n"``: bytes of ``crashk_res`` plus ``crashk_low_res``
  (``,cma`` areas not included), 0 when nothing is reserved.
* ``kexec_crash_loaded`` -- ``"%d\\n"`` of ``kexec_crash_image != NULL``: 0 or 1.
* ``kexec_crash_cma_ranges`` -- "crash: export crashkernel CMA reservation to userspace"
  (Sourabh Jain, Nov 2025, status: -mm / linux-next): one ``"%08llx-%08llx\\n"`` line per
  ``crashkernel=,cma`` range with an **inclusive** end; empty when there is none.  Linux-next
  also mirrors these files under ``/sys/kernel/kexec/`` (``crash_size``, ``crash_loaded``,
  ``crash_cma_ranges``); the formats are the same.
"""

from __future__ import annotations

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt, is_decimal
from crashplan.values import MemRange

__all__ = ["parse_cma_ranges", "parse_kexec_crash_loaded", "parse_kexec_crash_size"]

_U64_MAX = (1 << 64) - 1
_HEX = frozenset("0123456789abcdefABCDEF")


def parse_kexec_crash_size(text: str, *, path: str = "/sys/kernel/kexec_crash_size") -> int:
    """Bytes reserved for the crash kernel (main plus low area), from ``kexec_crash_size``.

    >>> parse_kexec_crash_size("268435456\\n")
    268435456
    """
    value = _single_line(text, path, "a size in bytes")
    if not is_decimal(value):
        raise SourceError(
            f"expected a decimal number of bytes, got {excerpt(value)}", path=path, line=1
        )
    if int(value) >= 1 << 64:
        raise SourceError(f"{value if len(value) <= 30 else value[:27] + '...'} bytes does not fit in 64 bits", path=path, line=1)
    return int(value)


def parse_kexec_crash_loaded(text: str, *, path: str = "/sys/kernel/kexec_crash_loaded") -> bool:
    """Whether a crash kernel is loaded (``kexec_crash_loaded`` is ``1``).

    >>> parse_kexec_crash_loaded("1\\n"), parse_kexec_crash_loaded("0\\n")
    (True, False)
    """
    value = _single_line(text, path, "0 or 1")
    if value not in ("0", "1"):
        raise SourceError(f"expected 0 or 1, got {excerpt(value)}", path=path, line=1)
    return value == "1"


def parse_cma_ranges(
    text: str, *, path: str = "/sys/kernel/kexec_crash_cma_ranges"
) -> tuple[MemRange, ...]:
    """The ``crashkernel=,cma`` ranges, converted to half-open ``[start, end)``.

    >>> [(hex(r.start), hex(r.end)) for r in parse_cma_ranges("100000000-10c7fffff\\n")]
    [('0x100000000', '0x10c800000')]
    >>> parse_cma_ranges("")
    ()
    """
    body = text.rstrip("\n")
    if not body:
        return ()
    if not text.endswith("\n"):
        raise SourceError(
            "last line is not terminated by a newline (file truncated?)",
            path=path,
            line=body.count("\n") + 1,
        )
    out: list[MemRange] = []
    for lineno, line in enumerate(body.split("\n"), 1):
        start_text, dash, end_text = line.partition("-")
        if not dash or not _is_hex(start_text) or not _is_hex(end_text):
            raise SourceError(
                f"expected '<start>-<end>' in hex, got {excerpt(line)}", path=path, line=lineno
            )
        start, last = int(start_text, 16), int(end_text, 16)
        if max(start, last) > _U64_MAX:
            raise SourceError(
                f"address in {excerpt(line)} does not fit in 64 bits", path=path, line=lineno
            )
        if last < start:
            raise SourceError(
                f"inclusive end 0x{last:x} is before start 0x{start:x}", path=path, line=lineno
            )
        out.append(MemRange(start, last + 1))
    return tuple(out)


def _single_line(text: str, path: str, expected: str) -> str:
    """The one value of a single-value sysfs file, without its newline."""
    body = text[:-1] if text.endswith("\n") else text
    if "\n" in body:
        raise SourceError(f"expected one line holding {expected}", path=path, line=2)
    value = body.strip(" \t")
    if not value:
        raise SourceError(f"empty file: expected {expected}", path=path, line=1)
    return value


def _is_hex(text: str) -> bool:
    """True when ``text`` is one or more ASCII hex digits."""
    return bool(text) and all(c in _HEX for c in text)
