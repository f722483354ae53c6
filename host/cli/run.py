"""`tickgate run`: a strategy on a feed, through risk, to an exchange; summary, JSON, plot."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tickgate.host.backend import BACKENDS, open_backend
from tickgate.host.credentials import OUCH_PASSWORD_ENV, resolve_secret
from tickgate.host.exchange import FixOptions, open_exchange

from .args import add_alert_arguments, add_card_arguments, add_source_arguments, card_config, is_live, open_source_of

__all__ = ["add_parser", "cmd_run"]


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _limit_values(d: dict[str, str]) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for k, v in d.items():
        try:
            out[k] = float(v) if "." in v or "e" in v.lower() else int(v)
        except ValueError:
            raise ValueError(f"--limit {k}={v}: not a number") from None
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from tickgate.host.risk import RiskLimits
    from tickgate.host.strategy import load_strategy

    backend = open_backend(args.backend, card_config(args))
    strategy = load_strategy(args.strategy, _pairs(args.param, "--param"))
    limits = RiskLimits.from_file(args.limits) if args.limits else RiskLimits()
    if args.limit:
        limits = RiskLimits.from_dict(limits.as_dict() | _limit_values(_pairs(args.limit, "--limit")))
    feed = open_source_of(args)
    warnings: list[str] = []
    password = resolve_secret(file=args.ouch_password_file, env_var=OUCH_PASSWORD_ENV, value=args.ouch_password,
                              warn=warnings)
    for warning in warnings:
        print(f"tickgate run: warning: {warning}", file=sys.stderr)
    fix = FixOptions(args.fix_settings, args.fix_sender, args.fix_target, args.fix_heartbeat, args.fix_store,
                     args.fix_log)
    if args.sim_busy_poll and args.exchange not in ("sim", "fix:sim"):
        raise ValueError("--sim-busy-poll is an option of the local simulator: --exchange sim or fix:sim")
    qos = None
    if args.cpu_dma_latency is not None:  # held for the run's life, released however it ends
        from tickgate.host.pmqos import CpuDmaLatency

        try:
            qos = CpuDmaLatency(args.cpu_dma_latency).open()
        except OSError as exc:
            raise ValueError(f"--cpu-dma-latency {args.cpu_dma_latency}: cannot hold the limit: {exc}") from None
        print(f"tickgate run: CPU wake-up latency limit {qos.us} us held on {qos.path} for the run (idle cores "
              f"poll instead of halting)", file=sys.stderr)
    try:
        return _run(args, backend, strategy, limits, feed, password, fix, qos.us if qos is not None else None)
    finally:
        if qos is not None:
            qos.close()


def _run(args: argparse.Namespace, backend, strategy, limits, feed, password, fix, qos_us: int | None) -> int:
    from tickgate.host.metrics import plot_latencies, summary_table
    from tickgate.host.run import Runner, RunOptions

    gateway, exchange, ex_note = open_exchange(args.exchange, user=args.ouch_user, password=password,
                                               order_path=args.order_path, fix=fix, sim_busy_poll=args.sim_busy_poll,
                                               trader_cpu=args.cpu)
    print(f"tickgate run: {backend.name} backend, strategy {strategy.name}, exchange {ex_note}", file=sys.stderr)
    live = is_live(args)
    from tickgate.host.alerts import thresholds_of_args

    alerts = thresholds_of_args(args)
    if alerts:  # raised and cleared alike on stderr
        import logging

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("tickgate run: %(message)s"))
        alert_log = logging.getLogger("tickgate.alerts")
        alert_log.addHandler(handler)
        alert_log.setLevel(logging.INFO)
        alert_log.propagate = False
    tracing = None
    if args.otlp:
        from tickgate.host.tracing import OrderTracing

        tracing = OrderTracing(otlp=args.otlp, sample=1.0 if args.trace_sample is None else args.trace_sample)
    elif args.trace_sample is not None:
        raise ValueError("--trace-sample needs --otlp URL (tracing is off without an endpoint)")
    opts = RunOptions(restamp=not live, batch_packets=args.batch_packets, fanout=args.fanout,
                      fanout_wait=args.fanout_wait, shm=args.shm, shm_records=args.shm_records,
                      control=args.control, prometheus_port=args.prometheus,
                      limits_path=str(args.limits) if args.limits else None, cpu=args.cpu,
                      progress=not args.no_progress and sys.stderr.isatty() and not live, alerts=tuple(alerts),
                      tracing=tracing)
    runner = Runner(feed, backend, strategy, gateway, exchange=exchange, limits=limits, options=opts)
    for what, part in (("fan-out", runner.publisher), ("control", runner.control)):
        if part is not None:
            print(f"tickgate run: {what} on {part.endpoint}", file=sys.stderr)
    if runner.shm is not None:
        p = runner.shm.producer
        print(f"tickgate run: shared-memory ring /dev/shm/{p.name}, {p.capacity} records"
              + (f" (taken over: epoch {p.epoch})" if p.reopened else ""), file=sys.stderr)
    if runner.prometheus is not None:
        print(f"tickgate run: metrics on {runner.prometheus.url}", file=sys.stderr)
    try:
        summary = runner.run()
    finally:
        runner.close()
        if exchange is not None and exchange is not gateway:
            exchange.close()
    if qos_us is not None or args.sim_busy_poll:  # the run's wake-up tuning beside its latencies
        summary["tuning"] = {"cpu_dma_latency_us": qos_us, "sim_busy_poll": args.sim_busy_poll}
    print(summary_table(summary))
    if args.plot:
        try:
            plot_latencies(runner.metrics, args.plot)
            print(f"latency plot written to {args.plot}")
        except ImportError as e:
            print(f"tickgate run: no latency plot: {e} (pip install matplotlib)", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register `tickgate run` on the CLI's subparsers."""
    r = sub.add_parser("run", help="run a strategy on a feed through risk to an exchange (the trading host)")
    add_source_arguments(r, flag="--feed")
    r.add_argument("--strategy", default="imbalance", help="imbalance, market_maker, or FILE.py")
    r.add_argument("--param", action="append", metavar="KEY=VALUE", help="a strategy parameter (repeatable)")
    r.add_argument("--backend", default="auto", choices=BACKENDS)
    r.add_argument("--exchange", default="sim", help="sim (local simulator over OUCH), paper (in-process), "
                                                      "HOST:PORT of an OUCH 5.0 / SoupBinTCP server, fix:sim (the "
                                                      "simulator over FIX 4.4) or fix:HOST:PORT of a FIX 4.4 server")
    r.add_argument("--ouch-user", help="SoupBinTCP username (sim: the simulator's default)")
    r.add_argument("--ouch-password-file", type=Path, metavar="FILE",
                   help="SoupBinTCP password, the first line of FILE (mode 600; refused if others may read it)")
    r.add_argument("--ouch-password", help=f"SoupBinTCP password (visible in ps: prefer --ouch-password-file or "
                                           f"${OUCH_PASSWORD_ENV})")
    r.add_argument("--order-path", choices=("native", "python"), default="native",
                   help="OUCH orders through the native path (C++ risk, encoding, send; default) or the Python one")
    g = r.add_argument_group("FIX order entry (--exchange fix:...)")
    g.add_argument("--fix-settings", type=Path, metavar="FILE",
                   help="a QuickFIX session settings file (one [SESSION]); what it leaves out comes from the options "
                        "here")
    g.add_argument("--fix-sender", default="TICKGATE", help="SenderCompID (default TICKGATE)")
    g.add_argument("--fix-target", default="SIMEXCH", help="TargetCompID (default SIMEXCH)")
    g.add_argument("--fix-heartbeat", type=int, default=30, metavar="S", help="HeartBtInt in seconds (default 30)")
    g.add_argument("--fix-store", type=Path, metavar="DIR",
                   help="keep sequence numbers and sent messages in files here, across restarts (default: in "
                        "memory, reset at logon)")
    g.add_argument("--fix-log", type=Path, metavar="DIR", help="the engine's message and event logs here")
    r.add_argument("--limits", type=Path, help="risk limits, a JSON object (reloadable by the control socket)")
    r.add_argument("--limit", action="append", metavar="KEY=VALUE", help="one risk limit (repeatable)")
    r.add_argument("--fanout", metavar="ENDPOINT", nargs="?", const="tcp://127.0.0.1:5555",
                   help="publish events on ZeroMQ (default endpoint tcp://127.0.0.1:5555)")
    r.add_argument("--fanout-wait", type=int, default=0, metavar="N", help="wait for N subscribers first")
    r.add_argument("--shm", metavar="NAME", help="publish events into the shared-memory ring /dev/shm/NAME "
                                                  "(readers: tickgate.host.shm, driver/shm_reader.hpp)")
    r.add_argument("--shm-records", type=int, default=1 << 16, metavar="N",
                   help="the shared-memory ring's capacity in records, a power of two (default 65536)")
    r.add_argument("--control", metavar="ENDPOINT", nargs="?", const="tcp://127.0.0.1:5556",
                   help="control socket, ZeroMQ REP (default endpoint tcp://127.0.0.1:5556, any local user; "
                        "ipc://PATH: this user only)")
    r.add_argument("--prometheus", type=int, metavar="PORT", help="serve /metrics on 127.0.0.1:PORT (0: any)")
    add_alert_arguments(r)
    r.add_argument("--otlp", metavar="URL", help="trace orders (a span per order, tick to last update) to this "
                                                  "OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318/v1/traces")
    r.add_argument("--trace-sample", type=float, metavar="R", help="fraction of orders traced (default 1)")
    r.add_argument("--cpu", type=int, help="pin the process to this CPU")
    r.add_argument("--cpu-dma-latency", type=int, metavar="US",
                   help="hold this CPU wake-up latency limit (PM QoS, /dev/cpu_dma_latency, root) for the run: 0 "
                        "keeps idle cores polling, so a wake-up needs no interrupt (every idle core spins while held)")
    r.add_argument("--sim-busy-poll", action="store_true",
                   help="the local simulator (--exchange sim) spins on its sockets instead of sleeping (a core)")
    r.add_argument("--batch-packets", type=int, default=1,
                   help="take events every N packets (default 1: every packet is a tick)")
    r.add_argument("--json", action="store_true", help="end with one JSON line of the summary")
    r.add_argument("--plot", type=Path, help="write a latency plot (PNG)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_card_arguments(r)
    r.set_defaults(func=cmd_run)
    return r
