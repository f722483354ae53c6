"""The order interface a strategy gets as `self.orders`: buy, sell, cancel, replace, all through pre-trade risk.

Two routers with one interface. `NativeOrderRouter` (over a `NativeOuchGateway`) is a thin wrapper: one call
into the native path does risk, OUCH encoding and the socket write. `OrderRouter` does the same in Python
(`Risk.check`, then the gateway): the reference, and the router of gateways without a native path (the paper
exchange). A rejected order never leaves the host: its REJECTED update (reason `risk: ...`) is queued and
delivered to `on_order_update` with the gateway's updates. Latencies are recorded here: tick -> decision (the
call), decision -> bytes written (the gateway's send time).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import LatencyRecorder, Metrics
from tickgate.host.orders.native import ORDER_REASONS, NativeOuchGateway, NativeRisk
from tickgate.host.orders.types import OrderGateway, OrderRequest, OrderUpdate, Side, UpdateKind
from tickgate.host.risk import Risk

from .armed import ArmedRules, Fire

__all__ = ["NativeOrderRouter", "OrderRouter", "make_router"]

_now = time.perf_counter_ns
_REJECTED = UpdateKind.REJECTED


class OrderRouter(ArmedRules):
    """buy/sell/cancel/replace and arm/disarm for strategies; risk below, the gateway below that (all in
    Python; the orders of FIRE events too, shown in `see_events`)."""

    def __init__(self, gateway: OrderGateway, risk: Risk, directory: Directory, book: TopOfBook,
                 metrics: Metrics, first_token: int = 1) -> None:
        self._gateway = gateway
        self.risk = risk
        self.directory = directory
        self.book = book
        self.next_token = first_token
        self.pending: list[OrderUpdate] = []  # risk rejections not yet delivered
        self.tick_rx_ns = 0  # receive time of the packet being handled (set by the run loop)
        self.last_send_ns = 0  # when the last order's bytes were written (its gateway's answer to enter)
        self.before_send: Callable[[], int] | None = None  # called before each order; ns to leave out
        self.orders = 0  # sent to the gateway
        self.cancels = 0
        self.replaces = 0
        self.risk_rejects = 0
        lat = metrics.latency
        self._decision, self._s2o, self._t2o = lat["tick_to_decision"], lat["strategy_to_order"], lat["tick_to_order"]
        if "tick_to_order_armed" not in lat:  # a Metrics made before host.strategy.armed was imported
            lat["tick_to_order_armed"] = LatencyRecorder("tick_to_order_armed")
        self._t2o_armed = lat["tick_to_order_armed"]
        self._init_armed()

    def attach(self, device) -> None:
        """The device the run's rules are armed on (its events reach `see_events`)."""
        self.device = device

    def see_events(self, batch: np.ndarray) -> None:
        """The events about to reach the strategy: the orders of FIRE events go, through the Python risk. It
        reads the host's book, which has the whole batch (a packet's events; the native path checks against
        the book at the FIRE event)."""
        if self.armed_rules:
            fired = self.fire_records(batch)
            if fired is not None:
                for f in fired:
                    self._fire(f)

    def _fire(self, f) -> None:
        locate, side, shares, price = int(f["locate"]), chr(f["fire_side"]), int(f["fire_shares"]), int(f["fire_price"])
        rejected = len(self.pending)
        self._firing = True
        try:
            token = self._new(locate, Side(side), shares, price, chr(f["fire_tif"]))
        finally:
            self._firing = False
        refused = len(self.pending) > rejected
        if refused:
            self.fires_refused += 1
        else:
            self.fires_sent += 1
        self.fire_log.append(Fire(int(f["fire_rule"]), int(f["fire_tag"]), token,
                                  self.directory.by_locate.get(locate, f"#{locate}"), side, shares, price,
                                  int(f["seq"]), not refused, self.pending[-1].reason if refused else "",
                                  int(f["fire_left"]), int(f["ts_local"]), 0 if refused else self.last_send_ns))
        if int(f["fire_left"]) == 0:
            self.armed_rules.pop(int(f["fire_rule"]), None)

    def collect_fires(self) -> None:
        """Fires the native path sent or refused since the last call, into the updates (none here)."""

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
            self.pending.append(OrderUpdate(_REJECTED, token, symbol, side, shares, price, f"risk: {reason}", t0))
            return token
        t0 = self._before_send(t0)
        self.risk.opened(token, symbol, side, shares, price)
        t_wire = self.last_send_ns = self._gateway.enter(OrderRequest(token, symbol, side, shares, price, tif))
        self.orders += 1
        self._timed(t0, t_wire)
        return token

    def _before_send(self, t0: int) -> int:
        if self.before_send is not None:  # an exchange simulator catching up: its time is not ours
            spent = self.before_send()
            t0 += spent
            if self.tick_rx_ns:
                self.tick_rx_ns += spent
        return t0

    def _timed(self, t0: int, t_wire: int) -> None:
        rx = self.tick_rx_ns
        if rx:
            self._decision.add(t0 - rx)
            self._t2o.add(t_wire - rx)
            if self._firing:  # a fired order (Python path)
                self._t2o_armed.add(t_wire - rx)
        self._s2o.add(t_wire - t0)

    _firing = False

    def replace(self, token: int, shares: int, price: int, tif: str = "0") -> int:
        """Replace an open order by `shares` at `price` under a new token: the new token (0 if `token` is not
        open). Risk checks it as a new order whose worst case no longer counts the replaced order's shares."""
        send = getattr(self._gateway, "replace", None)
        if send is None:
            raise NotImplementedError(f"{type(self._gateway).__name__} has no Replace Order: cancel and enter anew")
        o = self.risk.open.get(token)
        if o is None:
            return 0
        t0 = _now()
        new = self.next_token
        self.next_token += 1
        locate = self.directory.by_symbol.get(o.symbol, 0)
        reason = self.risk.check(o.symbol, o.side, shares, price, self.book.mid(locate) if locate else None,
                                 replacing=o.shares)
        if reason:
            self.risk_rejects += 1
            self.pending.append(OrderUpdate(_REJECTED, new, o.symbol, o.side, shares, price, f"risk: {reason}", t0))
            return new
        t0 = self._before_send(t0)
        self.risk.replaced(token, new, shares, price)
        t_wire = send(token, new, shares, price, tif)
        self.replaces += 1
        self._timed(t0, t_wire)
        return new

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


