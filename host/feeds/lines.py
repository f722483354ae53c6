"""Two lines, A and B, of one MoldUDP64 stream: seeded independent loss (the generator's), and the merge of two
recorded lines into one feed of (payload, rx_ns, line) in receive-time order (the replay's). The card
arbitrates them (`model/lines.py`)."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from tickgate.protocol.moldudp64 import HEADER_LEN, HEADER_STRUCT
from tickgate.protocol.packet import Packet

__all__ = ["LINE_B_SKEW_NS", "LinePacket", "MergedLines", "TwoLines", "two_lines"]

LINE_B_SKEW_NS = 250  # the generator's line B receives each packet this much after line A
LinePacket = tuple[bytes, int, int]  # payload, rx_ns, line (0: A, 1: B)


@dataclass
class TwoLines:
    """A stream's packets as lines A and B received them, and which were lost (indices into the stream)."""

    a: list[Packet]
    b: list[Packet]
    lost_a: frozenset[int]
    lost_b: frozenset[int]

    @property
    def lost_both(self) -> frozenset[int]:
        return self.lost_a & self.lost_b


def two_lines(packets: Sequence[bytes], loss: float, seed: int, *, start_ns: int = 1_700_000_000_000_000_000,
              step_ns: int = 1_000, skew_ns: int = LINE_B_SKEW_NS) -> TwoLines:
    """Lines A and B of `packets`: each packet is lost on each line with probability `loss`, independently
    (seeded: the same arguments give the same lines). Packet i is received at `start_ns + i * step_ns` on A
    and `skew_ns` later on B."""
    if not isinstance(loss, int | float) or not 0 <= loss < 1:
        raise ValueError(f"loss must be a fraction from 0 up to (not including) 1, not {loss!r}")
    if not 0 <= skew_ns < step_ns:
        raise ValueError(f"skew_ns must be from 0 up to step_ns ({step_ns}), not {skew_ns!r}")
    rng_a, rng_b = random.Random(2 * seed), random.Random(2 * seed + 1)
    a, b, lost_a, lost_b = [], [], set(), set()
    for i, p in enumerate(packets):
        t = start_ns + i * step_ns
        for rng, line, lost, rx_ns in ((rng_a, a, lost_a, t), (rng_b, b, lost_b, t + skew_ns)):
            if rng.random() < loss:
                lost.add(i)
            else:
                line.append(Packet(p, rx_ns))
    return TwoLines(a, b, frozenset(lost_a), frozenset(lost_b))


class MergedLines:
    """Two feeds (A, B) as one, in receive-time order, then (same time: files without receive times) sequence
    number order, then A first: (payload, rx_ns, line) tuples. `stats()`: line A's feed statistics, and line
    B's with `b_` before each name."""

    def __init__(self, a: Iterable[Packet], b: Iterable[Packet]) -> None:
        self.a, self.b = a, b

    def __iter__(self) -> Iterator[LinePacket]:
        def tag(feed: Iterable[Packet], line: int) -> Iterator[tuple[int, int, int, bytes]]:
            for payload, rx_ns in feed:
                seq = HEADER_STRUCT.unpack_from(payload)[1] if len(payload) >= HEADER_LEN else 0
                yield rx_ns, seq, line, payload

        for rx_ns, _seq, line, payload in heapq.merge(tag(self.a, 0), tag(self.b, 1), key=lambda t: t[:3]):
            yield payload, rx_ns, line

    def stats(self) -> dict[str, int]:
        out = dict(self.a.stats()) if hasattr(self.a, "stats") else {}
        if hasattr(self.b, "stats"):
            out.update({f"b_{k}": v for k, v in self.b.stats().items()})
        return out
