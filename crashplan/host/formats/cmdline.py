"""The kernel command line (``/proc/cmdline``), split with the kernel's own quoting rules.

Authoritative source: ``lib/cmdline.c: next_arg()``, called in a loop by
``kernel/params.c: parse_args()`` after ``skip_spaces()``; whitespace is the kernel's
``isspace()`` from ``lib/ctype.c``.  ``str.split()`` is wrong for this (see prometheus/procfs
``cmdline.go``): the kernel groups words inside double quotes, removes quotes only in three
places, and works on bytes.

``next_arg()`` in short (quotes cannot be escaped):

* an argument ends at the first kernel whitespace character outside double quotes; every
  ``"`` toggles "inside quotes", and an unterminated quote runs to the end of the line;
* ``param`` is the text before the first ``=`` that is not the argument's first character;
* removed quotes: a ``"`` that starts the argument; a ``"`` that starts the value, together
  with the argument's last character if that is ``"``; and the argument's last ``"`` when the
  argument started with one.  Every other ``"`` is kept.

The kernel ``isspace()`` set is ``\\t \\n \\v \\f \\r``, space and byte 0xA0 (Latin-1 NBSP).
It works on bytes, so the text is split on its UTF-8 encoding (undecodable bytes read with
``surrogateescape`` come back as they were) and each argument is decoded back the same way.

``parse_args()`` stops at a bare ``--``: what follows goes to init, not to the kernel
(:attr:`Cmdline.kernel_args` / :attr:`Cmdline.init_args`).  ``crashkernel=`` is different: the
kernel finds it with ``strstr()`` on the *raw* string (kernel/crash_reserve.c:
``get_last_crashkernel()``), so :attr:`Cmdline.raw` is kept exactly as read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crashplan.errors import SourceError

__all__ = ["Cmdline", "get_param", "has_param", "parse_cmdline", "split_cmdline"]

# lib/ctype.c: _S is set for 9-13, 32 and 160.
_KERNEL_SPACE = frozenset(b"\t\n\v\f\r \xa0")
# Runs of kernel whitespace: without a double quote, next_arg() cuts exactly at these.
_KERNEL_SPACES = re.compile(rb"[\t\n\v\f\r \xa0]+")


@dataclass(frozen=True, slots=True)
class Cmdline:
    """A kernel command line: the raw text (one trailing newline removed) and its arguments.

    ``args`` holds every argument ``next_arg()`` returns, as ``param`` or ``param=value``
    with the kernel's quote removal applied, including a ``--`` and what follows it.
    """

    raw: str
    args: tuple[str, ...]

    @property
    def kernel_args(self) -> tuple[str, ...]:
        """The arguments the kernel parses itself: those before the first bare ``--``."""
        try:
            return self.args[: self.args.index("--")]
        except ValueError:
            return self.args

    @property
    def init_args(self) -> tuple[str, ...]:
        """The arguments after the first bare ``--``, which the kernel hands to init."""
        try:
            return self.args[self.args.index("--") + 1 :]
        except ValueError:
            return ()


def parse_cmdline(text: str, *, path: str = "/proc/cmdline") -> Cmdline:
    """Parse a kernel command line; one trailing newline (as ``/proc/cmdline`` has) is removed.

    Raises :class:`SourceError` if the text holds a NUL character, which a C string cannot.

    >>> c = parse_cmdline('root=/dev/vda1 quiet crashkernel=256M -- single\\n')
    >>> c.raw, c.kernel_args, c.init_args
    ('root=/dev/vda1 quiet crashkernel=256M -- single', ('root=/dev/vda1', 'quiet', 'crashkernel=256M'), ('single',))
    """
    raw = text[:-1] if text.endswith("\n") else text
    if "\0" in raw:
        raise SourceError(
            f"NUL character at offset {raw.index(chr(0))}: not a kernel command line",
            path=path,
            line=raw.count("\n", 0, raw.index("\0")) + 1,
        )
    return Cmdline(raw, split_cmdline(raw))


def split_cmdline(text: str) -> tuple[str, ...]:
    """Split a command line into arguments exactly as the kernel's ``next_arg()`` does.

    A trailing newline is whitespace to the kernel, so ``/proc/cmdline`` text can be passed
    as read.  Text after a NUL character is ignored, as the kernel would never see it.

    >>> split_cmdline('a  "b c" d="e f" "g=h" i"j k"l m=x"y"\\n')
    ('a', 'b c', 'd=e f', 'g=h', 'i"j k"l', 'm=x"y"')
    >>> split_cmdline('dyndbg="file x.c +p" ="q" "unterminated')
    ('dyndbg=file x.c +p', '="q"', 'unterminated')
    """
    data = _encode(text.split("\0", 1)[0])
    if b'"' not in data:
        # No quote: each argument is a run of non-space bytes, and next_arg()'s param and
        # value join back into that run (its '=' split changes nothing without quotes).
        return tuple(_decode(arg) for arg in _KERNEL_SPACES.split(data) if arg)
    return _split_next_arg(data)


def _split_next_arg(data: bytes) -> tuple[str, ...]:
    """``parse_args()``'s loop of ``skip_spaces()`` and ``next_arg()`` over ``data``."""
    out: list[str] = []
    n = len(data)
    pos = 0
    space = _KERNEL_SPACE
    while True:
        while pos < n and data[pos] in space:  # skip_spaces()
            pos += 1
        if pos >= n:
            break
        param, value, pos = _next_arg(data, pos)
        out.append(_decode(param) if value is None else _decode(param + b"=" + value))
    return tuple(out)


