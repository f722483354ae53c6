"""The order/level sequencer: a message's order-table commits and level operations, in the model's order.

It takes one `DecodedRecord` at a time and steps through these states (a message takes the path its type
and the tables' answers choose; every path ends in IDLE):

    START      after a reset: clear the tables if the epoch wrapped (CLEAR), else IDLE
    IDLE       take a record: read its locate (resolver) and look its order reference up (order table);
               notices and S are done here (their event goes out as the next record is taken)
    NOTE       a notice or S taken on a message's last cycle (APPLY): its event
    LOOKUP     R: mark its locate. A F P Q H: resolve the book (a new one: SLOT_INIT); P Q H are done.
               E C X D U: commit the order table and read the level row of the order's side (APPLY).
               A F: commit the order table (a live order of the same reference removed first) and APPLY
    SLOT_INIT  zero a new book's other side, then RESOLVED: as LOOKUP for A F P Q H
    APPLY      apply one level operation (`LevelUpdate`) and write the row back; then, U: look the new
               reference up (INSERT, which commits it as A F do); an add after a removal (ISSUE, which reads
               its row); or, the last operation, FINISH's work on the same cycle, the message's events handed
               to the composer with this cycle's, and the next record taken as IDLE takes it
    FINISH     an add that found no room in the order table: the message's DEGRADED and BBO events

A delete, cancel or execution thus takes two cycles (LOOKUP, APPLY), an add without a duplicate two, a
replace four. The next message's reads (order table, locate) on the last APPLY cycle see every write of
the message before it (the order table is committed before APPLY; rows and tops are written at the end of
APPLY and read again at the earliest on the next cycle, LOOKUP).

A message touches at most two books (its own, `main`, and through a re-used reference `other`) and does
at most three level operations. What it does goes to the event composer (`ComposeSignature`) on the cycle
it happens; book slots come from the slot resolver (`ResolveSignature`).
"""

from amaranth.hdl import Cat, Module, Mux, ResetSignal, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from tickgate.protocol.config import OrderTableConfig
from tickgate.protocol.decoded import Notice
from tickgate.protocol.events import DegradedReason, EventFlag
from tickgate.protocol.registers import counter_names

from ..layouts import DecodedRecord
from .compose import BBO, ComposeSignature, First
from .levels import LevelUpdate, level_row
from .order_table import EPOCH_BITS, OrderTable
from .resolve import BOOK_PORTS, Outcome, ResolveSignature

__all__ = ["SEQUENCER_COUNTERS", "OrderLevelSequencer"]

_ORD = {c: ord(c) for c in "AFECXDUPQHRSB"}
_names = counter_names()
#: The counters the sequencer advances (the book stage's, before its event counters).
SEQUENCER_COUNTERS: tuple[str, ...] = tuple(_names[_names.index("untracked_symbol"):_names.index("events")])
_MAIN, _OTHER, _ENTRY, _OP, _BOOK = range(len(BOOK_PORTS))


def op_layout(slot_bits: int) -> data.StructLayout:
    """One level operation: add (or reduce) `shares` at `price` on a side of book `slot`."""
    return data.StructLayout({"valid": 1, "slot": slot_bits, "is_bid": 1, "add": 1, "price": 32, "shares": 32,
                              "removes": 1})


