"""A stand-in for the pipeline top (`hdl.pipeline.Pipeline`) with the same ports, for the CL flow's own tests.

DmaUnframer -> ItchDecoder -> the low 512 bits of each `DecodedRecord` as an "event", and a CsrBlock with the
decoder's counters. It exercises every port the CL top connects (DMA words in, 512-bit beats out, the register
block on AXI-Lite, the DMA levels shown in `events_ready` / `ingress_free`) while the real pipeline is built.
Its "events" are not book events: tests compare them with `model.decoder.ReferenceDecoder`'s records.
"""

from __future__ import annotations

from amaranth.hdl import Module, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.hdl.csr import ADDR_WIDTH, AxiLiteSignature, CsrBlock
from tickgate.hdl.decoder import DECODER_COUNTERS, ItchDecoder
from tickgate.hdl.dma import DmaUnframer

__all__ = ["DmaStatus", "StandinPipeline"]

EVENT_BITS = 512
DmaStatus = data.StructLayout({"events_ready": 32, "ingress_free": 32})


class StandinPipeline(wiring.Component):
    """`dma_in` (64-bit words) -> decoded records truncated to 512 bits on `events`; `csr` serves the map."""

    def __init__(self, *, max_length: int = 1500) -> None:
        self.max_length = max_length
        super().__init__({
            "dma_in": In(stream.Signature(unsigned(64))),
            "events": Out(stream.Signature(unsigned(EVENT_BITS))),
            "csr": In(AxiLiteSignature(ADDR_WIDTH)),
            "dma_status": In(DmaStatus),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.unframer = unframer = DmaUnframer(max_length=self.max_length)
        m.submodules.decoder = decoder = ItchDecoder()
        m.submodules.csr = csr = CsrBlock(DECODER_COUNTERS)
        wiring.connect(m, wiring.flipped(self.dma_in), unframer.i)
        wiring.connect(m, unframer.o, decoder.i)
        wiring.connect(m, wiring.flipped(self.csr), csr.bus)
        m.d.comb += [
            self.events.payload.eq(Value.cast(decoder.o.payload)[:EVENT_BITS]),
            self.events.valid.eq(decoder.o.valid),
            decoder.o.ready.eq(self.events.ready),
            decoder.cfg.eq(csr.cfg.session),
            csr.status.eq(decoder.status),
            csr.counters.eq(decoder.counters),
            decoder.clear_counters.eq(csr.clear),
            csr.gauges.events_ready.eq(self.dma_status.events_ready),
            csr.gauges.ingress_free.eq(self.dma_status.ingress_free),
        ]
        return m
