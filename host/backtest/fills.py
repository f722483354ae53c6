"""The fill simulator, exact in queue position: our orders against the day's order-by-order book.

ITCH is order by order, so the queue ahead of a resting order is known exactly. The simulator keeps the
feed's order-by-order book (every live order and each price level's queue in time priority: the native
`tickgate._driver.FeedBook`, or its Python reference `PyFeedBook`), fed the packets before the card sees them
(`on_packet`), and plays our orders into it; told the span of our resting prices on each side (`_watch`), the
book reports only the changes that can reach them (the rest cannot change what ours get):

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

from collections import deque
from dataclasses import dataclass

from tickgate.host.backtest.feed_book import NO_LIMIT, open_feed_book
from tickgate.host.orders.types import OrderRequest, OrderUpdate, Side, UpdateKind

__all__ = ["Fees", "Fill", "FillSimulator", "Latency"]

_IOC = "3"


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


class FillSimulator:
    """An `OrderGateway` that fills our orders against the order-by-order book of the packets it is fed."""

    def __init__(self, latency: Latency | None = None, fees: Fees | None = None, *,
                 locate_of: dict[str, int] | None = None, native: bool = True) -> None:
        self.latency = latency or Latency()
        self.fees = fees or Fees()
        self.book = open_feed_book(native)
        self.locate_of: dict[str, int] = {} if locate_of is None else locate_of  # symbol -> locate (the directory)
        self.taken: dict[int, int] = {}  # feed order ref -> shares our orders took from it
        self.fills: list[Fill] = []
        self.updates: list[OrderUpdate] = []
        self.entered = 0  # orders that reached the exchange
        self.rejected = 0
        self._mine: dict[int, _Mine] = {}  # token -> resting order
        self._mine_at: dict[int, list[_Mine]] = {}  # locate -> our resting orders, arrival order
        self._pending: deque[tuple[int, int, object]] = deque()  # (arrival ns, 0 enter / 1 cancel, payload)

    # -- time ----------------------------------------------------------------------------------------------

    def clock(self) -> int:
        """Exchange time: the timestamp of the last message seen (ns since midnight)."""
        return self.book.last_ts

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
        """Apply one MoldUDP64 packet (before the card and the strategy see it); what arrives in between, arrives."""
        book, pending = self.book, self._pending
        start = 0
        while True:
            nxt, ts = book.feed(packet, start, pending[0][0] if pending else NO_LIMIT)
            if self._mine_at:
                for kind, locate, buy, price, shares, prio, t, ref in book.take_touches():
                    if kind == "A":
                        self._crossing_add(locate, ref, buy, shares, price, t)
                    else:
                        self._reached(locate, buy, price, prio, shares, kind == "E", t)
            if nxt < 0:
                return
            self._arrive(ts)
            start = nxt

    # -- our orders ------------------------------------------------------------------------------------------

    def _reached(self, locate: int, buy: bool, price: int, prio: int, n: int, executed: bool, ts: int) -> None:
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
                self._fill(m, take, m.price, "A", ts)

    def _crossing_add(self, locate: int, ref: int, buy: bool, shares: int, price: int, ts: int) -> None:
        """An incoming order on the other side that crosses ours would have executed against ours."""
        left = shares
        for m in self._ours(locate, not buy):
            if left == 0:
                break
            if (m.price < price) if m.buy else (m.price > price):
                continue
            take = min(left, m.open)
            left -= take
            self.taken[ref] = self.taken.get(ref, 0) + take
            self._fill(m, take, m.price, "A", ts)

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
        self._watch(m.locate, m.buy)

    def _watch(self, locate: int, buy: bool) -> None:
        """Tell the book the span of our resting prices on one side of a locate (what can reach them)."""
        prices = [m.price for m in self._mine_at.get(locate, ()) if m.buy == buy]
        self.book.watch(locate, buy, min(prices, default=1), max(prices, default=0))

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
        m.prio = self.book.next_prio()
        taken = self.taken
        m.ahead = sum(shares - taken.get(ref, 0) for ref, shares, _ in self.book.level(locate, buy, req.price))
        self._mine[req.token] = m
        self._mine_at.setdefault(locate, []).append(m)
        self._watch(locate, buy)

    def _take(self, m: _Mine, t: int) -> None:
        """Our arriving order takes the other side up to its limit, best price first, in time priority."""
        book, taken = self.book, self.taken
        for px in book.prices(m.locate, not m.buy):
            if (px > m.price) if m.buy else (px < m.price):
                break
            for ref, shares, _ in book.level(m.locate, not m.buy, px):
                avail = shares - taken.get(ref, 0)
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

