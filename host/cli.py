"""The `tickgate` command: generate feeds, replay them through a backend."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tickgate.host.backend import BACKENDS
from tickgate.model.config import CardConfig
from tickgate.model.order_table import OrderTableConfig


def _cmd_gen(args: argparse.Namespace) -> int:
    from tickgate.host.feeds import pack_messages
    from tickgate.host.feeds.generator import Generator
    from tickgate.host.feeds.packet import Packet
    from tickgate.protocol.binaryfile import write_binaryfile
    from tickgate.protocol.pcap import write_pcap

    if args.mix != "day":
        return _gen_stress(args)
    gen = Generator(args.messages, args.symbols, args.seed)
    fmt = args.format or ("pcap" if args.out.suffix in (".pcap", ".pcapng") else "itch50")
    if fmt == "itch50":
        n = write_binaryfile(args.out, iter(gen))
    else:
        packets = (Packet(p) for p in pack_messages(iter(gen), end_of_session=True))
        write_pcap(args.out, packets)
        n = args.messages
    counts = " ".join(f"{t}={c}" for t, c in sorted(gen.counts.items()))
    print(f"wrote {n} messages over {args.symbols} symbols (seed {args.seed}) to {args.out} [{fmt}]")
    print(f"  {counts}")
    return 0


def _gen_stress(args: argparse.Namespace) -> int:
    from tickgate.host.feeds.stress import stress
    from tickgate.protocol.binaryfile import write_binaryfile

    if (args.format or "itch50") != "itch50" or args.out.suffix in (".pcap", ".pcapng"):
        raise ValueError("stress mixes are written as BinaryFILE")
    orders = args.messages // 2
    n = write_binaryfile(args.out, stress(args.mix, orders, args.symbols))
    print(f"wrote {n} messages ({orders} adds, then one {args.mix} for each) over {args.symbols} symbols "
          f"to {args.out} [itch50]")
    return 0


def _config(args: argparse.Namespace) -> CardConfig:
    symbols = frozenset(s.strip().upper() for s in args.symbols.split(",") if s.strip()) if args.symbols else None
    table = None
    if args.order_table:
        bits, ways, stash = (int(x) for x in args.order_table.split(":"))
        table = OrderTableConfig(bucket_bits=bits, ways=ways, stash=stash)
    return CardConfig(symbols=symbols, order_table=table, max_levels=args.max_levels, max_symbols=args.max_symbols,
                      level_events=args.level_events)


def _print_summary(result, out=None) -> None:
    d = result.as_dict()
    print(f"backend      {d['backend']}", file=out)
    print(f"messages     {d['messages']:,}", file=out)
    print(f"events       {d['events']:,}", file=out)
    print(f"seconds      {d['seconds']:.3f}", file=out)
    print(f"msgs/s       {d['msgs_per_s']:,.0f}", file=out)
    for title, table in (("counters", d["counters"]), ("feed", d["feed"])):
        if table:
            print(f"{title}:", file=out)
            width = max(len(k) for k in table)
            for k, v in table.items():
                print(f"  {k:<{width}}  {v:>14,}", file=out)


def _cmd_replay(args: argparse.Namespace) -> int:
    from tickgate.host.replay import replay_file

    if not args.input.exists():
        print(f"tickgate replay: {args.input}: no such file", file=sys.stderr)
        return 2
    progress = not args.no_progress and sys.stderr.isatty()
    result = replay_file(args.input, args.backend, _config(args), events_path=args.events, progress=progress)
    _print_summary(result)
    if args.events:
        print(f"events written to {args.events}")
    if args.json:
        print(json.dumps(result.as_dict()))
    return 0


def _cmd_sim(args: argparse.Namespace) -> int:
    from tickgate.sim.decoder_run import run, stimulus_from_file

    if not args.input.exists():
        print(f"tickgate sim: {args.input}: no such file", file=sys.stderr)
        return 2
    if args.stage == "pipeline":
        from tickgate.host.sim_pipeline_cli import run_pipeline_stage

        return run_pipeline_stage(args)
    if args.input_path == "dma":
        raise ValueError("the DMA input is the pipeline's (--stage pipeline)")
    network = {"auto": None, "network": True, "direct": False}[args.input_path]
    stim = stimulus_from_file(args.input, network=network, ignore_ip_checksum=args.ignore_ip_checksum)
    print(f"simulating the {stim.top} RTL on {len(stim.packets):,} packets ({stim.messages:,} messages) ...",
          file=sys.stderr)
    result = run(stim, seed=args.seed, idle=args.idle, stall=args.stall, waves=args.wave)
    s = result.summary()
    lat = s["latency_cycles"]
    print(f"stage        {s['stage']} ({s['top']} top)")
    print(f"messages     {s['messages']:,}")
    print(f"records      {s['records']:,} (reference {s['expected_records']:,})")
    print(f"mismatches   {s['mismatches']:,}")
    for line in result.mismatches[:10]:
        print(f"  {line}")
    print(f"cycles       {s['cycles']:,}")
    print(f"bytes/cycle  {s['bytes_per_cycle']:.3f} accepted (of 8)")
    print(f"latency      min {lat['min']}  median {lat['median']}  max {lat['max']} cycles "
          "(beat holding a message's last byte -> its record)")
    print(f"sim speed    {s['sim_cycles_per_second']:,} cycles/s")
    if args.wave:
        print(f"waveform     {args.wave}")
    if args.json:
        print(json.dumps(s))
    return 0 if not result.mismatches else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tickgate", description="ITCH 5.0 order books on an FPGA, and the host.")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("gen", help="generate a realistic ITCH 5.0 feed (BinaryFILE or pcap)")
    g.add_argument("out", type=Path)
    g.add_argument("--messages", type=int, default=100_000)
    g.add_argument("--symbols", type=int, default=100)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--format", choices=("itch50", "pcap"), help="default: from OUT's suffix")
    g.add_argument("--mix", choices=("day", "D", "X", "E", "U"), default="day",
                   help="day: a realistic trading day (default); D X E U: half adds, then one delete, cancel, "
                        "execution or replace for each (throughput worst cases)")
    g.set_defaults(func=_cmd_gen)

    r = sub.add_parser("replay", help="replay a BinaryFILE (plain or .gz) or pcap through a backend")
    r.add_argument("input", type=Path)
    r.add_argument("--backend", default="model", choices=BACKENDS)
    r.add_argument("--events", type=Path,
                   help="write the events here: .npy of the event dtype, or .parquet of decoded columns")
    r.add_argument("--json", action="store_true", help="end with one JSON line of the summary")
    r.add_argument("--symbols", help="comma-separated symbols to track (default: all)")
    r.add_argument("--order-table", metavar="BITS:WAYS:STASH",
                   help="the gateware's hashed order table: two banks of 2**BITS buckets of WAYS entries and a "
                        "STASH (default: unbounded)")
    r.add_argument("--max-levels", type=int, help="price levels per side (default: unbounded)")
    r.add_argument("--max-symbols", type=int, help="book slots (default: unbounded)")
    r.add_argument("--level-events", action="store_true",
                   help="emit a price-level (L) event for every change within the --max-levels held (at most 255)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_replay)

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
    __import__("tickgate.host.sim_pipeline_cli", fromlist=["add_arguments"]).add_arguments(s)
    s.set_defaults(func=_cmd_sim)
    __import__("tickgate.host.info", fromlist=["add_parser"]).add_parser(sub)
    __import__("tickgate.host.run_cli", fromlist=["add_parser"]).add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"tickgate {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
