"""The control socket: ZeroMQ REP, JSON requests, bound to 127.0.0.1 unless told otherwise.

Requests (one JSON object each), answers (one JSON object, `ok` true or false):
  {"cmd": "status"}                    -> counters, positions, P&L, limits, kill state
  {"cmd": "kill", "reason": "..."}     -> throws the kill switch, cancels every open order
  {"cmd": "reset"}                     -> clears the kill switch
  {"cmd": "reload"}                    -> re-reads the limits file given to the run (--limits)
  {"cmd": "reload", "limits": {...}}   -> sets these limits (the others keep their values)
  {"cmd": "stop"}                      -> ends the run after the current packet
The run loop polls it without blocking (`poll`), so handlers run on the loop's thread.

Bad requests never stop the run: malformed JSON, a non-object, an unknown command, bad arguments or a request
longer than `MAX_REQUEST_BYTES` get an answer `{"ok": false, "error": ...}` and are counted (`bad_requests`).
A message longer than `MAX_MESSAGE_BYTES` is not read at all: ZeroMQ drops that peer's connection (its client
sees no answer) and the socket goes on serving the others.

Who can reach it: a `tcp://127.0.0.1` endpoint (the default) is reachable by every user and process of this
machine, none other; a `tcp://` endpoint on another address by whoever can route to it; an `ipc://PATH`
endpoint by its owner only (and root): the socket file is created with mode 0600 and the server refuses to
run if it is not.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import stat
import sys
from collections.abc import Callable

import zmq

__all__ = ["MAX_MESSAGE_BYTES", "MAX_REQUEST_BYTES", "ControlServer", "request"]

MAX_REQUEST_BYTES = 64 << 10  # a longer request is answered with an error
MAX_MESSAGE_BYTES = 1 << 20  # a longer message is never read: ZeroMQ drops the connection that sent it


def _loopback(endpoint: str) -> bool:
    host = endpoint.removeprefix("tcp://").rsplit(":", 1)[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _bind_ipc_owner_only(sock: zmq.Socket, endpoint: str) -> None:
    """Bind an ipc:// endpoint whose socket file only its owner can use (mode 0600); OSError if it is not."""
    path = endpoint.removeprefix("ipc://")
    old = os.umask(0o077)  # the file is born 0600: no window in which others could connect
    try:
        sock.bind(endpoint)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    mode = os.stat(path).st_mode
    if not stat.S_ISSOCK(mode) or mode & 0o077 or os.stat(path).st_uid != os.getuid():
        sock.close()
        raise OSError(f"control socket {path}: not an owner-only socket (mode {stat.filemode(mode)})")


class ControlServer:
    """A REP socket; `poll()` answers whatever requests are waiting, by calling `handler(request) -> dict`."""

    def __init__(self, handler: Callable[[dict], dict], endpoint: str = "tcp://127.0.0.1:0",
                 context: zmq.Context | None = None) -> None:
        self.handler = handler
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        if endpoint.startswith("ipc://"):
            _bind_ipc_owner_only(self.sock, endpoint)
        elif endpoint.endswith(":0"):
            base = endpoint[: endpoint.rindex(":")]
            self.sock.bind_to_random_port(base)
        else:
            self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        if self.endpoint.startswith("tcp://") and not _loopback(self.endpoint):
            print(f"tickgate: the control socket {self.endpoint} is reachable from other machines: whoever reaches "
                  f"it can stop the run and throw or reset the kill switch", file=sys.stderr)
        self.requests = 0
        self.bad_requests = 0

    def poll(self, timeout_ms: int = 0) -> int:
        """Answer the waiting requests; how many."""
        n = 0
        while self.sock.poll(timeout_ms if n == 0 else 0):
            raw = self.sock.recv()
            self.requests += 1
            try:
                if len(raw) > MAX_REQUEST_BYTES:
                    raise ValueError(f"a request of {len(raw)} bytes is longer than {MAX_REQUEST_BYTES}")
                req = json.loads(raw)
                if not isinstance(req, dict) or "cmd" not in req:
                    raise ValueError("a request is a JSON object with a 'cmd'")
                reply = {"ok": True} | self.handler(req)
            except Exception as e:  # an answer for every request, whatever went wrong
                self.bad_requests += 1
                reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            self.sock.send(json.dumps(reply, default=str).encode())
            n += 1
        return n

    def close(self) -> None:
        self.sock.close()
        if self.endpoint.startswith("ipc://"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.endpoint.removeprefix("ipc://"))


def request(endpoint: str, req: dict, timeout_ms: int = 5000) -> dict:
    """Send one request to a control socket and return its answer (a client helper)."""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, timeout_ms)
    s.setsockopt(zmq.SNDTIMEO, timeout_ms)
    try:
        s.connect(endpoint)
        s.send(json.dumps(req).encode())
        return json.loads(s.recv())
    finally:
        s.close()
