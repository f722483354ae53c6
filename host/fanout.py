"""Fan-out: the raw 64-byte events on a ZeroMQ XPUB socket, one message per event, topic per symbol.

A message is two frames: the topic (the symbol as on the wire, 8 bytes space-padded; `#LLLLL  ` with the
5-digit locate when no Stock Directory message named it, `#00000  ` for feed-wide events) and the 64-byte
record. Subscribe to b"" for everything, or to a padded symbol. Bound to 127.0.0.1 unless told otherwise.
The socket never drops silently: past the high-water mark a send fails and `dropped` counts it.
"""

from __future__ import annotations

import time

import numpy as np
import zmq

from tickgate.host.market import Directory
from tickgate.protocol.events import EVENT_SIZE

__all__ = ["EventPublisher"]


class EventPublisher:
    """Publishes event batches; `endpoint` is where it is bound (tcp://127.0.0.1:PORT by default)."""

    def __init__(self, directory: Directory, endpoint: str = "tcp://127.0.0.1:0", *, hwm: int = 1_000_000,
                 context: zmq.Context | None = None) -> None:
        self.directory = directory
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, hwm)
        self.sock.setsockopt(zmq.XPUB_NODROP, 1)
        self.sock.setsockopt(zmq.LINGER, 1000)
        if endpoint.endswith(":0"):
            port = self.sock.bind_to_random_port(endpoint[: endpoint.rindex(":")])
            endpoint = f"{endpoint[: endpoint.rindex(':')]}:{port}"
        else:
            self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.published = 0
        self.dropped = 0
        self.subscriptions = 0

    def _drain_subscriptions(self) -> None:
        while self.sock.poll(0):
            msg = self.sock.recv()
            if msg[:1] == b"\x01":
                self.subscriptions += 1
            elif msg[:1] == b"\x00":
                self.subscriptions -= 1

    def wait_for_subscribers(self, n: int = 1, timeout_s: float = 5.0) -> bool:
        """Block until `n` subscriptions are in (or the timeout); whether they are."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._drain_subscriptions()
            if self.subscriptions >= n:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.poll(int(left * 1000) + 1)

    def publish(self, batch: np.ndarray) -> None:
        """One message per event of the batch."""
        n = len(batch)
        if not n:
            return
        raw = memoryview(np.ascontiguousarray(batch).view(np.uint8)).cast("B")
        topics = self.directory.topics
        locs = batch["locate"].tolist()
        send = self.sock.send
        more, nb = zmq.SNDMORE, zmq.NOBLOCK
        sent = 0
        for i in range(n):
            try:
                send(topics[locs[i]], more | nb)
            except zmq.Again:
                self.dropped += n - i
                break
            send(raw[i * EVENT_SIZE:(i + 1) * EVENT_SIZE], nb, copy=True)  # completes the multipart message
            sent += 1
        self.published += sent

    def stats(self) -> dict[str, int]:
        return {"fanout_published": self.published, "fanout_dropped": self.dropped}

    def close(self) -> None:
        self.sock.close()
