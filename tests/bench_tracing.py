"""Benchmark: what order tracing costs tick -> order, on the `make demo` run, off and on, side by side.

Each configuration runs `tickgate run --feed out/demo.itch50 --strategy imbalance --backend software --exchange
sim --json` (the demo's feed, made first if missing) in its own process, `--repeats` times, interleaved, and
reads tick -> order (packet received -> order bytes written) from the JSON summary:

- `off`: tracing off (the default: nothing wrapped);
- `on 1.0`, `on 0.01`: `--otlp` to a local OTLP/HTTP sink in this process (answers 200, keeps nothing) with
  `--trace-sample` 1.0 and 0.01;
- `before` (with `--before-cmd "PYTHON LAUNCHER"`): the same command run by another installation, e.g. the
  host before tracing was added; the launcher takes the `tickgate` arguments.

The table gives each configuration's median over the runs of p50, p90 and p99 (µs) and of the run's wall time.

    .venv/bin/python tests/bench_tracing.py [--repeats 5] [--before-cmd "..."] [--cpu N]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEED = ROOT / "out" / "demo.itch50"
TICKGATE = [str(Path(sys.executable).with_name("tickgate"))]


class Sink(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that takes every export and keeps nothing."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def one(launcher: list[str], extra: list[str], cpu: int | None) -> dict:
    cmd = [*launcher, "run", "--feed", str(FEED), "--strategy", "imbalance", "--backend", "software",
           "--exchange", "sim", "--json", "--no-progress", *extra]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    s = json.loads(out.strip().splitlines()[-1])
    return {"wall_s": time.perf_counter() - t0, "orders": s["orders"], **s["latency_us"]["tick_to_order"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--before-cmd", help="a launcher of another installation's tickgate CLI (a 'before' row)")
    ap.add_argument("--cpu", type=int, help="pin each run to this CPU")
    args = ap.parse_args()
    if not FEED.exists():
        FEED.parent.mkdir(exist_ok=True)
        subprocess.run([*TICKGATE, "gen", str(FEED), "--messages", "200000", "--symbols", "200", "--seed", "1"],
                       check=True, capture_output=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    configs: dict[str, tuple[list[str], list[str]]] = {}
    if args.before_cmd:
        configs["before"] = (shlex.split(args.before_cmd), [])
    configs["off"] = (TICKGATE, [])
    configs["on 1.0"] = (TICKGATE, ["--otlp", url, "--trace-sample", "1.0"])
    configs["on 0.01"] = (TICKGATE, ["--otlp", url, "--trace-sample", "0.01"])
    print(f"tick -> order on the demo run (200k messages, imbalance, software card, OUCH to the simulator); "
          f"{args.repeats} runs each, interleaved; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    runs: dict[str, list[dict]] = {k: [] for k in configs}
    try:
        for _ in range(args.repeats):
            for name, (launcher, extra) in configs.items():
                r = one(launcher, extra, args.cpu)
                runs[name].append(r)
                print(f"  {name:8s} orders {r['orders']:>5}  p50 {r['p50']:8.2f}  p90 {r['p90']:8.2f}  "
                      f"p99 {r['p99']:9.2f} us  wall {r['wall_s']:.2f} s", flush=True)
    finally:
        server.shutdown()
    print(f"\n{'config':8s} {'p50 us':>9s} {'p90 us':>9s} {'p99 us':>9s} {'wall s':>8s}   (medians)")
    summary = {}
    for name, rs in runs.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("p50", "p90", "p99", "wall_s")}
        summary[name] = med
        print(f"{name:8s} {med['p50']:9.2f} {med['p90']:9.2f} {med['p99']:9.2f} {med['wall_s']:8.2f}")
    print(json.dumps({"repeats": args.repeats, "tick_to_order_us": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
