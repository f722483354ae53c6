"""`tickgate backtest FEED...`: a strategy over many days, each day a Ray task; table, Parquet, plot, JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .args import add_card_arguments, card_config
from .run import _pairs

__all__ = ["add_parser", "cmd_backtest"]


def cmd_backtest(args: argparse.Namespace) -> int:
    from tickgate.host.backtest.day import DaySpec, run_day
    from tickgate.host.backtest.fills import Fees, Latency
    from tickgate.host.backtest.report import plot_equity, table, totals, write_parquet
    from tickgate.host.parallel import ensure_ray, map_tasks
    from tickgate.host.risk import RiskLimits
    from tickgate.host.strategy import load_strategy

    feeds = [Path(f) for f in args.feeds]
    missing = [str(f) for f in feeds if not f.is_file()]
    if missing:
        raise ValueError(f"no such feed file: {', '.join(missing)}")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1, not {args.workers}")
    params = _pairs(args.param, "--param")
    load_strategy(args.strategy, params)  # a bad name or parameter fails here, not in every task
    spec = DaySpec(strategy=str(Path(args.strategy).resolve()) if args.strategy.endswith(".py") else args.strategy,
                   params=params, limits=RiskLimits.from_file(args.limits) if args.limits else RiskLimits(),
                   latency=Latency.parse(args.latency), fees=Fees.parse(args.fees) if args.fees else Fees(),
                   card=card_config(args))
    t0 = time.perf_counter()
    ensure_ray(args.workers, args.ray)
    print(f"tickgate backtest: Ray up in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    t0 = time.perf_counter()
    results = map_tasks(run_day, [(str(f.resolve()), spec) for f in feeds], workers=args.workers,
                        address=args.ray, progress=not args.no_progress and sys.stderr.isatty())
    wall = time.perf_counter() - t0
    rows = [r.row for r in results]
    print(table(rows))
    messages = sum(r.messages for r in results)
    busy, cpu = sum(r.seconds for r in results), sum(r.cpu_seconds for r in results)
    print(f"tickgate backtest: {len(rows)} days, {messages:,} messages in {wall:.2f} s "
          f"({messages / wall:,.0f} messages/s; per day {messages / busy:,.0f} messages/s, "
          f"{busy:.2f} s wall and {cpu:.2f} s CPU in the days' tasks)", file=sys.stderr)
    if args.out:
        t0 = time.perf_counter()
        days, fills = write_parquet(results, args.out)
        print(f"wrote {days} and {fills}")
        try:
            plot_equity(results, args.out / "equity.png")
            print(f"equity curve written to {args.out / 'equity.png'}")
        except ImportError as e:
            print(f"tickgate backtest: no equity plot: {e} (pip install matplotlib)", file=sys.stderr)
        print(f"tickgate backtest: output written in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    if args.json:
        print(json.dumps({"days": rows, "totals": totals(rows)}))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `tickgate backtest` on the CLI's subparsers."""
    b = sub.add_parser("backtest", help="a strategy over many days (files), each day a Ray task, "
                                        "with queue-exact fills")
    b.add_argument("feeds", nargs="+", metavar="FEED", help="one file a day: BinaryFILE (plain or .gz) or pcap")
    b.add_argument("--strategy", default="imbalance", help="imbalance, market_maker, or FILE.py")
    b.add_argument("--param", action="append", metavar="KEY=VALUE", help="a strategy parameter (repeatable)")
    b.add_argument("--limits", type=Path, help="risk limits, a JSON object")
    b.add_argument("--latency", default="0:0", metavar="FEED_US:ORDER_US",
                   help="microseconds from an exchange message to the decision, and from it to the exchange")
    b.add_argument("--fees", metavar="TAKE:MAKE", help="dollars per share taking and adding liquidity "
                                                       "(negative: a rebate)")
    b.add_argument("--workers", type=int, help="days at once (default: every CPU of Ray)")
    b.add_argument("--ray", metavar="ADDRESS", help="join this Ray cluster (default: Ray embedded on this machine)")
    b.add_argument("--out", type=Path, help="write days.parquet, fills.parquet and equity.png here")
    b.add_argument("--json", action="store_true", help="end with one JSON line of per-day rows and totals")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_card_arguments(b)
    b.set_defaults(func=cmd_backtest)
    return b
