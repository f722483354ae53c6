"""What flows between the strategy, risk, the order gateway and the exchange: defined once.

Prices are Price(4) integers (as in ITCH and OUCH), shares are integers, symbols are ITCH symbols without
padding. An order is named by its `token` (OUCH UserRefNum), unique per session and increasing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = ["OrderGateway", "OrderRequest", "OrderUpdate", "Side", "UpdateKind"]


class Side(StrEnum):
    BUY = "B"
    SELL = "S"


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A new limit order, as the strategy asks for it."""

    token: int
    symbol: str
    side: Side
    shares: int
    price: int  # Price(4)
    time_in_force: str = "0"  # OUCH: '0' day, '3' immediate or cancel


class UpdateKind(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # by the exchange, or by risk before it left (reason says which)
    EXECUTED = "executed"
    CANCELED = "canceled"  # shares = shares taken off the order


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What happened to an order; `shares` and `price` of the execution or cancellation where relevant."""

    kind: UpdateKind
    token: int
    symbol: str
    side: Side
    shares: int = 0
    price: int = 0
    reason: str = ""
    ts_ns: int = 0  # time.perf_counter_ns() when the host saw it


class OrderGateway(Protocol):
    """Where orders go: the OUCH 5.0 client over SoupBinTCP, or any stand-in with the same behaviour."""

    def enter(self, order: OrderRequest) -> int:
        """Send an order; returns time.perf_counter_ns() when its bytes were written to the socket."""
        ...

    def cancel(self, token: int, shares: int = 0) -> int:
        """Cancel down to `shares` (0: the whole order); returns the send time as `enter` does."""
        ...

    def poll(self) -> list[OrderUpdate]:
        """Updates received since the last call; never blocks."""
        ...

    def close(self) -> None: ...
