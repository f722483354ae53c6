"""Orders the card fires, on the native path: the C++ software card's FIRE event to the exchange simulator over
loopback with no Python in between; risk re-checked at fire time (a limit breached, the kill switch), refused
fires never written and reported to the strategy with their reason."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tickgate._driver import SoftwareDevice
from tickgate.host.exchange.sim import SimExchange
from tickgate.host.exchange.test_sim import SYMBOLS
from tickgate.host.orders.test_native import BOOK, Host, _brief, _host
from tickgate.host.orders.types import Side, UpdateKind
from tickgate.host.risk import RiskLimits
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.events import EVENT_DTYPE, EventKind

A, J, E = UpdateKind.ACCEPTED, UpdateKind.REJECTED, UpdateKind.EXECUTED


@pytest.fixture
def sim():
    with SimExchange(heartbeat_interval=0.05) as s:
        s.set_symbols(SYMBOLS)
        s.update_book(BOOK)
        yield s


class Card:
    """A software card whose collected events pass through the host's native path (attached as the run does)."""

    def __init__(self, h: Host) -> None:
        self.device = SoftwareDevice()
        h.router.attach(self.device)
        self.seq = 1
        self.out = np.zeros(64, dtype=EVENT_DTYPE)

    def add(self, ref: int, side: str, shares: int, price: int, locate: int = 1) -> str:
        """One Add Order in a packet of its own, through submit_packet (the run's tick): the kinds it caused."""
        msg = itch.encode(itch.make("A", stock_locate=locate, timestamp=self.seq, order_reference_number=ref,
                                    buy_sell_indicator=side, shares=shares, stock="AAPL", price=price))
        n = self.device.submit_packet(mold.build("TICKGATE01", self.seq, [msg]), time.perf_counter_ns(), self.out)
        self.seq += 1
        return "".join(chr(k) for k in self.out["kind"][:n])


def test_a_fire_reaches_the_exchange_simulator_with_no_python_between(sim: SimExchange):
    h = _host(sim)
    card = Card(h)
    h.router.arm(0, "AAPL", "ask_at_or_below", 1_000_500, "B", 100, 0, price_mode="ask", tif="3", tag=42)
    sent = h.gw.path.writer.counters()["packets"]
    assert card.add(1, "S", 300, 1_000_500) == "BF"
    assert h.gw.path.writer.counters()["packets"] == sent + 1  # written in submit_packet, before Python saw it
    h.router.collect_fires()
    (fire,) = h.router.take_fire_log()
    assert (fire.rule, fire.tag, fire.symbol, fire.side, fire.shares, fire.price, fire.sent, fire.left) == \
        (0, 42, "AAPL", "B", 100, 1_000_500, True, 0)
    got = _brief(h.updates(2, sim))
    assert got == [(A, fire.token, "AAPL", Side.BUY, 100, 1_000_500, ""),
                   (E, fire.token, "AAPL", Side.BUY, 100, 1_000_500, "")]
    assert h.router.fires_sent == 1 and h.router._t2o_armed.n == 1
    assert card.add(2, "S", 300, 1_000_400) == "B"  # fired once: disarmed


@pytest.mark.parametrize("how", ["max order size", "kill switch"])
def test_a_fire_that_breaks_risk_at_fire_time_is_not_sent(sim: SimExchange, how: str):
    h = _host(sim, RiskLimits(max_order_shares=50) if how == "max order size" else None)
    card = Card(h)
    h.router.arm(3, "AAPL", "bid_at_or_above", 1, "S", 100, 999_000, fires=2)
    if how == "kill switch":
        h.risk.kill("test")
    sent = h.gw.path.writer.counters()["packets"]
    assert card.add(1, "B", 100, 999_500) == "BF"
    assert h.gw.path.writer.counters()["packets"] == sent  # nothing written
    h.router.collect_fires()
    (fire,) = h.router.take_fire_log()
    assert not fire.sent and fire.reason == f"risk: {how}" and fire.left == 1
    (u,) = h.router.pending
    assert (u.kind, u.token, u.symbol, u.side, u.shares, u.price, u.reason) == \
        (J, fire.token, "AAPL", Side.SELL, 100, 999_000, f"risk: {how}")
    assert h.router.fires_refused == 1 and h.gw.path.counters()["fires_refused"] == 1
    assert not h.risk.open  # a refused fire opens nothing


def test_fire_events_reach_python_after_the_bbo_and_the_rule_table_reads_back(sim: SimExchange):
    h = _host(sim)
    card = Card(h)
    h.router.arm(1, 1, "spread_at_or_below", 10_000, "B", 10, 1_000_000, fires=3)
    assert h.router.rule_left(1) == 3
    card.add(1, "B", 100, 999_000)
    assert card.add(2, "S", 100, 1_000_000) == "BF"
    assert card.out[1]["kind"] == EventKind.FIRE and h.router.rule_left(1) == 2
    h.router.disarm(1)
    assert h.router.rule_left(1) == 0 and card.add(3, "S", 100, 999_900) == "B"


def test_arming_past_the_rule_table_says_so(sim: SimExchange):
    h = _host(sim)
    Card(h)
    with pytest.raises(ValueError, match=r"rule index 64 is past the card's rule table \(64 entries, cap_rules\)"):
        h.router.arm(64, "AAPL", "bid_at_or_above", 1, "B", 1, 1)
    with pytest.raises(ValueError, match="rule side must be 'B' or 'S'"):
        h.router.arm(0, "AAPL", "bid_at_or_above", 1, "X", 1, 1)


def test_a_fire_while_the_session_is_not_active_is_not_written(sim: SimExchange):
    from tickgate.host.orders.soupbin import SessionState

    h = _host(sim)
    card = Card(h)
    h.router.arm(0, "AAPL", "bid_at_or_above", 1, "B", 100, 999_000, fires=2)
    assert h.gw.path.active
    h.gw.session.state = SessionState.LOGGING_IN  # as after a reconnect, before the login is accepted
    assert not h.gw.path.active
    sent = h.gw.path.writer.counters()["packets"]
    assert card.add(1, "B", 100, 999_500) == "BF"
    assert h.gw.path.writer.counters()["packets"] == sent
    h.router.collect_fires()
    (fire,) = h.router.take_fire_log()
    assert not fire.sent and fire.reason == "not sent"
    h.gw.session.state = SessionState.ACTIVE
    (u,) = h.gw.poll()
    why = "not sent: SoupBinTCP session is logging in: message not sent"
    assert (u.kind, u.token, u.reason) == (J, fire.token, why)
