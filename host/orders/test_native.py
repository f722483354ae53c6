"""The native order path end to end: against the exchange simulator (OUCH 5.0 over SoupBinTCP on loopback) and
against a SoupBinTCP server built on Nasdaq's `nasdaq-protocols`; and its writer's partial writes."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tickgate._driver import SoupWriter
from tickgate.host.exchange.sim import SimExchange
from tickgate.host.exchange.test_sim import SYMBOLS, bbo
from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.native import NativeOuchGateway, NativeRisk, make_risk
from tickgate.host.orders.soupbin import SessionState
from tickgate.host.orders.types import OrderUpdate, Side, UpdateKind
from tickgate.host.risk import RiskLimits
from tickgate.host.strategy.orders import NativeOrderRouter, make_router
from tickgate.protocol import ouch, soupbintcp

A, J, E, C = UpdateKind.ACCEPTED, UpdateKind.REJECTED, UpdateKind.EXECUTED, UpdateKind.CANCELED
BOOK = bbo((1, 100, 1_000_000, 300, 1_000_500, 200), (2, 101, 2_000_000, 50, 2_000_100, 50))


class Host:
    """What the run loop holds of the order path: gateway, native risk, router; updates go to risk as it does."""

    def __init__(self, gw: NativeOuchGateway, limits: RiskLimits | None = None) -> None:
        self.gw = gw
        self.risk = make_risk(limits or RiskLimits(), gw)
        assert isinstance(self.risk, NativeRisk)
        self.router = make_router(gw, self.risk, Directory(SYMBOLS), TopOfBook(), Metrics())
        assert isinstance(self.router, NativeOrderRouter)
        self.router.see_events(BOOK)
        self.kills: list[str] = []

    def updates(self, n: int, sim: SimExchange | None = None, timeout: float = 5.0) -> list[OrderUpdate]:
        got: list[OrderUpdate] = list(self.router.pending)
        self.router.pending.clear()
        deadline = time.monotonic() + timeout
        while len(got) < n:
            assert time.monotonic() < deadline, f"{got}, {self.gw.counters}, {self.gw.session.counters}"
            if sim is not None:
                sim.sync()
            for u in self.gw.poll():
                got.append(u)
                if self.risk.on_update(u):
                    self.kills.append(self.risk.killed)
        return got


def _brief(updates: list[OrderUpdate]) -> list[tuple]:
    return [(u.kind, u.token, u.symbol, u.side, u.shares, u.price, u.reason) for u in updates]


@pytest.fixture
def sim() -> Iterator[SimExchange]:
    with SimExchange(heartbeat_interval=0.05) as s:
        s.set_symbols(SYMBOLS)
        s.update_book(BOOK)
        yield s


def _host(sim: SimExchange, limits: RiskLimits | None = None) -> Host:
    gw = NativeOuchGateway.connect(*sim.address, "tick", "gate", limits=limits, heartbeat_interval=0.05,
                                   server_timeout=1.0, reconnect_delay=0.02)
    return Host(gw, limits)


def test_orders_fill_and_positions_reach_the_native_risk(sim: SimExchange):
    h = _host(sim)
    t0 = time.perf_counter_ns()
    assert h.router.buy(1, 500, 1_001_000, "3") == 1  # by locate
    assert h.gw.path.last_send_ns >= t0
    assert _brief(h.updates(3, sim)) == [(A, 1, "AAPL", Side.BUY, 500, 1_001_000, ""),
                                         (E, 1, "AAPL", Side.BUY, 200, 1_000_500, ""),
                                         (C, 1, "AAPL", Side.BUY, 300, 0, "Immediate or Cancel")]
    assert h.risk.position == {"AAPL": 200} and not h.risk.open and h.risk.fills == 1
    assert h.router.position("AAPL") == 200
    assert sim.summary()["position"] == {"AAPL": 200}
    assert h.router.sell("MSFT", 80, 2_000_050) == 2  # by symbol; a day order rests
    assert _brief(h.updates(1, sim)) == [(A, 2, "MSFT", Side.SELL, 80, 2_000_050, "")]
    assert dict(h.risk.open) and h.risk.open[2].shares == 80 and h.risk.open_shares == 80
    assert h.router.cancel(2, 20)  # down to 20
    assert _brief(h.updates(1, sim)) == [(C, 2, "MSFT", Side.SELL, 60, 0, "User Requested")]
    assert h.risk.open[2].shares == 20
    new = h.router.replace(2, 40, 2_000_000)
    assert new == 3 and list(h.risk.open) == [3]
    assert _brief(h.updates(2, sim)) == [(A, 3, "MSFT", Side.SELL, 40, 2_000_000, "replaces 2"),
                                         (E, 3, "MSFT", Side.SELL, 40, 2_000_000, "")]
    assert h.risk.position == {"AAPL": 200, "MSFT": -40} and not h.risk.open
    assert h.gw.counters["entered"] == 2 and h.gw.counters["cancels_sent"] == 1
    assert h.gw.counters["replaces_sent"] == 1 and h.gw.counters["unknown_token"] == 0
    h.gw.close()


def test_nothing_leaves_past_a_limit_or_under_the_kill_switch(sim: SimExchange):
    h = _host(sim, RiskLimits(max_order_shares=100))
    h.router.buy(1, 101, 1_000_500)
    h.router.buy("ZZZZ", 1, 1_000_500)
    h.risk.kill("control")
    h.router.buy(1, 10, 1_000_500)
    assert _brief(h.updates(3)) == [(J, 1, "AAPL", Side.BUY, 101, 1_000_500, "risk: max order size"),
                                    (J, 2, "ZZZZ", Side.BUY, 1, 1_000_500, "risk: unknown symbol"),
                                    (J, 3, "AAPL", Side.BUY, 10, 1_000_500, "risk: kill switch")]
    h.risk.reset_kill()
    h.router.buy(1, 10, 1_000_500, "3")
    assert [u.kind for u in h.updates(2, sim)] == [A, E]
    assert sim.summary()["bought"] == 10  # only the order that passed reached the exchange
    assert h.gw.counters["entered"] == 1


def test_a_fill_past_the_position_limit_kills(sim: SimExchange):
    h = _host(sim, RiskLimits(max_position=150))
    h.router.buy(1, 150, 1_000_500, "0")  # worst case 150: passes; fills 150 of the 200 shown
    h.updates(2, sim)
    assert h.risk.position == {"AAPL": 150} and not h.kills
    h.risk.on_update(OrderUpdate(E, 1, "AAPL", Side.BUY, 5, 1_000_500))  # a late fill beyond it
    assert h.risk.killed == "breach: AAPL position 155 past 150"
    h.router.sell(1, 10, 1_000_000)
    assert _brief(h.updates(1)) == [(J, 2, "AAPL", Side.SELL, 10, 1_000_000, "risk: kill switch")]


def test_a_dropped_link_is_not_sent_then_the_new_connection_carries_orders(sim: SimExchange):
    h = _host(sim)
    h.router.buy(1, 100, 999_000)
    assert len(h.updates(1, sim)) == 1
    sim.drop_connections()
    while h.gw.session.state is SessionState.ACTIVE:
        h.gw.poll()
    h.router.buy(1, 1, 999_000)  # passes risk, opened, not sent: rejected so, and closed in risk
    got = h.updates(1)
    assert _brief(got) == [(J, 2, "AAPL", Side.BUY, 0, 0, got[0].reason)]
    assert got[0].reason.startswith("not sent: SoupBinTCP session is") and list(h.risk.open) == [1]
    deadline = time.monotonic() + 5
    while h.gw.session.state is not SessionState.ACTIVE:
        assert time.monotonic() < deadline
        h.gw.poll()
    h.router.buy(1, 50, 1_000_500, "3")  # on the new socket, through the re-attached writer
    assert [(u.kind, u.token) for u in h.updates(2, sim)] == [(A, 3), (E, 3)]
    assert h.gw.session.counters["reconnects"] == 1 and h.gw.counters["not_sent"] == 1


def test_writer_partial_writes_keep_packets_whole_and_in_order():
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.setblocking(False)
    w = SoupWriter()
    w.attach(ours.fileno())
    packets = [soupbintcp.frame("U", bytes([i % 251]) * (100 + i % 900)) for i in range(400)]
    for p in packets:
        assert w.write(p)
    assert w.pending > 0 and w.counters()["would_block"] > 0  # the socket did not take it all
    got = bytearray()
    theirs.setblocking(False)
    deadline = time.monotonic() + 5
    while len(got) < sum(map(len, packets)):
        assert time.monotonic() < deadline
        try:
            got += theirs.recv(1 << 16)
        except BlockingIOError:
            assert w.flush()
    assert bytes(got) == b"".join(packets) and w.pending == 0
    theirs.close()
    while w.write(packets[0]):  # the peer is gone: the write fails (EPIPE or reset) and detaches
        pass
    assert w.fd == -1 and w.counters()["errors"] == 1
    ours.close()


def test_encoded_orders_are_the_python_encoders_bytes():
    a, b = socket.socketpair()
    b.setblocking(False)
    from tickgate._driver import OrderPath

    p = OrderPath(RiskLimits(), 41, "N", "P", ouch.encode_options({"firm": "ABCD"}))
    p.writer.attach(a.fileno())
    p.set_symbol(3, "QQQ")
    p.see_events(bbo((3, 1, 1_000_000, 1, 1_000_200, 1)))
    assert p.enter(3, "S", 300, 1_000_100, "3", True) == 41
    assert p.cancel(41, 100, True) == 1
    assert p.replace(41, 200, 1_000_000, "0", True) == 42
    enter = ouch.encode("O", user_ref_num=41, side="S", quantity=300, symbol="QQQ", price=1_000_100,
                        time_in_force="3", display="N", capacity="P", intermarket_sweep="N", cross_type="N",
                        cl_ord_id="41", appendage=ouch.encode_options({"firm": "ABCD"}))
    cancel = ouch.encode("X", user_ref_num=41, quantity=100)
    replace = ouch.encode("U", orig_user_ref_num=41, user_ref_num=42, quantity=200, price=1_000_000,
                          time_in_force="0", display="Y", intermarket_sweep="N", cl_ord_id="42")
    assert b.recv(4096) == b"".join(soupbintcp.frame("U", m) for m in (enter, cancel, replace))
    a.close()
    b.close()


def test_mids_come_from_the_bbo_records_only():
    from tickgate._driver import OrderPath

    p = OrderPath(RiskLimits())
    ev = bbo((5, 1, 100, 1, 300, 1), (6, 1, 0, 0, 500, 1))
    p.see_events(ev)
    top = TopOfBook()
    top.update(ev)
    assert [p.mid(loc) for loc in (5, 6, 7)] == [top.mid(loc) for loc in (5, 6, 7)] == [200, 500, 0]
    with pytest.raises(ValueError, match="64-byte"):
        p.see_events(np.zeros(3, dtype=np.uint8))


def test_against_the_nasdaq_protocols_peer():
    """Orders through the native path reach a nasdaq-protocols SoupBinTCP server whole, between the session's
    own heartbeats on the same socket, and go again on the new connection after a drop."""
    pytest.importorskip("nasdaq_protocols.soup")
    from tickgate.host.orders.soupbin import SoupBinClient
    from tickgate.host.orders.test_soupbin import Peer

    peer = Peer()
    try:
        client = SoupBinClient("127.0.0.1", peer.port, "tick", "gate", heartbeat_interval=0.02, server_timeout=0.5,
                               reconnect_delay=0.05)
        limits = RiskLimits(max_orders_per_s=1e6, max_position=100_000, max_total_position=100_000)
        gw = NativeOuchGateway(client, limits)
        client.connect()
        h = Host(gw, limits)
        expected = []
        for i in range(200):
            token = h.router.buy(1, 10 + i, 1_000_000, "0") if i % 2 else h.router.sell(2, 10 + i, 2_000_050)
            side, symbol, price = ("B", "AAPL", 1_000_000) if i % 2 else ("S", "MSFT", 2_000_050)
            expected.append(ouch.encode("O", user_ref_num=token, side=side, quantity=10 + i, symbol=symbol,
                                        price=price, time_in_force="0", display="Y", capacity="A",
                                        intermarket_sweep="N", cross_type="N", cl_ord_id=str(token)))
            if i % 20 == 0:
                time.sleep(0.03)  # heartbeats fall due between the orders
                gw.poll()
        assert h.router.cancel(1, 0)
        expected.append(ouch.encode("X", user_ref_num=1, quantity=0))
        deadline = time.monotonic() + 5
        while len(peer.stream.received) < len(expected):
            assert time.monotonic() < deadline, (len(peer.stream.received), client.counters)
            gw.poll()
            time.sleep(0.001)
        assert peer.stream.received == expected and not h.router.pending
        assert peer.stream.client_heartbeats > 0 and client.counters["heartbeats_sent"] > 0
        peer.drop_all()
        while client.state is SessionState.ACTIVE:
            gw.poll()
        while client.state is not SessionState.ACTIVE:
            assert time.monotonic() < deadline + 5
            gw.poll()
            time.sleep(0.001)
        token = h.router.buy(1, 7, 1_000_000)
        while len(peer.stream.received) < len(expected) + 1:
            assert time.monotonic() < deadline + 10
            gw.poll()
        assert peer.stream.received[-1] == ouch.encode(
            "O", user_ref_num=token, side="B", quantity=7, symbol="AAPL", price=1_000_000, time_in_force="0",
            display="Y", capacity="A", intermarket_sweep="N", cross_type="N", cl_ord_id=str(token))
        assert client.counters["reconnects"] == 1
        client.close()
    finally:
        peer.stop()


def test_fast_enter_checks_its_arguments():
    from tickgate._driver import OrderPath

    p = OrderPath(RiskLimits())
    enter = p.fast_enter
    del p  # the function keeps the path alive
    with pytest.raises(TypeError, match="enter\\(locate"):
        enter(1, "B", 1, 1)
    with pytest.raises(TypeError, match="1-character"):
        enter(1, "BUY", 1, 1, "0", True)
    with pytest.raises(ValueError, match="locate is 0 to 65535"):
        enter(70_000, "B", 1, 1, "0", True)
    with pytest.raises(TypeError):
        enter(1, "B", "1", 1, "0", True)
    assert enter(1, "B", 1, 1, "0", False) == -1  # locate 1 has no name yet


def test_a_run_s_limits_start_a_full_rate_bucket():
    """The gateway is made before the run's limits are known; the run's risk starts as a new Risk would."""

    class Session:  # down: orders that pass risk come back "not sent", the rest as risk rejections
        state = SessionState.DISCONNECTED
        writer = None

    gw = NativeOuchGateway(Session(), RiskLimits(max_orders_per_s=3), time=1_000)  # type: ignore[arg-type]
    h = Host(gw, RiskLimits(max_orders_per_s=10))
    h.router.pending.clear()
    for _ in range(11):
        h.router.buy(1, 1, 1_000_000, "0")
    assert [u.reason for u in h.router.pending] == ["risk: order rate"] and gw.path.counters()["not_sent"] == 10
