"""Exchanges a run trades with: `paper` (in-process), the local simulator (OUCH 5.0 over SoupBinTCP, or FIX 4.4),
or a real OUCH or FIX server; `Exchange` is what the run loop asks of the first two, which fill against the feed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from tickgate.host.market import TopOfBook
    from tickgate.host.orders.types import OrderGateway

__all__ = ["Exchange", "FixOptions", "open_exchange"]


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


@dataclass
class FixOptions:
    """A FIX session's options from the command line (`--fix-*`); a settings file's values win over them."""

    settings: Path | None = None  # a QuickFIX settings file, one [SESSION]
    sender: str = "TICKGATE"
    target: str = "SIMEXCH"
    heartbeat_s: int = 30
    store: Path | None = None  # a directory: sequence numbers and messages kept in files there; None: memory
    log: Path | None = None  # a directory for the engine's logs; None: none


def sim_cpus(trader_cpu: int | None) -> set[int] | None:
    """The CPUs for the local simulator when the trader is pinned to `trader_cpu`: every other one it may use
    (None: no pinning, or no other CPU)."""
    if trader_cpu is None:
        return None
    import os

    others = os.sched_getaffinity(0) - {trader_cpu}
    return others or None


def open_fix(where: str, options: FixOptions | None = None, *, sim_busy_poll: bool = False,
             trader_cpu: int | None = None) -> tuple[OrderGateway, Exchange | None, str]:
    """`fix:sim` (the local simulator, speaking FIX) or `fix:HOST:PORT`: a `FixGateway` logged on."""
    from tickgate.host.orders.fix_gateway import FixGateway
    from tickgate.host.orders.fix_session import load_settings

    o = options or FixOptions()
    settings = load_settings(o.settings) if o.settings else None
    if settings is not None:  # the file names the session
        from tickgate.host.orders.fix_session import first_session

        sid = first_session(settings)
        o = replace(o, sender=sid.getSenderCompID().getValue(), target=sid.getTargetCompID().getValue())
    kw = dict(sender=o.sender, target=o.target, settings=settings, store=o.store, log=o.log, heartbeat_s=o.heartbeat_s)
    if where == "sim":
        from .sim import SimExchange

        sim = SimExchange(fix_port=0, fix_clients=(o.sender,), fix_sender=o.target, busy_poll=sim_busy_poll,
                          cpus=sim_cpus(trader_cpu)).start()
        try:  # a new simulator starts its sequence numbers at 1: so does the client, whatever its store holds
            gw = FixGateway.connect(*sim.fix_address, reset_on_logon=True, **kw)  # type: ignore[misc]
        except BaseException:
            sim.close()
            raise
        host, port = sim.fix_address  # type: ignore[misc]
        return gw, sim, f"fix:sim: local exchange simulator on {host}:{port}, FIX 4.4 ({gw.session_id.toString()})"
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--exchange fix:{where!r}: expected fix:sim or fix:HOST:PORT")
    gw = FixGateway.connect(host, int(port), **kw)
    return gw, None, f"FIX 4.4 to {where} ({gw.session_id.toString()})"


def open_exchange(spec: str, *, user: str | None = None, password: str | None = None,
                  order_path: str = "native", fix: FixOptions | None = None, sim_busy_poll: bool = False,
                  trader_cpu: int | None = None) -> tuple[OrderGateway, Exchange | None, str]:
    """(gateway, the exchange if it fills against the feed, a note) for `paper`, `sim`, HOST:PORT (OUCH),
    `fix:sim` or `fix:HOST:PORT` (FIX 4.4 through QuickFIX; orders take the Python path).

    OUCH orders take the native path (risk, encoding and the socket write in C++) unless `order_path` is
    "python"; the paper exchange has no wire and keeps the Python one. `sim_busy_poll`: the local simulator
    spins on its sockets (`SimExchange(busy_poll=True)`); `trader_cpu`: the CPU the run is pinned to, which the
    local simulator is kept off.
    """
    if spec == "paper":
        from .paper import PaperExchange

        ex = PaperExchange()
        return ex, ex, "paper: in-process fills against the replayed book"
    if spec.startswith("fix:"):
        return open_fix(spec[4:], fix, sim_busy_poll=sim_busy_poll, trader_cpu=trader_cpu)
    from tickgate.host.orders.native import NATIVE_AVAILABLE, NativeOuchGateway
    from tickgate.host.orders.ouch_gateway import OuchGateway

    if order_path not in ("native", "python"):
        raise ValueError(f"order path {order_path!r}: native or python")
    native = order_path == "native" and NATIVE_AVAILABLE
    gateway = NativeOuchGateway if native else OuchGateway
    if spec == "sim":
        from .sim import SimExchange

        kw = {k: v for k, v in (("username", user), ("password", password)) if v}
        sim = SimExchange(**kw, busy_poll=sim_busy_poll, cpus=sim_cpus(trader_cpu)).start()
        host, port = sim.address
        try:
            gw = gateway.connect(host, port, sim.username, sim.password)
        except BaseException:
            sim.close()
            raise
        return gw, sim, (f"sim: local exchange simulator on {host}:{port}, OUCH 5.0 over SoupBinTCP "
                         f"({'native' if native else 'python'} order path)")
    host, _, port = spec.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--exchange {spec!r}: expected sim, paper, HOST:PORT, fix:sim or fix:HOST:PORT")
    if not user or not password:
        raise ValueError("--exchange HOST:PORT needs --ouch-user and --ouch-password")
    return gateway.connect(host, int(port), user, password), None, f"OUCH 5.0 to {spec}"
