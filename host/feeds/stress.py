"""Streams that stress one message type: the throughput worst cases of the book pipeline.

`stress(kind, orders, symbols)`: the stock directory, `orders` adds spread over the symbols (a few price
levels a side, so books stay within a card's levels), then one `kind` message for every order: deletes
(D), cancels of part of it (X), executions (E) or replaces (U) to a new reference. The adds run at the
add rate, the rest at the rate of `kind`, the shortest book messages back to back.
"""

from __future__ import annotations

from collections.abc import Iterator

from tickgate.protocol import itch

__all__ = ["KINDS", "stress"]

KINDS = ("D", "X", "E", "U")
_OPEN_NS = 34_200_000_000_000
_TICK = 100


def stress(kind: str, orders: int, symbols: int = 64, *, levels: int = 4) -> Iterator[bytes]:
    """The messages of the stream (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if orders < 1 or not 1 <= symbols <= 9999:
        raise ValueError("need at least one order and 1 to 9999 symbols")
    ts = _OPEN_NS
    for s in range(symbols):
        yield itch.encode(itch.make("R", stock_locate=s + 1, timestamp=ts, stock=f"ST{s:04d}",
                                    market_category="Q", financial_status_indicator="N", round_lot_size=100))
    placed = []
    for i in range(orders):
        ts += 1000
        locate, side = 1 + i % symbols, "B" if i % 2 else "S"
        base = 100_000 * _TICK
        price = base - _TICK * (1 + i // 7 % levels) if side == "B" else base + _TICK * (1 + i // 7 % levels)
        yield itch.encode(itch.make("A", stock_locate=locate, timestamp=ts, order_reference_number=i + 1,
                                    buy_sell_indicator=side, shares=100 + i % 50, stock=f"ST{locate - 1:04d}",
                                    price=price))
        placed.append((i + 1, locate, price))
    for n, (ref, locate, price) in enumerate(placed):
        ts += 1000
        if kind == "D":
            m = itch.make("D", stock_locate=locate, timestamp=ts, order_reference_number=ref)
        elif kind == "X":
            m = itch.make("X", stock_locate=locate, timestamp=ts, order_reference_number=ref, cancelled_shares=10)
        elif kind == "E":
            m = itch.make("E", stock_locate=locate, timestamp=ts, order_reference_number=ref, executed_shares=10,
                          match_number=n + 1)
        else:
            m = itch.make("U", stock_locate=locate, timestamp=ts, original_order_reference_number=ref,
                          new_order_reference_number=orders + ref, shares=90, price=price)
        yield itch.encode(m)
