"""Tracked symbols: which stock locates have a book, and the symbol names the host asks for.

Every locate has a state in a 65,536-entry table: not tracked, tracked without a book yet (its stock
directory message named a symbol of the name table), with a book slot, or refused (no slot was left).
A slot is given on the locate's first book message (add, trade, trading action) when it is tracked, or
always when `track_all` is set, as `model.card.ReferenceCard` does. Entries carry the book engine's epoch:
one of another epoch reads as not tracked.
"""

from enum import IntEnum

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .order_table import EPOCH_BITS

__all__ = ["LOCATES", "LocateState", "LocateTable", "NameTable", "locate_entry"]

LOCATES = 1 << 16


class LocateState(IntEnum):
    UNTRACKED = 0
    TRACKED = 1  # named, no slot yet
    SLOT = 2
    REFUSED = 3


def locate_entry(slot_bits: int) -> data.StructLayout:
    return data.StructLayout({"epoch": EPOCH_BITS, "state": 2, "slot": slot_bits})


class NameTable(wiring.Component):
    """`entries` symbol names (8 bytes as on the wire, byte 0 low), written by the host; `match` is
    whether `name` is one of them (combinational)."""

    def __init__(self, entries: int) -> None:
        if not isinstance(entries, int) or not 1 <= entries <= 4096:
            raise ValueError(f"name table entries must be 1 to 4096, not {entries!r}")
        self.entries = entries
        super().__init__({
            "write": In(1), "write_set": In(1), "write_index": In(16), "write_name": In(64),
            "name": In(64), "match": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        names = [Signal(64, name=f"name{i}") for i in range(self.entries)]
        valid = Signal(self.entries)
        for i in range(self.entries):
            with m.If(self.write & (self.write_index == i)):
                m.d.sync += [names[i].eq(self.write_name), valid[i].eq(self.write_set)]
        m.d.comb += self.match.eq(Cat(*(valid[i] & (names[i] == self.name) for i in range(self.entries))).any())
        return m


class LocateTable(wiring.Component):
    """The state of every stock locate, `lanes` entries to a memory row (fewer, wider rows).

    `read` a locate: its entry is on `entry` from the next cycle until the next read. `write` sets one
    entry. `clear` empties the table, a row a cycle, while `clear_busy`.
    """

    def __init__(self, slot_bits: int, lanes: int = 16) -> None:
        self.slot_bits, self.lanes = slot_bits, lanes
        entry = locate_entry(slot_bits)
        super().__init__({
            "read": In(1), "read_locate": In(16), "entry": Out(entry),
            "write": In(1), "write_locate": In(16), "write_entry": In(entry),
            "clear": In(1), "clear_busy": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        lanes = self.lanes
        lane_bits = (lanes - 1).bit_length()
        rows = LOCATES // lanes
        m.submodules.mem = mem = Memory(shape=data.ArrayLayout(locate_entry(self.slot_bits), lanes), depth=rows,
                                        init=[])
        rd, wr = mem.read_port(), mem.write_port(granularity=1)
        lane = Signal(lane_bits)
        m.d.comb += [rd.addr.eq(self.read_locate[lane_bits:]), rd.en.eq(self.read)]
        with m.If(self.read):
            m.d.sync += lane.eq(self.read_locate[:lane_bits])
        for i in range(lanes):
            with m.If(lane == i):
                m.d.comb += self.entry.eq(rd.data[i])
        clear_row = Signal(range(rows))
        with m.If(self.clear_busy):
            m.d.comb += [wr.addr.eq(clear_row), wr.en.eq((1 << lanes) - 1), wr.data.eq(0)]
            m.d.sync += clear_row.eq(clear_row + 1)
            with m.If(clear_row == rows - 1):
                m.d.sync += self.clear_busy.eq(0)
        with m.Else():
            m.d.comb += wr.addr.eq(self.write_locate[lane_bits:])
            lane_in = self.write_locate[:lane_bits]
            for i in range(lanes):
                m.d.comb += [wr.data[i].eq(self.write_entry), wr.en[i].eq(self.write & (lane_in == i))]
            with m.If(self.clear):
                m.d.sync += [self.clear_busy.eq(1), clear_row.eq(0)]
        return m
