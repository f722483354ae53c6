"""Benchmark: the reference model next to itch-book on one generated file, in one run.

Prints messages per second for the reference model (the full `tickgate replay` path: file, MoldUDP64
packing, session, decode, books, events) and for itch-book (C++ parse + book + BBO table), their ratio,
and whether the two top-of-book streams are equal row for row.

    .venv/bin/python tests/bench_model.py [--messages 1000000] [--symbols 500] [--seed 7] [--repeat 3]
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

from tests.oracles import itchbook_bbo, model_bbo  # noqa: E402
from tickgate.host.backend import open_backend  # noqa: E402
from tickgate.host.feeds import BinaryFileFeed  # noqa: E402
from tickgate.host.feeds.generator import generate  # noqa: E402
from tickgate.host.replay import replay  # noqa: E402
from tickgate.protocol.binaryfile import write_binaryfile  # noqa: E402


def feed_file(messages: int, symbols: int, seed: int) -> Path:
    path = ROOT / "out" / f"bench_{messages}_{symbols}_{seed}.itch50"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        t = time.perf_counter()
        write_binaryfile(path, generate(messages, symbols, seed))
        print(f"generated {path.name} in {time.perf_counter() - t:.1f} s")
    return path


def run_generator(messages: int, symbols: int, seed: int) -> float:
    t = time.perf_counter()
    for _ in generate(messages, symbols, seed):
        pass
    return time.perf_counter() - t


def run_model(path: Path, events_path: Path) -> float:
    result = replay(BinaryFileFeed(path), open_backend("model"), events_path=events_path)
    return result.seconds


def run_itchbook(path: Path) -> float:
    t = time.perf_counter()
    itchbook_bbo(path)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    path = feed_file(args.messages, args.symbols, args.seed)
    events_path = path.with_suffix(".events.npy")
    n = args.messages
    model_s, book_s, gen_s = [], [], []
    for _ in range(args.repeat):  # interleaved, so all see the same machine load
        model_s.append(run_model(path, events_path))
        book_s.append(run_itchbook(path))
        gen_s.append(run_generator(n, args.symbols, args.seed))
    ours = model_bbo(np.load(events_path))
    theirs, stats = itchbook_bbo(path)
    equal = len(ours) == len(theirs) and bool(np.array_equal(ours, theirs))

    m, b = statistics.median(model_s), statistics.median(book_s)
    print(f"file: {path.name}, {n:,} messages, {args.symbols} symbols, median of {args.repeat} runs")
    print(f"{'implementation':<34}{'median s':>10}{'msgs/s':>14}")
    print(f"{'tickgate reference model (replay)':<34}{m:>10.3f}{n / m:>14,.0f}")
    print(f"{'itch-book (C++ core, bbo table)':<34}{b:>10.3f}{n / b:>14,.0f}")
    g = statistics.median(gen_s)
    print(f"{'generator (messages only)':<34}{g:>10.3f}{n / g:>14,.0f}")
    print(f"ratio model / itch-book: {b / m:.3f}")
    print(f"top of book after every message: {len(ours):,} rows (model), {len(theirs):,} rows (itch-book), "
          f"equal: {equal}; itch-book missing refs {stats['missing_ref']}, crossed books {stats['crossed_books']}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
