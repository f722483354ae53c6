"""MeatPy (PyPI `meatpy`, pure Python) as an oracle: its own ITCH 5.0 reader and book, one symbol at a time.

Only MeatPy's public interface is used: `ITCH50MessageReader.read_file`, `ITCH50MarketProcessor.process_message`
and the processor's `current_lob` (a `LimitOrderBook` whose `bid_levels`/`ask_levels` are `Level`s, best first,
with `price`, `volume` and `n_orders`). Its quirks, and what is done about them:

- Prices in a `Level` are the raw ITCH Price(4) integers (`best_bid`/`best_ask` divide by `decimals_adj`,
  10000); the raw integers are used here, as in the event contract.
- Timestamps are cut to microseconds on a `book_date`; they play no part in the book state read here.
- The reader knows all 23 ITCH 5.0 types (`O`, `h`, `J` included), but not the BinaryFILE end-of-session
  marker (a zero length): it raises `ValueError("Empty message data")` there. That marker ends the session,
  so reading stops at it (`MeatpyRun.end_of_session`); any other reader error propagates.
- `E` is checked against price-time priority (the order must be first in line at the best price). A
  violation is still applied (through its `execute_trade_price`), buffered, and raised later as an
  `ExecutionPriorityExceptionList` after the book was updated; such lists are caught and counted in
  `MeatpyRun.priority_errors`, never hidden. A cancel or execution of more shares than the order has
  raises `VolumeInconsistencyException`; that propagates.
- The processor tracks one instrument and needs no stock directory; the symbol's stock locate is taken
  from its `R` message, or from its first add if the stream has no `R`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

Level = tuple[int, int, int]  # price (Price(4) integer), aggregate shares, orders


@dataclass(frozen=True)
class MeatpyBook:
    """One symbol's book as MeatPy holds it: levels best first, each (price, shares, orders)."""

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    def top(self) -> tuple[int, int, int, int]:
        """(bid_px, bid_sz, ask_px, ask_sz); an empty side is 0, 0 (as in the event contract)."""
        bid = self.bids[0][:2] if self.bids else (0, 0)
        ask = self.asks[0][:2] if self.asks else (0, 0)
        return (*bid, *ask)


@dataclass
class MeatpyRun:
    """What MeatPy made of a file for one symbol."""

    symbol: str
    locate: int | None = None  # stock locate of the symbol, once seen
    messages: int = 0  # messages MeatPy read (1-based index of the last one)
    end_of_session: bool = False  # reading stopped at the BinaryFILE zero-length marker
    priority_errors: int = 0  # price-time priority violations MeatPy reported (see module doc)
    books: dict[int, MeatpyBook] = field(default_factory=dict)  # message index -> book after it
    final: MeatpyBook = field(default_factory=MeatpyBook)  # full depth after the last message


def _levels(levels: list, depth: int | None) -> tuple[Level, ...]:
    return tuple((int(lv.price), int(lv.volume), int(lv.n_orders)) for lv in levels[:depth])


def _snapshot(processor, depth: int | None) -> MeatpyBook:
    lob = processor.current_lob
    if lob is None:
        return MeatpyBook()
    return MeatpyBook(_levels(lob.bid_levels, depth), _levels(lob.ask_levels, depth))


def meatpy_books(path: Path, symbol: str, depth: int | None = None) -> MeatpyRun:
    """MeatPy's book of `symbol` after every message with the symbol's stock locate, keyed by 1-based index.

    `depth` limits the levels kept per message (None: all; `final` is always full depth).
    """
    from meatpy.itch50 import ITCH50MarketProcessor, ITCH50MessageReader
    from meatpy.itch50.itch50_market_message import AddOrderMessage, AddOrderMPIDMessage, StockDirectoryMessage
    from meatpy.lob import ExecutionPriorityExceptionList

    run = MeatpyRun(symbol)
    processor = ITCH50MarketProcessor(symbol, datetime.datetime(2000, 1, 3))
    instrument = processor.instrument  # the symbol as 8 space-padded bytes
    messages = ITCH50MessageReader().read_file(path)
    while True:
        try:
            message = next(messages)
        except StopIteration:
            break
        except ValueError as e:
            if str(e) != "Empty message data":
                raise ValueError(f"MeatPy could not read message {run.messages + 1} of {path}: {e}") from e
            run.end_of_session = True
            break
        run.messages += 1
        if run.locate is None and isinstance(message, StockDirectoryMessage | AddOrderMessage | AddOrderMPIDMessage) \
                and message.stock == instrument:
            run.locate = message.stock_locate
        try:
            processor.process_message(message)
        except ExecutionPriorityExceptionList as e:
            run.priority_errors += len(e.args[1])
        if message.stock_locate == run.locate:
            run.books[run.messages] = _snapshot(processor, depth)
    try:
        processor.processing_done()
    except ExecutionPriorityExceptionList as e:
        run.priority_errors += len(e.args[1])
    run.final = _snapshot(processor, None)
    return run
