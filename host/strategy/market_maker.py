"""`market_maker`: quote both sides at the touch on a few symbols, within inventory limits.

On the first `max_symbols` symbols that show a two-sided book with a spread of at least `min_spread`
(Price(4)), it joins the best bid and the best ask with `shares` each (day orders). When the touch moves
it cancels and re-quotes, at most once per `requote_ms` of exchange time per symbol. At `max_inventory`
long it stops bidding, at `max_inventory` short it stops offering, so inventory stays within the limit.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tickgate.host.orders.types import OrderUpdate, Side, UpdateKind
from tickgate.protocol.events import EventKind

from .base import Strategy

_BBO = int(EventKind.BBO)


class MarketMaker(Strategy):
    name: ClassVar[str] = "market_maker"
    defaults: ClassVar[dict] = {
        "max_symbols": 10,
        "shares": 100,
        "max_inventory": 300,
        "min_spread": 100,  # Price(4): one cent
        "requote_ms": 200.0,
    }

    def on_start(self) -> None:
        self.active = np.zeros(1 << 16, dtype=bool)
        self.n_active = 0
        self.quotes: dict[int, dict[Side, tuple[int, int]]] = {}  # locate -> side -> (token, price)
        self.last_ts: dict[int, int] = {}
        self.token_side: dict[int, tuple[int, Side]] = {}

    def on_events(self, batch: np.ndarray) -> None:
        mask = batch["kind"] == _BBO
        if not mask.any():
            return
        b = batch[mask]
        if self.n_active < self.params["max_symbols"]:
            two = (b["bid_px"] > 0) & (b["ask_px"] > 0) & (
                b["ask_px"].astype(np.int64) - b["bid_px"] >= self.params["min_spread"])
            for loc in b["locate"][two]:
                if self.n_active < self.params["max_symbols"] and not self.active[loc]:
                    self.active[loc] = True
                    self.n_active += 1
        mine = self.active[b["locate"]]
        if not mine.any():
            return
        rows = b[mine]
        # the last BBO of each locate in the batch
        _, last = np.unique(rows["locate"][::-1], return_index=True)
        for ev in rows[len(rows) - 1 - last]:
            self._quote(int(ev["locate"]), int(ev["ts_exch"]), int(ev["bid_px"]), int(ev["ask_px"]))

    def _quote(self, loc: int, ts: int, bid: int, ask: int) -> None:
        p = self.params
        if ts - self.last_ts.get(loc, -(1 << 62)) < p["requote_ms"] * 1_000_000:
            return
        self.last_ts[loc] = ts
        sym = self.directory.symbol(loc)
        inv = self.orders.position(sym)
        two_sided = bid and ask and ask - bid >= p["min_spread"]
        want = {Side.BUY: bid if two_sided and inv + p["shares"] <= p["max_inventory"] else 0,
                Side.SELL: ask if two_sided and inv - p["shares"] >= -p["max_inventory"] else 0}
        q = self.quotes.setdefault(loc, {})
        for side, price in want.items():
            cur = q.get(side)
            if cur and cur[1] == price:
                continue
            if cur:
                self.orders.cancel(cur[0])
                del q[side]
            if price:
                place = self.orders.buy if side is Side.BUY else self.orders.sell
                token = place(loc, p["shares"], price)
                q[side] = (token, price)
                self.token_side[token] = (loc, side)

    def on_order_update(self, u: OrderUpdate) -> None:
        if u.kind in (UpdateKind.REJECTED, UpdateKind.CANCELED, UpdateKind.EXECUTED):
            if u.kind is UpdateKind.EXECUTED and u.token in self.orders.open_orders:
                return  # partly filled: still quoting
            where = self.token_side.pop(u.token, None)
            if where:
                q = self.quotes.get(where[0], {})
                if q.get(where[1], (0,))[0] == u.token:
                    del q[where[1]]
