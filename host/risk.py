"""Pre-trade risk: every order a strategy asks for passes `Risk.check` before it reaches the gateway.

Limits: order size, notional, per-symbol and total (gross) position counting open orders at their worst,
a price band around the current mid, an order rate (token bucket), and a kill switch. A rejected order
gets a REJECTED update whose reason starts `risk: `. The kill switch is thrown by the control socket or
automatically on a breach: a fill that takes a position past its limit, a loss past `max_loss`, or more
than `max_rejects_per_s` rejections in a second. Once killed, no order leaves (cancels still do) until
`reset_kill`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from tickgate.host.orders.types import OrderUpdate, Side, UpdateKind

__all__ = ["REASONS", "OpenOrder", "Risk", "RiskLimits"]

PRICE_SCALE = 10_000  # Price(4)

# Reasons a rejection can give (the part after "risk: ").
REASONS = ("kill switch", "invalid order", "unknown symbol", "max order size", "max notional",
           "no reference price", "price band", "symbol position limit", "total position limit", "order rate")


@dataclass(frozen=True)
class RiskLimits:
    """Pre-trade limits; notional and loss in dollars, positions in shares (total: gross over symbols)."""

    max_order_shares: int = 1_000
    max_notional: float = 100_000.0
    max_position: int = 2_000
    max_total_position: int = 20_000
    price_band_bps: float = 500.0  # orders priced within this many basis points of the mid
    max_orders_per_s: float = 1_000.0
    max_loss: float = 50_000.0  # kill when P&L falls below -max_loss (checked every 50 ms of a run and at its end)
    max_rejects_per_s: int = 1_000_000  # kill past this many risk rejections within one second

    @classmethod
    def from_dict(cls, d: dict) -> RiskLimits:
        """Limits from a mapping; unknown keys are an error (a misspelt limit must not pass silently)."""
        known = {f.name for f in fields(cls)}
        bad = sorted(set(d) - known)
        if bad:
            raise ValueError(f"unknown risk limits {bad}; known: {sorted(known)}")
        return replace(cls(), **d)

    @classmethod
    def from_file(cls, path: str | Path) -> RiskLimits:
        """Limits from a JSON object in a file; ValueError naming the file if it is not one."""
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"limits file {path}: not JSON ({e})") from None
        if not isinstance(data, dict):
            raise ValueError(f"limits file {path}: expected a JSON object of limits, not {type(data).__name__}")
        return cls.from_dict(data)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class OpenOrder:
    symbol: str
    side: Side
    shares: int  # still open
    price: int


class Risk:
    """Limits, positions, open orders, the order-rate bucket and the kill switch."""

    def __init__(self, limits: RiskLimits | None = None, *, clock=time.perf_counter_ns) -> None:
        self.limits = limits or RiskLimits()
        self.clock = clock
        self.open: dict[int, OpenOrder] = {}
        self.open_buy: dict[str, int] = {}
        self.open_sell: dict[str, int] = {}
        self.open_shares = 0
        self.position: dict[str, int] = {}
        self.cash: dict[str, int] = {}  # Price(4) * shares, signed (sells add)
        self.gross_position = 0
        self.killed: str = ""  # why, once thrown
        self.rejects: dict[str, int] = {}
        self.fills = 0
        self.filled_shares = 0
        self._tokens = self.limits.max_orders_per_s
        self._last_refill = clock()
        self._reject_window = (0, 0)  # (second, rejections in it)

    # -- limits ----------------------------------------------------------------------------------------

    def set_limits(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._tokens = min(self._tokens, limits.max_orders_per_s)

    def kill(self, reason: str) -> bool:
        """Throw the kill switch (idempotent); whether it was newly thrown."""
        if self.killed:
            return False
        self.killed = reason or "kill"
        return True

    def reset_kill(self) -> None:
        self.killed = ""

    # -- the check -----------------------------------------------------------------------------------------

    def check(self, symbol: str, side: Side, shares: int, price: int, mid: int | None, replacing: int = 0) -> str:
        """Why an order may not go ('' if it may). `mid` is the symbol's current mid (None: unknown symbol).

        `replacing`: the open shares of the order a replace takes the place of (they leave the worst case).
        """
        lim = self.limits
        if self.killed:
            return self._reject("kill switch")
        if shares <= 0 or price <= 0 or side not in (Side.BUY, Side.SELL):
            return self._reject("invalid order")
        if mid is None:
            return self._reject("unknown symbol")
        if shares > lim.max_order_shares:
            return self._reject("max order size")
        if shares * price > lim.max_notional * PRICE_SCALE:
            return self._reject("max notional")
        if not mid:
            return self._reject("no reference price")
        if abs(price - mid) * 10_000 > lim.price_band_bps * mid:
            return self._reject("price band")
        pos = self.position.get(symbol, 0)
        if side is Side.BUY:
            worst = pos + self.open_buy.get(symbol, 0) - replacing + shares
        else:
            worst = pos - self.open_sell.get(symbol, 0) + replacing - shares
        if abs(worst) > lim.max_position:
            return self._reject("symbol position limit")
        if self.gross_position + self.open_shares - replacing + shares > lim.max_total_position:
            return self._reject("total position limit")
        now = self.clock()
        self._tokens = min(float(lim.max_orders_per_s), self._tokens + (now - self._last_refill) * 1e-9 *
                           lim.max_orders_per_s)
        self._last_refill = now
        if self._tokens < 1.0:
            return self._reject("order rate")
        self._tokens -= 1.0
        return ""

    def _reject(self, reason: str) -> str:
        self.rejects[reason] = self.rejects.get(reason, 0) + 1
        second = self.clock() // 1_000_000_000
        s, n = self._reject_window
        n = n + 1 if s == second else 1
        self._reject_window = (second, n)
        if n > self.limits.max_rejects_per_s and reason != "kill switch":
            self.kill(f"breach: more than {self.limits.max_rejects_per_s} risk rejections in a second")
        return reason

    # -- order life ------------------------------------------------------------------------------------------

    def opened(self, token: int, symbol: str, side: Side, shares: int, price: int) -> None:
        """An order passed the check and was sent."""
        self.open[token] = OpenOrder(symbol, side, shares, price)
        book = self.open_buy if side is Side.BUY else self.open_sell
        book[symbol] = book.get(symbol, 0) + shares
        self.open_shares += shares

    def replaced(self, token: int, new_token: int, shares: int, price: int) -> None:
        """A replace passed the check and was sent: `token` becomes `new_token` with `shares` at `price`."""
        o = self.open.get(token)
        if o is None:
            return
        self._close_shares(token, o, o.shares)
        self.opened(new_token, o.symbol, o.side, shares, price)

    def _close_shares(self, token: int, o: OpenOrder, shares: int) -> None:
        shares = min(shares, o.shares)
        o.shares -= shares
        book = self.open_buy if o.side is Side.BUY else self.open_sell
        book[o.symbol] -= shares
        self.open_shares -= shares
        if o.shares == 0:
            del self.open[token]

    def on_update(self, u: OrderUpdate) -> str:
        """Apply a gateway update to positions and open orders; a breach reason if it threw the kill switch."""
        o = self.open.get(u.token)
        if u.kind is UpdateKind.EXECUTED:
            self.fills += 1
            self.filled_shares += u.shares
            signed = u.shares if u.side is Side.BUY else -u.shares
            old = self.position.get(u.symbol, 0)
            new = old + signed
            self.position[u.symbol] = new
            self.gross_position += abs(new) - abs(old)
            self.cash[u.symbol] = self.cash.get(u.symbol, 0) - signed * u.price
            if o is not None:
                self._close_shares(u.token, o, u.shares)
            lim = self.limits
            if abs(new) > lim.max_position and self.kill(f"breach: {u.symbol} position {new} past {lim.max_position}"):
                return self.killed
            if self.gross_position > lim.max_total_position and self.kill(
                    f"breach: gross position {self.gross_position} past {lim.max_total_position}"):
                return self.killed
        elif u.kind is UpdateKind.CANCELED and o is not None:
            self._close_shares(u.token, o, u.shares or o.shares)
        elif u.kind is UpdateKind.REJECTED and o is not None:
            self._close_shares(u.token, o, o.shares)
        return ""

    # -- P&L ---------------------------------------------------------------------------------------------------

    def pnl(self, mark) -> float:
        """Dollars: cash plus every position marked at `mark(symbol)` (Price(4); 0 means no mark)."""
        total = 0
        for sym, pos in self.position.items():
            total += self.cash.get(sym, 0)
            if pos:
                total += pos * mark(sym)
        return total / PRICE_SCALE

    def check_loss(self, mark) -> str:
        """Throw the kill switch if P&L is below -max_loss; the reason if it did."""
        p = self.pnl(mark)
        if p < -self.limits.max_loss and self.kill(f"breach: loss {p:,.2f} past {self.limits.max_loss:,.2f}"):
            return self.killed
        return ""
