"""`tickgate sim`: gateware (Verilator + cocotb) on a feed, compared with the model: the decoder stage here,
the whole pipeline in `sim_pipeline`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tickgate.protocol.config import BookGeometry

from . import sim_pipeline
from .args import add_card_arguments

__all__ = ["add_parser"]


def _cmd_sim(args: argparse.Namespace) -> int:
    from tickgate.sim.decoder_run import run, stimulus_from_file

    if not args.input.exists():
        print(f"tickgate sim: {args.input}: no such file", file=sys.stderr)
        return 2
    if args.armed:
        if args.rules and args.rules != args.armed:
            raise ValueError("--armed and --rules name different rule files: give one")
        args.rules, args.stage = args.armed, "pipeline"
    if args.rules and args.stage != "pipeline":
        raise ValueError("rules are armed in the pipeline's rule engine: --stage pipeline (or --armed RULES.json)")
    if args.stage == "pipeline":
        return sim_pipeline.run_pipeline_stage(args)
    if args.input_path == "dma":
        raise ValueError("the DMA input is the pipeline's (--stage pipeline)")
    network = {"auto": None, "network": True, "direct": False}[args.input_path]
    stim = stimulus_from_file(args.input, network=network, ignore_ip_checksum=args.ignore_ip_checksum)
    print(f"simulating the {stim.top} RTL on {len(stim.packets):,} packets ({stim.messages:,} messages) ...",
          file=sys.stderr)
    result = run(stim, seed=args.seed, idle=args.idle, stall=args.stall, waves=args.wave)
    s = result.summary()
    print(f"stage        {s['stage']} ({s['top']} top)")
    print(f"messages     {s['messages']:,}")
    print(f"records      {s['records']:,} (reference {s['expected_records']:,})")
    return sim_pipeline.report(result, args, "its record")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `tickgate sim`."""
    s = sub.add_parser("sim", help="run gateware (Verilator + cocotb) on a feed and compare with the model")
    s.add_argument("input", type=Path, help="BinaryFILE (plain or .gz) or pcap")
    s.add_argument("--stage", default="decoder", choices=("decoder", "pipeline"),
                   help="the decoder (records) or the whole pipeline (book events)")
    s.add_argument("--wave", help="write a waveform: FILE.vcd, or FILE.fst (needs liblz4-dev)")
    s.add_argument("--json", action="store_true", help="end with one JSON line of the summary")
    s.add_argument("--input-path", choices=("auto", "network", "direct", "dma"), default="auto",
                   help="pcap: Ethernet frames through the front end (network; the decoder stage's default) or "
                        "the captured UDP payloads straight into the decoder (direct; the pipeline's default); "
                        "dma: the pipeline's F1 input (DMA-framed packets)")
    s.add_argument("--ignore-ip-checksum", action="store_true",
                   help="accept IPv4 headers whose checksum fails (anonymised captures)")
    s.add_argument("--idle", type=float, default=0.0, help="probability of a gap in input valid (default 0)")
    s.add_argument("--stall", type=float, default=0.0, help="probability of back-pressure on the output")
    s.add_argument("--seed", type=int, default=1)
    add_card_arguments(s, bounded=BookGeometry())
    sim_pipeline.add_arguments(s)
    s.set_defaults(func=_cmd_sim)
    return s
