"""Book semantics and events of the reference model, message by message."""

from __future__ import annotations

import numpy as np
import pytest

from tickgate.model.card import ReferenceCard
from tickgate.protocol import itch
from tickgate.protocol import moldudp64 as mold
from tickgate.protocol.config import CardConfig, OrderTableConfig
from tickgate.protocol.events import KIND_DTYPES, DegradedReason, EventFlag, EventKind
from tickgate.protocol.order_hash import buckets


class Feed:
    """Sends one message per packet to a card and returns the events each one caused."""

    def __init__(self, config: CardConfig | None = None) -> None:
        self.card = ReferenceCard(config)
        self.seq = 1

    def __call__(self, type_: str, **fields) -> np.ndarray:
        fields.setdefault("timestamp", 1000 + self.seq)
        msg = itch.encode(itch.make(type_, **fields))
        self.card.feed(mold.build("T", self.seq, [msg]), rx_ns=7)
        self.seq += 1
        return self.card.take_events()


def bbo(ev: np.ndarray) -> list[tuple[int, int, int, int]]:
    b = ev[ev["kind"] == EventKind.BBO]
    return list(zip(b["bid_px"].tolist(), b["bid_sz"].tolist(), b["ask_px"].tolist(), b["ask_sz"].tolist(),
                    strict=True))


def trades(ev: np.ndarray) -> np.ndarray:
    return ev[ev["kind"] == EventKind.TRADE].view(KIND_DTYPES[EventKind.TRADE])


def add(f: Feed, ref: int, side: str, shares: int, price: int, locate: int = 1) -> np.ndarray:
    return f("A", stock_locate=locate, order_reference_number=ref, buy_sell_indicator=side, shares=shares,
             stock="MEAT", price=price)


def test_bbo_event_only_when_the_top_changes():
    f = Feed()
    assert bbo(add(f, 1, "B", 100, 100_000)) == [(100_000, 100, 0, 0)]
    assert bbo(add(f, 2, "B", 100, 99_900)) == []  # behind the best: no event
    assert bbo(add(f, 3, "S", 50, 100_100)) == [(100_000, 100, 100_100, 50)]
    assert bbo(add(f, 4, "B", 200, 100_000)) == [(100_000, 300, 100_100, 50)]  # size at the best
    ev = f("D", stock_locate=1, order_reference_number=2)
    assert bbo(ev) == []
    ev = f("X", stock_locate=1, order_reference_number=1, cancelled_shares=40)
    assert bbo(ev) == [(100_000, 260, 100_100, 50)]
    ev = f("D", stock_locate=1, order_reference_number=3)
    assert bbo(ev) == [(100_000, 260, 0, 0)]  # empty side is 0, 0
    e = ev[0]
    assert (e["msg_type"], e["seq"], e["ts_exch"], e["ts_local"], e["locate"]) == (ord("D"), 7, 1007, 7, 1)


def test_best_level_empties_and_the_next_is_found():
    f = Feed()
    add(f, 1, "S", 100, 100_100)
    add(f, 2, "S", 300, 100_300)
    add(f, 3, "S", 200, 100_200)
    assert bbo(f("D", stock_locate=1, order_reference_number=1)) == [(0, 0, 100_200, 200)]
    assert bbo(f("D", stock_locate=1, order_reference_number=3)) == [(0, 0, 100_300, 300)]


def test_execution_gives_trade_then_bbo():
    f = Feed()
    add(f, 1, "S", 100, 100_100)
    ev = f("E", stock_locate=1, order_reference_number=1, executed_shares=30, match_number=77)
    assert [chr(k) for k in ev["kind"]] == ["T", "B"]
    t = trades(ev)[0]
    assert (t["trade_px"], chr(t["trade_side"]), chr(t["printable"]), t["trade_shares"], t["match_number"],
            t["order_ref"]) == (100_100, "S", "Y", 30, 77, 1)
    assert bbo(ev) == [(0, 0, 100_100, 70)]
    ev = f("C", stock_locate=1, order_reference_number=1, executed_shares=70, match_number=78, printable="N",
           execution_price=100_050)
    t = trades(ev)[0]
    assert (t["trade_px"], chr(t["printable"]), t["trade_shares"]) == (100_050, "N", 70)
    assert bbo(ev) == [(0, 0, 0, 0)]
    assert 1 not in f.card.orders  # at zero shares the order is removed


def test_replace_keeps_side_and_symbol_and_moves_price():
    f = Feed()
    add(f, 1, "B", 100, 100_000, locate=3)
    ev = f("U", stock_locate=3, original_order_reference_number=1, new_order_reference_number=2, shares=50,
           price=100_500)
    assert len(ev) == 1 and bbo(ev) == [(100_500, 50, 0, 0)] and ev[0]["locate"] == 3
    assert 1 not in f.card.orders and f.card.orders[2].is_bid


def test_hidden_and_cross_trades():
    f = Feed()
    ev = f("P", stock_locate=1, order_reference_number=0, buy_sell_indicator="B", shares=10, stock="MEAT",
           price=5000, match_number=9)
    t = trades(ev)[0]
    assert (chr(t["msg_type"]), t["trade_px"], t["trade_shares"], t["order_ref"]) == ("P", 5000, 10, 0)
    ev = f("Q", stock_locate=1, shares=1 << 40, stock="MEAT", cross_price=6000, match_number=10, cross_type="O")
    t = trades(ev)[0]
    assert (t["trade_shares"], chr(t["cross_type"]), t["trade_side"]) == (1 << 40, "O", 0)


