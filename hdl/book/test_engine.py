"""The order/level sequencer (with the slot resolver) and the whole `BookEngine` against `ReferenceCard`.

Records come from the reference decoder; the model's events and counters are the oracle. The sequencer's
test reads what it reports to the composer (turned into records by `test_compose.expected_events`); the
engine's reads its events. A small geometry, so every capacity is passed on short streams.
"""

import enum

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from tickgate.host.feeds import adversarial, pack_messages
from tickgate.host.feeds.generator import Generator
from tickgate.model.card import CardConfig, ReferenceCard
from tickgate.model.decoder import ReferenceDecoder
from tickgate.model.order_table import OrderTableConfig
from tickgate.protocol.events import EVENT_DTYPE, EVENT_SIZE, comparable

from .engine import BOOK_COUNTERS, BookEngine, BookGeometry
from .resolve import SlotResolver
from .sequencer import SEQUENCER_COUNTERS, OrderLevelSequencer
from .test_compose import expected_events

GEOMETRY = BookGeometry(symbols=6, levels=4, names=4, order_table=OrderTableConfig(bucket_bits=3, ways=2, stash=2))


def _streams() -> dict[str, tuple[list[bytes], frozenset[str] | None]]:
    t = GEOMETRY.order_table
    return {
        "generated": (list(pack_messages(Generator(500, 8, 3), end_of_session=True)), None),
        "named": (list(pack_messages(Generator(400, 8, 4), end_of_session=True)),
                  frozenset(Generator(400, 8, 4).symbols[:3])),
        "collisions": (adversarial.hash_collisions(t.bucket_bits, t.ways, t.stash, rounds=2, seed=5), None),
        "levels": (adversarial.level_overflow(GEOMETRY.levels, symbols=2, messages=300, seed=6), None),
        "symbols": (adversarial.symbol_overflow(GEOMETRY.symbols, extra=3, seed=7), None),
        "faults": (adversarial.duplicates_and_faults(seed=8), None),
    }


def _reference(packets: list[bytes], symbols: frozenset[str] | None) -> tuple[list[dict], bytes, dict[str, int]]:
    config = CardConfig(symbols=symbols, order_table=GEOMETRY.order_table, max_levels=GEOMETRY.levels,
                        max_symbols=GEOMETRY.symbols, level_events=True)
    card, decoder = ReferenceCard(config), ReferenceDecoder()
    for p in packets:
        card.feed(p)
        decoder.feed(p)
    return decoder.records, card.take_events().tobytes(), card.counters


def _name(symbol: str) -> int:
    return int.from_bytes(symbol.encode().ljust(8, b" "), "little")


def _compared(records: bytes) -> list[bytes]:
    """Each record's bytes but ts_local (a cycle count in the gateware)."""
    return [bytes(row) for row in comparable(np.frombuffer(records, EVENT_DTYPE))]


def _run(dut, i, resolver, cfg, records, symbols, collect) -> None:
    """Name table, then every record on `i` (valid whenever one is left); `collect(ctx, now)` each cycle."""
    async def bench(ctx) -> None:
        for n, s in enumerate(sorted(symbols or ())):
            ctx.set(resolver.name_write, 1)
            ctx.set(resolver.name_set, 1)
            ctx.set(resolver.name_index, n)
            ctx.set(resolver.name_value, _name(s))
            await ctx.tick()
        ctx.set(resolver.name_write, 0)
        cfg(ctx)
        now, idle = 0, 0
        pending = list(records)
        while pending or idle < 20:
            if pending:
                ctx.set(i.valid, 1)
                ctx.set(i.payload, pending[0])
            else:
                ctx.set(i.valid, 0)
            busy = collect(ctx, now)
            if pending and ctx.get(i.ready):
                pending.pop(0)
            idle = 0 if pending or busy else idle + 1
            await ctx.tick()
            now += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


_NAMES = ("generated", "named", "collisions", "levels", "symbols", "faults")


@pytest.mark.parametrize("name", _NAMES)
def test_sequencer_reports_what_the_model_emits(name: str) -> None:
    packets, symbols = _streams()[name]
    records, want, want_counters = _reference(packets, symbols)
    g = GEOMETRY
    m = Module()
    m.submodules.seq = seq = OrderLevelSequencer(g.symbols, g.levels, g.order_table)
    m.submodules.res = res = SlotResolver(g.symbols, g.names)
    wiring.connect(m, seq.res, res.req)
    m.d.comb += [seq.ev.room.eq(1), seq.ev.room_closing.eq(1)]
    got: list[bytes] = []
    counts = dict.fromkeys(SEQUENCER_COUNTERS, 0)

    def cfg(ctx) -> None:
        ctx.set(seq.level_events, 1)
        ctx.set(res.track_all, symbols is None)

    def collect(ctx, now: int) -> bool:
        req = {n: ctx.get(getattr(seq.ev, n)) for n in ("first", "level", "degraded", "bbo", "bbo_other")}
        msg = ctx.get(seq.ev.msg)
        req = {n: _as_dict(v) for n, v in req.items()}
        req["msg"] = _as_dict(msg)
        made = expected_events(req, now)
        got.extend(made)
        inc = ctx.get(seq.inc)
        for c in SEQUENCER_COUNTERS:
            counts[c] += getattr(inc, c)
        return bool(made)

    _run(m, seq.i, res, cfg, records, symbols, collect)
    assert _compared(b"".join(got)) == _compared(want)
    assert counts == {c: want_counters[c] for c in SEQUENCER_COUNTERS}


@pytest.mark.parametrize("name", ["generated", "named", "levels", "faults"])
def test_engine_matches_the_model(name: str) -> None:
    packets, symbols = _streams()[name]
    records, want, want_counters = _reference(packets, symbols)
    dut = BookEngine(GEOMETRY)
    got: list[bytes] = []
    counters = {}

    def cfg(ctx) -> None:
        ctx.set(dut.cfg.level_events, 1)
        ctx.set(dut.cfg.track_all, symbols is None)
        ctx.set(dut.o.ready, 1)

    def collect(ctx, now: int) -> bool:
        ctx.set(dut.now, now)
        counters.update({c: ctx.get(dut.counters[c]) for c in BOOK_COUNTERS})
        if ctx.get(dut.o.valid):
            got.append(ctx.get(dut.o.payload).to_bytes(EVENT_SIZE, "little"))
            return True
        return False

    class Names:  # the engine's name-table ports, as the bench writes them
        name_write, name_set, name_index, name_value = dut.name_write, dut.name_set, dut.name_index, dut.name_value

    _run(dut, dut.i, Names, cfg, records, symbols, collect)
    assert _compared(b"".join(got)) == _compared(want)
    assert len(got) == len(want) // EVENT_SIZE > 0
    assert counters == {c: want_counters[c] for c in BOOK_COUNTERS}


def _as_dict(view) -> dict:
    """A struct value read from the simulator as nested dicts of ints."""
    from amaranth.lib import data

    if isinstance(view, data.Const):
        return {name: _as_dict(view[name]) for name, _ in view.shape()}
    return view.value if isinstance(view, enum.Enum) else int(view)
