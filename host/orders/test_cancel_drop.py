"""A cancel sent just before the link drops, never received by the exchange: once the session has logged in
again and caught up, it is sent again (never silently lost), on both order paths, against the exchange
simulator; a cancel the exchange did receive is not."""

from __future__ import annotations

import time

import pytest

from tickgate.host.exchange.sim import SimExchange
from tickgate.host.exchange.test_sim import SYMBOLS, bbo
from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.native import NATIVE_AVAILABLE, NativeOuchGateway, make_risk
from tickgate.host.orders.ouch_gateway import OuchGateway
from tickgate.host.orders.soupbin import SessionState
from tickgate.host.orders.types import UpdateKind
from tickgate.host.risk import RiskLimits
from tickgate.host.strategy.orders import make_router

A, C = UpdateKind.ACCEPTED, UpdateKind.CANCELED
PATHS = [False, pytest.param(True, marks=pytest.mark.skipif(not NATIVE_AVAILABLE, reason="no native path"))]


class Trader:
    """A router over either path to `sim`, its updates fed to risk as the run loop does."""

    def __init__(self, sim: SimExchange, native: bool) -> None:
        cls = NativeOuchGateway if native else OuchGateway
        self.gw = cls.connect(*sim.address, sim.username, sim.password, heartbeat_interval=0.05,
                              server_timeout=1.0, reconnect_delay=0.02)
        self.risk = make_risk(RiskLimits(), self.gw)
        book = TopOfBook()
        self.router = make_router(self.gw, self.risk, Directory(SYMBOLS), book, Metrics())
        market = bbo((1, 1, 1_000_000, 300, 1_000_500, 200))  # the mid the price band is checked against
        book.update(market)
        self.router.see_events(market)
        self.got: list = []

    def poll_until(self, done, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, (self.got, self.gw.counters, self.gw.session.counters)
            for u in self.gw.poll():
                self.risk.on_update(u)
                self.got.append((u.kind, u.token))
            time.sleep(0.001)


@pytest.mark.parametrize("native", PATHS)
def test_a_cancel_lost_in_a_drop_is_sent_again_after_the_resume(native: bool):
    with SimExchange(heartbeat_interval=0.05) as sim:
        sim.set_symbols(SYMBOLS)
        sim.update_book(bbo((1, 1, 1_000_000, 300, 1_000_500, 200)))
        t = Trader(sim, native)
        lost = t.router.buy(1, 100, 999_000, "0")  # rests
        kept = t.router.buy(1, 100, 998_000, "0")  # rests, its cancel arrives before the drop
        t.poll_until(lambda: t.got == [(A, lost), (A, kept)])
        assert t.router.cancel(kept)
        t.poll_until(lambda: (C, kept) in t.got)
        sim.hold_input()  # the link stalls: what the trader writes now never reaches the exchange
        assert t.router.cancel(lost, 40)  # down to 40 shares
        sim.drop_connections()
        t.poll_until(lambda: (C, lost) in t.got)
        assert t.gw.session.counters["reconnects"] == 1 and t.gw.session.state is SessionState.ACTIVE
        assert t.gw.counters["cancels_resent"] == 1 and t.gw.counters["cancels_not_resent"] == 0
        assert t.got == [(A, lost), (A, kept), (C, kept), (C, lost)]  # each answered once, none replayed twice
        assert list(t.risk.open) == [lost] and t.risk.open[lost].shares == 40
        summary = sim.summary()
        assert summary["counters"]["canceled"] == 2 and summary["counters"].get("cancel_noop", 0) == 0
        t.gw.close()


@pytest.mark.parametrize("native", PATHS)
def test_a_cancel_the_exchange_received_before_the_drop_is_not_sent_again(native: bool):
    with SimExchange(heartbeat_interval=0.05) as sim:
        sim.set_symbols(SYMBOLS)
        sim.update_book(bbo((1, 1, 1_000_000, 300, 1_000_500, 200)))
        t = Trader(sim, native)
        token = t.router.buy(1, 100, 999_000, "0")
        t.poll_until(lambda: t.got == [(A, token)])
        assert t.router.cancel(token)
        sim.sync()  # received and answered before the drop (the answer may be lost with the link: replayed)
        sim.drop_connections()
        t.poll_until(lambda: t.gw.session.counters["reconnects"] == 1 and t.gw.session.caught_up
                     and (C, token) in t.got)
        t.poll_until(lambda: t.gw.session.counters["heartbeats_received"] >= 3)
        assert t.gw.counters["cancels_resent"] == 0 and t.got == [(A, token), (C, token)]
        assert not t.risk.open
        t.gw.close()
