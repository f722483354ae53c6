"""The run loop on a natively received feed: the same events, names, orders and counters as the Python feed."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from tickgate.host.backend import open_backend
from tickgate.host.exchange.paper import PaperExchange
from tickgate.host.feeds import pack_messages
from tickgate.host.feeds.generator import Generator
from tickgate.host.feeds.udp import MoldUdpFeed
from tickgate.host.feeds.udp_loopback import same_events
from tickgate.host.feeds.udp_native import NativeUdpFeed
from tickgate.host.run import Runner, RunOptions
from tickgate.host.strategy import Strategy, load_strategy


class Recorder(Strategy):
    """Keeps a copy of every event it is handed, and the names the directory knew by the end."""

    name = "recorder"

    def on_start(self) -> None:
        self.seen: list[np.ndarray] = []

    def on_events(self, batch: np.ndarray) -> None:
        self.seen.append(batch.copy())

    def on_stop(self) -> None:
        self.names = dict(self.directory.by_locate)


def send(address, packets: list[bytes]) -> threading.Thread:
    def go():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, p in enumerate(packets):
            s.sendto(p, address)
            if i % 8 == 0:
                time.sleep(0.0005)
        s.close()

    t = threading.Thread(target=go)
    t.start()
    return t


@pytest.fixture(scope="module")
def packets():
    return list(pack_messages(iter(Generator(4_000, 30, 5)), max_payload=72, end_of_session=True))


def run(feed, packets, strategy, ring_events: int = 1 << 16, backend: str = "software"):
    ex = PaperExchange()
    r = Runner(feed, open_backend(backend), strategy, ex, exchange=ex,
               options=RunOptions(restamp=False, drain_s=0.0, ring_events=ring_events))
    t = send(feed.address, packets)
    try:
        summary = r.run()
    finally:
        t.join()
        r.close()
        feed.close()
    return summary, r


@pytest.mark.parametrize("ring_events", [1 << 16, 64])  # 64: the ring wraps and fills within one step
def test_native_feed_gives_the_strategy_what_the_python_feed_does(packets, ring_events):
    rec_py, rec_nat = Recorder(), Recorder()
    s_py, _ = run(MoldUdpFeed("127.0.0.1", 0, idle_timeout_s=2.0), packets, rec_py)
    s_nat, r_nat = run(NativeUdpFeed("127.0.0.1", 0, idle_timeout_s=2.0), packets, rec_nat, ring_events)
    py, nat = np.concatenate(rec_py.seen), np.concatenate(rec_nat.seen)
    assert len(nat) == s_nat["events"] and same_events(py, nat)
    assert rec_nat.names == rec_py.names and len(rec_nat.names) == 30
    assert s_nat["packets"] == s_py["packets"] == len(packets)
    lat = s_nat["latency_us"]["tick_to_strategy"]
    assert lat["count"] == len(nat) and 0 < lat["p50"] < 1e6  # every event timed from its kernel stamp
    assert (nat["ts_local"] > 0).all() and (np.diff(nat["ts_local"].astype(np.int64)) >= 0).all()
    counters = r_nat.metrics.all_counters()
    assert counters["udp_packets"] == len(packets) and counters.get("seq_gaps", 0) == 0


def test_native_feed_runs_the_imbalance_strategy_to_orders(packets):
    s, _ = run(NativeUdpFeed("127.0.0.1", 0, idle_timeout_s=2.0), packets, load_strategy("imbalance"))
    s_ref, _ = run(MoldUdpFeed("127.0.0.1", 0, idle_timeout_s=2.0), packets, load_strategy("imbalance"))
    assert s["events"] == s_ref["events"] and s["packets"] == len(packets)
    assert s["orders"] > 0


def test_a_backend_without_a_cpp_device_iterates_the_native_feed(packets):
    rec_model, rec_sw = Recorder(), Recorder()
    s_model, r_model = run(NativeUdpFeed("127.0.0.1", 0, idle_timeout_s=2.0), packets, rec_model, backend="model")
    run(NativeUdpFeed("127.0.0.1", 0, idle_timeout_s=2.0), packets, rec_sw)
    assert r_model._native_device() is None
    model, sw = np.concatenate(rec_model.seen), np.concatenate(rec_sw.seen)
    assert same_events(model, sw)
    assert s_model["packets"] == len(packets) and (model["ts_local"] > 0).all()


@pytest.mark.parametrize("feed_class", [MoldUdpFeed, NativeUdpFeed], ids=["python", "native"])
def test_a_quiet_live_feed_still_answers_the_control_socket(feed_class):
    from tickgate.host.control import request

    feed = feed_class("127.0.0.1", 0, idle_timeout_s=3.0)
    r = Runner(feed, open_backend("software"), load_strategy("imbalance"), PaperExchange(),
               options=RunOptions(restamp=False, control="tcp://127.0.0.1:0", drain_s=0.0))
    answers: list[dict] = []

    def client():
        answers.append(request(r.control.endpoint, {"cmd": "status"}))
        answers.append(request(r.control.endpoint, {"cmd": "stop"}))

    t = threading.Thread(target=client)
    t0 = time.monotonic()
    t.start()
    try:
        s = r.run()
    finally:
        t.join(5)
        r.close()
        feed.close()
    assert answers[0]["ok"] and answers[0]["packets"] == 0 and answers[1] == {"ok": True, "stopping": True}
    assert s["packets"] == 0 and time.monotonic() - t0 < 2.5  # ended by the stop, not the idle timeout


@pytest.mark.parametrize("feed_class", [MoldUdpFeed, NativeUdpFeed])
def test_two_lines_live_into_the_run_loop(packets, feed_class):
    """udp://A,B into the run loop (the native receiver's fast path, or the Python feed): each line loses packets
    of its own; the strategy gets the events of the lossless feed, the card sees no gap."""
    from tickgate.host.feeds.lines import two_lines
    from tickgate.host.feeds.udp_loopback import reference
    from tickgate.protocol.config import LINE_WINDOW, CardConfig

    lines = two_lines(packets, 0.01, 2)
    assert lines.lost_a and lines.lost_b and not lines.lost_both
    feed = feed_class("127.0.0.1", 0, idle_timeout_s=2.0, line_b=("127.0.0.1", 0), gap_timeout_s=0.5)
    backend = open_backend("software", CardConfig(line_window=LINE_WINDOW))
    rec = Recorder()
    r = Runner(feed, backend, rec, PaperExchange(), options=RunOptions(restamp=False, drain_s=0.0))

    def go() -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, p in enumerate(packets):
            for address, lost in ((feed.address, lines.lost_a), (feed.address_b, lines.lost_b)):
                if i not in lost:
                    s.sendto(p, address)
            if i % 8 == 0:
                time.sleep(0.0005)
        s.close()

    t = threading.Thread(target=go)
    t.start()
    try:
        r.run()
    finally:
        t.join()
        r.close()
        feed.close()
    assert same_events(np.concatenate(rec.seen), reference(packets))
    assert backend.counters()["seq_gaps"] == 0 and backend.counters()["line_b_used"] > 0
