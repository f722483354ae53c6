"""The native order path against the Python reference: the same recorded order flow and market through both.

A seeded flow of market updates (BBO events), buys and sells (by locate, by symbol, unknown ones), cancels,
replaces, exchange fills, cancels and rejects, clock steps, limit changes, the session going down and the kill
switch goes through `OrderRouter` + `Risk` + `OuchGateway` (Python) and `NativeOrderRouter` + `NativeRisk` +
`OrderPath` (C++). After every step: the same tokens, the same decisions and reasons, the same bytes on the wire,
and the same risk state (open orders, positions, cash, rejections, kill switch).
"""

from __future__ import annotations

import random
import socket
from collections import Counter

import numpy as np
import pytest

from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.native import NativeOuchGateway, make_risk
from tickgate.host.orders.ouch_gateway import OuchGateway
from tickgate.host.orders.soupbin import SessionDownError, SessionState
from tickgate.host.orders.types import OrderUpdate, Side, UpdateKind
from tickgate.host.risk import REASONS, Risk, RiskLimits
from tickgate.host.strategy.orders import NativeOrderRouter, OrderRouter
from tickgate.protocol import soupbintcp
from tickgate.protocol.events import EventKind, empty

SYMBOLS = {1: "AAPL", 2: "MSFT", 3: "NVDA", 7: "QQQ"}
UNKNOWN_LOCATE = 9
LIMITS = RiskLimits(max_order_shares=500, max_notional=40_000.0, max_position=900, max_total_position=2_500,
                    price_band_bps=150.0, max_orders_per_s=40.0, max_rejects_per_s=30)
T0 = 5_000_000_000
# The steps of a flow and their weights.
OPS = ("market", "tick", "order", "cancel", "replace", "update", "late", "session", "kill", "reset", "limits",
       "cancel_all")
WEIGHTS = (20, 10, 32, 8, 6, 16, 0.2, 2, 0.4, 4, 1, 0.7)


class PySession:
    """What OuchGateway needs of a session: `send` (the bytes framed as SoupBinTCP would), `poll`, `state`."""

    def __init__(self) -> None:
        self.state = SessionState.ACTIVE
        self.wire = bytearray()
        self.counters: dict[str, int] = {}

    def send(self, payload: bytes) -> int:
        if self.state is not SessionState.ACTIVE:
            raise SessionDownError(f"SoupBinTCP session is {self.state}: message not sent")
        self.wire += soupbintcp.frame("U", payload)
        return 1

    def poll(self) -> list[bytes]:
        return []

    def logout(self) -> None:
        pass


class NativeSession(PySession):
    """The native side's session: the path writes on one end of a socket pair, the test reads the other."""

    def __init__(self) -> None:
        super().__init__()
        self.writer = None
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.theirs.setblocking(False)

    def read(self) -> bytes:
        out = bytearray()
        while True:
            try:
                chunk = self.theirs.recv(1 << 16)
            except BlockingIOError:
                return bytes(out)
            out += chunk


