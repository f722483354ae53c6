"""The `tickgate` command, assembled from one module per subcommand (each registers its own parser)."""

from __future__ import annotations

import gc
import os

# Start-up, which is most of a short command's time: numpy's OpenBLAS starts a thread per core at import, and
# they spin while idle, on a small machine next to the native threads; the host does no linear algebra on its
# paths, so one thread (a user's own setting wins). The cyclic GC is off while the subcommands' modules import
# (nothing they make is garbage) and back on after, past what was imported (gc.freeze).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

#: The subcommands, each a module of this package that registers its own parser (`add_parser`).
SUBCOMMANDS = ("gen", "replay", "sim", "info", "run", "backtest", "verify", "alerts")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of `only` (one of SUBCOMMANDS): a command imports the module of
    its own subcommand, not every other's (start-up is most of a short command's time)."""
    p = argparse.ArgumentParser(prog="tickgate", description="ITCH 5.0 order books on an FPGA, and the host.")
    sub = p.add_subparsers(dest="command", required=True)
    gc.disable()
    try:
        for name in (only,) if only in SUBCOMMANDS else SUBCOMMANDS:
            importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    finally:
        gc.freeze()
        gc.enable()
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as e:
        print(f"tickgate {args.command}: {e}", file=sys.stderr)
        return 2
