"""The few ITCH 5.0 fields the fill simulator reads, as `struct` unpackers built from `protocol.itch_spec`.

Each unpacker reads, from a message's first byte, the named fields in order (pad bytes skip the rest), so
no offset is typed here. The 6-byte timestamp is read on its own (`timestamp`), only when it is needed.
"""

from __future__ import annotations

import struct

from tickgate.protocol import itch_spec

__all__ = ["TS_OFFSET", "layout", "timestamp"]

_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}
_SPECS = {m.type: m for m in itch_spec.MESSAGES}


def layout(msg_type: str, *names: str) -> struct.Struct:
    """A big-endian unpacker of `names` (in offset order) of message `msg_type`, reading from byte 0."""
    fields = {f.name: f for f in _SPECS[msg_type].fields}
    fmt, pos = ">", 0
    for name in sorted(names, key=lambda n: fields[n].offset):
        f = fields[name]
        if f.offset < pos:
            raise ValueError(f"{msg_type}.{name} overlaps the field before it")
        fmt += "x" * (f.offset - pos) + (f"{f.width}s" if f.kind == "alpha" else _FORMATS[f.width])
        pos = f.offset + f.width
    return struct.Struct(fmt)


_TS = {f.name: f for f in _SPECS["A"].fields}["timestamp"]
TS_OFFSET = _TS.offset  # the same in every message type


def timestamp(buf: bytes, msg_start: int) -> int:
    """The ITCH timestamp (ns since midnight) of the message starting at `msg_start` of `buf`."""
    return int.from_bytes(buf[msg_start + TS_OFFSET:msg_start + TS_OFFSET + _TS.width], "big")
