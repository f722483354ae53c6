"""Replaying a feed through a backend: events to a file, counters and speed to a summary.

A file goes the native way (`replay_file`, `open_replay`): the C++ reader (`tickgate._driver.FileFeed`) packs
MoldUDP64 packets exactly as `host.feeds` does and hands DMA batches to the backend's device, with no Python
per packet when the device is a C++ `Device` (software, sim, f1); the reference model's device is handed the
same batches. `replay` feeds any iterable of packets (generated, live) through `Backend.feed`.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tickgate.host.eventfile import EventFileWriter

if TYPE_CHECKING:
    import numpy as np

    from tickgate.host.backend import Backend
    from tickgate.protocol.config import CardConfig
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
    the end of input, writing its events to `events_path` (.npy, or .parquet) if given."""
    from tqdm import tqdm

    writer = open_event_writer(events_path) if events_path else None
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


class EventWriter(Protocol):
    """Where a replay's events go: `.npy` (`EventFileWriter`) or `.parquet` (`host.frames.ParquetEventWriter`)."""

    def write(self, events: np.ndarray) -> None: ...

    def close(self) -> None: ...


def open_event_writer(path: str | Path, directory: Callable[[], Mapping[int, str]] | None = None) -> EventWriter:
    """A streaming writer of event batches by the suffix of `path`: `.parquet` (decoded columns, symbols from
    `directory()` at each write) or anything else as `.npy` of EVENT_DTYPE."""
    if Path(path).suffix == ".parquet":
        from tickgate.host.frames import ParquetEventWriter

        return ParquetEventWriter(path, directory)
    return EventFileWriter(path)


def open_file_feed(path: str | os.PathLike[str], *, session: bytes | str | None = None,
                   max_payload: int | None = None, port: int | None = None, allow_truncated: bool = False) -> Any:
    """The native reader of a BinaryFILE (plain or gzip) or pcap/pcapng file (`tickgate._driver.FileFeed`),
    packing as `host.feeds.open_feed` does with the same arguments (its defaults when None)."""
    from tickgate._driver import FileFeed
    from tickgate.host.feeds.packing import DEFAULT_MAX_PAYLOAD, DEFAULT_SESSION, check_max_payload, session_bytes

    max_payload = DEFAULT_MAX_PAYLOAD if max_payload is None else max_payload
    check_max_payload(max_payload)
    sess = session_bytes(DEFAULT_SESSION if session is None else session)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{os.fspath(path)}: no such file")
    return FileFeed(os.fspath(path), session=sess, max_payload=max_payload, port=port,
                    allow_truncated=allow_truncated)


class EventBatches:
    """The event batches (EVENT_DTYPE arrays) of a file replayed through a `Backend`.

    A C++ device (`tickgate._driver.Device`) is fed by the native reader directly (`FileFeed.run`: no Python
    per packet); another device (the reference model's) is submitted the reader's DMA batches. Each batch
    is a view of the start of an EVENT_DTYPE array taken from `buffers` (default: a new array of
    `chunk_events` each time; a caller that writes batches out can hand the same arrays round again). After
    the last batch, `counters` holds the backend's counters, `feed` the reader's, `seconds` the time taken.
    """

    def __init__(self, feed: Any, backend: Backend, *, chunk_events: int = CHUNK_EVENTS,
                 buffers: Iterator[np.ndarray] | None = None) -> None:
        if chunk_events < 1:
            raise ValueError(f"chunk_events must be at least 1, not {chunk_events}")
        self.file_feed = feed
        self.backend = backend
        self.chunk_events = chunk_events
        self.buffers = buffers
        self.counters: dict[str, int] | None = None
        self.feed: dict[str, int] = {}
        self.seconds = 0.0
        self.events = 0

    def __iter__(self) -> Iterator[np.ndarray]:
        from tickgate._driver import Device

        t0 = time.perf_counter()
        device = self.backend.device
        self.backend.flush()
        if not self.native_feed:
            batches = self._fed(self.file_feed)
        elif isinstance(device, Device):
            batches = self._native(device)
        else:
            batches = self._submitted(device)
        for events in batches:
            self.events += len(events)
            yield events
        self.seconds = time.perf_counter() - t0
        if self.native_feed:
            self.backend.refused += self.file_feed.refused
        self.counters = self.backend.counters()
        stats = getattr(self.file_feed, "stats", None)
        self.feed = dict(stats()) if stats else {}

    @property
    def native_feed(self) -> bool:
        """Whether the feed is the native file reader (else an iterable of `Packet`s)."""
        return hasattr(self.file_feed, "next_batch")

    def _fed(self, packets: Iterable[Packet]) -> Iterator[np.ndarray]:
        """Packets of a generated or live feed, through `Backend.feed`, events collected as they mount up."""
        backend, buffers, chunk = self.backend, self._buffers(), self.chunk_events
        for i, (payload, rx_ns) in enumerate(packets):
            backend.feed(payload, rx_ns)
            if (i & 255) == 255 and backend.pending_events() >= chunk:
                while n := backend.collect(out := next(buffers)):
                    yield out[:n]
        while n := backend.collect(out := next(buffers)):
            yield out[:n]

    def _buffers(self) -> Iterator[np.ndarray]:
        import numpy as np

        from tickgate.protocol.events import EVENT_DTYPE

        if self.buffers is not None:
            return self.buffers
        return (np.empty(self.chunk_events, dtype=EVENT_DTYPE) for _ in itertools.count())

    def _native(self, device: Any) -> Iterator[np.ndarray]:
        run = self.file_feed.run
        for out in self._buffers():
            n = run(device, out)
            if n == 0:
                return
            yield out[:n]

    def _submitted(self, device: Any) -> Iterator[np.ndarray]:
        buffers = self._buffers()
        done = False
        while not done:
            item = self.file_feed.next_batch()
            if item is None:
                done = True
            else:
                device.submit(item[0])
            device.settle()
            while n := device.collect(out := next(buffers)):
                yield out[:n]

    def position(self) -> tuple[int, int]:
        """(bytes of the file consumed, its size); (0, 0) for a feed other than a file."""
        if not self.native_feed:
            return 0, 0
        done, total = self.file_feed.position()
        return done, total

    def directory(self) -> dict[int, str]:
        """Symbols by stock locate, from the Stock Directory messages read so far (a file's; empty for a
        generated or live feed)."""
        return dict(self.file_feed.directory()) if self.native_feed else {}


