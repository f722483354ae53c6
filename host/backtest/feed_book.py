"""`PyFeedBook`: the feed's order-by-order book in Python, the reference of the native `tickgate._driver.FeedBook`.

Both keep every live order (reference -> locate, side, price, shares, priority) and each level's queue in time
priority, from the Add, Execute, Cancel, Delete and Replace messages of MoldUDP64 packets. The simulator says
where its own orders rest (`watch(locate, buy, lo, hi)`: the span of their prices on a side); the changes that
can reach them are reported as touches: (kind 'A' joined, when it crosses a price of ours on the other side /
'E' executed, when at or worse than our best price on its side / 'X' canceled, deleted or replaced away, when
within our prices on its side; locate, buy, price, shares added or removed, priority, ts, ref).
`feed(packet, start, until_ts)` stops before the first message whose timestamp is at least `until_ts` (an order
of ours arrives then) and says where to resume. The fill simulator is written against this interface; tests
run it on both.
"""

from __future__ import annotations

import struct

from tickgate.host.backtest.itch_view import layout, timestamp
from tickgate.protocol import itch_spec
from tickgate.protocol.moldudp64 import BLOCK_LEN, HEADER_LEN, HEADER_STRUCT

__all__ = ["NO_LIMIT", "PyFeedBook", "open_feed_book"]

NO_LIMIT = (1 << 64) - 1
_ADD = layout("A", "stock_locate", "order_reference_number", "buy_sell_indicator", "shares", "price")
_ADD_F = layout("F", "stock_locate", "order_reference_number", "buy_sell_indicator", "shares", "price")
_EXEC = layout("E", "order_reference_number", "executed_shares")
_EXEC_C = layout("C", "order_reference_number", "executed_shares")
_CANCEL = layout("X", "order_reference_number", "cancelled_shares")
_DELETE = layout("D", "order_reference_number")
_REPLACE = layout("U", "original_order_reference_number", "new_order_reference_number", "shares", "price")
_LENGTH = {ord(m.type): m.length for m in itch_spec.MESSAGES}
_COUNT = HEADER_STRUCT.size - 2
_BLOCK = struct.Struct(">H")


def open_feed_book(native: bool = True):
    """The native FeedBook (the default), or the Python reference."""
    if native:
        from tickgate._driver import FeedBook

        return FeedBook()
    return PyFeedBook()


class PyFeedBook:
    """The feed's orders and level queues (insertion-ordered dicts: time priority)."""

    def __init__(self) -> None:
        self.orders: dict[int, list] = {}  # ref -> [locate, buy, price, shares, prio]
        self.levels: dict[int, dict[int, dict[int, None]]] = {}  # locate << 1 | buy -> price -> queue of refs
        self.ours: dict[int, tuple[int, int]] = {}  # locate << 1 | buy -> (lo, hi) of our resting prices
        self.touches: list[tuple] = []
        self.prio = 0
        self.last_ts = 0

    def __len__(self) -> int:
        return len(self.orders)

    def watch(self, locate: int, buy: bool, lo: int, hi: int) -> None:
        if lo > hi:
            self.ours.pop(locate << 1 | buy, None)
        else:
            self.ours[locate << 1 | buy] = (lo, hi)

    def reaches(self, kind: str, locate: int, buy: bool, price: int) -> bool:
        """Whether a change of `kind` to an order on (locate, buy) at `price` can reach an order of ours."""
        if kind == "A":  # an incoming order: against ours on the other side, if it crosses them
            span = self.ours.get(locate << 1 | (not buy))
            return span is not None and (price >= span[0] if buy else price <= span[1])
        span = self.ours.get(locate << 1 | buy)
        if span is None:
            return False
        if kind == "X":
            return span[0] <= price <= span[1]  # shortens the queue at a price of ours
        return price <= span[1] if buy else price >= span[0]  # an execution at or behind our best price

    def take_touches(self) -> list[tuple]:
        out, self.touches = self.touches, []
        return out

    def next_prio(self) -> int:
        self.prio += 1
        return self.prio

    def level(self, locate: int, buy: bool, price: int) -> list[tuple[int, int, int]]:
        q = self.levels.get(locate << 1 | buy, {}).get(price, {})
        return [(ref, self.orders[ref][3], self.orders[ref][4]) for ref in q]

    def prices(self, locate: int, buy: bool) -> list[int]:
        return sorted(self.levels.get(locate << 1 | buy, {}), reverse=buy)

    def feed(self, packet: bytes, start: int = 0, until_ts: int = NO_LIMIT) -> tuple[int, int]:
        if len(packet) < HEADER_LEN:
            return -1, 0
        count = int.from_bytes(packet[_COUNT:HEADER_LEN], "big")
        if count == 0xFFFF:
            return -1, 0
        pos, end = HEADER_LEN, len(packet)
        for i in range(count):
            if pos + BLOCK_LEN > end:
                return -1, 0
            n = _BLOCK.unpack_from(packet, pos)[0]
            pos += BLOCK_LEN
            if pos + n > end:
                return -1, 0
            at, pos = pos, pos + n
            if i < start or n < 11 or _LENGTH.get(packet[at]) != n:
                continue
            ts = timestamp(packet, at)
            if ts >= until_ts:
                return i, ts
            self.last_ts = ts
            t = chr(packet[at])
            if t in "AF":
                locate, ref, side, shares, price = (_ADD if t == "A" else _ADD_F).unpack_from(packet, at)
                self._add(ref, locate, side == b"B", shares, price, ts)
            elif t in "EC":
                ref, shares = (_EXEC if t == "E" else _EXEC_C).unpack_from(packet, at)
                self._reduce(ref, shares, "E", ts)
            elif t == "X":
                ref, shares = _CANCEL.unpack_from(packet, at)
                self._reduce(ref, shares, "X", ts)
            elif t == "D":
                self._reduce(_DELETE.unpack_from(packet, at)[0], None, "X", ts)
            elif t == "U":
                old, new, shares, price = _REPLACE.unpack_from(packet, at)
                o = self.orders.get(old)
                if o is not None:
                    self._reduce(old, None, "X", ts)
                    self._add(new, o[0], o[1], shares, price, ts)
        return -1, 0

    def _add(self, ref: int, locate: int, buy: bool, shares: int, price: int, ts: int) -> None:
        self.prio += 1
        if ref in self.orders:
            return  # a duplicate reference: the card counts it
        self.orders[ref] = [locate, buy, price, shares, self.prio]
        self.levels.setdefault(locate << 1 | buy, {}).setdefault(price, {})[ref] = None
        if self.ours and self.reaches("A", locate, buy, price):
            self.touches.append(("A", locate, buy, price, shares, self.prio, ts, ref))

    def _reduce(self, ref: int, shares: int | None, kind: str, ts: int) -> None:
        o = self.orders.get(ref)
        if o is None:
            return  # unknown reference: the card counts it
        locate, buy, price, have, prio = o
        n = have if shares is None or shares > have else shares
        if self.ours and self.reaches(kind, locate, buy, price):
            self.touches.append((kind, locate, buy, price, n, prio, ts, ref))
        if n < have:
            o[3] = have - n
            return
        del self.orders[ref]
        side = self.levels[locate << 1 | buy]
        q = side[price]
        del q[ref]
        if not q:
            del side[price]
