"""One backend over every implementation of the card; `open_backend` picks the device by name.

Every implementation is a `Device` (the operations of `tickgate._driver.Device`): the reference model
(`model.device.ModelDevice`), the C++ software card (`SoftwareDevice`), the Verilated pipeline (`SimDevice`)
and the card in an F2 slot (`F2Device`) or a legacy F1 slot (`F1Device`). `Backend` drives any of them and
never asks which it has: it gathers packets into DMA batches (`protocol.moldudp64.pack_dma`), and collects
events into the caller's buffer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from tickgate.protocol.config import CardConfig
from tickgate.protocol.moldudp64 import MAX_PACKET, DmaFlag, pack_dma

if TYPE_CHECKING:
    import numpy as np

    from tickgate.host.backend_f1 import F1Options
    from tickgate.host.backend_f2 import F2Options
    from tickgate.host.backend_sim import SimOptions

__all__ = ["BACKENDS", "Backend", "Device", "open_backend"]

BACKENDS = ("model", "software", "f2", "f1", "auto", "sim")


class Device(Protocol):
    """One card, whatever implements it (`tickgate._driver.Device`; `model.device.ModelDevice`)."""

    def submit(self, batch: bytes) -> int:
        """Hand a DMA batch to the card, all of it; its size in bytes."""

    def submit_packet(self, packet: bytes, rx_ns: int = 0, out: np.ndarray | None = None) -> int:
        """One packet as a DMA batch of its own; with `out`, then settle and collect into it: how many."""

    def collect(self, out: np.ndarray) -> int:
        """Move up to len(out) waiting events into `out`; how many."""

    def pending(self) -> int: ...

    def settle(self) -> None:
        """Wait until the events of everything submitted can be collected."""

    def counters(self) -> dict[str, int]: ...

    def read_register(self, offset: int) -> int: ...

    def write_register(self, offset: int, value: int) -> None: ...

    def reset(self) -> None: ...

    def identify(self) -> dict: ...

    def close(self) -> None: ...


class Backend:
    """Drives a `Device`: packets in (`feed`, gathered into DMA batches of `batch_packets`; `tick`, one packet
    at once), events out into the caller's buffer (`collect`) or a new array (`take_events`), counters.

    `name` says which implementation it is ("model", "software", "sim", "f2", "f1") and `description` how it was
    opened; nothing else differs. The device is `device` (a `tickgate._driver.Device` but for the model's).
    With `lines` (the card takes lines A and B: `CardConfig.line_window`), each packet goes with its line
    (the DMA header's `DmaFlag.LINE_B`) and `end_of_input` tells the card's arbiter the input has ended.
    """

    BATCH_PACKETS = 512

    def __init__(self, device: Device, name: str, description: str, *, batch_packets: int = BATCH_PACKETS,
                 lines: bool = False) -> None:
        if batch_packets < 1:
            raise ValueError(f"batch_packets must be at least 1, not {batch_packets}")
        self.device = device
        self.name = name
        self.description = description
        self.batch_packets = batch_packets
        self.lines = lines
        self._batch: list[tuple[bytes, int, int]] = []
        self.refused = 0  # packets longer than MAX_PACKET, never sent (counted packets_oversize)

    def feed(self, payload: bytes, rx_ns: int = 0, line: int = 0) -> None:
        """Queue one packet of `line` (0: A, 1: B); a full batch goes to the device. A packet longer than
        `MAX_PACKET` (the DMA header cannot say its length) is refused here and counted `packets_oversize`, as
        every implementation counts one."""
        if len(payload) > MAX_PACKET:
            self.refused += 1
            return
        self._batch.append((payload, rx_ns, DmaFlag.LINE_B if line else 0))
        if len(self._batch) >= self.batch_packets:
            self.flush()

    def flush(self) -> None:
        """Send the queued packets to the device as one DMA batch (cleared even if the device refuses it, so
        the backend stays usable)."""
        if self._batch:
            try:
                self.device.submit(pack_dma(self._batch))
            finally:
                self._batch.clear()

    def end_of_input(self) -> None:
        """The input has ended: with two lines, the card's arbiter releases what it holds (a DMA record flagged
        END_OF_INPUT); with one, nothing to do."""
        if self.lines:
            self._batch.append((b"", 0, DmaFlag.END_OF_INPUT))
            self.flush()

    def tick(self, payload: bytes, rx_ns: int, out: np.ndarray, line: int = 0) -> int:
        """One packet of `line` to the device at once (after anything queued), its events into `out`: how many
        (up to len(out); `collect` takes the rest)."""
        if self._batch:
            self.flush()
        if len(payload) > MAX_PACKET:
            self.refused += 1
            return 0
        if line:
            self.device.submit(pack_dma([(payload, rx_ns, DmaFlag.LINE_B)]))
            self.device.settle()
            return self.device.collect(out)
        return self.device.submit_packet(payload, rx_ns, out)

    def collect(self, out: np.ndarray) -> int:
        """Every packet fed so far to the device, then up to len(out) of its events into `out` (EVENT_DTYPE,
        or its V64 view); how many."""
        self.flush()
        self.device.settle()
        return self.device.collect(out)

    def pending_events(self) -> int:
        self.flush()
        self.device.settle()
        return self.device.pending()

    def take_events(self) -> np.ndarray:
        """Every event of the packets fed so far, in a new array."""
        import numpy as np

        from tickgate.protocol.events import EVENT_DTYPE

        out = np.empty(self.pending_events(), dtype=EVENT_DTYPE)
        n = self.device.collect(out) if len(out) else 0
        while n < len(out):  # a device may hand out what is waiting in parts
            got = self.device.collect(out[n:])
            if got == 0:
                break
            n += got
        return out[:n]

    def counters(self) -> dict[str, int]:
        """Every counter of the register map, after the packets fed so far."""
        self.flush()
        self.device.settle()
        counters = dict(self.device.counters())
        counters["packets_oversize"] = (counters.get("packets_oversize", 0) + self.refused) & ((1 << 64) - 1)
        return counters

    def reset(self) -> None:
        """Drop the queued packets and reset the device: counters cleared, waiting events dropped (and what
        else the device resets: `tickgate._driver.Device.reset`)."""
        self._batch.clear()
        self.device.reset()

    def close(self) -> None:
        """Release the device (packets still queued are dropped)."""
        self._batch.clear()
        self.device.close()

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_model(config: CardConfig | None = None) -> Backend:
    """The Python reference model (`tickgate.model`): the oracle, written for clarity."""
    from tickgate.model.device import ModelDevice

    return Backend(ModelDevice(config), "model", "the reference model (Python)",
                   lines=config is not None and config.line_window is not None)


def open_software(config: CardConfig | None = None) -> Backend:
    """The C++ model of the card (`tickgate._driver.SoftwareDevice`), byte-exact with the reference."""
    from tickgate._driver import SoftwareDevice

    config = config or CardConfig()
    symbols = sorted(config.symbols) if config.symbols is not None else None
    device = SoftwareDevice(symbols, session=config.session, first_sequence=config.first_sequence,
                            order_table=config.order_table, max_levels=config.max_levels,
                            max_symbols=config.max_symbols, level_events=config.level_events,
                            line_window=config.line_window, max_rules=config.max_rules)
    arm_rules(device, config)
    return Backend(device, "software", "the C++ model of the card (in-process)", lines=config.line_window is not None)


def arm_rules(device: Device, config: CardConfig) -> None:
    """Arm the rules of `config` on a device, through the rule registers (`protocol.rules`)."""
    from tickgate.protocol.registers import REGISTER_MAP
    from tickgate.protocol.rules import rule_writes

    for i, rule in enumerate(config.rules):
        if rule is not None:
            for name, value in rule_writes(i, rule):
                device.write_register(REGISTER_MAP[name].offset, value)


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def open_backend(name: str = "model", config: CardConfig | None = None, *, f2: F2Options | None = None,
                 f1: F1Options | None = None, sim: SimOptions | None = None,
                 announce: Callable[[str], None] | None = _say) -> Backend:
    """The backend called `name` (one of BACKENDS), configured with `config`.

    `f2` and `f1` hold the options of "f2", "f1" and "auto" (which slot, which image), `sim` those of "sim"
    (geometry, quiet cycles). "auto" opens an F2 card when one is present and holds the expected image, else
    an F1 card (legacy) likewise, else the software model; it says which, and why, through `announce`
    (default: a line on stderr; None: silent) and in the backend's `description`. The choice is made once,
    here: a card that fails later raises, it is never swapped for the model halfway through a run. A card
    that matches but cannot be opened (permissions, I/O, a ring it never announces) raises too.
    """
    if name == "model":
        return open_model(config)
    if name == "software":
        return open_software(config)
    if config is not None and config.line_window is not None and name in ("f2", "f1", "auto"):
        raise ValueError(f"backend {name!r} cannot take two lines (A/B): no card image has the line arbiter yet; "
                         "use --backend model, software or sim")
    if name == "f2":
        from tickgate.host.backend_f2 import open_f2

        return open_f2(config, f2)
    if name == "f1":
        from tickgate.host.backend_f1 import open_f1

        return open_f1(config, f1)
    if name == "auto":
        from tickgate._driver import NoCardError, WrongImageError
        from tickgate.host.backend_f1 import open_f1
        from tickgate.host.backend_f2 import open_f2

        why_not = []
        for opener, options in ((open_f2, f2), (open_f1, f1)):
            try:
                backend = opener(config, options)
                why = backend.description
                break
            except (NoCardError, WrongImageError) as e:
                why_not.append(str(e))
        else:
            backend = open_software(config)
            why = backend.description = f"no matching card: {'; '.join(why_not)}"
        if announce is not None:
            announce(f"tickgate: backend auto -> {backend.name} ({why})")
        return backend
    if name == "sim":
        from tickgate.host.backend_sim import open_sim

        return open_sim(config, sim)
    raise ValueError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
