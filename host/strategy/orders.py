"""The order interface a strategy gets as `self.orders`: buy, sell, cancel, all through pre-trade risk.

The router holds the gateway; a strategy reaches it only through `buy`/`sell`/`cancel`, and every new
order passes `Risk.check` first. A rejected order never leaves the host: its REJECTED update (reason
`risk: ...`) is queued and delivered to `on_order_update` with the gateway's updates. Latencies are
recorded here: tick -> decision (the call), decision -> bytes written (the gateway's send time).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.types import OrderGateway, OrderRequest, OrderUpdate, Side, UpdateKind
from tickgate.host.risk import Risk

__all__ = ["OrderRouter"]

_now = time.perf_counter_ns


class OrderRouter:
    """buy/sell/cancel for strategies; risk below, the gateway below that."""

    def __init__(self, gateway: OrderGateway, risk: Risk, directory: Directory, book: TopOfBook,
                 metrics: Metrics, first_token: int = 1) -> None:
        self._gateway = gateway
        self.risk = risk
        self.directory = directory
        self.book = book
        self.next_token = first_token
        self.pending: list[OrderUpdate] = []  # risk rejections not yet delivered
        self.tick_rx_ns = 0  # receive time of the packet being handled (set by the run loop)
        self.before_send: Callable[[], int] | None = None  # called before each order; ns to leave out
        self.orders = 0  # sent to the gateway
        self.cancels = 0
        self.risk_rejects = 0
        lat = metrics.latency
        self._decision, self._s2o, self._t2o = lat["tick_to_decision"], lat["strategy_to_order"], lat["tick_to_order"]

    def buy(self, symbol: str | int, shares: int, price: int, tif: str = "0") -> int:
        """A buy limit order (Price(4)); its token. Rejections come back as REJECTED updates."""
        return self._new(symbol, Side.BUY, shares, price, tif)

    def sell(self, symbol: str | int, shares: int, price: int, tif: str = "0") -> int:
        """A sell limit order (Price(4)); its token."""
        return self._new(symbol, Side.SELL, shares, price, tif)

    def _new(self, symbol: str | int, side: Side, shares: int, price: int, tif: str) -> int:
        t0 = _now()
        if isinstance(symbol, int):
            locate = symbol
            symbol = self.directory.by_locate.get(locate, f"#{locate}")
            known = locate in self.directory.by_locate
        else:
            locate = self.directory.by_symbol.get(symbol, 0)
            known = locate != 0
        token = self.next_token
        self.next_token += 1
        reason = self.risk.check(symbol, side, shares, price, self.book.mid(locate) if known else None)
        if reason:
            self.risk_rejects += 1
            self.pending.append(OrderUpdate(UpdateKind.REJECTED, token, symbol, side, shares, price,
                                            f"risk: {reason}", t0))
            return token
        if self.before_send is not None:  # an exchange simulator catching up: its time is not ours
            spent = self.before_send()
            t0 += spent
            if self.tick_rx_ns:
                self.tick_rx_ns += spent
        self.risk.opened(token, symbol, side, shares, price)
        t_wire = self._gateway.enter(OrderRequest(token, symbol, side, shares, price, tif))
        self.orders += 1
        rx = self.tick_rx_ns
        if rx:
            self._decision.add(t0 - rx)
            self._t2o.add(t_wire - rx)
        self._s2o.add(t_wire - t0)
        return token

    def cancel(self, token: int, shares: int = 0) -> bool:
        """Cancel an open order down to `shares` (0: all of it); False if it is not open."""
        if token not in self.risk.open:
            return False
        self._gateway.cancel(token, shares)
        self.cancels += 1
        return True

    def cancel_all(self) -> int:
        """Cancel every open order (the kill switch does this); how many."""
        tokens = list(self.risk.open)
        for t in tokens:
            self._gateway.cancel(t, 0)
        self.cancels += len(tokens)
        return len(tokens)

    @property
    def open_orders(self) -> dict:
        """token -> OpenOrder (symbol, side, open shares, price)."""
        return self.risk.open

    def position(self, symbol: str) -> int:
        return self.risk.position.get(symbol, 0)
