"""Benchmark: the live UDP feed, tick (kernel receive time) -> strategy callback, over loopback.

A sender in another process (`udp_send_paced`, C++: sendmmsg on a connected socket, datagram i at start +
i/rate, spinning between sends) sends one-message MoldUDP64 packets over loopback at a fixed rate, then an
end-of-session packet. The receiving side, with a no-op strategy, is one of:

- `cli`: the whole command a user types, `tickgate run --feed udp://127.0.0.1:PORT --backend software
  --exchange paper --strategy noop.py --json` in a process of its own (SCHED_FIFO from its start with `--rt`,
  as `chrt -f PRIO tickgate run ...` would run it); the sender starts once the command says it is running
  and `--cli-wait` seconds more have passed, and the figures are those of its JSON summary;
- `native`: the library equivalent in this process (a `Runner` over `NativeUdpFeed`: C++ recvmmsg,
  SO_TIMESTAMPNS, DMA batches into the card);
- `python`: the same with the Python receiver (`MoldUdpFeed`, the before).

Each rate runs with each receiver `--repeats` times; the table gives medians. Latency is per event, from its
packet's receive stamp to the strategy callback: the kernel's stamp for the native receiver (and the command),
the stamp taken after `recv` for the Python one (which is later than the kernel's, so its figures flatter it).
"lag p99" is the native receiver's own measure of kernel stamp -> recvmmsg returned (the kernel's and the
scheduler's share: no host code in it). "lost" counts packets sent
and not handed to the card (dropped by a full socket buffer). The sustained rate is the highest rate
actually sent (the runs' median) whose median p99 is within the goal (20 us) with nothing lost; the goal row
(200,000/s) counts only if the sender reached 95 % of it. The capacity line is
the rate the run loop drains a burst already queued in the socket (6,000 packets sent before it starts):
what each receiver sustains, whatever rate the sender reaches on the machine.

`--rt PRIO` runs the receiving loop SCHED_FIFO, as a trading host would (`make bench` uses 50): on a shared
machine a CFS process waits behind every other runnable one, and that wait, not the receiver, is then what
is measured. The sender stays SCHED_OTHER (a real-time spinning sender would starve the kernel's loopback
work beside it); `--sender-nice` raises its share. Busy-polling (`--spin-us`) is off by default: on two
cores a spinning receiver takes the CPU the sender and the kernel need.

    .venv/bin/python tests/bench_udp.py [--rates 20000,50000,100000,200000,300000] [--seconds 1.5]
        [--repeats 3] [--receivers cli,native,python] [--cli-wait 1.0] [--rt 50] [--sender-nice -10]
        [--cpu N --sender-cpu M]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickgate.host.backend import open_backend  # noqa: E402
from tickgate.host.exchange.paper import PaperExchange  # noqa: E402
from tickgate.host.feeds.generator import Generator  # noqa: E402
from tickgate.host.feeds.udp import MoldUdpFeed  # noqa: E402
from tickgate.host.feeds.udp_native import NativeUdpFeed  # noqa: E402
from tickgate.host.run import Runner, RunOptions  # noqa: E402
from tickgate.host.strategy import Strategy  # noqa: E402
from tickgate.protocol import moldudp64  # noqa: E402

TICKGATE = Path(sys.executable).parent / "tickgate"
SESSION = b"BENCHUDP01"
GOAL_P99_US = 20.0
GOAL_RATE = 200_000
_LEN = struct.Struct("<H")


class NoOp(Strategy):
    """Takes the events and does nothing: the host's own path, tick to callback."""

    name = "noop"

    def on_events(self, batch: np.ndarray) -> None:
        pass


def write_packets(path: Path, count: int, symbols: int, seed: int) -> None:
    """`count` one-message packets (sequence 1..count), length-prefixed, into `path`."""
    with path.open("wb") as f:
        for i, msg in enumerate(Generator(count, symbols, seed)):
            p = moldudp64.build(SESSION, i + 1, [msg])
            f.write(_LEN.pack(len(p)) + p)


