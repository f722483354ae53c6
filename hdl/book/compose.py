"""The event composer: what a message did, as the sequencer reports it, into 64-byte events in slot order.

The sequencer says what happened (a first event of some `First` kind, a level operation, a book degraded,
a top of book changed) with the few values only it knows (a book's locate and DEGRADED flag, an execution's
order); the composer takes every other field from the message record (`msg`) and the cycle count (`now`),
packs the record (`event_record.pack_event`) and fills the `EventEmitter` slot it belongs to, in the cycle
it is reported. `hand_off` passes a message's filled slots to the emitter, which sends them on `o`.
"""

from amaranth.hdl import Module, Mux
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from tickgate.protocol.events import KIND_FIELDS, DegradedReason, EventFlag, EventKind, SessionCode

from ..event_record import EVENT_BITS, pack_event
from ..layouts import DecodedRecord
from .emitter import EventEmitter, Slot
from .levels import LevelEvent

__all__ = ["BBO", "ComposeSignature", "EventComposer", "First"]

_ORD = {c: ord(c) for c in "BSY"}

#: A book's top of book: the BBO event's fields (`protocol.events`).
BBO = data.StructLayout({f.name: 8 * f.width for f in KIND_FIELDS[EventKind.BBO]})


class First(enum.Enum, shape=4):
    """The first event of a message (slot FIRST), by what made it."""

    GAP = 0  # notice: a sequence gap
    SESSION_END = 1  # notice: end of session
    SESSION_CHANGED = 2  # notice: a new session
    SYSTEM = 3  # S: system event (STATUS)
    CROSS_TRADE = 4  # Q: TRADE
    NON_CROSS_TRADE = 5  # P: TRADE
    TRADING_ACTION = 6  # H: STATUS
    SYMBOLS_FULL = 7  # a symbol found no book slot: DEGRADED
    EXECUTION = 8  # E, C: TRADE of a live order (`locate`, `price`, `is_bid`, `shares` of the order)


FirstRequest = data.StructLayout({"valid": 1, "what": First, "degraded": 1, "locate": 16, "price": 32, "is_bid": 1,
                                  "shares": 32})
LevelRequest = data.StructLayout({"valid": 1, "slot": 2, "degraded": 1, "locate": 16, "is_bid": 1,
                                  "event": LevelEvent})
DegradedRequest = data.StructLayout({"valid": 1, "locate": 16, "reason": 8})
BboRequest = data.StructLayout({"valid": 1, "flags": 8, "locate": 16, "bbo": BBO})


class ComposeSignature(wiring.Signature):
    """What a message's events are made of, from the sequencer's side (it drives every `Out` member).

    `msg`: the record the events are about (on the cycle a message is taken: the record being taken).
    `first`, `level` (`slot`: LEVEL0-2), `degraded`, `bbo` (the message's book), `bbo_other` (a book a
    re-used reference's removal changed): filled on the cycle they are valid. `hand_off`: the filled slots go
    to the emitter (when `room`, which says a hand-off this cycle is taken or nothing is filled); with
    `closing`, this cycle's fills go with them (when `room_closing`: a hand-off this cycle is taken).
    """

    def __init__(self) -> None:
        super().__init__({
            "msg": Out(DecodedRecord), "first": Out(FirstRequest), "level": Out(LevelRequest),
            "degraded": Out(DegradedRequest), "bbo": Out(BboRequest), "bbo_other": Out(BboRequest),
            "hand_off": Out(1), "room": In(1), "closing": Out(1), "room_closing": In(1),
        })


