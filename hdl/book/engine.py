"""The book engine: decoded records in, book events out, exactly as `model.card.ReferenceCard`.

One message at a time, in a few cycles each (no hazards to forward):

    IDLE     take a record; read its locate's state and look its order reference up
    LOOKUP   resolve the book slot (A F P Q H R) or the order (E C X D U); trades, statuses, R done here;
             E C X D U commit the order table and read the level row of the order's side
    SLOT_INIT zero a newly given slot's level rows and top of book
    INSERT   A F: commit the order table (a live order of the same reference removed, the new one placed)
    LOOKUP2  U: look the new reference up and commit as INSERT does
    ISSUE    read the level row of the next level operation
    APPLY    apply one level operation (`LevelUpdate`), write the row back; the last one ends the message

A message touches at most two books (its own and, through a re-used reference, another), and at most
three level operations. Its events are written into the emitter's slots in the model's order and handed
off as the engine starts the next message.
"""

from amaranth.hdl import Array, Cat, Module, Mux, ResetSignal, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tickgate.protocol.config import BookGeometry
from tickgate.protocol.decoded import Notice
from tickgate.protocol.events import KIND_FIELDS, DegradedReason, EventFlag, EventKind, SessionCode
from tickgate.protocol.registers import EVENT_COUNTERS, counter_names

from ..counters import CounterBank
from ..event_record import EVENT_BITS, pack_event
from ..layouts import DecodedRecord
from .emitter import EventEmitter, Slot
from .levels import LevelUpdate, level_row
from .order_table import EPOCH_BITS, OrderTable
from .symbols import LocateState, LocateTable, NameTable, locate_entry

__all__ = ["BOOK_COUNTERS", "BookConfig", "BookEngine", "BookGeometry"]


def _book_counters() -> tuple[str, ...]:
    names = counter_names()
    return names[names.index("untracked_symbol"):]


#: The register-map counters of the book stage and the events it sends.
BOOK_COUNTERS: tuple[str, ...] = _book_counters()
BookCounters = data.StructLayout(dict.fromkeys(BOOK_COUNTERS, 64))

#: Run-time configuration (registers).
BookConfig = data.StructLayout({"track_all": 1, "level_events": 1})

