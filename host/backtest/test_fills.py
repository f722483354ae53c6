"""The fill simulator's queue rules on hand-built ITCH streams, one rule a case."""

from __future__ import annotations

import pytest

from tickgate.host.backtest.fills import Fees, Fill, FillSimulator, Latency
from tickgate.host.orders.types import OrderRequest, Side, UpdateKind
from tickgate.protocol import itch, moldudp64

LOC = 7
US = 1_000  # ns


class Stream:
    """Feeds a simulator one message a packet, each at its own exchange time."""

    native = True  # the book: tickgate._driver.FeedBook, or the Python reference (the `book` fixture sets it)

    def __init__(self, latency: Latency | None = None, fees: Fees | None = None) -> None:
        self.sim = FillSimulator(latency, fees, locate_of={"TEST": LOC}, native=self.native)
        self.seq = 1
        self.send("R", 1, stock="TEST")

    def send(self, t: str, ts: int, **fields) -> None:
        fields.setdefault("stock_locate", LOC)
        msg = itch.encode(itch.make(t, timestamp=ts, **fields))
        self.sim.on_packet(moldudp64.build(b"TESTSESS01", self.seq, [msg]))
        self.seq += 1

    def add(self, ts: int, ref: int, side: str, shares: int, price: int) -> None:
        self.send("A", ts, order_reference_number=ref, buy_sell_indicator=side, shares=shares, stock="TEST",
                  price=price)

    def execute(self, ts: int, ref: int, shares: int) -> None:
        self.send("E", ts, order_reference_number=ref, executed_shares=shares, match_number=ts)

    def order(self, token: int, side: Side, shares: int, price: int, tif: str = "0") -> None:
        self.sim.enter(OrderRequest(token, "TEST", side, shares, price, tif))

    def fills(self) -> list[tuple[int, int, int, str]]:
        """(token, shares, price, liquidity) of every fill so far."""
        return [(f.token, f.shares, f.price, f.liquidity) for f in self.sim.fills]


@pytest.fixture(autouse=True, params=[True, False], ids=["native", "python"])
def book(request, monkeypatch):
    """Every rule on both books: the native FeedBook and its Python reference."""
    monkeypatch.setattr(Stream, "native", request.param)


def kinds(sim: FillSimulator) -> list[tuple[str, int, int]]:
    return [(str(u.kind), u.token, u.shares) for u in sim.poll()]


def test_joins_behind_the_queue_and_fills_after_the_orders_ahead_go():
    s = Stream()
    s.add(10, 1, "B", 100, 1_000_000)
    s.add(20, 2, "B", 200, 1_000_000)
    s.order(1, Side.BUY, 50, 1_000_000)
    s.add(30, 3, "B", 100, 1_000_000)  # behind ours
    assert kinds(s.sim) == [("accepted", 1, 50)]
    s.execute(40, 1, 100)  # ahead: executed
    s.send("X", 50, order_reference_number=2, cancelled_shares=50)  # ahead: partly canceled
    assert s.fills() == []
    s.send("D", 60, order_reference_number=2)  # ahead: deleted, nothing ahead now
    assert s.fills() == []
    s.execute(70, 3, 80)  # behind ours: that aggressor reached ours first
    assert s.fills() == [(1, 50, 1_000_000, "A")]
    assert s.sim.fills[0] == Fill(70, 1, "TEST", "B", 50, 1_000_000, "A", 0.0)
    assert s.sim.resting == 0


def test_an_execution_of_an_order_ahead_does_not_fill_ours():
    s = Stream()
    s.add(10, 1, "S", 300, 1_000_000)
    s.order(1, Side.SELL, 100, 1_000_000)
    s.execute(20, 1, 299)
    assert s.fills() == []
    s.execute(30, 1, 1)  # the last share ahead
    assert s.fills() == []
    s.add(40, 2, "S", 100, 1_000_000)
    s.execute(50, 2, 30)
    assert s.fills() == [(1, 30, 1_000_000, "A")]


def test_partial_fills_then_done():
    s = Stream()
    s.order(1, Side.BUY, 300, 1_000_000)
    s.add(10, 1, "B", 1000, 1_000_000)  # behind ours
    s.execute(20, 1, 100)
    s.execute(30, 1, 250)
    s.execute(40, 1, 100)
    assert s.fills() == [(1, 100, 1_000_000, "A"), (1, 200, 1_000_000, "A")]
    assert s.sim.resting == 0


def test_an_execution_at_a_worse_price_trades_through_ours():
    s = Stream()
    s.add(10, 1, "B", 100, 990_000)
    s.order(1, Side.BUY, 50, 1_000_000)
    s.execute(20, 1, 100)
    assert s.fills() == [(1, 50, 1_000_000, "A")]


def test_an_execution_at_a_better_price_does_not_reach_ours():
    s = Stream()
    s.add(10, 1, "B", 100, 1_010_000)
    s.order(1, Side.BUY, 50, 1_000_000)
    s.execute(20, 1, 100)
    assert s.fills() == []


def test_an_incoming_order_that_crosses_ours_fills_it():
    s = Stream()
    s.order(1, Side.BUY, 50, 1_000_000)
    s.order(2, Side.BUY, 50, 1_005_000)
    s.add(10, 9, "B", 100, 1_000_000)
    s.add(20, 1, "S", 70, 999_500)  # would have executed against our bids, the better one first
    assert s.fills() == [(2, 50, 1_005_000, "A"), (1, 20, 1_000_000, "A")]
    s.order(3, Side.BUY, 100, 999_500, "3")  # the 70 we took from it are not there to take again
    s.execute(30, 9, 1)  # a bid that came after ours: one share for what is left of ours
    assert s.fills()[2:] == [(1, 1, 1_000_000, "A")]


