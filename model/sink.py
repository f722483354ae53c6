"""Where the reference model writes its events: 64-byte records packed into a growing buffer."""

from __future__ import annotations

import struct

import numpy as np

from tickgate.protocol.events import EVENT_DTYPE, EVENT_SIZE, EventKind, pack_format

_COUNTER_OF_KIND = {
    EventKind.BBO: "events_bbo",
    EventKind.TRADE: "events_trade",
    EventKind.STATUS: "events_status",
    EventKind.GAP: "events_gap",
    EventKind.SESSION: "events_session",
    EventKind.DEGRADED: "events_degraded",
    EventKind.LEVEL: "events_level",
    EventKind.FIRE: "events_fire",
}


class EventSink:
    """Packs events of every kind and hands them out as EVENT_DTYPE arrays; counts them by kind."""

    def __init__(self, counters: dict[str, int]) -> None:
        self._buf = bytearray()
        self._counters = counters
        self._pack = {int(k): struct.Struct(pack_format(k)).pack for k in EventKind}
        self._counter = {int(k): name for k, name in _COUNTER_OF_KIND.items()}

    def emit(self, kind: int, *fields: object) -> None:
        """Append one record of an EventKind; `fields` follow `pack_order(kind)` without the leading `kind`."""
        self._buf += self._pack[kind](kind, *fields)
        c = self._counters
        c["events"] += 1
        c[self._counter[kind]] += 1

    def __len__(self) -> int:
        return len(self._buf) // EVENT_SIZE

    def take(self) -> np.ndarray:
        """The events emitted since the last call, as an EVENT_DTYPE array (owned by the caller)."""
        out = np.frombuffer(bytes(self._buf), dtype=EVENT_DTYPE)
        self._buf.clear()
        return out