class Sides:
    """The two stacks, built alike."""

    def __init__(self) -> None:
        self.now = T0
        self.directory = Directory(SYMBOLS)
        self.py_book = TopOfBook()
        self.py_session = PySession()
        self.py_risk = Risk(LIMITS, clock=lambda: self.now)
        self.py = OrderRouter(OuchGateway(self.py_session), self.py_risk, self.directory, self.py_book, Metrics())
        self.nat_session = NativeSession()
        gw = NativeOuchGateway(self.nat_session, LIMITS, time=self.now)  # type: ignore[arg-type]
        gw.path.writer.attach(self.nat_session.ours.fileno())
        self.nat_risk = make_risk(LIMITS, gw)
        self.nat = NativeOrderRouter(gw, self.nat_risk, self.directory, TopOfBook(), Metrics())  # type: ignore[arg-type]
        self.nat_wire = bytearray()

    def tick(self, dt: int) -> None:
        self.now += dt
        self.nat.path.set_time(self.now)

    def market(self, events: np.ndarray) -> None:
        self.py_book.update(events)
        self.nat.see_events(events)

    def update(self, u: OrderUpdate) -> None:
        a, b = self.py_risk.on_update(u), self.nat_risk.on_update(u)
        assert a == b, (u, a, b)

    def gateway_updates(self) -> None:
        """'not sent' rejections of the gateways, delivered to each side's risk as the run loop does."""
        a, b = self.py._gateway.poll(), self.nat._gateway.poll()
        assert [_brief(u) for u in a] == [_brief(u) for u in b]
        for ua, ub in zip(a, b, strict=True):
            ra, rb = self.py_risk.on_update(ua), self.nat_risk.on_update(ub)
            assert ra == rb

    def compare(self) -> None:
        assert [_brief(u) for u in self.py.pending] == [_brief(u) for u in self.nat.pending]
        self.py.pending.clear()
        self.nat.pending.clear()
        self.nat_wire += self.nat_session.read()
        assert bytes(self.py_session.wire) == bytes(self.nat_wire)
        pr, nr = self.py_risk, self.nat_risk
        assert {t: (o.symbol, o.side, o.shares, o.price) for t, o in pr.open.items()} == \
               {t: (o.symbol, o.side, o.shares, o.price) for t, o in nr.open.items()}
        assert list(pr.open) == list(nr.open)
        assert pr.position == nr.position and pr.cash == nr.cash
        assert (pr.gross_position, pr.open_shares, pr.fills, pr.filled_shares, pr.killed) == \
               (nr.gross_position, nr.open_shares, nr.fills, nr.filled_shares, nr.killed)
        assert pr.rejects == nr.rejects
        assert (self.py.orders, self.py.cancels, self.py.replaces, self.py.risk_rejects) == \
               (self.nat.orders, self.nat.cancels, self.nat.replaces, self.nat.risk_rejects)
        assert self.py.next_token == self.nat.next_token


def _brief(u: OrderUpdate) -> tuple:
    return (u.kind, u.token, u.symbol, u.side, u.shares, u.price, u.reason)


def _bbo(rng: random.Random, mids: dict[int, int]) -> np.ndarray:
    locs = rng.sample([*sorted(SYMBOLS), UNKNOWN_LOCATE], rng.randint(1, 3))
    ev = empty(len(locs) + 1)
    ev["kind"][:-1] = EventKind.BBO
    ev["kind"][-1] = EventKind.TRADE  # not a BBO: neither side may take it as one
    ev["locate"][-1] = locs[0]
    ev["bid_px"][-1] = 1
    for i, loc in enumerate(locs):
        mid = mids[loc] = max(10_000, mids.get(loc, 1_000_000) + rng.randint(-4_000, 4_000))
        one_sided = rng.random() < 0.05
        ev["locate"][i] = loc
        ev["bid_px"][i] = 0 if one_sided and rng.random() < 0.5 else mid - rng.randint(1, 300)
        ev["ask_px"][i] = 0 if one_sided and ev["bid_px"][i] else mid + rng.randint(1, 300)
        if rng.random() < 0.03:
            ev["bid_px"][i] = ev["ask_px"][i] = 0  # both sides empty: no reference price
        ev["bid_sz"][i], ev["ask_sz"][i] = rng.randint(1, 900), rng.randint(1, 900)
    return ev


