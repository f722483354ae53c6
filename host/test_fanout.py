"""Fan-out and control sockets: a subscriber gets exactly what the strategy saw; localhost-only binds."""

from __future__ import annotations

import contextlib
import socket
import threading

import numpy as np
import pytest
import zmq

from tickgate.host.backend import open_backend
from tickgate.host.control import ControlServer
from tickgate.host.exchange.paper import PaperExchange
from tickgate.host.fanout import EventPublisher
from tickgate.host.feeds.sources import GeneratedFeed
from tickgate.host.market import Directory
from tickgate.host.run import Runner, RunOptions
from tickgate.host.strategy import Strategy
from tickgate.protocol.events import EVENT_DTYPE, EVENT_SIZE


class Keep(Strategy):
    name = "keep"

    def on_start(self) -> None:
        self.seen: list[np.ndarray] = []

    def on_events(self, batch: np.ndarray) -> None:
        self.seen.append(batch.copy())


def test_subscriber_receives_exactly_the_events_the_strategy_saw():
    packets = list(GeneratedFeed(8_000, 30, 5))
    strat = Keep()
    ex = PaperExchange()
    r = Runner(packets, open_backend("software"), strat, ex, exchange=ex,
               options=RunOptions(fanout="tcp://127.0.0.1:0", fanout_wait=1, drain_s=0.0))
    got: list[tuple[bytes, bytes]] = []
    ready = threading.Event()
    done = threading.Event()

    def subscriber():
        s = zmq.Context.instance().socket(zmq.SUB)
        s.setsockopt(zmq.RCVTIMEO, 5000)
        s.connect(r.publisher.endpoint)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        ready.set()
        try:
            while not done.is_set() or s.poll(200):
                try:
                    got.append(tuple(s.recv_multipart()))
                except zmq.Again:
                    break
        finally:
            s.close()

    t = threading.Thread(target=subscriber)
    t.start()
    ready.wait(5)
    try:
        s = r.run()
    finally:
        done.set()
        t.join(10)
        r.close()
    seen = np.concatenate(strat.seen)
    assert len(seen) == s["events"] > 1000
    assert len(got) == len(seen)
    raw = np.frombuffer(b"".join(rec for _, rec in got), dtype=EVENT_DTYPE)
    assert raw.tobytes() == seen.tobytes()  # same records, same order, byte for byte
    assert all(len(rec) == EVENT_SIZE for _, rec in got)
    names = r.directory.by_locate
    expect_topics = [names[loc].encode().ljust(8) if loc in names else b"#%05d  " % loc
                     for loc in seen["locate"].tolist()]
    assert [topic for topic, _ in got] == expect_topics
    assert s["counters"]["fanout_published"] == len(seen) and s["counters"].get("fanout_dropped", 0) == 0


def test_topic_subscription_filters_by_symbol():
    d = Directory({7: "ABC", 8: "ABCD"})
    pub = EventPublisher(d)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.RCVTIMEO, 3000)
    sub.connect(pub.endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"ABC     ")
    try:
        assert pub.wait_for_subscribers(1, 5)
        ev = np.zeros(3, dtype=EVENT_DTYPE)
        ev["locate"] = [7, 8, 7]
        ev["seq"] = [1, 2, 3]
        pub.publish(ev)
        a = sub.recv_multipart()
        b = sub.recv_multipart()
        assert (a[0], b[0]) == (b"ABC     ", b"ABC     ")
        assert [np.frombuffer(x[1], EVENT_DTYPE)["seq"][0] for x in (a, b)] == [1, 3]
        assert not sub.poll(100)  # ABCD's event is not delivered
    finally:
        sub.close()
        pub.close()


def _non_local_address() -> str | None:
    """An IPv4 address of this host that is not loopback (no packet is sent)."""
    candidates = []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
        candidates.append(s.getsockname()[0])
    except OSError:
        pass
    finally:
        s.close()
    with contextlib.suppress(OSError):
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    return next((a for a in candidates if not a.startswith("127.") and a != "0.0.0.0"), None)


def _reachable(addr: str, port: int) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("make", ["control", "fanout"])
def test_sockets_bind_to_localhost_and_are_unreachable_from_other_addresses(make):
    addr = _non_local_address()
    if addr is None:
        pytest.skip("this host has no non-loopback IPv4 address to try from")

    def open_one(endpoint=None):
        kw = {"endpoint": endpoint} if endpoint else {}
        return ControlServer(lambda r: {}, **kw) if make == "control" else EventPublisher(Directory(), **kw)

    default = open_one()
    everywhere = open_one("tcp://0.0.0.0:0")  # the check can tell: bound to all, it is reachable
    try:
        assert default.endpoint.startswith("tcp://127.0.0.1:")
        port = int(default.endpoint.rsplit(":", 1)[1])
        assert _reachable("127.0.0.1", port)
        assert not _reachable(addr, port)
        assert _reachable(addr, int(everywhere.endpoint.rsplit(":", 1)[1]))
    finally:
        default.close()
        everywhere.close()
