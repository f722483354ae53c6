"""Benchmark: `tickgate replay FILE --backend software --events out.npy` as a user runs it (the whole process),
next to itch-book on the same file, in one run; and the peak RSS of that replay on a long file.

Speed: a generated file (`--messages`, `--symbols`), each command run as its own process, interleaved, the
median of `--repeat` runs, messages per second from the wall time of the process (interpreter start, imports,
reading, books, events to disk). itch-book runs its fastest configuration that yields a top-of-book table: the
public `itch_book.open(F, date=..., price_type="fixed").batches(tables=("bbo",), rows=4_000_000)` (fixed-point
prices skip the float conversion, and one batch for the whole file; the float default is timed too). Its table
stays in memory, as a user's loop would consume it; tickgate writes every event to disk.

Both run as on a user's machine: Python writes its bytecode caches (PYTHONDONTWRITEBYTECODE is dropped from
the children's environment) and each command runs once untimed first, so neither is timed compiling its
sources.

Memory: the peak RSS (the child's ru_maxrss) of the same replay on a `--rss-messages` file, events to disk.

    .venv/bin/python tests/bench_replay.py [--messages 2000000] [--symbols 300] [--repeat 3] [--rss-messages 20000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bench_model import feed_file  # noqa: E402

BIN = Path(sys.executable).parent
ITCHBOOK = """
import datetime, sys, itch_book
rows = 0
feed = itch_book.open(sys.argv[1], date=datetime.date(2020, 1, 2), price_type=sys.argv[2])
for batch in feed.batches(tables=("bbo",), rows=4_000_000):
    rows += len(batch.bbo["seq"])
print(rows, feed.stats["messages"])
"""


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


CPU: dict[str, list[float]] = {}  # CPU seconds (user + system) of each run, by command, beside the wall times


def run(cmd: list[str], name: str = "") -> tuple[float, int, str]:
    """(wall seconds, peak RSS in bytes, stdout) of a child process, measured with wait4 (its CPU seconds go
    to CPU[name])."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    out = proc.stdout.read() if proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    CPU.setdefault(name, []).append(usage.ru_utime + usage.ru_stime)
    return seconds, usage.ru_maxrss * 1024, out.decode()


def replay_cmd(path: Path, events: Path) -> list[str]:
    return [str(BIN / "tickgate"), "replay", str(path), "--backend", "software", "--events", str(events),
            "--no-progress"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2_000_000)
    ap.add_argument("--symbols", type=int, default=300)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rss-messages", type=int, default=20_000_000, help="0: skip the memory run")
    args = ap.parse_args()

    path = feed_file(args.messages, args.symbols, args.seed)
    events = ROOT / "out" / "bench_replay_events.npy"
    n = args.messages
    ours, fixed, floats = [], [], []
    run(replay_cmd(path, events))  # untimed: bytecode caches written, the file in the page cache
    run([sys.executable, "-c", ITCHBOOK, str(path), "fixed"])
    for _ in range(args.repeat):  # interleaved, so all see the same machine load
        ours.append(run(replay_cmd(path, events), "tickgate")[0])
        fixed.append(run([sys.executable, "-c", ITCHBOOK, str(path), "fixed"], "fixed")[0])
        floats.append(run([sys.executable, "-c", ITCHBOOK, str(path), "float"], "float")[0])
    t_ours, t_fixed, t_float = (statistics.median(x) for x in (ours, fixed, floats))
    t_book = min(t_fixed, t_float)
    print(f"file: {path.name}, {n:,} messages, {args.symbols} symbols; whole processes, median of {args.repeat}")
    print(f"{'command':<72}{'median s':>10}{'msgs/s':>14}{'CPU s':>8}")
    for name, key, t in (("tickgate replay F --backend software --events out.npy", "tickgate", t_ours),
                         ("itch-book open(F, price_type=fixed).batches(tables=(bbo,), rows=4M)", "fixed", t_fixed),
                         ("itch-book open(F, price_type=float).batches(tables=(bbo,), rows=4M)", "float", t_float)):
        print(f"{name:<72}{t:>10.3f}{n / t:>14,.0f}{statistics.median(CPU[key]):>8.3f}")
    ratio = t_book / t_ours
    verdict = "met" if ratio >= 1.5 else "missed"
    print(f"ratio tickgate / itch-book (its fastest): {ratio:.2f}x  (goal >= 1.5x: {verdict})")
    print(f"runs (s): tickgate {[round(x, 3) for x in ours]}, itch-book fixed {[round(x, 3) for x in fixed]}, "
          f"float {[round(x, 3) for x in floats]}")
    if args.rss_messages:
        big = feed_file(args.rss_messages, args.symbols, args.seed)
        seconds, rss, _ = run(replay_cmd(big, events))
        size = events.stat().st_size
        print(f"peak RSS of the replay of {args.rss_messages:,} messages ({big.stat().st_size / 1e6:,.0f} MB file, "
              f"{size / 1e6:,.0f} MB of events written): {rss / 1e6:.1f} MB in {seconds:.1f} s "
              f"(goal <= 200 MB: {'met' if rss <= 200e6 else 'missed'})")
    events.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
