"""The fill simulator, exact in queue position: our orders against the day's order-by-order book.

ITCH is order by order, so the queue ahead of a resting order is known exactly. The simulator keeps every
live order of the feed (reference -> locate, side, price, shares, priority) and each price level's queue in
time priority, from the Add, Execute, Cancel, Delete and Replace messages of the packets it is given
(`on_packet`, before the card sees them), and plays our orders into it:

- An order reaches the exchange at decision time plus the feed and order latencies (`Latency`); decision
  time is the exchange time of the last message seen. Cancels travel the same way, after the orders
  decided before them.
- On arrival, an order that crosses the opposite side takes it, best price first and each level in time
  priority, up to its limit (price improvement: it fills at the resting prices), skipping shares it took
  before. An immediate-or-cancel order's remainder is canceled; a day order's remainder rests.
- A resting order joins its level behind every order there; their shares are `ahead`. An execution or
  cancel of an order ahead reduces `ahead`. An execution of an order behind ours at our price, or of any
  order at a worse price on our side, reached us first: it fills ours (after what is still ahead), at our
  price. An incoming order on the other side that crosses our price (an Add that would have executed
  against us) fills ours at our price, best of ours first, and those of its shares are taken.
- Our orders never change the feed's book: shares taken from a feed order are remembered, not removed.

Updates (ACCEPTED, EXECUTED, CANCELED, REJECTED) are delivered by `poll`, as an `OrderGateway` does;
every execution is also kept as a `Fill` (`fills`). `clock()` is exchange time, for risk's order rate.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field

from tickgate.host.backtest.itch_view import layout, timestamp
from tickgate.host.orders.types import OrderRequest, OrderUpdate, Side, UpdateKind
from tickgate.protocol.moldudp64 import BLOCK_LEN, HEADER_LEN, HEADER_STRUCT

__all__ = ["Fees", "Fill", "FillSimulator", "Latency"]

_ADD = layout("A", "stock_locate", "order_reference_number", "buy_sell_indicator", "shares", "price")
_EXEC = layout("E", "order_reference_number", "executed_shares")
_CANCEL = layout("X", "order_reference_number", "cancelled_shares")
_DELETE = layout("D", "order_reference_number")
_REPLACE = layout("U", "original_order_reference_number", "new_order_reference_number", "shares", "price")
_DIR = layout("R", "stock_locate", "stock")
_A, _F, _E, _C, _X, _D, _U, _R = (ord(c) for c in "AFECXDUR")
_B = b"B"
_COUNT = HEADER_STRUCT.size - 2  # offset of the message count in the MoldUDP64 header
_IOC = "3"
_BLOCK = struct.Struct(">H")


@dataclass(frozen=True)
class Latency:
    """Microseconds from an exchange message to our decision (feed) and from the decision to the exchange."""

    feed_us: float = 0.0
    order_us: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Latency:
        """From `FEED_US:ORDER_US`."""
        feed, sep, order = spec.partition(":")
        try:
            lat = cls(float(feed), float(order)) if sep else None
        except ValueError:
            lat = None
        if lat is None or lat.feed_us < 0 or lat.order_us < 0:
            raise ValueError(f"latency {spec!r}: expected FEED_US:ORDER_US, two numbers of microseconds >= 0")
        return lat

    @property
    def total_ns(self) -> int:
        return round((self.feed_us + self.order_us) * 1000)


@dataclass(frozen=True)
class Fees:
    """Dollars per share: `take` on shares that removed liquidity, `make` on shares that added it (negative:
    a rebate)."""

    take: float = 0.0
    make: float = 0.0

    @classmethod
    def parse(cls, spec: str) -> Fees:
        """From `TAKE:MAKE`."""
        take, sep, make = spec.partition(":")
        try:
            return cls(float(take), float(make)) if sep else cls(float(take), float(take))
        except ValueError:
            raise ValueError(f"fees {spec!r}: expected TAKE:MAKE in dollars per share") from None


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of ours: exchange time, token, symbol, side, shares, price (Price(4)), liquidity
    ('R' took the book, 'A' rested and was reached), fee in dollars."""

    ts_ns: int
    token: int
    symbol: str
    side: str
    shares: int
    price: int
    liquidity: str
    fee: float


