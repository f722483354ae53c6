"""Order traces: a span per order with its ids, times and updates, on both order paths; sampling; OTLP over HTTP;
nothing wrapped when off."""

from __future__ import annotations

import http.server
import threading

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tickgate.host.backend import open_backend
from tickgate.host.exchange.paper import PaperExchange
from tickgate.host.feeds.sources import GeneratedFeed
from tickgate.host.run import Runner, RunOptions
from tickgate.host.strategy import load_strategy
from tickgate.host.tracing import OrderTracing


@pytest.fixture(scope="module")
def packets():
    return list(GeneratedFeed(20_000, 20, 1))


def run(packets, tracing, exchange="paper", strategy="imbalance"):
    if exchange == "paper":
        gw = sim = PaperExchange()
    else:
        from tickgate.host.exchange import open_exchange

        gw, sim, _ = open_exchange("sim")
    strat = load_strategy(strategy)
    try:
        r = Runner(packets, open_backend("software"), strat, gw, exchange=sim,
                   options=RunOptions(drain_s=1.0 if exchange == "sim" else 0.1, tracing=tracing))
        try:
            s = r.run()
        finally:
            r.close()
    finally:
        if sim is not gw:
            sim.close()
    return r, s


def check_span(span) -> dict:
    a = dict(span.attributes)
    names = [e.name for e in span.events]
    assert names[0] == "decision" and span.start_time <= span.events[0].timestamp
    assert isinstance(a["tickgate.order.token"], int) and a["tickgate.order.symbol"]
    assert a["tickgate.order.side"] in ("B", "S") and a["tickgate.order.shares"] > 0 and a["tickgate.order.price"] > 0
    times = [e.timestamp for e in span.events]
    assert times == sorted(times) and span.end_time >= times[-1]
    if names[1] == "rejected":
        assert span.events[1].attributes["reason"]
    else:
        assert names[1] == "sent" and ("accepted" in names or "rejected" in names)
    executed = sum(e.attributes["shares"] for e in span.events if e.name == "executed")
    canceled = sum(e.attributes["shares"] for e in span.events if e.name == "canceled")
    if not a.get("tickgate.order.open_at_end") and names[-1] != "rejected":
        assert executed + canceled == a["tickgate.order.shares"]  # ended when nothing was left open
    return a


@pytest.mark.parametrize("exchange", ["paper", "sim"])  # the Python order path, the native one over OUCH
def test_a_span_per_order_with_its_ids_times_and_updates(packets, exchange):
    exported = InMemorySpanExporter()
    tracing = OrderTracing(exporter=exported, sample=1.0)
    _, s = run(packets, tracing, exchange)
    spans = exported.get_finished_spans()
    assert len(spans) == tracing.started == tracing.ended == s["orders"] + s["risk_rejects"] > 20
    attrs = [check_span(sp) for sp in spans]
    assert len({a["tickgate.order.token"] for a in attrs}) == len(spans)
    fills = sum(1 for sp in spans for e in sp.events if e.name == "executed")
    assert fills == s["fills"] > 0
    with_tick = [sp for sp in spans if sp.start_time < sp.events[0].timestamp]
    assert len(with_tick) == len(spans)  # every order of this strategy comes from a tick, which starts its span


def test_sampling(packets):
    none = InMemorySpanExporter()
    run(packets, OrderTracing(exporter=none, sample=0.0))
    assert none.get_finished_spans() == ()
    half = InMemorySpanExporter()
    _, s = run(packets, OrderTracing(exporter=half, sample=0.5, seed=3))
    n = len(half.get_finished_spans())
    assert 0.25 * s["orders"] < n < 0.75 * s["orders"]
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\], not 2"):
        OrderTracing(exporter=none, sample=2)


def test_off_wraps_nothing(packets):
    r, _ = run(packets[:2000], None)
    assert not {"buy", "sell", "replace"} & set(vars(r.router))
    assert "on_order_update" not in vars(r.strategy) and "on_fire" not in vars(r.strategy)


@pytest.mark.parametrize("exchange", ["paper", "sim"])  # fires sent by the Python router, by the native path
def test_a_span_per_fired_order(packets, exchange):
    """The armed strategy's orders are the card's fires: each has a span from its packet's receive time, with
    its rule, a `fired` event, `sent` when risk let it out, and its updates."""
    exported = InMemorySpanExporter()
    tracing = OrderTracing(exporter=exported, sample=1.0)
    r, _ = run(packets, tracing, exchange, strategy="armed")
    spans = exported.get_finished_spans()
    fired = [sp for sp in spans if "tickgate.order.fired_by_rule" in sp.attributes]
    assert len(fired) == r.router.fires_sent + r.router.fires_refused > 0
    for sp in fired:
        names = [e.name for e in sp.events]
        assert names[0] == "fired" and sp.start_time == sp.events[0].timestamp
        assert names[1] == "sent" or (names[1] == "rejected" and sp.events[1].attributes["reason"])
        assert [e.timestamp for e in sp.events] == sorted(e.timestamp for e in sp.events)
    assert sum(1 for sp in fired for e in sp.events if e.name == "executed") > 0


def test_spans_go_out_over_otlp_http(packets):
    got: list[bytes] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.headers["Content-Type"] == "application/x-protobuf"
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        tracing = OrderTracing(otlp=f"http://127.0.0.1:{server.server_address[1]}/v1/traces", sample=1.0)
        _, s = run(packets, tracing)  # Runner.close() flushes the batch processor
    finally:
        server.shutdown()
        server.server_close()
    spans = []
    for body in got:
        req = ExportTraceServiceRequest.FromString(body)
        spans += [sp for rs in req.resource_spans for ss in rs.scope_spans for sp in ss.spans]
    assert len(spans) == s["orders"] + s["risk_rejects"]
    tokens = {a.value.int_value for sp in spans for a in sp.attributes if a.key == "tickgate.order.token"}
    assert len(tokens) == len(spans)
