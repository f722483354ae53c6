"""`LevelUpdate` against the reference model's `Side` (model/book.py): random operations, every output."""

import random

import pytest
from amaranth.sim import Simulator

from tickgate.model.book import Side
from tickgate.protocol.events import LevelAction

from .levels import LevelUpdate, level_row


def _row_of(side: Side, levels: int) -> list[dict[str, int]]:
    held = side.depth()
    return [{"price": p, "shares": s, "orders": o} for p, s, o in held] + \
        [{"price": 0, "shares": 0, "orders": 0}] * (levels - len(held))


@pytest.mark.parametrize(("levels", "is_bid", "seed", "big"),
                         [(1, True, 1, False), (4, True, 2, False), (4, False, 3, False), (8, False, 4, False),
                          (4, True, 5, True), (2, False, 6, True)])
def test_level_update_matches_the_model(levels: int, is_bid: bool, seed: int, big: bool) -> None:
    """`big`: shares up to 2**32 - 1, so levels saturate (issue 17 fault 3: the sum used to wrap)."""
    dut = LevelUpdate(levels)
    rng = random.Random(seed)
    side = Side(bid=is_bid, cap=levels)
    orders: list[tuple[int, int]] = []  # (price, shares) of live orders, as the card keeps them
    checked = {"add": 0, "reduce": 0, "full": 0, "missing": 0, "delete": 0}

    async def bench(ctx) -> None:
        for _ in range(600):
            ctx.set(dut.row, _row_of(side, levels))
            ctx.set(dut.is_bid, is_bid)
            if not orders or rng.random() < 0.55:
                price, shares = rng.randrange(100, 100 + 3 * levels), rng.randrange(1, 500)
                if big and rng.random() < 0.5:
                    shares = rng.choice([0xFFFF_FFFF, 0xFFFF_FFFE, 1 << 31, (1 << 31) + 1])
                ctx.set(dut.add, 1)
                ctx.set(dut.price, price)
                ctx.set(dut.shares, shares)
                update, full = side.add(price, shares)
                orders.append((price, shares))
                checked["add"] += 1
                checked["full"] += full
            else:
                i = rng.randrange(len(orders))
                price, shares = orders[i]
                taken = shares if rng.random() < 0.6 else rng.randrange(1, shares + 1)
                removes = taken == shares
                if removes:
                    orders.pop(i)
                else:
                    orders[i] = (price, shares - taken)
                ctx.set(dut.add, 0)
                ctx.set(dut.price, price)
                ctx.set(dut.shares, taken)
                ctx.set(dut.removes_order, removes)
                update, full = side.reduce(price, taken, removes), False
                checked["reduce"] += 1
                checked["missing"] += update is None
            ev = ctx.get(dut.event)
            assert bool(ctx.get(dut.full)) == full
            assert bool(ctx.get(dut.missing)) == (update is None and not ctx.get(dut.add))
            if update is None:
                assert not ev.valid
            else:
                assert ev.valid
                got = (ev.action, ev.index, ev.price, ev.shares, ev.orders)
                assert got == tuple(update), (got, update)
                checked["delete"] += update.action == LevelAction.DELETE
            new = ctx.get(dut.new_row)
            assert [{"price": lv.price, "shares": lv.shares, "orders": lv.orders} for lv in new] == \
                _row_of(side, levels)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    # The stream reached every rule: adds, reductions, deletions, overflows and (past one) missing levels.
    assert checked["add"] and checked["reduce"] and checked["delete"] and checked["full"]
    if levels < 8:
        assert checked["missing"]


def test_level_row_validates() -> None:
    with pytest.raises(ValueError, match="1 to 255"):
        level_row(0)
    with pytest.raises(ValueError, match="1 to 255"):
        level_row(256)