def open_replay(source: str | os.PathLike[str] | Any, backend: str | Backend = "software",
                config: CardConfig | None = None, *, chunk_events: int = CHUNK_EVENTS,
                allow_truncated: bool = False) -> EventBatches:
    """The event batches of a feed through `backend` (a name, as `open_backend` takes it, with `config`; or a
    `Backend`); iterate it, then read `.counters`, `.feed` and `.directory()`. The feed: a file (BinaryFILE,
    gzip, pcap, pcapng) read natively, or an open `FileFeed`; a `gen:`/`udp://` source as `tickgate run
    --feed` takes it, or any iterable of `Packet`s, fed packet by packet."""
    from tickgate._driver import FileFeed
    from tickgate.host.backend import open_backend

    if isinstance(source, FileFeed) or not isinstance(source, (str, os.PathLike)):
        feed = source
    elif str(source).startswith(("gen:", "udp://")):
        from tickgate.host.feeds.sources import open_source

        feed = open_source(str(source))
    else:
        feed = open_file_feed(source, allow_truncated=allow_truncated)
    if isinstance(backend, str):
        backend = open_backend(backend, config)
    elif config is not None:
        raise ValueError("config goes with a backend name; an open Backend has its configuration")
    return EventBatches(feed, backend, chunk_events=chunk_events)


def replay_file(path: str | os.PathLike[str], backend: Backend, *, events_path: str | Path | None = None,
                progress: bool = False, allow_truncated: bool = False) -> ReplayResult:
    """Replay a file through `backend` natively (see `EventBatches`), events to `events_path` if given: a
    `.npy` of EVENT_DTYPE, or a `.parquet` of decoded columns (`host.frames`); both streamed. Into a C++
    device with `.npy` events (or none) and no progress bar, the whole file runs in C++ (`FileFeed.run_to_fd`:
    no Python and no numpy until the end)."""
    from tickgate._driver import Device

    feed = open_file_feed(path, allow_truncated=allow_truncated)
    parquet = events_path is not None and Path(events_path).suffix == ".parquet"
    if isinstance(backend.device, Device) and not parquet and not progress:
        return _replay_native(feed, backend, events_path)
    import numpy as np

    from tickgate.host.eventfile import BackgroundWriter
    from tickgate.protocol.events import EVENT_DTYPE

    writer: EventWriter | None = None
    buffers = None
    if events_path and not parquet:
        # .npy: written on a thread of its own while the device works on the next batch (both release the GIL)
        writer = BackgroundWriter(EventFileWriter(events_path), CHUNK_EVENTS)
        buffers = writer.buffers()
    elif events_path:
        writer = open_event_writer(events_path, lambda: dict(feed.directory()))
    batches = EventBatches(feed, backend, buffers=buffers or itertools.repeat(np.empty(CHUNK_EVENTS, EVENT_DTYPE)))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=batches.position()[1] or None, unit="B", unit_scale=True, leave=False, mininterval=0.5)
    try:
        for events in batches:
            if writer:
                writer.write(events)
            if bar is not None:
                bar.update(batches.position()[0] - bar.n)
    finally:
        if bar is not None:
            bar.close()
        if writer:
            writer.close()
    counters = batches.counters or {}
    return ReplayResult(backend.name, counters.get("messages", 0), batches.events, batches.seconds, counters,
                        batches.feed)


def _replay_native(feed: Any, backend: Backend, events_path: str | Path | None) -> ReplayResult:
    """The whole of `feed` into the backend's C++ device in one call, events appended to a `.npy` (or dropped)."""
    device = backend.device
    t0 = time.perf_counter()
    backend.flush()
    if events_path:
        with EventFileWriter(events_path) as writer:
            n_events = writer.write_native(lambda fd: feed.run_to_fd(device, fd, CHUNK_EVENTS))
    else:
        n_events = feed.run_to_fd(device, -1, CHUNK_EVENTS)
    seconds = time.perf_counter() - t0
    backend.refused += feed.refused
    counters = backend.counters()
    return ReplayResult(backend.name, counters.get("messages", 0), n_events, seconds, counters, dict(feed.stats()))
