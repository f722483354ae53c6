"""The book engine: decoded records in, book events out, exactly as `model.card.ReferenceCard`.

Three blocks, each with its own test:

    i ─► OrderLevelSequencer ─ev─► EventComposer ─► o      (sequencer.py, compose.py)
                  │ res
                  ▼
            SlotResolver                                    (resolve.py)

The sequencer takes one message at a time through the order table and the level rows (its states are in
`sequencer`); the resolver gives books to stock locates and keeps each book's locate and DEGRADED flag; the
composer makes the events the sequencer reports and sends them in the model's order while the sequencer
goes on with the next message. This module joins them and counts.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.config import BookGeometry
from tickgate.protocol.registers import EVENT_COUNTERS, counter_names

from ..counters import CounterBank
from ..event_record import EVENT_BITS
from ..layouts import DecodedRecord
from .compose import EventComposer
from .resolve import SlotResolver
from .sequencer import SEQUENCER_COUNTERS, OrderLevelSequencer

__all__ = ["BOOK_COUNTERS", "BookConfig", "BookEngine", "BookGeometry"]


def _book_counters() -> tuple[str, ...]:
    names = counter_names()
    return names[names.index("untracked_symbol"):]


#: The register-map counters of the book stage and the events it sends.
BOOK_COUNTERS: tuple[str, ...] = _book_counters()
BookCounters = data.StructLayout(dict.fromkeys(BOOK_COUNTERS, 64))

#: Run-time configuration (registers).
BookConfig = data.StructLayout({"track_all": 1, "level_events": 1})

_EVENT_COUNTERS = {ord(kind): name for kind, name in EVENT_COUNTERS.items()}


class BookEngine(wiring.Component):
    """`DecodedRecord`s in (`i`), 64-byte events out (`o`); see the module docstring.

    Ports: `cfg` (BookConfig), the name-table write (`name_write`, `name_set`, `name_index`, `name_value`),
    `counters`, `orders_live`, `symbols_live`, `now` (a cycle count, written into `ts_local`), `stamp` (the
    cycle the record's message ended, for `latency`: cycles to its first event).
    """

    def __init__(self, geometry: BookGeometry | None = None) -> None:
        self.geometry = geometry or BookGeometry()
        super().__init__({
            "i": In(stream.Signature(DecodedRecord)),
            "o": Out(stream.Signature(EVENT_BITS)),
            "cfg": In(BookConfig),
            "name_write": In(1), "name_set": In(1), "name_index": In(16), "name_value": In(64),
            "counters": Out(BookCounters), "clear_counters": In(1),
            "orders_live": Out(32), "symbols_live": Out(32),
            "now": In(64),
            "stamp": In(64),  # of the record on `i`: when its message's last byte entered the pipeline
            "latency": Out(data.StructLayout({"valid": 1, "cycles": 32})),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        g = self.geometry
        m.submodules.sequencer = seq = OrderLevelSequencer(g.symbols, g.levels, g.order_table)
        m.submodules.resolver = res = SlotResolver(g.symbols, g.names)
        m.submodules.composer = comp = EventComposer()
        m.submodules.counters = bank = CounterBank(BOOK_COUNTERS)
        wiring.connect(m, seq.res, res.req)
        wiring.connect(m, seq.ev, comp.req)
        wiring.connect(m, wiring.flipped(self.i), seq.i)
        wiring.connect(m, comp.o, wiring.flipped(self.o))

        stamp = Signal(64)  # of the message being worked on: handed to the composer with its events
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += stamp.eq(self.stamp)
        m.d.comb += [
            comp.stamp.eq(stamp), comp.now.eq(self.now), self.latency.eq(comp.latency),
            seq.level_events.eq(self.cfg.level_events), res.track_all.eq(self.cfg.track_all),
            res.name_write.eq(self.name_write), res.name_set.eq(self.name_set),
            res.name_index.eq(self.name_index), res.name_value.eq(self.name_value),
            self.orders_live.eq(seq.orders_live), self.symbols_live.eq(res.symbols_live),
        ]

        inc = bank.inc
        for name in SEQUENCER_COUNTERS:
            m.d.comb += inc[name].eq(seq.inc[name])
        sent = self.o.valid & self.o.ready
        m.d.comb += inc.events.eq(sent)
        for kind, name in _EVENT_COUNTERS.items():
            m.d.comb += inc[name].eq(sent & (self.o.payload[:8] == kind))
        m.d.comb += [self.counters.eq(bank.count), bank.clear.eq(self.clear_counters)]
        return m
