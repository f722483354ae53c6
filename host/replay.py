"""Replaying a feed through a backend: events to a file, counters and speed to a summary."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from tickgate.host.backend import Backend
from tickgate.host.eventfile import EventFileWriter
from tickgate.protocol.packet import Packet

CHUNK_EVENTS = 1 << 16


@dataclass
class ReplayResult:
    """What a replay did: how many messages, how long, which counters moved, how many events."""

    backend: str
    messages: int
    events: int
    seconds: float
    counters: dict[str, int] = field(default_factory=dict)
    feed: dict[str, int] = field(default_factory=dict)

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "backend": self.backend,
            "messages": self.messages,
            "events": self.events,
            "seconds": round(self.seconds, 6),
            "msgs_per_s": round(self.msgs_per_s, 1),
            "counters": {k: v for k, v in self.counters.items() if v},
            "feed": {k: v for k, v in self.feed.items() if v},
        }


def _file_position(packets: Iterable[Packet]) -> tuple[int, int] | None:
    """(bytes read, total bytes) of the file behind a feed, if it says."""
    stats = packets.stats() if hasattr(packets, "stats") else {}
    if stats.get("file_total_bytes"):
        return stats["file_bytes_read"], stats["file_total_bytes"]
    return None


def replay(packets: Iterable[Packet] | Iterable[tuple[bytes, int, int]], backend: Backend, *,
           events_path: str | Path | None = None, progress: bool = False) -> ReplayResult:
    """Feed every packet to `backend` (`Packet`s, or (payload, rx_ns, line) of two lines: `feeds.lines`), then
    the end of input, writing its events to `events_path` (a .npy) if given."""
    writer = EventFileWriter(events_path) if events_path else None
    position = _file_position(packets) if progress else None
    bar = tqdm(total=position[1] if position else None, unit="B", unit_scale=True, disable=not progress,
               leave=False, mininterval=0.5)
    n_events = 0
    t0 = time.perf_counter()
    try:
        for i, (payload, rx_ns, *line) in enumerate(packets):
            backend.feed(payload, rx_ns, line[0] if line else 0)
            if (i & 255) == 0 and progress:
                position = _file_position(packets)
                bar.update((position[0] - bar.n) if position else 256)
            if (i & 255) == 0 and backend.pending_events() >= CHUNK_EVENTS:
                events = backend.take_events()
                n_events += len(events)
                if writer:
                    writer.write(events)
        backend.end_of_input()
        events = backend.take_events()
        n_events += len(events)
        if writer:
            writer.write(events)
    finally:
        seconds = time.perf_counter() - t0
        bar.close()
        if writer:
            writer.close()
    counters = backend.counters()
    feed_stats = packets.stats() if hasattr(packets, "stats") else {}
    return ReplayResult(backend.name, counters.get("messages", 0), n_events, seconds, counters, feed_stats)
