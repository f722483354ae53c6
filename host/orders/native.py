"""The native order path on the Python side: `NativeOuchGateway` and `NativeRisk` over one `_driver.OrderPath`.

`tickgate._driver.OrderPath` (driver/order_path.hpp) does a strategy's order in one call: the pre-trade risk of
`host/risk.py` (which stays the reference), OUCH 5.0 encoding from the generated layouts, SoupBinTCP framing and
the write on the session's socket. Python keeps what is off the hot path: the SoupBinTCP session (login,
heartbeats, reconnect and resume; its writes go through the same native writer, so nothing interleaves),
inbound parsing (`OuchGateway.poll`), and hands every update back to the native risk (`NativeRisk.on_update`:
fills -> positions, acks, cancels and rejects -> open orders). `NativeRisk` is the `Risk` interface the run loop
and the control socket use, read from the native state. The strategy's side is `NativeOrderRouter`
(`tickgate.host.strategy.orders`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from tickgate.protocol import ouch

from .ouch_gateway import OuchGateway
from .soupbin import SessionState, SoupBinClient
from .types import OrderUpdate, Side, UpdateKind

__all__ = ["NATIVE_AVAILABLE", "NativeOuchGateway", "NativeRisk", "make_risk"]

try:
    from tickgate._driver import ORDER_REASONS, OrderPath
except ImportError:  # pragma: no cover - the package is built with its extension
    NATIVE_AVAILABLE = False
else:
    NATIVE_AVAILABLE = True

_KIND = {UpdateKind.ACCEPTED: 0, UpdateKind.REJECTED: 1, UpdateKind.EXECUTED: 2, UpdateKind.CANCELED: 3}
_SIDES = {"B": Side.BUY, "S": Side.SELL}
_REJECTED = UpdateKind.REJECTED


class NativeOuchGateway(OuchGateway):
    """An `OuchGateway` whose orders leave through the native path (`path`), risk included.

    Orders go through `NativeOrderRouter`, which owns the tokens: the inherited `enter`/`cancel`/`replace`
    (Python encoding, no risk) are not for use beside it. Inbound parsing and the session stay in Python.
    """

    def __init__(self, session: SoupBinClient, limits, *, display: str = "Y", capacity: str = "A", firm: str = "",
                 first_token: int = 1, time: int | None = None) -> None:
        super().__init__(session, display=display, capacity=capacity, firm=firm)
        appendage = ouch.encode_options({"firm": firm}) if firm else b""
        self.path = OrderPath(limits, first_token, display, capacity, appendage, time)
        session.writer = self.path.writer

    @classmethod
    def connect(cls, host: str, port: int, username: str, password: str, session: str = "", sequence: int = 1,
                *, limits=None, timeout: float = 5.0, **options: float) -> NativeOuchGateway:
        """A native gateway on a new SoupBinTCP session, logged in (options go to `SoupBinClient`)."""
        from tickgate.host.risk import RiskLimits

        client = SoupBinClient(host, port, username, password, session, sequence, **options)
        gw = cls(client, limits or RiskLimits())  # the writer is in place before the login is written
        client.connect(timeout)
        return gw

    def poll(self) -> list[OrderUpdate]:
        out = super().poll()
        self.counters.update(self.path.counters())
        return out

    def not_sent(self, token: int, symbol: str, side: Side, dropped: bool) -> int:
        """An order the path decided but could not write: its REJECTED update comes from the next `poll()`."""
        if dropped:
            self.session._drop("link_drops")
            why = "SoupBinTCP link dropped while sending: message not sent"
        else:
            why = f"SoupBinTCP session is {self.session.state}: message not sent"
        self._orders[token] = (symbol, side)
        return self._not_sent(token, why)

    def _unanswered_tokens(self) -> list[int]:
        return [token for token, *_ in self.path.open_orders()]

    def _order_of(self, token: int) -> tuple[str, Side] | None:
        known = self.path.order(token)
        if known is None:
            return None
        locate, side = known
        return self.path.symbol(locate), _SIDES[side]

    @property
    def active(self) -> bool:
        return self.session.state is SessionState.ACTIVE


class _OpenOrders(Mapping):
    """token -> OpenOrder of the native risk, read on demand (iteration in token order)."""

    __slots__ = ("_path",)

    def __init__(self, path) -> None:
        self._path = path

    def __len__(self) -> int:
        return self._path.open_count()

    def __bool__(self) -> bool:
        return self._path.open_count() > 0

    def __contains__(self, token: object) -> bool:
        return isinstance(token, int) and token > 0 and self._path.is_open(token)

    def __iter__(self) -> Iterator[int]:
        return iter([o[0] for o in self._path.open_orders()])

    def __getitem__(self, token: int):
        from tickgate.host.risk import OpenOrder

        o = self._path.open_order(token) if isinstance(token, int) and token > 0 else None
        if o is None:
            raise KeyError(token)
        locate, side, shares, price = o
        return OpenOrder(self._path.symbol(locate), _SIDES[side], shares, price)


class NativeRisk:
    """The `Risk` interface (limits, kill switch, positions, open orders, P&L) over the native path's risk."""

    def __init__(self, path, limits) -> None:
        from tickgate.host.risk import Risk

        self.path = path
        self.limits = limits
        self.open = _OpenOrders(path)
        self.pnl = Risk.pnl.__get__(self)
        self.check_loss = Risk.check_loss.__get__(self)

    def set_limits(self, limits) -> None:
        self.limits = limits
        self.path.set_limits(limits)

    def kill(self, reason: str) -> bool:
        return self.path.kill(reason)

    def reset_kill(self) -> None:
        self.path.reset_kill()

    @property
    def killed(self) -> str:
        return self.path.killed

    def on_update(self, u: OrderUpdate) -> str:
        """Apply a gateway update to the native positions and open orders; a breach reason if it killed."""
        known = self.path.order(u.token)
        if known is None:
            return ""
        return self.path.on_update(_KIND[u.kind], u.token, known[0], u.side.value, u.shares, u.price)

    @property
    def position(self) -> dict[str, int]:
        """symbol -> shares, for every symbol ever filled."""
        sym = self.path.symbol
        return {sym(loc): pos for loc, pos, _ in self.path.positions()}

    @property
    def cash(self) -> dict[str, int]:
        sym = self.path.symbol
        return {sym(loc): cash for loc, _, cash in self.path.positions()}

    @property
    def rejects(self) -> dict[str, int]:
        return {r: n for r, n in zip(ORDER_REASONS, self.path.rejects(), strict=True) if n}

    gross_position = property(lambda self: self.path.gross_position)
    open_shares = property(lambda self: self.path.open_shares)
    fills = property(lambda self: self.path.fills)
    filled_shares = property(lambda self: self.path.filled_shares)


def make_risk(limits, gateway):
    """The risk of a run: the native one over a native gateway's path, else the Python `Risk`."""
    from tickgate.host.risk import Risk, RiskLimits

    limits = limits or RiskLimits()
    if isinstance(gateway, NativeOuchGateway):
        gateway.path.set_limits(limits)
        gateway.path.fill_bucket()  # a new risk starts with a full bucket of these limits
        return NativeRisk(gateway.path, limits)
    return Risk(limits)
