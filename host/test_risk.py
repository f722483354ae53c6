"""Pre-trade risk: each limit rejects with its reason, below any strategy; the kill switch and breaches."""

from __future__ import annotations

import pytest

from tickgate.host.exchange.paper import PaperExchange
from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.types import OrderUpdate, Side, UpdateKind
from tickgate.host.risk import REASONS, Risk, RiskLimits
from tickgate.host.strategy.orders import OrderRouter
from tickgate.protocol.events import EventKind, empty

MID = 100_0000  # $100.00 in Price(4)


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000_000

    def __call__(self) -> int:
        return self.t


def make_router(limits: RiskLimits, clock: Clock | None = None):
    directory = Directory({1: "AAA", 2: "BBB"})
    book = TopOfBook()
    ev = empty(2)
    ev["kind"] = EventKind.BBO
    ev["locate"] = [1, 2]
    ev["bid_px"], ev["bid_sz"], ev["ask_px"], ev["ask_sz"] = MID - 100, 500, MID + 100, 500
    book.update(ev)
    ex = PaperExchange()
    ex.set_symbols(directory.by_locate)
    ex.update_book(ev)
    risk = Risk(limits, clock=clock) if clock else Risk(limits)
    return OrderRouter(ex, risk, directory, book, Metrics()), ex


def reasons(router: OrderRouter) -> list[str]:
    out = [u.reason for u in router.pending]
    router.pending.clear()
    return out


