"""`tickgate sim --stage pipeline`: the whole pipeline RTL on a feed, compared event by event with the model."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from tickgate.model.order_table import OrderTableConfig

if TYPE_CHECKING:
    from tickgate.hdl.book.engine import BookGeometry

__all__ = ["add_arguments", "run_pipeline_stage"]


def add_arguments(s: argparse.ArgumentParser) -> None:
    """The pipeline stage's options (the geometry is a build parameter; a new one builds a new simulator).

    Defaults are BookGeometry's, taken when the stage runs: building the parser does not import Amaranth.
    """
    g = s.add_argument_group("pipeline stage")
    g.add_argument("--max-symbols", type=int, help="book slots (default: BookGeometry's)")
    g.add_argument("--max-levels", type=int, help="price levels per side (default: BookGeometry's)")
    g.add_argument("--names", type=int, help="symbol-name table entries (default: BookGeometry's)")
    g.add_argument("--order-table", metavar="BITS:WAYS:STASH", help="order table geometry (default: BookGeometry's)")
    g.add_argument("--symbols", help="comma-separated symbols to track, written to the name table (default: all)")
    g.add_argument("--no-level-events", action="store_true", help="no price-level (L) events")


def _geometry(args: argparse.Namespace) -> BookGeometry:
    from tickgate.hdl.book.engine import BookGeometry

    default = BookGeometry()
    table = default.order_table
    if args.order_table:
        bits, ways, stash = (int(x) for x in args.order_table.split(":"))
        table = OrderTableConfig(bucket_bits=bits, ways=ways, stash=stash)
    return BookGeometry(symbols=default.symbols if args.max_symbols is None else args.max_symbols,
                        levels=default.levels if args.max_levels is None else args.max_levels,
                        names=default.names if args.names is None else args.names, order_table=table)


def run_pipeline_stage(args: argparse.Namespace) -> int:
    from tickgate.host.feeds import BinaryFileFeed, open_feed
    from tickgate.protocol.pcap import PcapReader
    from tickgate.sim.pipeline_run import RunConfig, pipeline_stimulus, run_pipeline

    geometry = _geometry(args)
    symbols = tuple(s.strip() for s in args.symbols.split(",")) if args.symbols else None
    if symbols is not None and len(symbols) > geometry.names:
        raise ValueError(f"{len(symbols)} symbols do not fit a name table of {geometry.names}")
    config = RunConfig(symbols=symbols, level_events=not args.no_level_events,
                       ignore_ip_checksum=args.ignore_ip_checksum)
    feed = open_feed(args.input)
    input = {"auto": "packets", "direct": "packets", "network": "network", "dma": "dma"}[args.input_path]
    if input == "network":
        if isinstance(feed, BinaryFileFeed):
            raise ValueError("a BinaryFILE holds no Ethernet frames: the network input needs a pcap")
        packets = [frame for _ts, frame in PcapReader(args.input).ethernet_frames()]
    else:
        packets = [p.payload for p in feed]
    stim = pipeline_stimulus(packets, geometry, config, input=input)
    print(f"simulating the pipeline RTL ({input} input) on {len(stim.packets):,} packets ({stim.messages:,} "
          "messages); a new geometry builds its simulator first (minutes) ...", file=sys.stderr)
    result = run_pipeline([stim], geometry, config, seed=args.seed, idle=args.idle, stall=args.stall,
                          waves=args.wave)[0]
    s = result.summary()
    lat, bbo = s["latency_cycles"], s["latency_bbo_cycles"]
    print(f"stage        pipeline ({input} input)")
    print(f"messages     {s['messages']:,}")
    print(f"events       {s['events']:,} (reference {s['expected_events']:,})")
    print(f"mismatches   {s['mismatches']:,}")
    for line in result.mismatches[:10]:
        print(f"  {line}")
    print(f"cycles       {s['cycles']:,}")
    print(f"bytes/cycle  {s['bytes_per_cycle']:.3f} accepted (of 8)")
    print(f"latency      min {lat['min']}  median {lat['median']}  max {lat['max']} cycles "
          "(beat holding a message's last byte -> its first event)")
    print(f"latency BBO  min {bbo['min']}  median {bbo['median']}  max {bbo['max']} cycles "
          "(add, execution, cancel, delete, replace -> its top-of-book event)")
    print(f"sim speed    {s['sim_cycles_per_second']:,} cycles/s")
    if args.wave:
        print(f"waveform     {args.wave}")
    if args.json:
        print(json.dumps(s))
    return 0 if not result.mismatches else 1
