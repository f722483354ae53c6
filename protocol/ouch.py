"""Nasdaq OUCH 5.0: the order-entry messages tickgate speaks, defined once as tables.

Inbound (client to exchange, carried in SoupBinTCP unsequenced packets): Enter Order `O`, Replace Order `U`,
Cancel Order `X`. Outbound (exchange to client, in sequenced packets): System Event `S`, Order Accepted `A`,
Order Replaced `U`, Order Canceled `C`, Order Executed `E`, Broken Trade `B`, Rejected `J`, Cancel Pending
`P`, Cancel Reject `I`. Layouts verified on the real capture in `shared/data/pcap/Nasdaq.Nsm.Ouch.v5.0/`
(`protocol/test_ouch.py`).

Field kinds:
  ``uint``   big-endian unsigned integer (1, 2, 4 or 8 bytes)
  ``ts``     8-byte big-endian nanoseconds since midnight
  ``price``  8-byte big-endian unsigned holding a Price(4) value (4 implied decimals)
  ``alpha``  ASCII, left-justified, space-padded

Messages marked `appendage` end with a 2-byte appendage length and that many bytes of TLV options:
each option is length (1, counts the tag and the value), tag (1), value (`OPTIONS`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from .itch_spec import Field
from .ouch_codes import CANCEL_REASONS, OPTIONS, REJECT_REASONS, reject_reason_text

__all__ = [
    "BY_TYPE",
    "CANCEL_REASONS",
    "INBOUND",
    "MESSAGES",
    "OPTIONS",
    "OUTBOUND",
    "REJECT_REASONS",
    "MessageSpec",
    "OuchError",
    "decode",
    "decode_options",
    "encode",
    "encode_options",
    "encoder",
    "reject_reason_text",
]

KINDS = ("uint", "ts", "price", "alpha")
MAX_PRICE = 1_999_999_999  # Price(4) 199,999.9999: the largest limit price OUCH accepts


class OuchError(ValueError):
    """An OUCH message that cannot be decoded or encoded."""


@dataclass(frozen=True)
class MessageSpec:
    """One OUCH message: type byte, name, direction ('in' to the exchange, 'out' from it), fields, appendage."""

    type: str
    name: str
    direction: str
    fields: tuple[Field, ...]
    appendage: bool = False

    @property
    def length(self) -> int:
        """Bytes without the optional appendage (with the appendage-length field where there is one)."""
        last = self.fields[-1]
        return last.offset + last.width

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"OUCH {self.direction} {self.type} ({self.name}) has no field {name!r}")


def _msg(type_: str, name: str, direction: str, body: tuple[tuple[str, int, str], ...], *,
         appendage: bool = False) -> MessageSpec:
    """A spec from (name, width, kind) triples laid end to end after the type byte."""
    fields = [Field("message_type", 0, 1, "alpha")]
    offset = 1
    for fname, width, kind in body + ((("appendage_length", 2, "uint"),) if appendage else ()):
        if kind not in KINDS:
            raise ValueError(f"OUCH {type_}: field {fname} has unknown kind {kind!r}")
        fields.append(Field(fname, offset, width, kind))
        offset += width
    return MessageSpec(type_, name, direction, tuple(fields), appendage)


_TS = ("timestamp", 8, "ts")
_REF = ("user_ref_num", 4, "uint")
_QTY = ("quantity", 4, "uint")
_SYM = ("symbol", 8, "alpha")
_PX = ("price", 8, "price")
_CLORD = ("cl_ord_id", 14, "alpha")

INBOUND: tuple[MessageSpec, ...] = (
    _msg("O", "EnterOrder", "in", (
        _REF, ("side", 1, "alpha"), _QTY, _SYM, _PX, ("time_in_force", 1, "alpha"), ("display", 1, "alpha"),
        ("capacity", 1, "alpha"), ("intermarket_sweep", 1, "alpha"), ("cross_type", 1, "alpha"), _CLORD),
        appendage=True),
    _msg("U", "ReplaceOrder", "in", (
        ("orig_user_ref_num", 4, "uint"), _REF, _QTY, _PX, ("time_in_force", 1, "alpha"), ("display", 1, "alpha"),
        ("intermarket_sweep", 1, "alpha"), _CLORD), appendage=True),
    _msg("X", "CancelOrder", "in", (_REF, _QTY)),
)
OUTBOUND: tuple[MessageSpec, ...] = (
    _msg("S", "SystemEvent", "out", (_TS, ("event_code", 1, "alpha"))),
    _msg("A", "OrderAccepted", "out", (
        _TS, _REF, ("side", 1, "alpha"), _QTY, _SYM, _PX, ("time_in_force", 1, "alpha"), ("display", 1, "alpha"),
        ("order_reference_number", 8, "uint"), ("capacity", 1, "alpha"), ("intermarket_sweep", 1, "alpha"),
        ("cross_type", 1, "alpha"), ("order_state", 1, "alpha"), _CLORD), appendage=True),
    _msg("U", "OrderReplaced", "out", (
        _TS, ("orig_user_ref_num", 4, "uint"), _REF, ("side", 1, "alpha"), _QTY, _SYM, _PX,
        ("time_in_force", 1, "alpha"), ("display", 1, "alpha"), ("order_reference_number", 8, "uint"),
        ("capacity", 1, "alpha"), ("intermarket_sweep", 1, "alpha"), ("cross_type", 1, "alpha"),
        ("order_state", 1, "alpha"), _CLORD), appendage=True),
    _msg("C", "OrderCanceled", "out", (_TS, _REF, _QTY, ("reason", 1, "alpha"))),
    _msg("E", "OrderExecuted", "out", (
        _TS, _REF, _QTY, _PX, ("liquidity_flag", 1, "alpha"), ("match_number", 8, "uint")), appendage=True),
    _msg("B", "BrokenTrade", "out", (_TS, _REF, ("match_number", 8, "uint"), ("reason", 1, "alpha"), _CLORD)),
    _msg("J", "Rejected", "out", (_TS, _REF, ("reason", 2, "uint"), _CLORD)),
    _msg("P", "CancelPending", "out", (_TS, _REF)),
    _msg("I", "CancelReject", "out", (_TS, _REF)),
)
MESSAGES: tuple[MessageSpec, ...] = INBOUND + OUTBOUND
BY_TYPE: dict[tuple[str, str], MessageSpec] = {(m.direction, m.type): m for m in MESSAGES}

# Spec lengths (without the optional appendage), checked here so a table edit cannot drift silently.
_SPEC_LENGTHS = {("in", "O"): 47, ("in", "U"): 40, ("in", "X"): 9, ("out", "S"): 10, ("out", "A"): 64,
                 ("out", "U"): 68, ("out", "C"): 18, ("out", "E"): 36, ("out", "B"): 36, ("out", "J"): 29,
                 ("out", "P"): 13, ("out", "I"): 13}
if {k: m.length for k, m in BY_TYPE.items()} != _SPEC_LENGTHS:
    raise AssertionError("OUCH tables disagree with the specification's message lengths")

def _struct(spec: MessageSpec) -> struct.Struct:
    codes = {1: "B", 2: "H", 4: "I", 8: "Q"}
    return struct.Struct(">" + "".join(f"{f.width}s" if f.kind == "alpha" else codes[f.width] for f in spec.fields))


_STRUCTS: dict[tuple[str, str], struct.Struct] = {k: _struct(m) for k, m in BY_TYPE.items()}
_BODY: dict[tuple[str, str], tuple[Field, ...]] = {
    k: tuple(f for f in m.fields[1:] if f.name != "appendage_length") for k, m in BY_TYPE.items()}
_TYPE_BYTES: dict[tuple[str, str], bytes] = {k: k[1].encode("ascii") for k in BY_TYPE}
for _k, _s in _STRUCTS.items():
    if _s.size != BY_TYPE[_k].length:
        raise AssertionError(f"OUCH {_k}: struct size {_s.size} disagrees with the table")


def _alpha(f: Field, value: str | bytes) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode("ascii")
    if len(raw) > f.width:
        raise OuchError(f"OUCH field {f.name}: {value!r} is longer than {f.width} bytes")
    return raw.ljust(f.width, b" ")


def encode(type_: str, direction: str = "in", *, appendage: bytes = b"", **fields: str | int | bytes) -> bytes:
    """One OUCH message from named fields (alpha as str or bytes, the rest as int; missing fields are blank/0)."""
    key = (direction, type_)
    spec = BY_TYPE.get(key)
    if spec is None:
        raise OuchError(f"OUCH has no {direction}bound message {type_!r}")
    body = _BODY[key]
    if len(fields) > len(body) or not fields.keys() <= {f.name for f in body}:
        raise OuchError(f"OUCH {spec.name} has no field(s) {sorted(set(fields) - {f.name for f in body})}")
    values: list[bytes | int] = [_TYPE_BYTES[key]]
    for f in body:
        v = fields.get(f.name)
        if f.kind == "alpha":
            values.append(_alpha(f, v if v is not None else b""))
        else:
            n = int(v) if v is not None else 0  # type: ignore[arg-type]
            if n < 0 or n >> (8 * f.width):
                raise OuchError(f"OUCH field {f.name}: {n} does not fit in {f.width} unsigned bytes")
            values.append(n)
    if spec.appendage:
        values.append(len(appendage))
    elif appendage:
        raise OuchError(f"OUCH {spec.name} has no optional appendage")
    try:
        return _STRUCTS[key].pack(*values) + appendage
    except struct.error as exc:  # pragma: no cover - every value is checked above
        raise OuchError(f"OUCH {spec.name}: {exc}") from exc


def decode(msg: bytes, direction: str = "out") -> tuple[str, dict[str, str | int | bytes]]:
    """(type, fields) of one message; alpha fields lose their padding; `appendage` holds the raw options."""
    if not msg:
        raise OuchError("empty OUCH message")
    type_ = chr(msg[0])
    key = (direction, type_)
    spec = BY_TYPE.get(key)
    if spec is None:
        raise OuchError(f"OUCH {direction}bound message type {type_!r} is unknown")
    n = spec.length
    if len(msg) < n:
        raise OuchError(f"OUCH {spec.name}: {len(msg)} bytes, the spec says {n}")
    values = _STRUCTS[key].unpack_from(msg)
    out: dict[str, str | int | bytes] = {}
    for f, v in zip(spec.fields, values, strict=True):
        out[f.name] = v.decode("ascii").rstrip(" ") if f.kind == "alpha" else v
    extra = bytes(msg[n:])
    if spec.appendage:
        if len(extra) != out["appendage_length"]:
            raise OuchError(f"OUCH {spec.name}: appendage length {out['appendage_length']}, {len(extra)} bytes follow")
        out["appendage"] = extra
    elif extra:
        raise OuchError(f"OUCH {spec.name}: {len(msg)} bytes, the spec says {n}")
    return type_, out


def encode_options(options: dict[str, str | int]) -> bytes:
    """The TLV appendage for named options (names from `OPTIONS`)."""
    by_name = {name: (tag, width, kind) for tag, (name, width, kind) in OPTIONS.items()}
    out = bytearray()
    for name, value in options.items():
        if name not in by_name:
            raise OuchError(f"OUCH has no option {name!r}")
        tag, width, kind = by_name[name]
        if kind == "alpha":
            raw = str(value).encode("ascii").ljust(width)
            if len(raw) != width:
                raise OuchError(f"OUCH option {name}: {value!r} is longer than {width} bytes")
        else:
            raw = int(value).to_bytes(width, "big", signed=kind == "int")
        out += bytes((1 + width, tag)) + raw
    return bytes(out)


def decode_options(appendage: bytes) -> dict[str, str | int]:
    """Named options of a TLV appendage; unknown tags come back as 'tag_N' with the raw bytes' hex."""
    out: dict[str, str | int] = {}
    pos = 0
    while pos < len(appendage):
        length = appendage[pos]
        if length < 1 or pos + 1 + length > len(appendage):
            raise OuchError(f"OUCH appendage: option at byte {pos} runs past the end ({length} bytes)")
        tag, raw = appendage[pos + 1], appendage[pos + 2:pos + 1 + length]
        name, width, kind = OPTIONS.get(tag, (f"tag_{tag}", len(raw), "hex"))
        if len(raw) != width:
            raise OuchError(f"OUCH option {name}: {len(raw)} bytes, the spec says {width}")
        if kind == "alpha":
            out[name] = raw.decode("ascii").rstrip(" ")
        elif kind == "hex":
            out[name] = raw.hex()
        else:
            out[name] = int.from_bytes(raw, "big", signed=kind == "int")
        pos += 1 + length
    return out


