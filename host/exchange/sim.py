"""`SimExchange`: a local exchange simulator speaking OUCH 5.0 over SoupBinTCP on localhost.

The server (`tickgate.host.exchange.server`) runs in a process of its own, as a real exchange would, so it
never competes with the trading loop for the GIL: an order's send time and round trip are the socket's,
not the simulator's. This object is its handle: `start()`, point an `OuchGateway` at `address`, give it
the replayed book with `update_book`, read `fills` and `summary()`.

Orders are acknowledged (`A`), rejected with the OUCH reason (`J`), canceled (`C`) and filled (`E`) against
the top of book: see `tickgate.host.exchange.matching` for the rules. With `fix_port` the same process also
serves FIX 4.4 (a QuickFIX acceptor, `tickgate.host.exchange.fix_acceptor`, at `fix_address`) over the same
matching engine and book: a FIX client's orders meet OUCH clients' as one book. Deterministic: every call here is
synchronous, and a book update first processes every order the clients have already written, so the
fills depend only on the order of the calls. OUCH timestamps are exchange time (ts_exch of the last book
event), not wall time. `busy_poll`: the simulator's loop spins on its sockets instead of sleeping in `select`
(see `tickgate.host.exchange.server`; a core for its life), so a client's write does not pay its wake-up.
`cpus`: the CPUs it may run on (`tickgate run --cpu N` keeps it off N: woken on the trader's CPU, it would take
that CPU from the trader on the way back from the trader's write, as a remote exchange never does).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from multiprocessing.connection import Connection

import numpy as np

from tickgate.protocol.events import EVENT_DTYPE, EventKind

from .matching import Fill

__all__ = ["Fill", "SimExchange"]

_BBO = int(EventKind.BBO)


class SimExchange:
    """Handle of the simulator process; use as a context manager or `start()` / `close()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, username: str = "tick", password: str = "gate",
                 session: str = "SIMEXCH001", heartbeat_interval: float = 1.0, client_timeout: float = 15.0,
                 max_shares: int = 1_000_000, fix_port: int | None = None, fix_clients: tuple[str, ...] = ("TICKGATE",),
                 fix_sender: str = "SIMEXCH", fix_store: str | None = None, fix_log: str | None = None,
                 busy_poll: bool = False, cpus: set[int] | None = None) -> None:
        self._where = (host, port)
        self.username, self.password, self.session = username, password, session  # what a client logs in with
        self._options = dict(username=username, password=password, session=session,
                             heartbeat_interval=heartbeat_interval, client_timeout=client_timeout,
                             max_shares=max_shares, busy_poll=busy_poll)
        self.busy_poll = busy_poll
        self.cpus = cpus  # the CPUs the simulator may run on (None: any)
        if fix_port is not None:  # a FIX 4.4 acceptor beside (0: any free port), for these client comp IDs
            self._options["fix"] = dict(port=fix_port, sender=fix_sender, clients=tuple(fix_clients), store=fix_store,
                                        log=fix_log)
        self.fix_sender = fix_sender
        self.fix_address: tuple[str, int] | None = None
        self._conn: Connection | None = None
        self._proc: subprocess.Popen | None = None
        self._fills: list[Fill] = []
        self.address: tuple[str, int] = (host, port)

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> SimExchange:
        """Start the simulator process; returns once it listens (`address` is then its host and port)."""
        parent, child = socket.socketpair()
        config = json.dumps({"fd": child.fileno(), "host": self._where[0], "port": self._where[1],
                             "options": self._options})
        self._proc = subprocess.Popen([sys.executable, "-m", "tickgate.host.exchange.server", config],
                                      pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL)
        if hasattr(os, "sched_setscheduler"):  # it stands in for a remote exchange: never preempt the trader
            with contextlib.suppress(OSError):  # on waking (a batch task waits for the tick)
                os.sched_setscheduler(self._proc.pid, os.SCHED_BATCH, os.sched_param(0))
        if self.cpus:  # off the trader's core, as a remote exchange is
            os.sched_setaffinity(self._proc.pid, self.cpus)
        child.close()
        self._conn = Connection(parent.detach())
        try:
            if not self._conn.poll(timeout):
                raise TimeoutError(f"exchange simulator did not start within {timeout} s")
            status, value = self._conn.recv()
        except (EOFError, TimeoutError) as exc:
            self._proc.kill()
            self._stop_process()
            raise OSError(f"exchange simulator failed to start: {exc or 'it exited'}") from exc
        if status != "ready":
            self._stop_process()
            raise OSError(f"exchange simulator could not listen on {self._where}: {value}")
        address, fix_port = value
        self.address = tuple(address)  # type: ignore[assignment]
        if fix_port is not None:
            self.fix_address = (self.address[0], fix_port)
        return self

    def _stop_process(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover - only if the child hangs
                self._proc.kill()
                self._proc.wait()

    def close(self) -> None:
        """End of Session to every client, then stop the process (idempotent)."""
        if self._conn is None:
            return
        with contextlib.suppress(EOFError, OSError):
            self._call("close")
        self._stop_process()

    def __enter__(self) -> SimExchange:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the market -----------------------------------------------------------------------------------------------

    def set_symbols(self, symbols: dict[int, str]) -> None:
        """The locate -> symbol map of the replayed feed (orders in other symbols: 'Invalid Symbol')."""
        self._call("symbols", {int(k): str(v) for k, v in symbols.items()})

    def share_book(self, top: object) -> bool:
        """The simulator keeps its own book, out of process (`update_book`)."""
        return False

    def update_book(self, events: np.ndarray) -> None:
        """Apply a batch of event records (EVENT_DTYPE): first every order already sent, then the BBO events."""
        if events.dtype != EVENT_DTYPE:
            raise TypeError(f"update_book takes EVENT_DTYPE records, not {events.dtype}")
        bbo = events[events["kind"] == _BBO]
        self._call("book", bbo.tobytes()) if len(bbo) else self._call("sync")

    def sync(self) -> None:
        """Process every message the clients have already written (what `update_book` does first)."""
        self._call("sync")

    def hold_input(self) -> None:
        """Stop reading the clients until `drop_connections`, which discards what they wrote meanwhile: a link
        that stalls, then drops, losing what was in flight (for tests of what a client re-sends)."""
        self._call("hold")

    def drop_connections(self) -> None:
        """Reset every client connection without End of Session (a dropped link, for tests of reconnects)."""
        self._call("drop")

    @property
    def fills(self) -> list[Fill]:
        """Every execution so far, in order."""
        self._fills += self._call("fills", len(self._fills))
        return list(self._fills)

    def summary(self) -> dict[str, object]:
        """Orders, accepted, rejected, fills, shares bought and sold, net position per symbol, every counter."""
        return self._call("summary")

    @property
    def pid(self) -> int | None:
        """The simulator process's id while it runs (to pin it, or to watch it)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def counters(self) -> dict[str, int]:
        return self.summary()["counters"]  # type: ignore[return-value]

    def _call(self, *cmd: object) -> object:
        if self._conn is None:
            raise RuntimeError("the exchange simulator is not running: start() it first")
        self._conn.send(cmd)
        return self._conn.recv()
