"""The F2 host event ring: a PCIM AXI-4 manager that writes 64-byte events into a ring in host memory.

The contract is `protocol.f2_map` (records, head line, `RingControl`, alignment, the full-ring rule); the host
sets the ring through the registers `hdl.csr.CsrBlock` serves as `RingConfig`. How `RingWriter` keeps it:

- Record `i` (the `i`-th event since the last ring reset) goes to `base + 64 * (i % records)`: one 64-byte beat
  (AWSIZE 6, INCR), every write under AXI ID 0, so the shell answers them in order.
- Bursts: when several events wait, one burst takes as many as wait, bounded by `max_burst`, the free records
  and the end of the 4 KiB page. The ring is page aligned and a whole number of pages, so no burst crosses
  4 KiB and none wraps. A lone event goes out alone at once: nothing waits to fill a burst.
- Head line: once the B responses of records `0 .. n - 1` are in, a one-beat write to `ring_head` carries
  u32 `n` at `HEAD_PRODUCER_OFFSET`, the rest of the line zero; `producer` shows the last `n` so written. A due
  head write goes before the next burst.
- Full: with `records` issued and not consumed (`issued - consumer`, modulo 2**32) the next event is held
  until the host's `consumer` moves, and `counts.ring_full` pulses once for it. Held events stay in the
  `depth`-entry FIFO and then in the pipeline, which back-pressures.
- At most `max_outstanding` writes (record bursts and head writes) await their B.
- A B other than OKAY pulses `counts.pcim_errors`; its records count as written (lost to the host, who sees the
  count); the writer keeps going.
- `cfg.enable` clear: no new write starts (one under way finishes); events wait.
- `reset` (one cycle): no new write starts; once every B is in, both indices are 0 and the next write is a head
  line of producer 0. Events already waiting are kept: they become records 0, 1, ...
- `cfg.size_log2` outside `RING_MIN_LOG2 .. RING_MAX_LOG2` counts as the nearest bound.

The read channels of `bus` are idle (ARVALID 0, RREADY 1): the ring writer never reads host memory.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from tickgate.protocol.f2_map import (
    HEAD_LINE_BYTES,
    HEAD_PRODUCER_OFFSET,
    RECORD_BYTES,
    RING_ALIGN,
    RING_MAX_LOG2,
    RING_MIN_LOG2,
)

from .csr import LINE_BITS, PAGE_BITS, RingConfig
from .pcis import BEAT_BYTES, FULL_SIZE, INCR, OKAY, ShellAxiSignature

__all__ = ["MAX_OUTSTANDING", "PCIM_ID_WIDTH", "RECORDS_PER_PAGE", "RingControlSignature", "RingCounts",
           "RingWriter", "pcim_signature"]

PCIM_ID_WIDTH = 16  # the F2 shell's cl_sh_pcim_awid
MAX_OUTSTANDING = 32  # writes the F2 shell takes outstanding per type
RECORDS_PER_PAGE = RING_ALIGN // RECORD_BYTES  # 64: records between 4 KiB boundaries
if RECORD_BYTES != BEAT_BYTES or HEAD_LINE_BYTES != BEAT_BYTES:
    raise AssertionError("a record and the head line are one PCIM beat each")
if (RECORDS_PER_PAGE - 1).bit_length() > RING_MIN_LOG2:
    raise AssertionError("the smallest ring must be a whole page (no burst may wrap inside a page)")

ALL_STROBES = (1 << BEAT_BYTES) - 1

#: Per-cycle increments of the ring writer's counters (register-map names).
RingCounts = data.StructLayout({"ring_full": 1, "pcim_errors": 1})


def pcim_signature() -> ShellAxiSignature:
    """The F2 PCIM bus (`cl_sh_pcim_*`), seen from the manager: the CL has `Out(pcim_signature())`."""
    return ShellAxiSignature(PCIM_ID_WIDTH, platform="f2")


#: Between the register block and the ring writer, seen from the register side (the pipeline has Out of it).
RingControlSignature = wiring.Signature({
    "cfg": Out(RingConfig),
    "reset": Out(1),
    "producer": In(32),
    "counts": In(RingCounts),
})


def _min(a, b):
    return Mux(a < b, a, b)


class RingWriter(wiring.Component):
    """`events` (64-byte records) into the host ring over `bus` (PCIM); see the module docstring.

    Ports: `events` (In, 512-bit stream), `bus` (Out(pcim_signature())), `control` (In(RingControlSignature):
    `cfg`, `reset` in; `producer`, `counts` out), `level` (Out(32): events waiting in the FIFO).
    """

    def __init__(self, *, depth: int = 512, max_burst: int = RECORDS_PER_PAGE,
                 max_outstanding: int = MAX_OUTSTANDING) -> None:
        if not isinstance(depth, int) or isinstance(depth, bool) or not 2 <= depth <= 1 << 20:
            raise ValueError(f"depth must be an integer from 2 to 2**20, not {depth!r}")
        if not isinstance(max_burst, int) or not 1 <= max_burst <= RECORDS_PER_PAGE:
            raise ValueError(f"max_burst must be an integer from 1 to {RECORDS_PER_PAGE}, not {max_burst!r}")
        if not isinstance(max_outstanding, int) or not 1 <= max_outstanding <= MAX_OUTSTANDING:
            raise ValueError(f"max_outstanding must be an integer from 1 to {MAX_OUTSTANDING}, not {max_outstanding!r}")
        self.depth, self.max_burst, self.max_outstanding = depth, max_burst, max_outstanding
        super().__init__({
            "events": In(stream.Signature(unsigned(8 * RECORD_BYTES))),
            "bus": Out(pcim_signature()),
            "control": In(RingControlSignature),
            "level": Out(32),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        bus, cfg, counts = self.bus, self.control.cfg, self.control.counts
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8 * RECORD_BYTES, depth=self.depth)
        # the length of every write awaiting its B, in order (0: a head write)
        m.submodules.lengths = lengths = SyncFIFO(width=(self.max_burst).bit_length(), depth=self.max_outstanding)
        m.d.comb += [
            fifo.w_data.eq(self.events.payload), fifo.w_en.eq(self.events.valid),
            self.events.ready.eq(fifo.w_rdy), self.level.eq(fifo.level),
            # every write: 64-byte beats, INCR, ID 0, no attributes (the F2 shell supports none)
            bus.awsize.eq(FULL_SIZE), bus.awburst.eq(INCR), bus.arsize.eq(FULL_SIZE), bus.arburst.eq(INCR),
            bus.rready.eq(1), bus.bready.eq(1),
        ]

        issued = Signal(32)  # records whose writes have started
        acked = Signal(32)  # records whose B is in
        announced = self.control.producer  # the producer index of the last head write
        outstanding = Signal(range(self.max_outstanding + 1))
        reset_pending, head_due, held_counted = Signal(), Signal(), Signal()
        beats_left = Signal(range(self.max_burst + 1))
        aw_done = Signal()
        head_value = Signal(32)

        size = Signal(range(RING_MAX_LOG2 + 1))
        m.d.comb += size.eq(Mux(cfg.size_log2 < RING_MIN_LOG2, RING_MIN_LOG2,
                                Mux(cfg.size_log2 > RING_MAX_LOG2, RING_MAX_LOG2, cfg.size_log2)))
        records = Signal(33)
        m.d.comb += records.eq(Const(1, 33) << size)
        used = Signal(32)
        m.d.comb += used.eq(issued - cfg.consumer)
        room = used < records
        page_left = RECORDS_PER_PAGE - issued[:(RECORDS_PER_PAGE - 1).bit_length()]
        burst = Signal(range(self.max_burst + 1))
        m.d.comb += burst.eq(_min(_min(fifo.level, records - used), _min(page_left, self.max_burst)))
        slot = Signal(32)
        m.d.comb += slot.eq(issued & (records - 1))

        # Responses, in order: each B retires the oldest write.
        b_taken = bus.bvalid & bus.bready
        aw_taken = bus.awvalid & bus.awready
        m.d.comb += [lengths.r_en.eq(b_taken), lengths.w_en.eq(aw_taken)]
        m.d.sync += [outstanding.eq(outstanding + aw_taken - b_taken), counts.eq(0)]
        with m.If(b_taken):
            m.d.sync += [acked.eq(acked + lengths.r_data), counts.pcim_errors.eq(bus.bresp != OKAY)]
        with m.If(self.control.reset):
            m.d.sync += reset_pending.eq(1)

        can_issue = outstanding < self.max_outstanding
        with m.FSM(name="ring"):
            with m.State("IDLE"):
                with m.If(reset_pending & (outstanding == 0) & ~self.control.reset):  # every B is in
                    m.d.sync += [issued.eq(0), acked.eq(0), reset_pending.eq(0), head_due.eq(1),
                                 held_counted.eq(0)]
                with m.Elif(reset_pending | self.control.reset):
                    pass
                with m.Elif(~cfg.enable | ~can_issue):
                    pass
                with m.Elif(head_due | (acked != announced)):
                    m.d.sync += [head_due.eq(0), head_value.eq(acked), announced.eq(acked), aw_done.eq(0),
                                 beats_left.eq(1), bus.awaddr.eq(cfg.head_line << LINE_BITS), bus.awlen.eq(0)]
                    m.next = "HEAD"
                with m.Elif(fifo.level != 0):
                    with m.If(room):
                        m.d.sync += [issued.eq(issued + burst), held_counted.eq(0), aw_done.eq(0),
                                     beats_left.eq(burst), bus.awlen.eq(burst - 1),
                                     bus.awaddr.eq((cfg.base_page << PAGE_BITS) + (slot << 6))]
                        m.next = "RECORDS"
                    with m.Elif(~held_counted):
                        m.d.sync += [held_counted.eq(1), counts.ring_full.eq(1)]
            with m.State("RECORDS"):
                m.d.comb += [
                    bus.awvalid.eq(~aw_done), lengths.w_data.eq(bus.awlen + 1),
                    bus.wvalid.eq((beats_left != 0) & fifo.r_rdy), bus.wdata.eq(fifo.r_data),
                    bus.wstrb.eq(ALL_STROBES), bus.wlast.eq(beats_left == 1),
                    fifo.r_en.eq(bus.wvalid & bus.wready),
                ]
                self._advance(m, bus, aw_taken, aw_done, beats_left)
            with m.State("HEAD"):
                m.d.comb += [
                    bus.awvalid.eq(~aw_done), lengths.w_data.eq(0),
                    bus.wvalid.eq(beats_left != 0), bus.wlast.eq(1), bus.wstrb.eq(ALL_STROBES),
                    bus.wdata.eq(head_value << (8 * HEAD_PRODUCER_OFFSET)),
                ]
                self._advance(m, bus, aw_taken, aw_done, beats_left)
        return m

    @staticmethod
    def _advance(m: Module, bus, aw_taken, aw_done: Signal, beats_left: Signal) -> None:
        """AW once and the W beats, in either order; back to IDLE when both are done."""
        w_taken = bus.wvalid & bus.wready
        with m.If(aw_taken):
            m.d.sync += aw_done.eq(1)
        with m.If(w_taken):
            m.d.sync += beats_left.eq(beats_left - 1)
        with m.If((aw_done | aw_taken) & ((beats_left == 0) | (beats_left == 1) & w_taken)):
            m.next = "IDLE"
