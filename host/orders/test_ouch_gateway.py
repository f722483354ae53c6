"""OuchGateway against the local exchange simulator: enter, ack, fill against a given book, cancel, reject."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tickgate.host.exchange.sim import SimExchange
from tickgate.host.exchange.test_sim import SYMBOLS, bbo
from tickgate.host.orders.ouch_gateway import OuchGateway
from tickgate.host.orders.soupbin import SessionState
from tickgate.host.orders.types import OrderRequest, OrderUpdate, Side, UpdateKind

A, J, E, C = UpdateKind.ACCEPTED, UpdateKind.REJECTED, UpdateKind.EXECUTED, UpdateKind.CANCELED


@pytest.fixture
def sim() -> Iterator[SimExchange]:
    with SimExchange(heartbeat_interval=0.05) as s:
        s.set_symbols(SYMBOLS)
        s.update_book(bbo((1, 100, 1_000_000, 300, 1_000_500, 200), (2, 101, 2_000_000, 50, 2_000_100, 50)))
        yield s


def _gateway(sim: SimExchange, **kw: float) -> OuchGateway:
    return OuchGateway.connect(*sim.address, "tick", "gate", heartbeat_interval=0.05, server_timeout=1.0,
                               reconnect_delay=0.02, **kw)


def _updates(gw: OuchGateway, sim: SimExchange, n: int, timeout: float = 5.0) -> list[OrderUpdate]:
    got: list[OrderUpdate] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"{got}, {gw.counters}, {gw.session.counters}"
        sim.sync()
        got += gw.poll()
    time.sleep(0.01)
    sim.sync()
    got += gw.poll()
    return got


def _brief(updates: list[OrderUpdate]) -> list[tuple]:
    return [(u.kind, u.token, u.symbol, u.side, u.shares, u.price, u.reason) for u in updates]


def test_enter_ack_fill_against_the_book_and_ioc_cancel(sim: SimExchange):
    gw = _gateway(sim)
    t0 = time.perf_counter_ns()
    sent = gw.enter(OrderRequest(1, "AAPL", Side.BUY, 500, 1_001_000, "3"))
    assert sent >= t0
    got = _updates(gw, sim, 3)
    assert _brief(got) == [(A, 1, "AAPL", Side.BUY, 500, 1_001_000, ""), (E, 1, "AAPL", Side.BUY, 200, 1_000_500, ""),
                           (C, 1, "AAPL", Side.BUY, 300, 0, "Immediate or Cancel")]
    assert all(u.ts_ns >= sent for u in got)
    assert sim.summary()["bought"] == 200 and sim.summary()["position"] == {"AAPL": 200}
    gw.close()


def test_day_order_rests_fills_when_the_book_crosses_then_cancel(sim: SimExchange):
    gw = _gateway(sim)
    gw.enter(OrderRequest(10, "MSFT", Side.SELL, 80, 2_000_050))
    assert _brief(_updates(gw, sim, 1)) == [(A, 10, "MSFT", Side.SELL, 80, 2_000_050, "")]
    sim.update_book(bbo((2, 200, 2_000_060, 30, 2_000_100, 50)))  # the bid rises through the resting sell
    assert _brief(_updates(gw, sim, 1)) == [(E, 10, "MSFT", Side.SELL, 30, 2_000_050, "")]
    gw.cancel(10, 20)  # down to 20 shares
    gw.cancel(10)
    assert _brief(_updates(gw, sim, 2)) == [(C, 10, "MSFT", Side.SELL, 30, 0, "User Requested"),
                                            (C, 10, "MSFT", Side.SELL, 20, 0, "User Requested")]
    assert gw.counters["entered"] == 1 and gw.counters["cancels_sent"] == 2 and gw.counters["executed"] == 1


def test_reject_with_the_ouch_reason(sim: SimExchange):
    gw = _gateway(sim)
    gw.enter(OrderRequest(1, "ZZZZ", Side.BUY, 100, 10_000))
    gw.enter(OrderRequest(2, "AAPL", Side.BUY, 0, 10_000))
    assert _brief(_updates(gw, sim, 2)) == [(J, 1, "ZZZZ", Side.BUY, 0, 0, "Invalid Symbol (0x0017)"),
                                            (J, 2, "AAPL", Side.BUY, 0, 0, "Invalid Quantity (0x0013)")]
    with pytest.raises(ValueError, match="must increase"):
        gw.enter(OrderRequest(2, "AAPL", Side.BUY, 1, 10_000))
    with pytest.raises(KeyError, match="never entered"):
        gw.cancel(99)


def test_replace(sim: SimExchange):
    gw = _gateway(sim)
    gw.enter(OrderRequest(1, "AAPL", Side.BUY, 100, 999_000))
    gw.replace(1, 2, 100, 1_000_500)
    assert _brief(_updates(gw, sim, 3)) == [(A, 1, "AAPL", Side.BUY, 100, 999_000, ""),
                                            (A, 2, "AAPL", Side.BUY, 100, 1_000_500, "replaces 1"),
                                            (E, 2, "AAPL", Side.BUY, 100, 1_000_500, "")]


def test_dropped_link_reconnects_resumes_and_orders_meanwhile_are_not_lost_silently(sim: SimExchange):
    gw = _gateway(sim)
    gw.enter(OrderRequest(1, "AAPL", Side.BUY, 100, 999_000))
    assert len(_updates(gw, sim, 1)) == 1
    sim.drop_connections()
    sim.update_book(bbo((1, 300, 998_000, 100, 999_000, 40)))  # fills 40 while the client is away
    while gw.session.state is SessionState.ACTIVE:
        gw.poll()
    gw.enter(OrderRequest(2, "AAPL", Side.BUY, 1, 999_000))  # link down: not sent, said so
    got = _updates(gw, sim, 2)
    assert _brief(got) == [(J, 2, "AAPL", Side.BUY, 0, 0, got[0].reason), (E, 1, "AAPL", Side.BUY, 40, 999_000, "")]
    assert got[0].reason.startswith("not sent: SoupBinTCP session is")
    assert gw.session.counters["reconnects"] == 1 and gw.session.next_sequence == 3 and gw.counters["not_sent"] == 1


def test_end_of_session(sim: SimExchange):
    gw = _gateway(sim)
    sim.close()
    deadline = time.monotonic() + 5
    while gw.session.state is not SessionState.ENDED:
        assert time.monotonic() < deadline
        gw.poll()
    assert gw.session.counters["end_of_session"] == 1
    gw.enter(OrderRequest(1, "AAPL", Side.BUY, 1, 1))
    assert gw.poll()[0].reason == "not sent: SoupBinTCP session is ended: message not sent"
