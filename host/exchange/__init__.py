"""Exchanges a run trades with: `paper` (in-process), the local simulator (OUCH 5.0 over SoupBinTCP), or a
real OUCH server; `Exchange` is what the run loop asks of the first two, which fill against the feed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from tickgate.host.market import TopOfBook
    from tickgate.host.orders.types import OrderGateway

__all__ = ["Exchange", "open_exchange"]


@runtime_checkable
class Exchange(Protocol):
    """An exchange that fills against the replayed market: the run tells it the symbols and the events."""

    def set_symbols(self, symbols: dict[int, str]) -> None:
        """Locate -> symbol of the names the feed's directory gave since the last call."""

    def share_book(self, top: TopOfBook) -> bool:
        """Read the tops of book from the host's `TopOfBook` (True), or keep a book of its own (False), which
        `update_book` then keeps current."""

    def update_book(self, events: np.ndarray) -> None:
        """Take a batch of events (EVENT_DTYPE); fill resting orders the touch now crosses."""

    def close(self) -> None: ...


def open_exchange(spec: str, *, user: str | None = None,
                  password: str | None = None) -> tuple[OrderGateway, Exchange | None, str]:
    """(gateway, the exchange if it fills against the feed, a note) for `paper`, `sim` or HOST:PORT."""
    if spec == "paper":
        from .paper import PaperExchange

        ex = PaperExchange()
        return ex, ex, "paper: in-process fills against the replayed book"
    from tickgate.host.orders.ouch_gateway import OuchGateway

    if spec == "sim":
        from .sim import SimExchange

        kw = {k: v for k, v in (("username", user), ("password", password)) if v}
        sim = SimExchange(**kw).start()
        host, port = sim.address
        try:
            gw = OuchGateway.connect(host, port, sim.username, sim.password)
        except BaseException:
            sim.close()
            raise
        return gw, sim, f"sim: local exchange simulator on {host}:{port}, OUCH 5.0 over SoupBinTCP"
    host, _, port = spec.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--exchange {spec!r}: expected sim, paper or HOST:PORT")
    if not user or not password:
        raise ValueError("--exchange HOST:PORT needs --ouch-user and --ouch-password")
    return OuchGateway.connect(host, int(port), user, password), None, f"OUCH 5.0 to {spec}"
