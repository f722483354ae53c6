"""A live feed: MoldUDP64 packets from a UDP socket (multicast or unicast), with gap re-requests.

`MoldUdpFeed` hands packets to the backend in sequence order. A packet that starts past the next
expected sequence number is held back and the missing range is asked for from the re-request server
(`protocol.moldudp64.RequestPacket`, at most `max_request` messages a request); the server's answers
(ordinary downstream packets, to the requesting socket) fill the gap and the held packets follow. A
request unanswered after `gap_timeout_s` is repeated up to `retries` times; then the feed gives up on the
range and passes the held packets on, so the card sees (and counts, and emits an event for) the gap.
Without a re-request server every gap is passed on at once. The feed ends at the end-of-session packet,
after `idle_timeout_s` without a packet, or when `stop()` is called. Every decision is counted (`stats`).
"""

from __future__ import annotations

import selectors
import socket
import struct
import time
from collections.abc import Callable, Iterator

from tickgate.protocol.moldudp64 import END_OF_SESSION, HEADER_LEN, HEADER_STRUCT, RequestPacket
from tickgate.protocol.packet import Packet

__all__ = ["MoldUdpFeed", "parse_udp_source"]

_now = time.perf_counter_ns
_MAX_DATAGRAM = 65535


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


def _is_multicast(addr: str) -> bool:
    try:
        return 224 <= int(addr.split(".")[0]) <= 239
    except ValueError:
        return False


class MoldUdpFeed:
    """Packets of a MoldUDP64 stream on a UDP socket, in order, gaps re-requested (see the module doc)."""

    def __init__(self, group: str, port: int, *, iface: str = "0.0.0.0", rerequest: tuple[str, int] | None = None,
                 gap_timeout_s: float = 0.05, retries: int = 3, max_request: int = 1000, max_held: int = 10_000,
                 idle_timeout_s: float = 5.0, rcvbuf: int = 8 << 20) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if _is_multicast(group):
            self.sock.bind(("", port))
            mreq = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(iface))
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            self.sock.bind((group, port))
        self.address = self.sock.getsockname()
        self.sock.setblocking(False)
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
        self.c = dict.fromkeys(("udp_packets", "udp_retransmitted", "udp_gaps", "udp_rerequests",
                                "udp_rerequest_retries", "udp_gaps_given_up", "udp_messages_given_up",
                                "udp_duplicates_dropped", "udp_wrong_session_passed", "udp_idle_end",
                                "udp_held_overflow"), 0)

    def stop(self) -> None:
        self._stop = True

    def stats(self) -> dict[str, int]:
        return dict(self.c)

    def close(self) -> None:
        self.sock.close()
        if self.rr_sock:
            self.rr_sock.close()

    # -- sequencing ---------------------------------------------------------------------------------------

    def _send_request(self, first: int, upto: int) -> None:
        count = min(upto - first, self.max_request)
        self.rr_sock.sendto(RequestPacket(self.session, first, count).encode(), self.rerequest)
        self._request = (first, count, _now())
        self.c["udp_rerequests"] += 1

    def _accept(self, payload: bytes, rx_ns: int, out: list[Packet]) -> bool:
        """Take one received packet; in-order packets go to `out`; whether the stream ended."""
        if len(payload) < HEADER_LEN:
            out.append(Packet(payload, rx_ns))  # malformed: the card counts it
            return False
        session, seq, count = HEADER_STRUCT.unpack_from(payload)
        if self.session is None:
            self.session = session
        elif session != self.session:
            self.c["udp_wrong_session_passed"] += 1
            out.append(Packet(payload, rx_ns))  # the card counts it, or adopts it after an end of session
            return False
        if self.expected is None:
            self.expected = seq
        special = count == 0 or count == END_OF_SESSION
        end = seq if special else seq + count
        if not special and end <= self.expected:
            self.c["udp_duplicates_dropped"] += 1
            return False
        if seq > self.expected:
            if seq not in self.held:
                if len(self.held) >= self.max_held:
                    self.c["udp_held_overflow"] += 1
                    ended = self._give_up(out)
                    return self._accept(payload, rx_ns, out) or ended
                self.held[seq] = (payload, rx_ns)
            ended = False
            if self._request is None:
                self.c["udp_gaps"] += 1
                self._tries = 0
                if self.rr_sock is None:
                    ended = self._give_up(out)  # an end of session held behind the gap ends the stream now
                else:
                    self._send_request(self.expected, min(self.held))
            return ended
        out.append(Packet(payload, rx_ns))
        if special:
            return count == END_OF_SESSION and not self.held
        self.expected = end
        return self._flush(out)

    def _flush(self, out: list[Packet]) -> bool:
        """Pass on the held packets that are now in order; whether the stream ended."""
        ended = False
        while self.held:
            first = min(self.held)
            if first > self.expected:
                if self._request is not None and self._request[0] + self._request[1] <= self.expected:
                    self._tries = 0
                    self._send_request(self.expected, first)  # the rest of a long gap
                break
            payload, rx = self.held.pop(first)
            _, seq, count = HEADER_STRUCT.unpack_from(payload)
            out.append(Packet(payload, rx))
            if count == END_OF_SESSION:
                ended = True
            elif count:
                self.expected = max(self.expected, seq + count)
        if not self.held:
            self._request = None
        return ended

    def _give_up(self, out: list[Packet]) -> bool:
        """Stop waiting for the current gap: the next held packet goes on as it is (the card sees the gap)."""
        if not self.held:
            self._request = None
            return False
        first = min(self.held)
        self.c["udp_gaps_given_up"] += 1
        self.c["udp_messages_given_up"] += first - self.expected
        self.expected = first
        self._request = None
        return self._flush(out)

    def _check_timeout(self, out: list[Packet]) -> bool:
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

    def __iter__(self) -> Iterator[Packet]:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, False)
        if self.rr_sock:
            sel.register(self.rr_sock, selectors.EVENT_READ, True)
        out: list[Packet] = []
        last_rx = time.monotonic()
        ended = False
        try:
            while not ended and not self._stop:
                wait = self.gap_timeout_ns / 1e9 if self._request else min(0.1, self.idle_timeout_s)
                ready = sel.select(wait)
                for key, _ in ready:
                    while True:
                        try:
                            payload = key.fileobj.recv(_MAX_DATAGRAM)
                        except BlockingIOError:
                            break
                        rx = _now()
                        self.c["udp_retransmitted" if key.data else "udp_packets"] += 1
                        ended = self._accept(payload, rx, out) or ended
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
