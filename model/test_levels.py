"""Bounded price levels, LEVEL events and their order among a message's events, rule by rule."""

from __future__ import annotations

import numpy as np
import pytest

from tickgate.model.test_card import Feed, add, bbo, colliding_refs
from tickgate.protocol.config import CardConfig, OrderTableConfig
from tickgate.protocol.events import KIND_DTYPES, DegradedReason, EventKind

DEG = 1  # EventFlag.DEGRADED


def kinds(ev: np.ndarray) -> str:
    return "".join(chr(k) for k in ev["kind"])


def levels(ev: np.ndarray) -> list[tuple]:
    """LEVEL events as (locate, flags, side, action, index, price, shares, orders)."""
    lv = ev[ev["kind"] == EventKind.LEVEL].view(KIND_DTYPES[EventKind.LEVEL])
    return [(int(e["locate"]), int(e["flags"]), chr(e["level_side"]), chr(e["level_action"]), int(e["level_index"]),
             int(e["level_px"]), int(e["level_sz"]), int(e["level_orders"])) for e in lv]


def feed(k: int | None = 3, **config) -> Feed:
    return Feed(CardConfig(max_levels=k, level_events=k is not None, **config))


def test_adds_change_or_insert_a_level_at_its_index_from_the_best():
    f = feed(3)
    ev = add(f, 1, "B", 100, 100_000)
    assert kinds(ev) == "LB" and levels(ev) == [(1, 0, "B", "N", 0, 100_000, 100, 1)]
    assert levels(add(f, 2, "B", 50, 99_000)) == [(1, 0, "B", "N", 1, 99_000, 50, 1)]
    ev = add(f, 3, "B", 10, 100_000)
    assert kinds(ev) == "LB" and levels(ev) == [(1, 0, "B", "C", 0, 100_000, 110, 2)]
    assert levels(add(f, 4, "B", 20, 101_000)) == [(1, 0, "B", "N", 0, 101_000, 20, 1)]
    ev = add(f, 5, "S", 7, 102_000)
    assert kinds(ev) == "LB" and levels(ev) == [(1, 0, "S", "N", 0, 102_000, 7, 1)]
    assert levels(add(f, 6, "S", 8, 101_500)) == [(1, 0, "S", "N", 0, 101_500, 8, 1)]  # asks: lowest first
    assert levels(add(f, 7, "S", 9, 103_000)) == [(1, 0, "S", "N", 2, 103_000, 9, 1)]
    assert f.card.book(1).bids.depth() == [(101_000, 20, 1), (100_000, 110, 2), (99_000, 50, 1)]
    assert f.card.nonzero_counters().get("levels_full", 0) == 0 and f.card.counters["events_level"] == 7


def test_a_level_worse_than_k_held_is_not_held_but_its_order_is_kept():
    f = feed(2)
    add(f, 1, "B", 100, 100_000)
    add(f, 2, "B", 100, 99_000)
    ev = add(f, 3, "B", 30, 98_000)
    assert kinds(ev) == "D"  # no LEVEL event, no BBO change
    d = ev.view(KIND_DTYPES[EventKind.DEGRADED])[0]
    assert (d["degraded_reason"], d["flags"], d["locate"]) == (DegradedReason.LEVELS_FULL, DEG, 1)
    assert 3 in f.card.orders and f.card.orders[3].price == 98_000
    assert len(add(f, 4, "B", 30, 97_000)) == 0  # degraded once
    c = f.card.counters
    assert (c["levels_full"], c["degraded_symbols"], c["events_degraded"]) == (2, 1, 1)
    ev = f("X", stock_locate=1, order_reference_number=3, cancelled_shares=10)  # its level is not held
    assert len(ev) == 0 and c["level_missing"] == 1
    ev = f("E", stock_locate=1, order_reference_number=4, executed_shares=30, match_number=1)
    assert kinds(ev) == "T" and c["level_missing"] == 2 and 4 not in f.card.orders


