"""An exact, full-depth, order-by-order price-level book for one symbol."""

from __future__ import annotations

from bisect import bisect_left, insort


class Side:
    """One side of a book: aggregate shares and order count per price, prices kept sorted."""

    __slots__ = ("_bid", "levels", "prices")

    def __init__(self, bid: bool) -> None:
        self._bid = bid
        self.levels: dict[int, list[int]] = {}  # price -> [shares, orders]
        self.prices: list[int] = []  # ascending

    def add(self, price: int, shares: int) -> bool:
        """Add an order's shares at `price`; True if that opened a new level."""
        level = self.levels.get(price)
        if level is None:
            self.levels[price] = [shares, 1]
            insort(self.prices, price)
            return True
        level[0] += shares
        level[1] += 1
        return False

    def reduce(self, price: int, shares: int, removes_order: bool) -> None:
        """Take `shares` off the level at `price`, and one order if `removes_order`."""
        level = self.levels[price]
        level[0] -= shares
        if removes_order:
            level[1] -= 1
            if level[1] == 0:
                del self.levels[price]
                del self.prices[bisect_left(self.prices, price)]

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

    def __init__(self, locate: int) -> None:
        self.locate = locate
        self.bids = Side(bid=True)
        self.asks = Side(bid=False)
        self.degraded = False
        self.flags = 0  # EventFlag bits for this symbol's events
        self.last_bbo = (0, 0, 0, 0)  # as last emitted: bid_px, bid_sz, ask_px, ask_sz

    def side(self, is_bid: bool) -> Side:
        return self.bids if is_bid else self.asks

    def bbo(self) -> tuple[int, int, int, int]:
        """(bid_px, bid_sz, ask_px, ask_sz); an empty side is 0, 0."""
        bids, asks = self.bids.prices, self.asks.prices
        bid = bids[-1] if bids else 0
        ask = asks[0] if asks else 0
        return (bid, self.bids.levels[bid][0] if bids else 0, ask, self.asks.levels[ask][0] if asks else 0)
