"""JSON (and YAML) text for stdout: indented for people, one line for JSON lines, always valid UTF-8.

Host files are read with ``surrogateescape``, so a byte that is not UTF-8 reaches here as a lone
surrogate; it is written as the four characters ``\\xNN``, the way crashplan's messages show it.
"""

from __future__ import annotations

import json
import re

__all__ = ["dumps_json", "dumps_yaml", "escape_undecodable", "utf8_safe"]


# Lone surrogates: the bytes of a file that are not UTF-8, as surrogateescape decoded them.
_SURROGATE = "[\ud800-\udfff]"


def _has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate; ASCII text (nearly every output) is not searched."""
    return not text.isascii() and re.search(_SURROGATE, text) is not None


def _escape_surrogate(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def escape_undecodable(text: str) -> str:
    r"""``text`` with every byte that was not UTF-8 written as ``\xNN`` (as messages show it), so it encodes.

    >>> escape_undecodable(b"a\xffb".decode("utf-8", "surrogateescape"))
    'a\\xffb'
    """
    return re.sub(_SURROGATE, _escape_surrogate, text) if _has_surrogate(text) else text


def utf8_safe(value: object) -> object:
    """``value`` (JSON-like) with :func:`escape_undecodable` applied to every string, for YAML."""
    if isinstance(value, str):
        return escape_undecodable(value)
    if isinstance(value, dict):
        return {utf8_safe(k): utf8_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [utf8_safe(v) for v in value]
    return value


def dumps_json(value: object, *, lines: bool = False) -> str:
    r"""JSON text for stdout: indented for people, one line for ``--batch`` (JSON lines).

    Always valid UTF-8: a byte of the input that is not UTF-8 is written as the four
    characters ``\xNN`` inside the string (a JSON ``"\\xNN"``).
    """
    if lines:
        out = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        out = json.dumps(value, indent=2, ensure_ascii=False)
    if _has_surrogate(out):
        out = re.sub(_SURROGATE, lambda m: "\\" + _escape_surrogate(m), out)
    return out


def dumps_yaml(value: object) -> str:
    """YAML text for stdout (block style, keys in their order, lines never folded), valid UTF-8 like :func:`dumps_json`.

    yaml is imported here, only when YAML is asked for.
    """
    import yaml

    return yaml.safe_dump(utf8_safe(value), sort_keys=False, width=1 << 30, allow_unicode=True)
