"""The control socket: ZeroMQ REP, JSON requests, bound to 127.0.0.1 unless told otherwise.

Requests (one JSON object each), answers (one JSON object, `ok` true or false):
  {"cmd": "status"}                    -> counters, positions, P&L, limits, kill state
  {"cmd": "kill", "reason": "..."}     -> throws the kill switch, cancels every open order
  {"cmd": "reset"}                     -> clears the kill switch
  {"cmd": "reload"}                    -> re-reads the limits file given to the run (--limits)
  {"cmd": "reload", "limits": {...}}   -> sets these limits (the others keep their values)
  {"cmd": "stop"}                      -> ends the run after the current packet
The run loop polls it without blocking (`poll`), so handlers run on the loop's thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import zmq

__all__ = ["ControlServer"]


class ControlServer:
    """A REP socket; `poll()` answers whatever requests are waiting, by calling `handler(request) -> dict`."""

    def __init__(self, handler: Callable[[dict], dict], endpoint: str = "tcp://127.0.0.1:0",
                 context: zmq.Context | None = None) -> None:
        self.handler = handler
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        if endpoint.endswith(":0"):
            base = endpoint[: endpoint.rindex(":")]
            self.sock.bind_to_random_port(base)
        else:
            self.sock.bind(endpoint)
        self.endpoint = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.requests = 0
        self.bad_requests = 0

    def poll(self, timeout_ms: int = 0) -> int:
        """Answer the waiting requests; how many."""
        n = 0
        while self.sock.poll(timeout_ms if n == 0 else 0):
            raw = self.sock.recv()
            self.requests += 1
            try:
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
