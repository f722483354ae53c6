"""The card's pipeline: packets in, 64-byte book events out, configured and counted through AXI-Lite.

    dma_in (F1: DMA-framed packets) ─► DmaUnframer ─┐
    i (Ethernet frames) ─► EthernetFrontEnd ────────┼─► ItchDecoder ─► queue ─► BookEngine ─► events
    i (MoldUDP64 packets) ──────────────────────────┘                              ▲
    csr (AXI-Lite) ─► CsrBlock: configuration, names, every counter, latency ──────┘

Every port is registered at the boundary: a register slice (`StreamQueue` of depth 2, a skid buffer) on the
input stream and on `events`, `dma_status` held in a register, and the CSR block registers a read's address
before it selects the register (so no path runs from a port's pins through logic to another port or deep
into the pipeline, and the Verilated model's input-driven logic is only the slices').

`input` picks the input side: "dma" (the F1 path: `dma_in`, 64-bit words of `protocol.moldudp64.pack_dma`
batches), "network" (`i`, Ethernet frames) or "packets" (`i`, MoldUDP64 packets, for tests). Events equal
`model.card.ReferenceCard`'s for the same configuration (every field but `ts_local`, a cycle count here).
Latency statistics count cycles from a record leaving the decoder, plus the fixed cycles before it (input
slice, decoder) and after the engine (output slice), to its message's first event: from the beat holding
the message's last byte, at the input port, to the event at the output port when nothing backs up.
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .book.engine import BOOK_COUNTERS, BookEngine, BookGeometry
from .csr import ADDR_WIDTH, AxiLiteSignature, CsrBlock
from .decoder import DECODER_COUNTERS, ItchDecoder
from .ethernet import ETH_COUNTERS, EthernetFrontEnd
from .event_record import EVENT_BITS
from .layouts import DecodedRecord, PacketBeat
from .queue import StreamQueue

__all__ = ["DECODER_LATENCY", "INPUTS", "SLICE_LATENCY", "DmaStatus", "Pipeline", "pipeline_counters"]

INPUTS = ("dma", "network", "packets")
DECODER_LATENCY = 2  # cycles from a message's last beat to its record, when nothing backs up
SLICE_LATENCY = 1  # cycles a register slice adds (one on the input, one on the events)
DMA_COUNTERS = ("dma_bad_length", "dma_skipped_words")

#: Levels of the F1 shell adapter's buffers, shown in registers of the same names.
DmaStatus = data.StructLayout({"events_ready": 32, "ingress_free": 32})


def pipeline_counters(input: str) -> tuple[str, ...]:
    """The register-map counters a pipeline with this input side keeps."""
    if input not in INPUTS:
        raise ValueError(f"input must be one of {INPUTS}, not {input!r}")
    front = {"dma": DMA_COUNTERS, "network": ETH_COUNTERS, "packets": ()}[input]
    return (*front, *DECODER_COUNTERS, *BOOK_COUNTERS)


class Pipeline(wiring.Component):
    """See the module docstring. `geometry` sets the capacities; `queue_depth` the records held between
    the decoder and the book engine (bursts of short messages wait there)."""

    def __init__(self, geometry: BookGeometry | None = None, *, input: str = "dma", queue_depth: int = 32,
                 max_packet: int = 1500) -> None:
        self.geometry = geometry or BookGeometry()
        self.input = input
        self.counter_names = pipeline_counters(input)
        self._queue_depth = queue_depth
        self._max_packet = max_packet
        ports = {
            "events": Out(stream.Signature(EVENT_BITS)),
            "csr": In(AxiLiteSignature(ADDR_WIDTH)),
            "dma_status": In(DmaStatus),
            "counters": Out(data.StructLayout(dict.fromkeys(self.counter_names, 64))),
        }
        if input == "dma":
            ports["dma_in"] = In(stream.Signature(unsigned(64)))
        else:
            ports["i"] = In(stream.Signature(PacketBeat))
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        g = self.geometry
        m.submodules.decoder = decoder = ItchDecoder()
        m.submodules.engine = engine = BookEngine(g)
        m.submodules.csr = csr = CsrBlock(self.counter_names, cap_orders=g.order_table.capacity,
                                          cap_levels=g.levels, cap_symbols=g.symbols)
        Stamped = data.StructLayout({"record": DecodedRecord, "stamp": 64})
        m.submodules.queue = queue = StreamQueue(Stamped, self._queue_depth)
        wiring.connect(m, wiring.flipped(self.csr), csr.bus)
        dma_status = Signal(DmaStatus)
        m.d.sync += dma_status.eq(self.dma_status)
        now = Signal(64)
        m.d.sync += now.eq(now + 1)
        counts = {}

        if self.input == "dma":
            from .dma import DmaUnframer

            m.submodules.unframer = unframer = DmaUnframer(max_length=self._max_packet)
            m.submodules.in_slice = in_slice = StreamQueue(unsigned(64), 2)
            wiring.connect(m, wiring.flipped(self.dma_in), in_slice.i)
            wiring.connect(m, in_slice.o, unframer.i)
            wiring.connect(m, unframer.o, decoder.i)
            for name, pulse in (("dma_bad_length", unframer.dma_bad_length),
                                ("dma_skipped_words", unframer.dma_skipped)):
                count = Signal(64, name=name)
                m.d.sync += count.eq(Mux(csr.clear, 0, count) + pulse)
                counts[name] = count
        elif self.input == "network":
            m.submodules.front_end = front_end = EthernetFrontEnd()
            m.submodules.in_slice = in_slice = StreamQueue(PacketBeat, 2)
            wiring.connect(m, wiring.flipped(self.i), in_slice.i)
            wiring.connect(m, in_slice.o, front_end.i)
            wiring.connect(m, front_end.o, decoder.i)
            net = csr.cfg.net
            m.d.comb += [
                front_end.dst_ip.eq(net.dst_ip), front_end.dst_ip_check.eq(net.dst_ip_check),
                front_end.dst_port.eq(net.dst_port), front_end.dst_port_check.eq(net.dst_port_check),
                front_end.ignore_ip_checksum.eq(net.ignore_ip_checksum),
            ]
            counts |= {name: front_end.counters[name] for name in ETH_COUNTERS}
            m.d.comb += front_end.clear_counters.eq(csr.clear)
        else:
            m.submodules.in_slice = in_slice = StreamQueue(PacketBeat, 2)
            wiring.connect(m, wiring.flipped(self.i), in_slice.i)
            wiring.connect(m, in_slice.o, decoder.i)

        m.d.comb += [
            decoder.cfg.eq(csr.cfg.session), csr.status.eq(decoder.status),
            decoder.clear_counters.eq(csr.clear), engine.clear_counters.eq(csr.clear),
            queue.i.valid.eq(decoder.o.valid), queue.i.payload.record.eq(decoder.o.payload),
            queue.i.payload.stamp.eq(now), decoder.o.ready.eq(queue.i.ready),
            engine.i.valid.eq(queue.o.valid), engine.i.payload.eq(queue.o.payload.record),
            queue.o.ready.eq(engine.i.ready),
            engine.stamp.eq(queue.o.payload.stamp - (DECODER_LATENCY + 2 * SLICE_LATENCY)), engine.now.eq(now),
            engine.cfg.track_all.eq(csr.cfg.track_all_symbols), engine.cfg.level_events.eq(csr.cfg.level_events),
            engine.name_write.eq(csr.symbol_write.valid), engine.name_set.eq(csr.symbol_write.set),
            engine.name_index.eq(csr.cfg.symbol_index), engine.name_value.eq(csr.cfg.symbol_name),
        ]
        m.submodules.out_slice = out_slice = StreamQueue(EVENT_BITS, 2)
        wiring.connect(m, engine.o, out_slice.i)
        wiring.connect(m, out_slice.o, wiring.flipped(self.events))
        counts |= {name: decoder.counters[name] for name in DECODER_COUNTERS}
        counts |= {name: engine.counters[name] for name in BOOK_COUNTERS}
        for name in self.counter_names:
            m.d.comb += [self.counters[name].eq(counts[name]), csr.counters[name].eq(counts[name])]

        # Latency statistics, from the engine's first event of each message.
        lat = engine.latency
        lat_min, lat_max = Signal(32, init=0xFFFFFFFF), Signal(32)
        lat_count, lat_sum = Signal(64), Signal(64)
        with m.If(csr.clear):  # the statistics restart with the counters
            m.d.sync += [lat_min.eq(0xFFFFFFFF), lat_max.eq(0), lat_count.eq(0), lat_sum.eq(0)]
        with m.Elif(lat.valid):
            m.d.sync += [lat_count.eq(lat_count + 1), lat_sum.eq(lat_sum + lat.cycles)]
            with m.If(lat.cycles < lat_min):
                m.d.sync += lat_min.eq(lat.cycles)
            with m.If(lat.cycles > lat_max):
                m.d.sync += lat_max.eq(lat.cycles)
        m.d.comb += [
            csr.gauges.orders_live.eq(engine.orders_live), csr.gauges.symbols_live.eq(engine.symbols_live),
            csr.gauges.events_ready.eq(dma_status.events_ready),
            csr.gauges.ingress_free.eq(dma_status.ingress_free),
            csr.gauges.latency_min.eq(lat_min), csr.gauges.latency_max.eq(lat_max),
            csr.latency.latency_count.eq(lat_count), csr.latency.latency_sum.eq(lat_sum),
        ]
        return m
