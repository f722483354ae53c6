"""The kill switch thrown in the middle of a burst of fills, on both order paths, against the exchange simulator:
every fill still counts, every open order is canceled, and nothing new leaves."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tickgate.host.exchange.sim import SimExchange
from tickgate.host.exchange.test_sim import SYMBOLS, bbo
from tickgate.host.market import Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.native import NativeOuchGateway, make_risk
from tickgate.host.orders.ouch_gateway import OuchGateway
from tickgate.host.orders.types import OrderUpdate, UpdateKind
from tickgate.host.risk import RiskLimits
from tickgate.host.strategy.orders import make_router

A, J, E, C = UpdateKind.ACCEPTED, UpdateKind.REJECTED, UpdateKind.EXECUTED, UpdateKind.CANCELED
LIMITS = RiskLimits(max_orders_per_s=1e6, max_position=10_000, max_total_position=10_000, max_order_shares=1_000)


@pytest.fixture
def sim() -> Iterator[SimExchange]:
    with SimExchange(heartbeat_interval=0.05) as s:
        s.set_symbols(SYMBOLS)
        s.update_book(bbo((1, 100, 990_000, 300, 1_000_500, 200)))
        yield s


@pytest.mark.parametrize("native", [False, True])
def test_kill_during_a_burst_of_fills(sim: SimExchange, native: bool):
    kind = NativeOuchGateway if native else OuchGateway
    options = dict(heartbeat_interval=0.05, server_timeout=1.0, reconnect_delay=0.02)
    gw = (kind.connect(*sim.address, "tick", "gate", limits=LIMITS, **options) if native
          else kind.connect(*sim.address, "tick", "gate", **options))
    book = bbo((1, 100, 990_000, 300, 1_000_500, 200))
    risk = make_risk(LIMITS, gw)
    top = TopOfBook()
    top.update(book)
    router = make_router(gw, risk, Directory(SYMBOLS), top, Metrics())
    router.see_events(book)
    updates: list[OrderUpdate] = []

    def pump(until, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            assert time.monotonic() < deadline, (updates[-5:], gw.counters)
            sim.sync()
            for u in gw.poll():
                updates.append(u)
                risk.on_update(u)
                if u.kind is E and sum(x.kind is E for x in updates) == 4:
                    risk.kill("control")  # mid-burst, as the control socket would, on the loop's thread
                    router.cancel_all()
                    updates.extend(router.pending)  # the router's own answers (native: none)
                    router.buy(1, 10, 999_000, "0")  # the strategy keeps trying
                    updates.extend(router.pending)
                    router.pending.clear()
            time.sleep(0.001)

    tokens = [router.buy(1, 10, 999_000 if i % 2 else 998_000, "0") for i in range(20)]
    assert not router.pending, router.pending[:2]
    pump(lambda: sum(u.kind is A for u in updates) == 20)
    sim.update_book(bbo((1, 100, 990_000, 300, 999_000, 1_000)))  # crosses the ten buys at 999_000: ten fills
    pump(lambda: sum(u.kind is E for u in updates) == 10 and not risk.open)
    fills = [u for u in updates if u.kind is E]
    assert sorted(u.token for u in fills) == tokens[1::2]  # every fill counted, after the kill too
    assert risk.killed == "control"
    assert dict(risk.position) == {"AAPL": 100} == sim.summary()["position"]
    canceled = sorted(u.token for u in updates if u.kind is C)
    assert canceled == tokens[0::2]  # the ten still resting were canceled
    after = [u for u in updates if u.kind is J]
    assert len(after) == 1 and after[0].reason == "risk: kill switch"
    assert sim.summary()["bought"] == 100  # nothing new reached the exchange after the kill
    gw.close()