def test_status_events_and_halts_do_not_freeze_the_book():
    f = Feed()
    ev = f("S", event_code="Q")
    assert chr(ev[0]["kind"]) == "S" and ev.view(KIND_DTYPES[EventKind.STATUS])[0]["status_code"] == ord("Q")
    ev = f("H", stock_locate=1, stock="MEAT", trading_state="H", reason="LUDP")
    s = ev.view(KIND_DTYPES[EventKind.STATUS])[0]
    assert (chr(s["status_code"]), s["status_reason"], s["locate"]) == ("H", b"LUDP", 1)
    assert bbo(add(f, 1, "B", 100, 100_000)) == [(100_000, 100, 0, 0)]


def test_faults_are_counted_not_applied():
    f = Feed()
    c = f.card.counters
    assert len(f("D", stock_locate=1, order_reference_number=99)) == 0
    assert c["unknown_ref"] == 1
    add(f, 1, "B", 100, 100_000)
    ev = f("E", stock_locate=1, order_reference_number=1, executed_shares=500, match_number=1)
    assert c["oversized_reduce"] == 1 and trades(ev)[0]["trade_shares"] == 100
    add(f, 2, "B", 0, 100_000)
    add(f, 3, "X", 10, 100_000)
    add(f, 4, "B", 10, 0)
    assert c["invalid_order"] == 3
    add(f, 5, "B", 10, 100_000)
    ev = add(f, 5, "B", 20, 100_100)  # day-unique reference reused: the old order goes
    assert c["duplicate_ref"] == 1 and bbo(ev) == [(100_100, 20, 0, 0)]
    assert f.card.book(1).bids.depth() == [(100_100, 20, 1)]


def test_tracked_symbols_by_name():
    f = Feed(CardConfig(symbols=frozenset({"MEAT"})))
    f("R", stock_locate=1, stock="MEAT")
    f("R", stock_locate=2, stock="PYTH")
    assert bbo(add(f, 1, "B", 100, 100_000, locate=1)) == [(100_000, 100, 0, 0)]
    assert len(add(f, 2, "B", 100, 100_000, locate=2)) == 0
    assert len(f("D", stock_locate=2, order_reference_number=2)) == 0
    assert len(add(f, 3, "B", 100, 100_000, locate=9)) == 0  # not in the directory at all
    assert f.card.counters["untracked_symbol"] == 3
    assert f.card.counters["unknown_ref"] == 0


def colliding_refs(bucket_bits: int, n: int) -> list[int]:
    """References whose two candidate buckets are both bucket 0."""
    return [r for r in range(1, 1 << 20) if buckets(r, bucket_bits) == (0, 0)][:n]


# A table of one way in each bank and no stash holds two colliding references; the third finds no place.
TINY_TABLE = OrderTableConfig(bucket_bits=4, ways=1, stash=0)


@pytest.mark.parametrize("cap, reason, counter", [
    (CardConfig(order_table=TINY_TABLE), DegradedReason.ORDER_TABLE_FULL, "order_table_full"),
    (CardConfig(max_levels=2), DegradedReason.LEVELS_FULL, "levels_full"),
])
def test_capacity_marks_the_symbol_degraded_once(cap, reason, counter):
    f = Feed(cap)
    r1, r2, r3, r4 = colliding_refs(4, 4)
    add(f, r1, "B", 100, 100_000)
    add(f, r2, "B", 100, 99_900)
    ev = add(f, r3, "B", 100, 99_800)
    deg = ev[ev["kind"] == EventKind.DEGRADED].view(KIND_DTYPES[EventKind.DEGRADED])
    assert len(deg) == 1 and deg[0]["degraded_reason"] == reason and deg[0]["flags"] & EventFlag.DEGRADED
    add(f, r4, "B", 100, 99_700)
    assert f.card.counters[counter] == 2 and f.card.counters["degraded_symbols"] == 1
    ev = f("D", stock_locate=1, order_reference_number=r1)
    assert ev["flags"][ev["kind"] == EventKind.BBO].tolist() == [EventFlag.DEGRADED]


def test_symbol_capacity():
    f = Feed(CardConfig(max_symbols=1))
    add(f, 1, "B", 100, 100_000, locate=1)
    ev = add(f, 2, "B", 100, 100_000, locate=2)
    assert [chr(k) for k in ev["kind"]] == ["D"] and ev[0]["locate"] == 2
    assert len(add(f, 3, "B", 100, 100_000, locate=2)) == 0
    c = f.card.counters
    assert (c["symbols_full"], c["untracked_symbol"], c["degraded_symbols"]) == (1, 2, 1)


def test_config_is_validated():
    with pytest.raises(ValueError, match="max_levels"):
        CardConfig(max_levels=0)
    with pytest.raises(ValueError, match="1 to 8"):
        CardConfig(symbols=frozenset({"TOOLONGNAME"}))


def test_order_table_frees_entries_and_the_freed_place_is_used_again():
    f = Feed(CardConfig(order_table=TINY_TABLE))
    r1, r2, r3 = colliding_refs(4, 3)
    add(f, r1, "B", 100, 100_000)
    add(f, r2, "S", 100, 100_100)
    f("E", stock_locate=1, order_reference_number=r1, executed_shares=100, match_number=1)  # r1 gone
    add(f, r3, "B", 50, 99_000)
    c = f.card.counters
    assert c["order_table_full"] == 0 and len(f.card.order_table) == 2
    f("U", stock_locate=1, original_order_reference_number=r2, new_order_reference_number=r1, shares=10,
      price=100_200)
    assert c["order_table_full"] == 0 and f.card.order_table.where(r1) is not None and r2 not in f.card.order_table
