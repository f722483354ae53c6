"""Independent implementations used as oracles: itch-book (C++23 core) and MeatPy (pure Python)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tickgate.host.feeds import BinaryFileFeed
from tickgate.model.card import ReferenceCard
from tickgate.protocol.config import CardConfig
from tickgate.protocol.events import EventKind

BBO_COLUMNS = ("seq", "locate", "bid_px", "bid_sz", "ask_px", "ask_sz")


def model_events(path: Path, config: CardConfig | None = None) -> tuple[np.ndarray, ReferenceCard]:
    """Every event of the reference model on a BinaryFILE, and the card (for counters and books)."""
    card = ReferenceCard(config)
    return card.run(BinaryFileFeed(path)), card


def model_bbo(events: np.ndarray) -> np.ndarray:
    """Top-of-book rows of the model as an (n, 6) int64 array of BBO_COLUMNS."""
    b = events[events["kind"] == EventKind.BBO]
    return np.stack([b[c].astype(np.int64) for c in BBO_COLUMNS], axis=1)


def itchbook_bbo(path: Path, chunk_bytes: int = 1 << 20) -> tuple[np.ndarray, dict]:
    """Top-of-book rows of itch-book on the same file, (n, 6) int64 of BBO_COLUMNS, and its stats.

    itch-book numbers messages from 1 like a BinaryFILE's MoldUDP64 sequence, and reports an empty side
    as price 0 and size 0, as the event contract does.
    """
    from itch_book._core import Session

    session = Session(tables=["bbo"], depth=0, symbols=[])
    parts = []
    with open(path, "rb") as f:
        while chunk := f.read(chunk_bytes):
            session.feed(chunk)
            parts.append(session.take_bbo())
    parts.append(session.take_bbo())
    rows = np.concatenate([np.stack([p[c].astype(np.int64) for c in BBO_COLUMNS], axis=1) for p in parts])
    return rows, session.stats()
