"""The book-event record: 64 bytes, little-endian, one per 512-bit beat, the same bytes from every backend.

Bytes 0-31 are common to every kind; bytes 32-63 are laid out per kind (`KIND_FIELDS`); unused bytes are
zero. `EVENT_DTYPE` is the one numpy dtype of the record, the one `.npy` files hold: the common fields and
the top-of-book fields (`bid_px`, `bid_sz`, `ask_px`, `ask_sz`). Other kinds reuse bytes 32-63; read them
through `KIND_DTYPES[kind]`, a view of the same 64 bytes: `as_kind(events, EventKind.TRADE)`.

`ts_local` (receive time on the backend) is the one field excluded from equivalence: compare records
with `comparable(events)`.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "COMMON_FIELDS",
    "EVENT_DTYPE",  # noqa: F822 - made on first use (__getattr__ below)
    "EVENT_SIZE",
    "KIND_DTYPES",  # noqa: F822 - made on first use (__getattr__ below)
    "KIND_FIELDS",
    "DegradedReason",
    "EventFlag",
    "EventKind",
    "LevelAction",
    "SessionCode",
    "as_kind",
    "comparable",
    "empty",
    "fields_of",
    "pack_format",
    "pack_order",
]

EVENT_SIZE = 64


@dataclass(frozen=True)
class EventField:
    """One field of the record: name, byte offset, numpy scalar type (little-endian)."""

    name: str
    offset: int
    dtype: str
    doc: str

    @property
    def width(self) -> int:
        """Bytes of the field: the size its numpy type string ends with ("u1", "<u8", "S10")."""
        m = re.fullmatch(r"[<|]?[uS](\d+)", self.dtype)
        if m is None:
            raise ValueError(f"{self.name}: unsupported event field type {self.dtype!r}")
        return int(m.group(1))


class EventKind(IntEnum):
    """The `kind` byte: an ASCII letter."""

    BBO = ord("B")  # top of book changed
    TRADE = ord("T")  # execution (E, C), non-cross trade (P) or cross (Q)
    STATUS = ord("S")  # system event (S) or trading action (H)
    GAP = ord("G")  # MoldUDP64 sequence gap
    SESSION = ord("Z")  # MoldUDP64 end of session or session change
    DEGRADED = ord("D")  # a symbol's book passed a capacity and is no longer exact
    LEVEL = ord("L")  # a price level within the reported depth was added, changed or deleted
    FIRE = ord("F")  # an armed rule held: the order the host sends (`protocol.rules`)


class EventFlag(IntFlag):
    """Bits of the `flags` byte."""

    DEGRADED = 0x01  # the symbol's book is past a capacity: its values may be inexact


class SessionCode(IntEnum):
    """`code` of a SESSION event."""

    END = ord("E")  # MoldUDP64 end of session (message count 0xFFFF)
    CHANGED = ord("C")  # a new session started after the previous one ended


class LevelAction(IntEnum):
    """`level_action` of a LEVEL event, as in market-by-price feeds.

    NEW inserts a level at `level_index`, pushing the levels behind it one place back (a receiver keeping
    `max_levels` drops the one pushed past the end); DELETE removes the level at `level_index`, pulling the
    ones behind it forward; CHANGE updates the level at `level_index` in place.
    """

    NEW = ord("N")
    CHANGE = ord("C")
    DELETE = ord("D")


class DegradedReason(IntEnum):
    """`reason` of a DEGRADED event: which capacity was passed."""

    ORDER_TABLE_FULL = 1
    LEVELS_FULL = 2
    SYMBOLS_FULL = 3


COMMON_FIELDS: tuple[EventField, ...] = (
    EventField("kind", 0, "u1", "EventKind, an ASCII letter"),
    EventField("flags", 1, "u1", "EventFlag bits"),
    EventField("locate", 2, "<u2", "ITCH stock locate; 0 for feed-wide events"),
    EventField("msg_type", 4, "u1", "ITCH type byte of the message that caused the event; 0 if none"),
    EventField("seq", 8, "<u8", "MoldUDP64 sequence number of the causing message (1-based in a file)"),
    EventField("ts_exch", 16, "<u8", "ITCH timestamp, ns since midnight; 0 if no message caused it"),
    EventField("ts_local", 24, "<u8", "receive time on the backend, ns; excluded from equivalence"),
)

KIND_FIELDS: dict[EventKind, tuple[EventField, ...]] = {
    EventKind.BBO: (
        EventField("bid_px", 32, "<u4", "best bid, Price(4); 0 if the side is empty"),
        EventField("bid_sz", 36, "<u4", "shares at the best bid; 0 if empty"),
        EventField("ask_px", 40, "<u4", "best ask, Price(4); 0 if the side is empty"),
        EventField("ask_sz", 44, "<u4", "shares at the best ask; 0 if empty"),
    ),
    EventKind.TRADE: (
        EventField("trade_px", 32, "<u4", "price, Price(4): resting price for E, message price otherwise"),
        EventField("trade_side", 36, "u1", "resting side B/S for E and C; the message's side for P; 0 for Q"),
        EventField("printable", 37, "u1", "Y or N (C's printable flag; Y for E, P and Q)"),
        EventField("cross_type", 38, "u1", "Q's cross type; 0 otherwise"),
        EventField("trade_shares", 40, "<u8", "shares traded (Q carries 8 bytes)"),
        EventField("match_number", 48, "<u8", "ITCH match number"),
        EventField("order_ref", 56, "<u8", "resting order reference for E and C; 0 otherwise"),
    ),
    EventKind.STATUS: (
        EventField("status_code", 32, "u1", "S: event code; H: trading state"),
        EventField("status_reason", 36, "S4", "H: reason (4 ASCII bytes); spaces or zero otherwise"),
    ),
    EventKind.GAP: (
        EventField("gap_expected", 32, "<u8", "sequence number that was expected"),
        EventField("gap_received", 40, "<u8", "sequence number that arrived instead"),
        EventField("gap_missed", 48, "<u8", "messages missed: received - expected"),
    ),
    EventKind.SESSION: (
        EventField("session_code", 32, "u1", "SessionCode"),
        EventField("session", 40, "S10", "MoldUDP64 session of the packet"),
    ),
    EventKind.DEGRADED: (
        EventField("degraded_reason", 32, "u1", "DegradedReason"),
    ),
    EventKind.LEVEL: (
        EventField("level_side", 32, "u1", "B or S"),
        EventField("level_action", 33, "u1", "LevelAction: N, C or D"),
        EventField("level_index", 34, "u1", "position from the best level, 0-based, when the change happened"),
        EventField("level_px", 36, "<u4", "the level's price, Price(4)"),
        EventField("level_sz", 40, "<u4", "shares at the level after the change; 0 for D"),
        EventField("level_orders", 44, "<u4", "orders at the level after the change; 0 for D"),
    ),
    EventKind.FIRE: (
        EventField("fire_rule", 32, "<u2", "index of the rule that held (rule_index)"),
        EventField("fire_side", 34, "u1", "the order's side, B or S"),
        EventField("fire_tif", 35, "u1", "the order's OUCH time in force byte"),
        EventField("fire_shares", 36, "<u4", "the order's shares"),
        EventField("fire_price", 40, "<u4", "the order's limit price, Price(4) (a relative price resolved)"),
        EventField("fire_left", 44, "<u4", "fires left to the rule after this one; 0: this fire disarmed it"),
        EventField("fire_tag", 48, "<u4", "the rule's tag, as armed (the strategy's; the host gives the token)"),
        EventField("fire_condition", 52, "u1", "RuleCondition of the rule"),
    ),
}


def _check(fields: tuple[EventField, ...], what: str) -> None:
    spans = sorted((f.offset, f.offset + f.width, f.name) for f in fields)
    for (_a0, a1, an), (b0, _b1, bn) in itertools.pairwise(spans):
        if b0 < a1:
            raise ValueError(f"{what}: event fields {an} and {bn} overlap")
    if spans[-1][1] > EVENT_SIZE:
        raise ValueError(f"{what}: event field {spans[-1][2]} ends past the {EVENT_SIZE}-byte record")


for _kind, _fields in KIND_FIELDS.items():
    if min(f.offset for f in _fields) < 32:
        raise ValueError(f"{_kind.name}: kind fields start at byte 32")
    _check(COMMON_FIELDS + _fields, _kind.name)



def as_kind(events: np.ndarray, kind: EventKind) -> np.ndarray:
    """The records of one kind, viewed with that kind's field names (a copy of the selected rows)."""
    import numpy as np

    return np.ascontiguousarray(events[events["kind"] == kind]).view(__getattr__("KIND_DTYPES")[kind])


