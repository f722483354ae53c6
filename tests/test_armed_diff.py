"""Armed rules, model against the C++ card on a generated day: thousands of fires, rules re-armed and disarmed
through the registers mid-stream; every event byte (ts_local aside) and every counter the same."""

from __future__ import annotations

import random

import numpy as np

from tickgate.host.backend import open_backend
from tickgate.host.feeds.files import pack_messages
from tickgate.host.feeds.generator import generate
from tickgate.protocol.config import CardConfig
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


def test_model_and_cpp_card_fire_alike_with_rules_rearmed_midstream() -> None:
    rng = random.Random(5)
    packets = list(pack_messages(generate(30_000, SYMBOLS, 3), session="TICKGATE01"))
    rules = _rules(rng)
    config = CardConfig(max_rules=48, max_levels=64, level_events=True, rules=tuple(rules))  # 40 armed at the start
    model, cpp = open_backend("model", config), open_backend("software", config)
    offset = {r.name: r.offset for r in REGISTER_MAP}
    for n, p in enumerate(packets, 1):
        if n % 7 == 1:  # re-arm, replace or disarm a few entries (some past cap_rules: refused)
            writes = []
            for _ in range(3):
                index = rng.randrange(52)
                writes += rule_writes(index, rng.choice(rules) if rng.random() < 0.85 else None)
            for b in (model, cpp):
                b.flush()
                for name, value in writes:
                    b.device.write_register(offset[name], value)
        model.feed(p, n)
        cpp.feed(p, n)
    want, got = model.take_events(), cpp.take_events()
    assert len(got) == len(want) and np.array_equal(comparable(got), comparable(want))
    c = model.counters()
    assert cpp.counters() == c
    fires = int((want["kind"] == EventKind.FIRE).sum())
    assert fires == c["events_fire"] >= 2_000
    assert c["rules_disarmed"] > 20 and c["rule_writes_refused"] > 0 and c["rules_no_price"] > 0
    for i in range(48):  # the same fires left in every entry
        for b in (model, cpp):
            b.device.write_register(offset["rule_index"], i)
        assert cpp.device.read_register(offset["rule_left"]) == model.device.read_register(offset["rule_left"])
