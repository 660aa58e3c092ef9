"""``/proc/modules``: the loaded kernel modules and their in-memory size.

Authoritative source: ``kernel/module/procfs.c: m_show()`` (``kernel/module.c`` before 5.17)
and ``print_unload_info()``.  One line per module::

    name size refcount used_by state address [taints]

``size`` is the module's core size in bytes (what kdumpctl's estimate sums for the modules in
the kdump initramfs, kdump-utils ``kdumpctl: do_estimate()``).  ``used_by`` lists the
modules that *use* this one, each followed by ``,`` (``-`` when none); ``[permanent]`` (no exit
function) and ``[unsafe]`` (old kernels) appear in the same list as flags.  Without
``CONFIG_MODULE_UNLOAD`` refcount and list are both ``-``.  ``address`` is the module's base,
printed ``0x0000000000000000`` to readers without the right to see kernel addresses
(``kallsyms_show_value()``): that becomes ``None``.  ``taints`` is the ``(OE)``-style flag group
printed for tainted or loading/unloading modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from crashplan.errors import SourceError
from crashplan.host.formats._text import excerpt, is_decimal, table_lines

__all__ = ["Module", "parse_modules"]


@dataclass(frozen=True, slots=True)
class Module:
    """One line of ``/proc/modules``.

    ``refcount`` is None when the kernel printed ``-`` (no ``CONFIG_MODULE_UNLOAD``);
    ``address`` is None when it was hidden (printed as 0).
    """

    name: str
    size: int
    refcount: int | None
    used_by: tuple[str, ...]
    state: str
    address: int | None
    flags: tuple[str, ...] = ()
    taints: str | None = None


def parse_modules(text: str, *, path: str = "/proc/modules") -> tuple[Module, ...]:
    """Parse the text of ``/proc/modules`` (an empty file means no module is loaded).

    Raises :class:`SourceError` naming the line for a line with too few or too many fields, a
    size or refcount that is not a number, an address that is not ``0x`` + hex, or a last
    line without its newline.

    >>> m = parse_modules("nf_nat 36864 1 nf_nat_ipv4, Live 0xffffffffc0a90000\\n")[0]
    >>> m.name, m.size, m.refcount, m.used_by, m.state, hex(m.address)
    ('nf_nat', 36864, 1, ('nf_nat_ipv4',), 'Live', '0xffffffffc0a90000')
    """
    lines = table_lines(text, path=path, expected="module lines", allow_empty=True)
    out: list[Module] = []
    for lineno, line in enumerate(lines, 1):
        words = line.split()
        if len(words) not in (6, 7):
            raise SourceError(
                f"expected 'name size refcount used_by state address [taints]', got {excerpt(line)}",
                path=path,
                line=lineno,
            )
        name, size, refcount, users, state, address = words[:6]
        if not is_decimal(size):
            raise SourceError(
                f"size {excerpt(size)} is not a decimal number", path=path, line=lineno
            )
        if refcount == "-":
            ref: int | None = None
        else:
            digits = refcount[1:] if refcount.startswith("-") else refcount
            if not is_decimal(digits):
                raise SourceError(
                    f"refcount {excerpt(refcount)} is not a number", path=path, line=lineno
                )
            ref = int(refcount)
        used_by: list[str] = []
        flags: list[str] = []
        if users != "-":
            for item in users.split(","):
                if not item:
                    continue
                (flags if item.startswith("[") else used_by).append(item)
        hex_digits = address[2:]
        if not (address[:2] in ("0x", "0X") and hex_digits and _is_hex(hex_digits)):
            raise SourceError(
                f"address {excerpt(address)} is not 0x followed by hex digits",
                path=path,
                line=lineno,
            )
        addr = int(hex_digits, 16)
        taints = words[6] if len(words) == 7 else None
        if taints is not None and not (taints.startswith("(") and taints.endswith(")")):
            raise SourceError(
                f"expected '(flags)' after the address, got {excerpt(taints)}",
                path=path,
                line=lineno,
            )
        out.append(
            Module(name, int(size), ref, tuple(used_by), state, addr or None, tuple(flags), taints)
        )
    return tuple(out)


def _is_hex(text: str) -> bool:
    """True when ``text`` is only ASCII hex digits."""
    return text.isascii() and all(c in "0123456789abcdefABCDEF" for c in text)
