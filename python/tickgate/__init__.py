"""tickgate: Nasdaq ITCH 5.0 order books on an FPGA card, its software model, and the host.

The library API for research: `replay(source, backend=..., config=...)` yields the book events of a feed as
numpy batches of `EVENT_DTYPE` and, once exhausted, holds the counters (`.counters`, `.feed`); `events_frame`
turns events into a polars DataFrame with decoded columns.

    import tickgate
    batches = tickgate.replay("day.itch50.gz", backend="software")
    for events in batches:
        ...
    print(batches.counters["messages"])
    df = tickgate.events_frame(events, batches.directory())

Nothing heavy is imported until it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tickgate.host.backend import Backend
    from tickgate.host.replay import EventBatches
    from tickgate.protocol.config import CardConfig

__all__ = ["CardConfig", "EventBatches", "events_frame", "replay"]


def replay(source: Any, backend: str | Backend = "software", config: CardConfig | None = None, *,
           chunk_events: int = 1 << 16, allow_truncated: bool = False) -> EventBatches:
    """The event batches (EVENT_DTYPE arrays) of a feed replayed through `backend`. The feed: a BinaryFILE
    (plain or gzip), pcap or pcapng file (read natively), a `gen:MESSAGES:SYMBOLS[:SEED]` or `udp://` source,
    or any iterable of `Packet`s. The backend: a name ("software", the default; "model", "sim", "f1",
    "auto") configured by `config`, or an open `Backend`. After the last batch the iterator's `.counters`
    holds the card's counters, `.feed` the reader's, and `.directory()` the symbols by stock locate."""
    from tickgate.host.replay import open_replay

    return open_replay(source, backend, config, chunk_events=chunk_events, allow_truncated=allow_truncated)


def events_frame(events: Any, directory: Any = None) -> Any:
    """Events as a polars DataFrame of decoded columns (see `tickgate.host.frames`)."""
    from tickgate.host.frames import events_frame as frame

    return frame(events, directory)


def __getattr__(name: str) -> Any:
    if name == "CardConfig":
        from tickgate.protocol.config import CardConfig

        return CardConfig
    if name == "EventBatches":
        from tickgate.host.replay import EventBatches

        return EventBatches
    raise AttributeError(f"module 'tickgate' has no attribute {name!r}")
