"""The reference model of the card: MoldUDP64 packets in, 64-byte book events out.

Written for clarity: it defines what every backend (gateware, C++ model) must emit, byte for byte.

Semantics, per message of a tracked symbol (see also `session.py`):
- A/F add an order; U removes the original and adds the new reference with the original's side and
  symbol; E/C/X take shares off (clamped to what is left, counted), D removes; an order at zero shares
  is removed. Books are not frozen by halts.
- One BBO event for every message that changes a tracked symbol's best price or size on either side,
  none otherwise. A TRADE event for E, C, P and Q. A STATUS event for S (always) and H.
- With `level_events`, one LEVEL event for every level operation (`book.py`: NEW, CHANGE, DELETE).
- The events of one message come in a fixed order: TRADE; LEVEL events in the order of the level
  operations (U: the original's removal, then the removal of a live order holding the new reference,
  then the add; A/F: that removal, then the add); DEGRADED if the message degraded a book; the BBO of
  the message's book; the BBO of the book a duplicate reference's removal changed. A LEVEL event
  carries the flags of its book before the message degraded it (its DEGRADED event comes after).
- Anything not applied is counted under a named counter of `protocol.registers.COUNTERS`.
- Capacities default to unbounded. Past one, the symbol is marked degraded once, by a DEGRADED event and
  a counter, and its later events carry the DEGRADED flag. The order table is the gateware's: a hashed
  table (`order_table.py`, `protocol/order_hash.py`); an order that finds no place in it is not kept
  (later references to it count as unknown). Symbols past `max_symbols` are not kept. Each side holds
  at most `max_levels` price levels, the best ones (`book.py`); an order at a level that is not held is
  kept, and its reductions count `level_missing`.
- Armed rules (`rules.py`, contract in `protocol.rules`) are evaluated on each BBO event of their locate;
  their FIRE events come right after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from tickgate.protocol import itch
from tickgate.protocol.config import CardConfig
from tickgate.protocol.events import DegradedReason, EventFlag, EventKind
from tickgate.protocol.packet import Packet
from tickgate.protocol.registers import counter_names

from .book import Book, LevelUpdate, Side
from .decoder import classify
from .lines import LineArbiter
from .order_table import OrderTable
from .rules import RuleTable
from .session import MoldSession
from .sink import EventSink

__all__ = ["CardConfig", "ReferenceCard"]

_B, _S, _Y, _N = b"B", b"S", b"Y", b"N"
_BBO, _TRADE, _LEVEL = int(EventKind.BBO), int(EventKind.TRADE), int(EventKind.LEVEL)  # plain ints: hot path


class _Order:
    __slots__ = ("book", "is_bid", "price", "shares")

    def __init__(self, book: Book, is_bid: bool, price: int, shares: int) -> None:
        self.book, self.is_bid, self.price, self.shares = book, is_bid, price, shares

    def side(self) -> Side:
        return self.book.bids if self.is_bid else self.book.asks


class ReferenceCard:
    """The reference model: feed it packets, take events and counters."""

    def __init__(self, config: CardConfig | None = None) -> None:
        self.config = config or CardConfig()
        self.counters: dict[str, int] = dict.fromkeys(counter_names(), 0)
        self.sink = EventSink(self.counters)
        self.session = MoldSession(self.counters, self.sink, session=self.config.session,
                                   first_sequence=self.config.first_sequence)
        window = self.config.line_window
        self.lines = LineArbiter(self.session, self.counters, window) if window is not None else None
        self.directory: dict[int, str] = {}  # stock locate -> symbol, from R
        self.books: dict[int, Book] = {}  # tracked locate -> book
        self.refused: set[int] = set()  # locates that found no book slot
        self.orders: dict[int, _Order] = {}
        self._track_all = self.config.symbols is None
        self.order_table = OrderTable(self.config.order_table) if self.config.order_table else None
        self._level_events = self.config.level_events
        self.rules = RuleTable(self.config.max_rules, self.counters, self.sink)
        for i, rule in enumerate(self.config.rules):
            if rule is not None:
                self.rules.arm(i, rule)
        self._dispatch = {
            "A": self._add, "F": self._add, "E": self._execute, "C": self._execute, "X": self._cancel,
            "D": self._delete, "U": self._replace, "P": self._trade, "Q": self._trade, "H": self._trading_action,
            "S": self._system_event, "R": self._directory,
        }

    # -- feeding -------------------------------------------------------------------------------------

    def feed(self, payload: bytes, rx_ns: int = 0, line: int = 0) -> None:
        """Process one MoldUDP64 packet of `line` (0: A, 1: B; with one line, any): with two lines, through the
        arbiter (`lines.py`)."""
        if self.lines is None:
            self._packet(payload, rx_ns)
        else:
            for p, rx in self.lines.offer(payload, rx_ns, line):
                self._packet(p, rx)

    def end_of_input(self) -> None:
        """The input has ended: with two lines, the arbiter releases what it holds (gaps declared)."""
        if self.lines is not None:
            for p, rx in self.lines.end_of_input():
                self._packet(p, rx)

    def _packet(self, payload: bytes, rx_ns: int) -> None:
        """One packet into the session: each new message is counted by type (`classify`) and applied."""
        c, dispatch = self.counters, self._dispatch
        for seq, buf in self.session.messages(payload, rx_ns):
            handler = dispatch.get(classify(buf, c))
            if handler is not None:
                handler(itch.decode(buf), seq, rx_ns)

    def take_events(self) -> np.ndarray:
        """Events emitted since the last call."""
        return self.sink.take()

    def process(self, packets: Iterable[Packet], chunk_events: int = 1 << 16) -> Iterator[np.ndarray]:
        """Feed packets, yielding events in chunks of about `chunk_events` (bounded memory)."""
        for payload, rx_ns in packets:
            self.feed(payload, rx_ns)
            if len(self.sink) >= chunk_events:
                yield self.sink.take()
        self.end_of_input()
        if len(self.sink):
            yield self.sink.take()

    def run(self, packets: Iterable[Packet]) -> np.ndarray:
        """Feed every packet and return all events in one array."""
        chunks = list(self.process(packets))
        return np.concatenate(chunks) if chunks else self.sink.take()

    # -- one message ---------------------------------------------------------------------------------

    def _book(self, m, seq: int, rx_ns: int) -> Book | None:
        """The book of the message's symbol if tracked (a slot is taken on first use), or None, counted."""
        locate = m.stock_locate
        book = self.books.get(locate)
        if book is not None:
            return book
        if not self._tracked(locate) or locate in self.refused:
            self.counters["untracked_symbol"] += 1
            return None
        cap = self.config.max_symbols
        if cap is not None and len(self.books) >= cap:
            self.refused.add(locate)
            self.counters["symbols_full"] += 1
            self.counters["untracked_symbol"] += 1
            self.counters["degraded_symbols"] += 1
            self.sink.emit(EventKind.DEGRADED, EventFlag.DEGRADED, locate, ord(m.message_type), seq, m.timestamp,
                           rx_ns, DegradedReason.SYMBOLS_FULL)
            return None
        book = self.books[locate] = Book(locate, self.config.max_levels)
        return book

    def _tracked(self, locate: int) -> bool:
        return self._track_all or self.directory.get(locate) in self.config.symbols

    def _degrade(self, book: Book, reason: DegradedReason, m, seq: int, rx_ns: int) -> None:
        if not book.degraded:
            book.degraded = True
            book.flags = int(EventFlag.DEGRADED)
            self.counters["degraded_symbols"] += 1
            self.sink.emit(EventKind.DEGRADED, EventFlag.DEGRADED, book.locate, ord(m.message_type), seq,
                           m.timestamp, rx_ns, reason)

    def _bbo_if_changed(self, book: Book, m, seq: int, rx_ns: int) -> None:
        bbo = book.bbo()
        if bbo != book.last_bbo:
            book.last_bbo = bbo
            self.sink.emit(_BBO, book.flags, book.locate, ord(m.message_type), seq, m.timestamp, rx_ns, *bbo)
            if book.locate in self.rules.by_locate:  # armed rules: their FIRE events follow the BBO
                self.rules.after_bbo(book.flags, book.locate, ord(m.message_type), seq, m.timestamp, rx_ns, *bbo)

    # -- orders and levels --------------------------------------------------------------------------------

    def _level(self, book: Book, is_bid: bool, update: LevelUpdate | None, m, seq: int, rx_ns: int) -> None:
        """Emit the LEVEL event of a level operation (if enabled)."""
        if update is not None and self._level_events:
            self.sink.emit(_LEVEL, book.flags, book.locate, ord(m.message_type), seq, m.timestamp, rx_ns,
                           _B[0] if is_bid else _S[0], *update)

    def _insert(self, ref: int, book: Book, is_bid: bool, price: int, shares: int, m, seq: int,
                rx_ns: int) -> Book | None:
        """Insert an order, evicting a live one of the same reference; the evicted order's book if other."""
        evicted = self.orders.pop(ref, None)
        if evicted is not None:
            self.counters["duplicate_ref"] += 1
            self._take(evicted, evicted.shares, True, m, seq, rx_ns)
            if self.order_table is not None:
                self.order_table.remove(ref)
        table = self.order_table
        if table is not None and not table.insert(ref):
            self.counters["order_table_full"] += 1
            self._degrade(book, DegradedReason.ORDER_TABLE_FULL, m, seq, rx_ns)
        else:
            if table is not None:
                bank = table.where(ref)[0]
                if bank == 1:
                    self.counters["order_table_second_choice"] += 1
                elif bank < 0:
                    self.counters["order_table_stashed"] += 1
            update, full = book.side(is_bid).add(price, shares)
            self._level(book, is_bid, update, m, seq, rx_ns)
            if full:
                self.counters["levels_full"] += 1
                self._degrade(book, DegradedReason.LEVELS_FULL, m, seq, rx_ns)
            self.orders[ref] = _Order(book, is_bid, price, shares)
        return evicted.book if evicted is not None and evicted.book is not book else None

    def _order(self, m, ref: int) -> _Order | None:
        """The live order `ref`; None if there is none, counted as an unknown reference or untracked symbol."""
        o = self.orders.get(ref)
        if o is None:
            locate = m.stock_locate
            if locate in self.books or (self._tracked(locate) and locate not in self.refused):
                self.counters["unknown_ref"] += 1
            else:
                self.counters["untracked_symbol"] += 1
        return o

    def _take(self, o: _Order, shares: int, removes_order: bool, m, seq: int, rx_ns: int) -> None:
        """Take an order's shares (and the order) off its level; a missing level is counted."""
        update = o.side().reduce(o.price, shares, removes_order)
        if update is None:
            self.counters["level_missing"] += 1
        else:
            self._level(o.book, o.is_bid, update, m, seq, rx_ns)

    def _reduce(self, o: _Order, ref: int, shares: int, m, seq: int, rx_ns: int) -> None:
        """Take `shares` off a live order (clamped, counted), removing it at zero."""
        if shares >= o.shares:
            if shares > o.shares:
                self.counters["oversized_reduce"] += 1
            self._remove(o, ref, m, seq, rx_ns)
        else:
            o.shares -= shares
            self._take(o, shares, False, m, seq, rx_ns)

    def _remove(self, o: _Order, ref: int, m, seq: int, rx_ns: int) -> None:
        del self.orders[ref]
        self._take(o, o.shares, True, m, seq, rx_ns)
        if self.order_table is not None:
            self.order_table.remove(ref)

    # -- handlers ----------------------------------------------------------------------------------------

    def _valid(self, side: bytes | None, shares: int, price: int) -> bool:
        if shares == 0 or price == 0 or side not in (_B, _S, None):
            self.counters["invalid_order"] += 1
            return False
        return True

    def _add(self, m, seq: int, rx_ns: int) -> None:
        book = self._book(m, seq, rx_ns)
        if book is None or not self._valid(m.buy_sell_indicator, m.shares, m.price):
            return
        other = self._insert(m.order_reference_number, book, m.buy_sell_indicator == _B, m.price, m.shares,
                             m, seq, rx_ns)
        self._bbo_if_changed(book, m, seq, rx_ns)
        if other is not None:
            self._bbo_if_changed(other, m, seq, rx_ns)

    def _execute(self, m, seq: int, rx_ns: int) -> None:
        ref = m.order_reference_number
        o = self._order(m, ref)
        if o is None:
            return
        price, printable = (o.price, _Y) if m.message_type == "E" else (m.execution_price, m.printable)
        book = o.book
        self.sink.emit(_TRADE, book.flags, book.locate, ord(m.message_type), seq, m.timestamp, rx_ns, price,
                       _B[0] if o.is_bid else _S[0], printable[0], 0, min(m.executed_shares, o.shares),
                       m.match_number, ref)
        self._reduce(o, ref, m.executed_shares, m, seq, rx_ns)
        self._bbo_if_changed(book, m, seq, rx_ns)

    def _cancel(self, m, seq: int, rx_ns: int) -> None:
        ref = m.order_reference_number
        o = self._order(m, ref)
        if o is not None:
            self._reduce(o, ref, m.cancelled_shares, m, seq, rx_ns)
            self._bbo_if_changed(o.book, m, seq, rx_ns)

    def _delete(self, m, seq: int, rx_ns: int) -> None:
        ref = m.order_reference_number
        o = self._order(m, ref)
        if o is not None:
            self._remove(o, ref, m, seq, rx_ns)
            self._bbo_if_changed(o.book, m, seq, rx_ns)

    def _replace(self, m, seq: int, rx_ns: int) -> None:
        ref = m.original_order_reference_number
        o = self._order(m, ref)
        if o is None:
            return
        self._remove(o, ref, m, seq, rx_ns)
        other = None
        if self._valid(None, m.shares, m.price):
            other = self._insert(m.new_order_reference_number, o.book, o.is_bid, m.price, m.shares, m, seq, rx_ns)
        self._bbo_if_changed(o.book, m, seq, rx_ns)
        if other is not None:
            self._bbo_if_changed(other, m, seq, rx_ns)

    def _trade(self, m, seq: int, rx_ns: int) -> None:
        book = self._book(m, seq, rx_ns)
        if book is None:
            return
        flags = book.flags
        if m.message_type == "P":
            self.sink.emit(_TRADE, flags, book.locate, ord("P"), seq, m.timestamp, rx_ns, m.price,
                           m.buy_sell_indicator[0], _Y[0], 0, m.shares, m.match_number, 0)
        else:
            self.sink.emit(_TRADE, flags, book.locate, ord("Q"), seq, m.timestamp, rx_ns,
                           m.cross_price, 0, _Y[0], m.cross_type[0], m.shares, m.match_number, 0)

    def _trading_action(self, m, seq: int, rx_ns: int) -> None:
        book = self._book(m, seq, rx_ns)
        if book is not None:
            self.sink.emit(EventKind.STATUS, book.flags, book.locate, ord("H"),
                           seq, m.timestamp, rx_ns, m.trading_state[0], m.reason)

    def _system_event(self, m, seq: int, rx_ns: int) -> None:
        self.sink.emit(EventKind.STATUS, 0, m.stock_locate, ord("S"), seq, m.timestamp, rx_ns,
                       m.event_code[0], b"\0\0\0\0")

    def _directory(self, m, seq: int, rx_ns: int) -> None:
        self.directory[m.stock_locate] = itch.symbol(m.stock)

    # -- inspection ----------------------------------------------------------------------------------

    def book(self, locate: int) -> Book | None:
        """The book of a tracked locate, if it has one."""
        return self.books.get(locate)

    def nonzero_counters(self) -> dict[str, int]:
        return {k: v for k, v in self.counters.items() if v}