class OrderLevelSequencer(wiring.Component):
    """Records in on `i`; the resolver's user side on `res`, the composer's on `ev` (see the module docstring).

    `level_events`: LEVEL events on. `inc`: a pulse per `SEQUENCER_COUNTERS` name. `orders_live`: orders in
    the table.
    """

    def __init__(self, symbols: int, levels: int, order_table: OrderTableConfig) -> None:
        self.symbols, self.levels, self.order_table = symbols, levels, order_table
        self.slot_bits = max(1, (symbols - 1).bit_length())
        super().__init__({
            "i": In(stream.Signature(DecodedRecord)),
            "level_events": In(1),
            "res": Out(ResolveSignature(self.slot_bits)),
            "ev": Out(ComposeSignature()),
            "inc": Out(data.StructLayout(dict.fromkeys(SEQUENCER_COUNTERS, 1))),
            "orders_live": Out(32),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        sb, res, ev, inc = self.slot_bits, self.res, self.ev, self.inc
        m.submodules.table = table = OrderTable(self.order_table, sb)
        m.submodules.update = update = LevelUpdate(self.levels)
        m.submodules.rows = rows = Memory(shape=level_row(self.levels), depth=2 * self.symbols, init=[])
        m.submodules.bbos = bbos = Memory(shape=BBO, depth=self.symbols, init=[])
        row_rd, row_wr = rows.read_port(), rows.write_port()
        bbo_rd, bbo_wr = bbos.read_port(), bbos.write_port()
        m.d.comb += self.orders_live.eq(table.live)

        # Epoch: a reset starts a new one (empty tables) without clearing memories; on a wrap, clear them.
        epoch = Signal(EPOCH_BITS, init=1, reset_less=True)
        was_reset = Signal(reset_less=True, init=1)
        wrapped = Signal(reset_less=True)
        m.d.sync += was_reset.eq(ResetSignal())
        with m.If(ResetSignal() & ~was_reset):
            m.d.sync += [epoch.eq(Mux(epoch == (1 << EPOCH_BITS) - 1, 1, epoch + 1)),
                         wrapped.eq(epoch == (1 << EPOCH_BITS) - 1)]
        m.d.comb += [table.epoch.eq(epoch), res.epoch.eq(epoch)]

        # The message and what it has done so far.
        msg = Signal(DecodedRecord)
        slot = Signal(sb)  # the message's book (A F P Q H: its locate's; E C X D U: the order's)
        other = Signal(sb)  # another book, whose order held a re-used reference
        ops = op_layout(sb)
        op = Signal(ops)  # being read, then applied
        queued = Signal(ops)  # U: the add after the old order's removal, before its lookup
        then_add = Signal(ops)  # the add after a re-used reference's removal
        insert_next = Signal()  # U: the new reference is looked up after the old order's removal
        level_index = Signal(range(4))  # LEVEL slot of the next level event
        main_sent, other_sent = Signal(BBO), Signal(BBO)  # as last sent, read at the book's first operation
        main_bbo, other_bbo = Signal(BBO), Signal(BBO)  # as the message leaves them
        main_seen, other_seen = Signal(), Signal()
        degrade_now = Signal()
        degrade_reason = Signal(8)
        in_idle, in_lookup = Signal(), Signal()

        m.d.comb += [res.books[_MAIN].eq(slot), res.books[_OTHER].eq(other), res.books[_ENTRY].eq(table.entry.slot),
                     res.books[_OP].eq(op.slot), res.books[_BOOK].eq(Mux(in_lookup, res.slot, slot)),
                     res.resolve.locate.eq(msg.locate), res.resolve.name.eq(msg.stock)]
        with m.If(in_idle):
            m.d.comb += ev.msg.eq(self.i.payload)
        with m.Else():
            m.d.comb += ev.msg.eq(msg)

        def flags_of(port: int):
            return Mux(res.book_degraded[port], int(EventFlag.DEGRADED), 0)

        def first(what: First, **values) -> list:
            return [ev.first.valid.eq(1), ev.first.what.eq(what),
                    *(getattr(ev.first, name).eq(value) for name, value in values.items())]

        def issue(o) -> list:
            """Read the level row and the top of book `o` works on (data on the next cycle)."""
            return [row_rd.addr.eq(Cat(o.is_bid, o.slot)), row_rd.en.eq(1), bbo_rd.addr.eq(o.slot), bbo_rd.en.eq(1)]

        is_type = {c: msg.type == _ORD[c] for c in "AFECXDUPQHR"}
        needs_book = is_type["A"] | is_type["F"] | is_type["P"] | is_type["Q"] | is_type["H"]
        by_ref = is_type["E"] | is_type["C"] | is_type["X"] | is_type["D"] | is_type["U"]
        shares32 = msg.shares[:32]
        valid_add = (shares32 != 0) & (msg.price != 0) & ((msg.side == _ORD["B"]) | (msg.side == _ORD["S"]))
        valid_replace = (shares32 != 0) & (msg.price != 0)
        main_seen_now, other_seen_now = Signal(), Signal()  # which books the finishing step looks at

        def finish(main, main_sent_now, other_now, other_sent_now, degrading, reason) -> None:
            """End the message: DEGRADED, then the BBO of its book and of another book if they changed."""
            with m.If(degrading):
                m.d.comb += [res.degrade.valid.eq(1), res.degrade.slot.eq(slot), inc.degraded_symbols.eq(1),
                             ev.degraded.valid.eq(1), ev.degraded.locate.eq(res.book_locate[_MAIN]),
                             ev.degraded.reason.eq(reason)]
            with m.If(main_seen_now & (main.as_value() != main_sent_now.as_value())):
                m.d.comb += [ev.bbo.valid.eq(1), ev.bbo.bbo.eq(main), ev.bbo.locate.eq(res.book_locate[_MAIN]),
                             ev.bbo.flags.eq(flags_of(_MAIN) | Mux(degrading, 1, 0))]
            with m.If(other_seen_now & (other_now.as_value() != other_sent_now.as_value())):
                m.d.comb += [ev.bbo_other.valid.eq(1), ev.bbo_other.bbo.eq(other_now),
                             ev.bbo_other.locate.eq(res.book_locate[_OTHER]), ev.bbo_other.flags.eq(flags_of(_OTHER))]
            m.next = "IDLE"

        def insert(book, order) -> None:
            """Commit the order table for the reference looked up last: a live order holding it is removed,
            `order` (an `op_layout` value for book `book`, read on book port BOOK) placed; then read the
            first level operation."""
            hit, entry = table.hit, table.entry
            m.d.comb += [table.commit.eq(1), table.remove.eq(hit), table.insert.eq(1),
                         table.new.slot.eq(order.slot), table.new.is_bid.eq(order.is_bid),
                         table.new.price.eq(order.price), table.new.shares.eq(order.shares),
                         inc.duplicate_ref.eq(hit),
                         inc.order_table_second_choice.eq(table.placed.right),
                         inc.order_table_stashed.eq(table.placed.stash),
                         inc.order_table_full.eq(table.placed.failed)]
            add = Signal(ops, name="add_op")
            m.d.comb += [add.eq(order), add.valid.eq(~table.placed.failed), add.add.eq(1), add.removes.eq(0)]
            with m.If(table.placed.failed & ~res.book_degraded[_BOOK]):
                m.d.sync += [degrade_now.eq(1), degrade_reason.eq(DegradedReason.ORDER_TABLE_FULL)]
            with m.If(hit):
                dup = Signal(ops, name="dup_op")
                m.d.comb += [dup.valid.eq(1), dup.slot.eq(entry.slot), dup.is_bid.eq(entry.is_bid), dup.add.eq(0),
                             dup.price.eq(entry.price), dup.shares.eq(entry.shares), dup.removes.eq(1)]
                m.d.comb += issue(dup)
                m.d.sync += [op.eq(dup), then_add.eq(add)]
                with m.If(entry.slot != book):
                    m.d.sync += other.eq(entry.slot)
                m.next = "APPLY"
            with m.Elif(~table.placed.failed):
                m.d.comb += issue(add)
                m.d.sync += [op.eq(add), then_add.valid.eq(0)]
                m.next = "APPLY"
            with m.Else():
                m.d.sync += then_add.valid.eq(0)
                m.next = "FINISH"

        def resolved(book) -> None:
            """A F P Q H, once their book is `book` (its flags on book port BOOK)."""
            degraded = res.book_degraded[_BOOK]
            with m.If(is_type["P"]):
                m.d.comb += first(First.NON_CROSS_TRADE, degraded=degraded)
                m.next = "IDLE"
            with m.Elif(is_type["Q"]):
                m.d.comb += first(First.CROSS_TRADE, degraded=degraded)
                m.next = "IDLE"
            with m.Elif(is_type["H"]):
                m.d.comb += first(First.TRADING_ACTION, degraded=degraded)
                m.next = "IDLE"
            with m.Elif(~valid_add):
                m.d.comb += inc.invalid_order.eq(1)
                m.next = "IDLE"
            with m.Else():
                order = Signal(ops, name="new_order")
                m.d.comb += [order.valid.eq(1), order.slot.eq(book), order.is_bid.eq(msg.side == _ORD["B"]),
                             order.add.eq(1), order.price.eq(msg.price), order.shares.eq(shares32), order.removes.eq(0)]
                insert(book, order)

        # -- applying one level operation -------------------------------------------------------------------
        m.d.comb += [update.row.eq(row_rd.data), update.is_bid.eq(op.is_bid), update.add.eq(op.add),
                     update.price.eq(op.price), update.shares.eq(op.shares), update.removes_order.eq(op.removes)]
        best = update.new_row[0]
        after = Signal(BBO)  # the op's book's top of book after it
        m.d.comb += after.eq(bbo_rd.data)
        held = best.orders != 0
        with m.If(op.is_bid):
            m.d.comb += [after.bid_px.eq(Mux(held, best.price, 0)), after.bid_sz.eq(Mux(held, best.shares, 0))]
        with m.Else():
            m.d.comb += [after.ask_px.eq(Mux(held, best.price, 0)), after.ask_sz.eq(Mux(held, best.shares, 0))]
        on_main = op.slot == slot

        def noted(rec) -> None:
            """The FIRST event of a notice or S record `rec` (the record on `ev.msg`)."""
            with m.If(rec.notice == Notice.GAP):
                m.d.comb += first(First.GAP)
            with m.Elif(rec.notice == Notice.END_OF_SESSION):
                m.d.comb += first(First.SESSION_END)
            with m.Elif(rec.notice == Notice.SESSION_CHANGED):
                m.d.comb += first(First.SESSION_CHANGED)
            with m.Else():
                m.d.comb += first(First.SYSTEM)

        def take(closing: bool) -> None:
            """Take the record on `i`: read its locate and look its reference up. With `closing`, on the last
            cycle of the message before it (whose events `ev.msg` still describes): a notice or S makes its
            event on the next cycle (NOTE); else here."""
            rec = self.i.payload
            m.d.sync += [msg.eq(rec), main_seen.eq(0), other_seen.eq(0), degrade_now.eq(0),
                         level_index.eq(0), insert_next.eq(0), then_add.valid.eq(0)]
            m.d.comb += [res.lookup.eq(1), res.locate.eq(rec.locate),
                         table.lookup.eq(1), table.lookup_ref.eq(rec.ref)]
            notes = [rec.notice == n for n in (Notice.GAP, Notice.END_OF_SESSION, Notice.SESSION_CHANGED)]
            with m.If(Cat(*notes, rec.type == _ORD["S"]).any()):
                if closing:
                    m.next = "NOTE"
                else:
                    noted(rec)
                    m.next = "IDLE"
            with m.Else():
                m.next = "LOOKUP"

        with m.FSM(name="book"):
            with m.State("START"):
                with m.If(wrapped):
                    m.d.comb += [table.clear.eq(1), res.clear.eq(1)]
                    m.next = "CLEAR"
                with m.Else():
                    m.next = "IDLE"

            with m.State("CLEAR"), m.If(~table.clear_busy & ~res.clear_busy):  # the epoch wrapped
                m.d.sync += wrapped.eq(0)
                m.next = "IDLE"

            with m.State("IDLE"):
                m.d.comb += [in_idle.eq(1), ev.hand_off.eq(1), self.i.ready.eq(ev.room)]
                with m.If(self.i.valid & ev.room):
                    take(closing=False)

            with m.State("NOTE"):  # a notice or S taken on the last cycle of the message before it
                noted(msg)
                m.next = "IDLE"

            with m.State("LOOKUP"):
                m.d.comb += in_lookup.eq(1)
                hit, entry = table.hit, table.entry
                with m.If(is_type["R"]):
                    m.d.comb += res.resolve.directory.eq(1)
                    m.next = "IDLE"
                with m.Elif(needs_book):
                    m.d.comb += res.resolve.book.eq(1)
                    with m.Switch(res.outcome):
                        with m.Case(Outcome.HELD):
                            m.d.sync += slot.eq(res.slot)
                            resolved(res.slot)
                        with m.Case(Outcome.GIVEN):  # a new book: zero its tops and levels (one side now)
                            m.d.sync += slot.eq(res.slot)
                            m.d.comb += [bbo_wr.addr.eq(res.slot), bbo_wr.en.eq(1), bbo_wr.data.eq(0),
                                         row_wr.addr.eq(Cat(0, res.slot)), row_wr.en.eq(1), row_wr.data.eq(0)]
                            m.next = "SLOT_INIT"
                        with m.Case(Outcome.REFUSED):
                            m.d.comb += [inc.symbols_full.eq(1), inc.untracked_symbol.eq(1),
                                         inc.degraded_symbols.eq(1), *first(First.SYMBOLS_FULL)]
                            m.next = "IDLE"
                        with m.Default():
                            m.d.comb += inc.untracked_symbol.eq(1)
                            m.next = "IDLE"
                with m.Elif(by_ref):
                    with m.If(~hit):
                        m.d.comb += [inc.unknown_ref.eq(res.known), inc.untracked_symbol.eq(~res.known)]
                        m.next = "IDLE"
                    with m.Else():
                        whole = is_type["D"] | is_type["U"] | (shares32 >= entry.shares)
                        amount = Mux(whole, entry.shares, shares32)
                        m.d.comb += [table.commit.eq(1), table.remove.eq(whole), table.update.eq(~whole),
                                     table.new.eq(entry), table.new.shares.eq(entry.shares - amount),
                                     inc.oversized_reduce.eq((is_type["E"] | is_type["C"] | is_type["X"])
                                                             & (shares32 > entry.shares))]
                        reduce = Signal(ops, name="reduce_op")
                        m.d.comb += [reduce.valid.eq(1), reduce.add.eq(0), reduce.slot.eq(entry.slot),
                                     reduce.is_bid.eq(entry.is_bid),
                                     reduce.price.eq(entry.price), reduce.shares.eq(amount), reduce.removes.eq(whole)]
                        m.d.comb += issue(reduce)
                        m.d.sync += [op.eq(reduce), slot.eq(entry.slot)]
                        with m.If(is_type["E"] | is_type["C"]):
                            m.d.comb += first(First.EXECUTION, degraded=res.book_degraded[_ENTRY],
                                              locate=res.book_locate[_ENTRY],
                                              price=Mux(is_type["E"], entry.price, msg.price),
                                              is_bid=entry.is_bid, shares=amount)
                        with m.If(is_type["U"]):
                            m.d.sync += [insert_next.eq(valid_replace), queued.valid.eq(1), queued.add.eq(1),
                                         queued.removes.eq(0), queued.slot.eq(entry.slot),
                                         queued.is_bid.eq(entry.is_bid), queued.price.eq(msg.price),
                                         queued.shares.eq(shares32)]
                            m.d.comb += inc.invalid_order.eq(~valid_replace)
                        m.next = "APPLY"
                with m.Else():
                    m.next = "IDLE"

            with m.State("SLOT_INIT"):  # the new book's other side
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
                with m.If(update.event.valid & self.level_events):
                    m.d.comb += [ev.level.valid.eq(1), ev.level.slot.eq(level_index),
                                 ev.level.degraded.eq(res.book_degraded[_OP]), ev.level.locate.eq(res.book_locate[_OP]),
                                 ev.level.is_bid.eq(op.is_bid), ev.level.event.eq(update.event)]
                    m.d.sync += level_index.eq(level_index + 1)
                degrading = Signal()
                reason = Signal(8)
                m.d.comb += [degrading.eq(degrade_now), reason.eq(degrade_reason)]
                with m.If(update.full & ~res.book_degraded[_OP]):
                    m.d.comb += [degrading.eq(1), reason.eq(DegradedReason.LEVELS_FULL)]
                    m.d.sync += [degrade_now.eq(1), degrade_reason.eq(DegradedReason.LEVELS_FULL)]
                # The books' tops as this operation leaves them, and as last sent.
                main_now, main_sent_now = Signal(BBO), Signal(BBO)
                other_now, other_sent_now = Signal(BBO), Signal(BBO)
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
                with m.Else():  # the message's last cycle: its events go now, and the next message is taken
                    finish(main_now, main_sent_now, other_now, other_sent_now, degrading, reason)
                    m.d.comb += [ev.hand_off.eq(1), ev.closing.eq(1), self.i.ready.eq(ev.room_closing)]
                    with m.If(self.i.valid & ev.room_closing):
                        take(closing=True)

            with m.State("FINISH"):  # an insert that found no room, and no level operation after it
                m.d.comb += [main_seen_now.eq(main_seen), other_seen_now.eq(other_seen)]
                finish(main_bbo, main_sent, other_bbo, other_sent, degrade_now, degrade_reason)
        return m
