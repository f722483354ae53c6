"""The price-level book of one symbol: every level (unbounded), or the best K levels of each side.

A side holds levels sorted best first (bids: highest price first; asks: lowest first). With a capacity K
(`max_levels`) it holds at most K: a new level worse than K held ones is not held, and a new level that
pushes a side to K+1 levels drops the worst one; both are overflows (the card counts `levels_full` and
degrades the book). Orders at a level that is not held are still kept by the card; reducing one finds
no level (`level_missing`). A level's shares saturate at MAX_LEVEL_SHARES (2**32 - 1, the events' size
field): an add that would pass it leaves the level there and overflows the side like a level that found
no room (the card counts `levels_full` and degrades the book); reductions then come off the held sum.
Every level operation returns what a depth-of-book receiver needs: a
`LevelUpdate` (NEW, CHANGE or DELETE at an index from the best), the LEVEL event of the card.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import NamedTuple

from tickgate.protocol.config import MAX_LEVEL_SHARES
from tickgate.protocol.events import LevelAction

_NEW, _CHANGE, _DELETE = int(LevelAction.NEW), int(LevelAction.CHANGE), int(LevelAction.DELETE)


class LevelUpdate(NamedTuple):
    """One level operation: LevelAction, index from the best (before the change), price, shares, orders."""

    action: int
    index: int
    price: int
    shares: int
    orders: int


class Side:
    """One side of a book: aggregate shares and order count per held price, prices kept sorted."""

    __slots__ = ("_bid", "cap", "levels", "prices")

    def __init__(self, bid: bool, cap: int | None = None) -> None:
        self._bid = bid
        self.cap = cap  # levels held at most; None: unbounded
        self.levels: dict[int, list[int]] = {}  # price -> [shares, orders]
        self.prices: list[int] = []  # ascending

    def _index(self, pos: int) -> int:
        """Index from the best level of the price at ascending position `pos`."""
        return len(self.prices) - 1 - pos if self._bid else pos

    def add(self, price: int, shares: int) -> tuple[LevelUpdate | None, bool]:
        """An order of `shares` joins the level at `price`: (the update, None if the level is not held;
        whether the side overflowed: the new level was not held, or the worst held one was dropped)."""
        prices = self.prices
        pos = bisect_left(prices, price)
        level = self.levels.get(price)
        if level is not None:
            total = level[0] + shares
            level[0] = min(total, MAX_LEVEL_SHARES)
            level[1] += 1
            return LevelUpdate(_CHANGE, self._index(pos), price, level[0], level[1]), total > MAX_LEVEL_SHARES
        index = len(prices) - pos if self._bid else pos  # held levels better than `price`
        cap = self.cap
        if cap is not None and index >= cap:
            return None, True
        prices.insert(pos, price)
        self.levels[price] = [shares, 1]
        full = cap is not None and len(prices) > cap
        if full:  # the worst level goes, silently: a receiver keeping `cap` levels drops it too
            del self.levels[prices.pop(0) if self._bid else prices.pop()]
        return LevelUpdate(_NEW, index, price, shares, 1), full

    def reduce(self, price: int, shares: int, removes_order: bool) -> LevelUpdate | None:
        """Take `shares` off the level at `price` (clamped at 0), and one order if `removes_order`; the level
        goes when its shares or orders reach 0. None if no level is held at `price`."""
        level = self.levels.get(price)
        if level is None:
            return None
        pos = bisect_left(self.prices, price)
        index = self._index(pos)
        left = max(0, level[0] - shares)
        orders = max(0, level[1] - 1) if removes_order else level[1]
        if left == 0 or orders == 0:
            del self.levels[price]
            del self.prices[pos]
            return LevelUpdate(_DELETE, index, price, 0, 0)
        level[0], level[1] = left, orders
        return LevelUpdate(_CHANGE, index, price, left, orders)

    def best(self) -> tuple[int, int]:
        """(price, shares) of the best level, or (0, 0) if the side is empty."""
        if not self.prices:
            return 0, 0
        price = self.prices[-1] if self._bid else self.prices[0]
        return price, self.levels[price][0]

    def depth(self, n: int | None = None) -> list[tuple[int, int, int]]:
        """(price, shares, orders) from the best level outwards, at most n levels."""
        order = reversed(self.prices) if self._bid else iter(self.prices)
        out = []
        for price in order:
            if n is not None and len(out) >= n:
                break
            shares, orders = self.levels[price]
            out.append((price, shares, orders))
        return out

    def __len__(self) -> int:
        return len(self.prices)


class Book:
    """Both sides of one symbol's book, and whether it is still exact."""

    __slots__ = ("asks", "bids", "degraded", "flags", "last_bbo", "locate")

    def __init__(self, locate: int, max_levels: int | None = None) -> None:
        self.locate = locate
        self.bids = Side(bid=True, cap=max_levels)
        self.asks = Side(bid=False, cap=max_levels)
        self.degraded = False
        self.flags = 0  # EventFlag bits for this symbol's events
        self.last_bbo = (0, 0, 0, 0)  # as last emitted: bid_px, bid_sz, ask_px, ask_sz

    def side(self, is_bid: bool) -> Side:
        return self.bids if is_bid else self.asks

    def bbo(self) -> tuple[int, int, int, int]:
        """(bid_px, bid_sz, ask_px, ask_sz): index 0 of each side; an empty side is 0, 0."""
        bids, asks = self.bids.prices, self.asks.prices
        bid = bids[-1] if bids else 0
        ask = asks[0] if asks else 0
        return (bid, self.bids.levels[bid][0] if bids else 0, ask, self.asks.levels[ask][0] if asks else 0)
