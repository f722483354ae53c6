"""A live feed: MoldUDP64 packets from a UDP socket (multicast or unicast), with gap re-requests.

`MoldUdpFeed` hands packets to the backend in sequence order. A packet that starts past the next
expected sequence number is held back and the missing range is asked for from the re-request server
(`protocol.moldudp64.RequestPacket`, at most `max_request` messages a request); the server's answers
(ordinary downstream packets, to the requesting socket) fill the gap and the held packets follow. A
request unanswered after `gap_timeout_s` is repeated up to `retries` times; then the feed gives up on the
range and passes the held packets on, so the card sees (and counts, and emits an event for) the gap.
Without a re-request server every gap is passed on at once. The feed ends at the end-of-session packet,
after `idle_timeout_s` without a packet, or when `stop()` is called. Every decision is counted (`stats`).

Two lines (`line_b`: `udp://A,B`, two groups carrying the same stream): the first copy of a packet wins and
the other line's copy is dropped (`udp_duplicates_dropped`); a packet one line lost is waited for on the
other line (for at most `gap_timeout_s`, or until the other line has gone past it too), and only what both
lines lost is re-requested (or, without a server, passed on as a gap). Packets then go out as
(payload, rx_ns, line) for the card's per-line counters (`model/lines.py`; re-requested ones as line A).
"""

from __future__ import annotations

import selectors
import socket
import struct
import time
from collections.abc import Callable, Iterator

from tickgate.protocol.moldudp64 import END_OF_SESSION, HEADER_LEN, HEADER_STRUCT, RequestPacket
from tickgate.protocol.packet import Packet

__all__ = ["MoldUdpFeed", "parse_udp_lines", "parse_udp_source"]

_now = time.perf_counter_ns
_MAX_DATAGRAM = 65535
_RETRANSMITTED = 2  # the selector key of the re-request socket (lines are 0 and 1)


def parse_udp_source(src: str) -> tuple[str, int, str]:
    """`udp://GROUP:PORT[@IFACE_ADDR]` -> (group or address, port, interface address)."""
    body = src[len("udp://"):] if src.startswith("udp://") else src
    iface = "0.0.0.0"
    if "@" in body:
        body, iface = body.split("@", 1)
    host, _, port = body.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"UDP feed {src!r}: expected udp://GROUP:PORT[@IFACE_ADDR]")
    return host, int(port), iface


def parse_udp_lines(src: str) -> tuple[tuple[str, int], tuple[str, int] | None, str]:
    """`udp://GROUP:PORT[,GROUP_B:PORT_B][@IFACE_ADDR]` -> ((group, port) of line A, that of line B or None,
    interface address)."""
    body = src[len("udp://"):] if src.startswith("udp://") else src
    iface = "0.0.0.0"
    if "@" in body:
        body, iface = body.split("@", 1)
    parts = body.split(",")
    if len(parts) > 2:
        raise ValueError(f"UDP feed {src!r}: at most two lines, udp://GROUP_A:PORT_A,GROUP_B:PORT_B[@IFACE_ADDR]")
    lines = [parse_udp_source(f"udp://{p}")[:2] for p in parts]
    return lines[0], lines[1] if len(lines) == 2 else None, iface


def _is_multicast(addr: str) -> bool:
    try:
        return 224 <= int(addr.split(".")[0]) <= 239
    except ValueError:
        return False