def test_a_new_level_within_k_drops_the_worst_silently():
    f = feed(2)
    add(f, 1, "S", 100, 100_100)
    assert levels(add(f, 2, "S", 100, 100_300)) == [(1, 0, "S", "N", 1, 100_300, 100, 1)]
    ev = add(f, 3, "S", 100, 100_200)  # between: index 1, 100_300 pushed out
    assert kinds(ev) == "LD" and levels(ev) == [(1, 0, "S", "N", 1, 100_200, 100, 1)]
    assert f.card.book(1).asks.depth() == [(100_100, 100, 1), (100_200, 100, 1)]
    ev = add(f, 4, "S", 5, 100_000)  # a new best: index 0, 100_200 pushed out; flagged now
    assert kinds(ev) == "LB" and levels(ev) == [(1, DEG, "S", "N", 0, 100_000, 5, 1)]
    assert bbo(ev) == [(0, 0, 100_000, 5)]
    assert f.card.counters["levels_full"] == 2 and f.card.counters["degraded_symbols"] == 1
    assert f.card.book(1).asks.depth() == [(100_000, 5, 1), (100_100, 100, 1)]


def test_reductions_change_or_delete_the_level_and_the_next_becomes_best():
    f = feed(3)
    add(f, 1, "B", 100, 100_000)
    add(f, 2, "B", 50, 100_000)
    add(f, 3, "B", 70, 99_000)
    ev = f("X", stock_locate=1, order_reference_number=1, cancelled_shares=40)
    assert kinds(ev) == "LB" and levels(ev) == [(1, 0, "B", "C", 0, 100_000, 110, 2)]
    ev = f("E", stock_locate=1, order_reference_number=2, executed_shares=50, match_number=9)
    assert kinds(ev) == "TLB" and levels(ev) == [(1, 0, "B", "C", 0, 100_000, 60, 1)]  # the order goes
    ev = f("D", stock_locate=1, order_reference_number=3)
    assert kinds(ev) == "L" and levels(ev) == [(1, 0, "B", "D", 1, 99_000, 0, 0)]
    ev = f("C", stock_locate=1, order_reference_number=1, executed_shares=99, match_number=10, printable="Y",
           execution_price=100_000)  # oversized: clamped, the best level empties
    assert kinds(ev) == "TLB" and levels(ev) == [(1, 0, "B", "D", 0, 100_000, 0, 0)]
    assert bbo(ev) == [(0, 0, 0, 0)] and f.card.counters["oversized_reduce"] == 1


def test_a_level_held_again_after_eviction_is_clamped():
    f = feed(2)
    add(f, 1, "B", 100, 100_000)
    add(f, 2, "B", 50, 99_000)
    add(f, 3, "B", 10, 101_000)  # 99_000 dropped; orders 2 stays live
    add(f, 4, "B", 200, 98_000)  # not held
    f("D", stock_locate=1, order_reference_number=3)
    ev = add(f, 5, "B", 5, 99_000)  # 99_000 held again with one order of 5
    assert levels(ev) == [(1, DEG, "B", "N", 1, 99_000, 5, 1)]
    ev = f("E", stock_locate=1, order_reference_number=2, executed_shares=20, match_number=1)
    assert kinds(ev) == "TL" and levels(ev) == [(1, DEG, "B", "D", 1, 99_000, 0, 0)]  # shares max(0, 5-20)
    assert f.card.orders[2].shares == 30
    ev = add(f, 6, "B", 300, 98_000)  # 98_000 held again: one order (ref 4's 200 shares are not in it)
    assert levels(ev) == [(1, DEG, "B", "N", 1, 98_000, 300, 1)]
    ev = f("D", stock_locate=1, order_reference_number=4)  # 100 shares left but no order: the level goes
    assert levels(ev) == [(1, DEG, "B", "D", 1, 98_000, 0, 0)]
    add(f, 7, "B", 100, 98_000)
    add(f, 8, "B", 100, 98_000)
    ev = f("X", stock_locate=1, order_reference_number=6, cancelled_shares=1)  # more than the level holds
    assert levels(ev) == [(1, DEG, "B", "C", 1, 98_000, 199, 2)]
    ev = f("D", stock_locate=1, order_reference_number=6)  # 299 off 199 shares: 0, the level goes
    assert levels(ev) == [(1, DEG, "B", "D", 1, 98_000, 0, 0)]
    ev = f("D", stock_locate=1, order_reference_number=7)
    assert len(ev) == 0 and f.card.counters["level_missing"] == 1
    ev = f("D", stock_locate=1, order_reference_number=5)  # the order of the level deleted above
    assert len(ev) == 0 and f.card.counters["level_missing"] == 2
    assert f.card.book(1).bids.depth() == [(100_000, 100, 1)]


