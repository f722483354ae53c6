"""One interface over every implementation of the card; `open_backend` picks one by name."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from tickgate.model.config import CardConfig
from tickgate.protocol.events import EVENT_DTYPE
from tickgate.protocol.moldudp64 import pack_dma

BACKENDS = ("model", "software", "f1", "auto", "sim")


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
        from tickgate.model.card import ReferenceCard  # the whole model: loaded when it is used

        self.card = ReferenceCard(config)

    def feed(self, payload: bytes, rx_ns: int = 0) -> None:
        self.card.feed(payload, rx_ns)

    def take_events(self) -> np.ndarray:
        return self.card.take_events()

    def pending_events(self) -> int:
        return len(self.card.sink)

    def counters(self) -> dict[str, int]:
        return dict(self.card.counters)


class DmaBatches:
    """Packets gathered into DMA batches (`protocol.moldudp64.pack_dma`) of `BATCH_PACKETS`, as a card takes
    them; a backend sets `self._batch = []` and says where a batch goes (`_submit`)."""

    BATCH_PACKETS = 512
    _batch: list[tuple[bytes, int]]

    def feed(self, payload: bytes, rx_ns: int = 0) -> None:
        self._batch.append((payload, rx_ns))
        if len(self._batch) >= self.BATCH_PACKETS:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            self._submit(pack_dma(self._batch), len(self._batch))
            self._batch.clear()

    def _submit(self, batch: bytes, packets: int) -> None:
        raise NotImplementedError


class SoftwareBackend(DmaBatches):
    """The C++ model of the card (`tickgate._driver.SoftwareCard`), fed DMA batches like the card."""

    name = "software"

    def __init__(self, config: CardConfig | None = None) -> None:
        from tickgate._driver import SoftwareCard

        config = config or CardConfig()
        symbols = sorted(config.symbols) if config.symbols is not None else None
        self.card = SoftwareCard(symbols, session=config.session, first_sequence=config.first_sequence,
                                 order_table=config.order_table, max_levels=config.max_levels,
                                 max_symbols=config.max_symbols, level_events=config.level_events)
        self._batch: list[tuple[bytes, int]] = []

    def _submit(self, batch: bytes, packets: int) -> None:
        self.card.feed_dma(batch)

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


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def open_backend(name: str = "model", config: CardConfig | None = None, *,
                 announce: Callable[[str], None] | None = _say, **f1: Any) -> Backend:
    """The backend called `name` (one of BACKENDS).

    "auto" opens the F1 card when one is present and holds the expected image (`f1["manifest"]`, default
    the image this host speaks to), else the software model; it says which, and why, through `announce`
    (default: a line on stderr; None: silent) and in the backend's `description`. The choice is made once,
    here: a card that fails later raises, it is never swapped for the model halfway through a run. A card
    that matches but cannot be opened (permissions, I/O) raises too. `f1` holds F1Backend's keyword
    arguments (manifest, sysfs_root, dev_dir, slot, timeout_s, io) for "f1" and "auto".
    """
    if name == "model":
        return ModelBackend(config)
    if name == "software":
        return SoftwareBackend(config)
    if name == "f1":
        from tickgate.host.backend_f1 import F1Backend

        return F1Backend(config, **f1)
    if name == "auto":
        from tickgate._driver import NoCardError, WrongImageError
        from tickgate.host.backend_f1 import F1Backend

        try:
            backend: Backend = F1Backend(config, **f1)
            why = backend.description  # type: ignore[attr-defined]
        except (NoCardError, WrongImageError) as e:
            backend = SoftwareBackend(config)
            why = f"no matching card: {e}"
            backend.description = why  # type: ignore[attr-defined]
        if announce is not None:
            announce(f"tickgate: backend auto -> {backend.name} ({why})")
        return backend
    if name == "sim":  # the Verilated pipeline in-process; keyword arguments: SimBackend's (geometry, quiet)
        from tickgate.host.backend_sim import SimBackend

        return SimBackend(config, **f1)
    raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
