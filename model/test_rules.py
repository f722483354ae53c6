"""Armed rules in the reference model: each condition at its edges, prices, fire counts, disarm, re-arm, the
register path, degraded books and the place of FIRE events among a message's events."""

from __future__ import annotations

import numpy as np
import pytest

from tickgate.model.device import ModelDevice
from tickgate.model.test_card import Feed, add
from tickgate.protocol.config import CardConfig, register_writes
from tickgate.protocol.events import KIND_DTYPES, EventKind
from tickgate.protocol.registers import REGISTER_MAP
from tickgate.protocol.rules import IMBALANCE_ONE, PriceMode, Rule, RuleCondition, rule_writes

C = RuleCondition


def kinds(ev: np.ndarray) -> str:
    return "".join(chr(k) for k in ev["kind"])


def fires(ev: np.ndarray) -> list[tuple]:
    """FIRE events as (rule, side, shares, price, left, tag, seq)."""
    f = ev[ev["kind"] == EventKind.FIRE].view(KIND_DTYPES[EventKind.FIRE])
    return [(int(e["fire_rule"]), chr(e["fire_side"]), int(e["fire_shares"]), int(e["fire_price"]),
             int(e["fire_left"]), int(e["fire_tag"]), int(e["seq"])) for e in f]


def rule(condition: C, threshold: int, **kw) -> Rule:
    kw = {"side": "B", "shares": 10, "price": 100_000, "fires": 5, **kw}
    return Rule(kw.pop("locate", 1), condition, threshold, **kw)


def armed(*rules: Rule | None, **config) -> Feed:
    return Feed(CardConfig(rules=rules, **config))


def test_ask_at_or_below_fires_at_exact_equality_and_not_above():
    f = armed(rule(C.ASK_AT_OR_BELOW, 100_000))
    assert fires(add(f, 1, "S", 5, 100_100)) == []
    ev = add(f, 2, "S", 5, 100_000)  # exactly the threshold
    assert kinds(ev) == "BF" and fires(ev) == [(0, "B", 10, 100_000, 4, 0, 2)]
    assert fires(add(f, 3, "B", 5, 90_000)) == [(0, "B", 10, 100_000, 3, 0, 3)]  # any top change re-evaluates
    assert fires(add(f, 4, "B", 5, 80_000)) == []  # behind the best: no BBO event, nothing fires


def test_bid_at_or_above_and_empty_sides():
    f = armed(rule(C.BID_AT_OR_ABOVE, 100_000, side="S"))
    assert fires(add(f, 1, "S", 5, 90_000)) == []  # bid side empty: the ask passing does not count
    assert fires(add(f, 2, "B", 5, 99_999)) == []
    assert fires(add(f, 3, "B", 5, 100_000))[0][:2] == (0, "S")
    f = armed(rule(C.ASK_AT_OR_BELOW, 1 << 32 - 1))
    assert fires(add(f, 1, "B", 5, 90_000)) == []  # ask empty (price 0) never holds


def test_spread_needs_both_sides_and_holds_at_the_width_and_crossed():
    f = armed(rule(C.SPREAD_AT_OR_BELOW, 100, fires=9))
    assert fires(add(f, 1, "B", 5, 100_000)) == []
    assert fires(add(f, 2, "S", 5, 100_101)) == []  # spread 101
    assert len(fires(add(f, 3, "S", 5, 100_100))) == 1  # spread 100: at the width
    assert len(fires(add(f, 4, "B", 5, 100_200))) == 1  # crossed: ask below bid holds


@pytest.mark.parametrize("condition, bid_sz, ask_sz, holds", [
    (C.BID_IMBALANCE, 300, 100, True),  # 3.0 at a ratio of 3.0: holds at equality
    (C.BID_IMBALANCE, 299, 100, False),
    (C.ASK_IMBALANCE, 100, 300, True),
    (C.ASK_IMBALANCE, 101, 300, False),
])
def test_imbalance_in_q16_16_at_the_ratio(condition, bid_sz, ask_sz, holds):
    f = armed(rule(condition, 3 * IMBALANCE_ONE))
    assert fires(add(f, 1, "B", bid_sz, 100_000)) == []  # one side empty: never
    assert bool(fires(add(f, 2, "S", ask_sz, 100_100))) is holds


def test_imbalance_of_the_largest_sizes_in_64_bits():
    f = armed(rule(C.BID_IMBALANCE, (1 << 32) - 1))  # ratio just under 65536
    big = (1 << 32) - 1
    add(f, 1, "S", 1, 100_100)
    ev = add(f, 2, "B", big, 100_000)
    assert len(fires(ev)) == 1  # big * 65536 >= (2**32 - 1) * 1


def test_relative_prices_from_the_touch_and_no_price():
    f = armed(rule(C.BID_AT_OR_ABOVE, 1, price=-100, price_mode=PriceMode.BID),
              rule(C.BID_AT_OR_ABOVE, 1, price=50, price_mode=PriceMode.ASK, side="S"))
    ev = add(f, 1, "B", 5, 100_000)
    assert fires(ev) == [(0, "B", 10, 99_900, 4, 0, 1)]  # rule 1: no ask to price from
    assert f.card.counters["rules_no_price"] == 1
    ev = add(f, 2, "S", 5, 100_300)
    assert [x[:4] for x in fires(ev)] == [(0, "B", 10, 99_900), (1, "S", 10, 100_350)]  # in rule-index order
    f = armed(rule(C.BID_AT_OR_ABOVE, 1, price=-100_000, price_mode=PriceMode.BID))
    assert fires(add(f, 1, "B", 5, 100_000)) == [] and f.card.counters["rules_no_price"] == 1  # price 0


