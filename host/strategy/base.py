"""The strategy API.

A strategy subclasses `Strategy` and overrides what it needs. The run loop calls `on_events(batch)`
with each batch of 64-byte event records (a numpy view of EVENT_DTYPE into the host's buffer: read it
during the call, copy what you keep). The default `on_events` calls `on_bbo`, `on_trade` and
`on_status` once per event with the record (`on_trade` gets it viewed with the trade fields); a fast
strategy overrides `on_events` and works on the columns. Order updates arrive in `on_order_update`, the
fires of rules armed with `self.orders.arm(...)` in `on_fire`.

Available once the host has bound the strategy: `self.orders` (buy/sell/cancel through risk),
`self.book` (TopOfBook of every locate), `self.directory` (locate <-> symbol), `self.params`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tickgate.protocol.events import KIND_DTYPES, EventKind

if TYPE_CHECKING:
    from tickgate.host.market import Directory, TopOfBook
    from tickgate.host.orders.types import OrderUpdate
    from tickgate.host.strategy.armed import Fire
    from tickgate.host.strategy.orders import OrderRouter

__all__ = ["Strategy"]

_BBO, _TRADE, _STATUS = int(EventKind.BBO), int(EventKind.TRADE), int(EventKind.STATUS)
_TRADE_DTYPE = KIND_DTYPES[EventKind.TRADE]
_STATUS_DTYPE = KIND_DTYPES[EventKind.STATUS]


class Strategy:
    """Base class: callbacks do nothing; `params` come from `--param KEY=VALUE` (typed like `defaults`)."""

    name: ClassVar[str] = "strategy"
    defaults: ClassVar[dict[str, Any]] = {}

    orders: OrderRouter
    book: TopOfBook
    directory: Directory

    def __init__(self, **params: Any) -> None:
        bad = sorted(set(params) - set(self.defaults))
        if bad:
            raise ValueError(f"strategy {self.name}: unknown parameters {bad}; known: {sorted(self.defaults)}")
        self.params = dict(self.defaults)
        for k, v in params.items():
            default = self.defaults[k]
            self.params[k] = type(default)(v) if default is not None and not isinstance(v, type(default)) else v

    def bind(self, orders: OrderRouter, book: TopOfBook, directory: Directory) -> None:
        """Called by the host before the run."""
        self.orders, self.book, self.directory = orders, book, directory

    # -- callbacks -------------------------------------------------------------------------------------

    def on_start(self) -> None:
        """Before the first event."""

    def on_stop(self) -> None:
        """After the last event."""

    def on_events(self, batch: np.ndarray) -> None:
        """A batch of events (a view; valid during the call). Default: one callback per event."""
        kinds = batch["kind"]
        for i in range(len(batch)):
            k = kinds[i]
            if k == _BBO:
                self.on_bbo(batch[i])
            elif k == _TRADE:
                self.on_trade(batch[i:i + 1].view(_TRADE_DTYPE)[0])
            elif k == _STATUS:
                self.on_status(batch[i:i + 1].view(_STATUS_DTYPE)[0])

    def on_fire(self, fire: Fire) -> None:
        """A rule armed with `self.orders.arm` fired: its order's token, and whether it was sent (else `reason`;
        a refused fire also arrives as a REJECTED update)."""

    def on_bbo(self, ev: np.void) -> None:
        """A top-of-book change: ev['locate'], ev['bid_px'], ev['bid_sz'], ev['ask_px'], ev['ask_sz'], ..."""

    def on_trade(self, ev: np.void) -> None:
        """A trade: ev['trade_px'], ev['trade_shares'], ev['trade_side'], ev['match_number'], ..."""

    def on_status(self, ev: np.void) -> None:
        """A system event or trading action: ev['msg_type'], ev['status_code'], ev['status_reason']."""

    def on_order_update(self, update: OrderUpdate) -> None:
        """An order was accepted, rejected (by risk or the exchange; `reason` says), executed or canceled."""