def test_a_marketable_order_takes_the_touch_with_price_improvement():
    s = Stream()
    s.add(10, 1, "S", 200, 999_000)
    s.add(20, 2, "S", 300, 1_000_000)
    s.add(30, 3, "S", 300, 1_001_000)
    s.order(1, Side.BUY, 600, 1_000_500, "3")
    s.add(40, 4, "B", 1, 900_000)  # a message after its arrival
    assert s.fills() == [(1, 200, 999_000, "R"), (1, 300, 1_000_000, "R")]
    assert kinds(s.sim) == [("accepted", 1, 600), ("executed", 1, 200), ("executed", 1, 300),
                            ("canceled", 1, 100)]
    s.order(2, Side.BUY, 400, 1_001_000, "3")  # what we took is gone for us
    s.add(50, 5, "B", 1, 900_000)
    assert s.fills()[2:] == [(2, 300, 1_001_000, "R")]


def test_a_day_order_rests_what_it_could_not_take():
    s = Stream(fees=Fees(0.003, -0.002))
    s.add(10, 1, "S", 200, 1_000_000)
    s.add(11, 2, "B", 100, 990_000)
    s.order(1, Side.BUY, 500, 1_000_000)
    s.add(20, 3, "B", 100, 1_000_000)  # behind our resting 300
    s.execute(30, 3, 100)
    assert s.fills() == [(1, 200, 1_000_000, "R"), (1, 100, 1_000_000, "A")]
    assert [round(f.fee, 6) for f in s.sim.fills] == [0.6, -0.2]
    assert s.sim.resting == 1


def test_our_order_canceled_while_queued_is_not_filled():
    s = Stream()
    s.add(10, 1, "B", 100, 1_000_000)
    s.order(1, Side.BUY, 50, 1_000_000)
    s.add(20, 2, "B", 100, 1_000_000)
    s.sim.cancel(1, 0)
    s.add(30, 3, "S", 1, 2_000_000)
    s.execute(40, 1, 100)
    s.execute(50, 2, 100)
    assert s.fills() == []
    assert kinds(s.sim) == [("accepted", 1, 50), ("canceled", 1, 50)]


def test_a_partial_cancel_leaves_the_order_down_to_shares():
    s = Stream()
    s.order(1, Side.SELL, 100, 1_000_000)
    s.sim.cancel(1, 40)
    s.add(10, 1, "S", 500, 1_000_000)
    s.execute(20, 1, 500)
    assert s.fills() == [(1, 40, 1_000_000, "A")]
    assert kinds(s.sim) == [("accepted", 1, 100), ("canceled", 1, 60), ("executed", 1, 40)]


def test_a_replaced_order_ahead_loses_its_place():
    s = Stream()
    s.add(10, 1, "B", 100, 1_000_000)
    s.order(1, Side.BUY, 50, 1_000_000)
    s.send("U", 20, original_order_reference_number=1, new_order_reference_number=2, shares=100,
           price=1_000_000)
    s.execute(30, 2, 60)  # the replacement is behind ours
    assert s.fills() == [(1, 50, 1_000_000, "A")]


def test_latency_moves_arrival_past_the_liquidity():
    for order_us, expect in ((0, [(1, 100, 1_000_000, "R")]), (100, [])):
        s = Stream(Latency(0, order_us))
        s.add(10, 1, "S", 100, 1_000_000)
        s.order(1, Side.BUY, 100, 1_000_000, "3")  # decided at 10 ns
        s.execute(10 + 50 * US, 1, 100)  # someone else takes it 50 us later
        s.add(10 + 200 * US, 2, "B", 1, 900_000)
        assert s.fills() == expect, order_us


def test_latency_moves_arrival_past_a_fill_of_the_queue():
    for order_us, expect in ((0, [(1, 100, 1_000_000, "A")]), (100, [])):
        s = Stream(Latency(0, order_us))
        s.add(10, 1, "B", 100, 1_000_000)
        s.order(1, Side.BUY, 100, 1_000_000)  # decided at 10 ns: behind order 1 only if it arrives first
        s.add(20, 2, "B", 100, 1_000_000)
        s.execute(10 + 50 * US, 1, 100)
        s.execute(10 + 60 * US, 2, 100)  # arriving 100 us late, ours was not in the queue for this
        s.add(10 + 200 * US, 3, "B", 1, 900_000)
        assert s.fills() == expect, order_us
        if order_us:
            assert s.sim.resting == 1
            assert s.sim._mine[1].ahead == 0


def test_an_unknown_symbol_is_rejected_at_arrival():
    s = Stream()
    s.sim.enter(OrderRequest(1, "NOPE", Side.BUY, 10, 10_000))
    s.sim.finish()
    [u] = s.sim.poll()
    assert u.kind is UpdateKind.REJECTED and u.reason == "exchange: unknown symbol"


def test_latency_parse():
    assert Latency.parse("5:20.5") == Latency(5.0, 20.5)
    assert Latency.parse("5:20.5").total_ns == 25_500
    for bad in ("5", "a:b", "-1:2"):
        try:
            Latency.parse(bad)
        except ValueError as e:
            assert "FEED_US:ORDER_US" in str(e)
        else:
            raise AssertionError(bad)