@pytest.mark.parametrize(("limits", "order", "reason"), [
    (RiskLimits(max_order_shares=100), ("AAA", Side.BUY, 101, MID), "max order size"),
    (RiskLimits(max_notional=10_000.0), ("AAA", Side.BUY, 101, MID), "max notional"),  # $10,100
    (RiskLimits(price_band_bps=100), ("AAA", Side.BUY, 100, MID + MID // 100 + 1), "price band"),
    (RiskLimits(price_band_bps=100), ("AAA", Side.SELL, 100, MID - MID // 100 - 1), "price band"),
    (RiskLimits(max_position=150), ("AAA", Side.SELL, 151, MID), "symbol position limit"),
    (RiskLimits(), ("ZZZ", Side.BUY, 100, MID), "unknown symbol"),
    (RiskLimits(), ("AAA", Side.BUY, 0, MID), "invalid order"),
    (RiskLimits(), ("AAA", Side.BUY, 100, 0), "invalid order"),
])
def test_each_limit_rejects_with_its_reason(limits, order, reason):
    router, ex = make_router(limits)
    symbol, side, shares, price = order
    token = router.buy(symbol, shares, price) if side is Side.BUY else router.sell(symbol, shares, price)
    assert [(u.kind, u.token, u.reason) for u in router.pending] == [(UpdateKind.REJECTED, token, f"risk: {reason}")]
    assert ex.entered == []  # never left the host
    assert router.risk.rejects == {reason: 1}
    # at the limit itself the order goes
    ok = {"max order size": (symbol, side, 100, MID), "max notional": (symbol, side, 100, MID),
          "symbol position limit": (symbol, side, 150, MID)}.get(reason)
    if ok:
        router.pending.clear()
        (router.buy if side is Side.BUY else router.sell)(*ok[:1], ok[2], ok[3])
        assert router.pending == [] and len(ex.entered) == 1


def test_position_limits_count_open_orders_and_fills():
    router, ex = make_router(RiskLimits(max_position=300, max_total_position=500, price_band_bps=1000))
    router.buy("AAA", 200, MID - 100)  # rests (not marketable): 200 open
    assert reasons(router) == []
    router.buy("AAA", 101, MID - 100)  # 200 open + 101 > 300
    assert reasons(router) == ["risk: symbol position limit"]
    router.buy("BBB", 300, MID - 100)  # gross: 200 open + 300 = 500, at the limit
    assert reasons(router) == []
    router.sell("BBB", 1, MID + 200)  # 501 > 500
    assert reasons(router) == ["risk: total position limit"]
    # fills turn open shares into position; cancels release them
    for u in ex.poll():
        router.risk.on_update(u)
    assert router.risk.open_shares == 500
    router.risk.on_update(OrderUpdate(UpdateKind.EXECUTED, 1, "AAA", Side.BUY, 200, MID - 100))
    assert router.risk.position == {"AAA": 200} and router.risk.open_shares == 300
    router.cancel(3)
    for u in ex.poll():
        router.risk.on_update(u)
    assert router.risk.open_shares == 0 and router.risk.gross_position == 200
    router.buy("BBB", 300, MID - 100)
    assert reasons(router) == []


def test_order_rate_limit():
    clock = Clock()
    router, ex = make_router(RiskLimits(max_orders_per_s=5, price_band_bps=1000, max_position=10**6,
                                        max_total_position=10**6), clock)
    for _ in range(7):
        router.buy("AAA", 1, MID - 100)
    assert reasons(router) == ["risk: order rate"] * 2 and len(ex.entered) == 5
    clock.t += 400_000_000  # 0.4 s: two tokens back
    for _ in range(3):
        router.buy("AAA", 1, MID - 100)
    assert reasons(router) == ["risk: order rate"] and len(ex.entered) == 7


def test_no_reference_price():
    router, ex = make_router(RiskLimits())
    router.directory.add(3, "CCC")
    ex.set_symbols({3: "CCC"})
    router.buy("CCC", 100, MID)
    assert reasons(router) == ["risk: no reference price"]


def test_kill_switch_stops_new_orders_not_cancels():
    router, ex = make_router(RiskLimits(price_band_bps=1000))
    t1 = router.buy("AAA", 100, MID - 100)
    assert router.risk.kill("test")
    assert not router.risk.kill("again")  # idempotent, first reason kept
    assert router.cancel_all() == 1
    last = ex.poll()[-1]
    assert (last.kind, last.token, last.shares) == (UpdateKind.CANCELED, t1, 100)
    router.buy("AAA", 100, MID - 100)
    router.sell("BBB", 100, MID + 100)
    assert reasons(router) == ["risk: kill switch"] * 2 and len(ex.entered) == 1
    router.risk.reset_kill()
    router.buy("AAA", 100, MID - 100)
    assert reasons(router) == [] and len(ex.entered) == 2


def test_breaches_throw_the_kill_switch():
    risk = Risk(RiskLimits(max_position=100, max_loss=1_000.0))
    assert risk.on_update(OrderUpdate(UpdateKind.EXECUTED, 1, "AAA", Side.BUY, 100, MID)) == ""
    assert risk.on_update(OrderUpdate(UpdateKind.EXECUTED, 2, "AAA", Side.BUY, 1, MID)).startswith(
        "breach: AAA position 101")
    assert risk.killed.startswith("breach")
    risk = Risk(RiskLimits(max_loss=1_000.0))
    risk.on_update(OrderUpdate(UpdateKind.EXECUTED, 1, "AAA", Side.BUY, 100, MID))
    assert risk.check_loss(lambda s: MID - 99_0000 // 100) == ""  # -$990
    assert risk.pnl(lambda s: MID - 10_0001) == pytest.approx(-1000.01)
    assert risk.check_loss(lambda s: MID - 10_0001).startswith("breach: loss -1,000.01")
    risk = Risk(RiskLimits(max_rejects_per_s=3))
    for _ in range(4):
        risk.check("AAA", Side.BUY, 0, MID, MID)
    assert risk.killed == "breach: more than 3 risk rejections in a second"


def test_limits_from_dict_refuse_unknown_keys(tmp_path):
    assert RiskLimits.from_dict({"max_order_shares": 5}).max_order_shares == 5
    with pytest.raises(ValueError, match="max_ordr_shares"):
        RiskLimits.from_dict({"max_ordr_shares": 5})
    p = tmp_path / "limits.json"
    p.write_text('{"max_position": 7}')
    assert RiskLimits.from_file(p) == RiskLimits(max_position=7)
    assert set(REASONS) >= {"kill switch", "max order size", "max notional", "price band", "symbol position limit",
                            "total position limit", "order rate"}
