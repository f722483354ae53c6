"""ITCH 5.0 codecs and numpy dtypes, generated from the table in `itch_spec`.

`decode(buf)` turns one message (without its length prefix) into a named tuple of its fields;
`encode(msg)` turns it back into the same bytes. `WIRE_DTYPES[t]` is the exact big-endian wire layout
of type `t` as a numpy dtype, for vectorised work on many messages of one type.
"""

from __future__ import annotations

import struct
from collections import namedtuple
from typing import Any, NamedTuple

import numpy as np

from .itch_spec import BY_TYPE, BY_TYPE_BYTE, MESSAGES, MessageSpec

__all__ = [
    "CLASSES",
    "WIRE_DTYPES",
    "BadLength",
    "ItchError",
    "UnknownType",
    "decode",
    "encode",
    "price_str",
    "symbol",
    "timestamp_of",
    "wire_array",
]


class ItchError(ValueError):
    """A message that cannot be decoded."""


class UnknownType(ItchError):
    """The type byte is not one of the 23 ITCH 5.0 types."""


class BadLength(ItchError):
    """The message length disagrees with its type's fixed length."""


_STRUCT_CODE = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _struct_format(spec: MessageSpec) -> str:
    parts = []
    for f in spec.fields:
        if f.kind == "alpha":
            parts.append(f"{f.width}s")
        elif f.kind == "ts":
            parts.append("HI")
        else:
            parts.append(_STRUCT_CODE[f.width])
    return ">" + "".join(parts)


def _numpy_fields(spec: MessageSpec) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for f in spec.fields:
        if f.kind == "alpha":
            out.append((f.name, f"S{f.width}"))
        elif f.kind == "ts":
            out += [("timestamp_hi", ">u2"), ("timestamp_lo", ">u4")]
        else:
            out.append((f.name, f">u{f.width}"))
    return out


STRUCTS: dict[str, struct.Struct] = {m.type: struct.Struct(_struct_format(m)) for m in MESSAGES}
CLASSES: dict[str, type[NamedTuple]] = {
    m.type: namedtuple(m.name, [f.name for f in m.fields]) for m in MESSAGES  # type: ignore[misc]
}
WIRE_DTYPES: dict[str, np.dtype] = {m.type: np.dtype(_numpy_fields(m)) for m in MESSAGES}

for _m in MESSAGES:
    if STRUCTS[_m.type].size != _m.length or WIRE_DTYPES[_m.type].itemsize != _m.length:
        raise AssertionError(f"ITCH {_m.type}: generated layouts disagree with the table")

_tuple_new = tuple.__new__  # builds the named tuple without its Python-level __new__
_DECODERS = {m.type_byte: (STRUCTS[m.type].unpack, CLASSES[m.type], m.length, m.type) for m in MESSAGES}


def decode(buf: bytes | bytearray | memoryview) -> Any:
    """Decode one ITCH message (no length prefix) into its named tuple.

    Alpha fields stay `bytes` with their padding, so `encode(decode(b)) == b`; `message_type` is a
    one-character `str`; `timestamp` is an `int` of nanoseconds since midnight.
    """
    if not buf:
        raise BadLength("empty ITCH message")
    entry = _DECODERS.get(buf[0])
    if entry is None:
        raise UnknownType(f"unknown ITCH message type {bytes(buf[:1])!r}")
    unpack, cls, length, type_ = entry
    if len(buf) != length:
        raise BadLength(f"ITCH {type_} is {length} bytes, got {len(buf)}")
    v = unpack(buf)
    return _tuple_new(cls, (type_, v[1], v[2], v[3] << 32 | v[4], *v[5:]))


def encode(msg: Any) -> bytes:
    """Encode a named tuple from `decode` (or one built with `CLASSES[t](...)`) back to wire bytes."""
    t = msg[0]
    st = STRUCTS.get(t)
    if st is None:
        raise UnknownType(f"unknown ITCH message type {t!r}")
    ts = msg[3]
    if not 0 <= ts < 1 << 48:
        raise ValueError(f"ITCH timestamp {ts} does not fit in 6 bytes")
    return st.pack(t.encode("ascii"), msg[1], msg[2], ts >> 32, ts & 0xFFFFFFFF, *msg[4:])


def make(type_: str, **fields: Any) -> Any:
    """Build a message of `type_` from keyword fields; missing fields are 0 or spaces."""
    spec = BY_TYPE[type_]
    values = []
    for f in spec.fields:
        if f.name == "message_type":
            values.append(type_)
        elif f.name in fields:
            v = fields.pop(f.name)
            if f.kind == "alpha":
                v = v.encode("ascii") if isinstance(v, str) else bytes(v)
                if len(v) > f.width:
                    raise ValueError(f"ITCH {type_}.{f.name}: {v!r} is longer than {f.width} bytes")
                v = v.ljust(f.width, b" ")
            values.append(v)
        else:
            values.append(b" " * f.width if f.kind == "alpha" else 0)
    if fields:
        raise TypeError(f"ITCH {type_} has no fields {sorted(fields)}")
    return CLASSES[type_](*values)


def spec_of(buf: bytes | bytearray | memoryview) -> MessageSpec | None:
    """The spec of a message's type byte, or None for an unknown type."""
    return BY_TYPE_BYTE.get(buf[0]) if buf else None


def wire_array(buf: bytes | bytearray | memoryview, type_: str) -> np.ndarray:
    """View a buffer of back-to-back messages of one type (no prefixes) as a numpy record array."""
    return np.frombuffer(buf, dtype=WIRE_DTYPES[type_])


def timestamp_of(arr: np.ndarray) -> np.ndarray:
    """Nanoseconds since midnight from a `wire_array`'s split timestamp fields."""
    return (arr["timestamp_hi"].astype(np.uint64) << np.uint64(32)) | arr["timestamp_lo"].astype(np.uint64)


def symbol(raw: bytes) -> str:
    """An ITCH alpha stock field as a plain symbol: `b'AAPL    '` -> `'AAPL'`."""
    return raw.decode("ascii", "replace").rstrip(" ")


def price_str(price4: int) -> str:
    """A Price(4) integer as a decimal string: 873900 -> '87.3900'."""
    return f"{price4 // 10_000}.{price4 % 10_000:04d}"