def _next_arg(data: bytes, pos: int) -> tuple[bytes, bytes | None, int]:
    """One call of ``next_arg()`` on ``data[pos:]``: ``(param, value or None, next position)``.

    A line-by-line port: ``buf`` is the kernel's ``args`` buffer (``args[i]`` is the
    terminator), the kernel's NUL writes are done on it, and ``param``/``val`` are read back
    as C strings.
    """
    n = len(data)
    start = pos
    in_quote = quoted = False
    if data[start] == 0x22:  # '"'
        start += 1
        in_quote = quoted = True
    i = 0
    equals = 0
    space = _KERNEL_SPACE
    while start + i < n:
        c = data[start + i]
        if c in space and not in_quote:
            break
        if equals == 0 and c == 0x3D:  # '=': one at index 0 leaves equals at 0
            equals = i
        if c == 0x22:
            in_quote = not in_quote
        i += 1
    buf = bytearray(data[start : start + i])
    buf.append(0)
    val_off: int | None = None
    if equals:
        buf[equals] = 0
        val_off = equals + 1
        # Don't include quotes in value.
        if buf[val_off] == 0x22:
            val_off += 1
            if buf[i - 1] == 0x22:
                buf[i - 1] = 0
    # With i == 0 the kernel's args[i-1] is the opening quote itself, outside param.
    if quoted and i > 0 and buf[i - 1] == 0x22:
        buf[i - 1] = 0
    param = bytes(buf[: buf.index(0)])
    value = None if val_off is None else bytes(buf[val_off : buf.index(0, val_off)])
    nxt = start + i + 1 if start + i < n else start + i
    return param, value, nxt


def get_param(args: tuple[str, ...] | list[str], name: str) -> tuple[str, ...]:
    """Every value of ``name=`` in ``args``, in order (the kernel usually honours the last).

    Names compare like the kernel's ``parameq()``: ``-`` and ``_`` are the same character.
    A bare ``name`` without ``=`` has no value and is not returned (see :func:`has_param`).
    Pass :attr:`Cmdline.kernel_args` to ignore what follows ``--``.

    >>> get_param(("console=tty0", "quiet", "console=ttyS0,115200", "nr-cpus=1"), "console")
    ('tty0', 'ttyS0,115200')
    >>> get_param(("nr-cpus=1",), "nr_cpus")
    ('1',)
    """
    wanted = _dashes_to_underscores(name)
    out: list[str] = []
    for arg in args:
        # next_arg() splits at the first '=' that is not the first character.
        cut = arg.find("=", 1)
        if cut > 0 and _dashes_to_underscores(arg[:cut]) == wanted:
            out.append(arg[cut + 1 :])
    return tuple(out)


def has_param(args: tuple[str, ...] | list[str], name: str) -> bool:
    """True when ``name`` appears in ``args``, bare (``quiet``) or with a value (``quiet=1``).

    >>> has_param(("ro", "quiet"), "quiet"), has_param(("ro",), "quiet")
    (True, False)
    """
    wanted = _dashes_to_underscores(name)
    for arg in args:
        cut = arg.find("=", 1)
        param = arg if cut < 0 else arg[:cut]
        if _dashes_to_underscores(param) == wanted:
            return True
    return False


def _dashes_to_underscores(name: str) -> str:
    """The kernel's ``parameq()`` treats ``-`` and ``_`` in names as equal."""
    return name.replace("-", "_")


def _encode(text: str) -> bytes:
    """The bytes the kernel would see: UTF-8, with surrogate-escaped raw bytes restored."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Lone surrogates that are not escaped bytes cannot come from a file; keep them
        # distinguishable rather than fail.
        return text.encode("utf-8", "surrogatepass")


def _decode(data: bytes) -> str:
    """Inverse of :func:`_encode` for arguments cut out of the encoded text."""
    return data.decode("utf-8", "surrogateescape")
