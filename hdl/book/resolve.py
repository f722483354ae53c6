"""The slot resolver: a message's stock locate to its book slot, and a book slot to its locate and flags.

It keeps the state of every locate (`LocateTable`), the symbol names the host asks for (`NameTable`), the
locate of every given slot and which books are degraded. A message's locate is read on the cycle the
message is taken (`lookup`); on the next, `resolve` says what the message needs: `book` (A F P Q H) gives
its book (`Outcome`), `directory` (R) marks the locate tracked or not by its symbol's name. A slot is given
on a tracked locate's first book message while slots are left, as `model.card.ReferenceCard._book` does.
"""

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import data, enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .order_table import EPOCH_BITS
from .symbols import LocateState, LocateTable, NameTable, locate_entry

__all__ = ["BookPort", "Outcome", "ResolveSignature", "SlotResolver"]


class Outcome(enum.Enum, shape=2):
    """What a book message's locate resolved to."""

    UNTRACKED = 0  # not tracked (or refused before): no book
    HELD = 1  # its book, given before (`slot`)
    GIVEN = 2  # a new book (`slot`), its levels and top of book to be zeroed
    REFUSED = 3  # tracked, but no slot is left: refused from now on


class BookPort(wiring.Signature):
    """A read of one book slot (from the reader's side): its locate and whether it is degraded."""

    def __init__(self, slot_bits: int) -> None:
        super().__init__({"slot": Out(slot_bits), "locate": In(16), "degraded": In(1)})


#: The book ports of `ResolveSignature.books`, by what each reads.
BOOK_PORTS = ("main", "other", "entry", "op", "book")


class ResolveSignature(wiring.Signature):
    """The resolver as its user sees it (the user drives every `Out` member); see the module docstring.

    `lookup`/`locate`: read a locate (the taken message's). `resolve`: `book` or `directory` with the
    message's `locate` and `name`, answered on the same cycle by `outcome`, `slot`, and `known` (the locate has a book
    or is tracked: a missing order reference counts as unknown, else as an untracked symbol). `books`: reads
    of book slots (`BOOK_PORTS`). `degrade`: mark a book degraded. `epoch`/`clear`/`clear_busy`: as the
    order table's (an entry of another epoch reads as not tracked).
    """

    def __init__(self, slot_bits: int) -> None:
        super().__init__({
            "lookup": Out(1), "locate": Out(16),
            "resolve": Out(data.StructLayout({"book": 1, "directory": 1, "locate": 16, "name": 64})),
            "outcome": In(Outcome), "slot": In(slot_bits), "known": In(1),
            "books": Out(data.ArrayLayout(slot_bits, len(BOOK_PORTS))),
            "book_locate": In(data.ArrayLayout(16, len(BOOK_PORTS))),
            "book_degraded": In(len(BOOK_PORTS)),
            "degrade": Out(data.StructLayout({"valid": 1, "slot": slot_bits})),
            "epoch": Out(EPOCH_BITS), "clear": Out(1), "clear_busy": In(1),
        })


class SlotResolver(wiring.Component):
    """`symbols` book slots for the stock locates of `req` (a flipped `ResolveSignature`); `names` symbol
    names written by the host (`name_*`); `track_all` gives every locate a book."""

    def __init__(self, symbols: int, names: int) -> None:
        self.symbols, self.names = symbols, names
        self.slot_bits = max(1, (symbols - 1).bit_length())
        super().__init__({
            "req": In(ResolveSignature(self.slot_bits)),
            "track_all": In(1),
            "name_write": In(1), "name_set": In(1), "name_index": In(16), "name_value": In(64),
            "symbols_live": Out(32),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        req, n = self.req, self.symbols
        m.submodules.names = names = NameTable(self.names)
        m.submodules.locs = locs = LocateTable(self.slot_bits)
        m.submodules.slot_locate = slot_locate = Memory(shape=16, depth=n, init=[])
        m.d.comb += [names.write.eq(self.name_write), names.write_set.eq(self.name_set),
                     names.write_index.eq(self.name_index), names.write_name.eq(self.name_value),
                     names.name.eq(req.resolve.name)]
        m.d.comb += [locs.read.eq(req.lookup), locs.read_locate.eq(req.locate), locs.clear.eq(req.clear),
                     req.clear_busy.eq(locs.clear_busy)]

        degraded = Signal(n)
        next_slot = Signal(range(n + 1))
        m.d.comb += self.symbols_live.eq(next_slot)
        degraded_bits = Array(degraded[i] for i in range(n))
        for i in range(len(BOOK_PORTS)):
            rd = slot_locate.read_port(domain="comb")
            m.d.comb += [rd.addr.eq(req.books[i]), req.book_locate[i].eq(rd.data),
                         req.book_degraded[i].eq(degraded_bits[req.books[i]])]

        loc = Signal(locate_entry(self.slot_bits))
        m.d.comb += loc.eq(locs.entry)
        state = Signal(2)
        m.d.comb += state.eq(Mux(loc.epoch == req.epoch, loc.state, LocateState.UNTRACKED))
        tracked = (state == LocateState.TRACKED) | ((state == LocateState.UNTRACKED) & self.track_all)
        m.d.comb += req.known.eq((state == LocateState.SLOT) | tracked)

        # The locate's entry, written when the message changes it (its state and slot set below).
        m.d.comb += [locs.write_locate.eq(req.resolve.locate), locs.write_entry.epoch.eq(req.epoch)]
        sl_wr = slot_locate.write_port()
        named = (state == LocateState.UNTRACKED) | (state == LocateState.TRACKED)  # not given a book yet
        with m.If(req.resolve.directory & named):
            m.d.comb += [locs.write.eq(1), locs.write_entry.state.eq(
                Mux(names.match, LocateState.TRACKED, LocateState.UNTRACKED))]
        with m.Elif(req.resolve.book):
            with m.If(state == LocateState.SLOT):
                m.d.comb += [req.outcome.eq(Outcome.HELD), req.slot.eq(loc.slot)]
            with m.Elif(tracked & (next_slot < n)):
                m.d.comb += [req.outcome.eq(Outcome.GIVEN), req.slot.eq(next_slot),
                             locs.write.eq(1), locs.write_entry.state.eq(LocateState.SLOT),
                             locs.write_entry.slot.eq(next_slot),
                             sl_wr.addr.eq(next_slot), sl_wr.en.eq(1), sl_wr.data.eq(req.resolve.locate)]
                m.d.sync += next_slot.eq(next_slot + 1)
                for i in range(n):
                    with m.If(next_slot == i):
                        m.d.sync += degraded[i].eq(0)
            with m.Elif(tracked):
                m.d.comb += [req.outcome.eq(Outcome.REFUSED), locs.write.eq(1),
                             locs.write_entry.state.eq(LocateState.REFUSED)]
            with m.Else():
                m.d.comb += req.outcome.eq(Outcome.UNTRACKED)
        with m.If(req.degrade.valid):
            for i in range(n):
                with m.If(req.degrade.slot == i):
                    m.d.sync += degraded[i].eq(1)
        return m
