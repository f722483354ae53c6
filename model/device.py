"""The reference model behind the operations of `tickgate._driver.Device`: the same method names and meanings,
so the host drives it as it drives the software card, the Verilated pipeline or the PCIe card.

Its registers are the software card's: `id`, `map_version`, `control` (as configured; writing its
clear-counters bit clears the counters), the rule registers (rules are armed at run time; nothing else may
change then), the counters (since the last clear), `events_ready`, `ingress_free` (it takes any batch), the
capacities (0: unbounded) and `latency_min` 0xFFFFFFFF (nothing measured); every other register reads 0.
"""

from __future__ import annotations

import numpy as np

from tickgate.protocol.config import CardConfig
from tickgate.protocol.events import EVENT_DTYPE
from tickgate.protocol.moldudp64 import DMA_ALIGN, DMA_HEADER_LEN, DmaFlag, DmaHeader
from tickgate.protocol.registers import ID_MAGIC, MAP_VERSION, REGISTER_MAP, Control, counter_names

from .card import ReferenceCard

__all__ = ["DeviceClosed", "ModelDevice", "RegisterRefused", "dma_records"]

INGRESS_FREE = 0x7FFFFFFF
_BY_OFFSET = {r.offset: r for r in REGISTER_MAP}
_COUNTERS = frozenset(counter_names())


class RegisterRefused(OSError):
    """A register access the model cannot carry out (as the C++ devices' RegisterRefusedError, an OSError)."""


class DeviceClosed(OSError):
    """The device was closed (as the C++ devices' CardGoneError, an OSError)."""


