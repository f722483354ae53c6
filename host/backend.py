"""One interface over every implementation of the card; `open_backend` picks one by name."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tickgate.model.card import CardConfig, ReferenceCard
from tickgate.protocol.events import EVENT_DTYPE
from tickgate.protocol.moldudp64 import pack_dma

BACKENDS = ("model", "software")  # later: "sim", "f1", "auto"


class Backend(Protocol):
    """What the host drives: packets in, events and counters out."""

    name: str

    def feed(self, payload: bytes, rx_ns: int = 0) -> None: ...

    def take_events(self) -> np.ndarray: ...

    def pending_events(self) -> int: ...

    def counters(self) -> dict[str, int]: ...


class ModelBackend:
    """The Python reference model (`tickgate.model`): the oracle, written for clarity."""

    name = "model"

    def __init__(self, config: CardConfig | None = None) -> None:
        self.card = ReferenceCard(config)

    def feed(self, payload: bytes, rx_ns: int = 0) -> None:
        self.card.feed(payload, rx_ns)

    def take_events(self) -> np.ndarray:
        return self.card.take_events()

    def pending_events(self) -> int:
        return len(self.card.sink)

    def counters(self) -> dict[str, int]:
        return dict(self.card.counters)


class SoftwareBackend:
    """The C++ model of the card (`tickgate._driver.SoftwareCard`), fed DMA batches like the card."""

    name = "software"
    BATCH_PACKETS = 512

    def __init__(self, config: CardConfig | None = None) -> None:
        from tickgate._driver import SoftwareCard

        config = config or CardConfig()
        if config.order_table is not None or config.max_levels is not None or config.max_symbols is not None:
            raise ValueError("the software backend does not model capacities yet; use --backend model")
        symbols = sorted(config.symbols) if config.symbols is not None else None
        self.card = SoftwareCard(symbols, session=config.session, first_sequence=config.first_sequence)
        self._batch: list[tuple[bytes, int]] = []

    def feed(self, payload: bytes, rx_ns: int = 0) -> None:
        self._batch.append((payload, rx_ns))
        if len(self._batch) >= self.BATCH_PACKETS:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self.card.feed_dma(pack_dma(self._batch))
            self._batch.clear()

    def take_events(self) -> np.ndarray:
        self._flush()
        out = np.empty(self.card.pending_events(), dtype=EVENT_DTYPE)
        return out[: self.card.take_events(out)]

    def pending_events(self) -> int:
        self._flush()
        return self.card.pending_events()

    def counters(self) -> dict[str, int]:
        self._flush()
        return dict(self.card.counters())


def open_backend(name: str = "model", config: CardConfig | None = None) -> Backend:
    """The backend called `name`."""
    if name == "model":
        return ModelBackend(config)
    if name == "software":
        return SoftwareBackend(config)
    raise ValueError(f"unknown or not yet available backend {name!r}; available: {', '.join(BACKENDS)}")
