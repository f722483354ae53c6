"""`SlotResolver` against `ReferenceCard`'s symbol handling: which locates get a book, which are refused."""

import random

import pytest
from amaranth.sim import Simulator

from tickgate.model.card import CardConfig, ReferenceCard
from tickgate.protocol import itch

from .resolve import BOOK_PORTS, Outcome, SlotResolver

SYMBOLS = ("AA", "BB", "CC", "DD", "EE", "FF", "GG", "HH")


def _name(symbol: str) -> int:
    return int.from_bytes(symbol.encode().ljust(8, b" "), "little")


@pytest.mark.parametrize(("track", "slots"), [(None, 5), (frozenset({"AA", "CC", "DD", "GG"}), 3),
                                              (frozenset(SYMBOLS), 8)])
def test_resolver_matches_the_model(track: frozenset[str] | None, slots: int) -> None:
    dut = SlotResolver(slots, names=8)
    card = ReferenceCard(CardConfig(symbols=track, max_symbols=slots))
    rng = random.Random(slots)
    locates = {loc: rng.choice(SYMBOLS) for loc in rng.sample(range(1, 1 << 16), 10)}
    seen = {o: 0 for o in Outcome}
    degraded: set[int] = set()

    async def bench(ctx) -> None:
        ctx.set(dut.req.epoch, 1)
        ctx.set(dut.track_all, track is None)
        for n, s in enumerate(sorted(track or ())):
            ctx.set(dut.name_write, 1)
            ctx.set(dut.name_set, 1)
            ctx.set(dut.name_index, n)
            ctx.set(dut.name_value, _name(s))
            await ctx.tick()
        ctx.set(dut.name_write, 0)
        for step in range(160):
            locate = rng.choice(list(locates))
            directory = rng.random() < 0.3
            ctx.set(dut.req.lookup, 1)
            ctx.set(dut.req.locate, locate)
            await ctx.tick()
            ctx.set(dut.req.lookup, 0)
            ctx.set(dut.req.resolve, {"book": not directory, "directory": directory, "locate": locate,
                                      "name": _name(locates[locate])})
            known = locate in card.books or (card._tracked(locate) and locate not in card.refused)
            assert ctx.get(dut.req.known) == known, step
            if directory:
                card._directory(itch.make("R", stock_locate=locate, stock=locates[locate]), step, 0)
            else:
                held, full = locate in card.books, card.counters["symbols_full"]
                book = card._book(itch.make("P", stock_locate=locate, stock=locates[locate]), step, 0)
                slot = list(card.books).index(locate) if book is not None else None
                want = (Outcome.HELD if held else Outcome.GIVEN) if book is not None else \
                    Outcome.REFUSED if card.counters["symbols_full"] > full else Outcome.UNTRACKED
                assert ctx.get(dut.req.outcome) == want, step
                if slot is not None:
                    assert ctx.get(dut.req.slot) == slot, step
                seen[want] += 1
            # Book ports: each reads a given slot's locate and DEGRADED flag; now and then one is degraded.
            given = list(card.books)
            if given:
                picks = [rng.randrange(len(given)) for _ in BOOK_PORTS]
                for i, s in enumerate(picks):
                    ctx.set(dut.req.books[i], s)
                for i, s in enumerate(picks):
                    assert ctx.get(dut.req.book_locate[i]) == given[s] or (not directory and s == len(given) - 1
                                                                           and want == Outcome.GIVEN)
                    assert (ctx.get(dut.req.book_degraded) >> i & 1) == (s in degraded)
                if rng.random() < 0.1:
                    s = rng.randrange(len(given))
                    ctx.set(dut.req.degrade, {"valid": 1, "slot": s})
                    degraded.add(s)
            await ctx.tick()
            ctx.set(dut.req.resolve, {"book": 0, "directory": 0, "locate": 0, "name": 0})
            ctx.set(dut.req.degrade.valid, 0)
            assert ctx.get(dut.symbols_live) == len(card.books)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen[Outcome.HELD] and seen[Outcome.GIVEN]
    if track is None:  # 10 locates, 5 slots
        assert seen[Outcome.REFUSED]
    if track is not None and track != frozenset(SYMBOLS):
        assert seen[Outcome.UNTRACKED]