def test_disarm_after_the_count_and_rearm():
    f = armed(rule(C.BID_AT_OR_ABOVE, 1, fires=2, tag=77))
    assert fires(add(f, 1, "B", 5, 100_000)) == [(0, "B", 10, 100_000, 1, 77, 1)]
    assert fires(add(f, 2, "B", 5, 100_001)) == [(0, "B", 10, 100_000, 0, 77, 2)]
    assert fires(add(f, 3, "B", 5, 100_002)) == []  # disarmed
    c = f.card.counters
    assert (c["events_fire"], c["rules_disarmed"]) == (2, 1)
    f.card.rules.arm(0, rule(C.BID_AT_OR_ABOVE, 1, fires=1))
    assert len(fires(add(f, 4, "B", 5, 100_003))) == 1 and c["rules_disarmed"] == 2


def test_fire_follows_its_bbo_after_trade_and_level_events_and_copies_its_common_fields():
    f = armed(rule(C.ASK_AT_OR_BELOW, 200_000, fires=9), max_levels=4, level_events=True)
    add(f, 1, "S", 5, 100_000)
    add(f, 2, "S", 5, 100_100)
    ev = f("E", stock_locate=1, order_reference_number=1, executed_shares=5, match_number=9)
    assert kinds(ev) == "TLBF"
    common = ["flags", "locate", "msg_type", "seq", "ts_exch", "ts_local"]
    assert all(ev[2][k] == ev[3][k] for k in common)


def test_a_message_fires_a_rule_once_even_with_two_books_changed():
    f = armed(rule(C.BID_AT_OR_ABOVE, 1, fires=9), rule(C.BID_AT_OR_ABOVE, 1, fires=9, locate=2))
    add(f, 1, "B", 5, 100_000, locate=1)
    ev = add(f, 1, "B", 5, 90_000, locate=2)  # duplicate reference: locate 1 loses its bid, locate 2 gains one
    assert kinds(ev) == "BFB" and [x[0] for x in fires(ev)] == [1]


def test_no_fire_on_a_degraded_book():
    f = armed(rule(C.BID_AT_OR_ABOVE, 1), max_levels=1)
    add(f, 1, "S", 5, 100_000)
    add(f, 2, "S", 5, 100_100)  # a second level on a side of one: the book degrades
    ev = add(f, 3, "B", 5, 90_000)
    assert kinds(ev) == "B" and ev[0]["flags"] == 1 and fires(ev) == []
    c = f.card.counters
    assert c["degraded_symbols"] == 1 and c["events_fire"] == 0 and c["rules_held_degraded"] == 1


def test_rules_written_through_registers_and_refused_writes():
    dev = ModelDevice(CardConfig(max_rules=2))
    off = {r.name: r.offset for r in REGISTER_MAP}
    for name, value in rule_writes(1, rule(C.BID_AT_OR_ABOVE, 1, price=-5, price_mode=PriceMode.BID, fires=3)):
        dev.write_register(off[name], value)
    assert dev.read_register(off["rule_left"]) == 3 and dev.read_register(off["cap_rules"]) == 2
    for name, value in rule_writes(2, rule(C.BID_AT_OR_ABOVE, 1)):  # past cap_rules
        dev.write_register(off[name], value)
    dev.write_register(off["rule_index"], 0)
    dev.write_register(off["rule_kind"], 9)  # no such condition
    dev.write_register(off["rule_write"], 1)
    assert dev.counters()["rule_writes_refused"] == 2 and dev.read_register(off["rule_left"]) == 0
    card = dev.card
    assert card is not None and card.rules.rules[1] == rule(C.BID_AT_OR_ABOVE, 1, price=-5,
                                                             price_mode=PriceMode.BID, fires=3)
    dev.write_register(off["rule_index"], 1)
    dev.write_register(off["rule_write"], 0)  # disarm
    assert dev.read_register(off["rule_left"]) == 0 and card.rules.by_locate == {}


def test_rule_and_config_validation():
    with pytest.raises(ValueError, match="side must be 'B' or 'S'"):
        rule(C.BID_AT_OR_ABOVE, 1, side="X")
    with pytest.raises(ValueError, match="fires must be an integer from 1"):
        rule(C.BID_AT_OR_ABOVE, 1, fires=0)
    with pytest.raises(ValueError, match="price must be an integer from 1"):
        rule(C.BID_AT_OR_ABOVE, 1, price=0)
    with pytest.raises(ValueError, match="time in force"):
        rule(C.BID_AT_OR_ABOVE, 1, tif="9")
    with pytest.raises(ValueError, match="do not fit a rule table"):
        CardConfig(max_rules=1, rules=(None, None))
    writes = register_writes(CardConfig(rules=(None, rule(C.BID_AT_OR_ABOVE, 1))))
    assert ("rule_index", 1) in writes and writes[-1][0] == "control"
