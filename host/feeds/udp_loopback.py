"""Loopback helpers of the UDP feed tests (the Python and the native receiver, and the run loop over them)."""

from __future__ import annotations

import socket
import threading

import numpy as np

from tickgate.host.backend import open_backend
from tickgate.host.feeds import pack_messages
from tickgate.host.feeds.generator import Generator
from tickgate.protocol import moldudp64
from tickgate.protocol.events import EVENT_DTYPE

__all__ = ["SESSION", "RerequestServer", "reference", "same_events", "test_stream"]

SESSION = b"TICKGATE01"


def test_stream() -> tuple[list[bytes], list[bytes]]:
    """(messages, packets) of the tests: 3,000 generated messages, 400-byte payloads, an end of session."""
    msgs = list(Generator(3_000, 20, 9))
    return msgs, list(pack_messages(iter(msgs), session=SESSION, max_payload=400, end_of_session=True))


test_stream.__test__ = False  # a helper, not a test


def reference(packets) -> np.ndarray:
    """The software card's events of `packets`, fed in order with nothing lost."""
    be = open_backend("software")
    for p in packets:
        be.feed(p, 0)
    return be.take_events()


def same_events(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal events but for the receive time."""
    cols = [n for n in EVENT_DTYPE.names if n != "ts_local" and not n.startswith("reserved")]
    return len(a) == len(b) and all(np.array_equal(a[c], b[c]) for c in cols)


class RerequestServer:
    """Answers MoldUDP64 re-requests from the message list, `per_packet` messages a packet (silent: not at all)."""

    def __init__(self, msgs: list[bytes], silent: bool = False, per_packet: int = 10) -> None:
        self.msgs, self.silent, self.per_packet = msgs, silent, per_packet
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.address = self.sock.getsockname()
        self.requests: list[moldudp64.RequestPacket] = []
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(100)
            except TimeoutError:
                continue
            req = moldudp64.RequestPacket.decode(data)
            self.requests.append(req)
            if self.silent:
                continue
            for first in range(req.sequence_number, req.sequence_number + req.requested_count, self.per_packet):
                last = min(first + self.per_packet, req.sequence_number + req.requested_count, len(self.msgs) + 1)
                self.sock.sendto(moldudp64.build(req.session, first, self.msgs[first - 1:last - 1]), peer)

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()
