"""Benchmark: A/B lines with independent loss, replayed through the C++ card and the reference model.

A generated day (`--messages`, `--symbols`, `--seed`) is packed into MoldUDP64 packets as `tickgate gen` packs
it; lines A and B each lose every packet with probability `--loss`, independently (`host.feeds.lines.two_lines`,
seeded); the two lines, merged in receive-time order, go through each backend with arbitration on
(`CardConfig.line_window`). Reported per backend: the gaps the card declared (sequence gaps, messages missed)
against the packets lost on both lines; the gaps where a line had the packet (must be 0); whether the events
(receive times aside) equal those of the lossless replay, and those of the replay of every packet some line
had (the lossless replay unless a packet was lost on both); and the time. The RTL (`--backends sim`, the
Verilated pipeline with its line arbiter, `hdl.lines`) runs the same checks, slowly (some 10^4 messages a second).

Then the live path (`--udp`): the same two lines sent over loopback to a `udp://A,B` feed (the Python receiver,
`host.feeds.udp.MoldUdpFeed`) with a re-request server, into the C++ card: what both lines lost is re-requested,
so the events must equal the lossless replay's.

    .venv/bin/python tests/bench_ab.py [--messages 1000000] [--loss 0.01] [--seed 1] [--backends software,model]
        [--no-udp]
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickgate.host.backend import open_backend  # noqa: E402
from tickgate.host.feeds import pack_messages  # noqa: E402
from tickgate.host.feeds.generator import Generator  # noqa: E402
from tickgate.host.feeds.lines import MergedLines, TwoLines, two_lines  # noqa: E402
from tickgate.host.feeds.udp import MoldUdpFeed  # noqa: E402
from tickgate.host.feeds.udp_loopback import RerequestServer  # noqa: E402
from tickgate.protocol.config import LINE_WINDOW, CardConfig  # noqa: E402
from tickgate.protocol.events import KIND_DTYPES, EventKind, comparable  # noqa: E402
from tickgate.protocol.moldudp64 import HEADER_STRUCT, blocks  # noqa: E402

__all__ = ["AbResult", "day", "run_ab"]


def day(messages: int, symbols: int, seed: int) -> list[bytes]:
    """The packets of a generated day, as `tickgate gen` writes them (end of session last)."""
    return list(pack_messages(iter(Generator(messages, symbols, seed)), end_of_session=True))


def _replay(backend_name: str, config: CardConfig, feed, **options) -> tuple[np.ndarray, dict[str, int]]:
    backend = open_backend(backend_name, config, **options)
    parts = []
    for i, (payload, rx_ns, *line) in enumerate(feed):
        backend.feed(payload, rx_ns, line[0] if line else 0)
        if (i & 1023) == 1023:
            parts.append(backend.take_events())
    backend.end_of_input()
    parts.append(backend.take_events())
    counters = backend.counters()
    backend.close()
    return np.concatenate(parts), counters


def _missed(events: np.ndarray) -> set[int]:
    """The sequence numbers the GAP events say were missed."""
    gaps = events[events["kind"] == EventKind.GAP].view(KIND_DTYPES[EventKind.GAP])
    return {s for g in gaps for s in range(int(g["gap_expected"]), int(g["gap_received"]))}


@dataclass
class AbResult:
    backend: str
    packets: int
    lost_a: int
    lost_b: int
    lost_both: int
    messages_lost_both: int
    seq_gaps: int
    messages_missed: int
    gaps_where_a_line_had_it: int
    equal_lossless: bool
    equal_some_line: bool
    line_counters: dict[str, int]
    seconds: float

    def line(self) -> str:
        return (f"{self.backend:8}  packets {self.packets:,}  lost A {self.lost_a}  B {self.lost_b}  both "
                f"{self.lost_both} ({self.messages_lost_both} messages) | card: gaps {self.seq_gaps}, missed "
                f"{self.messages_missed}, gaps where a line had it {self.gaps_where_a_line_had_it} | events = "
                f"lossless: {self.equal_lossless}, = every packet some line had: {self.equal_some_line} | "
                f"{self.seconds:.2f} s A/B replay")


def run_ab(backend: str, packets: list[bytes], lines: TwoLines, window: int = LINE_WINDOW) -> AbResult:
    """The A/B replay of `lines` (of `packets`) through `backend`, checked against the one-line replays."""
    lossless, _ = _replay(backend, CardConfig(), ((p, 0) for p in packets))
    survivors = [p for i, p in enumerate(packets) if i not in lines.lost_both]
    some_line = lossless if len(survivors) == len(packets) else _replay(backend, CardConfig(),
                                                                        ((p, 0) for p in survivors))[0]
    t = time.perf_counter()
    events, counters = _replay(backend, CardConfig(line_window=window), MergedLines(lines.a, lines.b))
    seconds = time.perf_counter() - t
    lost_seqs = set()
    for i in lines.lost_both:
        _session, seq, count = HEADER_STRUCT.unpack_from(packets[i])
        if count != 0xFFFF:
            lost_seqs.update(range(seq, seq + count))
    return AbResult(
        backend, len(packets), len(lines.lost_a), len(lines.lost_b), len(lines.lost_both), len(lost_seqs),
        counters["seq_gaps"], counters["messages_missed"], len(_missed(events) - lost_seqs),
        bool(len(events) == len(lossless) and np.array_equal(comparable(events), comparable(lossless))),
        bool(len(events) == len(some_line) and np.array_equal(comparable(events), comparable(some_line))),
        {k: v for k, v in counters.items() if k.startswith("line_")}, seconds)


def run_udp_ab(packets: list[bytes], lines: TwoLines, window: int = LINE_WINDOW,
               per_ms: int = 16) -> tuple[bool, dict[str, int], dict[str, int], float]:
    """Lines A and B of `packets` over loopback (`per_ms` packets a millisecond per line) into a `udp://A,B` feed
    with a re-request server, into the C++ card: (events equal the lossless replay's, the card's counters, the
    feed's counters, seconds)."""
    lossless, _ = _replay("software", CardConfig(), ((p, 0) for p in packets))
    server = RerequestServer([m for p in packets for m in blocks(p)])
    feed = MoldUdpFeed("127.0.0.1", 0, rerequest=server.address, line_b=("127.0.0.1", 0), idle_timeout_s=3.0)

    def send() -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i, p in enumerate(packets):
            if i not in lines.lost_a:
                s.sendto(p, feed.address)
            if i not in lines.lost_b:
                s.sendto(p, feed.address_b)
            if i % per_ms == 0:
                time.sleep(0.001)
        s.close()

    t = time.perf_counter()
    sender = threading.Thread(target=send)
    sender.start()
    try:
        events, counters = _replay("software", CardConfig(line_window=window), feed)
    finally:
        sender.join()
        feed.close()
        server.close()
    equal = bool(len(events) == len(lossless) and np.array_equal(comparable(events), comparable(lossless)))
    return equal, counters, feed.stats(), time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loss", type=float, default=0.01)
    ap.add_argument("--window", type=int, default=LINE_WINDOW)
    ap.add_argument("--backends", default="software,model")
    ap.add_argument("--no-udp", action="store_true", help="skip the live udp://A,B run")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    packets = day(args.messages, args.symbols, args.seed)
    lines = two_lines(packets, args.loss, args.seed)
    print(f"{args.messages:,} messages in {len(packets):,} packets (seed {args.seed}), loss {args.loss} per line, "
          f"window {args.window}; generated in {time.perf_counter() - t:.1f} s", flush=True)
    ok = True
    for backend in args.backends.split(","):
        r = run_ab(backend, packets, lines, args.window)
        print(r.line(), flush=True)
        print(f"          {r.line_counters}", flush=True)
        ok &= r.gaps_where_a_line_had_it == 0 and r.equal_some_line and r.messages_missed == r.messages_lost_both
    if not args.no_udp:
        equal, counters, stats, seconds = run_udp_ab(packets, lines, args.window)
        print(f"udp://A,B (Python receiver, re-request server) -> C++ card: events = lossless: {equal} | card: gaps "
              f"{counters['seq_gaps']}, missed {counters['messages_missed']} | feed: "
              f"{ {k: v for k, v in stats.items() if v} } | {seconds:.1f} s", flush=True)
        ok &= equal and counters["seq_gaps"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
