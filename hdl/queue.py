"""A small first-in first-out queue between two streams, with a registered `i.ready`."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

__all__ = ["StreamQueue"]


class StreamQueue(wiring.Component):
    """`depth` entries of `shape`; what goes in at one cycle can come out at the next.

    `i.ready` depends on the queue's state only, never combinationally on `o.ready`, so back-pressure
    does not make a long ready path. Depth 2 is two registers (a skid buffer); deeper is a `SyncFIFO`.
    """

    def __init__(self, shape, depth: int) -> None:
        if not isinstance(depth, int) or isinstance(depth, bool):
            raise TypeError(f"queue depth must be an integer, got {depth!r}")
        if depth < 2:
            raise ValueError(f"queue depth must be at least 2 to pass an entry every cycle, got {depth}")
        self.depth = depth
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def elaborate(self, platform) -> Module:
        m = Module()
        if self.depth > 2:
            m.submodules.fifo = fifo = SyncFIFO(width=len(self.i.payload.as_value()), depth=self.depth)
            m.d.comb += [
                fifo.w_data.eq(self.i.payload),
                fifo.w_en.eq(self.i.valid),
                self.i.ready.eq(fifo.w_rdy),
                self.o.payload.eq(fifo.r_data),
                self.o.valid.eq(fifo.r_rdy),
                fifo.r_en.eq(self.o.ready),
            ]
            return m

        spare = Signal.like(self.i.payload)  # the entry behind the one on `o`
        spare_valid = Signal()
        m.d.comb += self.i.ready.eq(~spare_valid)
        with m.If(~self.o.valid | self.o.ready):  # the head moves on (or is empty)
            with m.If(spare_valid):
                m.d.sync += [self.o.payload.eq(spare), self.o.valid.eq(1), spare_valid.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & self.i.ready):
            m.d.sync += [spare.eq(self.i.payload), spare_valid.eq(1)]
        return m
