"""One side of one symbol's book: the best `levels` price levels, updated one order at a time.

A row holds the levels best first (bids: highest price first; asks: lowest), held levels ahead of empty
ones; a level is empty when its order count is 0. `LevelUpdate` is the combinational step the book engine
applies to a row read from memory; its rules are `model.book`'s for a side of `max_levels` levels:

- add: a level at the price gains the order (CHANGE), its shares saturating at MAX_LEVEL_SHARES (`full`,
  as the model: the engine counts `levels_full` and degrades the book); else a new level is inserted at its place (NEW),
  the worst held level dropping off a full side (`full`); a price worse than every level of a full side
  is not held (`full`, no event).
- reduce: shares and, if the order goes, one order come off the level at the price (saturating at 0);
  a level left with no shares or no orders is removed (DELETE), else CHANGE; no level at the price
  (`missing`) changes nothing.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.config import MAX_LEVEL_SHARES
from tickgate.protocol.events import LevelAction

__all__ = ["Level", "LevelEvent", "LevelUpdate", "level_row"]

PRICE_BITS = SHARES_BITS = ORDERS_BITS = 32
if MAX_LEVEL_SHARES != (1 << SHARES_BITS) - 1:
    raise AssertionError("a level's shares are held in protocol.config.MAX_LEVEL_SHARES")

Level = data.StructLayout({"price": PRICE_BITS, "shares": SHARES_BITS, "orders": ORDERS_BITS})

#: What a level operation reports: the LEVEL event's fields (`valid`: there is one).
LevelEvent = data.StructLayout({
    "valid": 1, "action": 8, "index": 8, "price": PRICE_BITS, "shares": SHARES_BITS, "orders": ORDERS_BITS,
})


def level_row(levels: int) -> data.ArrayLayout:
    """A row of `levels` levels, best first."""
    if not isinstance(levels, int) or not 1 <= levels <= 255:
        raise ValueError(f"levels per side must be 1 to 255, not {levels!r}")
    return data.ArrayLayout(Level, levels)


class LevelUpdate(wiring.Component):
    """Applies one add or reduce to a row (combinational): `new_row`, the `event`, `full`, `missing`.

    Inputs: `row`, `is_bid`, `add` (1: add an order of `shares` at `price`; 0: reduce), `shares`, `price`,
    `removes_order` (reduce: the order leaves the level).
    """

    def __init__(self, levels: int) -> None:
        self.levels = levels
        row = level_row(levels)
        super().__init__({
            "row": In(row), "is_bid": In(1), "add": In(1), "price": In(PRICE_BITS), "shares": In(SHARES_BITS),
            "removes_order": In(1),
            "new_row": Out(row), "event": Out(LevelEvent), "full": Out(1), "missing": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        k = self.levels
        row, new = self.row, self.new_row
        held = Cat(*(row[j].orders != 0 for j in range(k)))
        better = Cat(*(held[j] & Mux(self.is_bid, row[j].price > self.price, row[j].price < self.price)
                       for j in range(k)))
        equal = Cat(*(held[j] & (row[j].price == self.price) for j in range(k)))
        place = Signal(range(k + 1))  # levels better than the price: where it is or goes
        m.d.comb += place.eq(sum(better[j] for j in range(k)))
        at = Signal(range(k))  # the level at the price, if any
        found = Signal(Level)  # that level
        for j in reversed(range(k)):
            with m.If(equal[j]):
                m.d.comb += [at.eq(j), found.eq(row[j])]
        hit = equal.any()

        def set_at(shares, orders) -> None:
            for j in range(k):
                with m.If(equal[j]):
                    m.d.comb += [new[j].shares.eq(shares), new[j].orders.eq(orders)]

        m.d.comb += new.eq(row)
        ev = self.event
        with m.If(self.add):
            with m.If(hit):
                total = Signal(SHARES_BITS + 1)
                held_sum = Signal(SHARES_BITS)  # saturated at the most a level holds
                m.d.comb += [total.eq(found.shares + self.shares),
                             held_sum.eq(Mux(total[SHARES_BITS], MAX_LEVEL_SHARES, total[:SHARES_BITS]))]
                set_at(held_sum, found.orders + 1)
                m.d.comb += [
                    self.full.eq(total[SHARES_BITS]),
                    ev.action.eq(LevelAction.CHANGE), ev.index.eq(at), ev.price.eq(self.price),
                    ev.shares.eq(held_sum), ev.orders.eq(found.orders + 1), ev.valid.eq(1),
                ]
            with m.Elif(place == k):
                m.d.comb += self.full.eq(1)
            with m.Else():
                for j in range(k):
                    with m.If(j == place):
                        m.d.comb += [new[j].price.eq(self.price), new[j].shares.eq(self.shares),
                                     new[j].orders.eq(1)]
                    if j > 0:
                        with m.Elif(j > place):
                            m.d.comb += new[j].eq(row[j - 1])
                m.d.comb += [
                    self.full.eq(held[k - 1]),
                    ev.action.eq(LevelAction.NEW), ev.index.eq(place), ev.price.eq(self.price),
                    ev.shares.eq(self.shares), ev.orders.eq(1), ev.valid.eq(1),
                ]
        with m.Else():
            shares = Signal(SHARES_BITS)
            orders = Signal(ORDERS_BITS)
            m.d.comb += [
                shares.eq(Mux(found.shares > self.shares, found.shares - self.shares, 0)),
                orders.eq(Mux(self.removes_order, Mux(found.orders > 1, found.orders - 1, 0), found.orders)),
            ]
            with m.If(~hit):
                m.d.comb += self.missing.eq(1)
            with m.Elif((shares == 0) | (orders == 0)):
                for j in range(k - 1):
                    with m.If(at <= j):
                        m.d.comb += new[j].eq(row[j + 1])
                m.d.comb += new[k - 1].eq(Const(0, Level.size))
                m.d.comb += [ev.action.eq(LevelAction.DELETE), ev.index.eq(at), ev.price.eq(self.price),
                             ev.valid.eq(1)]
            with m.Else():
                set_at(shares, orders)
                m.d.comb += [
                    ev.action.eq(LevelAction.CHANGE), ev.index.eq(at), ev.price.eq(self.price),
                    ev.shares.eq(shares), ev.orders.eq(orders), ev.valid.eq(1),
                ]
        return m
