"""The live feed received natively: `tickgate._driver.UdpReceiver` behind the `MoldUdpFeed` interface.

The receiver (driver/udp_receiver.cpp) takes datagrams in `recvmmsg` batches, stamps each with the kernel's
receive time (`SO_TIMESTAMPNS`), sequences them exactly as `MoldUdpFeed` does (gaps held back and
re-requested, the same decisions and counters: driver/mold_sequencer.cpp) and packs the in-order packets
into DMA batches. Two ways to use it:

- the fast path, no Python per packet: `attach(device)` (a `tickgate._driver.Device` or `SoftwareCard`),
  then `receive_into(out, timeout_s)` submits each batch to the device and collects its events into `out`
  (an EVENT_DTYPE array); each event's `ts_local` is its packet's kernel receive time;
- iteration, as any feed (`for payload, rx_ns in feed`), for a backend without a C++ device; with two lines
  (`line_b`), (payload, rx_ns, line) as `MoldUdpFeed` yields them.

Receive times are CLOCK_MONOTONIC ns, the clock of `time.perf_counter_ns` on Linux that the run loop's
latencies use: the kernel's CLOCK_REALTIME stamp is moved by the REALTIME - MONOTONIC offset sampled
right after each `recvmmsg`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from tickgate._driver import UdpReceiver
from tickgate.protocol.moldudp64 import DMA_ALIGN, DMA_HEADER_LEN, DmaFlag, DmaHeader
from tickgate.protocol.packet import Packet

__all__ = ["NativeUdpFeed"]

STEP_S = 0.1  # longest wait of one step while iterating (then on_idle runs)


class NativeUdpFeed:
    """A MoldUDP64 stream on a UDP socket, received in C++ (see the module doc); `MoldUdpFeed`'s arguments."""

    def __init__(self, group: str, port: int, *, iface: str = "0.0.0.0", rerequest: tuple[str, int] | None = None,
                 gap_timeout_s: float = 0.05, retries: int = 3, max_request: int = 1000, max_held: int = 10_000,
                 idle_timeout_s: float = 5.0, rcvbuf: int = 8 << 20, batch: int = 64, spin_s: float = 0.0,
                 line_b: tuple[str, int] | None = None) -> None:
        self.rx = UdpReceiver(group, port, iface=iface, rerequest=rerequest, gap_timeout_s=gap_timeout_s,
                              retries=retries, max_request=max_request, max_held=max_held,
                              idle_timeout_s=idle_timeout_s, rcvbuf=rcvbuf, batch=batch, spin_s=spin_s, line_b=line_b)
        self.address: tuple[str, int] = self.rx.address
        self.two_lines = line_b is not None
        self.address_b: tuple[str, int] | None = self.rx.address_b if self.two_lines else None
        self.idle_timeout_s = idle_timeout_s
        self.on_idle: Callable[[], None] | None = None  # called when a step of iteration brings nothing
        self._stop = False

    # -- the fast path -------------------------------------------------------------------------------------

    def attach(self, device: object) -> None:
        """Hand packets to `device` (a `tickgate._driver.Device` or `SoftwareCard`) from now on."""
        self.rx.attach(device)

    def receive_into(self, out: np.ndarray, timeout_s: float) -> int:
        """One step: what arrived (waiting up to `timeout_s` if nothing had) goes to the device; its events
        (and any it still held) are collected into `out`; how many."""
        return self.rx.receive_into(out, timeout_s)

    def collect(self, out: np.ndarray) -> int:
        """Events the device still holds, into `out`; how many."""
        return self.rx.collect(out)

    def take_directory(self) -> list[bytes]:
        """Packets handed on since the last call that carry a Stock Directory message (for `Directory.scan`)."""
        return self.rx.take_directory()

    @property
    def ended(self) -> bool:
        return self.rx.ended

    @property
    def packets(self) -> int:
        """Packets handed on, in order."""
        return self.rx.packets

    # -- as any feed ---------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Packet] | Iterator[tuple[bytes, int, int]]:
        while not self.rx.ended and not self._stop:
            batch = self.rx.receive(STEP_S)
            if not batch:
                if self.on_idle is not None and not self.rx.ended:
                    self.on_idle()
                continue
            view = memoryview(batch)
            pos = 0
            while pos < len(batch):
                length, rx, flags = DmaHeader.decode(view[pos:pos + DMA_HEADER_LEN])
                start = pos + DMA_HEADER_LEN
                if self.two_lines:
                    yield batch[start:start + length], rx, 1 if flags & DmaFlag.LINE_B else 0
                else:
                    yield Packet(batch[start:start + length], rx)
                pos = start + length + (-(DMA_HEADER_LEN + length) % DMA_ALIGN)

    def stop(self) -> None:
        self._stop = True

    def stats(self) -> dict[str, int]:
        return self.rx.counters()

    def close(self) -> None:
        self.rx.close()
