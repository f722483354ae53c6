"""`tickgate sim --stage pipeline`: the whole pipeline RTL on a feed, compared event by event with the model.

`--armed RULES.json` (or `--rules`) arms a rule table (`protocol.rules`; the file `tickgate run --rules`
takes) in a pipeline built with a rule engine of `--max-rules` entries, and reports the fires and the
latency from the triggering message's last byte to its first FIRE event."""

from __future__ import annotations

import argparse
import json
import sys

from tickgate.protocol.config import BookGeometry, CardConfig
from tickgate.protocol.events import EventKind

from .args import card_config

__all__ = ["add_arguments", "report", "run_pipeline_stage"]


def add_arguments(s: argparse.ArgumentParser) -> None:
    """The pipeline stage's own options (the card's capacities are the shared group's, bounded by
    `BookGeometry()`'s; a new geometry builds a new simulator)."""
    g = s.add_argument_group("pipeline stage")
    g.add_argument("--names", type=int, default=BookGeometry().names,
                   help="symbol-name table entries (default %(default)s)")
    g.add_argument("--armed", metavar="RULES.json",
                   help="arm these rules (as --rules) in a pipeline with a rule engine of --max-rules entries; "
                        "report the fires and the latency to them (implies --stage pipeline)")


def _geometry(args: argparse.Namespace) -> tuple[BookGeometry, CardConfig]:
    config = card_config(args, bounded=BookGeometry())
    assert config.max_symbols is not None and config.max_levels is not None and config.order_table is not None
    geometry = BookGeometry(symbols=config.max_symbols, levels=config.max_levels, names=args.names,
                            order_table=config.order_table)
    return geometry, config


def run_pipeline_stage(args: argparse.Namespace) -> int:
    from tickgate.host.feeds import BinaryFileFeed, open_feed
    from tickgate.protocol.pcap import PcapReader
    from tickgate.sim.pipeline_run import RunConfig, pipeline_stimulus, run_pipeline

    geometry, card = _geometry(args)
    symbols = tuple(sorted(card.symbols)) if card.symbols is not None else None
    if symbols is not None and len(symbols) > geometry.names:
        raise ValueError(f"{len(symbols)} symbols do not fit a name table of {geometry.names}")
    armed = bool(card.rules)  # a rule engine only when rules are armed: other runs keep their build
    config = RunConfig(symbols=symbols, level_events=card.level_events, ignore_ip_checksum=args.ignore_ip_checksum,
                       max_rules=card.max_rules if armed else 0, rules=card.rules)
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
    print(f"stage        pipeline ({input} input)")
    print(f"messages     {s['messages']:,}")
    print(f"events       {s['events']:,} (reference {s['expected_events']:,})")
    bbo, fire = s["latency_bbo_cycles"], s["latency_fire_cycles"]
    extra = [f"latency BBO  min {bbo['min']}  median {bbo['median']}  max {bbo['max']} cycles "
             "(add, execution, cancel, delete, replace -> its top-of-book event)"]
    if armed:
        expected = int((stim.events["kind"] == EventKind.FIRE).sum())
        extra += [f"rules        {sum(r is not None for r in card.rules)} armed of {card.max_rules} entries",
                  f"fired        {s['fired']:,} (reference {expected:,})",
                  f"latency fire min {fire['min']}  median {fire['median']}  max {fire['max']} cycles "
                  "(the triggering message's last byte -> its first FIRE event)"]
    return report(result, args, "its first event", *extra)


def report(result, args: argparse.Namespace, latency_to: str, *extra: str) -> int:
    """The end of a stage's report, after its counts: mismatches (the first ten), cycles, bytes per cycle, the
    latency from the beat holding a message's last byte to `latency_to`, `extra` lines, simulation speed,
    waveform, `--json`; the exit status (1 on any mismatch)."""
    s = result.summary()
    lat = s["latency_cycles"]
    print(f"mismatches   {s['mismatches']:,}")
    for line in result.mismatches[:10]:
        print(f"  {line}")
    print(f"cycles       {s['cycles']:,}")
    print(f"bytes/cycle  {s['bytes_per_cycle']:.3f} accepted (of 8)")
    print(f"latency      min {lat['min']}  median {lat['median']}  max {lat['max']} cycles "
          f"(beat holding a message's last byte -> {latency_to})")
    for line in extra:
        print(line)
    print(f"sim speed    {s['sim_cycles_per_second']:,} cycles/s")
    if args.wave:
        print(f"waveform     {args.wave}")
    if args.json:
        print(json.dumps(s))
    return 0 if not result.mismatches else 1