class MoldUdpFeed:
    """Packets of a MoldUDP64 stream on a UDP socket, in order, gaps re-requested (see the module doc)."""

    def __init__(self, group: str, port: int, *, iface: str = "0.0.0.0", rerequest: tuple[str, int] | None = None,
                 gap_timeout_s: float = 0.05, retries: int = 3, max_request: int = 1000, max_held: int = 10_000,
                 idle_timeout_s: float = 5.0, rcvbuf: int = 8 << 20, line_b: tuple[str, int] | None = None) -> None:
        self.sock = self._open(group, port, iface, rcvbuf)
        self.address = self.sock.getsockname()
        self.sock_b = self._open(*line_b, iface, rcvbuf) if line_b is not None else None
        self.address_b = self.sock_b.getsockname() if self.sock_b is not None else None
        self.rr_sock = None
        if rerequest:
            self.rr_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
            self.rr_sock.bind(("0.0.0.0" if iface == "0.0.0.0" else iface, 0))
            self.rr_sock.setblocking(False)
        self.rerequest = rerequest
        self.gap_timeout_ns = int(gap_timeout_s * 1e9)
        self.retries = retries
        self.max_request = max_request
        self.max_held = max_held
        self.idle_timeout_s = idle_timeout_s
        self._stop = False
        self.on_idle: Callable[[], None] | None = None  # called while no packet arrives (about every 0.1 s)
        self.session: bytes | None = None
        self.expected: int | None = None
        self.held: dict[int, tuple[bytes, int]] = {}  # first sequence -> (packet, rx_ns)
        self._request: tuple[int, int, int] | None = None  # (first, count, sent at), outstanding
        self._tries = 0
        self._waiting: int | None = None  # two lines: since when a hole of one line waits for the other's copy
        self.line_next: list[int | None] = [None, None]  # per line: the sequence number after its latest packet
        self.c = dict.fromkeys(("udp_packets", "udp_retransmitted", "udp_gaps", "udp_rerequests",
                                "udp_rerequest_retries", "udp_gaps_given_up", "udp_messages_given_up",
                                "udp_duplicates_dropped", "udp_wrong_session_passed", "udp_idle_end",
                                "udp_held_overflow", "udp_line_b_packets", "udp_line_holes",
                                "udp_line_holes_filled"), 0)

    @staticmethod
    def _open(group: str, port: int, iface: str, rcvbuf: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if _is_multicast(group):
            sock.bind(("", port))
            mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(iface))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            sock.bind((group, port))
        sock.setblocking(False)
        return sock

    def stop(self) -> None:
        self._stop = True

    def stats(self) -> dict[str, int]:
        return dict(self.c)

    def close(self) -> None:
        self.sock.close()
        if self.sock_b:
            self.sock_b.close()
        if self.rr_sock:
            self.rr_sock.close()

    # -- sequencing ---------------------------------------------------------------------------------------

    def _send_request(self, first: int, upto: int) -> None:
        count = min(upto - first, self.max_request)
        self.rr_sock.sendto(RequestPacket(self.session, first, count).encode(), self.rerequest)
        self._request = (first, count, _now())
        self.c["udp_rerequests"] += 1

    def _out(self, payload: bytes, rx_ns: int, line: int, out: list) -> None:
        out.append((payload, rx_ns, line) if self.sock_b is not None else Packet(payload, rx_ns))

    def _accept(self, payload: bytes, rx_ns: int, out: list, line: int = 0, retransmitted: bool = False) -> bool:
        """Take one received packet of `line`; in-order packets go to `out`; whether the stream ended."""
        if len(payload) < HEADER_LEN:
            self._out(payload, rx_ns, line, out)  # malformed: the card counts it
            return False
        session, seq, count = HEADER_STRUCT.unpack_from(payload)
        if self.session is None:
            self.session = session
        elif session != self.session:
            self.c["udp_wrong_session_passed"] += 1
            self._out(payload, rx_ns, line, out)  # the card counts it, or adopts it after an end of session
            return False
        if self.expected is None:
            self.expected = seq
        special = count == 0 or count == END_OF_SESSION
        end = seq if special else seq + count
        if not retransmitted:
            self.line_next[line] = max(self.line_next[line] or 0, end)
        if not special and end <= self.expected:
            self.c["udp_duplicates_dropped"] += 1
            return self._both_lost(out)
        if seq > self.expected:
            if seq not in self.held:
                if len(self.held) >= self.max_held:
                    self.c["udp_held_overflow"] += 1
                    ended = self._give_up(out)
                    return self._accept(payload, rx_ns, out, line, retransmitted) or ended
                self.held[seq] = (payload, rx_ns, line)
            if self._request is None and self._waiting is None:
                if self.sock_b is not None:
                    self.c["udp_line_holes"] += 1
                    self._waiting = _now()  # the other line may have it
                    return self._both_lost(out)
                return self._open_gap(out)
            return self._both_lost(out)
        self._out(payload, rx_ns, line, out)
        if special:
            return count == END_OF_SESSION and not self.held
        self.expected = end
        return self._flush(out)

    def _both_lost(self, out: list) -> bool:
        """Two lines: a hole both lines have gone past is lost on both: re-request it (or give it up) now."""
        if self._waiting is None or not self.held:
            return False
        if not all(n is not None and n > self.expected for n in self.line_next):
            return False
        self._waiting = None
        return self._open_gap(out)

    def _open_gap(self, out: list) -> bool:
        """Ask for the gap before the first held packet; without a re-request server, pass it on at once."""
        self.c["udp_gaps"] += 1
        self._tries = 0
        if self.rr_sock is None:
            return self._give_up(out)  # an end of session held behind the gap ends the stream now
        self._send_request(self.expected, min(self.held))
        return False

    def _flush(self, out: list) -> bool:
        """Pass on the held packets that are now in order; whether the stream ended."""
        ended = False
        while self.held:
            first = min(self.held)
            if first > self.expected:
                if self._request is not None and self._request[0] + self._request[1] <= self.expected:
                    self._tries = 0
                    self._send_request(self.expected, first)  # the rest of a long gap
                break
            payload, rx, line = self.held.pop(first)
            _, seq, count = HEADER_STRUCT.unpack_from(payload)
            self._out(payload, rx, line, out)
            if count == END_OF_SESSION:
                ended = True
            elif count:
                self.expected = max(self.expected, seq + count)
        if not self.held:
            if self._waiting is not None:
                self.c["udp_line_holes_filled"] += 1  # the other line had it
            self._request = self._waiting = None
        return ended

    def _give_up(self, out: list) -> bool:
        """Stop waiting for the current gap: the next held packet goes on as it is (the card sees the gap)."""
        if not self.held:
            self._request = None
            return False
        first = min(self.held)
        self._waiting = None
        self.c["udp_gaps_given_up"] += 1
        self.c["udp_messages_given_up"] += first - self.expected
        self.expected = first
        self._request = None
        return self._flush(out)

    def _check_timeout(self, out: list) -> bool:
        if self._waiting is not None and _now() - self._waiting >= self.gap_timeout_ns:
            self._waiting = None  # the other line did not bring it in time
            return self._open_gap(out) if self.held else False
        r = self._request
        if r is None or _now() - r[2] < self.gap_timeout_ns:
            return False
        if self._tries < self.retries:
            self._tries += 1
            self.c["udp_rerequest_retries"] += 1
            self._send_request(self.expected, min(self.held))
            return False
        return self._give_up(out)

    # -- the stream ----------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Packet] | Iterator[tuple[bytes, int, int]]:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, 0)
        if self.sock_b:
            sel.register(self.sock_b, selectors.EVENT_READ, 1)
        if self.rr_sock:
            sel.register(self.rr_sock, selectors.EVENT_READ, _RETRANSMITTED)
        out: list = []
        last_rx = time.monotonic()
        ended = False
        try:
            while not ended and not self._stop:
                waiting = self._request or self._waiting is not None
                wait = self.gap_timeout_ns / 1e9 if waiting else min(0.1, self.idle_timeout_s)
                ready = sel.select(wait)
                for key, _ in ready:
                    while True:
                        try:
                            payload = key.fileobj.recv(_MAX_DATAGRAM)
                        except BlockingIOError:
                            break
                        rx = _now()
                        again = key.data == _RETRANSMITTED
                        self.c["udp_retransmitted" if again else "udp_packets"] += 1
                        self.c["udp_line_b_packets"] += key.data == 1
                        ended = self._accept(payload, rx, out, 0 if again else key.data, again) or ended
                if ready:
                    last_rx = time.monotonic()
                elif self.on_idle is not None:
                    self.on_idle()
                ended = self._check_timeout(out) or ended
                yield from out
                out.clear()
                if not ready and time.monotonic() - last_rx > self.idle_timeout_s:
                    self.c["udp_idle_end"] += 1
                    break
        finally:
            sel.close()