def encoder(type_: str, direction: str, names: tuple[str, ...], **fixed: str | int) -> Callable[..., bytes]:
    """A fast encoder of one message type: call it with the `names` fields positionally; `fixed` fills the rest.

    For the hot path: `enter = encoder("O", "in", ("user_ref_num", "side", ...), display="Y")`, then
    `enter(7, "B", ...)`. Values are checked as `encode` checks them (the struct raises on overflow).
    """
    key = (direction, type_)
    spec = BY_TYPE.get(key)
    if spec is None:
        raise OuchError(f"OUCH has no {direction}bound message {type_!r}")
    body = _BODY[key]
    unknown = (set(names) | set(fixed)) - {f.name for f in body}
    if unknown or set(names) & set(fixed):
        raise OuchError(f"OUCH {spec.name}: unknown or repeated field(s) {sorted(unknown or set(names) & set(fixed))}")
    template: list[bytes | int] = [_TYPE_BYTES[key]]
    for f in body:
        v = fixed.get(f.name)
        template.append(_alpha(f, v if v is not None else b"") if f.kind == "alpha" else int(v or 0))
    if spec.appendage:
        template.append(0)
    pos = {f.name: i + 1 for i, f in enumerate(body)}
    slots = tuple((pos[n], spec.field(n).width if spec.field(n).kind == "alpha" else 0) for n in names)
    pack = _STRUCTS[key].pack

    def enc(*args: str | int | bytes) -> bytes:
        values = template.copy()
        for (i, width), v in zip(slots, args, strict=True):
            if width:
                raw = v if isinstance(v, bytes) else v.encode("ascii")  # type: ignore[union-attr]
                if len(raw) > width:
                    raise OuchError(f"OUCH {spec.name}: {v!r} is longer than {width} bytes")
                values[i] = raw.ljust(width, b" ")
            else:
                values[i] = v  # type: ignore[assignment]
        try:
            return pack(*values)
        except struct.error as exc:
            raise OuchError(f"OUCH {spec.name}: {exc}") from exc

    return enc
