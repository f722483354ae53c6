"""A SoupBinTCP 3.0 client session: non-blocking, driven by the caller's loop through `poll()`.

Login with a requested session and sequence number; a client heartbeat whenever nothing was sent for
`heartbeat_interval` seconds; the server's silence past `server_timeout` seconds, a closed or reset
connection are a dropped link, after which the session reconnects (every `reconnect_delay` seconds until it
succeeds) and logs in to the same session asking for the next sequence number (last received + 1), so
nothing is received twice or lost. Login rejected raises `LoginRejectedError` with the server's reason. No
threads: every step happens in `poll()` (or `connect()`, which polls until logged in). TCP_NODELAY is set.

With a `writer` (the native order path's `tickgate._driver.SoupWriter`), every byte the session sends goes
through it, so packets the native path writes on the same socket never interleave with the session's.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from enum import StrEnum

from tickgate.protocol import soupbintcp as soup

__all__ = ["LoginRejectedError", "SessionDownError", "SessionState", "SoupBinClient"]

COUNTERS = (
    "sequenced", "unsequenced_sent", "heartbeats_received", "heartbeats_sent", "debug_received", "logins",
    "login_rejects", "link_drops", "server_timeouts", "login_timeouts", "connect_failures", "reconnects",
    "end_of_session", "malformed", "unknown_packets", "logouts", "logout_closes", "logout_timeouts",
)
_HEARTBEAT = soup.encode("R")
_LOGOUT = soup.encode("O")
_RECV = 1 << 16


class SessionState(StrEnum):
    DISCONNECTED = "disconnected"  # waiting to (re)connect
    CONNECTING = "connecting"  # TCP connect in progress
    LOGGING_IN = "logging in"  # login request sent, no answer yet
    ACTIVE = "active"
    ENDED = "ended"  # the server sent End of Session
    CLOSED = "closed"  # logged out, closed, or login rejected


class LoginRejectedError(ConnectionError):
    """The server rejected the login: `code` is the SoupBinTCP reason ('A' not authorized, 'S' session)."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"SoupBinTCP login rejected: {soup.LOGIN_REJECT_REASONS.get(code, 'unknown reason')} "
                         f"(code {code!r})")


class SessionDownError(ConnectionError):
    """Data cannot be sent: the session is not logged in."""


