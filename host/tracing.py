"""Order traces (OpenTelemetry): a span per order from its tick to its last update, exported over OTLP.

Off by default. `tickgate run --otlp URL [--trace-sample R]` turns it on: an `OrderTracing` attaches itself to the
run's order router and strategy by wrapping, on those objects only, the calls that make orders (`buy`, `sell`,
`replace`) and the ones that take their updates and fires (`on_order_update`, `on_fire`). Off, nothing is
wrapped: the hot path runs exactly the code it runs without this module, with no per-order allocation.

Only an order's facts are kept while it is live (a tuple and a list per sampled order); its span is made and
handed to the exporter when the order is done, off the path from tick to order. A sampled order's span
(name `order`) starts at the receive time of the packet whose events led to it (the
tick; the decision time when there was none) and carries its ids and terms as attributes (`tickgate.order.token`,
`.symbol`, `.side`, `.shares`, `.price` in Price(4), `.tif`, `.replaces` for a replacement) and events: `decision`
(the strategy asked), `sent` (its bytes written), then `accepted`, `executed` (shares, price), `canceled`,
`rejected` (reason) as the updates arrive. It ends when nothing of the order is left open (filled, canceled or
rejected), or at the end of the run (`tickgate.order.open_at_end`). An order the card fired (an armed rule,
`Strategy.on_fire`) has a span too: from its packet's receive time, with a `fired` event (rule, tag, seq) in
place of `decision`, `tickgate.order.fired_by_rule` and `.rule_tag`, and `sent` only if risk let it out. Each
order is sampled with probability `R` when it is made (a fired one when the host hears of its fire). Times are
the run's `perf_counter_ns` moved to the epoch by one offset taken at start.

Exported in batches (the SDK's `BatchSpanProcessor`, its own thread) with the OTLP/HTTP exporter; tests hand an
in-memory exporter instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from tickgate.host.orders.types import OrderUpdate, UpdateKind
from tickgate.host.strategy.armed import Fire

__all__ = ["OrderTracing"]

_now = time.perf_counter_ns


class OrderTracing:
    """Spans of a run's orders. `attach(router, strategy)` starts tracing; `close()` ends and exports the rest."""

    def __init__(self, *, otlp: str | None = None, exporter: SpanExporter | None = None, sample: float = 1.0,
                 batch: bool | None = None, seed: int | None = None) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError(f"trace sample must be a fraction in [0, 1], not {sample!r}")
        if (otlp is None) == (exporter is None):
            raise ValueError("order tracing needs exactly one of an OTLP endpoint or an exporter")
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=otlp)
        processor = (BatchSpanProcessor if (otlp is not None if batch is None else batch) else SimpleSpanProcessor)
        self.provider = TracerProvider(resource=Resource.create({"service.name": "tickgate"}))
        self.provider.add_span_processor(processor(exporter))
        self.tracer = self.provider.get_tracer("tickgate.host")
        self.sample = sample
        self._random = random.Random(seed).random
        self._epoch = time.time_ns() - _now()  # perf_counter_ns -> ns since the epoch
        self.open: dict[int, list[Any]] = {}  # token -> [span, shares left]
        self.started = self.ended = 0

    def attach(self, router: Any, strategy: Any) -> None:
        """Trace the orders `router` makes and the updates `strategy` is given."""
        native = hasattr(router, "path")
        wire: Callable[[], int]
        if native:
            path = router.path
            wire = lambda: path.last_send_ns  # noqa: E731
        else:  # the Python router: its gateway returns the send time
            sent = [0]
            gateway = router._gateway
            for name in ("enter", "replace"):
                call = getattr(gateway, name, None)
                if call is not None:
                    setattr(gateway, name, self._keep_time(call, sent))
            wire = lambda: sent[0]  # noqa: E731
        for side in ("buy", "sell"):
            setattr(router, side, self._traced_new(router, getattr(router, side), side, wire))
        router.replace = self._traced_replace(router, router.replace, wire)
        on_update = strategy.on_order_update

        def traced_update(u: OrderUpdate) -> None:
            on_update(u)
            if u.token in self.open:
                self._update(u)  # after the strategy: its reaction first

        strategy.on_order_update = traced_update
        on_fire = strategy.on_fire

        def traced_fire(f: Fire) -> None:
            on_fire(f)
            if self._random() < self.sample:
                self._start_fired(f)  # its updates (or its refusal) follow as the other orders' do

        strategy.on_fire = traced_fire

    @staticmethod
    def _keep_time(call: Callable[..., int], sent: list[int]) -> Callable[..., int]:
        def kept(*args: Any) -> int:
            sent[0] = t = call(*args)
            return t

        return kept

    def _rejected(self, router: Any, token: int) -> bool:
        p = router.pending
        return bool(p) and p[-1].token == token and p[-1].kind is UpdateKind.REJECTED

    def _traced_new(self, router: Any, call: Callable[..., int], side: str, wire: Callable[[], int]
                    ) -> Callable[..., int]:
        def traced(symbol: str | int, shares: int, price: int, tif: str = "0") -> int:
            tick, t0 = router.tick_rx_ns, _now()
            token = call(symbol, shares, price, tif)
            if self._random() < self.sample:
                name = symbol if isinstance(symbol, str) else router.directory.by_locate.get(symbol, f"#{symbol}")
                self._start(router, token, name, "B" if side == "buy" else "S", shares, price, tif, tick, t0, wire,
                            None)
            return token

        return traced

    def _traced_replace(self, router: Any, call: Callable[..., int], wire: Callable[[], int]) -> Callable[..., int]:
        def traced(token: int, shares: int, price: int, tif: str = "0") -> int:
            tick, t0 = router.tick_rx_ns, _now()
            o = router.open_orders.get(token) if not hasattr(router, "path") else None
            new = call(token, shares, price, tif)
            if new and self._random() < self.sample:
                if o is not None:
                    name, side = o.symbol, o.side.value
                else:
                    locate, side = router.path.order(new)
                    name = router.path.symbol(locate)
                self._start(router, new, name, side, shares, price, tif, tick, t0, wire, token)
            return new

        return traced

    def _start(self, router: Any, token: int, symbol: str, side: str, shares: int, price: int, tif: str, tick: int,
               t0: int, wire: Callable[[], int], replaces: int | None) -> None:
        # Only the facts are kept here, on the order's path; the span is made when the order is done (_emit).
        self.started += 1
        order = [shares, (token, symbol, side, shares, price, tif, replaces, tick or t0), [("decision", t0, None)]]
        self.open[token] = order
        if self._rejected(router, token):  # by risk: it never left
            self._update(router.pending[-1])
        else:
            order[2].append(("sent", wire(), None))

    def _start_fired(self, f: Fire) -> None:
        """A fired order (an armed rule the card fired): from its packet's receive time, through the fire, to
        its bytes written (if risk let it out) and its updates."""
        self.started += 1
        tick = f.rx_ns or _now()
        events: list[tuple[str, int, dict[str, Any] | None]] = [
            ("fired", tick, {"rule": f.rule, "tag": f.tag, "seq": f.seq})]
        if f.sent:
            events.append(("sent", f.sent_ns or _now(), None))
        self.open[f.token] = [f.shares, (f.token, f.symbol, f.side, f.shares, f.price, "", None, tick), events,
                              {"tickgate.order.fired_by_rule": f.rule, "tickgate.order.rule_tag": f.tag}]

    def _update(self, u: OrderUpdate) -> None:
        order = self.open[u.token]
        kind = u.kind
        if kind is UpdateKind.EXECUTED:
            attrs: dict[str, Any] | None = {"shares": u.shares, "price": u.price}
            order[0] -= u.shares
        elif kind is UpdateKind.CANCELED:
            attrs = {"shares": u.shares}
            order[0] -= u.shares
        elif kind is UpdateKind.REJECTED:
            attrs = {"reason": u.reason}
            order[0] = 0
        else:
            attrs = None
        t = u.ts_ns or _now()
        order[2].append((kind.value, t, attrs))
        if order[0] <= 0:
            del self.open[u.token]
            self._emit(order, t + self._epoch)

    def _emit(self, order: list[Any], end_ns: int, open_at_end: bool = False) -> None:
        """The span of a finished order: its attributes, events and times (ns since the epoch)."""
        (token, symbol, side, shares, price, tif, replaces, start), events = order[1], order[2]
        e = self._epoch
        attrs = {"tickgate.order.token": token, "tickgate.order.symbol": symbol, "tickgate.order.side": side,
                 "tickgate.order.shares": shares, "tickgate.order.price": price}
        if tif:
            attrs["tickgate.order.tif"] = tif
        if len(order) > 3:  # a fired order: its rule
            attrs.update(order[3])
        if replaces is not None:
            attrs["tickgate.order.replaces"] = replaces
        if open_at_end:
            attrs["tickgate.order.open_at_end"] = True
        span = self.tracer.start_span("order", start_time=start + e, attributes=attrs)
        for name, t, event_attrs in events:
            span.add_event(name, attributes=event_attrs, timestamp=t + e)
        span.end(end_time=end_ns)
        self.ended += 1

    def close(self) -> None:
        """End the spans still open (marked open_at_end), export everything, shut the exporter down."""
        t = time.time_ns()
        for order in self.open.values():
            self._emit(order, t, open_at_end=True)
        self.open.clear()
        self.provider.force_flush()
        self.provider.shutdown()
