"""The card's pipeline: packets in, 64-byte book events out, configured and counted through AXI-Lite.

    dma_in (F1: DMA-framed packets) ─► DmaUnframer ─► LineArbiter ─┐
    i (Ethernet frames) ─► EthernetFrontEnd ───────────────────────┼─► ItchDecoder ─► queue ─► BookEngine ─► events
    i (MoldUDP64 packets) ─────────────────────────────────────────┘                              ▲
    csr (AXI-Lite) ─► CsrBlock: configuration, names, every counter, latency ──────┘

With `rules` (entries of the rule table, `cap_rules`), a RuleEngine (`hdl.rules`) follows the book engine:
its FIRE events come right after the BBO event their rules held on.

`input` picks the input side: "dma" (the F1 path: `dma_in`, 64-bit words of `protocol.moldudp64.pack_dma`
batches; lines A and B by their flags, arbitrated as the `lines` register says: `hdl.lines`), "network" (`i`,
Ethernet frames) or "packets" (`i`, MoldUDP64 packets, for tests). Events equal
`model.card.ReferenceCard`'s for the same configuration (every field but `ts_local`, a cycle count here).
With `ring` (the F2 card) the pipeline also has `ring`: the host event ring's registers out to a ring writer
(`hdl.pcim.RingWriter`), its producer index and counts (`ring_full`, `pcim_errors`) back into the map.
Every port is registered at the boundary, and so is every stream between the pipeline's blocks: a register
slice (`StreamQueue` of depth 2, a skid buffer whose `i.ready` is a register) on the input stream, between the
input side (DMA unframer and line arbiter, or Ethernet front end) and the decoder, between the record queue
and the book engine, and on `events`; `dma_status` is held in a register. So no path runs from a port's pins
into the pipeline, nor along a chain of ready signals from one block into another.
Latency statistics count cycles from a record leaving the decoder, plus the fixed cycles before it (the
input slices and the decoder) and after the engine (the event slice), to its message's first event: from
the beat holding the message's last byte at the input port to the event at the output port when nothing
backs up.
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
from .rules import RULE_COUNTERS, RuleEngine

__all__ = ["DECODER_LATENCY", "INPUTS", "RING_COUNTERS", "SLICE_LATENCY", "DmaStatus", "Pipeline",
           "pipeline_counters"]

INPUTS = ("dma", "network", "packets")
DECODER_LATENCY = 3  # cycles from a message's last beat to its record, when nothing backs up
SLICE_LATENCY = 1  # cycles a register slice adds when nothing backs up
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
    the decoder and the book engine (bursts of short messages wait there); `rules` the entries of the rule
    table (0: no rule engine, no rule can be armed)."""

    def __init__(self, geometry: BookGeometry | None = None, *, input: str = "dma", queue_depth: int = 32,
                 max_packet: int = MAX_PACKET, ring: bool = False, rules: int = 0) -> None:
        self.geometry = geometry or BookGeometry()
        self.rules = rules
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
                                          cap_levels=g.levels, cap_symbols=g.symbols, cap_rules=self.rules,
                                          ring=self.ring_port)
        Stamped = data.StructLayout({"record": DecodedRecord, "stamp": 64})
        m.submodules.queue = queue = StreamQueue(Stamped, self._queue_depth)
        m.submodules.engine_slice = engine_slice = StreamQueue(Stamped, 2)
        wiring.connect(m, queue.o, engine_slice.i)
        wiring.connect(m, wiring.flipped(self.csr), csr.bus)
        dma_status = Signal(DmaStatus)
        m.d.sync += dma_status.eq(self.dma_status)
        shape = unsigned(64) if self.input == "dma" else PacketBeat
        m.submodules.in_slice = in_slice = StreamQueue(shape, 2)
        wiring.connect(m, wiring.flipped(self.dma_in if self.input == "dma" else self.i), in_slice.i)
        slices_before = 1  # register slices a record passes before the decoder
        now = Signal(64)
        m.d.sync += now.eq(now + 1)
        counts = {}

        if self.input == "dma":
            from .dma import DmaUnframer

            m.submodules.unframer = unframer = DmaUnframer(max_length=self._max_packet)
            m.submodules.lines = lines = LineArbiter()
            m.submodules.front_slice = front_slice = StreamQueue(PacketBeat, 2)
            wiring.connect(m, in_slice.o, unframer.i)
            connect_unframer(m, unframer, lines)
            wiring.connect(m, lines.o, front_slice.i)
            wiring.connect(m, front_slice.o, decoder.i)
            m.d.comb += [lines.cfg.eq(csr.cfg.lines), lines.session.eq(csr.cfg.session)]
            slices_before += 1
            for name, pulse in (("dma_bad_length", unframer.dma_bad_length),
                                ("dma_skipped_words", unframer.dma_skipped),
                                ("packets_oversize", unframer.oversize),
                                *((name, lines.counts[name]) for name in LINE_COUNTERS)):
                count = Signal(64, name=name)
                m.d.sync += count.eq(Mux(csr.clear, 0, count) + pulse)
                counts[name] = count
        elif self.input == "network":
            m.submodules.front_end = front_end = EthernetFrontEnd()
            m.submodules.front_slice = front_slice = StreamQueue(PacketBeat, 2)
            wiring.connect(m, in_slice.o, front_end.i)
            wiring.connect(m, front_end.o, front_slice.i)
            wiring.connect(m, front_slice.o, decoder.i)
            slices_before += 1
            net = csr.cfg.net
            m.d.comb += [
                front_end.dst_ip.eq(net.dst_ip), front_end.dst_ip_check.eq(net.dst_ip_check),
                front_end.dst_port.eq(net.dst_port), front_end.dst_port_check.eq(net.dst_port_check),
                front_end.ignore_ip_checksum.eq(net.ignore_ip_checksum),
            ]
            counts |= {name: front_end.counters[name] for name in ETH_COUNTERS}
            m.d.comb += front_end.clear_counters.eq(csr.clear)
        else:
            wiring.connect(m, in_slice.o, decoder.i)

        if self.ring_port:
            m.d.comb += [self.ring.cfg.eq(csr.cfg.ring), self.ring.reset.eq(csr.ring_reset),
                         csr.gauges.ring_producer.eq(self.ring.producer)]
            for name in RING_COUNTERS:
                count = Signal(64, name=name)
                m.d.sync += count.eq(Mux(csr.clear, 0, count) + self.ring.counts[name])
                counts[name] = count

        # Cycles a record takes outside the stamped span: the slices and the decoder before, the event slice after.
        fixed = DECODER_LATENCY + (slices_before + 1) * SLICE_LATENCY
        m.d.comb += [
            decoder.cfg.eq(csr.cfg.session), csr.status.eq(decoder.status),
            decoder.clear_counters.eq(csr.clear), engine.clear_counters.eq(csr.clear),
            queue.i.valid.eq(decoder.o.valid), queue.i.payload.record.eq(decoder.o.payload),
            queue.i.payload.stamp.eq(now), decoder.o.ready.eq(queue.i.ready),
            engine.i.valid.eq(engine_slice.o.valid), engine.i.payload.eq(engine_slice.o.payload.record),
            engine_slice.o.ready.eq(engine.i.ready),
            engine.stamp.eq(engine_slice.o.payload.stamp - fixed), engine.now.eq(now),
            engine.cfg.track_all.eq(csr.cfg.track_all_symbols), engine.cfg.level_events.eq(csr.cfg.level_events),
            engine.name_write.eq(csr.symbol_write.valid), engine.name_set.eq(csr.symbol_write.set),
            engine.name_index.eq(csr.cfg.symbol_index), engine.name_value.eq(csr.cfg.symbol_name),
        ]
        m.submodules.out_slice = out_slice = StreamQueue(EVENT_BITS, 2)
        wiring.connect(m, out_slice.o, wiring.flipped(self.events))
        counts |= {name: decoder.counters[name] for name in DECODER_COUNTERS}
        counts |= {name: engine.counters[name] for name in BOOK_COUNTERS}
        if self.rules:  # the rule engine on the book's events: it counts every event sent, and the rules'
            m.submodules.rules = rules = RuleEngine(self.rules)
            wiring.connect(m, engine.o, rules.i)
            wiring.connect(m, rules.o, out_slice.i)
            m.d.comb += [rules.regs.eq(csr.cfg.rule), rules.command.eq(csr.rule_write),
                         rules.clear_counters.eq(csr.clear), csr.gauges.rule_left.eq(rules.left)]
            counts |= {name: rules.counters[name] for name in RULE_COUNTERS}
        else:
            wiring.connect(m, engine.o, out_slice.i)
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
