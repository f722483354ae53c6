"""`imbalance`: take liquidity when the top-of-book size imbalance crosses a threshold.

imbalance = (bid_sz - ask_sz) / (bid_sz + ask_sz) on each BBO event. Past +threshold the bid is heavy
and the price is expected to tick up: buy at the ask; past -threshold sell at the bid. Orders are
immediate-or-cancel, one per symbol per `cooldown_ms` of exchange time, and the strategy keeps its own
inventory within `max_position` (risk enforces the hard limits below it). Vectorised over the batch.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from tickgate.protocol.events import EventKind

from .base import Strategy

_BBO = int(EventKind.BBO)
SMALL_BATCH = 128  # batches up to this size take the plain-Python path


class Imbalance(Strategy):
    name: ClassVar[str] = "imbalance"
    defaults: ClassVar[dict] = {
        "threshold": 0.8,  # |imbalance| at or past which to trade
        "min_top_shares": 500,  # bid_sz + ask_sz at least this
        "shares": 100,  # per order (at most what the touch shows)
        "cooldown_ms": 1000.0,  # per symbol, exchange time
        "max_position": 500,  # the strategy's own inventory limit per symbol
        "tif": "3",  # OUCH time in force: IOC
    }

    def on_start(self) -> None:
        self.last_ts = np.zeros(1 << 16, dtype=np.int64)  # exchange time of the last order per locate
        self.signals = 0

    def on_events(self, batch: np.ndarray) -> None:
        if len(batch) <= SMALL_BATCH:
            self._small(batch)
            return
        p = self.params
        bid_sz = batch["bid_sz"].astype(np.int64)  # every row; non-BBO rows are masked out below
        ask_sz = batch["ask_sz"].astype(np.int64)
        total = bid_sz + ask_sz
        hits = np.flatnonzero((batch["kind"] == _BBO) & (np.abs(bid_sz - ask_sz) >= p["threshold"] * total)
                              & (total >= p["min_top_shares"]))
        if not len(hits):
            return
        locs = batch["locate"][hits]
        tss = batch["ts_exch"][hits].astype(np.int64)
        last = self.last_ts[locs]
        cooldown = p["cooldown_ms"] * 1_000_000
        fresh = (last == 0) | (tss - last >= cooldown)
        last_ts = self.last_ts
        for i, loc, ts in zip(hits[fresh].tolist(), locs[fresh].tolist(), tss[fresh].tolist(), strict=True):
            prev = last_ts[loc]
            if not prev or ts - prev >= cooldown:  # an earlier row of this batch may have traded it
                self._signal(batch[i])

    def _small(self, batch: np.ndarray) -> None:
        """The same test as the vectorised path, in plain Python: faster for a packet's few events."""
        kinds = batch["kind"].tolist()
        if _BBO not in kinds:
            return
        p = self.params
        thr, low = p["threshold"], p["min_top_shares"]
        bid_sz, ask_sz = batch["bid_sz"].tolist(), batch["ask_sz"].tolist()
        locs = tss = None
        last_ts, cooldown = self.last_ts, p["cooldown_ms"] * 1_000_000
        for i, k in enumerate(kinds):
            if k == _BBO:
                b, a = bid_sz[i], ask_sz[i]
                total = b + a
                if total >= low and abs(b - a) >= thr * total:
                    if locs is None:
                        locs, tss = batch["locate"].tolist(), batch["ts_exch"].tolist()
                    last = int(last_ts[locs[i]])
                    if not last or tss[i] - last >= cooldown:
                        self._signal(batch[i])

    def _signal(self, ev: np.void) -> None:
        """One BBO past the threshold: trade unless the symbol is cooling down or the inventory is full."""
        p = self.params
        loc, ts = int(ev["locate"]), int(ev["ts_exch"])
        last = int(self.last_ts[loc])
        if last and ts - last < p["cooldown_ms"] * 1_000_000:
            return
        bid_px, bid_sz, ask_px, ask_sz = int(ev["bid_px"]), int(ev["bid_sz"]), int(ev["ask_px"]), int(ev["ask_sz"])
        if not bid_px or not ask_px:
            return
        pos = self.orders.position(self.directory.symbol(loc))
        self.signals += 1
        if bid_sz > ask_sz:
            shares = min(p["shares"], ask_sz)
            if pos + shares <= p["max_position"]:
                self.last_ts[loc] = ts
                self.orders.buy(loc, shares, ask_px, p["tif"])
        else:
            shares = min(p["shares"], bid_sz)
            if pos - shares >= -p["max_position"]:
                self.last_ts[loc] = ts
                self.orders.sell(loc, shares, bid_px, p["tif"])
