"""The simulator's SoupBinTCP server: one thread, one select loop, run in a process of its own by `SimExchange`.

Accepts SoupBinTCP sessions (login `username`/`password`, one sequenced stream per user, replayed from the
requested sequence number on every login), heartbeats idle connections, drops clients silent past
`client_timeout`, and hands OUCH messages to the `Matcher`. Commands from the parent arrive on a
`multiprocessing` connection and are answered on it: ("symbols", dict), ("book", bytes of BBO records),
("sync",), ("hold",), ("drop",), ("summary",), ("fills",), ("close",). ("hold",) stops reading the clients
until the next ("drop",), which then discards what they wrote meanwhile (a link that stalls, then drops).
Before a book update (and on "sync") every socket (unless held)
is drained first, so an order written before the command is matched against the book before it. With `fix`
options, a QuickFIX acceptor (`FixAcceptor`) serves FIX 4.4 sessions beside, over the same matcher, polled
from the same loop.

By default the loop sleeps in `select` until a socket is readable. With `busy_poll` it never sleeps: `select`
with no timeout, over and over, as an exchange's gateway spins on its sockets. A client's write then finds the
loop running, and the client's `send` does not pay the simulator's wake-up (on loopback the kernel runs the
receiver's side, its wake-up included, inside the sender's system call). It costs a core for the simulator's
life.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import numpy as np

from tickgate.protocol import soupbintcp as soup
from tickgate.protocol.events import EVENT_DTYPE

from .matching import Matcher

__all__ = ["SimServer", "main", "serve"]

COUNTERS = ("connections", "logins", "login_rejects", "logouts", "client_timeouts", "heartbeats_sent",
            "heartbeats_received", "unsequenced", "unknown_packets", "not_logged_in",
            "closed_by_client", "packets_at_close", "partial_at_close")
_HEARTBEAT = soup.encode("H")
_END = soup.encode("Z")
_LINGER_RESET = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # SO_LINGER on, 0 s: close sends a reset


@dataclass
class _Conn:
    sock: socket.socket
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    user: str = ""  # set once logged in
    last_recv: float = 0.0
    last_sent: float = 0.0
    closing: bool = False


class SimServer:
    """The server state: listener, connections, per-user sequenced streams, the matcher."""

    def __init__(self, host: str, port: int, *, username: str, password: str, session: str,
                 heartbeat_interval: float, client_timeout: float, max_shares: int, fix: dict | None = None,
                 busy_poll: bool = False) -> None:
        self.busy_poll = busy_poll
        self._hold = False  # not reading the clients until the next drop
        self.username, self.password, self.session = username, password, session
        self.heartbeat_interval, self.client_timeout = heartbeat_interval, client_timeout
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.matcher = Matcher(self._emit, max_shares=max_shares)
        self._streams: dict[str, list[bytes]] = {}  # user -> sequenced payloads (sequence n at index n-1)
        self._conns: dict[socket.socket, _Conn] = {}
        self.listener = socket.create_server((host, port))
        self.listener.setblocking(False)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self.fix = None
        if fix is not None:
            from .fix_acceptor import FixAcceptor

            self.fix = FixAcceptor(self.matcher, **fix)

    def serve(self, control: Connection) -> None:
        """Run until ("close",) arrives or the parent goes away."""
        tick = min(self.heartbeat_interval, 0.05 if self.fix is None else 0.001)  # FIX sockets are the engine's
        if self.busy_poll:
            tick = 0.0
        running = True
        while running:
            writers = [s for s, c in self._conns.items() if c.outbuf]
            clients = self._conns if not self._hold else ()
            readable, _, _ = select.select([self.listener, control, *clients], writers, [], tick)
            if self.listener in readable:
                self._accept()
            if not self._hold:
                self._drain()
            if control in readable:
                running = self._command(control)
            self._timers(time.monotonic())
            self._flush_all()
        self.listener.close()
        if self.fix is not None:
            self.fix.close()

    def _command(self, control: Connection) -> bool:
        try:
            cmd, *args = control.recv()
        except (EOFError, OSError):
            self.end_session()
            return False
        reply: object = None
        if cmd == "book":
            self.matcher.update_book(np.frombuffer(args[0], dtype=EVENT_DTYPE))
        elif cmd == "symbols":
            self.matcher.set_symbols(args[0])
        elif cmd == "hold":
            self._hold = True
        elif cmd == "drop":
            self._drop_all()
            self._hold = False
            if self.fix is not None:
                self.fix.drop()
        elif cmd == "fills":
            reply = self.matcher.fills[args[0]:]
        elif cmd == "summary":
            reply = self._summary()
        elif cmd == "close":
            self.end_session()
        self._flush_all()
        control.send(reply)
        return cmd != "close"

    def end_session(self) -> None:
        """End of Session to every logged-in client, then close every connection."""
        for c in list(self._conns.values()):
            if c.user:
                self._send(c, _END)
            self._close(c)

    def _drop_all(self) -> None:
        for c in list(self._conns.values()):
            with contextlib.suppress(OSError):
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            c.outbuf.clear()
            self._close(c)

    def _summary(self) -> dict[str, object]:
        fills = self.matcher.fills
        position: dict[str, int] = {}
        for f in fills:
            position[f.symbol] = position.get(f.symbol, 0) + (f.shares if f.side == "B" else -f.shares)
        c = self.matcher.counters
        return {"orders": c["orders"], "accepted": c["accepted"], "rejected": c["rejected"], "fills": len(fills),
                "bought": sum(f.shares for f in fills if f.side == "B"),
                "sold": sum(f.shares for f in fills if f.side == "S"), "position": position,
                "counters": {**self.counters, **c, **(self.fix.counters if self.fix is not None else {})}}

    # --- sessions -------------------------------------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, OSError):
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            now = time.monotonic()
            self._conns[sock] = _Conn(sock, last_recv=now, last_sent=now)
            self.counters["connections"] += 1

    def _drain(self) -> None:
        """Read and process everything every client has written so far (never blocks). A client's close (or
        reset) is handled after every whole packet read before it (`packets_at_close`); the bytes of a packet it
        left unfinished are counted (`partial_at_close`) and dropped."""
        for c in list(self._conns.values()):
            closed = False
            while True:
                try:
                    chunk = c.sock.recv(1 << 16)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    chunk = b""
                if not chunk:
                    closed = True
                    break
                c.inbuf += chunk
                c.last_recv = time.monotonic()
            packets, used = soup.split(c.inbuf)
            del c.inbuf[:used]
            for pkt in packets:
                if c.closing:
                    break
                self._on_packet(c, pkt)
                self.counters["packets_at_close"] += closed
            if closed and not c.closing:
                self.counters["closed_by_client"] += 1
                self.counters["partial_at_close"] += bool(c.inbuf)
                self._close(c)
        if self.fix is not None:
            self.fix.pump()

    def _on_packet(self, c: _Conn, pkt: bytes) -> None:
        kind = chr(pkt[2]) if len(pkt) >= 3 else ""
        if kind == "U":
            if not c.user:
                self.counters["not_logged_in"] += 1
                return
            self.counters["unsequenced"] += 1
            self.matcher.on_message(c.user, pkt[3:])
        elif kind == "R":
            self.counters["heartbeats_received"] += 1
        elif kind == "L" and not c.user:
            self._login(c, pkt)
        elif kind == "O":
            self.counters["logouts"] += 1
            self._close(c)
        elif kind != "+":
            self.counters["unknown_packets"] += 1

    def _login(self, c: _Conn, pkt: bytes) -> None:
        try:
            _, f = soup.decode(pkt)
        except soup.SoupError:
            self.counters["unknown_packets"] += 1
            self._close(c)
            return
        assert isinstance(f, dict)
        reason = ""
        if (f["username"], f["password"]) != (self.username, self.password):
            reason = "A"
        elif f["requested_session"] not in ("", self.session):
            reason = "S"
        if reason:
            self.counters["login_rejects"] += 1
            self._send(c, soup.encode("J", reject_reason_code=reason))
            self._close(c)
            return
        user = str(f["username"])
        stream = self._streams.setdefault(user, [])
        seq = int(f["requested_sequence_number"])
        seq = len(stream) + 1 if seq == 0 or seq > len(stream) + 1 else seq
        c.user = user
        self.counters["logins"] += 1
        self._send(c, soup.encode("A", session=self.session, sequence_number=seq))
        for payload in stream[seq - 1:]:
            self._send(c, soup.frame("S", payload))

    def _emit(self, user: str, payload: bytes) -> None:
        """A sequenced message for `user`: kept for replay, sent to the user's live connections (a FIX user's goes
        to its FIX session)."""
        if user.startswith("fix:") and self.fix is not None:
            self.fix.emit(user, payload)
            return
        self._streams.setdefault(user, []).append(payload)
        packet = soup.frame("S", payload)
        for c in self._conns.values():
            if c.user == user and not c.closing:
                self._send(c, packet)

    def _timers(self, now: float) -> None:
        for c in list(self._conns.values()):
            if now - c.last_recv > self.client_timeout:
                self.counters["client_timeouts"] += 1
                self._close(c)
            elif c.user and now - c.last_sent >= self.heartbeat_interval:
                self.counters["heartbeats_sent"] += 1
                self._send(c, _HEARTBEAT)

    # --- bytes ----------------------------------------------------------------------------------------------------

    def _send(self, c: _Conn, data: bytes) -> None:
        c.outbuf += data
        c.last_sent = time.monotonic()

    def _flush(self, c: _Conn) -> None:
        if not c.outbuf or c.closing:
            return
        try:
            n = c.sock.send(c.outbuf)
        except BlockingIOError:
            return
        except OSError:
            self._close(c)
            return
        del c.outbuf[:n]

    def _flush_all(self) -> None:
        for c in list(self._conns.values()):
            self._flush(c)

    def _close(self, c: _Conn) -> None:
        if c.closing:
            return
        c.closing = True  # first: a failing last send cannot come back here
        if c.outbuf:
            with contextlib.suppress(OSError):
                c.sock.send(c.outbuf)
        self._conns.pop(c.sock, None)
        with contextlib.suppress(OSError):
            c.sock.close()


def main(argv: list[str]) -> None:
    """`python -m tickgate.host.exchange.server CONFIG_JSON`: the control connection is the inherited fd."""
    config = json.loads(argv[0])
    serve(Connection(config["fd"]), config["host"], config["port"], config["options"])


def serve(control: Connection, host: str, port: int, options: dict) -> None:
    """The child process: bind, report the address (or the error), serve until told to close."""
    try:
        server = SimServer(host, port, **options)
    except OSError as exc:
        control.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    control.send(("ready", (server.address, server.fix.port if server.fix is not None else None)))
    server.serve(control)


if __name__ == "__main__":
    main(sys.argv[1:])
