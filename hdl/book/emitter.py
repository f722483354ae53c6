"""The events of one message, collected in fixed slots and sent out in slot order, one per beat.

The book engine fills the slots of a message (`fill`), then hands them over (`hand_off`): the slots filled
before this cycle, or with `closing` those and this cycle's fills too (the message's last cycle, when the
engine takes the next message on the same cycle). The emitter sends the handed-over slots in slot order
while the engine goes on with the next message. Slot order is the
order the reference model emits a message's events in.
"""

from enum import IntEnum

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .. import event_record

__all__ = ["EventEmitter", "Slot"]


class Slot(IntEnum):
    """Where an event of a message goes; lower slots are sent first."""

    FIRST = 0  # TRADE of E/C/P/Q, STATUS, GAP, SESSION, or the DEGRADED of a symbol finding no slot
    LEVEL0 = 1
    LEVEL1 = 2
    LEVEL2 = 3
    DEGRADED = 4
    BBO = 5  # the message's book
    BBO_OTHER = 6  # another book, whose order held a re-used reference


class EventEmitter(wiring.Component):
    """`fill` (one write per slot per cycle), `hand_off` (when `ready`; `closing`: with this cycle's fills),
    events out on `o`."""

    def __init__(self) -> None:
        n = len(Slot)
        super().__init__({
            "fill": In(data.ArrayLayout(data.StructLayout({"valid": 1, "event": event_record.EVENT_BITS}), n)),
            "hand_off": In(1),
            "closing": In(1),  # the hand-off takes this cycle's fills too
            "stamp": In(64),  # handed off with the slots: when the message entered the pipeline
            "now": In(64),
            "latency": Out(data.StructLayout({"valid": 1, "cycles": 32})),  # at each message's first event
            "ready": Out(1),  # a hand-off this cycle is taken (the previous message's events are all out)
            "pending": Out(1),  # slots are filled and not handed off
            "o": Out(stream.Signature(event_record.EVENT_BITS)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        n = len(Slot)
        filling = [Signal(event_record.EVENT_BITS, name=f"fill{i}") for i in range(n)]
        filling_valid = Signal(n)
        sending = [Signal(event_record.EVENT_BITS, name=f"send{i}") for i in range(n)]
        sending_valid = Signal(n)
        sending_stamp = Signal(64)
        first = Signal()  # the next event out is its message's first

        # The lowest pending slot goes out first.
        for i in reversed(range(n)):
            with m.If(sending_valid[i]):
                m.d.comb += self.o.payload.eq(sending[i])
        m.d.comb += self.o.valid.eq(sending_valid.any())
        taken = Signal(n)
        lowest = sending_valid & (~sending_valid + 1)
        m.d.comb += taken.eq(lowest & self.o.ready.replicate(n))
        last_out = (sending_valid & ~taken) == 0
        m.d.comb += [self.ready.eq(last_out), self.pending.eq(filling_valid.any())]

        took = self.o.valid & self.o.ready
        m.d.comb += [self.latency.valid.eq(took & first), self.latency.cycles.eq(self.now - sending_stamp)]
        with m.If(took):
            m.d.sync += first.eq(0)
        fill_valid = Cat(*(self.fill[i].valid for i in range(n)))
        handing = self.hand_off & self.ready
        closed = handing & self.closing  # this cycle's fills go with the hand-off
        with m.If(handing):
            m.d.sync += [sending_valid.eq(filling_valid | Mux(self.closing, fill_valid, 0)),
                         sending_stamp.eq(self.stamp), first.eq(1)]
            for i in range(n):
                m.d.sync += sending[i].eq(Mux(self.closing & self.fill[i].valid, self.fill[i].event, filling[i]))
            m.d.sync += filling_valid.eq(0)
        with m.Else():
            m.d.sync += sending_valid.eq(sending_valid & ~taken)
        for i in range(n):
            with m.If(self.fill[i].valid & ~closed):
                m.d.sync += [filling[i].eq(self.fill[i].event), filling_valid[i].eq(1)]
        return m
