"""Book events as tables: a polars DataFrame with decoded columns, and a streaming Parquet writer (pyarrow).

Columns: `kind` and `msg_type` as letters, `flags`, `locate`, `symbol` (from the Stock Directory), `seq`,
`ts_exch`, `ts_local`; for top-of-book events (`B`) `bid_px bid_sz ask_px ask_sz` (Price(4) integers) and
`bid_price ask_price` (floats; null for an empty side); for trades (`T`) `trade_px`, `trade_price`,
`trade_side`, `trade_shares`, `match_number`. Columns of another kind are null. Other kinds' fields are in the
raw records: `protocol.events.as_kind`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tickgate.protocol.events import EVENT_DTYPE, KIND_DTYPES, EventKind

__all__ = ["PRICE_SCALE", "ParquetEventWriter", "events_frame"]

PRICE_SCALE = 10_000  # ITCH Price(4): four implied decimals


def _letters(codes: np.ndarray) -> Any:
    """A string column of one ASCII letter per byte (null for 0)."""
    import pyarrow as pa

    return pa.array(codes.view("S1").astype("U1"), mask=codes == 0)


def events_table(events: np.ndarray, directory: Mapping[int, str] | None = None) -> Any:
    """The decoded columns of EVENT_DTYPE records as a pyarrow Table (see the module's docstring)."""
    import pyarrow as pa

    if events.dtype != EVENT_DTYPE:
        raise TypeError(f"expected EVENT_DTYPE records, got {events.dtype}")
    events = np.ascontiguousarray(events)
    kind = events["kind"]
    not_bbo = kind != EventKind.BBO
    not_trade = kind != EventKind.TRADE
    t = events.view(KIND_DTYPES[EventKind.TRADE])  # every record read with the trade layout
    locate = events["locate"]
    directory = directory or {}
    names = np.full(max(max(directory, default=0), int(locate.max(initial=0))) + 1, None, dtype=object)
    for k, v in directory.items():
        names[k] = v

    def price(px: np.ndarray, mask: np.ndarray) -> Any:
        return pa.array(px / PRICE_SCALE, mask=mask | (px == 0))

    def ints(values: np.ndarray, mask: np.ndarray) -> Any:
        return pa.array(np.ascontiguousarray(values), mask=mask)

    trade_side = t["trade_side"].copy()
    trade_side[not_trade] = 0
    columns = {
        "kind": _letters(kind),
        "flags": pa.array(events["flags"]),
        "locate": pa.array(locate),
        "symbol": pa.array(names[locate], type=pa.string()),
        "msg_type": _letters(events["msg_type"]),
        "seq": pa.array(events["seq"]),
        "ts_exch": pa.array(events["ts_exch"]),
        "ts_local": pa.array(events["ts_local"]),
        "bid_px": ints(events["bid_px"], not_bbo),
        "bid_sz": ints(events["bid_sz"], not_bbo),
        "ask_px": ints(events["ask_px"], not_bbo),
        "ask_sz": ints(events["ask_sz"], not_bbo),
        "bid_price": price(events["bid_px"], not_bbo),
        "ask_price": price(events["ask_px"], not_bbo),
        "trade_px": ints(t["trade_px"], not_trade),
        "trade_price": price(t["trade_px"], not_trade),
        "trade_side": _letters(trade_side),
        "trade_shares": ints(t["trade_shares"], not_trade),
        "match_number": ints(t["match_number"], not_trade),
    }
    return pa.table(columns)


def events_frame(events: np.ndarray, directory: Mapping[int, str] | None = None) -> Any:
    """EVENT_DTYPE records as a polars DataFrame of decoded columns; `directory` maps stock locate to symbol
    (`EventBatches.directory()`, or any mapping)."""
    import polars as pl

    return pl.from_arrow(events_table(events, directory))


class ParquetEventWriter:
    """Appends event batches to a Parquet file as decoded columns (one row group per batch), in bounded memory.
    `directory` is called at each write for the symbols known so far."""

    def __init__(self, path: str | os.PathLike[str], directory: Callable[[], Mapping[int, str]] | None = None) -> None:
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.count = 0
        self._directory = directory
        self._schema = events_table(np.zeros(0, dtype=EVENT_DTYPE)).schema
        self._writer = pq.ParquetWriter(self.path, self._schema)

    def write(self, events: np.ndarray) -> None:
        if len(events):
            table = events_table(events, self._directory() if self._directory else None)
            self._writer.write_table(table.cast(self._schema))
            self.count += len(events)

    def close(self) -> None:
        self._writer.close()
