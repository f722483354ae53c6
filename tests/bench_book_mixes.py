"""Benchmark: the pipeline RTL's input rate and top-of-book latency on the throughput worst cases.

Each mix through the whole pipeline (Verilator + cocotb, the geometry of tests/test_rtl_pipeline.py, level
events on, no idle input, no output back-pressure), checked event for event against the reference model:

- day: a realistic generated day slice (host/feeds/generator.py);
- D, X, E, U: `host.feeds.stress`: the adds of `--orders` orders, then one delete, cancel, execution or
  replace for each, back to back (`tickgate gen --mix D|X|E|U`).

Prints, per mix: bytes per cycle accepted at the input (8.00: no back-pressure), whether any input beat
waited, and the latency from the beat holding a message's last byte to its first event and to its
top-of-book (BBO) event, min/median/max in cycles. A new geometry builds its simulator first (minutes).

    .venv/bin/python tests/bench_book_mixes.py [--orders 1500] [--day 6000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_rtl_pipeline import GEOMETRY  # noqa: E402
from tickgate.host.feeds import pack_messages  # noqa: E402
from tickgate.host.feeds.generator import Generator  # noqa: E402
from tickgate.host.feeds.stress import stress  # noqa: E402
from tickgate.sim.pipeline_run import RunConfig, pipeline_stimulus, run_pipeline  # noqa: E402

MIXES = ("day", "D", "X", "E", "U")


def mix_packets(mix: str, orders: int, day: int) -> list[bytes]:
    """The MoldUDP64 packets of one mix (see the module docstring)."""
    messages = Generator(day, 64, 8) if mix == "day" else stress(mix, orders, 64)
    return list(pack_messages(messages, end_of_session=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1500, help="orders of each stress mix (the table holds 2,052)")
    ap.add_argument("--day", type=int, default=6000, help="messages of the day slice")
    ap.add_argument("--mix", action="append", choices=MIXES, help="only these mixes (default: all)")
    ap.add_argument("--json", action="store_true", help="end with one JSON line of every mix's figures")
    args = ap.parse_args()

    config = RunConfig(level_events=True)
    mixes = args.mix or list(MIXES)
    stims = [pipeline_stimulus(mix_packets(mix, args.orders, args.day), GEOMETRY, config) for mix in mixes]
    t = time.perf_counter()
    runs = run_pipeline(stims, GEOMETRY, config)
    print(f"{len(mixes)} mixes simulated in {time.perf_counter() - t:.0f} s (a new geometry builds first)")
    print(f"{'mix':<5}{'messages':>9}{'B/cycle':>9}{'stalled':>9}   latency first event     latency BBO"
          f"   mismatches")
    figures = {}
    for mix, run in zip(mixes, runs, strict=True):
        s = run.summary()
        stalled = run.in_cycles[-1] - run.in_cycles[0] + 1 - len(run.in_cycles)
        lat, bbo = s["latency_cycles"], s["latency_bbo_cycles"]
        figures[mix] = {"messages": s["messages"], "bytes_per_cycle": s["bytes_per_cycle"], "stalled_cycles": stalled,
                        "latency": lat, "latency_bbo": bbo, "mismatches": s["mismatches"]}
        print(f"{mix:<5}{s['messages']:>9,}{s['bytes_per_cycle']:>9.3f}{stalled:>9}   "
              f"{lat['min']:>3}/{lat['median']:>5}/{lat['max']:>4}   {bbo['min']:>5}/{bbo['median']:>5}/{bbo['max']:>4}"
              f"   {s['mismatches']}")
    print("(latency: min/median/max cycles from the beat holding a message's last byte)")
    if args.json:
        print(json.dumps(figures))
    return 0 if all(f["mismatches"] == 0 for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
