"""The decoded-message record: what the decoder stage hands the book, defined once.

One fixed record for every message type the book needs (`DECODED_TYPES`) and for the MoldUDP64 session
notices the decoder raises (gap, end of session, session change). `SOURCES` says, per ITCH type, which
ITCH field (by name, from `itch_spec`) fills which record field; fields a type does not fill are zero.
From this module come the Amaranth layout of the decoder's output stream and `decode_record`, the
reference the RTL is checked against. A record is a dict of integers, one per field; alpha fields keep
their wire bytes as little-endian integers (byte 0 of the field in bits 0-7, as the gateware's lanes).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from .itch_spec import BY_TYPE

__all__ = [
    "DECODED_FIELDS",
    "DECODED_TYPES",
    "SOURCES",
    "DecodedField",
    "Notice",
    "decode_record",
    "notice_record",
]


class Notice(IntEnum):
    """`notice` of a record: a message, or a MoldUDP64 session notice."""

    MESSAGE = 0
    GAP = ord("G")  # seq: the sequence that arrived; ref: the one expected
    END_OF_SESSION = ord("E")  # seq: next sequence; session
    SESSION_CHANGED = ord("C")  # seq: first sequence of the new session; session


@dataclass(frozen=True)
class DecodedField:
    """One field of the record: name and width in bits."""

    name: str
    width: int
    doc: str


DECODED_FIELDS: tuple[DecodedField, ...] = (
    DecodedField("notice", 8, "Notice: 0 for a message"),
    DecodedField("type", 8, "ITCH message type byte; 0 for a notice"),
    DecodedField("seq", 64, "MoldUDP64 sequence number of the message (or as the notice says)"),
    DecodedField("locate", 16, "stock locate"),
    DecodedField("timestamp", 48, "ns since midnight"),
    DecodedField("ref", 64, "order reference (U: the original); GAP: the expected sequence"),
    DecodedField("new_ref", 64, "U: the new order reference"),
    DecodedField("side", 8, "buy/sell indicator (A, F, P)"),
    DecodedField("shares", 64, "shares (A F U P), executed (E C), cancelled (X), Q's 8-byte shares"),
    DecodedField("price", 32, "Price(4): price (A F U P), execution price (C), cross price (Q)"),
    DecodedField("match", 64, "match number (E C P Q)"),
    DecodedField("flag", 8, "C printable, Q cross type, S event code, H trading state"),
    DecodedField("stock", 64, "stock symbol, 8 ASCII bytes as on the wire (A F P Q R H)"),
    DecodedField("reason", 32, "H reason, 4 ASCII bytes as on the wire"),
    DecodedField("session", 80, "END_OF_SESSION, SESSION_CHANGED: the MoldUDP64 session, 10 ASCII bytes"),
)

# ITCH type -> {record field: ITCH field}. Header fields (locate, timestamp) come with every type.
SOURCES: dict[str, dict[str, str]] = {
    "A": {"ref": "order_reference_number", "side": "buy_sell_indicator", "shares": "shares", "stock": "stock",
          "price": "price"},
    "F": {"ref": "order_reference_number", "side": "buy_sell_indicator", "shares": "shares", "stock": "stock",
          "price": "price"},
    "E": {"ref": "order_reference_number", "shares": "executed_shares", "match": "match_number"},
    "C": {"ref": "order_reference_number", "shares": "executed_shares", "match": "match_number",
          "flag": "printable", "price": "execution_price"},
    "X": {"ref": "order_reference_number", "shares": "cancelled_shares"},
    "D": {"ref": "order_reference_number"},
    "U": {"ref": "original_order_reference_number", "new_ref": "new_order_reference_number", "shares": "shares",
          "price": "price"},
    "P": {"ref": "order_reference_number", "side": "buy_sell_indicator", "shares": "shares", "stock": "stock",
          "price": "price", "match": "match_number"},
    "Q": {"shares": "shares", "stock": "stock", "price": "cross_price", "match": "match_number",
          "flag": "cross_type"},
    "R": {"stock": "stock"},
    "S": {"flag": "event_code"},
    "H": {"stock": "stock", "flag": "trading_state", "reason": "reason"},
}
DECODED_TYPES: tuple[str, ...] = tuple(SOURCES)

_WIDTH = {f.name: f.width for f in DECODED_FIELDS}


def _check() -> None:
    for t, mapping in SOURCES.items():
        spec = BY_TYPE[t]
        for dst, src in mapping.items():
            f = spec.field(src)
            if dst not in _WIDTH or _WIDTH[dst] == 0:
                raise ValueError(f"decoded record has no field {dst!r} (ITCH {t}.{src})")
            if 8 * f.width > _WIDTH[dst]:
                raise ValueError(f"ITCH {t}.{src} ({8 * f.width} bits) does not fit record field {dst}")


_check()

def _int(value: Any) -> int:
    """An ITCH field value as the record holds it: alpha bytes as a little-endian integer of those bytes."""
    return int.from_bytes(value, "little") if isinstance(value, bytes) else int(value)


def decode_record(msg: Any, seq: int) -> dict[str, int]:
    """The record of one decoded ITCH message (a named tuple from `itch.decode`) of a `DECODED_TYPES` type."""
    rec = dict.fromkeys(_WIDTH, 0)
    rec.update(type=ord(msg.message_type), seq=seq, locate=msg.stock_locate, timestamp=msg.timestamp)
    for dst, src in SOURCES[msg.message_type].items():
        rec[dst] = _int(getattr(msg, src))
    return rec


def notice_record(notice: Notice, seq: int, *, expected: int = 0, session: bytes = b"") -> dict[str, int]:
    """The record of a MoldUDP64 session notice."""
    rec = dict.fromkeys(_WIDTH, 0)
    rec.update(notice=int(notice), seq=seq, ref=expected, session=_int(session))
    return rec
