"""The decoder stage: MoldUDP64 packets in, decoded records and session notices out, at one beat a cycle.

    i ─► Framer ─► MessageClassifier ─► stage ─► RecordExtractor ─┐
           │ ▲ header / verdict                                    ├─► output queue ─► o
           ▼ │                                                     │
         SessionTracker ───────────────(notices)───────────────────┘

Records and counters equal `model.decoder.ReferenceDecoder`'s for every input. The framed message's
pre-decode (type and length compares) is registered in `stage` (a register slice) before its fields are
selected. A message in the stage goes into the output queue before a waiting notice, and the framer hands
on no message while a notice waits, so a packet's notices still come after the previous packet's messages
and before its own. From the cycle a beat holding a message's last byte is accepted, its record is on `o`
three cycles later (one more when a beat ends several malformed messages and is finished in a second cycle).
"""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.itch_spec import MESSAGES
from tickgate.protocol.registers import counter_names

from .counters import CounterBank
from .fields import ClassifiedMessage, MessageClassifier, RecordExtractor
from .framer import Framer
from .layouts import DecodedRecord, PacketBeat
from .moldudp64 import SessionConfig, SessionStatus, SessionTracker
from .queue import StreamQueue

__all__ = ["DECODER_COUNTERS", "DecoderCounters", "ItchDecoder"]


def _decoder_counters() -> tuple[str, ...]:
    """The register-map counters this stage owns: MoldUDP64 session, framing and per-type counts."""
    names = counter_names()
    own = names[names.index("packets"):names.index("msg_unknown_type") + 1]
    return (*own, *(f"type_{m.type}" for m in MESSAGES))


DECODER_COUNTERS: tuple[str, ...] = _decoder_counters()
DecoderCounters = data.StructLayout(dict.fromkeys(DECODER_COUNTERS, 64))


class ItchDecoder(wiring.Component):
    """MoldUDP64 packets (`PacketBeat`, the UDP payload) in; `DecodedRecord`s out.

    `cfg` (configuration) sets the expected session (or none: the first packet's) and optionally the first
    sequence number; `counters` are the register-map counters of this stage; `status` says whether a
    session is locked and whether it has ended. `output_depth` is the depth of the output queue (at least
    2, for one record per cycle); back-pressure on `o` stalls `i` once it is full.
    """

    def __init__(self, *, output_depth: int = 2) -> None:
        if not isinstance(output_depth, int) or isinstance(output_depth, bool):
            raise TypeError(f"output_depth must be an integer, got {output_depth!r}")
        if output_depth < 2:
            raise ValueError(f"output_depth must be at least 2 to pass a record every cycle, got {output_depth}")
        self._queue = StreamQueue(DecodedRecord, output_depth)
        super().__init__({
            "i": In(stream.Signature(PacketBeat)),
            "o": Out(stream.Signature(DecodedRecord)),
            "cfg": In(SessionConfig),
            "status": Out(SessionStatus),
            "counters": Out(DecoderCounters),
            "clear_counters": In(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.framer = framer = Framer()
        m.submodules.session = session = SessionTracker()
        m.submodules.classify = classify = MessageClassifier()
        m.submodules.stage = stage = StreamQueue(ClassifiedMessage, 2)
        m.submodules.extract = extract = RecordExtractor()
        m.submodules.queue = queue = self._queue
        m.submodules.counters = bank = CounterBank(DECODER_COUNTERS)

        wiring.connect(m, wiring.flipped(self.i), framer.i)
        wiring.connect(m, framer.header, session.header)
        m.d.comb += [
            framer.verdict.eq(session.verdict),
            session.cfg.eq(self.cfg),
            self.status.eq(session.status),
        ]

        # Framed messages through the classifier into the stage, none while a notice waits; one record a cycle
        # into the output queue: the staged message first, else a waiting notice.
        m.d.comb += [
            classify.message.eq(framer.o.payload),
            stage.i.payload.eq(classify.classified),
            stage.i.valid.eq(framer.o.valid & ~session.notice.valid),
            framer.o.ready.eq(stage.i.ready & ~session.notice.valid),
            extract.message.eq(stage.o.payload),
            stage.o.ready.eq(queue.i.ready),
            session.notice.ready.eq(queue.i.ready & ~stage.o.valid),
        ]
        take = stage.o.valid & stage.o.ready
        with m.If(stage.o.valid):
            m.d.comb += [queue.i.payload.eq(extract.record), queue.i.valid.eq(extract.emit)]
        with m.Else():
            m.d.comb += [queue.i.payload.eq(session.notice.payload), queue.i.valid.eq(session.notice.valid)]
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # Counters: each the sum of what the stages add this cycle.
        for name in DECODER_COUNTERS:
            parts = [src[name] for src in (framer.counts, session.counts) if name in src.shape().members]
            if name in extract.counts.shape().members:
                parts.append(extract.counts[name] & take)
            if not parts:
                raise AssertionError(f"no stage counts {name}")
            m.d.comb += bank.inc[name].eq(sum(parts))
        m.d.comb += [self.counters.eq(bank.count), bank.clear.eq(self.clear_counters)]
        return m
