"""What a backtest leaves: the aggregate table, Parquet of the per-day rows and of the fills, the equity curve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tickgate.host.backtest.day import FILL_COLUMNS, DayResult

__all__ = ["ROW_COLUMNS", "TABLE_COLUMNS", "plot_equity", "table", "totals", "write_parquet"]

ROW_COLUMNS = ("day", "packets", "messages", "events", "orders", "entered", "cancels", "fills", "filled_shares",
               "taken_shares", "rejects", "risk_rejects", "exchange_rejects", "max_position", "max_gross_position",
               "end_gross_position", "notional", "fees", "pnl", "kills", "killed")
TABLE_COLUMNS = ("day", "messages", "orders", "fills", "filled_shares", "rejects", "max_position", "fees", "pnl")
_SUMMED = ("packets", "messages", "events", "orders", "entered", "cancels", "fills", "filled_shares", "taken_shares",
           "rejects", "risk_rejects", "exchange_rejects", "notional", "fees", "pnl", "kills")


def totals(rows: Sequence[dict]) -> dict:
    """Sums over days (counts, notional, fees, P&L) and maxima (positions)."""
    out: dict = {"days": len(rows)}
    for k in _SUMMED:
        total = sum(r[k] for r in rows)
        out[k] = round(total, 6) if isinstance(total, float) else total
    for k in ("max_position", "max_gross_position"):
        out[k] = max((r[k] for r in rows), default=0)
    out["winning_days"] = sum(1 for r in rows if r["pnl"] > 0)
    return out


def table(rows: Sequence[dict]) -> str:
    """The per-day rows and a total line, aligned."""
    tot = totals(rows) | {"day": f"total ({len(rows)} days)"}
    lines = [[_cell(r[c]) for c in TABLE_COLUMNS] for r in [*rows, tot]]
    head = list(TABLE_COLUMNS)
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(head), rule, *(fmt(x) for x in lines[:-1]), rule, fmt(lines[-1])])


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def write_parquet(results: Sequence[DayResult], out: Path) -> tuple[Path, Path]:
    """days.parquet (one row a day) and fills.parquet (every fill, with its day) under `out`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    days = pa.table({c: [r.row[c] for r in results] for c in ROW_COLUMNS})
    fills = {"day": [r.row["day"] for r in results for _ in r.fills["ts_ns"]]}
    for c in FILL_COLUMNS:
        fills[c] = [v for r in results for v in r.fills[c]]
    schema = pa.schema([("day", pa.string()), ("ts_ns", pa.int64()), ("token", pa.int64()), ("symbol", pa.string()),
                        ("side", pa.string()), ("shares", pa.int64()), ("price", pa.int64()),
                        ("liquidity", pa.string()), ("fee", pa.float64()), ("position", pa.int64()),
                        ("equity", pa.float64())])
    paths = out / "days.parquet", out / "fills.parquet"
    pq.write_table(days, paths[0])
    pq.write_table(pa.table(fills, schema=schema), paths[1])
    return paths


def plot_equity(results: Sequence[DayResult], path: Path) -> None:
    """Cumulative P&L over the days: within a day at each fill (positions marked at their last fill price),
    and each day's close (positions marked at the last mid) carried into the next."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    base = 0.0
    xs, ys = [0.0], [0.0]
    closes = []
    for i, r in enumerate(results):
        day_ns = 86_400e9
        for ts, eq in zip(r.fills["ts_ns"], r.fills["equity"], strict=True):
            xs.append(i + ts / day_ns)
            ys.append(base + eq)
        base += r.row["pnl"]
        xs.append(i + 1.0)
        ys.append(base)
        closes.append((i + 1.0, base))
    ax.plot(xs, ys, lw=1, label="intraday (at fills)")
    ax.plot([x for x, _ in closes], [y for _, y in closes], "o", ms=4, label="day close")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("day")
    ax.set_ylabel("P&L, $")
    ax.set_title(f"equity over {len(results)} days")
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