def _run(seed: int, steps: int) -> Counter:
    rng = random.Random(seed)
    s = Sides()
    mids: dict[int, int] = {}
    seen: Counter = Counter()
    killed = ""
    sent: dict[int, tuple[str, Side]] = {}  # every token that was open
    for _ in range(steps):
        op = rng.choices(OPS, WEIGHTS)[0]
        if (op in ("cancel", "replace", "update", "cancel_all") and not s.py_risk.open) or (op == "late" and not sent):
            op = "market"
        if op == "market":
            s.market(_bbo(rng, mids))
        elif op == "tick":
            s.tick(rng.choice((1_000, 200_000, 5_000_000, 60_000_000, 1_200_000_000)))
        elif op == "order":
            loc = rng.choice([*SYMBOLS, *SYMBOLS, UNKNOWN_LOCATE])
            what = rng.random()
            target: str | int = loc if what < 0.6 else SYMBOLS.get(loc, "ZZZZ")
            mid = mids.get(loc, 1_000_000)
            price = mid + rng.randint(-int(mid * 0.02), int(mid * 0.02))
            shares = rng.choice((0, 1, 50, 100, 200, 300, 499, 501)) if rng.random() < 0.9 else -5
            if rng.random() < 0.03:
                price = 0
            tif = rng.choice("03")
            side = rng.choice((Side.BUY, Side.SELL))
            a = (s.py.buy if side is Side.BUY else s.py.sell)(target, shares, price, tif)
            b = (s.nat.buy if side is Side.BUY else s.nat.sell)(target, shares, price, tif)
            assert a == b
            seen["order"] += 1
        elif op == "cancel":
            token = rng.choice(list(s.py_risk.open))
            shares = rng.choice((0, 0, 10))
            assert s.py.cancel(token, shares) == s.nat.cancel(token, shares)
            seen["cancel"] += 1
        elif op == "replace":
            token = rng.choice(list(s.py_risk.open))
            o = s.py_risk.open[token]
            price = o.price + rng.randint(-3_000, 3_000)
            shares = rng.choice((1, 100, 300, 600))
            assert s.py.replace(token, shares, price) == s.nat.replace(token, shares, price)
            seen["replace"] += 1
        elif op == "update":
            token = rng.choice(list(s.py_risk.open))
            o = s.py_risk.open[token]
            kind = rng.choice((UpdateKind.EXECUTED, UpdateKind.EXECUTED, UpdateKind.CANCELED, UpdateKind.REJECTED,
                               UpdateKind.ACCEPTED))
            shares = rng.randint(1, o.shares) if kind is not UpdateKind.REJECTED else 0
            if kind is UpdateKind.EXECUTED and rng.random() < 0.3:
                shares = o.shares  # the order filled whole
            s.update(OrderUpdate(kind, token, o.symbol, o.side, shares, o.price))
            seen[str(kind)] += 1
        elif op == "late":
            token = rng.choice(sorted(sent))  # a late fill, larger than the order: positions past their limits
            symbol, side = sent[token]
            s.update(OrderUpdate(UpdateKind.EXECUTED, token, symbol, side, rng.randint(300, 1_000), 1_000_000))
            seen["late fill"] += 1
        elif op == "session":
            state = rng.choice((SessionState.ACTIVE, SessionState.ACTIVE, SessionState.DISCONNECTED))
            s.py_session.state = s.nat_session.state = state
            seen[f"session {state}"] += 1
        elif op == "kill":
            assert s.py_risk.kill("control") == s.nat_risk.kill("control")
        elif op == "reset":
            s.py_risk.reset_kill()
            s.nat_risk.reset_kill()
        elif op == "limits":
            limits = RiskLimits.from_dict(LIMITS.as_dict() | {"max_orders_per_s": rng.choice((5, 40.0, 400))})
            s.py_risk.set_limits(limits)
            s.nat_risk.set_limits(limits)
        else:
            assert s.py.cancel_all() == s.nat.cancel_all()
            seen["cancel_all"] += 1
        s.gateway_updates()
        s.compare()
        sent.update({t: (o.symbol, o.side) for t, o in s.py_risk.open.items()})
        if s.py_risk.killed != killed:
            killed = s.py_risk.killed
            seen["kill: rejections" if "rejections" in killed else "kill: position" if "position" in killed
                 else f"kill: {killed}"] += 1
    seen.update({f"reject {k}": v for k, v in s.py_risk.rejects.items()})
    assert len(s.nat_wire) > 3_000, (len(s.nat_wire), seen)  # orders, cancels and replaces went out
    return seen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_native_path_equals_the_python_reference(seed: int) -> None:
    seen = _run(seed, 4_000)
    for reason in REASONS:
        assert seen[f"reject {reason}"] > 0, (reason, seen)
    for what in ("cancel", "replace", "cancel_all", "executed", "canceled", "rejected", "kill: rejections",
                 "kill: position", "kill: control", "session disconnected"):
        assert seen[what] > 0, (what, seen)