def read_packets(path: Path, count: int) -> list[bytes]:
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data) and len(out) < count:
        (n,) = _LEN.unpack_from(data, pos)
        out.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    return out


def sender(spec: dict) -> int:
    """The other process (`--send JSON`: path, port, rate, seconds, count, nice, cpu, wait); prints its result."""
    from tickgate._driver import udp_send_paced

    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))  # never real-time: the kernel's softirq
    if spec["nice"]:  # work for loopback runs beside it and must not starve
        try:
            os.setpriority(os.PRIO_PROCESS, 0, spec["nice"])
        except PermissionError:
            print(f"bench_udp: sender nice {spec['nice']} not permitted; at the default", file=sys.stderr)
    if spec["cpu"] is not None:
        os.sched_setaffinity(0, {spec["cpu"]})
    packets = read_packets(Path(spec["path"]), spec["count"])
    time.sleep(spec["wait"])  # the receiver is in its loop by now
    r = udp_send_paced(packets, "127.0.0.1", spec["port"], spec["rate"], spec["seconds"], spec["quantum_us"] * 1e-6)
    end = moldudp64.end_of_session(SESSION, r["sent"] + 1)
    r["end_sent"] = udp_send_paced([end], "127.0.0.1", spec["port"], 1.0, 1.0)["sent"]
    print(json.dumps(r))
    return 0


def send_command(path: Path, port: int, rate: float, seconds: float, count: int, args: argparse.Namespace,
                 wait: float = 0.3) -> list[str]:
    spec = {"path": str(path), "port": port, "rate": rate, "seconds": seconds, "count": count,
            "nice": args.sender_nice, "cpu": args.sender_cpu, "wait": wait, "quantum_us": args.sender_quantum_us}
    return [sys.executable, __file__, "--send", json.dumps(spec)]


NOOP_STRATEGY = """from tickgate.host.strategy import Strategy


class NoOp(Strategy):
    name = "noop"

    def on_events(self, batch):
        pass
"""


def free_port() -> int:
    """A UDP port of 127.0.0.1 nobody holds now (the command binds it a moment later)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_cli(rate: int, seconds: float, path: Path, args: argparse.Namespace) -> dict:
    """One run at `rate` of the command `tickgate run --feed udp://...` in a process of its own."""
    count = int(rate * seconds)
    strategy = path.parent / "noop.py"
    strategy.write_text(NOOP_STRATEGY)
    port = free_port()
    cmd = [str(TICKGATE), "run", "--feed", f"udp://127.0.0.1:{port}", "--backend", "software", "--exchange",
           "paper", "--strategy", str(strategy), "--idle-timeout", "20", "--json", "--no-progress"]
    if args.cpu is not None:
        cmd += ["--cpu", str(args.cpu)]
    rt = args.rt

    def realtime() -> None:  # in the child before exec: the whole command runs SCHED_FIFO, as under chrt
        if rt:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt))

    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=realtime)
    try:
        assert run.stderr is not None
        started = run.stderr.readline()  # "tickgate run: software backend, ...": the socket is bound
        if not started.startswith("tickgate run:"):
            raise RuntimeError(f"tickgate run did not start: {started}{run.stderr.read()}")
        sender_out = subprocess.run(send_command(path, port, rate, seconds * 1.5, count, args, wait=args.cli_wait),
                                    capture_output=True, text=True, check=True).stdout
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    if run.returncode:
        raise RuntimeError(f"tickgate run failed ({run.returncode}): {err[-2000:]}")
    s = json.loads(out.strip().splitlines()[-1])
    sent = json.loads(sender_out)
    t2s = s["latency_us"]["tick_to_strategy"]
    handed = s["packets"] - 1  # without the end of session
    return {"p50": t2s["p50"], "lag99": float("nan"), "p99": t2s["p99"], "p99.9": t2s["p99.9"],
            "max": t2s["max"], "events": s["events"], "lost": sent["sent"] - handed, "sent": sent["sent"],
            "rate": sent["sent"] / (sent["elapsed_ns"] / 1e9), "batches": 0}


def one(receiver: str, rate: int, seconds: float, path: Path, args: argparse.Namespace) -> dict:
    """One run at `rate` with `receiver`; latency percentiles (us), what was lost, the sender's figures."""
    if receiver == "cli":
        return one_cli(rate, seconds, path, args)
    count = int(rate * seconds)
    if receiver == "native":
        feed = NativeUdpFeed("127.0.0.1", 0, idle_timeout_s=20.0, spin_s=args.spin_us * 1e-6)
    else:
        feed = MoldUdpFeed("127.0.0.1", 0, idle_timeout_s=20.0)
    port = feed.address[1]
    cmd = send_command(path, port, rate, seconds * 1.5, count, args)
    ex = PaperExchange()
    runner = Runner(feed, open_backend("software"), NoOp(), ex, exchange=ex,
                    options=RunOptions(restamp=False, drain_s=0.0, cpu=args.cpu))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    policy = os.sched_getscheduler(0)
    if args.rt:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.rt))
    try:
        s = runner.run()
    finally:
        if args.rt:
            os.sched_setscheduler(0, policy, os.sched_param(0))
        runner.close()
        out, _ = proc.communicate(timeout=60)
    feed.close()
    sent = json.loads(out)
    c = runner.metrics.all_counters()
    t2s = s["latency_us"]["tick_to_strategy"]
    handed = s["packets"] - 1  # without the end of session
    lost = sent["sent"] - handed  # one message a packet: the card misses as many (messages_missed)
    lag = feed.rx.receive_lag_ns(0.99) / 1e3 if receiver == "native" else float("nan")
    return {"p50": t2s["p50"], "lag99": lag, "p99": t2s["p99"], "p99.9": t2s["p99.9"], "max": t2s["max"],
            "events": s["events"], "lost": lost, "sent": sent["sent"],
            "rate": sent["sent"] / (sent["elapsed_ns"] / 1e9), "batches": c.get("udp_batches", 0)}


