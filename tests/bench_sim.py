"""Benchmark: the `sim` backend (the pipeline RTL Verilated, driven from C++ in-process) on a generated file.

Reads the file into MoldUDP64 packets, packs them into DMA batches (untimed), then times the Verilated
pipeline on every batch (the C++ loop: push words, take events, run to idle) and the events taken out.
Checks the events (every byte but ts_local) and counters equal to the reference model's (`--reference
software`: the C++ model, itself byte-exact with the reference, faster on big files). Prints messages per
second, cycles per second and cycles per message. The library of the geometry is built first if needed
(minutes; cached under build/sim/).

    .venv/bin/python tests/bench_sim.py [--messages 200000] [--symbols 64] [--seed 7] [--order-table 10:4:8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bench_model import feed_file  # noqa: E402
from tickgate.host.backend import ModelBackend, SoftwareBackend  # noqa: E402
from tickgate.host.feeds import BinaryFileFeed  # noqa: E402
from tickgate.protocol.config import BookGeometry, CardConfig, OrderTableConfig  # noqa: E402
from tickgate.protocol.events import comparable  # noqa: E402
from tickgate.protocol.moldudp64 import pack_dma  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--symbols", type=int, default=64)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--levels", type=int, default=16)
    ap.add_argument("--order-table", default="10:4:8", help="BITS:WAYS:STASH (default: holds the default feed)")
    ap.add_argument("--batch", type=int, default=512, help="packets per DMA batch")
    ap.add_argument("--reference", choices=("model", "software"), default="model")
    args = ap.parse_args()

    from tickgate.sim.verilated.build import library_for
    from tickgate.sim.verilated.model import VerilatedPipeline

    bits, ways, stash = map(int, args.order_table.split(":"))
    geometry = BookGeometry(symbols=args.symbols, levels=args.levels, names=8,
                            order_table=OrderTableConfig(bits, ways, stash))
    config = CardConfig(order_table=geometry.order_table, max_levels=geometry.levels, max_symbols=geometry.symbols,
                        level_events=False)
    t = time.perf_counter()
    library = library_for(geometry)
    print(f"library {library.parent.parent.name}/{library.parent.name} ready in {time.perf_counter() - t:.1f} s")

    path = feed_file(args.messages, args.symbols, args.seed)
    packets = list(BinaryFileFeed(path))
    batches = [pack_dma(packets[i:i + args.batch]) for i in range(0, len(packets), args.batch)]

    from tickgate.sim.pipeline_run import RunConfig

    sim = VerilatedPipeline(library)
    for offset, value in RunConfig(level_events=False).registers():
        sim.write_reg(offset, value)
    start_cycles = sim.cycles
    parts = []
    t, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        sim.feed(batch)
        parts.append(sim.take_events())
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    cycles = sim.cycles - start_cycles
    got = np.concatenate(parts)
    counters = sim.counters()
    messages = counters["messages"]

    ref = SoftwareBackend(config) if args.reference == "software" else ModelBackend(config)
    for p in packets:
        ref.feed(p.payload, p.rx_ns)
    want = ref.take_events()
    ref_counters = ref.counters()
    same = len(got) == len(want) and np.array_equal(comparable(got), comparable(want))
    bad = {k: (v, ref_counters.get(k, 0)) for k, v in counters.items() if v != ref_counters.get(k, 0)}
    t_ = geometry.order_table
    print(f"geometry: {geometry.symbols} books, {geometry.levels} levels, order table {t_.bucket_bits}:{t_.ways}:"
          f"{t_.stash}; {len(packets):,} packets in {len(batches)} batches of {args.batch}")
    print(f"sim backend: {messages:,} messages, {len(got):,} events, {cycles:,} cycles in {seconds:.2f} s")
    print(f"  {messages / seconds:,.0f} msg/s, {cycles / seconds:,.0f} cycles/s, {cycles / messages:.2f} cycles/msg "
          f"(per CPU second of this process: {messages / cpu:,.0f} msg/s, {cycles / cpu:,.0f} cycles/s)")
    print(f"  events equal to the {args.reference} backend's: {same}; counters equal: {not bad}")
    nonzero = {k: v for k, v in counters.items() if v and k not in ("messages",)}
    print(f"  counters: {nonzero}")
    if bad:
        print(f"  counter differences (sim, {args.reference}): {bad}")
    return 0 if same and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
