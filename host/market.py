"""What the host knows of the market: the stock directory (locate <-> symbol) and each symbol's top of book.

The card's events carry the stock locate only. `Directory.scan(packet)` learns the names from the
Stock Directory (`R`) messages of the MoldUDP64 packets on their way to the backend: one `bytes.find`
per packet, and a parse only of packets that hold an `R` block. `TopOfBook` keeps the last BBO of every
locate in flat arrays, updated from event batches with a few vectorised numpy operations.
"""

from __future__ import annotations

import numpy as np

from tickgate.protocol import itch_spec, moldudp64
from tickgate.protocol.events import EventKind

__all__ = ["R_MARK", "Directory", "TopOfBook"]

def _r_layout() -> tuple[int, int, int, int]:
    """(length, locate offset, stock offset, stock width) of the Stock Directory message, from the table."""
    spec = next(m for m in itch_spec.MESSAGES if m.type == "R")
    fields = {f.name: f for f in spec.fields}
    return spec.length, fields["stock_locate"].offset, fields["stock"].offset, fields["stock"].width


_R_LEN, _LOCATE_OFF, _STOCK_OFF, _STOCK_W = _r_layout()
R_MARK = _R_LEN.to_bytes(moldudp64.BLOCK_LEN, "big") + b"R"  # a length prefix then the R type byte
_N_LOCATES = 1 << 16
_BBO = int(EventKind.BBO)


class Directory:
    """Stock locate <-> symbol, learnt from `R` messages (or given)."""

    def __init__(self, names: dict[int, str] | None = None) -> None:
        self.by_locate: dict[int, str] = {}
        self.by_symbol: dict[str, int] = {}
        self.topics = [b"#%05d  " % i for i in range(_N_LOCATES)]  # fan-out topic per locate
        self.r_messages = 0
        self.log: list[tuple[int, str]] = []  # every (locate, symbol) learnt, in order
        for loc, sym in (names or {}).items():
            self.add(loc, sym)

    def add(self, locate: int, symbol: str) -> None:
        old = self.by_locate.get(locate)
        if old is not None and old != symbol:
            self.by_symbol.pop(old, None)
        if old != symbol:
            self.log.append((locate, symbol))
        self.by_locate[locate] = symbol
        self.by_symbol[symbol] = locate
        self.topics[locate] = symbol.encode("ascii").ljust(8)

    def scan(self, packet: bytes) -> bool:
        """Learn the `R` messages of one MoldUDP64 packet; whether there were any. Cheap when there are none."""
        if packet.find(R_MARK, moldudp64.HEADER_LEN) < 0:
            return False
        found = False
        try:
            for m in moldudp64.blocks(packet):
                if len(m) == _R_LEN and m[0] == 0x52:  # 'R'
                    locate = int.from_bytes(m[_LOCATE_OFF:_LOCATE_OFF + 2], "big")
                    self.add(locate, m[_STOCK_OFF:_STOCK_OFF + _STOCK_W].decode("ascii", "replace").rstrip())
                    self.r_messages += 1
                    found = True
        except ValueError:
            pass  # malformed packets are the card's to count
        return found

    def symbol(self, locate: int) -> str:
        """The symbol of a locate, or `#LOCATE` if no `R` message named it."""
        return self.by_locate.get(locate) or f"#{locate}"

    def locate(self, symbol: str) -> int | None:
        return self.by_symbol.get(symbol)

    def __len__(self) -> int:
        return len(self.by_locate)


class TopOfBook:
    """The last BBO (Price(4), shares) of every locate, and the exchange time it was seen."""

    def __init__(self) -> None:
        self.bid_px = np.zeros(_N_LOCATES, dtype=np.int64)
        self.bid_sz = np.zeros(_N_LOCATES, dtype=np.int64)
        self.ask_px = np.zeros(_N_LOCATES, dtype=np.int64)
        self.ask_sz = np.zeros(_N_LOCATES, dtype=np.int64)
        self.ts_exch = np.zeros(_N_LOCATES, dtype=np.int64)
        self.last_mid = np.zeros(_N_LOCATES, dtype=np.int64)  # the last two-sided mid: the mark for P&L
        # events not applied yet: buf[lo:hi] (the run loop moves `hi` as it hands events out)
        self.buf: np.ndarray | None = None
        self.lo = self.hi = 0

    def defer(self, batch: np.ndarray) -> None:
        """Apply `batch` when the book is next read or `sync` is called (keeps it off the tick path)."""
        self.sync()
        self.buf, self.lo, self.hi = batch, 0, len(batch)

    def sync(self) -> None:
        """Apply the deferred events now (before their buffer is reused)."""
        if self.hi > self.lo:
            self.update(self.buf[self.lo:self.hi])
        self.lo = self.hi

    def _pending_best(self, locate: int) -> tuple[int, int, int, int]:
        """The best of a locate with the deferred events taken into account, without applying all of them."""
        b = self.buf[self.lo:self.hi]
        hits = np.flatnonzero((b["locate"] == locate) & (b["kind"] == _BBO))
        if len(hits):
            r = b[hits[-1]]
            return int(r["bid_px"]), int(r["bid_sz"]), int(r["ask_px"]), int(r["ask_sz"])
        return (int(self.bid_px[locate]), int(self.bid_sz[locate]), int(self.ask_px[locate]),
                int(self.ask_sz[locate]))

    def update(self, batch: np.ndarray) -> None:
        """Apply the BBO events of a batch (later events of a locate win)."""
        kind = batch["kind"]
        mask = kind == _BBO
        if not mask.any():
            return
        loc = batch["locate"][mask]
        # numpy assigns repeated indices in order, so the last event of a locate wins
        self.bid_px[loc] = batch["bid_px"][mask]
        self.bid_sz[loc] = batch["bid_sz"][mask]
        self.ask_px[loc] = batch["ask_px"][mask]
        self.ask_sz[loc] = batch["ask_sz"][mask]
        self.ts_exch[loc] = batch["ts_exch"][mask]
        bid, ask = batch["bid_px"][mask].astype(np.int64), batch["ask_px"][mask].astype(np.int64)
        two = (bid > 0) & (ask > 0)
        self.last_mid[loc[two]] = (bid[two] + ask[two]) // 2

    def mid(self, locate: int) -> int:
        """Mid price (Price(4), rounded down); the one side if the other is empty; 0 if both are."""
        if self.hi > self.lo:
            b, _, a, _ = self._pending_best(locate)
        else:
            b, a = int(self.bid_px[locate]), int(self.ask_px[locate])
        if b and a:
            return (a + b) // 2
        return b or a

    def mark(self, locate: int) -> int:
        """The last two-sided mid of a locate (Price(4)); 0 if it never had one."""
        self.sync_if_pending()
        return int(self.last_mid[locate])

    def sync_if_pending(self) -> None:
        if self.hi > self.lo:
            self.sync()

    def best(self, locate: int) -> tuple[int, int, int, int]:
        """(bid_px, bid_sz, ask_px, ask_sz) of a locate."""
        if self.hi > self.lo:
            return self._pending_best(locate)
        return (int(self.bid_px[locate]), int(self.bid_sz[locate]), int(self.ask_px[locate]),
                int(self.ask_sz[locate]))