class SoupBinClient:
    """One SoupBinTCP client session to `host:port`; call `poll()` often (it never blocks)."""

    def __init__(self, host: str, port: int, username: str, password: str, session: str = "", sequence: int = 1,
                 *, heartbeat_interval: float = 1.0, server_timeout: float = 15.0, reconnect: bool = True,
                 reconnect_delay: float = 0.25, login_timeout: float = 5.0) -> None:
        self.address = (host, port)
        self.username, self.password = username, password
        self.session = session  # requested session; the server's name for it once logged in
        self.next_sequence = sequence  # sequence number of the next sequenced message expected
        self.heartbeat_interval, self.server_timeout = heartbeat_interval, server_timeout
        self.reconnect, self.reconnect_delay, self.login_timeout = reconnect, reconnect_delay, login_timeout
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.state = SessionState.DISCONNECTED
        self.last_debug = ""
        self._sock: socket.socket | None = None
        self._ready: select.epoll | select.poll | None = None  # readiness check: cheaper than a failing recv
        self._inbuf = bytearray()
        self._outbuf = bytearray()
        self._last_recv = self._last_sent = self._started = 0.0
        self._retry_at = 0.0
        self._ever_logged_in = False
        self._pending: list[bytes] = []
        self._logging_out = False
        self._caught_up = False  # a server heartbeat has come since the last login: its replay is all here
        self.writer = None  # a native SoupWriter sharing the socket (the native order path's), or None
        self._writer_sock: socket.socket | None = None  # the socket the writer was last attached to

    # --- public -------------------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.state is SessionState.ACTIVE

    @property
    def caught_up(self) -> bool:
        """Logged in, and a server heartbeat has arrived since: the server replays every sequenced message from
        the requested sequence number right after accepting a login and heartbeats only when it has nothing
        else to send, so every message it had for us is in."""
        return self.state is SessionState.ACTIVE and self._caught_up

    def connect(self, timeout: float = 5.0) -> SoupBinClient:
        """Connect and log in, polling until the session is active; raises on rejection or after `timeout` s.

        Sequenced messages that arrive while connecting are kept for the next `poll()`.
        """
        deadline = time.monotonic() + timeout
        while not self.active:
            if self.state in (SessionState.ENDED, SessionState.CLOSED):
                raise SessionDownError(f"SoupBinTCP session to {self.address} is {self.state}")
            if time.monotonic() > deadline:
                self._drop("login_timeouts")
                raise TimeoutError(f"SoupBinTCP session to {self.address[0]}:{self.address[1]} not logged in "
                                   f"after {timeout} s")
            self._pending += self.poll()
            time.sleep(0.0005)
        return self

    def poll(self) -> list[bytes]:
        """Progress the session; returns the payloads of the sequenced messages received, in order."""
        out: list[bytes] = []
        if self._pending:
            out, self._pending = self._pending, out
        now = time.monotonic()
        st = self.state
        if st is SessionState.ACTIVE or st is SessionState.LOGGING_IN:
            self._read(now, out)
            if self.state is SessionState.ACTIVE:
                if self._outbuf or (self.writer is not None and self.writer.pending):
                    self._flush()
                if now - self._last_sent >= self.heartbeat_interval:
                    self._write(_HEARTBEAT)
                    self.counters["heartbeats_sent"] += 1
                if now - self._last_recv > self.server_timeout and self.state is SessionState.ACTIVE:
                    self._drop("server_timeouts")
            elif self.state is SessionState.LOGGING_IN and now - self._started > self.login_timeout:
                self._drop("login_timeouts")
        elif st is SessionState.CONNECTING:
            self._check_connected(now)
        elif st is SessionState.DISCONNECTED and now >= self._retry_at:
            self._start_connect(now)
        return out

    def send(self, payload: bytes) -> int:
        """Send one unsequenced message; returns time.perf_counter_ns() right after the bytes were written."""
        if self.state is not SessionState.ACTIVE:
            raise SessionDownError(f"SoupBinTCP session is {self.state}: message not sent")
        self._write(soup.frame("U", payload))
        t = time.perf_counter_ns()
        if self.state is not SessionState.ACTIVE:
            raise SessionDownError("SoupBinTCP link dropped while sending: message not sent")
        self.counters["unsequenced_sent"] += 1
        return t

    def logout(self, timeout: float = 1.0) -> list[bytes]:
        """Send a Logout Request, wait for the server to end the session (its close of the connection or an End
        of Session) for at most `timeout` s, then close; the session does not reconnect. Everything sent before
        reaches the server, and the sequenced messages that arrive meanwhile are returned, not lost (counted
        `logouts`; a server still silent after `timeout` also `logout_timeouts`)."""
        out: list[bytes] = []
        if self.state is SessionState.ACTIVE:
            self.reconnect = False
            self._logging_out = True
            self._write(_LOGOUT)
            deadline = time.monotonic() + timeout
            while self.state is SessionState.ACTIVE:
                if time.monotonic() > deadline:
                    self.counters["logout_timeouts"] += 1
                    break
                if self._outbuf:
                    self._flush()
                if self._sock is not None:
                    self._read(time.monotonic(), out)
                time.sleep(0.0002)
            self.counters["logouts"] += 1
        self.close()
        return out

    def close(self) -> None:
        self._close_socket()
        if self.state is not SessionState.ENDED:
            self.state = SessionState.CLOSED

    # --- connection -----------------------------------------------------------------------------------------------

    def _start_connect(self, now: float) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self._sock, self._started = sock, now
        if hasattr(select, "epoll"):
            self._ready = select.epoll()
            self._ready.register(sock.fileno(), select.EPOLLIN)
        else:  # pragma: no cover - not Linux
            self._ready = select.poll()
            self._ready.register(sock.fileno(), select.POLLIN)
        self._inbuf.clear()
        self._outbuf.clear()
        err = sock.connect_ex(self.address)
        if err in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            self.state = SessionState.CONNECTING
            if err == 0:
                self._check_connected(now)
        else:
            self._connect_failed(now)

    def _check_connected(self, now: float) -> None:
        assert self._sock is not None
        err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            try:
                self._sock.getpeername()
            except OSError:  # still in progress
                if now - self._started > self.login_timeout:
                    self._connect_failed(now)
                return
            if self._ever_logged_in:
                self.counters["reconnects"] += 1
            self.state = SessionState.LOGGING_IN
            self._last_recv = now
            self._write(soup.encode("L", username=self.username, password=self.password,
                                    requested_session=self.session, requested_sequence_number=self.next_sequence))
        elif err not in (errno.EINPROGRESS, errno.EALREADY):
            self._connect_failed(now)

    def _connect_failed(self, now: float) -> None:
        self.counters["connect_failures"] += 1
        self._close_socket()
        self.state = SessionState.DISCONNECTED
        self._retry_at = now + self.reconnect_delay
        if not self.reconnect and not self._ever_logged_in:
            self.state = SessionState.CLOSED
            raise ConnectionRefusedError(f"SoupBinTCP: cannot connect to {self.address[0]}:{self.address[1]}")

    def _drop(self, counter: str) -> None:
        """The link is gone: count why, close, and reconnect later (if allowed)."""
        self.counters[counter] += 1
        self._close_socket()
        if self.state in (SessionState.ENDED, SessionState.CLOSED):
            return
        self.state = SessionState.DISCONNECTED if self.reconnect else SessionState.CLOSED
        self._retry_at = time.monotonic() + self.reconnect_delay

    def _close_socket(self) -> None:
        if self._ready is not None:
            if isinstance(self._ready, select.epoll):
                self._ready.close()
            self._ready = None
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    # --- bytes ----------------------------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        w = self.writer
        if w is not None:
            sock = self._sock
            assert sock is not None
            if self._writer_sock is not sock:  # a new connection (its fd number may be the last one's)
                w.attach(sock.fileno())
                self._writer_sock = sock
            if not w.write(data):
                self._drop("link_drops")
                return
            self._last_sent = time.monotonic()
            return
        if self._outbuf:
            self._outbuf += data
            self._flush()
            return
        assert self._sock is not None
        try:
            n = self._sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError:
            self._drop("link_drops")
            return
        if n < len(data):
            self._outbuf += data[n:]
        self._last_sent = time.monotonic()

    def _flush(self) -> None:
        assert self._sock is not None
        if self.writer is not None and self._writer_sock is self._sock:
            if not self.writer.flush():
                self._drop("link_drops")
            else:
                self._last_sent = time.monotonic()
            return
        try:
            n = self._sock.send(self._outbuf)
        except BlockingIOError:
            return
        except OSError:
            self._drop("link_drops")
            return
        del self._outbuf[:n]
        self._last_sent = time.monotonic()

    def _read(self, now: float, out: list[bytes]) -> None:
        sock = self._sock
        assert sock is not None and self._ready is not None
        if not self._ready.poll(0):
            return
        got = False
        while True:
            try:
                chunk = sock.recv(_RECV)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._drop("link_drops")
                break
            if not chunk:
                self._drop("logout_closes" if self._logging_out else "link_drops")
                break
            self._inbuf += chunk
            got = True
            if len(chunk) < _RECV:
                break
        if not got:
            return
        self._last_recv = now
        packets, used = soup.split(self._inbuf)
        del self._inbuf[:used]
        for pkt in packets:
            self._on_packet(pkt, out)
            if self.state is not SessionState.ACTIVE and self.state is not SessionState.LOGGING_IN:
                break

    def _on_packet(self, pkt: bytes, out: list[bytes]) -> None:
        kind = chr(pkt[2]) if len(pkt) >= 3 else ""
        if kind == "S":
            if self.state is not SessionState.ACTIVE:
                self.counters["malformed"] += 1  # sequenced data before login accepted
                return
            out.append(pkt[3:])
            self.next_sequence += 1
            self.counters["sequenced"] += 1
        elif kind == "H":
            self.counters["heartbeats_received"] += 1
            self._caught_up = self.state is SessionState.ACTIVE
        elif kind == "A" or kind == "J":
            try:
                _, fields = soup.decode(pkt)
            except soup.SoupError:
                self.counters["malformed"] += 1
                return
            assert isinstance(fields, dict)
            if kind == "A":
                self.session = str(fields["session"])
                self.next_sequence = int(fields["sequence_number"])
                self.state = SessionState.ACTIVE
                self._caught_up = False
                self._ever_logged_in = True
                self.counters["logins"] += 1
            else:
                self.counters["login_rejects"] += 1
                self.close()
                raise LoginRejectedError(str(fields["reject_reason_code"]))
        elif kind == "Z":
            self.counters["end_of_session"] += 1
            self.state = SessionState.ENDED
            self._close_socket()
        elif kind == "+":
            self.counters["debug_received"] += 1
            self.last_debug = pkt[3:].decode("ascii", "replace")
        elif kind in soup.BY_TYPE:
            self.counters["malformed"] += 1  # a client packet type from the server
        else:
            self.counters["unknown_packets"] += 1
