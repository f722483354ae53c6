"""Benchmark: the software card alone (SoftwareCard.feed_dma + take_events), on the DMA batches of a generated
file read beforehand by the native reader (FileFeed), so neither reading nor packing nor disk is timed.

Prints the median and best of `--repeat` runs in seconds and ns per message (wall, and this thread's CPU),
and the SHA-256 of the events, so a change to the card can be timed and checked byte for byte against the
previous build (`--driver`) in one command.

    .venv/bin/python tests/bench_card.py [--messages 2000000] [--symbols 300] [--seed 7] [--repeat 7] [--driver PATH.so]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bench_model import feed_file  # noqa: E402


def load_driver(path: str) -> None:
    """Import tickgate._driver from `path` (another build of the extension, to compare two side by side)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tickgate._driver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tickgate._driver"] = module
    spec.loader.exec_module(module)


if "--driver" in sys.argv:
    load_driver(sys.argv[sys.argv.index("--driver") + 1])

from tickgate._driver import FileFeed, SoftwareCard  # noqa: E402
from tickgate.protocol.events import EVENT_DTYPE  # noqa: E402


def batches_of(path: Path) -> tuple[list[np.ndarray], int]:
    """Every DMA batch of the file (as the replay command makes them) and the packets in them."""
    feed = FileFeed(str(path))
    batches, packets = [], 0
    while (b := feed.next_batch()) is not None:
        batches.append(np.frombuffer(b[0], dtype=np.uint8))
        packets += b[1]
    return batches, packets


def run_card(batches: list[np.ndarray], out: np.ndarray) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this thread) to process every batch, taking the events after each into
    `out`; how many events."""
    t, cpu = time.perf_counter(), time.thread_time()
    card = SoftwareCard()
    pos = 0
    for batch in batches:
        card.feed_dma(batch)
        pos += card.take_events(out[pos:])
    if card.pending_events():
        raise RuntimeError(f"out holds {len(out):,} events, more were emitted")
    return time.perf_counter() - t, time.thread_time() - cpu, pos


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--driver", help="the _driver extension module to load instead of the installed one")
    args = ap.parse_args()

    path = feed_file(args.messages, args.symbols, args.seed)
    batches, packets = batches_of(path)
    out = np.zeros(3 * args.messages, dtype=EVENT_DTYPE)  # at most 3 events a message
    out.view(np.uint8)[::4096] = 1  # touched: no page faults inside the timed runs
    times, cpus = [], []
    for _ in range(args.repeat):
        seconds, cpu, count = run_card(batches, out)
        times.append(seconds)
        cpus.append(cpu)
    digest = hashlib.sha256(out[:count].tobytes()).hexdigest()[:16]
    med, best = statistics.median(times), min(times)
    n = args.messages
    print(f"{path.name}: {packets:,} packets in {len(batches)} batches, {count:,} events (sha256 {digest})")
    print(f"SoftwareCard: median {med:.4f} s ({med / n * 1e9:.1f} ns/msg), best {best:.4f} s "
          f"({best / n * 1e9:.1f} ns/msg), {args.repeat} runs")
    cmed, cbest = statistics.median(cpus), min(cpus)
    print(f"SoftwareCard CPU: median {cmed:.4f} s ({cmed / n * 1e9:.1f} ns/msg), best {cbest:.4f} s "
          f"({cbest / n * 1e9:.1f} ns/msg)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