# Byte positions compared across backends: everything but ts_local.
_TS_LOCAL = next(f for f in COMMON_FIELDS if f.name == "ts_local")
_COMPARED = [i for i in range(EVENT_SIZE) if not _TS_LOCAL.offset <= i < _TS_LOCAL.offset + _TS_LOCAL.width]


def empty(n: int = 0) -> np.ndarray:
    """A zeroed event array of length n."""
    import numpy as np

    return np.zeros(n, dtype=__getattr__("EVENT_DTYPE"))


def comparable(events: np.ndarray) -> np.ndarray:
    """The bytes of each record that every backend must reproduce, as an (n, 56) uint8 array."""
    import numpy as np

    raw = np.ascontiguousarray(events).view(np.uint8).reshape(-1, EVENT_SIZE)
    return raw[:, __getattr__("COMPARED_BYTES")]


def fields_of(kind: EventKind) -> tuple[EventField, ...]:
    """The common fields followed by the fields of one kind."""
    return COMMON_FIELDS + KIND_FIELDS[kind]


_STRUCT_CODE = {"u1": "B", "<u2": "H", "<u4": "I", "<u8": "Q"}


def pack_format(kind: EventKind) -> str:
    """A `struct` format packing one record of `kind` from its fields in `fields_of(kind)` order."""
    out, pos = ["<"], 0
    for f in sorted(fields_of(kind), key=lambda f: f.offset):
        if f.offset > pos:
            out.append(f"{f.offset - pos}x")
        out.append(_STRUCT_CODE.get(f.dtype) or f"{f.width}s")
        pos = f.offset + f.width
    if pos < EVENT_SIZE:
        out.append(f"{EVENT_SIZE - pos}x")
    return "".join(out)


