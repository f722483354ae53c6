"""Argument groups shared by the subcommands: the card's configuration and the feed source."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from tickgate.protocol.config import LINE_WINDOW, MAX_LINE_WINDOW, BookGeometry, CardConfig, OrderTableConfig
from tickgate.protocol.packet import Packet
from tickgate.protocol.rules import load_rules

__all__ = ["add_alert_arguments", "add_card_arguments", "add_source_arguments", "card_config", "is_live",
           "open_source_of", "symbol_set", "two_lines"]

SOURCES = "BinaryFILE (plain or .gz), pcap, udp://GROUP:PORT[@IFACE], or gen:MESSAGES:SYMBOLS[:SEED]"


def add_card_arguments(p: argparse.ArgumentParser, *, bounded: BookGeometry | None = None) -> None:
    """The card's configuration: symbols to track and capacities (`card_config` reads them back).

    `bounded`: the capacities are an image's, and default to this geometry's (the simulated pipeline)."""
    g = p.add_argument_group("card configuration")
    unbounded = "unbounded" if bounded is None else None
    g.add_argument("--symbols", help="comma-separated symbols to track, case-insensitive (default: all)")
    table = bounded.order_table if bounded is not None else None
    g.add_argument("--order-table", metavar="BITS:WAYS:STASH",
                   help="the gateware's hashed order table: two banks of 2**BITS buckets of WAYS entries and a "
                        "STASH (default: " + (unbounded or f"{table.bucket_bits}:{table.ways}:{table.stash}") + ")")
    g.add_argument("--max-levels", type=int,
                   help=f"price levels per side (default: {unbounded or bounded.levels})")
    g.add_argument("--max-symbols", type=int, help=f"book slots (default: {unbounded or bounded.symbols})")
    g.add_argument("--level-events", action="store_true",
                   help="emit a price-level (L) event for every change within the --max-levels held (at most 255)")
    g.add_argument("--rules", metavar="RULES.json",
                   help="rules armed in the card from the start (protocol/rules.py: a list of {index, locate, "
                        "condition, threshold, side, shares, price, price_mode, tif, tag, fires})")
    g.add_argument("--max-rules", type=int, default=64, help="entries of the card's rule table (default: 64)")


def add_alert_arguments(p: argparse.ArgumentParser) -> None:
    """Alert thresholds (`tickgate.host.alerts.thresholds_of_args` reads them back)."""
    g = p.add_argument_group("alerts")
    g.add_argument("--alert", action="append", metavar="METRIC=LIMIT",
                   help="alert while METRIC is above LIMIT, e.g. tick_to_order_p99_us=50 or fanout_dropped=0 "
                        "(repeatable; over the file's)")
    g.add_argument("--alerts", metavar="FILE", help="alert thresholds, a TOML file with a [thresholds] table")


def symbol_set(spec: str | None) -> frozenset[str] | None:
    """`A,b, C` -> {"A", "B", "C"}; None or empty: None (all)."""
    if not spec:
        return None
    return frozenset(s.strip().upper() for s in spec.split(",") if s.strip()) or None


def card_config(args: argparse.Namespace, *, bounded: BookGeometry | None = None) -> CardConfig:
    """The `CardConfig` of `add_card_arguments`' options (capacities from `bounded` where not given)."""
    table = OrderTableConfig.parse(args.order_table) if args.order_table else None
    levels, symbols = args.max_levels, args.max_symbols
    if bounded is not None:
        table = table or bounded.order_table
        levels = bounded.levels if levels is None else levels
        symbols = bounded.symbols if symbols is None else symbols
    window = getattr(args, "line_window", LINE_WINDOW) if two_lines(args) else None
    rules = load_rules(args.rules) if getattr(args, "rules", None) else ()
    return CardConfig(symbols=symbol_set(args.symbols), order_table=table, max_levels=levels, max_symbols=symbols,
                      level_events=args.level_events, line_window=window, max_rules=getattr(args, "max_rules", 64),
                      rules=rules)


def two_lines(args: argparse.Namespace) -> bool:
    """Whether the source is two lines, A and B (`--line-b`, or `udp://A,B`)."""
    source = getattr(args, "source", "") or ""
    return bool(getattr(args, "line_b", None)) or (source.startswith("udp://") and "," in source)


def add_source_arguments(p: argparse.ArgumentParser, *, flag: str | None = None, lines: bool = True) -> None:
    """Where packets come from: a positional SOURCE (or `flag`, e.g. `--feed`), and the live feed's options;
    with `lines`, a line B (`--line-b`) and the arbiter's window."""
    if flag is None:
        p.add_argument("source", metavar="SOURCE", help=SOURCES)
    else:
        p.add_argument(flag, dest="source", metavar="SOURCE", required=True, help=SOURCES)
    p.add_argument("--allow-truncated", action="store_true",
                   help="a gzip BinaryFILE cut short (a partial download) is replayed up to the cut, not an error")
    if lines:
        _add_line_arguments(p)
    g = p.add_argument_group("live feed (udp://)")
    g.add_argument("--rerequest", metavar="HOST:PORT", help="MoldUDP64 re-request server of a udp:// feed")
    g.add_argument("--idle-timeout", type=float, default=5.0, help="udp:// feed: end after this many idle seconds")
    g.add_argument("--udp-receiver", choices=("native", "python"), default="native",
                   help="udp:// feed: received in C++ (recvmmsg, kernel receive times; default) or by the Python "
                        "reference receiver")


def _add_line_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--line-b", metavar="SOURCE",
                   help="line B of the same stream (SOURCE is line A): the card arbitrates the two (A/B lines)")
    p.add_argument("--line-window", type=int, default=LINE_WINDOW, metavar="PACKETS",
                   help=f"A/B lines: packets one line may run ahead while the card waits for the other's copy of "
                        f"what it lost, 0 to {MAX_LINE_WINDOW} (default {LINE_WINDOW})")


def open_source_of(args: argparse.Namespace) -> Iterable[Packet]:
    """The feed of `add_source_arguments`' options."""
    from tickgate.host.feeds.sources import open_source

    def one(source: str) -> Iterable[Packet]:
        return open_source(source, rerequest=args.rerequest, idle_timeout_s=args.idle_timeout,
                           allow_truncated=args.allow_truncated, udp_receiver=args.udp_receiver)

    if getattr(args, "line_b", None):
        from tickgate.host.feeds.lines import MergedLines

        return MergedLines(one(args.source), one(args.line_b))
    return one(args.source)


def is_live(args: argparse.Namespace) -> bool:
    """Whether the source is a live feed (udp://): its packets keep their receive times, no progress bar."""
    return args.source.startswith("udp://")
