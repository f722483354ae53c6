"""Benchmark: the f2 host path against the f1 host path, both on their fake cards, same stream.

What this measures is the HOST code, not a card: the fake cards play the card with the C++ software model
inside the host process, so every figure includes the model's own work (the "software" line: the same
model driven directly, no transport). F2's host path is write-combined stores into a mapped window, a store
fence, and polling a ring in host memory (no system call); F1's is pwrite/pread on the XDMA devices (here
served by FakeF1Card in-process, so not even its system calls are real). The F2 - software and F1 - software
differences are the host transports' costs as the fakes see them; a real card adds PCIe and its own clock.

1. events/s: DMA batches of 512 packets, submit + settle + collect every event, median of --repeats runs;
   f2 with its default ring of 2**15 records (2 MiB, a hugepage) and with one of 2**11 (128 KiB, in cache).
   The fake writes the ring with the CPU, so a ring larger than the cache may cost here what DDIO (PCIe
   writes into the last-level cache) spares a real card.
2. tick: one packet submitted and its events collected at once (`submit_packet(..., out)`, the live loop's
   call), median and p99 ns per packet.

    .venv/bin/python tests/bench_f2.py [--messages 300000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickgate import _driver  # noqa: E402
from tickgate.driver import f1_fake_tree, f2_fake_tree  # noqa: E402
from tickgate.host.feeds import pack_messages  # noqa: E402
from tickgate.host.feeds.generator import generate  # noqa: E402
from tickgate.protocol.events import EVENT_DTYPE  # noqa: E402
from tickgate.protocol.moldudp64 import pack_dma  # noqa: E402
from tickgate.protocol.packet import Packet  # noqa: E402

BATCH_PACKETS = 512


def devices(root: Path):
    """Fresh devices of each kind (a new card each run: books start empty)."""
    f1 = f1_fake_tree.make_tree(root / "f1")
    f2 = f2_fake_tree.make_tree(root / "f2")
    yield "software", lambda: _driver.SoftwareDevice()
    yield "f1 (fake card)", lambda: f1.backend(f1.fake(), timeout_s=10.0).device
    yield "f2 (fake card)", lambda: f2.backend(f2.fake(), timeout_s=10.0, ring_log2=15).device
    yield "f2, 128 KiB ring", lambda: f2.backend(f2.fake(), timeout_s=10.0, ring_log2=11).device


def throughput(make, batches: list[bytes], out: np.ndarray) -> tuple[float, int]:
    dev = make()
    events = 0
    t0 = time.perf_counter()
    for b in batches:
        dev.submit(b)
        dev.settle()
        while n := dev.collect(out):
            events += n
    dt = time.perf_counter() - t0
    dev.close()
    return events / dt, events


def tick(make, packets: list[Packet], out: np.ndarray) -> list[int]:
    dev = make()
    ns = []
    for payload, rx in packets:
        t = time.perf_counter_ns()
        dev.submit_packet(payload, rx, out)
        ns.append(time.perf_counter_ns() - t)
        while dev.collect(out):
            pass
    dev.close()
    return ns


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tick-packets", type=int, default=20_000)
    args = ap.parse_args(argv)

    packets = [Packet(p, 1_000 + 37 * i) for i, p in enumerate(pack_messages(
        generate(args.messages, args.symbols, 7), end_of_session=True))]
    batches = [pack_dma(packets[i:i + BATCH_PACKETS]) for i in range(0, len(packets), BATCH_PACKETS)]
    small = [Packet(p, 1_000 + 37 * i) for i, p in enumerate(pack_messages(
        generate(args.tick_packets, args.symbols, 8), max_payload=72))][:args.tick_packets]
    out = np.empty(1 << 16, dtype=EVENT_DTYPE)
    print(f"{args.messages} messages in {len(packets)} packets, {len(batches)} DMA batches of {BATCH_PACKETS}; "
          f"tick: {len(small)} packets of <= 72 bytes. The fakes measure the host code, not a card.")
    with tempfile.TemporaryDirectory() as tmp:
        kinds = list(devices(Path(tmp)))
        runs: dict[str, list[tuple[float, int]]] = {name: [] for name, _ in kinds}
        for _ in range(args.repeats):  # interleaved, so a busy moment of the machine hits every kind alike
            for name, make in kinds:
                runs[name].append(throughput(make, batches, out))
        rates: dict[str, float] = {}
        for name, make in kinds:
            counts = {n for _, n in runs[name]}
            assert len(counts) == 1, f"{name}: event counts differ between runs: {counts}"
            rates[name] = statistics.median(r for r, _ in runs[name])
            ns = sorted(tick(make, small, out))
            print(f"  {name:16s} {rates[name] / 1e6:6.2f} M events/s (median of {args.repeats}, {counts.pop()} "
                  f"events); tick median {ns[len(ns) // 2]:,} ns, p99 {ns[len(ns) * 99 // 100]:,} ns")
        sw = 1 / rates["software"]
        for name in ("f1 (fake card)", "f2 (fake card)", "f2, 128 KiB ring"):
            print(f"  {name}: host transport {(1 / rates[name] - sw) * 1e9:.0f} ns/event over the model alone")
        print(f"  f2 / f1 events/s: {rates['f2 (fake card)'] / rates['f1 (fake card)']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