def test_replace_order_of_events_and_pre_degrade_flags():
    f = feed(2)
    add(f, 1, "B", 100, 100_000)
    add(f, 2, "B", 50, 99_900)
    add(f, 4, "B", 60, 99_900)
    add(f, 9, "S", 10, 200_000, locate=2)
    ev = f("U", stock_locate=1, original_order_reference_number=2, new_order_reference_number=9, shares=30,
           price=100_500)
    assert kinds(ev) == "LLLDBB"
    assert levels(ev) == [(1, 0, "B", "C", 1, 99_900, 60, 1),  # the original's removal
                          (2, 0, "S", "D", 0, 200_000, 0, 0),  # the live order holding the new reference
                          (1, 0, "B", "N", 0, 100_500, 30, 1)]  # the add, which pushes 99_900 out
    assert [(int(e["locate"]), int(e["flags"])) for e in ev[3:]] == [(1, DEG), (1, DEG), (2, 0)]
    assert bbo(ev) == [(100_500, 30, 0, 0), (0, 0, 0, 0)]
    c = f.card.counters
    assert (c["duplicate_ref"], c["levels_full"], c["events_level"]) == (1, 1, 7)


def test_add_onto_a_live_reference_of_another_book_that_is_not_held():
    f = feed(1)
    add(f, 1, "B", 100, 100_000)
    add(f, 5, "S", 10, 200_000, locate=2)
    ev = add(f, 5, "B", 10, 99_000)
    assert kinds(ev) == "LDB"
    assert levels(ev) == [(2, 0, "S", "D", 0, 200_000, 0, 0)]
    assert (int(ev[1]["locate"]), int(ev[2]["locate"])) == (1, 2) and bbo(ev) == [(0, 0, 0, 0)]


def test_without_level_events_the_same_counters_and_no_level_events():
    with_events, without = feed(2), Feed(CardConfig(max_levels=2))
    for f in (with_events, without):
        add(f, 1, "B", 100, 100_000)
        add(f, 2, "B", 50, 99_000)
        add(f, 3, "B", 10, 101_000)
        f("D", stock_locate=1, order_reference_number=2)
    a, b = dict(with_events.card.counters), dict(without.card.counters)
    assert a.pop("events_level") == 3 and b.pop("events_level") == 0
    assert a.pop("events") == b.pop("events") + 3 and a == b
    assert b["levels_full"] == 1 and b["level_missing"] == 1


def test_unbounded_sides_hold_every_level():
    f = Feed()
    for i in range(300):
        add(f, i + 1, "S", 100, 100_000 + i)
    assert len(f.card.book(1).asks) == 300 and f.card.counters["levels_full"] == 0
    assert f.card.counters["events_level"] == 0


def test_order_table_placement_counters():
    f = Feed(CardConfig(order_table=OrderTableConfig(bucket_bits=4, ways=1, stash=1)))
    r = colliding_refs(4, 4)
    for i, ref in enumerate(r):
        add(f, ref, "B", 100, 100_000 - i)
    c = f.card.counters
    assert (c["order_table_second_choice"], c["order_table_stashed"], c["order_table_full"]) == (1, 1, 1)
    assert Feed().card.counters["order_table_second_choice"] == 0


@pytest.mark.parametrize("config", [dict(level_events=True), dict(level_events=True, max_levels=256)])
def test_level_events_need_max_levels_up_to_255(config):
    with pytest.raises(ValueError, match="level_events"):
        CardConfig(**config)
    assert CardConfig(level_events=True, max_levels=255).max_levels == 255