class NativeOrderRouter(OrderRouter):
    """The same interface over the native path: each order is one call into `OrderPath` (risk, OUCH, socket)."""

    def __init__(self, gateway: NativeOuchGateway, risk: NativeRisk, directory: Directory, book: TopOfBook,
                 metrics: Metrics) -> None:
        super().__init__(gateway, risk, directory, book, metrics, gateway.path.next_token)  # type: ignore[arg-type]
        path = self.path = gateway.path
        self._native_gateway = gateway
        self._session = gateway.session
        self._active = gateway.session.state.__class__.ACTIVE
        self._enter, self.see_events = path.fast_enter, path.on_events  # type: ignore[method-assign]

    def attach(self, device) -> None:
        """The device the rules are armed on. A C++ device hands each collected batch to the path in C++
        (FIRE events' orders sent before Python sees the batch); a Python one through `see_events`."""
        self.device = device
        attach = getattr(device, "attach_orders", None)
        if attach is not None:
            attach(self.path)
            self.see_events = _noop  # type: ignore[method-assign]  # the path has seen the batch already
        self.sync_session()

    def sync_session(self) -> None:
        """Tell the path whether the session takes orders (fired orders are sent only then); the session's
        `on_state` keeps it current from then on."""
        self.path.active = self._session.state is self._active

    def arm(self, index: int, symbol: str | int, *args, **kwargs):
        locate = self._locate_of(symbol)
        name = symbol if isinstance(symbol, str) else self.directory.by_locate.get(locate)
        if name is not None and not self.path.named(locate):
            self.path.set_symbol(locate, name)  # the path names a fired order's symbol
        return super().arm(index, locate, *args, **kwargs)

    def collect_fires(self) -> None:
        """What the path made of the fires since the last call: sent (timed), refused by risk (a REJECTED
        update with its reason), or not written (the gateway's REJECTED update)."""
        path = self.path
        if not path.fires_waiting:
            return
        for rule, tag, token, result, reason, seq, locate, side, shares, price, _tif, rx, sent_ns, left in \
                path.take_fires():
            if left == 0:
                self.armed_rules.pop(rule, None)
            name = path.symbol(locate) or self.directory.by_locate.get(locate, f"#{locate}")
            why = ""
            if result > 0:
                self.fires_sent += 1
                self.orders += 1
                if rx:
                    self._t2o.add(sent_ns - rx)
                    self._t2o_armed.add(sent_ns - rx)
            elif result == -2:
                self.fires_refused += 1
                self.risk_rejects += 1
                why = f"risk: {ORDER_REASONS[reason]}"
                self.pending.append(OrderUpdate(_REJECTED, token, name, Side(side), shares, price, why, _now()))
            else:
                self.orders += 1
                why = "not sent"
                self._native_gateway.not_sent(token, name, Side(side), dropped=result == -4)
            self.fire_log.append(Fire(rule, tag, token, name, side, shares, price, seq, result > 0, why, left, rx,
                                      sent_ns if result > 0 else 0))

    @property
    def next_token(self) -> int:  # type: ignore[override]
        """The token the next order gets (the path owns the tokens)."""
        return self.path.next_token if hasattr(self, "path") else 0

    @next_token.setter
    def next_token(self, value: int) -> None:
        pass  # OrderRouter.__init__ sets it; the path's first token was given when it was made

    def buy(self, symbol: str | int, shares: int, price: int, tif: str = "0") -> int:
        """A buy limit order (Price(4)); its token. Rejections come back as REJECTED updates."""
        return self._native(symbol, "B", shares, price, tif)

    def sell(self, symbol: str | int, shares: int, price: int, tif: str = "0") -> int:
        """A sell limit order (Price(4)); its token."""
        return self._native(symbol, "S", shares, price, tif)

    def _new(self, symbol: str | int, side: Side, shares: int, price: int, tif: str) -> int:
        return self._native(symbol, side.value, shares, price, tif)

    def _native(self, symbol: str | int, side: str, shares: int, price: int, tif: str) -> int:
        if self.before_send is not None:
            spent = self.before_send()  # an exchange simulator catching up: its time is not ours
            if self.tick_rx_ns:
                self.tick_rx_ns += spent
        t0 = _now()
        locate = symbol if symbol.__class__ is int else self.directory.by_symbol.get(symbol, 0)  # type: ignore[arg-type]
        r = self._enter(locate, side, shares, price, tif, self._session.state is self._active)
        if r > 0:
            self.orders += 1
            self._timed(t0, self.path.last_send_ns)
            return r
        return self._not_entered(r, t0, symbol, locate, side, shares, price, tif)

    def _not_entered(self, r: int, t0: int, symbol: str | int, locate: int, side: str, shares: int, price: int,
                     tif: str) -> int:
        path = self.path
        name = symbol if isinstance(symbol, str) else self.directory.by_locate.get(locate, f"#{locate}")
        if r == -1:  # the path has no name for the locate yet
            known = self.directory.by_locate.get(locate) if locate else None
            if known is not None and (isinstance(symbol, int) or known == symbol):
                path.set_symbol(locate, known)
                r = self._enter(locate, side, shares, price, tif, self._session.state is self._active)
                if r > 0:
                    self.orders += 1
                    self._timed(t0, path.last_send_ns)
                    return r
            else:
                r = path.reject_unknown()
        token = path.last_token
        s = Side(side)
        if r == -2:
            self.risk_rejects += 1
            self.pending.append(OrderUpdate(_REJECTED, token, name, s, shares, price,
                                            f"risk: {ORDER_REASONS[path.last_reason]}", t0))
            return token
        t_wire = self._native_gateway.not_sent(token, name, s, dropped=r == -4)  # opened, not written
        self.orders += 1
        self._timed(t0, t_wire)
        return token

    def replace(self, token: int, shares: int, price: int, tif: str = "0") -> int:
        """Replace an open order by `shares` at `price` under a new token: the new token (0 if `token` is not
        open); checked as `OrderRouter.replace` checks it."""
        if self.before_send is not None:
            spent = self.before_send()
            if self.tick_rx_ns:
                self.tick_rx_ns += spent
        t0 = _now()
        path = self.path
        r = path.replace(token, shares, price, tif, self._session.state is self._active)
        if r > 0:
            self.replaces += 1
            self._timed(t0, path.last_send_ns)
            return r
        if r == 0:
            return 0
        new = path.last_token
        locate, side = path.order(new)
        name, s = path.symbol(locate), Side(side)
        if r == -2:
            self.risk_rejects += 1
            self.pending.append(OrderUpdate(_REJECTED, new, name, s, shares, price,
                                            f"risk: {ORDER_REASONS[path.last_reason]}", t0))
            return new
        t_wire = self._native_gateway.not_sent(new, name, s, dropped=r == -4)
        self.replaces += 1
        self._timed(t0, t_wire)
        return new

    def cancel(self, token: int, shares: int = 0) -> bool:
        """Cancel an open order down to `shares` (0: all of it); False if it is not open."""
        r = self.path.cancel(token, shares, self._session.state is self._active)
        if r == 0:
            return False
        self.cancels += 1
        if r == 1:
            self._native_gateway.cancel_sent(token, shares)  # after the write: pending until answered
        elif r < 0:
            locate, side = self.path.order(token)
            self._native_gateway.not_sent(token, self.path.symbol(locate), Side(side), dropped=r == -4)
        return True

    def cancel_all(self) -> int:
        """Cancel every open order (the kill switch does this); how many."""
        tokens = [o[0] for o in self.path.open_orders()]
        for t in tokens:
            self.cancel(t, 0)
        return len(tokens)

    def position(self, symbol: str) -> int:
        locate = self.directory.by_symbol.get(symbol)
        return self.path.position(locate) if locate is not None else 0


def _noop(batch: np.ndarray) -> None:
    pass


def make_router(gateway: OrderGateway, risk: Risk | NativeRisk, directory: Directory, book: TopOfBook,
                metrics: Metrics) -> OrderRouter:
    """The router of a run: the native one over a native gateway, else the Python one."""
    if isinstance(gateway, NativeOuchGateway) and isinstance(risk, NativeRisk):
        return NativeOrderRouter(gateway, risk, directory, book, metrics)
    return OrderRouter(gateway, risk, directory, book, metrics)  # type: ignore[arg-type]
