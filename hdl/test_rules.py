"""`RuleEngine` against the reference model's rule table (`model.rules.RuleTable`): random rules written
through the rule registers (some refused, some disarmed), random top-of-book events of a few locates (empty
sides, degraded books, other kinds between them), random gaps and back-pressure; every event byte, every
counter and every entry's fires left the same."""

from __future__ import annotations

import random
import struct
from collections import Counter

from amaranth.sim import Simulator

from tickgate.model.rules import RuleTable
from tickgate.model.sink import EventSink
from tickgate.protocol.events import EVENT_SIZE, EventFlag, EventKind, pack_format
from tickgate.protocol.rules import IMBALANCE_ONE, PriceMode, Rule, RuleCondition, rule_writes

from .rules import RULE_COUNTERS, RuleEngine

CAPACITY = 6
_PACK = {k: struct.Struct(pack_format(k)).pack for k in (EventKind.BBO, EventKind.TRADE)}


def _rule(rng: random.Random) -> Rule:
    mode = rng.choice(list(PriceMode))
    price = (rng.choice((1, 100, 10_000, (1 << 32) - 1)) if mode is PriceMode.FIXED
             else rng.choice((-(1 << 31), -300, -1, 0, 1, 200, (1 << 31) - 1)))
    cond = rng.choice(list(RuleCondition))
    threshold = {RuleCondition.BID_IMBALANCE: rng.choice((0, IMBALANCE_ONE // 2, IMBALANCE_ONE, 3 * IMBALANCE_ONE)),
                 RuleCondition.ASK_IMBALANCE: rng.choice((IMBALANCE_ONE, 2 * IMBALANCE_ONE, (1 << 32) - 1)),
                 RuleCondition.SPREAD_AT_OR_BELOW: rng.choice((0, 100, 400))}.get(cond, rng.randrange(900, 1_200))
    return Rule(rng.randint(1, 3), cond, threshold, rng.choice("BS"), rng.randint(1, 1 << 20), price, mode,
                rng.choice("0356E"), rng.getrandbits(32), rng.randint(1, 6))


def _writes(rng: random.Random) -> list[tuple[str, int]]:
    """One rule_write's register writes: an arm, a disarm, a bad field or an index past the table."""
    index = rng.randrange(CAPACITY + 2)
    what = rng.random()
    if what < 0.15:
        return rule_writes(index, None)
    writes = rule_writes(index, _rule(rng))
    if what < 0.3:  # a field out of range: refused
        bad = rng.choice((("rule_locate", 0x10000), ("rule_kind", 6 | ord("B") << 16 | ord("0") << 24),
                          ("rule_kind", 1 | 3 << 8 | ord("B") << 16 | ord("0") << 24),
                          ("rule_kind", 1 | ord("X") << 16 | ord("0") << 24),
                          ("rule_kind", 1 | ord("S") << 16 | ord("1") << 24), ("rule_shares", 0), ("rule_fires", 0)))
        writes = [bad if name == bad[0] else (name, value) for name, value in writes]
    return writes


def _event(rng: random.Random, seq: int) -> tuple[EventKind, tuple[int, ...]]:
    """A BBO event of locate 1-3 (most of the time), or a TRADE event between them: its kind and fields."""
    locate, flags = rng.randint(1, 3), int(EventFlag.DEGRADED) if rng.random() < 0.05 else 0
    common = (flags, locate, ord("A"), seq, seq * 1_000, seq * 7)
    if rng.random() < 0.2:
        return EventKind.TRADE, (*common, 10_000, ord("B"), ord("Y"), 0, 100, seq, 0)

    def side() -> tuple[int, int]:
        return (0, 0) if rng.random() < 0.1 else (rng.randrange(800, 1_300), rng.randint(1, 5_000))

    (bid_px, bid_sz), (ask_px, ask_sz) = side(), side()
    return EventKind.BBO, (*common, bid_px, bid_sz, ask_px, ask_sz)


def test_rule_engine_matches_the_model() -> None:
    rng = random.Random(13)
    counters: Counter[str] = Counter()
    sink = EventSink(counters)
    table = RuleTable(CAPACITY, counters, sink)
    script: list[tuple[str, object]] = []  # ("write", [(name, value)]) or ("event", bytes)
    for seq in range(1, 1_500):
        if rng.random() < 0.15:
            writes = _writes(rng)
            for name, value in writes:
                table.write(name, value)
            script.append(("write", writes))
        kind, fields = _event(rng, seq)
        sink.emit(kind, *fields)  # the input event, as the book emits it; then the rules' FIRE events
        if kind is EventKind.BBO:
            table.after_bbo(*fields)
        script.append(("event", _PACK[kind](kind, *fields)))
    expected = bytes(sink.take().view("u1"))
    assert counters["events_fire"] > 200 and counters["rules_disarmed"] > 20
    assert counters["rules_no_price"] > 0 and counters["rules_held_degraded"] > 0
    assert counters["rule_writes_refused"] > 0

    dut = RuleEngine(CAPACITY)
    got: list[bytes] = []
    left: list[int] = []

    async def bench(ctx) -> None:
        regs = {f"rule_{name}": getattr(dut.regs, name) for name in
                ("index", "locate", "kind", "threshold", "shares", "price", "tag", "fires")}
        for what, value in script:
            if what == "write":
                for _ in range(30):  # the host flushes before it writes: the engine drains
                    ctx.set(dut.o.ready, 1)
                    if ctx.get(dut.o.valid):
                        got.append(ctx.get(dut.o.payload).to_bytes(EVENT_SIZE, "little"))
                    await ctx.tick()
                for name, v in value:
                    if name == "rule_write":
                        ctx.set(dut.command.valid, 1)
                        ctx.set(dut.command.arm, v & 1)
                    else:
                        ctx.set(regs[name], v & 0xFFFF_FFFF)
                    await ctx.tick()
                    ctx.set(dut.command.valid, 0)
                await ctx.tick().repeat(3)  # a write is stored three cycles after its command
                continue
            ctx.set(dut.i.payload, int.from_bytes(value, "little"))
            ctx.set(dut.i.valid, 1)
            while True:
                ctx.set(dut.o.ready, rng.random() < 0.7)
                took = ctx.get(dut.i.ready)
                if ctx.get(dut.o.valid) and ctx.get(dut.o.ready):
                    got.append(ctx.get(dut.o.payload).to_bytes(EVENT_SIZE, "little"))
                await ctx.tick()
                if took:
                    break
            ctx.set(dut.i.valid, 0)
            if rng.random() < 0.2:
                await ctx.tick()
        for _ in range(60):
            ctx.set(dut.o.ready, 1)
            if ctx.get(dut.o.valid):
                got.append(ctx.get(dut.o.payload).to_bytes(EVENT_SIZE, "little"))
            await ctx.tick()
        for name in RULE_COUNTERS:
            assert ctx.get(dut.counters[name]) == counters[name], name
        for i in range(CAPACITY + 1):
            ctx.set(dut.regs.index, i)
            await ctx.tick().repeat(2)
            left.append(ctx.get(dut.left))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert b"".join(got) == expected
    for i in range(CAPACITY + 1):
        table.write("rule_index", i)
        assert left[i] == table.read("rule_left"), i
