"""Orders in flight when the SoupBinTCP link drops, on both order paths: after the session logs in again and
catches up, every token has exactly one outcome: its answer replayed by the exchange, or REJECTED as lost
(never received, so a retry under a new token cannot make it twice). The exchange is Nasdaq's own
`nasdaq-protocols` SoupBinTCP server with our OUCH matcher behind it."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("nasdaq_protocols.soup")

from tickgate.host.exchange.matching import Matcher
from tickgate.host.exchange.test_sim import SYMBOLS, bbo
from tickgate.host.orders.native import NATIVE_AVAILABLE, NativeOuchGateway
from tickgate.host.orders.ouch_gateway import LOST_IN_DROP, OuchGateway
from tickgate.host.orders.soupbin import SessionState, SoupBinClient
from tickgate.host.orders.test_native import Host
from tickgate.host.orders.test_soupbin import Peer
from tickgate.host.orders.types import OrderRequest, OrderUpdate, Side, UpdateKind
from tickgate.host.risk import RiskLimits
from tickgate.protocol import ouch

A, J, E = UpdateKind.ACCEPTED, UpdateKind.REJECTED, UpdateKind.EXECUTED


class Exchange:
    """Our OUCH matcher answering the peer's unsequenced messages; `lose` makes it miss the next ones."""

    def __init__(self, peer: Peer) -> None:
        self.out: list[bytes] = []
        self.matcher = Matcher(lambda user, payload: self.out.append(payload))
        self.matcher.set_symbols(SYMBOLS)
        self.matcher.update_book(bbo((1, 100, 1_000_000, 300, 1_000_500, 200)))
        self.out.clear()
        self.lose = self.lost = 0
        self.tokens: list[int] = []  # tokens of the Enter Orders it received, in order
        peer.stream.answer = self.answer

    def answer(self, data: bytes) -> list[bytes] | None:
        if self.lose:
            self.lose -= 1
            self.lost += 1
            return None
        if data[:1] == b"O":
            self.tokens.append(ouch.decode(data, "in")[1]["user_ref_num"])
        self.matcher.on_message("tick", data)
        out, self.out = self.out, []
        return out


class Orders:
    """Buy orders for AAPL through either path; every update goes to the native risk as the run loop does."""

    def __init__(self, peer: Peer, native: bool) -> None:
        client = SoupBinClient("127.0.0.1", peer.port, "tick", "gate", heartbeat_interval=0.05,
                               server_timeout=1.0, reconnect_delay=0.02)
        self.gw = NativeOuchGateway(client, RiskLimits()) if native else OuchGateway(client)
        client.connect()
        self.host = Host(self.gw) if native else None
        self.token = 0

    def buy(self, shares: int, price: int) -> int:
        if self.host is not None:
            return self.host.router.buy(1, shares, price, "0")
        self.token += 1
        self.gw.enter(OrderRequest(self.token, "AAPL", Side.BUY, shares, price, "0"))
        return self.token

    def poll(self, until, timeout: float = 5.0) -> list[OrderUpdate]:
        got: list[OrderUpdate] = []
        deadline = time.monotonic() + timeout
        while not until(got):
            assert time.monotonic() < deadline, (got, self.gw.counters, self.gw.session.counters)
            for u in self.gw.poll():
                got.append(u)
                if self.host is not None:
                    self.host.risk.on_update(u)
            time.sleep(0.001)
        return got


def _wait(gw: OuchGateway, done) -> None:
    """Poll the gateway (its updates are not wanted here) until `done()`: the exchange has seen something."""
    deadline = time.monotonic() + 5
    while not done():
        assert time.monotonic() < deadline
        assert not gw.poll()
        time.sleep(0.001)


@pytest.mark.parametrize("native", [False, pytest.param(True, marks=pytest.mark.skipif(
    not NATIVE_AVAILABLE, reason="the native order path is not built"))])
def test_orders_in_flight_over_a_drop_get_exactly_one_outcome(native: bool):
    peer = Peer()
    try:
        ex = Exchange(peer)
        orders = Orders(peer, native)
        gw = orders.gw
        assert orders.buy(100, 999_000) == 1  # rests; acknowledged live
        assert [(u.kind, u.token) for u in orders.poll(lambda g: len(g) >= 1)] == [(A, 1)]
        peer.stream.hold = True  # from here the exchange's answers wait for the replay
        assert orders.buy(50, 1_000_500) == 2  # received: accepted and filled, answers held
        _wait(gw, lambda: ex.tokens == [1, 2])
        ex.lose = 1
        assert orders.buy(10, 998_000) == 3  # never received
        _wait(gw, lambda: ex.lost == 1)
        peer.stream.hold = False
        peer.drop_all()
        got = orders.poll(lambda g: any(u.token == 3 for u in g))
        assert gw.session.counters["reconnects"] == 1 and gw.session.state is SessionState.ACTIVE
        outcome = [(u.kind, u.token, u.reason) for u in got]
        assert outcome == [(A, 2, ""), (E, 2, ""), (J, 3, LOST_IN_DROP)]
        assert gw.counters["lost_in_drop"] == 1
        assert orders.buy(10, 998_000) == 4  # the strategy's retry: a new token, received once
        assert [(u.kind, u.token) for u in orders.poll(lambda g: len(g) >= 1)] == [(A, 4)]
        assert ex.tokens == [1, 2, 4]  # each order reached the exchange at most once
        if native:
            assert sorted(t for t, *_ in gw.path.open_orders()) == [1, 4]  # the lost one is not held open
        gw.session.close()
    finally:
        peer.stop()
