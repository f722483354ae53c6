"""Benchmark: `tickgate backtest` and `tickgate verify` on Ray, on generated days.

1. backtest scaling: the whole command on DAYS generated days with --workers 1 and --workers 2 (Ray embedded,
   its start included), REPEAT times each, medians; the ratio; the per-day rows and the Parquet bytes must be
   identical. The time the days themselves took (the command's own figure, Ray's start excluded) too.
2. per-day throughput against `tickgate run --exchange paper`: the same strategy on the same file, both
   in this process one after the other, REPEAT times, medians of wall and CPU seconds (CPU time is what a
   shared machine's load does not change); messages/s of each and the ratio.
3. verify: the whole `tickgate verify --backend sim` command on one day with 2 shards, --workers 1 and 2
   (Ray's start and the image lookup included); shard messages/s.

    .venv/bin/python tests/bench_backtest.py [--days 4] [--messages 300000] [--verify-messages 60000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickgate.host.backtest.day import DaySpec, run_day  # noqa: E402
from tickgate.host.exchange.paper import PaperExchange  # noqa: E402
from tickgate.host.feeds.generator import generate  # noqa: E402
from tickgate.host.feeds.sources import open_source  # noqa: E402
from tickgate.host.run import Runner, RunOptions  # noqa: E402
from tickgate.host.strategy import load_strategy  # noqa: E402
from tickgate.protocol.binaryfile import write_binaryfile  # noqa: E402

TICKGATE = str(Path(sys.executable).parent / "tickgate")


def command(args: list[str]) -> tuple[float, str, str]:
    t0 = time.perf_counter()
    p = subprocess.run([TICKGATE, *args], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if p.returncode not in (0, 1) or "Traceback" in p.stderr:
        raise SystemExit(f"tickgate {' '.join(args)} failed:\n{p.stderr}")
    return wall, p.stdout, p.stderr


def days_seconds(stderr: str) -> float:
    """The command's own figure: '... messages in X s' (Ray's start excluded)."""
    line = next((x for x in stderr.splitlines() if " in " in x and " s (" in x), None)
    if line is None:
        raise SystemExit(f"no timing line in:\n{stderr}")
    return float(line.split(" in ")[1].split(" s ")[0])


def scaling(files: list[Path], out: Path, repeat: int, strategy: str) -> dict:
    res: dict = {}
    outputs = {}
    for workers in (1, 2):
        walls, inner = [], []
        for r in range(repeat):
            d = out / f"w{workers}_{r}"
            wall, stdout, stderr = command(["backtest", *map(str, files), "--strategy", strategy, "--workers",
                                            str(workers), "--out", str(d), "--json", "--no-progress"])
            walls.append(wall)
            inner.append(days_seconds(stderr))
            outputs[(workers, r)] = (stdout.strip().splitlines()[-1], (d / "days.parquet").read_bytes(),
                                     (d / "fills.parquet").read_bytes())
        res[workers] = {"command_s": statistics.median(walls), "days_s": statistics.median(inner),
                        "runs_command_s": [round(w, 2) for w in walls], "runs_days_s": inner}
    identical = len(set(outputs.values())) == 1
    return {"workers": res, "identical": identical,
            "ratio_command": res[1]["command_s"] / res[2]["command_s"],
            "ratio_days": res[1]["days_s"] / res[2]["days_s"]}


def versus_run(path: Path, repeat: int, strategy: str) -> dict:
    def paper() -> tuple[float, float, int]:
        from tickgate.host.backend import open_backend

        backend = open_backend("software", announce=None)
        ex = PaperExchange()
        runner = Runner(open_source(str(path)), backend, load_strategy(strategy), ex, exchange=ex,
                        options=RunOptions(drain_s=0.0))
        c0, t0 = time.process_time(), time.perf_counter()
        runner.run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        runner.close()
        return wall, cpu, int(backend.counters()["messages"])

    def backtest() -> tuple[float, float, int]:
        c0, t0 = time.process_time(), time.perf_counter()
        r = run_day(path, DaySpec(strategy=strategy))
        return time.perf_counter() - t0, time.process_time() - c0, r.messages

    runs: dict[str, list] = {"run_paper": [], "backtest_day": []}
    for _ in range(repeat):
        runs["run_paper"].append(paper())
        runs["backtest_day"].append(backtest())
    out = {}
    for k, v in runs.items():
        wall, cpu = statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)
        out[k] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "messages": v[0][2],
                  "messages_per_s_wall": round(v[0][2] / wall), "messages_per_s_cpu": round(v[0][2] / cpu)}
    out["backtest_over_run_cpu"] = out["backtest_day"]["cpu_s"] / out["run_paper"]["cpu_s"]
    out["backtest_over_run_wall"] = out["backtest_day"]["wall_s"] / out["run_paper"]["wall_s"]
    return out


def verify(path: Path, repeat: int) -> dict:
    res = {}
    for workers in (1, 2):
        walls, inner, messages = [], [], 0
        for _ in range(repeat):
            wall, stdout, stderr = command(["verify", str(path), "--backend", "sim", "--shards", "2", "--workers",
                                            str(workers), "--json", "--no-progress"])
            rep = json.loads(stdout.strip().splitlines()[-1])
            if rep["mismatched_shards"]:
                raise SystemExit(f"verify found mismatches: {rep}")
            messages = sum(r["messages"] for r in rep["shards"])
            walls.append(wall)
            inner.append(days_seconds(stderr))
        res[workers] = {"command_s": statistics.median(walls), "shards_s": statistics.median(inner),
                        "shard_messages": messages,
                        "messages_per_s": round(messages / statistics.median(inner))}
    res["ratio"] = res[1]["shards_s"] / res[2]["shards_s"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--verify-messages", type=int, default=60_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--strategy", default="imbalance")
    ap.add_argument("--skip", action="append", default=[], choices=("scaling", "run", "verify"))
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        files = []
        for seed in range(1, args.days + 1):
            f = tmp_path / f"day{seed}.itch50"
            write_binaryfile(f, generate(args.messages, args.symbols, seed))
            files.append(f)
        report: dict = {"days": args.days, "messages_per_day": args.messages, "strategy": args.strategy,
                        "cpus": os.cpu_count(), "load_avg": os.getloadavg()}
        if "scaling" not in args.skip:
            report["scaling"] = scaling(files, tmp_path, args.repeat, args.strategy)
            print(json.dumps({"scaling": report["scaling"]}), flush=True)
        if "run" not in args.skip:
            report["versus_run"] = versus_run(files[0], args.repeat, args.strategy)
            print(json.dumps({"versus_run": report["versus_run"]}), flush=True)
        if "verify" not in args.skip:
            vf = tmp_path / "verify.itch50"
            write_binaryfile(vf, generate(args.verify_messages, 40, 99))
            report["verify"] = verify(vf, max(1, args.repeat - 2))
            print(json.dumps({"verify": report["verify"]}), flush=True)
        report["load_avg_end"] = os.getloadavg()
        print(json.dumps(report))


if __name__ == "__main__":
    main()