class EventComposer(wiring.Component):
    """`req` (a flipped `ComposeSignature`) in, events out on `o`; `stamp` (the handed-off message's last
    byte's cycle) and `now` give `latency` at each message's first event."""

    req: In(ComposeSignature())
    o: Out(stream.Signature(EVENT_BITS))
    stamp: In(64)
    now: In(64)
    latency: Out(data.StructLayout({"valid": 1, "cycles": 32}))

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.emitter = emitter = EventEmitter()
        wiring.connect(m, emitter.o, wiring.flipped(self.o))
        req, msg = self.req, self.req.msg
        m.d.comb += [emitter.stamp.eq(self.stamp), emitter.now.eq(self.now), self.latency.eq(emitter.latency),
                     emitter.hand_off.eq(req.hand_off & (emitter.pending | req.closing)),
                     emitter.closing.eq(req.closing),
                     req.room.eq(~emitter.pending | emitter.ready), req.room_closing.eq(emitter.ready)]
        common = dict(msg_type=msg.type, seq=msg.seq, ts_exch=msg.timestamp, ts_local=self.now)

        def fill(slot: Slot, event) -> list:
            return [emitter.fill[int(slot)].valid.eq(1), emitter.fill[int(slot)].event.eq(event)]

        # FIRST: notices and S from the record alone; the book's events with its DEGRADED flag.
        first = req.first
        flags = Mux(first.degraded, int(EventFlag.DEGRADED), 0)
        notice = dict(flags=0, locate=0, msg_type=0, seq=msg.seq, ts_exch=0, ts_local=self.now)
        trade = dict(flags=flags, locate=msg.locate, **common, trade_px=msg.price, printable=_ORD["Y"],
                     trade_shares=msg.shares, match_number=msg.match)
        made = {
            First.GAP: pack_event(EventKind.GAP, **notice, gap_expected=msg.ref, gap_received=msg.seq,
                                  gap_missed=msg.seq - msg.ref),
            First.SESSION_END: pack_event(EventKind.SESSION, **notice, session_code=SessionCode.END,
                                          session=msg.session),
            First.SESSION_CHANGED: pack_event(EventKind.SESSION, **notice, session_code=SessionCode.CHANGED,
                                              session=msg.session),
            First.SYSTEM: pack_event(EventKind.STATUS, flags=0, locate=msg.locate, **common, status_code=msg.flag),
            First.NON_CROSS_TRADE: pack_event(EventKind.TRADE, **trade, trade_side=msg.side),
            First.CROSS_TRADE: pack_event(EventKind.TRADE, **trade, cross_type=msg.flag),
            First.TRADING_ACTION: pack_event(EventKind.STATUS, flags=flags, locate=msg.locate, **common,
                                             status_code=msg.flag, status_reason=msg.reason),
            First.SYMBOLS_FULL: pack_event(EventKind.DEGRADED, flags=int(EventFlag.DEGRADED), locate=msg.locate,
                                           **common, degraded_reason=DegradedReason.SYMBOLS_FULL),
            First.EXECUTION: pack_event(
                EventKind.TRADE, flags=flags, locate=first.locate, **common, trade_px=first.price,
                trade_side=Mux(first.is_bid, _ORD["B"], _ORD["S"]),
                printable=Mux(msg.type == ord("E"), _ORD["Y"], msg.flag), trade_shares=first.shares,
                match_number=msg.match, order_ref=msg.ref),
        }
        with m.If(first.valid), m.Switch(first.what):
            for what, event in made.items():
                with m.Case(what):
                    m.d.comb += fill(Slot.FIRST, event)

        lv = req.level
        level = pack_event(EventKind.LEVEL, flags=Mux(lv.degraded, int(EventFlag.DEGRADED), 0), locate=lv.locate,
                           **common, level_side=Mux(lv.is_bid, _ORD["B"], _ORD["S"]), level_action=lv.event.action,
                           level_index=lv.event.index, level_px=lv.event.price, level_sz=lv.event.shares,
                           level_orders=lv.event.orders)
        with m.If(lv.valid):
            for i, s in enumerate((Slot.LEVEL0, Slot.LEVEL1, Slot.LEVEL2)):
                with m.If(lv.slot == i):
                    m.d.comb += fill(s, level)

        deg = req.degraded
        with m.If(deg.valid):
            m.d.comb += fill(Slot.DEGRADED, pack_event(EventKind.DEGRADED, flags=int(EventFlag.DEGRADED),
                                                       locate=deg.locate, **common, degraded_reason=deg.reason))
        for slot, b in ((Slot.BBO, req.bbo), (Slot.BBO_OTHER, req.bbo_other)):
            with m.If(b.valid):
                m.d.comb += fill(slot, pack_event(EventKind.BBO, flags=b.flags, locate=b.locate, **common,
                                                  bid_px=b.bbo.bid_px, bid_sz=b.bbo.bid_sz, ask_px=b.bbo.ask_px,
                                                  ask_sz=b.bbo.ask_sz))
        return m
