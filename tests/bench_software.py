"""Benchmark: SoftwareCard (the C++ model of the card) next to itch-book on one generated file, in one run.

Times, interleaved and as the median of `--repeat` runs: reading the file into MoldUDP64 packets
(BinaryFileFeed), packing them into DMA batches, SoftwareCard processing the batches and handing out
every event into the caller's array, and itch-book (C++ parse + book + BBO table) on the same file.
Prints messages per second, the ratio SoftwareCard / itch-book, and whether both top-of-book streams
are equal row for row.

    .venv/bin/python tests/bench_software.py [--messages 2000000] [--symbols 500] [--seed 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bench_model import feed_file  # noqa: E402
from tests.oracles import itchbook_bbo, model_bbo  # noqa: E402
from tickgate._driver import SoftwareCard  # noqa: E402
from tickgate.host.feeds import BinaryFileFeed  # noqa: E402
from tickgate.host.feeds.packet import Packet  # noqa: E402
from tickgate.protocol.events import EVENT_DTYPE  # noqa: E402
from tickgate.protocol.moldudp64 import pack_dma  # noqa: E402


def pack_batches(packets: list[Packet], per_batch: int) -> list[np.ndarray]:
    """The packets as DMA batches of `per_batch` packets each (a DMA ring's worth at a time)."""
    return [np.frombuffer(pack_dma(packets[i:i + per_batch]), dtype=np.uint8)
            for i in range(0, len(packets), per_batch)]


def run_card(batches: list[np.ndarray], out: np.ndarray) -> tuple[float, int]:
    """Seconds to process every batch, taking the events of each into `out` after the last; how many."""
    t = time.perf_counter()
    card = SoftwareCard()
    pos = 0
    for batch in batches:
        card.feed_dma(batch)
        pos += card.take_events(out[pos:])
    if card.pending_events():
        raise RuntimeError(f"out holds {len(out):,} events, more were emitted")
    return time.perf_counter() - t, pos


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--batch-packets", type=int, default=1024, help="packets per DMA batch")
    args = ap.parse_args()

    path = feed_file(args.messages, args.symbols, args.seed)
    n = args.messages
    read_s, pack_s, card_s, book_s = [], [], [], []
    out = np.empty(3 * n, dtype=EVENT_DTYPE)  # the caller's event memory, at most 3 events a message
    for _ in range(args.repeat):  # interleaved, so all see the same machine load
        t = time.perf_counter()
        packets: list[Packet] = list(BinaryFileFeed(path))
        read_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        batches = pack_batches(packets, args.batch_packets)
        pack_s.append(time.perf_counter() - t)
        seconds, count = run_card(batches, out)
        card_s.append(seconds)
        t = time.perf_counter()
        theirs, stats = itchbook_bbo(path)
        book_s.append(time.perf_counter() - t)
    events = out[:count]
    ours = model_bbo(events)
    equal = len(ours) == len(theirs) and bool(np.array_equal(ours, theirs))

    r, p, c, b = (statistics.median(x) for x in (read_s, pack_s, card_s, book_s))
    print(f"file: {path.name}, {n:,} messages, {args.symbols} symbols, {len(packets):,} packets in "
          f"{len(batches)} DMA batches of {sum(map(len, batches)) / len(batches) / 1e6:.2f} MB, "
          f"median of {args.repeat} runs")
    print(f"{'stage':<44}{'median s':>10}{'msgs/s':>14}")
    print(f"{'file -> packets (BinaryFileFeed, Python)':<44}{r:>10.3f}{n / r:>14,.0f}")
    print(f"{'packets -> DMA batch (pack_dma, Python)':<44}{p:>10.3f}{n / p:>14,.0f}")
    print(f"{'SoftwareCard (feed_dma + take_events)':<44}{c:>10.3f}{n / c:>14,.0f}")
    print(f"{'SoftwareCard incl. pack':<44}{p + c:>10.3f}{n / (p + c):>14,.0f}")
    print(f"{'SoftwareCard incl. read and pack':<44}{r + p + c:>10.3f}{n / (r + p + c):>14,.0f}")
    print(f"{'itch-book (C++ core, bbo table, from file)':<44}{b:>10.3f}{n / b:>14,.0f}")
    print(f"ratio SoftwareCard / itch-book: {b / c:.2f} (card alone), {b / (p + c):.2f} (incl. pack), "
          f"{b / (r + p + c):.2f} (incl. read and pack)")
    print(f"events: {len(events):,}; top of book: {len(ours):,} rows (SoftwareCard), {len(theirs):,} rows "
          f"(itch-book), equal: {equal}; itch-book missing refs {stats['missing_ref']}, "
          f"crossed books {stats['crossed_books']}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
