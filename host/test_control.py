"""The control socket under bad input: every bad request gets an error answer and the server goes on; a huge
message costs its sender the connection, not the server; ipc:// endpoints are owner-only."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator

import pytest
import zmq

from tickgate.host.control import MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES, ControlServer, request


def _echo(req: dict) -> dict:
    if req["cmd"] != "echo":
        raise ValueError(f"unknown command {req['cmd']!r}")
    return {"echo": req.get("text", "")}


@pytest.fixture
def server(tmp_path) -> Iterator[ControlServer]:
    """A control server answering `_echo` on a thread of its own until the test ends."""
    srv = ControlServer(_echo)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            srv.poll(10)

    t = threading.Thread(target=serve)
    t.start()
    yield srv
    done.set()
    t.join()
    srv.close()


def _raw(endpoint: str, payload: bytes, timeout_ms: int = 2000) -> dict | None:
    """Send raw bytes; the decoded answer, or None if none came within the timeout."""
    s = zmq.Context.instance().socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, timeout_ms)
    try:
        s.connect(endpoint)
        s.send(payload)
        return json.loads(s.recv())
    except zmq.Again:
        return None
    finally:
        s.close()


@pytest.mark.parametrize(("payload", "error"), [
    (b"{not json", "JSONDecodeError"),
    (b"\xff\xfe\x00", "UnicodeDecodeError"),
    (b"[1, 2]", "a request is a JSON object with a 'cmd'"),
    (b'{"text": "no cmd"}', "a request is a JSON object with a 'cmd'"),
    (b'{"cmd": "bogus"}', "unknown command 'bogus'"),
    (b"", "JSONDecodeError"),
    (json.dumps({"cmd": "echo", "text": "x" * MAX_REQUEST_BYTES}).encode(), "longer than 65536"),
])
def test_bad_requests_get_an_error_and_the_server_goes_on(server, payload, error):
    answer = _raw(server.endpoint, payload)
    assert answer is not None and answer["ok"] is False and error in answer["error"]
    assert request(server.endpoint, {"cmd": "echo", "text": "still here"}) == {"ok": True, "echo": "still here"}
    assert server.bad_requests == 1 and server.requests == 2


def test_a_huge_message_drops_its_sender_not_the_server(server):
    assert _raw(server.endpoint, b"x" * (2 * MAX_MESSAGE_BYTES), timeout_ms=500) is None
    assert request(server.endpoint, {"cmd": "echo", "text": "after"}) == {"ok": True, "echo": "after"}
    assert server.requests == 1  # the huge message was never read


def test_ipc_endpoint_is_owner_only_and_removed_on_close(tmp_path):
    path = tmp_path / "control.sock"
    umask = os.umask(0o022)
    try:
        srv = ControlServer(_echo, f"ipc://{path}")
    finally:
        os.umask(umask)
    assert os.umask(umask) == umask  # the server put the process umask back
    try:
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        answers: list[dict] = []
        t = threading.Thread(target=lambda: answers.append(request(srv.endpoint, {"cmd": "echo", "text": "ipc"})))
        t.start()
        while t.is_alive():
            srv.poll(10)
        t.join()
        assert answers == [{"ok": True, "echo": "ipc"}]
    finally:
        srv.close()
    assert not path.exists()


def test_a_control_socket_off_loopback_is_announced(capsys):
    srv = ControlServer(_echo, "tcp://0.0.0.0:0")
    srv.close()
    assert "reachable from other machines" in capsys.readouterr().err
    ControlServer(_echo).close()  # the loopback default says nothing
    assert capsys.readouterr().err == ""
