"""`tickgate replay`: a feed through a backend, events to a file, counters and speed to a summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tickgate.host.backend import BACKENDS, open_backend

from .args import add_card_arguments, add_source_arguments, card_config, is_live, open_source_of, two_lines

__all__ = ["add_parser"]


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


def _is_file(args: argparse.Namespace) -> bool:
    """Whether the source is one file (read by the native reader), not a generator, a live feed or two lines
    (merged by `feeds.lines` in Python)."""
    return not (args.source.startswith("gen:") or is_live(args) or two_lines(args))


def _cmd_replay(args: argparse.Namespace) -> int:
    from tickgate.host.replay import replay, replay_file

    progress = not args.no_progress and sys.stderr.isatty() and not is_live(args)
    if _is_file(args):
        if not Path(args.source).exists():
            raise ValueError(f"feed {args.source}: no such file (or use gen:MESSAGES:SYMBOLS:SEED, "
                             "udp://GROUP:PORT)")
        backend = open_backend(args.backend, card_config(args))
        result = replay_file(args.source, backend, events_path=args.events, progress=progress,
                             allow_truncated=args.allow_truncated)
    else:
        feed = open_source_of(args)
        backend = open_backend(args.backend, card_config(args))
        result = replay(feed, backend, events_path=args.events, progress=progress)
    _print_summary(result)
    if args.events:
        print(f"events written to {args.events}")
    if args.json:
        print(json.dumps(result.as_dict()))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `tickgate replay`."""
    r = sub.add_parser("replay", help="replay a feed (file, generator or udp://) through a backend")
    add_source_arguments(r)
    r.add_argument("--backend", default="model", choices=BACKENDS)
    r.add_argument("--events", type=Path,
                   help="write the events here: .npy of the event dtype, or .parquet of decoded columns")
    r.add_argument("--json", action="store_true", help="end with one JSON line of the summary")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_card_arguments(r)
    r.set_defaults(func=_cmd_replay)
    return r