@dataclass(slots=True, eq=False)
class _Mine:
    """One of our orders resting in the book."""

    request: OrderRequest
    locate: int
    buy: bool
    price: int
    open: int
    prio: int
    ahead: int


@dataclass(slots=True)
class _Book:
    """The feed's orders and level queues (insertion-ordered dicts: time priority)."""

    orders: dict[int, list] = field(default_factory=dict)  # ref -> [locate, buy, price, shares, prio, level key]
    levels: dict[int, dict[int, dict[int, None]]] = field(default_factory=dict)  # locate << 1 | buy -> price -> q
    taken: dict[int, int] = field(default_factory=dict)  # ref -> shares our orders took from it


class FillSimulator:
    """An `OrderGateway` that fills our orders against the order-by-order book of the packets it is fed."""

    def __init__(self, latency: Latency | None = None, fees: Fees | None = None) -> None:
        self.latency = latency or Latency()
        self.fees = fees or Fees()
        self.book = _Book()
        self.locate_of: dict[str, int] = {}
        self.fills: list[Fill] = []
        self.updates: list[OrderUpdate] = []
        self.entered = 0  # orders that reached the exchange
        self.rejected = 0
        self._prio = 0
        self._mine: dict[int, _Mine] = {}  # token -> resting order
        self._mine_at: dict[int, list[_Mine]] = {}  # locate -> our resting orders, arrival order
        self._pending: deque[tuple[int, int, object]] = deque()  # (arrival ns, 0 enter / 1 cancel, payload)
        self._last: tuple[bytes, int] | None = None  # the last message seen: (packet, offset), for its time
        self._last_ts = 0

    # -- time ----------------------------------------------------------------------------------------------

    def clock(self) -> int:
        """Exchange time: the timestamp of the last message seen (ns since midnight)."""
        if self._last is not None:
            self._last_ts = timestamp(*self._last)
            self._last = None
        return self._last_ts

    # -- the gateway ----------------------------------------------------------------------------------------

    def enter(self, order: OrderRequest) -> int:
        t = self.clock() + self.latency.total_ns
        self._pending.append((t, 0, order))
        return t

    def cancel(self, token: int, shares: int = 0) -> int:
        t = self.clock() + self.latency.total_ns
        self._pending.append((t, 1, (token, shares)))
        return t

    def poll(self) -> list[OrderUpdate]:
        if not self.updates:
            return []
        out, self.updates = self.updates, []
        return out

    def close(self) -> None:
        self.finish()

    def finish(self) -> None:
        """The feed ended: every order and cancel still on its way arrives."""
        self._arrive(None)

    @property
    def resting(self) -> int:
        return len(self._mine)

    # -- the feed -----------------------------------------------------------------------------------------

    def on_packet(self, packet: bytes) -> None:
        """Apply one MoldUDP64 packet's messages (before the card and the strategy see it).

        The common cases (an add, a delete, an order that is not near ours) are inlined: this loop runs
        for every message of the day."""
        n = int.from_bytes(packet[_COUNT:HEADER_LEN], "big")
        end = len(packet)
        if n == 0 or n == 0xFFFF or end < HEADER_LEN:
            return
        pos = HEADER_LEN
        pending, mine_at = self._pending, self._mine_at
        orders, levels = self.book.orders, self.book.levels
        block, add, delete = _BLOCK.unpack_from, _ADD.unpack_from, _DELETE.unpack_from
        for _ in range(n):
            if pos + BLOCK_LEN > end:
                return  # malformed: the card counts it
            size = block(packet, pos)[0]
            pos += BLOCK_LEN
            if pos + size > end:
                return
            if pending:
                ts = timestamp(packet, pos)
                if ts >= pending[0][0]:
                    self._last_ts, self._last = ts, None
                    self._arrive(ts)
            t = packet[pos]
            try:
                if t in (_A, _F):
                    locate, ref, side, shares, price = add(packet, pos)
                    if ref not in orders:  # a duplicate reference is the card's to count
                        buy = side == _B
                        key = locate << 1 | buy
                        self._prio += 1
                        orders[ref] = [locate, buy, price, shares, self._prio, key]
                        side_levels = levels.get(key)
                        if side_levels is None:
                            side_levels = levels[key] = {}
                        q = side_levels.get(price)
                        if q is None:
                            side_levels[price] = {ref: None}
                        else:
                            q[ref] = None
                        if locate in mine_at:
                            self._crossing_add(locate, ref, buy, shares, price, packet, pos)
                elif t == _D:
                    ref = delete(packet, pos)[0]
                    o = orders.get(ref)
                    if o is not None:
                        if o[0] in mine_at:
                            self._reduce(ref, None, False, packet, pos)
                        else:
                            del orders[ref]
                            side_levels = levels[o[5]]
                            q = side_levels[o[2]]
                            del q[ref]
                            if not q:
                                del side_levels[o[2]]
                elif t in (_E, _C):
                    ref, shares = _EXEC.unpack_from(packet, pos)
                    self._reduce(ref, shares, True, packet, pos)
                elif t == _X:
                    ref, shares = _CANCEL.unpack_from(packet, pos)
                    self._reduce(ref, shares, False, packet, pos)
                elif t == _U:
                    old, new, shares, price = _REPLACE.unpack_from(packet, pos)
                    o = orders.get(old)
                    if o is not None:
                        self._reduce(old, None, False, packet, pos)
                        self._add(o[0], new, o[1], shares, price, packet, pos)
                elif t == _R:
                    locate, stock = _DIR.unpack_from(packet, pos)
                    self.locate_of[stock.decode("ascii", "replace").rstrip()] = locate
            except struct.error:
                pass  # a message shorter than its type: the card counts it; the book skips it
            pos += size
        self._last = (packet, pos - size)

    def _add(self, locate: int, ref: int, buy: bool, shares: int, price: int, packet: bytes, pos: int) -> None:
        bk = self.book
        if ref in bk.orders:
            return  # a duplicate reference: the card counts it
        key = locate << 1 | buy
        self._prio += 1
        bk.orders[ref] = [locate, buy, price, shares, self._prio, key]
        bk.levels.setdefault(key, {}).setdefault(price, {})[ref] = None
        if locate in self._mine_at:
            self._crossing_add(locate, ref, buy, shares, price, packet, pos)

    def _reduce(self, ref: int, shares: int | None, executed: bool, packet: bytes, pos: int) -> None:
        bk = self.book
        o = bk.orders.get(ref)
        if o is None:
            return  # unknown reference: the card counts it
        locate, buy, price, have, prio, key = o
        n = have if shares is None or shares > have else shares
        if locate in self._mine_at:
            self._reached(locate, buy, price, prio, n, executed, packet, pos)
        if n < have:
            o[3] = have - n
            return
        del bk.orders[ref]
        if bk.taken:
            bk.taken.pop(ref, None)
        side_levels = bk.levels[key]
        q = side_levels[price]
        del q[ref]
        if not q:
            del side_levels[price]

    # -- our orders ------------------------------------------------------------------------------------------

    def _reached(self, locate: int, buy: bool, price: int, prio: int, n: int, executed: bool,
                 packet: bytes, pos: int) -> None:
        """A feed order of `n` shares at `price` left the book: move our queues; fill ours it passed."""
        for m in self._ours(locate, buy):
            if m.price == price and prio < m.prio:
                m.ahead = max(0, m.ahead - n)  # it was ahead of ours
                continue
            if not executed or n == 0:
                continue
            if (price > m.price) if buy else (price < m.price):
                continue  # a better price than ours: it trades first
            used = min(m.ahead, n)
            m.ahead -= used
            n -= used
            take = min(n, m.open)
            if take:
                n -= take
                self._fill(m, take, m.price, "A", timestamp(packet, pos))

    def _crossing_add(self, locate: int, ref: int, buy: bool, shares: int, price: int,
                      packet: bytes, pos: int) -> None:
        """An incoming order on the other side that crosses ours would have executed against ours."""
        left = shares
        for m in self._ours(locate, not buy):
            if left == 0:
                break
            if (m.price < price) if m.buy else (m.price > price):
                continue
            take = min(left, m.open)
            left -= take
            self.book.taken[ref] = self.book.taken.get(ref, 0) + take
            self._fill(m, take, m.price, "A", timestamp(packet, pos))

    def _ours(self, locate: int, buy: bool) -> list[_Mine]:
        """Our resting orders of a locate on one side, best price first, then arrival."""
        mine = [m for m in self._mine_at.get(locate, ()) if m.buy == buy]
        if len(mine) > 1:
            mine.sort(key=lambda m: (-m.price if buy else m.price, m.prio))
        return mine

    def _fill(self, m: _Mine, shares: int, price: int, liquidity: str, ts: int) -> None:
        req = m.request
        fee = shares * (self.fees.take if liquidity == "R" else self.fees.make)
        self.fills.append(Fill(ts, req.token, req.symbol, str(req.side), shares, price, liquidity, fee))
        self.updates.append(OrderUpdate(UpdateKind.EXECUTED, req.token, req.symbol, req.side, shares, price, "", ts))
        m.open -= shares
        if m.open == 0 and m.prio:
            self._unrest(m)

    def _unrest(self, m: _Mine) -> None:
        del self._mine[m.request.token]
        at = self._mine_at[m.locate]
        at.remove(m)
        if not at:
            del self._mine_at[m.locate]

    def _arrive(self, until: int | None) -> None:
        """Orders and cancels whose arrival time is at or before `until` (None: all) reach the exchange."""
        pending = self._pending
        while pending and (until is None or pending[0][0] <= until):
            t, what, payload = pending.popleft()
            if what == 0:
                self._new(payload, t)
            else:
                self._cancel(*payload, t)

    def _new(self, req: OrderRequest, t: int) -> None:
        locate = self.locate_of.get(req.symbol)
        if locate is None or req.shares <= 0 or req.price <= 0:
            self.rejected += 1
            reason = "exchange: unknown symbol" if locate is None else "exchange: invalid order"
            self.updates.append(OrderUpdate(UpdateKind.REJECTED, req.token, req.symbol, req.side, req.shares,
                                            req.price, reason, t))
            return
        self.entered += 1
        self.updates.append(OrderUpdate(UpdateKind.ACCEPTED, req.token, req.symbol, req.side, req.shares,
                                        req.price, "", t))
        buy = req.side is Side.BUY
        m = _Mine(req, locate, buy, req.price, req.shares, 0, 0)
        self._take(m, t)
        if m.open == 0:
            return
        if req.time_in_force == _IOC:
            self.updates.append(OrderUpdate(UpdateKind.CANCELED, req.token, req.symbol, req.side, m.open,
                                            req.price, "immediate or cancel", t))
            return
        self._prio += 1
        m.prio = self._prio
        q = self.book.levels.get(locate << 1 | buy, {}).get(req.price, {})
        orders, taken = self.book.orders, self.book.taken
        m.ahead = sum(orders[r][3] - taken.get(r, 0) for r in q)
        self._mine[req.token] = m
        self._mine_at.setdefault(locate, []).append(m)

    def _take(self, m: _Mine, t: int) -> None:
        """Our arriving order takes the other side up to its limit, best price first, in time priority."""
        side_levels = self.book.levels.get(m.locate << 1 | (not m.buy))
        if not side_levels:
            return
        prices = sorted(side_levels) if m.buy else sorted(side_levels, reverse=True)
        orders, taken = self.book.orders, self.book.taken
        for px in prices:
            if (px > m.price) if m.buy else (px < m.price):
                break
            for ref in side_levels[px]:
                avail = orders[ref][3] - taken.get(ref, 0)
                if avail <= 0:
                    continue
                n = min(avail, m.open)
                taken[ref] = taken.get(ref, 0) + n
                self._fill(m, n, px, "R", t)
                if m.open == 0:
                    return

    def _cancel(self, token: int, shares: int, t: int) -> None:
        m = self._mine.get(token)
        if m is None:
            return  # filled, canceled or never rested before the cancel arrived
        req = m.request
        take = m.open - shares if 0 < shares < m.open else m.open
        m.open -= take
        if m.open == 0:
            self._unrest(m)
        self.updates.append(OrderUpdate(UpdateKind.CANCELED, token, req.symbol, req.side, take, req.price, "", t))

