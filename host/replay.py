"""Replaying a feed through a backend: events to a file, counters and speed to a summary.

Files go the native way (`replay_file`): the C++ reader (`tickgate._driver.FileFeed`) packs MoldUDP64 packets
exactly as `host.feeds` does and feeds DMA batches to a C++ `Device` with no Python per packet; the reference
model is fed the same reader's batches. `replay` feeds any iterable of packets (generated, live) one by one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tickgate.host.eventfile import EventFileWriter
from tickgate.model.config import CardConfig
from tickgate.protocol.events import EVENT_DTYPE
from tickgate.protocol.moldudp64 import DMA_ALIGN, DMA_HEADER_LEN, DmaHeader

if TYPE_CHECKING:
    from tickgate.host.backend import Backend
    from tickgate.host.feeds.packet import Packet

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


def replay(packets: Iterable[Packet], backend: Backend, *, events_path: str | Path | None = None,
           progress: bool = False) -> ReplayResult:
    """Feed every packet to `backend`, writing its events to `events_path` (a .npy) if given."""
    from tqdm import tqdm

    writer = EventFileWriter(events_path) if events_path else None
    position = _file_position(packets) if progress else None
    bar = tqdm(total=position[1] if position else None, unit="B", unit_scale=True, disable=not progress,
               leave=False, mininterval=0.5)
    n_events = 0
    t0 = time.perf_counter()
    try:
        for i, (payload, rx_ns) in enumerate(packets):
            backend.feed(payload, rx_ns)
            if (i & 255) == 0 and progress:
                position = _file_position(packets)
                bar.update((position[0] - bar.n) if position else 256)
            if (i & 255) == 0 and backend.pending_events() >= CHUNK_EVENTS:
                events = backend.take_events()
                n_events += len(events)
                if writer:
                    writer.write(events)
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




class ModelLike(Protocol):
    """What the Python side of a replay drives: packets in, events and counters out."""

    def feed(self, payload: bytes, rx_ns: int = 0) -> None: ...

    def take_events(self) -> np.ndarray: ...

    def counters(self) -> dict[str, int]: ...


def open_file_feed(path: str | os.PathLike[str], *, session: bytes | str | None = None,
                   max_payload: int | None = None, port: int | None = None) -> Any:
    """The native reader of a BinaryFILE (plain or gzip) or pcap/pcapng file (`tickgate._driver.FileFeed`),
    packing as `host.feeds.open_feed` does with the same arguments (its defaults when None)."""
    from tickgate._driver import FileFeed
    from tickgate.host.feeds.packing import DEFAULT_MAX_PAYLOAD, DEFAULT_SESSION, check_max_payload, session_bytes

    max_payload = DEFAULT_MAX_PAYLOAD if max_payload is None else max_payload
    check_max_payload(max_payload)
    sess = session_bytes(DEFAULT_SESSION if session is None else session)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{os.fspath(path)}: no such file")
    return FileFeed(os.fspath(path), session=sess, max_payload=max_payload, port=port)


def dma_packets(batch: bytes) -> Iterator[tuple[bytes, int]]:
    """(packet, rx_time_ns) of each packet of a DMA batch (protocol.moldudp64.pack_dma's layout)."""
    mv = memoryview(batch)
    pos, end = 0, len(batch)
    while pos < end:
        n, rx = DmaHeader.decode(mv[pos:pos + DMA_HEADER_LEN])
        start = pos + DMA_HEADER_LEN
        yield bytes(mv[start:start + n]), rx
        pos = start + n + (-(DMA_HEADER_LEN + n) % DMA_ALIGN)


class EventBatches:
    """Event batches (EVENT_DTYPE arrays, each its own) of a file replayed through `target`.

    `target` is a C++ `Device` (`tickgate._driver.Device`: the native reader feeds it, no Python per packet)
    or a model-like object (`feed`, `take_events`, `counters`: it is fed the native reader's batches). After
    the last batch, `counters` holds the target's counters, `feed` the reader's, `seconds` the time taken.
    """

    def __init__(self, feed: Any, target: Any, *, chunk_events: int = CHUNK_EVENTS) -> None:
        from tickgate._driver import Device

        self.file_feed = feed
        self.target = target
        self.native = isinstance(target, Device)
        self.chunk_events = chunk_events
        self.counters: dict[str, int] | None = None
        self.feed: dict[str, int] = {}
        self.seconds = 0.0
        self.events = 0
        self._t0: float | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        self._t0 = time.perf_counter()
        batches = self._native() if self.native else self._model()
        for events in batches:
            self.events += len(events)
            yield events
        self.seconds = time.perf_counter() - self._t0
        self.counters = dict(self.target.counters())
        self.feed = dict(self.file_feed.stats())

    def _native(self) -> Iterator[np.ndarray]:
        run, device = self.file_feed.run, self.target
        while True:
            out = np.empty(self.chunk_events, dtype=EVENT_DTYPE)
            n = run(device, out)
            if n == 0:
                return
            yield out[:n]

    def _model(self) -> Iterator[np.ndarray]:
        feed, take = self.target.feed, self.target.take_events
        while (item := self.file_feed.next_batch()) is not None:
            for payload, rx_ns in dma_packets(item[0]):
                feed(payload, rx_ns)
            events = take()
            if len(events):
                yield events

    def position(self) -> tuple[int, int]:
        """(bytes of the file consumed, its size)."""
        return tuple(self.file_feed.position())  # type: ignore[return-value]

    def directory(self) -> dict[int, str]:
        """Symbols by stock locate, from the Stock Directory messages read so far."""
        return dict(self.file_feed.directory())


def software_device(config: CardConfig | None = None) -> Any:
    """The C++ software card as a `Device` (`tickgate._driver.SoftwareDevice`), configured as `config` says."""
    from tickgate._driver import SoftwareDevice

    config = config or CardConfig()
    symbols = sorted(config.symbols) if config.symbols is not None else None
    return SoftwareDevice(symbols, session=config.session, first_sequence=config.first_sequence,
                          order_table=config.order_table, max_levels=config.max_levels,
                          max_symbols=config.max_symbols, level_events=config.level_events)


def replay_target(backend: Any, config: CardConfig | None = None) -> tuple[Any, str]:
    """(what `EventBatches` drives, its name) for a backend name, a backend object or a `Device`.

    A C++ `Device` is driven natively: "software", a backend exposing one as `.device`, or a `Device` itself;
    the model (and any other object with feed/take_events/counters) is fed the native reader's batches.
    """
    from tickgate._driver import Device
    from tickgate.host.backend import ModelBackend, SoftwareBackend, open_backend

    if isinstance(backend, Device):
        return backend, backend.identify()["backend"]
    if backend == "model":
        return ModelBackend(config), "model"
    if backend == "software":
        return software_device(config), "software"
    if isinstance(backend, str):
        backend = open_backend(backend, config)  # "auto" says which it picked
    if isinstance(backend, SoftwareBackend):
        return software_device(config), "software"
    device = getattr(backend, "device", None)
    if isinstance(device, Device):
        return device, backend.name
    return backend, backend.name


def open_replay(source: str | os.PathLike[str] | Any, backend: Any = "software", config: CardConfig | None = None,
                *, chunk_events: int = CHUNK_EVENTS) -> EventBatches:
    """The event batches of a file (BinaryFILE, gzip, pcap, pcapng; or an open `FileFeed`) through `backend`
    (see `replay_target`); iterate it, then read `.counters`, `.feed` and `.directory()`."""
    from tickgate._driver import FileFeed

    config = config or CardConfig()
    feed = source if isinstance(source, FileFeed) else open_file_feed(source)
    target, _ = replay_target(backend, config)
    return EventBatches(feed, target, chunk_events=chunk_events)


def replay_file(path: str | os.PathLike[str], backend: Any = "software", config: CardConfig | None = None, *,
                events_path: str | Path | None = None, progress: bool = False) -> ReplayResult:
    """Replay a file through `backend` natively (see `open_replay`), events to `events_path` if given: a
    `.npy` of EVENT_DTYPE, or a `.parquet` of decoded columns (`host.frames.events_frame`); both streamed."""
    config = config or CardConfig()
    target, name = replay_target(backend, config)
    batches = EventBatches(open_file_feed(path), target)
    writer = open_event_writer(events_path, batches.directory) if events_path else None
    bar = None
    if progress:
        from tqdm import tqdm

        total = batches.position()[1]
        bar = tqdm(total=total or None, unit="B", unit_scale=True, leave=False, mininterval=0.5)
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
    return ReplayResult(name, counters.get("messages", 0), batches.events, batches.seconds, counters, batches.feed)


def open_event_writer(path: str | Path, directory: Any = None) -> Any:
    """A streaming writer of event batches by the suffix of `path`: `.parquet` (decoded columns, symbols from
    `directory()` at each write) or anything else as `.npy` of EVENT_DTYPE."""
    if Path(path).suffix == ".parquet":
        from tickgate.host.frames import ParquetEventWriter

        return ParquetEventWriter(path, directory)
    return EventFileWriter(path)
