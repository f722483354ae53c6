"""One interface over every implementation of the card; `open_backend` picks one by name."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tickgate.model.card import CardConfig, ReferenceCard

BACKENDS = ("model",)  # later: "software", "sim", "f1", "auto"


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


def open_backend(name: str = "model", config: CardConfig | None = None) -> Backend:
    """The backend called `name`."""
    if name == "model":
        return ModelBackend(config)
    raise ValueError(f"unknown or not yet available backend {name!r}; available: {', '.join(BACKENDS)}")
