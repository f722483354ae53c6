"""The run loop: feed -> backend -> strategy -> risk -> gateway, with fan-out, control and metrics.

Per packet (the tick): stamp its receive time, learn Stock Directory names, hand it to the backend, which
writes its events into a preallocated ring (`EventRing`; the C++ devices write straight into it, nothing
allocated), hand the strategy a view of them, deliver order updates, publish the events (ZeroMQ, the shared-
memory ring), and every `CONTROL_EVERY` packets answer the control socket. The host's book sees new events at
once (a read looks at the ring's unapplied tail) and applies them in bulk every `SYNC_EVENTS` events, off the
tick path; an exchange simulator with a book of its own gets them before each order and while orders rest on
it. GC is frozen and disabled for the run; `cpu` pins the process. `run()` returns the summary (what `--json`
prints).

A feed received natively (`NativeUdpFeed`) with a backend that has a C++ device is received in its own
steps (`_native_loop`), with no Python per packet, and its events go through the same delivery as every
other feed's. Each step hands whatever arrived, in order, to the device as one DMA batch and the strategy
gets all its events at once; every event's `ts_local` is its packet's kernel
receive time (CLOCK_MONOTONIC, as `perf_counter_ns`), so tick -> strategy is measured per event from it.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from tickgate.host.alerts import CHECK_S, Alerts, Threshold
from tickgate.host.backend import Backend
from tickgate.host.control import ControlServer
from tickgate.host.exchange import Exchange
from tickgate.host.fanout import EventPublisher
from tickgate.host.market import R_MARK, Directory, TopOfBook
from tickgate.host.metrics import Metrics
from tickgate.host.orders.native import make_risk
from tickgate.host.orders.types import OrderGateway, UpdateKind
from tickgate.host.risk import RiskLimits
from tickgate.host.run_control import RunControl, RunState
from tickgate.host.strategy import Strategy
from tickgate.host.strategy.orders import make_router
from tickgate.protocol.events import EVENT_DTYPE
from tickgate.protocol.moldudp64 import HEADER_LEN
from tickgate.protocol.packet import Packet

if TYPE_CHECKING:
    from tickgate.host.tracing import OrderTracing

__all__ = ["EventRing", "RunOptions", "Runner"]

CONTROL_EVERY = 64  # packets between control-socket polls
RING_EVENTS = 1 << 16  # the event buffer the card writes into, reused as a ring
RING_RESERVE = 1 << 13  # room kept for one packet's events before wrapping
SYNC_EVENTS = 1 << 10  # events handed out before the book applies them (reads see them at once regardless)
LOSS_CHECK_S = 0.05  # seconds between P&L checks against max_loss (marking every position)
NATIVE_WAIT_S = 0.05  # a native receive step waits at most this long (control, updates and stop are served)
_now = time.perf_counter_ns


class EventRing:
    """The buffer a backend writes events into, reused as a ring.

    A backend writes at `pos` (into `free()`), `push(n)` hands those `n` out; `buf[applied:pos]` are handed
    out and not yet applied to the book (`unapplied`, `mark_applied`). `wrap` starts again at 0 (once
    everything is applied), which `needs_wrap` asks for when less than `reserve` is left for a packet.
    """

    __slots__ = ("applied", "buf", "pos", "raw", "reserve", "size")

    def __init__(self, size: int = RING_EVENTS, reserve: int = RING_RESERVE) -> None:
        if size < 4:
            raise ValueError(f"an event ring holds at least 4 events, not {size}")
        self.buf = np.zeros(size, dtype=EVENT_DTYPE)
        self.raw = self.buf.view("V64")  # the same memory as opaque records: cheaper to slice
        self.size = size
        self.reserve = min(reserve, size // 4)
        self.pos = self.applied = 0

    def free(self) -> np.ndarray:
        """The room after `pos`, as V64 records, for a backend to write into."""
        return self.raw[self.pos:]

    def push(self, n: int) -> np.ndarray:
        """Hand out the `n` events just written at `pos`."""
        start = self.pos
        self.pos = start + n
        return self.buf[start:start + n]

    def needs_wrap(self) -> bool:
        return self.pos > self.size - self.reserve

    def unapplied(self) -> np.ndarray:
        return self.buf[self.applied:self.pos]

    def mark_applied(self) -> None:
        self.applied = self.pos

    def wrap(self) -> None:
        self.pos = self.applied = 0


def _with_lines(feed, backend: Backend) -> tuple[Iterator[tuple[bytes, int]], Callable, Callable]:
    """A two-line feed's (payload, rx_ns, line) as the run loop's (payload, rx_ns), and its `feed` and `tick`
    giving the card each packet with the line of the one last drawn (the one-line loop stays as it is)."""
    last = [0]

    def pairs() -> Iterator[tuple[bytes, int]]:
        for payload, rx, line in feed:
            last[0] = line
            yield payload, rx

    return (pairs(), lambda payload, rx: backend.feed(payload, rx, last[0]),
            lambda payload, rx, out: backend.tick(payload, rx, out, last[0]))


class _ExchangeBook:
    """Feeds an exchange simulator with a book of its own (out of process) the events of the ring, lazily.

    Its book must be current when an order reaches it and while orders rest on it, not otherwise: `flush`
    runs before every order (the router's `before_send`), after every packet while orders are open, and
    every `SYNC_EVENTS` events. Returns the ns it took, which the router keeps out of the host's latencies.
    """

    __slots__ = ("buf", "end", "start", "update")

    def __init__(self, update, buf: np.ndarray) -> None:
        self.update, self.buf = update, buf
        self.start = self.end = 0

    def flush(self) -> int:
        if self.end <= self.start:
            return 0
        t0 = _now()
        self.update(self.buf[self.start:self.end])
        self.start = self.end
        return _now() - t0


@dataclass
class RunOptions:
    """How to run: stamping, batching, endpoints (None: off), pinning, progress, draining."""

    restamp: bool = True  # stamp each packet's receive time on arrival (files); False keeps the feed's
    batch_packets: int = 1  # 1: every packet is a tick; N: events taken every N packets (throughput)
    fanout: str | None = None  # e.g. tcp://127.0.0.1:5555
    fanout_wait: int = 0  # wait for this many subscribers before starting
    shm: str | None = None  # the shared-memory event ring's name (/dev/shm/NAME)
    shm_records: int = 1 << 16  # its capacity in records, a power of two
    control: str | None = None  # e.g. tcp://127.0.0.1:5556
    prometheus_port: int | None = None  # 0 picks a free port
    limits_path: str | None = None
    cpu: int | None = None
    progress: bool = False
    drain_s: float = 1.0  # after the feed ends, wait up to this long for order updates
    cancel_at_end: bool = True
    ring_events: int = RING_EVENTS  # the event ring the backend writes into
    alerts: tuple[Threshold, ...] = ()  # thresholds checked every CHECK_S (host.alerts)
    tracing: OrderTracing | None = None  # order spans (host.tracing); None: off, nothing wrapped


class Runner:
    """One run of a strategy on a feed; build it, then `run()`. `ctl` answers the control socket and makes
    the summary."""

    def __init__(self, feed: Iterable[Packet], backend: Backend, strategy: Strategy, gateway: OrderGateway, *,
                 exchange: Exchange | None = None, limits: RiskLimits | None = None,
                 options: RunOptions | None = None) -> None:
        self.feed, self.backend, self.strategy, self.gateway = feed, backend, strategy, gateway
        self.exchange = exchange
        self.opt = options or RunOptions()
        self.metrics = Metrics()
        self.directory = Directory()
        self.book = TopOfBook()
        self.risk = make_risk(limits, gateway)  # native over a native gateway, else host.risk.Risk
        self.router = make_router(gateway, self.risk, self.directory, self.book, self.metrics)
        self.router.attach(backend.device)  # rules are armed on it; a C++ device hands fires to the native path
        strategy.bind(self.router, self.book, self.directory)
        if self.opt.tracing is not None:
            self.opt.tracing.attach(self.router, strategy)
        self._shared = exchange is not None and exchange.share_book(self.book)  # in-process: reads the host's book
        self.state = RunState()
        self.ctl = RunControl(self.state, self.risk, self.router, self.directory, self.book, self.metrics,
                              backend=backend.name, strategy=strategy.name, limits_path=self.opt.limits_path,
                              stop_feed=getattr(feed, "stop", None))
        self.publisher = EventPublisher(self.directory, self.opt.fanout) if self.opt.fanout else None
        self.shm = None
        if self.opt.shm:
            from tickgate.host.shm import ShmPublisher

            self.shm = ShmPublisher(self.opt.shm, self.opt.shm_records)
        self.control = ControlServer(self.ctl.handle, self.opt.control) if self.opt.control else None
        self.prometheus = None
        if self.opt.prometheus_port is not None:
            from tickgate.host.metrics import PrometheusServer

            self.prometheus = PrometheusServer(self.metrics, self.opt.prometheus_port)
        self.updates_seen = 0
        self._symbols_sent = 0
        self._xbook: _ExchangeBook | None = None
        self.ring = EventRing(self.opt.ring_events)
        self.alerts = Alerts(self.opt.alerts, self.metrics) if self.opt.alerts else None
        self._next_alert_check = self._next_loss_check = 0.0
        self.metrics.sources.append(self._counters)

    def summary(self, final: bool = True) -> dict:
        return self.ctl.summary(final)

    def _counters(self) -> dict[str, int]:
        """The counters of the run's parts: backend, feed, fan-out, control socket, directory."""
        c = {k: v for k, v in self.backend.counters().items() if v}
        stats = getattr(self.feed, "stats", None)
        if stats:
            c.update({k: v for k, v in stats().items() if v})
        if self.publisher:
            c.update(self.publisher.stats())
        if self.shm:
            c.update(self.shm.stats())
        if self.control:
            c["control_requests"] = self.control.requests
            c["control_bad_requests"] = self.control.bad_requests
        c["directory_symbols"] = len(self.directory)
        return c

    def _updates(self) -> None:
        """Deliver fires, risk rejections and gateway updates to risk and the strategy."""
        self.router.collect_fires()
        if self.router.fire_log:
            for f in self.router.take_fire_log():
                self.strategy.on_fire(f)
        ups = self.router.pending
        if ups:
            self.router.pending = []
            for u in ups:
                self.strategy.on_order_update(u)
        for u in self.gateway.poll():
            self.updates_seen += 1
            if u.kind is UpdateKind.REJECTED:
                self.state.exchange_rejects += 1
            if self.risk.on_update(u):
                self.state.kills += 1
                self.router.cancel_all()
            self.strategy.on_order_update(u)

    def _new_symbols(self) -> None:
        """Tell the exchange the names the directory learnt since last time."""
        log = self.directory.log
        if self.exchange is not None and len(log) > self._symbols_sent:
            self.exchange.set_symbols(dict(log[self._symbols_sent:]))
        self._symbols_sent = len(log)

    def run(self) -> dict:
        """Run to the end of the feed (or a stop); the summary."""
        opt, st = self.opt, self.state
        if opt.cpu is not None:
            os.sched_setaffinity(0, {opt.cpu})
        if self.publisher and opt.fanout_wait:
            self.publisher.wait_for_subscribers(opt.fanout_wait)
        backend, ring = self.backend, self.ring
        native = self._native_device()
        ring.wrap()
        buf, raw, size = ring.buf, ring.raw, ring.size
        r_mark = R_MARK
        strategy, router, book, directory, risk = self.strategy, self.router, self.book, self.directory, self.risk
        publisher, control = self.publisher, self.control
        shm_publish = self.shm.publish if self.shm is not None else None
        ex_update = None if self._shared or self.exchange is None else self.exchange.update_book
        xbook = _ExchangeBook(ex_update, ring.buf) if ex_update is not None else None
        router.before_send = xbook.flush if xbook is not None else None
        self._xbook = xbook
        lat = self.metrics.latency
        f2e, t2s = lat["feed_to_event"], lat["tick_to_strategy"]
        restamp, every = opt.restamp, max(1, opt.batch_packets)
        per_packet = every == 1  # every packet a tick: its events share its receive time
        feed, collect = backend.feed, backend.collect
        backend.flush()
        tick = backend.device.submit_packet  # backend.tick without its frame: nothing is queued when every packet ticks
        source = self.feed
        if backend.lines:  # A/B lines: the feed yields (payload, rx_ns, line); each packet goes with its line
            source, feed, tick = _with_lines(self.feed, backend)
        stats = getattr(self.feed, "stats", None) if opt.progress else None
        total = stats().get("file_total_bytes") if stats is not None else None
        bar = tqdm(total=total or None, unit="B" if total else "pkt", unit_scale=True, disable=not opt.progress,
                   leave=False, mininterval=0.5)
        if control is not None and hasattr(self.feed, "on_idle"):
            self.feed.on_idle = control.poll  # a quiet live feed still answers the control socket
        events = 0

        def deliver(n: int, rx: int, stamped: bool = not per_packet) -> None:
            """Hand the `n` events the backend just wrote into the ring to the strategy, and on. `rx` is the tick's
            receive time; `stamped`: the events are of many packets, each timed from its own (`ts_local`)."""
            nonlocal events
            t = _now()
            start = ring.pos
            pos = ring.pos = start + n
            batch = buf[start:pos]
            book.hi = pos  # the book sees ring.unapplied() when read, applies it when settled
            if xbook is not None:
                xbook.end = pos
            router.tick_rx_ns = rx
            router.see_events(batch)  # the native order path's mids
            t_call = _now()
            strategy.on_events(batch)
            if not stamped:
                t2s.add_n(t_call - rx, n)
                f2e.add_n(t - rx, n)
            else:  # events of many packets: each its own packet's receive time
                ts_local = batch["ts_local"]
                t2s.add_many(t_call, ts_local)
                f2e.add_many(t, ts_local)
            if shm_publish is not None:
                shm_publish(batch)
            if publisher is not None:
                publisher.publish(batch)
            events += n
            if xbook is not None and (risk.open or pos - xbook.start >= SYNC_EVENTS):
                xbook.flush()  # resting orders cross against every packet's book
            if pos - ring.applied >= SYNC_EVENTS:
                self._settle(ring.unapplied())
                ring.mark_applied()

        strategy.on_start()
        gc.collect()
        gc.freeze()
        gc.disable()
        t_start = time.perf_counter()
        packets = 0
        book.buf, book.lo, book.hi = ring.buf, 0, 0
        try:
            try:
                if native is not None:
                    self.feed.attach(native)
                    packets = self._native_loop(deliver, lambda: events)
                for payload, rx in source if native is None else ():
                    if restamp:
                        rx = _now()
                    packets += 1
                    if payload.find(r_mark, HEADER_LEN) >= 0 and directory.scan(payload):  # a Stock Directory block
                        self._new_symbols()
                    space = size - ring.pos
                    if per_packet:
                        n = tick(payload, rx, raw[ring.pos:])
                    else:
                        feed(payload, rx)
                        n = collect(raw[ring.pos:]) if packets % every == 0 else 0
                    while True:
                        if n:
                            deliver(n, rx)
                        if n < space:
                            break
                        self._wrap()  # the ring is full and the backend has more
                        space = size
                        n = collect(raw)
                    if ring.needs_wrap():  # room for the next packet's events, off its tick
                        self._wrap()
                    self._updates()
                    if packets % CONTROL_EVERY == 0:
                        self._periodic(packets, events)
                        if st.stop:
                            break
                        if stats is not None and packets % 256 == 0:
                            bar.update((stats()["file_bytes_read"] if total else packets) - bar.n)
            except KeyboardInterrupt:
                st.interrupted = True  # Ctrl-C: stop feeding, settle, drain and summarise as at the end
            backend.end_of_input()  # two lines: the card's arbiter releases what it holds (one line: nothing)
            while True:  # what the backend still holds (batches not yet full)
                space = ring.size - ring.pos
                n = collect(ring.free())
                if n:
                    deliver(n, 0)
                if n < space:
                    break
                self._wrap()
            self._settle(ring.unapplied())
            ring.mark_applied()
        finally:
            st.seconds = time.perf_counter() - t_start
            gc.enable()
            gc.unfreeze()
            bar.close()
        st.packets, st.events = packets, events
        self._drain()
        strategy.on_stop()
        self._check_alerts(time.monotonic())  # the run's last word on every threshold
        return self.summary()

    def _periodic(self, packets: int, events: int) -> None:
        """What both loop bodies do off the tick, every CONTROL_EVERY packets (and when a live feed is idle): the
        counts the control socket reports, its requests, the loss limit (every LOSS_CHECK_S) and the alerts
        (every CHECK_S)."""
        st = self.state
        st.packets, st.events = packets, events
        if self.control is not None:
            self.control.poll()
        now = time.monotonic()
        if now >= self._next_loss_check:
            self._next_loss_check = now + LOSS_CHECK_S
            if self.risk.position and self.risk.check_loss(self.ctl.mark):
                st.kills += 1
                self.router.cancel_all()
        if now >= self._next_alert_check:
            self._check_alerts(now)

    def _check_alerts(self, now: float) -> None:
        """Raise and clear the alerts (every CHECK_S, off the tick; a no-op without thresholds)."""
        self._next_alert_check = now + CHECK_S
        if self.alerts is not None:
            st = self.state
            self.metrics.counters.update({"packets": st.packets, "events": st.events, "kills": st.kills})
            self.alerts.check()

    def _native_device(self):
        """The C++ device a natively received feed hands its packets to, or None (packets go through Python)."""
        if not hasattr(self.feed, "receive_into"):
            return None
        from tickgate._driver import Device

        device = self.backend.device
        return device if isinstance(device, Device) else None  # a Python model has no C++ side

    def _native_loop(self, deliver: Callable[[int, int, bool], None], handed: Callable[[], int]) -> int:
        """The loop's body for a natively received feed (see the module doc): each step's events go through the
        run's `deliver`, timed from their packets' kernel receive times; `handed()` counts the events so far.
        Returns the packets received, at the end of the feed, on a stop or on Ctrl-C."""
        st, ring, directory = self.state, self.ring, self.directory
        rx = self.feed.rx  # the C++ receiver: its methods called straight, no Python frame in between
        receive, collect = rx.receive_into, rx.collect
        stamps = ring.buf["ts_local"]  # each event's packet's kernel receive time
        packets = 0
        next_control = CONTROL_EVERY
        try:
            while not rx.ended and not st.stop:
                if ring.needs_wrap():
                    self._wrap()
                n = receive(ring.free(), NATIVE_WAIT_S)
                if rx.directory_waiting:  # Stock Directory packets: names before their events
                    for p in rx.take_directory():
                        directory.scan(p)
                    self._new_symbols()
                while n:
                    deliver(n, int(stamps[ring.pos]), n > 1)  # one event (live rates): timed by scalar writes
                    if ring.pos < ring.size:
                        break
                    self._wrap()  # the ring is full and the device may have more
                    n = collect(ring.free())
                self._updates()
                received = rx.packets
                arrived, packets = received != packets, received
                if packets >= next_control or not arrived:
                    next_control = packets + CONTROL_EVERY
                    self._periodic(packets, handed())
        except KeyboardInterrupt:
            st.interrupted = True
        return packets

    def _wrap(self) -> None:
        """Apply what the ring holds and start it again at 0."""
        ring = self.ring
        self._settle(ring.unapplied())
        ring.wrap()
        self.book.lo = self.book.hi = 0
        if self._xbook is not None:
            self._xbook.start = self._xbook.end = 0

    def _settle(self, region: np.ndarray) -> None:
        """Apply handed-out events to the book (and to an exchange that reads it) before reuse of their buffer."""
        if self._xbook is not None:
            self._xbook.flush()
        self.book.sync()
        if self._shared and len(region):
            self.exchange.update_book(region)

    def _drain(self) -> None:
        """Cancel what is still open (unless told not to) and collect updates until quiet or `drain_s`."""
        if self.risk.position and self.risk.check_loss(self.ctl.mark):
            self.state.kills += 1
        if self.opt.cancel_at_end or self.risk.killed:
            self.router.cancel_all()
        deadline = time.monotonic() + self.opt.drain_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            before = self.updates_seen
            self._updates()
            if self.control is not None:
                self.control.poll()
            if self.updates_seen != before:
                quiet_since = time.monotonic()
            elif not self.risk.open and time.monotonic() - quiet_since > 0.05:
                break
            time.sleep(0.002)

    def close(self) -> None:
        for part in (self.publisher, self.shm, self.control, self.prometheus, self.opt.tracing):
            if part is not None:
                part.close()
        self.gateway.close()
