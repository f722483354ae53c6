"""The decoder stage of the card, as a reference: MoldUDP64 packets in, decoded records and notices out.

It is the first half of `ReferenceCard`: the same session and the same per-type accounting (`classify`),
stopping where the book would start. The gateware decoder is checked against it record by record.
"""

from __future__ import annotations

from collections.abc import Iterable

from tickgate.protocol import itch
from tickgate.protocol.decoded import DECODED_TYPES, Notice, decode_record, notice_record
from tickgate.protocol.events import KIND_DTYPES, EventKind, SessionCode
from tickgate.protocol.itch_spec import MESSAGES
from tickgate.protocol.packet import Packet
from tickgate.protocol.registers import counter_names

from .session import MoldSession
from .sink import EventSink

_BY_TYPE_BYTE = {m.type_byte: (m.length, f"type_{m.type}", m.type) for m in MESSAGES}


def classify(buf: bytes, counters: dict[str, int]) -> str | None:
    """Count one framed message under its type, or why it is not one; its type if it is well-formed."""
    entry = _BY_TYPE_BYTE.get(buf[0]) if buf else None
    if entry is None:
        counters["msg_unknown_type" if buf else "msg_bad_length"] += 1
        return None
    length, counter, type_ = entry
    if len(buf) != length:
        counters["msg_bad_length"] += 1
        return None
    counters[counter] += 1
    return type_


class ReferenceDecoder:
    """Records of `protocol.decoded` for every message of `DECODED_TYPES` and every session notice."""

    def __init__(self, *, session: bytes | None = None, first_sequence: int | None = None) -> None:
        self.counters: dict[str, int] = dict.fromkeys(counter_names(), 0)
        self._sink = EventSink(self.counters)
        self.session = MoldSession(self.counters, self._sink, session=session, first_sequence=first_sequence)
        self.records: list[dict[str, int]] = []

    def feed(self, payload: bytes, rx_ns: int = 0) -> None:
        """Decode one MoldUDP64 packet, appending to `records`."""
        for seq, buf in self.session.messages(payload, rx_ns):
            self._notices()
            t = classify(buf, self.counters)
            if t in _DECODED:
                self.records.append(decode_record(itch.decode(buf), seq))
        self._notices()

    def run(self, packets: Iterable[Packet]) -> list[dict[str, int]]:
        for payload, rx_ns in packets:
            self.feed(payload, rx_ns)
        return self.records

    def _notices(self) -> None:
        """Session events the MoldUDP64 session raised, as notice records, in order."""
        if not len(self._sink):
            return
        for e in self._sink.take():
            kind = e["kind"]
            if kind == EventKind.GAP:
                g = e.view(KIND_DTYPES[EventKind.GAP])
                self.records.append(notice_record(Notice.GAP, int(g["gap_received"]), expected=int(g["gap_expected"])))
            elif kind == EventKind.SESSION:
                s = e.view(KIND_DTYPES[EventKind.SESSION])
                notice = Notice.END_OF_SESSION if s["session_code"] == SessionCode.END else Notice.SESSION_CHANGED
                self.records.append(notice_record(notice, int(s["seq"]), session=bytes(s["session"]).ljust(10, b"\0")))


_DECODED = frozenset(DECODED_TYPES)