def pack_order(kind: EventKind) -> tuple[str, ...]:
    """Field names in the order `pack_format(kind)` takes them."""
    return tuple(f.name for f in sorted(fields_of(kind), key=lambda f: f.offset))


def _dtype(fields: tuple[EventField, ...]) -> np.dtype:
    """A dtype of the fields, every byte between them named `reservedN` (numpy copies drop unnamed bytes)."""
    import numpy as np

    names, formats, offsets, pos = [], [], [], 0
    for f in sorted(fields, key=lambda f: f.offset):
        if f.offset > pos:
            names.append(f"reserved{pos}")
            formats.append(f"V{f.offset - pos}")
            offsets.append(pos)
        names.append(f.name)
        formats.append(f.dtype)
        offsets.append(f.offset)
        pos = f.offset + f.width
    if pos < EVENT_SIZE:
        names.append(f"reserved{pos}")
        formats.append(f"V{EVENT_SIZE - pos}")
        offsets.append(pos)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": EVENT_SIZE})


# The numpy values are made on first use (PEP 562), so that what needs only the layout (a command that writes
# events natively, the configuration) does not import numpy: `from tickgate.protocol.events import EVENT_DTYPE`
# works as before.
_LAZY: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name not in ("EVENT_DTYPE", "KIND_DTYPES", "COMPARED_BYTES"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _LAZY:
        import numpy as np

        _LAZY["EVENT_DTYPE"] = _dtype(COMMON_FIELDS + KIND_FIELDS[EventKind.BBO])
        _LAZY["KIND_DTYPES"] = {k: _dtype(COMMON_FIELDS + fs) for k, fs in KIND_FIELDS.items()}
        _LAZY["COMPARED_BYTES"] = np.array(_COMPARED)
    return _LAZY[name]
