"""The SoupBinTCP client session against a server built on Nasdaq's own `nasdaq-protocols` package."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import attrs
import pytest

soup = pytest.importorskip("nasdaq_protocols.soup")

from tickgate.host.orders.soupbin import (  # noqa: E402
    LoginRejectedError,
    SessionDownError,
    SessionState,
    SoupBinClient,
)

SESSION = "PEER000001"


@dataclass
class Stream:
    """What the peer serves and saw: one sequenced stream, shared by every connection to it."""

    messages: list[bytes] = field(default_factory=list)
    received: list[bytes] = field(default_factory=list)
    logins: list[tuple[str, str, int]] = field(default_factory=list)
    sessions: list[PeerSession] = field(default_factory=list)  # logged in and live
    created: list[PeerSession] = field(default_factory=list)  # every connection, to close at the end
    client_heartbeats: int = 0
    mute: bool = False  # stop server heartbeats (a silent link)
    #: the sequenced answers to an unsequenced message (default: an echo); None: the message is lost unread
    answer: Callable[[bytes], list[bytes] | None] = lambda data: [b"echo:" + data]
    hold: bool = False  # answers are kept for replay but not sent live (the link breaks before they arrive)


@attrs.define(auto_attribs=True)
class PeerSession(soup.SoupServerSession):
    """A nasdaq-protocols SoupBinTCP server session: logs in `tick`/`gate`, replays from the requested sequence,
    echoes each unsequenced message as a sequenced one."""

    stream: Stream = attrs.field(kw_only=True, default=None)

    async def on_login(self, msg: soup.LoginRequest) -> soup.LoginAccepted | soup.LoginRejected:
        if (msg.user, msg.password) != ("tick", "gate"):
            return soup.LoginRejected("A")
        if msg.session not in ("", SESSION):
            return soup.LoginRejected("S")
        seq = int(msg.sequence) or len(self.stream.messages) + 1
        self.stream.logins.append((msg.user, msg.session, seq))
        asyncio.get_running_loop().call_soon(self._replay, seq)  # after the Login Accepted is written
        return soup.LoginAccepted(SESSION, seq)

    def _replay(self, seq: int) -> None:
        for payload in self.stream.messages[seq - 1:]:
            self.send_seq_msg(payload)
        self.stream.sessions.append(self)

    async def on_unsequenced(self, msg: soup.UnSequencedData) -> None:
        answers = self.stream.answer(msg.data)
        if answers is None:
            return
        self.stream.received.append(msg.data)
        for payload in answers:
            if self.stream.hold:
                self.stream.messages.append(payload)
            else:
                _publish(self.stream, payload)

    async def send_heartbeat(self) -> None:
        if not self.stream.mute:
            await super().send_heartbeat()

    def data_received(self, data: bytes) -> None:
        self.stream.client_heartbeats += data.count(b"\x00\x01R")
        super().data_received(data)


def _publish(stream: Stream, payload: bytes) -> None:
    stream.messages.append(payload)
    for s in stream.sessions:
        if s.is_active():
            s.send_seq_msg(payload)


class Peer:
    """The nasdaq-protocols server on an asyncio loop in a thread of its own."""

    def __init__(self) -> None:
        self.stream = Stream()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        def factory() -> PeerSession:
            s = PeerSession(stream=self.stream, client_heartbeat_interval=0.1, server_heartbeat_interval=0.5)
            self.stream.created.append(s)
            return s

        self.server, self.task = self.call(soup_start_server(factory))
        self.port = self.server.sockets[0].getsockname()[1]

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(5)

    def run(self, fn: Callable[[], object]) -> None:
        async def go() -> None:
            fn()
        self.call(go())

    def publish(self, *payloads: bytes) -> None:
        self.run(lambda: [_publish(self.stream, p) for p in payloads])

    def drop_all(self) -> None:
        """Abort every live connection (a dropped link, no logout)."""
        def go() -> None:
            for s in self.stream.sessions:
                s._transport.abort()
            self.stream.sessions.clear()
        self.run(go)

    def stop(self) -> None:
        async def go() -> None:
            self.server.close()
            for s in self.stream.created:
                if s._transport is not None:
                    s._transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks, timeout=1.0)
        self.call(go())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        # the library's drain-on-close tasks never finish once their transport is gone: forget them quietly
        self.loop.set_exception_handler(lambda loop, context: None)


async def soup_start_server(factory):
    from nasdaq_protocols.common import start_server
    return await start_server(("127.0.0.1", 0), factory)


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.stop()


def _client(peer: Peer, **kw: object) -> SoupBinClient:
    opts: dict = dict(heartbeat_interval=0.1, server_timeout=0.5, reconnect_delay=0.05)
    opts.update(kw)
    return SoupBinClient("127.0.0.1", peer.port, "tick", "gate", **opts)


def _poll_until(client: SoupBinClient, done: Callable[[list[bytes]], bool], timeout: float = 5.0,
                got: list[bytes] | None = None) -> list[bytes]:
    got = [] if got is None else got
    deadline = time.monotonic() + timeout
    while not done(got):
        assert time.monotonic() < deadline, f"timed out: {client.state}, {client.counters}, {got}"
        got += client.poll()
        time.sleep(0.001)
    return got


def test_login_sequenced_data_and_unsequenced_echo(peer: Peer):
    peer.publish(b"one", b"two")
    c = _client(peer).connect()
    assert c.state is SessionState.ACTIVE and c.session == SESSION
    assert peer.stream.logins == [("tick", "", 1)]
    got = _poll_until(c, lambda g: len(g) >= 2)
    assert got == [b"one", b"two"] and c.next_sequence == 3
    t0 = time.perf_counter_ns()
    sent = c.send(b"hello")
    assert sent >= t0
    got = _poll_until(c, lambda g: len(g) >= 1)
    assert got == [b"echo:hello"] and peer.stream.received == [b"hello"]
    assert c.counters["sequenced"] == 3 and c.counters["unsequenced_sent"] == 1
    c.logout()
    assert c.state is SessionState.CLOSED
    with pytest.raises(SessionDownError):
        c.send(b"late")


def test_login_from_a_requested_sequence(peer: Peer):
    peer.publish(b"a", b"b", b"c", b"d")
    c = _client(peer, sequence=3).connect()
    assert _poll_until(c, lambda g: len(g) >= 2) == [b"c", b"d"]
    assert peer.stream.logins == [("tick", "", 3)] and c.next_sequence == 5
    c.close()


def test_heartbeats_both_ways_keep_an_idle_session_up(peer: Peer):
    c = _client(peer).connect()
    end = time.monotonic() + 1.5  # three times the server's 0.5 s silence limit, and the client's
    while time.monotonic() < end:
        assert c.poll() == []
        time.sleep(0.005)
    assert c.state is SessionState.ACTIVE
    assert c.counters["heartbeats_received"] >= 8 and c.counters["heartbeats_sent"] >= 8
    assert peer.stream.client_heartbeats >= 8
    assert c.counters["logins"] == 1 and c.counters["link_drops"] == 0 and c.counters["server_timeouts"] == 0
    c.close()


def test_dropped_connection_reconnects_and_resumes_from_the_last_sequence(peer: Peer):
    peer.publish(b"m1", b"m2", b"m3")
    c = _client(peer).connect()
    got = _poll_until(c, lambda g: len(g) >= 3)
    peer.drop_all()
    peer.publish(b"m4", b"m5")  # sent while the client is away: replayed on its next login
    got = _poll_until(c, lambda g: len(g) >= 5, got=got)
    assert got == [b"m1", b"m2", b"m3", b"m4", b"m5"]
    assert c.counters["link_drops"] == 1 and c.counters["reconnects"] == 1 and c.counters["logins"] == 2
    assert peer.stream.logins == [("tick", "", 1), ("tick", SESSION, 4)]  # resumes at last + 1, same session
    peer.publish(b"m6")
    assert _poll_until(c, lambda g: len(g) >= 1) == [b"m6"] and c.next_sequence == 7
    c.close()


def test_silent_server_is_a_dropped_link(peer: Peer):
    peer.publish(b"x1")
    c = _client(peer, server_timeout=0.3).connect()
    _poll_until(c, lambda g: len(g) >= 1)
    peer.stream.mute = True
    _poll_until(c, lambda g: c.counters["server_timeouts"] == 1)
    peer.stream.mute = False
    peer.publish(b"x2")
    got = _poll_until(c, lambda g: len(g) >= 1)
    assert got == [b"x2"] and c.active and c.counters["reconnects"] == 1
    assert peer.stream.logins[-1] == ("tick", SESSION, 2)
    c.close()


@pytest.mark.parametrize("user, password, session, reason", [
    ("tick", "wrong", "", "not authorized"), ("tick", "gate", "OTHER", "session not available")])
def test_login_rejected_is_a_clear_error(peer: Peer, user: str, password: str, session: str, reason: str):
    c = SoupBinClient("127.0.0.1", peer.port, user, password, session)
    with pytest.raises(LoginRejectedError, match=reason):
        c.connect()
    assert c.state is SessionState.CLOSED and c.counters["login_rejects"] == 1


def test_nothing_listening_is_counted_then_times_out():
    c = SoupBinClient("127.0.0.1", 1, "tick", "gate", reconnect_delay=0.01)
    with pytest.raises(TimeoutError, match="not logged in"):
        c.connect(timeout=0.2)
    assert c.counters["connect_failures"] >= 2


def test_logout_waits_for_the_server_to_end_the_session(peer: Peer):
    """Issue 17: the client used to send its Logout Request and close at once, so what the server had not read
    yet, and its answers, could be lost. Now it waits for the server's close (the nasdaq-protocols server closes
    on a Logout Request): every message sent before reaches the server and the echoes come back from logout()."""
    c = _client(peer).connect()
    sent = [b"m%d" % i for i in range(200)]
    for m in sent:
        c.send(m)
    got = c.logout(timeout=5.0)
    assert c.state is SessionState.CLOSED
    assert peer.stream.received == sent
    assert got == [b"echo:" + m for m in sent]
    assert (c.counters["logouts"], c.counters["logout_closes"], c.counters["logout_timeouts"]) == (1, 1, 0)
    assert c.counters["link_drops"] == 0


def test_logout_is_bounded_when_the_server_stays(peer: Peer):
    c = _client(peer, server_timeout=30.0).connect()
    c._write = lambda data: None  # the Logout Request never leaves: the server does not close
    t0 = time.monotonic()
    c.logout(timeout=0.2)
    assert 0.2 <= time.monotonic() - t0 < 2.0
    assert c.state is SessionState.CLOSED and c.counters["logout_timeouts"] == 1
