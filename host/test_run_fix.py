"""`tickgate run --exchange fix:sim`: a strategy's orders over FIX 4.4 (QuickFIX on both ends) to the simulator."""

from __future__ import annotations

import json

import pytest

from tickgate.host.backend import open_backend
from tickgate.host.cli import main
from tickgate.host.exchange import FixOptions, open_exchange
from tickgate.host.feeds.sources import GeneratedFeed
from tickgate.host.orders.fix_gateway import FixGateway
from tickgate.host.run import Runner, RunOptions
from tickgate.host.strategy import load_strategy

FEED = "gen:20000:20:1"


def test_cli_run_over_fix_counts_orders_and_fills_in_the_summary(capsys: pytest.CaptureFixture[str]):
    assert main(["run", "--feed", FEED, "--strategy", "imbalance", "--exchange", "fix:sim", "--fix-heartbeat", "5",
                 "--backend", "software", "--json", "--no-progress"]) == 0
    captured = capsys.readouterr()
    s = json.loads(captured.out.strip().splitlines()[-1])
    assert "FIX 4.4 (FIX.4.4:TICKGATE->SIMEXCH)" in captured.err
    assert s["orders"] > 20 and s["fills"] > 0 and s["filled_shares"] > 0
    assert s["exchange_rejects"] == s["risk_rejects"] == 0 and s["open_orders"] == 0
    assert s["latency_us"]["strategy_to_order"]["count"] == s["orders"]


def test_host_and_fix_exchange_agree_on_every_fill():
    """The run's own books (risk's fills and positions) equal the simulator's, as over OUCH."""
    gw, sim, _ = open_exchange("fix:sim", fix=FixOptions(heartbeat_s=5))
    assert isinstance(gw, FixGateway) and sim is not None
    try:
        _, messages, symbols, seed = FEED.split(":")
        r = Runner(GeneratedFeed(int(messages), int(symbols), int(seed)), open_backend("software"),
                   load_strategy("imbalance"), gw, exchange=sim, options=RunOptions(drain_s=2.0))
        s = r.run()
        r.close()
        ex = sim.summary()
    finally:
        sim.close()
    assert s["orders"] == ex["orders"] == ex["accepted"] == ex["counters"]["fix_orders"] > 20
    assert s["fills"] == ex["fills"] > 0
    assert s["positions"] == {k: v for k, v in ex["position"].items() if v}
    assert s["exchange_rejects"] == ex["rejected"] == 0 and s["open_orders"] == 0
    assert gw.counters["entered"] == s["orders"] and gw.counters["executed"] == s["fills"]
