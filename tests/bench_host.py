"""Benchmark: the trading host on the software backend.

1. tick -> strategy: from a packet's receive stamp to the strategy callback holding its events, p50/p99,
   with packets of at most 72 bytes (one or two messages, as a quiet live feed sends them) and with
   full 1,400-byte packets (about 40 messages a packet: the card model works through the whole packet
   before the first of its events is handed over). The strategy is `imbalance`, orders go to the paper
   exchange (in-process), so decision -> order on the wire is the host's own path.
2. events/s through `on_events`: the imbalance strategy on batches of 64 packets' events, timing only the
   calls; and the whole loop's events/s.
3. peak RSS of a whole `tickgate run` process (interpreter, numpy, zmq, the C++ card) at 1,000 symbols.

    .venv/bin/python tests/bench_host.py [--messages 300000] [--rss-messages 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickgate.host.backend import open_backend  # noqa: E402
from tickgate.host.exchange.paper import PaperExchange  # noqa: E402
from tickgate.host.feeds import pack_messages  # noqa: E402
from tickgate.host.feeds.generator import Generator  # noqa: E402
from tickgate.host.run import Runner, RunOptions  # noqa: E402
from tickgate.host.strategy import Strategy, load_strategy  # noqa: E402
from tickgate.protocol.events import EventKind  # noqa: E402
from tickgate.protocol.packet import Packet  # noqa: E402

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking (bench) process
_RSS_SCRIPT = """
import re, sys
from tickgate.host.cli import main
rc = main(["run", "--feed", sys.argv[1], "--backend", "software", "--exchange", "paper", "--no-progress",
           "--json"])
print("RSS_KB", re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
sys.exit(rc)
"""


def packets(messages: int, symbols: int, seed: int, max_payload: int) -> list[Packet]:
    gen = Generator(messages, symbols, seed)
    return [Packet(p, 0) for p in pack_messages(iter(gen), max_payload=max_payload, end_of_session=True)]


class CountBbo(Strategy):
    """The framework's ceiling: one vectorised numpy pass over each batch."""

    name = "count_bbo"

    def on_start(self) -> None:
        self.bbo = 0

    def on_events(self, batch: np.ndarray) -> None:
        self.bbo += int(np.count_nonzero(batch["kind"] == EventKind.BBO))


def run(pk: list[Packet], batch_packets: int = 1, strategy: str | Strategy = "imbalance"):
    ex = PaperExchange()
    strat = load_strategy(strategy) if isinstance(strategy, str) else strategy
    r = Runner(pk, open_backend("software"), strat, ex, exchange=ex,
               options=RunOptions(batch_packets=batch_packets, drain_s=0.0))
    calls = [0]
    inner = strat.on_events

    def timed(batch):
        t = time.perf_counter_ns()
        inner(batch)
        calls[0] += time.perf_counter_ns() - t

    if batch_packets > 1:
        strat.on_events = timed
    try:
        s = r.run()
    finally:
        r.close()
    return s, calls[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--rss-messages", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    print(f"tickgate host bench: software backend, imbalance strategy, paper exchange; "
          f"{args.messages:,} generated messages over {args.symbols} symbols")
    print(f"{'tick':<34} {'ticks':>9} {'events':>9} {'p50 us':>8} {'p99 us':>8} {'p99.9 us':>9}   "
          f"{'decision->order p50/p99 us':>26}")
    for label, max_payload in (("72-byte packets (1-2 messages)", 72), ("1,400-byte packets (~40 messages)", 1400)):
        pk = packets(args.messages, args.symbols, args.seed, max_payload)
        s, _ = run(pk)
        t2s, s2o = s["latency_us"]["tick_to_strategy"], s["latency_us"]["strategy_to_order"]
        print(f"{label:<34} {len(pk):>9,} {s['events']:>9,} {t2s['p50']:>8.2f} {t2s['p99']:>8.2f} "
              f"{t2s['p99.9']:>9.2f}   {s2o['p50']:>12.2f} / {s2o['p99']:>8.2f}   ({s['orders']:,} orders)")
    pk = packets(args.messages, args.symbols, args.seed, 1400)
    for strategy in ("imbalance", CountBbo()):
        s, call_ns = run(pk, batch_packets=64, strategy=strategy)
        print(f"on_events ({s['strategy']}), batches of 64 packets: {s['events'] / (call_ns / 1e9):,.0f} events/s "
              f"in the callback; whole loop {s['events_per_s']:,.0f} events/s ({s['events']:,} events, "
              f"{s['seconds']:.2f} s)")
    s, _ = run(pk)
    print(f"whole loop, every packet a tick: {s['events_per_s']:,.0f} events/s "
          f"({s['packets'] / s['seconds']:,.0f} packets/s)")

    feed = f"gen:{args.rss_messages}:1000:{args.seed}"
    proc = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, feed], capture_output=True, text=True, check=True)
    rss_kb = int(next(line for line in proc.stdout.splitlines() if line.startswith("RSS_KB")).split()[1])
    summary = json.loads(next(line for line in reversed(proc.stdout.splitlines()) if line.startswith("{")))
    print(f"peak RSS, tickgate run on {feed} (1,000 symbols, {summary['events']:,} events, "
          f"{summary['orders']:,} orders): {rss_kb / 1024:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
