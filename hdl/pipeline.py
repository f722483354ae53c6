"""The card's pipeline: packets in, 64-byte book events out, configured and counted through AXI-Lite.

    dma_in (F1: DMA-framed packets) ─► DmaUnframer ─► LineArbiter ─┐
    i (Ethernet frames) ─► EthernetFrontEnd ───────────────────────┼─► ItchDecoder ─► queue ─► BookEngine ─► events
    i (MoldUDP64 packets) ─────────────────────────────────────────┘                              ▲
    csr (AXI-Lite) ─► CsrBlock: configuration, names, every counter, latency ──────┘

`input` picks the input side: "dma" (the F1 path: `dma_in`, 64-bit words of `protocol.moldudp64.pack_dma`
batches; lines A and B by their flags, arbitrated as the `lines` register says: `hdl.lines`), "network" (`i`,
Ethernet frames) or "packets" (`i`, MoldUDP64 packets, for tests). Events equal
`model.card.ReferenceCard`'s for the same configuration (every field but `ts_local`, a cycle count here).
With `ring` (the F2 card) the pipeline also has `ring`: the host event ring's registers out to a ring writer
(`hdl.pcim.RingWriter`), its producer index and counts (`ring_full`, `pcim_errors`) back into the map.
Latency statistics count cycles from a record leaving the decoder, plus the decoder's fixed two cycles,
to its message's first event: from the beat holding the message's last byte when nothing backs up.
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.moldudp64 import MAX_PACKET

from .book.engine import BOOK_COUNTERS, BookEngine, BookGeometry
from .csr import ADDR_WIDTH, AxiLiteSignature, CsrBlock
from .decoder import DECODER_COUNTERS, ItchDecoder
from .ethernet import ETH_COUNTERS, EthernetFrontEnd
from .event_record import EVENT_BITS
from .layouts import DecodedRecord, PacketBeat
from .lines import LINE_COUNTERS, LineArbiter, connect_unframer
from .pcim import RingControlSignature, RingCounts
from .queue import StreamQueue

__all__ = ["DECODER_LATENCY", "INPUTS", "RING_COUNTERS", "DmaStatus", "Pipeline", "pipeline_counters"]

INPUTS = ("dma", "network", "packets")
DECODER_LATENCY = 2  # cycles from a message's last beat to its record, when nothing backs up
DMA_COUNTERS = ("dma_bad_length", "dma_skipped_words", "packets_oversize", *LINE_COUNTERS)
RING_COUNTERS = tuple(RingCounts.members)  # the F2 host event ring's

#: Levels of the F1 shell adapter's buffers, shown in registers of the same names.
DmaStatus = data.StructLayout({"events_ready": 32, "ingress_free": 32})


def pipeline_counters(input: str, *, ring: bool = False) -> tuple[str, ...]:
    """The register-map counters a pipeline with this input side (and a host event ring, if `ring`) keeps."""
    if input not in INPUTS:
        raise ValueError(f"input must be one of {INPUTS}, not {input!r}")
    front = {"dma": DMA_COUNTERS, "network": ETH_COUNTERS, "packets": ()}[input]
    return (*front, *(RING_COUNTERS if ring else ()), *DECODER_COUNTERS, *BOOK_COUNTERS)


class Pipeline(wiring.Component):
    """See the module docstring. `geometry` sets the capacities; `queue_depth` the records held between
    the decoder and the book engine (bursts of short messages wait there)."""

    def __init__(self, geometry: BookGeometry | None = None, *, input: str = "dma", queue_depth: int = 32,
                 max_packet: int = MAX_PACKET, ring: bool = False) -> None:
        self.geometry = geometry or BookGeometry()
        self.input = input
        self.ring_port = ring
        self.counter_names = pipeline_counters(input, ring=ring)
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
        if ring:
            ports["ring"] = Out(RingControlSignature)
        super().__init__(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        g = self.geometry
        m.submodules.decoder = decoder = ItchDecoder()
        m.submodules.engine = engine = BookEngine(g)
        m.submodules.csr = csr = CsrBlock(self.counter_names, cap_orders=g.order_table.capacity,
                                          cap_levels=g.levels, cap_symbols=g.symbols, ring=self.ring_port)
        Stamped = data.StructLayout({"record": DecodedRecord, "stamp": 64})
        m.submodules.queue = queue = StreamQueue(Stamped, self._queue_depth)
        wiring.connect(m, wiring.flipped(self.csr), csr.bus)
        now = Signal(64)
        m.d.sync += now.eq(now + 1)
        counts = {}

        if self.input == "dma":
            from .dma import DmaUnframer

            m.submodules.unframer = unframer = DmaUnframer(max_length=self._max_packet)
            wiring.connect(m, wiring.flipped(self.dma_in), unframer.i)
            m.submodules.lines = lines = LineArbiter()
            connect_unframer(m, unframer, lines)
            wiring.connect(m, lines.o, decoder.i)
            m.d.comb += [lines.cfg.eq(csr.cfg.lines), lines.session.eq(csr.cfg.session)]
            for name, pulse in (("dma_bad_length", unframer.dma_bad_length),
                                ("dma_skipped_words", unframer.dma_skipped),
                                ("packets_oversize", unframer.oversize),
                                *((name, lines.counts[name]) for name in LINE_COUNTERS)):
                count = Signal(64, name=name)
                m.d.sync += count.eq(Mux(csr.clear, 0, count) + pulse)
                counts[name] = count
        elif self.input == "network":
            m.submodules.front_end = front_end = EthernetFrontEnd()
            wiring.connect(m, wiring.flipped(self.i), front_end.i)
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
            wiring.connect(m, wiring.flipped(self.i), decoder.i)

        if self.ring_port:
            m.d.comb += [self.ring.cfg.eq(csr.cfg.ring), self.ring.reset.eq(csr.ring_reset),
                         csr.gauges.ring_producer.eq(self.ring.producer)]
            for name in RING_COUNTERS:
                count = Signal(64, name=name)
                m.d.sync += count.eq(Mux(csr.clear, 0, count) + self.ring.counts[name])
                counts[name] = count

        m.d.comb += [
            decoder.cfg.eq(csr.cfg.session), csr.status.eq(decoder.status),
            decoder.clear_counters.eq(csr.clear), engine.clear_counters.eq(csr.clear),
            queue.i.valid.eq(decoder.o.valid), queue.i.payload.record.eq(decoder.o.payload),
            queue.i.payload.stamp.eq(now), decoder.o.ready.eq(queue.i.ready),
            engine.i.valid.eq(queue.o.valid), engine.i.payload.eq(queue.o.payload.record),
            queue.o.ready.eq(engine.i.ready),
            engine.stamp.eq(queue.o.payload.stamp - DECODER_LATENCY), engine.now.eq(now),
            engine.cfg.track_all.eq(csr.cfg.track_all_symbols), engine.cfg.level_events.eq(csr.cfg.level_events),
            engine.name_write.eq(csr.symbol_write.valid), engine.name_set.eq(csr.symbol_write.set),
            engine.name_index.eq(csr.cfg.symbol_index), engine.name_value.eq(csr.cfg.symbol_name),
        ]
        wiring.connect(m, engine.o, wiring.flipped(self.events))
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
            csr.gauges.events_ready.eq(self.dma_status.events_ready),
            csr.gauges.ingress_free.eq(self.dma_status.ingress_free),
            csr.gauges.latency_min.eq(lat_min), csr.gauges.latency_max.eq(lat_max),
            csr.latency.latency_count.eq(lat_count), csr.latency.latency_sum.eq(lat_sum),
        ]
        return m
