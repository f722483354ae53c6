"""Drive and watch Amaranth `stream` ports of a Verilated top (runs inside cocotb).

A stream port `i` of the component becomes the Verilog ports `i__payload` (the whole payload, flat:
see `payload.PayloadCodec`), `i__valid` and `i__ready`. A nested port is named by its path joined with
`__`, e.g. "o__records". Drivers and monitors are endpoints of a `Clocking`: they drive after each rising
edge and sample in the ReadOnly phase, so `valid & ready` seen there is a transfer at the end of that
cycle (`Clocking.cycle()`). The source only pauses between transfers: once valid is high it stays high,
payload unchanged, until ready. (A top-level stream cannot be `always_valid`/`always_ready`:
`verilog.convert` refuses constant ports.)
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cocotb.triggers import Event

from tickgate.hdl.layouts import BEAT_BYTES
from tickgate.sim.cocotb.clocking import Clocking
from tickgate.sim.cocotb.payload import PayloadCodec

__all__ = [
    "StreamDriver", "StreamMonitor", "StreamPort", "Transfer", "join_beats", "latencies", "packet_beats", "rate",
]


class StreamPort:
    """The Verilog signals of stream port `name`: `payload` (None if zero-width), `valid`, `ready`."""

    def __init__(self, dut: Any, name: str, shape: Any) -> None:
        self.name = name
        self.codec = PayloadCodec(shape)
        self.payload = _find(dut, f"{name}__payload") if self.codec.width else None
        self.valid = _find(dut, f"{name}__valid")
        self.ready = _find(dut, f"{name}__ready")
        if self.payload is not None and len(self.payload) != self.codec.width:
            raise TypeError(f"{name}__payload is {len(self.payload)} bits, the layout {self.codec.width}")


def _find(dut: Any, name: str) -> Any:
    try:
        return getattr(dut, name)
    except AttributeError:
        raise AttributeError(f"{dut._name} has no port {name!r}") from None


@dataclass(frozen=True)
class Transfer:
    """One payload that crossed a stream, and the cycle at whose end it did."""

    payload: Any
    cycle: int


def latencies(inputs: Sequence[Transfer], outputs: Sequence[Transfer]) -> list[int]:
    """Cycles from each input transfer to the output transfer it became (paired in order, one to one)."""
    if len(inputs) != len(outputs):
        raise ValueError(f"{len(inputs)} inputs but {len(outputs)} outputs: not one to one")
    return [out.cycle - inp.cycle for inp, out in zip(inputs, outputs, strict=True)]


def rate(transfers: Sequence[Transfer]) -> float:
    """Transfers per cycle over the cycles from the first transfer to the last, both included."""
    if not transfers:
        return 0.0
    return len(transfers) / (transfers[-1].cycle - transfers[0].cycle + 1)


class StreamDriver:
    """Sends payloads into a stream input of the DUT, leaving valid low between transfers with `idle_prob`."""

    def __init__(self, dut: Any, port: str, layout: Any, clock: Clocking,
                 rng: random.Random | None = None, idle_prob: float = 0.0) -> None:
        self.port = StreamPort(dut, port, layout)
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.idle_prob = idle_prob
        self.sent: list[Transfer] = []
        self._queue: deque[Any] = deque()
        self._offering = self._valid = False
        self._idle = Event()
        self._idle.set()
        self.port.valid.value = 0
        clock.attach(self)

    def send(self, payloads: Iterable[Any]) -> None:
        """Queue payloads (dicts for struct layouts) to send in order."""
        self._queue.extend(payloads)
        if self._queue:
            self._idle.clear()

    async def wait_idle(self) -> None:
        """Wait until every queued payload has been transferred."""
        await self._idle.wait()

    def on_edge(self) -> None:
        if self._offering:  # hold valid and payload until the DUT takes them
            return
        if self._queue and not (self.idle_prob and self.rng.random() < self.idle_prob):
            if self.port.payload is not None:
                self.port.payload.value = self.port.codec.pack(self._queue[0])
            self._offering = True
        if self._valid != self._offering:
            self.port.valid.value = self._valid = self._offering

    def on_sample(self) -> None:
        if self._offering and self.port.ready.value:
            self.sent.append(Transfer(self._queue.popleft(), self.clock.cycle()))
            self._offering = False
            if not self._queue:
                self._idle.set()


class StreamMonitor:
    """Takes payloads from a stream output of the DUT, holding ready low with `stall_prob` each cycle."""

    def __init__(self, dut: Any, port: str, layout: Any, clock: Clocking,
                 rng: random.Random | None = None, stall_prob: float = 0.0) -> None:
        self.port = StreamPort(dut, port, layout)
        self.clock = clock
        self.rng = rng or random.Random(1)
        self.stall_prob = stall_prob
        self.received: list[Transfer] = []
        self._ready = False
        self._wanted = 0
        self._got = Event()
        self.port.ready.value = 0
        clock.attach(self)

    @property
    def payloads(self) -> list[Any]:
        return [t.payload for t in self.received]

    async def wait_for(self, count: int) -> list[Transfer]:
        """Wait until `count` payloads have been received in all; return them."""
        if len(self.received) < count:
            self._wanted = count
            self._got.clear()
            await self._got.wait()
        return self.received[:count]

    def on_edge(self) -> None:
        ready = not (self.stall_prob and self.rng.random() < self.stall_prob)
        if ready != self._ready:
            self.port.ready.value = self._ready = ready

    def on_sample(self) -> None:
        if self._ready and self.port.valid.value:
            payload = self.port.payload
            value = self.port.codec.unpack(payload.value.to_unsigned()) if payload is not None else None
            self.received.append(Transfer(value, self.clock.cycle()))
            if self._wanted and len(self.received) >= self._wanted:
                self._wanted = 0
                self._got.set()


def packet_beats(payload: bytes, filler: random.Random | None = None) -> list[dict[str, int]]:
    """A packet as PacketBeat dicts: 8 bytes a beat, byte 0 in the low bits; `filler` randomises unused bytes."""
    if not payload:
        raise ValueError("a packet has at least one byte")
    beats = []
    for offset in range(0, len(payload), BEAT_BYTES):
        chunk = payload[offset:offset + BEAT_BYTES]
        pad = bytes(BEAT_BYTES - len(chunk)) if filler is None else filler.randbytes(BEAT_BYTES - len(chunk))
        beats.append({"data": int.from_bytes(chunk + pad, "little"), "nbytes": len(chunk),
                      "last": int(offset + BEAT_BYTES >= len(payload))})
    return beats


def join_beats(beats: Iterable[dict[str, int]]) -> list[bytes]:
    """The packets that a sequence of PacketBeat dicts carries (a trailing unfinished packet is dropped)."""
    packets, current = [], bytearray()
    for beat in beats:
        current += beat["data"].to_bytes(BEAT_BYTES, "little")[:beat["nbytes"]]
        if beat["last"]:
            packets.append(bytes(current))
            current = bytearray()
    return packets
