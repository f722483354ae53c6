"""`PaperExchange`: an in-process order gateway that fills against the replayed top of book, no sockets.

The same duties as the OUCH gateway to the exchange simulator, without the wire: it is what
`tickgate run --exchange paper` uses and what the host's tests drive. A marketable order fills at once
at the touch, up to the touch's size; the rest is canceled (IOC) or rests (day) and fills when the touch
crosses its price (at its price, up to the size shown). Updates come back through `poll`.
"""

from __future__ import annotations

import time

import numpy as np

from tickgate.host.market import TopOfBook
from tickgate.host.orders.types import OrderRequest, OrderUpdate, Side, UpdateKind
from tickgate.protocol.events import EventKind

__all__ = ["PaperExchange"]

_BBO = int(EventKind.BBO)
_now = time.perf_counter_ns


class PaperExchange:
    """An `OrderGateway` and an `Exchange` (sharing the host's book), all in-process."""

    def __init__(self) -> None:
        self.locate_of: dict[str, int] = {}
        self.bid_px = np.zeros(1 << 16, dtype=np.int64)
        self.bid_sz = np.zeros(1 << 16, dtype=np.int64)
        self.ask_px = np.zeros(1 << 16, dtype=np.int64)
        self.ask_sz = np.zeros(1 << 16, dtype=np.int64)
        self.resting: dict[int, list] = {}  # token -> [request, open shares, locate]
        self.resting_at = np.zeros(1 << 16, dtype=np.int32)  # resting orders per locate
        self.updates: list[OrderUpdate] = []
        self.entered: list[OrderRequest] = []  # every order that reached the exchange
        self.canceled_requests = 0
        self.closed = False
        self._top: TopOfBook | None = None
        self._taken: dict[tuple[int, Side], tuple[tuple[int, int], int]] = {}  # shares filled at a touch

    def set_symbols(self, symbols: dict[int, str]) -> None:
        for loc, sym in symbols.items():
            self.locate_of[sym] = loc

    def share_book(self, top: TopOfBook) -> bool:
        """Read the tops of book from the host's `TopOfBook` instead of keeping a copy (the run loop does this)."""
        self._top = top
        return True

    def update_book(self, events: np.ndarray) -> None:
        """Take the new tops of book; fill resting orders the touch now crosses."""
        if self._top is not None:
            if not self.resting:
                return
            mask = events["kind"] == _BBO
            loc = events["locate"][mask]
        else:
            mask = events["kind"] == _BBO
            if not mask.any():
                return
            loc = events["locate"][mask]
            self.bid_px[loc], self.bid_sz[loc] = events["bid_px"][mask], events["bid_sz"][mask]
            self.ask_px[loc], self.ask_sz[loc] = events["ask_px"][mask], events["ask_sz"][mask]
        if self.resting and self.resting_at[loc].any():
            for token, (req, _, locate) in list(self.resting.items()):
                if self.resting_at[locate]:
                    self._match(token, req, locate)

    def _match(self, token: int, req: OrderRequest, locate: int) -> int:
        """Fill what the touch allows (less what this exchange already filled at the same touch); shares."""
        entry = self.resting.get(token)
        open_shares = entry[1] if entry else req.shares
        if self._top is not None:
            bid_px, bid_sz, ask_px, ask_sz = self._top.best(locate)
        else:
            bid_px, bid_sz = int(self.bid_px[locate]), int(self.bid_sz[locate])
            ask_px, ask_sz = int(self.ask_px[locate]), int(self.ask_sz[locate])
        if req.side is Side.BUY:
            px, sz = ask_px, ask_sz
            ok = px and px <= req.price
        else:
            px, sz = bid_px, bid_sz
            ok = px and px >= req.price
        key = (locate, req.side)
        touch, taken = self._taken.get(key, ((0, 0), 0))
        if touch != (px, sz):
            taken = 0
        if not ok or sz - taken <= 0:
            return 0
        n = min(open_shares, sz - taken)
        self._taken[key] = ((px, sz), taken + n)
        fill_px = req.price if entry else px  # resting orders fill at their price, new ones at the touch
        self.updates.append(OrderUpdate(UpdateKind.EXECUTED, token, req.symbol, req.side, n, fill_px, "", _now()))
        if entry:
            entry[1] -= n
            if entry[1] == 0:
                del self.resting[token]
                self.resting_at[locate] -= 1
        return n

    def enter(self, order: OrderRequest) -> int:
        t = _now()  # "on the wire": what follows is the exchange's work
        self.entered.append(order)
        locate = self.locate_of.get(order.symbol)
        if locate is None:
            self.updates.append(OrderUpdate(UpdateKind.REJECTED, order.token, order.symbol, order.side,
                                            order.shares, order.price, "exchange: unknown symbol", t))
            return t
        self.updates.append(OrderUpdate(UpdateKind.ACCEPTED, order.token, order.symbol, order.side,
                                        order.shares, order.price, "", t))
        left = order.shares - self._match(order.token, order, locate)
        if left:
            if order.time_in_force == "3":  # after its executions, so stamped after them
                self.updates.append(OrderUpdate(UpdateKind.CANCELED, order.token, order.symbol, order.side, left,
                                                order.price, "immediate or cancel", _now()))
            else:
                self.resting[order.token] = [order, left, locate]
                self.resting_at[locate] += 1
        return t

    def cancel(self, token: int, shares: int = 0) -> int:
        t = _now()
        self.canceled_requests += 1
        entry = self.resting.get(token)
        if entry is None:
            return t
        req, open_shares, locate = entry
        take = open_shares - shares if 0 < shares < open_shares else open_shares
        entry[1] -= take
        if entry[1] == 0:
            del self.resting[token]
            self.resting_at[locate] -= 1
        self.updates.append(OrderUpdate(UpdateKind.CANCELED, token, req.symbol, req.side, take, req.price, "", t))
        return t

    def poll(self) -> list[OrderUpdate]:
        if not self.updates:
            return []
        out, self.updates = self.updates, []
        return out

    def close(self) -> None:
        self.closed = True
