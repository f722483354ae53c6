"""The reference model's books equal MeatPy's (its own ITCH 5.0 reader and book), symbol by symbol.

For a few symbols of a generated stream, and for both symbols of MeatPy's own sample file:
- the full-depth book at the end is the same level by level (price, aggregate shares, order count);
- after every message of the symbol, the model's top of book (its last BBO event at or before that
  message) is MeatPy's, and the model emits a BBO event exactly at the messages where MeatPy's top changes.

Nothing is filtered out of the streams. MeatPy's reader stops with an error on the BinaryFILE end-of-session
marker (a zero length), which ends the session anyway: see tests/oracle_meatpy.py for that and MeatPy's other
quirks. Its priority check on `E` (the executed order must be first in line at the best price) is asserted
to find nothing on generated streams, whose executions take the oldest order at the touch.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.oracle_meatpy import MeatpyRun, meatpy_books
from tests.oracles import model_bbo, model_events
from tickgate.protocol import itch
from tickgate.protocol.binaryfile import BinaryFileReader

# 32,000 messages over 20 symbols: the generator schedules one halt (and its cross and resumption) per
# 30,000 messages of order flow, so this is about the smallest stream with one.
MESSAGES, SYMBOLS, SEED = 32_000, 20, 4
ROLES = ("busiest", "quietest", "halted")
EMPTY = (0, 0, 0, 0)


def model_tops(bbo: np.ndarray, locate: int, indices: list[int]) -> dict[int, tuple[int, int, int, int]]:
    """The model's top of book of `locate` after each message index: its last BBO event at or before it."""
    rows = bbo[bbo[:, 1] == locate]
    at = np.searchsorted(rows[:, 0], indices, side="right") - 1
    return {i: tuple(rows[k, 2:].tolist()) if k >= 0 else EMPTY for i, k in zip(indices, at.tolist(), strict=True)}


def top_changes(run: MeatpyRun) -> list[int]:
    """Message indices after which MeatPy's top of book differs from before."""
    out, last = [], EMPTY
    for i, book in run.books.items():
        if book.top() != last:
            out.append(i)
            last = book.top()
    return out


def message_at(path: Path, index: int) -> str:
    for i, m in enumerate(BinaryFileReader(path), 1):
        if i == index:
            return repr(itch.decode(m))
    return f"<no message {index}>"


def check_tops(path: Path, run: MeatpyRun, bbo: np.ndarray) -> None:
    """After every message of the symbol, the model's top of book is MeatPy's; events only where it changes."""
    ours = model_tops(bbo, run.locate, list(run.books))
    for i, book in run.books.items():
        assert ours[i] == book.top(), (
            f"{run.symbol} after message {i} ({message_at(path, i)}): model top {ours[i]}, MeatPy {book.top()}"
        )
    emitted = bbo[bbo[:, 1] == run.locate][:, 0].tolist()
    changed = top_changes(run)
    assert emitted == changed, (
        f"{run.symbol}: BBO events at messages not changing MeatPy's top: {sorted(set(emitted) - set(changed))[:5]};"
        f" top changes without an event: {sorted(set(changed) - set(emitted))[:5]}"
    )


def check_depth(run: MeatpyRun, card) -> None:
    """The model's full-depth book at the end is MeatPy's, level by level."""
    assert card.directory[run.locate] == run.symbol
    book = card.book(run.locate)
    assert book is not None
    sides = (("bids", book.bids.depth(), run.final.bids), ("asks", book.asks.depth(), run.final.asks))
    for side, ours, theirs in sides:
        assert tuple(ours) == theirs, f"{run.symbol} {side} at the end: model {ours}, MeatPy {list(theirs)}"


# -- a generated stream ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stream(generated):
    """(path, model BBO rows, model card, {role: symbol}, MeatPy runs cached per symbol)."""
    path = generated(MESSAGES, SYMBOLS, SEED)
    events, card = model_events(path)
    per_locate: Counter[int] = Counter()
    halted = []
    for raw in BinaryFileReader(path):
        m = itch.decode(raw)
        if m.stock_locate:
            per_locate[m.stock_locate] += 1
        if m.message_type == "H" and m.trading_state in (b"H", b"P"):
            halted.append(m.stock_locate)
    assert halted, "the stream should halt one symbol"
    ranked = [loc for loc, _ in per_locate.most_common()]
    roles = {"busiest": ranked[0], "quietest": ranked[-1], "halted": halted[0]}
    return path, model_bbo(events), card, {r: card.directory[loc] for r, loc in roles.items()}, {}


def run_of(stream, role: str) -> MeatpyRun:
    path, _, card, roles, cache = stream
    symbol = roles[role]
    if symbol not in cache:
        run = cache[symbol] = meatpy_books(path, symbol)
        assert run.messages == MESSAGES == card.counters["messages"] and run.end_of_session
        assert run.priority_errors == 0, f"{symbol}: MeatPy saw executions out of price-time priority"
    return cache[symbol]


@pytest.mark.parametrize("role", ROLES)
def test_full_depth_at_end_equals_meatpy(stream, role):
    run = run_of(stream, role)
    check_depth(run, stream[2])
    assert len(run.final.bids) >= 2 and len(run.final.asks) >= 2  # a real book, not an empty one


@pytest.mark.parametrize("role", ROLES)
def test_top_of_book_after_every_message_equals_meatpy(stream, role):
    path, bbo, _, _, _ = stream
    run = run_of(stream, role)
    assert len(run.books) >= 300  # even the quietest symbol has hundreds of messages
    assert len(top_changes(run)) >= len(run.books) // 10  # and its top of book moves
    check_tops(path, run, bbo)


def test_busiest_and_quietest_differ(stream):
    roles = stream[3]
    counts = {r: len(run_of(stream, r).books) for r in ("busiest", "quietest")}
    assert roles["busiest"] != roles["quietest"] and counts["busiest"] > 5 * counts["quietest"], counts


# -- MeatPy's own sample -----------------------------------------------------------------------------------------

SAMPLE_FINAL = {  # worked out by hand from the 20 messages
    "MEAT": (((999_500, 50, 1),), ((1_000_500, 100, 1), (1_001_000, 200, 1))),
    "PYTH": (((425_000, 50, 1),), ()),
}


@pytest.mark.parametrize("symbol", sorted(SAMPLE_FINAL))
def test_meatpy_sample_equals_meatpy(shared_data, symbol):
    path = shared_data / "itch" / "meatpy_synthetic_20msgs.itch50"
    events, card = model_events(path)
    run = meatpy_books(path, symbol)
    assert run.messages == 20 and not run.end_of_session and run.priority_errors == 0
    assert (run.final.bids, run.final.asks) == SAMPLE_FINAL[symbol]
    check_depth(run, card)
    check_tops(path, run, model_bbo(events))
