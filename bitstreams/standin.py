"""A stand-in for the pipeline top (`hdl.pipeline.Pipeline`) with the same ports, for the CL flow's own tests.

DmaUnframer -> ItchDecoder -> the low 512 bits of each `DecodedRecord` as an "event", and a CsrBlock with the
decoder's counters. It exercises every port the CL top connects (DMA words in, 512-bit beats out, the register
block on AXI-Lite, the DMA levels shown in `events_ready` / `ingress_free`) while the real pipeline is built.
Its "events" are not book events: tests compare them with `model.decoder.ReferenceDecoder`'s records.
With `ring` (the F2 core) it has the pipeline's `ring` port too, and counts `ring_full` and `pcim_errors`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.hdl.csr import ADDR_WIDTH, AxiLiteSignature, CsrBlock
from tickgate.hdl.decoder import DECODER_COUNTERS, ItchDecoder
from tickgate.hdl.dma import DmaUnframer
from tickgate.hdl.pcim import RingControlSignature, RingCounts

__all__ = ["DmaStatus", "StandinPipeline"]

EVENT_BITS = 512
DmaStatus = data.StructLayout({"events_ready": 32, "ingress_free": 32})


class StandinPipeline(wiring.Component):
    """`dma_in` (64-bit words) -> decoded records truncated to 512 bits on `events`; `csr` serves the map."""

    def __init__(self, *, max_length: int = 1500, ring: bool = False) -> None:
        self.max_length, self.ring_port = max_length, ring
        ports = {
            "dma_in": In(stream.Signature(unsigned(64))),
            "events": Out(stream.Signature(unsigned(EVENT_BITS))),
            "csr": In(AxiLiteSignature(ADDR_WIDTH)),
            "dma_status": In(DmaStatus),
        }
        if ring:
            ports["ring"] = Out(RingControlSignature)
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.unframer = unframer = DmaUnframer(max_length=self.max_length)
        m.submodules.decoder = decoder = ItchDecoder()
        ring_counters = tuple(RingCounts.members) if self.ring_port else ()
        m.submodules.csr = csr = CsrBlock((*DECODER_COUNTERS, *ring_counters), ring=self.ring_port)
        wiring.connect(m, wiring.flipped(self.dma_in), unframer.i)
        wiring.connect(m, unframer.o, decoder.i)
        wiring.connect(m, wiring.flipped(self.csr), csr.bus)
        m.d.comb += [
            self.events.payload.eq(Value.cast(decoder.o.payload)[:EVENT_BITS]),
            self.events.valid.eq(decoder.o.valid),
            decoder.o.ready.eq(self.events.ready),
            decoder.cfg.eq(csr.cfg.session),
            csr.status.eq(decoder.status),
            *(csr.counters[name].eq(decoder.counters[name]) for name in DECODER_COUNTERS),
            decoder.clear_counters.eq(csr.clear),
            csr.gauges.events_ready.eq(self.dma_status.events_ready),
            csr.gauges.ingress_free.eq(self.dma_status.ingress_free),
        ]
        if self.ring_port:
            m.d.comb += [self.ring.cfg.eq(csr.cfg.ring), self.ring.reset.eq(csr.ring_reset),
                         csr.gauges.ring_producer.eq(self.ring.producer)]
            for name in ring_counters:
                count = Signal(64, name=name)
                m.d.sync += count.eq(Mux(csr.clear, 0, count) + self.ring.counts[name])
                m.d.comb += csr.counters[name].eq(count)
        return m
