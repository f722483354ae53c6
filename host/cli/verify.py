"""`tickgate verify FILE...`: a backend (the Verilated pipeline) against the model, shard by shard on Ray."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tickgate.host.verify import GEOMETRIES

from .args import add_card_arguments, card_config

__all__ = ["add_parser", "cmd_verify"]


def _line(r: dict) -> str:
    first = r["first_mismatch"]
    where = f"first at event {first['event']} (message {first['message']})" if first else ""
    counters = f"counters differ: {', '.join(sorted(r['counter_mismatches']))}" if r["counter_mismatches"] else ""
    verdict = "ok" if r["ok"] else "MISMATCH"
    return (f"{r['file']} shard {r['shard']}/{r['shards']}: {r['messages']:,} messages, {r['events']:,} events, "
            f"{r['mismatched_events']:,} differ {verdict} {where} {counters}".rstrip())


def cmd_verify(args: argparse.Namespace) -> int:
    from tickgate.host.parallel import ensure_ray, map_tasks
    from tickgate.host.verify import ShardSpec, balance, prepare, verify_shard

    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"no such file: {', '.join(missing)}")
    if args.shards < 1:
        raise ValueError(f"--shards must be at least 1, not {args.shards}")
    geometry = GEOMETRIES[args.geometry]
    config = card_config(args, bounded=geometry)
    t0 = time.perf_counter()
    ensure_ray(args.workers, args.ray)  # its workers start while the image is found here
    print(f"tickgate verify: Ray up in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    if args.backend == "sim":
        t0 = time.perf_counter()
    spec = prepare(ShardSpec(backend=args.backend, config=config, geometry=geometry))  # once, not in every task
    if args.backend == "sim":
        print(f"tickgate verify: image {Path(spec.library or '').parent.name} in {time.perf_counter() - t0:.2f} s",
              file=sys.stderr)
    t0 = time.perf_counter()
    jobs = []
    for f in files:
        assign = balance(f, args.shards) if args.balance and args.shards > 1 else None
        jobs += [(str(f.resolve()), shard, args.shards, spec, assign) for shard in range(args.shards)]
    if args.balance and args.shards > 1:
        print(f"tickgate verify: shards balanced in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    t0 = time.perf_counter()
    reports = map_tasks(verify_shard, jobs, workers=args.workers, address=args.ray, desc="shards",
                        progress=not args.no_progress and sys.stderr.isatty())
    wall = time.perf_counter() - t0
    for r in reports:
        print(_line(r))
        first = r["first_mismatch"]
        if first:
            print(f"  backend: {first['backend']}\n  model:   {first['model']}")
    messages = sum(r["messages"] for r in reports)  # feed-wide (locate 0) messages count in every shard
    bad = [r for r in reports if not r["ok"]]
    print(f"tickgate verify: {len(files)} files, {len(reports)} shards, {len(bad)} with mismatches; "
          f"{messages:,} shard messages in {wall:.2f} s ({messages / wall:,.0f} messages/s; "
          f"{sum(r['seconds'] for r in reports):.2f} s wall and {sum(r['cpu_seconds'] for r in reports):.2f} s CPU "
          f"in the shards' tasks)", file=sys.stderr)
    if args.json:
        print(json.dumps({"shards": reports, "mismatched_shards": len(bad), "seconds": round(wall, 3)}))
    return 1 if bad else 0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `tickgate verify` on the CLI's subparsers."""
    v = sub.add_parser("verify", help="check a backend (the Verilated pipeline) against the reference model on "
                                      "whole days, split by symbol into shards run on Ray")
    v.add_argument("files", nargs="+", metavar="FILE", help="BinaryFILE (plain or .gz) or pcap; several run at once")
    v.add_argument("--backend", default="sim", choices=("sim", "software"),
                   help="what to check against the model (default: sim, the Verilated pipeline)")
    v.add_argument("--shards", type=int, default=2, help="streams per file, by stock locate (default 2)")
    v.add_argument("--no-balance", dest="balance", action="store_false",
                   help="shard by locate %% N, not by messages counted per locate (see host/verify.py)")
    v.add_argument("--geometry", default="small", choices=("small", "default"),
                   help="the pipeline image's capacities (default: small, the tests' image)")
    v.add_argument("--workers", type=int, help="shards at once (default: every CPU of Ray)")
    v.add_argument("--ray", metavar="ADDRESS", help="join this Ray cluster (default: Ray embedded on this machine)")
    v.add_argument("--json", action="store_true", help="end with one JSON line of every shard's report")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_card_arguments(v, bounded=GEOMETRIES["small"])
    v.set_defaults(func=cmd_verify)
    return v
