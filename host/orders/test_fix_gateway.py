"""FixGateway against the simulator's FIX acceptor: the QuickFIX engine on both ends, over loopback.

Enter, fills (partial and full), cancel, reduce, replace, rejects with their reason, a risk reject that never
reaches the wire, a sequence gap resent by the engine (after a dropped link, and after a restart on a file
store), heartbeats and logout; and the same requests over OUCH give the same updates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tickgate.host.exchange.sim import SimExchange
from tickgate.host.exchange.test_sim import SYMBOLS, bbo
from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.fix_gateway import FixGateway
from tickgate.host.orders.fix_session import FixSessionConfig, load_settings
from tickgate.host.orders.ouch_gateway import OuchGateway
from tickgate.host.orders.types import OrderRequest, OrderUpdate, Side, UpdateKind
from tickgate.host.risk import Risk, RiskLimits
from tickgate.host.strategy.orders import OrderRouter

A, J, E, C = UpdateKind.ACCEPTED, UpdateKind.REJECTED, UpdateKind.EXECUTED, UpdateKind.CANCELED
BOOK = bbo((1, 100, 1_000_000, 300, 1_000_500, 200), (2, 101, 2_000_000, 50, 2_000_100, 50))


@pytest.fixture
def sim() -> Iterator[SimExchange]:
    with SimExchange(heartbeat_interval=0.05, fix_port=0) as s:
        s.set_symbols(SYMBOLS)
        s.update_book(BOOK)
        yield s


def _fix(sim: SimExchange, **kw) -> FixGateway:
    kw.setdefault("heartbeat_s", 1)
    return FixGateway.connect(*sim.fix_address, **kw)


def _updates(gw, sim: SimExchange, n: int, timeout: float = 5.0) -> list[OrderUpdate]:
    got: list[OrderUpdate] = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        assert time.monotonic() < deadline, f"{got}, {gw.counters}"
        sim.sync()
        got += gw.poll()
        time.sleep(0.001)
    time.sleep(0.02)
    sim.sync()
    return got + gw.poll()


def _brief(updates: list[OrderUpdate]) -> list[tuple]:
    return [(u.kind, u.token, u.symbol, u.side, u.shares, u.price, u.reason) for u in updates]


def _script(gw, sim: SimExchange) -> list[tuple]:
    """The same requests to either gateway: IOC partly filled, day order resting, filled in part as the book
    crosses it, reduced, replaced (and filled in full against the book), canceled."""
    gw.enter(OrderRequest(1, "AAPL", Side.BUY, 500, 1_001_000, "3"))  # 200 at the ask, 300 canceled (IOC)
    got = _updates(gw, sim, 3)
    gw.enter(OrderRequest(2, "MSFT", Side.SELL, 80, 2_000_050))  # rests above the bid
    got += _updates(gw, sim, 1)
    sim.update_book(bbo((2, 200, 2_000_060, 30, 2_000_100, 50)))  # the bid rises through it: 30 filled
    got += _updates(gw, sim, 1)
    gw.cancel(2, 20)  # down to 20 open
    got += _updates(gw, sim, 1)
    gw.replace(2, 3, 40, 2_000_060)  # 40 at the bid, which has 0 left at this touch: rests
    got += _updates(gw, sim, 1)
    sim.update_book(bbo((2, 300, 2_000_070, 500, 2_000_100, 50)))  # all 40 filled
    got += _updates(gw, sim, 1)
    gw.enter(OrderRequest(4, "AAPL", Side.SELL, 10, 1_200_000))
    gw.cancel(4)
    got += _updates(gw, sim, 2)
    return _brief(got)


EXPECTED = [
    (A, 1, "AAPL", Side.BUY, 500, 1_001_000, ""), (E, 1, "AAPL", Side.BUY, 200, 1_000_500, ""),
    (C, 1, "AAPL", Side.BUY, 300, 0, "Immediate or Cancel"),
    (A, 2, "MSFT", Side.SELL, 80, 2_000_050, ""), (E, 2, "MSFT", Side.SELL, 30, 2_000_050, ""),
    (C, 2, "MSFT", Side.SELL, 30, 0, "User Requested"),
    (A, 3, "MSFT", Side.SELL, 40, 2_000_060, "replaces 2"), (E, 3, "MSFT", Side.SELL, 40, 2_000_060, ""),
    (A, 4, "AAPL", Side.SELL, 10, 1_200_000, ""), (C, 4, "AAPL", Side.SELL, 10, 0, "User Requested"),
]


def test_enter_fill_partial_and_full_reduce_replace_cancel_as_ouch_gives_them():
    """The FIX gateway's updates are the OUCH gateway's, request for request, against the one matching engine."""
    with SimExchange(heartbeat_interval=0.05, fix_port=0) as sim:
        sim.set_symbols(SYMBOLS)
        sim.update_book(BOOK)
        gw = _fix(sim)
        assert _script(gw, sim) == EXPECTED
        assert sim.summary()["position"] == {"AAPL": 200, "MSFT": -70}
        assert (gw.counters["entered"], gw.counters["cancels_sent"], gw.counters["replaces_sent"]) == (3, 2, 1)
        gw.close()
    with SimExchange(heartbeat_interval=0.05) as sim:
        sim.set_symbols(SYMBOLS)
        sim.update_book(BOOK)
        ouch = OuchGateway.connect(*sim.address, "tick", "gate", heartbeat_interval=0.05)
        assert _script(ouch, sim) == EXPECTED
        ouch.close()


def test_exchange_rejects_with_ord_rej_reason_and_text(sim: SimExchange):
    gw = _fix(sim)
    gw.enter(OrderRequest(1, "ZZZZ", Side.BUY, 100, 10_000))
    gw.enter(OrderRequest(2, "AAPL", Side.BUY, 2_000_000, 10_000))
    gw.enter(OrderRequest(3, "AAPL", Side.BUY, 100, 10_000, "5"))  # GTX: not simulated
    gw.enter(OrderRequest(4, "AAPL", Side.BUY, 100, 999_000))
    got = _updates(gw, sim, 4)
    gw.replace(4, 5, 100, 0)  # price 0: the replace is refused, the order stands
    gw.cancel(1)  # never lived: the cancel is refused
    got += _updates(gw, sim, 1)
    assert _brief(got) == [
        (J, 1, "ZZZZ", Side.BUY, 0, 0, "Unknown symbol (1): Invalid Symbol (0x0017)"),
        (J, 2, "AAPL", Side.BUY, 0, 0, "Incorrect quantity (13): Invalid Quantity (0x0013)"),
        (J, 3, "AAPL", Side.BUY, 0, 0, "Other (99): Other (0x000F)"),
        (A, 4, "AAPL", Side.BUY, 100, 999_000, ""),
        (J, 5, "AAPL", Side.BUY, 0, 0, "Other (99): Invalid Price (0x001D)"),
    ]
    assert _wait(lambda: gw.counters["cancel_rejects"] >= 1, gw, sim) == []
    assert gw.last_cancel_reject == "1.1: Too late to cancel (0)"  # order 1 is known, and dead
    assert sim.counters["fix_cancel_rejects"] == 2 and sim.summary()["rejected"] == 4
    with pytest.raises(ValueError, match="must increase"):
        gw.enter(OrderRequest(5, "AAPL", Side.BUY, 1, 10_000))
    with pytest.raises(KeyError, match="never entered"):
        gw.cancel(99)
    gw.close()


class _Book(TopOfBook):
    def mid(self, locate: int) -> int:
        return 1_000_250  # the middle of BOOK's AAPL touch


def _router(gw, limits: RiskLimits) -> OrderRouter:
    directory = Directory()
    for loc, sym in SYMBOLS.items():
        directory.add(loc, sym)
    return OrderRouter(gw, Risk(limits), directory, _Book(), Metrics())


def test_a_risk_reject_never_reaches_the_wire(sim: SimExchange):
    """The router's pre-trade risk is the one of the OUCH Python path: same checks, same reasons, and a rejected
    order is never written (the exchange's engine sees no application message)."""
    limits = RiskLimits(max_order_shares=100)
    gw = _fix(sim)
    router = _router(gw, limits)
    token = router.buy("AAPL", 500, 1_000_000)
    assert _brief(router.pending) == [(J, token, "AAPL", Side.BUY, 500, 1_000_000, router.pending[0].reason)]
    assert router.pending[0].reason == "risk: max order size"
    sim.sync()
    assert gw.counters["entered"] == 0 and sim.counters["fix_orders"] == 0 and sim.summary()["orders"] == 0
    with SimExchange() as ouch_sim:  # the same order through the OUCH Python path: the same reason
        ouch = OuchGateway.connect(*ouch_sim.address, "tick", "gate")
        ouch_router = _router(ouch, limits)
        ouch_router.buy("AAPL", 500, 1_000_000)
        assert ouch_router.pending[0].reason == router.pending[0].reason
        ouch.close()
    router.buy("AAPL", 100, 1_000_000)  # within the limits: sent
    assert [u.kind for u in _updates(gw, sim, 1)] == [A]
    assert sim.counters["fix_orders"] == 1
    gw.close()


def _wait(cond: Callable[[], bool], gw: FixGateway, sim: SimExchange, timeout: float = 5.0) -> list[OrderUpdate]:
    """Poll the gateway (its engine runs within `poll`) until `cond()`; the updates meanwhile."""
    got: list[OrderUpdate] = []
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, gw.counters
        sim.sync()
        got += gw.poll()
        time.sleep(0.002)
    return got


def test_dropped_link_the_engine_reconnects_and_resends_the_gap(sim: SimExchange):
    gw = _fix(sim)
    gw.enter(OrderRequest(1, "AAPL", Side.BUY, 100, 999_000))
    assert len(_updates(gw, sim, 1)) == 1
    sim.drop_connections()
    assert _wait(lambda: not gw.logged_on.is_set(), gw, sim) == []
    gw.enter(OrderRequest(2, "AAPL", Side.BUY, 1, 999_000))  # link down: not sent, said so
    sim.update_book(bbo((1, 300, 998_000, 100, 999_000, 40)))  # fills 40 while the client is away
    got = _updates(gw, sim, 2)  # the engine reconnects (ReconnectInterval 1 s), finds the gap, asks for it
    assert _brief(got) == [(J, 2, "AAPL", Side.BUY, 0, 0, "not sent: FIX session is not logged on"),
                           (E, 1, "AAPL", Side.BUY, 40, 999_000, "")]
    c = gw.counters
    assert (c["logons"], c["resend_requests_sent"], c["poss_dup_received"], c["not_sent"]) == (2, 1, 1, 1)
    gw.close()


def test_restart_on_a_file_store_resumes_the_sequence_and_gets_the_gap(sim: SimExchange, tmp_path: Path):
    store = tmp_path / "store"
    gw = _fix(sim, store=store)
    gw.enter(OrderRequest(1, "AAPL", Side.BUY, 100, 999_000))
    assert len(_updates(gw, sim, 1)) == 1
    gw.close()  # logged out; the exchange goes on
    sim.update_book(bbo((1, 300, 998_000, 100, 999_000, 40)))
    again = _fix(sim, store=store)  # a new process would do the same: sequence numbers from the files
    assert _brief(_updates(again, sim, 1)) == [(E, 1, "AAPL", Side.BUY, 40, 999_000, "")]
    assert again.counters["resend_requests_sent"] >= 1 and again.counters["poss_dup_received"] == 1
    again.enter(OrderRequest(2, "AAPL", Side.BUY, 10, 990_000))  # the session goes on: no reject for sequence
    assert _brief(_updates(again, sim, 1)) == [(A, 2, "AAPL", Side.BUY, 10, 990_000, "")]
    assert sorted(p.suffix for p in store.iterdir()) == [".body", ".header", ".seqnums", ".session"]
    again.close()


def test_heartbeats_and_logout(sim: SimExchange):
    gw = _fix(sim)
    _wait(lambda: gw.counters["heartbeats_received"] >= 1, gw, sim, timeout=3.0)  # HeartBtInt 1 s
    gw.close()
    assert not gw.logged_on.is_set() and gw.counters["logouts"] == 1
    assert sim.counters["fix_logouts"] == 1 and sim.counters["fix_logons"] == 1
    gw.enter(OrderRequest(1, "AAPL", Side.BUY, 1, 1))
    assert [u.reason for u in gw.poll()] == ["not sent: FIX session is not logged on"]


def test_a_settings_file_wins_over_the_defaults(tmp_path: Path):
    """`--fix-settings`: the file's values stand, what it leaves out comes from the command line's."""
    f = tmp_path / "client.cfg"
    f.write_text("[DEFAULT]\nConnectionType=initiator\nHeartBtInt=1\n\n[SESSION]\nBeginString=FIX.4.4\nSenderCompID=DESK7\nTargetCompID=SIMEXCH\n")
    with SimExchange(fix_port=0, fix_clients=("DESK7",)) as sim:
        sim.set_symbols(SYMBOLS)
        gw = FixGateway.connect(*sim.fix_address, settings=load_settings(f))  # heartbeat_s 30 by default
        assert gw.session_id.toString() == "FIX.4.4:DESK7->SIMEXCH"
        _wait(lambda: gw.counters["heartbeats_received"] >= 1, gw, sim, timeout=3.0)
        gw.close()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_settings(tmp_path / "nope.cfg")
    assert FixSessionConfig(store=tmp_path).values()["ResetOnLogon"] == "N"
    assert FixSessionConfig().values()["ResetOnLogon"] == "Y"


def test_session_and_business_rejects_are_counted_and_reject_the_order_they_name(sim: SimExchange):
    import quickfix as fix

    gw = _fix(sim)
    gw.enter(OrderRequest(1, "", Side.BUY, 100, 999_000))  # Symbol without a value: the acceptor's engine refuses it
    status = fix.Message()  # OrderStatusRequest: valid FIX, not something the simulator takes
    status.getHeader().setField(35, "H")
    for tag, value in ((11, "1"), (55, "AAPL"), (54, "1")):
        status.setField(tag, value)
    gw.session.send(status)
    got = _updates(gw, sim, 1)
    assert len(got) == 1 and (got[0].kind, got[0].token) == (J, 1)
    assert got[0].reason == "session reject: Tag specified without a value"  # the engine's own Text
    assert _wait(lambda: gw.counters["business_rejects"] == 1, gw, sim) == []
    assert gw.counters["session_rejects"] == 1 and sim.counters["fix_unsupported"] == 1
    assert sim.summary()["orders"] == 0  # neither reached the matching engine
    gw.close()