def dma_records(batch: bytes | memoryview) -> list[tuple[memoryview, int, int]]:
    """The (packet, rx_time_ns, flags) records of a DMA batch (`protocol.moldudp64.pack_dma`); ValueError if its
    framing is broken, before any of it is used (as the C++ software card checks it)."""
    view = memoryview(batch).cast("B")
    out, pos = [], 0
    while pos < len(view):
        if len(view) - pos < DMA_HEADER_LEN:
            raise ValueError("DMA batch ends inside a header")
        header = DmaHeader.decode(view[pos:pos + DMA_HEADER_LEN])
        start = pos + DMA_HEADER_LEN
        if header.length > len(view) - start:
            raise ValueError("DMA record runs past the batch end")
        out.append((view[start:start + header.length], header.rx_time_ns, header.flags))
        pos = -(-(start + header.length) // DMA_ALIGN) * DMA_ALIGN
    return out


class ModelDevice:
    """`ReferenceCard` as a device: DMA batches in, events collected into the caller's array."""

    def __init__(self, config: CardConfig | None = None) -> None:
        self.config = config or CardConfig()
        self.card: ReferenceCard | None = ReferenceCard(self.config)
        self._held = np.empty(0, dtype=EVENT_DTYPE)  # taken from the card, not yet collected
        self._at = 0
        self._baseline = dict.fromkeys(counter_names(), 0)

    def _live(self) -> ReferenceCard:
        if self.card is None:
            raise DeviceClosed("the model device is closed")
        return self.card

    def submit(self, batch: bytes | memoryview) -> int:
        """Feed every packet of a DMA batch, on the line its flags say; its size in bytes. A record flagged
        END_OF_INPUT carries no packet (if it has one, it is fed first) and ends the input (`model.lines`)."""
        card = self._live()
        for packet, rx_ns, flags in dma_records(batch):
            if flags & DmaFlag.END_OF_INPUT:
                if len(packet):
                    card.feed(bytes(packet), rx_ns, flags & DmaFlag.LINE_B)
                card.end_of_input()
            else:
                card.feed(bytes(packet), rx_ns, flags & DmaFlag.LINE_B)
        return len(batch)

    def submit_packet(self, payload: bytes, rx_ns: int = 0, out: np.ndarray | None = None) -> int:
        """One packet as a DMA batch of its own (what `submit(pack_dma([(payload, rx_ns)]))` does): its size in
        bytes; with `out`, then collect into it: how many events."""
        self._live().feed(payload, rx_ns)
        if out is not None:
            return self.collect(out)
        n = DMA_HEADER_LEN + len(payload)
        return n + -n % DMA_ALIGN

    def collect(self, out: np.ndarray) -> int:
        """Move up to len(out) waiting events into `out` (EVENT_DTYPE, or its V64 view); how many."""
        card = self._live()
        if self._at == len(self._held):
            self._held, self._at = card.take_events(), 0
        n = min(len(out), len(self._held) - self._at)
        if n:
            out.view(EVENT_DTYPE)[:n] = self._held[self._at:self._at + n]
            self._at += n
        return n

    def pending(self) -> int:
        return len(self._held) - self._at + len(self._live().sink)

    def settle(self) -> None:
        """Nothing to wait for: the model is done when `submit` returns."""

    def counters(self) -> dict[str, int]:
        """Every counter of the register map since the last clear."""
        c = self._live().counters
        return {k: c[k] - self._baseline[k] for k in counter_names()}

    def _control(self) -> int:
        return int(Control.ENABLE | (Control.TRACK_ALL if self.config.symbols is None else 0)
                   | (Control.LEVEL_EVENTS if self.config.level_events else 0))

    def _register(self, offset: int):
        reg = _BY_OFFSET.get(offset) or _BY_OFFSET.get(offset - 4)
        if reg is None or (reg.offset != offset and reg.width != 64):
            raise RegisterRefused(f"no register at offset {offset:#x} of the register map (protocol/registers.py)")
        return reg

    def read_register(self, offset: int) -> int:
        reg = self._register(offset)
        high = offset != reg.offset
        if reg.name in _COUNTERS:
            value = self.counters()[reg.name]
            return value >> 32 if high else value & 0xFFFF_FFFF
        if reg.name.startswith("rule_"):
            return 0 if high else self._live().rules.read(reg.name)
        table = self.config.order_table
        values = {"id": ID_MAGIC, "map_version": MAP_VERSION, "control": self._control(),
                  "cap_rules": self.config.max_rules, "events_ready": min(self.pending(), 0xFFFF_FFFE),
                  "ingress_free": INGRESS_FREE,
                  "latency_min": 0xFFFF_FFFF, "cap_orders": table.capacity if table is not None else 0,
                  "cap_levels": self.config.max_levels or 0, "cap_symbols": self.config.max_symbols or 0,
                  "lines": 0 if self.config.line_window is None else 1 | self.config.line_window << 8}
        return 0 if high else values.get(reg.name, 0)

    def read_register64(self, offset: int) -> int:
        return self.read_register(offset + 4) << 32 | self.read_register(offset)

    def write_register(self, offset: int, value: int) -> None:
        reg = self._register(offset)
        if reg.access != "rw":
            raise RegisterRefused(f"register {reg.name} is read-only")
        if reg.name.startswith("rule_"):  # the rule table (protocol/rules.py) is armed at run time
            self._live().rules.write(reg.name, value)
            return
        if reg.name == "control" and value & ~Control.CLEAR_COUNTERS == self._control():
            if value & Control.CLEAR_COUNTERS:
                self._baseline = dict(self._live().counters)
            return
        raise RegisterRefused(f"the model cannot apply register {reg.name} at run time (only control's "
                              "clear-counters bit): give symbols, session and first_sequence when opening it")

    def reset(self) -> None:
        """A new model with the same configuration: empty books, session and counters, no events waiting."""
        self._live()
        self.card = ReferenceCard(self.config)
        self._held, self._at = np.empty(0, dtype=EVENT_DTYPE), 0
        self._baseline = dict.fromkeys(counter_names(), 0)

    def identify(self) -> dict[str, object]:
        """As `tickgate._driver.Device.identify`: backend, location, IDs, id and map_version, capacities."""
        return {"backend": "model", "location": "in-process", "vendor_id": 0, "device_id": 0,
                "subsystem_vendor_id": 0, "subsystem_id": 0, "id": ID_MAGIC, "map_version": MAP_VERSION,
                "cap_orders": self.read_register(REGISTER_MAP["cap_orders"].offset),
                "cap_levels": self.config.max_levels or 0, "cap_symbols": self.config.max_symbols or 0}

    def close(self) -> None:
        """Drop the model; later calls fail."""
        self.card = None
