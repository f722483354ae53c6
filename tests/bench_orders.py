"""Benchmark: strategy -> OUCH bytes written, the native order path next to the Python one, and strategy -> FIX
NewOrderSingle written (QuickFIX, `--exchange fix:...`) beside them, in one run.

1. The order path alone: `self.orders.buy(...)` as a strategy calls it, to the exchange simulator (its own
   process) over loopback TCP, through risk, OUCH 5.0 encoding and the SoupBinTCP write. The latency is the
   router's `strategy_to_order` (decision -> bytes written on the socket), as `tickgate run` reports it, each
   sample exact (no histogram buckets). The host's book holds a ring of unapplied events as in a run (the
   Python risk's mid reads it); each order is immediate-or-cancel one tick inside the price band and away from
   the touch (accepted, then canceled: no position builds), and its updates are drained before the next.
   `--runs` runs of `--orders` orders, the cases interleaved; p50/p90/p99 of each run (with the load average after
   it) and their medians. The native path is measured side by side with the simulator asleep (as `tickgate run
   --exchange sim` starts it) and spinning (`--sim-busy-poll`: no wake-up of it paid in the write), each on the
   machine as it is (`default`) and with the CPU wake-up latency limit held at 0 (`qos0`, `--cpu-dma-latency 0`:
   idle CPUs poll, a wake-up needs no interrupt; `--haltpoll-ns NS` adds the guest's halt polling as a case).
   The goal is judged on `native, sim asleep` (default, and qos0 beside it). The FIX
   path is the same router (Python risk) over `FixGateway`: the NewOrderSingle built and handed to the QuickFIX
   session, which writes it before `send` returns, to the simulator's FIX acceptor.
2. Where the time goes, the native call alone, no simulator: risk + encoding + the call (`active` False: nothing
   written); + the write on a Unix socket pair; + the write on loopback TCP to a reader process asleep in
   recv (SCHED_BATCH, as the simulator; its wake-up is the sender's work), 100 us between orders; and to a
   reader that answers every order, the next sent once the answer is in (the simulator's ping-pong: the
   reader is often still on its way to sleep, and the wake-up waits for it to get there).
3. Whole `tickgate run`s (the `make demo` feed: generated, imbalance strategy, software card, the simulator):
   `latency_us.strategy_to_order` and `tick_to_order` of `--order-path python` and `native`, and of
   `--exchange fix:sim`, one run each; and native with `--cpu-dma-latency 0`.

    .venv/bin/python tests/bench_orders.py [--orders 5000] [--runs 5] [--demo-messages 200000] [--cases "native"]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.latency_cases import Figures, chosen_cases, loadavg, pin_trader, tuning, tunings  # noqa: E402
from tickgate.host.exchange.sim import SimExchange  # noqa: E402
from tickgate.host.market import Directory, TopOfBook  # noqa: E402
from tickgate.host.metrics import Metrics  # noqa: E402
from tickgate.host.orders.fix_gateway import FixGateway  # noqa: E402
from tickgate.host.orders.native import NativeOuchGateway, make_risk  # noqa: E402
from tickgate.host.orders.ouch_gateway import OuchGateway  # noqa: E402
from tickgate.host.risk import RiskLimits  # noqa: E402
from tickgate.host.strategy.orders import make_router  # noqa: E402
from tickgate.protocol.events import EventKind, empty  # noqa: E402

SYMBOLS = {loc: f"S{loc:03d}" for loc in range(1, 201)}
RING = 1 << 10  # events the run loop hands out before the book applies them (host/run.py SYNC_EVENTS)
LIMITS = RiskLimits(max_orders_per_s=1e9)  # the bench sends as fast as the round trips allow


def market(rng: random.Random) -> np.ndarray:
    """A ring of BBO events over the symbols, around $100."""
    ev = empty(RING)
    ev["kind"] = EventKind.BBO
    ev["locate"] = [rng.choice(list(SYMBOLS)) for _ in range(RING)]
    bid = np.array([1_000_000 + rng.randint(-2_000, 2_000) for _ in range(RING)])
    ev["bid_px"], ev["ask_px"] = bid, bid + 100
    ev["bid_sz"], ev["ask_sz"] = 300, 300
    return ev


def one_run(path: str, sim: SimExchange, orders: int, seed: int) -> np.ndarray:
    """strategy -> bytes written (ns) of each order of one run on a new session of `sim`."""
    rng = random.Random(seed)
    if path == "fix":
        gw = FixGateway.connect(*sim.fix_address)
    else:
        cls = NativeOuchGateway if path == "native" else OuchGateway
        gw = cls.connect(*sim.address, sim.username, sim.password)
    directory, book, metrics = Directory(SYMBOLS), TopOfBook(), Metrics()
    risk = make_risk(LIMITS, gw)
    router = make_router(gw, risk, directory, book, metrics)
    ring = market(rng)
    book.update(ring)
    router.see_events(ring)
    book.buf, book.lo = ring, 0
    s2o = metrics.latency["strategy_to_order"]
    for i in range(orders):
        hi = 1 + (i * 37) % RING  # how far the ring has filled since the book last applied it
        book.hi = hi
        ev = ring[hi - 1]
        loc, bid = int(ev["locate"]), int(ev["bid_px"])
        tok = router.buy(loc, 100, bid - 100, "3") if i % 2 else router.sell(loc, 100, bid + 200, "3")
        done = 0
        deadline = time.monotonic() + 5
        while done < 2:  # accepted, then canceled (immediate or cancel, nothing to fill)
            for u in gw.poll():
                risk.on_update(u)
                done += u.token == tok
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path}: no updates for order {tok}: {gw.counters}")
    if router.risk_rejects or len(s2o.ring[:s2o.n]) != orders:
        raise RuntimeError(f"{path}: {router.risk_rejects} risk rejections, {s2o.n} samples")
    gw.close()
    return s2o.ring[:s2o.n].copy()


def components(orders: int, cpus: set[int] | None = None) -> dict[str, np.ndarray]:
    """ns of `fast_enter` alone, writing to a socket pair, and to a sleeping reader over loopback TCP."""
    import os
    import socket

    from tickgate._driver import OrderPath

    limits = RiskLimits(max_orders_per_s=1e12, max_position=10**12, max_total_position=10**12,
                        max_notional=1e12)
    out: dict[str, np.ndarray] = {}
    now = time.perf_counter_ns
    ring = market(random.Random(0))
    for what in ("call", "unix", "tcp", "echo"):
        path = OrderPath(limits)
        path.see_events(ring)
        path.set_symbol(int(ring[0]["locate"]), "S")
        loc, bid = int(ring[0]["locate"]), int(ring[0]["bid_px"])
        enter = path.fast_enter
        child, ours, theirs = 0, None, None
        if what == "unix":
            ours, theirs = socket.socketpair()
        elif what in ("tcp", "echo"):
            srv = socket.create_server(("127.0.0.1", 0))
            child = os.fork()
            if child == 0:  # the reader: asleep in recv until an order arrives; SCHED_BATCH as the simulator
                if cpus:  # where the simulator would be
                    os.sched_setaffinity(0, cpus)
                os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
                conn = socket.create_connection(srv.getsockname())
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with contextlib.suppress(OSError):
                    while conn.recv(1 << 16):
                        if what == "echo":
                            conn.send(bytes(70))  # an Order Accepted's worth
                os._exit(0)
            ours, _ = srv.accept()
            srv.close()
            ours.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ours is not None:
            ours.setblocking(False)
            path.writer.attach(ours.fileno())
        ns = np.zeros(orders, dtype=np.int64)
        for i in range(orders):
            if what == "tcp":
                until = now() + 100_000
                while now() < until:
                    pass
            elif what == "echo":
                got = 0
                while i and got < 70:
                    with contextlib.suppress(BlockingIOError):
                        got += len(ours.recv(1 << 16))
            t0 = now()
            enter(loc, "B", 1, bid, "0", what != "call")
            ns[i] = (path.last_send_ns if what != "call" else now()) - t0
            if what == "unix" and i % 64 == 0:
                with contextlib.suppress(BlockingIOError):
                    while theirs.recv(1 << 16, socket.MSG_DONTWAIT):
                        pass
        for sock in (ours, theirs):
            if sock is not None:
                sock.close()
        if child:
            os.waitpid(child, 0)
        out[what] = ns
    return out


def demo_run(feed: Path, path: str, extra: tuple[str, ...] = ()) -> dict:
    exchange = ["--exchange", "fix:sim"] if path == "fix" else ["--exchange", "sim", "--order-path", path]
    exchange += list(extra)
    proc = subprocess.run([sys.executable, "-m", "tickgate.host.cli", "run", "--feed", str(feed), "--strategy",
                           "imbalance", "--backend", "software", *exchange, "--no-progress", "--json"],
                          capture_output=True, text=True, check=True)
    return json.loads(next(line for line in reversed(proc.stdout.splitlines()) if line.startswith("{")))


def cases_of(tunes: tuple[str, ...]) -> dict[str, tuple[str, bool, str]]:
    """case -> (order path, the simulator busy-polls, tuning)."""
    return {
        "python, sim asleep, default": ("python", False, "default"),
        **{f"native, sim {ex}, {t}": ("native", ex == "spinning", t) for ex in ("asleep", "spinning") for t in tunes},
        "fix, sim asleep, default": ("fix", False, "default"),
    }


GOAL_CASES = ("native, sim asleep, default", "native, sim asleep, qos0")
COMPONENTS = {"call": "risk + encode + call, nothing written", "unix": "+ write, Unix socket pair",
              "tcp": "+ write, loopback TCP, reader asleep", "echo": "+ write, loopback TCP, reader answering"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=5_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--demo-messages", type=int, default=200_000, help="0: skip the whole-run comparison")
    ap.add_argument("--cases", default="", help="only the cases whose name contains one of these (separated by ;)")
    ap.add_argument("--haltpoll-ns", type=int, metavar="NS",
                    help="add cases with the guest's halt polling at NS ns (root, cpuidle haltpoll; put back after)")
    ap.add_argument("--pin", action="store_true",
                    help="this process on the last CPU and the simulator on the others (tickgate run --cpu N)")
    args = ap.parse_args()
    tunes, why = tunings(args.haltpoll_ns)
    sim_cpus = pin_trader() if args.pin else None

    print(f"strategy -> OUCH (python, native) / FIX NewOrderSingle (fix) bytes written, {args.orders:,} orders a "
          f"run, {args.runs} runs, to the simulator over loopback (us)")
    cases = chosen_cases(cases_of(tunes), args.cases, why)
    figures = Figures()
    for run in range(args.runs):
        for case, (path, spin, tune) in cases.items():
            with tuning(tune), SimExchange(fix_port=0 if path == "fix" else None, busy_poll=spin, cpus=sim_cpus) as sim:
                sim.set_symbols(SYMBOLS)  # a session of its own
                ns = one_run(path, sim, args.orders, seed=run)
            print(figures.add(case, ns, run), flush=True)
    print(f"median of runs (load average now {loadavg()}):")
    print("\n".join(figures.table()))
    if "python, sim asleep, default" in figures.runs:
        py50, _, py99 = figures.median("python, sim asleep, default")
        for case in ("native, sim asleep, default", "fix, sim asleep, default"):
            if case in figures.runs:
                p50, _, p99 = figures.median(case)
                print(f"  {case.split(',')[0]} / python: p50 {p50 / py50:.3f}, p99 {p99 / py99:.3f}")
    print("goal (native): p50 <= 2, p99 <= 10; judged on 'native, sim asleep' (the simulator as `tickgate run "
          "--exchange sim` starts it), default and qos0 (`--cpu-dma-latency 0`) both shown:")
    print("\n".join(figures.verdicts(GOAL_CASES, 2, 10)))

    print("the native call alone (us), one run each:")
    for tune in tunes:
        with tuning(tune):
            for what, ns in components(args.orders, sim_cpus).items():
                if tune != "default" and what in ("call", "unix"):
                    continue  # no wake-up in them
                p50, p90, p99 = (np.percentile(ns, q) / 1e3 for q in (50, 90, 99))
                print(f"  {COMPONENTS[what] + ', ' + tune:50s} p50 {p50:6.2f}  p90 {p90:6.2f}  p99 {p99:6.2f}  "
                      f"load {loadavg()}")

    if args.demo_messages:
        with tempfile.TemporaryDirectory() as tmp:
            feed = Path(tmp) / "demo.itch50"
            subprocess.run([sys.executable, "-m", "tickgate.host.cli", "gen", str(feed), "--messages",
                            str(args.demo_messages), "--symbols", "200", "--seed", "1"], check=True,
                           capture_output=True)
            print(f"tickgate run (make demo's feed, {args.demo_messages:,} messages, imbalance, software card, "
                  "sim), us")
            runs = [("python", ()), ("native", ()), ("fix", ())]
            if "qos0" in tunes:
                runs.append(("native", ("--cpu-dma-latency", "0")))
            for path, extra in runs:
                s = demo_run(feed, path, extra)
                lat = s["latency_us"]
                row = "  ".join(f"{k} p50 {lat[k]['p50']:.2f} p99 {lat[k]['p99']:.2f}"
                                for k in ("strategy_to_order", "tick_to_order"))
                print(f"  {path + ' ' + ' '.join(extra):30s} orders {s['orders']:5d}  {row}  load {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
