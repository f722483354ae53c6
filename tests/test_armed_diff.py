"""Armed rules, model against the C++ card on a generated day: thousands of fires, rules re-armed and disarmed
through the registers mid-stream; every event byte (ts_local aside) and every counter the same. Then the same
against the Verilated pipeline (the sim backend: the gateware rule engine, `hdl.rules`) on a shorter stream of
a small geometry."""

from __future__ import annotations

import random

import numpy as np

from tickgate.host.backend import open_backend
from tickgate.host.feeds.files import pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.protocol.config import CardConfig, OrderTableConfig
from tickgate.protocol.events import EventKind, comparable
from tickgate.protocol.registers import REGISTER_MAP
from tickgate.protocol.rules import IMBALANCE_ONE, PriceMode, Rule, RuleCondition, rule_writes

SYMBOLS = 8
C, P = RuleCondition, PriceMode


def _rules(rng: random.Random) -> list[Rule]:
    """Rules on the generated day's locates that hold often, at every condition and price mode."""
    out = []
    for locate in range(1, SYMBOLS + 1):
        out += [
            Rule(locate, C.SPREAD_AT_OR_BELOW, rng.choice((100, 500, 2_000)), "B", 100, -100, P.ASK, "3", locate,
                 rng.randint(1, 200)),
            Rule(locate, C.BID_IMBALANCE, rng.choice((IMBALANCE_ONE, 2 * IMBALANCE_ONE)), "B", 10, 1, P.ASK, "0", 7,
                 rng.randint(1, 200)),
            Rule(locate, C.ASK_IMBALANCE, IMBALANCE_ONE // 2, "S", 10, 0, P.BID, "3", 8, rng.randint(1, 200)),
            Rule(locate, rng.choice((C.ASK_AT_OR_BELOW, C.BID_AT_OR_ABOVE)), rng.choice((1, 1 << 31, (1 << 32) - 1)),
                 "S", 5, 1_000_000, P.FIXED, "0", 9, rng.randint(1, 200)),
            Rule(locate, C.BID_AT_OR_ABOVE, 1, "B", 5, -(1 << 31), P.BID, "0", 10, 3),  # never a price
        ]
    return out


def _run_alike(other: str, config: CardConfig, messages: int, seed: int, every: int) -> dict[str, int]:
    """The model and backend `other` on one generated stream, rules re-armed through the registers every
    `every` packets; the same events and rule counters, and the same fires left in every entry."""
    rng = random.Random(seed)
    packets = list(pack_messages(generate(messages, SYMBOLS, 3), session="TICKGATE01"))
    rules = list(config.rules)
    model, card = open_backend("model", config), open_backend(other, config, announce=None)
    offset = {r.name: r.offset for r in REGISTER_MAP}
    for n, p in enumerate(packets, 1):
        if n % every == 1:  # re-arm, replace or disarm a few entries (some past cap_rules: refused)
            writes = []
            for _ in range(3):
                index = rng.randrange(config.max_rules + 4)
                writes += rule_writes(index, rng.choice(rules) if rng.random() < 0.85 else None)
            for b in (model, card):
                b.flush()
                for name, value in writes:
                    b.device.write_register(offset[name], value)
        model.feed(p, n)
        card.feed(p, n)
    want, got = model.take_events(), card.take_events()
    assert len(got) == len(want) and np.array_equal(comparable(got), comparable(want))
    c, cc = model.counters(), card.counters()
    assert {k: cc[k] for k in cc if k in c} == {k: c[k] for k in cc if k in c}
    assert (cc["events_fire"], cc["rules_disarmed"], cc["rule_writes_refused"]) == (
        c["events_fire"], c["rules_disarmed"], c["rule_writes_refused"])
    assert int((want["kind"] == EventKind.FIRE).sum()) == c["events_fire"]
    assert c["rules_disarmed"] >= 5 and c["rule_writes_refused"] > 0 and c["rules_no_price"] > 0
    for i in range(config.max_rules + 1):  # the same fires left in every entry (0 past the table)
        for b in (model, card):
            b.device.write_register(offset["rule_index"], i)
        assert card.device.read_register(offset["rule_left"]) == model.device.read_register(offset["rule_left"]), i
    assert card.device.read_register(offset["cap_rules"]) == config.max_rules
    card.close()
    return c


def test_model_and_cpp_card_fire_alike_with_rules_rearmed_midstream() -> None:
    rules = _rules(random.Random(5))
    config = CardConfig(max_rules=48, max_levels=64, level_events=True, rules=tuple(rules))  # 40 armed at the start
    c = _run_alike("software", config, 30_000, 5, 7)
    assert c["events_fire"] >= 2_000


def test_model_and_rtl_fire_alike_with_rules_rearmed_midstream() -> None:
    """The Verilated pipeline (a small geometry, 16 rule entries; built once, then cached)."""
    rules = _rules(random.Random(6))[:15]
    config = CardConfig(max_rules=16, max_symbols=16, max_levels=16, order_table=OrderTableConfig(8, 4, 4),
                        level_events=True, rules=tuple(rules))
    c = _run_alike("sim", config, 6_000, 6, 5)
    assert c["events_fire"] >= 300
