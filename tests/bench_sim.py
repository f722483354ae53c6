"""Benchmark: the `sim` backend (the pipeline RTL Verilated, driven from C++ in-process) on a generated file.

Reads the file into MoldUDP64 packets, packs them into DMA batches (untimed), then times the Verilated
pipeline on every batch through the Device interface (`tickgate._driver.SimDevice`: submit pushes the words
and runs to idle in C++; collect copies the events out).
Runs the whole file `--repeat` times (the device reset in between) and prints the medians: messages per
second (wall, and per CPU second of this process: the machine is shared, CPU seconds are the steadier
figure), cycles per second and cycles per message. Checks the events of every run (every byte but ts_local)
and the counters equal to the reference model's (`--reference software`: the C++ model, itself byte-exact
with the reference, faster on big files). `--replay` also times the whole `tickgate replay FILE --backend
sim` (a subprocess: start-up, the library from the index, reading, batching, the events out; the CLI's geometry,
which tracks BookGeometry's default 64 names where the loop above builds 8: its own build). The library
of the geometry is built first if needed (minutes; cached under build/sim/; the build time is printed).

    .venv/bin/python tests/bench_sim.py [--messages 200000] [--symbols 64] [--seed 7] [--order-table 10:4:8]
                                        [--repeat 3] [--replay]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bench_model import feed_file  # noqa: E402
from tickgate.host.backend import open_backend  # noqa: E402
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
    ap.add_argument("--repeat", type=int, default=3, help="runs of the whole file (medians are printed)")
    ap.add_argument("--replay", action="store_true", help="also time `tickgate replay FILE --backend sim`")
    ap.add_argument("--library", type=Path, help="this harness library (of the same geometry) instead of the "
                                                 "geometry's current build: to compare builds side by side")
    args = ap.parse_args()

    from tickgate._driver import SimDevice
    from tickgate.hdl.pipeline import pipeline_counters
    from tickgate.protocol.events import EVENT_DTYPE
    from tickgate.sim.verilated.build import library_for

    bits, ways, stash = map(int, args.order_table.split(":"))
    geometry = BookGeometry(symbols=args.symbols, levels=args.levels, names=8,
                            order_table=OrderTableConfig(bits, ways, stash))
    config = CardConfig(order_table=geometry.order_table, max_levels=geometry.levels, max_symbols=geometry.symbols,
                        level_events=False)
    t = time.perf_counter()
    library = args.library or library_for(geometry)
    stamp = library.parent / "model.json"
    model = json.loads(stamp.read_text()) if stamp.is_file() else {}
    built = (f" (its model was Verilated and compiled in {model['seconds']:.0f} s wall"
             + (f", {model['cpu_seconds']:.0f} s CPU)" if "cpu_seconds" in model else ")")) if model else ""
    print(f"library {library} ready in {time.perf_counter() - t:.1f} s{built}")

    path = feed_file(args.messages, args.symbols, args.seed)
    packets = list(BinaryFileFeed(path))
    batches = [pack_dma(packets[i:i + args.batch]) for i in range(0, len(packets), args.batch)]

    from tickgate.sim.pipeline_run import RunConfig

    sim = SimDevice(str(library), list(pipeline_counters("dma")))
    writes = RunConfig(level_events=False).registers()
    kept = set(pipeline_counters("dma"))
    for offset, value in writes:
        sim.write_register(offset, value)
    runs = []
    for run in range(args.repeat):
        if run:
            sim.reset()  # the pipeline's reset, then the same register writes again
        start_cycles = sim.cycles
        parts = []
        t, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            sim.submit(batch)
            out = np.empty(sim.pending(), dtype=EVENT_DTYPE)
            parts.append(out[:sim.collect(out)])
        seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
        counters = {k: v for k, v in sim.counters().items() if k in kept}
        runs.append((seconds, cpu, sim.cycles - start_cycles, np.concatenate(parts), counters))
    got, counters = runs[0][3], runs[0][4]
    messages = counters["messages"]
    repeatable = all(np.array_equal(comparable(r[3]), comparable(got)) and r[4] == counters for r in runs)

    ref = open_backend(args.reference, config)
    for p in packets:
        ref.feed(p.payload, p.rx_ns)
    want = ref.take_events()
    ref_counters = ref.counters()
    same = len(got) == len(want) and np.array_equal(comparable(got), comparable(want))
    bad = {k: (v, ref_counters.get(k, 0)) for k, v in counters.items() if v != ref_counters.get(k, 0)}
    t_ = geometry.order_table
    print(f"geometry: {geometry.symbols} books, {geometry.levels} levels, order table {t_.bucket_bits}:{t_.ways}:"
          f"{t_.stash}; {len(packets):,} packets in {len(batches)} batches of {args.batch}")
    seconds = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    cycles = runs[0][2]
    print(f"sim backend: {messages:,} messages, {len(got):,} events, {cycles:,} cycles; median of {len(runs)} runs: "
          f"{seconds:.2f} s wall, {cpu:.2f} s CPU")
    print(f"  {messages / cpu:,.0f} msg/s per CPU second ({cycles / cpu:,.0f} cycles/s), {messages / seconds:,.0f} "
          f"msg/s wall; {cycles / messages:.2f} cycles/msg; runs (CPU s): {', '.join(f'{r[1]:.2f}' for r in runs)}")
    print(f"  events equal to the {args.reference} backend's: {same}; counters equal: {not bad}; "
          f"every run the same: {repeatable}")
    nonzero = {k: v for k, v in counters.items() if v and k not in ("messages",)}
    print(f"  counters: {nonzero}")
    if bad:
        print(f"  counter differences (sim, {args.reference}): {bad}")
    if args.replay:
        same = replay(path, args) and same
    return 0 if same and not bad and repeatable else 1


def replay(path: Path, args: argparse.Namespace) -> bool:
    """Time `tickgate replay FILE --backend sim` end to end, `--repeat` times; print the medians. The first run
    is not timed: it builds the CLI geometry's library if needed (64 names, not the loop's 8)."""
    cmd = [str(Path(sys.executable).with_name("tickgate")), "replay", str(path), "--backend", "sim", "--json",
           "--no-progress", "--max-symbols", str(args.symbols), "--max-levels", str(args.levels),
           "--order-table", args.order_table]
    if subprocess.run(cmd, capture_output=True).returncode != 0:
        print("  replay failed (untimed first run)")
        return False
    walls, cpus = [], []
    for _ in range(args.repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if done.returncode != 0:
            print(f"  replay failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
            return False
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(f"tickgate replay --backend sim: median of {len(walls)}: {wall:.2f} s wall, {cpu:.2f} s CPU: "
          f"{args.messages / cpu:,.0f} msg/s per CPU second, {args.messages / wall:,.0f} msg/s wall "
          f"(`{' '.join(cmd[1:])}`)")
    return True


if __name__ == "__main__":
    sys.exit(main())