_ORD = {c: ord(c) for c in "AFECXDUPQHRSBY"}
_EVENT_COUNTERS = {ord(kind): name for kind, name in EVENT_COUNTERS.items()}
#: A book's top of book as kept per slot: the BBO event's fields (`protocol.events`).
_BBO = data.StructLayout({f.name: 8 * f.width for f in KIND_FIELDS[EventKind.BBO]})


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
        sb = g.slot_bits
        m.submodules.table = table = OrderTable(g.order_table, sb)
        m.submodules.emitter = emitter = EventEmitter()
        m.submodules.update = update = LevelUpdate(g.levels)
        m.submodules.names = names = NameTable(g.names)
        m.submodules.counters = bank = CounterBank(BOOK_COUNTERS)
        wiring.connect(m, emitter.o, wiring.flipped(self.o))
        stamp = Signal(64)  # of the message being worked on
        m.d.comb += [emitter.stamp.eq(stamp), emitter.now.eq(self.now), self.latency.eq(emitter.latency)]
        inc = bank.inc
        sent_kind = self.o.payload[:8]
        sent = self.o.valid & self.o.ready
        m.d.comb += inc.events.eq(sent)
        for kind, name in _EVENT_COUNTERS.items():
            m.d.comb += inc[name].eq(sent & (sent_kind == kind))
        m.d.comb += [self.counters.eq(bank.count), bank.clear.eq(self.clear_counters)]

        # Epoch: a reset starts a new one (empty tables) without clearing memories; on a wrap, clear them.
        epoch = Signal(EPOCH_BITS, init=1, reset_less=True)
        was_reset = Signal(reset_less=True, init=1)
        wrapped = Signal(reset_less=True)
        m.d.sync += was_reset.eq(ResetSignal())
        with m.If(ResetSignal() & ~was_reset):
            m.d.sync += [epoch.eq(Mux(epoch == (1 << EPOCH_BITS) - 1, 1, epoch + 1)),
                         wrapped.eq(epoch == (1 << EPOCH_BITS) - 1)]
        m.d.comb += table.epoch.eq(epoch)

        rows = Memory(shape=level_row(g.levels), depth=2 * g.symbols, init=[])
        bbos = Memory(shape=_BBO, depth=g.symbols, init=[])
        slot_locate = Memory(shape=16, depth=g.symbols, init=[])
        m.submodules.rows, m.submodules.bbos, m.submodules.slot_locate = rows, bbos, slot_locate
        m.submodules.locs = locs = LocateTable(sb)
        row_rd, row_wr = rows.read_port(), rows.write_port()
        bbo_rd, bbo_wr = bbos.read_port(), bbos.write_port()
        sl_wr = slot_locate.write_port()
        sl_main, sl_other = slot_locate.read_port(domain="comb"), slot_locate.read_port(domain="comb")

        m.d.comb += [
            names.write.eq(self.name_write), names.write_set.eq(self.name_set),
            names.write_index.eq(self.name_index), names.write_name.eq(self.name_value),
        ]

        msg = Signal(DecodedRecord)
        m.d.comb += names.name.eq(msg.stock)  # an R message's symbol, against the names the host wrote
        degraded = Signal(g.symbols)
        next_slot = Signal(range(g.symbols + 1))
        m.d.comb += [self.symbols_live.eq(next_slot), self.orders_live.eq(table.live)]

        # The message's books and its level operations.
        slot = Signal(sb)  # the message's book (A F P Q H: its locate's; E C X D U: the order's)
        other = Signal(sb)  # another book, whose order held a re-used reference
        other_valid = Signal()
        op_layout = data.StructLayout({"valid": 1, "slot": sb, "is_bid": 1, "add": 1, "price": 32, "shares": 32,
                                       "removes": 1})
        op = Signal(op_layout)  # being read, then applied
        queued = Signal(op_layout)  # U: the add after the old order's removal, before its lookup
        then_add = Signal(op_layout)  # the add after a re-used reference's removal
        insert_next = Signal()  # U: the new reference is looked up after the old order's removal
        level_index = Signal(range(4))  # LEVEL slot of the next level event
        main_sent, other_sent = Signal(_BBO), Signal(_BBO)  # as last sent, read at the book's first operation
        main_bbo, other_bbo = Signal(_BBO), Signal(_BBO)  # as the message leaves them
        main_seen, other_seen = Signal(), Signal()
        degrade_now = Signal()
        degrade_reason = Signal(8)

        sl_entry = slot_locate.read_port(domain="comb")
        sl_op = slot_locate.read_port(domain="comb")
        m.d.comb += [sl_main.addr.eq(slot), sl_other.addr.eq(other), sl_entry.addr.eq(table.entry.slot),
                     sl_op.addr.eq(op.slot)]

        degraded_bits = Array(degraded[i] for i in range(g.symbols))

        def is_degraded(s) -> Value:
            return degraded_bits[s]

        def set_degraded(s, value: int) -> None:
            for i in range(g.symbols):
                with m.If(s == i):
                    m.d.sync += degraded[i].eq(value)

        def flags_of(s):
            return Mux(is_degraded(s), int(EventFlag.DEGRADED), 0)

        common_msg = dict(msg_type=msg.type, seq=msg.seq, ts_exch=msg.timestamp, ts_local=self.now)

        def fill(slot_id, value) -> list:
            return [emitter.fill[int(slot_id)].valid.eq(1), emitter.fill[int(slot_id)].event.eq(value)]

        def issue(o) -> list:
            """Read the level row and the top of book `o` works on (data on the next cycle)."""
            return [row_rd.addr.eq(Cat(o.is_bid, o.slot)), row_rd.en.eq(1), bbo_rd.addr.eq(o.slot), bbo_rd.en.eq(1)]

        def set_locate() -> list:
            """Write the message's locate's entry (its state and slot are set beside this)."""
            return [locs.write_locate.eq(msg.locate), locs.write.eq(1), locs.write_entry.epoch.eq(epoch)]

        loc = Signal(locate_entry(sb))
        m.d.comb += loc.eq(locs.entry)
        state = Signal(2)
        m.d.comb += state.eq(Mux(loc.epoch == epoch, loc.state, LocateState.UNTRACKED))
        tracked = (state == LocateState.TRACKED) | ((state == LocateState.UNTRACKED) & self.cfg.track_all)

        is_type = {c: msg.type == _ORD[c] for c in "AFECXDUPQHR"}
        needs_book = is_type["A"] | is_type["F"] | is_type["P"] | is_type["Q"] | is_type["H"]
        by_ref = is_type["E"] | is_type["C"] | is_type["X"] | is_type["D"] | is_type["U"]
        shares32 = msg.shares[:32]
        valid_add = (shares32 != 0) & (msg.price != 0) & ((msg.side == _ORD["B"]) | (msg.side == _ORD["S"]))
        valid_replace = (shares32 != 0) & (msg.price != 0)

        def finish(main, main_sent_now, other_now, other_sent_now, degrading, reason) -> None:
            """End the message: DEGRADED, then the BBO of its book and of another book if they changed."""
            with m.If(degrading):
                set_degraded(slot, 1)
                m.d.comb += inc.degraded_symbols.eq(1)
                m.d.comb += fill(Slot.DEGRADED, pack_event(
                    EventKind.DEGRADED, flags=int(EventFlag.DEGRADED), locate=sl_main.data, **common_msg,
                    degraded_reason=reason))
            with m.If(main_seen_now & (main.as_value() != main_sent_now.as_value())):
                m.d.comb += fill(Slot.BBO, bbo_event(main, sl_main.data, flags_of(slot) | Mux(degrading, 1, 0)))
            with m.If(other_seen_now & (other_now.as_value() != other_sent_now.as_value())):
                m.d.comb += fill(Slot.BBO_OTHER, bbo_event(other_now, sl_other.data, flags_of(other)))
            m.next = "IDLE"

        def bbo_event(bbo, locate, flags):
            return pack_event(EventKind.BBO, flags=flags, locate=locate, **common_msg, bid_px=bbo.bid_px,
                              bid_sz=bbo.bid_sz, ask_px=bbo.ask_px, ask_sz=bbo.ask_sz)

        # Which books the finishing step looks at (set combinationally where a step ends the message).
        main_seen_now, other_seen_now = Signal(), Signal()

        def insert(book, order: "data.View") -> None:
            """Commit the order table for the reference looked up last: a live order holding it is removed,
            `order` (an op_layout value for book `book`) placed; then read the first level operation."""
            hit, entry = table.hit, table.entry
            m.d.comb += [table.commit.eq(1), table.remove.eq(hit), table.insert.eq(1),
                         table.new.slot.eq(order.slot), table.new.is_bid.eq(order.is_bid),
                         table.new.price.eq(order.price), table.new.shares.eq(order.shares),
                         inc.duplicate_ref.eq(hit),
                         inc.order_table_second_choice.eq(table.placed.right),
                         inc.order_table_stashed.eq(table.placed.stash),
                         inc.order_table_full.eq(table.placed.failed)]
            add = Signal(op_layout, name="add_op")
            m.d.comb += [add.eq(order), add.valid.eq(~table.placed.failed), add.add.eq(1), add.removes.eq(0)]
            with m.If(table.placed.failed & ~is_degraded(book)):
                m.d.sync += [degrade_now.eq(1), degrade_reason.eq(DegradedReason.ORDER_TABLE_FULL)]
            with m.If(hit):
                dup = Signal(op_layout, name="dup_op")
                m.d.comb += [dup.valid.eq(1), dup.slot.eq(entry.slot), dup.is_bid.eq(entry.is_bid), dup.add.eq(0),
                             dup.price.eq(entry.price), dup.shares.eq(entry.shares), dup.removes.eq(1)]
                m.d.comb += issue(dup)
                m.d.sync += [op.eq(dup), then_add.eq(add)]
                with m.If(entry.slot != book):
                    m.d.sync += [other.eq(entry.slot), other_valid.eq(1)]
                m.next = "APPLY"
            with m.Elif(~table.placed.failed):
                m.d.comb += issue(add)
                m.d.sync += [op.eq(add), then_add.valid.eq(0)]
                m.next = "APPLY"
            with m.Else():
                m.d.sync += then_add.valid.eq(0)
                m.next = "FINISH"

        def resolved(book) -> None:
            """A F P Q H, once their book is `book`."""
            flags = flags_of(book)
            with m.If(is_type["P"]):
                m.d.comb += fill(Slot.FIRST, pack_event(
                    EventKind.TRADE, flags=flags, locate=msg.locate, **common_msg, trade_px=msg.price,
                    trade_side=msg.side, printable=_ORD["Y"], trade_shares=msg.shares, match_number=msg.match))
                m.next = "IDLE"
            with m.Elif(is_type["Q"]):
                m.d.comb += fill(Slot.FIRST, pack_event(
                    EventKind.TRADE, flags=flags, locate=msg.locate, **common_msg, trade_px=msg.price,
                    printable=_ORD["Y"], cross_type=msg.flag, trade_shares=msg.shares, match_number=msg.match))
                m.next = "IDLE"
            with m.Elif(is_type["H"]):
                m.d.comb += fill(Slot.FIRST, pack_event(
                    EventKind.STATUS, flags=flags, locate=msg.locate, **common_msg, status_code=msg.flag,
                    status_reason=msg.reason))
                m.next = "IDLE"
            with m.Elif(~valid_add):
                m.d.comb += inc.invalid_order.eq(1)
                m.next = "IDLE"
            with m.Else():
                order = Signal(op_layout, name="new_order")
                m.d.comb += [order.valid.eq(1), order.slot.eq(book), order.is_bid.eq(msg.side == _ORD["B"]),
                             order.add.eq(1), order.price.eq(msg.price), order.shares.eq(shares32), order.removes.eq(0)]
                insert(book, order)

        # -- applying one level operation -------------------------------------------------------------------
        m.d.comb += [update.row.eq(row_rd.data), update.is_bid.eq(op.is_bid), update.add.eq(op.add),
                     update.price.eq(op.price), update.shares.eq(op.shares), update.removes_order.eq(op.removes)]
        best = update.new_row[0]
        after = Signal(_BBO)  # the op's book's top of book after it
        m.d.comb += after.eq(bbo_rd.data)
        held = best.orders != 0
        with m.If(op.is_bid):
            m.d.comb += [after.bid_px.eq(Mux(held, best.price, 0)), after.bid_sz.eq(Mux(held, best.shares, 0))]
        with m.Else():
            m.d.comb += [after.ask_px.eq(Mux(held, best.price, 0)), after.ask_sz.eq(Mux(held, best.shares, 0))]
        on_main = op.slot == slot

        # -- the state machine --------------------------------------------------------------------------------
        room = ~emitter.pending | emitter.ready
        with m.FSM(name="book"):
            with m.State("START"):
                with m.If(wrapped):
                    m.d.comb += [table.clear.eq(1), locs.clear.eq(1)]
                    m.next = "CLEAR"
                with m.Else():
                    m.next = "IDLE"

            with m.State("CLEAR"), m.If(~table.clear_busy & ~locs.clear_busy):  # the epoch wrapped
                m.d.sync += wrapped.eq(0)
                m.next = "IDLE"

            with m.State("IDLE"):
                m.d.comb += [emitter.hand_off.eq(emitter.pending), self.i.ready.eq(room)]
                rec = self.i.payload
                with m.If(self.i.valid & room):
                    m.d.sync += [msg.eq(rec), stamp.eq(self.stamp), other_valid.eq(0), main_seen.eq(0),
                                 other_seen.eq(0), degrade_now.eq(0), level_index.eq(0), insert_next.eq(0),
                                 then_add.valid.eq(0)]
                    m.d.comb += [locs.read_locate.eq(rec.locate), locs.read.eq(1),
                                 table.lookup.eq(1), table.lookup_ref.eq(rec.ref)]
                    notice = dict(flags=0, locate=0, msg_type=0, seq=rec.seq, ts_exch=0, ts_local=self.now)
                    with m.If(rec.notice == Notice.GAP):
                        m.d.comb += fill(Slot.FIRST, pack_event(
                            EventKind.GAP, **notice, gap_expected=rec.ref, gap_received=rec.seq,
                            gap_missed=rec.seq - rec.ref))
                    with m.Elif(rec.notice == Notice.END_OF_SESSION):
                        m.d.comb += fill(Slot.FIRST, pack_event(
                            EventKind.SESSION, **notice, session_code=SessionCode.END, session=rec.session))
                    with m.Elif(rec.notice == Notice.SESSION_CHANGED):
                        m.d.comb += fill(Slot.FIRST, pack_event(
                            EventKind.SESSION, **notice, session_code=SessionCode.CHANGED, session=rec.session))
                    with m.Elif(rec.type == _ORD["S"]):
                        m.d.comb += fill(Slot.FIRST, pack_event(
                            EventKind.STATUS, flags=0, locate=rec.locate, msg_type=rec.type, seq=rec.seq,
                            ts_exch=rec.timestamp, ts_local=self.now, status_code=rec.flag))
                    with m.Else():
                        m.next = "LOOKUP"

            with m.State("LOOKUP"):
                hit, entry = table.hit, table.entry
                with m.If(is_type["R"]):
                    with m.If((state == LocateState.UNTRACKED) | (state == LocateState.TRACKED)):
                        m.d.comb += [*set_locate(),
                                     locs.write_entry.state.eq(Mux(names.match, LocateState.TRACKED,
                                                              LocateState.UNTRACKED))]
                    m.next = "IDLE"
                with m.Elif(needs_book):
                    with m.If(state == LocateState.SLOT):
                        m.d.sync += slot.eq(loc.slot)
                        resolved(loc.slot)
                    with m.Elif(tracked & (next_slot < g.symbols)):
                        m.d.sync += [slot.eq(next_slot), next_slot.eq(next_slot + 1)]
                        set_degraded(next_slot, 0)
                        m.d.comb += [*set_locate(),
                                     locs.write_entry.state.eq(LocateState.SLOT), locs.write_entry.slot.eq(next_slot),
                                     sl_wr.addr.eq(next_slot), sl_wr.en.eq(1), sl_wr.data.eq(msg.locate),
                                     bbo_wr.addr.eq(next_slot), bbo_wr.en.eq(1), bbo_wr.data.eq(0),
                                     row_wr.addr.eq(Cat(0, next_slot)), row_wr.en.eq(1), row_wr.data.eq(0)]
                        m.next = "SLOT_INIT"
                    with m.Elif(tracked):
                        m.d.comb += [*set_locate(),
                                     locs.write_entry.state.eq(LocateState.REFUSED),
                                     inc.symbols_full.eq(1), inc.untracked_symbol.eq(1), inc.degraded_symbols.eq(1)]
                        m.d.comb += fill(Slot.FIRST, pack_event(
                            EventKind.DEGRADED, flags=int(EventFlag.DEGRADED), locate=msg.locate, **common_msg,
                            degraded_reason=DegradedReason.SYMBOLS_FULL))
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += inc.untracked_symbol.eq(1)
                        m.next = "IDLE"
                with m.Elif(by_ref):
                    with m.If(~hit):
                        known = (state == LocateState.SLOT) | tracked
                        m.d.comb += [inc.unknown_ref.eq(known), inc.untracked_symbol.eq(~known)]
                        m.next = "IDLE"
                    with m.Else():
                        whole = is_type["D"] | is_type["U"] | (shares32 >= entry.shares)
                        amount = Mux(whole, entry.shares, shares32)
                        m.d.comb += [table.commit.eq(1), table.remove.eq(whole), table.update.eq(~whole),
                                     table.new.eq(entry), table.new.shares.eq(entry.shares - amount),
                                     inc.oversized_reduce.eq((is_type["E"] | is_type["C"] | is_type["X"])
                                                             & (shares32 > entry.shares))]
                        reduce = Signal(op_layout, name="reduce_op")
                        m.d.comb += [reduce.valid.eq(1), reduce.add.eq(0), reduce.slot.eq(entry.slot),
                                     reduce.is_bid.eq(entry.is_bid),
                                     reduce.price.eq(entry.price), reduce.shares.eq(amount), reduce.removes.eq(whole)]
                        m.d.comb += issue(reduce)
                        m.d.sync += [op.eq(reduce), slot.eq(entry.slot)]
                        with m.If(is_type["E"] | is_type["C"]):
                            m.d.comb += fill(Slot.FIRST, pack_event(
                                EventKind.TRADE, flags=flags_of(entry.slot), locate=sl_entry.data, **common_msg,
                                trade_px=Mux(is_type["E"], entry.price, msg.price),
                                trade_side=Mux(entry.is_bid, _ORD["B"], _ORD["S"]),
                                printable=Mux(is_type["E"], _ORD["Y"], msg.flag),
                                trade_shares=amount, match_number=msg.match, order_ref=msg.ref))
                        with m.If(is_type["U"]):
                            m.d.sync += [insert_next.eq(valid_replace), queued.valid.eq(1), queued.add.eq(1),
                                         queued.removes.eq(0), queued.slot.eq(entry.slot),
                                         queued.is_bid.eq(entry.is_bid), queued.price.eq(msg.price),
                                         queued.shares.eq(shares32)]
                            m.d.comb += inc.invalid_order.eq(~valid_replace)
                        m.next = "APPLY"
                with m.Else():
                    m.next = "IDLE"

            with m.State("SLOT_INIT"):  # the new slot's other side
                m.d.comb += [row_wr.addr.eq(Cat(1, slot)), row_wr.en.eq(1), row_wr.data.eq(0)]
                m.next = "RESOLVED"

            with m.State("RESOLVED"):
                resolved(slot)

            with m.State("INSERT"):  # U: the new reference was looked up in APPLY
                insert(slot, queued)

            with m.State("ISSUE"):
                m.d.comb += issue(then_add)
                m.d.sync += [op.eq(then_add), then_add.valid.eq(0)]
                m.next = "APPLY"

            with m.State("APPLY"):
                m.d.comb += [row_wr.addr.eq(Cat(op.is_bid, op.slot)), row_wr.en.eq(1), row_wr.data.eq(update.new_row),
                             bbo_wr.addr.eq(op.slot), bbo_wr.en.eq(1), bbo_wr.data.eq(after),
                             inc.levels_full.eq(update.full), inc.level_missing.eq(update.missing)]
                ev = update.event
                with m.If(ev.valid & self.cfg.level_events):
                    level = pack_event(EventKind.LEVEL, flags=flags_of(op.slot), locate=sl_op.data, **common_msg,
                                       level_side=Mux(op.is_bid, _ORD["B"], _ORD["S"]), level_action=ev.action,
                                       level_index=ev.index, level_px=ev.price, level_sz=ev.shares,
                                       level_orders=ev.orders)
                    for i, s in enumerate((Slot.LEVEL0, Slot.LEVEL1, Slot.LEVEL2)):
                        with m.If(level_index == i):
                            m.d.comb += fill(s, level)
                    m.d.sync += level_index.eq(level_index + 1)
                degrading = Signal()
                reason = Signal(8)
                m.d.comb += [degrading.eq(degrade_now), reason.eq(degrade_reason)]
                with m.If(update.full & ~is_degraded(op.slot)):
                    m.d.comb += [degrading.eq(1), reason.eq(DegradedReason.LEVELS_FULL)]
                    m.d.sync += [degrade_now.eq(1), degrade_reason.eq(DegradedReason.LEVELS_FULL)]
                # The books' tops as this operation leaves them, and as last sent.
                main_now, main_sent_now = Signal(_BBO), Signal(_BBO)
                other_now, other_sent_now = Signal(_BBO), Signal(_BBO)
                m.d.comb += [main_now.eq(main_bbo), main_sent_now.eq(main_sent),
                             other_now.eq(other_bbo), other_sent_now.eq(other_sent),
                             main_seen_now.eq(main_seen | on_main), other_seen_now.eq(other_seen | ~on_main)]
                with m.If(on_main):
                    m.d.comb += main_now.eq(after)
                    m.d.sync += main_bbo.eq(after)
                    with m.If(~main_seen):
                        m.d.comb += main_sent_now.eq(bbo_rd.data)
                        m.d.sync += [main_sent.eq(bbo_rd.data), main_seen.eq(1)]
                with m.Else():
                    m.d.comb += other_now.eq(after)
                    m.d.sync += other_bbo.eq(after)
                    with m.If(~other_seen):
                        m.d.comb += other_sent_now.eq(bbo_rd.data)
                        m.d.sync += [other_sent.eq(bbo_rd.data), other_seen.eq(1)]
                with m.If(insert_next):  # U: now look the new reference up
                    m.d.comb += [table.lookup.eq(1), table.lookup_ref.eq(msg.new_ref)]
                    m.d.sync += insert_next.eq(0)
                    m.next = "INSERT"
                with m.Elif(then_add.valid):
                    m.next = "ISSUE"
                with m.Else():
                    finish(main_now, main_sent_now, other_now, other_sent_now, degrading, reason)

            with m.State("FINISH"):  # an insert that found no room, and no level operation after it
                m.d.comb += [main_seen_now.eq(main_seen), other_seen_now.eq(other_seen)]
                finish(main_bbo, main_sent, other_bbo, other_sent, degrade_now, degrade_reason)
        return m
