"""`tickgate run` with the example strategy that arms and re-arms rules ('armed'): fired orders on the native
path to the exchange simulator and on the Python path to the paper exchange; `latency_us.tick_to_order_armed`
beside `tick_to_order`, every fire accounted for."""

from __future__ import annotations

import pytest

from tickgate.host.backend import open_backend
from tickgate.host.exchange.paper import PaperExchange
from tickgate.host.feeds.sources import GeneratedFeed
from tickgate.host.run import Runner, RunOptions
from tickgate.host.strategy import load_strategy


@pytest.fixture(scope="module")
def packets():
    return list(GeneratedFeed(20_000, 30, 4))


@pytest.mark.parametrize("backend", ["software", "model"])
def test_armed_run_on_the_native_path_to_the_simulator(packets, backend):
    from tickgate.host.exchange import open_exchange

    gw, sim, _ = open_exchange("sim")
    try:
        strat = load_strategy("armed")
        r = Runner(packets, open_backend(backend), strat, gw, exchange=sim, options=RunOptions(drain_s=2.0))
        s = r.run()
        r.close()
        ex = sim.summary()
    finally:
        sim.close()
    fired = s["counters"]["events_fire"]
    lat = s["latency_us"]
    assert fired == strat.fired > 20 and strat.rearmed > 0
    assert s["orders"] == ex["orders"] == lat["tick_to_order_armed"]["count"] == fired - s["risk_rejects"]
    assert lat["tick_to_order"]["count"] == s["orders"] and lat["strategy_to_order"]["count"] == 0
    assert s["fills"] == ex["fills"] > 0


def test_armed_run_on_the_python_path(packets):
    ex = PaperExchange()
    strat = load_strategy("armed")
    r = Runner(packets, open_backend("software"), strat, ex, exchange=ex, options=RunOptions(drain_s=0.2))
    s = r.run()
    r.close()
    fired = s["counters"]["events_fire"]
    assert fired == strat.fired > 20
    assert s["orders"] == s["latency_us"]["tick_to_order_armed"]["count"] == fired - s["risk_rejects"]
