"""A/B line arbitration: two copies (lines A and B) of one MoldUDP64 stream, merged by sequence number.

On when the card is configured with `CardConfig.line_window` (None: one line, every packet goes straight to
the session, whatever its line). Rules, shared by every implementation:

- Each line is taken in its own order. A packet goes to the session (`session.py`) at once unless it is
  *ahead*: of the current session (or the first, with `first_sequence` set) and starting past the next
  expected sequence number, so that the session would declare a gap (a data packet, a heartbeat or an end
  of session). While the other line is live, an ahead packet and every later packet of its line are held,
  so that the other line's copy of what this one lost can come first.
- The first copy of a message wins: the session uses new messages and skips those already used, whichever
  line brought them (`packets_duplicate`, `messages_duplicate`, as on one line).
- Held packets are released in their line's order as soon as they are no longer ahead (the other line
  filled the hole). A message missing on both lines is a gap (`G` event, `seq_gaps`, `messages_missed`, as
  on one line), declared when the arbiter stops waiting:
  - both lines hold an ahead packet: each line is in order, so neither will bring the missing messages;
    the packet starting lower is released (a tie: line A's);
  - a line holds more than `window` packets (it ran that far ahead of the other), or more than
    `LINE_BUFFER_BYTES` bytes (each packet counted in whole 8-byte beats, `held_bytes`: the gateware's
    buffer, `hdl.lines`): its first is released;
  - the other line is not live: it received nothing while this line received `window` packets (a line is
    live from its first packet on). A dead line is not waited for; a feed on one line only is taken
    exactly as without arbitration; `window` 0 never waits;
  - end of input (`end_of_input`; on the DMA path a record flagged `DmaFlag.END_OF_INPUT`): everything
    held is released, the lower start first.
- Session changes: a packet of another session is never ahead. After an end of session it is adopted at
  once (as on one line: the new session starts at the first of its packets to arrive, on either line);
  before, it is counted `packets_wrong_session`. An end of session that would reveal a gap is held like a
  data packet, so the other line can fill the gap before the session ends.
- Counters per line (`line_a_*`, `line_b_*`): every packet arriving on the line is `received`. A data
  packet (a whole header, message count 1 to 0xFFFE, of the session the card takes) is counted when it goes
  to the session: `used` if its header numbers a message not used yet (the first copy), else `late` if one
  of its messages is in the last gap declared (it came after the arbiter stopped waiting), else `duplicate`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from tickgate.protocol.moldudp64 import (
    END_OF_SESSION,
    HEADER_LEN,
    HEADER_STRUCT,
    LINE_BUFFER_BYTES,
    MAX_PACKET,
    held_bytes,
)

from .session import MoldSession

__all__ = ["LINES", "LineArbiter"]

LINES = ("a", "b")


class LineArbiter:
    """Holds the packets of lines A (0) and B (1) that would open a gap until the other line may fill it,
    and hands the session the packets to take, in order."""

    def __init__(self, session: MoldSession, counters: dict[str, int], window: int) -> None:
        self.session = session
        self.counters = counters
        self.window = window
        self.held: tuple[deque[tuple[bytes, int]], deque[tuple[bytes, int]]] = (deque(), deque())
        self.bytes = [0, 0]  # per line: `held_bytes` of its held packets
        self.quiet = [window, window]  # per line: packets the other line received since this one's last, capped
        self.gap = (0, 0)  # the last gap declared: [first, end) of its sequence numbers
        self._names = tuple({k: f"line_{x}_{k}" for k in ("received", "used", "duplicate", "late")} for x in LINES)

    def offer(self, payload: bytes, rx_ns: int, line: int) -> Iterator[tuple[bytes, int]]:
        """One packet of `line` (0: A, 1: B) in; the packets (payload, rx_ns) the session takes now, in order.
        Each must be given to the session before the next is drawn."""
        other = 1 - line
        self.counters[self._names[line]["received"]] += 1
        self.quiet[line] = 0
        self.quiet[other] = min(self.quiet[other] + 1, self.window)
        self.held[line].append((payload, rx_ns))
        self.bytes[line] += held_bytes(len(payload))
        return self._drain(force=False)

    def end_of_input(self) -> Iterator[tuple[bytes, int]]:
        """The input has ended: every packet held, in the order the session takes them."""
        return self._drain(force=True)

    def _drain(self, force: bool) -> Iterator[tuple[bytes, int]]:
        held = self.held
        while True:
            moved = False
            for line in (0, 1):
                q = held[line]
                while q and self._ahead(q[0][0]) is None:
                    yield self._take(line)
                    moved = True
            if moved:
                continue
            if held[0] and held[1]:  # both ahead: what lies below both starts is lost on both
                line = 1 if self._ahead(held[1][0][0]) < self._ahead(held[0][0][0]) else 0
            elif held[0] or held[1]:
                line = 0 if held[0] else 1
                if (not force and len(held[line]) <= self.window and self.bytes[line] <= LINE_BUFFER_BYTES
                        and self.quiet[1 - line] < self.window):
                    return  # wait for the other line
            else:
                return
            yield self._take(line)

    def _ahead(self, payload: bytes) -> int | None:
        """The packet's sequence number if the session would declare a gap on it, else None."""
        if not HEADER_LEN <= len(payload) <= MAX_PACKET:
            return None
        s = self.session
        session, seq, _count = HEADER_STRUCT.unpack_from(payload)
        if s.expected is None or (s.session is not None and session != s.session) or seq <= s.expected:
            return None
        return seq

    def _take(self, line: int) -> tuple[bytes, int]:
        """Release the first packet held on `line`, counting it by what the session will make of it."""
        payload, rx_ns = self.held[line].popleft()
        self.bytes[line] -= held_bytes(len(payload))
        if not HEADER_LEN <= len(payload) <= MAX_PACKET:
            return payload, rx_ns
        s = self.session
        session, seq, count = HEADER_STRUCT.unpack_from(payload)
        same = s.session is None or session == s.session
        if not same and not s.ended:
            return payload, rx_ns  # another session: dropped by the session
        expected = s.expected if same else None
        if expected is not None and seq > expected:
            self.gap = (expected, seq)  # the session declares it on this packet
        elif not same:
            self.gap = (0, 0)  # a new session
        if count in (0, END_OF_SESSION):
            return payload, rx_ns
        end = seq + count
        names = self._names[line]
        if expected is None or end > expected:
            kind = "used"
        elif seq < self.gap[1] and end > self.gap[0]:
            kind = "late"
        else:
            kind = "duplicate"
        self.counters[names[kind]] += 1
        return payload, rx_ns
