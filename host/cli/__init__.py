"""The `tickgate` command, assembled from one module per subcommand (each registers its own parser)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import alerts, backtest, gen, info, replay, run, sim, verify

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (gen, replay, sim, info, run, backtest, verify, alerts)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tickgate", description="ITCH 5.0 order books on an FPGA, and the host.")
    sub = p.add_subparsers(dest="command", required=True)
    for command in SUBCOMMANDS:
        command.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"tickgate {args.command}: {e}", file=sys.stderr)
        return 2
