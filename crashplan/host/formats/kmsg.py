"""``/dev/kmsg`` records, turned into the ``dmesg`` text the other parsers read.

Authoritative source: ``Documentation/ABI/testing/dev-kmsg`` and ``kernel/printk/printk.c:
info_print_ext_header()``: each ``read()`` returns one record,
``<level>,<seqnum>,<timestamp usec>,<flags>[,...];<message>\\n``, followed by continuation lines
that start with a space (``KEY=value`` dictionary entries).  Non-printable bytes of the message
are escaped as ``\\xNN``.  ``dmesg`` prints the timestamp as ``[%5lu.%06lu]``.
"""

from __future__ import annotations

from collections.abc import Iterable

from crashplan.errors import SourceError
from crashplan.host.formats._text import is_decimal

__all__ = ["parse_kmsg_records"]


def parse_kmsg_records(records: Iterable[bytes], *, path: str = "/dev/kmsg") -> str:
    """The records as ``dmesg`` lines (``[    0.000000] message``), dictionary lines dropped.

    :raises SourceError: a record without the ``prefix;message`` shape.

    >>> parse_kmsg_records([b"6,1,0,-;Linux version 6.1\\n", b"6,2,1500,-;Memory Encryption Features active: AMD SME\\n SUBSYSTEM=x\\n"])
    '[    0.000000] Linux version 6.1\\n[    0.001500] Memory Encryption Features active: AMD SME\\n'
    """
    out: list[str] = []
    for record in records:
        text = record.decode("utf-8", "surrogateescape")
        head, sep, rest = text.partition(";")
        fields = head.split(",")
        if not sep or len(fields) < 4 or not is_decimal(fields[2]):
            raise SourceError("expected a '<level>,<seq>,<usec>,<flags>;<message>' record", path=path)
        message = rest.split("\n", 1)[0].replace("\\x5c", "\\").replace("\\x0a", " ")
        usec = int(fields[2])
        out.append(f"[{usec // 1_000_000:5d}.{usec % 1_000_000:06d}] {message}\n")
    return "".join(out)