def capacity(receiver: str, path: Path, args: argparse.Namespace, count: int = 6000) -> float:
    """Packets/s the run loop drains when the socket already holds `count` packets (sent by the other process
    before the loop starts): what the receiver sustains whatever the sender manages."""
    feed = NativeUdpFeed("127.0.0.1", 0, idle_timeout_s=5.0) if receiver == "native" else \
        MoldUdpFeed("127.0.0.1", 0, idle_timeout_s=5.0)
    cmd = send_command(path, feed.address[1], 1e9, 5.0, count, args, wait=0.0)  # as fast as it can
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    sent = json.loads(out)["sent"]
    ex = PaperExchange()
    runner = Runner(feed, open_backend("software"), NoOp(), ex, exchange=ex,
                    options=RunOptions(restamp=False, drain_s=0.0, cpu=args.cpu))
    policy = os.sched_getscheduler(0)
    if args.rt:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.rt))
    try:
        s = runner.run()
    finally:
        if args.rt:
            os.sched_setscheduler(0, policy, os.sched_param(0))
        runner.close()
        feed.close()
    if s["packets"] != sent + 1:
        raise RuntimeError(f"capacity run: {sent} sent, {s['packets'] - 1} handed on (raise SO_RCVBUF or lower count)")
    return s["packets"] / s["seconds"]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--send":
        return sender(json.loads(sys.argv[2]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="20000,50000,100000,200000,300000")
    ap.add_argument("--seconds", type=float, default=1.5, help="sending time at each rate (at least 1)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--receivers", default="cli,native,python",
                    help="cli (the tickgate run command), native, python (in this process)")
    ap.add_argument("--cli-wait", type=float, default=1.0,
                    help="cli: seconds between the command saying it runs and the first packet")
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--cpu", type=int, help="pin the receiving process to this CPU")
    ap.add_argument("--sender-cpu", type=int, help="pin the sending process to this CPU")
    ap.add_argument("--rt", type=int, default=0, metavar="PRIO",
                    help="run the receiving loop SCHED_FIFO at this priority (needs CAP_SYS_NICE; 0: no)")
    ap.add_argument("--sender-nice", type=int, default=0, help="nice value of the sending process")
    ap.add_argument("--sender-quantum-us", type=float, default=0.0,
                    help="0: the sender spins, each packet at its time; Q: it sleeps and sends what is due every Q us")
    ap.add_argument("--spin-us", type=float, default=0.0, help="native receiver: busy-poll before blocking")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    if args.rt:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.rt))
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        except PermissionError:
            print(f"(SCHED_FIFO {args.rt} not permitted: the receiving loop runs at the default priority)")
            args.rt = 0
    receivers = args.receivers.split(",")
    count = int(max(rates) * args.seconds)
    print(f"tickgate UDP bench: one-message MoldUDP64 packets over loopback from another process, "
          f"{args.seconds:g} s a rate, no-op strategy, software backend, median of {args.repeats}; receiving loop "
          f"{f'SCHED_FIFO {args.rt}' if args.rt else 'SCHED_OTHER'}, sender nice {args.sender_nice}, "
          f"{f'sending every {args.sender_quantum_us:g} us' if args.sender_quantum_us else 'spinning'}; "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "packets.bin"
        t0 = time.perf_counter()
        write_packets(path, count, args.symbols, args.seed)
        print(f"({count:,} packets generated in {time.perf_counter() - t0:.1f} s)")
        print(f"{'receiver':<8} {'rate/s':>8} {'sent/s':>9} {'lost':>6} {'p50 us':>8} {'p99 us':>8} "
              f"{'p99.9 us':>9} {'max us':>9} {'p99 of runs':>24} {'lag p99':>8} {'load':>5}")
        best: dict[str, float] = {}
        rows: dict[tuple[str, int], tuple[dict, int]] = {}
        for rate in rates:
            for receiver in receivers:
                load = os.getloadavg()[0]  # of the machine before the runs (other work shares the CPUs)
                runs = [one(receiver, rate, args.seconds, path, args) for _ in range(args.repeats)]
                med = {k: statistics.median(r[k] for r in runs)
                       for k in ("p50", "p99", "p99.9", "max", "rate", "lag99")}
                lost = max(r["lost"] for r in runs)
                p99s = "/".join(f"{r['p99']:.1f}" for r in runs)
                print(f"{receiver:<8} {rate:>8,} {med['rate']:>9,.0f} {lost:>6} {med['p50']:>8.1f} {med['p99']:>8.1f} "
                      f"{med['p99.9']:>9.1f} {med['max']:>9.1f} {p99s:>24} {med['lag99']:>8.1f} {load:>5.1f}",
                      flush=True)
                rows[receiver, rate] = med, lost
                if lost == 0 and med["p99"] <= GOAL_P99_US:  # at the rate the sender reached
                    best[receiver] = max(best.get(receiver, 0), med["rate"])
        for receiver in (r for r in receivers if r != "cli"):  # the command's loop is the native receiver's
            rates_ = sorted(capacity(receiver, path, args) for _ in range(args.repeats))
            print(f"{receiver}: capacity, a preloaded burst of 6,000 packets drained at "
                  f"{statistics.median(rates_):,.0f} packets/s (median of {args.repeats})")
    for receiver in receivers:
        print(f"{receiver}: highest rate sent (median of the runs) with p99 <= {GOAL_P99_US:g} us and nothing lost: "
              f"{best.get(receiver, 0):,.0f} packets/s")
        if (receiver, GOAL_RATE) in rows:
            med, lost = rows[receiver, GOAL_RATE]
            met = med["rate"] >= 0.95 * GOAL_RATE and lost == 0 and med["p99"] <= GOAL_P99_US
            print(f"{receiver}: goal {GOAL_RATE:,}/s, nothing lost, p99 <= {GOAL_P99_US:g} us: "
                  f"{'met' if met else 'not met'} (sent {med['rate']:,.0f}/s, lost {lost}, p99 {med['p99']:.1f} us)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
