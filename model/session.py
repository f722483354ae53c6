"""The MoldUDP64 receive session of the card: sequencing, gaps, duplicates, heartbeats, end of session.

Rules (shared by every implementation):
- The first packet sets the session and, unless `first_sequence` is configured, the expected sequence.
- A packet of another session is dropped and counted, except after an end of session, when the new
  session is adopted (a SESSION event, code CHANGED) and sequencing starts over from its packet.
- A packet starting past the expected sequence is a gap: a GAP event and counters; its messages are used.
  A heartbeat (count 0) or end of session (count 0xFFFF) reveals gaps the same way.
- Messages already seen are skipped: a whole packet is a duplicate, a partly repeated one loses its head.
- A packet longer than `MAX_PACKET` is counted `packets_oversize` and dropped whole (its messages show as
  a gap); an empty one, like any shorter than the header, is a packet, malformed.
- Blocks are framed by their 2-byte length; one that runs past the packet end is counted truncated and
  the rest of the packet is dropped; bytes left over after `count` blocks make the packet malformed.
  The sequence advances by the packet's count regardless, as the publisher numbered them.
- Sequence numbers past 2**64 - 1: `seq + count` is reckoned without wrapping (the gateware's expected
  sequence is 65 bits), so a packet running past 2**64 - 1 is framed like any other and its messages are
  used; a message's sequence number, as events carry it, is taken modulo 2**64 (the record's field is
  64 bits). The session then expects 2**64 + k, which no header can reach: every later data packet of
  the session is a repeat, until an end of session and a new session.
- Counters are 64-bit, as the registers: they wrap at 2**64 (only `messages_missed`, which adds a gap's
  size, can get there).
"""

from __future__ import annotations

from collections.abc import Iterator

from tickgate.protocol.events import EventKind, SessionCode
from tickgate.protocol.moldudp64 import END_OF_SESSION, HEADER_LEN, HEADER_STRUCT, MAX_PACKET

from .sink import EventSink

_HEADER = HEADER_STRUCT
_U64 = (1 << 64) - 1


class MoldSession:
    """Turns MoldUDP64 packets into (sequence number, message bytes) in order, counting what it drops."""

    def __init__(self, counters: dict[str, int], sink: EventSink, *, session: bytes | None = None,
                 first_sequence: int | None = None) -> None:
        self.counters = counters
        self.sink = sink
        self.session = session
        self.expected = first_sequence
        self.ended = False

    def messages(self, payload: bytes, rx_ns: int) -> Iterator[tuple[int, bytes]]:
        """The new messages of one packet, with their sequence numbers."""
        c = self.counters
        if len(payload) > MAX_PACKET:
            c["packets_oversize"] += 1  # no card takes it: dropped whole, not counted in `packets`
            return
        c["packets"] += 1
        if len(payload) < HEADER_LEN:
            c["packets_malformed"] += 1
            return
        session, seq, count = _HEADER.unpack_from(payload)
        if self.session is None:
            self.session = session
        elif session != self.session:
            if not self.ended:
                c["packets_wrong_session"] += 1
                return
            c["session_changes"] += 1
            self.session, self.expected, self.ended = session, None, False
            self.sink.emit(EventKind.SESSION, 0, 0, 0, seq, 0, rx_ns, SessionCode.CHANGED, session)
        if self.expected is None:
            self.expected = seq

        if count == 0 or count == END_OF_SESSION:
            self._check_gap(seq, rx_ns)
            if len(payload) != HEADER_LEN:
                c["packets_malformed"] += 1
            if count == 0:
                c["packets_heartbeat"] += 1
            else:
                c["packets_end_of_session"] += 1
                if not self.ended:
                    self.ended = True
                    self.sink.emit(EventKind.SESSION, 0, 0, 0, seq, 0, rx_ns, SessionCode.END, session)
            return

        end = seq + count
        if end <= self.expected:
            c["packets_duplicate"] += 1
            return
        self._check_gap(seq, rx_ns)
        skip = self.expected - seq  # messages at the head already seen
        self.expected = end

        pos, n = HEADER_LEN, len(payload)
        for i in range(count):
            if pos + 2 > n:
                c["packets_malformed"] += 1  # fewer blocks than the count says
                return
            length = (payload[pos] << 8) | payload[pos + 1]
            pos += 2
            if pos + length > n:
                c["msg_truncated"] += 1
                c["messages"] += 1
                c["packets_malformed"] += 1
                return
            if i < skip:
                c["messages_duplicate"] += 1
            else:
                c["messages"] += 1
                yield (seq + i) & _U64, payload[pos:pos + length]
            pos += length
        if pos != n:
            c["packets_malformed"] += 1  # bytes after the last counted block

    def _check_gap(self, seq: int, rx_ns: int) -> None:
        if seq > self.expected:
            missed = seq - self.expected
            self.counters["seq_gaps"] += 1
            self.counters["messages_missed"] = (self.counters["messages_missed"] + missed) & _U64
            self.sink.emit(EventKind.GAP, 0, 0, 0, seq, 0, rx_ns, self.expected, seq, missed)
            self.expected = seq
