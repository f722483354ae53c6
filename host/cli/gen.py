"""`tickgate gen`: a realistic ITCH 5.0 feed (BinaryFILE or pcap), or a throughput worst case."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser"]


def _cmd_gen(args: argparse.Namespace) -> int:
    from tickgate.host.feeds import pack_messages
    from tickgate.host.feeds.generator import Generator
    from tickgate.protocol.binaryfile import write_binaryfile
    from tickgate.protocol.packet import Packet
    from tickgate.protocol.pcap import write_pcap

    if args.mix != "day":
        return _gen_stress(args)
    gen = Generator(args.messages, args.symbols, args.seed)
    fmt = args.format or ("pcap" if args.out.suffix in (".pcap", ".pcapng") else "itch50")
    if args.lines == 2:
        return _gen_lines(args, gen, fmt)
    if args.loss:
        raise ValueError("--loss is the loss of each of two lines: give --lines 2")
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


def line_paths(out: Path) -> tuple[Path, Path]:
    """The files of lines A and B of `tickgate gen OUT --lines 2`: OUT's name with -A and -B before its suffix."""
    return out.with_name(f"{out.stem}-A{out.suffix}"), out.with_name(f"{out.stem}-B{out.suffix}")


def _gen_lines(args: argparse.Namespace, gen, fmt: str) -> int:
    from tickgate.host.feeds import pack_messages
    from tickgate.host.feeds.lines import two_lines
    from tickgate.protocol.pcap import write_pcap

    if fmt != "pcap":
        raise ValueError("two lines are written as pcap (each packet with its receive time): give OUT.pcap")
    lines = two_lines(list(pack_messages(iter(gen), end_of_session=True)), args.loss, args.seed)
    n = len(lines.a) + len(lines.lost_a)
    for path, packets, lost, dst in zip(line_paths(args.out), (lines.a, lines.b), (lines.lost_a, lines.lost_b),
                                        (("233.54.12.111", 26477), ("233.54.12.112", 26478)), strict=True):
        write_pcap(path, packets, dst=dst)
        print(f"wrote {len(packets)} of {n} packets ({len(lost)} lost) to {path} [pcap]")
    print(f"{args.messages} messages over {args.symbols} symbols (seed {args.seed}), loss {args.loss} per line: "
          f"{len(lines.lost_both)} packets lost on both lines")
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


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `tickgate gen`."""
    g = sub.add_parser("gen", help="generate a realistic ITCH 5.0 feed (BinaryFILE or pcap)")
    g.add_argument("out", type=Path)
    g.add_argument("--messages", type=int, default=100_000)
    g.add_argument("--symbols", type=int, default=100)
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--format", choices=("itch50", "pcap"), help="default: from OUT's suffix")
    g.add_argument("--mix", choices=("day", "D", "X", "E", "U"), default="day",
                   help="day: a realistic trading day (default); D X E U: half adds, then one delete, cancel, "
                        "execution or replace for each (throughput worst cases)")
    g.add_argument("--lines", type=int, choices=(1, 2), default=1,
                   help="2: lines A and B of the stream, as OUT-A.pcap and OUT-B.pcap (B 250 ns after A)")
    g.add_argument("--loss", type=float, default=0.0,
                   help="with --lines 2: each packet is lost on each line with this probability, independently "
                        "(seeded by --seed)")
    g.set_defaults(func=_cmd_gen)
    return g
