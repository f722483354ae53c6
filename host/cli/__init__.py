"""The `tickgate` command, assembled from one module per subcommand (each registers its own parser)."""

from __future__ import annotations

import gc
import os

# Start-up, which is most of a short command's time: numpy's OpenBLAS starts a thread per core at import, and
# they spin while idle, on a small machine next to the native threads; the host does no linear algebra on its
# paths, so one thread (a user's own setting wins). The cyclic GC is off while the subcommands' modules import
# (nothing they make is garbage) and back on at the end of this module, past what was imported (gc.freeze).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
gc.disable()

import argparse  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from . import alerts, backtest, gen, info, replay, run, sim, verify  # noqa: E402

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


gc.freeze()
gc.enable()
