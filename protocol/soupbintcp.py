"""SoupBinTCP 3.0: the session layer under OUCH, defined once as tables.

Every packet: packet length @0 (2, big-endian, counts the type byte and the payload), packet type @2 (1),
payload @3. Fixed payloads are laid out in `PACKETS`; sequenced, unsequenced and debug packets carry a
payload of any length. Alpha fields are ASCII, left-justified, space-padded; numeric fields (the sequence
numbers) are ASCII decimal digits, right-justified and space-padded on the left (readers also accept them
left-justified, as some servers send them).

Server to client: `+` debug, `A` login accepted, `J` login rejected, `S` sequenced data, `H` server
heartbeat, `Z` end of session. Client to server: `+` debug, `L` login request, `U` unsequenced data,
`R` client heartbeat, `O` logout request.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .itch_spec import Field

__all__ = [
    "BY_TYPE",
    "HEADER",
    "HEADER_LEN",
    "LOGIN_REJECT_REASONS",
    "MAX_PACKET",
    "PACKETS",
    "PacketSpec",
    "SoupError",
    "decode",
    "encode",
    "frame",
    "split",
]

KINDS = ("uint", "alpha", "numeric")
HEADER: tuple[Field, ...] = (Field("packet_length", 0, 2, "uint"), Field("packet_type", 2, 1, "alpha"))
HEADER_LEN = 3
MAX_PACKET = 0xFFFF  # the length field is 16 bits


class SoupError(ValueError):
    """A SoupBinTCP packet that cannot be decoded or encoded."""


@dataclass(frozen=True)
class PacketSpec:
    """One packet type: its type byte, a name, who sends it, and its fixed payload fields (offsets in the packet).

    `variable` packets carry an opaque payload of any length after the header instead of fields.
    """

    type: str
    name: str
    direction: str  # 'server', 'client' or 'both'
    fields: tuple[Field, ...] = ()
    variable: bool = False

    @property
    def payload_length(self) -> int:
        return sum(f.width for f in self.fields)

    @property
    def length_field(self) -> int:
        """The value of the packet-length field of a fixed packet: type byte + payload."""
        return 1 + self.payload_length


def _packet(type_: str, name: str, direction: str, body: tuple[tuple[str, int, str], ...] = (), *,
            variable: bool = False) -> PacketSpec:
    """A spec from (name, width, kind) triples laid end to end after the 3-byte header."""
    fields, offset = [], HEADER_LEN
    for fname, width, kind in body:
        if kind not in KINDS:
            raise ValueError(f"SoupBinTCP {type_}: field {fname} has unknown kind {kind!r}")
        fields.append(Field(fname, offset, width, kind))
        offset += width
    return PacketSpec(type_, name, direction, tuple(fields), variable)


PACKETS: tuple[PacketSpec, ...] = (
    _packet("+", "Debug", "both", variable=True),
    _packet("A", "LoginAccepted", "server", (("session", 10, "alpha"), ("sequence_number", 20, "numeric"))),
    _packet("J", "LoginRejected", "server", (("reject_reason_code", 1, "alpha"),)),
    _packet("S", "SequencedData", "server", variable=True),
    _packet("H", "ServerHeartbeat", "server"),
    _packet("Z", "EndOfSession", "server"),
    _packet("L", "LoginRequest", "client", (
        ("username", 6, "alpha"), ("password", 10, "alpha"), ("requested_session", 10, "alpha"),
        ("requested_sequence_number", 20, "numeric"))),
    _packet("U", "UnsequencedData", "client", variable=True),
    _packet("R", "ClientHeartbeat", "client"),
    _packet("O", "LogoutRequest", "client"),
)
BY_TYPE: dict[str, PacketSpec] = {p.type: p for p in PACKETS}
# Login Rejected reason codes.
LOGIN_REJECT_REASONS: dict[str, str] = {"A": "not authorized", "S": "session not available"}

if BY_TYPE["L"].length_field != 47 or BY_TYPE["A"].length_field != 31 or BY_TYPE["J"].length_field != 2:
    raise AssertionError("SoupBinTCP tables disagree with the specification's packet lengths")

_HEAD = struct.Struct(">H1s")
if _HEAD.size != HEADER_LEN or [f.offset for f in HEADER] != [0, 2]:
    raise AssertionError("SoupBinTCP header layout disagrees with its table")


def _struct(spec: PacketSpec) -> struct.Struct:
    fmt = ">H1s" + "".join(f"{f.width}s" for f in spec.fields)  # every fixed field is ASCII
    return struct.Struct(fmt)


_STRUCTS: dict[str, struct.Struct] = {p.type: _struct(p) for p in PACKETS if not p.variable}


def _put(f: Field, value: str | int | bytes) -> bytes:
    if isinstance(value, bytes):
        raw = value
    elif f.kind == "numeric":
        raw = str(int(value)).rjust(f.width).encode("ascii")
    else:
        raw = str(value).ljust(f.width).encode("ascii")
    if len(raw) > f.width:
        raise SoupError(f"SoupBinTCP field {f.name}: {value!r} does not fit in {f.width} bytes")
    return raw.ljust(f.width)


def _get(f: Field, raw: bytes) -> str | int:
    if f.kind == "numeric":
        text = raw.strip(b" \x00")
        if not text.isdigit():
            raise SoupError(f"SoupBinTCP field {f.name}: {raw!r} is not a number")
        return int(text)
    return raw.decode("ascii").rstrip(" ")


def encode(type_: str, payload: bytes = b"", **fields: str | int) -> bytes:
    """One packet of `type_`: `payload` for variable packets, the named fields for fixed ones."""
    spec = BY_TYPE.get(type_)
    if spec is None:
        raise SoupError(f"SoupBinTCP has no packet type {type_!r}")
    if spec.variable:
        return frame(type_, payload)
    if payload:
        raise SoupError(f"SoupBinTCP {spec.name} has no free payload")
    unknown = set(fields) - {f.name for f in spec.fields}
    if unknown:
        raise SoupError(f"SoupBinTCP {spec.name} has no field(s) {sorted(unknown)}")
    values = [_put(f, fields.get(f.name, 0 if f.kind == "numeric" else "")) for f in spec.fields]
    return _STRUCTS[type_].pack(spec.length_field, type_.encode("ascii"), *values)


def frame(type_: str, payload: bytes) -> bytes:
    """A packet of any type with a raw payload (the header is prepended)."""
    if len(payload) + 1 > MAX_PACKET:
        raise SoupError(f"SoupBinTCP payload of {len(payload)} bytes is longer than a packet can hold")
    return _HEAD.pack(len(payload) + 1, type_.encode("ascii")) + payload


def decode(packet: bytes) -> tuple[str, dict[str, str | int] | bytes]:
    """(type, fields) of a whole packet (header included); variable packets give (type, payload bytes)."""
    if len(packet) < HEADER_LEN:
        raise SoupError(f"SoupBinTCP packet of {len(packet)} bytes is shorter than its header")
    length, t = _HEAD.unpack_from(packet)
    if length + 2 != len(packet):
        raise SoupError(f"SoupBinTCP packet length field {length} disagrees with its {len(packet)} bytes")
    type_ = t.decode("latin-1")
    spec = BY_TYPE.get(type_)
    if spec is None:
        raise SoupError(f"SoupBinTCP packet type {type_!r} is unknown")
    if spec.variable:
        return type_, bytes(packet[HEADER_LEN:])
    if length != spec.length_field:
        raise SoupError(f"SoupBinTCP {spec.name}: length {length}, the spec says {spec.length_field}")
    return type_, {f.name: _get(f, packet[f.offset:f.offset + f.width]) for f in spec.fields}


def split(buf: bytes | bytearray | memoryview) -> tuple[list[bytes], int]:
    """Whole packets at the start of a byte stream, and how many bytes they took (the rest is incomplete)."""
    out: list[bytes] = []
    pos, n = 0, len(buf)
    while n - pos >= 2:
        end = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
        if end > n:
            break
        out.append(bytes(buf[pos:end]))
        pos = end
    return out, pos
