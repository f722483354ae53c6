"""The run loop end to end: generated feed -> software backend -> strategy -> risk -> exchange -> summary."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from tickgate.host.backend import open_backend
from tickgate.host.cli import main
from tickgate.host.control import request
from tickgate.host.exchange.paper import PaperExchange
from tickgate.host.feeds.sources import GeneratedFeed
from tickgate.host.orders.types import Side, UpdateKind
from tickgate.host.risk import RiskLimits
from tickgate.host.run import Runner, RunOptions
from tickgate.host.strategy import Strategy, load_strategy
from tickgate.protocol.events import EVENT_DTYPE, EventKind

MESSAGES, SYMBOLS, SEED = 30_000, 40, 3


@pytest.fixture(scope="module")
def packets():
    return list(GeneratedFeed(MESSAGES, SYMBOLS, SEED))


@pytest.fixture(scope="module")
def reference_events(packets):
    """Every event of the feed, from a plain replay through the software backend."""
    be = open_backend("software")
    for p, _ in packets:
        be.feed(p, 0)
    return be.take_events()


class Recorder(PaperExchange):
    """The paper exchange, keeping every update it sent (to check the host's books against)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list = []

    def poll(self):
        out = super().poll()
        self.sent += out
        return out


def run(packets, strategy="imbalance", limits=None, **opts):
    ex = Recorder()
    strat = load_strategy(strategy) if isinstance(strategy, str) else strategy
    r = Runner(packets, open_backend("software"), strat, ex, exchange=ex, limits=limits,
               options=RunOptions(drain_s=0.2, **opts))
    try:
        return r, ex, r.run()
    finally:
        r.close()


def test_demo_path(packets, reference_events):
    r, ex, s = run(packets)
    assert s["backend"] == "software" and s["strategy"] == "imbalance"
    assert s["packets"] == len(packets)
    assert s["events"] == len(reference_events)  # the strategy saw every event the card emitted
    assert s["orders"] == len(ex.entered) > 20
    fills = [u for u in ex.sent if u.kind is UpdateKind.EXECUTED]
    assert s["fills"] == len(fills) > 0
    # positions and P&L follow from the fills alone
    pos: dict[str, int] = {}
    cash = 0
    for u in fills:
        signed = u.shares if u.side is Side.BUY else -u.shares
        pos[u.symbol] = pos.get(u.symbol, 0) + signed
        cash -= signed * u.price
    assert s["positions"] == {k: v for k, v in pos.items() if v}
    marks = {sym: r.ctl.mark(sym) for sym in pos}
    assert s["pnl"] == round((cash + sum(p * marks[k] for k, p in pos.items())) / 10_000, 2)
    assert s["open_orders"] == 0  # IOC orders: none left
    for key in ("tick_to_strategy", "strategy_to_order"):
        lat = s["latency_us"][key]
        assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    assert s["latency_us"]["tick_to_strategy"]["count"] == s["events"]
    assert s["latency_us"]["strategy_to_order"]["count"] == s["orders"]
    # deterministic: the same run gives the same orders and fills
    _, ex2, s2 = run(packets)
    assert [o.token for o in ex2.entered] == [o.token for o in ex.entered]
    assert (s2["fills"], s2["pnl"], s2["positions"]) == (s["fills"], s["pnl"], s["positions"])


def test_cli_json_last_line(capsys):
    assert main(["run", "--feed", "gen:5000:20:1", "--exchange", "paper", "--backend", "software", "--json",
                 "--no-progress"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    d = json.loads(last)
    for key in ("events", "orders", "fills", "rejects", "pnl"):
        assert key in d
    for key in ("tick_to_strategy", "strategy_to_order"):
        assert set(d["latency_us"][key]) >= {"p50", "p99"}
    assert d["events"] > 0 and d["counters"]["messages"] == 5000


class Pounder(Strategy):
    """Buys one share on every BBO event of locate 1 (to see the kill switch stop the flow)."""

    name = "pounder"

    def on_start(self) -> None:
        self.tokens: list[int] = []
        self.after_kill: list[str] = []

    def on_events(self, batch: np.ndarray) -> None:
        rows = batch[(batch["kind"] == EventKind.BBO) & (batch["bid_px"] > 0)]
        for ev in rows[:1]:
            self.tokens.append(self.orders.buy(int(ev["locate"]), 1, int(ev["bid_px"])))

    def on_order_update(self, u) -> None:
        if u.kind is UpdateKind.REJECTED:
            self.after_kill.append(u.reason)


def test_kill_switch_from_the_control_socket_stops_all_order_flow(packets):
    strat = Pounder()
    limits = RiskLimits(max_position=10**6, max_total_position=10**6, max_orders_per_s=10**6)
    ex = Recorder()
    r = Runner([], open_backend("software"), strat, ex, exchange=ex, limits=limits,
               options=RunOptions(control="tcp://127.0.0.1:0", drain_s=0.2))
    reply: dict = {}
    sent = threading.Event()

    def client():
        sent.set()
        reply.update(request(r.control.endpoint, {"cmd": "kill", "reason": "test"}))

    def feed():
        for i, p in enumerate(packets):
            if i == len(packets) // 3:
                threading.Thread(target=client).start()
                sent.wait(2)
                time.sleep(0.05)  # the request is queued on the REP socket
            if i == len(packets) // 3 + 64 * 3:
                assert r.risk.killed == "test"  # answered at a control poll
                ex.entered_at_kill = len(ex.entered)
            yield p

    r.feed = feed()
    try:
        s = r.run()
    finally:
        r.close()
    assert reply["ok"] and reply["killed"] == "test"
    assert s["killed"] == "test"
    n = ex.entered_at_kill
    assert 0 < n == len(ex.entered) == s["orders"]  # not one order left after the kill
    assert strat.after_kill.count("risk: kill switch") > 100  # the strategy kept trying
    assert len(strat.tokens) == n + len(strat.after_kill)  # every token was sent or rejected
    assert s["open_orders"] == 0  # the kill canceled what was open


def test_control_status_reload_and_bad_requests(packets):
    r = Runner(packets[:50], open_backend("software"), load_strategy("imbalance"), PaperExchange(),
               options=RunOptions(control="tcp://127.0.0.1:0", drain_s=0.0))
    try:
        assert r.control.endpoint.startswith("tcp://127.0.0.1:")
        answers: list[dict] = []

        def client():
            ep = r.control.endpoint
            answers.append(request(ep, {"cmd": "reload", "limits": {"max_order_shares": 7}}))
            answers.append(request(ep, {"cmd": "status"}))
            answers.append(request(ep, {"cmd": "bogus"}))
            answers.append(request(ep, {"cmd": "reload", "limits": {"nope": 1}}))

        t = threading.Thread(target=client)
        t.start()
        deadline = time.monotonic() + 5
        while t.is_alive() and time.monotonic() < deadline:
            r.control.poll(10)
        t.join()
        assert answers[0] == {"ok": True, "limits": RiskLimits(max_order_shares=7).as_dict()}
        assert answers[1]["ok"] and answers[1]["limits"]["max_order_shares"] == 7 and answers[1]["killed"] == ""
        assert answers[2]["ok"] is False and "unknown command 'bogus'" in answers[2]["error"]
        assert answers[3]["ok"] is False and "nope" in answers[3]["error"]
        assert r.risk.limits.max_order_shares == 7 and r.control.bad_requests == 2
    finally:
        r.close()


def test_strategy_from_file(tmp_path, packets):
    f = tmp_path / "mine.py"
    f.write_text(
        "from tickgate.host.strategy import Strategy\n"
        "class Counter(Strategy):\n"
        "    name = 'counter'\n"
        "    defaults = {'scale': 1}\n"
        "    def on_start(self):\n"
        "        self.bbo = self.trades = 0\n"
        "    def on_bbo(self, ev):\n"
        "        self.bbo += self.params['scale']\n"
        "    def on_trade(self, ev):\n"
        "        self.trades += int(ev['trade_shares'] > 0)\n"
        "    def on_status(self, ev):\n"
        "        self.status = getattr(self, 'status', 0) + 1\n")
    strat = load_strategy(str(f), {"scale": "2"})
    assert strat.name == "counter" and strat.params == {"scale": 2}
    _, _, _s = run(packets[:400], strat)
    be = open_backend("software")
    for p, _ in packets[:400]:
        be.feed(p, 0)
    ev = be.take_events()
    assert strat.bbo == 2 * int((ev["kind"] == EventKind.BBO).sum())
    assert strat.trades == int((ev["kind"] == EventKind.TRADE).sum())
    assert strat.status == int((ev["kind"] == EventKind.STATUS).sum()) > 0
    with pytest.raises(ValueError, match="unknown parameters"):
        load_strategy(str(f), {"scal": "2"})
    with pytest.raises(ValueError, match="unknown strategy"):
        load_strategy("nope")


def test_market_maker_keeps_inventory_within_its_limit(packets):
    strat = load_strategy("market_maker", {"max_inventory": 200, "max_symbols": 5})
    _, ex, s = run(packets, strat)
    assert s["orders"] > 10 and s["fills"] > 0
    assert all(abs(p) <= 200 for p in s["positions"].values())
    assert s["open_orders"] == 0  # canceled at the end
    assert len({o.symbol for o in ex.entered}) <= 5


def test_batch_mode_sees_the_same_events(packets, reference_events):
    seen = []

    class Keep(Strategy):
        name = "keep"

        def on_events(self, batch):
            seen.append(batch.copy())

    _, _, s = run(packets, Keep(), batch_packets=64)
    got = np.concatenate(seen)
    assert got.dtype == EVENT_DTYPE and len(got) == len(reference_events) == s["events"]
    cols = [n for n in EVENT_DTYPE.names if n != "ts_local" and not n.startswith("reserved")]
    for c in cols:
        assert np.array_equal(got[c], reference_events[c]), c


def test_demo_path_over_ouch_to_the_exchange_simulator(packets):
    """The demo's path: OUCH 5.0 over SoupBinTCP to the simulator; host and exchange agree on every fill."""
    from tickgate.host.exchange import open_exchange

    gw, sim, _ = open_exchange("sim")
    try:
        r = Runner(packets, open_backend("software"), load_strategy("imbalance"), gw, exchange=sim,
                   options=RunOptions(drain_s=2.0))
        s = r.run()
        r.close()
        ex = sim.summary()
        fills = sim.fills
    finally:
        sim.close()
    assert s["orders"] == ex["orders"] == ex["accepted"] > 20
    assert s["fills"] == ex["fills"] == len(fills) > 0
    assert s["positions"] == {k: v for k, v in ex["position"].items() if v}
    assert s["exchange_rejects"] == ex["rejected"] == 0
    assert s["open_orders"] == 0
    cash = sum((-1 if f.side == "B" else 1) * f.shares * f.price for f in fills)
    marks = {sym: r.ctl.mark(sym) for sym in ex["position"]}
    assert s["pnl"] == round((cash + sum(p * marks[k] for k, p in ex["position"].items())) / 10_000, 2)
    assert s["latency_us"]["strategy_to_order"]["count"] == s["orders"]


@pytest.mark.parametrize("cooldown_ms", [0.0, 20.0])
def test_imbalance_decides_the_same_on_small_and_large_batches(reference_events, cooldown_ms):
    from tickgate.host.market import Directory
    from tickgate.host.strategy import imbalance

    class Orders:
        def __init__(self):
            self.calls = []

        def position(self, symbol):
            return 0

        def buy(self, loc, shares, price, tif):
            self.calls.append(("B", loc, shares, price))

        def sell(self, loc, shares, price, tif):
            self.calls.append(("S", loc, shares, price))

    def decide(chunk):
        st = imbalance.Imbalance(cooldown_ms=cooldown_ms, threshold=0.5)
        st.bind(Orders(), None, Directory())
        st.on_start()
        for i in range(0, len(reference_events), chunk):
            st.on_events(reference_events[i:i + chunk])
        return st.orders.calls

    small = decide(imbalance.SMALL_BATCH)  # every batch takes the plain-Python path
    large = decide(len(reference_events))  # one batch: the vectorised path
    assert len(small) > 50 and small == large


@pytest.mark.parametrize("ring", [64, 2048])
def test_a_small_event_ring_wraps_and_overflows_without_changing_anything(packets, reference_events, ring):
    seen = []

    class Keep(Strategy):
        name = "keep"

        def on_events(self, batch):
            seen.append(batch.copy())

    _, _, s = run(packets, Keep(), ring_events=ring)
    got = np.concatenate(seen)
    assert len(got) == len(reference_events) == s["events"]
    assert max(len(b) for b in seen) <= ring
    cols = [n for n in EVENT_DTYPE.names if n != "ts_local" and not n.startswith("reserved")]
    assert all(np.array_equal(got[c], reference_events[c]) for c in cols)
    if ring < 1024:
        return  # packets' events were split across batches: the strategy saw other batches, so may trade otherwise
    # wrapping between packets changes nothing: the same trading as with the default ring
    _, ex_small, small = run(packets, ring_events=ring)
    _, ex_big, big = run(packets)
    assert [(o.token, o.symbol, o.side, o.shares, o.price) for o in ex_small.entered] == \
        [(o.token, o.symbol, o.side, o.shares, o.price) for o in ex_big.entered]
    assert (small["fills"], small["pnl"], small["positions"]) == (big["fills"], big["pnl"], big["positions"])


def test_a_loss_breach_throws_the_kill_switch_and_nothing_leaves_after_it(packets):
    seen: list = []

    class Watch(Strategy):
        name = "watch"

        def __init__(self):
            super().__init__()
            self.inner = load_strategy("imbalance", {"cooldown_ms": "0", "threshold": "0.5"})

        def bind(self, orders, book, directory):
            super().bind(orders, book, directory)
            self.inner.bind(orders, book, directory)

        def on_start(self):
            self.inner.on_start()

        def on_events(self, batch):
            self.inner.on_events(batch)

        def on_order_update(self, u):
            seen.append(u)

    limits = RiskLimits(max_loss=5.0, max_position=10**6, max_total_position=10**6, max_orders_per_s=10**6)
    _, ex, s = run(packets, Watch(), limits)
    assert s["killed"].startswith("breach: loss -")
    killed = [u.token for u in seen if u.reason == "risk: kill switch"]
    assert killed, "the strategy kept asking after the kill"
    assert max(o.token for o in ex.entered) < min(killed)  # nothing reached the exchange after the kill
    assert s["open_orders"] == 0 and s["counters"]["kills"] == 1


@pytest.mark.parametrize("batch_packets", [1, 64])
def test_two_lines_run_as_the_lossless_feed(packets, reference_events, batch_packets):
    """A/B lines into the run loop (ticked or batched): each line loses its own packets, none lost on both; the
    card sees no gap and the strategy every event of the lossless feed."""
    from tickgate.host.feeds.lines import MergedLines, two_lines
    from tickgate.protocol.config import LINE_WINDOW, CardConfig

    lines = two_lines([p for p, _ in packets], 0.02, 2)
    assert lines.lost_a and lines.lost_b and not lines.lost_both
    backend = open_backend("software", CardConfig(line_window=LINE_WINDOW))
    ex = Recorder()
    r = Runner(MergedLines(lines.a, lines.b), backend, load_strategy("imbalance"), ex, exchange=ex,
               options=RunOptions(drain_s=0.2, batch_packets=batch_packets))
    try:
        s = r.run()
    finally:
        r.close()
    counters = backend.counters()
    assert s["events"] == len(reference_events) and counters["seq_gaps"] == 0
    assert counters["line_b_used"] == len(lines.lost_a) and counters["line_a_received"] == len(lines.a)
